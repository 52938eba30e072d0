package filter

import (
	"bytes"
	"cmp"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

type litKind uint8

const (
	litNull    litKind = iota
	litBool            // b
	litInt             // an integer literal: rat (an integer)
	litDecimal         // a literal with a decimal point: rat
	litDouble          // a literal with an exponent, or a float parameter: f
	litString          // s
)

// literal is a constant of a filter, typed as DuckDB types it before any
// cast to the column's type.
type literal struct {
	kind litKind
	b    bool
	rat  *big.Rat
	f    float64
	s    string
	text string // as written, for messages
}

func numberLiteral(text string, neg bool) (*literal, error) {
	clean := strings.ReplaceAll(text, "_", "")
	if neg {
		clean = "-" + clean
	}
	if strings.ContainsAny(text, "xXbBoO") {
		return nil, dberr.New(dberr.Unsupported, "live query filters do not support the number %s; write it in decimal", text)
	}
	if strings.ContainsAny(clean, "eE") {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			return nil, dberr.New(dberr.InvalidArgument, "live query filter: bad number %s", text)
		}
		return &literal{kind: litDouble, f: f, text: clean}, nil
	}
	r, ok := new(big.Rat).SetString(clean)
	if !ok {
		return nil, dberr.New(dberr.InvalidArgument, "live query filter: bad number %s", text)
	}
	k := litInt
	if strings.Contains(clean, ".") {
		k = litDecimal
	}
	return &literal{kind: k, rat: r, text: clean}, nil
}

func paramLiteral(x any, name string) (*literal, error) {
	switch v := x.(type) {
	case nil:
		return &literal{kind: litNull, text: name}, nil
	case bool:
		return &literal{kind: litBool, b: v, text: name}, nil
	case string:
		return &literal{kind: litString, s: v, text: name}, nil
	case int:
		return &literal{kind: litInt, rat: new(big.Rat).SetInt64(int64(v)), text: name}, nil
	case int64:
		return &literal{kind: litInt, rat: new(big.Rat).SetInt64(v), text: name}, nil
	case int32:
		return &literal{kind: litInt, rat: new(big.Rat).SetInt64(int64(v)), text: name}, nil
	case float64:
		// A JSON number: an integer when it has no fraction.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return &literal{kind: litInt, rat: new(big.Rat).SetInt64(int64(v)), text: name}, nil
		}
		return &literal{kind: litDouble, f: v, text: name}, nil
	}
	return nil, dberr.New(dberr.TypeMismatch, "live query filter: parameter %s has unsupported type %T", name, x)
}

// comparer compares a column's non-NULL values with one literal.
type comparer struct {
	// cmp returns the sign of (value - literal) under DuckDB's casts.
	cmp func(v row.Value) int
	// exact is the literal as a value of the column's type when equality
	// with it is identity (row.Value.Equal) on the column's values; nil
	// when it is not (floats, or a literal the type cannot hold).
	exact *row.Value
}

func mismatch(col manifest.Column, l *literal) error {
	return dberr.New(dberr.TypeMismatch, "live query filter: cannot compare column %s (%s) with %s", col.Name, col.Type, l.text)
}

func floatCmp(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compiler builds the comparer of column col with the non-NULL literal l.
func compiler(col manifest.Column, l *literal) (*comparer, error) {
	t := col.Type
	fromString := l.kind == litString
	// A string literal is cast to the column's type first.
	if l.kind == litString && t.Kind != manifest.KindText {
		var err error
		if l, err = castString(col, l); err != nil {
			return nil, err
		}
	}
	switch t.Kind {
	case manifest.KindInt, manifest.KindBigInt:
		switch l.kind {
		case litInt, litDecimal:
			if l.rat.IsInt() && l.rat.Num().IsInt64() {
				n := l.rat.Num().Int64()
				c := &comparer{cmp: func(v row.Value) int { return cmp.Compare(v.Int64(), n) }}
				if t.Kind == manifest.KindBigInt || n == int64(int32(n)) {
					ev := row.BigInt(n)
					if t.Kind == manifest.KindInt {
						ev = row.Int(int32(n))
					}
					c.exact = &ev
				}
				return c, nil
			}
			r := l.rat
			return &comparer{cmp: func(v row.Value) int { return new(big.Rat).SetInt64(v.Int64()).Cmp(r) }}, nil
		case litDouble:
			f := l.f
			return &comparer{cmp: func(v row.Value) int { return floatCmp(float64(v.Int64()), f) }}, nil
		}
	case manifest.KindFloat:
		var f float64
		switch l.kind {
		case litInt, litDecimal:
			x, _ := strconv.ParseFloat(l.rat.FloatString(40), 32)
			f = float64(float32(x))
		case litDouble:
			f = l.f
		default:
			return nil, mismatch(col, l)
		}
		return &comparer{cmp: func(v row.Value) int { return floatCmp(v.Float64(), f) }}, nil
	case manifest.KindDouble:
		var f float64
		switch l.kind {
		case litInt, litDecimal:
			f, _ = l.rat.Float64()
		case litDouble:
			f = l.f
		default:
			return nil, mismatch(col, l)
		}
		return &comparer{cmp: func(v row.Value) int { return floatCmp(v.Float64(), f) }}, nil
	case manifest.KindDecimal:
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)
		switch l.kind {
		case litInt, litDecimal:
			// value/10^s vs r  ⇔  value vs r·10^s
			target := new(big.Rat).Mul(l.rat, new(big.Rat).SetInt(scale))
			c := &comparer{cmp: func(v row.Value) int { return new(big.Rat).SetInt(v.DecimalBig()).Cmp(target) }}
			if target.IsInt() {
				if ev, ok := row.DecimalFromBig(target.Num()); ok && ev.Check(t) == nil {
					c.exact = &ev
				}
			}
			return c, nil
		case litDouble:
			f := l.f
			sf, _ := new(big.Float).SetInt(scale).Float64()
			return &comparer{cmp: func(v row.Value) int {
				x, _ := new(big.Float).SetInt(v.DecimalBig()).Float64()
				return floatCmp(x/sf, f)
			}}, nil
		}
	case manifest.KindText:
		if l.kind != litString {
			return nil, mismatch(col, l)
		}
		s := l.s
		ev := row.Text(s)
		return &comparer{cmp: func(v row.Value) int { return strings.Compare(v.Str(), s) }, exact: &ev}, nil
	case manifest.KindBoolean:
		if l.kind != litBool {
			return nil, mismatch(col, l)
		}
		b := l.b
		ev := row.Bool(b)
		return &comparer{cmp: func(v row.Value) int { return boolCmp(v.Bool(), b) }, exact: &ev}, nil
	case manifest.KindDate:
		if !fromString || l.kind != litInt || !l.rat.Num().IsInt64() {
			return nil, mismatch(col, l)
		}
		d := l.rat.Num().Int64()
		ev := row.Date(int32(d))
		return &comparer{cmp: func(v row.Value) int { return cmp.Compare(v.Int64(), d) }, exact: &ev}, nil
	case manifest.KindUUID:
		if !fromString {
			return nil, mismatch(col, l)
		}
		s := l.s
		var u [16]byte
		copy(u[:], s)
		ev := row.UUID(u)
		return &comparer{cmp: func(v row.Value) int { return bytes.Compare([]byte(v.Str()), []byte(s)) }, exact: &ev}, nil
	default:
		return nil, dberr.New(dberr.Unsupported, "live query filters do not support comparisons on %s columns (%s); only IS [NOT] NULL", t, col.Name)
	}
	return nil, mismatch(col, l)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// castString casts a string literal to col's type as DuckDB would,
// returning a literal of the type's kind (DATE: litInt days; UUID:
// litString of the 16 bytes).
func castString(col manifest.Column, l *literal) (*literal, error) {
	s := strings.TrimSpace(l.s)
	bad := func() (*literal, error) {
		return nil, dberr.New(dberr.TypeMismatch, "live query filter: %s is not a valid %s for column %s", l.text, col.Type, col.Name)
	}
	switch col.Type.Kind {
	case manifest.KindInt, manifest.KindBigInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad()
		}
		return &literal{kind: litInt, rat: new(big.Rat).SetInt64(n), text: l.text}, nil
	case manifest.KindFloat, manifest.KindDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad()
		}
		if col.Type.Kind == manifest.KindFloat {
			f32, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return bad()
			}
			f = f32
		}
		return &literal{kind: litDouble, f: f, text: l.text}, nil
	case manifest.KindDecimal:
		r, ok := new(big.Rat).SetString(s)
		if !ok || strings.ContainsAny(s, "eE/") {
			return bad()
		}
		// DuckDB rounds the string to the column's scale.
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(col.Type.Scale)), nil))
		scaled := new(big.Rat).Mul(r, scale)
		n := roundHalfAway(scaled)
		return &literal{kind: litDecimal, rat: new(big.Rat).Quo(new(big.Rat).SetInt(n), scale), text: l.text}, nil
	case manifest.KindBoolean:
		switch strings.ToLower(s) {
		case "true", "t", "1", "yes", "y", "on":
			return &literal{kind: litBool, b: true, text: l.text}, nil
		case "false", "f", "0", "no", "n", "off":
			return &literal{kind: litBool, b: false, text: l.text}, nil
		}
		return bad()
	case manifest.KindDate:
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return bad()
		}
		return &literal{kind: litInt, rat: new(big.Rat).SetInt64(d.Unix() / 86400), text: l.text}, nil
	case manifest.KindUUID:
		u, err := uuid.Parse(s)
		if err != nil {
			return bad()
		}
		return &literal{kind: litString, s: string(u[:]), text: l.text}, nil
	}
	return nil, dberr.New(dberr.Unsupported, "live query filters do not support comparisons on %s columns (%s); only IS [NOT] NULL", col.Type, col.Name)
}

func roundHalfAway(r *big.Rat) *big.Int {
	num, den := r.Num(), r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	m2 := new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2))
	if m2.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
