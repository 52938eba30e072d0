package livequery_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery"
	"github.com/floedb/floe/manifest"
)

// committed is a partition's committed change log as the object store
// holds it: what a gap fill or a poll reads (as upserts, the way
// tablestore.Store.ReadChanges replays segments).
type committed struct {
	mu    sync.Mutex
	rows  map[string][]tablestore.ChangeRow // partition → rows by _seq
	fail  error                             // the next read fails with it
	reads int
}

func (c *committed) commit(part string, rows ...tablestore.ChangeRow) tablestore.ChangeBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = map[string][]tablestore.ChangeRow{}
	}
	first := uint64(len(c.rows[part])) + 1
	b := batch(part, first, rows...)
	c.rows[part] = append(c.rows[part], b.Rows...)
	return b
}

func (c *committed) ReadChanges(_ context.Context, _ *manifest.Table, part string, from, to uint64) iter.Seq2[tablestore.ChangeRow, error] {
	return func(yield func(tablestore.ChangeRow, error) bool) {
		c.mu.Lock()
		c.reads++
		if err := c.fail; err != nil {
			c.fail = nil
			c.mu.Unlock()
			yield(tablestore.ChangeRow{}, err)
			return
		}
		rows := append([]tablestore.ChangeRow(nil), c.rows[part]...)
		c.mu.Unlock()
		for _, r := range rows {
			if r.Seq >= from && (to == 0 || r.Seq <= to) {
				r.Op, r.Old = tablestore.OpUpsert, nil
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

// seqs returns the _seq of each event queued for s.
func seqs(t *testing.T, s *livequery.Subscription) []uint64 {
	t.Helper()
	var out []uint64
	for {
		ev, ok, err := s.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, ev.Seq)
	}
}

func started(t *testing.T, m *livequery.Manager, user string, snapshot uint64) *livequery.Subscription {
	t.Helper()
	s, err := m.Subscribe(m.Connect(user), spec(t, user, ""))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(snapshot, nil)
	return s
}

func ins(id int64) tablestore.ChangeRow {
	return tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(id, "a", 1)}
}

// A dropped batch is read from the object store when the next one
// arrives; a duplicate is dropped; an overlapping batch is trimmed.
func TestGateFillsGapsAndDropsDuplicates(t *testing.T) {
	m := livequery.New("n1", livequery.DefaultLimits, nil)
	log := &committed{}
	g := livequery.NewGate(m, log)
	s := started(t, m, "alice", 0)
	g.Wait() // the start's catch-up read finds nothing yet
	ctx := context.Background()

	b1 := log.commit("alice", ins(1))
	b2 := log.commit("alice", ins(2), ins(3)) // lost
	b3 := log.commit("alice", ins(4))
	g.Deliver(ctx, b1)
	g.Deliver(ctx, b3)
	if got := fmt.Sprint(seqs(t, s)); got != "[1 2 3 4]" {
		t.Fatalf("after a lost batch: %s, want the gap filled before 4", got)
	}
	g.Deliver(ctx, b2) // late duplicate
	g.Deliver(ctx, b3) // duplicate
	b45 := log.commit("alice", ins(5), ins(6))
	over := batch("alice", 4, ins(4), ins(5), ins(6)) // 4 was delivered
	g.Deliver(ctx, over)
	g.Deliver(ctx, b45)
	if got := fmt.Sprint(seqs(t, s)); got != "[5 6]" {
		t.Fatalf("after duplicates and an overlap: %s, want [5 6]", got)
	}
	st := g.Stats()
	if st.GapFills != 1 || st.GapRows != 2 || st.Duplicates != 3 || st.Received != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// A gap whose read fails drops the batch without moving on: the next batch
// (or the poll) fills it, so nothing is lost.
func TestGateRetriesAFailedGapFill(t *testing.T) {
	m := livequery.New("n1", livequery.DefaultLimits, nil)
	log := &committed{}
	g := livequery.NewGate(m, log)
	s := started(t, m, "alice", 0)
	g.Wait() // the start's catch-up read finds nothing yet
	ctx := context.Background()
	log.commit("alice", ins(1)) // lost
	b2 := log.commit("alice", ins(2))
	log.fail = errors.New("object store down")
	g.Deliver(ctx, b2)
	if got := seqs(t, s); len(got) != 0 {
		t.Fatalf("delivered %v past an unfilled gap", got)
	}
	b3 := log.commit("alice", ins(3))
	g.Deliver(ctx, b3)
	if got := fmt.Sprint(seqs(t, s)); got != "[1 2 3]" {
		t.Fatalf("after the retry: %s", got)
	}
	// The poll finds a lost last batch.
	log.commit("alice", ins(4))
	g.PollOnce(ctx)
	if got := fmt.Sprint(seqs(t, s)); got != "[4]" {
		t.Fatalf("poll: %s", got)
	}
}

// While a partition's subscriptions are loading, batches are dropped; once
// one starts at its snapshot, the next batch fills everything above it.
func TestGateStartsAtTheSnapshot(t *testing.T) {
	m := livequery.New("n1", livequery.DefaultLimits, nil)
	log := &committed{}
	g := livequery.NewGate(m, log)
	ctx := context.Background()
	g.Deliver(ctx, log.commit("alice", ins(1))) // nobody subscribes
	s, err := m.Subscribe(m.Connect("alice"), spec(t, "alice", ""))
	if err != nil {
		t.Fatal(err)
	}
	b2 := log.commit("alice", ins(2))
	g.Deliver(ctx, b2) // loading: the snapshot will hold 2
	log.commit("alice", ins(3))
	s.Start(2, nil) // the initial load read _seq 1..2
	g.Deliver(ctx, log.commit("alice", ins(4)))
	if got := fmt.Sprint(seqs(t, s)); got != "[3 4]" {
		t.Fatalf("after the start: %s, want [3 4]", got)
	}
	if st := g.Stats(); st.Unserved != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Under random loss, duplication and reordering, from concurrent
// deliverers, over several partitions and subscribers: every subscriber
// receives each _seq of its partition exactly once, in order.
func TestGateExactlyOnceInOrderUnderChaos(t *testing.T) {
	const parts, perPart = 4, 300
	m := livequery.New("n1", livequery.Limits{QueueLength: 1 << 20}, nil)
	log := &committed{}
	g := livequery.NewGate(m, log)
	ctx := context.Background()
	subs := map[string][]*livequery.Subscription{}
	var all []tablestore.ChangeBatch
	rng := rand.New(rand.NewPCG(7, 11))
	for p := range parts {
		user := fmt.Sprintf("u%d", p)
		for range 3 {
			subs[user] = append(subs[user], started(t, m, user, 0))
		}
		g.Wait() // the starts' catch-up reads find nothing yet
		for i := 0; i < perPart; {
			n := 1 + rng.IntN(3)
			rows := make([]tablestore.ChangeRow, n)
			for j := range rows {
				rows[j] = ins(int64(i + j))
			}
			i += n
			all = append(all, log.commit(user, rows...))
		}
	}
	// Lose 30%, duplicate 20%, and shuffle locally (a batch may overtake
	// up to 8 others).
	var wire []tablestore.ChangeBatch
	for _, b := range all {
		switch x := rng.Float64(); {
		case x < 0.3:
		case x < 0.5:
			wire = append(wire, b, b)
		default:
			wire = append(wire, b)
		}
	}
	for i := range wire {
		j := min(len(wire)-1, i+rng.IntN(9))
		wire[i], wire[j] = wire[j], wire[i]
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(wire); i += 4 {
				g.Deliver(ctx, wire[i])
			}
		}()
	}
	wg.Wait()
	g.PollOnce(ctx) // the backstop finds lost batches at the end
	for user, ss := range subs {
		total := len(log.rows[user])
		for _, s := range ss {
			got := seqs(t, s)
			if len(got) != total {
				t.Fatalf("%s: %d events, want %d", user, len(got), total)
			}
			for i, q := range got {
				if q != uint64(i+1) {
					t.Fatalf("%s: event %d has _seq %d, want %d (exactly once, in order)", user, i, q, i+1)
				}
			}
		}
	}
	if st := g.Stats(); st.GapFills == 0 || st.Duplicates == 0 {
		t.Fatalf("the chaos did not exercise gaps and duplicates: %+v", st)
	}
}

// A change committed while the partition's only subscription loaded
// (its publish dropped, since nobody had started) reaches the subscriber
// as soon as it starts, with no later batch and no poll.
func TestGateCatchesUpWhenASubscriptionStarts(t *testing.T) {
	m := livequery.New("n1", livequery.DefaultLimits, nil)
	log := &committed{}
	g := livequery.NewGate(m, log)
	ctx := context.Background()
	s, err := m.Subscribe(m.Connect("alice"), spec(t, "alice", ""))
	if err != nil {
		t.Fatal(err)
	}
	log.commit("alice", ins(1))
	g.Deliver(ctx, log.commit("alice", ins(2))) // dropped: loading
	s.Start(1, nil)                             // the snapshot held 1
	g.Wait()
	if got := fmt.Sprint(seqs(t, s)); got != "[2]" {
		t.Fatalf("after the start: %s, want [2]", got)
	}
	// A second subscription on the same partition reads nothing more.
	reads := log.reads
	started(t, m, "alice", 2)
	g.Wait()
	if log.reads != reads {
		t.Fatalf("a start on a partition the gate follows read the object store")
	}
}
