// Package livebus carries committed change batches (tablestore.ChangeBatch)
// from writer processes to live nodes: the seam between a process that
// commits a write and the processes that stream it to live subscribers.
//
// A writer process publishes through a Publisher: a tablestore.ChangeSink
// that queues each batch and returns at once, so publishing never blocks
// or fails a write (the write was acknowledged after its commit; the
// publish is best effort). A worker per Transport sends the queued batches:
//   - ConnectTransport: BusService.Publish (proto/floe/v1/bus.proto) to one
//     live node, authenticated with a credential derived from the
//     warehouse's shared secret (Key); the default.
//   - NATSTransport: one NATS subject that every live node subscribes to,
//     for deployments with many live nodes.
//
// A live node receives with Handler (Connect) or SubscribeNATS and hands
// each batch to a Sink (livequery.Gate), which orders the batches of each
// partition by _seq, drops duplicates and fills gaps from the object
// store. Invariant of the seam: a transport may drop, duplicate or reorder
// batches; it never alters one (a batch's rows are exactly the committed
// rows FirstSeq..LastSeq), and it never delivers a batch whose credential
// does not verify.
package livebus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/tablestore"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// Transport sends encoded batches to live nodes (ConnectTransport,
// NATSTransport). Send may fail or lose batches; the Publisher counts a
// failure and moves on.
type Transport interface {
	// Name identifies the destination in logs and metrics (a URL, a
	// subject).
	Name() string
	Send(ctx context.Context, batches []*floev1.BusChangeBatch) error
	Close() error
}

// Sink receives the batches a live node is sent (livequery.Gate). Deliver
// returns once the batch is handed to the subscribers, or given up (a
// gap it could not fill); it must be safe for concurrent use.
type Sink interface {
	Deliver(ctx context.Context, b tablestore.ChangeBatch)
}

// MaxMessageBytes bounds the encoded rows of one message: a larger batch
// is split into messages of consecutive _seq ranges (NATS refuses
// messages above its max_payload, 1 MiB by default).
const MaxMessageBytes = 256 << 10

// MaxSendBytes bounds (roughly) one Send: a request to a live node stays
// well below its server.max_request_bytes.
const MaxSendBytes = 4 << 20

// DefaultMaxBatchesPerSend is PublisherOptions.MaxBatchesPerSend's
// default.
const DefaultMaxBatchesPerSend = 256

// PublisherOptions configure a Publisher. Zero values mean the defaults.
type PublisherOptions struct {
	// NodeID names the publishing process in the batches it sends.
	NodeID string
	// QueueLength bounds the batches waiting per transport; beyond it a
	// batch is dropped (and counted): the live node fills the gap from
	// the object store. Default: 4096.
	QueueLength int
	// MaxBatchesPerSend bounds how many queued batches one Send carries.
	// Default: 256.
	MaxBatchesPerSend int
	// SendTimeout bounds one Send. Default: 2s.
	SendTimeout time.Duration
	Logger      *slog.Logger
	// drop, when set, decides to lose a batch before sending it (fault
	// injection; see fault_on.go).
	drop func() bool
}

// Publisher publishes batches to every transport it was given, each
// through a bounded queue and a worker of its own, so one slow or absent
// live node does not hold back the others. Publish never blocks.
type Publisher struct {
	nodeID  string
	log     *slog.Logger
	targets []*target
	wg      sync.WaitGroup
	stop    context.CancelFunc

	// Counters since NewPublisher, over all transports.
	queued, sent, dropped, failed atomic.Int64
}

// target is one transport with its queue.
type target struct {
	t     Transport
	q     chan *item
	opts  PublisherOptions
	lastW atomic.Int64 // unix nanos of the last failure warning
	// unflushed: a Send succeeded since the last Flush of a Flusher
	// transport (only the worker touches it).
	unflushed bool
}

// item is one batch, encoded once for every transport (as one message, or
// several of consecutive _seq ranges when it is large), or a flush marker
// (flushed set, no batch): the worker closes flushed once every item
// queued before the marker was sent or given up.
type item struct {
	b       tablestore.ChangeBatch
	once    sync.Once
	msgs    []*floev1.BusChangeBatch
	err     error
	flushed chan struct{}
}

// Flusher is a Transport that buffers what Send accepted (NATS: the
// client's write buffer); Flush writes it out and waits for the server to
// have it.
type Flusher interface {
	Flush(ctx context.Context) error
}

func (it *item) encoded(nodeID string) ([]*floev1.BusChangeBatch, error) {
	it.once.Do(func() {
		var m *floev1.BusChangeBatch
		if m, it.err = Encode(it.b, nodeID); it.err == nil {
			it.msgs = Split(m, MaxMessageBytes)
		}
	})
	return it.msgs, it.err
}

// NewPublisher starts a worker per transport. Close stops them.
func NewPublisher(opts PublisherOptions, transports ...Transport) *Publisher {
	if opts.QueueLength < 1 {
		opts.QueueLength = 4096
	}
	if opts.MaxBatchesPerSend < 1 {
		opts.MaxBatchesPerSend = DefaultMaxBatchesPerSend
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.drop == nil {
		opts.drop = faultDrop()
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Publisher{nodeID: opts.NodeID, log: opts.Logger.With(slog.String("component", "live-bus")), stop: stop}
	for _, t := range transports {
		tg := &target{t: t, q: make(chan *item, opts.QueueLength), opts: opts}
		p.targets = append(p.targets, tg)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.run(ctx, tg)
		}()
	}
	return p
}

var _ tablestore.ChangeSink = (*Publisher)(nil)

// Publish implements tablestore.ChangeSink: it queues b for every
// transport and returns at once. A full queue drops b for that transport
// (counted in Stats.Dropped).
func (p *Publisher) Publish(b tablestore.ChangeBatch) {
	if len(b.Rows) == 0 || b.Table == nil {
		return
	}
	it := &item{b: b}
	for _, tg := range p.targets {
		select {
		case tg.q <- it:
			p.queued.Add(1)
		default:
			p.dropped.Add(1)
		}
	}
}

// Flush returns once every batch published before the call was sent, or
// given up (a failed send, counted as usual), on every transport, and
// written out of buffering transports (Flusher); or when ctx ends, with
// its error. A Lambda function calls it before answering an invocation:
// the execution environment is frozen between invocations, so a publish
// still queued would wait for the next one (and the live nodes' poll).
func (p *Publisher) Flush(ctx context.Context) error {
	marks := make([]chan struct{}, 0, len(p.targets))
	for _, tg := range p.targets {
		m := &item{flushed: make(chan struct{})}
		select {
		case tg.q <- m:
			marks = append(marks, m.flushed)
		case <-ctx.Done():
			return fmt.Errorf("live bus: flush %s: %w", tg.t.Name(), ctx.Err())
		}
	}
	for i, m := range marks {
		select {
		case <-m:
		case <-ctx.Done():
			return fmt.Errorf("live bus: flush %s: %w", p.targets[i].t.Name(), ctx.Err())
		}
	}
	return nil
}

// run sends tg's queued batches until Close; then it sends what is
// still queued, once, and returns.
func (p *Publisher) run(ctx context.Context, tg *target) {
	var items []*item
	for {
		items = items[:0]
		closing := false
		select {
		case <-ctx.Done():
			closing = true
		case it := <-tg.q:
			items = append(items, it)
		}
	more:
		for closing || len(items) < tg.opts.MaxBatchesPerSend {
			select {
			case it := <-tg.q:
				items = append(items, it)
			default:
				break more
			}
		}
		p.send(tg, items)
		if closing {
			return
		}
	}
}

// send encodes items and sends them in one call (or several, of at most
// MaxBatchesPerSend batches).
func (p *Publisher) send(tg *target, items []*item) {
	ctx := context.Background()
	msgs := make([]*floev1.BusChangeBatch, 0, len(items))
	var marks []chan struct{}
	defer func() {
		for _, m := range marks {
			close(m)
		}
	}()
	for _, it := range items {
		if it.flushed != nil {
			marks = append(marks, it.flushed)
			continue
		}
		if tg.opts.drop() {
			p.dropped.Add(1)
			continue
		}
		ms, err := it.encoded(p.nodeID)
		if err != nil {
			p.failed.Add(1)
			p.warn(ctx, tg, "live bus: a change batch cannot be encoded; live nodes fill it from the object store", err)
			continue
		}
		msgs = append(msgs, ms...)
	}
	for len(msgs) > 0 {
		// At most MaxBatchesPerSend messages and about MaxSendBytes.
		n, size := 0, 0
		for n < len(msgs) && n < tg.opts.MaxBatchesPerSend && (n == 0 || size+proto.Size(msgs[n]) <= MaxSendBytes) {
			size += proto.Size(msgs[n])
			n++
		}
		sctx, cancel := context.WithTimeout(ctx, tg.opts.SendTimeout)
		err := tg.t.Send(sctx, msgs[:n])
		cancel()
		if err != nil {
			p.failed.Add(int64(n))
			p.warn(ctx, tg, "live bus: publish failed; live nodes fill the missed changes from the object store", err)
		} else {
			p.sent.Add(int64(n))
			tg.unflushed = true
		}
		msgs = msgs[n:]
	}
	if f, ok := tg.t.(Flusher); ok && len(marks) > 0 && tg.unflushed {
		fctx, cancel := context.WithTimeout(ctx, tg.opts.SendTimeout)
		if err := f.Flush(fctx); err != nil {
			p.warn(ctx, tg, "live bus: flush failed; live nodes fill the missed changes from the object store", err)
		}
		cancel()
		tg.unflushed = false
	}
}

// warn logs a failure at most every 10 seconds per transport.
func (p *Publisher) warn(ctx context.Context, tg *target, msg string, err error) {
	now := time.Now().UnixNano()
	last := tg.lastW.Load()
	if now-last < int64(10*time.Second) || !tg.lastW.CompareAndSwap(last, now) {
		return
	}
	p.log.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("to", tg.t.Name()), slog.Any("error", err))
}

// PublisherStats counts a Publisher's batches, over all transports.
type PublisherStats struct {
	// Queued: batches queued; Sent: sent and acknowledged by the
	// transport; Dropped: lost to a full queue (or fault injection);
	// Failed: lost to a failed send.
	Queued, Sent, Dropped, Failed int64
}

// Stats returns the counters since NewPublisher.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{Queued: p.queued.Load(), Sent: p.sent.Load(), Dropped: p.dropped.Load(), Failed: p.failed.Load()}
}

// Close stops the workers after one last send of what is queued (each
// bounded by SendTimeout) and closes the transports. Publish must not be
// called after Close.
func (p *Publisher) Close() error {
	p.stop()
	p.wg.Wait()
	var first error
	for _, tg := range p.targets {
		if err := tg.t.Close(); err != nil && first == nil {
			first = fmt.Errorf("live bus: close %s: %w", tg.t.Name(), err)
		}
	}
	return first
}

// RegisterMetrics registers p's totals with reg as
// floe_live_bus_published_total{result="sent"|"dropped"|"failed"}.
func RegisterMetrics(reg prometheus.Registerer, p *Publisher) error {
	for _, r := range []struct {
		result string
		v      func(PublisherStats) int64
	}{
		{"sent", func(s PublisherStats) int64 { return s.Sent }},
		{"dropped", func(s PublisherStats) int64 { return s.Dropped }},
		{"failed", func(s PublisherStats) int64 { return s.Failed }},
	} {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_live_bus_published_total",
			Help: "Change batches published to live nodes, by result (dropped: a full queue; failed: the send failed).", ConstLabels: prometheus.Labels{"result": r.result}},
			func() float64 { return float64(r.v(p.Stats())) })
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
