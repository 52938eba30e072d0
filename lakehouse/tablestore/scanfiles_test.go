package tablestore

import (
	"context"
	"errors"
	"fmt"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// withCache gives the harness's store a segment cache.
func (h *harness) withCache(bucket objstore.Bucket) *Cache {
	h.t.Helper()
	c, err := NewCache(filepath.Join(h.dir, "..", filepath.Base(h.dir)+"-cache"), 64<<20, bucket)
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = New(h.bucket, h.buf, Options{NodeID: "node-test", Cache: c})
	return c
}

func TestScanFilesSourcesAndDisjoint(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	h := newHarness(t, bucket)
	h.withCache(bucket)
	tb := testTable()
	if _, err := h.store.ScanFiles(ctx, tb, "alice", ScanOptions{}); err != nil {
		t.Fatalf("empty partition: %v", err)
	}
	write := func(changes ...Change) {
		t.Helper()
		if _, err := h.store.Write(ctx, tb, "alice", changes); err != nil {
			t.Fatal(err)
		}
	}
	flush := func() {
		t.Helper()
		if _, err := h.store.Flush(ctx, tb, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	write(upsert(1, "a", 1), upsert(2, "b", 2))
	flush()
	write(upsert(10, "c", 3), upsert(11, "d", 4))
	flush()
	write(upsert(20, "e", 5))

	fs, err := h.store.ScanFiles(ctx, tb, "alice", ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs.Files) != 2 || len(fs.Buffered) != 1 || fs.Manifest.Version != 2 {
		t.Fatalf("sources: %d files, %d buffered, manifest v%d", len(fs.Files), len(fs.Buffered), fs.Manifest.Version)
	}
	for _, f := range fs.Files {
		if _, err := os.Stat(f.Path); err != nil {
			t.Fatalf("cached file: %v", err)
		}
	}
	if !fs.Disjoint() {
		t.Error("keys 1-2, 10-11 and 20 are disjoint")
	}
	fs.Release()
	fs.Release() // idempotent

	// An update of key 2 makes the buffer overlap the first segment.
	write(upsert(2, "b2", 9))
	fs, err = h.store.ScanFiles(ctx, tb, "alice", ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fs.Disjoint() {
		t.Error("buffer (2..20) overlaps segment (1..2): not disjoint")
	}
	fs.Release()

	// Time travel: segments only, no buffer.
	fs, err = h.store.ScanFiles(ctx, tb, "alice", ScanOptions{ManifestVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs.Files) != 1 || len(fs.Buffered) != 0 || !fs.Disjoint() {
		t.Fatalf("as of v1: %d files, %d buffered", len(fs.Files), len(fs.Buffered))
	}
	fs.Release()
	if _, err := h.store.ScanFiles(ctx, tb, "alice", ScanOptions{ManifestVersion: 7}); !errors.Is(err, manifest.ErrVersionNotFound) {
		t.Fatalf("missing version: %v", err)
	}

	parts, err := h.store.Partitions(ctx, tb.ID)
	if err != nil || !slices.Equal(parts, []string{"alice"}) {
		t.Fatalf("partitions = %q, %v", parts, err)
	}
	write2 := func(p string) {
		if _, err := h.store.Write(ctx, tb, p, []Change{upsert(1, "x", 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Flush(ctx, tb, p); err != nil {
			t.Fatal(err)
		}
	}
	write2("bob")
	write2("")
	parts, err = h.store.Partitions(ctx, tb.ID)
	if err != nil || !slices.Equal(parts, []string{"", "alice", "bob"}) {
		t.Fatalf("partitions = %q, %v", parts, err)
	}
}

func TestScanFilesWithoutCache(t *testing.T) {
	h := newHarness(t, objstore.NewMem())
	if _, err := h.store.ScanFiles(context.Background(), testTable(), "alice", ScanOptions{}); !errors.Is(err, ErrNoCache) {
		t.Fatalf("err = %v, want ErrNoCache", err)
	}
}

// A cached file that fails verification is dropped: the next Acquire
// downloads it again instead of serving the damaged copy.
func TestCacheDiscardRefetches(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	if _, err := bucket.Put(ctx, "k", []byte("good data"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := NewCache(t.TempDir(), 1<<20, bucket)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Acquire(ctx, "k", 9)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(h.Path(), []byte("bad  data"), 0o644) // damage the local copy
	old := h.Path()
	h.Discard()
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("discarded file still exists: %v", err)
	}
	h2, err := c.Acquire(ctx, "k", 9)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Release()
	if !h2.Fresh() {
		t.Fatal("re-acquire did not download again")
	}
	if b, _ := os.ReadFile(h2.Path()); string(b) != "good data" {
		t.Fatalf("re-downloaded %q", b)
	}
	if st := c.Stats(); st.Files != 1 || st.Bytes != 9 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMergePlan: which segments need the anti join and which sources may
// supersede their rows, from key bounds and _seq ranges.
func TestMergePlan(t *testing.T) {
	tb := testTable()
	pk, err := pkIndexes(tb)
	if err != nil {
		t.Fatal(err)
	}
	// seg is a segment of keys [lo, hi] (lo > hi: bounds unknown) and
	// _seq [smin, smax].
	seg := func(name string, lo, hi int64, smin, smax uint64) ScanFile {
		s := manifest.Segment{Key: name, Rows: 10, SeqMin: smin, SeqMax: smax}
		if lo <= hi {
			l, h := fmt.Sprint(lo), fmt.Sprint(hi)
			s.Columns = []manifest.ColumnStats{{ColumnID: 1, Min: &l, Max: &h}}
		}
		return ScanFile{Path: name, Segment: s}
	}
	buffered := func(ids ...int64) []row.Version {
		var out []row.Version
		for _, id := range ids {
			out = append(out, row.Version{Seq: 1000, Values: row.Row{row.BigInt(id), row.Null(), row.Null()}})
		}
		return out
	}
	names := func(fs []ScanFile) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Path)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name                     string
		files                    []ScanFile
		buf                      []row.Version
		plain, overlapped, newer string
		buffer                   bool
		after                    bool // NewerAfterOverlapped
	}{
		{name: "disjoint", files: []ScanFile{seg("a", 0, 9, 1, 10), seg("b", 10, 19, 11, 20)}, buf: buffered(30),
			plain: "a b", after: true},
		{name: "buffer inside a range", files: []ScanFile{seg("a", 0, 9, 1, 10), seg("b", 10, 19, 11, 20)}, buf: buffered(5, 30),
			plain: "b", overlapped: "a", buffer: true, after: true},
		{name: "buffer between ranges", files: []ScanFile{seg("a", 0, 9, 1, 10), seg("b", 20, 29, 11, 20)}, buf: buffered(15),
			plain: "a b", after: true},
		{name: "newer segment overlaps an older", files: []ScanFile{seg("a", 0, 9, 1, 10), seg("b", 5, 5, 11, 11), seg("c", 10, 19, 12, 20)},
			plain: "b c", overlapped: "a", newer: "b", after: true},
		// Only the _seq ranges say which is newer: a segment listed later
		// but older (SeqMax below the other's SeqMin) supersedes nothing.
		{name: "order by seq, not by position", files: []ScanFile{seg("a", 0, 9, 11, 20), seg("b", 5, 5, 1, 10)},
			plain: "a", overlapped: "b", newer: "a", after: true},
		{name: "interleaved seq ranges overlap both ways", files: []ScanFile{seg("a", 0, 9, 1, 20), seg("b", 5, 15, 10, 30)},
			overlapped: "a b", newer: "a b"},
		{name: "unknown bounds overlap everything", files: []ScanFile{seg("a", 1, 0, 1, 10), seg("b", 10, 19, 11, 20)}, buf: buffered(30),
			plain: "b", overlapped: "a", newer: "b", buffer: true, after: true},
		// SeqMax 0 is unknown: each may supersede the other.
		{name: "unknown seq range", files: []ScanFile{seg("a", 0, 9, 5, 10), seg("b", 5, 5, 0, 0)},
			overlapped: "a b", newer: "a b"},
		{name: "many updates of one key", files: []ScanFile{seg("a", 0, 99, 1, 10), seg("b", 7, 7, 11, 11), seg("c", 7, 7, 12, 12), seg("d", 7, 7, 13, 13)}, buf: buffered(7),
			overlapped: "a b c d", newer: "b c d", buffer: true},
		// b is newer than a, c newer than both, but b is overlapped too:
		// a key of b does not supersede b's own row.
		{name: "newer but overlapped", files: []ScanFile{seg("a", 0, 9, 1, 10), seg("b", 5, 5, 11, 11), seg("c", 5, 5, 12, 12)},
			plain: "c", overlapped: "a b", newer: "b c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &FileScan{Files: tc.files, Buffered: tc.buf, pk: pk, table: tb}
			p := fs.MergePlan()
			if got := names(p.Plain); got != tc.plain {
				t.Errorf("plain = %q, want %q", got, tc.plain)
			}
			if got := names(p.Overlapped); got != tc.overlapped {
				t.Errorf("overlapped = %q, want %q", got, tc.overlapped)
			}
			if got := names(p.Newer); got != tc.newer {
				t.Errorf("newer = %q, want %q", got, tc.newer)
			}
			if p.Buffer != tc.buffer {
				t.Errorf("buffer = %v, want %v", p.Buffer, tc.buffer)
			}
			if p.NewerAfterOverlapped != tc.after {
				t.Errorf("newer after overlapped = %v, want %v", p.NewerAfterOverlapped, tc.after)
			}
		})
	}
}

// TestMergePlanMatchesPairs: on random segments (some of unknown bounds
// or _seq ranges, some empty) MergePlan, which sweeps the files sorted by
// key, finds exactly the overlaps a comparison of every pair finds.
func TestMergePlanMatchesPairs(t *testing.T) {
	tb := testTable()
	pk, err := pkIndexes(tb)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 200 {
		n := 1 + rng.IntN(40)
		files := make([]ScanFile, n)
		type span struct {
			lo, hi int64
			known  bool
		}
		spans := make([]span, n)
		for i := range files {
			lo := rng.Int64N(1000)
			sp := span{lo, lo + rng.Int64N(60), rng.IntN(10) > 0}
			spans[i] = sp
			smin := uint64(1 + rng.IntN(100))
			seg := manifest.Segment{Key: fmt.Sprint(i), Rows: int64(rng.IntN(8)), SeqMin: smin, SeqMax: smin + uint64(rng.IntN(20))}
			if rng.IntN(10) == 0 {
				seg.SeqMin, seg.SeqMax = 0, 0
			}
			if sp.known {
				l, h := fmt.Sprint(sp.lo), fmt.Sprint(sp.hi)
				seg.Columns = []manifest.ColumnStats{{ColumnID: 1, Min: &l, Max: &h}}
			}
			files[i] = ScanFile{Path: fmt.Sprint(i), Segment: seg}
		}
		var buf []row.Version
		for _, id := range slices.Sorted(func(yield func(int64) bool) {
			seen := map[int64]bool{}
			for range rng.IntN(4) {
				id := rng.Int64N(1100)
				if !seen[id] {
					seen[id] = true
					if !yield(id) {
						return
					}
				}
			}
		}) {
			buf = append(buf, row.Version{Seq: 1000, Values: row.Row{row.BigInt(id), row.Null(), row.Null()}})
		}
		// The rule, pair by pair.
		over, newer := make([]bool, n), make([]bool, n)
		buffer := false
		for i := range files {
			s := files[i].Segment
			if s.Rows == 0 {
				continue
			}
			for _, v := range buf {
				if id := v.Values[0].Int64(); !spans[i].known || (id >= spans[i].lo && id <= spans[i].hi) {
					over[i], buffer = true, true
				}
			}
			for j := range files {
				tt := files[j].Segment
				keys := !spans[i].known || !spans[j].known || (spans[i].lo <= spans[j].hi && spans[j].lo <= spans[i].hi)
				if j != i && tt.Rows > 0 && (tt.SeqMax == 0 || tt.SeqMax > s.SeqMin) && keys {
					over[i], newer[j] = true, true
				}
			}
		}
		var wantOver, wantNewer []string
		for i := range files {
			if over[i] {
				wantOver = append(wantOver, files[i].Path)
			}
			if newer[i] {
				wantNewer = append(wantNewer, files[i].Path)
			}
		}
		p := (&FileScan{Files: files, Buffered: buf, pk: pk, table: tb}).MergePlan()
		var gotOver, gotNewer []string
		for _, f := range p.Overlapped {
			gotOver = append(gotOver, f.Path)
		}
		for _, f := range p.Newer {
			gotNewer = append(gotNewer, f.Path)
		}
		if !slices.Equal(gotOver, wantOver) || !slices.Equal(gotNewer, wantNewer) || p.Buffer != buffer || len(p.Plain)+len(p.Overlapped) != n {
			t.Fatalf("round %d: overlapped %v newer %v buffer %v (%d plain), want %v %v %v", round, gotOver, gotNewer, p.Buffer, len(p.Plain), wantOver, wantNewer, buffer)
		}
	}
}

// SupersededRows, checked against a model over random upserts, deletes
// and flushes: the rows of the scan built from it — the Plain files'
// rows, the Overlapped files' rows but the returned positions (row numbers
// in file order), the buffered versions, tombstones dropped — are exactly
// the model's, and each returned position holds an older version of a
// key that a newer source holds. Segments of one row group, and of row
// groups of 5 rows (a position is then its group's first row plus the
// key's rank in the group).
func TestSupersededRowsMatchModel(t *testing.T) {
	for _, groupRows := range []int64{0, 5} {
		t.Run(fmt.Sprintf("row groups of %d", groupRows), func(t *testing.T) { testSupersededRowsMatchModel(t, groupRows) })
	}
}

func testSupersededRowsMatchModel(t *testing.T, groupRows int64) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	h := newHarness(t, bucket)
	c := h.withCache(bucket)
	h.store = New(h.bucket, h.buf, Options{NodeID: "node-test", Cache: c, Segment: segment.WriterOptions{RowGroupRows: groupRows}})
	tb := testTable()
	model := map[int64]row.Row{}
	r := rand.New(rand.NewPCG(3, 5))
	used := 0
	for step := range 120 {
		var changes []Change
		for range 1 + r.IntN(8) {
			id := int64(r.IntN(200))
			if r.IntN(4) == 0 {
				changes = append(changes, del(id))
				delete(model, id)
				continue
			}
			c := upsert(id, fmt.Sprintf("s%d", step), int32(step))
			changes = append(changes, c)
			model[id] = c.Values
		}
		if _, err := h.store.Write(ctx, tb, "alice", changes); err != nil {
			t.Fatal(err)
		}
		if r.IntN(3) == 0 {
			if _, err := h.store.Flush(ctx, tb, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		fs, err := h.store.ScanFiles(ctx, tb, "alice", ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := fs.MergePlan()
		rows, ok, err := fs.SupersededRows(ctx, p, 1<<20)
		if err != nil || !ok {
			t.Fatalf("step %d: ok %v, err %v", step, ok, err)
		}
		if len(rows) > 0 && len(rows[0]) > 0 {
			used++
		}
		got := map[int64]row.Row{}
		take := func(v row.Version) {
			id := v.Values[0].Int64()
			if _, dup := got[id]; dup {
				t.Fatalf("step %d: key %d twice in the scan", step, id)
			}
			if !v.Deleted {
				got[id] = v.Values
			} else {
				got[id] = nil
			}
		}
		for _, sf := range p.Plain {
			vs, err := appendSegmentVersions(nil, tb, sf)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				take(v)
			}
		}
		for i, sf := range p.Overlapped {
			vs, err := appendSegmentVersions(nil, tb, sf)
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range vs {
				if !slices.Contains(rows[i], int64(j)) {
					take(v)
				}
			}
		}
		for _, v := range fs.Buffered {
			take(v)
		}
		fs.Release()
		for id, v := range got {
			if v == nil {
				delete(got, id)
			}
		}
		if len(got) != len(model) {
			t.Fatalf("step %d: %d rows, model has %d", step, len(got), len(model))
		}
		for id, want := range model {
			if !got[id].Equal(want) {
				t.Fatalf("step %d: key %d is %v, model %v", step, id, got[id], want)
			}
		}
	}
	if used == 0 {
		t.Fatal("no step had superseded rows: the test checks nothing")
	}
}
