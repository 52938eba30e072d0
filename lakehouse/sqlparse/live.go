package sqlparse

import (
	"strconv"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Subscribe is a live query:
//
//	SUBSCRIBE TO SELECT {* | col, …} FROM name [WHERE cond] [OPTIONS (KEY = value, …)]
//	SUBSCRIBE TO name [WHERE cond] [OPTIONS (KEY = value, …)]
//
// The options are BATCH_SIZE, LAST_ROWS and FROM_SEQ, non-negative
// integers; the parser checks their names and values. The condition's
// text is not interpreted here (livequery/filter compiles it).
type Subscribe struct {
	span
	Table Name
	// Columns are the selected columns, nil for all (* or no SELECT).
	Columns []string
	// Where is nil when there is no WHERE clause.
	Where *Expr
	// BatchSize, LastRows and FromSeq are the options; 0 when not given
	// (HasFromSeq tells FROM_SEQ = 0 from none).
	BatchSize, LastRows int64
	FromSeq             uint64
	HasFromSeq          bool
	Options             []Option
}

// KillLiveQuery is KILL LIVE QUERY 'id' (or an unquoted id).
type KillLiveQuery struct {
	span
	ID string
}

// parseSubscribe parses SUBSCRIBE TO ….
func parseSubscribe(p *parser) (Statement, error) {
	p.next() // SUBSCRIBE
	if err := p.expect("TO"); err != nil {
		return nil, err
	}
	st := &Subscribe{}
	var err error
	if p.accept("SELECT") {
		if !p.acceptOp("*") {
			for {
				c, err := p.ident("a column name")
				if err != nil {
					return nil, err
				}
				if isOp(p.peek(), "(") || isOp(p.peek(), ".") || isOp(p.peek(), "::") || isKeyword(p.peek(), "AS") {
					return nil, dberr.New(dberr.Unsupported, "a live query selects plain columns; %s is not supported after column %s", describe(p.peek()), c)
				}
				st.Columns = append(st.Columns, c)
				if !p.acceptOp(",") {
					break
				}
			}
		}
		if err := p.expect("FROM"); err != nil {
			return nil, err
		}
	}
	if st.Table, err = p.name(); err != nil {
		return nil, err
	}
	for _, kw := range []string{"JOIN", "GROUP", "ORDER", "LIMIT", "UNION", "HAVING"} {
		if isKeyword(p.peek(), kw) || isOp(p.peek(), ",") {
			return nil, dberr.New(dberr.Unsupported, "a live query reads one table with an optional WHERE; %s is not supported", describe(p.peek()))
		}
	}
	if p.accept("WHERE") {
		e, err := p.expr("a condition", stopAt(false, "OPTIONS"))
		if err != nil {
			return nil, err
		}
		st.Where = &e
	}
	if p.accept("OPTIONS") {
		if st.Options, err = p.options(); err != nil {
			return nil, err
		}
		for _, o := range st.Options {
			n, err := strconv.ParseUint(o.Value, 10, 64)
			if err != nil {
				return nil, dberr.New(dberr.InvalidOption, "live query option %s must be a non-negative integer, got %q", o.Key, o.Value)
			}
			switch o.Key {
			case "BATCH_SIZE":
				if n < 1 || n > 1<<20 {
					return nil, dberr.New(dberr.InvalidOption, "live query option BATCH_SIZE must be between 1 and 1048576, got %d", n)
				}
				st.BatchSize = int64(n)
			case "LAST_ROWS":
				if n > 1<<40 {
					return nil, dberr.New(dberr.InvalidOption, "live query option LAST_ROWS is too large: %d", n)
				}
				st.LastRows = int64(n)
			case "FROM_SEQ":
				st.FromSeq, st.HasFromSeq = n, true
			default:
				return nil, dberr.New(dberr.InvalidOption, "unknown live query option %s (options: BATCH_SIZE, LAST_ROWS, FROM_SEQ)", o.Key)
			}
		}
	}
	return st, p.expectEnd()
}

// parseKill parses KILL LIVE QUERY id.
func parseKill(p *parser) (Statement, error) {
	p.next() // KILL
	if err := p.expect("LIVE"); err != nil {
		return nil, err
	}
	if err := p.expect("QUERY"); err != nil {
		return nil, err
	}
	t := p.peek()
	st := &KillLiveQuery{}
	switch t.Kind {
	case String, Ident, QuotedIdent:
		p.next()
		st.ID = t.Value()
		if t.Kind != String {
			st.ID = t.Text
			if t.Kind == QuotedIdent {
				st.ID = t.Ident()
			}
		}
	default:
		return nil, p.expected("a live query id (see system.live_queries)")
	}
	return st, p.expectEnd()
}
