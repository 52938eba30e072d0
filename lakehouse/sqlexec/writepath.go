package sqlexec

import (
	"context"

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
}
