package sqlexec_test

import (
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// ALTER TABLE … ADD COLUMN … DEFAULT records the default's value once (the
// initial default) and the rows already in the table read it — those that
// were flushed before the ALTER and those still buffered — through DuckDB
// and the point-read path, after compaction rewrites the old segments, and
// after a restart. Rows inserted later get the DEFAULT unless they say
// otherwise (an explicit NULL stays NULL).
func TestAddColumnDefaultFillsOlderRows(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE SHARED TABLE inv (id INT PRIMARY KEY, name TEXT)")
	h.must(svc, "INSERT INTO inv VALUES (1, 'flushed')")
	h.must(svc, "FLUSH TABLE inv")
	h.must(svc, "INSERT INTO inv VALUES (2, 'buffered')")
	h.must(svc, `ALTER TABLE inv ADD COLUMN c INT DEFAULT 7`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN n DECIMAL(10,2) DEFAULT 1.25`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN f DOUBLE DEFAULT 'nan'`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN s TEXT DEFAULT 'it''s ' || 'é'`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN b BYTEA DEFAULT '\x01\xFF'::BLOB`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN j JSON DEFAULT '{"a": 1}'`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN u UUID DEFAULT '0190f5b2-7c4e-7a3b-8f00-0123456789ab'`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN dt DATE DEFAULT 'infinity'`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN ts TIMESTAMP DEFAULT TIMESTAMP '1969-12-31 23:59:59.5'`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN ok BOOLEAN DEFAULT 1 = 1`)
	h.must(svc, `ALTER TABLE inv ADD COLUMN plain INT`)
	// A per-row Floe function cannot be evaluated once for the old rows.
	e := h.fails(svc, dberr.InvalidOption, "ALTER TABLE inv ADD COLUMN sid BIGINT DEFAULT SNOWFLAKE_ID()")
	if e.Msg == "" {
		t.Fatal("no message")
	}
	h.must(svc, "INSERT INTO inv (id, name, c) VALUES (3, 'explicit null', NULL)")
	h.must(svc, "INSERT INTO inv (id, name) VALUES (4, 'new')")

	const q = `SELECT id, c, CAST(n AS VARCHAR), f, s, b, CAST(j AS VARCHAR), CAST(u AS VARCHAR), CAST(dt AS VARCHAR), CAST(ts AS VARCHAR), ok, plain FROM inv ORDER BY id`
	filled := "7 1.25 NaN it's é [1 255] {\"a\": 1} 0190f5b2-7c4e-7a3b-8f00-0123456789ab infinity 1969-12-31 23:59:59.5 true <nil>]"
	want := []string{"[1 " + filled, "[2 " + filled,
		"[3 <nil> 1.25 NaN it's é [1 255] {\"a\": 1} 0190f5b2-7c4e-7a3b-8f00-0123456789ab infinity 1969-12-31 23:59:59.5 true <nil>]",
		"[4 " + filled}
	equal(t, "after ALTER", h.rows(svc, q), want)
	// The point-read path reads segments in Go.
	equal(t, "point read", h.rows(svc, "SELECT c, s FROM inv WHERE id = 1"), []string{"[7 it's é]"})
	h.must(svc, "FLUSH TABLE inv")
	h.must(root, "COMPACT TABLE inv")
	equal(t, "compacted", h.rows(svc, q), want)
	h.restart()
	equal(t, "restarted", h.rows(svc, q), want)
	equal(t, "point read after restart", h.rows(svc, "SELECT c, s FROM inv WHERE id = 2"), []string{"[7 it's é]"})
}
