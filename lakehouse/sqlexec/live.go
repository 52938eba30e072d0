package sqlexec

import (
	"context"
	"database/sql/driver"
	"fmt"
	"iter"
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
	// Options of the statement.
	BatchSize, LastRows int64
	FromSeq             uint64
	HasFromSeq          bool
	// Query is the statement's text.
	Query string
}

// PlanLive binds SUBSCRIBE TO … (sql, one statement) for p: it resolves
// the table in namespace ns and checks p's right to read it with the same
// check as SELECT (Principal.canRead). Views and SYSTEM tables are
// refused (UNSUPPORTED): they have no change stream.
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
	snap, err := x.app.Schemas().AtLeast(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("sqlexec: load catalog: %w", err)
	}
	q := &stmtCtx{x: x, p: p, actor: p, ns: ns, params: params, snap: snap, names: map[string]string{}}
	tbl, err := q.lookup(st.Table)
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

// ReadChanges is the storage engine's replay of a partition's changes
// (tablestore.Store.ReadChanges), for live queries' initial rows and
// resumes.
func (x *Executor) ReadChanges(ctx context.Context, t *manifest.Table, partition string, fromSeq, toSeq uint64) iter.Seq2[tablestore.ChangeRow, error] {
	return x.store.ReadChanges(ctx, t, partition, fromSeq, toSeq)
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
