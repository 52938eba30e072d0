package objstore

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the object store's Prometheus metrics: requests, failures
// and latency per operation (the Op* names). Expected outcomes — a missing
// object, a condition not met, a cancelled context — are not failures.
type Metrics struct {
	requests *prometheus.CounterVec   // op
	failures *prometheus.CounterVec   // op
	duration *prometheus.HistogramVec // op
}

// NewMetrics builds the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_objstore_requests_total",
			Help: "Object store requests by operation (get, get_range, attributes, put, delete, list)."}, []string{"op"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_objstore_request_failures_total",
			Help: "Object store requests that failed unexpectedly, by operation."}, []string{"op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_objstore_request_duration_seconds",
			Help: "Latency of object store requests by operation (a list: until its first page).", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"op"}),
	}
	for _, op := range []string{OpGet, OpGetRange, OpAttributes, OpPut, OpDelete, OpList} {
		m.requests.WithLabelValues(op)
		m.failures.WithLabelValues(op)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.failures, m.duration)
	}
	return m
}

// Instrument returns b recording every request in m. Name and Close pass
// through; the caller closes the result instead of b.
func Instrument(b Bucket, m *Metrics, clock func() time.Time) Bucket {
	if clock == nil {
		clock = time.Now
	}
	return &instrumented{b: b, m: m, clock: clock}
}

// Unwrap returns the bucket Instrument wrapped, for callers that need a
// backend's own methods (S3.EnsureBucket).
func (i *instrumented) Unwrap() Bucket { return i.b }

type instrumented struct {
	b     Bucket
	m     *Metrics
	clock func() time.Time
}

var _ Bucket = (*instrumented)(nil)

// done records one request of op that started at start and ended with err.
func (i *instrumented) done(op string, start time.Time, err error) {
	i.m.requests.WithLabelValues(op).Inc()
	i.m.duration.WithLabelValues(op).Observe(max(i.clock().Sub(start).Seconds(), 0))
	if err != nil && !IsNotFound(err) && !IsConditionNotMet(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		i.m.failures.WithLabelValues(op).Inc()
	}
}

func (i *instrumented) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	start := i.clock()
	rc, a, err := i.b.Get(ctx, key)
	i.done(OpGet, start, err)
	return rc, a, err
}

func (i *instrumented) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	start := i.clock()
	rc, err := i.b.GetRange(ctx, key, off, length)
	i.done(OpGetRange, start, err)
	return rc, err
}

func (i *instrumented) Attributes(ctx context.Context, key string) (Attrs, error) {
	start := i.clock()
	a, err := i.b.Attributes(ctx, key)
	i.done(OpAttributes, start, err)
	return a, err
}

func (i *instrumented) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	start := i.clock()
	a, err := i.b.Put(ctx, key, data, opts)
	i.done(OpPut, start, err)
	return a, err
}

func (i *instrumented) Delete(ctx context.Context, key string) error {
	start := i.clock()
	err := i.b.Delete(ctx, key)
	i.done(OpDelete, start, err)
	return err
}

func (i *instrumented) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		start := i.clock()
		first := true
		for a, err := range i.b.List(ctx, prefix, startAfter) {
			if first {
				i.done(OpList, start, err)
				first = false
			}
			if !yield(a, err) {
				return
			}
		}
		if first {
			i.done(OpList, start, nil)
		}
	}
}

func (i *instrumented) Name() string { return i.b.Name() }

func (i *instrumented) Close() error { return i.b.Close() }
