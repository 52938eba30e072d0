package sqlparse

import (
	"strconv"
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/manifest"
)

// DuckDB's DECIMAL defaults: DECIMAL is DECIMAL(18,3) and DECIMAL(p) is
// DECIMAL(p,0).
const (
	defaultDecimalPrecision = 18
	defaultDecimalScale     = 3
)

// typeHint lists the canonical column types for messages.
const typeHint = "use one of BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), TEXT, BYTES, DATE, TIMESTAMP, JSON, UUID"

// columnType consumes a column type and returns it and its source text.
// col names the column for messages. The spellings are DuckDB's and
// PostgreSQL's; see the package documentation for the mapping.
func (p *parser) columnType(col string) (manifest.Type, string, error) {
	t := p.peek()
	if t.Kind != Ident {
		return manifest.Type{}, "", p.expected("a column type")
	}
	p.next()
	var typ manifest.Type
	maxArgs := 0 // how many (n, …) arguments the type takes
	switch upperASCII(t.Text) {
	case "BOOLEAN", "BOOL":
		typ = manifest.Boolean
	case "INT", "INTEGER", "INT4", "SIGNED", "SMALLINT", "INT2", "TINYINT", "INT1":
		typ = manifest.Int
	case "BIGINT", "INT8", "LONG":
		typ = manifest.BigInt
	case "REAL", "FLOAT", "FLOAT4":
		typ = manifest.Float
	case "DOUBLE":
		p.accept("PRECISION")
		typ = manifest.Double
	case "FLOAT8":
		typ = manifest.Double
	case "DECIMAL", "NUMERIC":
		typ, maxArgs = manifest.Decimal(defaultDecimalPrecision, defaultDecimalScale), 2
	case "TEXT", "STRING":
		typ = manifest.Text
	case "VARCHAR", "BPCHAR":
		typ, maxArgs = manifest.Text, 1
	case "CHAR", "CHARACTER":
		p.accept("VARYING")
		typ, maxArgs = manifest.Text, 1
	case "BYTES", "BYTEA", "BLOB", "VARBINARY", "BINARY":
		typ = manifest.Bytes
	case "DATE":
		typ = manifest.Date
	case "TIMESTAMP":
		typ = manifest.Timestamp
		if p.accept("WITH", "TIME", "ZONE") {
			typ = manifest.TimestampTZ
		} else {
			_ = p.accept("WITHOUT", "TIME", "ZONE")
		}
	case "DATETIME":
		typ = manifest.Timestamp
	case "TIMESTAMPTZ":
		typ = manifest.TimestampTZ
	case "JSON", "JSONB":
		typ = manifest.JSON
	case "UUID":
		typ = manifest.UUID
	default:
		return manifest.Type{}, "", p.errAt(t.Pos, "unknown column type %s for column %s; %s", quoteText(upperASCII(t.Text)), quoteText(col), typeHint)
	}
	if open := p.peek(); isOp(open, "(") {
		if maxArgs == 0 {
			return manifest.Type{}, "", p.errAt(open.Pos, "column type %s of column %s takes no arguments", upperASCII(t.Text), quoteText(col))
		}
		p.next()
		var args []int
		for {
			n, err := p.typeArg()
			if err != nil {
				return manifest.Type{}, "", err
			}
			args = append(args, n)
			if p.acceptOp(")") {
				break
			}
			if len(args) == maxArgs {
				return manifest.Type{}, "", p.expected(`")"`)
			}
			if !p.acceptOp(",") {
				return manifest.Type{}, "", p.expected(`"," or ")"`)
			}
		}
		if typ.Kind == manifest.KindDecimal {
			prec, scale := args[0], 0
			if len(args) > 1 {
				scale = args[1]
			}
			switch {
			case prec < 1 || prec > manifest.MaxDecimalPrecision:
				return manifest.Type{}, "", p.errAt(t.Pos, "DECIMAL precision %d of column %s is out of range 1..%d", prec, quoteText(col), manifest.MaxDecimalPrecision)
			case scale > prec:
				return manifest.Type{}, "", p.errAt(t.Pos, "DECIMAL scale %d of column %s exceeds its precision %d", scale, quoteText(col), prec)
			}
			typ = manifest.Decimal(uint8(prec), uint8(scale))
		}
	}
	if next := p.peek(); isOp(next, "[") || isKeyword(next, "ARRAY") {
		return manifest.Type{}, "", dberr.New(dberr.Unsupported, "array column types are not supported (column %s)", quoteText(col))
	}
	return typ, p.src[t.Pos:p.toks[p.i-1].End], nil
}

// typeArg consumes a non-negative integer type argument.
func (p *parser) typeArg() (int, error) {
	t := p.peek()
	if t.Kind != Number || strings.Trim(t.Text, "0123456789") != "" {
		return 0, p.expected("an integer")
	}
	n, err := strconv.Atoi(t.Text)
	if err != nil || n > 1<<20 {
		return 0, p.errAt(t.Pos, "type argument %s is too large", quoteText(t.Text))
	}
	p.next()
	return n, nil
}
