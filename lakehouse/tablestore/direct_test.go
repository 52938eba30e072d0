package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// groupLog collects the GroupStats of a DirectWriter.
type groupLog struct {
	mu     sync.Mutex
	groups []GroupStats
}

func (g *groupLog) add(st GroupStats) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.groups = append(g.groups, st)
}

func (g *groupLog) all() []GroupStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.groups)
}

func newDirect(t testing.TB, b objstore.Bucket, opts DirectOptions) (*DirectWriter, *groupLog) {
	t.Helper()
	g := &groupLog{}
	opts.OnGroup = g.add
	w, err := NewDirectWriter(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w, g
}

// ack is one acknowledged direct write: ids first..first+n-1 got _seq
// seq..seq+n-1 in manifest version version.
type ack struct {
	first   int64
	n       int
	seq     uint64
	version uint64
}

// rowsOf makes n upserts with ids first, first+1, ….
func rowsOf(first int64, n int, tag string) []Change {
	out := make([]Change, n)
	for i := range out {
		out[i] = upsert(first+int64(i), fmt.Sprintf("%s-%d", tag, first+int64(i)), int32(i))
	}
	return out
}

// readerStore returns a Store over b with an empty buffer, to read what
// direct writers committed.
func readerStore(t testing.TB, b objstore.Bucket) *Store {
	t.Helper()
	buf, err := wbuf.Open(wbuf.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close() })
	return New(b, buf, Options{NodeID: "reader"})
}

// checkDirectPartition checks a partition written only by direct writers
// with unique ids (column 0), none of them ambiguous:
//   - every acknowledged row is visible exactly once, with the _seq its
//     write was acknowledged with, and nothing else is visible;
//   - manifest versions 1..N all load (N = versions when versions > 0);
//     each adds segments only, within (LastSeq of v-1, LastSeq of v];
//     each acknowledged write lies in the range its version added;
//   - the final manifest's segments have strictly increasing, disjoint
//     _seq ranges, and each holds as many visible rows in its range as it
//     claims (every version is visible: ids are unique);
//   - no segment object is left that the manifest does not reference.
//
// It returns the latest manifest.
func checkDirectPartition(t testing.TB, b objstore.Bucket, tb *manifest.Table, partition string, acks []ack, versions uint64) *manifest.Partition {
	t.Helper()
	ctx := context.Background()
	s := readerStore(t, b)

	// Rows.
	got := map[int64]uint64{}
	for v, err := range s.Scan(ctx, tb, partition, ScanOptions{}) {
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		id := v.Values[0].Int64()
		if _, dup := got[id]; dup {
			t.Fatalf("id %d returned twice", id)
		}
		got[id] = v.Seq
	}
	want := 0
	seqs := map[uint64]int64{}
	for _, a := range acks {
		for i := range a.n {
			id, seq := a.first+int64(i), a.seq+uint64(i)
			g, ok := got[id]
			if !ok {
				t.Fatalf("acknowledged id %d (_seq %d, v%d) is missing", id, seq, a.version)
			}
			if g != seq {
				t.Fatalf("id %d has _seq %d, its write was acknowledged with %d", id, g, seq)
			}
			if other, dup := seqs[seq]; dup {
				t.Fatalf("_seq %d acknowledged for ids %d and %d", seq, other, id)
			}
			seqs[seq] = id
			want++
		}
	}
	if len(got) != want {
		t.Fatalf("%d rows visible, %d acknowledged", len(got), want)
	}

	// Versions: read each one (in parallel: decoding is the cost), check
	// that its segments are a prefix of the latest version's, and keep its
	// LastSeq and segment count. The latest version gets the strict Load;
	// the others a lean decode of the fields checked here, which is 3 to 4
	// times faster (under the race detector, strict loads of the 1600
	// versions of TestDirectMultiProcess take a minute). Every version
	// passed Partition.Validate when it was committed.
	l := manifest.NewPartitionLog(b, tb.ID, partition, manifest.LogOptions{})
	latest, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if versions > 0 && latest.Version != versions {
		t.Fatalf("latest manifest is v%d, want v%d (one per commit)", latest.Version, versions)
	}
	type summary struct {
		lastSeq  uint64
		segments int
	}
	sums := make([]summary, latest.Version+1)
	var next atomic.Uint64
	loadErrs := make(chan error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				v := next.Add(1)
				if v > latest.Version {
					return
				}
				m, err := leanLoad(ctx, b, l, latest, v)
				if err != nil {
					loadErrs <- err
					return
				}
				if len(m.Segments) > len(latest.Segments) || !slices.EqualFunc(m.Segments, latest.Segments[:len(m.Segments)],
					func(a, b manifest.Segment) bool { return a.Key == b.Key }) {
					loadErrs <- fmt.Errorf("the segments of v%d are not a prefix of those of v%d", v, latest.Version)
					return
				}
				sums[v] = summary{m.LastSeq, len(m.Segments)}
			}
		})
	}
	wg.Wait()
	close(loadErrs)
	for err := range loadErrs {
		t.Fatal(err)
	}
	acksOf := map[uint64][]ack{}
	for _, a := range acks {
		acksOf[a.version] = append(acksOf[a.version], a)
	}
	for v := uint64(1); v <= latest.Version; v++ {
		prev, cur := sums[v-1], sums[v]
		if cur.lastSeq <= prev.lastSeq || cur.segments < prev.segments {
			t.Fatalf("v%d (LastSeq %d, %d segments) does not extend v%d (LastSeq %d, %d segments)",
				v, cur.lastSeq, cur.segments, v-1, prev.lastSeq, prev.segments)
		}
		for _, seg := range latest.Segments[prev.segments:cur.segments] {
			if seg.SeqMin <= prev.lastSeq || seg.SeqMax > cur.lastSeq {
				t.Fatalf("v%d: segment %s range %d..%d is not within (%d, %d]", v, seg.Key, seg.SeqMin, seg.SeqMax, prev.lastSeq, cur.lastSeq)
			}
		}
		for _, a := range acksOf[v] {
			if a.seq <= prev.lastSeq || a.seq+uint64(a.n)-1 > cur.lastSeq {
				t.Fatalf("write acknowledged in v%d with _seq %d..%d, which v%d did not add (%d, %d]",
					v, a.seq, a.seq+uint64(a.n)-1, v, prev.lastSeq, cur.lastSeq)
			}
		}
	}

	// Segments.
	referenced := map[string]bool{}
	perSegment := make([]int64, len(latest.Segments))
	for _, seq := range got {
		i, found := slices.BinarySearchFunc(latest.Segments, seq, func(s manifest.Segment, seq uint64) int {
			switch {
			case s.SeqMax < seq:
				return -1
			case s.SeqMin > seq:
				return 1
			}
			return 0
		})
		if !found {
			t.Fatalf("visible _seq %d is in no segment's range", seq)
		}
		perSegment[i]++
	}
	for i, seg := range latest.Segments {
		referenced[seg.Key] = true
		if i > 0 && seg.SeqMin <= latest.Segments[i-1].SeqMax {
			t.Fatalf("segment %d range %d..%d overlaps or precedes %d..%d", i, seg.SeqMin, seg.SeqMax, latest.Segments[i-1].SeqMin, latest.Segments[i-1].SeqMax)
		}
		if perSegment[i] != seg.Rows {
			t.Fatalf("segment %s: %d visible rows in its range %d..%d, manifest says it holds %d", seg.Key, perSegment[i], seg.SeqMin, seg.SeqMax, seg.Rows)
		}
	}
	for a, err := range b.List(ctx, manifest.SegmentPrefix(tb.ID, partition), "") {
		if err != nil {
			t.Fatal(err)
		}
		if !referenced[a.Key] {
			t.Fatalf("segment object %s is not referenced (rebase orphans must be deleted)", a.Key)
		}
	}
	return latest
}

// leanPartition is what checkDirectPartition reads of a partition manifest.
type leanPartition struct {
	Version   uint64 `json:"version"`
	TableID   string `json:"table_id"`
	Partition string `json:"partition"`
	LastSeq   uint64 `json:"last_seq"`
	Segments  []struct {
		Key    string `json:"key"`
		SeqMin uint64 `json:"seq_min"`
		SeqMax uint64 `json:"seq_max"`
	} `json:"segments"`
}

// leanLoad reads version v of l and decodes the fields of leanPartition;
// it must be of the partition of m0.
func leanLoad(ctx context.Context, b objstore.Bucket, l *manifest.Log[*manifest.Partition], m0 *manifest.Partition, v uint64) (*manifest.Partition, error) {
	rc, _, err := b.Get(ctx, l.VersionKey(v))
	if err != nil {
		return nil, fmt.Errorf("versions are not dense: v%d: %w", v, err)
	}
	defer rc.Close()
	var lp leanPartition
	if err := json.NewDecoder(rc).Decode(&lp); err != nil {
		return nil, fmt.Errorf("v%d: %w", v, err)
	}
	if lp.Version != v || lp.TableID != m0.TableID || lp.Partition != m0.Partition {
		return nil, fmt.Errorf("%s holds version %d of %s/%q", l.VersionKey(v), lp.Version, lp.TableID, lp.Partition)
	}
	m := &manifest.Partition{TableID: lp.TableID, Partition: lp.Partition, LastSeq: lp.LastSeq}
	m.Version = lp.Version
	for _, s := range lp.Segments {
		m.Segments = append(m.Segments, manifest.Segment{Key: s.Key, SeqMin: s.SeqMin, SeqMax: s.SeqMax})
	}
	return m, nil
}

// A single direct writer: each Write is one commit visible through
// Store.Scan, later changes of a key win, deletes hide rows, and a warm
// commit costs 4 requests.
func TestDirectRoundTrip(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		tb := testTable()
		w, groups := newDirect(t, b, DirectOptions{NodeID: "fn-1"})
		model := map[int64]row.Row{}
		batches := [][]Change{
			{upsert(1, "a", 1), upsert(2, "b", 2), upsert(3, "c", 3)},
			{upsert(2, "b2", 20), del(3), upsert(4, "d", 4)},
			{upsert(5, "e", 5), upsert(5, "e2", 50), del(1)}, // key 5 twice in one batch
		}
		var lastSeq uint64
		for i, batch := range batches {
			res, err := w.Write(ctx, tb, "alice", batch)
			if err != nil {
				t.Fatal(err)
			}
			if res.FirstSeq != lastSeq+1 || res.ManifestVersion != uint64(i+1) {
				t.Fatalf("write %d: %+v, want first _seq %d in v%d", i, res, lastSeq+1, i+1)
			}
			lastSeq = res.FirstSeq + uint64(len(batch)) - 1
			for _, c := range batch {
				if c.Deleted {
					delete(model, c.Values[0].Int64())
				} else {
					model[c.Values[0].Int64()] = c.Values
				}
			}
			h := &harness{t: t, store: readerStore(t, b)}
			if got := h.scan(tb, "alice", ScanOptions{}); !maps.EqualFunc(got, model, row.Row.Equal) {
				t.Fatalf("after write %d: %v, want %v", i, got, model)
			}
		}
		m, err := manifest.NewPartitionLog(b, tb.ID, "alice", manifest.LogOptions{}).Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.LastSeq != lastSeq || m.WriterEpoch != 0 || m.CommittedBy != "fn-1" {
			t.Fatalf("manifest LastSeq %d epoch %d by %q, want %d, 0, fn-1", m.LastSeq, m.WriterEpoch, m.CommittedBy, lastSeq)
		}
		gs := groups.all()
		if len(gs) != len(batches) {
			t.Fatalf("%d groups for %d sequential writes", len(gs), len(batches))
		}
		// Cold: hint GET, LIST, turn queue GET, segment PUT, manifest PUT
		// (no hint PUT for v1).
		if r := gs[0].Requests; r.Put != 2 || r.List != 1 || r.Get != 2 || r.Total() != 5 || gs[0].Attempts != 1 {
			t.Fatalf("cold commit: %d attempts, requests %v; want 1 attempt, 2 gets, 1 list and 2 puts", gs[0].Attempts, r)
		}
		// Warm: turn queue GET, segment PUT and manifest PUT on the
		// manifest of the writer's last commit.
		if r := gs[1].Requests; r.Put != 2 || r.Get != 1 || r.Total() != 3 || gs[1].Attempts != 1 {
			t.Fatalf("warm commit: %d attempts, requests %v; want 1 attempt, 1 get and 2 puts", gs[1].Attempts, r)
		}
		if g := gs[2]; g.Rows != 3 || g.SegmentRows != 2 {
			t.Fatalf("third group: %d changes, %d segment rows; want 3 and 2", g.Rows, g.SegmentRows)
		}
	})
}

// 32 goroutines of one process write one partition: they share group
// commits, and every row is there once with the _seq it was acknowledged
// with.
func TestDirectGroupCommit(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		tb := testTable()
		w, groups := newDirect(t, b, DirectOptions{})
		const writers, writes, rows = 32, 8, 3
		acks := make([][]ack, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for g := range writers {
			wg.Go(func() {
				for i := range writes {
					first := int64(g*1000 + i*rows)
					res, err := w.Write(ctx, tb, "p", rowsOf(first, rows, "g"))
					if err != nil {
						errs <- err
						return
					}
					acks[g] = append(acks[g], ack{first, rows, res.FirstSeq, res.ManifestVersion})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var all []ack
		for g, as := range acks {
			for i := 1; i < len(as); i++ {
				if as[i].seq <= as[i-1].seq || as[i].version <= as[i-1].version {
					t.Fatalf("writer %d: write %d got _seq %d in v%d after _seq %d in v%d", g, i, as[i].seq, as[i].version, as[i-1].seq, as[i-1].version)
				}
			}
			all = append(all, as...)
		}
		gs := groups.all()
		maxBatches, batches := 0, 0
		for _, g := range gs {
			if g.Err != nil {
				t.Fatal(g.Err)
			}
			maxBatches = max(maxBatches, g.Batches)
			batches += g.Batches
		}
		if batches != writers*writes || len(gs) >= writers*writes || maxBatches < 2 {
			t.Fatalf("%d groups for %d writes (%d batches), largest %d batches: no group commit", len(gs), writers*writes, batches, maxBatches)
		}
		checkDirectPartition(t, b, tb, "p", all, uint64(len(gs)))
		t.Logf("%d writes in %d commits, largest group %d batches", writers*writes, len(gs), maxBatches)
	})
}

// gate blocks the first manifest put of a Faulty bucket until released,
// and reports when it is blocked.
type gate struct {
	blocked, release chan struct{}
	once             sync.Once
}

func newGate(f *objstore.Faulty) *gate {
	g := &gate{blocked: make(chan struct{}), release: make(chan struct{})}
	f.SetHook(func(ctx context.Context, op, key string) error {
		if op == objstore.OpPut && strings.Contains(key, "/v/") {
			fired := false
			g.once.Do(func() { fired = true })
			if fired {
				close(g.blocked)
				<-g.release
			}
		}
		return nil
	})
	return g
}

// queued waits until n batches wait in p's queue.
func queued(t *testing.T, w *DirectWriter, tb *manifest.Table, partition string, n int) {
	t.Helper()
	p := w.partition(tb.ID, partition)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		got := len(p.mu.queue)
		p.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d batches queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type writeResult struct {
	res DirectResult
	err error
}

// startWrites starts one Write per batch, in order: each starts once the
// previous one is queued behind the blocked group.
func startWrites(t *testing.T, w *DirectWriter, tb *manifest.Table, partition string, batches [][]Change) []chan writeResult {
	t.Helper()
	out := make([]chan writeResult, len(batches))
	for i, batch := range batches {
		out[i] = make(chan writeResult, 1)
		go func() {
			res, err := w.Write(context.Background(), tb, partition, batch)
			out[i] <- writeResult{res, err}
		}()
		queued(t, w, tb, partition, i+1)
	}
	return out
}

// Batches queued while a group commits form the next group, in arrival
// order: consecutive _seq ranges, and the later change of a key wins.
func TestDirectGroupOrder(t *testing.T) {
	ctx := context.Background()
	tb := testTable()
	f := objstore.NewFaulty(objstore.NewMem())
	w, groups := newDirect(t, f, DirectOptions{})
	g := newGate(f)
	first := make(chan writeResult, 1)
	go func() {
		res, err := w.Write(ctx, tb, "", []Change{upsert(100, "first", 1)})
		first <- writeResult{res, err}
	}()
	<-g.blocked
	batches := [][]Change{
		{upsert(1, "a", 1), upsert(2, "a", 1)},
		{upsert(1, "b", 2), del(2), upsert(3, "b", 2)},
		{upsert(3, "c", 3)},
	}
	results := startWrites(t, w, tb, "", batches)
	close(g.release)
	if r := <-first; r.err != nil || r.res.FirstSeq != 1 || r.res.ManifestVersion != 1 {
		t.Fatalf("first write: %+v %v", r.res, r.err)
	}
	next := uint64(2)
	for i, ch := range results {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.res.FirstSeq != next || r.res.ManifestVersion != 2 {
			t.Fatalf("batch %d: %+v, want first _seq %d in v2", i, r.res, next)
		}
		next += uint64(len(batches[i]))
	}
	gs := groups.all()
	if len(gs) != 2 || gs[1].Batches != 3 || gs[1].Rows != 6 || gs[1].SegmentRows != 3 {
		t.Fatalf("groups: %+v", gs)
	}
	got := map[int64]row.Version{}
	for v, err := range readerStore(t, f).Scan(ctx, tb, "", ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got[v.Values[0].Int64()] = v
	}
	// _seq: 1 first; 2,3 batch 0; 4,5,6 batch 1; 7 batch 2.
	want := map[int64]struct {
		seq  uint64
		name string
	}{100: {1, "first"}, 1: {4, "b"}, 3: {7, "c"}}
	if len(got) != len(want) {
		t.Fatalf("rows %v", got)
	}
	for id, w := range want {
		if g := got[id]; g.Seq != w.seq || g.Values[1].Str() != w.name {
			t.Fatalf("id %d: _seq %d %q, want %d %q", id, g.Seq, g.Values[1].Str(), w.seq, w.name)
		}
	}
}

// Two writers on one bucket: the one whose base moved rebases its segment
// above the other's commit, deletes its orphan, and both commits stand.
func TestDirectConflictRebase(t *testing.T) {
	ctx := context.Background()
	tb := testTable()
	mem := objstore.NewMem()
	fa := objstore.NewFaulty(mem)
	a, ga := newDirect(t, fa, DirectOptions{NodeID: "a"})
	bw, _ := newDirect(t, mem, DirectOptions{NodeID: "b"})
	var bres DirectResult
	var berr error
	once := sync.Once{}
	fa.SetHook(func(ctx context.Context, op, key string) error {
		if op == objstore.OpPut && strings.Contains(key, "/seg/") {
			// A has built its segment on LastSeq 0: B commits first.
			once.Do(func() { bres, berr = bw.Write(ctx, tb, "u", rowsOf(100, 5, "b")) })
		}
		return nil
	})
	ares, err := a.Write(ctx, tb, "u", rowsOf(1, 3, "a"))
	if err != nil || berr != nil {
		t.Fatal(err, berr)
	}
	if bres.FirstSeq != 1 || bres.ManifestVersion != 1 || ares.FirstSeq != 6 || ares.ManifestVersion != 2 {
		t.Fatalf("b %+v a %+v; want b at _seq 1 in v1, a rebased to _seq 6 in v2", bres, ares)
	}
	st := ga.all()[0]
	if st.Attempts != 2 || st.Requests.Delete != 1 {
		t.Fatalf("a's group: %d attempts, requests %v; want 2 attempts and 1 delete", st.Attempts, st.Requests)
	}
	checkDirectPartition(t, mem, tb, "u", []ack{{100, 5, 1, 1}, {1, 3, 6, 2}}, 2)
	t.Logf("rebased commit: %d attempts, requests %v", st.Attempts, st.Requests)
}

// Two writers take turns on one partition: each commit finds the writer's
// cached manifest stale (the other committed since). The manifest put on it
// fails, the writer rebases on the latest version and commits; steady
// state between conflicts is one segment PUT, one manifest PUT and the GET
// of the turn queue.
func TestDirectStaleHead(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		tb := testTable()
		a, ga := newDirect(t, b, DirectOptions{NodeID: "a"})
		bw, gb := newDirect(t, b, DirectOptions{NodeID: "b"})
		var acks []ack
		write := func(w *DirectWriter, first int64, wantVersion uint64) {
			t.Helper()
			res, err := w.Write(ctx, tb, "u", rowsOf(first, 2, "x"))
			if err != nil {
				t.Fatal(err)
			}
			if res.ManifestVersion != wantVersion {
				t.Fatalf("write of %d committed v%d, want v%d", first, res.ManifestVersion, wantVersion)
			}
			acks = append(acks, ack{first, 2, res.FirstSeq, res.ManifestVersion})
		}
		write(a, 0, 1)
		write(a, 10, 2)
		write(bw, 20, 3)
		write(a, 30, 4) // a's cached v2 is stale
		write(a, 40, 5)
		write(bw, 50, 6) // so is b's v3

		for i, st := range []GroupStats{ga.all()[2], gb.all()[1]} {
			// Turn queue GET, segment PUT, manifest PUT (taken),
			// read-back GET, LIST, orphan DELETE, segment PUT, manifest
			// PUT; b, two versions behind, also loads the latest. One
			// lost race does not queue the writer.
			want := objstore.OpCounts{Put: 4, Get: 2 + int64(i), List: 1, Delete: 1}
			if st.Attempts != 2 || st.Requests != want {
				t.Fatalf("commit v%d on a stale manifest: %d attempts, requests %v; want 2 attempts and %v",
					st.ManifestVersion, st.Attempts, st.Requests, want)
			}
		}
		for _, st := range []GroupStats{ga.all()[1], ga.all()[3]} {
			if st.Attempts != 1 || st.Requests != (objstore.OpCounts{Put: 2, Get: 1}) {
				t.Fatalf("commit v%d on a fresh manifest: %d attempts, requests %v; want 1 attempt, 1 get and 2 puts",
					st.ManifestVersion, st.Attempts, st.Requests)
			}
		}
		checkDirectPartition(t, b, tb, "u", acks, 6)
	})
}

// Several writers, each with several goroutines, on one partition of a
// real bucket: conflicts and group commits mixed.
func TestDirectConcurrentWriters(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		tb := testTable()
		const writers, goroutines, writes, rows = 4, 4, 10, 2
		var (
			mu   sync.Mutex
			acks []ack
			all  []*groupLog
		)
		var wg sync.WaitGroup
		errs := make(chan error, writers*goroutines)
		for wi := range writers {
			w, g := newDirect(t, b, DirectOptions{NodeID: fmt.Sprint("w", wi), MaxAttempts: 1000})
			all = append(all, g)
			for gi := range goroutines {
				wg.Go(func() {
					for i := range writes {
						first := int64(((wi*goroutines+gi)*writes + i) * rows)
						res, err := w.Write(ctx, tb, "p", rowsOf(first, rows, "x"))
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						acks = append(acks, ack{first, rows, res.FirstSeq, res.ManifestVersion})
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		commits, attempts := 0, 0
		for _, g := range all {
			for _, st := range g.all() {
				commits++
				attempts += st.Attempts
			}
		}
		checkDirectPartition(t, b, tb, "p", acks, uint64(commits))
		t.Logf("%d writes, %d commits, %d attempts", len(acks), commits, attempts)
	})
}

// ambiguousPut makes the next manifest put of f land but report a
// failure; with unsettled, every later put and get of that version key
// fails too, so the commit stays unknown.
func ambiguousPut(f *objstore.Faulty, landed, unsettled bool) {
	var mu sync.Mutex
	target := ""
	f.SetHook(func(ctx context.Context, op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if target == "" && op == objstore.OpPut && strings.Contains(key, "/v/") {
			target = key
			if landed {
				f.FailNextAfter(objstore.OpPut, 1, errors.New("connection reset"))
				return nil
			}
			return errors.New("timeout")
		}
		if key == target && unsettled && (op == objstore.OpPut || op == objstore.OpGet) {
			return errors.New("timeout")
		}
		return nil
	})
}

// A manifest put whose outcome is unknown: Log.Commit settles it when it
// can; otherwise every Write of the group gets ErrCommitUnknown, the
// segment is kept, and no row is ever committed twice.
func TestDirectAmbiguousCommit(t *testing.T) {
	cases := []struct {
		name              string
		landed, unsettled bool
	}{
		{"landed-settled", true, false},
		{"landed-unknown", true, true},
		{"lost-unknown", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			tb := testTable()
			mem := objstore.NewMem()
			f := objstore.NewFaulty(mem)
			w, groups := newDirect(t, f, DirectOptions{CommitTimeout: time.Second})
			// The first write commits; three batches queue behind it and
			// commit as one group, whose manifest put is ambiguous.
			g := newGate(f)
			first := make(chan writeResult, 1)
			go func() {
				res, err := w.Write(ctx, tb, "u", rowsOf(1, 2, "first"))
				first <- writeResult{res, err}
			}()
			<-g.blocked
			results := startWrites(t, w, tb, "u", [][]Change{rowsOf(10, 2, "q"), rowsOf(20, 2, "q"), rowsOf(30, 2, "q")})
			ambiguousPut(f, tc.landed, tc.unsettled) // replaces the gate's hook
			close(g.release)
			r0 := <-first
			if r0.err != nil {
				t.Fatal(r0.err)
			}
			acks := []ack{{1, 2, r0.res.FirstSeq, r0.res.ManifestVersion}}
			var unknown []ack
			for i, ch := range results {
				r := <-ch
				switch {
				case !tc.unsettled && r.err == nil:
					acks = append(acks, ack{int64(10 * (i + 1)), 2, r.res.FirstSeq, r.res.ManifestVersion})
				case tc.unsettled && errors.Is(r.err, manifest.ErrCommitUnknown):
					unknown = append(unknown, ack{first: int64(10 * (i + 1)), n: 2})
				default:
					t.Fatalf("batch %d: %+v %v", i, r.res, r.err)
				}
			}
			gs := groups.all()
			if len(gs) != 2 || gs[1].Batches != 3 {
				t.Fatalf("groups %+v", gs)
			}
			if tc.unsettled {
				var cu *manifest.CommitUnknownError
				if !errors.As(gs[1].Err, &cu) {
					t.Fatalf("group error %v is not a CommitUnknownError", gs[1].Err)
				}
				// The segment was kept: the manifest may reference it.
				segs := 0
				for a, err := range mem.List(ctx, manifest.SegmentPrefix(tb.ID, "u"), "") {
					if err != nil {
						t.Fatal(err)
					}
					segs++
					_ = a
				}
				if segs != 2 {
					t.Fatalf("%d segment objects after an unknown commit, want 2 (none deleted)", segs)
				}
			}
			f.Reset()
			// The writer goes on: its next group rebases above whatever
			// landed.
			res, err := w.Write(ctx, tb, "u", rowsOf(40, 2, "after"))
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, ack{40, 2, res.FirstSeq, res.ManifestVersion})
			if tc.landed && tc.unsettled {
				// The unknown commit landed as v2 with _seq 3..8.
				for i := range unknown {
					unknown[i].seq, unknown[i].version = 3+uint64(2*i), 2
				}
				acks = append(acks, unknown...)
			}
			wantVersions := uint64(3)
			if !tc.landed {
				wantVersions = 2
			}
			if res.ManifestVersion != wantVersions {
				t.Fatalf("next write committed v%d, want v%d", res.ManifestVersion, wantVersions)
			}
			if !tc.landed {
				// Its orphan is left for garbage collection; remove it so
				// that the check below can demand no unreferenced objects.
				m := latestManifest(t, mem, tb, "u")
				var orphans []string
				for a := range mem.List(ctx, manifest.SegmentPrefix(tb.ID, "u"), "") {
					if !slices.ContainsFunc(m.Segments, func(s manifest.Segment) bool { return s.Key == a.Key }) {
						orphans = append(orphans, a.Key)
					}
				}
				if len(orphans) != 1 {
					t.Fatalf("orphans %v, want the one segment of the lost commit", orphans)
				}
				_ = mem.Delete(ctx, orphans[0])
			}
			checkDirectPartition(t, mem, tb, "u", acks, wantVersions)
		})
	}
}

// latestManifest returns the latest manifest of a partition.
func latestManifest(t *testing.T, b objstore.Bucket, tb *manifest.Table, partition string) *manifest.Partition {
	t.Helper()
	m, err := manifest.NewPartitionLog(b, tb.ID, partition, manifest.LogOptions{}).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A Write cancelled while queued writes nothing; a group commit outlives
// the cancelled ctx of its leader.
func TestDirectCancel(t *testing.T) {
	tb := testTable()
	f := objstore.NewFaulty(objstore.NewMem())
	w, _ := newDirect(t, f, DirectOptions{})
	g := newGate(f)
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	first := make(chan writeResult, 1)
	go func() {
		res, err := w.Write(leaderCtx, tb, "", rowsOf(1, 1, "lead"))
		first <- writeResult{res, err}
	}()
	<-g.blocked
	ctx, cancel := context.WithCancel(context.Background())
	queuedRes := make(chan writeResult, 1)
	go func() {
		res, err := w.Write(ctx, tb, "", rowsOf(2, 1, "queued"))
		queuedRes <- writeResult{res, err}
	}()
	queued(t, w, tb, "", 1)
	cancel()
	if r := <-queuedRes; !errors.Is(r.err, context.Canceled) || errors.Is(r.err, manifest.ErrCommitUnknown) {
		t.Fatalf("cancelled queued write: %v, want context.Canceled only", r.err)
	}
	cancelLeader()
	close(g.release)
	if r := <-first; r.err != nil || r.res.ManifestVersion != 1 {
		t.Fatalf("leader with cancelled ctx: %+v %v; want its group committed", r.res, r.err)
	}
	checkDirectPartition(t, f, tb, "", []ack{{1, 1, 1, 1}}, 1)
}

// A partition is written by a node or by direct writers, not both: each
// refuses to commit over the other.
func TestDirectAndNodeDoNotMix(t *testing.T) {
	ctx := context.Background()
	tb := testTable()
	t.Run("direct after node", func(t *testing.T) {
		b := objstore.NewMem()
		h := newHarness(t, b)
		h.store.opts.WriterEpoch = 1
		if _, err := h.store.Write(ctx, tb, "u", rowsOf(1, 2, "node")); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Flush(ctx, tb, "u"); err != nil {
			t.Fatal(err)
		}
		w, _ := newDirect(t, b, DirectOptions{})
		if _, err := w.Write(ctx, tb, "u", rowsOf(10, 1, "direct")); !errors.Is(err, manifest.ErrFenced) {
			t.Fatalf("direct write to a node's partition: %v, want ErrFenced", err)
		}
		for a := range b.List(ctx, manifest.SegmentPrefix(tb.ID, "u"), "") {
			if !strings.Contains(a.Key, fmt.Sprintf("%020d-%020d", 1, 2)) {
				t.Fatalf("fenced direct write left segment %s", a.Key)
			}
		}
	})
	t.Run("node after direct", func(t *testing.T) {
		b := objstore.NewMem()
		h := newHarness(t, b)
		h.store.opts.WriterEpoch = 1
		if _, err := h.store.Write(ctx, tb, "u", rowsOf(1, 2, "node")); err != nil {
			t.Fatal(err)
		}
		w, _ := newDirect(t, b, DirectOptions{})
		if _, err := w.Write(ctx, tb, "u", rowsOf(10, 1, "direct")); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Flush(ctx, tb, "u"); err == nil || !strings.Contains(err.Error(), "advanced") {
			t.Fatalf("node flush after a direct commit: %v, want a refusal", err)
		}
		// The refused flush's segment was deleted: only the direct one is left.
		n := 0
		for range b.List(ctx, manifest.SegmentPrefix(tb.ID, "u"), "") {
			n++
		}
		if n != 1 {
			t.Fatalf("%d segment objects after the refused flush, want 1", n)
		}
		if _, err := h.store.Flush(ctx, tb, "u"); err == nil || !strings.Contains(err.Error(), "advanced") {
			t.Fatalf("second node flush after a direct commit: %v, want a refusal", err)
		}
	})
}

func TestDirectOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		opts DirectOptions
		want string
	}{
		{"defaults", DirectOptions{}, ""},
		{"group rows", DirectOptions{MaxGroupRows: -1}, "MaxGroupRows"},
		{"group bytes", DirectOptions{MaxGroupBytes: -1}, "MaxGroupBytes"},
		{"attempts", DirectOptions{MaxAttempts: -2}, "MaxAttempts"},
		{"backoff", DirectOptions{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "MaxBackoff"},
		{"timeout", DirectOptions{CommitTimeout: -time.Second}, "CommitTimeout"},
		{"segment", DirectOptions{Segment: segment.WriterOptions{Compression: "lz4"}}, "ompression"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDirectWriter(objstore.NewMem(), tc.opts)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDirectRejectsBadBatches(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewCounting(objstore.NewMem())
	w, _ := newDirect(t, b, DirectOptions{})
	tb := testTable()
	if _, err := w.Write(ctx, tb, "", []Change{upsert(1, "a", 1), {Values: row.Row{row.Null(), row.Null(), row.Null()}}}); !errors.Is(err, ErrInvalidRow) {
		t.Fatalf("null key: %v", err)
	}
	if res, err := w.Write(ctx, tb, "", nil); err != nil || res != (DirectResult{}) {
		t.Fatalf("empty batch: %+v %v", res, err)
	}
	nokey := testTable()
	nokey.PrimaryKey = nil
	if _, err := w.Write(ctx, nokey, "", rowsOf(1, 1, "x")); !errors.Is(err, ErrNoPrimaryKey) {
		t.Fatalf("no primary key: %v", err)
	}
	if n := b.Counts().Total(); n != 0 {
		t.Fatalf("rejected batches made %d requests", n)
	}
}

// BenchmarkDirectCommit measures direct writes of 10 rows each: rows/s,
// mean latency of a Write (ms/write), group commits per Write and object
// store requests per group commit, with one writing goroutine and with 16
// sharing one DirectWriter (group commit).
// The partition changes every 256 commits so that the manifest (rewritten
// by every commit) stays small.
func BenchmarkDirectCommit(b *testing.B) {
	buckets := []struct {
		name string
		open func(b *testing.B) objstore.Bucket
	}{
		{"mem", func(*testing.B) objstore.Bucket { return objstore.NewMem() }},
		{"fs", func(b *testing.B) objstore.Bucket { return objstoretest.NewFSForTest(b) }},
		{"s3", func(b *testing.B) objstore.Bucket { return objstoretest.NewS3ForTest(b) }},
	}
	for _, bk := range buckets {
		b.Run(bk.name, func(b *testing.B) {
			for _, writers := range []int{1, 16} {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					benchDirect(b, bk.open(b), writers)
				})
			}
		})
	}
}

func benchDirect(b *testing.B, bucket objstore.Bucket, writers int) {
	const rows = 10
	ctx := context.Background()
	c := objstore.NewCounting(bucket)
	var commits atomic.Int64
	w, err := NewDirectWriter(c, DirectOptions{OnGroup: func(GroupStats) { commits.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	tb := testTable()
	var next, latency atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				partition := fmt.Sprint("p", commits.Load()/256)
				t0 := time.Now()
				if _, err := w.Write(ctx, tb, partition, rowsOf(i*rows, rows, "bench")); err != nil {
					b.Error(err)
					return
				}
				latency.Add(int64(time.Since(t0)))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	n := commits.Load()
	b.ReportMetric(float64(b.N*rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(latency.Load())/float64(b.N)/1e6, "ms/write")
	b.ReportMetric(float64(n)/float64(b.N), "commits/op")
	b.ReportMetric(float64(c.Counts().Total())/float64(n), "requests/commit")
}

// A serverless function writes through a DirectWriter: each Write returns
// once its rows are committed, and any reader of the bucket sees them.
func ExampleDirectWriter() {
	ctx := context.Background()
	bucket := objstore.NewMem()
	w, err := NewDirectWriter(bucket, DirectOptions{NodeID: "fn-1"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	items := &manifest.Table{
		ID: "tbl01", Namespace: "app", Name: "items", Type: manifest.TableUser,
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "name", Type: manifest.Text, Nullable: true},
		},
		PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 3,
	}
	for _, batch := range [][]Change{
		{{Values: row.Row{row.BigInt(1), row.Text("apple")}}, {Values: row.Row{row.BigInt(2), row.Text("pear")}}},
		{{Deleted: true, Values: row.Row{row.BigInt(1), row.Null()}}},
	} {
		res, err := w.Write(ctx, items, "alice", batch)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("first _seq %d in manifest v%d\n", res.FirstSeq, res.ManifestVersion)
	}
	m, err := manifest.NewPartitionLog(bucket, items.ID, "alice", manifest.LogOptions{}).Latest(ctx)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("LastSeq %d, %d segments\n", m.LastSeq, len(m.Segments))
	// Output:
	// first _seq 1 in manifest v1
	// first _seq 3 in manifest v2
	// LastSeq 3, 2 segments
}
