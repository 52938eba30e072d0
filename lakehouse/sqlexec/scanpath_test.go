package sqlexec_test

import (
	"context"
	"fmt"
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

// Every type reads the same, values and DuckDB types, from a segment of
// the current schema version (plain read_parquet) as from one written
// before a schema change (read by field id), and as from the buffer: a
// few buffered rows are written into the view as literals, many go to a
// temporary table.
func TestScanPlainAndMappedAgreeOnTypes(t *testing.T) {
	h := newHarness(t)
	const cols = `(id INT PRIMARY KEY, b BOOLEAN, i8 BIGINT, f REAL, d DOUBLE, n NUMERIC(12,3),
		s VARCHAR(10), j JSON, bs BYTEA, dt DATE, ts TIMESTAMPTZ, t TIMESTAMP, u UUID)`
	const rows = `(1, true, 9000000000, 1.5, -2.25, 12.5, 'text', '{"a": [1, 2]}', NULL, NULL, NULL, NULL, NULL),
		(2, false, -6, 0.5, 1e10, 1.0005, 'ab', json_object('k', 'v'), '\xAB'::BLOB, DATE '2024-02-29',
		TIMESTAMPTZ '2024-02-29 12:34:56.789+00', TIMESTAMP '1999-12-31 23:59:59.999999', '0190f5b2-7c4e-7a3b-8f00-0123456789ab')`
	h.must(svc, "CREATE TABLE plain "+cols)
	h.must(svc, "CREATE TABLE mapped "+cols)
	h.must(svc, "CREATE TABLE buffered "+cols)
	h.must(svc, "CREATE TABLE many "+cols)
	h.must(svc, "INSERT INTO plain VALUES "+rows)
	h.must(svc, "INSERT INTO mapped VALUES "+rows)
	h.must(svc, "INSERT INTO buffered VALUES "+rows)
	h.must(svc, "INSERT INTO many VALUES "+rows)
	// More rows than a view holds as literals, all after the two.
	h.must(svc, "INSERT INTO many (id) SELECT i FROM range(3, 200) t(i)")
	h.must(svc, "FLUSH TABLE plain")
	h.must(svc, "FLUSH TABLE mapped")
	h.must(svc, "ALTER TABLE mapped ADD COLUMN extra INT")
	h.must(svc, "ALTER TABLE mapped DROP COLUMN extra")
	p, m := h.segments("plain"), h.segments("mapped")
	if len(p) != 1 || len(m) != 1 {
		t.Fatalf("segments: %d plain, %d mapped", len(p), len(m))
	}
	const q = `SELECT id, b, i8, f, d, CAST(n AS VARCHAR), s, CAST(j AS VARCHAR), bs, CAST(dt AS VARCHAR),
		strftime(ts, '%Y-%m-%d %H:%M:%S.%g'), CAST(t AS VARCHAR), CAST(u AS VARCHAR),
		typeof(b) || typeof(i8) || typeof(f) || typeof(d) || typeof(n) || typeof(s) || typeof(j) || typeof(bs) ||
		typeof(dt) || typeof(ts) || typeof(t) || typeof(u) FROM `
	got := h.rows(svc, q+"plain ORDER BY id")
	equal(t, "plain vs mapped", got, h.rows(svc, q+"mapped ORDER BY id"))
	equal(t, "plain vs buffered", got, h.rows(svc, q+"buffered ORDER BY id"))
	equal(t, "plain vs many buffered", got, h.rows(svc, q+"many WHERE id < 3 ORDER BY id"))
	if len(got) != 2 {
		t.Fatalf("%d rows", len(got))
	}
	equal(t, "filters", h.rows(svc, "SELECT count(*) FROM plain WHERE ts > TIMESTAMPTZ '2024-01-01 00:00:00+00' AND u IS NOT NULL AND n > 1"),
		h.rows(svc, "SELECT count(*) FROM mapped WHERE ts > TIMESTAMPTZ '2024-01-01 00:00:00+00' AND u IS NOT NULL AND n > 1"))
}

// Rows that newer versions supersede in an overlapped segment are left
// out by their position in the file (a query-time deletion vector): the
// merge must hide exactly the superseded rows — no older version of an
// updated key, no deleted key, no row lost — whether the newer versions
// are buffered, in a newer segment, or both, and whether the overlapped
// segment holds tombstones itself. Checked against a model of the table
// with count(*), sums, the keys and the values of the touched keys.
func TestScanSupersededByPosition(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE sp (id INT PRIMARY KEY, v INT)")
	model := map[int]int{}
	insert := func(lo, hi int) {
		h.must(svc, fmt.Sprintf("INSERT INTO sp SELECT i, i * 10 FROM range(%d, %d) t(i)", lo, hi))
		for i := lo; i < hi; i++ {
			model[i] = i * 10
		}
	}
	update := func(id, v int) {
		h.must(svc, fmt.Sprintf("UPDATE sp SET v = %d WHERE id = %d", v, id))
		model[id] = v
	}
	del := func(id int) {
		h.must(svc, fmt.Sprintf("DELETE FROM sp WHERE id = %d", id))
		delete(model, id)
	}
	check := func(step string) {
		t.Helper()
		n, sum, sumID := 0, 0, 0
		for id, v := range model {
			n, sum, sumID = n+1, sum+v, sumID+id
		}
		equal(t, step+": aggregates", h.rows(svc, "SELECT count(*), sum(v), sum(id) FROM sp"),
			[]string{fmt.Sprintf("[%d %d %d]", n, sum, sumID)})
		var want []string
		for _, id := range []int{0, 1, 17, 499, 500, 501, 998, 999, 1000, 1500} {
			if v, ok := model[id]; ok {
				want = append(want, fmt.Sprintf("[%d %d]", id, v))
			}
		}
		equal(t, step+": touched keys", h.rows(svc, "SELECT id, v FROM sp WHERE id IN (0, 1, 17, 499, 500, 501, 998, 999, 1000, 1500) ORDER BY id"), want)
		equal(t, step+": count by filter", h.rows(svc, "SELECT count(*) FROM sp WHERE v > -100"), []string{fmt.Sprint(n)})
	}
	insert(0, 1000)
	h.must(svc, "FLUSH TABLE sp")
	insert(1000, 2000)
	h.must(svc, "FLUSH TABLE sp")
	check("flushed")

	// Buffered versions over the first segment: its first, last and
	// middle rows, and a delete.
	update(0, -1)
	update(999, -2)
	update(500, -3)
	del(17)
	check("buffered")

	// Flushed: a small newer segment inside the first one's range (and
	// holding a tombstone), then buffered versions over both.
	h.must(svc, "FLUSH TABLE sp")
	check("flushed update")
	update(500, -4) // a third version of 500: newer than the small segment's
	update(1, -5)
	del(998)
	update(1500, -6) // the second segment too
	check("buffered over flushed")
	h.must(svc, "FLUSH TABLE sp")
	check("two small segments")
	// A key deleted and inserted again.
	del(501)
	h.must(svc, "FLUSH TABLE sp")
	h.must(svc, "INSERT INTO sp VALUES (501, 7)")
	model[501] = 7
	check("reinserted")
}
