package livequery

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// Reader replays a partition's committed changes
// (tablestore.Store.ReadChanges; sqlexec.Executor.ReadChanges).
type Reader interface {
	ReadChanges(ctx context.Context, t *manifest.Table, partition string, fromSeq, toSeq uint64) iter.Seq2[tablestore.ChangeRow, error]
}

// served is a partition with started subscriptions and the lowest _seq
// they have (their snapshots or resume points).
type served struct {
	table     *manifest.Table
	partition string
	floor     uint64
}

func (m *Manager) served() []served {
	m.mu.RLock()
	defer m.mu.RUnlock()
	by := map[[2]string]*served{}
	for _, s := range m.subs {
		s.mu.Lock()
		started, floor := s.started, s.floor
		s.mu.Unlock()
		if !started {
			continue
		}
		k := [2]string{s.Spec.Table.ID, s.Spec.Partition}
		if e, ok := by[k]; !ok {
			by[k] = &served{table: s.Spec.Table, partition: s.Spec.Partition, floor: floor}
		} else {
			e.floor = min(e.floor, floor)
		}
	}
	out := make([]served, 0, len(by))
	for _, e := range by {
		out = append(out, *e)
	}
	return out
}

// Poll delivers changes that other processes committed to the object
// store, until ctx ends: every interval, for each partition with started
// subscriptions, it reads the committed changes after the last _seq it
// delivered there (at first: the lowest snapshot of the partition's
// subscriptions) and hands them to OnTableChange as one batch.
// Subscribers drop what their snapshot holds, so a change is delivered at
// most once per subscriber, in _seq order. This is how a live node learns
// of writes it did not make (the gap fill of a lost publish; with no bus,
// the only way): a node-mode writer's changes arrive once flushed, a
// direct-mode writer's (functions) once committed.
func (m *Manager) Poll(ctx context.Context, r Reader, interval time.Duration) {
	last := map[[2]string]uint64{}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seen := map[[2]string]bool{}
		for _, sv := range m.served() {
			k := [2]string{sv.table.ID, sv.partition}
			seen[k] = true
			from, ok := last[k]
			if !ok {
				from = sv.floor
			}
			b := tablestore.ChangeBatch{Table: sv.table, Partition: sv.partition}
			for cr, err := range r.ReadChanges(ctx, sv.table, sv.partition, from+1, 0) {
				if err != nil {
					m.log.LogAttrs(ctx, slog.LevelWarn, "live: poll of committed changes failed; retrying next interval",
						slog.String("table_id", sv.table.ID), slog.Any("error", err))
					b.Rows = nil
					break
				}
				b.Rows = append(b.Rows, cr)
			}
			if len(b.Rows) == 0 {
				last[k] = from
				continue
			}
			b.FirstSeq, b.LastSeq = b.Rows[0].Seq, b.Rows[len(b.Rows)-1].Seq
			m.OnTableChange(b)
			last[k] = b.LastSeq
		}
		for k := range last {
			if !seen[k] {
				delete(last, k)
			}
		}
	}
}
