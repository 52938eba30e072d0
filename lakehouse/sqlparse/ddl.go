package sqlparse

import (
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/manifest"
)

// createPrefix is what CREATE statements share before the object word.
type createPrefix struct {
	orReplace bool // CREATE OR REPLACE
}

// createFunc parses a CREATE statement from the object word on.
type createFunc func(p *parser, c createPrefix) (Statement, error)

// parseCreate dispatches CREATE statements on the object word.
func parseCreate(p *parser) (Statement, error) {
	p.next() // CREATE
	var c createPrefix
	c.orReplace = p.accept("OR", "REPLACE")
	return createParser(p)(p, c)
}

// createParser is the dispatch table of CREATE statements, by the word
// after CREATE [OR REPLACE].
func createParser(p *parser) createFunc {
	t := p.peek()
	if t.Kind == Ident {
		switch upperASCII(t.Text) {
		case "USER":
			if isKeyword(p.peekAt(1), "TABLE") {
				return parseCreateTable
			}
			return parseCreateUser
		case "TABLE", "SHARED", "STREAM":
			return parseCreateTable
		case "NAMESPACE":
			return parseCreateNamespace
		case "VIEW":
			return parseCreateView
		case "MATERIALIZED":
			return refuseMaterialized
		case "SECRET", "PERSISTENT":
			return refuseCreate("Floe manages credentials itself")
		case "SCHEMA":
			return refuseCreate(reasonCatalog + "; use CREATE NAMESPACE")
		case "TEMP", "TEMPORARY", "MACRO", "FUNCTION", "INDEX", "UNIQUE", "SEQUENCE",
			"TYPE", "DATABASE", "EXTENSION", "TRIGGER", "ROLE":
			return refuseCreate(reasonCatalog)
		}
	}
	return func(p *parser, _ createPrefix) (Statement, error) {
		return nil, p.expected("TABLE, VIEW or NAMESPACE")
	}
}

// refuseCreate refuses CREATE <word> with PermissionDenied.
func refuseCreate(reason string) createFunc {
	return func(p *parser, _ createPrefix) (Statement, error) {
		return nil, dberr.New(dberr.PermissionDenied, "CREATE %s is not allowed: %s", upperASCII(p.peek().Text), reason)
	}
}

// parseCreateNamespace parses CREATE NAMESPACE [IF NOT EXISTS] ns.
func parseCreateNamespace(p *parser, c createPrefix) (Statement, error) {
	p.next() // NAMESPACE
	if c.orReplace {
		return nil, dberr.New(dberr.Unsupported, "CREATE OR REPLACE NAMESPACE is not supported")
	}
	st := &CreateNamespace{IfNotExists: p.accept("IF", "NOT", "EXISTS")}
	var err error
	if st.Name, err = p.namespace(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// namespace consumes a namespace name, which has one part.
func (p *parser) namespace() (string, error) {
	ns, err := p.ident("a namespace name")
	if err != nil {
		return "", err
	}
	if t := p.peek(); isOp(t, ".") {
		return "", p.errAt(t.Pos, "a namespace name has one part")
	}
	return ns, nil
}

// parseCreateTable parses CREATE [USER | SHARED | STREAM] TABLE …; see
// CreateTable. It starts at the word after CREATE [OR REPLACE].
func parseCreateTable(p *parser, c createPrefix) (Statement, error) {
	st := &CreateTable{}
	if t := p.next(); !isKeyword(t, "TABLE") {
		if !isKeyword(p.peek(), "TABLE") {
			return nil, p.expected("TABLE")
		}
		st.Kind = upperASCII(t.Text)
		p.next()
	}
	if c.orReplace {
		return nil, dberr.New(dberr.Unsupported, "CREATE OR REPLACE TABLE is not supported; drop the table first")
	}
	st.IfNotExists = p.accept("IF", "NOT", "EXISTS")
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	if isKeyword(p.peek(), "AS") {
		return nil, dberr.New(dberr.Unsupported, "CREATE TABLE … AS is not supported; create the table, then INSERT … SELECT")
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var tablePK []string
	pkPos := -1
	for {
		t := p.peek()
		switch {
		case isKeyword(t, "PRIMARY"):
			if pkPos >= 0 {
				return nil, p.errAt(t.Pos, "PRIMARY KEY (…) is given twice")
			}
			pkPos = t.Pos
			p.next()
			if err := p.expect("KEY"); err != nil {
				return nil, err
			}
			if tablePK, err = p.identList("a column name"); err != nil {
				return nil, err
			}
		case isKeyword(t, "CONSTRAINT"), isKeyword(t, "UNIQUE"), isKeyword(t, "CHECK"), isKeyword(t, "FOREIGN"):
			return nil, dberr.New(dberr.Unsupported, "table constraint %s is not supported; only PRIMARY KEY (…) is", upperASCII(t.Text))
		default:
			col, err := p.columnDef()
			if err != nil {
				return nil, err
			}
			st.Columns = append(st.Columns, col)
		}
		if p.acceptOp(")") {
			break
		}
		if !p.acceptOp(",") {
			return nil, p.expected(`"," or ")"`)
		}
	}
	if p.accept("WITH") {
		if st.Options, err = p.options(); err != nil {
			return nil, err
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	if err := st.checkColumns(tablePK); err != nil {
		return nil, err
	}
	return st, nil
}

// checkColumns checks the table definition rules the parser owns and sets
// PrimaryKey from the table constraint's columns (tablePK) or the column
// marked PRIMARY KEY.
func (st *CreateTable) checkColumns(tablePK []string) error {
	if len(st.Columns) == 0 {
		return dberr.New(dberr.InvalidOption, "table %s has no columns", st.Table)
	}
	index := make(map[string]int, len(st.Columns))
	var marked []string
	for i, c := range st.Columns {
		if _, dup := index[c.Name]; dup {
			return dberr.New(dberr.InvalidOption, "column %s is defined twice", quoteText(c.Name))
		}
		index[c.Name] = i
		if c.PrimaryKey {
			marked = append(marked, c.Name)
		}
	}
	switch {
	case len(marked) > 1:
		return dberr.New(dberr.InvalidOption, "columns %s and %s are both marked PRIMARY KEY; for a key of several columns use PRIMARY KEY (%s, %s)",
			quoteText(marked[0]), quoteText(marked[1]), QuoteIdent(marked[0]), QuoteIdent(marked[1]))
	case len(marked) == 1 && tablePK != nil:
		return dberr.New(dberr.InvalidOption, "column %s is marked PRIMARY KEY and the table has PRIMARY KEY (…) too; give the key once", quoteText(marked[0]))
	case len(marked) == 1:
		st.PrimaryKey = marked
	default:
		st.PrimaryKey = tablePK
	}
	for _, name := range tablePK {
		i, ok := index[name]
		if !ok {
			return dberr.New(dberr.InvalidOption, "primary key column %s is not a column of table %s", quoteText(name), st.Table)
		}
		st.Columns[i].NotNull = true
	}
	return nil
}

// columnDef consumes a column definition: name type [constraint …].
// It stops before the first token that is no constraint.
func (p *parser) columnDef() (ColumnDef, error) {
	t := p.peek()
	name, err := p.ident("a column name")
	if err != nil {
		return ColumnDef{}, err
	}
	if manifest.IsReservedColumn(name) {
		return ColumnDef{}, dberr.New(dberr.InvalidOption, "column name %s is reserved for a system column", quoteText(name))
	}
	col := ColumnDef{Name: name, Pos: t.Pos}
	if col.Type, col.TypeText, err = p.columnType(name); err != nil {
		return ColumnDef{}, err
	}
	var sawNull, sawNotNull, sawDefault bool
	for {
		t := p.peek()
		switch {
		case p.accept("NOT", "NULL"):
			if sawNull {
				return ColumnDef{}, p.errAt(t.Pos, "column %s is declared both NULL and NOT NULL", quoteText(name))
			}
			sawNotNull, col.NotNull = true, true
		case p.accept("NULL"):
			if sawNotNull {
				return ColumnDef{}, p.errAt(t.Pos, "column %s is declared both NULL and NOT NULL", quoteText(name))
			}
			sawNull = true
		case p.accept("PRIMARY", "KEY"):
			if col.PrimaryKey {
				return ColumnDef{}, p.errAt(t.Pos, "column %s is marked PRIMARY KEY twice", quoteText(name))
			}
			col.PrimaryKey = true
		case p.accept("DEFAULT"):
			if sawDefault {
				return ColumnDef{}, p.errAt(t.Pos, "column %s has two DEFAULT values", quoteText(name))
			}
			sawDefault = true
			e, err := p.expr("an expression", stopDefault)
			if err != nil {
				return ColumnDef{}, err
			}
			col.Default = e.Text
		case isKeyword(t, "AS"), isKeyword(t, "GENERATED"):
			return ColumnDef{}, dberr.New(dberr.Unsupported, "generated columns are not supported (column %s)", quoteText(name))
		case isKeyword(t, "UNIQUE"), isKeyword(t, "CHECK"), isKeyword(t, "REFERENCES"),
			isKeyword(t, "COLLATE"), isKeyword(t, "CONSTRAINT"):
			return ColumnDef{}, dberr.New(dberr.Unsupported, "column constraint %s is not supported (column %s)", upperASCII(t.Text), quoteText(name))
		default:
			if col.PrimaryKey {
				if sawNull {
					return ColumnDef{}, dberr.New(dberr.InvalidOption, "primary key column %s cannot be NULL", quoteText(name))
				}
				col.NotNull = true
			}
			return col, nil
		}
	}
}

// stopDefault ends a DEFAULT expression before a ',' or the next column
// constraint. NULL is a constraint only after the expression's first
// token, so that DEFAULT NULL is the NULL default.
func stopDefault(toks []Token, j int, first bool) bool {
	t := toks[j]
	if isOp(t, ",") {
		return true
	}
	if t.Kind != Ident {
		return false
	}
	next := toks[min(j+1, len(toks)-1)]
	switch upperASCII(t.Text) {
	case "NOT":
		return isKeyword(next, "NULL")
	case "PRIMARY":
		return isKeyword(next, "KEY")
	case "NULL", "AS":
		return !first
	case "DEFAULT", "GENERATED", "UNIQUE", "CHECK", "REFERENCES", "COLLATE", "CONSTRAINT":
		return true
	}
	return false
}

// options consumes "(KEY = value, …)" with distinct keys.
func (p *parser) options() ([]Option, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []Option
	seen := make(map[string]bool)
	for {
		t := p.peek()
		if t.Kind != Ident && t.Kind != QuotedIdent {
			return nil, p.expected("an option name")
		}
		p.next()
		opt := Option{Key: upperASCII(t.Ident()), Pos: t.Pos}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		var err error
		if opt.Value, err = p.optionValue(); err != nil {
			return nil, err
		}
		if seen[opt.Key] {
			return nil, dberr.New(dberr.InvalidOption, "option %s is given twice", opt.Key)
		}
		seen[opt.Key] = true
		out = append(out, opt)
		if p.acceptOp(")") {
			return out, nil
		}
		if !p.acceptOp(",") {
			return nil, p.expected(`"," or ")"`)
		}
	}
}

// optionValue consumes an option value: a string, a signed number or a
// bare word.
func (p *parser) optionValue() (string, error) {
	t := p.peek()
	switch {
	case t.Kind == String:
		p.next()
		return t.Value(), nil
	case t.Kind == Number, t.Kind == Ident:
		p.next()
		return t.Text, nil
	case (isOp(t, "-") || isOp(t, "+")) && p.peekAt(1).Kind == Number:
		p.next()
		return t.Text + p.next().Text, nil
	}
	return "", p.expected("a string or number")
}

// parseDrop dispatches DROP statements on the object word.
func parseDrop(p *parser) (Statement, error) {
	p.next() // DROP
	t := p.peek()
	if t.Kind == Ident {
		switch w := upperASCII(t.Text); w {
		case "TABLE":
			return parseDropTable(p)
		case "NAMESPACE":
			return parseDropNamespace(p)
		case "USER":
			return parseDropUser(p)
		case "VIEW":
			return parseDropView(p)
		case "MATERIALIZED":
			return nil, dberr.New(dberr.Unsupported, "DROP %s is not supported", w)
		case "SCHEMA", "SECRET", "PERSISTENT", "TEMPORARY", "MACRO", "FUNCTION", "INDEX",
			"SEQUENCE", "TYPE", "DATABASE", "EXTENSION", "TRIGGER", "ROLE":
			return nil, dberr.New(dberr.PermissionDenied, "DROP %s is not allowed: %s", w, reasonCatalog)
		}
	}
	return nil, p.expected("TABLE, VIEW or NAMESPACE")
}

// parseDropTable parses DROP TABLE [IF EXISTS] name [CASCADE | RESTRICT]
// from TABLE on.
func parseDropTable(p *parser) (Statement, error) {
	p.next() // TABLE
	st := &DropTable{IfExists: p.accept("IF", "EXISTS")}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	st.Cascade = p.dropBehavior()
	return st, p.expectEnd()
}

// parseDropNamespace parses DROP NAMESPACE [IF EXISTS] ns [CASCADE |
// RESTRICT] from NAMESPACE on.
func parseDropNamespace(p *parser) (Statement, error) {
	p.next() // NAMESPACE
	st := &DropNamespace{IfExists: p.accept("IF", "EXISTS")}
	var err error
	if st.Name, err = p.namespace(); err != nil {
		return nil, err
	}
	st.Cascade = p.dropBehavior()
	return st, p.expectEnd()
}

// dropBehavior consumes an optional CASCADE or RESTRICT and reports
// CASCADE.
func (p *parser) dropBehavior() bool {
	if p.accept("CASCADE") {
		return true
	}
	p.accept("RESTRICT")
	return false
}

// parseAlter parses ALTER TABLE name action.
func parseAlter(p *parser) (Statement, error) {
	p.next() // ALTER
	if isKeyword(p.peek(), "USER") {
		return parseAlterUser(p)
	}
	if err := p.expect("TABLE"); err != nil {
		return nil, err
	}
	st := &AlterTable{}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case p.accept("ADD"):
		st.Action, err = p.alterAdd()
	case p.accept("DROP"):
		st.Action, err = p.alterDrop()
	case p.accept("RENAME"):
		st.Action, err = p.alterRename()
	case p.accept("SET"):
		st.Action, err = p.alterSet()
	case isKeyword(t, "ALTER"):
		return nil, dberr.New(dberr.Unsupported, "ALTER TABLE … ALTER COLUMN is not supported")
	default:
		return nil, p.expected("ADD, DROP, RENAME or SET")
	}
	if err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// alterAdd parses [COLUMN] [IF NOT EXISTS] coldef after ADD.
func (p *parser) alterAdd() (AlterAction, error) {
	switch t := p.peek(); {
	case isKeyword(t, "PRIMARY"), isKeyword(t, "CONSTRAINT"), isKeyword(t, "UNIQUE"),
		isKeyword(t, "CHECK"), isKeyword(t, "FOREIGN"):
		return nil, dberr.New(dberr.Unsupported, "ALTER TABLE … ADD %s is not supported", upperASCII(t.Text))
	}
	p.accept("COLUMN")
	a := &AddColumn{IfNotExists: p.accept("IF", "NOT", "EXISTS")}
	var err error
	if a.Column, err = p.columnDef(); err != nil {
		return nil, err
	}
	if a.Column.PrimaryKey {
		return nil, dberr.New(dberr.InvalidOption, "column %s cannot be added as a primary key column; the primary key is fixed when the table is created", quoteText(a.Column.Name))
	}
	return a, nil
}

// alterDrop parses [COLUMN] [IF EXISTS] col after DROP.
func (p *parser) alterDrop() (AlterAction, error) {
	if t := p.peek(); isKeyword(t, "CONSTRAINT") || isKeyword(t, "PRIMARY") {
		return nil, dberr.New(dberr.Unsupported, "ALTER TABLE … DROP %s is not supported", upperASCII(t.Text))
	}
	p.accept("COLUMN")
	a := &DropColumn{IfExists: p.accept("IF", "EXISTS")}
	var err error
	a.Name, err = p.ident("a column name")
	return a, err
}

// alterRename parses [COLUMN] col TO col after RENAME.
func (p *parser) alterRename() (AlterAction, error) {
	if isKeyword(p.peek(), "TO") {
		return nil, dberr.New(dberr.Unsupported, "renaming a table is not supported")
	}
	p.accept("COLUMN")
	a := &RenameColumn{}
	var err error
	if a.From, err = p.ident("a column name"); err != nil {
		return nil, err
	}
	if err := p.expect("TO"); err != nil {
		return nil, err
	}
	if a.To, err = p.ident("a column name"); err != nil {
		return nil, err
	}
	if manifest.IsReservedColumn(a.To) {
		return nil, dberr.New(dberr.InvalidOption, "column name %s is reserved for a system column", quoteText(a.To))
	}
	return a, nil
}

// alterSet parses ACCESS_LEVEL [=] level or (KEY = value, …) after SET.
func (p *parser) alterSet() (AlterAction, error) {
	if isOp(p.peek(), "(") {
		opts, err := p.options()
		if err != nil {
			return nil, err
		}
		return &SetOptions{Options: opts}, nil
	}
	if !p.accept("ACCESS_LEVEL") {
		return nil, p.expected(`ACCESS_LEVEL or "("`)
	}
	p.acceptOp("=")
	t := p.peek()
	if t.Kind != String && t.Kind != Ident {
		return nil, p.expected("an access level")
	}
	p.next()
	return &SetAccessLevel{Level: upperASCII(t.Value())}, nil
}

// parseShow parses SHOW TABLES [IN | FROM ns], SHOW VIEWS [IN | FROM ns]
// and SHOW NAMESPACES.
func parseShow(p *parser) (Statement, error) {
	p.next() // SHOW
	switch {
	case p.accept("TABLES"):
		st := &ShowTables{}
		if p.accept("IN") || p.accept("FROM") {
			var err error
			if st.Namespace, err = p.namespace(); err != nil {
				return nil, err
			}
		}
		return st, p.expectEnd()
	case p.accept("NAMESPACES"):
		return &ShowNamespaces{}, p.expectEnd()
	case p.accept("VIEWS"):
		return parseShowViews(p)
	}
	return nil, p.expected("TABLES, VIEWS or NAMESPACES")
}

// parseDescribe parses DESCRIBE [TABLE] name and DESC [TABLE] name.
func parseDescribe(p *parser) (Statement, error) {
	p.next() // DESCRIBE or DESC
	p.accept("TABLE")
	if isQueryStart(p.toks, p.i) {
		return nil, dberr.New(dberr.Unsupported, "DESCRIBE of a query is not supported")
	}
	st := &Describe{}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// parseUse parses USE ns.
func parseUse(p *parser) (Statement, error) {
	p.next() // USE
	st := &Use{}
	var err error
	if st.Namespace, err = p.namespace(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// parseFlush parses FLUSH TABLE name and FLUSH ALL [TABLES].
func parseFlush(p *parser) (Statement, error) {
	p.next() // FLUSH
	switch {
	case p.accept("ALL"):
		p.accept("TABLES")
		return &Flush{All: true}, p.expectEnd()
	case p.accept("TABLE"):
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		return &Flush{Table: &n}, p.expectEnd()
	}
	return nil, p.expected("TABLE or ALL")
}

// parseCompact parses COMPACT TABLE name.
func parseCompact(p *parser) (Statement, error) {
	p.next() // COMPACT
	if err := p.expect("TABLE"); err != nil {
		return nil, err
	}
	st := &Compact{}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}
