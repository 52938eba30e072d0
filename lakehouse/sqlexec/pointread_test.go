package sqlexec_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// same runs a query on the point-read path and on the DuckDB path and
// fails unless both give the same result (columns, Go values, message) or
// the same error code. fast says whether the point-read path must have
// answered it (true) or declined it (false).
func (h *harness) same(fast bool, p access.Principal, sql string, params ...any) sqlexec.Result {
	h.t.Helper()
	x := h.node.Executor
	before := sqlexec.PointReads(x)
	got, gotErr := h.exec(p, sql, params...)
	served := sqlexec.PointReads(x) - before
	sqlexec.SetPointReads(x, false)
	want, wantErr := h.exec(p, sql, params...)
	sqlexec.SetPointReads(x, true)
	if fast && served != 1 || !fast && served != 0 {
		h.t.Fatalf("%s %v as %s: point reads served %d, want fast=%v", sql, params, p.UserID, served, fast)
	}
	if gotErr != nil || wantErr != nil {
		if dberr.CodeOf(gotErr) != dberr.CodeOf(wantErr) {
			h.t.Fatalf("%s %v as %s:\n fast error %v\nduckdb error %v", sql, params, p.UserID, gotErr, wantErr)
		}
		return sqlexec.Result{}
	}
	g, w := got[len(got)-1], want[len(want)-1]
	if !reflect.DeepEqual(g.Columns, w.Columns) || !reflect.DeepEqual(exact(g.Rows), exact(w.Rows)) || g.Message != w.Message {
		h.t.Fatalf("%s %v as %s:\n fast   %#v\n duckdb %#v", sql, params, p.UserID, g, w)
	}
	return g
}

// floatBits stands for a float in exact: NaN equals NaN, -0 differs
// from 0.
type floatBits struct {
	bits uint64
	wide bool
}

// exact returns x with every float replaced by its bits, for
// reflect.DeepEqual.
func exact(x any) any {
	switch v := x.(type) {
	case float64:
		return floatBits{math.Float64bits(v), true}
	case float32:
		return floatBits{uint64(math.Float32bits(v)), false}
	case [][]any:
		out := make([]any, len(v))
		for i, r := range v {
			out[i] = exact(r)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = exact(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = exact(e)
		}
		return out
	}
	return x
}

// Every column type, in the buffer, in segments, updated and deleted: the
// point read returns what DuckDB returns.
func TestPointReadAllTypes(t *testing.T) {
	h := newHarness(t)
	h.must(alice, `CREATE USER TABLE ty (id INT PRIMARY KEY, b BOOLEAN, i8 BIGINT, f REAL, d DOUBLE, n NUMERIC(12,3),
		s VARCHAR(10), j JSON, bs BYTEA, dt DATE, ts TIMESTAMPTZ, u UUID)`)
	h.must(alice, `INSERT INTO ty VALUES (1, true, 9000000000, 1.5, -2.25, 12.5, 'text', '{"a": [1, 2]}', NULL, NULL, NULL, NULL)`)
	h.must(alice, `INSERT INTO ty VALUES (2, 1 = 1, 2 * 3, 0.5, 1e10, 1.0005, 'a' || 'b', json_object('k', 'v'), '\xAB'::BLOB,
		DATE '2024-02-29', TIMESTAMPTZ '2024-02-29 12:34:56.789+00', '0190f5b2-7c4e-7a3b-8f00-0123456789ab')`)
	h.must(alice, `INSERT INTO ty VALUES (3, false, -1, -0.0, 'NaN'::DOUBLE, -999999999.999, '', '[1, "x", null, {"y": 1.5e300}]', ''::BLOB,
		DATE '1960-01-01', TIMESTAMPTZ '1901-12-13 20:45:52.000001+00', '00000000-0000-0000-0000-000000000000')`)
	check := func(stage string) {
		t.Helper()
		for id := range 5 {
			for _, q := range []string{"SELECT * FROM ty WHERE id = %d", "SELECT u, ts, dt, bs, j, s, n, d, f, i8, b, id FROM ty WHERE id = %d"} {
				res := h.same(true, alice, fmt.Sprintf(q, id))
				if exists := id >= 1 && id <= 3 && !(stage == "deleted" && id == 2); exists != (len(res.Rows) == 1) {
					t.Fatalf("%s: id %d: %d rows", stage, id, len(res.Rows))
				}
			}
		}
	}
	check("buffered")
	h.must(root, "FLUSH ALL")
	check("flushed")
	h.must(alice, "UPDATE ty SET s = upper(s), j = '{}' WHERE id = 1")
	check("updated")
	h.must(alice, "DELETE FROM ty WHERE id = 2")
	check("deleted")
	h.must(root, "FLUSH ALL") // the tombstone in a second segment
	check("deleted")
	h.must(svc, "COMPACT TABLE ty")
	check("deleted")
}

// Random operations on tables with a BIGINT key and with a composite
// (TEXT, INT) key; after each step random keys are read through both
// paths, with literals and parameters of several Go types.
func TestPointReadDifferential(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE k1 (id BIGINT PRIMARY KEY, v TEXT, n DOUBLE)")
	h.must(svc, "CREATE TABLE k2 (a TEXT, b INT, v TEXT, PRIMARY KEY (a, b)) WITH (ACCESS_LEVEL = 'PUBLIC')")
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "b", "it's", "ß", "zz"}
	for step := range 30 {
		switch op := rng.IntN(10); {
		case op < 5:
			id := rng.IntN(40)
			h.must(alice, "INSERT OR REPLACE INTO k1 VALUES ($1, $2, $3)", int64(id), fmt.Sprint("v", step), float64(step)/3)
			h.must(svc, "INSERT OR REPLACE INTO k2 VALUES ($1, $2, $3)", words[rng.IntN(len(words))], int64(rng.IntN(5)-2), fmt.Sprint("w", step))
		case op < 7:
			h.must(alice, "DELETE FROM k1 WHERE id % 7 = $1", int64(rng.IntN(7)))
			h.must(svc, "DELETE FROM k2 WHERE b = $1", int64(rng.IntN(5)-2))
		case op < 9:
			h.must(root, "FLUSH ALL")
		default:
			h.must(svc, "COMPACT TABLE k2")
		}
		for range 8 {
			id := rng.IntN(42)
			h.same(true, alice, fmt.Sprintf("SELECT * FROM k1 WHERE id = %d", id))
			h.same(true, alice, "SELECT n, v FROM public.k1 WHERE id = $1", int64(id))
			h.same(true, alice, "select v from k1 where id = $1 limit 1;", int32(id))
			h.same(true, alice, "SELECT v FROM k1 WHERE id = $1", uint64(id))
			h.same(true, alice, "SELECT v FROM k1 WHERE id = $1", id)
			h.same(false, alice, "SELECT v FROM k1 WHERE id = $1", float64(id))
			h.same(false, alice, "SELECT v FROM k1 WHERE id = $1", fmt.Sprint(id))
			h.same(false, alice, fmt.Sprintf("SELECT v FROM k1 WHERE id = '%d'", id))
			h.same(false, alice, fmt.Sprintf("SELECT v FROM k1 WHERE id = %d.0", id))
			w, b := words[rng.IntN(len(words))], rng.IntN(5)-2
			lit := "'" + strings.ReplaceAll(w, "'", "''") + "'"
			h.same(true, bob, fmt.Sprintf("SELECT * FROM k2 WHERE a = %s AND b = %d", lit, b))
			h.same(true, bob, fmt.Sprintf("SELECT v, a FROM k2 WHERE b = %d AND a = %s", b, lit))
			h.same(true, bob, "SELECT v FROM k2 WHERE b = $2 AND a = $1", w, int64(b))
			h.same(false, bob, "SELECT v FROM k2 WHERE a = $1 ORDER BY v", w)
		}
	}
}

// The fast path serves only the caller's own partition of a USER table:
// another user's key is never returned.
func TestPointReadOtherUsersPartition(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT)")
	h.must(alice, "INSERT INTO notes VALUES (1, 'alice secret')")
	h.must(bob, "INSERT INTO notes VALUES (2, 'bob note')")
	for _, stage := range []string{"buffered", "flushed"} {
		if res := h.same(true, bob, "SELECT * FROM notes WHERE id = 1"); len(res.Rows) != 0 {
			t.Fatalf("%s: bob read alice's row: %v", stage, res.Rows)
		}
		if res := h.same(true, bob, "SELECT body FROM notes WHERE id = $1", int64(2)); len(res.Rows) != 1 || res.Rows[0][0] != "bob note" {
			t.Fatalf("%s: bob's own row: %v", stage, res.Rows)
		}
		if res := h.same(true, alice, "SELECT body FROM notes WHERE id = 1"); len(res.Rows) != 1 || res.Rows[0][0] != "alice secret" {
			t.Fatalf("%s: alice's own row: %v", stage, res.Rows)
		}
		h.must(root, "FLUSH ALL")
	}
	// Rights and names are checked as on the DuckDB path.
	h.must(root, "CREATE SHARED TABLE priv (id INT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'PRIVATE')")
	h.must(root, "INSERT INTO priv VALUES (1, 'x')")
	h.fails(alice, dberr.PermissionDenied, "SELECT * FROM priv WHERE id = 1")
	h.same(false, alice, "SELECT * FROM priv WHERE id = 1")
	h.same(true, svc, "SELECT * FROM priv WHERE id = 1")
	h.fails(dba, dberr.ColumnNotFound, "SELECT nope FROM priv WHERE id = 1")
	h.same(false, dba, "SELECT nope FROM priv WHERE id = 1")
	h.fails(dba, dberr.TableNotFound, "SELECT * FROM nope WHERE id = 1")
	h.same(false, dba, "SELECT * FROM nope WHERE id = 1")
	h.same(false, dba, "SELECT * FROM system.users WHERE user_id = 'x'")
}

// STREAM rows disappear from point reads at their TTL, as from the view;
// _written_at stays hidden.
func TestPointReadStreamExpiry(t *testing.T) {
	h := newHarness(t)
	h.advance(0)
	h.must(alice, "CREATE STREAM TABLE ev (id INT PRIMARY KEY, kind TEXT) WITH (TTL_SECONDS = 60)")
	h.must(alice, "INSERT INTO ev VALUES (1, 'flushed')")
	h.must(root, "FLUSH ALL")
	h.must(alice, "INSERT INTO ev VALUES (2, 'buffered')")
	for _, d := range []time.Duration{0, 59 * time.Second, time.Second - time.Microsecond, time.Microsecond, time.Microsecond, time.Hour} {
		h.advance(d)
		for id := 1; id <= 2; id++ {
			res := h.same(true, alice, "SELECT * FROM ev WHERE id = $1", id)
			if len(res.Columns) != 2 {
				t.Fatalf("columns %v", res.Columns)
			}
			h.same(true, bob, "SELECT * FROM ev WHERE id = $1", id)
		}
	}
	if res := h.same(true, alice, "SELECT * FROM ev WHERE id = 1"); len(res.Rows) != 0 {
		t.Fatalf("expired row returned: %v", res.Rows)
	}
}

// Queries that are not exactly a point read take the DuckDB path and
// answer as it does.
func TestPointReadFallsBack(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE fb (id BIGINT PRIMARY KEY, name TEXT, n INT)")
	h.must(alice, "INSERT INTO fb VALUES (1, 'x', 10), (2, 'y', 20)")
	h.must(alice, "CREATE USER TABLE norow (v TEXT)")
	h.must(alice, "INSERT INTO norow VALUES ('a')")
	for _, q := range []string{
		"SELECT * FROM fb WHERE id = 1 OR 1=1",
		"SELECT * FROM fb WHERE id = 1 AND name = 'x'",
		"SELECT * FROM fb WHERE id = 1 AND id = 1",
		"SELECT * FROM fb WHERE name = 'x'",
		"SELECT * FROM fb WHERE (id = 1)",
		"SELECT * FROM fb WHERE id = 1 + 0",
		"SELECT * FROM fb WHERE id = abs(-1)",
		"SELECT * FROM fb WHERE id = (SELECT 1)",
		"SELECT * FROM fb WHERE id IN (1)",
		"SELECT * FROM fb WHERE id = 1 ORDER BY id",
		"SELECT * FROM fb WHERE id = 1 LIMIT 0",
		"SELECT * FROM fb WHERE id = 1 OFFSET 0",
		"SELECT upper(name) FROM fb WHERE id = 1",
		"SELECT name AS n FROM fb WHERE id = 1",
		"SELECT name, name FROM fb WHERE id = 1",
		"SELECT fb.name FROM fb WHERE id = 1",
		"SELECT NAME FROM fb WHERE id = 1",
		"SELECT name FROM fb f WHERE id = 1",
		"SELECT name FROM fb WHERE ID = 1",
		"SELECT name FROM fb WHERE id = 1.0",
		"SELECT name FROM fb WHERE id = 1e0",
		"SELECT name FROM fb WHERE id = '1'",
		"SELECT name FROM fb WHERE id = 0x1",
		"SELECT name FROM fb WHERE id = 99999999999999999999",
		"SELECT name FROM fb WHERE id = 1::BIGINT",
		"SELECT _rowid FROM norow WHERE _rowid = 1",
		"SELECT * FROM norow WHERE v = 'a'",
		"SELECT * FROM fb AS OF VERSION 1 WHERE id = 1",
		"SELECT DISTINCT name FROM fb WHERE id = 1",
		"SELECT * FROM fb, fb WHERE id = 1",
		"WITH fb AS (SELECT 1 AS id) SELECT * FROM fb WHERE id = 1",
		"SELECT * FROM fb WHERE id = 1 GROUP BY ALL",
		"SELECT * FROM main.fb WHERE id = 1",
		"SELECT * FROM floe.public.fb WHERE id = 1",
		"EXPLAIN SELECT * FROM fb WHERE id = 1",
		"SELECT _written_at FROM fb WHERE id = 1",
	} {
		h.same(false, alice, q)
	}
	h.same(true, alice, "SELECT name FROM fb WHERE id = -1")
	h.same(true, alice, "SELECT name FROM fb WHERE id = +1")
	h.same(true, alice, "SELECT name FROM fb WHERE id = NULL")
	h.same(true, alice, "SELECT name FROM fb WHERE id = $1", nil)
	h.same(true, alice, "SELECT \"name\" FROM \"fb\" WHERE \"id\" = 2 -- comment")
	h.same(true, alice, "SELECT name FROM fb WHERE id = 2;")
	h.same(false, alice, "SELECT name FROM fb WHERE id = $2", int64(1))
	h.same(false, alice, "SELECT name FROM fb WHERE id = ?", int64(1))
}
