package sqlparse

import (
	"strings"
	"testing"
	"time"
)

// TestLargeInputs checks that pathological inputs take linear time: each
// must parse (or fail) well within a second.
func TestLargeInputs(t *testing.T) {
	const n = 200_000
	cols := make([]string, n/10)
	for i := range cols {
		cols[i] = "c" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("_", i/26%50)
	}
	for _, tc := range []struct{ name, sql string }{
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, _ = Parse(tc.sql)
			if d := time.Since(start); d > time.Second {
				t.Errorf("Parse of %d bytes took %v", len(tc.sql), d)
			}
		})
	}
}
