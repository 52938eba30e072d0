package tablestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
)

// recordingSink keeps every published batch.
type recordingSink struct {
	mu      sync.Mutex
	batches []ChangeBatch
}

func (s *recordingSink) Publish(b ChangeBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, b)
}

func (s *recordingSink) all() []ChangeBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// The node path publishes each acknowledged write with its _seq range, the
// op of every row and the old values the writer passed down.
func TestStorePublishesChanges(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	sink := &recordingSink{}
	h.store = New(h.bucket, h.buf, Options{NodeID: "node-test", Changes: sink})
	tb := testTable()

	ins := upsert(1, "a", 1)
	ins.Insert = true
	if _, err := h.store.Write(ctx, tb, "alice", []Change{ins, upsert(2, "b", 2)}); err != nil {
		t.Fatal(err)
	}
	upd := upsert(1, "a2", 10)
	upd.Old = ins.Values
	gone := del(2)
	gone.Old = row.Row{row.BigInt(2), row.Text("b"), row.Int(2)}
	if _, err := h.store.Write(ctx, tb, "alice", []Change{upd, gone}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Write(ctx, tb, "alice", nil); err != nil {
		t.Fatal(err)
	}
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("published %d batches, want 2 (an empty write publishes nothing)", len(got))
	}
	want := []struct {
		first, last uint64
		ops         []ChangeOp
	}{{1, 2, []ChangeOp{OpInsert, OpUpsert}}, {3, 4, []ChangeOp{OpUpdate, OpDelete}}}
	for i, w := range want {
		b := got[i]
		if b.FirstSeq != w.first || b.LastSeq != w.last || b.Table.ID != tb.ID || b.Partition != "alice" || b.ManifestVersion != 0 {
			t.Fatalf("batch %d: %+v", i, b)
		}
		for j, r := range b.Rows {
			if r.Seq != w.first+uint64(j) || r.Op != w.ops[j] {
				t.Fatalf("batch %d row %d: seq %d op %s, want %d %s", i, j, r.Seq, r.Op, w.first+uint64(j), w.ops[j])
			}
		}
	}
	if old := got[1].Rows[0].Old; old == nil || old[1].Str() != "a" {
		t.Fatalf("update's old values: %v", old)
	}
	if old := got[1].Rows[1].Old; old == nil || old[1].Str() != "b" {
		t.Fatalf("delete's old values: %v", old)
	}
}

// Concurrent writers of one partition: every batch is published exactly
// once, in _seq order, with no gap, though Writes return in any order.
func TestStorePublishesInSeqOrder(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	sink := &recordingSink{}
	h.store = New(h.bucket, h.buf, Options{NodeID: "node-test", Changes: sink})
	tb := testTable()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := int64(w*each + i)
				if _, err := h.store.Write(ctx, tb, "p", []Change{upsert(id, "x", 1), upsert(id+100000, "y", 2)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := sink.all()
	if len(got) != writers*each {
		t.Fatalf("published %d batches, want %d", len(got), writers*each)
	}
	next := uint64(1)
	for _, b := range got {
		if b.FirstSeq != next || b.LastSeq != next+1 || len(b.Rows) != 2 {
			t.Fatalf("batch %d..%d (%d rows) published when %d was next", b.FirstSeq, b.LastSeq, len(b.Rows), next)
		}
		next = b.LastSeq + 1
	}
}

// The sequencer holds a batch back until the ones before it are published
// or skipped (a range taken but never acknowledged).
func TestSequencerParksAndSkips(t *testing.T) {
	sink := &recordingSink{}
	q := &sequencer{next: 1}
	b := func(first, last uint64) ChangeBatch { return ChangeBatch{FirstSeq: first, LastSeq: last} }
	q.deliver(sink, b(4, 5))
	q.deliver(sink, b(6, 6))
	if n := len(sink.all()); n != 0 {
		t.Fatalf("published %d batches before _seq 1..3", n)
	}
	q.skip(sink, 3, 3)
	q.deliver(sink, b(1, 2))
	var ranges []string
	for _, x := range sink.all() {
		ranges = append(ranges, fmt.Sprintf("%d-%d", x.FirstSeq, x.LastSeq))
	}
	if fmt.Sprint(ranges) != "[1-2 4-5 6-6]" || q.next != 7 || len(q.parked) != 0 || len(q.skipped) != 0 {
		t.Fatalf("published %v, next %d, parked %d, skipped %d", ranges, q.next, len(q.parked), len(q.skipped))
	}
}

// A restarted node continues publishing from its buffer's counter.
func TestStorePublishesAfterRestart(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	h.mustWrite(tb, "p", map[int64]row.Row{}, upsert(1, "a", 1), upsert(2, "b", 2))
	h.restart()
	sink := &recordingSink{}
	h.store = New(h.bucket, h.buf, Options{NodeID: "node-test", Changes: sink})
	if _, err := h.store.Write(ctx, tb, "p", []Change{upsert(3, "c", 3)}); err != nil {
		t.Fatal(err)
	}
	if got := sink.all(); len(got) != 1 || got[0].FirstSeq != 3 {
		t.Fatalf("after restart: %+v", got)
	}
}

// ReadChanges replays a _seq range from segments and buffer in _seq order;
// segments keep only the latest version per key of their flush.
func TestReadChanges(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	model := map[int64]row.Row{}
	h.mustWrite(tb, "p", model, upsert(1, "a", 1), upsert(2, "b", 1)) // 1, 2
	h.mustWrite(tb, "p", model, upsert(1, "a2", 2))                   // 3 (replaces 1 before the flush)
	h.mustFlush(tb, "p")
	h.mustWrite(tb, "p", model, del(2))            // 4
	h.mustWrite(tb, "p", model, upsert(3, "c", 3)) // 5
	h.mustFlush(tb, "p")
	h.mustWrite(tb, "p", model, upsert(3, "c2", 4)) // 6 (buffered)
	h.mustWrite(tb, "p", model, upsert(3, "c3", 5)) // 7 (buffered)

	read := func(from, to uint64) string {
		var out []string
		for c, err := range h.store.ReadChanges(ctx, tb, "p", from, to) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d:%s:%d", c.Seq, c.Op, c.Values[0].Int64()))
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		from, to uint64
		want     string
	}{
		// _seq 1 was replaced by 3 in the first flush: gone from segments.
		{0, 0, "[2:upsert:2 3:upsert:1 4:delete:2 5:upsert:3 6:upsert:3 7:upsert:3]"},
		{3, 5, "[3:upsert:1 4:delete:2 5:upsert:3]"},
		{5, 6, "[5:upsert:3 6:upsert:3]"},
		{7, 0, "[7:upsert:3]"},
		{8, 0, "[]"},
		{6, 5, "[]"},
	} {
		if got := read(tc.from, tc.to); got != tc.want {
			t.Errorf("ReadChanges(%d, %d) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

// A Store without a buffer reads segments and refuses writes.
func TestStoreWithoutBuffer(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	h.mustWrite(tb, "p", map[int64]row.Row{}, upsert(1, "a", 1))
	h.mustFlush(tb, "p")
	h.mustWrite(tb, "p", map[int64]row.Row{}, upsert(2, "b", 2)) // buffered only

	ro := New(h.bucket, nil, Options{NodeID: "reader"})
	if _, err := ro.Write(ctx, tb, "p", []Change{upsert(3, "c", 3)}); !errors.Is(err, ErrNoBuffer) {
		t.Fatalf("write without buffer: %v", err)
	}
	if res, err := ro.Flush(ctx, tb, "p"); err != nil || res.Rows != 0 {
		t.Fatalf("flush without buffer: %+v, %v", res, err)
	}
	var ids []int64
	for v, err := range ro.Scan(ctx, tb, "p", ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.Values[0].Int64())
	}
	if fmt.Sprint(ids) != "[1]" {
		t.Fatalf("reader without buffer sees %v, want the committed [1]", ids)
	}
	if _, found, err := ro.Lookup(ctx, tb, "p", row.Row{row.BigInt(1)}); err != nil || !found {
		t.Fatalf("lookup: %v %v", found, err)
	}
	if ps := ro.BufferedPartitions(tb.ID); len(ps) != 0 {
		t.Fatalf("buffered partitions without a buffer: %v", ps)
	}
	// A live process replays committed changes from segments only.
	var seqs []uint64
	for c, err := range ro.ReadChanges(ctx, tb, "p", 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, c.Seq)
	}
	if fmt.Sprint(seqs) != "[1]" {
		t.Fatalf("ReadChanges without a buffer: %v, want the committed [1]", seqs)
	}
}

// The direct path publishes each committed group in _seq order with the
// manifest version that committed it.
func TestDirectPublishesChanges(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMem()
	sink := &recordingSink{}
	w, _ := newDirect(t, b, DirectOptions{Changes: sink})
	tb := testTable()
	c := upsert(1, "a", 1)
	c.Insert = true
	r1, err := w.Write(ctx, tb, "p", []Change{c, upsert(2, "b", 2)})
	if err != nil {
		t.Fatal(err)
	}
	upd := upsert(1, "a2", 2)
	upd.Old = c.Values
	r2, err := w.Write(ctx, tb, "p", []Change{upd})
	if err != nil {
		t.Fatal(err)
	}
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("published %d batches, want 2", len(got))
	}
	if got[0].FirstSeq != r1.FirstSeq || got[0].LastSeq != r1.FirstSeq+1 || got[0].ManifestVersion != r1.ManifestVersion ||
		got[0].Rows[0].Op != OpInsert || got[0].Rows[1].Op != OpUpsert {
		t.Fatalf("first batch %+v for %+v", got[0], r1)
	}
	if got[1].FirstSeq != r2.FirstSeq || got[1].Rows[0].Op != OpUpdate || got[1].Rows[0].Old[1].Str() != "a" {
		t.Fatalf("second batch %+v for %+v", got[1], r2)
	}
	// The replay from segments agrees on the _seq values.
	rs := readerStore(t, b)
	var seqs []uint64
	for c, err := range rs.ReadChanges(ctx, tb, "p", 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, c.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Fatalf("replayed _seq %v", seqs)
	}
}

type discardSink struct{}

func (discardSink) Publish(ChangeBatch) {}

// BenchmarkPublishOneRow: what the change seam adds to a single-row write
// with a listening sink, without the write itself: building the batch and
// ordering it through the partition's sequencer.
func BenchmarkPublishOneRow(b *testing.B) {
	tb := testTable()
	q := &sequencer{next: 1}
	changes := []Change{upsert(1, "a", 1)}
	b.ReportAllocs()
	seq := uint64(1)
	for b.Loop() {
		q.deliver(discardSink{}, batchOf(tb, "p", seq, changes))
		seq++
	}
}
