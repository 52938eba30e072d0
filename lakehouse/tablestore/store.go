// Package tablestore is Floe's storage engine: it writes row versions of
// tables to the write buffer, flushes them to Parquet segments committed in
// partition manifests, and reads back the latest version of every row by
// merging segments and buffer.
//
// # Guarantees
//
//   - A write is acknowledged once the buffer's WAL is synced; its versions
//     get _seq values strictly increasing per partition, never reused.
//   - Flush takes a consistent cut of a partition's buffer, writes the latest
//     version of each key in (manifest.LastSeq, cut] to a new segment under
//     a unique key, commits the partition manifest (conditional put) with
//     LastSeq = cut, and only then deletes the flushed versions from the
//     buffer. A crash before the commit leaves an orphan object only (for
//     garbage collection). A crash after the commit but before the delete
//     leaves flushed versions in the buffer; reads ignore buffered versions
//     with _seq <= manifest.LastSeq and the next flush deletes them, so no
//     row shows twice and no deleted row comes back.
//   - Reads merge by the rule in mergeLatest: per key the version with the
//     greatest _seq wins; a winning tombstone hides the key.
package tablestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// Errors.
var (
	// ErrInvalidRow: a change does not fit the table's schema.
	ErrInvalidRow = errors.New("tablestore: invalid row")
	// ErrNoPrimaryKey: the table has no primary key; the SQL layer gives
	// such tables a hidden _rowid key column before they reach the store.
	ErrNoPrimaryKey = errors.New("tablestore: table has no primary key")
	// ErrNoBuffer: Write on a Store without a write buffer (a function or
	// live process reads segments only; functions write with a
	// DirectWriter).
	ErrNoBuffer = errors.New("tablestore: this store has no write buffer")
)

// Options configure a Store. Zero values mean the documented defaults.
type Options struct {
	// NodeID is recorded in manifests and job records.
	NodeID string
	// WriterEpoch is the epoch this node holds (manifest.AcquireWriter);
	// partition commits carry it, so a newer node fences this one.
	WriterEpoch uint64
	// Gate, when set, is the node's writer lease (lease.Lease): Write
	// asks it before writing and again before acknowledging, and every
	// partition manifest commit (flush, compaction, the fencing commit of
	// a partition's first write) runs while it holds. Nil: no lease
	// (direct writers, tests); writes then stop only once a commit was
	// fenced.
	Gate Gate
	// Segment options for flushes.
	Segment segment.WriterOptions
	// Cache, when set, holds segment files locally for reads; without it
	// every read fetches the segments it needs into memory.
	Cache *Cache
	// PointCacheBytes bounds the memory of the compact row-group and
	// segment indexes kept for Lookup (see segmentLookup) and for the
	// positions of superseded rows in scans; an index that would take more
	// than half of it is not kept. The segments' row-group maps take up to
	// 1/16 of it more. Default: DefaultPointCacheBytes
	// (128 MiB); negative disables the indexes (every Lookup then reads
	// the segments its key may be in).
	PointCacheBytes int64
	// Changes, when set, receives every acknowledged Write (see
	// ChangeSink). Default: none.
	Changes ChangeSink
	// Metrics, when set, counts flushes (see NewMetrics). Default: none.
	Metrics *Metrics
	// ManifestMetrics, when set, counts the commits of the partition logs.
	ManifestMetrics *manifest.Metrics
	Logger          *slog.Logger
	Clock           func() time.Time
}

// Gate is the writer lease as the store needs it (lease.Lease implements
// it). Its errors are what a client gets (FENCED, UNAVAILABLE).
type Gate interface {
	// Admit returns nil if a write may be made now.
	Admit(ctx context.Context) error
	// Confirm returns nil if a write that is durable in the buffer may be
	// acknowledged now.
	Confirm(ctx context.Context) error
	// Hold returns the context of one manifest commit, which ends when the
	// lease can no longer be proven valid, or an error if it cannot be
	// proven valid for long enough now.
	Hold(ctx context.Context) (context.Context, context.CancelFunc, error)
	// Lost reports a commit that found a newer writer epoch.
	Lost(err error)
	// Held reports whether the lease is provably valid now, without
	// renewing it or making any request.
	Held() bool
}

// Store is the storage engine of one process. It is safe for concurrent
// use. The caller owns the bucket and the buffer and closes them after the
// Store is no longer used. A Store without a buffer (nil) reads the
// segments only and refuses Write with ErrNoBuffer; Flush has nothing to
// do.
type Store struct {
	bucket objstore.Bucket
	buf    *wbuf.Buffer
	opts   Options

	// fenced is set once a commit failed with manifest.ErrFenced: from
	// then on Write refuses (the node-owned path stops accepting writes
	// it could never flush).
	fenced atomic.Bool

	// Test hooks, nil in production. beforeCommit runs after the segment
	// upload of a flush or compaction, before its manifest commit;
	// afterCommit runs between a flush's commit and its buffer trim. An
	// error stops the operation there, as a crash would.
	beforeCommit, afterCommit func() error

	// points caches segment and row-group indexes for Lookup and scans;
	// groupMaps the segments' row-group maps (segmentGroups).
	points, groupMaps pointCache

	mu struct {
		sync.Mutex
		logs   map[wbuf.PartitionKey]*manifest.Log[*manifest.Partition]
		seeded map[wbuf.PartitionKey]bool
		// expect is the partition's LastSeq as this Store last saw it
		// (seed or its own commit), when known: a flush whose base differs
		// refuses, as another writer (a direct writer) committed to a
		// partition this node writes and _seq values may collide.
		expect map[wbuf.PartitionKey]uint64
		flush  map[wbuf.PartitionKey]*sync.Mutex
		// seqs order the publication of changes per partition (only with
		// Options.Changes).
		seqs map[wbuf.PartitionKey]*sequencer
	}
}

// New returns a Store over bucket and buf.
func New(bucket objstore.Bucket, buf *wbuf.Buffer, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Store{bucket: bucket, buf: buf, opts: opts}
	s.mu.logs = map[wbuf.PartitionKey]*manifest.Log[*manifest.Partition]{}
	s.mu.seeded = map[wbuf.PartitionKey]bool{}
	s.mu.expect = map[wbuf.PartitionKey]uint64{}
	s.mu.flush = map[wbuf.PartitionKey]*sync.Mutex{}
	s.mu.seqs = map[wbuf.PartitionKey]*sequencer{}
	return s
}

// PartitionLog returns the manifest log of one partition.
func (s *Store) PartitionLog(tableID, partition string) *manifest.Log[*manifest.Partition] {
	p := wbuf.PartitionKey{TableID: tableID, Partition: partition}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.mu.logs[p]
	if !ok {
		l = manifest.NewPartitionLog(s.bucket, tableID, partition, manifest.LogOptions{
			NodeID: s.opts.NodeID, Clock: s.opts.Clock, Logger: s.opts.Logger, Metrics: s.opts.ManifestMetrics,
		})
		s.mu.logs[p] = l
	}
	return l
}

func (s *Store) flushLock(p wbuf.PartitionKey) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mu.flush[p]
	if !ok {
		m = &sync.Mutex{}
		s.mu.flush[p] = m
	}
	return m
}

// latest returns the partition's latest manifest, or an empty one (version
// 0) for a partition never flushed.
func (s *Store) latest(ctx context.Context, t *manifest.Table, partition string) (*manifest.Partition, error) {
	m, err := s.PartitionLog(t.ID, partition).Latest(ctx)
	if errors.Is(err, manifest.ErrNoManifest) {
		return &manifest.Partition{TableID: t.ID, Partition: partition}, nil
	}
	return m, err
}

// readHead returns the partition's latest manifest for a read that
// follows a buffer snapshot. While the writer lease is provably valid
// (Gate.Held), this process is the partition's only committer,
// so the head it confirmed by its own commits or a listing within the
// log's HeadTTL is the latest: it is used without a request. Otherwise
// (no lease: functions, live nodes, tests; or a lease this process can no
// longer prove) the partition is listed as by latest.
func (s *Store) readHead(ctx context.Context, t *manifest.Table, partition string) (*manifest.Partition, error) {
	if g := s.opts.Gate; g != nil && g.Held() {
		return s.base(ctx, t, partition)
	}
	return s.latest(ctx, t, partition)
}

// base returns the manifest a flush of the partition builds on: the one
// the partition log's next Commit starts from (manifest.Log.Base), with no
// request when this Store committed or read it recently. It may be stale;
// the commit's mutation checks what the flush assumed of it.
func (s *Store) base(ctx context.Context, t *manifest.Table, partition string) (*manifest.Partition, error) {
	m, err := s.PartitionLog(t.ID, partition).Base(ctx)
	if errors.Is(err, manifest.ErrNoManifest) {
		return &manifest.Partition{TableID: t.ID, Partition: partition}, nil
	}
	return m, err
}

// seed raises the buffer's seq counter of p above the manifest's LastSeq,
// once per process, so that _seq never goes back even if the buffer lost
// state the object store has.
func (s *Store) seed(ctx context.Context, t *manifest.Table, partition string) error {
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	s.mu.Lock()
	done := s.mu.seeded[p]
	s.mu.Unlock()
	if done {
		return nil
	}
	m, err := s.latest(ctx, t, partition)
	if err != nil {
		return fmt.Errorf("tablestore: seed _seq of %s/%q: %w", t.ID, partition, err)
	}
	if s.opts.Gate != nil && m.WriterEpoch < s.opts.WriterEpoch {
		// Fence the partition before relying on its LastSeq: commit it
		// unchanged with this node's epoch, so that a commit an older
		// writer may still have under way can no longer land after it.
		fenced, err := s.commit(ctx, t.ID, partition, func(b *manifest.Partition) (*manifest.Partition, error) {
			if b.Version > 0 && b.WriterEpoch >= s.opts.WriterEpoch {
				return nil, errFencedAlready
			}
			b.TableID, b.Partition = t.ID, partition
			return b, nil
		})
		if errors.Is(err, errFencedAlready) {
			fenced, err = s.latest(ctx, t, partition)
		}
		if err != nil {
			return fmt.Errorf("tablestore: fence %s/%q with writer epoch %d: %w", t.ID, partition, s.opts.WriterEpoch, err)
		}
		m = fenced
	}
	if err := s.buf.SetSeqFloor(p, m.LastSeq); err != nil {
		return err
	}
	s.mu.Lock()
	s.mu.seeded[p] = true
	if _, ok := s.mu.expect[p]; !ok { // a concurrent flush knows better
		s.mu.expect[p] = m.LastSeq
	}
	s.mu.Unlock()
	return nil
}

// Change is one row change: an upsert of Values, or a delete (Deleted, with
// at least the primary key columns of Values set). Old and Insert are not
// stored: they tell a ChangeSink what the change did (see ChangeOp).
type Change struct {
	Deleted bool
	Values  row.Row
	// Old holds the row's values before the change when the writer read
	// them (UPDATE, DELETE, an upsert of an existing key); nil otherwise.
	Old row.Row
	// Insert says that the writer checked that the key had no live row:
	// the change is an insert. Ignored when Deleted or Old is set.
	Insert bool
}

// pkIndexes returns the column positions of t's primary key.
func pkIndexes(t *manifest.Table) ([]int, error) {
	if len(t.PrimaryKey) == 0 {
		return nil, fmt.Errorf("%w: %s.%s", ErrNoPrimaryKey, t.Namespace, t.Name)
	}
	idx := make([]int, len(t.PrimaryKey))
	for i, name := range t.PrimaryKey {
		idx[i] = -1
		for j, c := range t.Columns {
			if c.Name == name {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("tablestore: %s.%s: primary key column %q missing", t.Namespace, t.Name, name)
		}
	}
	return idx, nil
}

// keyOf encodes the primary key of values (a fresh slice).
func keyOf(pk []int, values row.Row) []byte {
	var buf [64]byte
	return bytes.Clone(appendKeyOf(buf[:0], pk, values))
}

// appendKeyOf appends the encoded primary key of values (the key columns
// at pk) to dst.
func appendKeyOf(dst []byte, pk []int, values row.Row) []byte {
	for _, i := range pk {
		dst = row.AppendKey(dst, values[i])
	}
	return dst
}

// Write appends the changes to one partition of t as one atomic batch and
// returns the _seq of the first (the others follow consecutively). It
// returns when the batch is durable in the buffer, after handing it to
// Options.Changes (see ChangeSink).
//
// With a Gate, the write is made only if the gate admits it, and
// acknowledged (a nil error) only if the gate confirms it once it is
// durable; a write the gate does not confirm is in the buffer but its
// fate is the gate's (see lease.Lease.Confirm), and it is never handed to
// Options.Changes.
func (s *Store) Write(ctx context.Context, t *manifest.Table, partition string, changes []Change) (uint64, error) {
	first, durable, err := s.Apply(ctx, t, partition, changes)
	if err != nil {
		return 0, err
	}
	return first, durable()
}

// Apply is the first half of Write (see wbuf.Buffer.Apply): it makes the
// batch visible in the buffer and returns durable, which waits until the
// batch is durable, asks the gate to confirm it, hands it to
// Options.Changes and returns nil if it may be acknowledged. durable must
// be called exactly once; a caller may release its partition lock
// between the two so that concurrent writers of the partition share a
// WAL sync. On an error nothing was written and durable is nil.
func (s *Store) Apply(ctx context.Context, t *manifest.Table, partition string, changes []Change) (first uint64, durable func() error, err error) {
	fail := func(err error) (uint64, func() error, error) { return 0, nil, err }
	if s.buf == nil {
		return fail(fmt.Errorf("tablestore: write %s/%q: %w", t.ID, partition, ErrNoBuffer))
	}
	if s.fenced.Load() {
		return fail(fmt.Errorf("tablestore: write %s/%q: %w: a newer node took over the warehouse; this node no longer accepts writes", t.ID, partition, manifest.ErrFenced))
	}
	if g := s.opts.Gate; g != nil {
		if err := g.Admit(ctx); err != nil {
			return fail(fmt.Errorf("tablestore: write %s/%q: %w", t.ID, partition, err))
		}
	}
	pk, err := pkIndexes(t)
	if err != nil {
		return fail(err)
	}
	muts := make([]wbuf.Mutation, len(changes))
	for i, c := range changes {
		if err := checkRow(t, pk, c); err != nil {
			return fail(fmt.Errorf("%w: change %d: %v", ErrInvalidRow, i, err))
		}
		muts[i] = wbuf.Mutation{Key: keyOf(pk, c.Values), Deleted: c.Deleted, SchemaVersion: t.SchemaVersion, Values: c.Values}
	}
	if err := s.seed(ctx, t, partition); err != nil {
		return fail(err)
	}
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	var q *sequencer
	sink := s.opts.Changes
	if sink != nil && len(changes) > 0 {
		q = s.sequencer(p)
	}
	first, synced, err := s.buf.Apply(ctx, p, muts)
	if err != nil {
		return fail(err)
	}
	return first, func() error {
		err := synced()
		if err == nil && s.opts.Gate != nil {
			if gerr := s.opts.Gate.Confirm(ctx); gerr != nil {
				err = fmt.Errorf("tablestore: write %s/%q: %w", t.ID, partition, gerr)
			}
		}
		if q != nil {
			switch {
			case err == nil:
				q.deliver(sink, batchOf(t, partition, first, changes))
			case first != 0:
				// Taken but not acknowledged: never published.
				q.skip(sink, first, first+uint64(len(changes))-1)
			}
		}
		return err
	}, nil
}

// commit commits a change to a partition manifest with this node's writer
// epoch, within the gate's hold when there is a gate. A commit that finds
// a newer epoch stops this Store's writes and tells the gate.
func (s *Store) commit(ctx context.Context, tableID, partition string, mutate func(*manifest.Partition) (*manifest.Partition, error)) (*manifest.Partition, error) {
	g := s.opts.Gate
	if g != nil {
		hctx, cancel, err := g.Hold(ctx)
		if err != nil {
			return nil, err
		}
		defer cancel()
		ctx = hctx
	}
	m, err := s.PartitionLog(tableID, partition).Commit(ctx, mutate, manifest.CommitOptions{WriterEpoch: s.opts.WriterEpoch})
	if errors.Is(err, manifest.ErrFenced) {
		// A newer node owns the warehouse: stop acknowledging writes
		// that this node could never flush.
		s.fenced.Store(true)
		if g != nil {
			g.Lost(err)
		}
	}
	return m, err
}

var errFencedAlready = errors.New("tablestore: partition already carries this writer epoch")

func checkRow(t *manifest.Table, pk []int, c Change) error {
	if len(c.Values) != len(t.Columns) {
		return fmt.Errorf("%d values for %d columns", len(c.Values), len(t.Columns))
	}
	for _, i := range pk {
		if c.Values[i].IsNull() {
			return fmt.Errorf("primary key column %q is NULL", t.Columns[i].Name)
		}
	}
	for i, col := range t.Columns {
		v := c.Values[i]
		if err := v.Check(col.Type); err != nil {
			return fmt.Errorf("column %q: %v", col.Name, err)
		}
		if !c.Deleted && v.IsNull() && !col.Nullable {
			return fmt.Errorf("column %q is NOT NULL", col.Name)
		}
	}
	return nil
}

// FlushResult describes one flush of one partition.
type FlushResult struct {
	TableID, Partition string
	// Rows and Bytes of the new segment; 0 when there was nothing to flush.
	Rows, Bytes int64
	// Segment is the new segment's key, "" when nothing was flushed.
	Segment string
	// ManifestVersion is the partition manifest version after the flush.
	ManifestVersion uint64
	// Cut is the highest _seq included.
	Cut      uint64
	Duration time.Duration
}

// Flush moves the buffered versions of one partition of t to a new
// segment (see the package documentation for the steps and their crash
// safety). Concurrent flushes of one partition run one at a time.
//
// Cost: the segment PUT and the manifest PUT when this Store committed to
// or read the partition within the log's HeadTTL (the flush builds on the
// manifest it holds; the conditional put checks that it is still the
// latest, see manifest.Log.Commit), plus the "latest" hint PUT for one
// version in manifest.DefaultHintEvery. Otherwise add a LIST, and a GET of
// the manifest if this Store does not hold it.
func (s *Store) Flush(ctx context.Context, t *manifest.Table, partition string) (FlushResult, error) {
	res, err := s.flush(ctx, t, partition)
	s.opts.Metrics.flush(res, err)
	return res, err
}

func (s *Store) flush(ctx context.Context, t *manifest.Table, partition string) (FlushResult, error) {
	start := s.opts.Clock()
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	res := FlushResult{TableID: t.ID, Partition: partition}
	if s.buf == nil {
		return res, nil
	}
	lock := s.flushLock(p)
	lock.Lock()
	defer lock.Unlock()
	if _, err := pkIndexes(t); err != nil {
		return res, err
	}
	if g := s.opts.Gate; g != nil {
		if err := g.Admit(ctx); err != nil {
			return res, fmt.Errorf("tablestore: flush %s/%q: %w", t.ID, partition, err)
		}
	}

	snap := s.buf.Snapshot()
	defer snap.Close()
	cut := snap.MaxSeq(p)
	base, err := s.base(ctx, t, partition)
	if err != nil {
		return res, fmt.Errorf("tablestore: flush %s/%q: %w", t.ID, partition, err)
	}
	res.ManifestVersion = base.Version
	s.mu.Lock()
	exp, known := s.mu.expect[p]
	s.mu.Unlock()
	if known && base.LastSeq != exp {
		return res, fmt.Errorf("tablestore: flush %s/%q: partition advanced from _seq %d to %d since this node last committed or seeded it; another writer (a direct writer?) writes it", t.ID, partition, exp, base.LastSeq)
	}
	if cut <= base.LastSeq {
		// Nothing new: only versions a previous flush committed remain
		// (it crashed or failed before deleting them). Delete them now.
		if cut > 0 {
			if err := s.buf.DeleteUpTo(ctx, p, cut); err != nil {
				return res, err
			}
		}
		return res, nil
	}

	versions := func(yield func(row.Version, error) bool) {
		for e, err := range snap.Versions(ctx, p, wbuf.ScanOptions{AfterSeq: base.LastSeq, UpToSeq: cut, LatestOnly: true}) {
			if !yield(e.Version, err) || err != nil {
				return
			}
		}
	}
	var file bytes.Buffer
	info, err := segment.Write(&file, t, versions, s.opts.Segment)
	if err != nil {
		return res, fmt.Errorf("tablestore: flush %s/%q: write segment: %w", t.ID, partition, err)
	}
	key := segmentKey(t.ID, partition, info.SeqMin, info.SeqMax)
	if _, err := s.bucket.Put(ctx, key, file.Bytes(), objstore.PutOptions{IfNoneMatch: true}); err != nil {
		return res, fmt.Errorf("tablestore: flush %s/%q: upload segment: %w", t.ID, partition, err)
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(); err != nil {
			return res, err
		}
	}
	committed, err := s.commit(ctx, t.ID, partition, func(m *manifest.Partition) (*manifest.Partition, error) {
		if m.LastSeq >= cut {
			return nil, errAlreadyFlushed
		}
		if m.LastSeq > base.LastSeq {
			// Someone else committed versions of this partition after
			// our base: our segment may overlap their range.
			return nil, fmt.Errorf("tablestore: flush %s/%q: partition advanced from _seq %d to %d after v%d, the manifest this flush built on; another writer (a direct writer?) writes it", t.ID, partition, base.LastSeq, m.LastSeq, base.Version)
		}
		m.TableID, m.Partition = t.ID, partition
		m.Segments = append(m.Segments, manifest.Segment{
			Key: key, Rows: info.Rows, Bytes: int64(file.Len()), SeqMin: info.SeqMin, SeqMax: info.SeqMax,
			SchemaVersion: info.SchemaVersion, Columns: info.Columns, Deleted: &info.Deleted,
		})
		m.LastSeq = cut
		return m, nil
	})
	s.mu.Lock()
	switch {
	case err == nil:
		s.mu.expect[p] = committed.LastSeq
	case errors.Is(err, errAlreadyFlushed), errors.Is(err, manifest.ErrCommitUnknown):
		delete(s.mu.expect, p) // a commit of ours moved LastSeq, or may have
	}
	s.mu.Unlock()
	if errors.Is(err, errAlreadyFlushed) {
		_ = s.bucket.Delete(ctx, key)
		return res, s.buf.DeleteUpTo(ctx, p, cut)
	}
	if err != nil {
		if !errors.Is(err, manifest.ErrCommitUnknown) {
			// Nothing was committed (see manifest.Log.Commit): the segment
			// is an orphan. On ErrCommitUnknown it may be referenced: keep
			// it.
			_ = s.bucket.Delete(ctx, key)
		}
		return res, fmt.Errorf("tablestore: flush %s/%q: commit: %w", t.ID, partition, err)
	}
	if s.afterCommit != nil {
		if err := s.afterCommit(); err != nil {
			return res, err
		}
	}
	if err := s.buf.DeleteUpTo(ctx, p, cut); err != nil {
		return res, fmt.Errorf("tablestore: flush %s/%q: committed v%d but could not trim the buffer: %w", t.ID, partition, committed.Version, err)
	}
	res.Rows, res.Bytes, res.Segment = info.Rows, int64(file.Len()), key
	res.ManifestVersion, res.Cut = committed.Version, cut
	res.Duration = s.opts.Clock().Sub(start)
	s.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "partition flushed",
		slog.String("table", t.ID), slog.String("partition", partition),
		slog.Int64("rows", res.Rows), slog.Int64("bytes", res.Bytes),
		slog.Uint64("version", res.ManifestVersion), slog.Uint64("seq", cut))
	return res, nil
}

var errAlreadyFlushed = errors.New("tablestore: already flushed")

// segmentKey is unique per flush: the _seq range plus a random suffix.
func segmentKey(tableID, partition string, seqMin, seqMax uint64) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s%020d-%020d-%s.parquet", manifest.SegmentPrefix(tableID, partition), seqMin, seqMax, hex.EncodeToString(r[:]))
}

// ScanOptions select what Scan reads.
type ScanOptions struct {
	// ManifestVersion reads the partition as of that manifest version
	// (time travel: segments only, no buffered rows). 0 reads the latest
	// manifest plus the buffer.
	ManifestVersion uint64
}

// Scan yields the latest visible version of every key of one partition of
// t, in primary key order, presented in t's current schema.
func (s *Store) Scan(ctx context.Context, t *manifest.Table, partition string, opts ScanOptions) iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		pk, err := pkIndexes(t)
		if err != nil {
			yield(row.Version{}, err)
			return
		}
		var m *manifest.Partition
		if opts.ManifestVersion > 0 {
			m, err = s.PartitionLog(t.ID, partition).Load(ctx, opts.ManifestVersion)
		} else {
			m, err = s.latest(ctx, t, partition)
		}
		if err != nil {
			yield(row.Version{}, fmt.Errorf("tablestore: scan %s/%q: %w", t.ID, partition, err))
			return
		}
		var inputs []iter.Seq2[keyed, error]
		for _, seg := range m.Segments {
			inputs = append(inputs, s.segmentSource(ctx, t, pk, seg))
		}
		if opts.ManifestVersion == 0 {
			snap := s.buf.Snapshot()
			defer snap.Close()
			p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
			inputs = append(inputs, func(yield func(keyed, error) bool) {
				for e, err := range snap.Versions(ctx, p, wbuf.ScanOptions{AfterSeq: m.LastSeq, LatestOnly: true}) {
					if err != nil {
						yield(keyed{}, err)
						return
					}
					v := e.Version
					if v.SchemaVersion != t.SchemaVersion {
						// Buffered under an older schema: rows written before
						// an ALTER are upgraded by the SQL layer's flush.
						yield(keyed{}, fmt.Errorf("tablestore: scan %s/%q: buffered version _seq %d has schema v%d, table is at v%d; flush before altering",
							t.ID, partition, v.Seq, v.SchemaVersion, t.SchemaVersion))
						return
					}
					if !yield(keyed{key: bytes.Clone(e.Key), v: v}, nil) {
						return
					}
				}
			})
		}
		for v, err := range mergeLatest(inputs, false) {
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// segmentSource reads one segment and yields its versions with keys.
func (s *Store) segmentSource(ctx context.Context, t *manifest.Table, pk []int, seg manifest.Segment) iter.Seq2[keyed, error] {
	return func(yield func(keyed, error) bool) {
		r, closeFn, err := s.openSegment(ctx, t, seg)
		if err != nil {
			yield(keyed{}, err)
			return
		}
		defer closeFn()
		for v, err := range r.Versions() {
			if err != nil {
				yield(keyed{}, err)
				return
			}
			if !yield(keyed{key: keyOf(pk, v.Values), v: v}, nil) {
				return
			}
		}
	}
}

// openSegment opens one segment from the cache, or from memory without
// one. The returned function releases it.
func (s *Store) openSegment(ctx context.Context, t *manifest.Table, seg manifest.Segment) (*segment.Reader, func(), error) {
	if s.opts.Cache != nil {
		h, err := s.acquireVerified(ctx, t, seg)
		if err != nil {
			return nil, nil, err
		}
		f, err := os.Open(h.Path())
		if err != nil {
			h.Release()
			return nil, nil, fmt.Errorf("tablestore: open cached segment %s: %w", seg.Key, err)
		}
		r, err := segment.Open(f, seg.Bytes, seg.Key, t)
		if err != nil {
			f.Close()
			h.Release()
			return nil, nil, err
		}
		return r, func() { f.Close(); h.Release() }, nil
	}
	rc, attrs, err := s.bucket.Get(ctx, seg.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("tablestore: read segment %s: %w", seg.Key, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("tablestore: read segment %s: %w", seg.Key, err)
	}
	if attrs.Size != seg.Bytes || int64(len(data)) != seg.Bytes {
		return nil, nil, fmt.Errorf("tablestore: segment %s is %d bytes, manifest says %d", seg.Key, len(data), seg.Bytes)
	}
	r, err := segment.Open(bytes.NewReader(data), int64(len(data)), seg.Key, t)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		return nil, nil, err
	}
	return r, func() {}, nil
}
