package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the API's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	calls        *prometheus.CounterVec // procedure, code
	authFailures *prometheus.CounterVec // procedure
}

// NewMetrics builds the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_api_calls_total",
			Help: "Finished API calls by procedure and Connect code (ok for success)."}, []string{"procedure", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_api_auth_failures_total",
			Help: "Calls refused as unauthenticated (failed logins, missing, invalid, expired or revoked tokens), by procedure."}, []string{"procedure"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.authFailures)
	}
	return m
}

// metricsInterceptor counts unary calls by outcome. Procedures are a
// closed set (the services served), so the label stays small.
type metricsInterceptor struct{ m *Metrics }

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	if i.m == nil {
		return next
	}
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		code := "ok"
		if err != nil {
			c := connect.CodeOf(err)
			code = c.String()
			if c == connect.CodeUnauthenticated {
				i.m.authFailures.WithLabelValues(req.Spec().Procedure).Inc()
			}
		}
		i.m.calls.WithLabelValues(req.Spec().Procedure, code).Inc()
		return res, err
	}
}

func (i metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
