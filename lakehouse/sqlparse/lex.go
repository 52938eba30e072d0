package sqlparse

import (
	"strings"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/dberr"
)

// TokenKind is the class of a Token. The zero TokenKind is invalid, so a
// Token that was never set is never mistaken for an identifier.
type TokenKind uint8

// The token kinds.
const (
	// Ident is an unquoted identifier or keyword: a letter, '_' or any
	// byte ≥ 0x80, then letters, digits, '_', '$' and bytes ≥ 0x80.
	Ident TokenKind = iota + 1
	// QuotedIdent is a "double-quoted" identifier; "" inside is one quote.
	// It is never empty and never a keyword.
	QuotedIdent
	// String is a string literal: '…' (a doubled quote is one), E'…' (backslash
	// escapes), $$…$$ or $tag$…$tag$. Literals separated by whitespace
	// holding a newline are one token, as in PostgreSQL ('a'\n'b' is "ab").
	String
	// Number is a numeric literal: 12, 1_000, 1.5, .5, 1., 1e-3.
	Number
	// Param is a statement parameter: $1, ?, ?1 or $name.
	Param
	// Op is an operator or punctuation: ( ) , ; . :: => <> || etc. A run of
	// operator characters is one token, split as DuckDB splits it.
	Op
	// EOF ends every token list; its Text is empty.
	EOF
)

var tokenKindNames = [...]string{
	Ident:       "identifier",
	QuotedIdent: "quoted identifier",
	String:      "string",
	Number:      "number",
	Param:       "parameter",
	Op:          "operator",
	EOF:         "end of input",
}

// String returns a lower-case name of the kind for messages.
func (k TokenKind) String() string {
	if int(k) < len(tokenKindNames) && tokenKindNames[k] != "" {
		return tokenKindNames[k]
	}
	return "invalid token"
}

// Token is one lexical token. Text is always the exact source text, so
// Text == sql[Pos:End] for the sql given to Lex.
type Token struct {
	Kind TokenKind
	Text string
	// Pos and End are the byte offsets of the token's first byte and of
	// the byte after it.
	Pos, End int
}

// Ident returns the identifier the token names: an unquoted identifier
// folded to lower case (ASCII letters only, as DuckDB folds them), a quoted
// identifier without its quotes and with "" unescaped. For other kinds it
// returns Text.
func (t Token) Ident() string {
	switch t.Kind {
	case Ident:
		return lowerASCII(t.Text)
	case QuotedIdent:
		if len(t.Text) < 2 {
			return ""
		}
		return strings.ReplaceAll(t.Text[1:len(t.Text)-1], `""`, `"`)
	}
	return t.Text
}

// Value returns the value of a String token: the text between the quotes
// with doubled quotes unescaped, E'…' backslash escapes decoded (\n, \t, \xHH, \ooo,
// \uXXXX, …) and continued literals joined. Dollar-quoted text is returned
// as is. For other kinds it returns Text. Escapes may produce invalid UTF-8
// (E'\xff'), as in DuckDB. Unicode spaces inside the quotes are kept, even
// where DuckDB would turn them into ASCII spaces (see unicodeSpaces).
func (t Token) Value() string {
	if t.Kind != String || t.Text == "" {
		return t.Text
	}
	s := t.Text
	if s[0] == '$' {
		n := strings.IndexByte(s[1:], '$') + 2
		if n < 2 || 2*n > len(s) {
			return ""
		}
		return s[n : len(s)-n]
	}
	esc := false
	if s[0] == 'e' || s[0] == 'E' {
		esc, s = true, s[1:]
	}
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case esc && c == '\\' && i+1 < len(s):
			i = decodeEscape(&b, s, i)
		case c == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			k, ok := quoteContinue(s, i+1, anyUnicodeSpaceIn(s))
			if !ok {
				return b.String()
			}
			i = k + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// decodeEscape writes the escape starting with the backslash at s[i] and
// returns the offset after it. s[i+1] exists.
func decodeEscape(b *strings.Builder, s string, i int) int {
	c := s[i+1]
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v, j := 0, i+1
		for ; j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7'; j++ {
			v = v*8 + int(s[j]-'0')
		}
		b.WriteByte(byte(v))
		return j
	case 'x':
		v, j := 0, i+2
		for ; j < len(s) && j < i+4 && hexDigit(s[j]) >= 0; j++ {
			v = v*16 + hexDigit(s[j])
		}
		if j == i+2 {
			b.WriteByte('x')
		} else {
			b.WriteByte(byte(v))
		}
		return j
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		v, j := rune(0), i+2
		for ; j < len(s) && j < i+2+n && hexDigit(s[j]) >= 0; j++ {
			v = v*16 + rune(hexDigit(s[j]))
		}
		if j != i+2+n {
			b.WriteByte(c)
			return i + 2
		}
		if !utf8.ValidRune(v) {
			v = utf8.RuneError
		}
		b.WriteRune(v)
		return j
	default:
		b.WriteByte(c)
	}
	return i + 2
}

// anyUnicodeSpaceIn returns a function giving the length of the Unicode
// space character that DuckDB may replace (see unicodeSpaces) at s[i], or
// 0. Value uses it between the parts of a continued literal, where Lex has
// already decided that every such character was a space.
func anyUnicodeSpaceIn(s string) func(int) int {
	return func(i int) int {
		switch {
		case i+1 < len(s) && s[i] == 0xC2 && s[i+1] == 0xA0:
			return 2
		case i+2 >= len(s):
			return 0
		case s[i] == 0xE2 && s[i+1] == 0x80 && (s[i+2] >= 0x80 && s[i+2] <= 0x8B || s[i+2] == 0xAF),
			s[i] == 0xE2 && s[i+1] == 0x81 && (s[i+2] == 0x9F || s[i+2] == 0xA0),
			s[i] == 0xE3 && s[i+1] == 0x80 && s[i+2] == 0x80,
			s[i] == 0xEF && s[i+1] == 0xBB && s[i+2] == 0xBF:
			return 3
		}
		return 0
	}
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Lex splits sql into tokens, skipping whitespace and comments, and ends
// the list with an EOF token at len(sql). It follows DuckDB's scanner (the
// PostgreSQL one) so that Floe and DuckDB agree on where strings, quoted
// identifiers and comments end: -- comments run to the end of the line and
// /* … */ comments nest, as in DuckDB. Unicode spaces (U+00A0 and others)
// are whitespace exactly where DuckDB's pre-pass makes them spaces (see
// unicodeSpaces) and identifier bytes elsewhere.
//
// An unterminated string, quoted identifier or comment, or an empty quoted
// identifier, is a *dberr.Error with Code SyntaxError and the Line and Col
// of its start. Lex never fails otherwise: bytes that are no token of SQL
// become one-byte Op tokens for the parser to reject.
func Lex(sql string) ([]Token, error) {
	l := lexer{src: sql, usp: unicodeSpaces(sql)}
	var toks []Token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.Kind == EOF {
			return toks, nil
		}
	}
}

type lexer struct {
	src string
	i   int   // offset of the next byte to scan
	op  opRun // the operator run at or before i; see operatorLen
	// usp maps the offsets of the Unicode spaces DuckDB turns into ASCII
	// spaces to their lengths; see unicodeSpaces.
	usp map[int]int
}

// uspace returns the length of the Unicode space DuckDB sees as a space
// at offset i, or 0.
func (l *lexer) uspace(i int) int {
	if l.usp == nil {
		return 0
	}
	return l.usp[i]
}

func (l *lexer) errAt(pos int, msg string) error {
	line, col := dberr.Position(l.src, pos)
	return dberr.At(line, col, "%s", msg)
}

// at returns src[i], or 0 past the end.
func (l *lexer) at(i int) byte {
	if i < len(l.src) {
		return l.src[i]
	}
	return 0
}

func (l *lexer) tok(kind TokenKind, pos, end int) Token {
	l.i = end
	return Token{Kind: kind, Text: l.src[pos:end], Pos: pos, End: end}
}

func (l *lexer) next() (Token, error) {
	if err := l.skipSpace(); err != nil {
		return Token{}, err
	}
	s, i := l.src, l.i
	if i >= len(s) {
		return l.tok(EOF, len(s), len(s)), nil
	}
	c, c1 := s[i], l.at(i+1)
	switch {
	case c == '\'':
		return l.quoted(i, i, false)
	case (c == 'e' || c == 'E') && c1 == '\'':
		return l.quoted(i, i+1, true)
	case c == '"':
		return l.quotedIdent(i)
	case c == '$':
		return l.dollar(i)
	case c == '?':
		end := i + 1
		if isDigit(c1) {
			end = scanInteger(s, i+1)
		}
		return l.tok(Param, i, end), nil
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentCont(s[j]) && l.uspace(j) == 0 {
			j++
		}
		return l.tok(Ident, i, j), nil
	case isDigit(c) || (c == '.' && isDigit(c1)):
		return l.tok(Number, i, scanNumber(s, i)), nil
	case c == '.' && c1 == '.', c == ':' && (c1 == ':' || c1 == '='):
		return l.tok(Op, i, i+2), nil
	case isOpChar(c):
		return l.tok(Op, i, i+l.operatorLen(i)), nil
	}
	return l.tok(Op, i, i+1), nil
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() error {
	s := l.src
	for l.i < len(s) {
		switch c := s[l.i]; {
		case isSpace(c):
			l.i++
		case l.uspace(l.i) > 0:
			l.i += l.uspace(l.i)
		case c == '-' && l.at(l.i+1) == '-':
			l.i = lineEnd(s, l.i)
		case c == '/' && l.at(l.i+1) == '*':
			end, ok := blockCommentEnd(s, l.i)
			if !ok {
				return l.errAt(l.i, "unterminated /* comment")
			}
			l.i = end
		default:
			return nil
		}
	}
	return nil
}

// lineEnd returns the offset of the first \n or \r at or after i, or
// len(s).
func lineEnd(s string, i int) int {
	if j := strings.IndexAny(s[i:], "\n\r"); j >= 0 {
		return i + j
	}
	return len(s)
}

// blockCommentEnd returns the offset after the comment that starts with
// "/*" at s[i]. Comments nest, as in DuckDB and PostgreSQL.
func blockCommentEnd(s string, i int) (int, bool) {
	depth := 0
	for j := i + 2; j+1 < len(s); {
		switch {
		case s[j] == '*' && s[j+1] == '/':
			if depth == 0 {
				return j + 2, true
			}
			depth--
			j += 2
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		default:
			j++
		}
	}
	return 0, false
}

// quoted scans a '…' literal whose opening quote is s[q] (pos is the token
// start: q-1 for E'…'). With esc, a backslash escapes the next byte.
func (l *lexer) quoted(pos, q int, esc bool) (Token, error) {
	s := l.src
	for j := q + 1; j < len(s); {
		switch s[j] {
		case '\\':
			if esc {
				j += 2
				continue
			}
		case '\'':
			if l.at(j+1) == '\'' {
				j += 2
				continue
			}
			k, ok := quoteContinue(s, j+1, l.uspace)
			if !ok {
				return l.tok(String, pos, j+1), nil
			}
			j = k + 1
			continue
		}
		j++
	}
	return Token{}, l.errAt(pos, "unterminated quoted string")
}

// quoteContinue reports whether a string literal that ended just before
// s[i] continues: whitespace (and -- comments) holding at least one newline,
// then a quote, whose offset it returns. This is PostgreSQL's
// {quotecontinue}. usp gives the length of a Unicode space at an offset
// (see unicodeSpaces), which counts as a blank.
func quoteContinue(s string, i int, usp func(int) int) (int, bool) {
	for i < len(s) {
		if c := s[i]; c == ' ' || c == '\t' || c == '\f' {
			i++
		} else if n := usp(i); n > 0 {
			i += n
		} else if c == '-' && i+1 < len(s) && s[i+1] == '-' {
			i = lineEnd(s, i)
		} else {
			break
		}
	}
	if i >= len(s) || (s[i] != '\n' && s[i] != '\r') {
		return 0, false
	}
	for i++; i < len(s); {
		if isSpace(s[i]) {
			i++
		} else if n := usp(i); n > 0 {
			i += n
		} else if s[i] == '-' && i+1 < len(s) && s[i+1] == '-' {
			i = lineEnd(s, i)
			if i == len(s) {
				return 0, false
			}
		} else {
			break
		}
	}
	if i < len(s) && s[i] == '\'' {
		return i, true
	}
	return 0, false
}

func (l *lexer) quotedIdent(pos int) (Token, error) {
	s := l.src
	for j := pos + 1; j < len(s); j++ {
		if s[j] != '"' {
			continue
		}
		if l.at(j+1) == '"' {
			j++
			continue
		}
		if j == pos+1 {
			return Token{}, l.errAt(pos, `zero-length quoted identifier ""`)
		}
		return l.tok(QuotedIdent, pos, j+1), nil
	}
	return Token{}, l.errAt(pos, "unterminated quoted identifier")
}

// dollar scans what starts with '$': a parameter ($1, $name), a
// dollar-quoted string ($$…$$, $tag$…$tag$) or a lone '$'.
func (l *lexer) dollar(pos int) (Token, error) {
	s := l.src
	c1 := l.at(pos + 1)
	if isDigit(c1) {
		return l.tok(Param, pos, scanInteger(s, pos+1)), nil
	}
	j := pos + 1
	if isIdentStart(c1) && l.uspace(j) == 0 {
		for j++; j < len(s) && (isIdentStart(s[j]) || isDigit(s[j])) && l.uspace(j) == 0; j++ {
		}
	}
	if l.at(j) != '$' {
		if j == pos+1 {
			return l.tok(Op, pos, pos+1), nil
		}
		return l.tok(Param, pos, j), nil
	}
	tag := s[pos : j+1]
	k := strings.Index(s[j+1:], tag)
	if k < 0 {
		return Token{}, l.errAt(pos, "unterminated dollar-quoted string")
	}
	return l.tok(String, pos, j+1+k+len(tag)), nil
}

// scanInteger returns the end of the integer starting with the digit s[i]:
// digits, each optionally preceded by one '_'.
func scanInteger(s string, i int) int {
	for i++; i < len(s); i++ {
		if s[i] == '_' && i+1 < len(s) && isDigit(s[i+1]) {
			i++
		} else if !isDigit(s[i]) {
			break
		}
	}
	return i
}

// scanNumber returns the end of the numeric literal starting at s[i] (a
// digit, or '.' before a digit). "1..2" is 1, .., 2 and "1e" is 1, e.
func scanNumber(s string, i int) int {
	j := i
	if isDigit(s[j]) {
		j = scanInteger(s, j)
		if j < len(s) && s[j] == '.' && !(j+1 < len(s) && s[j+1] == '.') {
			j++
			if j < len(s) && isDigit(s[j]) {
				j = scanInteger(s, j)
			}
		}
	} else {
		j = scanInteger(s, j+1)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			j = scanInteger(s, k)
		}
	}
	return j
}

// operatorLen returns the length of the operator at s[i], an operator
// character that starts no comment. Like DuckDB it takes the longest run
// of operator characters, cut before an embedded comment start, and drops
// trailing + and - unless the operator holds a character that no
// SQL-standard operator has (so "=-1" is =, -, 1 but "@-1" is @-, 1).
//
// The run's properties are cached, so that a long run split into many
// tokens is scanned once: every later token of the run starts inside it
// and has the same run end and comment cut.
func (l *lexer) operatorLen(i int) int {
	s := l.src
	if i >= l.op.end {
		end := i + 1
		for end < len(s) && isOpChar(s[end]) {
			end++
		}
		for k := i + 1; k+1 < end; k++ {
			if (s[k] == '/' && s[k+1] == '*') || (s[k] == '-' && s[k+1] == '-') {
				end = k
				break
			}
		}
		l.op = opRun{end: end, lastSpecial: -1, lastKept: -1}
		for k := i; k < end; k++ {
			if strings.IndexByte("~!@^&|`?%", s[k]) >= 0 {
				l.op.lastSpecial = k
			}
			if s[k] != '+' && s[k] != '-' {
				l.op.lastKept = k
			}
		}
	}
	switch {
	case l.op.lastSpecial >= i:
		return l.op.end - i
	case l.op.lastKept >= i:
		return l.op.lastKept - i + 1
	}
	return 1
}

// opRun describes the run of operator characters being lexed, up to a
// comment start: its end and the offsets of its last character of
// ~!@^&|`?% and of its last character other than + and - (-1 if none).
type opRun struct {
	end, lastSpecial, lastKept int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

func isOpChar(c byte) bool { return strings.IndexByte("~!@^&|`+-*/%<>=", c) >= 0 }

// lowerASCII folds ASCII letters to lower case and leaves other bytes.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// upperASCII folds ASCII letters to upper case and leaves other bytes.
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
