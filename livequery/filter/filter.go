// Package filter compiles the WHERE clause of a live query to a Go
// predicate over a table's rows, so that a change is matched against a
// subscription without the SQL engine.
//
// The accepted subset:
//
//	expr     := expr OR expr | expr AND expr | NOT expr | ( expr ) | pred
//	pred     := operand cmp operand            cmp: = == != <> < > <= >=
//	          | column IS [NOT] NULL
//	          | column [NOT] IN ( literal, … )
//	          | column [NOT] {LIKE | ILIKE} literal [ESCAPE literal]
//	          | column                          (a BOOLEAN column)
//	          | TRUE | FALSE | NULL
//	operand  := column | literal              (at least one side a column)
//	literal  := number | -number | 'string' | TRUE | FALSE | NULL | parameter
//
// Anything else (functions, casts, arithmetic, BETWEEN, subqueries,
// column-to-column comparisons, comparisons on TIMESTAMP, JSON and BYTES
// columns) is refused with a *dberr.Error of code Unsupported that names
// the construct; a literal that cannot be compared with its column (text
// with a number, a malformed date) fails with TypeMismatch.
//
// Invariant: for every row and every accepted filter, Filter.Eval gives the
// same three-valued answer as DuckDB evaluating the same WHERE over the
// same row stored with Floe's DuckDB types (the differential test holds
// this): NULL propagates through comparisons, IN and LIKE; AND/OR/NOT use
// Kleene logic; a literal compares with a column by DuckDB's implicit
// casts (an integer or decimal literal exactly with integer and DECIMAL
// columns, rounded to FLOAT for FLOAT columns, as DOUBLE for DOUBLE
// columns; a literal in exponent notation is a DOUBLE; a string is cast to
// the column's type); floats order NaN above everything and equal to
// itself, with -0 = +0; strings compare bytewise; LIKE has no escape
// character unless ESCAPE names one, and ILIKE folds case by Unicode.
package filter

import (
	"fmt"
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// Tri is a three-valued truth value.
type Tri uint8

// The truth values.
const (
	False Tri = iota
	True
	Unknown // SQL NULL
)

func (t Tri) not() Tri {
	switch t {
	case False:
		return True
	case True:
		return False
	}
	return Unknown
}

// pred evaluates a compiled expression over a row.
type pred func(r row.Row) Tri

// Filter is a compiled WHERE clause. It is immutable and safe for
// concurrent use.
type Filter struct {
	text string
	eval pred
	eq   []Equality
}

// Equality is a conjunct of the filter's top level that fixes a column to
// one of a set of values: col = v or col IN (v, …). A row can match the
// filter only if its value in Column equals (row.Value.Equal) one of
// Values, which is what lets a subscription index find it by value.
// Only columns of exact kinds (integers, DECIMAL, TEXT, BOOLEAN, DATE,
// UUID) yield equalities.
type Equality struct {
	Column int
	Values []row.Value
}

// Text returns the WHERE text the filter was compiled from ("" for none).
func (f *Filter) Text() string { return f.text }

// Eval returns the filter's three-valued answer for r, a row in the column
// order the filter was compiled for. A nil filter is TRUE.
func (f *Filter) Eval(r row.Row) Tri {
	if f == nil || f.eval == nil {
		return True
	}
	return f.eval(r)
}

// Match reports whether r passes the filter (Eval is True).
func (f *Filter) Match(r row.Row) bool { return f.Eval(r) == True }

// Equalities returns the filter's top-level equality conjuncts.
func (f *Filter) Equalities() []Equality {
	if f == nil {
		return nil
	}
	return f.eq
}

// Compile compiles where, the text of a WHERE clause over a table with
// columns cols (rows are in that order), with params the values of its
// parameters ($1 or ? is params[0]; Go values as the API decodes them:
// nil, bool, string, float64, int64, int). An empty where gives a filter
// that passes every row.
func Compile(where string, cols []manifest.Column, params []any) (*Filter, error) {
	if strings.TrimSpace(where) == "" {
		return &Filter{}, nil
	}
	toks, err := sqlparse.Lex(where)
	if err != nil {
		return nil, err
	}
	p := &parser{src: where, toks: toks, cols: cols, params: params}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.Kind != sqlparse.EOF {
		return nil, p.unsupported(t)
	}
	if e.col >= 0 || e.lit != nil {
		if e, err = p.asBool(e); err != nil {
			return nil, err
		}
	}
	return &Filter{text: where, eval: e.eval, eq: e.eq}, nil
}

// expr is a parsed sub-expression: a boolean predicate (eval), or an
// operand not yet used in a predicate (a column, col >= 0, or a literal).
type expr struct {
	eval pred
	col  int
	lit  *literal
	eq   []Equality // for a predicate: the top-level equalities it implies
	pos  int
}

type parser struct {
	src    string
	toks   []sqlparse.Token
	i      int
	cols   []manifest.Column
	params []any
	nparam int // positional ? parameters seen
}

func (p *parser) peek() sqlparse.Token { return p.toks[p.i] }
func (p *parser) peekAt(k int) sqlparse.Token {
	return p.toks[min(p.i+k, len(p.toks)-1)]
}
func (p *parser) next() sqlparse.Token {
	t := p.toks[p.i]
	if t.Kind != sqlparse.EOF {
		p.i++
	}
	return t
}

func isKw(t sqlparse.Token, kw string) bool {
	return t.Kind == sqlparse.Ident && strings.EqualFold(t.Text, kw)
}

func isOp(t sqlparse.Token, op string) bool { return t.Kind == sqlparse.Op && t.Text == op }

func (p *parser) accept(kw string) bool {
	if isKw(p.peek(), kw) {
		p.i++
		return true
	}
	return false
}

// unsupported is the error for a construct the subset does not have,
// naming it.
func (p *parser) unsupported(t sqlparse.Token) error {
	line, col := dberr.Position(p.src, t.Pos)
	what := describe(t, p.peekAt(1))
	return dberr.New(dberr.Unsupported, "live query filters do not support %s (line %d, column %d); supported: = != < > <= >= IN, IS [NOT] NULL, LIKE, ILIKE, AND, OR, NOT, parentheses, literals and parameters", what, line, col)
}

func describe(t, next sqlparse.Token) string {
	switch {
	case t.Kind == sqlparse.EOF:
		return "an incomplete expression"
	case t.Kind == sqlparse.Ident && isOp(next, "("):
		return "function " + strings.ToUpper(t.Text) + "()"
	case t.Kind == sqlparse.Ident:
		return strings.ToUpper(t.Text)
	case isOp(t, "::"):
		return "casts (::)"
	case t.Kind == sqlparse.Op:
		return "operator " + t.Text
	}
	return fmt.Sprintf("%s %s", t.Kind, t.Text)
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return l, err
	}
	for p.accept("OR") {
		r, err := p.and()
		if err != nil {
			return r, err
		}
		if l, err = p.asBool(l); err != nil {
			return l, err
		}
		if r, err = p.asBool(r); err != nil {
			return r, err
		}
		a, b := l.eval, r.eval
		l = expr{col: -1, pos: l.pos, eval: func(x row.Row) Tri {
			va := a(x)
			if va == True {
				return True
			}
			vb := b(x)
			if vb == True {
				return True
			}
			if va == Unknown || vb == Unknown {
				return Unknown
			}
			return False
		}}
	}
	return l, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.not()
	if err != nil {
		return l, err
	}
	for p.accept("AND") {
		r, err := p.not()
		if err != nil {
			return r, err
		}
		if l, err = p.asBool(l); err != nil {
			return l, err
		}
		if r, err = p.asBool(r); err != nil {
			return r, err
		}
		a, b := l.eval, r.eval
		eq := append(append([]Equality(nil), l.eq...), r.eq...)
		l = expr{col: -1, pos: l.pos, eq: eq, eval: func(x row.Row) Tri {
			va := a(x)
			if va == False {
				return False
			}
			vb := b(x)
			if vb == False {
				return False
			}
			if va == Unknown || vb == Unknown {
				return Unknown
			}
			return True
		}}
	}
	return l, nil
}

func (p *parser) not() (expr, error) {
	if isKw(p.peek(), "NOT") {
		pos := p.next().Pos
		e, err := p.not()
		if err != nil {
			return e, err
		}
		if e, err = p.asBool(e); err != nil {
			return e, err
		}
		f := e.eval
		return expr{col: -1, pos: pos, eval: func(x row.Row) Tri { return f(x).not() }}, nil
	}
	return p.predicate()
}

// asBool turns an operand used as a condition into a predicate: a BOOLEAN
// column, or TRUE, FALSE or NULL.
func (p *parser) asBool(e expr) (expr, error) {
	switch {
	case e.eval != nil:
		return e, nil
	case e.col >= 0:
		c := p.cols[e.col]
		if c.Type.Kind != manifest.KindBoolean {
			return e, dberr.New(dberr.TypeMismatch, "live query filter: column %s is %s, not BOOLEAN; compare it with a value", c.Name, c.Type)
		}
		i := e.col
		return expr{col: -1, pos: e.pos, eq: []Equality{{Column: i, Values: []row.Value{row.Bool(true)}}}, eval: func(x row.Row) Tri {
			v := x[i]
			switch {
			case v.IsNull():
				return Unknown
			case v.Bool():
				return True
			}
			return False
		}}, nil
	case e.lit.kind == litNull:
		return expr{col: -1, pos: e.pos, eval: func(row.Row) Tri { return Unknown }}, nil
	case e.lit.kind == litBool:
		t := False
		if e.lit.b {
			t = True
		}
		return expr{col: -1, pos: e.pos, eval: func(row.Row) Tri { return t }}, nil
	}
	return e, dberr.New(dberr.TypeMismatch, "live query filter: %s is not a condition", e.lit.text)
}

// predicate parses an operand and what follows it.
func (p *parser) predicate() (expr, error) {
	l, err := p.operand()
	if err != nil || l.eval != nil {
		return l, err
	}
	t := p.peek()
	switch {
	case t.Kind == sqlparse.Op && cmpOps[t.Text] != 0:
		p.next()
		r, err := p.operand()
		if err != nil {
			return r, err
		}
		if r.eval != nil {
			return r, p.unsupportedAt(r.pos, "a condition as a comparison operand")
		}
		return p.comparison(l, cmpOps[t.Text], r, t)
	case isKw(t, "IS"):
		p.next()
		neg := p.accept("NOT")
		if !p.accept("NULL") {
			return l, p.unsupported(p.peek())
		}
		return p.isNull(l, neg)
	case isKw(t, "NOT") && (isKw(p.peekAt(1), "IN") || isKw(p.peekAt(1), "LIKE") || isKw(p.peekAt(1), "ILIKE")):
		p.next()
		e, err := p.inOrLike(l)
		if err != nil {
			return e, err
		}
		f := e.eval
		return expr{col: -1, pos: l.pos, eval: func(x row.Row) Tri { return f(x).not() }}, nil
	case isKw(t, "IN"), isKw(t, "LIKE"), isKw(t, "ILIKE"):
		return p.inOrLike(l)
	case isKw(t, "AND"), isKw(t, "OR"), isOp(t, ")"), t.Kind == sqlparse.EOF:
		return l, nil
	}
	return l, p.unsupported(t)
}

func (p *parser) unsupportedAt(pos int, what string) error {
	line, col := dberr.Position(p.src, pos)
	return dberr.New(dberr.Unsupported, "live query filters do not support %s (line %d, column %d)", what, line, col)
}

// operand parses a column, a literal or a parenthesized expression.
func (p *parser) operand() (expr, error) {
	t := p.peek()
	switch t.Kind {
	case sqlparse.Op:
		switch t.Text {
		case "(":
			p.next()
			if isKw(p.peek(), "SELECT") || isKw(p.peek(), "WITH") {
				return expr{}, p.unsupportedAt(p.peek().Pos, "subqueries")
			}
			e, err := p.or()
			if err != nil {
				return e, err
			}
			if !isOp(p.peek(), ")") {
				return e, p.unsupported(p.peek())
			}
			p.next()
			return e, nil
		case "-", "+":
			if n := p.peekAt(1); n.Kind == sqlparse.Number {
				p.next()
				p.next()
				lit, err := numberLiteral(n.Text, t.Text == "-")
				if err != nil {
					return expr{}, err
				}
				lit.text = t.Text + n.Text
				return expr{col: -1, lit: lit, pos: t.Pos}, nil
			}
		}
		return expr{}, p.unsupported(t)
	case sqlparse.Number:
		p.next()
		lit, err := numberLiteral(t.Text, false)
		if err != nil {
			return expr{}, err
		}
		return expr{col: -1, lit: lit, pos: t.Pos}, nil
	case sqlparse.String:
		p.next()
		return expr{col: -1, lit: &literal{kind: litString, s: t.Value(), text: t.Text}, pos: t.Pos}, nil
	case sqlparse.Param:
		p.next()
		lit, err := p.param(t)
		if err != nil {
			return expr{}, err
		}
		return expr{col: -1, lit: lit, pos: t.Pos}, nil
	case sqlparse.Ident, sqlparse.QuotedIdent:
		if isOp(p.peekAt(1), "(") || isOp(p.peekAt(1), ".") {
			return expr{}, p.unsupported(t)
		}
		if t.Kind == sqlparse.Ident {
			switch strings.ToLower(t.Text) {
			case "true", "false":
				p.next()
				return expr{col: -1, lit: &literal{kind: litBool, b: strings.EqualFold(t.Text, "true"), text: t.Text}, pos: t.Pos}, nil
			case "null":
				p.next()
				return expr{col: -1, lit: &literal{kind: litNull, text: "NULL"}, pos: t.Pos}, nil
			}
			if isReserved(t.Text) {
				return expr{}, p.unsupported(t)
			}
		}
		name := t.Ident()
		for i, c := range p.cols {
			if c.Name == name {
				p.next()
				return expr{col: i, pos: t.Pos}, nil
			}
		}
		return expr{}, dberr.New(dberr.ColumnNotFound, "live query filter: column %s does not exist", sqlparse.QuoteIdent(name))
	}
	return expr{}, p.unsupported(t)
}

// isReserved lists the words that start a construct outside the subset.
func isReserved(w string) bool {
	switch strings.ToLower(w) {
	case "case", "cast", "try_cast", "exists", "between", "select", "array", "interval", "not", "and", "or", "is", "in", "like", "ilike", "similar", "glob", "any", "all", "some", "collate", "escape":
		return true
	}
	return false
}

// param returns the value of the parameter token t.
func (p *parser) param(t sqlparse.Token) (*literal, error) {
	n := 0
	switch {
	case t.Text == "?":
		p.nparam++
		n = p.nparam
	case strings.HasPrefix(t.Text, "?") || strings.HasPrefix(t.Text, "$"):
		if _, err := fmt.Sscanf(t.Text[1:], "%d", &n); err != nil || fmt.Sprint(n) != t.Text[1:] {
			return nil, p.unsupportedAt(t.Pos, "named parameters ("+t.Text+")")
		}
	}
	if n < 1 || n > len(p.params) {
		return nil, dberr.New(dberr.InvalidArgument, "live query filter: parameter %s has no value (%d given)", t.Text, len(p.params))
	}
	return paramLiteral(p.params[n-1], t.Text)
}

var cmpOps = map[string]cmpOp{"=": opEq, "==": opEq, "!=": opNe, "<>": opNe, "<": opLt, ">": opGt, "<=": opLe, ">=": opGe}

type cmpOp uint8

const (
	opEq cmpOp = iota + 1
	opNe
	opLt
	opGt
	opLe
	opGe
)

// flip returns the operator with its operands swapped (a < b ⇔ b > a).
func (o cmpOp) flip() cmpOp {
	switch o {
	case opLt:
		return opGt
	case opGt:
		return opLt
	case opLe:
		return opGe
	case opGe:
		return opLe
	}
	return o
}

func (o cmpOp) holds(c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opGt:
		return c > 0
	case opLe:
		return c <= 0
	}
	return c >= 0
}

func (p *parser) comparison(l expr, op cmpOp, r expr, opTok sqlparse.Token) (expr, error) {
	if l.col < 0 && r.col >= 0 {
		l, r, op = r, l, op.flip()
	}
	switch {
	case l.col >= 0 && r.col >= 0:
		return l, p.unsupportedAt(l.pos, "comparing two columns")
	case l.col < 0:
		return l, p.unsupportedAt(l.pos, "comparing two literals")
	}
	col := p.cols[l.col]
	i := l.col
	if r.lit.kind == litNull {
		return expr{col: -1, pos: l.pos, eval: func(row.Row) Tri { return Unknown }}, nil
	}
	c, err := compiler(col, r.lit)
	if err != nil {
		return l, err
	}
	e := expr{col: -1, pos: l.pos, eval: func(x row.Row) Tri {
		v := x[i]
		if v.IsNull() {
			return Unknown
		}
		if op.holds(c.cmp(v)) {
			return True
		}
		return False
	}}
	if op == opEq && c.exact != nil {
		e.eq = []Equality{{Column: i, Values: []row.Value{*c.exact}}}
	}
	return e, nil
}

func (p *parser) isNull(l expr, neg bool) (expr, error) {
	if l.col < 0 {
		return l, p.unsupportedAt(l.pos, "IS NULL on a literal")
	}
	i := l.col
	want := True
	if neg {
		want = False
	}
	return expr{col: -1, pos: l.pos, eval: func(x row.Row) Tri {
		if x[i].IsNull() {
			return want
		}
		return want.not()
	}}, nil
}

// inOrLike parses IN (…), LIKE … or ILIKE … after the column l.
func (p *parser) inOrLike(l expr) (expr, error) {
	kw := p.next()
	if l.col < 0 {
		return l, p.unsupportedAt(l.pos, strings.ToUpper(kw.Text)+" on a literal")
	}
	col := p.cols[l.col]
	i := l.col
	if isKw(kw, "IN") {
		if !isOp(p.peek(), "(") {
			return l, p.unsupported(p.peek())
		}
		p.next()
		if isKw(p.peek(), "SELECT") || isKw(p.peek(), "WITH") {
			return l, p.unsupportedAt(p.peek().Pos, "subqueries")
		}
		var lits []*literal
		hasNull, hasDouble := false, false
		for {
			e, err := p.operand()
			if err != nil {
				return e, err
			}
			if e.lit == nil {
				return e, p.unsupportedAt(e.pos, "IN lists of anything but literals")
			}
			switch e.lit.kind {
			case litNull:
				hasNull = true
			case litDouble:
				hasDouble = true
				fallthrough
			default:
				lits = append(lits, e.lit)
			}
			if isOp(p.peek(), ",") {
				p.next()
				continue
			}
			if !isOp(p.peek(), ")") {
				return e, p.unsupported(p.peek())
			}
			p.next()
			break
		}
		var comps []*comparer
		exact := true
		var vals []row.Value
		for _, lit := range lits {
			if hasDouble && (lit.kind == litInt || lit.kind == litDecimal) {
				// DuckDB compares an IN list in the list's common type:
				// with one DOUBLE element, every number is a DOUBLE.
				f, _ := lit.rat.Float64()
				lit = &literal{kind: litDouble, f: f, text: lit.text}
			}
			c, err := compiler(col, lit)
			if err != nil {
				return l, err
			}
			comps = append(comps, c)
			if c.exact != nil {
				vals = append(vals, *c.exact)
			} else {
				exact = false
			}
		}
		out := expr{col: -1, pos: l.pos, eval: func(x row.Row) Tri {
			v := x[i]
			if v.IsNull() {
				return Unknown
			}
			for _, c := range comps {
				if c.cmp(v) == 0 {
					return True
				}
			}
			if hasNull {
				return Unknown
			}
			return False
		}}
		if exact && !hasNull {
			out.eq = []Equality{{Column: i, Values: vals}}
		}
		return out, nil
	}
	// LIKE / ILIKE
	fold := isKw(kw, "ILIKE")
	if col.Type.Kind != manifest.KindText {
		return l, dberr.New(dberr.TypeMismatch, "live query filter: %s needs a TEXT column; %s is %s", strings.ToUpper(kw.Text), col.Name, col.Type)
	}
	pe, err := p.operand()
	if err != nil {
		return pe, err
	}
	if pe.lit == nil || (pe.lit.kind != litString && pe.lit.kind != litNull) {
		return pe, p.unsupportedAt(pe.pos, "a LIKE pattern that is not a string literal or parameter")
	}
	escape := rune(-1)
	if p.accept("ESCAPE") {
		ee, err := p.operand()
		if err != nil {
			return ee, err
		}
		if ee.lit == nil || ee.lit.kind != litString {
			return ee, p.unsupportedAt(ee.pos, "an ESCAPE that is not a string literal")
		}
		rs := []rune(ee.lit.s)
		switch len(rs) {
		case 0:
		case 1:
			escape = rs[0]
		default:
			return ee, dberr.New(dberr.InvalidArgument, "live query filter: ESCAPE must be a single character, got %q", ee.lit.s)
		}
	}
	if pe.lit.kind == litNull {
		return expr{col: -1, pos: l.pos, eval: func(row.Row) Tri { return Unknown }}, nil
	}
	m, err := compileLike(pe.lit.s, escape, fold)
	if err != nil {
		return pe, err
	}
	return expr{col: -1, pos: l.pos, eval: func(x row.Row) Tri {
		v := x[i]
		if v.IsNull() {
			return Unknown
		}
		if m.match(v.Str()) {
			return True
		}
		return False
	}}, nil
}

func errLikeEscape(pattern string) error {
	return dberr.New(dberr.InvalidArgument, "live query filter: LIKE pattern %q ends with its escape character", pattern)
}
