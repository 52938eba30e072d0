package sqlparse

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/floedb/floe/manifest"
)

// parseCase is one statement and what Parse must return for it, compared
// without the statement's span (Text is checked separately).
type parseCase struct {
	name string
	sql  string
	want Statement
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sts, err := Parse(tc.sql)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.sql, err)
			}
			if len(sts) != 1 {
				t.Fatalf("Parse(%q) returned %d statements, want 1", tc.sql, len(sts))
			}
			got := sts[0]
			if off := got.Offset(); off < 0 || off+len(got.Text()) > len(tc.sql) || tc.sql[off:off+len(got.Text())] != got.Text() {
				t.Fatalf("Text %q is not at offset %d of the input", got.Text(), off)
			}
			checkPositions(t, tc.sql, got)
			*got.stmt() = span{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tc.sql, dump(got), dump(tc.want))
			}
		})
	}
}

// checkPositions checks that the byte offsets in st point where they
// should: column and option positions at their names, expressions at
// their text (when not rewritten), queries inside the statement.
func checkPositions(t *testing.T, sql string, st Statement) {
	t.Helper()
	lo, hi := st.Offset(), st.Offset()+len(st.Text())
	at := func(what string, pos int, prefix string) {
		t.Helper()
		if pos < lo || pos+len(prefix) > hi || !strings.EqualFold(sql[pos:pos+len(prefix)], prefix) {
			t.Errorf("%s at %d does not start with %q in %q", what, pos, prefix, sql)
		}
	}
	exprAt := func(e Expr) {
		t.Helper()
		if !containsFold(st.Text(), "of") {
			at("expression", e.Pos, e.Text)
		}
	}
	cols := func(cs ...ColumnDef) {
		for _, c := range cs {
			at("column", c.Pos, nameText(sql, c.Pos, c.Name))
		}
	}
	opts := func(os []Option) {
		for _, o := range os {
			at("option", o.Pos, nameText(sql, o.Pos, o.Key))
		}
	}
	switch st := st.(type) {
	case *CreateTable:
		cols(st.Columns...)
		opts(st.Options)
	case *AlterTable:
		switch a := st.Action.(type) {
		case *AddColumn:
			cols(a.Column)
		case *SetOptions:
			opts(a.Options)
		}
	case *Insert:
		for _, r := range st.Rows {
			for _, e := range r {
				exprAt(e)
			}
		}
		if st.Query != "" && !containsFold(st.Text(), "of") {
			at("query", st.QueryOffset, st.Query)
		}
		if st.OnConflict != nil {
			for _, a := range st.OnConflict.Set {
				exprAt(a.Value)
			}
		}
	case *Update:
		for _, a := range st.Set {
			exprAt(a.Value)
		}
		if st.Where != nil {
			exprAt(*st.Where)
		}
	case *Delete:
		if st.Where != nil {
			exprAt(*st.Where)
		}
	case *Select:
		if !containsFold(st.Text(), "of") {
			at("query", st.QueryOffset, st.Query)
			if sql[st.QueryOffset:hi] != st.Query {
				t.Errorf("query %q is not the rest of the statement %q", st.Query, st.Text())
			}
		}
	}
}

// nameText returns name as it may be written at sql[pos:]: quoted if a
// quote is there.
func nameText(sql string, pos int, name string) string {
	if pos >= 0 && pos < len(sql) && sql[pos] == '"' {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	return name
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// dump renders a statement for failure messages.
func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return fmt.Sprintf("%T %s", v, b)
}

// col is a ColumnDef with the type's canonical text as TypeText.
func col(name string, typ manifest.Type, pos int) ColumnDef {
	return ColumnDef{Name: name, Type: typ, TypeText: typ.String(), Pos: pos}
}

func ddlCases() []parseCase {
	notNull := func(c ColumnDef) ColumnDef { c.NotNull = true; return c }
	pk := func(c ColumnDef) ColumnDef { c.NotNull, c.PrimaryKey = true, true; return c }
	text := func(c ColumnDef, typeText string) ColumnDef { c.TypeText = typeText; return c }
	def := func(c ColumnDef, d string) ColumnDef { c.Default = d; return c }
	return []parseCase{
		{"create namespace", "CREATE NAMESPACE sales", &CreateNamespace{Name: "sales"}},
		{"create namespace if not exists", "create namespace if not exists \"Sales\"", &CreateNamespace{Name: "Sales", IfNotExists: true}},
		{"drop namespace", "DROP NAMESPACE sales", &DropNamespace{Name: "sales"}},
		{"drop namespace if exists cascade", "Drop Namespace If Exists sales Cascade", &DropNamespace{Name: "sales", IfExists: true, Cascade: true}},
		{"drop namespace restrict", "DROP NAMESPACE sales RESTRICT", &DropNamespace{Name: "sales"}},
		{"show namespaces", "SHOW NAMESPACES", &ShowNamespaces{}},
		{"use", "USE Sales", &Use{Namespace: "sales"}},
		{"use quoted", `use "Sales"`, &Use{Namespace: "Sales"}},

		{"create table", "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)", &CreateTable{
			Table: Name{Name: "t"}, Columns: []ColumnDef{pk(col("id", manifest.BigInt, 16)), col("name", manifest.Text, 39)},
			PrimaryKey: []string{"id"}}},
		{"create table kinds and names", "create Shared table if not exists NS.\"T x\" (A int)", &CreateTable{
			Table: Name{Namespace: "ns", Name: "T x"}, Kind: "SHARED", IfNotExists: true,
			Columns: []ColumnDef{text(col("a", manifest.Int, 44), "int")}}},
		{"create user table", "CREATE USER TABLE t (a INT)", &CreateTable{Table: Name{Name: "t"}, Kind: "USER", Columns: []ColumnDef{col("a", manifest.Int, 21)}}},
		{"create stream table", "CREATE STREAM TABLE t (a INT)", &CreateTable{Table: Name{Name: "t"}, Kind: "STREAM", Columns: []ColumnDef{col("a", manifest.Int, 23)}}},
		{"table primary key", "CREATE TABLE t (a INT, b TEXT, PRIMARY KEY (b, a))", &CreateTable{
			Table: Name{Name: "t"}, Columns: []ColumnDef{notNull(col("a", manifest.Int, 16)), notNull(col("b", manifest.Text, 23))},
			PrimaryKey: []string{"b", "a"}}},
		{"table primary key between columns", "CREATE TABLE t (a INT, PRIMARY KEY (a), b INT)", &CreateTable{
			Table: Name{Name: "t"}, Columns: []ColumnDef{notNull(col("a", manifest.Int, 16)), col("b", manifest.Int, 40)},
			PrimaryKey: []string{"a"}}},
		{"constraints in any order", "CREATE TABLE t (a INT DEFAULT 1 NOT NULL, b INT NULL DEFAULT 2, c INT NOT NULL PRIMARY KEY DEFAULT 3, d INT DEFAULT 4 NULL)", &CreateTable{
			Table: Name{Name: "t"},
			Columns: []ColumnDef{
				notNull(def(col("a", manifest.Int, 16), "1")),
				def(col("b", manifest.Int, 42), "2"),
				pk(def(col("c", manifest.Int, 64), "3")),
				def(col("d", manifest.Int, 102), "4"),
			},
			PrimaryKey: []string{"c"}}},
		{"default expressions", "CREATE TABLE t (a TEXT DEFAULT 'x' || 'y', b BIGINT DEFAULT SNOWFLAKE_ID(), c TIMESTAMP DEFAULT NOW() NOT NULL, d INT DEFAULT -1, e INT DEFAULT CAST(1 AS INT), f TEXT DEFAULT concat('a,b', ')', (1)), g INT DEFAULT NULL, h INT DEFAULT (1 + 2) * 3 PRIMARY KEY, i TEXT DEFAULT $$a, b$$)", &CreateTable{
			Table: Name{Name: "t"},
			Columns: []ColumnDef{
				def(col("a", manifest.Text, 16), "'x' || 'y'"),
				def(col("b", manifest.BigInt, 43), "SNOWFLAKE_ID()"),
				notNull(def(col("c", manifest.Timestamp, 76), "NOW()")),
				def(col("d", manifest.Int, 112), "-1"),
				def(col("e", manifest.Int, 130), "CAST(1 AS INT)"),
				def(col("f", manifest.Text, 160), "concat('a,b', ')', (1))"),
				def(col("g", manifest.Int, 200), "NULL"),
				pk(def(col("h", manifest.Int, 220), "(1 + 2) * 3")),
				def(col("i", manifest.Text, 259), "$$a, b$$"),
			},
			PrimaryKey: []string{"h"}}},
		{"with options", "CREATE TABLE t (a INT) WITH (ttl_seconds = 3600, FLUSH_POLICY = 'rows:100,''s''', \"Access_Level\" = public, x = -5, y = +1.5)", &CreateTable{
			Table: Name{Name: "t"}, Columns: []ColumnDef{col("a", manifest.Int, 16)},
			Options: []Option{
				{Key: "TTL_SECONDS", Value: "3600", Pos: 29},
				{Key: "FLUSH_POLICY", Value: "rows:100,'s'", Pos: 49},
				{Key: "ACCESS_LEVEL", Value: "public", Pos: 82},
				{Key: "X", Value: "-5", Pos: 107},
				{Key: "Y", Value: "+1.5", Pos: 115},
			}}},
		{"multi-line", "CREATE TABLE t (\n  a INT,\n  b TEXT\n)", &CreateTable{
			Table: Name{Name: "t"}, Columns: []ColumnDef{col("a", manifest.Int, 19), col("b", manifest.Text, 28)}}},
		{"keyword-like column names", "CREATE TABLE t (user TEXT, key INT, values INT, \"select\" INT, int INT)", &CreateTable{
			Table: Name{Name: "t"}, Columns: []ColumnDef{
				col("user", manifest.Text, 16), col("key", manifest.Int, 27), col("values", manifest.Int, 36),
				text(col("select", manifest.Int, 48), "INT"), col("int", manifest.Int, 62)}}},

		{"drop table", "DROP TABLE t", &DropTable{Table: Name{Name: "t"}}},
		{"drop table if exists cascade", "DROP TABLE IF EXISTS ns.t CASCADE", &DropTable{Table: Name{Namespace: "ns", Name: "t"}, IfExists: true, Cascade: true}},

		{"add column", "ALTER TABLE t ADD COLUMN c INT", &AlterTable{Table: Name{Name: "t"}, Action: &AddColumn{Column: col("c", manifest.Int, 25)}}},
		{"add column if not exists with constraints", "ALTER TABLE ns.t ADD IF NOT EXISTS c TEXT NOT NULL DEFAULT 'x'", &AlterTable{
			Table: Name{Namespace: "ns", Name: "t"}, Action: &AddColumn{IfNotExists: true, Column: notNull(def(col("c", manifest.Text, 35), "'x'"))}}},
		{"add column default runs to end", "ALTER TABLE t ADD c INT DEFAULT 1 + 2", &AlterTable{
			Table: Name{Name: "t"}, Action: &AddColumn{Column: def(col("c", manifest.Int, 18), "1 + 2")}}},
		{"drop column", "ALTER TABLE t DROP COLUMN c", &AlterTable{Table: Name{Name: "t"}, Action: &DropColumn{Name: "c"}}},
		{"drop column if exists", "alter table t drop if exists \"C\"", &AlterTable{Table: Name{Name: "t"}, Action: &DropColumn{Name: "C", IfExists: true}}},
		{"rename column", "ALTER TABLE t RENAME COLUMN a TO b", &AlterTable{Table: Name{Name: "t"}, Action: &RenameColumn{From: "a", To: "b"}}},
		{"rename without COLUMN", "ALTER TABLE t RENAME A TO \"B\"", &AlterTable{Table: Name{Name: "t"}, Action: &RenameColumn{From: "a", To: "B"}}},
		{"set access level string", "ALTER TABLE t SET ACCESS_LEVEL = 'public'", &AlterTable{Table: Name{Name: "t"}, Action: &SetAccessLevel{Level: "PUBLIC"}}},
		{"set access level word", "ALTER TABLE t SET access_level Private", &AlterTable{Table: Name{Name: "t"}, Action: &SetAccessLevel{Level: "PRIVATE"}}},
		{"set options", "ALTER TABLE t SET (TTL_SECONDS = 60, flush_policy = 'never')", &AlterTable{Table: Name{Name: "t"}, Action: &SetOptions{Options: []Option{
			{Key: "TTL_SECONDS", Value: "60", Pos: 19}, {Key: "FLUSH_POLICY", Value: "never", Pos: 37}}}}},

		{"show tables", "SHOW TABLES", &ShowTables{}},
		{"show tables in", "SHOW TABLES IN Sales", &ShowTables{Namespace: "sales"}},
		{"show tables from", "show tables from \"Sales\"", &ShowTables{Namespace: "Sales"}},
		{"describe", "DESCRIBE t", &Describe{Table: Name{Name: "t"}}},
		{"describe table", "DESCRIBE TABLE ns.t", &Describe{Table: Name{Namespace: "ns", Name: "t"}}},
		{"desc", "desc T", &Describe{Table: Name{Name: "t"}}},

		{"flush table", "FLUSH TABLE ns.t", &Flush{Table: &Name{Namespace: "ns", Name: "t"}}},
		{"flush all", "FLUSH ALL", &Flush{All: true}},
		{"flush all tables", "flush all tables", &Flush{All: true}},
		{"compact", "COMPACT TABLE t", &Compact{Table: Name{Name: "t"}}},
	}
}

func TestParseDDL(t *testing.T) {
	runParseCases(t, ddlCases())
}

func TestColumnTypes(t *testing.T) {
	for _, tc := range []struct {
		spelling string
		want     manifest.Type
	}{
		{"BOOLEAN", manifest.Boolean}, {"bool", manifest.Boolean},
		{"INT", manifest.Int}, {"INTEGER", manifest.Int}, {"INT4", manifest.Int}, {"SIGNED", manifest.Int},
		{"SMALLINT", manifest.Int}, {"INT2", manifest.Int}, {"TINYINT", manifest.Int}, {"int1", manifest.Int},
		{"BIGINT", manifest.BigInt}, {"INT8", manifest.BigInt}, {"Long", manifest.BigInt},
		{"REAL", manifest.Float}, {"FLOAT", manifest.Float}, {"FLOAT4", manifest.Float},
		{"DOUBLE", manifest.Double}, {"FLOAT8", manifest.Double}, {"double precision", manifest.Double},
		{"DECIMAL", manifest.Decimal(18, 3)}, {"NUMERIC", manifest.Decimal(18, 3)},
		{"DECIMAL(10)", manifest.Decimal(10, 0)}, {"decimal( 10 , 2 )", manifest.Decimal(10, 2)},
		{"NUMERIC(38,38)", manifest.Decimal(38, 38)}, {"DECIMAL(1,0)", manifest.Decimal(1, 0)},
		{"TEXT", manifest.Text}, {"VARCHAR", manifest.Text}, {"VARCHAR(10)", manifest.Text}, {"CHAR", manifest.Text},
		{"CHAR(3)", manifest.Text}, {"CHARACTER", manifest.Text}, {"CHARACTER VARYING", manifest.Text},
		{"character varying(20)", manifest.Text}, {"STRING", manifest.Text}, {"BPCHAR", manifest.Text}, {"BPCHAR(2)", manifest.Text},
		{"BYTES", manifest.Bytes}, {"BYTEA", manifest.Bytes}, {"BLOB", manifest.Bytes}, {"VARBINARY", manifest.Bytes}, {"BINARY", manifest.Bytes},
		{"DATE", manifest.Date},
		{"TIMESTAMP", manifest.Timestamp}, {"TIMESTAMPTZ", manifest.TimestampTZ}, {"DATETIME", manifest.Timestamp},
		{"TIMESTAMP WITH TIME ZONE", manifest.TimestampTZ}, {"timestamp without time zone", manifest.Timestamp},
		{"JSON", manifest.JSON}, {"JSONB", manifest.JSON},
		{"UUID", manifest.UUID},
	} {
		t.Run(tc.spelling, func(t *testing.T) {
			sql := "CREATE TABLE t (c " + tc.spelling + " NOT NULL)"
			sts, err := Parse(sql)
			if err != nil {
				t.Fatalf("Parse(%q): %v", sql, err)
			}
			c := sts[0].(*CreateTable).Columns[0]
			if c.Type != tc.want || c.TypeText != tc.spelling || !c.NotNull {
				t.Errorf("column = %+v, want type %s from %q, NOT NULL", c, tc.want, tc.spelling)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"a_1$", "a_1$"},
		{"_x", "_x"},
		{"Abc", `"Abc"`},
		{"1a", `"1a"`},
		{"select", `"select"`},
		{"user", "user"},
		{`a"b`, `"a""b"`},
		{"", `""`},
		{"a b", `"a b"`},
	} {
		if got := QuoteIdent(tc.in); got != tc.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := (Name{Namespace: "Ns", Name: "t"}).String(); got != `"Ns".t` {
		t.Errorf("Name.String = %s", got)
	}
	if got := (Name{Name: "t"}).String(); got != "t" {
		t.Errorf("Name.String = %s", got)
	}
}
