package sqlparse

import (
	"strings"

	"github.com/floedb/floe/manifest"
)

// Statement is one parsed statement. The concrete types are the pointer
// types of this file (*CreateTable, *Select, …); only this package
// implements Statement, so that methods can be added later.
//
// All byte offsets in statements (Offset, Pos, QueryOffset) are offsets in
// the text given to Parse.
type Statement interface {
	// Text returns the statement's exact source text, from its first token
	// to its last (no ';', no surrounding comments).
	Text() string
	// Offset returns the byte offset of Text in the text given to Parse.
	Offset() int
	stmt() *span
}

// span is the source range of a statement; every statement embeds it.
type span struct {
	text   string
	offset int
}

func (s *span) Text() string { return s.text }
func (s *span) Offset() int  { return s.offset }
func (s *span) stmt() *span  { return s }

// Name is a possibly qualified table name. Parts written without quotes
// are folded to lower case; quoted parts are kept as written.
type Name struct {
	// Namespace is "" when the name is unqualified.
	Namespace string
	Name      string
}

// String returns the name as SQL text, quoting parts that need quotes.
func (n Name) String() string {
	if n.Namespace == "" {
		return QuoteIdent(n.Name)
	}
	return QuoteIdent(n.Namespace) + "." + QuoteIdent(n.Name)
}

// QuoteIdent returns name as an SQL identifier: as is when it is a plain
// lower-case identifier that is not a reserved word, else in double quotes
// with inner quotes doubled. Parsing the result gives name back.
func QuoteIdent(name string) string {
	plain := name != "" && !isReservedWord(name)
	for i := 0; i < len(name) && plain; i++ {
		c := name[i]
		plain = c >= 'a' && c <= 'z' || c == '_' || i > 0 && (isDigit(c) || c == '$')
	}
	if plain {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Expr is an SQL expression the parser captured but did not interpret.
type Expr struct {
	// Text is the expression's source text, except that time travel
	// (t AS OF VERSION n) in subqueries is rewritten as in Select.Query.
	Text string
	// Pos is the byte offset of the expression's first token.
	Pos int
}

// Option is one KEY = value of a WITH (…) or SET (…) option list.
type Option struct {
	// Key is the option name in upper case.
	Key string
	// Value is a string literal's value (unquoted, unescaped), a number's
	// text (with its sign, if any) or a bare word as written.
	Value string
	// Pos is the byte offset of the key.
	Pos int
}

// ColumnDef is a column definition of CREATE TABLE or ALTER TABLE ADD.
type ColumnDef struct {
	Name string
	// Type is the column's type; TypeText the type as written.
	Type     manifest.Type
	TypeText string
	// NotNull is true for NOT NULL and for primary key columns.
	NotNull bool
	// PrimaryKey is true for a column marked PRIMARY KEY itself (not for
	// columns named by a table constraint PRIMARY KEY (…)).
	PrimaryKey bool
	// Default is the source text of the DEFAULT expression, "" if none.
	Default string
	// Pos is the byte offset of the column name.
	Pos int
}

// CreateNamespace is CREATE NAMESPACE [IF NOT EXISTS] ns.
type CreateNamespace struct {
	span
	Name        string
	IfNotExists bool
}

// DropNamespace is DROP NAMESPACE [IF EXISTS] ns [CASCADE | RESTRICT].
type DropNamespace struct {
	span
	Name     string
	IfExists bool
	Cascade  bool
}

// ShowNamespaces is SHOW NAMESPACES.
type ShowNamespaces struct {
	span
}

// Use is USE ns.
type Use struct {
	span
	Namespace string
}

// CreateTable is
//
//	CREATE [USER | SHARED | STREAM] TABLE [IF NOT EXISTS] name
//	  (coldef, … [, PRIMARY KEY (a, …)]) [WITH (KEY = value, …)]
//
// The parser guarantees: at least one column; no duplicate or reserved
// column names; PrimaryKey names distinct, existing columns, which are
// NotNull; no duplicate option keys. Option keys and values are not
// checked: that is the executor's job.
type CreateTable struct {
	span
	Table Name
	// Kind is "USER", "SHARED" or "STREAM", or "" when no word was given.
	Kind        string
	IfNotExists bool
	Columns     []ColumnDef
	// PrimaryKey is the primary key's columns in key order, from the table
	// constraint or the one column marked PRIMARY KEY; nil if none.
	PrimaryKey []string
	Options    []Option
}

// DropTable is DROP TABLE [IF EXISTS] name [CASCADE | RESTRICT].
type DropTable struct {
	span
	Table    Name
	IfExists bool
	Cascade  bool
}

// AlterTable is ALTER TABLE name action.
type AlterTable struct {
	span
	Table  Name
	Action AlterAction
}

// AlterAction is what an ALTER TABLE does: *AddColumn, *DropColumn,
// *RenameColumn, *SetAccessLevel or *SetOptions.
type AlterAction interface {
	alterAction()
}

// AddColumn is ADD [COLUMN] [IF NOT EXISTS] coldef. The column is never a
// primary key column and its name is not reserved.
type AddColumn struct {
	Column      ColumnDef
	IfNotExists bool
}

// DropColumn is DROP [COLUMN] [IF EXISTS] name.
type DropColumn struct {
	Name     string
	IfExists bool
}

// RenameColumn is RENAME [COLUMN] from TO to. To is not reserved.
type RenameColumn struct {
	From, To string
}

// SetAccessLevel is SET ACCESS_LEVEL [=] 'level' (or a bare word).
type SetAccessLevel struct {
	// Level is upper case.
	Level string
}

// SetOptions is SET (KEY = value, …), with distinct keys.
type SetOptions struct {
	Options []Option
}

func (*AddColumn) alterAction()      {}
func (*DropColumn) alterAction()     {}
func (*RenameColumn) alterAction()   {}
func (*SetAccessLevel) alterAction() {}
func (*SetOptions) alterAction()     {}

// ShowTables is SHOW TABLES [IN | FROM ns].
type ShowTables struct {
	span
	// Namespace is "" when none was given.
	Namespace string
}

// Describe is DESCRIBE [TABLE] name or DESC [TABLE] name.
type Describe struct {
	span
	Table Name
}

// Insert is
//
//	INSERT [OR REPLACE | OR IGNORE] INTO name [(col, …)]
//	  {VALUES (expr, …), … | query}
//	  [ON CONFLICT [(col, …)] {DO NOTHING | DO UPDATE SET col = expr, …}]
//
// Exactly one of Rows and Query is set. All rows have the same length,
// which is len(Columns) when Columns is set. INSERT OR IGNORE is returned
// as OnConflict{DoNothing: true}.
type Insert struct {
	span
	Table Name
	// Columns are the listed target columns, distinct; nil if none.
	Columns []string
	// Rows are the VALUES rows.
	Rows [][]Expr
	// Query is the query of INSERT … query (SELECT, WITH, FROM, TABLE or a
	// parenthesized query), checked and with time travel rewritten as in
	// Select.Query; QueryOffset is its source offset.
	Query       string
	QueryOffset int
	// Replace is INSERT OR REPLACE: a row whose key exists replaces it.
	Replace bool
	// OnConflict is nil when the statement has no ON CONFLICT clause.
	OnConflict *OnConflict
}

// OnConflict is ON CONFLICT [(target)] DO NOTHING | DO UPDATE SET ….
// Exactly one of DoNothing and Set is set.
type OnConflict struct {
	// Target are the conflict columns; nil if none were listed.
	Target    []string
	DoNothing bool
	Set       []Assignment
}

// Assignment is col = expr of an UPDATE or ON CONFLICT DO UPDATE. Within
// one statement the columns are distinct.
type Assignment struct {
	Column string
	Value  Expr
}

// Update is UPDATE name [[AS] alias] SET col = expr, … [WHERE expr].
type Update struct {
	span
	Table Name
	// Alias is "" when none was given.
	Alias string
	Set   []Assignment
	// Where is nil when there is no WHERE clause.
	Where *Expr
}

// Delete is DELETE FROM name [[AS] alias] [WHERE expr].
type Delete struct {
	span
	Table Name
	// Alias is "" when none was given.
	Alias string
	// Where is nil when there is no WHERE clause.
	Where *Expr
}

// Select is a query: a statement starting with SELECT, WITH, VALUES, FROM,
// TABLE or '(', optionally after EXPLAIN [ANALYZE]. The parser checks only
// that brackets balance and that a WITH clause precedes a query (DuckDB
// would also run WITH … INSERT/UPDATE/DELETE).
type Select struct {
	span
	// Query is the query's text (without EXPLAIN [ANALYZE]) with Floe's
	// time travel, "t AS OF VERSION n [[AS] alias]", rewritten to DuckDB's
	// "t [[AS] alias] AT (VERSION => n)"; n is an integer or a parameter.
	// All other text is kept byte for byte.
	Query string
	// QueryOffset is the byte offset of the query's source text; without
	// time travel Query == sql[QueryOffset:QueryOffset+len(Query)].
	QueryOffset int
	Explain     bool
	Analyze     bool
}

// Flush is FLUSH TABLE name or FLUSH ALL [TABLES]. Exactly one of Table
// and All is set.
type Flush struct {
	span
	Table *Name
	All   bool
}

// Compact is COMPACT TABLE name.
type Compact struct {
	span
	Table Name
}
