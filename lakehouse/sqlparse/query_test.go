package sqlparse

import "testing"

func queryCases() []parseCase {
	sel := func(q string) *Select { return &Select{Query: q} }
	return []parseCase{
		{"select", "SELECT 1", sel("SELECT 1")},
		{"lower case", "select a, b from t where c = 'x;y' order by 1", sel("select a, b from t where c = 'x;y' order by 1")},
		{"multi-line with comments", "SELECT a -- first\n  , /* second */ b\nFROM t", sel("SELECT a -- first\n  , /* second */ b\nFROM t")},
		{"with", "WITH x AS (SELECT 1) SELECT * FROM x", sel("WITH x AS (SELECT 1) SELECT * FROM x")},
		{"with recursive using key", "WITH RECURSIVE r(a) USING KEY (a) AS (SELECT 1 UNION SELECT a + 1 FROM r WHERE a < 3), s AS NOT MATERIALIZED (SELECT 2) SELECT * FROM r, s",
			sel("WITH RECURSIVE r(a) USING KEY (a) AS (SELECT 1 UNION SELECT a + 1 FROM r WHERE a < 3), s AS NOT MATERIALIZED (SELECT 2) SELECT * FROM r, s")},
		{"with then parenthesized query", "WITH x AS (SELECT 1) (SELECT * FROM x)", sel("WITH x AS (SELECT 1) (SELECT * FROM x)")},
		{"values", "VALUES (1, 'a'), (2, 'b')", sel("VALUES (1, 'a'), (2, 'b')")},
		{"from first", "FROM t", sel("FROM t")},
		{"table", "TABLE t", sel("TABLE t")},
		{"parenthesized", "(SELECT 1) UNION (SELECT 2)", sel("(SELECT 1) UNION (SELECT 2)")},
		{"parenthesized with", "((WITH x AS (SELECT 1) SELECT * FROM x))", sel("((WITH x AS (SELECT 1) SELECT * FROM x))")},
		{"brackets and structs", "SELECT [1, 2][1], {'a': (1)}", sel("SELECT [1, 2][1], {'a': (1)}")},
		{"alias named of", "SELECT x AS of FROM t", sel("SELECT x AS of FROM t")},
		{"unicode spaces in content and comments", "SELECT 'a\u00a0b', \"c\u3000d\", $$e\u2000f$$, E'\\u00a0g' -- h\u00a0i\n /* j\ufeffk */ FROM t",
			sel("SELECT 'a\u00a0b', \"c\u3000d\", $$e\u2000f$$, E'\\u00a0g' -- h\u00a0i\n /* j\ufeffk */ FROM t")},
		{"explain", "EXPLAIN SELECT 1", &Select{Query: "SELECT 1", QueryOffset: 8, Explain: true}},
		{"explain analyze", "explain analyze WITH x AS (SELECT 1) SELECT * FROM x", &Select{Query: "WITH x AS (SELECT 1) SELECT * FROM x", QueryOffset: 16, Explain: true, Analyze: true}},
		{"explain analyse", "EXPLAIN ANALYSE (SELECT 1)", &Select{Query: "(SELECT 1)", QueryOffset: 16, Explain: true, Analyze: true}},

		{"as of version", "SELECT * FROM t AS OF VERSION 3", sel("SELECT * FROM t AT (VERSION => 3)")},
		{"as of version lower case", "select * from ns.t as of version 1_000 where a", sel("select * from ns.t AT (VERSION => 1_000) where a")},
		{"as of version quoted name", `SELECT * FROM "My T" AS OF VERSION 3`, sel(`SELECT * FROM "My T" AT (VERSION => 3)`)},
		{"as of version parameters", "SELECT * FROM a AS OF VERSION $1, b AS OF VERSION ?, c AS OF VERSION $v", sel("SELECT * FROM a AT (VERSION => $1), b AT (VERSION => ?), c AT (VERSION => $v)")},
		{"as of version bare alias", "SELECT x.a FROM t AS OF VERSION 3 x WHERE x.a > 1", sel("SELECT x.a FROM t x AT (VERSION => 3) WHERE x.a > 1")},
		{"as of version alias with AS", "SELECT * FROM t AS OF VERSION 3 AS x", sel("SELECT * FROM t AS x AT (VERSION => 3)")},
		{"as of version alias with columns", "SELECT * FROM t AS OF VERSION 3 AS x(p, q)", sel("SELECT * FROM t AS x(p, q) AT (VERSION => 3)")},
		{"as of version quoted alias", `SELECT * FROM t AS OF VERSION 3 "X"`, sel(`SELECT * FROM t "X" AT (VERSION => 3)`)},
		{"alias before as of version", "SELECT * FROM t AS x AS OF VERSION 3", sel("SELECT * FROM t AS x AT (VERSION => 3)")},
		{"as of version before join", "SELECT * FROM t AS OF VERSION 1 JOIN u AS OF VERSION 2 ON t.k = u.k LEFT JOIN v AS OF VERSION 3 USING (k)",
			sel("SELECT * FROM t AT (VERSION => 1) JOIN u AT (VERSION => 2) ON t.k = u.k LEFT JOIN v AT (VERSION => 3) USING (k)")},
		{"as of version in subqueries", "SELECT * FROM (SELECT * FROM t AS OF VERSION 1) s WHERE k IN (SELECT k FROM u AS OF VERSION 2 WHERE u.x = s.x)",
			sel("SELECT * FROM (SELECT * FROM t AT (VERSION => 1)) s WHERE k IN (SELECT k FROM u AT (VERSION => 2) WHERE u.x = s.x)")},
		{"as of version in cte", "WITH old AS (SELECT * FROM t AS OF VERSION 5) SELECT * FROM old", sel("WITH old AS (SELECT * FROM t AT (VERSION => 5)) SELECT * FROM old")},
		{"as of version before clauses", "SELECT * FROM t AS OF VERSION 3 ORDER BY 1 LIMIT 2", sel("SELECT * FROM t AT (VERSION => 3) ORDER BY 1 LIMIT 2")},
		{"as of version in string and comments untouched", "SELECT 'FROM t AS OF VERSION 1' -- t AS OF VERSION 2\n, \"t AS OF VERSION 3\" /* t AS OF VERSION 4 */ FROM t AS OF VERSION 5",
			sel("SELECT 'FROM t AS OF VERSION 1' -- t AS OF VERSION 2\n, \"t AS OF VERSION 3\" /* t AS OF VERSION 4 */ FROM t AT (VERSION => 5)")},
		{"as of version keeps other text", "SELECT  *\nFROM\tt  AS  OF\nVERSION   3\nWHERE 1", sel("SELECT  *\nFROM\tt  AT (VERSION => 3)\nWHERE 1")},
		{"explain as of version", "EXPLAIN SELECT * FROM t AS OF VERSION 3", &Select{Query: "SELECT * FROM t AT (VERSION => 3)", QueryOffset: 8, Explain: true}},
	}
}

func TestParseSelect(t *testing.T) {
	runParseCases(t, queryCases())
}
