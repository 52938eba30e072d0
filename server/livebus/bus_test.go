package livebus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server/livebus"
	"github.com/floedb/floe/server/livebus/bustest"
)

var tbl = &manifest.Table{ID: "t1", Namespace: "app", Name: "msgs", Type: manifest.TableUser, SchemaVersion: 3,
	Columns: []manifest.Column{
		{Name: "id", Type: manifest.BigInt},
		{Name: "room", Type: manifest.Text, Nullable: true},
		{Name: "at", Type: manifest.Timestamp, Nullable: true},
		{Name: "x", Type: manifest.Double, Nullable: true},
	}, PrimaryKey: []string{"id"}}

// sample is a batch with every op, old values and NULLs.
func sample(first uint64) tablestore.ChangeBatch {
	rows := []tablestore.ChangeRow{
		{Op: tablestore.OpInsert, Values: row.Row{row.BigInt(1), row.Text("a"), row.Timestamp(1700000000000000), row.Double(1.5)}},
		{Op: tablestore.OpUpdate, Values: row.Row{row.BigInt(1), row.Text("b"), row.Null(), row.Double(-2)},
			Old: row.Row{row.BigInt(1), row.Text("a"), row.Timestamp(1700000000000000), row.Double(1.5)}},
		{Op: tablestore.OpUpsert, Values: row.Row{row.BigInt(2), row.Text("ü"), row.Null(), row.Null()}},
		{Op: tablestore.OpDelete, Values: row.Row{row.BigInt(2), row.Null(), row.Null(), row.Null()}},
	}
	for i := range rows {
		rows[i].Seq = first + uint64(i)
	}
	return tablestore.ChangeBatch{Table: tbl, Partition: "alice", FirstSeq: first, LastSeq: first + uint64(len(rows)) - 1, Rows: rows, ManifestVersion: 9}
}

// recorder is a Sink that keeps what it receives.
type recorder struct {
	mu  sync.Mutex
	got []tablestore.ChangeBatch
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1024)} }

func (r *recorder) Deliver(_ context.Context, b tablestore.ChangeBatch) {
	r.mu.Lock()
	r.got = append(r.got, b)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) wait(t *testing.T, n int) []tablestore.ChangeBatch {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			out := append([]tablestore.ChangeBatch(nil), r.got...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("received %d batches in 10s, want %d", len(r.got), n)
		}
	}
}

func sameBatch(t *testing.T, got, want tablestore.ChangeBatch) {
	t.Helper()
	if got.Table.ID != want.Table.ID || got.Table.SchemaVersion != want.Table.SchemaVersion || len(got.Table.Columns) != len(want.Table.Columns) ||
		got.Partition != want.Partition || got.FirstSeq != want.FirstSeq || got.LastSeq != want.LastSeq ||
		got.ManifestVersion != want.ManifestVersion || len(got.Rows) != len(want.Rows) {
		t.Fatalf("batch %+v, want %+v", got, want)
	}
	for i := range want.Rows {
		g, w := got.Rows[i], want.Rows[i]
		if g.Seq != w.Seq || g.Op != w.Op || !g.Values.Equal(w.Values) || !g.Old.Equal(w.Old) || (g.Old == nil) != (w.Old == nil) {
			t.Fatalf("row %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestCredential(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := livebus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	body := []byte("a change batch")
	if err := k.Verify(k.Credential(now, body), body, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	other := livebus.DeriveKey([]byte("another-secret-another-secret-xx"))
	for name, c := range map[string]struct {
		key  livebus.Key
		cred string
		body string
		at   time.Time
		want string
	}{
		"other secret":         {other, k.Credential(now, body), string(body), now, "differs"},
		"other body":           {k, k.Credential(now, body), "a forged batch", now, "altered"},
		"too old":              {k, k.Credential(now, body), string(body), now.Add(livebus.MaxSkew + time.Minute), "off this node's clock"},
		"not a bus credential": {k, "eyJhbGciOiJIUzI1NiJ9.e30.x", string(body), now, "needs"},
		"version 1":            {k, "floebus1.1800000000.00", string(body), now, "needs"},
		"no secret":            {livebus.DeriveKey(nil), k.Credential(now, body), string(body), now, "no auth.jwt_secret"},
		"bad time":             {k, livebus.CredentialPrefix + "xx.00", string(body), now, "not a number"},
	} {
		err := c.key.Verify(c.cred, []byte(c.body), c.at)
		if dberr.CodeOf(err) != dberr.Unauthenticated || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want UNAUTHENTICATED saying %q", name, err, c.want)
		}
	}
}

// A batch crosses BusService.Publish over real HTTP unchanged; a publish
// without a valid credential is refused with Unauthenticated and the Floe
// code UNAUTHENTICATED, and delivers nothing; a malformed batch is
// refused with InvalidArgument.
func TestConnectBus(t *testing.T) {
	key := livebus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	rec := newRecorder()
	mux := http.NewServeMux()
	mux.Handle(livebus.Handler(key, rec, livebus.HandlerOptions{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p := livebus.NewPublisher(livebus.PublisherOptions{NodeID: "fn-1"}, livebus.NewConnectTransport(srv.URL, key, nil))
	p.Publish(sample(5))
	p.Publish(sample(9))
	got := rec.wait(t, 2)
	sameBatch(t, got[0], sample(5))
	sameBatch(t, got[1], sample(9))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Sent != 2 || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}

	msg, err := livebus.Encode(sample(20), "fn-1")
	if err != nil {
		t.Fatal(err)
	}
	c := floev1connect.NewBusServiceClient(http.DefaultClient, srv.URL)
	signed := func(k livebus.Key, m *floev1.PublishRequest) string {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + k.Credential(time.Now(), body)
	}
	// A credential taken from another publish (as seen on the wire) does
	// not carry this one's batches.
	seen := signed(key, &floev1.PublishRequest{Batches: []*floev1.BusChangeBatch{mustEncode(t, sample(1))}})
	for name, auth := range map[string]string{
		"none":              "",
		"user token":        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
		"other secret":      signed(livebus.DeriveKey([]byte("another-secret-another-secret-xx")), &floev1.PublishRequest{Batches: []*floev1.BusChangeBatch{msg}}),
		"another message's": seen,
	} {
		req := connect.NewRequest(&floev1.PublishRequest{Batches: []*floev1.BusChangeBatch{msg}})
		if auth != "" {
			req.Header().Set("Authorization", auth)
		}
		_, err := c.Publish(context.Background(), req)
		if connect.CodeOf(err) != connect.CodeUnauthenticated || floeCode(err) != "UNAUTHENTICATED" {
			t.Errorf("%s: %v (floe code %q), want Unauthenticated/UNAUTHENTICATED", name, err, floeCode(err))
		}
	}
	bad, _ := livebus.Encode(sample(30), "fn-1")
	bad.LastSeq = 99
	badReq := &floev1.PublishRequest{Batches: []*floev1.BusChangeBatch{bad}}
	req := connect.NewRequest(badReq)
	req.Header().Set("Authorization", signed(key, badReq))
	if _, err := c.Publish(context.Background(), req); connect.CodeOf(err) != connect.CodeInvalidArgument || floeCode(err) != "INVALID_ARGUMENT" {
		t.Errorf("malformed batch: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(rec.wait(t, 2)); n != 2 {
		t.Fatalf("refused publishes delivered: %d batches", n)
	}
}

func floeCode(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if ed, ok := v.(*floev1.ErrorDetail); ok {
				return ed.Code
			}
		}
	}
	return ""
}

// stuck is a transport whose Send blocks until released.
type stuck struct{ release chan struct{} }

func (s stuck) Name() string { return "stuck" }
func (s stuck) Send(ctx context.Context, _ []*floev1.BusChangeBatch) error {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return ctx.Err()
}
func (s stuck) Close() error { return nil }

// Publish never blocks the writer: with a live node that does not answer,
// the queue fills and further batches are dropped (and counted).
func TestPublishNeverBlocks(t *testing.T) {
	s := stuck{release: make(chan struct{})}
	p := livebus.NewPublisher(livebus.PublisherOptions{QueueLength: 8, SendTimeout: time.Hour}, s)
	start := time.Now()
	for i := range 1000 {
		p.Publish(sample(uint64(1 + 4*i)))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("1000 publishes took %s with a stuck live node", d)
	}
	if st := p.Stats(); st.Dropped < 1000-8-livebus.DefaultMaxBatchesPerSend || st.Queued+st.Dropped != 1000 {
		t.Fatalf("stats %+v", st)
	}
	close(s.release)
	p.Close()
}

// Over NATS (an embedded server): batches reach every subscribed live
// node unchanged; a message signed with another secret is dropped.
func TestNATSBus(t *testing.T) {
	url := bustest.RunNATS(t)
	key := livebus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	var recs []*recorder
	var rejects []chan struct{}
	for range 2 {
		nc, err := livebus.DialNATS(url, "live")
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		rec := newRecorder()
		rejected := make(chan struct{}, 8)
		if _, err := livebus.SubscribeNATS(nc, "floe.test", key, rec, nil, func() { rejected <- struct{}{} }); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		rejects = append(rejects, rejected)
	}
	pnc, err := livebus.DialNATS(url, "fn-1")
	if err != nil {
		t.Fatal(err)
	}
	p := livebus.NewPublisher(livebus.PublisherOptions{NodeID: "fn-1"}, livebus.NewNATSTransport(pnc, "floe.test", key, true))
	defer p.Close()
	p.Publish(sample(1))
	p.Publish(sample(5))
	for _, rec := range recs {
		got := rec.wait(t, 2)
		sameBatch(t, got[0], sample(1))
		sameBatch(t, got[1], sample(5))
	}

	// A forger without the secret.
	fnc, err := livebus.DialNATS(url, "forger")
	if err != nil {
		t.Fatal(err)
	}
	forged := livebus.NewPublisher(livebus.PublisherOptions{}, livebus.NewNATSTransport(fnc, "floe.test", livebus.DeriveKey([]byte("another-secret-another-secret-xx")), true))
	forged.Publish(sample(100))
	forged.Close()
	p.Publish(sample(200))
	for i, rec := range recs {
		select {
		case <-rejects[i]:
		case <-time.After(10 * time.Second):
			t.Fatal("the forged message was not rejected")
		}
		got := rec.wait(t, 3)
		if len(got) != 3 || got[2].FirstSeq != 200 {
			t.Fatalf("after a forged message: %d batches, last from _seq %d", len(got), got[len(got)-1].FirstSeq)
		}
	}

	// A credential copied from a real message (it travels in the clear in
	// the header) does not carry other data.
	cnc, err := livebus.DialNATS(url, "copier")
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	real, err := proto.Marshal(mustEncode(t, sample(300)))
	if err != nil {
		t.Fatal(err)
	}
	fake, err := proto.Marshal(mustEncode(t, sample(400)))
	if err != nil {
		t.Fatal(err)
	}
	copied := key.Credential(time.Now(), real)
	if err := cnc.PublishMsg(&nats.Msg{Subject: "floe.test", Data: fake, Header: nats.Header{livebus.AuthHeader: []string{copied}}}); err != nil {
		t.Fatal(err)
	}
	if err := cnc.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Publish(sample(500))
	for i, rec := range recs {
		select {
		case <-rejects[i]:
		case <-time.After(10 * time.Second):
			t.Fatal("the message with a copied credential was not rejected")
		}
		got := rec.wait(t, 4)
		if len(got) != 4 || got[3].FirstSeq != 500 {
			t.Fatalf("after a copied credential: %d batches, last from _seq %d", len(got), got[len(got)-1].FirstSeq)
		}
	}
}

// gated is a transport whose Send waits for a release and then records
// the batches; flushes counts Flush calls (a buffering transport).
type gated struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []uint64 // FirstSeq of each batch sent
	flushes int
}

func (g *gated) Name() string { return "gated" }
func (g *gated) Send(ctx context.Context, bs []*floev1.BusChangeBatch) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range bs {
		d, err := livebus.Decode(b)
		if err != nil {
			return err
		}
		g.sent = append(g.sent, d.FirstSeq)
	}
	return nil
}
func (g *gated) Flush(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.flushes++
	return nil
}
func (g *gated) Close() error { return nil }

// Flush returns only once every batch published before it was sent and
// the transport's buffer flushed (a Lambda function calls it before
// answering, as its environment is frozen between invocations); a send
// that does not finish makes Flush end with its context.
func TestFlushWaitsForQueuedBatches(t *testing.T) {
	g := &gated{release: make(chan struct{})}
	p := livebus.NewPublisher(livebus.PublisherOptions{SendTimeout: time.Hour}, g)
	defer p.Close()
	p.Publish(sample(1))
	p.Publish(sample(5))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := p.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with a send in flight: %v, want the context's deadline", err)
	}

	done := make(chan error, 1)
	go func() { done <- p.Flush(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Flush returned (%v) before the batches were sent", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Flush did not return after the sends")
	}
	g.mu.Lock()
	sent, flushes := append([]uint64(nil), g.sent...), g.flushes
	g.mu.Unlock()
	if len(sent) != 2 || sent[0] != 1 || sent[1] != 5 {
		t.Fatalf("sent %v before Flush returned, want [1 5]", sent)
	}
	if flushes < 1 {
		t.Fatal("the transport's buffer was not flushed")
	}
	if st := p.Stats(); st.Sent != 2 || st.Queued != 2 {
		t.Fatalf("stats %+v: flush markers are not batches", st)
	}
	// Nothing sent since: Flush returns without flushing the transport
	// (no round trip to a NATS server per invocation that wrote nothing).
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.flushes != flushes {
		t.Fatalf("flushed the transport %d times after nothing was sent", g.flushes-flushes)
	}
}

// A large batch travels as several messages of consecutive _seq ranges,
// each below MaxMessageBytes, that together are the batch.
func TestLargeBatchIsSplit(t *testing.T) {
	b := tablestore.ChangeBatch{Table: tbl, Partition: "p", FirstSeq: 100}
	long := strings.Repeat("x", 1000)
	for i := range 2000 {
		b.Rows = append(b.Rows, tablestore.ChangeRow{Seq: 100 + uint64(i), Op: tablestore.OpInsert,
			Values: row.Row{row.BigInt(int64(i)), row.Text(long), row.Null(), row.Null()}})
	}
	b.LastSeq = 100 + 2000 - 1
	m, err := livebus.Encode(b, "fn")
	if err != nil {
		t.Fatal(err)
	}
	parts := livebus.Split(m, livebus.MaxMessageBytes)
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	next := b.FirstSeq
	var rows []tablestore.ChangeRow
	for _, p := range parts {
		// Rows of at most MaxMessageBytes, plus the header and framing:
		// well below NATS's default max_payload of 1 MiB.
		if proto.Size(p) > livebus.MaxMessageBytes+len(p.Table)+4*len(p.Rows)+64 {
			t.Fatalf("part of %d bytes", proto.Size(p))
		}
		d, err := livebus.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		if d.FirstSeq != next {
			t.Fatalf("part starts at %d, want %d", d.FirstSeq, next)
		}
		next = d.LastSeq + 1
		rows = append(rows, d.Rows...)
	}
	sameBatch(t, tablestore.ChangeBatch{Table: tbl, Partition: "p", FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Rows: rows}, b)
}

// counting is a transport that counts what it is sent.
type counting struct {
	mu sync.Mutex
	n  int
}

func (c *counting) Name() string { return "counting" }
func (c *counting) Send(_ context.Context, bs []*floev1.BusChangeBatch) error {
	c.mu.Lock()
	c.n += len(bs)
	c.mu.Unlock()
	return nil
}
func (c *counting) Close() error { return nil }

// Close sends what is still queued before it returns (a process that
// stops right after a write still publishes it).
func TestCloseSendsTheQueue(t *testing.T) {
	c := &counting{}
	p := livebus.NewPublisher(livebus.PublisherOptions{}, c)
	for i := range 500 {
		p.Publish(sample(uint64(1 + 4*i)))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if c.n != 500 || p.Stats().Sent != 500 {
		t.Fatalf("sent %d (stats %+v), want 500", c.n, p.Stats())
	}
}

func mustEncode(t *testing.T, b tablestore.ChangeBatch) *floev1.BusChangeBatch {
	t.Helper()
	m, err := livebus.Encode(b, "fn-1")
	if err != nil {
		t.Fatal(err)
	}
	return m
}
