package sqlexec

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// literalValue converts a VALUES expression to a stored value of type t
// without DuckDB, when the expression is a plain literal whose conversion
// is unambiguous: an integer for an integer column, a number for a float
// column, an exact decimal within the column's scale, a plain string for
// TEXT, TRUE/FALSE, NULL, or a parameter
// holding a Go value of the matching kind. ok is false for anything else
// (expressions, casts, strings for dates or JSON — DuckDB normalizes JSON
// text —, numbers that would be rounded…):
// the caller then evaluates the statement with DuckDB, which defines the
// semantics. The fast path only ever agrees with DuckDB or declines.
func literalValue(text string, t manifest.Type, params []any) (v row.Value, ok bool) {
	toks, err := sqlparse.Lex(text)
	if err != nil || len(toks) < 2 {
		return row.Value{}, false
	}
	toks = toks[:len(toks)-1] // EOF
	neg := false
	if len(toks) == 2 && toks[0].Kind == sqlparse.Op && (toks[0].Text == "-" || toks[0].Text == "+") && toks[1].Kind == sqlparse.Number {
		neg = toks[0].Text == "-"
		toks = toks[1:]
	}
	if len(toks) != 1 {
		return row.Value{}, false
	}
	tok := toks[0]
	switch tok.Kind {
	case sqlparse.Number:
		return numberValue(tok.Text, neg, t)
	case sqlparse.String:
		if !strings.HasPrefix(tok.Text, "'") { // E'…' and $$…$$ go to DuckDB
			return row.Value{}, false
		}
		s := tok.Value()
		switch t.Kind {
		case manifest.KindText:
			if utf8.ValidString(s) {
				return row.Text(s), true
			}
		}
	case sqlparse.Ident:
		switch tok.Ident() {
		case "null":
			return row.Null(), true
		case "true", "false":
			if t.Kind == manifest.KindBoolean {
				return row.Bool(tok.Ident() == "true"), true
			}
		}
	case sqlparse.Param:
		n, err := strconv.Atoi(strings.TrimPrefix(tok.Text, "$"))
		if err != nil || !strings.HasPrefix(tok.Text, "$") || n < 1 || n > len(params) {
			return row.Value{}, false
		}
		return paramValue(params[n-1], t)
	}
	return row.Value{}, false
}

func numberValue(text string, neg bool, t manifest.Type) (row.Value, bool) {
	if strings.ContainsAny(text, "_xXbBoO") {
		return row.Value{}, false
	}
	if neg {
		text = "-" + text
	}
	isInt := !strings.ContainsAny(text, ".eE")
	switch t.Kind {
	case manifest.KindInt:
		if n, err := strconv.ParseInt(text, 10, 32); err == nil && isInt {
			return row.Int(int32(n)), true
		}
	case manifest.KindBigInt:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil && isInt {
			return row.BigInt(n), true
		}
	case manifest.KindDouble:
		if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(f, 0) {
			return row.Double(f), true
		}
	case manifest.KindFloat:
		if f, err := strconv.ParseFloat(text, 32); err == nil && !math.IsInf(f, 0) {
			return row.Float(float32(f)), true
		}
	case manifest.KindDecimal:
		if strings.ContainsAny(text, "eE") {
			return row.Value{}, false
		}
		whole, frac, _ := strings.Cut(text, ".")
		if len(frac) > int(t.Scale) {
			return row.Value{}, false // DuckDB rounds; let it
		}
		digits := whole + frac + strings.Repeat("0", int(t.Scale)-len(frac))
		n, ok := new(big.Int).SetString(digits, 10)
		if !ok {
			return row.Value{}, false
		}
		v, ok := row.DecimalFromBig(n)
		if ok && v.Check(t) == nil {
			return v, true
		}
	}
	return row.Value{}, false
}

func paramValue(x any, t manifest.Type) (row.Value, bool) {
	if x == nil {
		return row.Null(), true
	}
	switch t.Kind {
	case manifest.KindInt:
		if n, ok := asInt64(x); ok && n == int64(int32(n)) {
			if _, isFloat := x.(float64); !isFloat {
				return row.Int(int32(n)), true
			}
		}
	case manifest.KindBigInt:
		if n, ok := asInt64(x); ok {
			if _, isFloat := x.(float64); !isFloat {
				return row.BigInt(n), true
			}
		}
	case manifest.KindDouble:
		if f, ok := x.(float64); ok {
			return row.Double(f), true
		}
	case manifest.KindText:
		if s, ok := x.(string); ok && utf8.ValidString(s) {
			return row.Text(s), true
		}
	case manifest.KindBoolean:
		if b, ok := x.(bool); ok {
			return row.Bool(b), true
		}
	}
	return row.Value{}, false
}
