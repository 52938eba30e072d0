package filter

import (
	"strings"
	"unicode/utf8"
)

// likeMatcher matches strings against a LIKE pattern: % any run of
// characters, _ one character, the escape character (if any) makes the
// next character literal. With fold (ILIKE) both sides are lower-cased
// first.
type likeMatcher struct {
	// parts alternate with % wildcards: the pattern is
	// parts[0] % parts[1] % … % parts[n-1]; each part is a sequence of
	// pattern runes where anyRune (_ ) matches one character.
	parts [][]likeRune
	fold  bool
}

type likeRune struct {
	r   rune
	any bool // _
}

func compileLike(pattern string, escape rune, fold bool) (*likeMatcher, error) {
	if fold {
		pattern = strings.ToLower(pattern)
	}
	m := &likeMatcher{fold: fold}
	cur := []likeRune{}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case escape >= 0 && r == escape:
			if i+1 >= len(rs) {
				return nil, errLikeEscape(pattern)
			}
			i++
			cur = append(cur, likeRune{r: rs[i]})
		case r == '%':
			m.parts = append(m.parts, cur)
			cur = []likeRune{}
		case r == '_':
			cur = append(cur, likeRune{any: true})
		default:
			cur = append(cur, likeRune{r: r})
		}
	}
	m.parts = append(m.parts, cur)
	return m, nil
}

// match reports whether s matches: the first part anchors at the start,
// the last at the end, the middle parts match greedily leftmost (which is
// correct for % wildcards between them).
func (m *likeMatcher) match(s string) bool {
	if m.fold {
		s = strings.ToLower(s)
	}
	rs := []rune(s)
	if !utf8.ValidString(s) {
		rs = []rune(string([]byte(s)))
	}
	first := m.parts[0]
	if len(m.parts) == 1 {
		return len(rs) == len(first) && partAt(first, rs, 0)
	}
	if len(rs) < len(first) || !partAt(first, rs, 0) {
		return false
	}
	pos := len(first)
	last := m.parts[len(m.parts)-1]
	end := len(rs) - len(last)
	if end < pos || !partAt(last, rs, end) {
		return false
	}
	for _, p := range m.parts[1 : len(m.parts)-1] {
		found := false
		for k := pos; k+len(p) <= end; k++ {
			if partAt(p, rs, k) {
				pos, found = k+len(p), true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func partAt(p []likeRune, rs []rune, at int) bool {
	for j, lr := range p {
		if !lr.any && rs[at+j] != lr.r {
			return false
		}
	}
	return true
}
