package sqlparse

import (
	"runtime"
	"strings"
	"testing"
)

// TestLargeInputs checks that pathological inputs cost linear work, with
// a bound that does not depend on the machine or its load: the bytes the
// parser allocates for an input of 200 KB must be at most 2.6 times what
// it allocates for the same input at half the size (linear work gives 2,
// quadratic 4), and at most 4000 bytes per input byte. Wall-clock time is
// measured by BenchmarkParseLarge, not asserted here.
func TestLargeInputs(t *testing.T) {
	for _, tc := range largeInputs(200_000) {
		half := largeInputs(100_000)
		t.Run(tc.name, func(t *testing.T) {
			var small string
			for _, h := range half {
				if h.name == tc.name {
					small = h.sql
				}
			}
			a1, a2 := allocated(small), allocated(tc.sql)
			t.Logf("%d bytes: %d allocated; %d bytes: %d allocated", len(small), a1, len(tc.sql), a2)
			if a2 > 4000*uint64(len(tc.sql))+1<<20 {
				t.Errorf("Parse of %d bytes allocated %d bytes (%d for half)", len(tc.sql), a2, a1)
			}
			if a1 > 0 && float64(a2) > 2.6*float64(a1)+1<<20 {
				t.Errorf("Parse allocated %d bytes for %d bytes of input and %d for %d: more than linear", a1, len(small), a2, len(tc.sql))
			}
		})
	}
}

// BenchmarkParseLarge times each pathological input of TestLargeInputs.
func BenchmarkParseLarge(b *testing.B) {
	for _, tc := range largeInputs(200_000) {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.sql)))
			for b.Loop() {
				_, _ = Parse(tc.sql)
			}
		})
	}
}

// allocated returns the bytes allocated while parsing sql once.
func allocated(sql string) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _ = Parse(sql)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

type largeInput struct{ name, sql string }

// largeInputs returns the pathological inputs, each about n bytes long.
func largeInputs(n int) []largeInput {
	cols := make([]string, n/10)
	for i := range cols {
		cols[i] = "c" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("_", i/26%50)
	}
	return []largeInput{
		{"operator run", "SELECT 1 " + strings.Repeat("+", n) + " 1"},
		{"operator run with specials", "SELECT 1 " + strings.Repeat("@-", n/2) + " 1"},
		{"many statements", strings.Repeat("SELECT 1;", n/9)},
		{"deep parentheses", "SELECT " + strings.Repeat("(", n/2) + "1" + strings.Repeat(")", n/2)},
		{"unclosed parentheses", "SELECT " + strings.Repeat("(", n)},
		{"many values", "INSERT INTO t VALUES " + strings.TrimSuffix(strings.Repeat("(1, 'a'),", n/9), ",")},
		{"many assignments", "UPDATE t SET " + strings.TrimSuffix(strings.Repeat("a = 1,", n/6), ",")},
		{"many columns", "INSERT INTO t (" + strings.Join(cols, ", ") + ") VALUES (1)"},
		{"many time travels", "SELECT * FROM " + strings.TrimSuffix(strings.Repeat("t AS OF VERSION 1 x(a),", n/23), ",")},
		{"many withs", strings.Repeat("WITH x AS (SELECT 1) ", n/21) + "SELECT 1"},
		{"many on conflicts", "INSERT INTO t SELECT 1 FROM a JOIN b " + strings.Repeat("ON conflict(x) ", n/15)},
		{"long string", "SELECT '" + strings.Repeat("x", n) + "'"},
		{"many continued strings", "SELECT 'a'" + strings.Repeat("\n'b'", n/4)},
		{"nested comments", "SELECT 1 " + strings.Repeat("/*", n/2) + strings.Repeat("*/", n/2)},
		{"many dollars", "SELECT " + strings.Repeat("$a ", n/3)},
	}
}
