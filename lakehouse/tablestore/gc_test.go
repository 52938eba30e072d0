package tablestore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

var errCrash = errors.New("crash")

// failedFlush writes changes and runs a flush that stops before its
// commit, as a crash would, and returns the orphan segment it uploaded.
func (h *harness) failedFlush(tb *manifest.Table, partition string, model map[int64]row.Row, changes ...Change) string {
	h.t.Helper()
	before := segmentKeys(h.t, h.bucket, tb, partition)
	h.mustWrite(tb, partition, model, changes...)
	h.store.beforeCommit = func() error { return errCrash }
	_, err := h.store.Flush(context.Background(), tb, partition)
	h.store.beforeCommit = nil
	if !errors.Is(err, errCrash) {
		h.t.Fatalf("flush err = %v, want the crash", err)
	}
	var orphans []string
	for _, k := range segmentKeys(h.t, h.bucket, tb, partition) {
		if !slices.Contains(before, k) {
			orphans = append(orphans, k)
		}
	}
	if len(orphans) != 1 {
		h.t.Fatalf("failed flush left %v", orphans)
	}
	return orphans[0]
}

func (h *harness) gc(tb *manifest.Table, partition string, opts GCOptions) GCResult {
	h.t.Helper()
	res, err := h.store.CollectGarbage(context.Background(), tb, partition, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// versionsLeft lists the manifest versions stored for a partition.
func versionsLeft(t testing.TB, b objstore.Bucket, tb *manifest.Table, partition string) []uint64 {
	t.Helper()
	log := manifest.NewPartitionLog(b, tb.ID, partition, manifest.LogOptions{})
	var out []uint64
	for _, k := range objstoretest.Keys(t, b, log.Prefix()+"v/", "") {
		v, ok := parseVersion(log, log.Prefix()+"v/", k)
		if !ok {
			t.Fatalf("unexpected key %s", k)
		}
		out = append(out, v)
	}
	return out
}

func objectSizes(t testing.TB, b objstore.Bucket, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for a, err := range b.List(context.Background(), prefix, "") {
		if err != nil {
			t.Fatal(err)
		}
		out[a.Key] = a.Size
	}
	return out
}

func TestGCOptionsValidate(t *testing.T) {
	for _, o := range []GCOptions{{Retention: -1}, {GracePeriod: -time.Second}} {
		o.EnsureDefaults()
		if err := o.Validate(); err == nil {
			t.Errorf("%+v validated", o)
		}
	}
	var o GCOptions
	o.EnsureDefaults()
	if o.Retention != 24*time.Hour || o.GracePeriod != time.Hour || o.Validate() != nil {
		t.Fatalf("defaults %+v", o)
	}
}

// GC deletes exactly the old versions and the unreferenced objects past
// the grace period: never the latest version, a referenced segment or a
// young orphan.
func TestGCDeletesExactlyTheGarbage(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		clock := newTestClock()
		h := newClockedHarness(t, newAgedBucket(b, clock), clock.Now)
		tb := testTable()
		model := map[int64]row.Row{}
		step := func(changes ...Change) {
			clock.Advance(time.Minute)
			h.mustWrite(tb, "", model, changes...)
			h.mustFlush(tb, "")
		}
		step(upsert(1, "a", 1), upsert(2, "b", 2))                   // v1
		step(upsert(1, "a2", 10), del(2))                            // v2
		oldOrphan := h.failedFlush(tb, "", model, upsert(3, "c", 3)) // retried by the next flush
		step(upsert(4, "d", 4))                                      // v3
		step(upsert(5, "e", 5))                                      // v4
		comp, err := h.store.Compact(context.Background(), tb, "", CompactOptions{MinSegments: 2})
		if err != nil || comp.ManifestVersion != 5 || comp.SegmentsOut != 1 {
			t.Fatalf("compaction %+v, %v", comp, err)
		}
		clock.Advance(10 * time.Hour)
		youngOrphan := h.failedFlush(tb, "", model, upsert(6, "f", 6))
		clock.Advance(10 * time.Minute)

		segPrefix := manifest.SegmentPrefix(tb.ID, "")
		sizes := objectSizes(t, h.bucket, segPrefix)
		var wantFreed int64
		for k, n := range sizes {
			if k != comp.Segments[0] && k != youngOrphan {
				wantFreed += n
			}
		}
		res := h.gc(tb, "", GCOptions{Retention: time.Hour, GracePeriod: 30 * time.Minute})
		want := GCResult{TableID: tb.ID, LatestVersion: 5, OldestKeptVersion: 5, VersionsKept: 1, ManifestsDeleted: 4,
			SegmentsDeleted: 5, BytesFreed: wantFreed, SegmentsReferenced: 1, SegmentsInGrace: 1, Duration: res.Duration}
		if res != want {
			t.Fatalf("result\n %+v\nwant\n %+v", res, want)
		}
		if got, want := segmentKeys(t, h.bucket, tb, ""), slices.Sorted(slices.Values([]string{comp.Segments[0], youngOrphan})); !slices.Equal(got, want) {
			t.Fatalf("objects left %v, want %v", got, want)
		}
		if _, ok := sizes[oldOrphan]; !ok {
			t.Fatal("the old orphan was not in the listing")
		}
		if got := versionsLeft(t, h.bucket, tb, ""); !slices.Equal(got, []uint64{5}) {
			t.Fatalf("versions left %v", got)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
		h.checkScan(tb, "", ScanOptions{ManifestVersion: 5}, map[int64]row.Row{1: upsert(1, "a2", 10).Values,
			3: upsert(3, "c", 3).Values, 4: upsert(4, "d", 4).Values, 5: upsert(5, "e", 5).Values})
		for v := uint64(1); v < 5; v++ {
			for _, err := range h.store.Scan(context.Background(), tb, "", ScanOptions{ManifestVersion: v}) {
				if !errors.Is(err, manifest.ErrVersionNotFound) {
					t.Fatalf("scan of deleted v%d: err = %v, want ErrVersionNotFound", v, err)
				}
				break
			}
		}

		// Idempotent: nothing more to do until the young orphan ages.
		if res := h.gc(tb, "", GCOptions{Retention: time.Hour, GracePeriod: 30 * time.Minute}); res.ManifestsDeleted+res.SegmentsDeleted != 0 || res.SegmentsInGrace != 1 {
			t.Fatalf("second collection %+v", res)
		}
		clock.Advance(time.Hour)
		if res := h.gc(tb, "", GCOptions{Retention: time.Hour, GracePeriod: 30 * time.Minute}); res.SegmentsDeleted != 1 || res.BytesFreed != sizes[youngOrphan] {
			t.Fatalf("third collection %+v", res)
		}
		// The partition goes on: the failed flush's rows flush again.
		if res := h.mustFlush(tb, ""); res.ManifestVersion != 6 || res.Rows != 1 {
			t.Fatalf("flush after gc: %+v", res)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// Versions within the retention, and the one current when it began, stay
// readable (time travel) with all their segments; older ones go.
func TestGCKeepsTimeTravelWithinRetention(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		clock := newTestClock()
		bucket := newAgedBucket(b, clock)
		h := newClockedHarness(t, bucket, clock.Now)
		tb := testTable()
		model := map[int64]row.Row{}
		snapshots := map[uint64]map[int64]row.Row{}
		for i := int64(0); i < 6; i++ { // v1..v6 at t0, t0+1h, …, t0+5h
			if i > 0 {
				clock.Advance(time.Hour)
			}
			h.mustWrite(tb, "", model, upsert(i, "r", int32(i)), upsert(100, "v", int32(i)))
			if i == 3 {
				h.mustWrite(tb, "", model, del(0))
			}
			snapshots[h.mustFlush(tb, "").ManifestVersion] = maps.Clone(model)
		}
		flushed := segmentKeys(t, bucket, tb, "")
		clock.Advance(time.Minute)
		comp, err := h.store.Compact(ctx, tb, "", CompactOptions{MinSegments: 2}) // v7
		if err != nil || comp.ManifestVersion != 7 || comp.SegmentsIn != 6 {
			t.Fatalf("compaction %+v, %v", comp, err)
		}
		snapshots[7] = snapshots[6]
		clock.Advance(30 * time.Minute) // t0+5h31m

		// Retention 2h: the window opens at t0+3h31m, when v4 was current.
		res := h.gc(tb, "", GCOptions{Retention: 2 * time.Hour, GracePeriod: 10 * time.Minute})
		if res.OldestKeptVersion != 4 || res.VersionsKept != 4 || res.ManifestsDeleted != 3 || res.SegmentsDeleted != 0 || res.SegmentsReferenced != 7 {
			t.Fatalf("result %+v", res)
		}
		if got := versionsLeft(t, bucket, tb, ""); !slices.Equal(got, []uint64{4, 5, 6, 7}) {
			t.Fatalf("versions left %v", got)
		}
		for v := uint64(4); v <= 7; v++ {
			h.checkScan(tb, "", ScanOptions{ManifestVersion: v}, snapshots[v])
		}
		for v := uint64(1); v < 4; v++ {
			if _, err := h.store.PartitionLog(tb.ID, "").Load(ctx, v); !errors.Is(err, manifest.ErrVersionNotFound) {
				t.Fatalf("load v%d: %v, want ErrVersionNotFound", v, err)
			}
		}

		// Three hours later only v7 is kept, and the flushed segments go.
		clock.Advance(3 * time.Hour)
		res = h.gc(tb, "", GCOptions{Retention: 2 * time.Hour, GracePeriod: 10 * time.Minute})
		if res.OldestKeptVersion != 7 || res.ManifestsDeleted != 3 || res.SegmentsDeleted != len(flushed) || res.SegmentsReferenced != 1 {
			t.Fatalf("result %+v", res)
		}
		if got := segmentKeys(t, bucket, tb, ""); !slices.Equal(got, comp.Segments) {
			t.Fatalf("objects left %v, want %v", got, comp.Segments)
		}
		h.checkScan(tb, "", ScanOptions{ManifestVersion: 7}, snapshots[7])
		h.checkScan(tb, "", ScanOptions{}, model)

		// The log with its old versions gone: a cold reader finds the
		// latest version, with and without the hint, and commits go on.
		for _, dropHint := range []bool{false, true} {
			log := manifest.NewPartitionLog(bucket, tb.ID, "", manifest.LogOptions{})
			if dropHint {
				if err := bucket.Delete(ctx, log.Prefix()+"latest"); err != nil {
					t.Fatal(err)
				}
			}
			if v, err := log.LatestVersion(ctx); err != nil || v != 7 {
				t.Fatalf("cold LatestVersion (hint dropped: %v) = %d, %v", dropHint, v, err)
			}
			if _, err := log.Load(ctx, 6); !errors.Is(err, manifest.ErrVersionNotFound) {
				t.Fatalf("load v6: %v", err)
			}
		}
		h.mustWrite(tb, "", model, upsert(7, "after", 7))
		if res := h.mustFlush(tb, ""); res.ManifestVersion != 8 {
			t.Fatalf("flush after gc committed v%d", res.ManifestVersion)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// GC between the upload and the commit of a flush or a compaction deletes
// nothing they need; GC right after a compaction keeps the version it
// replaced (a reader may be reading it) with the replaced segments.
func TestGCDuringFlushAndCompaction(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		clock := newTestClock()
		h := newClockedHarness(t, newAgedBucket(b, clock), clock.Now)
		tb := testTable()
		model := map[int64]row.Row{}
		for i := int64(0); i < 4; i++ {
			h.mustWrite(tb, "", model, upsert(i, "a", 1), upsert(10, "x", int32(i)))
			h.mustFlush(tb, "")
		}
		clock.Advance(2 * time.Hour)
		opts := GCOptions{Retention: time.Minute, GracePeriod: 30 * time.Minute}
		var during GCResult
		gcNow := func() error {
			during = h.gc(tb, "", opts)
			return nil
		}

		h.mustWrite(tb, "", model, upsert(5, "in flight", 5))
		h.store.beforeCommit = gcNow
		if _, err := h.store.Flush(ctx, tb, ""); err != nil {
			t.Fatal(err)
		}
		if during.SegmentsDeleted != 0 || during.SegmentsInGrace != 1 || during.SegmentsReferenced != 4 {
			t.Fatalf("gc during flush: %+v", during)
		}
		h.checkScan(tb, "", ScanOptions{}, model)

		h.store.beforeCommit = gcNow
		comp, err := h.store.Compact(ctx, tb, "", CompactOptions{MinSegments: 2})
		h.store.beforeCommit = nil
		if err != nil || comp.ManifestVersion != 6 {
			t.Fatalf("compaction %+v, %v", comp, err)
		}
		if during.SegmentsDeleted != 0 || during.SegmentsInGrace != 1 || during.SegmentsReferenced != 5 {
			t.Fatalf("gc during compaction: %+v", during)
		}
		// Right after the compaction, v5 was current a moment ago: kept
		// (and v4 too, which was current when the minute began).
		res := h.gc(tb, "", opts)
		if res.OldestKeptVersion != 4 || res.SegmentsDeleted != 0 || res.SegmentsReferenced != 6 {
			t.Fatalf("gc after compaction: %+v", res)
		}
		h.checkScan(tb, "", ScanOptions{ManifestVersion: 5}, model)
		h.checkScan(tb, "", ScanOptions{}, model)

		clock.Advance(time.Hour)
		res = h.gc(tb, "", opts)
		if res.OldestKeptVersion != 6 || res.SegmentsDeleted != 5 || res.SegmentsReferenced != 1 {
			t.Fatalf("gc an hour later: %+v", res)
		}
		h.checkScan(tb, "", ScanOptions{}, model)
	})
}

// The orphan of a failed flush, dated by the backend's own LastModified,
// is collected once the grace period has passed, and only then.
func TestGCCollectsOrphanOfFailedFlush(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		var offset atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		h := newClockedHarness(t, b, clock)
		tb := testTable()
		model := map[int64]row.Row{}

		// A partition whose only flush failed has no manifest at all.
		first := h.failedFlush(tb, "u1", model, upsert(1, "a", 1))
		opts := GCOptions{GracePeriod: time.Hour}
		if res := h.gc(tb, "u1", opts); res.LatestVersion != 0 || res.SegmentsInGrace != 1 || res.SegmentsDeleted != 0 {
			t.Fatalf("young orphan, no manifest: %+v", res)
		}
		flushed := h.mustFlush(tb, "u1")
		orphan := h.failedFlush(tb, "u1", model, upsert(2, "b", 2))

		res := h.gc(tb, "u1", opts)
		if res.SegmentsInGrace != 2 || res.SegmentsDeleted != 0 || res.SegmentsReferenced != 1 {
			t.Fatalf("within the grace period: %+v", res)
		}
		offset.Store(int64(2 * time.Hour))
		res = h.gc(tb, "u1", opts)
		if res.SegmentsDeleted != 2 || res.SegmentsInGrace != 0 || res.SegmentsReferenced != 1 || res.ManifestsDeleted != 0 || res.VersionsKept != 1 {
			t.Fatalf("after the grace period: %+v", res)
		}
		if got := segmentKeys(t, b, tb, "u1"); !slices.Equal(got, []string{flushed.Segment}) {
			t.Fatalf("objects left %v; orphans were %s and %s", got, first, orphan)
		}
		h.checkScan(tb, "u1", ScanOptions{}, model)
		// Another partition is untouched; an empty one is no error.
		if res := h.gc(tb, "nobody", opts); res != (GCResult{TableID: tb.ID, Partition: "nobody", Duration: res.Duration}) {
			t.Fatalf("empty partition: %+v", res)
		}
	})
}

var rewriteGolden = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// writeRecorder records the PUTs and DELETEs reaching a bucket, with the
// random suffixes of segment keys replaced by #1, #2, … in order of first
// appearance.
type writeRecorder struct {
	objstore.Bucket
	mu      sync.Mutex
	ops     []string
	aliases map[string]string
}

var segmentSuffix = regexp.MustCompile(`-[0-9a-f]{12}\.parquet$`)

func (r *writeRecorder) record(op, key, extra string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if loc := segmentSuffix.FindStringIndex(key); loc != nil {
		alias, ok := r.aliases[key]
		if !ok {
			alias = fmt.Sprintf("-#%d.parquet", len(r.aliases)+1)
			r.aliases[key] = alias
		}
		key = key[:loc[0]] + alias
	}
	r.ops = append(r.ops, strings.TrimSpace(op+" "+key+" "+extra))
}

func (r *writeRecorder) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	a, err := r.Bucket.Put(ctx, key, data, opts)
	if err == nil {
		extra := ""
		if opts.IfNoneMatch {
			extra = "if-none-match"
		}
		r.record("PUT", key, extra)
	}
	return a, err
}

func (r *writeRecorder) Delete(ctx context.Context, key string) error {
	err := r.Bucket.Delete(ctx, key)
	if err == nil {
		r.record("DELETE", key, "")
	}
	return err
}

func (r *writeRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// TestCompactGCGolden records the object writes and deletes of flushes, a
// compaction and two garbage collections in testdata/compact_gc.golden
// (go test -run TestCompactGCGolden -rewrite to regenerate it).
func TestCompactGCGolden(t *testing.T) {
	clock := newTestClock()
	rec := &writeRecorder{Bucket: objstore.NewMem(), aliases: map[string]string{}}
	h := newClockedHarness(t, newAgedBucket(rec, clock), clock.Now)
	tb := testTable()
	model := map[int64]row.Row{}
	var out strings.Builder
	// step runs f under a title and prints its writes and its result.
	step := func(title string, f func() string) {
		fmt.Fprintf(&out, "# %s\n", title)
		result := f()
		for _, op := range rec.take() {
			fmt.Fprintln(&out, op)
		}
		fmt.Fprintf(&out, "=> %s\n\n", result)
	}
	compact := func() string {
		res, err := h.store.Compact(context.Background(), tb, "", CompactOptions{MinSegments: 2, TombstoneRetention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("segments %d -> %d, rows %d -> %d, tombstones dropped %d, v%d",
			res.SegmentsIn, res.SegmentsOut, res.RowsIn, res.RowsOut, res.TombstonesDropped, res.ManifestVersion)
	}
	gc := func() string {
		res := h.gc(tb, "", GCOptions{Retention: time.Hour, GracePeriod: 30 * time.Minute})
		return fmt.Sprintf("versions kept v%d..v%d, deleted %d; segments deleted %d, referenced %d, in grace %d",
			res.OldestKeptVersion, res.LatestVersion, res.ManifestsDeleted, res.SegmentsDeleted, res.SegmentsReferenced, res.SegmentsInGrace)
	}

	step("4 flushes, one minute apart", func() string {
		for i := int64(0); i < 4; i++ {
			h.mustWrite(tb, "", model, upsert(i, "a", 1), upsert(100, "x", int32(i)))
			if i == 2 {
				h.mustWrite(tb, "", model, del(0))
			}
			h.mustFlush(tb, "")
			clock.Advance(time.Minute)
		}
		return "v4"
	})
	step("compact (MinSegments 2, TombstoneRetention 1h): the tombstone of key 0 is young", compact)
	step("gc (Retention 1h, GracePeriod 30m) at once: nothing to delete", gc)
	clock.Advance(2 * time.Hour)
	step("gc 2h later", gc)
	step("a flush, then compact: the tombstone is old and the run starts at the first segment", func() string {
		h.mustWrite(tb, "", model, upsert(5, "b", 5))
		h.mustFlush(tb, "")
		return compact()
	})
	step("a failed flush leaves an orphan; gc keeps it during the grace period", func() string {
		h.failedFlush(tb, "", model, upsert(6, "c", 6))
		return gc()
	})
	clock.Advance(2 * time.Hour)
	step("gc 2h later", gc)
	h.checkScan(tb, "", ScanOptions{}, model)

	got := out.String()
	path := filepath.Join("testdata", "compact_gc.golden")
	if *rewriteGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("object writes differ from %s (run with -rewrite if intended):\n%s", path, got)
	}
}

func TestGCRetentionAboveHeadTTL(t *testing.T) {
	o := GCOptions{Retention: manifest.DefaultHeadTTL}
	o.EnsureDefaults()
	if err := o.Validate(); err == nil {
		t.Fatal("a retention within the manifest head TTL was accepted")
	}
}

// parseVersion returns the version whose object key under prefix is key.
func parseVersion(log *manifest.Log[*manifest.Partition], prefix, key string) (uint64, bool) {
	digits, ok := strings.CutSuffix(strings.TrimPrefix(key, prefix), ".json")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 || log.VersionKey(v) != key {
		return 0, false
	}
	return v, true
}
