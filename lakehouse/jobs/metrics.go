package jobs

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the jobs' Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	runs     *prometheus.CounterVec   // kind, status
	duration *prometheus.HistogramVec // kind
}

// NewMetrics builds the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_jobs_runs_total",
			Help: "Finished job runs by kind (flush, compact, gc, evict) and status (completed, failed)."}, []string{"kind", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_jobs_duration_seconds",
			Help: "Duration of finished job runs by kind.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.runs, m.duration)
	}
	return m
}

func (m *Metrics) finished(r Record) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(r.Kind, string(r.Status)).Inc()
	m.duration.WithLabelValues(r.Kind).Observe(max(r.FinishedAt.Sub(r.StartedAt).Seconds(), 0))
}
