package sqlbind

import (
	"fmt"
	"sort"
	"strings"
)

// edit replaces query[start:end] with text.
type edit struct {
	start, end int
	text       string
	// For the edit of a table name: repl is the resolver's replacement,
	// at byte replOff of text and, once applied, at byte newRepl of the
	// rewritten query, where DuckDB must report a table reference with
	// alias alias. repl is "" for the removal of an AT clause.
	repl    string
	replOff int
	newRepl int
	alias   string
	// trusted is the Replacement's trusted query for repl, if any.
	trusted string
	// inner are the replacements of an inlined query, their positions
	// relative to newRepl (the start of the edit's text), and
	// innerTrusted its trusted queries.
	inner        []replAt
	innerTrusted []trustedAt
}

// wrapPrefix starts the subquery that replaces a table read at a
// parameter version: `t AT (VERSION => $1)` becomes
// `(SELECT * FROM "__floe_3" WHERE $1 IS NULL OR TRUE) AS "t"`, so that
// the rewritten query still uses $1 and the arguments keep their numbers
// (duckdb-go binds arguments by position: a query using $2 but not $1
// cannot be run). No ? lies between a table name and its AT clause, so
// moving a ? there keeps the order of ? parameters.
const wrapPrefix = "(SELECT * FROM "

// rewriteRef returns the edits that replace the reference r, which DuckDB
// reports at r.Location, by repl, and remove its AT clause. It refuses
// when the text there is not the name DuckDB parsed.
func rewriteRef(query string, r foundRef, repl string) ([]edit, error) {
	parts, end, ok := scanName(query, r.Location, false)
	if !ok || !namesMatch(parts, r.TableRef) {
		return nil, unsafeRewrite("the text at byte %d is not the table name %s", r.Location, r.qualified())
	}
	name := edit{start: r.Location, end: end, text: repl, repl: repl, alias: r.Alias}
	edits := []edit{name}
	if r.AtVersion != nil {
		atStart, atEnd, param, err := findAt(query, end, r.Alias)
		if err != nil {
			return nil, unsafeRewrite("%v after table %s at byte %d", err, r.qualified(), r.Location)
		}
		if (param != "") != (r.AtVersion.Param > 0) {
			return nil, unsafeRewrite("the AT clause of table %s at byte %d does not match its parse", r.qualified(), r.Location)
		}
		if param != "" {
			name.text = wrapPrefix + repl + " WHERE " + param + " IS NULL OR TRUE)"
			name.replOff = len(wrapPrefix)
			name.alias = ""
		}
		if atStart > 0 && isBlank(query[atStart-1]) && (atEnd == len(query) || isBlank(query[atEnd]) || strings.IndexByte(",);", query[atEnd]) >= 0) {
			atStart-- // drop one blank with the clause
		}
		edits = append(edits, edit{start: atStart, end: atEnd})
	}
	if r.Alias == "" && !afterTableKeyword(query, r.Location) {
		name.text += " AS " + quoteIdent(r.Name)
		if name.replOff == 0 {
			name.alias = r.Name
		}
	}
	edits[0] = name
	return edits, nil
}

// inlineRef returns the edit that replaces the reference r by the query
// sub in parentheses, aliased as the reference was (or by its name). The
// query is put on lines of its own, so that a trailing comment in it
// cannot swallow the closing parenthesis.
func inlineRef(query string, r foundRef, sub *Bound) ([]edit, error) {
	parts, end, ok := scanName(query, r.Location, false)
	if !ok || !namesMatch(parts, r.TableRef) {
		return nil, unsafeRewrite("the text at byte %d is not the table name %s", r.Location, r.qualified())
	}
	if r.Bare || r.AtVersion != nil || sub.Params > 0 {
		return nil, unsafeRewrite("the query for %s at byte %d cannot be inlined there", r.qualified(), r.Location)
	}
	const open = "(\n"
	text := open + sub.checkedSQL() + "\n)"
	if r.Alias == "" {
		text += " AS " + quoteIdent(r.Name)
	}
	inner := make([]replAt, len(sub.repls))
	for i, in := range sub.repls {
		in.pos += len(open)
		inner[i] = in
	}
	innerTrusted := make([]trustedAt, len(sub.trusted))
	for i, in := range sub.trusted {
		in.pos += len(open)
		innerTrusted[i] = in
	}
	return []edit{{start: r.Location, end: end, text: text, inner: inner, innerTrusted: innerTrusted}}, nil
}

// afterTableKeyword reports whether the name at s[i] follows the keyword
// TABLE (the statement TABLE t, which takes no alias and cannot name
// columns).
func afterTableKeyword(s string, i int) bool { return afterKeyword(s, i, "TABLE") }

// afterKeyword reports whether the name at s[i] follows the keyword kw
// (blanks between them).
func afterKeyword(s string, i int, kw string) bool {
	for i > 0 && isBlank(s[i-1]) {
		i--
	}
	if i < len(kw) || !asciiEqualFold(s[i-len(kw):i], kw) {
		return false
	}
	return i == len(kw) || !identCont(s[i-len(kw)-1]) && s[i-len(kw)-1] != '"'
}

func isBlank(c byte) bool { return strings.IndexByte(" \t\n\r\f\v", c) >= 0 }

// apply sorts edits, sets their newRepl and returns the rewritten query.
func apply(query string, edits []edit) (string, error) {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b strings.Builder
	pos := 0
	for i := range edits {
		e := &edits[i]
		if e.start < pos {
			return "", unsafeRewrite("overlapping table references at byte %d", e.start)
		}
		b.WriteString(query[pos:e.start])
		e.newRepl = b.Len() + e.replOff
		b.WriteString(e.text)
		pos = e.end
	}
	b.WriteString(query[pos:])
	return b.String(), nil
}

// namesMatch reports whether the name parts scanned from the text are
// the reference's catalog, schema and name (ASCII case-insensitively).
func namesMatch(parts []string, r TableRef) bool {
	var want []string
	switch {
	case r.Catalog != "":
		want = []string{r.Catalog, r.Schema, r.Name}
	case r.Schema != "":
		want = []string{r.Schema, r.Name}
	default:
		want = []string{r.Name}
	}
	if len(parts) != len(want) {
		return false
	}
	for i := range parts {
		if !asciiEqualFold(parts[i], want[i]) {
			return false
		}
	}
	return true
}

// checkReplacement accepts one to three identifiers joined by dots, with
// nothing else: a replacement cannot add SQL of its own.
func checkReplacement(repl string) error {
	if _, end, ok := scanName(repl, 0, true); !ok || end != len(repl) {
		return fmt.Errorf("sqlbind: resolver returned %q, which is not a table name", repl)
	}
	return nil
}

// checkTrusted accepts a trusted query (Replacement.Trusted) only when,
// put in parentheses anywhere, it is one term that cannot change how the
// text around it is read: every 'string' and "identifier" is closed,
// parentheses balance and never close below the first level, and there
// are no comments, no statement separators and no parameters ($, ?)
// outside quotes. A string may not follow a letter directly (E'…', X'…'
// read escapes), nor may a $ appear outside quotes ($$…$$ quotes).
func checkTrusted(text string) error {
	depth := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\'', '"':
			if c == '\'' && i > 0 && identCont(text[i-1]) {
				return fmt.Errorf("sqlbind: trusted query: a prefixed string at byte %d", i)
			}
			j := i + 1
			for ; j < len(text); j++ {
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(text) {
				return fmt.Errorf("sqlbind: trusted query: an unclosed quote at byte %d", i)
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("sqlbind: trusted query: an unbalanced ) at byte %d", i)
			}
		case ';', '?', '$':
			return fmt.Errorf("sqlbind: trusted query: %q at byte %d", c, i)
		case '-', '/':
			if strings.HasPrefix(text[i:], "--") || strings.HasPrefix(text[i:], "/*") {
				return fmt.Errorf("sqlbind: trusted query: a comment at byte %d", i)
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("sqlbind: trusted query: %d unclosed (", depth)
	}
	return nil
}

// scanName scans a table name at s[i:]: one to three identifiers, each
// unquoted or "quoted" ("" escapes a quote), joined by dots with optional
// space and comments around them (a . b). Outside strict mode a single
// 'string' is a name too (DuckDB's FROM 'file.csv'). It returns the
// unquoted parts and the end of the last one.
func scanName(s string, i int, strict bool) (parts []string, end int, ok bool) {
	for {
		part, j, ok := scanIdent(s, i, !strict && len(parts) == 0)
		if !ok {
			return nil, 0, false
		}
		parts, end = append(parts, part), j
		if len(parts) == 3 || (!strict && s[i] == '\'') {
			return parts, end, true
		}
		k := j
		if !strict {
			k = skipSpace(s, j)
		}
		if k >= len(s) || s[k] != '.' {
			return parts, end, true
		}
		i = k + 1
		if !strict {
			i = skipSpace(s, i)
		}
	}
}

// scanIdent scans an identifier at s[i:]: unquoted, "double-quoted", or,
// when str is set, a 'single-quoted' string.
func scanIdent(s string, i int, str bool) (val string, end int, ok bool) {
	if i >= len(s) {
		return "", 0, false
	}
	switch c := s[i]; {
	case c == '"' || (c == '\'' && str):
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] != c {
				b.WriteByte(s[j])
				continue
			}
			if j+1 < len(s) && s[j+1] == c {
				b.WriteByte(c)
				j++
				continue
			}
			return b.String(), j + 1, true
		}
		return "", 0, false
	case identStart(c):
		j := i + 1
		for j < len(s) && identCont(s[j]) {
			j++
		}
		return s[i:j], j, true
	}
	return "", 0, false
}

// identStart and identCont are DuckDB's (PostgreSQL's) lexer classes:
// every byte of a multi-byte UTF-8 character is an identifier byte.
func identStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= 0x80
}

func identCont(c byte) bool { return identStart(c) || ('0' <= c && c <= '9') || c == '$' }

// skipSpace skips white space and comments (-- to the end of the line,
// /* … */ nested) from s[i:].
func skipSpace(s string, i int) int {
	for i < len(s) {
		switch {
		case isBlank(s[i]):
			i++
		case strings.HasPrefix(s[i:], "--"):
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return len(s)
			}
			i += nl + 1
		case strings.HasPrefix(s[i:], "/*"):
			depth := 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		default:
			return i
		}
	}
	return i
}

// keyword reports whether s[i:] starts with the keyword kw (ASCII
// case-insensitive) followed by a non-identifier byte.
func keyword(s string, i int, kw string) bool {
	return len(s)-i >= len(kw) && asciiEqualFold(s[i:i+len(kw)], kw) &&
		(i+len(kw) == len(s) || !identCont(s[i+len(kw)]))
}

// findAt finds the AT ( … ) clause that follows a table name ending at
// s[i]: [AS] alias [(columns)] AT ( … ). It returns the clause's span and
// its parameter token ($n or ?), "" for a constant.
func findAt(s string, i int, alias string) (start, end int, param string, err error) {
	j := skipSpace(s, i)
	if alias != "" {
		if keyword(s, j, "AS") {
			j = skipSpace(s, j+2)
		}
		a, k, ok := scanIdent(s, j, false)
		if !ok || !asciiEqualFold(a, alias) {
			return 0, 0, "", fmt.Errorf("alias %s not found", alias)
		}
		j = skipSpace(s, k)
		if j < len(s) && s[j] == '(' {
			if k, ok = skipParens(s, j); !ok {
				return 0, 0, "", fmt.Errorf("unbalanced column aliases")
			}
			j = skipSpace(s, k)
		}
	}
	if !keyword(s, j, "AT") {
		return 0, 0, "", fmt.Errorf("AT clause not found")
	}
	start = j
	j = skipSpace(s, j+2)
	if j >= len(s) || s[j] != '(' {
		return 0, 0, "", fmt.Errorf("AT clause not found")
	}
	end, ok := skipParens(s, j)
	if !ok {
		return 0, 0, "", fmt.Errorf("unbalanced AT clause")
	}
	for k := j + 1; k < end-1; {
		k = skipSpace(s, k)
		switch {
		case k >= end-1:
		case s[k] == '?' || (s[k] == '$' && k+1 < end && '0' <= s[k+1] && s[k+1] <= '9'):
			t := k + 1
			for s[k] == '$' && t < end && '0' <= s[t] && s[t] <= '9' {
				t++
			}
			if param != "" {
				return 0, 0, "", fmt.Errorf("two parameters in the AT clause")
			}
			param, k = s[k:t], t
		case s[k] == '\'' || s[k] == '"':
			return 0, 0, "", fmt.Errorf("a string in the AT clause")
		default:
			k++
		}
	}
	return start, end, param, nil
}

// skipParens returns the end of the parenthesised text starting at
// s[i] == '(', skipping strings, quoted names and comments.
func skipParens(s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '(':
			depth++
			i++
		case ')':
			depth--
			i++
			if depth == 0 {
				return i, true
			}
		case '\'', '"':
			_, j, ok := scanIdent(s, i, true)
			if !ok {
				return 0, false
			}
			i = j
		default:
			if j := skipSpace(s, i); j > i {
				i = j
			} else {
				i++
			}
		}
	}
	return 0, false
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
