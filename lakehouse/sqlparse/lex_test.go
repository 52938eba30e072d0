package sqlparse

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// tk is a token's kind and text, for compact expectations.
type tk struct {
	kind TokenKind
	text string
}

func (t tk) String() string { return fmt.Sprintf("%s %q", t.kind, t.text) }

type lexCase struct {
	name string
	sql  string
	want []tk // without the EOF token
}

func lexCases() []lexCase {
	id := func(s string) tk { return tk{Ident, s} }
	op := func(s string) tk { return tk{Op, s} }
	num := func(s string) tk { return tk{Number, s} }
	str := func(s string) tk { return tk{String, s} }
	par := func(s string) tk { return tk{Param, s} }
	return []lexCase{
		{"empty", "", nil},
		{"blank", " \t\r\n\f", nil},
		{"identifiers", "SELECT a_1, _b, c$d, Äb FROM t", []tk{id("SELECT"), id("a_1"), op(","), id("_b"), op(","), id("c$d"), op(","), id("Äb"), id("FROM"), id("t")}},
		{"quoted identifier", `"My ""Table""".x`, []tk{{QuotedIdent, `"My ""Table"""`}, op("."), id("x")}},
		{"quoted identifier with newline", "\"a\nb\"", []tk{{QuotedIdent, "\"a\nb\""}}},
		{"string", `'it''s' 'a\'`, []tk{str(`'it''s'`), str(`'a\'`)}},
		{"escape string", `E'it\'s\\' e'x'`, []tk{str(`E'it\'s\\'`), str(`e'x'`)}},
		{"not an escape string", `fe'x'`, []tk{id("fe"), str(`'x'`)}},
		{"dollar quotes", `$$a;'b$$ $tag$x$$y$ta$tag$`, []tk{str(`$$a;'b$$`), str(`$tag$x$$y$ta$tag$`)}},
		{"dollar quote with digits in tag", `$a1$ $a $a1$`, []tk{str(`$a1$ $a $a1$`)}},
		{"continued string", "'a' -- c'\n  'b' 'c'", []tk{str("'a' -- c'\n  'b'"), str("'c'")}},
		{"continued escape string", "E'a\\n'\n'\\t'", []tk{str("E'a\\n'\n'\\t'")}},
		{"string not continued without newline", "'a' /* x */\n'b'", []tk{str("'a'"), str("'b'")}},
		{"params", "$1 ? ?2 $name $1_0 $", []tk{par("$1"), par("?"), par("?2"), par("$name"), par("$1_0"), op("$")}},
		{"numbers", "1 1.5 .5 1. 1e3 1.5E-3 1_000 1e 1..2 1abc 0x1F", []tk{
			num("1"), num("1.5"), num(".5"), num("1."), num("1e3"), num("1.5E-3"), num("1_000"),
			num("1"), id("e"), num("1"), op(".."), num("2"), num("1"), id("abc"), num("0"), id("x1F")}},
		{"underscore not between digits", "1_ 1__0", []tk{num("1"), id("_"), num("1"), id("__0")}},
		{"punctuation", "( ) , ; . [ ] { } : :: := => <> != <= >= || ->> -> ** //", []tk{
			op("("), op(")"), op(","), op(";"), op("."), op("["), op("]"), op("{"), op("}"), op(":"),
			op("::"), op(":="), op("=>"), op("<>"), op("!="), op("<="), op(">="), op("||"), op("->>"), op("->"), op("**"), op("//")}},
		{"trailing minus split off", "a=-1 b<-2 c!=-3 d@-4", []tk{
			id("a"), op("="), op("-"), num("1"), id("b"), op("<"), op("-"), num("2"),
			id("c"), op("!=-"), num("3"), id("d"), op("@-"), num("4")}},
		{"operator stops at comment", "2 +/* c */3 //*c*/ 4 <--x\n5", []tk{num("2"), op("+"), num("3"), op("/"), num("4"), op("<"), num("5")}},
		{"line comments", "a -- x ; 'y\r\nb--", []tk{id("a"), id("b")}},
		{"nested block comments", "a /* x /* y */ ; */ b /*/ c */ d", []tk{id("a"), id("b"), id("d")}},
		{"other bytes", "# \\ \x00 \v", []tk{op("#"), op("\\"), op("\x00"), op("\v")}},
		{"typecast", "'1'::INT", []tk{str("'1'"), op("::"), id("INT")}},
		{"unicode spaces", "SELECT\u00a01\u3000AS\u200bx\u2060,\ufeffy\u202f\u205f\u2000z ", []tk{id("SELECT"), num("1"), id("AS"), id("x"), op(","), id("y"), id("z")}},
		{"other unicode is an identifier byte", "a\u200cb c\u00a0", []tk{id("a\u200cb"), id("c\u00a0")}},
		{"unicode space after a quote in a block comment", "/* ' */ a\u00a0b -- '\n", []tk{id("a\u00a0b")}},
		{"unicode space after a dollar tag", "$a\u00a0b c", []tk{par("$a\u00a0b"), id("c")}},
		{"unicode space continues a string", "'a'\u00a0\n\u3000'b'", []tk{str("'a'\u00a0\n\u3000'b'")}},
		{"unicode space before escape string", "x \u00a0E'\\' || '; y; --'", []tk{id("x"), str("E'\\' || '"), op(";"), id("y"), op(";")}},
	}
}

func TestLex(t *testing.T) {
	for _, tc := range lexCases() {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := Lex(tc.sql)
			if err != nil {
				t.Fatalf("Lex: %v", err)
			}
			checkTokens(t, tc.sql, toks)
			var got []tk
			for _, tok := range toks[:len(toks)-1] {
				got = append(got, tk{tok.Kind, tok.Text})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("tokens\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// checkTokens checks the invariants of a Lex result: Text is the source
// slice, tokens are ordered and non-empty, only whitespace and comments
// lie between them, the list ends with EOF at len(sql), and each token
// lexes alone to itself.
func checkTokens(t *testing.T, sql string, toks []Token) {
	t.Helper()
	if len(toks) == 0 {
		t.Fatal("no tokens")
	}
	if eof := toks[len(toks)-1]; eof.Kind != EOF || eof.Pos != len(sql) || eof.End != len(sql) || eof.Text != "" {
		t.Fatalf("last token is %+v, want EOF at %d", eof, len(sql))
	}
	prev := 0
	for i, tok := range toks[:len(toks)-1] {
		if tok.Kind < Ident || tok.Kind >= EOF {
			t.Fatalf("token %d %+v: bad kind", i, tok)
		}
		if tok.Pos < prev || tok.End <= tok.Pos || tok.End > len(sql) || sql[tok.Pos:tok.End] != tok.Text {
			t.Fatalf("token %d %+v: bad position (previous end %d)", i, tok, prev)
		}
		// Whether DuckDB treats a Unicode space as a space depends on the
		// text before it, so pieces holding one are not lexed alone.
		if gap := sql[prev:tok.Pos]; !hasUnicodeSpaceLead(gap) {
			if toks, err := Lex(gap); err != nil || len(toks) != 1 {
				t.Fatalf("gap %q before token %d is not whitespace and comments: %v %v", gap, i, toks, err)
			}
		}
		if !hasUnicodeSpaceLead(tok.Text) {
			alone, err := Lex(tok.Text)
			if err != nil || len(alone) != 2 || alone[0].Kind != tok.Kind || alone[0].Text != tok.Text {
				t.Fatalf("token %d %+v lexes alone to %+v, %v", i, tok, alone, err)
			}
		}
		_, _ = tok.Ident(), tok.Value()
		prev = tok.End
	}
}

func TestTokenIdent(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"Foo", "foo"},
		{"ÄBC", "Äbc"},
		{`"Foo"`, "Foo"},
		{`"a""b"`, `a"b`},
		{`"select"`, "select"},
		{"'x'", "'x'"},
	} {
		toks, err := Lex(tc.sql)
		if err != nil {
			t.Fatalf("Lex(%q): %v", tc.sql, err)
		}
		if got := toks[0].Ident(); got != tc.want {
			t.Errorf("Ident of %q = %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestTokenValue(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{`'abc'`, "abc"},
		{`''`, ""},
		{`'it''s'`, "it's"},
		{`'a\n'`, `a\n`},
		{`E'a\nb\tc\\d\'e'`, "a\nb\tc\\d'e"},
		{`E'\x41\x4a\101\u00e9\U0001F600\q\x'`, "AJAé😀qx"},
		{`E'\uZZ'`, "uZZ"},
		{`E'it''s'`, "it's"},
		{`$$a'b$$`, "a'b"},
		{`$t$a$$b$t$`, "a$$b"},
		{"'a' -- it's\n'b'", "ab"},
		{"E'a\\n'\n\n'\\t'", "a\n\t"},
	} {
		toks, err := Lex(tc.sql)
		if err != nil {
			t.Fatalf("Lex(%q): %v", tc.sql, err)
		}
		if toks[0].Kind != String || len(toks) != 2 {
			t.Fatalf("Lex(%q) = %v, want one string", tc.sql, toks)
		}
		if got := toks[0].Value(); got != tc.want {
			t.Errorf("Value of %q = %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestLexErrors(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		line, col int
		msg       string
	}{
		{"string", "SELECT 'abc", 1, 8, "unterminated quoted string"},
		{"string ending in doubled quote", "SELECT 'abc''", 1, 8, "unterminated quoted string"},
		{"escape string ending in escaped quote", `SELECT E'abc\'`, 1, 8, "unterminated quoted string"},
		{"escape string ending in backslash", `SELECT E'abc\`, 1, 8, "unterminated quoted string"},
		{"quoted identifier", "SELECT 1;\nSELECT \"a", 2, 8, "unterminated quoted identifier"},
		{"empty quoted identifier", `SELECT 1 AS ""`, 1, 13, "zero-length quoted identifier"},
		{"dollar quote", "SELECT\n  $x$abc$y$", 2, 3, "unterminated dollar-quoted string"},
		{"comment", "SELECT 1 /* x", 1, 10, "unterminated /* comment"},
		{"nested comment", "/* a /* b */ SELECT 1", 1, 1, "unterminated /* comment"},
		{"column counts runes", "SELECT 'ä', 'ö", 1, 13, "unterminated quoted string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lex(tc.sql)
			var e *dberr.Error
			if !errors.As(err, &e) {
				t.Fatalf("Lex error = %v, want a *dberr.Error", err)
			}
			if e.Code != dberr.SyntaxError || e.Line != tc.line || e.Col != tc.col || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Lex error = %v, want SYNTAX_ERROR %q at line %d, column %d", e, tc.msg, tc.line, tc.col)
			}
		})
	}
}
