package sqlexec

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/sqlparse"
)

func TestParsePointShape(t *testing.T) {
	tok := func(kind sqlparse.TokenKind, text string) sqlparse.Token {
		return sqlparse.Token{Kind: kind, Text: text}
	}
	for _, tc := range []struct {
		sql  string
		want *pointShape // nil: not a point read
	}{
		{"SELECT * FROM t WHERE id = 1", &pointShape{Table: "t", Star: true, Preds: []pointPred{{Column: "id", Value: tok(sqlparse.Number, "1")}}}},
		{`select a, "B" from ns."T" where k = -5 and "j" = 'x''y' limit 3;`, &pointShape{Namespace: "ns", Table: "T", Columns: []string{"a", "B"},
			Preds: []pointPred{{Column: "k", Sign: "-", Value: tok(sqlparse.Number, "5")}, {Column: "j", Value: tok(sqlparse.String, "'x''y'")}}, Limit: 3}},
		{"SELECT v FROM t WHERE id = $1 AND x = NULL", &pointShape{Table: "t", Columns: []string{"v"},
			Preds: []pointPred{{Column: "id", Value: tok(sqlparse.Param, "$1")}, {Column: "x", Value: tok(sqlparse.Ident, "NULL")}}}},
		{"SELECT * FROM t WHERE id = 1 OR 1 = 1", nil},
		{"SELECT * FROM t WHERE id = 1 AND", nil},
		{"SELECT * FROM t WHERE id = - 'x'", nil},
		{"SELECT * FROM t WHERE id = 1 LIMIT 0", nil},
		{"SELECT * FROM t WHERE id = 1 LIMIT 1.5", nil},
		{"SELECT * FROM t WHERE id = 1 LIMIT 1 OFFSET 1", nil},
		{"SELECT * FROM t WHERE id = 1; SELECT 1", nil},
		{"SELECT *, v FROM t WHERE id = 1", nil},
		{"SELECT V FROM t WHERE id = 1", nil},
		{"SELECT v FROM select WHERE id = 1", nil},
		{"SELECT v FROM a.b.c WHERE id = 1", nil},
		{"SELECT v FROM t AS x WHERE id = 1", nil},
		{"SELECT v FROM t WHERE t.id = 1", nil},
		{"SELECT v FROM t WHERE id = 1::INT", nil},
		{"SELECT v FROM t WHERE id = 'unterminated", nil},
		{"", nil},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			got, ok := parsePointShape(tc.sql)
			if tc.want == nil {
				if ok {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if !ok {
				t.Fatal("declined")
			}
			for i := range got.Preds {
				got.Preds[i].Value.Pos, got.Preds[i].Value.End = 0, 0
			}
			if !reflect.DeepEqual(got, *tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, *tc.want)
			}
		})
	}
}

// FuzzPointShape: parsePointShape never panics, and a shape it accepts is
// consistent with the text: every value token is the text at its
// position, and the shape rendered back to SQL parses to the same shape.
func FuzzPointShape(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t WHERE id = 1",
		`select a, "B" from ns."T" where k = -5 and "j" = 'x''y' limit 3;`,
		"SELECT v FROM t WHERE id = $1 AND x = NULL",
		"SELECT v FROM t WHERE id = +1.5e3 AND s = E'\\n' AND d = $$x$$",
		"SELECT * FROM t WHERE id = 1 OR 1 = 1",
		"SELECT v FROM t /* c */ WHERE id = ?1 -- x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		shape, ok := parsePointShape(sql)
		if !ok {
			return
		}
		if shape.Table == "" || len(shape.Preds) == 0 || shape.Star != (len(shape.Columns) == 0) || shape.Limit < 0 {
			t.Fatalf("inconsistent shape %+v", shape)
		}
		var b strings.Builder
		b.WriteString("SELECT ")
		if shape.Star {
			b.WriteString("*")
		}
		for i, c := range shape.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(sqlparse.QuoteIdent(c))
		}
		b.WriteString(" FROM ")
		if shape.Namespace != "" {
			b.WriteString(sqlparse.QuoteIdent(shape.Namespace) + ".")
		}
		b.WriteString(sqlparse.QuoteIdent(shape.Table) + " WHERE ")
		for i, p := range shape.Preds {
			v := p.Value
			if v.Pos < 0 || v.End > len(sql) || sql[v.Pos:v.End] != v.Text {
				t.Fatalf("pred %d: token %+v is not the text at its position", i, v)
			}
			if i > 0 {
				b.WriteString(" AND ")
			}
			fmt.Fprintf(&b, "%s = %s%s", sqlparse.QuoteIdent(p.Column), p.Sign, v.Text)
		}
		if shape.Limit > 0 {
			fmt.Fprintf(&b, " LIMIT %d", shape.Limit)
		}
		again, ok := parsePointShape(b.String())
		if !ok {
			t.Fatalf("%q was accepted as %+v but its rendering %q is not", sql, shape, b.String())
		}
		for _, s := range []*pointShape{&shape, &again} {
			for i := range s.Preds {
				s.Preds[i].Value.Pos, s.Preds[i].Value.End = 0, 0
			}
		}
		if !reflect.DeepEqual(shape, again) {
			t.Fatalf("%q: shape %+v, rendered %q: %+v", sql, shape, b.String(), again)
		}
	})
}
