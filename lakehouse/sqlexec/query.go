package sqlexec

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/sqlbind"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// viewKey identifies a view within one statement: a table read twice at
// one version shares one view.
type viewKey struct {
	tableID string
	version uint64
	hidden  bool
}

// bindQuery checks a SELECT and rewrites its table references to views of
// the data the principal may see. hidden exposes the hidden row id of the
// tables (DML's own reads).
func (q *stmtCtx) bindQuery(ctx context.Context, text string, hidden bool) (*sqlbind.Bound, error) {
	return q.bind(ctx, text, hidden, nil)
}

// bind is bindQuery for the statement's own text (within nil) or for the
// query of a view being expanded (within: the views being expanded,
// innermost first), whose unqualified names resolve in the view's
// namespace and which sees no statement-local relations. References to
// views are expanded (see expandView).
func (q *stmtCtx) bind(ctx context.Context, text string, hidden bool, within *viewChain) (*sqlbind.Bound, error) {
	sess, err := q.session(ctx)
	if err != nil {
		return nil, err
	}
	return q.x.binder.BindInline(ctx, sess.Conn(), text, func(ref sqlbind.TableRef) (sqlbind.Replacement, error) {
		if within == nil {
			if name, ok := q.extraRelation(ref); ok {
				return sqlbind.Replacement{Name: name}, nil
			}
		}
		if v, ok := q.viewOf(ref, within); ok {
			return q.expandView(ctx, v, ref, within)
		}
		return q.resolveTable(ctx, ref, hidden, within)
	})
}

// extraRelation returns the statement's own relation ref names, if any.
func (q *stmtCtx) extraRelation(ref sqlbind.TableRef) (string, bool) {
	if ref.Schema != "" || ref.Catalog != "" || ref.AtVersion != nil {
		return "", false
	}
	name, ok := q.extra[strings.ToLower(ref.Name)]
	return name, ok
}

// resolveTable returns what replaces the table ref names: the rows the
// principal may see there, as a trusted subquery in place of a
// placeholder name (sqlbind.Replacement.Trusted) or, for a provider's
// temporary relation and for a bare reference (TABLE t), where no
// subquery can stand, a relation's name. The source is built once per
// table, version and hiddenness in a statement.
func (q *stmtCtx) resolveTable(ctx context.Context, ref sqlbind.TableRef, hidden bool, within *viewChain) (sqlbind.Replacement, error) {
	t, err := q.resolveRef(ref, within.namespace(q.ns))
	if err != nil {
		return sqlbind.Replacement{}, err
	}
	within.record(manifest.DependsOnTable, t.Def().Namespace, t.Def().Name, t.Def().ID)
	version, err := q.refVersion(ref)
	if err != nil {
		return sqlbind.Replacement{}, err
	}
	qualified := t.Def().Namespace + "." + t.Def().Name
	src, err := q.tableSource(ctx, t, viewKey{t.Def().ID, version, hidden})
	if err != nil {
		return sqlbind.Replacement{}, err
	}
	if src.query != "" && !ref.Bare {
		return sqlbind.Replacement{Name: src.placeholder, Trusted: src.query}, nil
	}
	if src.relation == "" {
		if src.relation, err = q.createView(ctx, src.query); err != nil {
			return sqlbind.Replacement{}, err
		}
		q.names[strings.Trim(src.relation, `"`)] = qualified
	}
	return sqlbind.Replacement{Name: src.relation}, nil
}

// tableSource returns the source of table t at key's version and
// hiddenness, built on first use in the statement.
func (q *stmtCtx) tableSource(ctx context.Context, t *schemaTable, key viewKey) (*boundSource, error) {
	if src, ok := q.rels.tables[key]; ok {
		return src, nil
	}
	s, err := q.x.providerFor(t.Def()).source(ctx, q, t, key.version, key.hidden)
	if err != nil {
		return nil, err
	}
	src := &boundSource{tableSource: s}
	if s.query != "" {
		src.placeholder = key.placeholder()
		q.names[strings.Trim(src.placeholder, `"`)] = t.Def().Namespace + "." + t.Def().Name
	}
	if q.rels.tables == nil {
		q.rels.tables = map[viewKey]*boundSource{}
	}
	q.rels.tables[key] = src
	return src, nil
}

// boundSource is a table's source in one statement.
type boundSource struct {
	tableSource
	// placeholder is the name the gate checks where query is inlined.
	placeholder string
}

// placeholder is the name the gate checks where the source of k is
// inlined. It is a function of k alone, so that a view's bound form,
// cached across statements (viewFormCache), names each table source as
// every statement does.
func (k viewKey) placeholder() string {
	h := ""
	if k.hidden {
		h = "_h"
	}
	return duckengine.Ident(fmt.Sprintf("__floe_src_%s_%d%s", k.tableID, k.version, h))
}

// refVersion returns the manifest version of an AT (VERSION => n) clause.
func (q *stmtCtx) refVersion(ref sqlbind.TableRef) (uint64, error) {
	if ref.AtVersion == nil {
		return 0, nil
	}
	v := ref.AtVersion.Version
	if n := ref.AtVersion.Param; n > 0 {
		if n > len(q.params) {
			return 0, dberr.New(dberr.InvalidArgument, "AS OF VERSION $%d: only %d parameters were given", n, len(q.params))
		}
		var ok bool
		v, ok = asInt64(q.params[n-1])
		if !ok {
			return 0, dberr.New(dberr.InvalidArgument, "AS OF VERSION $%d: parameter must be an integer, got %T", n, q.params[n-1])
		}
	}
	if v < 1 {
		return 0, dberr.New(dberr.InvalidArgument, "AS OF VERSION %d: versions start at 1", v)
	}
	return uint64(v), nil
}

func asInt64(x any) (int64, bool) {
	switch n := x.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		return int64(n), n <= 1<<63-1
	case float64:
		return int64(n), float64(int64(n)) == n
	}
	return 0, false
}

// resolveRef finds the table a reference names (unqualified: in namespace
// ns) and checks that the principal may read it.
func (q *stmtCtx) resolveRef(ref sqlbind.TableRef, ns string) (*schemaTable, error) {
	if ref.Catalog != "" {
		return nil, dberr.New(dberr.TableNotFound, "table %s.%s.%s does not exist: Floe names are namespace.table", ref.Catalog, ref.Schema, ref.Name)
	}
	n := refName(ref, ns)
	t, err := q.lookup(n)
	if err != nil {
		return nil, err
	}
	if err := q.p.CanRead(t.Def()); err != nil {
		return nil, err
	}
	return t, nil
}

// lookup finds a table by name in the statement's catalog snapshot.
func (q *stmtCtx) lookup(n sqlparse.Name) (*schemaTable, error) {
	ns := n.Namespace
	if ns == "" {
		ns = q.ns
	}
	t, err := q.snap.Table(ns, n.Name)
	if err != nil {
		if _, ok := q.snap.Catalog().Namespace(ns); !ok {
			return nil, dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist (table %s)", ns, n.Name)
		}
		if _, err := q.snap.View(ns, n.Name); err == nil {
			return nil, dberr.New(dberr.InvalidArgument, "%s.%s is a view, not a table: views can only be queried (see DROP VIEW, CREATE OR REPLACE VIEW)", ns, n.Name)
		}
		return nil, dberr.New(dberr.TableNotFound, "table %s.%s does not exist", ns, n.Name)
	}
	return t, nil
}

// query runs a SELECT (or EXPLAIN of one).
func (x *Executor) query(ctx context.Context, q *stmtCtx, s *sqlparse.Select) (Result, error) {
	if res, handled, err := x.pointSelect(ctx, q, s); handled {
		return res, err
	}
	if kb, ok := parseKeyBounds(s.Query, q.params); ok {
		q.bounds = &kb
	}
	b, err := q.bindQuery(ctx, s.Query, false)
	if err != nil {
		return Result{}, err
	}
	text := b.SQL
	if s.Explain {
		text = "EXPLAIN " + text
		if s.Analyze {
			text = "EXPLAIN ANALYZE " + b.SQL
		}
	}
	args, err := q.args(b.Params)
	if err != nil {
		return Result{}, err
	}
	res, err := q.collect(ctx, text, args, !s.Explain)
	if err != nil || !s.Explain {
		return res, err
	}
	// Plans name the segment files a query reads: clients never see
	// local paths. EXPLAIN ANALYZE echoes the statement it ran, which
	// holds Floe's queries for the tables (buffered rows as literals):
	// the client sees its own text there instead.
	for _, row := range res.Rows {
		for i, v := range row {
			if str, ok := v.(string); ok {
				row[i] = q.x.engine.RedactPlan(echoUserText(str, s.Query))
			}
		}
	}
	return res, nil
}

// echoUserText replaces the statement text EXPLAIN ANALYZE echoes in plan
// (a line "EXPLAIN ANALYZE …", line breaks turned into spaces) by the
// user's query.
func echoUserText(plan, query string) string {
	const prefix = "EXPLAIN ANALYZE "
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = prefix + strings.Join(strings.Fields(query), " ")
		}
	}
	return strings.Join(lines, "\n")
}

// args returns the first n request parameters.
func (q *stmtCtx) args(n int) ([]any, error) {
	if n > len(q.params) {
		return nil, dberr.New(dberr.InvalidArgument, "the statement uses $%d but %d parameters were given", n, len(q.params))
	}
	return q.params[:n], nil
}

// collect runs a bound query and reads all its rows. A query without
// parameters that may be cached (a SELECT, not EXPLAIN) runs through the
// connection's prepared-statement cache (duckengine.Session.QueryCached),
// which runs it unprepared when the session holds temporary relations.
func (q *stmtCtx) collect(ctx context.Context, text string, args []any, cacheable bool) (Result, error) {
	var res Result
	if cacheable && len(args) == 0 {
		err := q.sess.QueryCached(ctx, text, func(rows duckengine.Rows) error {
			cols := rows.Columns()
			types := make([]string, len(cols))
			for i := range cols {
				types[i] = rows.ColumnTypeDatabaseTypeName(i)
			}
			dest := make([]driver.Value, len(cols))
			var err error
			res, err = q.readRows(cols, types, func(vals []any) (bool, error) {
				if err := rows.Next(dest); err != nil {
					if err == io.EOF {
						return false, nil
					}
					return false, err
				}
				for i, v := range dest {
					if b, ok := v.([]byte); ok {
						v = bytes.Clone(b)
					}
					vals[i] = v
				}
				return true, nil
			})
			return err
		})
		if err != nil {
			return Result{}, err
		}
	} else {
		rows, err := q.sess.Conn().QueryContext(ctx, text, args...)
		if err != nil {
			return Result{}, err
		}
		defer rows.Close()
		if res, err = q.readSQLRows(rows); err != nil {
			return Result{}, err
		}
	}
	res.Message = fmt.Sprintf("SELECT %d", len(res.Rows))
	return res, nil
}

// readSQLRows is readRows for database/sql's rows.
func (q *stmtCtx) readSQLRows(rows *sql.Rows) (Result, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return Result{}, err
	}
	names := make([]string, len(types))
	dbTypes := make([]string, len(types))
	for i, t := range types {
		names[i], dbTypes[i] = t.Name(), t.DatabaseTypeName()
	}
	ptrs := make([]any, len(types))
	res, err := q.readRows(names, dbTypes, func(vals []any) (bool, error) {
		if !rows.Next() {
			return false, nil
		}
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		return true, rows.Scan(ptrs...)
	})
	if err != nil {
		return Result{}, err
	}
	return res, rows.Err()
}

// readRows reads a result (columns names of DuckDB types types; next
// fills in the values of the next row and says whether there was one),
// counting its size against Options.MaxResultBytes (and the statement's
// admission ticket, the memory guard's measure). DuckDB reports no
// nullability: every column is nullable.
func (q *stmtCtx) readRows(names, types []string, next func(vals []any) (bool, error)) (Result, error) {
	var res Result
	var size int64
	res.Columns = make([]Column, len(types))
	for i := range types {
		res.Columns[i] = Column{Name: names[i], Type: types[i], Nullable: true}
	}
	for {
		vals := make([]any, len(types))
		ok, err := next(vals)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			break
		}
		n := int64(0)
		for _, v := range vals {
			n += resultSize(v)
		}
		size += n
		if q.lim != nil && q.lim.ticket != nil {
			q.lim.ticket.ResultBytes(n)
		}
		if size > q.x.opts.MaxResultBytes {
			return Result{}, dberr.New(dberr.ResourceExhausted,
				"the result is larger than query.max_result_bytes (%d MiB) allows, after %d rows: add LIMIT, select fewer or smaller columns, or aggregate",
				q.x.opts.MaxResultBytes>>20, len(res.Rows))
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, nil
}
