package sqlexec_test

import (
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Every column type goes in through both INSERT paths (plain literals,
// evaluated by Floe; expressions, evaluated by DuckDB), is flushed to a
// segment, updated, and read back.
func TestAllTypesRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.must(alice, `CREATE USER TABLE ty (id INT PRIMARY KEY, b BOOLEAN, i8 BIGINT, f REAL, d DOUBLE, n NUMERIC(12,3),
		s VARCHAR(10), j JSON, bs BYTEA, dt DATE, ts TIMESTAMPTZ, u UUID)`)
	h.must(alice, `INSERT INTO ty VALUES (1, true, 9000000000, 1.5, -2.25, 12.5, 'text', '{"a": [1, 2]}', NULL, NULL, NULL, NULL)`)
	h.must(alice, `INSERT INTO ty VALUES (2, 1 = 1, 2 * 3, 0.5, 1e10, 1.0005, 'a' || 'b', json_object('k', 'v'), '\xAB'::BLOB,
		DATE '2024-02-29', TIMESTAMPTZ '2024-02-29 12:34:56.789+00', '0190f5b2-7c4e-7a3b-8f00-0123456789ab')`)
	want := []string{
		`[1 true 9000000000 1.5 -2.25 12.500 text {"a": [1, 2]} <nil> <nil> <nil> <nil>]`,
		`[2 true 6 0.5 1e+10 1.001 ab {"k":"v"} [171] 2024-02-29 2024-02-29 12:34:56.789 0190f5b2-7c4e-7a3b-8f00-0123456789ab]`,
	}
	const q = `SELECT id, b, i8, f, d, CAST(n AS VARCHAR), s, CAST(j AS VARCHAR), bs, CAST(dt AS VARCHAR), strftime(ts, '%Y-%m-%d %H:%M:%S.%g'), CAST(u AS VARCHAR) FROM ty ORDER BY id`
	equal(t, "buffered", h.rows(alice, q), want)
	h.must(root, "FLUSH ALL")
	equal(t, "flushed", h.rows(alice, q), want)
	h.must(alice, `UPDATE ty SET s = upper(s) WHERE id = 1`)
	want[0] = `[1 true 9000000000 1.5 -2.25 12.500 TEXT {"a": [1, 2]} <nil> <nil> <nil> <nil>]`
	equal(t, "updated", h.rows(alice, q), want)
}

func TestFloeDefaultFunctions(t *testing.T) {
	h := newHarness(t)
	h.must(alice, `CREATE USER TABLE d (id BIGINT DEFAULT SNOWFLAKE_ID() PRIMARY KEY, u UUID DEFAULT UUID_V7(), ut TEXT DEFAULT uuid_v7(),
		l TEXT DEFAULT ULID(), who TEXT DEFAULT CURRENT_USER, ts TIMESTAMP DEFAULT NOW(), day DATE DEFAULT CURRENT_TIMESTAMP, n INT DEFAULT 40 + 2, note TEXT)`)
	h.must(alice, "INSERT INTO d (note) VALUES ('a'), ('b')")
	h.must(alice, "INSERT INTO d (note) SELECT 'c'")
	got := h.rows(alice, `SELECT count(DISTINCT id), count(DISTINCT u), min(length(ut)), count(DISTINCT l), min(length(l)), min(who),
		count(*) FILTER (ts > now() - INTERVAL 1 MINUTE), count(*) FILTER (day = current_date), min(n), bool_and(uuid_extract_version(u) = 7) FROM d`)
	equal(t, "defaults", got, []string{"[3 3 36 3 26 alice 3 3 42 true]"})
	ids := h.rows(alice, "SELECT id FROM d ORDER BY id")
	if len(ids) != 3 || ids[0] >= ids[2] && len(ids[0]) == len(ids[2]) {
		t.Errorf("snowflake ids not increasing: %v", ids)
	}
}

func TestVirtualSystemTables(t *testing.T) {
	h := newHarness(t)
	node := h.app.NodeID().String()
	equal(t, "storages", h.rows(dba, "SELECT storage_id, node_id FROM system.storages"), []string{"[default " + node + "]"})
	equal(t, "namespaces", h.rows(dba, "SELECT namespace FROM system.namespaces ORDER BY 1"), []string{"public", "system"})
	got := h.rows(dba, "SELECT count(*) FROM system.stats WHERE metric IN ('catalog_version', 'schema_cache_misses') AND value > 0")
	equal(t, "stats", got, []string{"2"})
	equal(t, "live_queries", h.rows(dba, "SELECT count(*) FROM system.live_queries"), []string{"0"})
	h.fails(svc, dberr.PermissionDenied, "SELECT * FROM system.stats")
}
