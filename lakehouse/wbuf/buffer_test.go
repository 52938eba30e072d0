package wbuf

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floedb/floe/lakehouse/row"
)

var (
	shared = PartitionKey{TableID: "t1"}
	alice  = PartitionKey{TableID: "t1", Partition: "alice"}
	bob    = PartitionKey{TableID: "t2", Partition: "bob"}
)

// allKinds is a row with one value of every kind, and NULL.
func allKinds() row.Row {
	return row.Row{
		row.Null(),
		row.Bool(true),
		row.Int(-7),
		row.BigInt(math.MinInt64),
		row.Float(1.5),
		row.Double(math.Inf(-1)),
		row.Decimal(-1, 12345),
		row.Text("héllo\x00world"),
		row.JSON(`{"a":[1,2]}`),
		row.Bytes([]byte{0, 1, 0xFF}),
		row.UUID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}),
		row.Date(-1),
		row.Timestamp(1_700_000_000_000_000),
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	b := openTest(t, Options{})
	vals := allKinds()
	muts := []Mutation{
		{Key: row.AppendKey(nil, row.Text("b"), row.BigInt(2)), SchemaVersion: 3, Values: vals},
		{Key: row.AppendKey(nil, row.Text("a"), row.BigInt(1)), SchemaVersion: 3, Values: vals[:1]},
		{Key: row.AppendKey(nil, row.Text("c"), row.BigInt(-5)), Deleted: true, SchemaVersion: 2, Values: row.Row{row.Text("c"), row.BigInt(-5)}},
		{Key: row.AppendKey(nil, row.Text("d"), row.BigInt(0)), SchemaVersion: 3, Values: nil},
	}
	first := mustWrite(t, b, alice, muts...)
	if first != 1 {
		t.Fatalf("first seq %d, want 1", first)
	}
	got := scan(t, b, alice, ScanOptions{})
	// Ordered by key: a, b, c, d.
	order := []int{1, 0, 2, 3}
	if len(got) != len(order) {
		t.Fatalf("got %d entries, want %d", len(got), len(order))
	}
	for i, mi := range order {
		m, e := muts[mi], got[i]
		if !bytes.Equal(e.Key, m.Key) || e.Version.Seq != first+uint64(mi) || e.Version.Deleted != m.Deleted ||
			e.Version.SchemaVersion != m.SchemaVersion || !e.Version.Values.Equal(m.Values) {
			t.Errorf("entry %d = %x %+v, want key %x seq %d %+v", i, e.Key, e.Version, m.Key, first+uint64(mi), m)
		}
	}
	// Other partitions see nothing.
	if es := scan(t, b, shared, ScanOptions{}); len(es) != 0 {
		t.Fatalf("shared partition has %d entries", len(es))
	}
	// The key is the caller's own copy.
	got[0].Key[0] ^= 0xFF
	if again := scan(t, b, alice, ScanOptions{}); again[0].Key[0] == got[0].Key[0] {
		t.Fatal("Entry.Key aliases buffer memory")
	}
}

// model is a brute-force reference for Versions.
type modelVersion struct {
	key []byte
	seq uint64
}

func modelScan(all []modelVersion, o ScanOptions) []modelVersion {
	var in []modelVersion
	for _, v := range all {
		if v.seq > o.AfterSeq && (o.UpToSeq == 0 || v.seq <= o.UpToSeq) {
			in = append(in, v)
		}
	}
	slices.SortFunc(in, func(a, b modelVersion) int {
		return cmp.Or(bytes.Compare(a.key, b.key), -cmp.Compare(a.seq, b.seq))
	})
	if !o.LatestOnly {
		return in
	}
	var out []modelVersion
	for _, v := range in {
		if len(out) == 0 || !bytes.Equal(out[len(out)-1].key, v.key) {
			out = append(out, v)
		}
	}
	return out
}

func TestVersionsLatestOnlyAndBounds(t *testing.T) {
	b := openTest(t, Options{})
	// Fixed history: k1@1,3,5  k2@2,6(tombstone)  k3@4  k4 with 20 versions
	// (7..26, past the Next-then-seek threshold).
	var all []modelVersion
	w := func(m Mutation) {
		seq := mustWrite(t, b, shared, m)
		all = append(all, modelVersion{key: m.Key, seq: seq})
	}
	w(upsert(1, "a"))
	w(upsert(2, "a"))
	w(upsert(1, "b"))
	w(upsert(3, "a"))
	w(upsert(1, "c"))
	w(tombstone(2))
	for i := range 20 {
		w(upsert(4, fmt.Sprint(i)))
	}
	tests := []struct {
		name string
		opts ScanOptions
		want []uint64
	}{
		{"all", ScanOptions{}, []uint64{5, 3, 1, 6, 2, 4, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7}},
		{"latest", ScanOptions{LatestOnly: true}, []uint64{5, 6, 4, 26}},
		{"latest up to 4", ScanOptions{UpToSeq: 4, LatestOnly: true}, []uint64{3, 2, 4}},
		{"latest after 3", ScanOptions{AfterSeq: 3, LatestOnly: true}, []uint64{5, 6, 4, 26}},
		{"latest after 4 up to 5", ScanOptions{AfterSeq: 4, UpToSeq: 5, LatestOnly: true}, []uint64{5}},
		{"after 2 up to 5", ScanOptions{AfterSeq: 2, UpToSeq: 5}, []uint64{5, 3, 4}},
		{"latest up to 8", ScanOptions{UpToSeq: 8, LatestOnly: true}, []uint64{5, 6, 4, 8}},
		{"after 25", ScanOptions{AfterSeq: 25}, []uint64{26}},
		{"after everything", ScanOptions{AfterSeq: 26}, nil},
		{"tombstone is latest", ScanOptions{AfterSeq: 5, UpToSeq: 6, LatestOnly: true}, []uint64{6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := seqs(scan(t, b, shared, tc.opts))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("seqs %v, want %v", got, tc.want)
			}
			var model []uint64
			for _, v := range modelScan(all, tc.opts) {
				model = append(model, v.seq)
			}
			if !slices.Equal(got, model) {
				t.Fatalf("seqs %v, model says %v", got, model)
			}
		})
	}
	if got := scan(t, b, shared, ScanOptions{AfterSeq: 5, UpToSeq: 6, LatestOnly: true}); !got[0].Version.Deleted {
		t.Fatal("tombstone not marked Deleted")
	}
}

// TestVersionsRandom compares Versions with the model on random histories
// and bounds, including keys of different lengths and deleted prefixes.
func TestVersionsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := openTest(t, Options{})
	var all []modelVersion
	for range 300 {
		n := 1 + rng.IntN(8)
		muts := make([]Mutation, n)
		for i := range muts {
			k := row.AppendKey(nil, row.Text(strings.Repeat("k", rng.IntN(4))+fmt.Sprint(rng.IntN(30))))
			muts[i] = Mutation{Key: k, Deleted: rng.IntN(5) == 0, Values: row.Row{row.BigInt(rng.Int64())}}
		}
		first := mustWrite(t, b, alice, muts...)
		for i, m := range muts {
			all = append(all, modelVersion{key: m.Key, seq: first + uint64(i)})
		}
	}
	// Delete a prefix of the history, as a flush would.
	if err := b.DeleteUpTo(context.Background(), alice, 200); err != nil {
		t.Fatal(err)
	}
	all = slices.DeleteFunc(all, func(v modelVersion) bool { return v.seq <= 200 })
	last := b.LastSeq(alice)
	for range 200 {
		o := ScanOptions{LatestOnly: rng.IntN(2) == 0}
		if rng.IntN(3) > 0 {
			o.AfterSeq = rng.Uint64N(last + 2)
		}
		if rng.IntN(3) > 0 {
			o.UpToSeq = rng.Uint64N(last + 2)
		}
		got := scan(t, b, alice, o)
		want := modelScan(all, o)
		if len(got) != len(want) {
			t.Fatalf("%+v: %d entries, want %d", o, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, want[i].key) || got[i].Version.Seq != want[i].seq {
				t.Fatalf("%+v: entry %d = %x@%d, want %x@%d", o, i, got[i].Key, got[i].Version.Seq, want[i].key, want[i].seq)
			}
		}
	}
	checkConsistent(t, b)
}

// checkDenseDisjoint checks that the ranges [first, first+n) are disjoint
// and cover 1..total exactly.
func checkDenseDisjoint(t *testing.T, ranges [][2]uint64) {
	t.Helper()
	slices.SortFunc(ranges, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	next := uint64(1)
	for _, r := range ranges {
		if r[0] != next {
			t.Fatalf("range starting at %d, want %d (gap or overlap)", r[0], next)
		}
		next += r[1]
	}
}

func TestSeqConcurrentOnePartition(t *testing.T) {
	b := openTest(t, Options{})
	const writers, perWriter = 16, 40
	var mu sync.Mutex
	var ranges [][2]uint64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 0))
			prev := uint64(0)
			for i := range perWriter {
				n := 1 + rng.IntN(5)
				muts := make([]Mutation, n)
				for j := range muts {
					muts[j] = upsert(int64(rng.IntN(100)), fmt.Sprint(w, i, j))
				}
				first, err := b.Write(context.Background(), alice, muts)
				if err != nil {
					t.Error(err)
					return
				}
				if first <= prev {
					t.Errorf("writer %d: seq %d after %d", w, first, prev)
				}
				prev = first
				mu.Lock()
				ranges = append(ranges, [2]uint64{first, uint64(n)})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkDenseDisjoint(t, ranges)
	var total uint64
	for _, r := range ranges {
		total += r[1]
	}
	if got := b.LastSeq(alice); got != total {
		t.Fatalf("LastSeq %d, want %d", got, total)
	}
	if got := len(scan(t, b, alice, ScanOptions{})); uint64(got) != total {
		t.Fatalf("%d versions, want %d", got, total)
	}
	checkConsistent(t, b)
}

func TestSeqConcurrentManyPartitions(t *testing.T) {
	b := openTest(t, Options{})
	parts := make([]PartitionKey, 8)
	for i := range parts {
		parts[i] = PartitionKey{TableID: fmt.Sprint("t", i%2), Partition: fmt.Sprint("user-", i)}
	}
	var mu sync.Mutex
	ranges := map[PartitionKey][][2]uint64{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 40 {
				p := parts[rng.IntN(len(parts))]
				n := 1 + rng.IntN(4)
				muts := make([]Mutation, n)
				for j := range muts {
					muts[j] = upsert(int64(rng.IntN(50)), "x")
				}
				first, err := b.Write(context.Background(), p, muts)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ranges[p] = append(ranges[p], [2]uint64{first, uint64(n)})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, p := range parts {
		t.Run(p.String(), func(t *testing.T) { checkDenseDisjoint(t, ranges[p]) })
	}
	checkConsistent(t, b)
}

// TestVisibilityOrder: a reader taking snapshots while 16 writers append to
// one partition never sees a gap in _seq.
func TestVisibilityOrder(t *testing.T) {
	b := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	t.Cleanup(func() { cancel(); writers.Wait() }) // before Close, also on failure
	for w := range 16 {
		writers.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				muts := []Mutation{upsert(int64(w*1000+i%7), "a"), upsert(int64(w), "b")}
				if _, err := b.Write(ctx, alice, muts); err != nil && !errors.Is(err, context.Canceled) {
					t.Error(err)
					return
				}
			}
		})
	}
	var prevMax uint64
	snapshots := 0
	for deadline := time.Now().Add(700 * time.Millisecond); time.Now().Before(deadline) || snapshots < 20; snapshots++ {
		s := b.Snapshot()
		got := sortedCopy(seqs(collect(t, s, alice, ScanOptions{})))
		max := s.MaxSeq(alice)
		s.Close()
		for i, seq := range got {
			if seq != uint64(i)+1 {
				t.Fatalf("snapshot %d: seq %d at position %d: a gap below it", snapshots, seq, i)
			}
		}
		if uint64(len(got)) != max {
			t.Fatalf("snapshot %d: %d versions, MaxSeq %d", snapshots, len(got), max)
		}
		if max < prevMax {
			t.Fatalf("snapshot %d: MaxSeq went back from %d to %d", snapshots, prevMax, max)
		}
		prevMax = max
	}
	cancel()
	writers.Wait()
	t.Logf("%d snapshots, last MaxSeq %d", snapshots, prevMax)
	checkConsistent(t, b)
}

func TestDeleteUpTo(t *testing.T) {
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	b := openTest(t, Options{Clock: clock.Now})
	ctx := context.Background()
	for i := range 10 {
		clock.now = clock.now.Add(time.Second)
		mustWrite(t, b, alice, upsert(int64(i%4), fmt.Sprint(i)), upsert(100, fmt.Sprint(i)))
	}
	mustWrite(t, b, bob, upsert(1, "bob"))
	// seqs 1..20; batch i (0-based) has seqs 2i+1, 2i+2 at time 1_001_000+1000i.
	before := b.Partitions()
	if len(before) != 2 || before[0].Rows != 20 || before[0].MinSeq != 1 || before[0].MaxSeq != 20 {
		t.Fatalf("before: %+v", before)
	}
	if err := b.DeleteUpTo(ctx, alice, 7); err != nil {
		t.Fatal(err)
	}
	got := sortedCopy(seqs(scan(t, b, alice, ScanOptions{})))
	if want := []uint64{8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}; !slices.Equal(got, want) {
		t.Fatalf("after DeleteUpTo(7): %v, want %v", got, want)
	}
	ps := b.Partitions()
	if ps[0].PartitionKey != alice || ps[0].Rows != 13 || ps[0].MinSeq != 8 || ps[0].MaxSeq != 20 || ps[0].LastSeq != 20 {
		t.Fatalf("after: %+v", ps[0])
	}
	// seq 8 was written by batch 3 (seqs 7, 8).
	if want := time.UnixMilli(1_000_000 + 4000); !ps[0].OldestWrite.Equal(want) {
		t.Fatalf("OldestWrite %v, want %v", ps[0].OldestWrite, want)
	}
	if ps[0].Bytes >= before[0].Bytes || ps[1] != before[1] {
		t.Fatalf("bytes %d → %d; bob %+v → %+v", before[0].Bytes, ps[0].Bytes, before[1], ps[1])
	}
	checkConsistent(t, b)

	// Idempotent, and a lower seq is a no-op.
	for _, s := range []uint64{7, 3} {
		if err := b.DeleteUpTo(ctx, alice, s); err != nil {
			t.Fatal(err)
		}
	}
	if again := b.Partitions(); again[0] != ps[0] {
		t.Fatalf("repeated DeleteUpTo changed stats: %+v", again[0])
	}
	// Deleting everything empties the partition but keeps its counter.
	if err := b.DeleteUpTo(ctx, alice, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if ps := b.Partitions(); len(ps) != 1 || ps[0].PartitionKey != bob {
		t.Fatalf("after deleting all: %+v", ps)
	}
	if got := b.LastSeq(alice); got != 20 {
		t.Fatalf("LastSeq %d, want 20", got)
	}
	if first := mustWrite(t, b, alice, upsert(1, "again")); first != 21 {
		t.Fatalf("next seq %d, want 21", first)
	}
	// Unknown partitions are fine.
	if err := b.DeleteUpTo(ctx, PartitionKey{TableID: "nope"}, 10); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Rows != 2 || st.Partitions != 2 {
		t.Fatalf("stats %+v", st)
	}
	checkConsistent(t, b)
}

// TestDeleteUpToConcurrentWrites checks that statistics stay exact while
// writers add versions during DeleteUpTo's scan.
func TestDeleteUpToConcurrentWrites(t *testing.T) {
	b := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() }) // before Close, also on failure
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := b.Write(ctx, alice, []Mutation{upsert(int64(w*100+i%50), "v")}); err != nil && !errors.Is(err, context.Canceled) {
					t.Error(err)
					return
				}
			}
		})
	}
	deletes := 0
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); deletes++ {
		s := b.Snapshot()
		cut := s.MaxSeq(alice)
		s.Close()
		if err := b.DeleteUpTo(context.Background(), alice, cut); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	checkConsistent(t, b)
	if st := b.Stats(); st.Bytes != b.bytes.Load() {
		t.Fatalf("stats bytes %d, budget counter %d", st.Bytes, b.bytes.Load())
	}
	t.Logf("%d deletes, %d rows left, last seq %d", deletes, b.Stats().Rows, b.LastSeq(alice))
}

// TestDeleteUpToWritesDuringScan writes while DeleteUpTo is between its
// scan and its apply, so that the statistics of the versions left must come
// from both the snapshot and the writes after it.
func TestDeleteUpToWritesDuringScan(t *testing.T) {
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	b := openTest(t, Options{Clock: clock.Now})
	ctx := context.Background()
	mustWrite(t, b, alice, upsert(1, "a"), upsert(2, "b")) // 1, 2 at t=1000s
	clock.now = clock.now.Add(time.Second)
	mustWrite(t, b, alice, upsert(1, "c")) // 3 at t=1001s
	tests := []struct {
		name    string
		cut     uint64
		minSeq  uint64
		oldest  int64
		rows    int64
		written uint64
	}{
		// 3 stays from the snapshot; 4 is written during the scan.
		{"snapshot versions left", 2, 3, 1_001_000, 2, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.now = clock.now.Add(time.Second)
			b.testHookDeleteScanned = func() {
				b.testHookDeleteScanned = nil
				if first := mustWrite(t, b, alice, upsert(9, "during")); first != tc.written {
					t.Errorf("write during scan got %d, want %d", first, tc.written)
				}
			}
			if err := b.DeleteUpTo(ctx, alice, tc.cut); err != nil {
				t.Fatal(err)
			}
			ps := b.Partitions()
			if len(ps) != 1 || ps[0].Rows != tc.rows || ps[0].MinSeq != tc.minSeq || ps[0].MaxSeq != tc.written || ps[0].OldestWrite.UnixMilli() != tc.oldest {
				t.Fatalf("stats %+v, want rows %d min %d max %d oldest %d", ps, tc.rows, tc.minSeq, tc.written, tc.oldest)
			}
			checkConsistent(t, b)
		})
	}
}

// TestDeleteUpToAll covers the fast path: a cut at or above every buffered
// version removes them with one range deletion; the counter stays.
func TestDeleteUpToAll(t *testing.T) {
	b := openTest(t, Options{})
	ctx := context.Background()
	mustWrite(t, b, alice, upsert(1, "a"), upsert(2, "b"))
	mustWrite(t, b, alice, upsert(1, "c"))
	mustWrite(t, b, bob, upsert(1, "x"))
	b.testHookDeleteScanned = func() { t.Error("the fast path scanned the partition") }
	if err := b.DeleteUpTo(ctx, alice, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	b.testHookDeleteScanned = nil
	for _, ps := range b.Partitions() {
		if ps.PartitionKey == alice {
			t.Fatalf("alice still buffered: %+v", ps)
		}
	}
	s := b.Snapshot()
	defer s.Close()
	for e, err := range s.Versions(ctx, alice, ScanOptions{}) {
		t.Fatalf("version left after deleting everything: %+v %v", e, err)
	}
	if first := mustWrite(t, b, alice, upsert(3, "d")); first != 4 {
		t.Fatalf("next _seq %d, want 4 (the counter survives)", first)
	}
	if ps := b.Partitions(); len(ps) != 2 {
		t.Fatalf("partitions %+v, want alice and bob", ps)
	}
	checkConsistent(t, b)
}

func TestDeleteUpToCancelled(t *testing.T) {
	b := openTest(t, Options{})
	for i := range 3000 {
		mustWrite(t, b, alice, upsert(int64(i), "x"))
	}
	before := b.Partitions()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.DeleteUpTo(ctx, alice, 2000); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if after := b.Partitions(); !slices.Equal(after, before) {
		t.Fatalf("cancelled DeleteUpTo changed %+v to %+v", before, after)
	}
	if n := len(scan(t, b, alice, ScanOptions{})); n != 3000 {
		t.Fatalf("%d versions left, want 3000", n)
	}
}

func TestSetSeqFloor(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetSeqFloor(alice, 0); err != nil {
		t.Fatal(err)
	}
	if ps := len(b.mu.parts); ps != 0 {
		t.Fatalf("floor 0 created %d partitions", ps)
	}
	if err := b.SetSeqFloor(alice, 41); err != nil {
		t.Fatal(err)
	}
	if got := b.LastSeq(alice); got != 41 {
		t.Fatalf("LastSeq %d, want 41", got)
	}
	if len(b.Partitions()) != 0 {
		t.Fatal("a floor alone is listed as buffered data")
	}
	if first := mustWrite(t, b, alice, upsert(1, "a"), upsert(2, "b")); first != 42 {
		t.Fatalf("first %d, want 42", first)
	}
	// A lower floor changes nothing.
	if err := b.SetSeqFloor(alice, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSeqFloor(alice, 100); err != nil {
		t.Fatal(err)
	}
	ps := b.Partitions()
	if len(ps) != 1 || ps[0].MinSeq != 42 || ps[0].MaxSeq != 43 || ps[0].LastSeq != 100 {
		t.Fatalf("partitions %+v", ps)
	}
	s := b.Snapshot()
	if got := s.MaxSeq(alice); got != 43 {
		t.Fatalf("MaxSeq %d, want 43 (the floor is not a version)", got)
	}
	s.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Durable.
	b = openTest(t, Options{Dir: dir})
	if got := b.LastSeq(alice); got != 100 {
		t.Fatalf("after reopen LastSeq %d, want 100", got)
	}
	if first := mustWrite(t, b, alice, upsert(3, "c")); first != 101 {
		t.Fatalf("first %d, want 101", first)
	}
	// Exhausting the seq space fails cleanly.
	if err := b.SetSeqFloor(bob, math.MaxUint64-1); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, b, bob, upsert(1, "last"))
	if _, err := b.Write(context.Background(), bob, []Mutation{upsert(2, "one too many")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ErrInvalid", err)
	}
	checkConsistent(t, b)
}

func TestErrFull(t *testing.T) {
	b := openTest(t, Options{MaxBytes: 4096})
	ctx := context.Background()
	big := strings.Repeat("x", 200)
	var err error
	n := 0
	for ; n < 100; n++ {
		if _, err = b.Write(ctx, alice, []Mutation{upsert(int64(n), big)}); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("after %d writes: err %v, want ErrFull", n, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "limit 4096; flush or raise wbuf.max_bytes") || !strings.Contains(msg, `wbuf: write t1/"alice"`) {
		t.Fatalf("message %q", msg)
	}
	st := b.Stats()
	if st.Bytes > 4096 || st.Bytes+250 < 4096 || st.Rows != int64(n) {
		t.Fatalf("stats %+v after %d writes", st, n)
	}
	// A refused write changes nothing.
	if b.LastSeq(alice) != uint64(n) || b.bytes.Load() != st.Bytes {
		t.Fatalf("LastSeq %d, bytes %d", b.LastSeq(alice), b.bytes.Load())
	}
	// Other partitions share the budget.
	if _, err := b.Write(ctx, bob, []Mutation{upsert(1, big)}); !errors.Is(err, ErrFull) {
		t.Fatalf("bob: err %v, want ErrFull", err)
	}
	// A flush frees room.
	if err := b.DeleteUpTo(ctx, alice, 5); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, b, bob, upsert(1, big))
	checkConsistent(t, b)
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.UnixMilli(5_000_000)}
	b, err := Open(Options{Dir: dir, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		clock.now = clock.now.Add(time.Millisecond)
		mustWrite(t, b, alice, upsert(int64(i%7), fmt.Sprint(i)))
		mustWrite(t, b, shared, Mutation{Key: pk(int64(i)), Values: allKinds()})
		if i%10 == 0 {
			mustWrite(t, b, bob, tombstone(int64(i)))
		}
	}
	if err := b.DeleteUpTo(context.Background(), alice, 20); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSeqFloor(PartitionKey{TableID: "t3"}, 77); err != nil {
		t.Fatal(err)
	}
	wantParts := b.Partitions()
	wantScan := map[PartitionKey][]Entry{}
	for _, p := range []PartitionKey{alice, shared, bob} {
		wantScan[p] = scan(t, b, p, ScanOptions{})
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	b = openTest(t, Options{Dir: dir})
	if got := b.Partitions(); !slices.Equal(got, wantParts) {
		t.Fatalf("partitions after reopen:\n%+v\nwant\n%+v", got, wantParts)
	}
	for p, want := range wantScan {
		got := scan(t, b, p, ScanOptions{})
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", p, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, want[i].Key) || got[i].Version.Seq != want[i].Version.Seq || !got[i].Version.Values.Equal(want[i].Version.Values) {
				t.Fatalf("%s entry %d: %+v, want %+v", p, i, got[i], want[i])
			}
		}
	}
	if got := b.LastSeq(PartitionKey{TableID: "t3"}); got != 77 {
		t.Fatalf("floor after reopen %d", got)
	}
	if first := mustWrite(t, b, alice, upsert(1, "x")); first != 51 {
		t.Fatalf("next seq %d, want 51", first)
	}
	checkConsistent(t, b)
}

func TestContextCancelledWrite(t *testing.T) {
	b := openTest(t, Options{})
	mustWrite(t, b, alice, upsert(1, "a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Write(ctx, alice, []Mutation{upsert(2, "b")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if b.LastSeq(alice) != 1 || len(scan(t, b, alice, ScanOptions{})) != 1 || b.Stats().Rows != 1 {
		t.Fatal("a cancelled write had an effect")
	}
	if first := mustWrite(t, b, alice, upsert(2, "b")); first != 2 {
		t.Fatalf("next seq %d, want 2", first)
	}
}

func TestInvalid(t *testing.T) {
	b := openTest(t, Options{})
	ctx := context.Background()
	cases := []struct {
		name string
		p    PartitionKey
		muts []Mutation
	}{
		{"empty table", PartitionKey{Partition: "x"}, []Mutation{upsert(1, "a")}},
		{"empty key", alice, []Mutation{upsert(1, "a"), {Values: row.Row{row.Int(1)}}}},
		{"bad utf8", PartitionKey{TableID: "t\xff"}, []Mutation{upsert(1, "a")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.Write(ctx, tc.p, tc.muts); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
		})
	}
	if first, err := b.Write(ctx, alice, nil); first != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", first, err)
	}
	if b.LastSeq(alice) != 0 || b.Stats().Bytes != 0 {
		t.Fatal("invalid writes had an effect")
	}
	// Keys that are prefixes of each other are detected by scans.
	mustWrite(t, b, bob, Mutation{Key: []byte("ab")}, Mutation{Key: []byte("a")})
	s := b.Snapshot()
	defer s.Close()
	var err error
	for _, e := range s.Versions(ctx, bob, ScanOptions{}) {
		err = e
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("scan of prefix keys: err %v, want ErrInvalid", err)
	}
}

func TestSnapshotIsolation(t *testing.T) {
	b := openTest(t, Options{})
	ctx := context.Background()
	mustWrite(t, b, alice, upsert(1, "a"), upsert(2, "b"))
	s := b.Snapshot()
	defer s.Close()
	mustWrite(t, b, alice, upsert(1, "c"))
	if err := b.DeleteUpTo(ctx, alice, 2); err != nil {
		t.Fatal(err)
	}
	if got := seqs(collect(t, s, alice, ScanOptions{})); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("snapshot sees %v, want [1 2]", got)
	}
	if got := s.MaxSeq(alice); got != 2 {
		t.Fatalf("snapshot MaxSeq %d, want 2", got)
	}
	if got := seqs(scan(t, b, alice, ScanOptions{})); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("now %v, want [3]", got)
	}
	if got := s.MaxSeq(PartitionKey{TableID: "none"}); got != 0 {
		t.Fatalf("MaxSeq of unknown partition %d", got)
	}
}

func TestClose(t *testing.T) {
	b, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100 {
		mustWrite(t, b, alice, upsert(int64(i), "x"))
	}
	// An iteration in progress delays Close; a Snapshot closed during an
	// iteration stays usable until it ends.
	s := b.Snapshot()
	left := b.Snapshot() // never closed by the caller: Close releases it
	next, stop := iter.Pull2(s.Versions(ctx, alice, ScanOptions{}))
	if _, err, ok := next(); !ok || err != nil {
		t.Fatalf("first entry: %v %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an iteration was in progress", err)
	case <-time.After(50 * time.Millisecond):
	}
	n := 1
	for {
		_, err, ok := next()
		if !ok {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	stop()
	if n != 100 {
		t.Fatalf("iterated %d entries, want 100", n)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Everything fails with ErrClosed now.
	if _, err := b.Write(ctx, alice, []Mutation{upsert(1, "x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write: %v", err)
	}
	if err := b.DeleteUpTo(ctx, alice, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("DeleteUpTo: %v", err)
	}
	if err := b.SetSeqFloor(alice, 1000); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetSeqFloor: %v", err)
	}
	for _, snap := range []*Snapshot{left, b.Snapshot()} {
		for _, err := range snap.Versions(ctx, alice, ScanOptions{}) {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Versions: %v", err)
			}
		}
		if snap.MaxSeq(alice) != 0 {
			t.Fatal("MaxSeq on a closed buffer")
		}
		if err := snap.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if b.LastSeq(alice) != 100 || b.Stats().Rows != 100 {
		t.Fatal("in-memory state lost at Close")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesOtherData(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("hello"), []byte("world"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a foreign database: %v, want ErrCorrupt", err)
	}

	dir = t.TempDir()
	b, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.db.Set(metaFormatKey, []byte("99"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `format "99"`) {
		t.Fatalf("open of a newer format: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{MaxBytes: -1, MemTableSize: 5 << 30}
	o.EnsureDefaults()
	err := o.Validate()
	for _, want := range []string{"Dir is required", "MaxBytes is -1", "MemTableSize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without Dir succeeded")
	}
}

// syncLog is a goroutine-safe slog sink.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestPebbleLogger(t *testing.T) {
	var out syncLog
	exited := -1
	l := pebbleLogger{logger: slog.New(slog.NewTextHandler(&out, nil)), exit: func(code int) { exited = code }}
	l.Infof("replayed %d WAL files", 2)
	l.Errorf("background error: %s", "disk")
	if exited != -1 {
		t.Fatal("exit before Fatalf")
	}
	l.Fatalf("commit failed: %v", "EIO")
	got := out.String()
	for _, want := range []string{
		`level=INFO msg=pebble detail="replayed 2 WAL files"`,
		`level=ERROR msg="pebble error" detail="background error: disk"`,
		`level=ERROR msg="pebble fatal error; exiting" detail="commit failed: EIO"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if exited != 1 {
		t.Fatalf("Fatalf exited with %d, want 1", exited)
	}

	// Pebble's own lines reach the logger through Open.
	var log syncLog
	b := openTest(t, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	mustWrite(t, b, alice, upsert(1, "x"))
	if !strings.Contains(log.String(), `msg="write buffer opened"`) {
		t.Fatalf("no open record:\n%s", log.String())
	}
}

func TestStats(t *testing.T) {
	b := openTest(t, Options{MaxBytes: 1 << 20})
	mustWrite(t, b, alice, upsert(1, "a"), upsert(2, "b"))
	mustWrite(t, b, bob, upsert(1, "a"))
	st := b.Stats()
	if st.Partitions != 2 || st.Rows != 3 || st.Bytes <= 0 || st.MaxBytes != 1<<20 || st.WALBytesWritten == 0 || st.DiskBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	if s := st.String(); !strings.Contains(s, "rows        3") {
		t.Fatalf("String:\n%s", s)
	}
}

func TestSnapshotLookup(t *testing.T) {
	ctx := context.Background()
	b, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := PartitionKey{TableID: "t", Partition: "u"}
	k := func(i int64) []byte { return row.AppendKey(nil, row.BigInt(i)) }
	put := func(i int64, deleted bool) uint64 {
		seq, err := b.Write(ctx, p, []Mutation{{Key: k(i), Deleted: deleted, SchemaVersion: 1, Values: row.Row{row.BigInt(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	put(1, false)
	s2 := put(2, false)
	put(2, true) // key 2: newest is a tombstone
	put(3, false)
	snap := b.Snapshot()
	defer snap.Close()
	got := map[int64]Entry{}
	for e, err := range snap.Lookup(ctx, p, [][]byte{k(3), k(2), k(9), k(1)}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		got[e.Version.Values[0].Int64()] = e
	}
	if len(got) != 3 || !got[2].Version.Deleted || got[1].Version.Deleted || got[3].Version.Seq != 4 {
		t.Fatalf("lookup = %+v", got)
	}
	// afterSeq hides versions already flushed.
	n := 0
	for e, err := range snap.Lookup(ctx, p, [][]byte{k(1), k(2)}, s2) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !e.Version.Deleted {
			t.Fatalf("after seq %d: %+v", s2, e)
		}
	}
	if n != 1 {
		t.Fatalf("after seq %d: %d versions, want key 2's tombstone", s2, n)
	}
}

// A snapshot's partition state comes from memory when the partition has
// not changed since the snapshot was taken, and from the snapshot when it
// has: a snapshot taken before more writes, a DeleteUpTo or a SetSeqFloor
// still shows the state and versions it was taken with.
func TestSnapshotStateAfterChanges(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, Options{})
	p := PartitionKey{TableID: "t", Partition: "u"}
	k := func(i int64) []byte { return row.AppendKey(nil, row.BigInt(i)) }
	put := func(i int64) {
		if _, err := b.Write(ctx, p, []Mutation{{Key: k(i), SchemaVersion: 1, Values: row.Row{row.BigInt(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(s *Snapshot, i int64) bool {
		found := false
		for _, err := range s.Lookup(ctx, p, [][]byte{k(i)}, 0) {
			if err != nil {
				t.Fatal(err)
			}
			found = true
		}
		return found
	}
	unknown := b.Snapshot()
	defer unknown.Close()
	for i := range 3 {
		put(int64(i))
	}
	old := b.Snapshot()
	defer old.Close()
	reads := b.statePebbleReads.Load()
	if got := old.MaxSeq(p); got != 3 {
		t.Fatalf("MaxSeq of an unchanged partition: %d, want 3", got)
	}
	if b.statePebbleReads.Load() != reads {
		t.Error("the state of a partition unchanged since the snapshot was read from Pebble")
	}
	if got := unknown.MaxSeq(p); got != 0 || lookup(unknown, 1) {
		t.Fatalf("a snapshot from before the partition's first write: MaxSeq %d, want 0", got)
	}
	put(3)
	put(4)
	if got := old.MaxSeq(p); got != 3 {
		t.Fatalf("MaxSeq after two more writes: %d, want the snapshot's 3", got)
	}
	if err := b.DeleteUpTo(ctx, p, 5); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSeqFloor(p, 100); err != nil {
		t.Fatal(err)
	}
	if got := old.MaxSeq(p); got != 3 || !lookup(old, 1) || lookup(old, 4) {
		t.Fatalf("the old snapshot after DeleteUpTo: MaxSeq %d, want 3, key 1 visible, key 4 not", got)
	}
	now := b.Snapshot()
	defer now.Close()
	reads = b.statePebbleReads.Load()
	if got := now.MaxSeq(p); got != 0 || lookup(now, 1) {
		t.Fatalf("a new snapshot after DeleteUpTo: MaxSeq %d, want 0 and no key 1", got)
	}
	if b.statePebbleReads.Load() != reads {
		t.Error("the state of a partition unchanged since the snapshot was read from Pebble")
	}
}
