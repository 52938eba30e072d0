package manifest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the commit protocol's outcomes, by log kind ("catalog",
// "partition"). A nil *Metrics records nothing; one Metrics serves every
// Log of a process.
type Metrics struct {
	commits   *prometheus.CounterVec // log
	conflicts *prometheus.CounterVec // log
	failures  *prometheus.CounterVec // log, reason
}

// NewMetrics builds the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_manifest_commits_total",
			Help: "Manifest versions committed, by log kind (catalog, partition)."}, []string{"log"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_manifest_conflicts_total",
			Help: "Conditional puts of a manifest version that another commit won (each is retried)."}, []string{"log"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_manifest_commit_failures_total",
			Help: "Commits that failed, by log kind and reason (conflict, fenced, unknown)."}, []string{"log", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.commits, m.conflicts, m.failures)
	}
	return m
}

func (m *Metrics) committed(log string) {
	if m != nil {
		m.commits.WithLabelValues(log).Inc()
	}
}

func (m *Metrics) conflict(log string) {
	if m != nil {
		m.conflicts.WithLabelValues(log).Inc()
	}
}

func (m *Metrics) failed(log string, err error) {
	if m == nil || err == nil {
		return
	}
	var reason string
	switch {
	case errors.Is(err, ErrConflict):
		reason = "conflict"
	case errors.Is(err, ErrFenced):
		reason = "fenced"
	case errors.Is(err, ErrCommitUnknown):
		reason = "unknown"
	default:
		return // the caller's mutation refused: not a protocol failure
	}
	m.failures.WithLabelValues(log, reason).Inc()
}
