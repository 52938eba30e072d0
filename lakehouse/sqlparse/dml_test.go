package sqlparse

import "testing"

func dmlCases() []parseCase {
	e := func(text string, pos int) Expr { return Expr{Text: text, Pos: pos} }
	t := Name{Name: "t"}
	return []parseCase{
		{"insert values", "INSERT INTO t VALUES (1, 'a')", &Insert{Table: t, Rows: [][]Expr{{e("1", 22), e("'a'", 25)}}}},
		{"insert columns and rows", "insert into NS.T (A, \"B\") values (1, 2), (3, 4)", &Insert{
			Table: Name{Namespace: "ns", Name: "t"}, Columns: []string{"a", "B"},
			Rows: [][]Expr{{e("1", 34), e("2", 37)}, {e("3", 42), e("4", 45)}}}},
		{"insert expressions", "INSERT INTO t VALUES (f(1, 2), 'a,b', [1, 2], {'k': 1}, (SELECT max(x) FROM u), -2, $1, ?, 'x' || 'y', CAST(1 AS INT), DEFAULT)", &Insert{
			Table: t, Rows: [][]Expr{{
				e("f(1, 2)", 22), e("'a,b'", 31), e("[1, 2]", 38), e("{'k': 1}", 46), e("(SELECT max(x) FROM u)", 56),
				e("-2", 80), e("$1", 84), e("?", 88), e("'x' || 'y'", 91), e("CAST(1 AS INT)", 103), e("DEFAULT", 119)}}}},
		{"insert column named values", "INSERT INTO t (values) VALUES (1)", &Insert{Table: t, Columns: []string{"values"}, Rows: [][]Expr{{e("1", 31)}}}},
		{"insert select", "INSERT INTO t SELECT a, b FROM u WHERE c", &Insert{Table: t, Query: "SELECT a, b FROM u WHERE c", QueryOffset: 14}},
		{"insert columns select", "INSERT INTO t (a) SELECT 1", &Insert{Table: t, Columns: []string{"a"}, Query: "SELECT 1", QueryOffset: 18}},
		{"insert parenthesized query", "INSERT INTO t (SELECT 1) UNION ALL (SELECT 2)", &Insert{Table: t, Query: "(SELECT 1) UNION ALL (SELECT 2)", QueryOffset: 14}},
		{"insert with query", "INSERT INTO t WITH x AS (SELECT 1) SELECT * FROM x", &Insert{Table: t, Query: "WITH x AS (SELECT 1) SELECT * FROM x", QueryOffset: 14}},
		{"insert from-first query", "INSERT INTO t FROM u SELECT a", &Insert{Table: t, Query: "FROM u SELECT a", QueryOffset: 14}},
		{"insert table query", "INSERT INTO t TABLE u", &Insert{Table: t, Query: "TABLE u", QueryOffset: 14}},
		{"insert select time travel", "INSERT INTO t SELECT * FROM t AS OF VERSION 7", &Insert{Table: t, Query: "SELECT * FROM t AT (VERSION => 7)", QueryOffset: 14}},
		{"insert or replace", "INSERT OR REPLACE INTO t VALUES (1)", &Insert{Table: t, Replace: true, Rows: [][]Expr{{e("1", 33)}}}},
		{"insert or ignore", "INSERT OR IGNORE INTO t VALUES (1)", &Insert{Table: t, OnConflict: &OnConflict{DoNothing: true}, Rows: [][]Expr{{e("1", 32)}}}},
		{"on conflict do nothing", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", &Insert{Table: t, Rows: [][]Expr{{e("1", 22)}}, OnConflict: &OnConflict{DoNothing: true}}},
		{"on conflict do update", "INSERT INTO t (a, b) VALUES (1, 2) ON CONFLICT (a) DO UPDATE SET b = excluded.b + 1, c = 'x,y'", &Insert{
			Table: t, Columns: []string{"a", "b"}, Rows: [][]Expr{{e("1", 29), e("2", 32)}},
			OnConflict: &OnConflict{Target: []string{"a"}, Set: []Assignment{
				{Column: "b", Value: e("excluded.b + 1", 69)}, {Column: "c", Value: e("'x,y'", 89)}}}}},
		{"insert select on conflict after join", "INSERT INTO t SELECT * FROM u JOIN v ON conflict(u.x) = v.y ON CONFLICT (a) DO NOTHING", &Insert{
			Table: t, Query: "SELECT * FROM u JOIN v ON conflict(u.x) = v.y", QueryOffset: 14,
			OnConflict: &OnConflict{Target: []string{"a"}, DoNothing: true}}},

		{"update", "UPDATE t SET a = 1", &Update{Table: t, Set: []Assignment{{Column: "a", Value: e("1", 17)}}}},
		{"update where", "UPDATE ns.t SET a = a + 1, \"B\" = 'x, y' WHERE id = $1 AND c IN (1, 2)", &Update{
			Table: Name{Namespace: "ns", Name: "t"},
			Set:   []Assignment{{Column: "a", Value: e("a + 1", 20)}, {Column: "B", Value: e("'x, y'", 33)}},
			Where: &Expr{Text: "id = $1 AND c IN (1, 2)", Pos: 46}}},
		{"update alias", "UPDATE t AS x SET a = (SELECT max(b) FROM u WHERE u.k = x.k)", &Update{
			Table: t, Alias: "x", Set: []Assignment{{Column: "a", Value: e("(SELECT max(b) FROM u WHERE u.k = x.k)", 22)}}}},
		{"update bare alias", "UPDATE t x SET a = 1", &Update{Table: t, Alias: "x", Set: []Assignment{{Column: "a", Value: e("1", 19)}}}},
		{"update case expression", "UPDATE t SET a = CASE WHEN b THEN 1 ELSE 2 END WHERE c", &Update{
			Table: t, Set: []Assignment{{Column: "a", Value: e("CASE WHEN b THEN 1 ELSE 2 END", 17)}}, Where: &Expr{Text: "c", Pos: 53}}},

		{"delete all", "DELETE FROM t", &Delete{Table: t}},
		{"delete where", "delete from T where a = 'x' or b is null", &Delete{Table: t, Where: &Expr{Text: "a = 'x' or b is null", Pos: 20}}},
		{"delete alias", "DELETE FROM t AS x WHERE x.a > 1", &Delete{Table: t, Alias: "x", Where: &Expr{Text: "x.a > 1", Pos: 25}}},
		{"delete where subquery time travel", "DELETE FROM t WHERE id IN (SELECT id FROM t AS OF VERSION 2)", &Delete{
			Table: t, Where: &Expr{Text: "id IN (SELECT id FROM t AT (VERSION => 2))", Pos: 20}}},
	}
}

func TestParseDML(t *testing.T) {
	runParseCases(t, dmlCases())
}
