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
		manifest.Decimal(10, 2), manifest.Decimal(38, 0), manifest.Text, manifest.JSON, manifest.Date, manifest.UUID}
	lits := []string{"0", "1", "-1", "+7", "2147483647", "2147483648", "-2147483648", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "1.5", "-0.25", "1e3", "1.", ".5", "12.345", "99999999.99", "999999999.99", "1_000",
		"'x'", "'it''s'", "''", "'1'", "'{\"a\":1}'", "'[1,2]'", "'{\"a\": [1, 2.0]}'", "'not json'", "E'a\\nb'", "$$dollar$$",
		"NULL", "null", "TRUE", "false", "'true'", "1 + 1", "-(1)", "'2024-01-01'", "0x10", "1e400"}
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
	if accepted < 40 {
		t.Fatalf("fast path accepted only %d literals", accepted)
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
