package sqlbind

import (
	"slices"
	"testing"
)

func TestScanName(t *testing.T) {
	cases := []struct {
		text   string
		strict bool
		parts  []string
		end    int // -1: not a name
	}{
		{text: `orders`, parts: []string{"orders"}, end: 6},
		{text: `orders o`, parts: []string{"orders"}, end: 6},
		{text: `orders.`, parts: nil, end: -1},
		{text: `sales.items,`, parts: []string{"sales", "items"}, end: 11},
		{text: `sales . items`, parts: []string{"sales", "items"}, end: 13},
		{text: "sales/*x*/.--y\n items", parts: []string{"sales", "items"}, end: 21},
		{text: `"a"."b"."c"."d"`, parts: []string{"a", "b", "c"}, end: 11},
		{text: `"we""ird" x`, parts: []string{`we"ird`}, end: 9},
		{text: `"open`, end: -1},
		{text: `'file.csv' f`, parts: []string{"file.csv"}, end: 10},
		{text: `'it''s'`, parts: []string{"it's"}, end: 7},
		{text: `é$1x`, parts: []string{"é$1x"}, end: 5},
		{text: `1abc`, end: -1},
		{text: `$1`, end: -1},
		{text: `"__floe_1"`, strict: true, parts: []string{"__floe_1"}, end: 10},
		{text: `temp.main."__floe_1"`, strict: true, parts: []string{"temp", "main", "__floe_1"}, end: 20},
		{text: `a . b`, strict: true, parts: []string{"a"}, end: 1},
		{text: `'x'`, strict: true, end: -1},
	}
	for _, tc := range cases {
		parts, end, ok := scanName(tc.text, 0, tc.strict)
		if !ok {
			end = -1
		}
		if end != tc.end || (ok && !slices.Equal(parts, tc.parts)) {
			t.Errorf("scanName(%q, strict=%v) = %q, %d, want %q, %d", tc.text, tc.strict, parts, end, tc.parts, tc.end)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	cases := []struct {
		text string
		want int
	}{
		{"x", 0},
		{" \t\n\r\f\vx", 6},
		{"-- c\nx", 5},
		{"-- c", 4},
		{"/* a /* b */ c */x", 17},
		{"/* open", 7},
		{"- x", 0},
		{"/ x", 0},
	}
	for _, tc := range cases {
		if got := skipSpace(tc.text, 0); got != tc.want {
			t.Errorf("skipSpace(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}

func TestFindAt(t *testing.T) {
	cases := []struct {
		text, alias string
		start, end  int // -1: error
		param       string
	}{
		{text: ` AT (VERSION => 3)`, start: 1, end: 18},
		{text: ` AT(VERSION=>$12)x`, start: 1, end: 17, param: "$12"},
		{text: ` at ( version => ? )`, start: 1, end: 20, param: "?"},
		{text: ` AS o AT (VERSION => 1)`, alias: "o", start: 6, end: 23},
		{text: ` o AT (VERSION => 1)`, alias: "o", start: 3, end: 20},
		{text: ` "O" (a, ")") AT (VERSION => 1)`, alias: "o", start: 14, end: 31},
		{text: ` /* ) */ AT /* ( */ (VERSION => /* $9 */ $2 -- )` + "\n)", start: 9, end: 50, param: "$2"},
		{text: ` p AT (VERSION => 1)`, alias: "o", start: -1},
		{text: ` ATX (VERSION => 1)`, start: -1},
		{text: ` AT (VERSION => 1`, start: -1},
		{text: ` AT (VERSION => $1 + $2)`, start: -1},
		{text: ` AT (VERSION => '$1')`, start: -1},
	}
	for _, tc := range cases {
		start, end, param, err := findAt(tc.text, 0, tc.alias)
		if err != nil {
			start = -1
		}
		if start != tc.start || (err == nil && (end != tc.end || param != tc.param)) {
			t.Errorf("findAt(%q, %q) = %d, %d, %q, %v; want %d, %d, %q", tc.text, tc.alias, start, end, param, err, tc.start, tc.end, tc.param)
		}
	}
}

func TestAfterTableKeyword(t *testing.T) {
	cases := map[string]bool{
		"TABLE orders":   true,
		"table\n orders": true,
		"x;TABLE orders": true,
		"FROM orders":    false,
		"MYTABLE orders": false,
		`"TABLE" orders`: false,
		"orders":         false,
	}
	for text, want := range cases {
		if got := afterTableKeyword(text, len(text)-len("orders")); got != want {
			t.Errorf("afterTableKeyword(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestApplyRefusesOverlap(t *testing.T) {
	if _, err := apply("abcdef", []edit{{start: 0, end: 3}, {start: 2, end: 4}}); err == nil {
		t.Fatal("overlapping edits applied")
	}
	edits := []edit{{start: 4, end: 6, text: "XY", repl: "XY"}, {start: 0, end: 1, text: "(Z", repl: "Z", replOff: 1}}
	got, err := apply("abcdef", edits)
	if err != nil || got != "(ZbcdXY" {
		t.Fatalf("apply = %q, %v", got, err)
	}
	if edits[0].newRepl != 1 || edits[1].newRepl != 5 {
		t.Fatalf("newRepl = %d, %d, want 1, 5", edits[0].newRepl, edits[1].newRepl)
	}
}
