package sqlbind

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// trustedCatalog resolves orders to a trusted query that reads the
// relation "__floe_secret" (which no user reference may name) and
// leaves out its secret rows; customers keeps its plain name. A bare
// reference to orders gets the name "__floe_7" instead.
func trustedCatalog(ref TableRef) (Replacement, error) {
	if asciiLower(ref.Name) == "orders" && ref.Schema == "" {
		if ref.Bare {
			return Replacement{Name: `"__floe_7"`}, nil
		}
		return Replacement{Name: `"__floe_1"`, Trusted: `SELECT id, cid FROM "__floe_secret" WHERE NOT hide`}, nil
	}
	return byName(testCatalog().resolve)(ref)
}

// TestBindTrusted: a trusted query is put at each reference it replaces,
// with the reference's alias, after the gate checked the query with the
// placeholder there; it reads what user SQL may not name, and the query
// runs with its rows.
func TestBindTrusted(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	for _, stmt := range []string{
		`CREATE TABLE "__floe_secret" (id INT, cid INT, hide BOOLEAN)`,
		`INSERT INTO "__floe_secret" VALUES (1, 5, false), (2, 7, false), (3, 9, true)`,
		`CREATE TABLE "__floe_2" (id INT, name TEXT)`,
		`INSERT INTO "__floe_2" VALUES (5, 'five'), (7, 'seven')`,
		`CREATE VIEW "__floe_7" AS SELECT 9 AS id, 9 AS cid`,
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		query string
		args  []any
		want  string
	}{
		{`SELECT id, cid FROM orders ORDER BY id`, nil, "1,5;2,7"},
		{`SELECT orders.id, orders.cid FROM orders ORDER BY 1`, nil, "1,5;2,7"},
		{`SELECT o.id, o.cid FROM orders o ORDER BY 1`, nil, "1,5;2,7"},
		{`SELECT x.a, x.b FROM orders x(a, b) ORDER BY 1`, nil, "1,5;2,7"},
		{`SELECT o.id, c.name FROM orders o JOIN customers c ON o.cid = c.id ORDER BY 1`, nil, "1,five;2,seven"},
		{`SELECT a.id, b.cid FROM orders a, orders b WHERE a.id = b.id ORDER BY 1`, nil, "1,5;2,7"},
		{`WITH w AS (SELECT * FROM orders) SELECT id, cid FROM w ORDER BY 1`, nil, "1,5;2,7"},
		{`SELECT id, '"__floe_1"' FROM orders ORDER BY 1`, nil, `1,"__floe_1";2,"__floe_1"`},
		{`SELECT id, cid FROM orders AT (VERSION => $1) ORDER BY 1`, []any{3}, "1,5;2,7"},
		{`TABLE orders`, nil, "9,9"},
	}
	// orders AT VERSION resolves like any reference in this catalog.
	b := NewBinder()
	for _, tc := range cases {
		bound, err := b.BindInline(ctx, conn, tc.query, trustedCatalog)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if got := rowsOfArgs(t, conn, bound.SQL, tc.args...); got != tc.want {
			t.Errorf("%s: rows %q, want %q (rewritten: %s)", tc.query, got, tc.want, bound.SQL)
		}
	}
	// A view inlined into another query keeps its trusted queries.
	view, err := b.BindInline(ctx, conn, `SELECT id, cid FROM orders WHERE cid > 5`, trustedCatalog)
	if err != nil {
		t.Fatal(err)
	}
	w := view.Wrap(`SELECT "__floe_v".id AS id, "__floe_v".cid AS cid FROM (`+"\n", "\n"+`) AS "__floe_v"`)
	resolve := func(ref TableRef) (Replacement, error) {
		if asciiLower(ref.Name) == "v" {
			return Replacement{Inline: w}, nil
		}
		return trustedCatalog(ref)
	}
	bound, err := b.BindInline(ctx, conn, `SELECT v.id, o.cid FROM v JOIN orders o ON v.id = o.id ORDER BY 1`, resolve)
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, conn, bound.SQL); got != "2,7" {
		t.Errorf("view with a trusted query: rows %q, want 2,7 (rewritten: %s)", got, bound.SQL)
	}
}

// TestBindTrustedAttacks: user SQL that imitates the inlined form — the
// trusted query written out, the placeholder named, a CTE of its name —
// is refused: only Floe's own text at a verified reference is trusted.
func TestBindTrustedAttacks(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	b := NewBinder()
	for _, q := range []string{
		`SELECT * FROM (` + "\n" + `SELECT id, cid FROM "__floe_secret" WHERE NOT hide` + "\n" + `) AS "orders"`,
		`SELECT * FROM (` + "\n" + `SELECT * FROM read_parquet('/etc/passwd')` + "\n" + `) AS "orders"`,
		`SELECT * FROM "__floe_1"`,
		`SELECT * FROM orders, "__floe_secret"`,
		`WITH "__floe_1" AS (SELECT 1 AS id, 1 AS cid) SELECT * FROM orders`,
		`SELECT * FROM orders UNION ALL SELECT * FROM (SELECT id, cid FROM "__floe_secret")`,
	} {
		_, err := b.BindInline(ctx, conn, q, trustedCatalog)
		var de *dberr.Error
		if !errors.As(err, &de) {
			t.Errorf("%s: want a refusal, got %v", q, err)
		}
	}
}

// TestCheckTrusted: a trusted query that could change how the text
// around it is read is refused (it would be a bug in the caller).
func TestCheckTrusted(t *testing.T) {
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{`SELECT 1`, true},
		{`SELECT ')' AS "a)(", '--' , '/*', ';', '$1', '?', 'it''s' FROM x`, true},
		{`SELECT CAST(NULL AS INT) WHERE (1 = 1)`, true},
		{`SELECT 1) UNION SELECT secret FROM t (`, false},
		{`SELECT 1 -- `, false},
		{`SELECT 1 /* `, false},
		{`SELECT 1; DROP TABLE t`, false},
		{`SELECT $1`, false},
		{`SELECT ?`, false},
		{`SELECT $$x$$`, false},
		{`SELECT E'\''`, false},
		{`SELECT 'open`, false},
		{`SELECT "open`, false},
		{`SELECT ((1)`, false},
	} {
		err := checkTrusted(tc.text)
		if (err == nil) != tc.ok {
			t.Errorf("checkTrusted(%q) = %v, want ok %v", tc.text, err, tc.ok)
		}
	}
	// Bind refuses such a text rather than run it.
	conn := openConn(t)
	bad := func(ref TableRef) (Replacement, error) {
		return Replacement{Name: `"__floe_1"`, Trusted: `SELECT 1) AS x, (SELECT 2`}, nil
	}
	if _, err := NewBinder().BindInline(context.Background(), conn, `SELECT * FROM orders`, bad); err == nil || !strings.Contains(err.Error(), "trusted") {
		t.Errorf("an unbalanced trusted query: got %v", err)
	}
}

// TestBoundWithTrusted: WithTrusted puts other queries at a bound query's
// placeholders, leaving the checked text and the original alone; every
// placeholder must get one, and each must pass the trusted-query checks.
// SelfContained tells forms that name no session relation.
func TestBoundWithTrusted(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	for _, stmt := range []string{
		`CREATE TABLE "__floe_secret" (id INT, cid INT, hide BOOLEAN)`,
		`INSERT INTO "__floe_secret" VALUES (1, 5, false), (2, 7, false), (3, 9, true)`,
		`CREATE VIEW "__floe_7" AS SELECT 9 AS id, 9 AS cid`,
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBinder()
	bound, err := b.BindInline(ctx, conn, `SELECT a.id, b.cid FROM orders a JOIN orders b USING (id) ORDER BY 1`, trustedCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if !bound.SelfContained() {
		t.Fatal("a query with only trusted replacements is not self-contained")
	}
	if got := strings.Join(bound.TrustedNames(), ","); got != `"__floe_1","__floe_1"` {
		t.Fatalf("TrustedNames = %s", got)
	}
	other, err := bound.WithTrusted(func(name string) (string, bool) {
		return `SELECT id, cid FROM "__floe_secret" WHERE hide`, name == `"__floe_1"`
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, conn, other.SQL); got != "3,9" {
		t.Fatalf("with other trusted queries: rows %q (%s)", got, other.SQL)
	}
	if got := rowsOf(t, conn, bound.SQL); got != "1,5;2,7" {
		t.Fatalf("the original changed: rows %q", got)
	}
	if _, err := bound.WithTrusted(func(string) (string, bool) { return "", false }); err == nil {
		t.Fatal("a placeholder without a query was accepted")
	}
	for _, bad := range []string{"SELECT 1) UNION (SELECT 2", "SELECT 1 -- x", "SELECT $1", "SELECT 1; DROP TABLE x"} {
		if _, err := bound.WithTrusted(func(string) (string, bool) { return bad, true }); err == nil {
			t.Errorf("trusted query %q was accepted", bad)
		}
	}
	bare, err := b.BindInline(ctx, conn, `SELECT * FROM orders, (TABLE orders) t`, trustedCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if bare.SelfContained() {
		t.Fatal("a query naming a relation (TABLE orders) is self-contained")
	}
}
