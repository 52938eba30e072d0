package sqlexec

import (
	"strconv"
	"strings"

	"github.com/floedb/floe/lakehouse/sqlparse"
)

// pointShape is a query recognised as a primary-key point read:
//
//	SELECT * | col [, col …] FROM [ns.]table WHERE col = value [AND col = value …] [LIMIT n] [;]
//
// Names are as the tokens give them (sqlparse.Token.Ident); whether they
// name a table, its key and its columns is decided later, against the
// catalog.
type pointShape struct {
	Namespace, Table string
	// Star is SELECT *; otherwise Columns lists the selected columns.
	Star    bool
	Columns []string
	Preds   []pointPred
	// Limit is the LIMIT, 0 without one.
	Limit int64
}

// pointPred is one "column = value" of the WHERE clause. Value is a
// Number (Sign is "-", "+" or ""), a String, a Param or the identifier
// NULL, TRUE or FALSE.
type pointPred struct {
	Column string
	Sign   string
	Value  sqlparse.Token
}

// parsePointShape recognises a point read in the text of a query. It
// accepts only the exact shape of pointShape: no aliases, qualified
// columns, expressions, parentheses, OR, ORDER BY, OFFSET or time travel.
// Anything else is not a point read (ok is false) and takes the general
// path; so does every doubt.
func parsePointShape(text string) (shape pointShape, ok bool) {
	toks, err := sqlparse.Lex(text)
	if err != nil {
		return shape, false
	}
	p := shapeParser{toks: toks}
	if !p.keyword("select") {
		return shape, false
	}
	if p.op("*") {
		shape.Star = true
	} else {
		for {
			c, ok := p.column()
			if !ok {
				return shape, false
			}
			shape.Columns = append(shape.Columns, c)
			if !p.op(",") {
				break
			}
		}
	}
	if !p.keyword("from") {
		return shape, false
	}
	if shape.Namespace, shape.Table, ok = p.tableName(); !ok {
		return shape, false
	}
	if !p.keyword("where") {
		return shape, false
	}
	for {
		c, ok := p.column()
		if !ok || !p.op("=") {
			return shape, false
		}
		pred := pointPred{Column: c}
		if t := p.peek(); t.Kind == sqlparse.Op && (t.Text == "-" || t.Text == "+") {
			pred.Sign = t.Text
			p.i++
		}
		v := p.peek()
		switch {
		case v.Kind == sqlparse.Number, v.Kind == sqlparse.String && pred.Sign == "", v.Kind == sqlparse.Param && pred.Sign == "":
		case v.Kind == sqlparse.Ident && pred.Sign == "" && (v.Ident() == "null" || v.Ident() == "true" || v.Ident() == "false"):
		default:
			return shape, false
		}
		pred.Value = v
		p.i++
		shape.Preds = append(shape.Preds, pred)
		if !p.keyword("and") {
			break
		}
	}
	if p.keyword("limit") {
		n := p.peek()
		if n.Kind != sqlparse.Number || strings.Trim(n.Text, "0123456789") != "" {
			return shape, false
		}
		v, err := strconv.ParseInt(n.Text, 10, 64)
		if err != nil || v < 1 {
			return shape, false
		}
		shape.Limit = v
		p.i++
	}
	p.op(";")
	if p.peek().Kind != sqlparse.EOF {
		return shape, false
	}
	return shape, true
}

type shapeParser struct {
	toks []sqlparse.Token
	i    int
}

// peek returns the next token (the EOF token at the end).
func (p *shapeParser) peek() sqlparse.Token { return p.toks[min(p.i, len(p.toks)-1)] }

func (p *shapeParser) keyword(kw string) bool {
	if t := p.peek(); t.Kind == sqlparse.Ident && t.Ident() == kw {
		p.i++
		return true
	}
	return false
}

func (p *shapeParser) op(s string) bool {
	if t := p.peek(); t.Kind == sqlparse.Op && t.Text == s {
		p.i++
		return true
	}
	return false
}

// name accepts a table or namespace name: a quoted identifier, or an
// unquoted one that is not a reserved word (sqlparse.QuoteIdent leaves it
// bare).
func (p *shapeParser) name() (string, bool) {
	t := p.peek()
	switch {
	case t.Kind == sqlparse.QuotedIdent:
	case t.Kind == sqlparse.Ident && sqlparse.QuoteIdent(t.Ident()) == t.Ident():
	default:
		return "", false
	}
	p.i++
	return t.Ident(), true
}

// column accepts a column name as name does, and, unquoted, only when
// written in lower case: the result column is named as the query writes
// it, and a name must match the table's column exactly for the fast path.
// tableName reads a table name, [namespace.]table.
func (p *shapeParser) tableName() (namespace, table string, ok bool) {
	first, ok := p.name()
	if !ok {
		return "", "", false
	}
	if !p.op(".") {
		return "", first, true
	}
	table, ok = p.name()
	return first, table, ok
}

func (p *shapeParser) column() (string, bool) {
	t := p.peek()
	if t.Kind == sqlparse.Ident && t.Text != t.Ident() {
		return "", false
	}
	return p.name()
}
