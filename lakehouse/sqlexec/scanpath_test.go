package sqlexec_test

import (
	"context"
	"testing"

	"github.com/floedb/floe/lakehouse/tablestore"
)

// segments returns the segments of the shared partition of public.name.
func (h *harness) segments(name string) []tablestore.ScanFile {
	h.t.Helper()
	ctx := context.Background()
	snap, err := h.app.Schemas().Current(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	tbl, err := snap.Table("public", name)
	if err != nil {
		h.t.Fatal(err)
	}
	fs, err := h.node.Store.ScanFiles(ctx, tbl.Def(), "", tablestore.ScanOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer fs.Release()
	return fs.Files
}

// Segments of the current schema version are read by column name and
// older ones by field id. A column renamed away and a new column given
// the old name must not be confused: the old segment's "a" is today's
// "title", and today's "a" is NULL (its default) in it. Two columns whose
// names were swapped must read swapped.
func TestScanOldAndCurrentSegmentsByFieldID(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE ev (id INT PRIMARY KEY, a TEXT, b INT, x TEXT, y TEXT)")
	h.must(svc, "INSERT INTO ev VALUES (1, 'one', 10, 'x1', 'y1'), (2, 'two', 20, 'x2', 'y2')")
	h.must(svc, "FLUSH TABLE ev")
	h.must(svc, "ALTER TABLE ev RENAME COLUMN a TO title")
	h.must(svc, "ALTER TABLE ev ADD COLUMN a TEXT")
	h.must(svc, "ALTER TABLE ev DROP COLUMN b")
	h.must(svc, "ALTER TABLE ev ADD COLUMN b INT DEFAULT 7")
	h.must(svc, "ALTER TABLE ev RENAME COLUMN x TO tmp")
	h.must(svc, "ALTER TABLE ev RENAME COLUMN y TO x")
	h.must(svc, "ALTER TABLE ev RENAME COLUMN tmp TO y")
	h.must(svc, "INSERT INTO ev (id, title, x, y, a, b) VALUES (3, 'three', 'y3', 'x3', 'new-a', 30)")
	h.must(svc, "FLUSH TABLE ev")

	segs := h.segments("ev")
	if len(segs) != 2 || segs[0].Segment.SchemaVersion == segs[1].Segment.SchemaVersion {
		t.Fatalf("want one segment of the old schema and one of the current: %+v", segs)
	}
	equal(t, "all", h.rows(svc, "SELECT id, title, x, y, a, b FROM ev ORDER BY id"), []string{
		"[1 one y1 x1 <nil> 7]", "[2 two y2 x2 <nil> 7]", "[3 three y3 x3 new-a 30]"})
	equal(t, "filter on renamed", h.rows(svc, "SELECT id FROM ev WHERE title = 'two' OR title = 'three' ORDER BY id"), []string{"2", "3"})
	equal(t, "filter on reused name", h.rows(svc, "SELECT count(*) FROM ev WHERE a IS NULL"), []string{"2"})
	equal(t, "filter on re-added", h.rows(svc, "SELECT sum(b) FROM ev"), []string{"44"})
	equal(t, "filter on swapped", h.rows(svc, "SELECT id FROM ev WHERE x = 'y1'"), []string{"1"})
	equal(t, "count", h.rows(svc, "SELECT count(*), min(id), max(id) FROM ev"), []string{"[3 1 3]"})
}

// A segment holding tombstones is read with the _deleted filter even where
// no merge is needed (its keys are in no other source); segments known to
// hold none are marked in the manifest and read without it.
func TestScanSegmentTombstones(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE tb (id INT PRIMARY KEY, v INT)")
	h.must(svc, "INSERT INTO tb SELECT i, i * 10 FROM range(1, 11) t(i)")
	h.must(svc, "FLUSH TABLE tb")
	h.must(svc, "INSERT INTO tb SELECT i, i * 10 FROM range(20, 30) t(i)")
	h.must(svc, "DELETE FROM tb WHERE id IN (20, 25, 29)")
	h.must(svc, "FLUSH TABLE tb")

	segs := h.segments("tb")
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2", len(segs))
	}
	if !segs[0].Segment.NoTombstones() {
		t.Fatalf("first segment: deleted %v, want 0", segs[0].Segment.Deleted)
	}
	// The flush keeps the three tombstones: the second segment is read
	// without a merge (no key of it is in the first) but with the filter.
	if d := segs[1].Segment.Deleted; d == nil || *d != 3 || segs[1].Segment.Rows != 10 {
		t.Fatalf("second segment: deleted %v of %d rows, want 3 of 10", d, segs[1].Segment.Rows)
	}
	equal(t, "count", h.rows(svc, "SELECT count(*) FROM tb"), []string{"17"})
	equal(t, "min max", h.rows(svc, "SELECT min(id), max(id) FROM tb WHERE id >= 20"), []string{"[21 28]"})
	equal(t, "deleted key", h.rows(svc, "SELECT count(*) FROM tb WHERE id = 25"), []string{"0"})
	equal(t, "sum", h.rows(svc, "SELECT sum(v) FROM tb"), []string{"2260"})
}
