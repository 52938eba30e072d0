package wbuf

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floedb/floe/lakehouse/row"
)

// Errors. Test with errors.Is; they are wrapped with the operation and the
// partition concerned.
var (
	// ErrClosed: the Buffer (or the Snapshot) is closed.
	ErrClosed = errors.New("wbuf: closed")
	// ErrFull: the write would take the buffered bytes above
	// Options.MaxBytes. Nothing was written; retry after a flush.
	ErrFull = errors.New("wbuf: buffer full")
	// ErrInvalid: an argument is invalid (empty table ID or key, …).
	ErrInvalid = errors.New("wbuf: invalid argument")
	// ErrCorrupt: a stored record does not decode, or the buffer directory
	// holds something else than a write buffer of this format.
	ErrCorrupt = errors.New("wbuf: corrupt buffer")
)

// Buffer is the node's write buffer: row versions per partition in a local
// Pebble database, each version stamped with its partition's next _seq,
// acknowledged once the WAL is synced, kept until a flush has moved them to
// a segment (DeleteUpTo).
//
// Invariants, per partition:
//   - _seq values are assigned consecutively from the partition's counter
//     (lastSeq+1, lastSeq+2, …), strictly increasing in commit order, and
//     never reused: the counter is persisted in the same Pebble batch as
//     the versions it numbers, and a Write returns only once that batch is
//     durable.
//   - Versions become visible in _seq order: a snapshot that shows _seq N
//     shows every version with a smaller _seq still buffered.
//   - The persisted partition state (counter and statistics) always agrees
//     with the partition's versions: every batch that changes the versions
//     rewrites it.
//
// All methods are safe for concurrent use. Close waits for the operations
// in progress (including Snapshot iterations), closes the Snapshots still
// open and then Pebble.
type Buffer struct {
	db     *pebble.DB
	opts   Options
	logger *slog.Logger

	// bytes is the buffered bytes of all partitions (sum of state.bytes),
	// plus the reservations of Writes in progress.
	bytes atomic.Int64

	// changes numbers the partitions' state changes: each change takes
	// the next value (partition.mu.changedAt) after it is applied to
	// Pebble, and a Snapshot notes the value before it is taken, so that
	// it can tell whether a partition's in-memory state is the one it
	// shows (Buffer.stateAsOf).
	changes atomic.Uint64
	// statePebbleReads counts state records read from Pebble snapshots
	// (tests: the in-memory shortcut is taken).
	statePebbleReads atomic.Int64

	// testHookDeleteScanned, if set, runs in DeleteUpTo between the scan
	// of the snapshot and the apply (tests: writes during the scan).
	testHookDeleteScanned func()

	mu struct {
		sync.Mutex
		// closed is set by Close; then no operation starts.
		closed bool
		// inflight counts operations in progress; idle is closed when it
		// drops to 0 after closed was set.
		inflight int
		idle     chan struct{}
		// parts holds every partition the buffer has a state for.
		parts map[PartitionKey]*partition
		// snaps are the Snapshots not yet closed.
		snaps map[*Snapshot]struct{}
	}
}

// partition is the in-memory state of one partition.
type partition struct {
	key      PartitionKey
	stateKey []byte
	prefix   []byte // version key prefix

	// delMu serializes DeleteUpTo calls of the partition.
	delMu sync.Mutex

	// mu is held while a seq is assigned and the batch is applied, so that
	// batches of one partition reach Pebble in seq order (see Write).
	mu struct {
		sync.Mutex
		st state
		// changedAt is the Buffer.changes value taken by the last change
		// of st, after it was applied to Pebble (0: none since Open). Set
		// with st, under mu.
		changedAt uint64
		// While a DeleteUpTo scans a snapshot, since records the first
		// seq and the oldest write time of the versions written after that
		// snapshot (sinceFirst 0: none yet).
		tracking    bool
		sinceFirst  uint64
		sinceOldest int64
	}
}

// setState installs st, just applied to Pebble as the partition's state
// record, as its in-memory state. The caller holds part.mu.
func (part *partition) setState(b *Buffer, st state) {
	part.mu.st = st
	part.mu.changedAt = b.changes.Add(1)
}

// stateAsOf returns p's in-memory state if it is the state a Snapshot
// taken after the change counter read at shows: when the partition's last
// state change took its number at or before at. That change was applied
// to Pebble before it took its number, hence before the snapshot was
// taken, and no later change is applied (a change holds part.mu from its
// apply until its number is set). ok is false otherwise: the caller reads
// the state record from its snapshot.
func (b *Buffer) stateAsOf(p PartitionKey, at uint64) (st state, ok bool) {
	b.mu.Lock()
	part := b.mu.parts[p]
	b.mu.Unlock()
	if part == nil {
		// parts holds every partition with a state record (Open reads
		// them all; begin adds a partition before its first write) and
		// never drops one: p has no record, now or in any snapshot.
		return state{}, true
	}
	part.mu.Lock()
	defer part.mu.Unlock()
	if part.mu.changedAt > at {
		return state{}, false
	}
	return part.mu.st, true
}

func newPartition(p PartitionKey) *partition {
	return &partition{key: p, stateKey: stateKey(p), prefix: versionPrefix(p)}
}

// Open opens (creating if needed) the buffer in opts.Dir and recovers it:
// Pebble replays its WAL, so every Write that returned nil is present, and
// the partition states (seq counters and statistics) are read back.
func Open(opts Options) (*Buffer, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cache := pebble.NewCache(opts.pebbleCacheSize())
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{
		FS:                          opts.fs,
		Logger:                      pebbleLogger{logger: opts.Logger, exit: opts.exit},
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: memTableStopWrites,
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("wbuf: open %s: %w", opts.Dir, err)
	}
	b := &Buffer{db: db, opts: opts, logger: opts.Logger}
	b.mu.parts = map[PartitionKey]*partition{}
	b.mu.snaps = map[*Snapshot]struct{}{}
	if err := b.recover(); err != nil {
		return nil, errors.Join(fmt.Errorf("wbuf: open %s: %w", opts.Dir, err), db.Close())
	}
	if invariantsEnabled {
		if err := b.checkStates(); err != nil {
			return nil, errors.Join(fmt.Errorf("wbuf: open %s: %w", opts.Dir, err), db.Close())
		}
	}
	var rows int64
	for _, p := range b.mu.parts {
		rows += p.mu.st.rows
	}
	b.logger.LogAttrs(context.Background(), slog.LevelInfo, "write buffer opened",
		slog.String("dir", opts.Dir), slog.Int("partitions", len(b.mu.parts)),
		slog.Int64("rows", rows), slog.Int64("bytes", b.bytes.Load()))
	return b, nil
}

// recover checks the format marker (writing it into a new buffer) and
// loads every partition state.
func (b *Buffer) recover() error {
	v, closer, err := b.db.Get(metaFormatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := b.checkEmpty(); err != nil {
			return err
		}
		if err := b.db.Set(metaFormatKey, []byte(strconv.Itoa(bufferFormat)), pebble.Sync); err != nil {
			return fmt.Errorf("write format marker: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read format marker: %w", err)
	default:
		f := string(v)
		_ = closer.Close()
		if f != strconv.Itoa(bufferFormat) {
			return fmt.Errorf("%w: buffer format %q, this version reads format %d", ErrCorrupt, f, bufferFormat)
		}
	}

	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindState}, UpperBound: []byte{kindState + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		p, rest, err := decodePartition(it.Key()[1:])
		if err == nil && len(rest) != 0 {
			err = fmt.Errorf("%w: state key %x has trailing bytes", ErrCorrupt, it.Key())
		}
		if err != nil {
			return err
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		st, err := decodeState(val)
		if err != nil {
			return fmt.Errorf("partition %s: %w", p, err)
		}
		part := newPartition(p)
		part.mu.st = st
		b.mu.parts[p] = part
		b.bytes.Add(st.bytes)
	}
	return it.Error()
}

// checkEmpty fails if a database without a format marker holds any key: it
// is not a write buffer.
func (b *Buffer) checkEmpty() error {
	it, err := b.db.NewIter(nil)
	if err != nil {
		return err
	}
	defer it.Close()
	if it.First() {
		return fmt.Errorf("%w: the directory holds a Pebble database that is not a write buffer (key %q)", ErrCorrupt, it.Key())
	}
	return it.Error()
}

// Close waits for the operations in progress, closes the Snapshots still
// open and closes Pebble. Every acknowledged write is already durable;
// Close adds no durability. Later calls return nil; other methods return
// ErrClosed.
func (b *Buffer) Close() error {
	b.mu.Lock()
	if b.mu.closed {
		b.mu.Unlock()
		return nil
	}
	b.mu.closed = true
	var idle chan struct{}
	if b.mu.inflight > 0 {
		idle = make(chan struct{})
		b.mu.idle = idle
	}
	b.mu.Unlock()
	if idle != nil {
		<-idle
	}
	// No operation is running or can start, so no Snapshot is in use.
	b.mu.Lock()
	snaps := b.mu.snaps
	b.mu.snaps = nil
	b.mu.Unlock()
	for s := range snaps {
		s.release()
	}
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("wbuf: close: %w", err)
	}
	return nil
}

// begin registers an operation, failing with ErrClosed once Close started.
// If p is not nil it also returns p's partition, creating it if create is
// set (otherwise nil when the buffer never held p). Every successful begin
// must be followed by end.
func (b *Buffer) begin(p *PartitionKey, create bool) (*partition, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return nil, ErrClosed
	}
	b.mu.inflight++
	if p == nil {
		return nil, nil
	}
	part := b.mu.parts[*p]
	if part == nil && create {
		part = newPartition(*p)
		b.mu.parts[*p] = part
	}
	return part, nil
}

// end ends an operation registered by begin.
func (b *Buffer) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.inflight--
	if b.mu.inflight == 0 && b.mu.idle != nil {
		close(b.mu.idle)
		b.mu.idle = nil
	}
}

// syncWAL waits until everything written to Pebble's WAL so far, in
// particular every batch applied with NoSync before the call, is durable.
//
// It commits an empty LogData record with Sync: Pebble writes WAL records
// in commit order (commitPipeline.prepare, under commitPipeline.mu), a
// sync request makes the log writer fsync everything queued before it
// (record.LogWriter.flushLoop: "when a sync is requested, any previously
// queued flush work will be synced"), and a WAL rotation closes and syncs
// the previous log before the next one is created (DB.rotateWAL). Pebble's
// own Checkpoint(WithFlushedWAL) uses the same call for the same purpose.
// Concurrent calls share fsyncs: the log writer syncs all pending
// requests at once.
func (b *Buffer) syncWAL() error {
	return b.db.LogData(nil, pebble.Sync)
}

// Mutation is one row change to write.
type Mutation struct {
	// Key is the row's primary key encoded with row.AppendKey. It is
	// opaque to the buffer but must be non-empty, and no key of a partition
	// may be a proper prefix of another (row.AppendKey guarantees this for
	// one table's key columns): versions are ordered by Key, newest first.
	Key []byte
	// Deleted marks a tombstone.
	Deleted bool
	// SchemaVersion is the table schema version Values are laid out in.
	SchemaVersion uint32
	// Values in that schema version's column order.
	Values row.Row
}

// Write appends one version per mutation to partition p as one atomic
// batch, numbered with consecutive _seq values first, first+1, …; the
// versions of one batch are all visible or none. It returns once the batch
// is durable (WAL fsynced); concurrent Writes, of any partitions, share
// fsyncs (group commit). A Write with no mutations does nothing and
// returns 0.
//
// How: the batch is built outside any lock; under the partition's mutex
// the seqs are taken from the partition's counter, the new counter and
// statistics are added to the batch as the partition's state record, and
// the batch is applied to Pebble without sync; outside the mutex, Write
// waits for a WAL sync that covers the batch (see syncWAL). Applying under
// the mutex makes the partition's batches visible in seq order (Pebble's
// Apply returns once the batch is visible, and the next batch of the
// partition is applied only after that), so no reader sees seq N+1
// without N. Waiting for the sync outside the mutex lets the next writers
// of the partition apply their batches meanwhile and share the fsync.
//
// A version visible in a Snapshot may thus belong to a Write that has not
// returned yet; if the process crashes before its sync, that version is
// lost and its seq will be assigned again (it was never acknowledged).
//
// Errors: ErrInvalid (empty key, bad partition key), ErrFull, ErrClosed,
// the context's error when ctx is done before the batch is applied (the
// write had no effect). An error from the final WAL sync means the
// outcome is unknown (Write then returns the batch's first _seq with the
// error; on every other error it returns 0 and no _seq was taken); Pebble
// ends the process on a failed WAL write or sync, so that is not expected
// to be seen.
func (b *Buffer) Write(ctx context.Context, p PartitionKey, muts []Mutation) (first uint64, err error) {
	first, durable, err := b.Apply(ctx, p, muts)
	if err != nil {
		return first, err
	}
	if err := durable(); err != nil {
		return first, err
	}
	return first, nil
}

// Apply is the first half of Write: it applies the batch (visible to
// snapshots from then on, in the partition's _seq order) and returns
// durable, which waits for the WAL sync that covers it and must be called
// exactly once before the write is acknowledged. A caller that serializes
// its writes of a partition (a key check, then a write) can release its
// lock between the two, so that the next writers apply meanwhile and share
// the fsync. Close waits until durable was called. On an error nothing
// was applied and durable is nil.
func (b *Buffer) Apply(ctx context.Context, p PartitionKey, muts []Mutation) (first uint64, durable func() error, err error) {
	fail := func(err error) (uint64, func() error, error) {
		return 0, nil, fmt.Errorf("wbuf: write %s/%q: %w", p.TableID, p.Partition, err)
	}
	if len(muts) == 0 {
		return 0, func() error { return nil }, nil
	}
	if err := p.validate(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	part, err := b.begin(&p, true)
	if err != nil {
		return fail(err)
	}
	// The operation stays registered until durable returns, so that Close
	// waits for the sync; every early return ends it here.
	handedOff := false
	defer func() {
		if !handedOff {
			b.end()
		}
	}()

	// Encode outside the lock: buf holds, per mutation, the version key
	// without its seq, then the value; ends[2i] and ends[2i+1] are where
	// they end.
	nowMs := b.opts.Clock().UnixMilli()
	size := 0
	for i := range muts {
		if len(muts[i].Key) == 0 {
			return fail(fmt.Errorf("%w: mutation %d has an empty key", ErrInvalid, i))
		}
		size += len(part.prefix) + len(muts[i].Key) + 16 + 16*len(muts[i].Values)
	}
	buf := make([]byte, 0, size)
	ends := make([]int, 0, 2*len(muts))
	for i := range muts {
		m := &muts[i]
		buf = append(buf, part.prefix...)
		buf = append(buf, m.Key...)
		ends = append(ends, len(buf))
		buf = appendWriteTime(buf, nowMs)
		buf = row.AppendVersion(buf, row.Version{Deleted: m.Deleted, SchemaVersion: m.SchemaVersion, Values: m.Values})
		ends = append(ends, len(buf))
	}
	n := int64(len(muts))
	added := int64(len(buf)) + n*seqLen

	// Reserve room in the budget; give it back unless the batch lands.
	if total := b.bytes.Add(added); total > b.opts.MaxBytes {
		b.bytes.Add(-added)
		return fail(fmt.Errorf("%w: %d bytes buffered, limit %d; flush or raise wbuf.max_bytes (this write needs %d bytes)", ErrFull, total-added, b.opts.MaxBytes, added))
	}
	applied := false
	defer func() {
		if !applied {
			b.bytes.Add(-added)
		}
	}()

	batch := b.db.NewBatchWithSize(len(buf) + len(muts)*(seqLen+16) + 64)
	defer batch.Close()

	part.mu.Lock()
	if err := ctx.Err(); err != nil {
		part.mu.Unlock()
		return fail(err)
	}
	st := part.mu.st
	if st.lastSeq > math.MaxUint64-uint64(n) {
		part.mu.Unlock()
		return fail(fmt.Errorf("%w: _seq space exhausted (last _seq %d)", ErrInvalid, st.lastSeq))
	}
	first = st.lastSeq + 1
	start := 0
	for i := range muts {
		keyEnd, valEnd := ends[2*i], ends[2*i+1]
		op := batch.SetDeferred(keyEnd-start+seqLen, valEnd-keyEnd)
		copy(op.Key, buf[start:keyEnd])
		putSeq(op.Key[keyEnd-start:], first+uint64(i))
		copy(op.Value, buf[keyEnd:valEnd])
		if err := op.Finish(); err != nil {
			part.mu.Unlock()
			return fail(err)
		}
		start = valEnd
	}
	next := st
	next.lastSeq = first + uint64(n) - 1
	next.maxSeq = next.lastSeq
	if st.rows == 0 {
		next.minSeq, next.oldestMs = first, nowMs
	} else {
		next.oldestMs = min(st.oldestMs, nowMs)
	}
	next.rows += n
	next.bytes += added
	if err := batch.Set(part.stateKey, appendState(nil, next), nil); err != nil {
		part.mu.Unlock()
		return fail(err)
	}
	if err := b.db.Apply(batch, pebble.NoSync); err != nil {
		part.mu.Unlock()
		return fail(err)
	}
	applied = true
	part.setState(b, next)
	if part.mu.tracking {
		if part.mu.sinceFirst == 0 {
			part.mu.sinceFirst, part.mu.sinceOldest = first, nowMs
		} else {
			part.mu.sinceOldest = min(part.mu.sinceOldest, nowMs)
		}
	}
	part.mu.Unlock()

	last := next.lastSeq
	handedOff = true
	var once sync.Once
	return first, func() (err error) {
		once.Do(func() {
			defer b.end()
			err = b.syncWAL()
		})
		if err != nil {
			// The seqs are taken: the caller says which (tablestore's
			// change delivery skips them).
			return fmt.Errorf("wbuf: write %s/%q: the batch (_seq %d..%d) is applied but its WAL sync failed, so it may not be durable: %w",
				p.TableID, p.Partition, first, last, err)
		}
		return nil
	}, nil
}

// SetSeqFloor raises p's counter to floor if it is lower, so that the next
// _seq of p is above floor. The engine calls it with the partition
// manifest's LastSeq before writing, so that _seq never goes back even if
// the buffer lost state the object store has. It returns once the counter
// is durable (also when it was already at or above floor).
func (b *Buffer) SetSeqFloor(p PartitionKey, floor uint64) error {
	fail := func(err error) error {
		return fmt.Errorf("wbuf: set _seq floor %d of %s/%q: %w", floor, p.TableID, p.Partition, err)
	}
	if err := p.validate(); err != nil {
		return fail(err)
	}
	part, err := b.begin(&p, floor > 0)
	if err != nil {
		return fail(err)
	}
	defer b.end()
	if part == nil {
		return nil // floor 0 and nothing known: nothing to do
	}
	part.mu.Lock()
	if part.mu.st.lastSeq < floor {
		next := part.mu.st
		next.lastSeq = floor
		batch := b.db.NewBatch()
		err := batch.Set(part.stateKey, appendState(nil, next), nil)
		if err == nil {
			err = b.db.Apply(batch, pebble.NoSync)
		}
		_ = batch.Close()
		if err != nil {
			part.mu.Unlock()
			return fail(err)
		}
		part.setState(b, next)
	}
	part.mu.Unlock()
	// Sync even when the counter was already high enough: it may come from
	// a Write whose sync is still pending.
	if err := b.syncWAL(); err != nil {
		return fail(err)
	}
	return nil
}

// LastSeq returns the highest _seq assigned in p (or its floor), 0 if the
// buffer knows nothing of p (or the Buffer is nil). It may include a
// Write still waiting for its WAL sync.
func (b *Buffer) LastSeq(p PartitionKey) uint64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	part := b.mu.parts[p]
	b.mu.Unlock()
	if part == nil {
		return 0
	}
	part.mu.Lock()
	defer part.mu.Unlock()
	return part.mu.st.lastSeq
}

// DeleteUpTo removes p's versions with _seq <= seq, typically after a flush
// committed them to a segment. It is atomic (one Pebble batch that also
// rewrites the partition state) and durable when it returns. Concurrent
// Writes to p are not blocked while the versions are found: they are
// collected from a snapshot, and the partition's mutex is held only to
// apply the batch. Versions written after DeleteUpTo started are kept,
// whatever their seq (a seq above the partition's LastSeq at the call
// deletes nothing more than LastSeq would). If ctx is done before the
// apply, nothing is deleted.
func (b *Buffer) DeleteUpTo(ctx context.Context, p PartitionKey, seq uint64) error {
	fail := func(err error) error {
		return fmt.Errorf("wbuf: delete %s/%q up to _seq %d: %w", p.TableID, p.Partition, seq, err)
	}
	if err := p.validate(); err != nil {
		return fail(err)
	}
	part, err := b.begin(&p, false)
	if err != nil {
		return fail(err)
	}
	defer b.end()
	if part == nil {
		return nil
	}
	part.delMu.Lock()
	defer part.delMu.Unlock()

	part.mu.Lock()
	st := part.mu.st
	if st.rows == 0 || seq < st.minSeq {
		part.mu.Unlock()
		return nil
	}
	if st.maxSeq <= seq {
		// Every buffered version goes (the common case: nothing was
		// written since the flush's cut). One range deletion instead of a
		// point deletion per version. Writers of p are blocked by part.mu,
		// so no version can land in the range before the batch applies.
		err := b.deleteAllLocked(part, st)
		part.mu.Unlock()
		if err != nil {
			return fail(err)
		}
		b.bytes.Add(-st.bytes)
		if err := b.syncWAL(); err != nil {
			return fail(fmt.Errorf("the deletion is applied but its WAL sync failed: %w", err))
		}
		return nil
	}
	// Every version of p with seq <= st.lastSeq is in snap; later ones
	// have higher seqs and are tracked in part.mu.since*.
	snap := b.db.NewSnapshot()
	part.mu.tracking, part.mu.sinceFirst, part.mu.sinceOldest = true, 0, 0
	part.mu.Unlock()
	defer func() {
		part.mu.Lock()
		part.mu.tracking = false
		part.mu.Unlock()
	}()

	batch := b.db.NewBatch()
	defer batch.Close()
	var (
		delRows, delBytes int64
		keepRows          int64
		keepMin           uint64
		keepOldest        int64
	)
	err = func() error {
		defer snap.Close()
		it, err := snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: part.prefix, UpperBound: prefixEnd(part.prefix)})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			if (delRows+keepRows)%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := it.Key()
			_, s, err := splitVersionKey(k, len(part.prefix))
			if err != nil {
				return err
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if s <= seq {
				if err := batch.Delete(k, nil); err != nil {
					return err
				}
				delRows++
				delBytes += int64(len(k) + len(v))
				continue
			}
			ms, _, err := splitValue(v)
			if err != nil {
				return err
			}
			if keepRows == 0 || s < keepMin {
				keepMin = s
			}
			if keepRows == 0 || ms < keepOldest {
				keepOldest = ms
			}
			keepRows++
		}
		return it.Error()
	}()
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if delRows == 0 {
		return nil
	}
	if b.testHookDeleteScanned != nil {
		b.testHookDeleteScanned()
	}

	part.mu.Lock()
	st = part.mu.st
	next := st
	next.rows -= delRows
	next.bytes -= delBytes
	switch {
	case next.rows == 0:
		next.minSeq, next.maxSeq, next.oldestMs = 0, 0, 0
	case keepRows > 0:
		next.minSeq, next.oldestMs = keepMin, keepOldest
		if part.mu.sinceFirst != 0 {
			next.oldestMs = min(next.oldestMs, part.mu.sinceOldest)
		}
	default: // only versions written since the snapshot remain
		next.minSeq, next.oldestMs = part.mu.sinceFirst, part.mu.sinceOldest
	}
	if next.rows < 0 || next.bytes < 0 || (next.rows > 0 && next.minSeq == 0) {
		part.mu.Unlock()
		return fail(fmt.Errorf("%w: partition state %+v minus %d rows / %d bytes is inconsistent", ErrCorrupt, st, delRows, delBytes))
	}
	err = batch.Set(part.stateKey, appendState(nil, next), nil)
	if err == nil {
		err = b.db.Apply(batch, pebble.NoSync)
	}
	if err != nil {
		part.mu.Unlock()
		return fail(err)
	}
	part.setState(b, next)
	part.mu.Unlock()
	b.bytes.Add(-delBytes)

	if err := b.syncWAL(); err != nil {
		return fail(fmt.Errorf("the deletion is applied but its WAL sync failed: %w", err))
	}
	return nil
}

// deleteAllLocked removes every buffered version of part with one range
// deletion and resets its statistics (the _seq counter stays). The caller
// holds part.mu and has checked that st.maxSeq is covered.
func (b *Buffer) deleteAllLocked(part *partition, st state) error {
	batch := b.db.NewBatch()
	defer batch.Close()
	next := st
	next.rows, next.bytes, next.minSeq, next.maxSeq, next.oldestMs = 0, 0, 0, 0, 0
	if err := batch.DeleteRange(part.prefix, prefixEnd(part.prefix), nil); err != nil {
		return err
	}
	if err := batch.Set(part.stateKey, appendState(nil, next), nil); err != nil {
		return err
	}
	if err := b.db.Apply(batch, pebble.NoSync); err != nil {
		return err
	}
	part.setState(b, next)
	if st.rows >= flushAfterRangeDelete {
		// Iterators step over range-deleted versions one by one until a
		// flush or compaction drops them: flush the memtable now (in the
		// background) rather than let later scans of the partition pay.
		if _, err := b.db.AsyncFlush(); err != nil {
			b.logger.Warn("flush memtable after range deletion", slog.Any("error", err))
		}
	}
	return nil
}

// flushAfterRangeDelete is the number of versions a range deletion must
// drop for deleteAllLocked to flush the memtable.
const flushAfterRangeDelete = 4096

// PartitionStats describes the buffered versions of one partition.
type PartitionStats struct {
	PartitionKey
	// Rows is the number of buffered versions (tombstones included).
	Rows int64
	// Bytes is their encoded size (key + value), as counted for MaxBytes.
	Bytes int64
	// MinSeq and MaxSeq bound their _seq values.
	MinSeq, MaxSeq uint64
	// LastSeq is the partition's counter: the highest _seq assigned or its
	// floor (>= MaxSeq).
	LastSeq uint64
	// OldestWrite is when the oldest buffered version was written
	// (millisecond precision, Options.Clock).
	OldestWrite time.Time
}

// Partitions lists the partitions that have buffered versions, sorted by
// table ID and partition. The statistics are persisted with the versions,
// so they survive a restart. A nil Buffer has none.
func (b *Buffer) Partitions() []PartitionStats {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	parts := make([]*partition, 0, len(b.mu.parts))
	for _, p := range b.mu.parts {
		parts = append(parts, p)
	}
	b.mu.Unlock()
	var out []PartitionStats
	for _, p := range parts {
		p.mu.Lock()
		st := p.mu.st
		p.mu.Unlock()
		if st.rows == 0 {
			continue
		}
		out = append(out, PartitionStats{
			PartitionKey: p.key, Rows: st.rows, Bytes: st.bytes,
			MinSeq: st.minSeq, MaxSeq: st.maxSeq, LastSeq: st.lastSeq,
			OldestWrite: msTime(st.oldestMs),
		})
	}
	slices.SortFunc(out, func(a, b PartitionStats) int {
		return cmp.Or(cmp.Compare(a.TableID, b.TableID), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// Stats is a snapshot of the buffer's totals and of Pebble's metrics.
type Stats struct {
	// Partitions is the number of partitions with buffered versions.
	Partitions int
	// Rows and Bytes sum PartitionStats.Rows and .Bytes.
	Rows, Bytes int64
	// MaxBytes is Options.MaxBytes.
	MaxBytes int64
	// MemTableBytes and MemTables: Pebble's memtables (including those
	// waiting to be flushed to sstables).
	MemTableBytes uint64
	MemTables     int64
	// WALBytes is the live data in Pebble's WAL files; WALBytesWritten
	// counts all bytes written to the WAL since Open.
	WALBytes, WALBytesWritten uint64
	// DiskBytes is Pebble's total disk usage (sstables, WAL, manifest).
	DiskBytes uint64
	// Flushes and Compactions count Pebble's memtable flushes and
	// compactions since Open.
	Flushes, Compactions int64
}

// Stats returns the buffer's totals and Pebble's metrics (the totals only
// once the buffer is closed).
func (b *Buffer) Stats() Stats {
	var s Stats
	s.MaxBytes = b.opts.MaxBytes
	for _, p := range b.Partitions() {
		s.Partitions++
		s.Rows += p.Rows
		s.Bytes += p.Bytes
	}
	if _, err := b.begin(nil, false); err != nil {
		return s
	}
	defer b.end()
	m := b.db.Metrics()
	s.MemTableBytes, s.MemTables = m.MemTable.Size, m.MemTable.Count
	s.WALBytes, s.WALBytesWritten = m.WAL.Size, m.WAL.BytesWritten
	s.DiskBytes = m.DiskSpaceUsage()
	s.Flushes, s.Compactions = m.Flush.Count, m.Compact.Count
	return s
}

// String formats s as a small table.
func (s Stats) String() string {
	var w bytes.Buffer
	fmt.Fprintf(&w, "partitions  %d\n", s.Partitions)
	fmt.Fprintf(&w, "rows        %d\n", s.Rows)
	fmt.Fprintf(&w, "bytes       %d / %d\n", s.Bytes, s.MaxBytes)
	fmt.Fprintf(&w, "memtables   %d (%d bytes)\n", s.MemTables, s.MemTableBytes)
	fmt.Fprintf(&w, "wal         %d bytes live, %d written\n", s.WALBytes, s.WALBytesWritten)
	fmt.Fprintf(&w, "disk        %d bytes\n", s.DiskBytes)
	fmt.Fprintf(&w, "flushes     %d, compactions %d\n", s.Flushes, s.Compactions)
	return w.String()
}
