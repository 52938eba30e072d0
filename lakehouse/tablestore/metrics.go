package tablestore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the storage engine's Prometheus metrics. A nil *Metrics
// records nothing. One Metrics serves any number of Stores and
// DirectWriters of a process.
type Metrics struct {
	flushes         *prometheus.CounterVec // result
	flushDuration   prometheus.Histogram
	flushBytes      prometheus.Counter
	flushRows       prometheus.Counter
	compactions     *prometheus.CounterVec // result
	compactDuration prometheus.Histogram
	compactBytes    *prometheus.CounterVec // direction: in, out
	directCommits   *prometheus.CounterVec // result
	directRebases   prometheus.Counter
	directDuration  prometheus.Histogram
	directTurns     prometheus.Counter
	directTurnWait  prometheus.Histogram
}

// NewMetrics builds the metrics and registers them with reg (nil: not
// registered, e.g. in tests that do not look at them).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := prometheus.ExponentialBuckets(0.001, 4, 10) // 1ms .. ~4.4min
	m := &Metrics{
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_tablestore_flushes_total",
			Help: "Partition flushes by result (ok, empty, error)."}, []string{"result"}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_tablestore_flush_duration_seconds",
			Help: "Duration of partition flushes that wrote a segment.", Buckets: buckets}),
		flushBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_tablestore_flush_bytes_total",
			Help: "Bytes of the segments written by flushes."}),
		flushRows: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_tablestore_flush_rows_total",
			Help: "Row versions written to segments by flushes."}),
		compactions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_tablestore_compactions_total",
			Help: "Partition compactions by result (ok, nothing, error)."}, []string{"result"}),
		compactDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_tablestore_compaction_duration_seconds",
			Help: "Duration of compactions that merged segments.", Buckets: buckets}),
		compactBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_tablestore_compaction_bytes_total",
			Help: "Bytes of the segments compaction read (in) and wrote (out)."}, []string{"direction"}),
		directCommits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_tablestore_direct_commits_total",
			Help: "Group commits of the direct write path by result (ok, error)."}, []string{"result"}),
		directRebases: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_tablestore_direct_rebases_total",
			Help: "Direct group commits rebuilt because another writer committed first."}),
		directDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_tablestore_direct_commit_duration_seconds",
			Help: "Duration of direct group commits, rebases included.", Buckets: buckets}),
		directTurns: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_tablestore_direct_turns_total",
			Help: "Direct group commits that queued for a turn on a contended partition (near its commit-rate limit)."}),
		directTurnWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_tablestore_direct_turn_wait_seconds",
			Help: "Time direct group commits waited in a partition's turn queue.", Buckets: buckets}),
	}
	if reg != nil {
		reg.MustRegister(m.flushes, m.flushDuration, m.flushBytes, m.flushRows, m.compactions, m.compactDuration,
			m.compactBytes, m.directCommits, m.directRebases, m.directDuration, m.directTurns, m.directTurnWait)
	}
	return m
}

func (m *Metrics) flush(res FlushResult, err error) {
	if m == nil {
		return
	}
	switch {
	case err != nil:
		m.flushes.WithLabelValues("error").Inc()
	case res.Segment == "":
		m.flushes.WithLabelValues("empty").Inc()
	default:
		m.flushes.WithLabelValues("ok").Inc()
		m.flushDuration.Observe(res.Duration.Seconds())
		m.flushBytes.Add(float64(res.Bytes))
		m.flushRows.Add(float64(res.Rows))
	}
}

func (m *Metrics) compact(res CompactResult, err error) {
	if m == nil {
		return
	}
	switch {
	case err != nil:
		m.compactions.WithLabelValues("error").Inc()
	case res.SegmentsIn == 0:
		m.compactions.WithLabelValues("nothing").Inc()
	default:
		m.compactions.WithLabelValues("ok").Inc()
		m.compactDuration.Observe(res.Duration.Seconds())
		m.compactBytes.WithLabelValues("in").Add(float64(res.BytesIn))
		m.compactBytes.WithLabelValues("out").Add(float64(res.BytesOut))
	}
}

func (m *Metrics) directCommit(st GroupStats) {
	if m == nil {
		return
	}
	if st.Err != nil {
		m.directCommits.WithLabelValues("error").Inc()
	} else {
		m.directCommits.WithLabelValues("ok").Inc()
	}
	if st.Attempts > 1 {
		m.directRebases.Add(float64(st.Attempts - 1))
	}
	m.directDuration.Observe(max(st.Duration, time.Duration(0)).Seconds())
	if st.Queued {
		m.directTurns.Inc()
		m.directTurnWait.Observe(max(st.TurnWait, time.Duration(0)).Seconds())
	}
}
