package sqlexec

import (
	"context"
	"testing"

	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/manifest"
)

// The literal fast path of INSERT … VALUES must agree with DuckDB's CAST
// whenever it accepts a literal (and may decline anything).
func TestLiteralValueAgreesWithDuckDB(t *testing.T) {
	ctx := context.Background()
	eng, err := duckengine.Open(ctx, duckengine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	sess, err := eng.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	types := []manifest.Type{manifest.Boolean, manifest.Int, manifest.BigInt, manifest.Float, manifest.Double,
		manifest.Decimal(10, 2), manifest.Decimal(38, 0), manifest.Text, manifest.JSON, manifest.Date, manifest.UUID,
		manifest.Timestamp, manifest.TimestampTZ}
	lits := []string{"0", "1", "-1", "+7", "2147483647", "2147483648", "-2147483648", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "1.5", "-0.25", "1e3", "1.", ".5", "12.345", "99999999.99", "999999999.99", "1_000",
		"'x'", "'it''s'", "''", "'1'", "'{\"a\":1}'", "'[1,2]'", "'{\"a\": [1, 2.0]}'", "'not json'", "E'a\\nb'", "$$dollar$$",
		"NULL", "null", "TRUE", "false", "'true'", "1 + 1", "-(1)", "'2024-01-01'", "0x10", "1e400",
		// dates and timestamps: the ISO forms, limits, leap days and what
		// the fast path must leave to DuckDB
		"'0001-01-01'", "'9999-12-31'", "'1969-12-31'", "'1900-02-28'", "'2000-02-29'", "'2024-02-29'", "'2023-02-29'",
		"'2024-13-01'", "'2024-00-10'", "'2024-1-5'", "'0000-01-01'", "'infinity'", "'-infinity'", "'epoch'",
		"'2024-02-29 12:34:56'", "'2024-02-29T12:34:56'", "'2024-02-29 12:34:56.7'", "'2024-02-29 12:34:56.123456'",
		"'2024-02-29 12:34:56.1234567'", "'1969-12-31 23:59:59.999999'", "'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
		"'2024-02-29 24:00:00'", "'2024-02-29 23:60:00'", "'2024-02-29 23:59:60'", "'2024-02-29 1:02:03'",
		"'2024-02-29 12:34:56Z'", "'2024-02-29 12:34:56+02:00'", "'2024-02-29 12:34:56-05:30'", "'2024-02-29 12:34:56.5+14:00'",
		"'2024-02-29 12:34:56+02'", "'2024-02-29 12:34:56 UTC'", "'2024-02-29 12:34'", "'1582-10-10'",
		"DATE '2024-02-29'", "TIMESTAMP '2024-02-29 12:34:56.5'", "TIMESTAMPTZ '2024-02-29 12:34:56.5+01:00'",
		"TIMESTAMP '2024-02-29 12:34:56+01:00'", "DATE 'x'"}
	accepted := 0
	for _, typ := range types {
		for _, lit := range lits {
			v, ok := literalValue(lit, typ, nil)
			if !ok {
				continue
			}
			accepted++
			var x any
			err := sess.Conn().QueryRowContext(ctx, "SELECT "+castTo(lit, typ)).Scan(&x)
			if err != nil {
				t.Errorf("%s as %s: fast path gives %v, DuckDB fails: %v", lit, typ, v, err)
				continue
			}
			want, err := fromDriver(x, typ, "c")
			if err != nil {
				t.Fatal(err)
			}
			if v != want {
				t.Errorf("%s as %s: fast path gives %v, DuckDB %v", lit, typ, v, want)
			}
		}
	}
	if accepted < 80 {
		t.Fatalf("fast path accepted only %d literals", accepted)
	}
	// The ISO forms must take the fast path (INSERT speed depends on it).
	for _, c := range []struct {
		lit string
		typ manifest.Type
	}{{"'2024-02-29'", manifest.Date}, {"'2024-02-29 12:34:56.123456'", manifest.Timestamp}, {"'0001-01-01 00:00:00'", manifest.Timestamp},
		{"'2024-02-29T12:34:56Z'", manifest.TimestampTZ}, {"TIMESTAMP '2024-02-29 12:34:56'", manifest.Timestamp}, {"'9999-12-31'", manifest.TimestampTZ}} {
		if _, ok := literalValue(c.lit, c.typ, nil); !ok {
			t.Errorf("%s as %s: declined by the fast path", c.lit, c.typ)
		}
	}
	for _, c := range []struct {
		param any
		typ   manifest.Type
		ok    bool
	}{{int64(5), manifest.Int, true}, {int64(1 << 40), manifest.Int, false}, {3.5, manifest.Int, false}, {"s", manifest.Text, true},
		{"s", manifest.Int, false}, {nil, manifest.Date, true}, {true, manifest.Boolean, true}, {2.5, manifest.Double, true}} {
		if _, ok := literalValue("$1", c.typ, []any{c.param}); ok != c.ok {
			t.Errorf("param %v as %s: ok = %v", c.param, c.typ, ok)
		}
	}
}
