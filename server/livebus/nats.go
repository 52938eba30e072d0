package livebus

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/tablestore"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// AuthHeader is the NATS message header that carries a bus credential.
const AuthHeader = "Floe-Bus-Auth"

// DialNATS connects to the NATS server(s) at url (comma-separated, e.g.
// "nats://nats-1:4222"), reconnecting forever after a loss.
func DialNATS(url, nodeID string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("floe "+nodeID), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("live bus: connect to NATS at %s (live.nats_url): %w", url, err)
	}
	return nc, nil
}

// NATSTransport publishes each batch as one message on a subject that
// every live node subscribes to. NATS is at most once: a message is lost
// when no live node is connected or one falls behind (a slow consumer);
// the live nodes fill such gaps from the object store.
type NATSTransport struct {
	nc      *nats.Conn
	subject string
	key     Key
	clock   func() time.Time
	own     bool
}

// NewNATSTransport returns a transport publishing on subject over nc. If
// own is set, Close closes nc.
func NewNATSTransport(nc *nats.Conn, subject string, key Key, own bool) *NATSTransport {
	return &NATSTransport{nc: nc, subject: subject, key: key, clock: time.Now, own: own}
}

// Name returns the subject.
func (t *NATSTransport) Name() string { return "nats:" + t.subject }

// Send publishes each batch as a message signed in its header. It returns
// once the messages are handed to the client's buffer (NATS core has no
// acknowledgement).
func (t *NATSTransport) Send(ctx context.Context, batches []*floev1.BusChangeBatch) error {
	now := t.clock()
	for _, b := range batches {
		data, err := proto.Marshal(b)
		if err != nil {
			return fmt.Errorf("live bus: encode a batch for NATS: %w", err)
		}
		msg := &nats.Msg{Subject: t.subject, Data: data, Header: nats.Header{AuthHeader: []string{t.key.Credential(now, data)}}}
		if err := t.nc.PublishMsg(msg); err != nil {
			return fmt.Errorf("live bus: publish on NATS subject %s: %w", t.subject, err)
		}
	}
	return nil
}

// Flush writes out the client's buffer and waits for the server's
// answer (Publisher.Flush).
func (t *NATSTransport) Flush(ctx context.Context) error {
	if err := t.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("live bus: flush NATS: %w", err)
	}
	return nil
}

// Close closes the connection if the transport owns it.
func (t *NATSTransport) Close() error {
	if t.own {
		t.nc.Close()
	}
	return nil
}

// natsWorkers is how many partitions' batches a NATS subscriber delivers
// in parallel (a gap fill of one partition, which reads the object store,
// does not hold up the others); natsQueue bounds each worker's backlog.
const (
	natsWorkers = 8
	natsQueue   = 1024
)

// SubscribeNATS delivers the batches published on subject to sink: each
// partition's in arrival order, by one of natsWorkers workers chosen by
// the partition. A message whose credential does not verify with key, or
// that does not decode, is dropped with a warning (and counted by
// rejected, when set); so is a batch whose worker's backlog is full (the
// gate fills it from the object store). The workers stop when the
// subscription's connection closes.
func SubscribeNATS(nc *nats.Conn, subject string, key Key, sink Sink, log *slog.Logger, rejected func()) (*nats.Subscription, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("component", "live-bus"))
	var workers [natsWorkers]chan tablestore.ChangeBatch
	for i := range workers {
		workers[i] = make(chan tablestore.ChangeBatch, natsQueue)
		go func(q chan tablestore.ChangeBatch) {
			for b := range q {
				sink.Deliver(context.Background(), b)
			}
		}(workers[i])
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			for _, q := range workers {
				close(q)
			}
		})
	}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		ctx := context.Background()
		if err := key.Verify(m.Header.Get(AuthHeader), m.Data, time.Now()); err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "live bus: dropped an unauthenticated NATS message", slog.String("subject", subject), slog.Any("error", err))
			if rejected != nil {
				rejected()
			}
			return
		}
		var msg floev1.BusChangeBatch
		if err := proto.Unmarshal(m.Data, &msg); err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "live bus: dropped a NATS message that is no change batch", slog.String("subject", subject), slog.Any("error", err))
			if rejected != nil {
				rejected()
			}
			return
		}
		b, err := Decode(&msg)
		if err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "live bus: dropped a malformed change batch", slog.String("subject", subject), slog.Any("error", err))
			if rejected != nil {
				rejected()
			}
			return
		}
		h := fnv.New32a()
		h.Write([]byte(b.Table.ID))
		h.Write([]byte{0})
		h.Write([]byte(b.Partition))
		select {
		case workers[h.Sum32()%natsWorkers] <- b:
		default:
			log.LogAttrs(ctx, slog.LevelWarn, "live bus: dropped a change batch, the live node is behind; the gap is filled from the object store",
				slog.String("table_id", b.Table.ID))
		}
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("live bus: subscribe to NATS subject %s: %w", subject, err)
	}
	// The callback runs on the subscription's goroutine, which calls the
	// closed handler after its last callback when the subscription is
	// closed (unsubscribe, drain, connection close).
	sub.SetClosedHandler(func(string) { stop() })
	// Flush so that the subscription is registered with the server before
	// this returns (publishes after it reach this node).
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("live bus: subscribe to NATS subject %s: %w", subject, err)
	}
	return sub, nil
}
