package sqlparse

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Parse splits sql into statements (see Split) and parses each. It returns
// all statements or the first error, a *dberr.Error: SyntaxError with the
// Line and Col in sql of the offending token, PermissionDenied for
// statements Floe never runs, Unsupported for valid SQL Floe does not run,
// InvalidOption for a broken table definition rule. Text with no
// statement gives no statements and no error.
//
// Every text Parse returns (Text, queries, expressions) scans to the same
// tokens on its own or embedded in other SQL as in sql. To that end a
// statement may hold Unicode space characters such as U+00A0 only inside
// strings, quoted identifiers and comments (see checkUnicodeSpaces).
//
// sql must be valid UTF-8 without NUL bytes: DuckDB receives queries as C
// strings and would silently drop everything after a NUL.
//
// Parse is a pure function of sql and safe for concurrent use.
func Parse(sql string) ([]Statement, error) {
	if err := checkEncoding(sql); err != nil {
		return nil, err
	}
	toks, err := Lex(sql)
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, r := range splitTokens(toks) {
		st, err := parseStatement(sql, toks[r[0]:r[1]:r[1]])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// checkEncoding fails if sql is not valid UTF-8 or holds a NUL byte.
func checkEncoding(sql string) error {
	for i, r := range sql {
		var msg string
		switch {
		case r == 0:
			msg = "the text holds a NUL character, which is not allowed"
		case r == utf8.RuneError && !strings.HasPrefix(sql[i:], "\uFFFD"):
			msg = "the text is not valid UTF-8"
		default:
			continue
		}
		line, col := dberr.Position(sql, i)
		return dberr.At(line, col, "%s", msg)
	}
	return nil
}

// parseFunc parses a statement from its first token on; it consumes the
// whole statement or fails.
type parseFunc func(p *parser) (Statement, error)

// parser parses one statement.
type parser struct {
	src  string  // the text given to Parse; token offsets index it
	toks []Token // the statement's tokens, ending with an EOF token
	i    int     // index of the next token; never past the EOF token
}

// parseStatement parses the tokens of one statement (non-empty, no ';').
func parseStatement(src string, toks []Token) (Statement, error) {
	first, last := toks[0], toks[len(toks)-1]
	p := &parser{src: src, toks: append(toks, Token{Kind: EOF, Pos: last.End, End: last.End})}
	if err := p.checkUnicodeSpaces(); err != nil {
		return nil, err
	}
	st, err := statementParser(first)(p)
	if err != nil {
		return nil, err
	}
	*st.stmt() = span{text: src[first.Pos:last.End], offset: first.Pos}
	return st, nil
}

// statementParser is the dispatch table from a statement's first token to
// its parser. To add a statement, add its first keyword here; statements
// sharing a first keyword dispatch again on the next (see parseCreate).
func statementParser(first Token) parseFunc {
	if isOp(first, "(") {
		return parseSelect
	}
	if first.Kind != Ident {
		return unknownStatement
	}
	switch upperASCII(first.Text) {
	case "SELECT", "WITH", "VALUES", "FROM", "TABLE":
		return parseSelect
	case "EXPLAIN":
		return parseExplain
	case "CREATE":
		return parseCreate
	case "DROP":
		return parseDrop
	case "ALTER":
		return parseAlter
	case "INSERT":
		return parseInsert
	case "UPDATE":
		return parseUpdate
	case "DELETE":
		return parseDelete
	case "SHOW":
		return parseShow
	case "DESCRIBE", "DESC":
		return parseDescribe
	case "USE":
		return parseUse
	case "FLUSH":
		return parseFlush
	case "COMPACT":
		return parseCompact
	case "SUBSCRIBE":
		return parseSubscribe
	case "KILL":
		return parseKill

	case "ATTACH", "DETACH", "COPY", "EXPORT", "IMPORT", "CHECKPOINT", "VACUUM":
		return refuse(1, reasonStorage)
	case "PRAGMA", "SET", "RESET":
		return refuse(1, "Floe manages the engine's settings")
	case "INSTALL", "UNINSTALL", "LOAD":
		return refuse(1, reasonExtensions)
	case "FORCE":
		return parseForce
	case "CALL":
		return refuse(1, "Floe does not run engine procedures")
	case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE":
		return unsupported("transactions are not supported; each statement commits on its own")
	case "TRUNCATE":
		return unsupported("TRUNCATE is not supported; use DELETE FROM table")
	case "MERGE":
		return unsupported("MERGE is not supported; use INSERT … ON CONFLICT")
	case "EXECUTE":
		return parseExecute
	case "PREPARE", "DEALLOCATE":
		return unsupported("prepared statements are not supported; use the API's statement parameters")
	case "SUMMARIZE", "PIVOT", "UNPIVOT", "COMMENT", "GRANT", "REVOKE":
		return unsupportedWord
	}
	return unknownStatement
}

// Reasons for refusing statements.
const (
	reasonStorage    = "Floe manages storage itself"
	reasonCatalog    = "Floe manages the catalog itself"
	reasonExtensions = "Floe does not load extensions"
)

// refuse returns a parser that refuses a statement, naming its first n
// words, with PermissionDenied.
func refuse(n int, reason string) parseFunc {
	return func(p *parser) (Statement, error) {
		words := make([]string, 0, n)
		for k := range n {
			words = append(words, upperASCII(p.peekAt(k).Text))
		}
		return nil, dberr.New(dberr.PermissionDenied, "%s is not allowed: %s", strings.Join(words, " "), reason)
	}
}

// unsupported returns a parser that fails with Unsupported and msg.
func unsupported(msg string) parseFunc {
	return func(*parser) (Statement, error) {
		return nil, dberr.New(dberr.Unsupported, "%s", msg)
	}
}

func unsupportedWord(p *parser) (Statement, error) {
	return nil, dberr.New(dberr.Unsupported, "%s is not supported", upperASCII(p.peek().Text))
}

func unknownStatement(p *parser) (Statement, error) {
	t := p.peek()
	if t.Kind == Ident {
		return nil, p.errAt(t.Pos, "unknown statement %s", quoteText(upperASCII(t.Text)))
	}
	return nil, p.errAt(t.Pos, "expected a statement, found %s", describe(t))
}

// parseForce handles FORCE INSTALL and FORCE CHECKPOINT.
func parseForce(p *parser) (Statement, error) {
	switch {
	case isKeyword(p.peekAt(1), "INSTALL"):
		return refuse(2, reasonExtensions)(p)
	case isKeyword(p.peekAt(1), "CHECKPOINT"):
		return refuse(2, reasonStorage)(p)
	}
	return unknownStatement(p)
}

// peek returns the next token (EOF at the end).
func (p *parser) peek() Token { return p.toks[p.i] }

// peekAt returns the token n after the next one, or EOF.
func (p *parser) peekAt(n int) Token {
	return p.toks[min(p.i+n, len(p.toks)-1)]
}

// next consumes and returns the next token; at the end it returns EOF and
// consumes nothing.
func (p *parser) next() Token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// isKeyword reports whether t is the unquoted word kw (upper case).
func isKeyword(t Token, kw string) bool {
	return t.Kind == Ident && strings.EqualFold(t.Text, kw)
}

func isOp(t Token, op string) bool { return t.Kind == Op && t.Text == op }

// accept consumes the keywords kws if the next tokens are all of them.
func (p *parser) accept(kws ...string) bool {
	for n, kw := range kws {
		if !isKeyword(p.peekAt(n), kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

// acceptOp consumes the operator op if it is next.
func (p *parser) acceptOp(op string) bool {
	if isOp(p.peek(), op) {
		p.next()
		return true
	}
	return false
}

// expect consumes the keywords kws or fails.
func (p *parser) expect(kws ...string) error {
	for _, kw := range kws {
		if !p.accept(kw) {
			return p.expected(kw)
		}
	}
	return nil
}

// expectOp consumes the operator op or fails.
func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.expected(`"` + op + `"`)
	}
	return nil
}

// expectEnd fails unless the statement is fully consumed.
func (p *parser) expectEnd() error {
	if p.peek().Kind != EOF {
		return p.expected("end of statement")
	}
	return nil
}

// errAt returns a syntax error at byte offset pos of the input.
func (p *parser) errAt(pos int, format string, args ...any) *dberr.Error {
	line, col := dberr.Position(p.src, pos)
	return dberr.At(line, col, format, args...)
}

// expected returns a syntax error at the next token saying what was
// expected there instead, e.g. `expected a column type after "age", found
// ","`.
func (p *parser) expected(what string) *dberr.Error {
	t := p.peek()
	if p.i > 0 {
		return p.errAt(t.Pos, "expected %s after %s, found %s", what, quoteText(p.toks[p.i-1].Text), describe(t))
	}
	return p.errAt(t.Pos, "expected %s, found %s", what, describe(t))
}

// describe names a token for messages.
func describe(t Token) string {
	if t.Kind == EOF {
		return "end of statement"
	}
	return quoteText(t.Text)
}

// quoteText quotes source text for a message, shortened to 40 runes;
// text with quotes, backslashes or unprintable characters is quoted as a
// Go string.
func quoteText(s string) string {
	const maxRunes = 40
	if utf8.RuneCountInString(s) > maxRunes {
		n := 0
		for i := range s {
			if n == maxRunes {
				s = s[:i] + "…"
				break
			}
			n++
		}
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return `"` + s + `"`
}

// ident consumes a name: a quoted identifier, or an unquoted one that is
// not a reserved word. what says what the name is ("a table name").
func (p *parser) ident(what string) (string, error) {
	t := p.peek()
	switch t.Kind {
	case QuotedIdent:
		p.next()
		return t.Ident(), nil
	case Ident:
		w := t.Ident()
		if !isReservedWord(w) {
			p.next()
			return w, nil
		}
		err := p.expected(what)
		err.Msg += "; " + quoteText(w) + " is a reserved word: write it in double quotes to use it as a name"
		return "", err
	}
	return "", p.expected(what)
}

// name consumes a table name: name or namespace.name.
func (p *parser) name() (Name, error) {
	first, err := p.ident("a table name")
	if err != nil {
		return Name{}, err
	}
	if !p.acceptOp(".") {
		return Name{Name: first}, nil
	}
	second, err := p.ident("a table name")
	if err != nil {
		return Name{}, err
	}
	if t := p.peek(); isOp(t, ".") {
		return Name{}, p.errAt(t.Pos, "a table name has at most two parts, namespace.table")
	}
	return Name{Namespace: first, Name: second}, nil
}

// identList consumes "(a, b, …)": at least one name, all distinct.
func (p *parser) identList(what string) ([]string, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []string
	seen := make(map[string]bool)
	for {
		t := p.peek()
		name, err := p.ident(what)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, p.errAt(t.Pos, "column %s is listed twice", quoteText(name))
		}
		seen[name] = true
		out = append(out, name)
		if p.acceptOp(")") {
			return out, nil
		}
		if !isOp(p.peek(), ",") {
			return nil, p.expected(`"," or ")"`)
		}
		p.next()
	}
}
