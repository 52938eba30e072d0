package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server"
)

const liveRootPassword = "root-pass-for-live-cli"

// liveNode is a real Floe server on loopback.
type liveNode struct {
	url   string
	token string
	query floev1connect.QueryServiceClient
}

// startLiveNode runs a Floe node (local directory storage) on loopback and
// logs root in.
func startLiveNode(t *testing.T) *liveNode {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Storage.FS.Dir = filepath.Join(dir, "objects")
	cfg.Auth.JWTSecret = "0123456789abcdef0123456789abcdef"
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Live.Heartbeat.Duration = 200 * time.Millisecond
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, app, server.Options{RootPassword: liveRootPassword})
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		srv.Close()
		app.Close()
	})
	n := &liveNode{url: "http://" + ln.Addr().String(), query: floev1connect.NewQueryServiceClient(http.DefaultClient, "http://"+ln.Addr().String())}
	a := floev1connect.NewAuthServiceClient(http.DefaultClient, n.url)
	res, err := a.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: "root", Password: liveRootPassword}))
	if err != nil {
		t.Fatal(err)
	}
	n.token = res.Msg.AccessToken
	return n
}

// sql runs statements as root (not through any proxy).
func (n *liveNode) sql(t *testing.T, sql string) {
	t.Helper()
	req := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: sql})
	req.Header().Set("Authorization", "Bearer "+n.token)
	if _, err := n.query.ExecuteSQL(context.Background(), req); err != nil {
		t.Errorf("%s: %v", sql, err)
	}
}

// cutProxy forwards TCP connections to a target and can cut them all.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cuts   int
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

// cut closes every forwarded connection (a dropped network path).
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	if len(p.conns) > 0 {
		p.cuts++
	}
	p.conns = nil
}

// jsonLines parses floe subscribe --format json output.
type liveLine struct {
	Op   string            `json:"op"`
	Seq  uint64            `json:"seq"`
	Rows int               `json:"rows"`
	Row  map[string]string `json:"row"`
	Old  map[string]string `json:"old"`
}

func parseLiveLines(t *testing.T, out string) []liveLine {
	t.Helper()
	var lines []liveLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var ll liveLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		lines = append(lines, ll)
	}
	return lines
}

// TestSubscribeResumesAfterDisconnect: `floe subscribe --format json`
// against a real node, through a proxy whose connections are cut again
// and again while writers insert: the CLI resumes each time with FROM_SEQ
// and prints the initial rows once, then every matching insert exactly
// once, in _seq order, and never a row its filter excludes; Ctrl-C ends
// it with exit code 0.
func TestSubscribeResumesAfterDisconnect(t *testing.T) {
	n := startLiveNode(t)
	n.sql(t, "CREATE SHARED TABLE public.feed (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	n.sql(t, "INSERT INTO public.feed VALUES (0, 'keep'), (1, 'skip'), (2, 'keep')")
	p := newCutProxy(t, strings.TrimPrefix(n.url, "http://"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"subscribe", "--server", p.url(), "--token", n.token, "--format", "json",
			"SELECT id, v FROM public.feed WHERE v <> 'skip'"}, nil, &out, &errb)
	}()
	waitUntil(t, func() bool { return strings.Contains(out.String(), `"op":"loaded"`) }, &errb)

	const total, perStmt = 2000, 10
	for i := 3; i < total; i += perStmt {
		var vals []string
		for k := i; k < min(i+perStmt, total); k++ {
			v := "keep"
			if k%5 == 0 {
				v = "skip"
			}
			vals = append(vals, fmt.Sprintf("(%d, '%s')", k, v))
		}
		n.sql(t, "INSERT INTO public.feed VALUES "+strings.Join(vals, ","))
		if i%300 == 3 {
			// Cut, then wait for the CLI to be back before writing on.
			p.cut()
			cuts := p.cuts
			waitUntil(t, func() bool { return strings.Count(errb.String(), "floe: resumed") >= cuts }, &errb)
		}
		if i == 1003 {
			n.sql(t, "FLUSH TABLE public.feed")
		}
	}
	want := 0 // rows 0 and 2, then the inserted ones not marked skip
	for k := range total {
		if k == 0 || k == 2 || k >= 3 && k%5 != 0 {
			want++
		}
	}
	// The last row inserted matches: once it is printed, all are.
	waitUntil(t, func() bool { return strings.Contains(out.String(), fmt.Sprintf(`"row":{"id":"%d"`, total-1)) }, &errb)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	if p.cuts < 7 || strings.Count(errb.String(), "resuming from _seq") < 7 {
		t.Fatalf("%d cuts; stderr:\n%s", p.cuts, errb.String())
	}

	seen := map[string]int{}
	var last uint64
	loaded := false
	for _, l := range parseLiveLines(t, out.String()) {
		switch l.Op {
		case "row":
			if loaded {
				t.Fatalf("an initial row after the load: %+v", l)
			}
			seen[l.Row["id"]]++
		case "loaded":
			if loaded || l.Rows != 2 {
				t.Fatalf("loaded line %+v", l)
			}
			loaded, last = true, l.Seq
		case "insert", "upsert":
			if l.Seq <= last {
				t.Fatalf("_seq %d after %d", l.Seq, last)
			}
			last = l.Seq
			if l.Row["v"] != "keep" {
				t.Fatalf("a row the filter excludes: %+v", l)
			}
			seen[l.Row["id"]]++
		case "delete":
			// A replay from storage does not know whether a row that does
			// not match matched before: it says its key is out, a no-op
			// for a client that never held it.
			if l.Seq <= last {
				t.Fatalf("_seq %d after %d", l.Seq, last)
			}
			last = l.Seq
			if id, _ := strconv.Atoi(l.Old["id"]); id%5 != 0 || seen[l.Old["id"]] != 0 {
				t.Fatalf("delete of a row that matched: %+v", l)
			}
		default:
			t.Fatalf("unexpected line %+v", l)
		}
	}
	if len(seen) != want {
		t.Fatalf("%d distinct rows, want %d", len(seen), want)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("row %s printed %d times", id, c)
		}
	}
	t.Logf("%d rows over %d cuts", len(seen), p.cuts)
}

// TestSubscribeTableFormatAndEnd: the table format prints each change as
// a line of col=value pairs (an update names the old values of the
// columns it changed); a dropped table ends the subscription with exit
// code 1 and the server's reason; a query the server refuses fails at
// once with its code.
func TestSubscribeTableFormatAndEnd(t *testing.T) {
	n := startLiveNode(t)
	n.sql(t, "CREATE SHARED TABLE public.notes (id BIGINT PRIMARY KEY, room TEXT, body TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	n.sql(t, "INSERT INTO public.notes VALUES (1, 'a', 'hello'), (2, 'b', 'other')")
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"subscribe", "--server", n.url, "--token", n.token,
			"public.notes WHERE room = 'a'"}, nil, &out, &errb)
	}()
	waitUntil(t, func() bool { return strings.Contains(out.String(), "row") }, &errb)
	n.sql(t, "INSERT INTO public.notes VALUES (3, 'a', 'hi there')")
	n.sql(t, "UPDATE public.notes SET body = 'hey' WHERE id = 3")
	n.sql(t, "DELETE FROM public.notes WHERE id = 1")
	waitUntil(t, func() bool { return strings.Count(out.String(), "\n") >= 4 }, &errb)
	n.sql(t, "DROP TABLE public.notes")
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running after DROP TABLE; stderr:\n%s", errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`row    -    id=1 room=a body=hello`,
		`insert \d+ +id=3 room=a body="hi there"`,
		`update \d+ +id=3 room=a body=hey  \(was body="hi there"\)`,
		`delete \d+ +id=1 room=a body=hello`,
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, w := range want {
		if !matches(w, lines[i]) {
			t.Errorf("line %d: %q, want /%s/", i, lines[i], w)
		}
	}
	if code != 1 || !strings.Contains(errb.String(), "ERROR TABLE_NOT_FOUND") {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}

	// A server that is not there fails at once (no retries before a
	// first subscription).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + ln.Addr().String()
	ln.Close()
	code, _, stderr := runCLI(t, context.Background(), nil, "subscribe", "--server", nobody, "--token", n.token, "public.notes")
	if code != 1 || !strings.Contains(stderr, "ERROR UNAVAILABLE") || strings.Contains(stderr, "resuming") {
		t.Fatalf("no server: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, context.Background(), nil, "subscribe", "--server", n.url, "--token", n.token,
		"SELECT id FROM public.nothere")
	if code != 1 || !strings.Contains(stderr, "ERROR TABLE_NOT_FOUND") || strings.Contains(stderr, "resuming") {
		t.Fatalf("missing table: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, context.Background(), nil, "subscribe", "--server", n.url, "--token", n.token,
		"SELECT id FROM public.t GROUP BY id")
	if code != 1 || !strings.Contains(stderr, "ERROR UNSUPPORTED") {
		t.Fatalf("GROUP BY: exit %d, stderr %q", code, stderr)
	}
}

// TestSubscribeClosedOutput: a write to a closed pipe (`| head`) ends
// floe subscribe with exit code 0.
func TestSubscribeClosedOutput(t *testing.T) {
	n := startLiveNode(t)
	n.sql(t, "CREATE SHARED TABLE public.p (id BIGINT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')")
	n.sql(t, "INSERT INTO public.p VALUES (1)")
	var errb lockedBuffer
	w := &pipeWriter{}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"subscribe", "--server", n.url, "--token", n.token, "public.p"}, nil, w, &errb)
	}()
	waitUntil(t, func() bool { return w.writes() > 0 }, &errb)
	w.close()
	n.sql(t, "INSERT INTO public.p VALUES (2)")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running after its output closed")
	}
}

// pipeWriter fails with EPIPE once closed, as a pipe whose reader exited.
type pipeWriter struct {
	mu     sync.Mutex
	n      int
	closed bool
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, &net.OpError{Op: "write", Err: syscall.EPIPE}
	}
	w.n++
	return len(b), nil
}

func (w *pipeWriter) writes() int { w.mu.Lock(); defer w.mu.Unlock(); return w.n }
func (w *pipeWriter) close()      { w.mu.Lock(); w.closed = true; w.mu.Unlock() }

// TestSubscribeResync: on a resync event the CLI subscribes again with
// FROM_SEQ = the resync's _seq, skips a change it printed already, and
// stops with the server's reason when the server ends the stream with a
// Floe error. (A fake LiveService: a real node's resync needs a client
// too slow to read, which the CLI is not.)
func TestSubscribeResync(t *testing.T) {
	fl := &fakeLive{}
	mux := http.NewServeMux()
	mux.Handle(floev1connect.NewLiveServiceHandler(fl))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	code, out, stderr := runCLI(t, context.Background(), nil, "subscribe", "--server", srv.URL, "--token", "t",
		"SUBSCRIBE TO SELECT id FROM public.t OPTIONS (BATCH_SIZE = 5)")
	if code != 1 || !strings.Contains(stderr, "resync (fell behind); resuming from _seq 6") ||
		!strings.Contains(stderr, "ERROR PERMISSION_DENIED: right revoked") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if got := strings.Fields(out); fmt.Sprint(got) != "[row - id=1 insert 5 id=5 insert 6 id=6 insert 7 id=7]" {
		t.Fatalf("output %q", out)
	}
	if fmt.Sprint(fl.sqls) != "[SUBSCRIBE TO SELECT id FROM public.t OPTIONS (BATCH_SIZE = 5) SUBSCRIBE TO SELECT id FROM public.t OPTIONS (BATCH_SIZE = 5, FROM_SEQ = 6)]" {
		t.Fatalf("statements %q", fl.sqls)
	}
}

type fakeLive struct {
	floev1connect.UnimplementedLiveServiceHandler
	mu   sync.Mutex
	sqls []string
}

func (f *fakeLive) Subscribe(_ context.Context, req *connect.Request[floev1.SubscribeRequest], s *connect.ServerStream[floev1.SubscribeResponse]) error {
	f.mu.Lock()
	f.sqls = append(f.sqls, req.Msg.GetSql())
	n := len(f.sqls)
	f.mu.Unlock()
	ack := &floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Ack{Ack: &floev1.LiveAck{
		SubscriptionId: fmt.Sprint("s", n), NodeId: "fake", SnapshotSeq: 4, Columns: []*floev1.Column{{Name: "id", Type: "BIGINT"}}}}}
	change := func(seq uint64) *floev1.SubscribeResponse {
		return &floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Change{Change: &floev1.LiveChange{
			Op: "insert", Seq: seq, Row: &structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue(fmt.Sprint(seq))}}}}}
	}
	var msgs []*floev1.SubscribeResponse
	if n == 1 {
		msgs = []*floev1.SubscribeResponse{ack,
			{Event: &floev1.SubscribeResponse_Rows{Rows: &floev1.LiveRows{Last: true,
				Rows: []*structpb.ListValue{{Values: []*structpb.Value{structpb.NewStringValue("1")}}}}}},
			change(5), change(6),
			{Event: &floev1.SubscribeResponse_Resync{Resync: &floev1.LiveResync{FromSeq: 6, Reason: "fell behind"}}}}
	} else {
		ack.GetAck().SnapshotSeq = 6
		msgs = []*floev1.SubscribeResponse{ack, change(6), change(7)}
	}
	for _, m := range msgs {
		if err := s.Send(m); err != nil {
			return err
		}
	}
	if n == 1 {
		return nil
	}
	return floeError(connect.CodePermissionDenied, "PERMISSION_DENIED", "right revoked", 0, 0, 0)
}

func matches(pattern, s string) bool {
	ok, err := regexp.MatchString("^"+pattern+"$", s)
	return err == nil && ok
}

func waitUntil(t *testing.T, ok func() bool, errb *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached; stderr:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSubscribeProtocols: the stream works over gRPC (h2c) and gRPC-Web
// as over Connect.
func TestSubscribeProtocols(t *testing.T) {
	n := startLiveNode(t)
	n.sql(t, "CREATE SHARED TABLE public.pr (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	n.sql(t, "INSERT INTO public.pr VALUES (1, 'one')")
	for i, proto := range []string{"grpc", "grpcweb"} {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb lockedBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"subscribe", "--protocol", proto, "--server", n.url, "--token", n.token, "public.pr"}, nil, &out, &errb)
		}()
		waitUntil(t, func() bool { return strings.Contains(out.String(), "id=1 v=one") }, &errb)
		n.sql(t, fmt.Sprintf("INSERT INTO public.pr VALUES (%d, '%s')", i+2, proto))
		waitUntil(t, func() bool { return strings.Contains(out.String(), "v="+proto) }, &errb)
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("%s: exit %d; stderr:\n%s", proto, code, errb.String())
		}
	}
}

// TestSubscribeReload: a resync without a _seq (the changes since
// FROM_SEQ can no longer be replayed) makes the CLI load the rows again,
// without FROM_SEQ, then go on with the changes after them.
func TestSubscribeReload(t *testing.T) {
	fl := &fakeReload{}
	mux := http.NewServeMux()
	mux.Handle(floev1connect.NewLiveServiceHandler(fl))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	code, out, stderr := runCLI(t, context.Background(), nil, "subscribe", "--server", srv.URL, "--token", "t", "--from-seq", "2",
		"SELECT id FROM public.t")
	if code != 1 || !strings.Contains(stderr, "resync (compacted); reloading the rows") || !strings.Contains(stderr, "ERROR PERMISSION_DENIED: done") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if got := strings.Fields(out); fmt.Sprint(got) != "[row - id=1 row - id=3 insert 9 id=9]" {
		t.Fatalf("output %q", out)
	}
	if len(fl.sqls) != 2 || !strings.Contains(fl.sqls[0], "FROM_SEQ = 2") || strings.Contains(fl.sqls[1], "FROM_SEQ") {
		t.Fatalf("statements %q: want FROM_SEQ 2, then a reload without FROM_SEQ", fl.sqls)
	}
}

// fakeReload answers a subscription with FROM_SEQ with a resync to
// reload, and one without it with rows and a change.
type fakeReload struct {
	floev1connect.UnimplementedLiveServiceHandler
	mu   sync.Mutex
	sqls []string
}

func (f *fakeReload) Subscribe(_ context.Context, req *connect.Request[floev1.SubscribeRequest], s *connect.ServerStream[floev1.SubscribeResponse]) error {
	f.mu.Lock()
	f.sqls = append(f.sqls, req.Msg.GetSql())
	f.mu.Unlock()
	ack := &floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Ack{Ack: &floev1.LiveAck{
		SubscriptionId: "s", NodeId: "fake", SnapshotSeq: 8, Columns: []*floev1.Column{{Name: "id", Type: "BIGINT"}}}}}
	msgs := []*floev1.SubscribeResponse{ack, {Event: &floev1.SubscribeResponse_Resync{Resync: &floev1.LiveResync{Reason: "compacted"}}}}
	if !strings.Contains(req.Msg.GetSql(), "FROM_SEQ") {
		msgs = []*floev1.SubscribeResponse{ack,
			{Event: &floev1.SubscribeResponse_Rows{Rows: &floev1.LiveRows{Last: true, Rows: []*structpb.ListValue{
				{Values: []*structpb.Value{structpb.NewStringValue("1")}}, {Values: []*structpb.Value{structpb.NewStringValue("3")}}}}}},
			{Event: &floev1.SubscribeResponse_Change{Change: &floev1.LiveChange{Op: "insert", Seq: 9,
				Row: &structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("9")}}}}}}
	}
	for _, m := range msgs {
		if err := s.Send(m); err != nil {
			return err
		}
	}
	if strings.Contains(req.Msg.GetSql(), "FROM_SEQ") {
		return nil
	}
	return floeError(connect.CodePermissionDenied, "PERMISSION_DENIED", "done", 0, 0, 0)
}
