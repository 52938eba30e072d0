package sqlexec

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlbind"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// Point reads. A query of the exact shape
//
//	SELECT * | col, … FROM [ns.]table WHERE pk1 = v1 [AND pk2 = v2 …] [LIMIT n]
//
// that binds every primary key column of a USER, SHARED or STREAM table
// once, to a literal or a parameter, is answered from the storage engine's
// point lookup (tablestore.Store.Lookup) instead of DuckDB: no session, no
// views, no planning. It is an optimisation only. The table is resolved and
// authorized by the same resolveRef as every query, the partition is the
// caller's own for USER and STREAM tables, expired STREAM rows are hidden
// by the view's rule, and the result has the columns, types and Go values
// DuckDB's driver would return. Whenever the statement, a name, a value or
// its conversion is not certain to mean exactly that, pointSelect declines
// and the query runs on DuckDB, which also reports any error.

// pointState is the Executor's point-read state.
type pointState struct {
	// off sends every query to DuckDB (tests compare the two paths).
	off bool
	// served counts the queries answered by a point read.
	served atomic.Int64
}

// pointSelect answers s by a point lookup. handled is false when s is not
// a point read; the caller then runs it on DuckDB.
func (x *Executor) pointSelect(ctx context.Context, q *stmtCtx, s *sqlparse.Select) (res Result, handled bool, err error) {
	if x.point.off || s.Explain {
		return Result{}, false, nil
	}
	shape, ok := q.parsed.shape(s)
	if !ok {
		if q.parsed != nil && q.parsed.owns(s) {
			return Result{}, false, nil // parsed: not a point read
		}
		if shape, ok = parsePointShape(s.Query); !ok {
			return Result{}, false, nil
		}
	}
	plan, ok := q.planPoint(s.Query, shape)
	if !ok {
		return Result{}, false, nil
	}
	def := plan.tbl.Def()
	var out Result
	out.Columns = make([]Column, len(plan.cols))
	for i, c := range plan.cols {
		out.Columns[i] = Column{Name: c.name, Type: c.duckType, Nullable: true}
	}
	if !plan.null {
		v, found, err := x.store.Lookup(ctx, def, plan.partition, plan.key)
		if err != nil {
			return Result{}, true, fmt.Errorf("sqlexec: point read of %s.%s: %w", def.Namespace, def.Name, err)
		}
		if found && x.visible(def, v) {
			r := make([]any, len(plan.cols))
			for i, c := range plan.cols {
				if r[i], ok = resultValue(v.Values[plan.idx[i]], c.typ); !ok {
					return Result{}, false, nil // DuckDB decides (e.g. JSON it would not decode)
				}
			}
			out.Rows = [][]any{r}
		}
	}
	out.Message = "SELECT " + strconv.Itoa(len(out.Rows))
	x.point.served.Add(1)
	return out, true, nil
}

// pointPlan is a point read bound to the catalog and its parameters.
type pointPlan struct {
	*pointBinding
	key  row.Row // in primary key order
	null bool    // a key is compared with NULL: no row matches
}

// planPoint binds shape (of the query text) to the statement's catalog
// and parameters, or declines. The catalog half comes from the
// executor's plan cache when the same principal ran the same text on the
// same catalog version before (see planCache).
func (q *stmtCtx) planPoint(text string, shape pointShape) (pointPlan, bool) {
	if len(q.extra) > 0 {
		return pointPlan{}, false
	}
	k := planKey{version: q.snap.Version(), userID: q.p.UserID, role: q.p.Role, ns: q.ns, query: text}
	b, ok := q.x.plans.get(k)
	if !ok {
		b = q.bindPoint(shape)
		q.x.plans.put(k, b)
	}
	if !b.ok {
		return pointPlan{}, false
	}
	plan := pointPlan{pointBinding: b, key: make(row.Row, len(b.keyPreds))}
	for i, pr := range b.keyPreds {
		v, ok := keyValue(pr, b.keyTypes[i], q.params)
		if !ok {
			return pointPlan{}, false
		}
		if v.IsNull() {
			plan.null = true
		}
		plan.key[i] = v
	}
	return plan, true
}

// bindPoint binds shape to the statement's catalog and principal: the
// part of a point plan that does not depend on the parameters.
func (q *stmtCtx) bindPoint(shape pointShape) *pointBinding {
	no := &pointBinding{}
	b := &pointBinding{ok: true}
	// The same resolution and read check as every table reference of a
	// query; its errors are left for the general path to report.
	t, err := q.resolveRef(sqlbind.TableRef{Schema: shape.Namespace, Name: shape.Table}, q.ns)
	if err != nil {
		return no
	}
	def := t.Def()
	switch def.Type {
	case manifest.TableUser, manifest.TableStream:
		b.partition = q.p.UserID
	case manifest.TableShared:
	default:
		return no
	}
	if len(def.PrimaryKey) == 0 || def.HasHiddenRowID() {
		return no
	}
	visible, err := scanColumns(t, false) // the columns of the table's view
	if err != nil {
		return no
	}
	byName := func(name string) (scanColumn, bool) {
		for _, c := range visible {
			if c.name == name {
				return c, true
			}
		}
		return scanColumn{}, false
	}
	if shape.Star {
		b.cols = visible
	} else {
		for i, name := range shape.Columns {
			c, ok := byName(name)
			if !ok {
				return no
			}
			for _, prev := range shape.Columns[:i] {
				if prev == name {
					return no
				}
			}
			b.cols = append(b.cols, c)
		}
	}
	b.idx = make([]int, len(b.cols))
	for i, c := range b.cols {
		b.idx[i] = columnIndex(def, c.name)
	}
	if len(shape.Preds) != len(def.PrimaryKey) {
		return no
	}
	b.keyPreds = make([]pointPred, len(def.PrimaryKey))
	b.keyTypes = make([]manifest.Type, len(def.PrimaryKey))
	for i, k := range def.PrimaryKey {
		n := 0
		for _, pr := range shape.Preds {
			if pr.Column != k {
				continue
			}
			n++
			c, ok := byName(k)
			if !ok {
				return no
			}
			b.keyPreds[i], b.keyTypes[i] = pr, c.typ
		}
		if n != 1 {
			return no
		}
	}
	b.tbl = t
	return b
}

// visible applies the view's row filter: an expired STREAM row is hidden
// (see expiryFilter, whose cutoff has microsecond precision).
func (x *Executor) visible(def *manifest.Table, v row.Version) bool {
	if def.Type != manifest.TableStream || def.Options.TTLSeconds <= 0 {
		return true
	}
	i := columnIndex(def, manifest.ColumnWrittenAt)
	if i < 0 || v.Values[i].IsNull() {
		return false
	}
	cutoff := x.app.Clock()().Add(-time.Duration(def.Options.TTLSeconds) * time.Second).Truncate(time.Microsecond)
	return v.Values[i].Int64() > cutoff.UnixMicro()
}

// keyValue converts the value of "key = value" to a stored value of the
// key column's type, when the result is certainly what DuckDB compares:
// integer literals and integer parameters for INTEGER and BIGINT keys,
// plain string literals and string parameters for VARCHAR keys, and NULL
// (which matches nothing). ok is false for anything else — strings for
// numbers, fractions, floats, other key types — which DuckDB evaluates.
func keyValue(pr pointPred, t manifest.Type, params []any) (row.Value, bool) {
	tok := pr.Value
	switch tok.Kind {
	case sqlparse.Number:
		if t.Kind != manifest.KindInt && t.Kind != manifest.KindBigInt {
			return row.Value{}, false
		}
		return numberValue(tok.Text, pr.Sign == "-", t)
	case sqlparse.String:
		if t.Kind != manifest.KindText || !strings.HasPrefix(tok.Text, "'") {
			return row.Value{}, false
		}
		if s := tok.Value(); utf8.ValidString(s) {
			return row.Text(s), true
		}
	case sqlparse.Ident:
		if tok.Ident() == "null" {
			return row.Null(), true
		}
	case sqlparse.Param:
		n, err := strconv.Atoi(strings.TrimPrefix(tok.Text, "$"))
		if err != nil || !strings.HasPrefix(tok.Text, "$") || n < 1 || n > len(params) {
			return row.Value{}, false
		}
		switch t.Kind {
		case manifest.KindInt, manifest.KindBigInt, manifest.KindText:
			return paramValue(params[n-1], t)
		}
	}
	return row.Value{}, false
}

// resultValue is the Go value DuckDB's driver returns for a stored value
// of type t. ok is false for a JSON text the driver would fail to decode.
func resultValue(v row.Value, t manifest.Type) (any, bool) {
	if v.IsNull() {
		return nil, true
	}
	switch t.Kind {
	case manifest.KindJSON:
		var out any
		if err := json.Unmarshal([]byte(v.Str()), &out); err != nil {
			return nil, false
		}
		return out, true
	case manifest.KindBytes, manifest.KindUUID:
		return []byte(v.Str()), true // the driver returns a UUID's 16 bytes
	}
	return toDriver(v, t), true
}
