package server_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/manifest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server"
)

func login(t testing.TB, r *running, user, pass string) string {
	t.Helper()
	a := floev1connect.NewAuthServiceClient(http.DefaultClient, r.url)
	res, err := a.Login(context.Background(), connect.NewRequest(&floev1.LoginRequest{User: user, Password: pass}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.AccessToken
}

// liveStream is one Subscribe call.
type liveStream struct {
	s      *connect.ServerStreamForClient[floev1.SubscribeResponse]
	cancel context.CancelFunc
	ack    *floev1.LiveAck
	rows   []string
}

// subscribe opens a stream and reads the ack and (unless resuming) the
// initial rows. JSON over HTTP/1.1 when json is set, else binary.
func subscribe(t *testing.T, r *running, token, sql string, json bool) (*liveStream, error) {
	t.Helper()
	return subscribeWith(t, http.DefaultClient, r, token, sql, json)
}

// subscribeWith is subscribe over the HTTP client hc.
func subscribeWith(t *testing.T, hc *http.Client, r *running, token, sql string, json bool) (*liveStream, error) {
	t.Helper()
	var opts []connect.ClientOption
	if json {
		opts = append(opts, connect.WithProtoJSON())
	}
	c := floev1connect.NewLiveServiceClient(hc, r.url, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	req := connect.NewRequest(&floev1.SubscribeRequest{Sql: sql})
	req.Header().Set("Authorization", "Bearer "+token)
	s, err := c.Subscribe(ctx, req)
	if err != nil {
		cancel()
		return nil, err
	}
	ls := &liveStream{s: s, cancel: cancel}
	if !s.Receive() {
		cancel()
		return nil, s.Err()
	}
	ls.ack = s.Msg().GetAck()
	if ls.ack == nil {
		t.Fatalf("first message %v, want an ack", s.Msg())
	}
	return ls, nil
}

func (ls *liveStream) initial(t *testing.T) {
	t.Helper()
	for ls.s.Receive() {
		rows := ls.s.Msg().GetRows()
		if rows == nil {
			t.Fatalf("initial load: got %v", ls.s.Msg())
		}
		for _, r := range rows.Rows {
			ls.rows = append(ls.rows, listText(r.Values))
		}
		if rows.Last {
			return
		}
	}
	t.Fatalf("initial load: %v", ls.s.Err())
}

// next returns the next change (skipping heartbeats).
func (ls *liveStream) next(t *testing.T) (*floev1.LiveChange, *floev1.LiveResync) {
	t.Helper()
	for ls.s.Receive() {
		m := ls.s.Msg()
		if c := m.GetChange(); c != nil {
			return c, nil
		}
		if rs := m.GetResync(); rs != nil {
			return nil, rs
		}
	}
	t.Fatalf("stream ended: %v", ls.s.Err())
	return nil, nil
}

func listText(vs []*structpb.Value) string {
	var out []string
	for _, v := range vs {
		switch k := v.GetKind().(type) {
		case *structpb.Value_NullValue:
			out = append(out, "NULL")
		case *structpb.Value_StringValue:
			out = append(out, k.StringValue)
		case *structpb.Value_NumberValue:
			out = append(out, strconv.FormatFloat(k.NumberValue, 'g', -1, 64))
		case *structpb.Value_BoolValue:
			out = append(out, strconv.FormatBool(k.BoolValue))
		}
	}
	return strings.Join(out, ",")
}

func changeText(c *floev1.LiveChange) string {
	return fmt.Sprintf("%s %s/%s", c.Op, listText(c.GetRow().GetValues()), listText(c.GetOld().GetValues()))
}

// TestLiveSubscribe: over real Connect (binary over h2-less HTTP/1.1 and
// JSON), a subscriber gets the ack, the matching initial rows, then each
// change as insert/update/delete in _seq order, including rows moving in
// and out of its filter; another user's rows never reach it; KILL LIVE
// QUERY ends it with the reason; a dropped table ends a stream.
func TestLiveSubscribe(t *testing.T) {
	r := start(t, func(c *config.Config) { c.Live.Heartbeat.Duration = 100 * time.Millisecond })
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE NAMESPACE app; CREATE USER alice WITH PASSWORD 'alice-pass-1'; CREATE USER bob WITH PASSWORD 'bob-pass-123'")
	r.sql(t, root, "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, room TEXT, n INT)")
	alice, bob := login(t, r, "alice", "alice-pass-1"), login(t, r, "bob", "bob-pass-123")
	r.sql(t, alice, "INSERT INTO app.notes VALUES (1, 'a', 1), (2, 'b', 1), (3, 'a', 2)")
	r.sql(t, bob, "INSERT INTO app.notes VALUES (1, 'a', 100)")
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", json), func(t *testing.T) {
			ls, err := subscribe(t, r, alice, "SUBSCRIBE TO SELECT id, n FROM app.notes WHERE room = 'a' OPTIONS (batch_size = 1)", json)
			if err != nil {
				t.Fatal(err)
			}
			defer ls.cancel()
			ls.initial(t)
			if fmt.Sprint(ls.rows) != "[1,1 3,2]" || len(ls.ack.Columns) != 2 || ls.ack.SnapshotSeq == 0 {
				t.Fatalf("ack %v rows %v", ls.ack, ls.rows)
			}
			r.sql(t, bob, "INSERT INTO app.notes VALUES (5, 'a', 100)")
			r.sql(t, alice, "INSERT INTO app.notes VALUES (4, 'a', 7)")
			r.sql(t, alice, "UPDATE app.notes SET n = 8 WHERE id = 4")
			r.sql(t, alice, "UPDATE app.notes SET room = 'z' WHERE id = 1")
			r.sql(t, alice, "UPDATE app.notes SET room = 'a' WHERE id = 2")
			r.sql(t, alice, "DELETE FROM app.notes WHERE id = 3")
			want := []string{"insert 4,7/", "update 4,8/4,7", "delete /1,1", "insert 2,1/", "delete /3,2"}
			last := ls.ack.SnapshotSeq
			for _, w := range want {
				c, rs := ls.next(t)
				if rs != nil || changeText(c) != w || c.Seq <= last {
					t.Fatalf("got %v %v (after _seq %d), want %s", c, rs, last, w)
				}
				last = c.Seq
			}
			// Put the rows back for the next round.
			r.sql(t, bob, "DELETE FROM app.notes WHERE id = 5")
			r.sql(t, alice, "DELETE FROM app.notes WHERE id IN (2, 4); UPDATE app.notes SET room = 'a' WHERE id = 1; INSERT INTO app.notes VALUES (2, 'b', 1), (3, 'a', 2)")
		})
	}

	ls, err := subscribe(t, r, alice, "SUBSCRIBE TO app.notes", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.cancel()
	ls.initial(t)
	q := floev1connect.NewQueryServiceClient(http.DefaultClient, r.url)
	res, err := q.ExecuteSQL(context.Background(), authed(root, "SELECT live_id, user_id, namespace, table_name, node_id, last_seq > 0 FROM system.live_queries"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := res.Msg.Results[0].Rows; len(rows) != 1 || listText(rows[0].Values)[:len(ls.ack.SubscriptionId)] != ls.ack.SubscriptionId ||
		!strings.Contains(listText(rows[0].Values), ",app,notes,"+ls.ack.NodeId+",true") {
		t.Fatalf("system.live_queries: %v", rows)
	}
	if _, err := q.ExecuteSQL(context.Background(), authed(bob, "KILL LIVE QUERY '"+ls.ack.SubscriptionId+"'")); err == nil {
		t.Fatal("bob killed alice's live query")
	}
	if _, text := get(t, r.metricsURL+server.MetricsPath); metric(text, "floe_live_subscriptions") != 1 || metric(text, "floe_live_events_total") < 10 {
		t.Fatalf("live metrics: subscriptions %v events %v", metric(text, "floe_live_subscriptions"), metric(text, "floe_live_events_total"))
	}
	r.sql(t, alice, "KILL LIVE QUERY '"+ls.ack.SubscriptionId+"'")
	for ls.s.Receive() {
	}
	if err := ls.s.Err(); err == nil || !strings.Contains(err.Error(), "KILL LIVE QUERY") {
		t.Fatalf("killed stream ended with %v", err)
	}

	if _, err := subscribe(t, r, alice, "SUBSCRIBE TO app.notes WHERE lower(room) = 'a'", false); err == nil || !strings.Contains(err.Error(), "LOWER()") {
		t.Fatalf("unsupported filter: %v", err)
	}
	ls, err = subscribe(t, r, alice, "SUBSCRIBE TO app.notes", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.cancel()
	ls.initial(t)
	r.sql(t, root, "DROP TABLE app.notes")
	for ls.s.Receive() {
	}
	if err := ls.s.Err(); connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("stream of a dropped table ended with %v", err)
	}
	waitFor(t, func() bool { st := r.srv.Live.Stats(); return st.Connections == 0 && st.Subscriptions == 0 })
}

func authed(token, sql string) *connect.Request[floev1.ExecuteSQLRequest] {
	req := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: sql})
	req.Header().Set("Authorization", "Bearer "+token)
	return req
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// liveFilter is a subscriber's WHERE over (g, v) with the same predicate
// in Go, from which the test computes what the subscriber must receive.
type liveFilter struct {
	sql   string
	match func(g, v int) bool
}

// manyFilters returns subscriber i's filter: equalities (indexed),
// ranges, IN lists, OR and NOT, so that updates move rows in and out.
func manyFilters(i int) liveFilter {
	a, b, th := i%10, (i+3)%10, 20*(i%9)+5
	switch i % 5 {
	case 0:
		return liveFilter{fmt.Sprintf("g = %d", a), func(g, _ int) bool { return g == a }}
	case 1:
		return liveFilter{fmt.Sprintf("v < %d", th), func(_, v int) bool { return v < th }}
	case 2:
		return liveFilter{fmt.Sprintf("g IN (%d, %d)", a, b), func(g, _ int) bool { return g == a || g == b }}
	case 3:
		return liveFilter{fmt.Sprintf("g = %d OR v >= %d", a, 1000+th), func(g, v int) bool { return g == a || v >= 1000+th }}
	default:
		return liveFilter{fmt.Sprintf("NOT (g = %d) AND (v <= %d OR v > 1000)", a, th), func(g, v int) bool { return g != a && (v <= th || v > 1000) }}
	}
}

// TestLiveManySubscribers: 100 concurrent subscribers over real Connect
// (half binary, half JSON), each with its own filter, and four concurrent
// writers inserting, updating and deleting: each subscriber receives
// exactly the changes its filter selects — computed here from the writes
// with the filter's Go twin, an update that moves a row out of the filter
// as a delete and one that moves it in as an insert — in _seq order, and
// nothing is held after they disconnect.
func TestLiveManySubscribers(t *testing.T) {
	r := start(t, nil)
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE SHARED TABLE public.ev (id BIGINT PRIMARY KEY, g INT, v INT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	const subs, groups, writers, perWriter = 100, 10, 4, 40
	streams := make([]*liveStream, subs)
	filters := make([]liveFilter, subs)
	for i := range streams {
		filters[i] = manyFilters(i)
		ls, err := subscribe(t, r, root, "SUBSCRIBE TO SELECT id, v FROM public.ev WHERE "+filters[i].sql, i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		defer ls.cancel()
		ls.initial(t)
		streams[i] = ls
	}
	if st := r.srv.Live.Stats(); st.Subscriptions != subs || st.Connections != subs {
		t.Fatalf("manager holds %+v, want %d subscriptions", st, subs)
	}
	// Each row: inserted with v = k, then v += 1000 for even ids, then
	// deleted for ids divisible by 3.
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perWriter {
				id := w*1000 + k
				r.sql(t, root, fmt.Sprintf("INSERT INTO public.ev VALUES (%d, %d, %d)", id, id%groups, k))
				if id%2 == 0 {
					r.sql(t, root, fmt.Sprintf("UPDATE public.ev SET v = v + 1000 WHERE id = %d", id))
				}
				if id%3 == 0 {
					r.sql(t, root, fmt.Sprintf("DELETE FROM public.ev WHERE id = %d", id))
				}
			}
		}()
	}
	// What each subscriber must receive, from the same plan of writes.
	want := make([]map[string]int, subs)
	for i, f := range filters {
		want[i] = map[string]int{}
		for w := range writers {
			for k := range perWriter {
				id := w*1000 + k
				g, v := id%groups, k
				if f.match(g, v) {
					want[i][fmt.Sprintf("insert %d,%d/", id, v)]++
				}
				if id%2 == 0 {
					was, is := f.match(g, v), f.match(g, v+1000)
					switch {
					case was && is:
						want[i][fmt.Sprintf("update %d,%d/%d,%d", id, v+1000, id, v)]++
					case was:
						want[i][fmt.Sprintf("delete /%d,%d", id, v)]++
					case is:
						want[i][fmt.Sprintf("insert %d,%d/", id, v+1000)]++
					}
					v += 1000
				}
				if id%3 == 0 && f.match(g, v) {
					want[i][fmt.Sprintf("delete /%d,%d", id, v)]++
				}
			}
		}
	}
	wg.Wait()
	// Sentinels after every write: rows (90000+g, g, 1), one of which
	// every filter matches. A subscriber reads up to its first sentinel,
	// so an extra change would be seen as well as a missing one.
	var sentinels []string
	for g := range groups {
		sentinels = append(sentinels, fmt.Sprintf("(%d, %d, 1)", 90000+g, g))
	}
	r.sql(t, root, "INSERT INTO public.ev VALUES "+strings.Join(sentinels, ", "))
	var rg sync.WaitGroup
	for i, ls := range streams {
		rg.Add(1)
		go func() {
			defer rg.Done()
			got := map[string]int{}
			var last uint64
			for {
				c, rs := ls.next(t)
				if rs != nil {
					t.Errorf("subscriber %d: resync %v", i, rs)
					return
				}
				if c.Seq <= last {
					t.Errorf("subscriber %d: _seq %d after %d", i, c.Seq, last)
				}
				last = c.Seq
				if strings.HasPrefix(listText(c.GetRow().GetValues()), "900") {
					break
				}
				got[changeText(c)]++
			}
			if fmt.Sprint(got) != fmt.Sprint(want[i]) {
				t.Errorf("subscriber %d (%s): got %v\nwant %v", i, filters[i].sql, got, want[i])
			}
		}()
	}
	rg.Wait()
	for _, ls := range streams {
		ls.cancel()
	}
	waitFor(t, func() bool {
		st := r.srv.Live.Stats()
		return st.Connections == 0 && st.Subscriptions == 0 && st.IndexedPartitions == 0
	})
}

// TestLiveResume: three subscribers are cut off again and again under
// continuous inserts and resume with FROM_SEQ; FLUSH and COMPACT run in
// between, so resumes replay from the buffer and from segments. Over 10k
// inserted rows each sees every row exactly once, in _seq order.
func TestLiveResume(t *testing.T) {
	r := start(t, nil)
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE SHARED TABLE public.log (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	const total, perStmt = 10000, 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i += perStmt {
			var vals []string
			for k := i; k < i+perStmt; k++ {
				vals = append(vals, fmt.Sprintf("(%d, 'x')", k))
			}
			r.sql(t, root, "INSERT INTO public.log VALUES "+strings.Join(vals, ","))
			switch {
			case i%3000 == 2000:
				r.sql(t, root, "FLUSH TABLE public.log")
			case i%5000 == 4000:
				r.sql(t, root, "FLUSH TABLE public.log; COMPACT TABLE public.log")
			}
		}
	}()
	// Three subscribers, cut after different numbers of changes, so
	// that their resumes fall at different points of the writes; a fourth
	// (chunk 0) reads 500, then stays away until every row is written,
	// flushed and compacted, so its resume replays from the compacted
	// segments alone.
	compacted := make(chan struct{})
	var wg sync.WaitGroup
	for sub, chunk := range []int{700, 1100, 1900, 0} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]int, total)
			var last uint64
			n, resumes := 0, 0
			first := true
			for n < total {
				sql := "SUBSCRIBE TO public.log"
				if !first {
					sql += fmt.Sprintf(" OPTIONS (FROM_SEQ = %d)", last)
				}
				ls, err := subscribe(t, r, root, sql, resumes%2 == 1)
				if err != nil {
					t.Error(err)
					return
				}
				if first {
					ls.initial(t)
					for _, row := range ls.rows {
						id, _ := strconv.Atoi(strings.Split(row, ",")[0])
						seen[id]++
						n++
					}
					last = ls.ack.SnapshotSeq
					first = false
				} else if ls.ack.SnapshotSeq != last {
					t.Errorf("subscriber %d: resume ack at %d, want %d", sub, ls.ack.SnapshotSeq, last)
					return
				}
				limit := chunk
				if chunk == 0 {
					limit = 500
					if resumes > 0 {
						limit = total
					}
				}
				for k := 0; k < limit && n < total; k++ {
					c, rs := ls.next(t)
					if rs != nil {
						t.Errorf("subscriber %d: resync %v", sub, rs)
						return
					}
					if c.Seq <= last {
						t.Errorf("subscriber %d: _seq %d after %d", sub, c.Seq, last)
						return
					}
					if c.Op != "insert" && c.Op != "upsert" {
						t.Errorf("subscriber %d: unexpected %s", sub, changeText(c))
						return
					}
					last = c.Seq
					id, _ := strconv.Atoi(strings.Split(listText(c.Row.Values), ",")[0])
					seen[id]++
					n++
				}
				ls.cancel()
				resumes++
				if chunk == 0 {
					<-compacted
				}
			}
			for id, c := range seen {
				if c != 1 {
					t.Errorf("subscriber %d: row %d seen %d times (%d resumes)", sub, id, c, resumes)
					return
				}
			}
			t.Logf("subscriber %d: %d rows over %d resumes", sub, total, resumes)
		}()
	}
	<-done
	r.sql(t, root, "FLUSH TABLE public.log; COMPACT TABLE public.log")
	close(compacted)
	wg.Wait()
}

// TestLiveNodeStreamsOtherProcessWrites: a live-role server (its own data
// dir and AppContext) on the warehouse of a node-role server streams the
// node's writes: initial rows from the object store, then changes
// committed (flushed) by the node, found by the live node's poll.
func TestLiveNodeStreamsOtherProcessWrites(t *testing.T) {
	writer := start(t, nil)
	root := login(t, writer, "root", rootPassword)
	writer.sql(t, root, "CREATE SHARED TABLE public.feed (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	writer.sql(t, root, "INSERT INTO public.feed VALUES (1, 'a'), (2, 'b')")
	writer.sql(t, root, "FLUSH ALL")
	wcfg := writer.srv.App.Config()
	objects := wcfg.FSDir()
	live := start(t, func(c *config.Config) {
		c.Role = config.RoleLive
		c.NodeID = "live-1"
		c.Storage.FS.Dir = objects
		c.Live.PollInterval.Duration = 50 * time.Millisecond
	})
	lroot := login(t, live, "root", rootPassword)
	ls, err := subscribe(t, live, lroot, "SUBSCRIBE TO public.feed WHERE v <> 'x'", true)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.cancel()
	ls.initial(t)
	if fmt.Sprint(ls.rows) != "[1,a 2,b]" || ls.ack.NodeId != "live-1" {
		t.Fatalf("initial rows %v from %s", ls.rows, ls.ack.NodeId)
	}
	writer.sql(t, root, "INSERT INTO public.feed VALUES (3, 'c'), (4, 'x')")
	writer.sql(t, root, "DELETE FROM public.feed WHERE id = 1")
	writer.sql(t, root, "FLUSH TABLE public.feed")
	var got []string
	last := ls.ack.SnapshotSeq
	for len(got) < 3 {
		c, rs := ls.next(t)
		if rs != nil || c.Seq <= last {
			t.Fatalf("got %v %v after _seq %d", c, rs, last)
		}
		last = c.Seq
		got = append(got, changeText(c))
	}
	// Replayed from segments: upserts and deletes (the non-matching row
	// 4 arrives as a delete of its key, a no-op for the subscriber).
	if fmt.Sprint(got) != "[upsert 3,c/ delete /4,NULL delete /1,NULL]" {
		t.Fatalf("changes %q", got)
	}
}

// TestLiveOverflowResync: over real Connect streams, a subscriber that
// stops reading while rows keep coming gets, once its queue is full, the
// changes it was sent, then a resync carrying the _seq of the last one —
// and resuming from there it receives the rest, so nothing is lost. Its
// queue never holds more than live.queue_length events (memory bounded),
// and a subscriber that reads is unaffected: it receives every change,
// with no resync.
func TestLiveOverflowResync(t *testing.T) {
	const queue = 64
	r := start(t, func(c *config.Config) { c.Live.QueueLength = queue })
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE SHARED TABLE public.big (id BIGINT PRIMARY KEY, body TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	fast, err := subscribe(t, r, root, "SUBSCRIBE TO SELECT id FROM public.big", false)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.cancel()
	fast.initial(t)
	// The stalled client's socket has a small receive buffer, so that the
	// server's writes block after little data, as a slow network's would.
	small := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}).DialContext}}
	slow, err := subscribeWith(t, small, r, root, "SUBSCRIBE TO public.big", false)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.cancel()
	slow.initial(t)

	// The fast subscriber reads until the sentinel id -1.
	fastIDs := make(chan map[int]int, 1)
	go func() {
		seen := map[int]int{}
		for {
			c, rs := fast.next(t)
			if rs != nil {
				t.Errorf("the reading subscriber got %v", rs)
				break
			}
			id, _ := strconv.Atoi(listText(c.Row.Values))
			if id < 0 {
				break
			}
			seen[id]++
		}
		fastIDs <- seen
	}()

	// Random text: Connect compresses messages, and a repeated letter
	// would shrink to nothing in the socket buffers.
	rnd := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 12<<10)
	const perStmt = 4
	next, maxDepth, after := 0, 0, 0
	for after < 10 {
		if next > 2000*perStmt {
			t.Fatalf("no resync after %d rows; stats %+v", next, r.srv.Live.Stats())
		}
		var vals []string
		for range perStmt {
			for i := 0; i < len(raw); i += 8 {
				binary.LittleEndian.PutUint64(raw[i:], rnd.Uint64())
			}
			vals = append(vals, fmt.Sprintf("(%d, '%s')", next, base64.StdEncoding.EncodeToString(raw)))
			next++
		}
		r.sql(t, root, "INSERT INTO public.big VALUES "+strings.Join(vals, ","))
		for _, l := range r.srv.Live.List(func(string) bool { return true }) {
			maxDepth = max(maxDepth, l.QueueDepth)
		}
		if r.srv.Live.Stats().Resyncs > 0 {
			after++ // keep writing: the reading subscriber goes on
		}
	}
	total := next
	r.sql(t, root, "INSERT INTO public.big VALUES (-1, 'end')")
	if maxDepth > queue {
		t.Fatalf("a queue held %d events, the limit is %d", maxDepth, queue)
	}

	// The slow subscriber: what it was sent, then the resync.
	seen := map[int]int{}
	var last uint64
	var rs *floev1.LiveResync
	for rs == nil {
		var c *floev1.LiveChange
		c, rs = slow.next(t)
		if c != nil {
			if c.Seq <= last {
				t.Fatalf("_seq %d after %d", c.Seq, last)
			}
			last = c.Seq
			id, _ := strconv.Atoi(strings.Split(listText(c.Row.Values), ",")[0])
			seen[id]++
		}
	}
	if rs.FromSeq != last || !strings.Contains(rs.Reason, "fell behind") {
		t.Fatalf("resync %v after _seq %d", rs, last)
	}
	if slow.s.Receive() {
		t.Fatalf("a message after the resync: %v", slow.s.Msg())
	}
	before := len(seen)
	resumed, err := subscribe(t, r, root, fmt.Sprintf("SUBSCRIBE TO public.big OPTIONS (FROM_SEQ = %d)", rs.FromSeq), true)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.cancel()
	for {
		c, rs := resumed.next(t)
		if rs != nil {
			t.Fatalf("resumed stream: %v", rs)
		}
		if c.Seq <= last {
			t.Fatalf("_seq %d after %d", c.Seq, last)
		}
		last = c.Seq
		id, _ := strconv.Atoi(strings.Split(listText(c.Row.Values), ",")[0])
		if id < 0 {
			break
		}
		seen[id]++
	}
	fseen := <-fastIDs
	for id := range total {
		if seen[id] != 1 || fseen[id] != 1 {
			t.Fatalf("row %d: slow subscriber saw it %d times, fast %d", id, seen[id], fseen[id])
		}
	}
	if st := r.srv.Live.Stats(); st.Resyncs != 1 {
		t.Fatalf("stats %+v: want exactly one resync", st)
	}
	t.Logf("%d rows of 16 KiB of text; the stalled subscriber got %d before its resync, the rest on resuming; max queue depth %d", total, before, maxDepth)
}

// endsWith reads ls to its end and checks the error's code and text.
func endsWith(t *testing.T, ls *liveStream, code connect.Code, text string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for ls.s.Receive() {
		}
		done <- ls.s.Err()
	}()
	select {
	case err := <-done:
		if connect.CodeOf(err) != code || !strings.Contains(err.Error(), text) {
			t.Fatalf("stream ended with %v, want %v containing %q", err, code, text)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("stream still open, want it ended with %q", text)
	}
}

// TestLiveViews: a view that reduces to one table with a supported filter
// is subscribable, also through another view: the subscriber gets the
// rows and changes the view shows (its filter and the statement's both
// apply; a row leaving the view is a delete), and the statement's WHERE
// may not name a column the view hides. A view that does not reduce
// (GROUP BY) is refused naming why. Rights are those of SELECT on the
// view: when the table's access level is raised above the subscriber's
// role, its stream ends with PERMISSION_DENIED — also while changes keep
// coming; replacing the view ends a subscription to it. The heartbeat is
// an hour: these ends come from the catalog change, at once.
func TestLiveViews(t *testing.T) {
	r := start(t, func(c *config.Config) { c.Live.Heartbeat.Duration = time.Hour })
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE NAMESPACE app; CREATE USER alice WITH PASSWORD 'alice-pass-1'")
	r.sql(t, root, "CREATE SHARED TABLE app.msgs (id BIGINT PRIMARY KEY, room TEXT, body TEXT, secret TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	r.sql(t, root, "INSERT INTO app.msgs VALUES (1, 'a', 'hi', 's1'), (2, 'b', 'yo', 's2'), (3, 'a', 'x', 's3')")
	r.sql(t, root, "CREATE VIEW app.room_a AS SELECT id, body FROM msgs WHERE room = 'a'")
	r.sql(t, root, "CREATE VIEW app.room_a_low AS SELECT id FROM app.room_a WHERE id < 100")
	r.sql(t, root, "CREATE VIEW app.counts AS SELECT room, count(*) AS n FROM app.msgs GROUP BY room")
	alice := login(t, r, "alice", "alice-pass-1")

	ls, err := subscribe(t, r, alice, "SUBSCRIBE TO app.room_a WHERE body <> 'x'", true)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.cancel()
	ls.initial(t)
	if fmt.Sprint(ls.rows) != "[1,hi]" || len(ls.ack.Columns) != 2 || ls.ack.Columns[1].Name != "body" {
		t.Fatalf("ack %v rows %v", ls.ack, ls.rows)
	}
	low, err := subscribe(t, r, alice, "SUBSCRIBE TO SELECT id FROM app.room_a_low", false)
	if err != nil {
		t.Fatal(err)
	}
	defer low.cancel()
	low.initial(t)
	if fmt.Sprint(low.rows) != "[1 3]" {
		t.Fatalf("nested view rows %v", low.rows)
	}
	r.sql(t, root, "INSERT INTO app.msgs VALUES (4, 'b', 'no', 's'), (5, 'a', 'yes', 's'), (200, 'a', 'big', 's')")
	r.sql(t, root, "UPDATE app.msgs SET room = 'b' WHERE id = 1")
	want := []string{"insert 5,yes/", "insert 200,big/", "delete /1,hi"}
	for _, w := range want {
		if c, rs := ls.next(t); rs != nil || changeText(c) != w {
			t.Fatalf("view: got %v %v, want %s", c, rs, w)
		}
	}
	for _, w := range []string{"insert 5/", "delete /1"} {
		if c, rs := low.next(t); rs != nil || changeText(c) != w {
			t.Fatalf("nested view: got %v %v, want %s", c, rs, w)
		}
	}

	for _, tc := range []struct{ sql, code, text string }{
		{"SUBSCRIBE TO app.room_a WHERE secret = 's1'", "COLUMN_NOT_FOUND", "secret"},
		{"SUBSCRIBE TO SELECT room FROM app.room_a", "COLUMN_NOT_FOUND", "view app.room_a"},
		{"SUBSCRIBE TO app.counts", "UNSUPPORTED", "view app.counts cannot be subscribed to"},
	} {
		_, err := subscribe(t, r, alice, tc.sql, false)
		if err == nil || !strings.Contains(err.Error(), tc.text) || floeCode(err) != tc.code {
			t.Fatalf("%s: %v (%s), want %s mentioning %q", tc.sql, err, floeCode(err), tc.code, tc.text)
		}
	}

	// Raising the table's access level above alice's role ends her
	// subscriptions, the busy one too; replacing the view ends root's.
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := 1000; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r.sql(t, root, fmt.Sprintf("INSERT INTO app.msgs VALUES (%d, 'a', 'busy', 's')", i))
		}
	}()
	defer func() { close(stop); <-wrote }()
	if c, _ := ls.next(t); c == nil || !strings.Contains(changeText(c), "busy") {
		t.Fatalf("busy stream: %v", c)
	}
	r.sql(t, root, "ALTER TABLE app.msgs SET ACCESS_LEVEL = 'DBA'")
	endsWith(t, ls, connect.CodePermissionDenied, "")
	endsWith(t, low, connect.CodePermissionDenied, "")
	rs, err := subscribe(t, r, root, "SUBSCRIBE TO app.room_a", false)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.cancel()
	rs.initial(t)
	r.sql(t, root, "CREATE OR REPLACE VIEW app.room_a AS SELECT id, body FROM msgs WHERE room = 'b'")
	endsWith(t, rs, connect.CodeCanceled, "view app.room_a (or a view it reads) was replaced")
	waitFor(t, func() bool { st := r.srv.Live.Stats(); return st.Subscriptions == 0 })
}

// floeCode returns the Floe code of a Connect error's ErrorDetail.
func floeCode(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if ed, ok := v.(*floev1.ErrorDetail); ok {
				return ed.GetCode()
			}
		}
	}
	return ""
}

// TestLiveResumeBelowReplayFloor: once compaction has dropped deletes
// after a subscriber's FROM_SEQ (the partition manifest's purged_through),
// a resume from there cannot be exact: the subscriber gets a resync
// without from_seq (reload), never a replay that silently misses deletes.
// A resume from at or above the floor replays as before.
func TestLiveResumeBelowReplayFloor(t *testing.T) {
	r := start(t, nil)
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE SHARED TABLE public.ev (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	r.sql(t, root, "INSERT INTO public.ev VALUES (1, 'a'), (2, 'b')")
	r.sql(t, root, "DELETE FROM public.ev WHERE id = 1")
	r.sql(t, root, "INSERT INTO public.ev VALUES (3, 'c')")
	r.sql(t, root, "FLUSH TABLE public.ev")

	// The state compaction leaves after dropping the delete of 1 (_seq 3)
	// once it is older than the tombstone retention.
	ctx := context.Background()
	snap, err := r.srv.App.Schemas().Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := snap.Table("public", "ev")
	if err != nil {
		t.Fatal(err)
	}
	plog := r.srv.Node.Store.PartitionLog(tbl.Def().ID, "")
	head, err := plog.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.LastSeq != 4 {
		t.Fatalf("last_seq %d, want 4", head.LastSeq)
	}
	if _, err := plog.Commit(ctx, func(m *manifest.Partition) (*manifest.Partition, error) {
		m.PurgedThrough = 3
		return m, nil
	}, manifest.CommitOptions{WriterEpoch: head.WriterEpoch}); err != nil {
		t.Fatal(err)
	}

	for _, from := range []int{0, 1, 2} {
		ls, err := subscribe(t, r, root, fmt.Sprintf("SUBSCRIBE TO public.ev OPTIONS (FROM_SEQ = %d)", from), from%2 == 1)
		if err != nil {
			t.Fatal(err)
		}
		c, rs := ls.next(t)
		if rs == nil || rs.GetFromSeq() != 0 || !strings.Contains(rs.GetReason(), "without FROM_SEQ") {
			t.Fatalf("FROM_SEQ %d: got change %v resync %v, want a resync to reload", from, c, rs)
		}
		if ls.s.Receive() {
			t.Fatalf("FROM_SEQ %d: the stream goes on after the resync: %v", from, ls.s.Msg())
		}
		ls.s.Close()
	}
	// From 3 on, every change is still there: the insert of 3 (_seq 4).
	ls, err := subscribe(t, r, root, "SUBSCRIBE TO public.ev OPTIONS (FROM_SEQ = 3)", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.s.Close()
	c, rs := ls.next(t)
	if rs != nil || c.GetSeq() != 4 || !strings.Contains(changeText(c), "3,c") {
		t.Fatalf("FROM_SEQ 3: got change %v resync %v, want the insert of 3 at _seq 4", c, rs)
	}
}

// TestLiveResumeBeyondHead: a FROM_SEQ the partition never reached (a
// change a take-over gave up, a position from elsewhere) gets a resync to
// reload, not a stream that drops every change up to it as already seen.
// The head is the buffer's when it is ahead of the manifest: a position
// of a change not yet flushed resumes as before.
func TestLiveResumeBeyondHead(t *testing.T) {
	r := start(t, nil)
	root := login(t, r, "root", rootPassword)
	r.sql(t, root, "CREATE SHARED TABLE public.ev (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	r.sql(t, root, "INSERT INTO public.ev VALUES (1, 'a')")
	r.sql(t, root, "INSERT INTO public.ev VALUES (2, 'b')")
	r.sql(t, root, "FLUSH TABLE public.ev")                 // manifest at _seq 2
	r.sql(t, root, "INSERT INTO public.ev VALUES (3, 'c')") // _seq 3, buffered only

	for _, from := range []uint64{4, 5, 1 << 40} {
		ls, err := subscribe(t, r, root, fmt.Sprintf("SUBSCRIBE TO public.ev OPTIONS (FROM_SEQ = %d)", from), false)
		if err != nil {
			t.Fatal(err)
		}
		// Without the resync the stream stays silent: end it after a
		// while so that the test fails instead of waiting for ever.
		watchdog := time.AfterFunc(10*time.Second, func() { ls.s.Close() })
		c, rs := ls.next(t)
		watchdog.Stop()
		if rs == nil || rs.GetFromSeq() != 0 || !strings.Contains(rs.GetReason(), "beyond the partition's last change (_seq 3)") {
			t.Fatalf("FROM_SEQ %d: got change %v resync %v, want a resync to reload", from, c, rs)
		}
		if ls.s.Receive() {
			t.Fatalf("FROM_SEQ %d: the stream goes on after the resync: %v", from, ls.s.Msg())
		}
		ls.s.Close()
	}
	// From 2 (flushed) the buffered insert of 3 is replayed; from 3 (the
	// buffer's head) nothing is, and the next change arrives.
	for _, from := range []uint64{2, 3} {
		ls, err := subscribe(t, r, root, fmt.Sprintf("SUBSCRIBE TO public.ev OPTIONS (FROM_SEQ = %d)", from), false)
		if err != nil {
			t.Fatal(err)
		}
		if from == 3 {
			r.sql(t, root, "INSERT INTO public.ev VALUES (4, 'd')")
		}
		c, rs := ls.next(t)
		want, seq := "3,c", uint64(3)
		if from == 3 {
			want, seq = "4,d", 4
		}
		if rs != nil || c.GetSeq() != seq || !strings.Contains(changeText(c), want) {
			t.Fatalf("FROM_SEQ %d: got change %v resync %v, want %s at _seq %d", from, c, rs, want, seq)
		}
		ls.s.Close()
	}
}
