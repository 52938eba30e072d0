package sqlparse

import "github.com/floedb/floe/lakehouse/dberr"

// CreateView is
//
//	CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [(col, …)] AS query
//
// OrReplace and IfNotExists are not both set. Columns are distinct.
type CreateView struct {
	span
	View        Name
	OrReplace   bool
	IfNotExists bool
	// Columns are the listed column names; nil if none were listed.
	Columns []string
	// Source is the query's text as written (what the catalog stores as
	// the view's definition); QueryOffset is its byte offset.
	Source      string
	QueryOffset int
	// Query is Source checked and with time travel rewritten, as
	// Select.Query.
	Query string
}

// DropView is DROP VIEW [IF EXISTS] name [CASCADE | RESTRICT].
type DropView struct {
	span
	View     Name
	IfExists bool
	Cascade  bool
}

// ShowViews is SHOW VIEWS [IN | FROM ns].
type ShowViews struct {
	span
	// Namespace is "" when none was given.
	Namespace string
}

// parseCreateView parses CREATE [OR REPLACE] VIEW … from VIEW on.
func parseCreateView(p *parser, c createPrefix) (Statement, error) {
	p.next() // VIEW
	st := &CreateView{OrReplace: c.orReplace}
	if t := p.peek(); p.accept("IF", "NOT", "EXISTS") {
		if st.OrReplace {
			return nil, p.errAt(t.Pos, "CREATE OR REPLACE VIEW and IF NOT EXISTS cannot be combined")
		}
		st.IfNotExists = true
	}
	var err error
	if st.View, err = p.objectName("a view name"); err != nil {
		return nil, err
	}
	if isOp(p.peek(), "(") {
		if st.Columns, err = p.identList("a column name"); err != nil {
			return nil, err
		}
	}
	if err := p.expect("AS"); err != nil {
		return nil, err
	}
	end := len(p.toks) - 1
	if !isQueryStart(p.toks, p.i) {
		return nil, p.expected("a query")
	}
	first := p.peek()
	st.QueryOffset = first.Pos
	st.Source = p.src[first.Pos:p.toks[end-1].End]
	if st.Query, err = p.query(end); err != nil {
		return nil, err
	}
	return st, nil
}

// parseDropView parses DROP VIEW [IF EXISTS] name [CASCADE | RESTRICT]
// from VIEW on.
func parseDropView(p *parser) (Statement, error) {
	p.next() // VIEW
	st := &DropView{IfExists: p.accept("IF", "EXISTS")}
	var err error
	if st.View, err = p.objectName("a view name"); err != nil {
		return nil, err
	}
	st.Cascade = p.dropBehavior()
	return st, p.expectEnd()
}

// parseShowViews parses [IN | FROM ns] after SHOW VIEWS.
func parseShowViews(p *parser) (Statement, error) {
	st := &ShowViews{}
	if p.accept("IN") || p.accept("FROM") {
		var err error
		if st.Namespace, err = p.namespace(); err != nil {
			return nil, err
		}
	}
	return st, p.expectEnd()
}

// objectName consumes name or namespace.name of a table or view; what
// names it in messages ("a view name").
func (p *parser) objectName(what string) (Name, error) {
	first, err := p.ident(what)
	if err != nil {
		return Name{}, err
	}
	if !p.acceptOp(".") {
		return Name{Name: first}, nil
	}
	second, err := p.ident(what)
	if err != nil {
		return Name{}, err
	}
	if t := p.peek(); isOp(t, ".") {
		return Name{}, p.errAt(t.Pos, "%s has at most two parts, namespace.name", what)
	}
	return Name{Namespace: first, Name: second}, nil
}

// refuseMaterialized refuses CREATE MATERIALIZED VIEW.
func refuseMaterialized(*parser, createPrefix) (Statement, error) {
	return nil, dberr.New(dberr.Unsupported, "CREATE MATERIALIZED VIEW is not supported; use CREATE VIEW")
}
