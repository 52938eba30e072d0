package sqlparse

import (
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

func viewCases() []parseCase {
	return []parseCase{
		{"create view", "CREATE VIEW v_active AS SELECT * FROM system.users WHERE deleted_at IS NULL",
			&CreateView{View: Name{Name: "v_active"}, Source: "SELECT * FROM system.users WHERE deleted_at IS NULL",
				Query: "SELECT * FROM system.users WHERE deleted_at IS NULL", QueryOffset: 24}},
		{"create or replace qualified with columns", `create or replace view app."V" (a, "B") as with x as (select 1, 2) from x`,
			&CreateView{View: Name{Namespace: "app", Name: "V"}, OrReplace: true, Columns: []string{"a", "B"},
				Source: "with x as (select 1, 2) from x", Query: "with x as (select 1, 2) from x", QueryOffset: 43}},
		{"create view if not exists", "CREATE VIEW IF NOT EXISTS v AS (SELECT 1) UNION SELECT 2",
			&CreateView{View: Name{Name: "v"}, IfNotExists: true, Source: "(SELECT 1) UNION SELECT 2", Query: "(SELECT 1) UNION SELECT 2", QueryOffset: 31}},
		{"create view time travel", "CREATE VIEW v AS SELECT * FROM t AS OF VERSION 3 x",
			&CreateView{View: Name{Name: "v"}, Source: "SELECT * FROM t AS OF VERSION 3 x", Query: "SELECT * FROM t x AT (VERSION => 3)", QueryOffset: 17}},
		{"drop view", "DROP VIEW v", &DropView{View: Name{Name: "v"}}},
		{"drop view if exists cascade", "drop view if exists ns.v cascade", &DropView{View: Name{Namespace: "ns", Name: "v"}, IfExists: true, Cascade: true}},
		{"drop view restrict", "DROP VIEW v RESTRICT", &DropView{View: Name{Name: "v"}}},
		{"show views", "SHOW VIEWS", &ShowViews{}},
		{"show views in", "show views in App", &ShowViews{Namespace: "app"}},
		{"show views from", "SHOW VIEWS FROM app", &ShowViews{Namespace: "app"}},
	}
}

func viewErrCases() []errCase {
	const (
		syntax      = dberr.SyntaxError
		unsupported = dberr.Unsupported
	)
	return []errCase{
		{"view without query", "CREATE VIEW v AS", syntax, 1, 17, `expected a query after "AS", found end of statement`},
		{"view without as", "CREATE VIEW v SELECT 1", syntax, 1, 15, `expected AS after "v", found "SELECT"`},
		{"view of insert", "CREATE VIEW v AS INSERT INTO t VALUES (1)", syntax, 1, 18, `expected a query after "AS", found "INSERT"`},
		{"view of with insert", "CREATE VIEW v AS WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", unsupported, 0, 0, "a WITH clause may only precede a query, not INSERT"},
		{"view of explain", "CREATE VIEW v AS EXPLAIN SELECT 1", syntax, 1, 18, `expected a query`},
		{"view or replace if not exists", "CREATE OR REPLACE VIEW IF NOT EXISTS v AS SELECT 1", syntax, 1, 24, "cannot be combined"},
		{"view three-part name", "CREATE VIEW a.b.c AS SELECT 1", syntax, 1, 16, "a view name has at most two parts"},
		{"view reserved name", "CREATE VIEW select AS SELECT 1", syntax, 1, 13, `"select" is a reserved word`},
		{"view duplicate column", "CREATE VIEW v (a, a) AS SELECT 1, 2", syntax, 1, 19, `column "a" is listed twice`},
		{"view empty column list", "CREATE VIEW v () AS SELECT 1", syntax, 1, 16, "expected a column name"},
		{"view unbalanced", "CREATE VIEW v AS SELECT (1", syntax, 1, 27, `expected ")" to close "("`},
		{"materialized view", "CREATE MATERIALIZED VIEW v AS SELECT 1", unsupported, 0, 0, "CREATE MATERIALIZED VIEW is not supported"},
		{"drop view no name", "DROP VIEW", syntax, 1, 10, "expected a view name"},
		{"drop view trailing", "DROP VIEW v w", syntax, 1, 13, "expected end of statement"},
		{"show views bad namespace", "SHOW VIEWS IN a.b", syntax, 1, 16, "a namespace name has one part"},
	}
}

func TestParseViews(t *testing.T) {
	runParseCases(t, viewCases())
	// Source is the statement's text from QueryOffset to its end.
	for _, tc := range viewCases() {
		sts, err := Parse(tc.sql + " ; SELECT 1")
		if err != nil {
			t.Fatal(err)
		}
		if cv, ok := sts[0].(*CreateView); ok {
			end := sts[0].Offset() + len(sts[0].Text())
			if got := tc.sql[cv.QueryOffset:end]; got != cv.Source {
				t.Errorf("%s: Source %q, but the text at QueryOffset is %q", tc.name, cv.Source, got)
			}
		}
	}
}
