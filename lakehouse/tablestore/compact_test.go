package tablestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// testClock is a settable clock for the Store and for agedBucket.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// agedBucket reports as LastModified of each object it stored the test
// clock's time of the Put, so that tests set object ages on every backend.
type agedBucket struct {
	objstore.Bucket
	clock *testClock
	mu    sync.Mutex
	born  map[string]time.Time
}

func newAgedBucket(b objstore.Bucket, c *testClock) *agedBucket {
	return &agedBucket{Bucket: b, clock: c, born: map[string]time.Time{}}
}

func (b *agedBucket) age(a objstore.Attrs) objstore.Attrs {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.born[a.Key]; ok {
		a.LastModified = t
	}
	return a
}

func (b *agedBucket) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	a, err := b.Bucket.Put(ctx, key, data, opts)
	if err == nil {
		b.mu.Lock()
		b.born[key] = b.clock.Now()
		b.mu.Unlock()
		a = b.age(a)
	}
	return a, err
}

func (b *agedBucket) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Attrs, error) {
	rc, a, err := b.Bucket.Get(ctx, key)
	return rc, b.age(a), err
}

func (b *agedBucket) Attributes(ctx context.Context, key string) (objstore.Attrs, error) {
	a, err := b.Bucket.Attributes(ctx, key)
	return b.age(a), err
}

func (b *agedBucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.Attrs, error] {
	return func(yield func(objstore.Attrs, error) bool) {
		for a, err := range b.Bucket.List(ctx, prefix, startAfter) {
			if err == nil {
				a = b.age(a)
			}
			if !yield(a, err) {
				return
			}
		}
	}
}

// newClockedHarness is newHarness with a Store that uses clock.
func newClockedHarness(t *testing.T, b objstore.Bucket, clock func() time.Time) *harness {
	h := newHarness(t, b)
	h.store = New(h.bucket, h.buf, Options{NodeID: "node-test", Clock: clock})
	return h
}

// apply records changes in model.
func apply(model map[int64]row.Row, changes []Change) {
	for _, c := range changes {
		if c.Deleted {
			delete(model, c.Values[0].Int64())
		} else {
			model[c.Values[0].Int64()] = c.Values
		}
	}
}

// mustWrite writes changes to partition and records them in model.
func (h *harness) mustWrite(tb *manifest.Table, partition string, model map[int64]row.Row, changes ...Change) {
	h.t.Helper()
	if _, err := h.store.Write(context.Background(), tb, partition, changes); err != nil {
		h.t.Fatal(err)
	}
	apply(model, changes)
}

func (h *harness) mustFlush(tb *manifest.Table, partition string) FlushResult {
	h.t.Helper()
	res, err := h.store.Flush(context.Background(), tb, partition)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// partitionManifest returns the latest manifest of a partition, validated.
func (h *harness) partitionManifest(tb *manifest.Table, partition string) *manifest.Partition {
	h.t.Helper()
	m, err := h.store.PartitionLog(tb.ID, partition).Latest(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) checkScan(tb *manifest.Table, partition string, opts ScanOptions, want map[int64]row.Row) {
	h.t.Helper()
	if got := h.scan(tb, partition, opts); !maps.EqualFunc(got, want, row.Row.Equal) {
		h.t.Fatalf("scan %+v differs from model\n got %v\nwant %v", opts, got, want)
	}
}

// segmentKeys lists the segment objects of a partition.
func segmentKeys(t testing.TB, b objstore.Bucket, tb *manifest.Table, partition string) []string {
	t.Helper()
	return objstoretest.Keys(t, b, manifest.SegmentPrefix(tb.ID, partition), "")
}

func keysOf(segs []manifest.Segment) []string {
	var out []string
	for _, s := range segs {
		out = append(out, s.Key)
	}
	return out
}

// segmentContent reads every version of a segment object.
func segmentContent(t testing.TB, b objstore.Bucket, tb *manifest.Table, key string) (*segment.Reader, []row.Version) {
	t.Helper()
	data, _ := objstoretest.Read(t, b, key)
	r, err := segment.Open(bytes.NewReader(data), int64(len(data)), key, tb)
	if err != nil {
		t.Fatal(err)
	}
	var out []row.Version
	for v, err := range r.Versions() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return r, out
}

func TestPlanCompaction(t *testing.T) {
	sizes := func(bs ...int64) []manifest.Segment {
		var out []manifest.Segment
		for i, b := range bs {
			out = append(out, manifest.Segment{Key: fmt.Sprint("s", i), Bytes: b, SeqMin: uint64(10*i + 1), SeqMax: uint64(10*i + 10)})
		}
		return out
	}
	type want struct {
		first, n int
		groups   [][2]int
	}
	cases := []struct {
		name  string
		segs  []manifest.Segment
		opts  CompactOptions
		want  *want // nil: nothing to do
		input string
	}{
		{name: "empty", opts: CompactOptions{TargetBytes: 100}},
		{name: "too few", segs: sizes(10, 10, 10), opts: CompactOptions{TargetBytes: 100}},
		{name: "all small, one output", segs: sizes(10, 10, 10, 10), opts: CompactOptions{TargetBytes: 100},
			want: &want{0, 4, [][2]int{{0, 4}}}},
		{name: "half the target is not small", segs: sizes(50, 10, 10, 10, 10, 50), opts: CompactOptions{TargetBytes: 100},
			want: &want{1, 4, [][2]int{{0, 4}}}},
		{name: "too few between big ones", segs: sizes(10, 10, 10, 90, 10, 10, 10), opts: CompactOptions{TargetBytes: 100}},
		{name: "longest run wins", segs: sizes(10, 10, 60, 10, 10, 10), opts: CompactOptions{TargetBytes: 100, MinSegments: 2},
			want: &want{3, 3, [][2]int{{0, 3}}}},
		{name: "earliest of equal runs", segs: sizes(10, 10, 60, 10, 10), opts: CompactOptions{TargetBytes: 100, MinSegments: 2},
			want: &want{0, 2, [][2]int{{0, 2}}}},
		{name: "split into target-sized outputs", segs: sizes(40, 40, 40, 40, 40), opts: CompactOptions{TargetBytes: 100, MinSegments: 2},
			want: &want{0, 5, [][2]int{{0, 2}, {2, 4}, {4, 5}}}},
		{name: "exact fit", segs: sizes(25, 25, 25, 25, 25), opts: CompactOptions{TargetBytes: 100, MinSegments: 2},
			want: &want{0, 5, [][2]int{{0, 4}, {4, 5}}}},
		{name: "cut to MaxSegments", segs: sizes(1, 1, 1, 1, 1, 1, 1), opts: CompactOptions{TargetBytes: 100, MinSegments: 2, MaxSegments: 3},
			want: &want{0, 3, [][2]int{{0, 3}}}},
		{name: "cut to MaxInputBytes", segs: sizes(40, 40, 40, 40, 40, 40), opts: CompactOptions{TargetBytes: 100, MinSegments: 2, MaxInputBytes: 130},
			want: &want{0, 3, [][2]int{{0, 2}, {2, 3}}}},
		{name: "default caps hold at least MinSegments", segs: sizes(49, 49, 49, 49, 49), opts: CompactOptions{TargetBytes: 100},
			want: &want{0, 4, [][2]int{{0, 2}, {2, 4}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.EnsureDefaults()
			if err := opts.Validate(); err != nil {
				t.Fatal(err)
			}
			p, ok := planCompaction(tc.segs, opts)
			if tc.want == nil {
				if ok {
					t.Fatalf("planned %+v, want nothing", p)
				}
				return
			}
			if !ok {
				t.Fatal("planned nothing")
			}
			if p.first != tc.want.first || len(p.run) != tc.want.n || !slices.Equal(p.groups, tc.want.groups) {
				t.Fatalf("plan first=%d n=%d groups=%v, want first=%d n=%d groups=%v",
					p.first, len(p.run), p.groups, tc.want.first, tc.want.n, tc.want.groups)
			}
			if !slices.EqualFunc(p.run, tc.segs[p.first:p.first+len(p.run)], func(a, b manifest.Segment) bool { return a.Key == b.Key }) {
				t.Fatalf("run is not the manifest's consecutive segments")
			}
		})
	}
}

func TestCompactOptionsValidate(t *testing.T) {
	bad := map[string]CompactOptions{
		"one segment":       {MinSegments: 1},
		"max below min":     {MinSegments: 8, MaxSegments: 4},
		"input cap too low": {TargetBytes: 100, MinSegments: 4, MaxInputBytes: 150},
		"negative ttl":      {TombstoneRetention: -time.Second},
	}
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		o := bad[name]
		o.EnsureDefaults()
		if err := o.Validate(); err == nil {
			t.Errorf("%s: %+v validated", name, o)
		}
	}
	var o CompactOptions
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.TargetBytes != 128<<20 || o.MinSegments != 4 || o.TombstoneRetention != 24*time.Hour {
		t.Fatalf("defaults: %+v", o)
	}
}

// A random workload of upserts, deletes, flushes and compactions: every
// scan matches the model, and every manifest version still reads as it did
// when it was committed.
func TestCompactPreservesScan(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		h := newHarness(t, b)
		tb := testTable()
		model := map[int64]row.Row{}
		snapshots := map[uint64]map[int64]row.Row{} // manifest version → rows
		r := rand.New(rand.NewPCG(11, 13))
		const steps = 200 // the same workload on every backend
		var rowsIn, rowsOut, tombstonesDropped int64
		compactions, split := 0, 0
		for step := 0; step < steps; step++ {
			switch op := r.IntN(20); {
			case op < 12:
				var batch []Change
				for i := 0; i < 1+r.IntN(6); i++ {
					id := r.Int64N(50)
					if r.IntN(4) == 0 {
						batch = append(batch, del(id))
					} else {
						batch = append(batch, upsert(id, fmt.Sprintf("n%d-%d", id, step), int32(step)))
					}
				}
				h.mustWrite(tb, "alice", model, batch...)
			case op < 17:
				res := h.mustFlush(tb, "alice")
				snapshots[res.ManifestVersion] = maps.Clone(model)
			default:
				before, err := h.store.latest(ctx, tb, "alice")
				if err != nil {
					t.Fatal(err)
				}
				// Small targets so that runs split into several outputs;
				// tombstones dropped as soon as that is allowed, or kept.
				opts := CompactOptions{TargetBytes: 5 << 10, MinSegments: 2, TombstoneRetention: time.Nanosecond}
				if r.IntN(2) == 0 {
					opts.TombstoneRetention = time.Hour
				}
				res, err := h.store.Compact(ctx, tb, "alice", opts)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if res.SegmentsIn == 0 {
					if res.ManifestVersion != before.Version {
						t.Fatalf("step %d: nothing compacted but version %d -> %d", step, before.Version, res.ManifestVersion)
					}
					break
				}
				compactions++
				rowsIn, rowsOut = rowsIn+res.RowsIn, rowsOut+res.RowsOut
				tombstonesDropped += res.TombstonesDropped
				if res.SegmentsOut > 1 {
					split++
				}
				after := h.partitionManifest(tb, "alice")
				if after.Version != before.Version+1 || res.ManifestVersion != after.Version {
					t.Fatalf("step %d: compaction committed v%d (result v%d) on v%d", step, after.Version, res.ManifestVersion, before.Version)
				}
				if got, want := len(after.Segments), len(before.Segments)-res.SegmentsIn+res.SegmentsOut; got != want || res.SegmentsOut >= res.SegmentsIn {
					t.Fatalf("step %d: %d segments -> %d (in %d, out %d)", step, len(before.Segments), got, res.SegmentsIn, res.SegmentsOut)
				}
				if after.LastSeq != before.LastSeq {
					t.Fatalf("step %d: LastSeq moved %d -> %d", step, before.LastSeq, after.LastSeq)
				}
				if s, ok := snapshots[before.Version]; ok || before.Version == 0 {
					snapshots[after.Version] = s
				}
				// The replaced objects are still there for older versions.
				for _, seg := range before.Segments {
					if _, err := b.Attributes(ctx, seg.Key); err != nil {
						t.Fatalf("step %d: input %s: %v", step, seg.Key, err)
					}
				}
			}
			h.checkScan(tb, "alice", ScanOptions{}, model)
		}
		t.Logf("%d compactions (%d with several outputs), rows %d -> %d, %d tombstones dropped", compactions, split, rowsIn, rowsOut, tombstonesDropped)
		if compactions < 3 || split == 0 || tombstonesDropped == 0 || rowsOut >= rowsIn {
			t.Fatal("the workload should compact, split outputs, drop tombstones and superseded versions")
		}
		for v, want := range snapshots {
			h.checkScan(tb, "alice", ScanOptions{ManifestVersion: v}, want)
		}
	})
}

// Superseded versions are dropped and only the winners remain.
func TestCompactDropsSupersededVersions(t *testing.T) {
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	model := map[int64]row.Row{}
	for round := 0; round < 5; round++ {
		h.mustWrite(tb, "", model, upsert(1, fmt.Sprint("v", round), int32(round)), upsert(int64(10+round), "x", 0))
		h.mustFlush(tb, "")
	}
	res, err := h.store.Compact(context.Background(), tb, "", CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SegmentsIn != 5 || res.SegmentsOut != 1 || res.RowsIn != 10 || res.RowsOut != 6 {
		t.Fatalf("result %+v, want 5 segments of 10 rows -> 1 of 6", res)
	}
	m := h.partitionManifest(tb, "")
	if len(m.Segments) != 1 || m.Segments[0].SeqMin != 1 || m.Segments[0].SeqMax != 10 || m.Segments[0].Rows != 6 {
		t.Fatalf("manifest segments %+v", m.Segments)
	}
	_, versions := segmentContent(t, h.bucket, tb, m.Segments[0].Key)
	for _, v := range versions {
		if v.Values[0].Int64() == 1 && v.Seq != 9 {
			t.Fatalf("key 1 kept version _seq %d, want the latest (9)", v.Seq)
		}
	}
	h.checkScan(tb, "", ScanOptions{}, model)
}

// Compaction with nothing to do writes and commits nothing.
func TestCompactNothingToDo(t *testing.T) {
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	ctx := context.Background()
	if res, err := h.store.Compact(ctx, tb, "", CompactOptions{}); err != nil || res.SegmentsIn != 0 || res.ManifestVersion != 0 {
		t.Fatalf("empty partition: %+v, %v", res, err)
	}
	model := map[int64]row.Row{}
	for i := 0; i < 3; i++ {
		h.mustWrite(tb, "", model, upsert(int64(i), "a", 1))
		h.mustFlush(tb, "")
	}
	keys := segmentKeys(t, h.bucket, tb, "")
	res, err := h.store.Compact(ctx, tb, "", CompactOptions{}) // MinSegments 4
	if err != nil || res.SegmentsIn != 0 || res.ManifestVersion != 3 {
		t.Fatalf("3 segments: %+v, %v", res, err)
	}
	if got := segmentKeys(t, h.bucket, tb, ""); !slices.Equal(got, keys) {
		t.Fatalf("objects changed: %v -> %v", keys, got)
	}
}

// A tombstone must stay while an older segment, outside the run, may
// hold its key — however old it is.
func TestCompactKeepsTombstonesAfterFirstSegment(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		clock := newTestClock()
		h := newClockedHarness(t, newAgedBucket(b, clock), clock.Now)
		tb := testTable()
		model := map[int64]row.Row{}
		// A big first segment holding keys 0..999.
		var big []Change
		for i := int64(0); i < 1000; i++ {
			big = append(big, upsert(i, fmt.Sprintf("%x", uint64(i)*0x9e3779b97f4a7c15), int32(i)))
		}
		h.mustWrite(tb, "", model, big...)
		bigSeg := h.mustFlush(tb, "")
		// Small segments deleting some of them.
		for i := int64(0); i < 4; i++ {
			h.mustWrite(tb, "", model, del(i), upsert(1000+i, "n", 1))
			h.mustFlush(tb, "")
		}
		clock.Advance(48 * time.Hour)
		res, err := h.store.Compact(ctx, tb, "", CompactOptions{TargetBytes: bigSeg.Bytes, MinSegments: 2, TombstoneRetention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if res.SegmentsIn != 4 || res.TombstonesDropped != 0 || res.RowsOut != 8 {
			t.Fatalf("result %+v, want 4 segments in, 8 rows out, all 4 tombstones kept", res)
		}
		m := h.partitionManifest(tb, "")
		if len(m.Segments) != 2 || m.Segments[0].Key != bigSeg.Segment {
			t.Fatalf("segments %v", keysOf(m.Segments))
		}
		_, versions := segmentContent(t, h.bucket, tb, m.Segments[1].Key)
		deleted := 0
		for _, v := range versions {
			if v.Deleted {
				deleted++
			}
		}
		if deleted != 4 {
			t.Fatalf("compacted segment holds %d tombstones, want 4", deleted)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// A run starting at the first segment drops the tombstones older than the
// retention, and only those.
func TestCompactDropsOldTombstonesAtFirstSegment(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		clock := newTestClock()
		h := newClockedHarness(t, newAgedBucket(b, clock), clock.Now)
		tb := testTable()
		model := map[int64]row.Row{}
		h.mustWrite(tb, "", model, upsert(1, "a", 1), upsert(2, "b", 2), upsert(3, "c", 3), upsert(4, "d", 4))
		h.mustFlush(tb, "")
		h.mustWrite(tb, "", model, del(1), del(99)) // 99 never existed
		h.mustFlush(tb, "")
		clock.Advance(10 * time.Hour)
		h.mustWrite(tb, "", model, del(2), upsert(5, "e", 5))
		h.mustFlush(tb, "")
		clock.Advance(10 * time.Hour)
		h.mustWrite(tb, "", model, del(3))
		h.mustFlush(tb, "")
		before := h.partitionManifest(tb, "")

		// The first two segments are 20h old, the third 10h, the last new.
		res, err := h.store.Compact(ctx, tb, "", CompactOptions{MinSegments: 2, TombstoneRetention: 15 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if res.SegmentsIn != 4 || res.SegmentsOut != 1 || res.TombstonesDropped != 2 || res.RowsIn != 9 || res.RowsOut != 4 {
			t.Fatalf("result %+v, want 9 rows in, tombstones of 1 and 99 dropped, 4 rows out (2 and 3 deleted, 4, 5)", res)
		}
		m := h.partitionManifest(tb, "")
		_, versions := segmentContent(t, h.bucket, tb, m.Segments[0].Key)
		var got []string
		for _, v := range versions {
			got = append(got, fmt.Sprintf("%d:%v", v.Values[0].Int64(), v.Deleted))
		}
		if want := []string{"2:true", "3:true", "4:false", "5:false"}; !slices.Equal(got, want) {
			t.Fatalf("compacted segment holds %v, want %v", got, want)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
		h.checkScan(tb, "", ScanOptions{ManifestVersion: before.Version}, model)
		// The tombstones dropped (_seq 5 and 6) bound the replay: a
		// consumer resuming from 6 or below may miss deletes.
		if m.PurgedThrough != 6 {
			t.Fatalf("purged_through %d, want 6 (the dropped tombstones' segment ends at _seq 6)", m.PurgedThrough)
		}
		if floor, _, err := h.store.ReplayBounds(ctx, tb, ""); err != nil || floor != 7 {
			t.Fatalf("replay floor %d (%v), want 7", floor, err)
		}

		// A compacted segment is new (LastModified), so its tombstones count
		// as new: the age of a segment is a lower bound of its tombstones'.
		h.mustWrite(tb, "", model, upsert(6, "f", 6))
		h.mustFlush(tb, "")
		res, err = h.store.Compact(ctx, tb, "", CompactOptions{MinSegments: 2, TombstoneRetention: 15 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if res.SegmentsIn != 2 || res.TombstonesDropped != 0 || res.RowsOut != 5 {
			t.Fatalf("result %+v, want the 2 tombstones of the new segment kept", res)
		}
		if m := h.partitionManifest(tb, ""); m.PurgedThrough != 6 {
			t.Fatalf("purged_through %d after a compaction that dropped nothing, want 6 kept", m.PurgedThrough)
		}
		// Later they are old enough too.
		clock.Advance(16 * time.Hour)
		h.mustWrite(tb, "", model, upsert(7, "g", 7))
		h.mustFlush(tb, "")
		if res, err = h.store.Compact(ctx, tb, "", CompactOptions{MinSegments: 2, TombstoneRetention: 15 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if res.TombstonesDropped != 2 || res.RowsOut != 4 {
			t.Fatalf("result %+v, want the last 2 tombstones dropped and rows 4..7 kept", res)
		}
		if m := h.partitionManifest(tb, ""); m.PurgedThrough < 9 || m.PurgedThrough > m.LastSeq {
			t.Fatalf("purged_through %d, want at least 9 (the delete of 3) and at most last_seq %d", m.PurgedThrough, m.LastSeq)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// Segments written before an ADD COLUMN compact into segments of the new
// schema, with NULL in the new column for the old rows.
func TestCompactMixedSchemaVersions(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		h := newHarness(t, b)
		v1 := testTable()
		model := map[int64]row.Row{}
		h.mustWrite(v1, "", map[int64]row.Row{}, upsert(1, "a", 1), upsert(2, "b", 2))
		h.mustFlush(v1, "")
		h.mustWrite(v1, "", map[int64]row.Row{}, upsert(3, "c", 3), del(2))
		h.mustFlush(v1, "")

		v2 := testTable()
		v2.Columns = append(v2.Columns, manifest.Column{ID: 4, Name: "note", Type: manifest.Text, Nullable: true})
		v2.SchemaVersion, v2.NextColumnID = 2, 5
		model[1] = row.Row{row.BigInt(1), row.Text("a"), row.Int(1), row.Null()}
		model[3] = row.Row{row.BigInt(3), row.Text("c"), row.Int(3), row.Null()}
		h.mustWrite(v2, "", model,
			Change{Values: row.Row{row.BigInt(4), row.Text("d"), row.Int(4), row.Text("new")}},
			Change{Values: row.Row{row.BigInt(3), row.Text("c2"), row.Int(30), row.Text("updated")}})
		h.mustFlush(v2, "")
		h.mustWrite(v2, "", model, Change{Values: row.Row{row.BigInt(5), row.Text("e"), row.Int(5), row.Null()}})
		h.mustFlush(v2, "")

		// The old definition cannot present the new segments: nothing happens.
		if _, err := h.store.Compact(ctx, v1, "", CompactOptions{}); !errors.Is(err, segment.ErrIncompatibleSchema) {
			t.Fatalf("compaction with the old schema: err = %v, want ErrIncompatibleSchema", err)
		}
		if m := h.partitionManifest(v2, ""); m.Version != 4 || len(segmentKeys(t, h.bucket, v2, "")) != 4 {
			t.Fatalf("failed compaction left v%d, objects %v", m.Version, segmentKeys(t, h.bucket, v2, ""))
		}

		res, err := h.store.Compact(ctx, v2, "", CompactOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := h.partitionManifest(v2, "")
		if res.SegmentsOut != 1 || len(m.Segments) != 1 || m.Segments[0].SchemaVersion != 2 {
			t.Fatalf("result %+v, segments %+v", res, m.Segments)
		}
		r, _ := segmentContent(t, h.bucket, v2, m.Segments[0].Key)
		if r.SchemaVersion() != 2 {
			t.Fatalf("compacted segment written in schema v%d", r.SchemaVersion())
		}
		h.checkScan(v2, "", ScanOptions{}, model)
	})
}

// A compaction commits on top of a flush that committed between its plan
// and its commit, and the flushed segment survives.
func TestCompactCommitsOnTopOfConcurrentFlush(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		h := newHarness(t, b)
		tb := testTable()
		model := map[int64]row.Row{}
		for i := 0; i < 4; i++ {
			h.mustWrite(tb, "", model, upsert(1, fmt.Sprint("v", i), int32(i)), upsert(int64(10+i), "x", 1))
			h.mustFlush(tb, "")
		}
		var flushed FlushResult
		h.store.beforeCommit = func() error {
			h.store.beforeCommit = nil // for the flush below
			h.mustWrite(tb, "", model, upsert(1, "during", 99), del(10))
			flushed = h.mustFlush(tb, "")
			return nil
		}
		res, err := h.store.Compact(ctx, tb, "", CompactOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if flushed.ManifestVersion != 5 || res.ManifestVersion != 6 {
			t.Fatalf("flush committed v%d, compaction v%d; want 5 and 6", flushed.ManifestVersion, res.ManifestVersion)
		}
		m := h.partitionManifest(tb, "")
		if got, want := keysOf(m.Segments), append(slices.Clone(res.Segments), flushed.Segment); !slices.Equal(got, want) {
			t.Fatalf("segments %v, want %v", got, want)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// Flushes and compactions racing in goroutines never lose a row.
func TestCompactRacesWithFlushes(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstoretest.NewFSForTest(t))
	tb := testTable()
	model := map[int64]row.Row{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	compactions := 0
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			res, err := h.store.Compact(ctx, tb, "", CompactOptions{MinSegments: 2})
			if err != nil {
				t.Error(err)
				return
			}
			if res.SegmentsIn > 0 {
				compactions++
			}
		}
	})
	for i := 0; i < 40; i++ {
		var batch []Change
		for j := 0; j < 5; j++ {
			id := int64((i*7 + j*3) % 30)
			if j == 4 {
				batch = append(batch, del(id))
			} else {
				batch = append(batch, upsert(id, fmt.Sprint(i, "-", j), int32(i)))
			}
		}
		h.mustWrite(tb, "", model, batch...)
		h.mustFlush(tb, "")
	}
	close(done)
	wg.Wait()
	if compactions == 0 {
		t.Fatal("no compaction ran")
	}
	h.partitionManifest(tb, "")
	h.checkScan(tb, "", ScanOptions{}, model)
}

// A compaction whose segments were replaced meanwhile by another one fails
// with ErrCompactionConflict, deletes its outputs and commits nothing.
func TestCompactConflictAborts(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		h := newHarness(t, b)
		tb := testTable()
		model := map[int64]row.Row{}
		for i := 0; i < 4; i++ {
			h.mustWrite(tb, "", model, upsert(int64(i), "a", 1))
			h.mustFlush(tb, "")
		}
		inputs := segmentKeys(t, h.bucket, tb, "")
		other := New(h.bucket, h.buf, Options{NodeID: "node-other"})
		var won CompactResult
		h.store.beforeCommit = func() error {
			var err error
			won, err = other.Compact(ctx, tb, "", CompactOptions{})
			return err
		}
		_, err := h.store.Compact(ctx, tb, "", CompactOptions{})
		if !errors.Is(err, ErrCompactionConflict) {
			t.Fatalf("err = %v, want ErrCompactionConflict", err)
		}
		if won.SegmentsOut != 1 {
			t.Fatalf("the other compaction: %+v", won)
		}
		want := slices.Sorted(slices.Values(append(inputs, won.Segments...)))
		if got := segmentKeys(t, h.bucket, tb, ""); !slices.Equal(got, want) {
			t.Fatalf("objects %v, want the inputs and the winner's output %v", got, want)
		}
		if m := h.partitionManifest(tb, ""); m.Version != 5 || !slices.Equal(keysOf(m.Segments), won.Segments) {
			t.Fatalf("manifest v%d %v", m.Version, keysOf(m.Segments))
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// A failed upload or a fenced commit leaves no new object and no commit.
func TestCompactFailureCleansUp(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*harness, *objstore.Faulty, *manifest.Table, map[int64]row.Row, []string) {
		f := objstore.NewFaulty(objstore.NewMem())
		h := newHarness(t, f)
		h.store.opts.WriterEpoch = 1
		tb := testTable()
		model := map[int64]row.Row{}
		for i := 0; i < 6; i++ {
			var batch []Change
			for j := 0; j < 20; j++ {
				batch = append(batch, upsert(int64(100*i+j), strings.Repeat("y", 50), int32(j)))
			}
			h.mustWrite(tb, "", model, batch...)
			h.mustFlush(tb, "")
		}
		return h, f, tb, model, segmentKeys(t, f, tb, "")
	}
	t.Run("upload", func(t *testing.T) {
		h, f, tb, model, inputs := setup(t)
		m := h.partitionManifest(tb, "")
		target := 3 * m.Segments[0].Bytes // 2 or 3 inputs per output
		puts := 0
		f.SetHook(func(_ context.Context, op, key string) error {
			if op == objstore.OpPut && strings.Contains(key, "/seg/") {
				if puts++; puts == 2 {
					return errors.New("disk full")
				}
			}
			return nil
		})
		if _, err := h.store.Compact(ctx, tb, "", CompactOptions{TargetBytes: target, MinSegments: 2}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("err = %v", err)
		}
		f.SetHook(nil)
		if puts != 2 {
			t.Fatalf("%d segment puts, want 2 (several outputs)", puts)
		}
		if got := segmentKeys(t, f, tb, ""); !slices.Equal(got, inputs) {
			t.Fatalf("objects %v, want only the inputs %v", got, inputs)
		}
		if m2 := h.partitionManifest(tb, ""); m2.Version != m.Version {
			t.Fatalf("committed v%d", m2.Version)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
	t.Run("fenced", func(t *testing.T) {
		h, f, tb, model, inputs := setup(t)
		newer := manifest.NewPartitionLog(f, tb.ID, "", manifest.LogOptions{NodeID: "node-new"})
		if _, err := newer.Commit(ctx, func(p *manifest.Partition) (*manifest.Partition, error) { return p, nil },
			manifest.CommitOptions{WriterEpoch: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Compact(ctx, tb, "", CompactOptions{}); !errors.Is(err, manifest.ErrFenced) {
			t.Fatalf("err = %v, want ErrFenced", err)
		}
		if got := segmentKeys(t, f, tb, ""); !slices.Equal(got, inputs) {
			t.Fatalf("objects %v, want only the inputs %v", got, inputs)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
	t.Run("commit unknown keeps outputs", func(t *testing.T) {
		h, f, tb, model, inputs := setup(t)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		h.store.beforeCommit = func() error {
			// The manifest put lands but its answer is lost, and so are
			// the reads that would settle it, until ctx ends.
			f.FailNextAfter(objstore.OpPut, 1000, errors.New("timeout"))
			f.SetHook(func(_ context.Context, op, key string) error {
				if op == objstore.OpGet && strings.Contains(key, "/v/") {
					return errors.New("timeout")
				}
				return nil
			})
			time.AfterFunc(200*time.Millisecond, cancel)
			return nil
		}
		res, err := h.store.Compact(ctx, tb, "", CompactOptions{})
		f.Reset()
		if !errors.Is(err, manifest.ErrCommitUnknown) {
			t.Fatalf("err = %v, want ErrCommitUnknown", err)
		}
		// The commit landed: its output must still be there.
		m := h.partitionManifest(tb, "")
		if m.Version != 7 || len(m.Segments) != 1 {
			t.Fatalf("manifest v%d %v", m.Version, keysOf(m.Segments))
		}
		want := slices.Sorted(slices.Values(append(slices.Clone(inputs), m.Segments[0].Key)))
		if got := segmentKeys(t, f, tb, ""); !slices.Equal(got, want) || res.SegmentsIn != 6 {
			t.Fatalf("objects %v, want %v", got, want)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// writeSegments commits n segments of rows versions each to a fresh
// partition: segment i holds keys [i·rows/2, i·rows/2 + rows), so half of
// each segment supersedes the one before.
func writeSegments(tb testing.TB, b objstore.Bucket, t *manifest.Table, partition string, n, rows int) *manifest.Partition {
	ctx := context.Background()
	var segs []manifest.Segment
	for i := 0; i < n; i++ {
		seq := uint64(i*rows) + 1
		versions := func(yield func(row.Version, error) bool) {
			for k := 0; k < rows; k++ {
				id := int64(i*rows/2 + k)
				v := row.Version{Seq: seq + uint64(k), SchemaVersion: t.SchemaVersion,
					Values: row.Row{row.BigInt(id), row.Text(fmt.Sprintf("name-%d-%d", id, i)), row.Int(int32(k))}}
				if !yield(v, nil) {
					return
				}
			}
		}
		var buf bytes.Buffer
		info, err := segment.Write(&buf, t, versions, segment.WriterOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		key := segmentKey(t.ID, partition, info.SeqMin, info.SeqMax)
		objstoretest.MustPut(tb, b, key, buf.Bytes())
		segs = append(segs, info.Segment(key))
	}
	m, err := manifest.NewPartitionLog(b, t.ID, partition, manifest.LogOptions{}).Commit(ctx, func(p *manifest.Partition) (*manifest.Partition, error) {
		p.Segments, p.LastSeq = segs, uint64(n*rows)
		return p, nil
	}, manifest.CommitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func BenchmarkCompact(b *testing.B) {
	for _, size := range []struct{ segments, rows int }{{20, 10_000}, {4, 10_000}} {
		b.Run(fmt.Sprintf("segments=%d/rows=%d", size.segments, size.rows), func(b *testing.B) {
			ctx := context.Background()
			bucket := objstore.NewMem()
			tb := testTable()
			orig := writeSegments(b, bucket, tb, "", size.segments, size.rows)
			s := New(bucket, nil, Options{})
			log := s.PartitionLog(tb.ID, "")
			b.ReportAllocs()
			var rowsIn, rowsOut, bytesIn int64
			for b.Loop() {
				b.StopTimer()
				if _, err := log.Commit(ctx, func(p *manifest.Partition) (*manifest.Partition, error) {
					p.Segments = orig.Segments // undo the previous compaction
					return p, nil
				}, manifest.CommitOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := s.Compact(ctx, tb, "", CompactOptions{})
				if err != nil || res.SegmentsIn != size.segments {
					b.Fatalf("%+v, %v", res, err)
				}
				rowsIn, rowsOut, bytesIn = rowsIn+res.RowsIn, rowsOut+res.RowsOut, bytesIn+res.BytesIn
				b.StopTimer()
				for _, k := range res.Segments {
					_ = bucket.Delete(ctx, k)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(rowsIn)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rowsOut)/float64(rowsIn), "out/in")
			b.ReportMetric(float64(bytesIn)/1e6/b.Elapsed().Seconds(), "MB_in/s")
		})
	}
}
