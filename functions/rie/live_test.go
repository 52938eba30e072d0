package rie

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/internal/syncbuf"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server/livebus/bustest"
)

// liveNode is a `floe serve` process in the live role (the Dockerfile's
// binary) on the test warehouse.
type liveNode struct {
	url string
	out *syncbuf.Buffer
}

var nodeStarted = regexp.MustCompile(`msg="node started".* addr=(\S+)`)

// startLive starts a live node configured as template.yaml's Fargate
// service is (FLOE_* variables), with busEnv selecting the bus. Its
// manifest poll is an hour, so a change that reaches it within the test
// came over the bus (or was filled from S3 because a later batch that
// came over the bus revealed a gap).
func startLive(t *testing.T, s3 objstore.S3Config, busEnv ...string) *liveNode {
	t.Helper()
	env := append(fnEnv(t, s3, "floe-live"), "FLOE_ROLE=live", "FLOE_NODE_ID=live-1", "FLOE_SERVER_LISTEN=127.0.0.1:0",
		"FLOE_LIVE_POLL_INTERVAL=1h", "FLOE_LOG_LEVEL=info")
	env = append(env, busEnv...)
	n := &liveNode{out: &syncbuf.Buffer{}}
	cmd := exec.Command(filepath.Join(binDir, "floe", "floe"), "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = n.out, n.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("live node output:\n%s", n.out.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := nodeStarted.FindStringSubmatch(n.out.String()); m != nil {
			n.url = "http://" + m[1]
			return n
		}
		select {
		case <-exited:
			t.Fatalf("the live node exited before serving:\n%s", n.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live node did not serve within 60s:\n%s", n.out.String())
		}
	}
}

// liveChange is one change received on a Subscribe stream: its op, _seq,
// the row (or, for a delete, the old row) as text, and when it arrived.
type liveChange struct {
	op  string
	seq uint64
	row string
	old string
	at  time.Time
}

// values renders a row of a change as "v1|v2|…".
func values(l *structpb.ListValue) string {
	var parts []string
	for _, v := range l.GetValues() {
		switch k := v.GetKind().(type) {
		case *structpb.Value_NumberValue:
			parts = append(parts, strconv.FormatFloat(k.NumberValue, 'f', -1, 64))
		case *structpb.Value_NullValue:
			parts = append(parts, "NULL")
		default:
			parts = append(parts, v.GetStringValue())
		}
	}
	return strings.Join(parts, "|")
}

// subscribe runs sql on the live node over a real Connect stream (HTTP/1.1,
// JSON, as a browser would) as the token's user, reads the ack and the
// initial rows, and then sends every change on the returned channel.
func subscribe(t *testing.T, ctx context.Context, url, token, sql string) (snapshot uint64, initial []string, changes <-chan liveChange) {
	t.Helper()
	c := floev1connect.NewLiveServiceClient(http.DefaultClient, url, connect.WithProtoJSON())
	req := connect.NewRequest(&floev1.SubscribeRequest{Sql: sql})
	req.Header().Set("Authorization", "Bearer "+token)
	s, err := c.Subscribe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for s.Receive() {
		m := s.Msg()
		if a := m.GetAck(); a != nil {
			snapshot = a.SnapshotSeq
			t.Logf("live %s -> ack: subscription %s on node %s, snapshot _seq %d", sql, a.SubscriptionId, a.NodeId, a.SnapshotSeq)
		}
		if rows := m.GetRows(); rows != nil {
			for _, r := range rows.Rows {
				initial = append(initial, values(r))
			}
			if rows.Last {
				break
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	out := make(chan liveChange, 1<<12)
	go func() {
		defer close(out)
		for s.Receive() {
			ch := s.Msg().GetChange()
			if ch == nil {
				continue
			}
			out <- liveChange{op: ch.Op, seq: ch.Seq, row: values(ch.GetRow()), old: values(ch.GetOld()), at: time.Now()}
		}
	}()
	return snapshot, initial, out
}

// next waits up to d for n changes.
func next(t *testing.T, changes <-chan liveChange, n int, d time.Duration) []liveChange {
	t.Helper()
	var got []liveChange
	deadline := time.After(d)
	for len(got) < n {
		select {
		case c, ok := <-changes:
			if !ok {
				t.Fatalf("the stream ended after %d of %d changes", len(got), n)
			}
			got = append(got, c)
		case <-deadline:
			t.Fatalf("%d of %d changes within %v: %+v", len(got), n, d, got)
		}
	}
	return got
}

// bootstrapPID is the pid of the emulator's runtime process (its child
// bootstrap), 0 before the first invocation started it.
func (e *emulator) bootstrapPID() int {
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces: cut at the last ')'.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(e.cmd.Process.Pid) {
				return pid
			}
		}
	}
	return 0
}

// frozen sends a Connect request through a Function URL event as Lambda
// runs it: the execution environment (the bootstrap process) runs only
// during the invocation and is frozen (SIGSTOP) as soon as it answered,
// so nothing the function left running in the background gets to run
// until the next invocation. It returns when the answer arrived.
func (e *emulator) frozen(token, sql string) (int, []byte, time.Time) {
	e.t.Helper()
	if pid := e.bootstrapPID(); pid != 0 {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			e.t.Fatal(err)
		}
	}
	body, err := json.Marshal(map[string]string{"sql": sql})
	if err != nil {
		e.t.Fatal(err)
	}
	status, _, out := e.connect("/floe.v1.QueryService/ExecuteSQL", "application/json", token, body)
	acked := time.Now()
	pid := e.bootstrapPID()
	if pid == 0 {
		e.t.Fatalf("%s: no bootstrap process under the emulator", e.name)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		e.t.Fatal(err)
	}
	return status, out, acked
}

// A live node started beside the query functions (each under its own
// emulator, frozen between invocations as Lambda freezes them) delivers
// their writes to a subscriber over a real Connect stream: exactly the
// changes each INSERT, UPDATE and DELETE committed, in _seq order, with
// the latency from the function's answer to the notification logged;
// and with two function containers writing one partition at the same
// time, every change exactly once. Over both buses: BusService.Publish
// to the live node (FLOE_LIVE_NODES) and NATS (FLOE_LIVE_NATS_URL; an
// embedded server on loopback, reached over TCP by every process).
func TestLiveNodeUnderRIE(t *testing.T) {
	needs(t)
	for _, kind := range []string{config.BusConnect, config.BusNATS} {
		t.Run(kind, func(t *testing.T) { testLiveNode(t, kind) })
	}
}

func testLiveNode(t *testing.T, kind string) {
	s3 := objstoretest.NewS3ConfigForTest(t)
	setup := startRIE(t, "query", fnEnv(t, s3, "floe-query")) // creates the warehouse, publishes nothing
	root := setup.login("root", rootPassword)
	setup.sql(root, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'alice-password';
		CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`)
	alice := setup.login("alice", "alice-password")
	setup.sql(alice, "INSERT INTO app.notes VALUES (100, 'before the live node')")

	var busEnv []string
	if kind == config.BusNATS {
		busEnv = []string{"FLOE_LIVE_BUS=nats", "FLOE_LIVE_NATS_URL=" + bustest.RunNATS(t)}
	}
	live := startLive(t, s3, busEnv...)
	if kind == config.BusConnect {
		busEnv = []string{"FLOE_LIVE_NODES=" + live.url}
	}
	fns := []*emulator{startRIE(t, "query", append(fnEnv(t, s3, "floe-query"), busEnv...)),
		startRIE(t, "query", append(fnEnv(t, s3, "floe-query"), busEnv...))}
	for _, f := range fns {
		if status, out, _ := f.frozen(alice, "SELECT count(*) FROM app.notes"); status != 200 { // cold start
			t.Fatalf("first SELECT: %d %s", status, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	snap, initial, changes := subscribe(t, ctx, live.url, alice, "SUBSCRIBE TO app.notes")
	if !slices.Equal(initial, []string{"100|before the live node"}) {
		t.Fatalf("initial rows %q", initial)
	}

	// One writer, one statement at a time: each statement's changes
	// arrive, and nothing else. The ops show they came over the bus: a
	// change the live node read from S3 (a gap fill) would be an upsert.
	f := fns[0]
	var lat []time.Duration
	seq := snap
	for _, step := range []struct {
		sql  string
		want []string // op row old
	}{
		{"INSERT INTO app.notes VALUES (1, 'buy milk'), (2, 'call mom')", []string{"insert 1|buy milk ", "insert 2|call mom "}},
		{"UPDATE app.notes SET body = 'buy oat milk' WHERE id = 1", []string{"update 1|buy oat milk 1|buy milk"}},
		{"DELETE FROM app.notes WHERE id = 2", []string{"delete  2|call mom"}},
		{"INSERT INTO app.notes VALUES (3, 'water plants')", []string{"insert 3|water plants "}},
	} {
		sent := time.Now()
		status, out, acked := f.frozen(alice, step.sql)
		if status != 200 {
			t.Fatalf("%s: %d %s", step.sql, status, out)
		}
		got := next(t, changes, len(step.want), 10*time.Second)
		var ops []string
		for _, c := range got {
			seq++
			if c.seq != seq {
				t.Fatalf("%s: change %+v has _seq %d, want %d", step.sql, c, c.seq, seq)
			}
			ops = append(ops, c.op+" "+c.row+" "+c.old)
		}
		if !slices.Equal(ops, step.want) {
			t.Fatalf("%s: changes %q, want %q", step.sql, ops, step.want)
		}
		last := got[len(got)-1].at
		lat = append(lat, last.Sub(acked))
		t.Logf("%s: %s -> %d; on the live node's stream: %q (_seq %d..%d); request -> notification %v, function answer -> notification %v",
			kind, step.sql, status, ops, got[0].seq, seq, last.Sub(sent).Round(time.Microsecond), last.Sub(acked).Round(time.Microsecond))
	}
	select {
	case c := <-changes:
		t.Fatalf("unexpected change %+v", c)
	case <-time.After(300 * time.Millisecond):
	}

	// Two function containers insert into alice's partition at the same
	// time: the subscriber gets every row exactly once, in _seq order.
	const perWriter = 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]time.Time{}
		errs  = make(chan error, len(fns))
	)
	start := time.Now()
	for w, e := range fns {
		wg.Go(func() {
			for i := range perWriter {
				id := 1000*(w+1) + i
				status, out, at := e.frozen(alice, fmt.Sprintf("INSERT INTO app.notes VALUES (%d, 'writer %d')", id, w))
				if status != 200 {
					errs <- fmt.Errorf("writer %d insert %d: %d %s", w, id, status, out)
					return
				}
				mu.Lock()
				acked[strconv.Itoa(id)] = at
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := next(t, changes, len(acked), 30*time.Second)
	select {
	case c := <-changes:
		t.Fatalf("unexpected change %+v after all %d", c, len(acked))
	case <-time.After(500 * time.Millisecond):
	}
	ops := map[string]int{}
	seen := map[string]bool{}
	for _, c := range got {
		seq++
		if c.seq != seq {
			t.Fatalf("concurrent writers: change %+v has _seq %d, want %d: every _seq once, in order", c, c.seq, seq)
		}
		id, _, _ := strings.Cut(c.row, "|")
		if _, ok := acked[id]; !ok || seen[id] || c.op == "delete" {
			t.Fatalf("concurrent writers: change %+v: not an acknowledged row, or seen before", c)
		}
		seen[id] = true
		ops[c.op]++
		lat = append(lat, c.at.Sub(acked[id]))
	}
	t.Logf("%s: %d INSERTs from 2 function containers into one partition in %v; the subscriber got each once, in _seq order (ops %v)",
		kind, len(acked), time.Since(start).Round(time.Millisecond), ops)
	slices.Sort(lat)
	t.Logf("%s: function answer -> notification on the live node's stream, %d changes: min %v, p50 %v, p90 %v, max %v "+
		"(negative: the notification was read before the answer; the function sends its changes to the live node before it answers)",
		kind, len(lat), lat[0].Round(time.Microsecond), lat[len(lat)/2].Round(time.Microsecond),
		lat[len(lat)*9/10].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
}
