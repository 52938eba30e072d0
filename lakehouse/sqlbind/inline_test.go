package sqlbind

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// inlineCatalog resolves the names of testCatalog and inlines the view v:
// `SELECT id, cid FROM orders WHERE cid > 0`, bound with the same
// catalog, under a projection as the executor builds it. A bare reference
// to v gets the name "__floe_9" instead.
func inlineCatalog(t *testing.T, conn Querier, viewSQL string) InlineResolver {
	t.Helper()
	b := NewBinder()
	view, err := b.Bind(context.Background(), conn, viewSQL, testCatalog().resolve)
	if err != nil {
		t.Fatalf("binding the view: %v", err)
	}
	w := view.Wrap(`SELECT "__floe_v".id AS id, "__floe_v".cid AS cid FROM (`+"\n", "\n"+`) AS "__floe_v"`)
	names := byName(testCatalog().resolve)
	return func(ref TableRef) (Replacement, error) {
		if asciiLower(ref.Name) == "v" && ref.Schema == "" {
			if ref.Bare {
				return Replacement{Name: `"__floe_9"`}, nil
			}
			return Replacement{Inline: w}, nil
		}
		return names(ref)
	}
}

// TestBindInline: a view's bound query inlined at a reference is checked
// again as part of the whole query, with its replacements at their new
// positions, and the result runs in DuckDB with the rows the view yields.
func TestBindInline(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	for _, stmt := range []string{
		`CREATE TABLE "__floe_1" (id INT, cid INT, secret TEXT)`,
		`INSERT INTO "__floe_1" VALUES (1, 0, 's1'), (2, 5, 's2'), (3, 7, 's3')`,
		`CREATE TABLE "__floe_2" (id INT, name TEXT)`,
		`INSERT INTO "__floe_2" VALUES (5, 'five'), (7, 'seven')`,
		`CREATE VIEW "__floe_9" AS SELECT 1 AS id, 5 AS cid`,
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	resolve := inlineCatalog(t, conn, "SELECT id, cid FROM orders WHERE cid > 0 -- a trailing comment")
	cases := []struct {
		query string
		want  string // the rows, "id,cid;…" in order
	}{
		{`SELECT id, cid FROM v ORDER BY id`, "2,5;3,7"},
		{`SELECT v.id, v.cid FROM v ORDER BY 1`, "2,5;3,7"},
		{`SELECT x.id, x.cid FROM v AS x ORDER BY 1`, "2,5;3,7"},
		{`SELECT x.a, x.b FROM v x(a, b) ORDER BY 1`, "2,5;3,7"},
		{`SELECT v.id, c.id FROM v JOIN customers c ON v.cid = c.id ORDER BY 1`, "2,5;3,7"},
		{`SELECT a.id, b.cid FROM v a, v b WHERE a.id = b.id ORDER BY 1`, "2,5;3,7"},
		{`WITH w AS (SELECT * FROM v) SELECT id, cid FROM w ORDER BY 1`, "2,5;3,7"},
		{`SELECT id, cid FROM (SELECT * FROM v WHERE id > 2) s`, "3,7"},
		{`TABLE v`, "1,5"},
		{`SELECT id, cid FROM ONLY v`, "1,5"},
	}
	b := NewBinder()
	for _, tc := range cases {
		bound, err := b.BindInline(ctx, conn, tc.query, resolve)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if strings.Contains(bound.SQL, "FROM v ") || strings.Contains(bound.SQL, "FROM orders") || strings.HasSuffix(bound.SQL, "FROM v") {
			t.Errorf("%s: a name is left in %q", tc.query, bound.SQL)
		}
		if got := rowsOf(t, conn, bound.SQL); got != tc.want {
			t.Errorf("%s: rows %q, want %q (rewritten: %s)", tc.query, got, tc.want, bound.SQL)
		}
	}
}

// TestBindInlineAttacks: a query around an inlined view cannot redirect
// the view's table references to its own CTEs, and an inlined query is
// never put where it cannot stand.
func TestBindInlineAttacks(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	resolve := inlineCatalog(t, conn, "SELECT id, cid FROM orders WHERE cid > 0")
	b := NewBinder()
	for _, q := range []string{
		// The view's replacement is "__floe_1": a CTE of that name around
		// it would be read instead of the table.
		`WITH "__floe_1" AS (SELECT 1 AS id, 1 AS cid) SELECT * FROM v`,
		`WITH "__FLOE_1" AS (SELECT 1 AS id, 1 AS cid) SELECT * FROM v`,
		`SELECT * FROM (WITH "__floe_1" AS (SELECT 1 AS id, 1 AS cid) SELECT * FROM v) s`,
		`WITH RECURSIVE "__floe_1"(id, cid) AS (SELECT 1, 1 UNION ALL SELECT * FROM v) SELECT * FROM "__floe_1"`,
	} {
		_, err := b.BindInline(ctx, conn, q, resolve)
		var de *dberr.Error
		if !errors.As(err, &de) || (de.Code != dberr.PermissionDenied && de.Code != dberr.Unsupported) {
			t.Errorf("%s: want PERMISSION_DENIED or UNSUPPORTED, got %v", q, err)
		}
	}
	// AT VERSION on an inlined reference cannot be kept: refused.
	_, err := b.BindInline(ctx, conn, `SELECT * FROM v AT (VERSION => 3)`, resolve)
	if err == nil {
		t.Fatal("an inlined reference with AT VERSION was accepted")
	}
}

// TestBindInlineChecksTheWhole: the inlined text is checked by the rules
// like the user's own: an inlined query calling a denied function (which a
// resolver could only produce by a bug) is refused, not trusted.
func TestBindInlineChecksTheWhole(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	bad := &Bound{SQL: `SELECT current_setting('threads') AS id, 1 AS cid`}
	resolve := func(ref TableRef) (Replacement, error) { return Replacement{Inline: bad}, nil }
	if _, err := NewBinder().BindInline(ctx, conn, `SELECT * FROM v`, resolve); err == nil {
		t.Fatal("an inlined query calling current_setting was accepted")
	}
	// An inlined query with a table reference it does not declare is
	// refused (its replacements are the only tables it may name).
	sneaky := &Bound{SQL: `SELECT * FROM secrets`}
	resolve = func(ref TableRef) (Replacement, error) { return Replacement{Inline: sneaky}, nil }
	if _, err := NewBinder().BindInline(ctx, conn, `SELECT * FROM v`, resolve); err == nil {
		t.Fatal("an inlined query naming an undeclared table was accepted")
	}
}

// rowsOf runs query and renders its rows as "a,b;c,d".
func rowsOf(t *testing.T, conn *sql.Conn, query string) string {
	t.Helper()
	return rowsOfArgs(t, conn, query)
}

// rowsOfArgs is rowsOf with query arguments.
func rowsOfArgs(t *testing.T, conn *sql.Conn, query string, args ...any) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b any
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(a)+","+fmt.Sprint(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ";")
}
