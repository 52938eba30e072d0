package sqlexec

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// LiveQueries is the live-query engine as the executor sees it, for KILL
// LIVE QUERY (the livequery package implements it; the executor does not
// import it).
type LiveQueries interface {
	// Kill ends subscription id, naming by as who ended it; allowed
	// decides whether the caller may end a subscription of that user.
	Kill(id, by string, allowed func(user string) bool) error
	// LiveList returns the subscriptions of the users visible accepts,
	// for system.live_queries.
	LiveList(visible func(user string) bool) []LiveQueryInfo
}

// LiveQueryInfo is one row of system.live_queries.
type LiveQueryInfo struct {
	ID, UserID, Namespace, Table, Query, NodeID string
	Created                                     time.Time
	LastSeq                                     uint64
}

// SetLiveQueries plugs the live-query engine in; call it before serving.
// Without one, KILL LIVE QUERY reports that no live queries run here.
func (x *Executor) SetLiveQueries(l LiveQueries) { x.live = l }

// LivePlan is a bound, authorized subscription: what a live query reads
// and who may see it.
type LivePlan struct {
	// Table is the table's definition in the catalog the plan was bound
	// with.
	Table *manifest.Table
	// Partition is the partition the principal may read: its user id for
	// USER and STREAM tables, "" for SHARED tables.
	Partition string
	// Columns are the projected columns' indexes into Table.Columns (never
	// the hidden _rowid), Names their names.
	Columns []int
	Names   []string
	// Where is the WHERE text ("" for none), with Params its parameters'
	// values; livequery/filter compiles it.
	Where  string
	Params []any
	// View is the qualified name of the view subscribed to ("" for a
	// table). ViewWhere are the filters of the view (and of the views it
	// reads), each over Table.Columns, all of which a row must pass as
	// well as Where; Visible are the indexes into Table.Columns of the
	// columns the view shows: Where and Columns may name only those.
	View      string
	ViewWhere []string
	Visible   []int
	// Options of the statement.
	BatchSize, LastRows int64
	FromSeq             uint64
	HasFromSeq          bool
	// Query is the statement's text.
	Query string
}

// PlanLive binds SUBSCRIBE TO … (sql, one statement) for p: it resolves
// the table in namespace ns and checks p's right to read it with the same
// check as SELECT (Principal.canRead). A view is subscribable when it
// reduces to one table: its query (and that of every view it reads) is a
// SELECT of plain columns from one table or view with an optional WHERE —
// what SUBSCRIBE TO accepts; the rights are those of SELECT on the view
// (a view has none of its own: the caller must be able to read the
// table). Other views and SYSTEM tables are refused (UNSUPPORTED): they
// have no change stream.
func (x *Executor) PlanLive(ctx context.Context, p access.Principal, sql, ns string, params []any) (*LivePlan, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	stmts, err := sqlparse.Parse(sql)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, dberr.New(dberr.InvalidArgument, "a live query is one SUBSCRIBE TO statement, got %d statements", len(stmts))
	}
	st, ok := stmts[0].(*sqlparse.Subscribe)
	if !ok {
		return nil, dberr.New(dberr.InvalidArgument, "a live query starts with SUBSCRIBE TO (e.g. SUBSCRIBE TO SELECT * FROM ns.t WHERE …)")
	}
	if ns == "" {
		ns = DefaultNamespace
	}
	snap, err := x.catalog(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("sqlexec: load catalog: %w", err)
	}
	q := &stmtCtx{x: x, p: p, actor: p, ns: ns, params: params, snap: snap, names: map[string]string{}}
	var view *liveView
	tblName := st.Table
	if tblName.Namespace == "" {
		tblName.Namespace = ns
	}
	if _, err := snap.Table(tblName.Namespace, tblName.Name); err != nil {
		if v, verr := snap.View(tblName.Namespace, tblName.Name); verr == nil {
			if view, err = q.reduceView(v.Def(), 0); err != nil {
				return nil, err
			}
			tblName = view.table
		}
	}
	tbl, err := q.lookup(tblName)
	if err != nil {
		return nil, err
	}
	def := tbl.Def()
	if err := p.CanRead(def); err != nil {
		return nil, err
	}
	if def.Type == manifest.TableSystem {
		return nil, dberr.New(dberr.Unsupported, "%s.%s is a system table; live queries subscribe to USER, STREAM and SHARED tables", def.Namespace, def.Name)
	}
	plan := &LivePlan{Table: def, Params: params, BatchSize: st.BatchSize, LastRows: st.LastRows,
		FromSeq: st.FromSeq, HasFromSeq: st.HasFromSeq, Query: st.Text()}
	if def.Type == manifest.TableUser || def.Type == manifest.TableStream {
		plan.Partition = p.UserID
	}
	if st.Where != nil {
		plan.Where = st.Where.Text
	}
	if view != nil {
		return view.plan(plan, st)
	}
	if st.Columns == nil {
		for i, c := range def.Columns {
			if !def.IsHiddenColumn(c.Name) {
				plan.Columns = append(plan.Columns, i)
				plan.Names = append(plan.Names, c.Name)
			}
		}
	} else {
		for _, name := range st.Columns {
			i := columnIndex(def, name)
			if i < 0 || def.IsHiddenColumn(name) {
				return nil, dberr.New(dberr.ColumnNotFound, "column %s does not exist in %s.%s", sqlparse.QuoteIdent(name), def.Namespace, def.Name)
			}
			plan.Columns = append(plan.Columns, i)
			plan.Names = append(plan.Names, name)
		}
	}
	return plan, nil
}

// CatalogVersion is the version of the catalog snapshot statements bind
// with now (an atomic load; live streams re-check when it changes).
func (x *Executor) CatalogVersion() uint64 { return x.app.Schemas().Stats().Version }

// ReadChanges is the storage engine's replay of a partition's changes
// (tablestore.Store.ReadChanges), for live queries' initial rows and
// resumes.
func (x *Executor) ReadChanges(ctx context.Context, t *manifest.Table, partition string, fromSeq, toSeq uint64) iter.Seq2[tablestore.ChangeRow, error] {
	return x.store.ReadChanges(ctx, t, partition, fromSeq, toSeq)
}

// ReplayBounds are the lowest _seq from which ReadChanges yields every
// change of the partition and the highest it has reached
// (tablestore.Store.ReplayBounds): a resume from below the first or above
// the second must reload instead.
func (x *Executor) ReplayBounds(ctx context.Context, t *manifest.Table, partition string) (floor, head uint64, err error) {
	return x.store.ReplayBounds(ctx, t, partition)
}

// killLive runs KILL LIVE QUERY: a dba ends any subscription, other users
// their own.
func (x *Executor) killLive(_ context.Context, q *stmtCtx, s *sqlparse.KillLiveQuery) (Result, error) {
	if x.live == nil {
		return Result{}, dberr.New(dberr.InvalidArgument, "live query %s does not exist: this node runs no live queries", s.ID)
	}
	p := q.actor
	err := x.live.Kill(s.ID, p.Label(), func(user string) bool { return p.Role.AtLeast(access.RoleDBA) || user == p.UserID })
	if err != nil {
		return Result{}, err
	}
	return Result{Message: "KILL LIVE QUERY"}, nil
}

// liveQueryRows are the rows of system.live_queries: every subscription on
// this node for a dba, the caller's own otherwise.
func (x *Executor) liveQueryRows(q *stmtCtx) [][]driver.Value {
	if x.live == nil {
		return nil
	}
	p := q.p
	var out [][]driver.Value
	for _, l := range x.live.LiveList(func(user string) bool { return p.Role.AtLeast(access.RoleDBA) || user == p.UserID }) {
		out = append(out, []driver.Value{l.ID, l.UserID, l.Namespace, l.Table, l.Query, l.NodeID, l.Created.UTC(), int64(l.LastSeq)})
	}
	return out
}

// liveView is a view reduced to one table: what SUBSCRIBE TO a view reads.
type liveView struct {
	name  string // the view's qualified name
	table sqlparse.Name
	// columns are the names of the columns the view shows, in order;
	// where the filters of the view and the views it reads.
	columns []string
	where   []string
}

// reduceView reduces view v to the table it reads, or says why it cannot
// be subscribed to.
func (q *stmtCtx) reduceView(v *manifest.View, depth int) (*liveView, error) {
	refuse := func(why string, args ...any) error {
		return dberr.New(dberr.Unsupported, "view %s cannot be subscribed to: %s; a live query follows one table, so a subscribable view is a SELECT of plain columns from one table or view with an optional WHERE of the supported filters (docs/API.md)",
			v.QualifiedName(), fmt.Sprintf(why, args...))
	}
	if depth >= maxViewDepth {
		return nil, dberr.New(dberr.ViewBroken, "views are nested more than %d deep at %s", maxViewDepth, v.QualifiedName())
	}
	stmts, err := sqlparse.Parse("SUBSCRIBE TO " + v.SQL)
	if err != nil {
		msg := err.Error()
		var de *dberr.Error
		if errors.As(err, &de) {
			msg = de.Msg
		}
		return nil, refuse("its query (%s) is not a single-table SELECT: %s", v.SQL, msg)
	}
	inner, ok := stmts[0].(*sqlparse.Subscribe)
	if len(stmts) != 1 || !ok || len(inner.Options) > 0 {
		return nil, refuse("its query (%s) is not a single-table SELECT", v.SQL)
	}
	name := inner.Table
	if name.Namespace == "" {
		name.Namespace = v.Namespace // a view's names resolve in its own namespace
	}
	lv := &liveView{name: v.QualifiedName(), table: name}
	var available []string // what the inner relation shows
	if t, err := q.snap.Table(name.Namespace, name.Name); err == nil {
		def := t.Def()
		for _, c := range def.Columns {
			if !def.IsHiddenColumn(c.Name) {
				available = append(available, c.Name)
			}
		}
	} else if iv, err := q.snap.View(name.Namespace, name.Name); err == nil {
		in, err := q.reduceView(iv.Def(), depth+1)
		if err != nil {
			return nil, err
		}
		lv.table, lv.where, available = in.table, in.where, in.columns
	} else {
		return nil, dberr.New(dberr.ViewBroken, "view %s reads %s, which no longer exists", v.QualifiedName(), name)
	}
	picked := inner.Columns
	if picked == nil {
		picked = available
	}
	for _, c := range picked {
		if !slices.Contains(available, c) {
			return nil, dberr.New(dberr.ViewBroken, "view %s reads column %s of %s, which no longer exists", v.QualifiedName(), sqlparse.QuoteIdent(c), name)
		}
	}
	// The view shows the columns stored at its creation (as a query of
	// it does), by name.
	for _, c := range v.Columns {
		if !slices.Contains(picked, c.Name) {
			return nil, dberr.New(dberr.ViewBroken, "view %s shows column %s, which its query no longer yields", v.QualifiedName(), sqlparse.QuoteIdent(c.Name))
		}
		lv.columns = append(lv.columns, c.Name)
	}
	if inner.Where != nil {
		lv.where = append(lv.where, inner.Where.Text)
	}
	return lv, nil
}

// plan completes plan, bound to the view's table, with the view's
// columns and filters and the statement's columns.
func (v *liveView) plan(plan *LivePlan, st *sqlparse.Subscribe) (*LivePlan, error) {
	def := plan.Table
	plan.View, plan.ViewWhere = v.name, v.where
	for _, c := range v.columns {
		plan.Visible = append(plan.Visible, columnIndex(def, c))
	}
	names := st.Columns
	if names == nil {
		names = v.columns
	}
	for _, name := range names {
		if !slices.Contains(v.columns, name) {
			return nil, dberr.New(dberr.ColumnNotFound, "column %s does not exist in view %s", sqlparse.QuoteIdent(name), v.name)
		}
		plan.Columns = append(plan.Columns, columnIndex(def, name))
		plan.Names = append(plan.Names, name)
	}
	return plan, nil
}
