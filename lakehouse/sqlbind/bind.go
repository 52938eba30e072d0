package sqlbind

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Querier runs one query returning one row. *sql.DB and *sql.Conn satisfy
// it.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// TableRef is one table reference of a query, as written.
type TableRef struct {
	// Catalog, Schema and Name are the parts of the name as DuckDB reports
	// them: unquoted, case kept. Compare them case-insensitively. Catalog
	// and Schema are "" when not written; a two-part name a.b has Schema a.
	Catalog, Schema, Name string
	// Alias is the alias written after the name, "" if none.
	Alias string
	// AtVersion is the AT (VERSION => …) clause, nil if none.
	AtVersion *AtVersion
	// Location is the byte offset of the reference in the query.
	Location int
	// Bare is set when the name follows the keyword TABLE (the statement
	// TABLE t) or ONLY (FROM ONLY t): only a name can replace it, not an
	// inlined query.
	Bare bool
}

// AtVersion is an AT (VERSION => …) clause: a constant version, or a
// positional parameter ($n or ?) whose value is the version.
type AtVersion struct {
	// Version is the constant; 0 when Param is set.
	Version int64
	// Param is the parameter number n (1-based), 0 for a constant.
	Param int
}

// Resolver maps a table reference to the data the caller may see there.
// The replacement is an SQL name, already quoted, of one to three parts,
// e.g. `"__floe_3"`. An error is returned by Bind as is; it should be a
// *dberr.Error such as TABLE_NOT_FOUND or PERMISSION_DENIED. Bind calls
// the resolver once per reference, in the order of the query text.
type Resolver func(ref TableRef) (replacement string, err error)

// Replacement is what an InlineResolver puts at a table reference: a
// name, as a Resolver returns, or a query Bind returned before, inlined.
type Replacement struct {
	// Name is an SQL name, already quoted, of one to three parts.
	Name string
	// Inline, when set (Name is then ""), is put at the reference as a
	// parenthesized subquery with the reference's alias (or its name as
	// the alias). Bind checks the inlined query again as part of the whole:
	// its own replacements must be found in the rewritten query at their
	// new positions, with their aliases, like the outer ones. A Bare
	// reference cannot be inlined. An inlined query must use no parameters.
	Inline *Bound
	// Trusted, when set with Name, is the caller's own query for the
	// reference, which Bind does not check: Bind checks the query with Name
	// at the reference, exactly as for a plain name, and then puts
	// "(\n" + Trusted + "\n)" in place of that name in the returned SQL
	// (Bound.SQL), keeping the reference's alias. The caller must build
	// Trusted from nothing the user wrote but values it quoted itself (it
	// may read files, which user SQL may not). Bind refuses a Trusted text
	// that is not one self-contained term (see checkTrusted), and a Bare
	// reference with one: give such a reference a plain name.
	Trusted string
}

// InlineResolver is a Resolver that may also inline queries (a view's
// bound query at a reference to the view).
type InlineResolver func(ref TableRef) (Replacement, error)

// Bound is a checked and rewritten query.
type Bound struct {
	// SQL is the rewritten query, to run with the first Params arguments.
	SQL string
	// Tables are the references handed to the resolver, in text order.
	// CTE references are not included.
	Tables []TableRef
	// Params is the highest positional parameter number used ($n, or the
	// count of ?), 0 if none.
	Params int
	// repls are the replacements in checked, with their positions, for
	// checking the query again where it is inlined into another query.
	repls []replAt
	// checked is the query as the gate checked it: SQL with each trusted
	// query still a placeholder name (the name of its Replacement).
	checked string
	// trusted are the trusted queries to put at positions of checked.
	trusted []trustedAt
}

// checkedSQL is the text of b as the gate checks it where b is inlined.
// A Bound made outside Bind has no trusted queries: its SQL is that text.
func (b *Bound) checkedSQL() string {
	if b.checked == "" && len(b.trusted) == 0 {
		return b.SQL
	}
	return b.checked
}

// trustedAt is a trusted query to put in place of the placeholder name
// at byte pos of a Bound's checked text.
type trustedAt struct {
	pos  int
	name string
	text string
}

// replAt is a replacement name at byte pos of a Bound's SQL, where DuckDB
// must report a table reference with alias alias.
type replAt struct {
	pos   int
	name  string
	alias string
}

// Wrap returns b with prefix and suffix around its SQL, for inlining a
// query under a projection (prefix "SELECT … FROM (", suffix ") AS x").
// Nothing is checked here: the text is checked where the result is
// inlined, as part of the whole query.
func (b *Bound) Wrap(prefix, suffix string) *Bound {
	w := &Bound{SQL: prefix + b.SQL + suffix, Tables: b.Tables, Params: b.Params, repls: make([]replAt, len(b.repls)),
		checked: prefix + b.checkedSQL() + suffix, trusted: make([]trustedAt, len(b.trusted))}
	for i, r := range b.repls {
		r.pos += len(prefix)
		w.repls[i] = r
	}
	for i, t := range b.trusted {
		t.pos += len(prefix)
		w.trusted[i] = t
	}
	return w
}

// SelfContained reports whether every replacement in b carries a trusted
// query: b's SQL then names no relation of the session that bound it, and
// b can be used again in another statement once WithTrusted has put that
// statement's queries at its placeholders.
func (b *Bound) SelfContained() bool {
	if len(b.trusted) != len(b.repls) {
		return false
	}
	at := make(map[int]bool, len(b.trusted))
	for _, t := range b.trusted {
		at[t.pos] = true
	}
	for _, r := range b.repls {
		if !at[r.pos] {
			return false
		}
	}
	return true
}

// TrustedNames returns the placeholder names of b's trusted queries in
// text order; a name may repeat (a table read twice).
func (b *Bound) TrustedNames() []string {
	ts := slices.Clone(b.trusted)
	slices.SortFunc(ts, func(a, b trustedAt) int { return a.pos - b.pos })
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name
	}
	return names
}

// WithTrusted returns b with the trusted query at each placeholder
// replaced by text(name): the same checked text, which the gate verified,
// with other queries from the caller at the same places. Every placeholder
// must get a text (else an error), and each text must pass the checks
// Bind makes of Replacement.Trusted. b is not modified.
func (b *Bound) WithTrusted(text func(name string) (string, bool)) (*Bound, error) {
	w := *b
	w.trusted = make([]trustedAt, len(b.trusted))
	for i, t := range b.trusted {
		s, ok := text(t.name)
		if !ok {
			return nil, fmt.Errorf("sqlbind: no trusted query for %s", t.name)
		}
		if err := checkTrusted(s); err != nil {
			return nil, err
		}
		t.text = s
		w.trusted[i] = t
	}
	w.SQL = substitute(w.checkedSQL(), w.trusted)
	return &w, nil
}

// serializeSQL asks DuckDB for the parse tree of $1 as JSON text.
const serializeSQL = `SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)`

// Bind checks query, resolves its table references and rewrites them. See
// the package documentation for what a returned Bound guarantees. User
// errors are *dberr.Error: SYNTAX_ERROR (with a position when DuckDB gives
// one), PERMISSION_DENIED for statements and constructs Floe never runs
// for users, UNSUPPORTED for valid SQL Bind cannot check, and whatever
// resolve returns. Failures to reach DuckDB are plain wrapped errors.
// Bind asks DuckDB for every parse; a Binder caches them.
func Bind(ctx context.Context, q Querier, query string, resolve Resolver) (*Bound, error) {
	return bind(ctx, nil, q, query, byName(resolve))
}

// byName adapts a Resolver to an InlineResolver.
func byName(resolve Resolver) InlineResolver {
	return func(ref TableRef) (Replacement, error) {
		name, err := resolve(ref)
		return Replacement{Name: name}, err
	}
}

func bind(ctx context.Context, parses *parseCache, q Querier, query string, resolve InlineResolver) (*Bound, error) {
	if err := ctx.Err(); err != nil {
		// Parses may come from the cache; a cancelled request still stops.
		return nil, fmt.Errorf("sqlbind: %w", err)
	}
	// DuckDB takes query text as UTF-8 without NUL bytes; such text could
	// not even be passed to it as a parameter.
	if !utf8.ValidString(query) {
		return nil, dberr.New(dberr.SyntaxError, "the query is not valid UTF-8")
	}
	if strings.IndexByte(query, 0) >= 0 {
		return nil, dberr.New(dberr.SyntaxError, "the query contains a NUL byte")
	}
	stmt, err := parse(ctx, parses, q, query)
	if err != nil {
		return nil, err
	}
	w := &walker{query: query}
	if err := w.statement(stmt); err != nil {
		return nil, err
	}
	refs, err := dedupe(w.refs)
	if err != nil {
		return nil, err
	}
	b := &Bound{Params: w.maxParam}
	edits := make([]edit, 0, 2*len(refs))
	for _, r := range refs {
		r.Bare = afterTableKeyword(query, r.Location) || afterKeyword(query, r.Location, "ONLY")
		repl, err := resolve(r.TableRef)
		if err != nil {
			return nil, err
		}
		var e []edit
		switch {
		case repl.Inline != nil:
			e, err = inlineRef(query, r, repl.Inline)
		case repl.Trusted != "" && r.Bare:
			err = unsafeRewrite("the query for %s at byte %d cannot be inlined there", r.qualified(), r.Location)
		default:
			if err = checkReplacement(repl.Name); err == nil && repl.Trusted != "" {
				err = checkTrusted(repl.Trusted)
			}
			if err == nil {
				e, err = rewriteRef(query, r, repl.Name)
			}
			if err == nil {
				e[0].trusted = repl.Trusted
			}
		}
		if err != nil {
			return nil, err
		}
		edits = append(edits, e...)
		b.Tables = append(b.Tables, r.TableRef)
	}
	b.checked, err = apply(query, edits)
	if err != nil {
		return nil, err
	}
	b.repls, b.trusted = expected(edits)
	if err := verify(ctx, parses, q, b.checked, b.repls, w); err != nil {
		return nil, err
	}
	b.SQL = substitute(b.checked, b.trusted)
	return b, nil
}

// substitute puts each trusted query in place of its placeholder name in
// checked, which verify has found there as a table reference.
func substitute(checked string, trusted []trustedAt) string {
	if len(trusted) == 0 {
		return checked
	}
	ts := slices.Clone(trusted)
	slices.SortFunc(ts, func(a, b trustedAt) int { return a.pos - b.pos })
	var b strings.Builder
	pos := 0
	for _, t := range ts {
		b.WriteString(checked[pos:t.pos])
		b.WriteString("(\n")
		b.WriteString(t.text)
		b.WriteString("\n)")
		pos = t.pos + len(t.name)
	}
	b.WriteString(checked[pos:])
	return b.String()
}

// expected lists the replacements the applied edits put into the
// rewritten query, and the trusted queries to put at some of them, with
// the positions they have there.
func expected(edits []edit) ([]replAt, []trustedAt) {
	var out []replAt
	var trusted []trustedAt
	for _, e := range edits {
		if e.repl != "" {
			out = append(out, replAt{pos: e.newRepl, name: e.repl, alias: e.alias})
			if e.trusted != "" {
				trusted = append(trusted, trustedAt{pos: e.newRepl, name: e.repl, text: e.trusted})
			}
		}
		for _, in := range e.inner {
			in.pos += e.newRepl
			out = append(out, in)
		}
		for _, in := range e.innerTrusted {
			in.pos += e.newRepl
			trusted = append(trusted, in)
		}
	}
	return out, trusted
}

// dedupe sorts refs by location and merges references DuckDB's parser
// copied (a simple CASE repeats its operand in every WHEN, a named window
// is copied into each use): one text position is one reference.
func dedupe(refs []foundRef) ([]foundRef, error) {
	var out []foundRef
	cte := map[int]bool{}
	for _, r := range refs {
		if r.cte {
			cte[r.Location] = true
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Location < refs[j].Location })
	for _, r := range refs {
		if r.cte {
			continue
		}
		if cte[r.Location] {
			return nil, unsafeRewrite("the name %s at byte %d is both a CTE and a table", r.Name, r.Location)
		}
		if n := len(out); n > 0 && out[n-1].Location == r.Location {
			if !sameRef(out[n-1], r) {
				return nil, unsafeRewrite("two different table references at byte %d", r.Location)
			}
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func sameRef(a, b foundRef) bool {
	if a.Catalog != b.Catalog || a.Schema != b.Schema || a.Name != b.Name || a.Alias != b.Alias {
		return false
	}
	if (a.AtVersion == nil) != (b.AtVersion == nil) {
		return false
	}
	return a.AtVersion == nil || *a.AtVersion == *b.AtVersion
}

// parse returns the single statement of query as DuckDB's parser sees it.
func parse(ctx context.Context, parses *parseCache, q Querier, query string) (map[string]any, error) {
	text, ok := parses.get(query)
	if !ok {
		if err := q.QueryRowContext(ctx, serializeSQL, query).Scan(&text); err != nil {
			return nil, fmt.Errorf("sqlbind: parse query: %w", err)
		}
		parses.put(query, text)
	}
	root, err := decode(text)
	if err != nil {
		// DuckDB writes an infinite constant (1e999) as a bare Infinity,
		// which is not JSON. Constants' values do not matter here.
		if root, err = decode(nonFiniteToNull(text)); err != nil {
			return nil, dberr.Wrap(dberr.Unsupported, err, "the query cannot be checked: its parse tree is unreadable")
		}
	}
	if failed, _ := root["error"].(bool); failed {
		return nil, parseError(query, root)
	}
	stmts, _ := root["statements"].([]any)
	switch len(stmts) {
	case 0:
		return nil, dberr.New(dberr.SyntaxError, "the query is empty")
	case 1:
	default:
		return nil, dberr.New(dberr.SyntaxError, "one statement per query: found %d", len(stmts))
	}
	stmt, ok := stmts[0].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("sqlbind: parse tree: statement is %T", stmts[0])
	}
	return stmt, nil
}

// decode decodes JSON text, keeping numbers exact.
func decode(text string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	return root, nil
}

// nonFiniteToNull replaces the bare tokens Infinity, -Infinity and NaN
// outside JSON strings by null.
func nonFiniteToNull(text string) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if inString {
			switch c {
			case '\\':
				b.WriteByte(c)
				i++
				if i < len(text) {
					b.WriteByte(text[i])
				}
				continue
			case '"':
				inString = false
			}
			b.WriteByte(c)
			continue
		}
		if c == '"' {
			inString = true
		}
		if tok := nonFiniteToken(text[i:]); tok != "" {
			b.WriteString("null")
			i += len(tok) - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func nonFiniteToken(s string) string {
	for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
		if strings.HasPrefix(s, tok) {
			return tok
		}
	}
	return ""
}

// parseError converts json_serialize_sql's error object.
func parseError(query string, root map[string]any) error {
	msg, _ := root["error_message"].(string)
	typ, _ := root["error_type"].(string)
	if strings.Contains(msg, "Only SELECT statements") {
		return dberr.New(dberr.PermissionDenied, "only SELECT queries are accepted here")
	}
	if typ != "parser" {
		return dberr.New(dberr.Unsupported, "%s", msg)
	}
	// The position counts characters (where table locations count bytes).
	if pos, ok := root["position"].(string); ok {
		if n, err := strconv.Atoi(pos); err == nil && n >= 0 {
			off := len(query)
			for i := range query {
				if n == 0 {
					off = i
					break
				}
				n--
			}
			line, col := dberr.Position(query, off)
			return dberr.At(line, col, "%s", msg)
		}
	}
	return dberr.New(dberr.SyntaxError, "%s", msg)
}

// unsafeRewrite is the error for a query Bind cannot rewrite with
// certainty.
func unsafeRewrite(format string, args ...any) error {
	return dberr.New(dberr.Unsupported, "query cannot be rewritten safely: "+format, args...)
}

// verify has DuckDB parse the rewritten query and checks that its only
// table references are CTE references and the replacements, at the
// positions the edits put them, with the aliases they were given, and that
// it uses the same parameters as the original.
func verify(ctx context.Context, parses *parseCache, q Querier, rewritten string, repls []replAt, orig *walker) error {
	stmt, err := parse(ctx, parses, q, rewritten)
	var de *dberr.Error
	if errors.As(err, &de) {
		return unsafeRewrite("the rewritten query does not parse: %v", de.Msg)
	}
	if err != nil {
		return err
	}
	w := &walker{query: rewritten}
	if err := w.statement(stmt); err != nil {
		return unsafeRewrite("the rewritten query is refused: %v", err)
	}
	want := make(map[int]replAt, len(repls))
	for _, e := range repls {
		want[e.pos] = e
	}
	seen := map[int]bool{}
	for _, r := range w.refs {
		e, ok := want[r.Location]
		if r.cte {
			if ok {
				return dberr.New(dberr.PermissionDenied, "the name %s is reserved for Floe: rename the CTE %q", e.name, r.Name)
			}
			continue
		}
		if !ok {
			return unsafeRewrite("unexpected table %q at byte %d of the rewritten query", r.Name, r.Location)
		}
		if !strings.HasPrefix(rewritten[r.Location:], e.name) || r.AtVersion != nil || !asciiEqualFold(r.Alias, e.alias) {
			return unsafeRewrite("table %q at byte %d is not the replacement", r.Name, r.Location)
		}
		seen[r.Location] = true
	}
	if len(seen) != len(want) {
		return unsafeRewrite("%d of %d replacements are missing from the rewritten query", len(want)-len(seen), len(want))
	}
	if !equalSets(w.params, orig.params) {
		return unsafeRewrite("the parameters changed")
	}
	return nil
}

func equalSets(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
