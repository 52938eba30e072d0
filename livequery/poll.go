package livequery

import (
	"context"
	"iter"

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

// partitionFloor reports whether a partition of table tableID has
// subscriptions (indexed) and, when floor is asked for, whether any has
// started and the lowest _seq floor among the started ones.
func (m *Manager) partitionFloor(tableID, partition string, wantFloor bool) (indexed, started bool, floor uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	pi := m.index[tableID][partition]
	if pi == nil || pi.empty() {
		return false, false, 0
	}
	if !wantFloor {
		return true, false, 0
	}
	visit := func(s *Subscription) {
		s.mu.Lock()
		st, f := s.started, s.floor
		s.mu.Unlock()
		if st && (!started || f < floor) {
			started, floor = true, f
		}
	}
	for s := range pi.scan {
		visit(s)
	}
	for _, byVal := range pi.eq {
		for _, subs := range byVal {
			for _, s := range subs {
				visit(s)
			}
		}
	}
	return true, started, floor
}
