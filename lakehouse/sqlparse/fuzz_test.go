package sqlparse

import (
	"errors"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// seeds returns every statement text of the table tests.
func seeds() []string {
	var out []string
	for _, cs := range [][]parseCase{ddlCases(), dmlCases(), queryCases(), viewCases()} {
		for _, c := range cs {
			out = append(out, c.sql)
		}
	}
	for _, c := range append(errCases(), viewErrCases()...) {
		out = append(out, c.sql)
	}
	for _, c := range lexCases() {
		out = append(out, c.sql)
	}
	for _, c := range splitCases() {
		out = append(out, c.sql)
	}
	return out
}

// checkError checks that err is a *dberr.Error with a position exactly
// when it is a syntax error.
func checkError(t *testing.T, err error) {
	t.Helper()
	var e *dberr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *dberr.Error", err, err)
	}
	if (e.Code == dberr.SyntaxError) != (e.Line > 0 && e.Col > 0) {
		t.Fatalf("error %v: position does not match code", e)
	}
	if e.Msg == "" {
		t.Fatalf("error %v has no message", e)
	}
}

// FuzzParse checks that Parse never panics, fails only with *dberr.Error,
// returns statements whose Text is the input at their Offset, and leaves
// a query's text unchanged unless it rewrote time travel.
func FuzzParse(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		sts, err := Parse(sql)
		if err != nil {
			checkError(t, err)
			return
		}
		pieces, err := Split(sql)
		if err != nil || len(pieces) != len(sts) {
			t.Fatalf("Parse gave %d statements, Split %d pieces (%v)", len(sts), len(pieces), err)
		}
		for i, st := range sts {
			text, off := st.Text(), st.Offset()
			if text == "" || off < 0 || off+len(text) > len(sql) || sql[off:off+len(text)] != text {
				t.Fatalf("statement %d text %q is not the input at offset %d", i, text, off)
			}
			if pieces[i].Text != text || pieces[i].Offset != off {
				t.Fatalf("statement %d is %q at %d, piece %+v", i, text, off, pieces[i])
			}
			if !strings.Contains(sql, text) {
				t.Fatalf("statement text %q is not a substring of the input", text)
			}
			if sel, ok := st.(*Select); ok {
				rest := len(text) - (sel.QueryOffset - off)
				if sel.QueryOffset < off || rest <= 0 {
					t.Fatalf("query offset %d outside statement %q at %d", sel.QueryOffset, text, off)
				}
				src := sql[sel.QueryOffset : off+len(text)]
				if !sel.Explain && src != text {
					t.Fatalf("query source %q is not the statement %q", src, text)
				}
				if !containsFold(text, "of") && sel.Query != src {
					t.Fatalf("query %q changed without time travel (source %q)", sel.Query, src)
				}
			}
			checkPositions(t, sql, st)
			checkContextFree(t, sql, st)
		}
	})
}

// checkContextFree checks that a statement's text scans to the same tokens
// alone, and embedded in other SQL, as in the script: Floe hands these
// texts to DuckDB out of their script.
func checkContextFree(t *testing.T, sql string, st Statement) {
	t.Helper()
	all, err := Lex(sql)
	if err != nil {
		t.Fatalf("Lex of a parsed script: %v", err)
	}
	var want []string
	for _, tok := range all {
		if tok.Kind != EOF && tok.Pos >= st.Offset() && tok.End <= st.Offset()+len(st.Text()) {
			want = append(want, tok.Text)
		}
	}
	for _, wrap := range [][2]string{{"", ""}, {"SELECT 1;\n", "\n;SELECT 2"}, {"'x' ", " 'y'"}} {
		toks, err := Lex(wrap[0] + st.Text() + wrap[1])
		if err != nil {
			t.Fatalf("statement %q in %q: %v", st.Text(), wrap, err)
		}
		var got []string
		for _, tok := range toks {
			if tok.Kind != EOF && tok.Pos >= len(wrap[0]) && tok.End <= len(wrap[0])+len(st.Text()) {
				got = append(got, tok.Text)
			}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("statement %q scans differently in %q:\n got %q\nwant %q", st.Text(), wrap, got, want)
		}
	}
}

// FuzzLex checks that Lex never panics, fails only with positioned
// syntax errors, and returns tokens that tile the input (see
// checkTokens).
func FuzzLex(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		toks, err := Lex(sql)
		if err != nil {
			checkError(t, err)
			if dberr.CodeOf(err) != dberr.SyntaxError {
				t.Fatalf("Lex error %v is not a syntax error", err)
			}
			return
		}
		checkTokens(t, sql, toks)
	})
}
