package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// Every column type round-trips exactly from a SQL literal to the API's
// JSON response: the declared type is the type SELECT reports (typeof and
// the result's column type), and the value comes back as written, with
// the extremes of each type (DATE/TIMESTAMP limits and ±infinity, DECIMAL
// widths, NaN, unicode). Each value goes in twice — through the literal
// fast path (INSERT … VALUES) and through DuckDB (INSERT … SELECT) — and is
// read back buffered and again after a flush to a segment.
func TestTypesRoundTripThroughAPI(t *testing.T) {
	cases := []struct {
		typ, lit     string
		typeOf, want string
	}{
		{"BOOLEAN", "true", "BOOLEAN", "true"},
		{"INT", "2147483647", "INTEGER", "2147483647"},
		{"INT", "-2147483648", "INTEGER", "-2147483648"},
		{"BIGINT", "9223372036854775807", "BIGINT", "9223372036854775807"},
		{"BIGINT", "-9223372036854775808", "BIGINT", "-9223372036854775808"},
		{"REAL", "1.5", "FLOAT", "1.5"},
		{"REAL", "'NaN'", "FLOAT", "NaN"},
		{"DOUBLE", "-2.25e-300", "DOUBLE", "-2.25e-300"},
		{"DOUBLE", "'NaN'", "DOUBLE", "NaN"},
		{"DOUBLE", "'inf'", "DOUBLE", "Infinity"},
		{"DOUBLE", "'-inf'", "DOUBLE", "-Infinity"},
		{"DECIMAL(4,2)", "99.99", "DECIMAL(4,2)", "99.99"},
		{"DECIMAL(9,0)", "-999999999", "DECIMAL(9,0)", "-999999999"},
		{"DECIMAL(18,3)", "123456789012345.678", "DECIMAL(18,3)", "123456789012345.678"},
		{"DECIMAL(38,0)", strings.Repeat("9", 38), "DECIMAL(38,0)", strings.Repeat("9", 38)},
		{"DECIMAL(38,10)", "-1234567890123456789012345678.0123456789", "DECIMAL(38,10)", "-1234567890123456789012345678.0123456789"},
		{"TEXT", "'héllo, 世界 🌍'", "VARCHAR", "héllo, 世界 🌍"},
		{"TEXT", "''", "VARCHAR", ""},
		{"BYTEA", `'\x00\xFF'::BLOB`, "BLOB", "AP8="},
		{"JSON", `'{"a": [1, "é"]}'`, "JSON", `{"a":[1,"é"]}`},
		{"UUID", "'0190f5b2-7c4e-7a3b-8f00-0123456789ab'", "UUID", "0190f5b2-7c4e-7a3b-8f00-0123456789ab"},
		{"DATE", "'2024-02-29'", "DATE", "2024-02-29"},
		{"DATE", "'0001-01-01'", "DATE", "0001-01-01"},
		{"DATE", "'9999-12-31'", "DATE", "9999-12-31"},
		{"DATE", "'1969-12-31'", "DATE", "1969-12-31"},
		{"DATE", "'infinity'", "DATE", "infinity"},
		{"DATE", "'-infinity'", "DATE", "-infinity"},
		{"TIMESTAMP", "'2024-02-29 12:34:56.123456'", "TIMESTAMP", "2024-02-29T12:34:56.123456Z"},
		{"TIMESTAMP", "TIMESTAMP '1969-12-31 23:59:59.999999'", "TIMESTAMP", "1969-12-31T23:59:59.999999Z"},
		{"TIMESTAMP", "'0001-01-01 00:00:00'", "TIMESTAMP", "0001-01-01T00:00:00Z"},
		{"TIMESTAMP", "'9999-12-31 23:59:59.999999'", "TIMESTAMP", "9999-12-31T23:59:59.999999Z"},
		{"TIMESTAMP", "'infinity'", "TIMESTAMP", "infinity"},
		{"TIMESTAMP", "'-infinity'", "TIMESTAMP", "-infinity"},
		{"TIMESTAMP WITHOUT TIME ZONE", "'2024-01-02 03:04:05'", "TIMESTAMP", "2024-01-02T03:04:05Z"},
		{"DATETIME", "'2024-01-02T03:04:05'", "TIMESTAMP", "2024-01-02T03:04:05Z"},
		{"TIMESTAMPTZ", "'2024-02-29 12:34:56.5+02:00'", "TIMESTAMP WITH TIME ZONE", "2024-02-29T10:34:56.5Z"},
		{"TIMESTAMP WITH TIME ZONE", "'2024-02-29 12:34:56Z'", "TIMESTAMP WITH TIME ZONE", "2024-02-29T12:34:56Z"},
		{"TIMESTAMPTZ", "'infinity'", "TIMESTAMP WITH TIME ZONE", "infinity"},
	}
	s := startServer(t, nil)
	root := s.login("root", rootPassword)
	cols := make([]string, len(cases))
	for i, c := range cases {
		cols[i] = fmt.Sprintf("c%d %s", i, c.typ)
	}
	root.exec(t, "CREATE SHARED TABLE ty (id INT PRIMARY KEY, "+strings.Join(cols, ", ")+")")
	for i, c := range cases {
		root.exec(t, fmt.Sprintf("INSERT INTO ty (id, c%d) VALUES (%d, %s)", i, i, c.lit))
		root.exec(t, fmt.Sprintf("INSERT INTO ty (id, c%d) SELECT %d, %s", i, 1000+i, c.lit))
	}
	check := func(stage string) {
		t.Helper()
		for i, c := range cases {
			for _, id := range []int{i, 1000 + i} {
				res := root.exec(t, fmt.Sprintf("SELECT typeof(c%d), c%d FROM ty WHERE id = %d", i, i, id))
				want := c.typeOf + "|" + c.want
				if got := rowsText(res); len(got) != 1 || got[0] != want {
					t.Errorf("%s: %s %s (id %d): got %q, want %q", stage, c.typ, c.lit, id, got, want)
				}
				r := res.GetResults()[0]
				wantCol := strings.Replace(c.typeOf, "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", 1)
				if got := r.GetColumns()[1].GetType(); got != wantCol {
					t.Errorf("%s: %s %s: result column type %q, want %q", stage, c.typ, c.lit, got, wantCol)
				}
			}
		}
		// DESCRIBE names Floe's canonical type: TIMESTAMP stays TIMESTAMP.
		desc := rowsText(root.exec(t, "DESCRIBE ty"))
		for i, c := range cases {
			want, ok := map[string]string{"TIMESTAMP": "TIMESTAMP", "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}[c.typeOf]
			if ok && !strings.HasPrefix(desc[i+1], fmt.Sprintf("c%d|%s|", i, want)) {
				t.Errorf("%s: DESCRIBE of c%d (%s): %q, want type %s", stage, i, c.typ, desc[i+1], want)
			}
		}
	}
	check("buffered")
	root.exec(t, "FLUSH TABLE ty")
	check("flushed")
}
