package sqlexec

import (
	"context"

	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// WritePath is how the executor's writes become durable. lakehouse/node
// provides one per role: the node's write buffer (acknowledged after the
// WAL sync, flushed by policy), the direct path (acknowledged after the
// partition manifest commit; nothing to flush), or a read-only path that
// refuses. The executor runs unchanged on any of them.
type WritePath interface {
	// Write makes changes of one partition of t durable, as one atomic
	// batch.
	Write(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) error
	// Apply is Write in two halves: it makes the batch visible and
	// returns durable, which returns nil once the write may be
	// acknowledged; durable must be called exactly once. The executor
	// holds its partition lock across its key check and Apply only, so
	// concurrent writers of one partition share a WAL sync (group
	// commit). A path whose writes are durable when visible returns a
	// durable that only reports the outcome.
	Apply(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) (durable func() error, err error)
	// Flush moves buffered rows of one table ("" for every table) to
	// segments (FLUSH, and before an ALTER changes a schema). A path
	// without a buffer has nothing to do.
	Flush(ctx context.Context, tableID string) error
	// Writable returns nil if this process may write to the warehouse
	// (rows and catalog), or a *dberr.Error saying why not and what to do.
	Writable() error
	// Admit returns nil if a statement that writes may be answered now,
	// or the *dberr.Error its caller gets: READ_ONLY on a process that
	// may not write; on a node, FENCED once another node took the
	// warehouse over and UNAVAILABLE while its writer lease has lapsed
	// (after one bounded renewal attempt). The executor asks before every
	// statement that writes, also one that turns out to change nothing
	// (an UPDATE that matches no row, a FLUSH with nothing buffered,
	// CREATE … IF NOT EXISTS of what exists): its answer is a claim about
	// the warehouse's current state, which only its writer may make.
	Admit(ctx context.Context) error
}

// writes reports whether st may change the warehouse (rows, segments, the
// catalog, users), whatever it turns out to change: the executor runs it
// only once WritePath.Admit says so. Statements that only read, or change
// nothing but this process's session or live queries, do not; any other
// statement does, so a statement kind added later is admitted unless it
// is listed here.
func writes(st sqlparse.Statement) bool {
	switch s := st.(type) {
	case *sqlparse.Select, *sqlparse.ShowNamespaces, *sqlparse.ShowTables, *sqlparse.ShowViews, *sqlparse.Describe,
		*sqlparse.Use, *sqlparse.KillLiveQuery, *sqlparse.Subscribe:
		return false
	case *sqlparse.ExecuteAs:
		return writes(s.Stmt)
	}
	return true
}
