package filter_test

import (
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/livequery/filter"
	"github.com/floedb/floe/manifest"
)

var refuseCols = append(diffCols[:len(diffCols):len(diffCols)],
	manifest.Column{Name: "ts", Type: manifest.Timestamp, Nullable: true},
	manifest.Column{Name: "j", Type: manifest.JSON, Nullable: true})

// TestRefusals: everything outside the subset fails with a stable code and
// a message naming the construct.
func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		where string
		code  dberr.Code
		names string
	}{
		{"lower(s) = 'a'", dberr.Unsupported, "function LOWER()"},
		{"i::TEXT = '1'", dberr.Unsupported, "casts"},
		{"i + 1 = 2", dberr.Unsupported, "operator +"},
		{"i BETWEEN 1 AND 2", dberr.Unsupported, "BETWEEN"},
		{"i = b", dberr.Unsupported, "comparing two columns"},
		{"i IN (SELECT 1)", dberr.Unsupported, "subqueries"},
		{"(SELECT 1) = i", dberr.Unsupported, "subqueries"},
		{"ts > '2024-01-01'", dberr.Unsupported, "TIMESTAMP"},
		{"j = '{}'", dberr.Unsupported, "JSON"},
		{"CASE WHEN t THEN 1 END = 1", dberr.Unsupported, "CASE"},
		{"s = 1", dberr.TypeMismatch, "cannot compare column s"},
		{"i = 'x'", dberr.TypeMismatch, "not a valid INT"},
		{"dt = 3", dberr.TypeMismatch, "cannot compare column dt"},
		{"i LIKE 'a'", dberr.TypeMismatch, "needs a TEXT column"},
		{"nope = 1", dberr.ColumnNotFound, "nope"},
		{"i = $2", dberr.InvalidArgument, "$2"},
		{"i =", dberr.Unsupported, "incomplete"},
		{"i", dberr.TypeMismatch, "not BOOLEAN"},
		{"s LIKE 'a' ESCAPE 'ab'", dberr.InvalidArgument, "single character"},
		{"s SIMILAR TO 'a'", dberr.Unsupported, "SIMILAR"},
		{"x.i = 1", dberr.Unsupported, "X"},
	} {
		_, err := filter.Compile(c.where, refuseCols, []any{int64(1)})
		if err == nil {
			t.Errorf("%q: accepted", c.where)
			continue
		}
		if dberr.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.names) {
			t.Errorf("%q: got %v (%s), want code %s naming %q", c.where, err, dberr.CodeOf(err), c.code, c.names)
		}
	}
}

// TestEqualities: the index keys a filter exposes are exactly the values a
// matching row must hold, and only for top-level conjuncts.
func TestEqualities(t *testing.T) {
	for _, c := range []struct {
		where string
		want  string // column=values…; "" for none
	}{
		{"i = 3", "1=[3]"},
		{"3 = i AND s = 'a'", "1=[3] 6=[\"a\"]"},
		{"s IN ('a', 'b')", "6=[\"a\" \"b\"]"},
		{"s IN ('a', NULL)", ""},
		{"i = 3 OR s = 'a'", ""},
		{"NOT i = 3", ""},
		{"i = 1.5", ""},
		{"d = 1", ""}, // floats: -0 = +0, so no identity index
		{"t", "7=[true]"},
		{"(i = 2 AND t) AND s > 'a'", "1=[2] 7=[true]"},
	} {
		f, err := filter.Compile(c.where, diffCols, nil)
		if err != nil {
			t.Fatalf("%q: %v", c.where, err)
		}
		var parts []string
		for _, e := range f.Equalities() {
			parts = append(parts, strings.TrimSpace(strings.Join([]string{itoa(e.Column), "=", valuesString(e.Values)}, "")))
		}
		if got := strings.Join(parts, " "); got != c.want {
			t.Errorf("%q: equalities %q, want %q", c.where, got, c.want)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func valuesString(vs []row.Value) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}
