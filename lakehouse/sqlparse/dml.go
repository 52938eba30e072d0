package sqlparse

import (
	"github.com/floedb/floe/lakehouse/dberr"
)

// stopFunc reports whether a captured expression ends before toks[j], a
// token at bracket depth 0. first is true for the expression's first
// token.
type stopFunc func(toks []Token, j int, first bool) bool

// stopAt returns a stopFunc that ends an expression before a ',' (when
// comma is set) and before any of the keywords kws.
func stopAt(comma bool, kws ...string) stopFunc {
	return func(toks []Token, j int, _ bool) bool {
		t := toks[j]
		if comma && isOp(t, ",") {
			return true
		}
		for _, kw := range kws {
			if isKeyword(t, kw) {
				return true
			}
		}
		return false
	}
}

// expr captures an expression without interpreting it: the tokens up to
// the end of the statement, a closing bracket at depth 0, or the first
// token at depth 0 where stop says so. Brackets ((), [], {}) must balance
// within it. It fails if the expression is empty; what says what was
// expected ("an expression").
func (p *parser) expr(what string, stop stopFunc) (Expr, error) {
	start := p.i
	var b brackets
	for {
		t := p.peek()
		if t.Kind == EOF {
			if err := b.closed(p, t); err != nil {
				return Expr{}, err
			}
			break
		}
		if b.depth() == 0 && (isCloser(t) || stop(p.toks, p.i, p.i == start)) {
			break
		}
		if err := b.step(p, t); err != nil {
			return Expr{}, err
		}
		p.next()
	}
	if p.i == start {
		return Expr{}, p.expected(what)
	}
	text, err := p.rewriteTimeTravel(start, p.i)
	if err != nil {
		return Expr{}, err
	}
	return Expr{Text: text, Pos: p.toks[start].Pos}, nil
}

// brackets tracks open brackets.
type brackets struct {
	open []Token
}

func (b *brackets) depth() int { return len(b.open) }

func isCloser(t Token) bool {
	return t.Kind == Op && (t.Text == ")" || t.Text == "]" || t.Text == "}")
}

func closerOf(open string) string {
	switch open {
	case "(":
		return ")"
	case "[":
		return "]"
	}
	return "}"
}

// step records t; it fails on a closing bracket that does not match the
// innermost open one.
func (b *brackets) step(p *parser, t Token) error {
	if t.Kind != Op {
		return nil
	}
	switch t.Text {
	case "(", "[", "{":
		b.open = append(b.open, t)
	case ")", "]", "}":
		if len(b.open) == 0 {
			return p.errAt(t.Pos, "unmatched %s", quoteText(t.Text))
		}
		o := b.open[len(b.open)-1]
		if want := closerOf(o.Text); t.Text != want {
			return b.unclosed(p, o, t)
		}
		b.open = b.open[:len(b.open)-1]
	}
	return nil
}

// closed fails if a bracket is open at t.
func (b *brackets) closed(p *parser, t Token) error {
	if len(b.open) == 0 {
		return nil
	}
	return b.unclosed(p, b.open[len(b.open)-1], t)
}

func (b *brackets) unclosed(p *parser, open, found Token) error {
	line, col := p.position(open.Pos)
	return p.errAt(found.Pos, "expected %s to close %s of line %d, column %d, found %s",
		quoteText(closerOf(open.Text)), quoteText(open.Text), line, col, describe(found))
}

// position returns the 1-based line and column of a byte offset.
func (p *parser) position(pos int) (int, int) {
	return dberr.Position(p.src, pos)
}

// parseInsert parses INSERT; see Insert.
func parseInsert(p *parser) (Statement, error) {
	p.next() // INSERT
	st := &Insert{}
	if p.accept("OR") {
		switch {
		case p.accept("REPLACE"):
			st.Replace = true
		case p.accept("IGNORE"):
			st.OnConflict = &OnConflict{DoNothing: true}
		default:
			return nil, p.expected("REPLACE or IGNORE")
		}
	}
	if err := p.expect("INTO"); err != nil {
		return nil, err
	}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	if isOp(p.peek(), "(") && !isQueryStart(p.toks, p.i) {
		if st.Columns, err = p.identList("a column name"); err != nil {
			return nil, err
		}
	}
	switch t := p.peek(); {
	case isKeyword(t, "DEFAULT"):
		return nil, dberr.New(dberr.Unsupported, "INSERT … DEFAULT VALUES is not supported")
	case isKeyword(t, "BY"):
		return nil, dberr.New(dberr.Unsupported, "INSERT … BY NAME and BY POSITION are not supported; list the columns")
	case isKeyword(t, "VALUES"):
		p.next()
		if st.Rows, err = p.valuesRows(len(st.Columns)); err != nil {
			return nil, err
		}
	case isQueryStart(p.toks, p.i):
		end := insertQueryEnd(p.toks, p.i)
		st.QueryOffset = t.Pos
		if st.Query, err = p.query(end); err != nil {
			return nil, err
		}
	default:
		return nil, p.expected("VALUES or a query")
	}
	if t := p.peek(); isKeyword(t, "ON") {
		if st.OnConflict != nil || st.Replace {
			return nil, p.errAt(t.Pos, "INSERT OR REPLACE and INSERT OR IGNORE cannot have an ON CONFLICT clause")
		}
		p.next()
		if st.OnConflict, err = p.onConflict(); err != nil {
			return nil, err
		}
	}
	if err := p.noReturning(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// valuesRows consumes "(expr, …), …" after VALUES. All rows must have the
// same length, which must be ncols if ncols > 0.
func (p *parser) valuesRows(ncols int) ([][]Expr, error) {
	var rows [][]Expr
	for {
		open := p.peek()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var row []Expr
		for {
			e, err := p.expr("a value", stopAt(true))
			if err != nil {
				return nil, err
			}
			row = append(row, e)
			if p.acceptOp(")") {
				break
			}
			if !p.acceptOp(",") {
				return nil, p.expected(`"," or ")"`)
			}
		}
		switch {
		case ncols > 0 && len(row) != ncols:
			return nil, p.errAt(open.Pos, "VALUES row %d has %d values for %d listed columns", len(rows)+1, len(row), ncols)
		case len(rows) > 0 && len(row) != len(rows[0]):
			return nil, p.errAt(open.Pos, "VALUES row %d has %d values but row 1 has %d", len(rows)+1, len(row), len(rows[0]))
		}
		rows = append(rows, row)
		if !p.acceptOp(",") {
			return rows, nil
		}
	}
}

// insertQueryEnd returns the index of the token that ends the query of
// INSERT … query starting at toks[i]: ON CONFLICT or RETURNING at bracket
// depth 0, or EOF. ON CONFLICT counts only before DO, ON or a
// parenthesized list followed by DO or WHERE, so that a join condition
// "ON conflict(x) = y" stays in the query.
func insertQueryEnd(toks []Token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		t := toks[j]
		switch {
		case t.Kind == EOF:
			return j
		case t.Kind == Op && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			depth++
		case isCloser(t):
			depth--
		case depth != 0:
		case isKeyword(t, "RETURNING"):
			return j
		case isKeyword(t, "ON") && j+2 < len(toks) && isKeyword(toks[j+1], "CONFLICT"):
			next := toks[j+2]
			if isKeyword(next, "DO") || isKeyword(next, "ON") {
				return j
			}
			if isOp(next, "(") {
				if k := matchingClose(toks, j+2); k >= 0 && k+1 < len(toks) &&
					(isKeyword(toks[k+1], "DO") || isKeyword(toks[k+1], "WHERE")) {
					return j
				}
			}
		}
	}
	return len(toks) - 1
}

// matchingClose returns the index of the bracket closing toks[i], or -1.
func matchingClose(toks []Token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch t := toks[j]; {
		case t.Kind == Op && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			depth++
		case isCloser(t):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// onConflict consumes the rest of ON CONFLICT … after ON.
func (p *parser) onConflict() (*OnConflict, error) {
	if err := p.expect("CONFLICT"); err != nil {
		return nil, err
	}
	oc := &OnConflict{}
	if isOp(p.peek(), "(") {
		var err error
		if oc.Target, err = p.identList("a column name"); err != nil {
			return nil, err
		}
	}
	switch t := p.peek(); {
	case isKeyword(t, "ON"):
		return nil, dberr.New(dberr.Unsupported, "ON CONFLICT ON CONSTRAINT is not supported; list the key columns")
	case isKeyword(t, "WHERE"):
		return nil, dberr.New(dberr.Unsupported, "ON CONFLICT (…) WHERE is not supported")
	}
	if err := p.expect("DO"); err != nil {
		return nil, err
	}
	switch {
	case p.accept("NOTHING"):
		oc.DoNothing = true
	case p.accept("UPDATE"):
		if err := p.expect("SET"); err != nil {
			return nil, err
		}
		var err error
		if oc.Set, err = p.assignments(stopAt(true, "WHERE", "RETURNING")); err != nil {
			return nil, err
		}
		if isKeyword(p.peek(), "WHERE") {
			return nil, dberr.New(dberr.Unsupported, "ON CONFLICT … DO UPDATE … WHERE is not supported")
		}
	default:
		return nil, p.expected("NOTHING or UPDATE")
	}
	return oc, nil
}

// assignments consumes "col = expr, …"; stop ends each expression.
func (p *parser) assignments(stop stopFunc) ([]Assignment, error) {
	var out []Assignment
	seen := make(map[string]bool)
	for {
		t := p.peek()
		if isOp(t, "(") {
			return nil, dberr.New(dberr.Unsupported, "assigning several columns at once, SET (a, b) = …, is not supported")
		}
		col, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		if seen[col] {
			return nil, p.errAt(t.Pos, "column %s is assigned twice", quoteText(col))
		}
		seen[col] = true
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		e, err := p.expr("an expression", stop)
		if err != nil {
			return nil, err
		}
		out = append(out, Assignment{Column: col, Value: e})
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// noReturning refuses a RETURNING clause.
func (p *parser) noReturning() error {
	if isKeyword(p.peek(), "RETURNING") {
		return dberr.New(dberr.Unsupported, "RETURNING is not supported")
	}
	return nil
}

// alias consumes an optional table alias, [AS] name. A bare name that is
// one of notAlias (upper case) is no alias.
func (p *parser) alias(notAlias ...string) (string, error) {
	if p.accept("AS") {
		return p.ident("an alias")
	}
	t := p.peek()
	for _, kw := range notAlias {
		if isKeyword(t, kw) {
			return "", nil
		}
	}
	if t.Kind == QuotedIdent || t.Kind == Ident && !isReservedWord(t.Ident()) {
		p.next()
		return t.Ident(), nil
	}
	return "", nil
}

// where consumes an optional WHERE condition, which runs to RETURNING or
// the end of the statement.
func (p *parser) where() (*Expr, error) {
	if !p.accept("WHERE") {
		return nil, nil
	}
	e, err := p.expr("a condition", stopAt(false, "RETURNING"))
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// parseUpdate parses UPDATE name [[AS] alias] SET col = expr, … [WHERE
// expr].
func parseUpdate(p *parser) (Statement, error) {
	p.next() // UPDATE
	st := &Update{}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	if st.Alias, err = p.alias("SET"); err != nil {
		return nil, err
	}
	if err := p.expect("SET"); err != nil {
		return nil, err
	}
	if st.Set, err = p.assignments(stopAt(true, "WHERE", "FROM", "RETURNING")); err != nil {
		return nil, err
	}
	if isKeyword(p.peek(), "FROM") {
		return nil, dberr.New(dberr.Unsupported, "UPDATE … FROM is not supported; use a subquery in SET or WHERE")
	}
	if st.Where, err = p.where(); err != nil {
		return nil, err
	}
	if err := p.noReturning(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// parseDelete parses DELETE FROM name [[AS] alias] [WHERE expr].
func parseDelete(p *parser) (Statement, error) {
	p.next() // DELETE
	if err := p.expect("FROM"); err != nil {
		return nil, err
	}
	st := &Delete{}
	var err error
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	if st.Alias, err = p.alias(); err != nil {
		return nil, err
	}
	if isKeyword(p.peek(), "USING") {
		return nil, dberr.New(dberr.Unsupported, "DELETE … USING is not supported; use a subquery in WHERE")
	}
	if st.Where, err = p.where(); err != nil {
		return nil, err
	}
	if err := p.noReturning(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}
