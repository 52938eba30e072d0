package manifest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// tokenizer splits a JSON document into tokens like json.Decoder.Token
// (json.Delim, string, json.Number, bool, nil) but over a byte slice, with
// the offset where each token starts, and without the per-token costs of
// json.Decoder. It checks the full JSON grammar (RFC 8259).
type tokenizer struct {
	data  []byte
	pos   int
	stack []byte // open containers: '{' or '['
	state tokState
}

type tokState uint8

const (
	stValue      tokState = iota // a value is expected
	stFirstKey                   // after '{': a key or '}'
	stKey                        // after ',' in an object: a key
	stColon                      // after a key
	stObjectNext                 // after a member: ',' or '}'
	stFirstElem                  // after '[': a value or ']'
	stArrayNext                  // after an element: ',' or ']'
	stDone                       // the top-level value is complete
)

// syntaxError is a grammar violation at an offset.
type syntaxError struct {
	off int64
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func (t *tokenizer) fail(format string, args ...any) error {
	return &syntaxError{off: int64(t.pos), msg: fmt.Sprintf(format, args...)}
}

func (t *tokenizer) skipSpace() {
	for t.pos < len(t.data) {
		switch t.data[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

// next returns the next token and its offset. At the end of input it
// returns io.EOF if the document is complete, io.ErrUnexpectedEOF if not.
func (t *tokenizer) next() (json.Token, int64, error) {
	for {
		t.skipSpace()
		off := int64(t.pos)
		if t.pos >= len(t.data) {
			if t.state == stDone {
				return nil, off, io.EOF
			}
			return nil, off, io.ErrUnexpectedEOF
		}
		c := t.data[t.pos]
		switch t.state {
		case stDone:
			return nil, off, t.fail("invalid character %s after the top-level value", quoteByte(c))
		case stColon:
			if c != ':' {
				return nil, off, t.fail("invalid character %s after object key", quoteByte(c))
			}
			t.pos++
			t.state = stValue
			continue
		case stObjectNext, stArrayNext:
			closer := byte('}')
			if t.state == stArrayNext {
				closer = ']'
			}
			switch c {
			case ',':
				t.pos++
				if t.state == stObjectNext {
					t.state = stKey
				} else {
					t.state = stValue
				}
				continue
			case closer:
				t.pos++
				t.pop()
				return json.Delim(c), off, nil
			}
			if t.state == stObjectNext {
				return nil, off, t.fail("invalid character %s after object key:value pair", quoteByte(c))
			}
			return nil, off, t.fail("invalid character %s after array element", quoteByte(c))
		case stFirstKey, stKey:
			if c == '}' && t.state == stFirstKey {
				t.pos++
				t.pop()
				return json.Delim(c), off, nil
			}
			if c != '"' {
				return nil, off, t.fail("invalid character %s looking for beginning of object key string", quoteByte(c))
			}
			s, err := t.str()
			if err != nil {
				return nil, off, err
			}
			t.state = stColon
			return s, off, nil
		case stFirstElem:
			if c == ']' {
				t.pos++
				t.pop()
				return json.Delim(c), off, nil
			}
		}
		// A value.
		tok, err := t.value(c)
		return tok, off, err
	}
}

func (t *tokenizer) pop() {
	t.stack = t.stack[:len(t.stack)-1]
	t.afterValue()
}

func (t *tokenizer) afterValue() {
	switch {
	case len(t.stack) == 0:
		t.state = stDone
	case t.stack[len(t.stack)-1] == '{':
		t.state = stObjectNext
	default:
		t.state = stArrayNext
	}
}

func (t *tokenizer) value(c byte) (json.Token, error) {
	switch {
	case c == '{' || c == '[':
		t.pos++
		t.stack = append(t.stack, c)
		if c == '{' {
			t.state = stFirstKey
		} else {
			t.state = stFirstElem
		}
		return json.Delim(c), nil
	case c == '"':
		s, err := t.str()
		if err != nil {
			return nil, err
		}
		t.afterValue()
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := t.number()
		if err != nil {
			return nil, err
		}
		t.afterValue()
		return n, nil
	case c == 't':
		return t.literal("true", true)
	case c == 'f':
		return t.literal("false", false)
	case c == 'n':
		return t.literal("null", nil)
	}
	return nil, t.fail("invalid character %s looking for beginning of value", quoteByte(c))
}

func (t *tokenizer) literal(word string, v json.Token) (json.Token, error) {
	for i := 0; i < len(word); i++ {
		if t.pos >= len(t.data) {
			return nil, io.ErrUnexpectedEOF
		}
		if t.data[t.pos] != word[i] {
			return nil, t.fail("invalid character %s in literal %s", quoteByte(t.data[t.pos]), word)
		}
		t.pos++
	}
	t.afterValue()
	return v, nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. A number
// cut off by the end of input counts as complete if it is well formed, as
// in encoding/json; the document is then truncated elsewhere.
func (t *tokenizer) number() (json.Token, error) {
	start := t.pos
	d := t.data
	if d[t.pos] == '-' {
		t.pos++
	}
	digits := func() int {
		n := 0
		for t.pos < len(d) && d[t.pos] >= '0' && d[t.pos] <= '9' {
			t.pos++
			n++
		}
		return n
	}
	need := func(what string) error {
		if t.pos >= len(d) {
			return io.ErrUnexpectedEOF
		}
		return t.fail("invalid character %s in numeric literal (want %s)", quoteByte(d[t.pos]), what)
	}
	switch {
	case t.pos < len(d) && d[t.pos] == '0':
		t.pos++
	case digits() == 0:
		return nil, need("a digit")
	}
	if t.pos < len(d) && d[t.pos] == '.' {
		t.pos++
		if digits() == 0 {
			return nil, need("a digit after the decimal point")
		}
	}
	if t.pos < len(d) && (d[t.pos] == 'e' || d[t.pos] == 'E') {
		t.pos++
		if t.pos < len(d) && (d[t.pos] == '+' || d[t.pos] == '-') {
			t.pos++
		}
		if digits() == 0 {
			return nil, need("a digit in the exponent")
		}
	}
	return json.Number(d[start:t.pos]), nil
}

// str scans a string starting at the opening quote and returns its value.
// Invalid UTF-8 and lone surrogates become U+FFFD, as in encoding/json.
func (t *tokenizer) str() (string, error) {
	d := t.data
	t.pos++ // opening quote
	start := t.pos
	simple := true
	for t.pos < len(d) {
		c := d[t.pos]
		switch {
		case c == '"':
			s := d[start:t.pos]
			t.pos++
			if simple && utf8.Valid(s) {
				return string(s), nil
			}
			return unescape(s), nil
		case c == '\\':
			simple = false
			t.pos++
			if t.pos >= len(d) {
				return "", io.ErrUnexpectedEOF
			}
			switch d[t.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				t.pos++
			case 'u':
				t.pos++
				for range 4 {
					if t.pos >= len(d) {
						return "", io.ErrUnexpectedEOF
					}
					if !isHex(d[t.pos]) {
						return "", t.fail("invalid character %s in \\u hexadecimal character escape", quoteByte(d[t.pos]))
					}
					t.pos++
				}
			default:
				return "", t.fail("invalid character %s in string escape code", quoteByte(d[t.pos]))
			}
		case c < 0x20:
			return "", t.fail("invalid character %s in string literal", quoteByte(c))
		default:
			t.pos++
		}
	}
	return "", io.ErrUnexpectedEOF
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(s []byte) rune {
	var r rune
	for _, c := range s {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		default:
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// unescape decodes the body of a string already checked by str.
func unescape(s []byte) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			r, size := utf8.DecodeRune(s[i:])
			b.WriteRune(r) // utf8.RuneError for invalid bytes
			i += size
			continue
		}
		i++
		switch s[i] {
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
		case 'u':
			r := hexVal(s[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 := hexVal(s[i+3 : i+7])
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(s[i])
		}
		i++
	}
	return b.String()
}

func quoteByte(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	return fmt.Sprintf("%q", string(c))
}
