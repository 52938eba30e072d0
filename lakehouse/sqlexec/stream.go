package sqlexec

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/jobs"
	"github.com/floedb/floe/manifest"
)

// STREAM tables: per-user, append-only, rows expire TTLSeconds after they
// were written. Every row carries its write time in the hidden column
// _written_at (the node's clock at INSERT). Expiry has two halves:
//
//   - reads never show an expired row: the view of a STREAM partition
//     filters _written_at > now - TTL, so a row disappears at its TTL
//     whether or not eviction has run;
//   - EvictExpired (run by the jobs scheduler) writes tombstones for
//     expired rows, so that flushes and compaction drop them from storage.
//
// STREAM tables are flushed to segments like the others: the buffer is
// bounded, and a stream with a long TTL would otherwise fill it.

// expiryFilter is the SQL condition that hides expired rows of a STREAM
// table, "" for other tables.
func (x *Executor) expiryFilter(def *manifest.Table) string {
	if def.Type != manifest.TableStream || def.Options.TTLSeconds <= 0 {
		return ""
	}
	cutoff := x.app.Clock()().Add(-time.Duration(def.Options.TTLSeconds) * time.Second).UTC()
	return fmt.Sprintf("%s > TIMESTAMPTZ %s", duckengine.Ident(manifest.ColumnWrittenAt), duckengine.Literal(cutoff.Format("2006-01-02 15:04:05.999999Z07:00")))
}

// EvictExpired deletes the expired rows of every STREAM table (of those
// of tableIDs only, if any are given; every partition, buffered or
// flushed) and returns what it removed per table (jobs.Evictor: the
// scheduler runs it and records the jobs). It is safe to run concurrently
// with writes: rows written now are not expired, and each partition is
// locked against the statements writing it.
func (x *Executor) EvictExpired(ctx context.Context, tableIDs ...string) ([]jobs.Eviction, error) {
	var out []jobs.Eviction
	snap, err := x.app.Schemas().Current(ctx)
	if err != nil {
		return nil, err
	}
	for _, def := range snap.Catalog().Tables {
		if def.Type != manifest.TableStream || def.Options.TTLSeconds <= 0 ||
			(len(tableIDs) > 0 && !slices.Contains(tableIDs, def.ID)) {
			continue
		}
		t, err := snap.TableByID(def.ID)
		if err != nil {
			continue
		}
		ev := jobs.Eviction{TableID: def.ID, StartedAt: x.app.Clock()()}
		parts, err := x.store.Partitions(ctx, def.ID)
		if err != nil {
			return out, err
		}
		for _, p := range x.store.BufferedPartitions(def.ID) {
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
		for _, p := range parts {
			n, err := x.evictPartition(ctx, t, p)
			if err != nil {
				return out, fmt.Errorf("sqlexec: evict %s.%s/%q: %w", def.Namespace, def.Name, p, err)
			}
			ev.Rows += n
			ev.Partitions++
		}
		ev.FinishedAt = x.app.Clock()()
		if ev.Rows > 0 {
			x.log.LogAttrs(ctx, slog.LevelInfo, "evicted expired stream rows", slog.String("table", def.Namespace+"."+def.Name), slog.Int64("rows", ev.Rows))
		}
		out = append(out, ev)
	}
	return out, nil
}

// evictPartition writes tombstones for the expired rows of one partition.
func (x *Executor) evictPartition(ctx context.Context, t *schemaTable, partition string) (int64, error) {
	def := t.Def()
	snap, err := x.app.Schemas().Current(ctx)
	if err != nil {
		return 0, err
	}
	sys := access.Principal{UserID: partition, Role: access.RoleSystem}
	q := &stmtCtx{x: x, p: sys, actor: sys, snap: snap, names: map[string]string{}}
	defer q.close()
	if _, err := q.session(ctx); err != nil {
		return 0, err
	}
	unlock := x.lockPartition(def.ID, partition)
	defer unlock()
	view, err := q.partitionView(ctx, t, partition, 0, true, "", nil)
	if err != nil {
		return 0, err
	}
	k := keyColumnsOf(def)
	proj, cols := k.names, k.cols
	if x.opts.OldValues {
		proj, cols = allColumns(def, ""), def.Columns
	}
	text := fmt.Sprintf("SELECT %s FROM %s WHERE NOT (%s)", strings.Join(proj, ", "), view, x.expiryFilter(def))
	rows, err := q.readValues(ctx, text, 0, cols)
	if err != nil {
		return 0, err
	}
	if err := x.write(ctx, nil, def, partition, k.deletes(def, rows, x.opts.OldValues), unlock); err != nil {
		return 0, err
	}
	return int64(len(rows)), nil
}
