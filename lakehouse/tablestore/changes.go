package tablestore

// The change seam: after a write is acknowledged the storage engine hands
// the change to a ChangeSink (the live-query manager, later a bus to live
// nodes). The engine declares the interface and never imports its
// implementations.

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// ChangeOp is what a change did to its row.
type ChangeOp uint8

// Change operations.
const (
	// OpUpsert: new values for a key whose previous state the writer did
	// not check (system records; changes replayed from segments). The
	// key may or may not have had a row before.
	OpUpsert ChangeOp = iota
	// OpInsert: the key had no live row before.
	OpInsert
	// OpUpdate: the key had a live row; ChangeRow.Old holds it.
	OpUpdate
	// OpDelete: the key's row was deleted; ChangeRow.Old holds it when
	// the writer read it.
	OpDelete
)

// String returns "upsert", "insert", "update" or "delete".
func (o ChangeOp) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "upsert"
}

// op returns what the change does, by the rules of Change's fields.
func (c *Change) op() ChangeOp {
	switch {
	case c.Deleted:
		return OpDelete
	case c.Old != nil:
		return OpUpdate
	case c.Insert:
		return OpInsert
	}
	return OpUpsert
}

// ChangeRow is one row of a ChangeBatch.
type ChangeRow struct {
	Seq uint64
	Op  ChangeOp
	// Values are the row's new values in the batch table's column order
	// (a delete: at least the primary key columns).
	Values row.Row
	// Old are the row's values before the change, for OpUpdate and for an
	// OpDelete whose writer read them; nil otherwise.
	Old row.Row
}

// ChangeBatch is one acknowledged write of one partition: its rows carry
// consecutive _seq values FirstSeq..LastSeq, in order.
type ChangeBatch struct {
	// Table is the table's definition the rows were written with; its
	// SchemaVersion says how Values and Old are laid out.
	Table     *manifest.Table
	Partition string
	// FirstSeq and LastSeq bound the batch's _seq range (inclusive).
	FirstSeq, LastSeq uint64
	Rows              []ChangeRow
	// ManifestVersion is the partition manifest version that committed the
	// batch on the direct path; 0 on the node path (the rows are in the
	// write buffer, not yet in a segment).
	ManifestVersion uint64
}

// ChangeSink receives every acknowledged write of the Store or
// DirectWriter it is given to: on the node path after the buffer's WAL
// sync, on the direct path after the partition manifest commit. The
// writer calls Publish synchronously, before its Write returns to its
// caller, so Publish must be quick and must not block (enqueue and
// return) and must not write to the store.
//
// Order: for each partition, Publish is called in _seq order, one call at
// a time, within one process: a batch whose Write returned before an
// earlier batch's is held back until that one is published. Batches of
// different partitions may be published concurrently. A range of _seq
// values that was taken but never acknowledged (a WAL sync that failed)
// is skipped: the next batch's FirstSeq is then above the previous
// LastSeq+1, and a consumer that needs every change fills the gap with
// Store.ReadChanges. Across processes (several direct writers) there is
// no order; consumers order by _seq per partition and de-duplicate.
//
// The batch and its rows belong to the sink: the writer does not modify
// them after Publish. Implementations must be safe for concurrent use.
type ChangeSink interface {
	Publish(b ChangeBatch)
}

// batchOf builds the ChangeBatch of changes numbered from first.
func batchOf(t *manifest.Table, partition string, first uint64, changes []Change) ChangeBatch {
	b := ChangeBatch{Table: t, Partition: partition, FirstSeq: first, LastSeq: first + uint64(len(changes)) - 1,
		Rows: make([]ChangeRow, len(changes))}
	for i := range changes {
		c := &changes[i]
		b.Rows[i] = ChangeRow{Seq: first + uint64(i), Op: c.op(), Values: c.Values, Old: c.Old}
	}
	return b
}

// sequencer publishes one partition's batches in _seq order. A batch is
// published when every _seq below it was published or skipped; until then
// it waits in parked. Publish runs under mu, so one partition's batches
// reach the sink one at a time.
type sequencer struct {
	mu sync.Mutex
	// next is the lowest _seq not yet published or skipped.
	next   uint64
	parked map[uint64]ChangeBatch // by FirstSeq
	// skipped maps the first _seq of a range never acknowledged to its
	// last.
	skipped map[uint64]uint64
}

// deliver publishes b now or when its turn comes.
func (q *sequencer) deliver(sink ChangeSink, b ChangeBatch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if b.FirstSeq != q.next {
		if q.parked == nil {
			q.parked = map[uint64]ChangeBatch{}
		}
		q.parked[b.FirstSeq] = b
		return
	}
	sink.Publish(b)
	q.next = b.LastSeq + 1
	q.drainLocked(sink)
}

// skip records that first..last will never be published.
func (q *sequencer) skip(sink ChangeSink, first, last uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if first != q.next {
		if q.skipped == nil {
			q.skipped = map[uint64]uint64{}
		}
		q.skipped[first] = last
		return
	}
	q.next = last + 1
	q.drainLocked(sink)
}

func (q *sequencer) drainLocked(sink ChangeSink) {
	for {
		if b, ok := q.parked[q.next]; ok {
			delete(q.parked, q.next)
			sink.Publish(b)
			q.next = b.LastSeq + 1
			continue
		}
		if last, ok := q.skipped[q.next]; ok {
			delete(q.skipped, q.next)
			q.next = last + 1
			continue
		}
		return
	}
}

// sequencer returns p's sequencer, creating it on first use with the
// buffer's current counter: the caller has seeded p and has not written
// yet, and every Write of p obtains the sequencer before it writes, so no
// _seq above the counter was taken before the sequencer existed.
func (s *Store) sequencer(p wbuf.PartitionKey) *sequencer {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.mu.seqs[p]
	if !ok {
		q = &sequencer{next: s.buf.LastSeq(p) + 1}
		s.mu.seqs[p] = q
	}
	return q
}

// ReplayBounds returns what a consumer resuming after a _seq of the
// partition needs to know about it:
//
//   - floor, the lowest _seq from which ReadChanges yields every change:
//     one above the newest tombstone compaction has dropped
//     (manifest.Partition.PurgedThrough), 1 if none was. A replay from
//     below it may miss deletes.
//   - head, the highest _seq this process knows the partition to have
//     reached: the latest manifest's LastSeq, or the write buffer's
//     counter if higher. A position above it was never reached in the
//     partition's history as this process knows it: its changes were
//     given up by a take-over (the new holder numbers its own from the
//     last flushed _seq), or it comes from elsewhere.
func (s *Store) ReplayBounds(ctx context.Context, t *manifest.Table, partition string) (floor, head uint64, err error) {
	m, err := s.latest(ctx, t, partition)
	if err != nil {
		return 0, 0, fmt.Errorf("tablestore: replay bounds of %s/%q: %w", t.ID, partition, err)
	}
	head = max(m.LastSeq, s.buf.LastSeq(wbuf.PartitionKey{TableID: t.ID, Partition: partition}))
	return m.PurgedThrough + 1, head, nil
}

// ReadChanges yields the row versions of one partition of t with fromSeq
// <= _seq <= toSeq (toSeq 0: no upper bound) in _seq order, from the
// partition's segments (latest manifest) and the write buffer: for a live
// subscriber resuming from a _seq it has seen, or a consumer filling a gap
// in published batches. Rows are presented in t's current schema.
//
// What a replay can say is less than what was published:
//   - no Old values, and no insert/update distinction: a version is
//     OpDelete if it is a tombstone, OpUpsert otherwise;
//   - a segment holds only the latest version of each key within the
//     _seq range of its flush (or direct commit), so versions that a later
//     version of the same key replaced before the flush are gone: the
//     replay yields the state after the range, not every step (buffered
//     versions, not yet flushed, are all there);
//   - compaction drops tombstones older than its TombstoneRetention and
//     GC drops old manifests: a consumer that resumes from further back
//     than that must re-read the partition instead (see ReplayFloor).
//
// Each segment is read whole and its versions in the range sorted in
// memory, so the memory held is one segment's range at a time.
func (s *Store) ReadChanges(ctx context.Context, t *manifest.Table, partition string, fromSeq, toSeq uint64) iter.Seq2[ChangeRow, error] {
	return func(yield func(ChangeRow, error) bool) {
		fail := func(err error) {
			yield(ChangeRow{}, fmt.Errorf("tablestore: read changes of %s/%q: %w", t.ID, partition, err))
		}
		if toSeq == 0 {
			toSeq = ^uint64(0)
		}
		if fromSeq > toSeq {
			return
		}
		pk, err := pkIndexes(t)
		if err != nil {
			fail(err)
			return
		}
		// As in ScanFiles: the buffer snapshot first, so that a flush
		// committing meanwhile shows its rows in both, never in neither.
		snap := s.buf.Snapshot()
		defer snap.Close()
		m, err := s.latest(ctx, t, partition)
		if err != nil {
			fail(err)
			return
		}
		emit := func(vs []row.Version) bool {
			slices.SortFunc(vs, func(a, b row.Version) int {
				switch {
				case a.Seq < b.Seq:
					return -1
				case a.Seq > b.Seq:
					return 1
				}
				return 0
			})
			for _, v := range vs {
				op := OpUpsert
				if v.Deleted {
					op = OpDelete
				}
				if !yield(ChangeRow{Seq: v.Seq, Op: op, Values: v.Values}, nil) {
					return false
				}
			}
			return true
		}
		for _, seg := range m.Segments {
			if seg.SeqMax < fromSeq || seg.SeqMin > toSeq || seg.Rows == 0 {
				continue
			}
			var vs []row.Version
			for kv, err := range s.segmentSource(ctx, t, pk, seg) {
				if err != nil {
					fail(err)
					return
				}
				if kv.v.Seq >= fromSeq && kv.v.Seq <= toSeq {
					vs = append(vs, kv.v)
				}
			}
			if !emit(vs) {
				return
			}
		}
		if toSeq <= m.LastSeq {
			return
		}
		var vs []row.Version
		p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
		// Buffered versions with _seq <= LastSeq are flushed already (see
		// Flush); the segments yielded those.
		opts := wbuf.ScanOptions{AfterSeq: m.LastSeq}
		if fromSeq > 0 {
			opts.AfterSeq = max(opts.AfterSeq, fromSeq-1)
		}
		if toSeq != ^uint64(0) {
			opts.UpToSeq = toSeq
		}
		for e, err := range snap.Versions(ctx, p, opts) {
			if err != nil {
				fail(err)
				return
			}
			if e.Version.SchemaVersion != t.SchemaVersion {
				fail(fmt.Errorf("buffered version _seq %d has schema v%d, table is at v%d; flush before altering",
					e.Version.Seq, e.Version.SchemaVersion, t.SchemaVersion))
				return
			}
			vs = append(vs, e.Version)
		}
		emit(vs)
	}
}
