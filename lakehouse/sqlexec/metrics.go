package sqlexec

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floedb/floe/lakehouse/sqlparse"
)

// Metrics are the executor's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	duration *prometheus.HistogramVec // kind, result
	active   prometheus.Gauge
	clock    func() time.Time
}

// NewMetrics builds the metrics and registers them with reg (nil: not
// registered). clock measures durations (nil: time.Now).
func NewMetrics(reg prometheus.Registerer, clock func() time.Time) *Metrics {
	if clock == nil {
		clock = time.Now
	}
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_sqlexec_statement_duration_seconds",
			Help:    "Duration of statements by kind (select, insert, update, delete, ddl, …) and result (ok, error).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"kind", "result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_sqlexec_active_statements",
			Help: "Statements running now."}),
		clock: clock,
	}
	if reg != nil {
		reg.MustRegister(m.duration, m.active)
	}
	return m
}

// start counts a statement as active; the returned function ends it.
func (m *Metrics) start(st sqlparse.Statement) func(error) {
	if m == nil {
		return func(error) {}
	}
	m.active.Inc()
	begin := m.clock()
	return func(err error) {
		m.active.Dec()
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.duration.WithLabelValues(statementKind(st), result).Observe(max(m.clock().Sub(begin).Seconds(), 0))
	}
}

// statementKind is the metric label of a statement: a small closed set.
func statementKind(st sqlparse.Statement) string {
	switch st.(type) {
	case *sqlparse.Select:
		return "select"
	case *sqlparse.Insert:
		return "insert"
	case *sqlparse.Update:
		return "update"
	case *sqlparse.Delete:
		return "delete"
	case *sqlparse.CreateNamespace, *sqlparse.DropNamespace, *sqlparse.CreateTable, *sqlparse.DropTable,
		*sqlparse.AlterTable, *sqlparse.CreateView, *sqlparse.DropView:
		return "ddl"
	case *sqlparse.CreateUser, *sqlparse.AlterUser, *sqlparse.DropUser:
		return "user"
	case *sqlparse.Flush, *sqlparse.Compact:
		return "maintenance"
	case *sqlparse.ExecuteAs:
		return "execute_as"
	}
	return "other"
}
