package livequery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery"
	"github.com/floedb/floe/livequery/filter"
	"github.com/floedb/floe/manifest"
)

var tbl = &manifest.Table{ID: "t1", Namespace: "app", Name: "msgs", Type: manifest.TableUser, SchemaVersion: 1,
	Columns: []manifest.Column{
		{Name: "id", Type: manifest.BigInt},
		{Name: "room", Type: manifest.Text, Nullable: true},
		{Name: "n", Type: manifest.Int, Nullable: true},
	}, PrimaryKey: []string{"id"}}

func spec(t testing.TB, user, where string) livequery.Spec {
	t.Helper()
	f, err := filter.Compile(where, tbl.Columns, nil)
	if err != nil {
		t.Fatal(err)
	}
	return livequery.Spec{User: user, Table: tbl, Partition: user, Columns: []int{0, 1, 2}, Filter: f, Query: where}
}

func r(id int64, room string, n int32) row.Row {
	return row.Row{row.BigInt(id), row.Text(room), row.Int(n)}
}

func batch(part string, first uint64, rows ...tablestore.ChangeRow) tablestore.ChangeBatch {
	for i := range rows {
		rows[i].Seq = first + uint64(i)
	}
	return tablestore.ChangeBatch{Table: tbl, Partition: part, FirstSeq: first, LastSeq: first + uint64(len(rows)) - 1, Rows: rows}
}

func drain(t *testing.T, s *livequery.Subscription) []string {
	t.Helper()
	var out []string
	for {
		ev, ok, err := s.TryNext()
		if err != nil || !ok {
			return out
		}
		out = append(out, fmt.Sprintf("%s@%d %v %v", ev.Kind, ev.Seq, ev.Row, ev.Old))
	}
}

// TestUpdateMovesRowsInAndOut: an update that makes a row stop matching is
// a delete for the subscriber, one that makes it match an insert; a
// matching row's update carries new and old values; other partitions'
// changes never arrive.
func TestUpdateMovesRowsInAndOut(t *testing.T) {
	m := livequery.New("n1", livequery.DefaultLimits, nil)
	c := m.Connect("alice")
	s, err := m.Subscribe(c, spec(t, "alice", "room = 'a'"))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(0, nil)
	m.OnTableChange(batch("alice", 1,
		tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(1, "a", 1)},
		tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(2, "b", 1)},
		tablestore.ChangeRow{Op: tablestore.OpUpdate, Values: r(1, "a", 2), Old: r(1, "a", 1)},
		tablestore.ChangeRow{Op: tablestore.OpUpdate, Values: r(1, "b", 2), Old: r(1, "a", 2)},
		tablestore.ChangeRow{Op: tablestore.OpUpdate, Values: r(2, "a", 1), Old: r(2, "b", 1)},
		tablestore.ChangeRow{Op: tablestore.OpDelete, Values: row.Row{row.BigInt(2), {}, {}}, Old: r(2, "a", 1)},
		tablestore.ChangeRow{Op: tablestore.OpDelete, Values: row.Row{row.BigInt(1), {}, {}}, Old: r(1, "b", 2)},
	))
	m.OnTableChange(batch("bob", 1, tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(9, "a", 1)}))
	got := drain(t, s)
	want := []string{
		`insert@1 [1 "a" 1] []`,
		`update@3 [1 "a" 2] [1 "a" 1]`,
		`delete@4 [] [1 "a" 2]`,
		`insert@5 [2 "a" 1] []`,
		`delete@6 [] [2 "a" 1]`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
}

// TestStartDropsWhatTheSnapshotHolds: changes queued during the initial
// load are delivered once: those at or below the snapshot _seq are
// dropped, later ones kept in order; a replayed change is not repeated by
// its live copy.
func TestStartDropsWhatTheSnapshotHolds(t *testing.T) {
	m := livequery.New("n1", livequery.DefaultLimits, nil)
	c := m.Connect("alice")
	s, err := m.Subscribe(c, spec(t, "alice", ""))
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 6; i++ {
		m.OnTableChange(batch("alice", uint64(i), tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(i, "a", 0)}))
	}
	if ev, ok, _ := s.TryNext(); ok {
		t.Fatalf("event %v before Start", ev)
	}
	s.Start(3, []livequery.Event{{Kind: livequery.Upsert, Seq: 4, Row: r(4, "a", 0)}})
	m.OnTableChange(batch("alice", 5, tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(5, "a", 0)})) // duplicate publish
	m.OnTableChange(batch("alice", 7, tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(7, "a", 0)}))
	var seqs []uint64
	for {
		ev, ok, err := s.TryNext()
		if err != nil || !ok {
			break
		}
		seqs = append(seqs, ev.Seq)
	}
	if fmt.Sprint(seqs) != "[4 5 6 7]" {
		t.Fatalf("delivered _seq %v, want [4 5 6 7]", seqs)
	}
}

// TestOverflowResync: a subscriber that does not read gets a resync with
// the last _seq it was given, once its queue overflows, and its
// subscription ends; another subscriber is unaffected; nothing is held.
func TestOverflowResync(t *testing.T) {
	m := livequery.New("n1", livequery.Limits{MaxPerUser: 10, MaxPerConnection: 10, QueueLength: 4}, nil)
	c := m.Connect("alice")
	slow, _ := m.Subscribe(c, spec(t, "alice", ""))
	fast, _ := m.Subscribe(c, spec(t, "alice", ""))
	slow.Start(0, nil)
	fast.Start(0, nil)
	ctx := context.Background()
	for i := int64(1); i <= 10; i++ {
		m.OnTableChange(batch("alice", uint64(i), tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(i, "a", 0)}))
		if i == 2 {
			ev, _ := slow.Next(ctx) // the slow one reads one event
			if ev.Seq != 1 {
				t.Fatalf("slow got %v", ev)
			}
		}
		ev, err := fast.Next(ctx)
		if err != nil || ev.Seq != uint64(i) {
			t.Fatalf("fast got %v, %v; want seq %d", ev, err, i)
		}
	}
	ev, err := slow.Next(ctx)
	if err != nil || ev.Kind != livequery.Resync || ev.Seq != 1 {
		t.Fatalf("slow: %v, %v; want resync at 1", ev, err)
	}
	if _, err := slow.Next(ctx); !errors.Is(err, livequery.ErrEnded) {
		t.Fatalf("after resync: %v", err)
	}
	m.Disconnect(c)
	if st := m.Stats(); st.Subscriptions != 0 || st.Connections != 0 || st.IndexedPartitions != 0 || st.Resyncs != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLimits: the per-connection and per-user limits refuse with
// RESOURCE_EXHAUSTED naming the setting; a freed slot can be reused.
func TestLimits(t *testing.T) {
	m := livequery.New("n1", livequery.Limits{MaxPerUser: 3, MaxPerConnection: 2, QueueLength: 4}, nil)
	c1, c2 := m.Connect("alice"), m.Connect("alice")
	a, _ := m.Subscribe(c1, spec(t, "alice", ""))
	m.Subscribe(c1, spec(t, "alice", ""))
	_, err := m.Subscribe(c1, spec(t, "alice", ""))
	if dberr.CodeOf(err) != dberr.ResourceExhausted || !contains(err, "max_subscriptions_per_connection") {
		t.Fatalf("third on a connection: %v", err)
	}
	m.Subscribe(c2, spec(t, "alice", ""))
	_, err = m.Subscribe(c2, spec(t, "alice", ""))
	if dberr.CodeOf(err) != dberr.ResourceExhausted || !contains(err, "max_subscriptions_per_user") {
		t.Fatalf("fourth of a user: %v", err)
	}
	if !m.Unsubscribe(c1, a.ID) {
		t.Fatal("unsubscribe failed")
	}
	if _, err := m.Subscribe(c2, spec(t, "alice", "")); err != nil {
		t.Fatalf("after unsubscribe: %v", err)
	}
	if _, err := m.Subscribe(c2, spec(t, "bob", "")); dberr.CodeOf(err) != dberr.PermissionDenied {
		t.Fatalf("another user's connection: %v", err)
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// TestFanoutIsIndexed: with 10,000 subscriptions on distinct equality
// values, a change is checked against the one that can match (plus the
// unindexed ones), not all.
func TestFanoutIsIndexed(t *testing.T) {
	m := livequery.New("n1", livequery.Limits{MaxPerUser: 20000, MaxPerConnection: 20000, QueueLength: 4}, nil)
	c := m.Connect("alice")
	subs := make([]*livequery.Subscription, 10000)
	for i := range subs {
		s, err := m.Subscribe(c, spec(t, "alice", fmt.Sprintf("room = 'r%d' AND n > 0", i)))
		if err != nil {
			t.Fatal(err)
		}
		s.Start(0, nil)
		subs[i] = s
	}
	scan, _ := m.Subscribe(c, spec(t, "alice", "n > 5"))
	scan.Start(0, nil)
	before := m.Stats().Checks
	m.OnTableChange(batch("alice", 1, tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(1, "r77", 1)}))
	m.OnTableChange(batch("alice", 2, tablestore.ChangeRow{Op: tablestore.OpUpdate, Values: r(1, "r78", 1), Old: r(1, "r77", 1)}))
	if got := m.Stats().Checks - before; got != 1+1+2+1 {
		t.Fatalf("checked %d pairs, want 5 (insert: r77 + scan; update: r77, r78 + scan)", got)
	}
	if got := drain(t, subs[77]); len(got) != 2 { // insert, then delete (moved out)
		t.Fatalf("sub 77 got %v", got)
	}
	if got := drain(t, subs[78]); len(got) != 1 {
		t.Fatalf("sub 78 got %v", got)
	}
	m.Disconnect(c)
	if st := m.Stats(); st.Subscriptions != 0 || st.IndexedPartitions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrentDisconnects (run with -race): connections subscribe,
// receive and disconnect concurrently with publishers and with each other
// (several goroutines disconnect the same connection); at the end the
// manager holds nothing and every subscription ended.
func TestConcurrentDisconnects(t *testing.T) {
	m := livequery.New("n1", livequery.Limits{MaxPerUser: 1000, MaxPerConnection: 10, QueueLength: 8}, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	for p := range 2 {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			seq := uint64(1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				part := fmt.Sprintf("u%d", int(seq)%4)
				m.OnTableChange(batch(part, seq, tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(int64(seq), fmt.Sprint("r", seq%3), int32(p))}))
				seq++
			}
		}()
	}
	var all sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				user := fmt.Sprintf("u%d", (g+k)%4)
				c := m.Connect(user)
				for j := range 3 {
					s, err := m.Subscribe(c, spec(t, user, fmt.Sprintf("room = 'r%d'", j)))
					if err != nil {
						t.Error(err)
						return
					}
					s.Start(0, nil)
					all.Store(s, true)
				}
				var dw sync.WaitGroup
				for range 3 {
					dw.Add(1)
					go func() { defer dw.Done(); m.Disconnect(c) }()
				}
				dw.Wait()
			}
		}()
	}
	wg.Wait()
	close(stop)
	pubs.Wait()
	if st := m.Stats(); st.Connections != 0 || st.Subscriptions != 0 || st.IndexedPartitions != 0 {
		t.Fatalf("leak: %+v", st)
	}
	n := 0
	all.Range(func(k, _ any) bool {
		n++
		if k.(*livequery.Subscription).Err() == nil {
			t.Errorf("subscription %s not ended", k.(*livequery.Subscription).ID)
		}
		return true
	})
	if n != 8*50*3 {
		t.Fatalf("%d subscriptions", n)
	}
}

// TestIndexRemovalKeepsOthers: many subscriptions share index values
// (room = 'a', room IN ('a', 'b', 'a')); removing them in a scattered
// order leaves exactly the others reachable by a change, and removing
// all leaves the index empty.
func TestIndexRemovalKeepsOthers(t *testing.T) {
	m := livequery.New("n1", livequery.Limits{MaxPerUser: 1000, MaxPerConnection: 1000, QueueLength: 100}, nil)
	c := m.Connect("alice")
	var subs []*livequery.Subscription
	for i := range 60 {
		where := "room = 'a'"
		if i%3 == 0 {
			where = "room IN ('a', 'b', 'a')"
		}
		s, err := m.Subscribe(c, spec(t, "alice", where))
		if err != nil {
			t.Fatal(err)
		}
		s.Start(0, nil)
		subs = append(subs, s)
	}
	removed := map[int]bool{}
	seq := uint64(0)
	for _, step := range []int{7, 11, 13} {
		for i := 0; i < len(subs); i += step {
			if !removed[i] {
				m.Unsubscribe(c, subs[i].ID)
				removed[i] = true
			}
		}
		for _, room := range []string{"a", "b"} {
			seq++
			m.OnTableChange(batch("alice", seq, tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(int64(seq), room, 1)}))
			for i, s := range subs {
				got := drain(t, s)
				want := !removed[i] && (room == "a" || i%3 == 0)
				if want != (len(got) == 1) || len(got) > 1 {
					t.Fatalf("step %d room %s: subscription %d (removed %v) got %v", step, room, i, removed[i], got)
				}
			}
		}
	}
	m.Disconnect(c)
	if st := m.Stats(); st.Subscriptions != 0 || st.IndexedPartitions != 0 {
		t.Fatalf("after disconnect: %+v", st)
	}
}
