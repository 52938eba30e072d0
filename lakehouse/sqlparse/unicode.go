package sqlparse

import (
	"strings"
	"unicode/utf8"
)

// unicodeSpaces returns the Unicode space characters of sql that DuckDB
// replaces with ASCII spaces before it scans a query, as a map from byte
// offset to length, or nil if there are none.
//
// DuckDB (Parser::StripUnicodeSpaces, checked against DuckDB 1.5) does this
// in a pre-pass with its own, rougher idea of strings and comments: it
// skips '…' and "…" with doubled quotes (no E'…' escapes), $tag$…$tag$
// quotes whose tag starts with a letter, '_' or a byte ≥ 0x80, and --
// comments, but not /* … */ comments, and it never looks at the last two
// bytes. The
// scanner then sees a space wherever the pre-pass replaced one, even where
// it disagrees with the pre-pass about what is quoted. So a Unicode space
// is whitespace to DuckDB at exactly these offsets: this function mirrors
// the pre-pass byte for byte, quirks included, and Lex treats the offsets
// it returns as whitespace. Getting this wrong would let a query that Floe
// sees as one SELECT run as several statements in DuckDB.
//
// The characters are U+00A0, U+2000 to U+200B, U+202F, U+205F, U+2060,
// U+3000 and U+FEFF.
func unicodeSpaces(sql string) map[int]int {
	hasLead := false
	for i := 0; i < len(sql) && !hasLead; i++ {
		switch sql[i] {
		case 0xC2, 0xE2, 0xE3, 0xEF:
			hasLead = true
		}
	}
	if !hasLead {
		return nil
	}
	q, n := sql, len(sql)
	var out map[int]int
	add := func(pos, size int) {
		if out == nil {
			out = make(map[int]int)
		}
		out[pos] = size
	}
	tagFirst := func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c >= 0x80 }
	tagNext := func(c byte) bool { return tagFirst(c) || c >= '0' && c <= '9' }

	const (
		regular = iota
		inQuotes
		inDollarQuotes
		inComment
	)
	state, pos := regular, 0
	var quote byte
	var tag string
	for {
		switch state {
		case regular:
			next := regular
		scan:
			for ; pos+2 < n; pos++ {
				c := q[pos]
				if c == 0xC2 && q[pos+1] == 0xA0 {
					add(pos, 2)
				}
				switch {
				case c == 0xE2:
					switch {
					case q[pos+1] == 0x80 && (q[pos+2] >= 0x80 && q[pos+2] <= 0x8B || q[pos+2] == 0xAF):
						add(pos, 3)
					case q[pos+1] == 0x81 && (q[pos+2] == 0x9F || q[pos+2] == 0xA0):
						add(pos, 3)
					}
				case c == 0xE3:
					if q[pos+1] == 0x80 && q[pos+2] == 0x80 {
						add(pos, 3)
					}
				case c == 0xEF:
					if q[pos+1] == 0xBB && q[pos+2] == 0xBF {
						add(pos, 3)
					}
				case c == '"' || c == '\'':
					quote = c
					pos++
					next = inQuotes
					break scan
				case c == '$' && (q[pos+1] == '$' || tagFirst(q[pos+1])):
					pos++
					start := pos
					for ; pos+2 < n; pos++ {
						if q[pos] == '$' {
							tag = q[start:pos]
							next = inDollarQuotes
							break scan
						}
						if !tagNext(q[pos]) {
							// Not a tag: scan on from this byte, unskipped.
							pos--
							continue scan
						}
					}
					return out
				case c == '-' && q[pos+1] == '-':
					next = inComment
					break scan
				}
			}
			if next == regular {
				return out
			}
			state = next
		case inQuotes:
			state = -1
			for ; pos+1 < n; pos++ {
				if q[pos] == quote {
					if q[pos+1] == quote {
						pos++
						continue
					}
					pos++
					state = regular
					break
				}
			}
			if state != regular {
				return out
			}
		case inDollarQuotes:
			state = -1
			for ; pos+2 < n; pos++ {
				if q[pos] == '$' && n-(pos+1) >= len(tag)+1 && q[pos+len(tag)+1] == '$' && q[pos+1:pos+1+len(tag)] == tag {
					pos += len(tag) + 1
					state = regular
					break
				}
			}
			if state != regular {
				return out
			}
		case inComment:
			state = -1
			for ; pos < n; pos++ {
				if q[pos] == '\n' || q[pos] == '\r' {
					state = regular
					break
				}
			}
			if state != regular {
				return out
			}
		}
	}
}

// checkUnicodeSpaces fails if the statement holds a Unicode space character
// (one that DuckDB may turn into an ASCII space, see unicodeSpaces) outside
// the content of a string, quoted identifier or comment: between tokens,
// inside an identifier, in a dollar-quote tag or between the parts of a
// continued string.
//
// Whether DuckDB replaces such a character depends on the text before it,
// so the statement's text could scan differently once it is cut out of the
// script or embedded in other SQL: a query Floe sees as one SELECT could
// then hold a second statement. Inside content and comments a replacement
// changes no token boundary, so the texts Parse hands out scan the same in
// every context.
func (p *parser) checkUnicodeSpaces() error {
	toks := p.toks[:len(p.toks)-1]
	first, last := toks[0], toks[len(toks)-1]
	if !hasUnicodeSpaceLead(p.src[first.Pos:last.End]) {
		return nil
	}
	at := -1
	for k, t := range toks {
		if k > 0 {
			if at = spaceOutsideComments(p.src, toks[k-1].End, t.Pos); at >= 0 {
				break
			}
		}
		switch t.Kind {
		case QuotedIdent:
		case String:
			if i := stringUnicodeSpace(t.Text); i >= 0 {
				at = t.Pos + i
			}
		default:
			if i := spaceOutsideComments(t.Text, 0, len(t.Text)); i >= 0 {
				at = t.Pos + i
			}
		}
		if at >= 0 {
			break
		}
	}
	if at < 0 {
		return nil
	}
	r, _ := utf8.DecodeRuneInString(p.src[at:])
	return p.errAt(at, "Unicode space character U+%04X is not allowed outside strings, quoted identifiers and comments; use an ASCII space", r)
}

// hasUnicodeSpaceLead reports whether s has a byte that starts a Unicode
// space character.
func hasUnicodeSpaceLead(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0xC2, 0xE2, 0xE3, 0xEF:
			return true
		}
	}
	return false
}

// spaceOutsideComments returns the offset of the first Unicode space
// character in s[lo:hi] that is not inside a comment, or -1.
func spaceOutsideComments(s string, lo, hi int) int {
	usp := anyUnicodeSpaceIn(s[:hi])
	for i := lo; i < hi; {
		switch {
		case s[i] == '-' && i+1 < hi && s[i+1] == '-':
			i = lineEnd(s[:hi], i)
		case s[i] == '/' && i+1 < hi && s[i+1] == '*':
			end, ok := blockCommentEnd(s[:hi], i)
			if !ok {
				return -1
			}
			i = end
		case usp(i) > 0:
			return i
		default:
			i++
		}
	}
	return -1
}

// stringUnicodeSpace returns the offset in the text of a String token of
// the first Unicode space character that is not content: in a dollar-quote
// tag or between the parts of a continued literal. It returns -1 if there
// is none.
func stringUnicodeSpace(text string) int {
	if text[0] == '$' {
		n := strings.IndexByte(text[1:], '$') + 2
		return spaceOutsideComments(text, 0, max(n, 1))
	}
	esc := text[0] == 'e' || text[0] == 'E'
	i := strings.IndexByte(text, '\'') + 1
	for i < len(text) {
		switch c := text[i]; {
		case esc && c == '\\':
			i += 2
		case c == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i += 2
		case c == '\'':
			k, ok := quoteContinue(text, i+1, anyUnicodeSpaceIn(text))
			if !ok {
				return -1
			}
			if at := spaceOutsideComments(text, i+1, k); at >= 0 {
				return at
			}
			i = k + 1
		default:
			i++
		}
	}
	return -1
}
