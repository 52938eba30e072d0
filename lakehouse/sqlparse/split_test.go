package sqlparse

import (
	"errors"
	"reflect"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

type splitCase struct {
	name string
	sql  string
	want []Piece
}

func splitCases() []splitCase {
	return []splitCase{
		{"empty", "", nil},
		{"only separators and comments", " ; ;-- x;\n/* ; */ ;", nil},
		{"one without semicolon", "SELECT 1", []Piece{{"SELECT 1", 0}}},
		{"two", "SELECT 1; SELECT 2;", []Piece{{"SELECT 1", 0}, {"SELECT 2", 10}}},
		{"comments around are dropped", "-- lead\n/* c */ SELECT /* in */ 1 -- trail\n;", []Piece{{"SELECT /* in */ 1", 16}}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 'c'';d'", []Piece{{"SELECT 'a;b'", 0}, {"SELECT 'c'';d'", 14}}},
		{"semicolon in escape string", `SELECT E'\';'; SELECT 2`, []Piece{{`SELECT E'\';'`, 0}, {"SELECT 2", 15}}},
		{"semicolon in dollar quotes", "SELECT $$;$$; SELECT $f$ ; $$ ; $f$", []Piece{{"SELECT $$;$$", 0}, {"SELECT $f$ ; $$ ; $f$", 14}}},
		{"semicolon in quoted identifier", `SELECT 1 AS "a;b"; SELECT 2`, []Piece{{`SELECT 1 AS "a;b"`, 0}, {"SELECT 2", 19}}},
		{"semicolon in comments", "SELECT 1 -- ;\n + 1 /* ; /* ; */ ; */; SELECT 2", []Piece{{"SELECT 1 -- ;\n + 1", 0}, {"SELECT 2", 38}}},
		{"semicolon in parentheses still splits", "SELECT (1; 2)", []Piece{{"SELECT (1", 0}, {"2)", 11}}},
		{"unicode space before escape string", "SELECT \u00a0E'\\' || '; SELECT 42; --'", []Piece{{"SELECT \u00a0E'\\' || '", 0}, {"SELECT 42", 20}}},
		{"multi-line", "CREATE TABLE t (\n  a INT\n);\nINSERT INTO t VALUES (1);\n", []Piece{{"CREATE TABLE t (\n  a INT\n)", 0}, {"INSERT INTO t VALUES (1)", 28}}},
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range splitCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.sql)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Split(%q)\n got %+v\nwant %+v", tc.sql, got, tc.want)
			}
			for _, p := range got {
				if tc.sql[p.Offset:p.Offset+len(p.Text)] != p.Text {
					t.Errorf("piece %+v is not at its offset", p)
				}
			}
		})
	}
}

func TestSplitError(t *testing.T) {
	_, err := Split("SELECT 1;\nSELECT 'x")
	var e *dberr.Error
	if !errors.As(err, &e) || e.Code != dberr.SyntaxError || e.Line != 2 || e.Col != 8 {
		t.Fatalf("Split error = %v, want a syntax error at line 2, column 8", err)
	}
}
