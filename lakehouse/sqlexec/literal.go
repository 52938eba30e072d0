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
// TEXT, TRUE/FALSE, NULL, a date or timestamp string in ISO form (bare or
// as a DATE/TIMESTAMP/TIMESTAMPTZ literal of the column's own type, see
// temporalValue), or a parameter
// holding a Go value of the matching kind. ok is false for anything else
// (expressions, casts, JSON strings — DuckDB normalizes JSON
// text —, numbers that would be rounded…):
// the caller then evaluates the statement with DuckDB, which defines the
// semantics. The fast path only ever agrees with DuckDB or declines.
func literalValue(text string, t manifest.Type, params []any) (v row.Value, ok bool) {
	toks, err := sqlparse.Lex(text)
	if err != nil || len(toks) < 2 {
		return row.Value{}, false
	}
	toks = toks[:len(toks)-1] // EOF
	if len(toks) == 2 && toks[0].Kind == sqlparse.Ident && toks[1].Kind == sqlparse.String && strings.HasPrefix(toks[1].Text, "'") {
		// DATE '…', TIMESTAMP '…', TIMESTAMPTZ '…' of the column's own type.
		if typedLiteralKind(toks[0].Ident()) != t.Kind {
			return row.Value{}, false
		}
		return temporalValue(toks[1].Value(), t.Kind)
	}
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
		case manifest.KindDate, manifest.KindTimestamp, manifest.KindTimestampTZ:
			return temporalValue(s, t.Kind)
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

// typedLiteralKind is the column kind a typed literal's type name gives
// (KindInvalid for names the fast path leaves to DuckDB).
func typedLiteralKind(name string) manifest.Kind {
	switch name {
	case "date":
		return manifest.KindDate
	case "timestamp":
		return manifest.KindTimestamp
	case "timestamptz":
		return manifest.KindTimestampTZ
	}
	return manifest.KindInvalid
}

// temporalValue parses the ISO forms of a date or timestamp that DuckDB's
// CAST reads the same way, without DuckDB:
//
//	DATE         YYYY-MM-DD
//	TIMESTAMP    YYYY-MM-DD[( |T)HH:MM:SS[.f{1,6}]]
//	TIMESTAMPTZ  as TIMESTAMP, then optionally Z, +HH:MM or -HH:MM
//
// with a four-digit year 0001–9999 and a valid calendar date and time. A
// TIMESTAMPTZ without an offset is UTC: the engine's sessions run with
// TimeZone = 'UTC' (duckengine). ok is false for every other spelling
// (infinity, epoch, BC, other offsets, leap seconds, more than six
// fractional digits…), which DuckDB then evaluates.
func temporalValue(s string, k manifest.Kind) (row.Value, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return row.Value{}, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return row.Value{}, false
	}
	days := daysFromCivil(y, mo, d)
	rest := s[10:]
	if k == manifest.KindDate {
		if rest != "" {
			return row.Value{}, false
		}
		return row.Date(int32(days)), true
	}
	var micros int64
	if rest != "" {
		if len(rest) < 9 || (rest[0] != ' ' && rest[0] != 'T') || rest[3] != ':' || rest[6] != ':' {
			return row.Value{}, false
		}
		h, ok1 := digits(rest[1:3])
		mi, ok2 := digits(rest[4:6])
		sec, ok3 := digits(rest[7:9])
		if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
			return row.Value{}, false
		}
		micros = (int64(h)*3600 + int64(mi)*60 + int64(sec)) * 1_000_000
		rest = rest[9:]
		if strings.HasPrefix(rest, ".") {
			n := 1
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if n == 1 || n > 7 {
				return row.Value{}, false
			}
			f, _ := digits(rest[1:n])
			for i := n; i < 7; i++ {
				f *= 10
			}
			micros += int64(f)
			rest = rest[n:]
		}
		if k == manifest.KindTimestampTZ && rest != "" {
			off, ok := zoneOffset(rest)
			if !ok {
				return row.Value{}, false
			}
			micros -= off * 1_000_000
			rest = ""
		}
		if rest != "" {
			return row.Value{}, false
		}
	}
	return row.Temporal(k, days*microsPerDay+micros), true
}

// zoneOffset parses Z, +HH:MM or -HH:MM into seconds east of UTC.
func zoneOffset(s string) (int64, bool) {
	if s == "Z" {
		return 0, true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[1:3])
	m, ok2 := digits(s[4:6])
	if !ok1 || !ok2 || h > 15 || m > 59 {
		return 0, false
	}
	off := int64(h)*3600 + int64(m)*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// digits parses a run of ASCII digits (at most 9, so it cannot overflow).
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
