package duckengine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

func openGuarded(t testing.TB, maxValue int64) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Config{AllowedDirs: []string{t.TempDir()}, MaxValueBytes: maxValue})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// queryString runs q and returns its single value as text.
func queryString(ctx context.Context, e *Engine, q string) (string, error) {
	var s *string
	if err := e.db.QueryRowContext(ctx, "SELECT CAST(("+q+") AS VARCHAR)").Scan(&s); err != nil {
		return "", err
	}
	if s == nil {
		return "NULL", nil
	}
	return *s, nil
}

// The shadowing macros answer exactly as the built-ins for ordinary
// arguments, NULLs included.
func TestSizeGuardKeepsResults(t *testing.T) {
	e := openGuarded(t, 0)
	ctx := context.Background()
	for _, call := range []string{
		"range(5)", "range(2, 9)", "range(9, 2, -3)", "range(0, 10, 0.0::BIGINT + 4)", "range(NULL)", "range(1, NULL)",
		"range(TIMESTAMP '2024-01-01', TIMESTAMP '2024-03-01', INTERVAL 1 MONTH)",
		"range(TIMESTAMPTZ '2024-01-01 00:00:00+00', TIMESTAMPTZ '2024-01-02 00:00:00+00', INTERVAL 6 HOUR)",
		"generate_series(3)", "generate_series(1, 4)", "generate_series(10, 1, -4)",
		"generate_series(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-03', INTERVAL 1 DAY)",
		"list_resize([1, 2, 3], 5)", "list_resize([1, 2], 4, 9)", "list_resize(['a'], 3, NULL)", "array_resize([1], 2, 7)",
		"repeat('ab', 3)", "repeat('\\x01'::BLOB, 2)", "repeat([1, 2], 2)", "repeat(NULL::VARCHAR, 3)", "repeat('x', NULL)",
		"lpad('7', 3, '0')", "rpad('ab', 5, 'é')", "lpad('abcdef', 2, '-')",
		"bar(5, 0, 10)", "bar(5, 0, 10, 20)", "bitstring('101', 8)", "to_base(255, 16)", "to_base(5, 2, 8)",
		"equi_width_bins(0, 10, 5, true)",
		"replace('banana', 'an', 'AN')", "replace('aaa', 'a', 'bb')", "replace('abc', '', 'x')",
		"printf('x')", "printf('%d-%s', 4, 'y')", "printf('%5.2f', 3.14159)", "printf('%s', NULL)", "printf('%*d', 6, 42)",
		"format('{}+{}', 1, 'b')", "format('{:>6}', 'r')", "format('{:{}}', 'w', 5)",
		"list_transform([1, 2], x -> repeat('z', x))", "[repeat('q', x) for x in [1, 3]]",
	} {
		builtin := builtinCall(call)
		want, err := queryString(ctx, e, builtin)
		if err != nil {
			t.Fatalf("%s: %v", builtin, err)
		}
		got, err := queryString(ctx, e, call)
		if err != nil {
			t.Errorf("%s: %v", call, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %s, the built-in gives %s", call, got, want)
		}
	}
}

// builtinCall qualifies the guarded function names of call with
// system.main, which reaches the built-ins past the macros.
func builtinCall(call string) string {
	for _, f := range GuardedFunctions {
		call = strings.ReplaceAll(call, f+"(", "system.main."+f+"(")
	}
	return strings.ReplaceAll(call, "system.main.system.main.", "system.main.")
}

// Each family's bomb is refused with RESOURCE_EXHAUSTED before DuckDB
// builds the value, and the statement's Usage records the refusal.
func TestSizeGuardRefusesBombs(t *testing.T) {
	e := openGuarded(t, 1<<20)
	for _, bomb := range []string{
		"SELECT len(range(0, 2000000000))",
		"SELECT len(range(2000000000))",
		"SELECT len(range(-9223372036854775807, 9223372036854775807, 1))",
		"SELECT len(generate_series(1, 500000000))",
		"SELECT len(range(TIMESTAMP '2000-01-01', TIMESTAMP '2100-01-01', INTERVAL 1 SECOND))",
		"SELECT len(list_resize([1], 2000000000))",
		"SELECT len(array_resize([1], 100000, repeat('x', 1000)))",
		"SELECT strlen(repeat('a', 2000000000))",
		"SELECT octet_length(repeat('\\xAA'::BLOB, 2000000000))",
		"SELECT len(repeat([1, 2, 3], 100000000))",
		"SELECT strlen(lpad('a', 2000000000, 'b'))",
		"SELECT strlen(rpad('a', 2000000000, 'b'))",
		"SELECT strlen(bar(1, 0, 2, 1e9))",
		"SELECT length(bitstring('1', 2000000000))",
		"SELECT strlen(to_base(1, 2, 2000000000))",
		"SELECT len(equi_width_bins(0, 1000000000, 1000000000, false))",
		"SELECT strlen(replace(repeat('a', 100000), 'a', repeat('b', 1000)))",
		"SELECT strlen(printf('%2000000000d', 1))",
		"SELECT strlen(printf('%.2000000000f', 1.5))",
		"SELECT strlen(printf('%*d', 2000000000, 1))",
		"SELECT strlen(format('{:>2000000000}', 1))",
		"SELECT strlen(format('{:{}}', 'x', 2000000000))",
		// Small values, many rows: one batch builds too much.
		"(SELECT sum(strlen(repeat('a', 900000 + i % 2))) FROM range(100) t(i))",
		// Nested: each call is within the limit, the lambda's calls are
		// checked too.
		"SELECT len(list_transform(range(0, 1000), x -> repeat('a', 1000000)))",
	} {
		t.Run(bomb, func(t *testing.T) {
			u := &Usage{}
			ctx := WithUsage(context.Background(), u)
			_, err := queryString(ctx, e, strings.TrimPrefix(bomb, "SELECT "))
			if err == nil {
				t.Fatalf("%s ran", bomb)
			}
			if u.Refusal() == nil || u.Refusal().Code != dberr.ResourceExhausted {
				t.Fatalf("%s: no refusal recorded; error %v", bomb, err)
			}
			if !strings.Contains(u.Refusal().Msg, "query.max_value_bytes") {
				t.Errorf("the refusal does not name the limit: %s", u.Refusal().Msg)
			}
		})
	}
}

// The macros shadow the built-ins in every place a query can call them,
// and the built-ins are reachable only by a catalog-qualified name (which
// lakehouse/sqlbind refuses).
func TestSizeGuardShadowsEveryForm(t *testing.T) {
	e := openGuarded(t, 1<<20)
	for _, q := range []string{
		"main.repeat('a', 2000000000)",
		"\"repeat\"('a', 2000000000)",
		"(SELECT max(strlen(repeat('a', n))) FROM (VALUES (2000000000)) t(n))",
		"(WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2) SELECT max(len(range(n * 1000000000))) FROM r)",
		"(SELECT len(list(x)) FROM unnest(range(0, 2000000000)) t(x))",
	} {
		u := &Usage{}
		if _, err := queryString(WithUsage(context.Background(), u), e, q); err == nil || u.Refusal() == nil {
			t.Errorf("%s: not refused by the size guard (error %v)", q, err)
		}
	}
}

// sizeDrivenReviewed are the scalar functions of DuckDB 1.5.6 that take an
// integer or ANY argument and return a string, blob, bit string or list,
// and that the size guard does not shadow, with the reason they need not
// be: their output is bounded by the size of their inputs.
var sizeDrivenReviewed = map[string]string{
	"&": "bitwise, as long as its inputs", "|": "bitwise", "xor": "bitwise", "~": "bitwise",
	"<<": "shifts within the input's length", ">>": "shifts within the input's length",
	"->>": "extracts", "array_extract": "extracts", "list_element": "extracts", "list_extract": "extracts",
	"json_extract_path_text": "extracts", "json_extract_string": "extracts", "json_value": "extracts",
	"left": "a prefix", "left_grapheme": "a prefix", "right": "a suffix", "right_grapheme": "a suffix",
	"substr": "a part", "substring": "a part", "substring_grapheme": "a part",
	"list_slice": "a part", "array_slice": "a part", "struct_extract": "a field", "struct_extract_at": "a field",
	"regexp_replace": "bounded by lakehouse/sqlbind (a short constant replacement)", "regexp_extract": "a part", "regexp_extract_all": "parts of the input",
	"set_bit": "same length", "chr": "one character", "bin": "64 characters at most", "hex": "at most 32 characters",
	"to_binary": "at most 128 characters", "to_hex": "at most 32 characters",
	"format_bytes": "short", "formatReadableSize": "short", "formatReadableDecimalSize": "short",
	"dayname": "short", "monthname": "short", "strftime": "the format's length times a small factor",
	"__internal_decompress_string": "internal, refused by sqlbind",
	"alias":                        "a name", "typeof": "a type name", "vector_type": "a name", "stats": "refused by sqlbind",
	"enum_first": "an enum value", "enum_last": "an enum value", "enum_code": "a code", "enum_range": "the enum's values",
	"enum_range_boundary": "the enum's values", "struct_keys": "the type's names", "struct_values": "the fields",
	"concat": "the sum of its inputs", "concat_ws": "the sum of its inputs", "||": "the sum of its inputs",
	"list_value": "its arguments", "list_pack": "its arguments", "flatten": "its input",
	"greatest": "one input", "least": "one input", "constant_or_null": "one input", "cast_to_type": "a cast",
	"replace_type": "a cast", "remap_struct": "its inputs", "create_sort_key": "its inputs",
	"list_distinct": "≤ input", "array_distinct": "≤ input", "list_intersect": "≤ input", "array_intersect": "≤ input",
	"list_select": "as long as its index list", "array_select": "as long as its index list",
	"list_where": "≤ input", "array_where": "≤ input", "list_sort": "same length", "array_sort": "same length",
	"list_reverse_sort": "same length", "array_reverse_sort": "same length", "list_grade_up": "same length",
	"array_grade_up": "same length", "grade_up": "same length",
	"list_transform": "the lambda's results; their calls are checked", "array_transform": "as list_transform",
	"list_apply": "as list_transform", "array_apply": "as list_transform", "apply": "as list_transform",
	"list_filter": "≤ input", "array_filter": "≤ input", "filter": "≤ input",
	"list_reduce": "the lambda's result", "array_reduce": "as list_reduce", "reduce": "as list_reduce",
	"list_aggregate": "an aggregate of the list", "list_aggr": "as list_aggregate", "array_aggregate": "as list_aggregate",
	"array_aggr": "as list_aggregate", "aggregate": "as list_aggregate",
	"map_from_entries": "its input", "date_part": "a struct of numbers", "datepart": "a struct of numbers",
	"st_asbinary": "its input", "st_astext": "its input", "st_aswkb": "its input", "st_aswkt": "its input", "st_crs": "short",
	"variant_to_parquet_variant": "its input", "variant_typeof": "a type name",
}

// TestSizeGuardCoversFamilies enumerates DuckDB's functions that could
// build a value from an argument's value and fails for one that is
// neither guarded nor reviewed: a DuckDB upgrade that adds one must decide
// how it is bounded.
func TestSizeGuardCoversFamilies(t *testing.T) {
	e := openGuarded(t, 0)
	rows, err := e.db.Query(`SELECT DISTINCT function_name FROM duckdb_functions()
		WHERE function_type = 'scalar' AND database_name = 'system'
		  AND (return_type IN ('VARCHAR', 'BLOB', 'BIT', 'ANY') OR return_type LIKE '%[]' OR return_type LIKE 'MAP%'
		       OR return_type LIKE 'STRUCT%' OR return_type IS NULL)
		  AND (parameter_types::VARCHAR ILIKE '%INT%' OR parameter_types::VARCHAR ILIKE '%ANY%'
		       OR parameter_types::VARCHAR ILIKE '%DOUBLE%' OR list_contains(parameter_types, 'T'))
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, ok := sizeDrivenReviewed[name]; !ok && !slices.Contains(GuardedFunctions, name) {
			missing = append(missing, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("functions neither guarded (GuardedFunctions) nor reviewed (sizeDrivenReviewed): %s", strings.Join(missing, ", "))
	}
}

// A statement whose context is done stops at its next checked call, even
// inside one expression.
func TestSizeGuardStopsCancelledStatement(t *testing.T) {
	e := openGuarded(t, 1<<20)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("memory guard"))
	_, err := queryString(WithUsage(ctx, &Usage{}), e, "repeat('a', 3)")
	if err == nil {
		t.Fatal("a cancelled statement ran")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[float64]string{10: "10 bytes", 2048: "2.0 KiB", 16 << 20: "16.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%v) = %s, want %s", n, got, want)
		}
	}
}

// BenchmarkSizeGuard compares guarded calls (the macros and their Go
// checks) with the built-ins, over 1M rows.
//
//	go test -run '^$' -bench BenchmarkSizeGuard -benchtime 5x ./lakehouse/duckengine
func BenchmarkSizeGuard(b *testing.B) {
	e := openGuarded(b, 0)
	for _, call := range []string{
		"strlen(lpad(i::VARCHAR, 12, '0'))",
		"strlen(replace(i::VARCHAR, '1', 'one'))",
		"strlen(printf('%08d', i))",
		"len(range(i % 10))",
		"strlen(repeat('ab', i % 5))",
	} {
		for _, guarded := range []bool{true, false} {
			expr := call
			name := "guarded"
			if !guarded {
				expr, name = builtinCall(call), "builtin"
			}
			q := "SELECT sum(" + expr + ") FROM range(1000000) t(i)"
			b.Run(call+"/"+name, func(b *testing.B) {
				for range b.N {
					var n int64
					if err := e.db.QueryRow(q).Scan(&n); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
