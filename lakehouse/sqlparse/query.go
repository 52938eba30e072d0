package sqlparse

import (
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
)

// parseSelect parses a statement that is a query.
func parseSelect(p *parser) (Statement, error) {
	st := &Select{QueryOffset: p.peek().Pos}
	var err error
	st.Query, err = p.query(len(p.toks) - 1)
	return st, err
}

// parseExplain parses EXPLAIN [ANALYZE] query.
func parseExplain(p *parser) (Statement, error) {
	p.next() // EXPLAIN
	st := &Select{Explain: true}
	st.Analyze = p.accept("ANALYZE") || p.accept("ANALYSE")
	t := p.peek()
	if !isQueryStart(p.toks, p.i) {
		switch {
		case t.Kind == EOF:
			return nil, p.expected("a query")
		case isOp(t, "("):
			return nil, dberr.New(dberr.Unsupported, "EXPLAIN options are not supported")
		}
		return nil, dberr.New(dberr.Unsupported, "EXPLAIN supports only queries")
	}
	st.QueryOffset = t.Pos
	var err error
	st.Query, err = p.query(len(p.toks) - 1)
	return st, err
}

// isQueryStart reports whether toks[i] starts a query: after any number
// of '(', SELECT, WITH, FROM, TABLE or VALUES (.
func isQueryStart(toks []Token, i int) bool {
	for i < len(toks) && isOp(toks[i], "(") {
		i++
	}
	if i >= len(toks) {
		return false
	}
	if isKeyword(toks[i], "VALUES") {
		return i+1 < len(toks) && isOp(toks[i+1], "(")
	}
	return isQueryKeyword(toks[i])
}

func isQueryKeyword(t Token) bool {
	return isKeyword(t, "SELECT") || isKeyword(t, "WITH") || isKeyword(t, "FROM") ||
		isKeyword(t, "TABLE") || isKeyword(t, "VALUES")
}

// query consumes the query in tokens [p.i, end), checks it and returns its
// text with time travel rewritten.
func (p *parser) query(end int) (string, error) {
	start := p.i
	if err := p.checkQuery(start, end); err != nil {
		return "", err
	}
	text, err := p.rewriteTimeTravel(start, end)
	if err != nil {
		return "", err
	}
	p.i = end
	return text, nil
}

// checkQuery checks what the parser guarantees of a query in tokens
// [start, end): brackets balance; after any leading '(' it starts with a
// query keyword; and a WITH clause is followed by a query, not by INSERT,
// UPDATE or DELETE, which DuckDB would run.
func (p *parser) checkQuery(start, end int) error {
	var b brackets
	for j := start; j < end; j++ {
		if err := b.step(p, p.toks[j]); err != nil {
			return err
		}
	}
	if err := b.closed(p, p.toks[end]); err != nil {
		return err
	}
	return p.checkQueryHead(start, end)
}

// checkQueryHead checks that tokens [j, end) start, after any '(', with a
// query keyword, and that a WITH clause there is followed by a query.
func (p *parser) checkQueryHead(j, end int) error {
	for j < end && isOp(p.toks[j], "(") {
		j++
	}
	if !isQueryKeyword(p.toks[j]) {
		return p.expectedAt(j, "a query")
	}
	if !isKeyword(p.toks[j], "WITH") {
		return nil
	}
	m, err := p.withMain(j+1, end)
	if err != nil {
		return err
	}
	if t := p.toks[m]; t.Kind == Ident && !isQueryKeyword(t) {
		return dberr.New(dberr.Unsupported, "a WITH clause may only precede a query, not %s", upperASCII(t.Text))
	}
	return p.checkQueryHead(m, end)
}

// withMain skips the WITH queries starting at toks[j] (after WITH) and
// returns the index of the main statement's first token. Brackets in
// [j, end) balance.
//
//	[RECURSIVE] name [(col, …)] [USING KEY (col, …)] AS [NOT] [MATERIALIZED] (query) [, …]
func (p *parser) withMain(j, end int) (int, error) {
	at := func(k int) Token { return p.toks[min(k, end)] }
	skipGroup := func(k int) int { // k is at '('; returns the index after ')'
		if m := matchingClose(p.toks[:end], k); m >= 0 {
			return m + 1
		}
		return end
	}
	if isKeyword(at(j), "RECURSIVE") {
		j++
	}
	for {
		if !isNameToken(at(j)) {
			return 0, p.expectedAt(min(j, end), "a name for the WITH query")
		}
		j++
		if isOp(at(j), "(") {
			j = skipGroup(j)
		}
		if isKeyword(at(j), "USING") && isKeyword(at(j+1), "KEY") && isOp(at(j+2), "(") {
			j = skipGroup(j + 2)
		}
		if !isKeyword(at(j), "AS") {
			return 0, p.expectedAt(min(j, end), "AS")
		}
		j++
		if isKeyword(at(j), "NOT") {
			j++
		}
		if isKeyword(at(j), "MATERIALIZED") {
			j++
		}
		if !isOp(at(j), "(") {
			return 0, p.expectedAt(min(j, end), `"("`)
		}
		j = skipGroup(j)
		if !isOp(at(j), ",") {
			return min(j, end), nil
		}
		j++
	}
}

// expectedAt is expected for the token at index k.
func (p *parser) expectedAt(k int, what string) error {
	save := p.i
	p.i = k
	err := p.expected(what)
	p.i = save
	return err
}

// isNameToken reports whether t can be a table name or alias: a quoted
// identifier or an unquoted one that is not a reserved word.
func isNameToken(t Token) bool {
	return t.Kind == QuotedIdent || t.Kind == Ident && !isReservedWord(t.Ident())
}

// isVersion reports whether t can be the n of AS OF VERSION n: an integer
// literal or a parameter.
func isVersion(t Token) bool {
	if t.Kind == Param {
		return true
	}
	return t.Kind == Number && strings.Trim(t.Text, "0123456789_") == ""
}

// rewriteTimeTravel returns the source text of tokens [lo, hi) with each
// "t AS OF VERSION n [[AS] alias [(cols)]]" rewritten to DuckDB's
// "t [[AS] alias [(cols)]] AT (VERSION => n)" (DuckDB wants the alias
// before AT). Text between the version and the alias is dropped; all other
// text is kept byte for byte. AS OF VERSION must follow a table name, and
// AS OF TIMESTAMP is refused.
func (p *parser) rewriteTimeTravel(lo, hi int) (string, error) {
	if lo >= hi {
		return "", nil
	}
	toks := p.toks
	var b strings.Builder
	cur, end := toks[lo].Pos, toks[hi-1].End
	for j := lo; j+2 < hi; j++ {
		if !isKeyword(toks[j], "AS") || !isKeyword(toks[j+1], "OF") {
			continue
		}
		what := toks[j+2]
		if !isKeyword(what, "VERSION") && !isKeyword(what, "TIMESTAMP") {
			continue
		}
		if j == lo || !isNameToken(toks[j-1]) {
			return "", p.errAt(toks[j].Pos, "AS OF %s must directly follow a table name", upperASCII(what.Text))
		}
		if isKeyword(what, "TIMESTAMP") {
			return "", dberr.New(dberr.Unsupported, "AS OF TIMESTAMP is not supported; use AS OF VERSION n")
		}
		if j+3 >= hi || !isVersion(toks[j+3]) {
			return "", p.expectedAt(j+3, "a version number or parameter")
		}
		v := toks[j+3]
		aliasLo, aliasHi := -1, -1 // the alias's tokens, [aliasLo, aliasHi)
		switch k := j + 4; {
		case k >= hi:
		case isKeyword(toks[k], "AS"):
			if k+1 >= hi || !isNameToken(toks[k+1]) {
				return "", p.expectedAt(k+1, "an alias")
			}
			aliasLo, aliasHi = k, k+2
		case isNameToken(toks[k]):
			aliasLo, aliasHi = k, k+1
		}
		if aliasLo >= 0 && aliasHi < hi && isOp(toks[aliasHi], "(") {
			if m := matchingClose(toks[:hi], aliasHi); m >= 0 {
				aliasHi = m + 1
			}
		}
		b.WriteString(p.src[cur:toks[j].Pos])
		cur = v.End
		if aliasLo >= 0 {
			b.WriteString(p.src[toks[aliasLo].Pos:toks[aliasHi-1].End])
			b.WriteByte(' ')
			cur = toks[aliasHi-1].End
		}
		b.WriteString("AT (VERSION => ")
		b.WriteString(v.Text)
		b.WriteString(")")
		j = max(j+3, aliasHi-1)
	}
	b.WriteString(p.src[cur:end])
	return b.String(), nil
}
