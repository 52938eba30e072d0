package sqlexec

import (
	"math"
	"strconv"
	"strings"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// keyBounds are integer bounds on columns, taken from a query of the
// shape
//
//	SELECT … FROM [ns.]table WHERE … [GROUP BY …] [HAVING …] [ORDER BY …] [LIMIT …]
//
// whose WHERE clause is a conjunction with terms "col op n" or
// "col BETWEEN n AND m" (op one of = < <= > >=; n, m integer literals or
// $k parameters whose values are integers):
// every row the query reads from the table has lo <= col <= hi. The query
// names one table and holds no other SELECT (no subquery, CTE or set
// operation), so the table's rows are filtered by the WHERE clause alone.
// Segments whose key statistics lie outside the bounds hold no row the
// query can see, and no version that decides the merge of one it can (a
// key's versions all share the key): they are left out of the scan
// (pruneFiles), which then opens only the segments that may match.
type keyBounds struct {
	Namespace, Table string
	// Cols maps a column name (lower case) to its bounds.
	Cols map[string]bound
}

// bound is the closed interval Lo..Hi (empty if Lo > Hi).
type bound struct{ Lo, Hi int64 }

// whereEnd are the words that end a WHERE clause at nesting depth 0.
var whereEnd = map[string]bool{"group": true, "having": true, "qualify": true, "window": true, "order": true, "limit": true, "offset": true}

// parseKeyBounds returns the bounds a query's WHERE clause puts on its
// table's columns (the caller picks the key's).
// Any doubt about the query's shape gives ok false: no pruning.
func parseKeyBounds(text string, params []any) (kb keyBounds, ok bool) {
	toks, err := sqlparse.Lex(text)
	if err != nil {
		return kb, false
	}
	p := shapeParser{toks: toks}
	if !p.keyword("select") {
		return kb, false
	}
	// The select list: no FROM, SELECT or WHERE inside (a subquery or a
	// "IS DISTINCT FROM" is a doubt).
	for {
		t := p.peek()
		if t.Kind == sqlparse.EOF || (t.Kind == sqlparse.Ident && (t.Ident() == "select" || t.Ident() == "where")) {
			return kb, false
		}
		if t.Kind == sqlparse.Ident && t.Ident() == "from" {
			break
		}
		p.i++
	}
	p.i++
	first, ok := p.name()
	if !ok {
		return kb, false
	}
	kb.Table = first
	if p.op(".") {
		if kb.Table, ok = p.name(); !ok {
			return kb, false
		}
		kb.Namespace = first
	}
	if !p.keyword("where") {
		return kb, false
	}
	// The rest of the text: no SELECT, FROM, JOIN or set operation.
	for _, t := range toks[p.i:] {
		if t.Kind == sqlparse.Ident {
			switch t.Ident() {
			case "select", "from", "join", "union", "intersect", "except", "using", "on":
				return kb, false
			}
		}
	}
	// The WHERE clause's tokens: up to a clause word or ";" at depth 0.
	// OR, CASE and BETWEEN other than a recognised term's at depth 0 would
	// make the split at AND wrong: doubts.
	end, depth := p.i, 0
	for ; end < len(toks); end++ {
		t := toks[end]
		if t.Kind == sqlparse.EOF || (depth == 0 && t.Kind == sqlparse.Op && t.Text == ";") {
			break
		}
		if t.Kind == sqlparse.Op && (t.Text == "(" || t.Text == "[" || t.Text == "{") {
			depth++
		}
		if t.Kind == sqlparse.Op && (t.Text == ")" || t.Text == "]" || t.Text == "}") {
			depth--
		}
		if depth == 0 && t.Kind == sqlparse.Ident && whereEnd[t.Ident()] {
			break
		}
		if depth == 0 && t.Kind == sqlparse.Ident {
			switch t.Ident() {
			case "or", "case", "when", "then", "else", "end":
				return kb, false
			}
		}
	}
	where := toks[p.i:end]
	kb.Cols = map[string]bound{}
	depth = 0
	for i := 0; i < len(where); i++ {
		t := where[i]
		if t.Kind == sqlparse.Op && (t.Text == "(" || t.Text == "[" || t.Text == "{") {
			depth++
		}
		if t.Kind == sqlparse.Op && (t.Text == ")" || t.Text == "]" || t.Text == "}") {
			depth--
		}
		if depth != 0 {
			continue
		}
		if t.Kind == sqlparse.Ident && t.Ident() == "between" {
			return kb, false // not part of a recognised term
		}
		// A term starts the clause or follows a depth-0 AND.
		if i > 0 && !(where[i-1].Kind == sqlparse.Ident && where[i-1].Ident() == "and") {
			continue
		}
		col, lo, hi, n, ok := boundTerm(where[i:], params)
		if !ok {
			continue
		}
		col = strings.ToLower(col)
		b, seen := kb.Cols[col]
		if !seen {
			b = bound{math.MinInt64, math.MaxInt64}
		}
		kb.Cols[col] = bound{max(b.Lo, lo), min(b.Hi, hi)}
		i += n - 1
	}
	return kb, len(kb.Cols) > 0
}

// boundTerm recognises a term "col op n" or "col BETWEEN n AND m" at the
// start of ts, followed by a depth-0 AND or the end of ts, and returns its
// bounds and how many tokens it spans.
func boundTerm(ts []sqlparse.Token, params []any) (col string, lo, hi int64, n int, ok bool) {
	if len(ts) < 3 || (ts[0].Kind != sqlparse.Ident && ts[0].Kind != sqlparse.QuotedIdent) {
		return "", 0, 0, 0, false
	}
	col = ts[0].Ident()
	if ts[0].Kind == sqlparse.Ident && sqlparse.QuoteIdent(col) != col {
		return "", 0, 0, 0, false // a reserved word: not a column
	}
	// next reads an integer literal at ts[i]: returns it and the index
	// after it.
	next := func(i int) (int64, int, bool) {
		if i < len(ts) && ts[i].Kind == sqlparse.Param {
			// $k with an integer value; ?, ?k and $name are doubts.
			t := ts[i].Text
			if len(t) < 2 || t[0] != '$' || strings.Trim(t[1:], "0123456789") != "" {
				return 0, 0, false
			}
			k, err := strconv.Atoi(t[1:])
			if err != nil || k < 1 || k > len(params) {
				return 0, 0, false
			}
			v, ok := intParam(params[k-1])
			return v, i + 1, ok
		}
		neg := false
		if i < len(ts) && ts[i].Kind == sqlparse.Op && (ts[i].Text == "-" || ts[i].Text == "+") {
			neg = ts[i].Text == "-"
			i++
		}
		if i >= len(ts) || ts[i].Kind != sqlparse.Number || ts[i].Text == "" || strings.Trim(ts[i].Text, "0123456789") != "" {
			return 0, 0, false
		}
		text := ts[i].Text
		if neg {
			text = "-" + text
		}
		v, err := strconv.ParseInt(text, 10, 64)
		return v, i + 1, err == nil
	}
	// ends reports whether the term ends at index i.
	ends := func(i int) bool {
		return i == len(ts) || (ts[i].Kind == sqlparse.Ident && ts[i].Ident() == "and")
	}
	lo, hi = math.MinInt64, math.MaxInt64
	op := ts[1]
	if op.Kind == sqlparse.Ident && op.Ident() == "between" {
		a, i, ok := next(2)
		if !ok || i >= len(ts) || !(ts[i].Kind == sqlparse.Ident && ts[i].Ident() == "and") {
			return "", 0, 0, 0, false
		}
		b, j, ok := next(i + 1)
		if !ok || !ends(j) {
			return "", 0, 0, 0, false
		}
		return col, a, b, j, true
	}
	if op.Kind != sqlparse.Op {
		return "", 0, 0, 0, false
	}
	v, i, ok := next(2)
	if !ok || !ends(i) {
		return "", 0, 0, 0, false
	}
	switch op.Text {
	case "=":
		lo, hi = v, v
	case ">=":
		lo = v
	case "<=":
		hi = v
	case ">":
		if v == math.MaxInt64 {
			return "", 0, 0, 0, false
		}
		lo = v + 1
	case "<":
		if v == math.MinInt64 {
			return "", 0, 0, 0, false
		}
		hi = v - 1
	default:
		return "", 0, 0, 0, false
	}
	return col, lo, hi, i, true
}

// pruneFiles returns fs without the segments that hold no version of a
// key within the statement's key bounds (see keyBounds), and without the
// buffered versions of keys outside them, when tbl is the
// table the bounds were taken for and they bound its (single, integer)
// primary key; otherwise fs itself. The result shares fs's pins: only fs
// is released.
func (q *stmtCtx) pruneFiles(def *manifest.Table, fs *tablestore.FileScan) *tablestore.FileScan {
	kb := q.bounds
	if kb == nil || len(def.PrimaryKey) != 1 || def.Name != kb.Table {
		return fs
	}
	b, ok := kb.Cols[strings.ToLower(def.PrimaryKey[0])]
	if !ok {
		return fs
	}
	if ns := kb.Namespace; (ns == "" && def.Namespace != q.ns) || (ns != "" && ns != def.Namespace) {
		return fs
	}
	i := columnIndex(def, def.PrimaryKey[0])
	if i < 0 {
		return fs
	}
	switch def.Columns[i].Type.Kind {
	case manifest.KindInt, manifest.KindBigInt:
	default:
		return fs
	}
	id := def.Columns[i].ID
	kept := make([]tablestore.ScanFile, 0, len(fs.Files))
	for _, f := range fs.Files {
		if !outsideBounds(f.Segment, id, b.Lo, b.Hi) {
			kept = append(kept, f)
		}
	}
	// Buffered versions (tombstones too) of keys outside the bounds go
	// the same way: each decides only its own key.
	buffered := make([]row.Version, 0, len(fs.Buffered))
	for _, v := range fs.Buffered {
		if i < len(v.Values) {
			x := v.Values[i]
			if k := x.Kind(); (k == manifest.KindInt || k == manifest.KindBigInt) && (x.Int64() < b.Lo || x.Int64() > b.Hi) {
				continue
			}
		}
		buffered = append(buffered, v)
	}
	if len(kept) == len(fs.Files) && len(buffered) == len(fs.Buffered) {
		return fs
	}
	pruned := *fs
	pruned.Files, pruned.Buffered = kept, buffered
	return &pruned
}

// outsideBounds reports whether the statistics of column id in seg show
// that every value of it lies outside lo..hi. Without statistics (or
// unreadable ones) it is false.
func outsideBounds(seg manifest.Segment, id uint32, lo, hi int64) bool {
	if lo > hi {
		return true
	}
	for _, c := range seg.Columns {
		if c.ColumnID != id {
			continue
		}
		if c.Min == nil || c.Max == nil {
			return false
		}
		mn, err1 := strconv.ParseInt(*c.Min, 10, 64)
		mx, err2 := strconv.ParseInt(*c.Max, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return mx < lo || mn > hi
	}
	return false
}

// intParam returns the value of a parameter of a Go integer type. Others
// are doubts: DuckDB compares a BIGINT key with a DOUBLE parameter as
// doubles, which is not integer comparison beyond 2^53.
func intParam(x any) (int64, bool) {
	switch n := x.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	}
	return 0, false
}
