package bus_test

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

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery/bus"
	"github.com/floedb/floe/livequery/bus/bustest"
	"github.com/floedb/floe/manifest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
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
	k := bus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	if err := k.Verify(k.Credential(now), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	other := bus.DeriveKey([]byte("another-secret-another-secret-xx"))
	for name, c := range map[string]struct {
		key  bus.Key
		cred string
		at   time.Time
		want string
	}{
		"other secret":         {other, k.Credential(now), now, "differs"},
		"too old":              {k, k.Credential(now), now.Add(bus.MaxSkew + time.Minute), "off this node's clock"},
		"not a bus credential": {k, "eyJhbGciOiJIUzI1NiJ9.e30.x", now, "needs"},
		"no secret":            {bus.DeriveKey(nil), k.Credential(now), now, "no auth.jwt_secret"},
		"bad time":             {k, "floebus1.xx.00", now, "not a number"},
	} {
		err := c.key.Verify(c.cred, c.at)
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
	key := bus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	rec := newRecorder()
	mux := http.NewServeMux()
	mux.Handle(bus.Handler(key, rec, bus.HandlerOptions{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p := bus.NewPublisher(bus.PublisherOptions{NodeID: "fn-1"}, bus.NewConnectTransport(srv.URL, key, nil))
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

	msg, err := bus.Encode(sample(20), "fn-1")
	if err != nil {
		t.Fatal(err)
	}
	c := floev1connect.NewBusServiceClient(http.DefaultClient, srv.URL)
	for name, auth := range map[string]string{
		"none":         "",
		"user token":   "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
		"other secret": "Bearer " + bus.DeriveKey([]byte("another-secret-another-secret-xx")).Credential(time.Now()),
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
	bad, _ := bus.Encode(sample(30), "fn-1")
	bad.LastSeq = 99
	req := connect.NewRequest(&floev1.PublishRequest{Batches: []*floev1.BusChangeBatch{bad}})
	req.Header().Set("Authorization", "Bearer "+key.Credential(time.Now()))
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
	p := bus.NewPublisher(bus.PublisherOptions{QueueLength: 8, SendTimeout: time.Hour}, s)
	start := time.Now()
	for i := range 1000 {
		p.Publish(sample(uint64(1 + 4*i)))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("1000 publishes took %s with a stuck live node", d)
	}
	if st := p.Stats(); st.Dropped < 1000-8-bus.DefaultMaxBatchesPerSend || st.Queued+st.Dropped != 1000 {
		t.Fatalf("stats %+v", st)
	}
	close(s.release)
	p.Close()
}

// Over NATS (an embedded server): batches reach every subscribed live
// node unchanged; a message signed with another secret is dropped.
func TestNATSBus(t *testing.T) {
	url := bustest.RunNATS(t)
	key := bus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	var recs []*recorder
	var rejects []chan struct{}
	for range 2 {
		nc, err := bus.DialNATS(url, "live")
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		rec := newRecorder()
		rejected := make(chan struct{}, 8)
		if _, err := bus.SubscribeNATS(nc, "floe.test", key, rec, nil, func() { rejected <- struct{}{} }); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		rejects = append(rejects, rejected)
	}
	pnc, err := bus.DialNATS(url, "fn-1")
	if err != nil {
		t.Fatal(err)
	}
	p := bus.NewPublisher(bus.PublisherOptions{NodeID: "fn-1"}, bus.NewNATSTransport(pnc, "floe.test", key, true))
	defer p.Close()
	p.Publish(sample(1))
	p.Publish(sample(5))
	for _, rec := range recs {
		got := rec.wait(t, 2)
		sameBatch(t, got[0], sample(1))
		sameBatch(t, got[1], sample(5))
	}

	// A forger without the secret.
	fnc, err := bus.DialNATS(url, "forger")
	if err != nil {
		t.Fatal(err)
	}
	forged := bus.NewPublisher(bus.PublisherOptions{}, bus.NewNATSTransport(fnc, "floe.test", bus.DeriveKey([]byte("another-secret-another-secret-xx")), true))
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
}
