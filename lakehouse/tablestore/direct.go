package tablestore

// The direct write path: serverless writers commit their rows to the object
// store before acknowledging them, with no node and no write buffer.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	mathrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/floedb/floe/internal/backoff"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// DirectOptions configure a DirectWriter. Zero values mean the documented
// defaults; NewDirectWriter calls EnsureDefaults and Validate.
type DirectOptions struct {
	// NodeID is recorded as the CommittedBy of the partition manifests the
	// writer commits, e.g. the function instance. Default: empty.
	NodeID string
	// Segment options of the segments the writer uploads.
	Segment segment.WriterOptions
	// MaxGroupRows bounds the changes of one group commit; a batch larger
	// than the bound makes a group of its own. Default: 65536.
	MaxGroupRows int
	// MaxGroupBytes bounds the estimated in-memory size of the changes of
	// one group commit, as MaxGroupRows does. Default: 32 MiB.
	MaxGroupBytes int64
	// MaxAttempts bounds how many segments one group builds and offers to
	// the partition log: each time another writer commits to the partition
	// first, the group is rebased and offered again. Then the group fails
	// with manifest.ErrConflict (nothing written). Default: 100.
	MaxAttempts int
	// MinBackoff is the pause before the first rebase; it doubles with each
	// one up to MaxBackoff, and is drawn uniformly from [d/2, d] (jitter).
	// Defaults: 1ms and 100ms.
	MinBackoff, MaxBackoff time.Duration
	// NoTurns turns off the turn queue (see DirectWriter, "Fairness"):
	// commits are then purely optimistic, one request cheaper, and unfair
	// under contention. Default: false (turns on).
	NoTurns bool
	// TurnTTL is how long a writer's entry in a partition's turn queue
	// lasts unless renewed; a writer renews it while it waits, so TurnTTL
	// bounds how long a writer that died while queued holds up the others.
	// Default: 2s.
	TurnTTL time.Duration
	// TurnPoll is how often a queued writer re-reads the queue, per
	// writer ahead of it (jittered, at most MaxBackoff). Default: 2ms.
	TurnPoll time.Duration
	// CommitTimeout bounds one group commit, rebases included. A group
	// commit does not end with the context of the Write that leads it,
	// since it carries the batches of other callers too. Default: 1 minute.
	CommitTimeout time.Duration
	// OnGroup, if set, is called by the leading Write after each group
	// commit, successful or not, before the group's callers are woken: it
	// receives the per-group metrics (rows, attempts, requests). It must be
	// safe for concurrent use (groups of different partitions run in
	// parallel), return quickly and not call Write. Default: none.
	OnGroup func(GroupStats)
	// Changes, when set, receives each committed group as one ChangeBatch,
	// after the group's Writes are woken and before the next group of the
	// partition starts, so in _seq order per partition (see ChangeSink).
	// Default: none.
	Changes ChangeSink
	// Metrics, when set, counts group commits (see NewMetrics). Default:
	// none.
	Metrics *Metrics
	// ManifestMetrics, when set, counts the commits of the partition logs.
	ManifestMetrics *manifest.Metrics
	// Logger receives a debug record per group commit. Default: discard.
	Logger *slog.Logger
	// Clock stamps manifests and measures durations. Default: time.Now.
	Clock func() time.Time
	// Rand returns a uniform random number in [0, n) for n > 0; it draws
	// backoff jitter. It must be safe for concurrent use. Default:
	// math/rand/v2.Int64N.
	Rand func(n int64) int64
}

// Direct writer defaults.
const (
	DefaultDirectMaxGroupRows  = 65536
	DefaultDirectMaxGroupBytes = 32 << 20
	DefaultDirectMaxAttempts   = 100
	DefaultDirectMinBackoff    = time.Millisecond
	DefaultDirectMaxBackoff    = 100 * time.Millisecond
	DefaultDirectCommitTimeout = time.Minute
	DefaultDirectTurnTTL       = 2 * time.Second
	DefaultDirectTurnPoll      = 2 * time.Millisecond
)

// EnsureDefaults replaces zero fields by their defaults.
func (o *DirectOptions) EnsureDefaults() {
	o.Segment.EnsureDefaults()
	if o.MaxGroupRows == 0 {
		o.MaxGroupRows = DefaultDirectMaxGroupRows
	}
	if o.MaxGroupBytes == 0 {
		o.MaxGroupBytes = DefaultDirectMaxGroupBytes
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultDirectMaxAttempts
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultDirectMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultDirectMaxBackoff, o.MinBackoff)
	}
	if o.CommitTimeout == 0 {
		o.CommitTimeout = DefaultDirectCommitTimeout
	}
	if o.TurnTTL == 0 {
		o.TurnTTL = DefaultDirectTurnTTL
	}
	if o.TurnPoll == 0 {
		o.TurnPoll = DefaultDirectTurnPoll
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = mathrand.Int64N
	}
}

// Validate reports every problem of options that EnsureDefaults has filled.
func (o *DirectOptions) Validate() error {
	var errs []error
	if err := o.Segment.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.MaxGroupRows < 1 {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.MaxGroupRows must be at least 1, got %d", o.MaxGroupRows))
	}
	if o.MaxGroupBytes < 1 {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.MaxGroupBytes must be at least 1, got %d", o.MaxGroupBytes))
	}
	if o.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.MaxAttempts must be at least 1, got %d", o.MaxAttempts))
	}
	if o.MinBackoff < 0 {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.MinBackoff must not be negative, got %s", o.MinBackoff))
	}
	if o.MaxBackoff < o.MinBackoff {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.MaxBackoff %s is below MinBackoff %s", o.MaxBackoff, o.MinBackoff))
	}
	if o.TurnTTL < 0 || o.TurnPoll < 0 {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.TurnTTL %s and TurnPoll %s must not be negative", o.TurnTTL, o.TurnPoll))
	}
	if o.CommitTimeout < 0 {
		errs = append(errs, fmt.Errorf("tablestore: DirectOptions.CommitTimeout must not be negative, got %s", o.CommitTimeout))
	}
	if o.Logger == nil || o.Clock == nil || o.Rand == nil {
		errs = append(errs, errors.New("tablestore: DirectOptions: call EnsureDefaults before Validate"))
	}
	return errors.Join(errs...)
}

// DirectResult is what an acknowledged direct write got.
type DirectResult struct {
	// FirstSeq is the _seq of the batch's first change; the others follow
	// consecutively.
	FirstSeq uint64
	// ManifestVersion is the partition manifest version that committed the
	// batch (and the rest of its group).
	ManifestVersion uint64
}

// GroupStats describe one group commit (see DirectOptions.OnGroup).
type GroupStats struct {
	TableID, Partition string
	// Batches is the number of Write calls in the group, Rows their
	// changes: the _seq values the group consumes.
	Batches int
	Rows    int64
	// SegmentRows and SegmentBytes describe the last segment built: one
	// version per key, so fewer rows than Rows when changes of the group
	// hit the same key.
	SegmentRows, SegmentBytes int64
	// Attempts is how many segments the group built and offered to the
	// partition log: 1 plus the number of rebases.
	Attempts int
	// Requests counts the object store calls the group made: segment PUTs,
	// manifest LISTs, GETs and PUTs, the hint PUT (one commit in
	// manifest.DefaultHintEvery), DELETEs of segments orphaned by rebases,
	// and the GETs and PUTs of the turn queue. In the steady state it is
	// 3: the turn queue GET, the segment PUT and the manifest PUT (2 with
	// NoTurns; see Cost in DirectWriter).
	Requests objstore.OpCounts
	// Queued is true if the group commit queued for a turn (see
	// DirectWriter, "Fairness"); TurnWait is how long it waited.
	Queued   bool
	TurnWait time.Duration
	// FirstSeq and ManifestVersion are those of the commit; zero if Err.
	FirstSeq, ManifestVersion uint64
	Duration                  time.Duration
	// Err is the group's error, returned to each of its Write calls.
	Err error
}

// DirectWriter is the direct (serverless) write path: Write returns once
// its rows are in a segment referenced by a committed partition manifest,
// without a node or a write buffer.
//
// # Group commit
//
// Concurrent Writes to one partition through one DirectWriter share commits.
// A Write queues its batch; if no group of the partition is in flight it
// leads: it takes the queued batches (in arrival order, up to MaxGroupRows
// and MaxGroupBytes, all of one schema version), numbers their changes
// LastSeq+1, LastSeq+2, … in that order, writes one segment holding the
// latest of them per key (a later change of a key in the group wins), and
// commits one manifest version adding it. Batches that arrive meanwhile
// queue up; when the group is done its leader wakes every caller of the
// group and hands the lead to the first queued batch, whose Write then
// commits everything queued as the next group.
//
// # Many writers
//
// Any number of DirectWriters, in any number of processes, may write one
// partition at once. A group's segment is numbered for the base LastSeq it
// was built on; the commit's mutation checks that the manifest still has
// that LastSeq. If another writer committed first, the segment is deleted
// (best effort; garbage collection removes it otherwise), rebuilt with _seq
// values above the new LastSeq under a new key, uploaded and committed
// again, after a jittered exponential backoff, up to MaxAttempts times.
// Commits that keep LastSeq (compaction) do not force a rebase. Rows are
// neither lost nor duplicated: each attempt is one conditional put of the
// next manifest version, and an attempt that did not land is never
// referenced.
//
// # Fairness
//
// Optimistic rebasing alone starves writers of a hot partition: the writer
// that just committed holds the latest manifest and commits its next group
// at once, while the ones that lost must find out, rebuild and re-upload
// first, and lose again (16 writers on one partition: group commits losing
// 70 races in a row, 5-second commits beside 10-millisecond ones). So each
// partition has a turn queue, the object "turns" in its folder: a FIFO of
// writer IDs with expiry times, updated with conditional puts. A writer
// reads it beside its segment upload; if others are queued, it queues
// behind them instead of committing. A writer that loses turnAfterLosses
// races in one group commit queues too. A queued writer waits (re-reading
// the queue, paced by how fast it advances) until it heads the queue, then
// commits and leaves the queue, recording the partition's new LastSeq in
// it: the next writer builds and uploads its segment on that LastSeq while
// it reads the latest manifest, which decides (a rebuild if another writer
// committed meanwhile). Under
// contention, commits thus go round-robin; when the queue is empty,
// commits are optimistic as before.
//
// The queue only orders commits; the conditional manifest put alone
// decides them, so a writer that ignores the queue, a queue that cannot be
// read, or a lapsed entry costs fairness, never rows. An entry lapses
// TurnTTL after its last renewal (waiting writers renew theirs), so a
// writer that dies while queued holds the others up at most that long.
// Throughput of one partition is one commit per turn hand-over (about 5
// sequential requests: leave, the next writer's poll, the segment PUT
// beside the LIST and GET of the latest manifest, the manifest PUT); more
// partitions commit in parallel (see docs/ARCHITECTURE.md).
//
// # Cost
//
// A group commit is one GET of the turn queue (beside the upload, so it
// adds no latency), one segment PUT and one manifest PUT when the writer's
// last commit to the partition (or its last look at it) is recent: the
// partition's manifest.Log builds the next version on the manifest it
// holds, without listing, and the conditional put itself checks that no
// other writer committed since (see manifest.Log.Commit; the Log's
// HeadTTL bounds "recent", 30s by default). The "latest" hint is written by
// one commit in manifest.DefaultHintEvery. If another writer did commit
// meanwhile, the put fails and the group pays for finding out — a GET of
// the version that took its place, a LIST, the GET of a newer version if
// any — then rebases as above. A writer's first commit to a partition
// reads the hint, lists and loads the latest manifest first. A commit that
// waits for its turn adds a conditional PUT to join the queue and one to
// leave it (each with a GET when another writer updated the queue first),
// the GETs of its polls, and a LIST and GET of the latest manifest.
//
// # Ambiguous commits
//
// If the manifest put may or may not have landed and Log.Commit could not
// settle it, every Write of the group fails with an error wrapping
// manifest.ErrCommitUnknown: its rows may or may not become visible. The
// segment is kept (the manifest may reference it), and the writer does not
// retry that group: a blind retry could commit its rows twice.
//
// # Staging in memory
//
// Batches are staged in memory, not in a Pebble write buffer as the design
// note suggests. A direct write is acknowledged only after its commit, and a
// crash before that loses only unacknowledged batches whose callers get an
// error (or die with the process); making them durable locally first would
// add an fsync per batch and a recovery step without adding any guarantee,
// and a serverless instance's local disk does not outlive it anyway. Memory
// is bounded by the callers: each queued batch has a waiting Write.
//
// # Direct and node-owned writers do not mix
//
// A partition is written either by a node (the node-owned path, whose
// commits carry the node's writer epoch) or by direct writers (which hold
// no epoch and commit with epoch 0), never by both at once. If they mix,
// commits fail rather than corrupt: a direct commit to a partition a node
// has committed to with its epoch fails with manifest.ErrFenced (and its
// segment is deleted), and a node's Store.Flush refuses to commit when the
// partition's LastSeq is no longer the one the node seeded its buffer with
// or last committed (a direct writer committed meanwhile), because its
// buffered _seq values may collide with the direct commit's. The node's
// rows then stay in its buffer until an operator resolves the mix. A node
// that has neither written nor flushed the partition since it started
// cannot detect a direct commit made before its first flush; hence the
// rule.
//
// # Cancellation
//
// A Write whose ctx ends before its batch joins a group returns ctx's error
// and writes nothing. If it ends later, Write returns at once with an error
// wrapping both manifest.ErrCommitUnknown and ctx's error: the group commit
// goes on (bounded by CommitTimeout) and may commit the batch. The group
// commit itself is not cancelled by its leader's ctx.
//
// A DirectWriter is safe for concurrent use. It starts no goroutines but
// one per group commit for the turn queue read, which ends with it, and
// has no Close; the caller owns the bucket. It keeps a small state per
// partition written, including the partition log's cached latest manifest.
type DirectWriter struct {
	bucket objstore.Bucket // counts requests per group (see countingByCtx)
	opts   DirectOptions
	turnID string // this writer in turn queues

	mu struct {
		sync.Mutex
		partitions map[partitionID]*directPartition
	}
}

type partitionID struct{ tableID, partition string }

// directPartition is the group commit state of one partition.
type directPartition struct {
	id  partitionID
	log *manifest.Log[*manifest.Partition]

	mu struct {
		sync.Mutex
		// queue holds the batches not yet taken into a group, in arrival
		// order.
		queue []*directBatch
		// leading is true while a group is being committed, or the lead was
		// handed to queue[0].
		leading bool
	}

	// Owned by the current leader (one at a time, handed over under mu).
	// lastSeq is the partition's LastSeq as last seen, if known.
	lastSeq uint64
	known   bool
	// contendedUntil: until then the writer reads the turn queue before
	// building a segment (it was queued recently), not beside the upload.
	contendedUntil time.Time
	// turnEstimate is how long one queued writer's turn takes, as this
	// writer saw the queue advance (EWMA); it paces the polls of a wait.
	turnEstimate time.Duration
}

// directBatch is one Write's batch.
type directBatch struct {
	table *manifest.Table
	rows  []directRow
	bytes int64

	// Under the partition's mu.
	taken, promoted bool

	lead chan struct{} // closed when this Write must lead the next group
	done chan struct{} // closed when res and err are set
	res  DirectResult
	err  error
}

type directRow struct {
	key []byte
	c   Change
}

// NewDirectWriter returns a DirectWriter committing to bucket. Invalid
// options are reported with all their problems.
func NewDirectWriter(bucket objstore.Bucket, opts DirectOptions) (*DirectWriter, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if bucket == nil {
		return nil, errors.New("tablestore: NewDirectWriter: nil bucket")
	}
	w := &DirectWriter{bucket: countingByCtx{bucket}, opts: opts, turnID: newTurnID(opts.NodeID)}
	w.mu.partitions = map[partitionID]*directPartition{}
	return w, nil
}

func (w *DirectWriter) partition(tableID, partition string) *directPartition {
	id := partitionID{tableID, partition}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.mu.partitions[id]
	if !ok {
		p = &directPartition{id: id, log: manifest.NewPartitionLog(w.bucket, tableID, partition, manifest.LogOptions{
			NodeID: w.opts.NodeID, Clock: w.opts.Clock, Logger: w.opts.Logger, Rand: w.opts.Rand, Metrics: w.opts.ManifestMetrics,
		})}
		w.mu.partitions[id] = p
	}
	return p
}

// Write commits changes to one partition of t as one atomic batch and
// returns the _seq of its first change (the others follow consecutively)
// and the manifest version that committed it. It returns once that version
// is committed; see DirectWriter for group commit, conflicts, ambiguous
// outcomes and cancellation. An invalid change fails the whole batch with
// ErrInvalidRow before anything is written; an empty batch does nothing and
// returns a zero DirectResult. The changes must not be modified until Write
// returns.
func (w *DirectWriter) Write(ctx context.Context, t *manifest.Table, partition string, changes []Change) (DirectResult, error) {
	if err := errors.Join(manifest.ValidateTableID(t.ID), manifest.ValidatePartitionKey(partition)); err != nil {
		return DirectResult{}, fmt.Errorf("tablestore: direct write: %w", err)
	}
	pk, err := pkIndexes(t)
	if err != nil {
		return DirectResult{}, err
	}
	if len(changes) == 0 {
		return DirectResult{}, nil
	}
	b := &directBatch{table: t, rows: make([]directRow, len(changes)), lead: make(chan struct{}), done: make(chan struct{})}
	for i, c := range changes {
		if err := checkRow(t, pk, c); err != nil {
			return DirectResult{}, fmt.Errorf("%w: change %d: %v", ErrInvalidRow, i, err)
		}
		b.rows[i] = directRow{key: keyOf(pk, c.Values), c: c}
		b.bytes += changeBytes(b.rows[i])
	}
	if err := ctx.Err(); err != nil {
		return DirectResult{}, fmt.Errorf("tablestore: direct write %s/%q: %w", t.ID, partition, err)
	}

	p := w.partition(t.ID, partition)
	p.mu.Lock()
	p.mu.queue = append(p.mu.queue, b)
	if !p.mu.leading {
		p.mu.leading, b.promoted = true, true
		close(b.lead)
	}
	p.mu.Unlock()

	select {
	case <-b.lead:
	case <-b.done:
		return b.res, b.err
	case <-ctx.Done():
		p.mu.Lock()
		switch {
		case b.promoted:
			// The lead was handed to us as ctx ended: lead anyway, others
			// wait for it.
			p.mu.Unlock()
		case !b.taken:
			p.mu.queue = slices.DeleteFunc(p.mu.queue, func(q *directBatch) bool { return q == b })
			p.mu.Unlock()
			return DirectResult{}, fmt.Errorf("tablestore: direct write %s/%q: %w", t.ID, partition, ctx.Err())
		default:
			p.mu.Unlock()
			return DirectResult{}, fmt.Errorf("tablestore: direct write %s/%q: %w: stopped waiting for the group commit: %w",
				t.ID, partition, manifest.ErrCommitUnknown, ctx.Err())
		}
	}
	w.lead(ctx, p)
	<-b.done // the leader's batch is in the group it led
	return b.res, b.err
}

// lead commits one group of p's queued batches, wakes their callers and
// hands the lead to the next queued batch.
func (w *DirectWriter) lead(ctx context.Context, p *directPartition) {
	p.mu.Lock()
	group := w.takeGroup(p)
	p.mu.Unlock()

	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.CommitTimeout)
	st := w.commitGroup(gctx, p, group)
	cancel()
	if w.opts.OnGroup != nil {
		w.opts.OnGroup(st)
	}
	w.opts.Metrics.directCommit(st)
	for _, b := range group {
		close(b.done)
	}
	if st.Err == nil && w.opts.Changes != nil {
		w.opts.Changes.Publish(groupBatch(p, group, st))
	}

	p.mu.Lock()
	if len(p.mu.queue) > 0 {
		next := p.mu.queue[0]
		next.promoted = true
		close(next.lead)
	} else {
		p.mu.leading = false
	}
	p.mu.Unlock()
}

// groupBatch is the ChangeBatch of a committed group: every change of its
// batches in arrival order, numbered from st.FirstSeq.
func groupBatch(p *directPartition, group []*directBatch, st GroupStats) ChangeBatch {
	b := ChangeBatch{Table: group[0].table, Partition: p.id.partition, FirstSeq: st.FirstSeq,
		LastSeq: st.FirstSeq + uint64(st.Rows) - 1, ManifestVersion: st.ManifestVersion,
		Rows: make([]ChangeRow, 0, st.Rows)}
	for _, g := range group {
		for i := range g.rows {
			c := &g.rows[i].c
			b.Rows = append(b.Rows, ChangeRow{Seq: st.FirstSeq + uint64(len(b.Rows)), Op: c.op(), Values: c.Values, Old: c.Old})
		}
	}
	return b
}

// takeGroup removes the next group from p's queue: the first batch, and
// the batches after it of the same schema version while the group stays
// within the bounds. It runs under p.mu.
func (w *DirectWriter) takeGroup(p *directPartition) []*directBatch {
	q := p.mu.queue
	n, rows, bytes := 1, len(q[0].rows), q[0].bytes
	for ; n < len(q); n++ {
		b := q[n]
		if b.table.SchemaVersion != q[0].table.SchemaVersion ||
			rows+len(b.rows) > w.opts.MaxGroupRows || bytes+b.bytes > w.opts.MaxGroupBytes {
			break
		}
		rows, bytes = rows+len(b.rows), bytes+b.bytes
	}
	group := slices.Clone(q[:n])
	for _, b := range group {
		b.taken = true
	}
	p.mu.queue = slices.Delete(q, 0, n)
	return group
}

// turnAfterLosses is how many races a group commit loses before its writer
// queues for a turn: one loss is ordinary (a stale cached head), several in
// a row is contention.
const turnAfterLosses = 2

// errBaseMoved is returned by a group's mutation when the partition's
// LastSeq is no longer the one its segment was numbered for.
var errBaseMoved = errors.New("tablestore: partition LastSeq moved")

// groupVersion is one version of a group's segment: the change at offset
// off (0-based, in arrival order) of the group, whose _seq is base+1+off.
type groupVersion struct {
	key []byte
	off uint64
	c   Change
}

// commitGroup commits group to p and sets the result of each batch. It
// runs in the leader, which owns p.lastSeq and p.known.
func (w *DirectWriter) commitGroup(ctx context.Context, p *directPartition, group []*directBatch) GroupStats {
	start := w.opts.Clock()
	t := group[0].table
	var reqs objstore.OpCounts
	ctx = context.WithValue(ctx, requestsKey{}, &reqs)
	st := GroupStats{TableID: p.id.tableID, Partition: p.id.partition, Batches: len(group)}

	// The group's versions in key order, the latest of each key, with
	// their offsets: rebasing only changes the base.
	var versions []groupVersion
	for _, b := range group {
		for _, r := range b.rows {
			versions = append(versions, groupVersion{key: r.key, off: uint64(st.Rows), c: r.c})
			st.Rows++
		}
	}
	slices.SortStableFunc(versions, func(a, b groupVersion) int { return bytes.Compare(a.key, b.key) })
	versions = dedupLatest(versions)

	base, ok, err := w.commitAttempts(ctx, p, t, versions, uint64(st.Rows), &st)
	st.Requests, st.Duration, st.Err = reqs, w.opts.Clock().Sub(start), err
	off := uint64(0)
	for _, b := range group {
		if err != nil {
			b.err = err
		} else {
			b.res = DirectResult{FirstSeq: base + 1 + off, ManifestVersion: ok.Version}
		}
		off += uint64(len(b.rows))
	}
	if err == nil {
		st.FirstSeq, st.ManifestVersion = base+1, ok.Version
	}
	w.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "direct group commit",
		slog.String("table", st.TableID), slog.String("partition", st.Partition),
		slog.Uint64("version", st.ManifestVersion), slog.Int("batches", st.Batches),
		slog.Int64("rows", st.Rows), slog.Int("attempts", st.Attempts),
		slog.Int64("requests", reqs.Total()), slog.Duration("duration", st.Duration), slog.Any("err", err))
	return st
}

// dedupLatest keeps the last version of each run of equal keys (the one
// with the highest offset, since the sort was stable).
func dedupLatest(vs []groupVersion) []groupVersion {
	out := vs[:0]
	for i, v := range vs {
		if i+1 < len(vs) && bytes.Equal(v.key, vs[i+1].key) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// commitAttempts builds, uploads and commits the group's segment, rebasing
// it until it commits, and returns the base LastSeq it committed on and the
// committed manifest. With turns on it reads the partition's turn queue
// beside the first upload, and waits for its turn when other writers are
// queued or when it loses a race (see DirectWriter, "Fairness").
func (w *DirectWriter) commitAttempts(ctx context.Context, p *directPartition, t *manifest.Table, versions []groupVersion, n uint64, st *GroupStats) (uint64, *manifest.Partition, error) {
	what := fmt.Sprintf("tablestore: direct commit %s/%q", p.id.tableID, p.id.partition)
	if !p.known {
		if err := p.refresh(ctx); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	turns := turnsKey(p.id.tableID, p.id.partition)
	queued := false // this writer is in the turn queue
	var lastQueue turnQueue
	var leaving turnHead // the head this writer committed, for the next one
	if !w.opts.NoTurns {
		defer func() {
			if queued {
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.TurnTTL)
				w.leaveTurns(lctx, turns, lastQueue, leaving)
				cancel()
			}
		}()
	}
	// refreshing, when set, delivers a refresh of p's LastSeq running
	// beside the segment build and upload: p.lastSeq and p.known are not
	// touched until it is received (before the manifest commit, or here
	// on any return).
	var refreshing <-chan turnRead
	defer func() {
		if refreshing != nil {
			<-refreshing
		}
	}()
	// awaitTurn queues the writer and waits for its turn, and returns the
	// base to build on: the LastSeq the writer that left the queue before
	// it committed (the queue's Head), if newer than what this writer
	// knows. The latest manifest is read meanwhile (refreshing); the
	// commit checks the base against it. A queue that cannot be used is
	// ignored: the commit goes on optimistically.
	awaitTurn := func(q turnQueue, base uint64) (uint64, error) {
		queued, st.Queued = true, true
		waitStart := w.opts.Clock()
		p.contendedUntil = waitStart.Add(w.opts.TurnTTL)
		var err error
		lastQueue, err = w.awaitTurn(ctx, p, turns, q)
		st.TurnWait += w.opts.Clock().Sub(waitStart)
		if err != nil {
			lastQueue = turnQueue{}
			if ctx.Err() != nil {
				return 0, err
			}
			w.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "direct writer commits without its turn",
				slog.String("turns", turns), slog.Any("err", err))
		}
		refreshing = refreshAsync(ctx, p)
		return max(base, lastQueue.Head.LastSeq), nil
	}
	base := p.lastSeq
	var file bytes.Buffer
	for {
		st.Attempts++
		file.Reset()
		info, err := segment.Write(&file, t, groupVersions(t, versions, base), w.opts.Segment)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: write segment: %w", what, err)
		}
		st.SegmentRows, st.SegmentBytes = info.Rows, int64(file.Len())
		key := segmentKey(t.ID, p.id.partition, info.SeqMin, info.SeqMax)
		var pending <-chan turnRead
		if !w.opts.NoTurns && !queued {
			if w.opts.Clock().Before(p.contendedUntil) {
				// Contended lately: most likely others are queued, so
				// find out before uploading a segment that would be
				// rebuilt after the wait.
				if q, rerr := w.readTurns(ctx, turns); rerr == nil && w.mustQueue(q) {
					next, werr := awaitTurn(q, base)
					if werr != nil {
						return 0, nil, fmt.Errorf("%s: %w", what, werr)
					}
					if next != base {
						st.Attempts--
						base = next
						continue
					}
				}
			} else if st.Attempts == 1 {
				pending = w.readTurnsAsync(ctx, turns)
			}
		}
		_, err = w.bucket.Put(ctx, key, file.Bytes(), objstore.PutOptions{IfNoneMatch: true})
		if pending != nil {
			r := <-pending
			addCounts(requestsOf(ctx), r.reqs)
			if err == nil && r.err == nil && w.mustQueue(r.q) {
				// Others are queued: take a place behind them.
				next, werr := awaitTurn(r.q, base)
				if werr != nil {
					w.deleteOrphan(ctx, key)
					return 0, nil, fmt.Errorf("%s: %w", what, werr)
				}
				if next != base {
					w.deleteOrphan(ctx, key)
					base = next
					continue
				}
			}
		}
		if err != nil {
			w.deleteOrphan(ctx, key)
			return 0, nil, fmt.Errorf("%s: upload segment: %w", what, err)
		}
		if refreshing != nil {
			// The segment is built on the queue's hint; the latest
			// manifest decides.
			r := <-refreshing
			refreshing = nil
			addCounts(requestsOf(ctx), r.reqs)
			if r.err != nil {
				w.deleteOrphan(ctx, key)
				return 0, nil, fmt.Errorf("%s: %w", what, r.err)
			}
			if p.lastSeq != base {
				w.deleteOrphan(ctx, key)
				base = p.lastSeq
				continue
			}
		}
		seg := manifest.Segment{
			Key: key, Rows: info.Rows, Bytes: int64(file.Len()), SeqMin: info.SeqMin, SeqMax: info.SeqMax,
			SchemaVersion: info.SchemaVersion, Columns: info.Columns, Deleted: &info.Deleted,
		}
		var moved uint64
		var fresh <-chan turnRead
		if queued {
			// Re-read the queue beside the commit, so that leaving it
			// after the commit is one conditional put: writers queued
			// during the turn made the ETag of the wait stale.
			fresh = w.readTurnsAsync(ctx, turns)
		}
		committed, err := p.log.Commit(ctx, func(m *manifest.Partition) (*manifest.Partition, error) {
			if m.LastSeq != base {
				moved = m.LastSeq
				return nil, errBaseMoved
			}
			m.Segments = append(m.Segments, seg)
			m.LastSeq = base + n
			return m, nil
		}, manifest.CommitOptions{})
		if fresh != nil {
			r := <-fresh
			addCounts(requestsOf(ctx), r.reqs)
			if r.err == nil {
				lastQueue = r.q
			}
		}
		switch {
		case err == nil:
			p.lastSeq = committed.LastSeq
			leaving = turnHead{Version: committed.Version, LastSeq: committed.LastSeq}
			return base, committed, nil
		case errors.Is(err, errBaseMoved):
			// Another writer committed first: renumber above the LastSeq
			// the mutation saw. (Re-reading it after the pause, to offer a
			// segment on a fresher base, made losers contend harder with
			// the writer that keeps winning: 8 processes took 2-3 times
			// as long, with twice the attempts per commit.)
			w.deleteOrphan(ctx, key)
			p.lastSeq = moved
			if st.Attempts >= w.opts.MaxAttempts {
				return 0, nil, fmt.Errorf("%s: %w: other writers committed first %d times", what, manifest.ErrConflict, st.Attempts)
			}
			if !w.opts.NoTurns && !queued && st.Attempts >= turnAfterLosses {
				// Lost again: queue up rather than race again, so the
				// writer that keeps winning lets the others go first.
				q, rerr := w.readTurns(ctx, turns)
				if rerr == nil {
					next, werr := awaitTurn(q, moved)
					if werr != nil {
						return 0, nil, fmt.Errorf("%s: %w", what, werr)
					}
					base = next
					continue
				}
			}
			// Queued writers lose only to writers that have not seen the
			// queue yet; others back off.
			if err := w.sleep(ctx, st.Attempts); err != nil {
				return 0, nil, fmt.Errorf("%s: %w", what, err)
			}
			base = moved
		case errors.Is(err, manifest.ErrCommitUnknown):
			// The manifest may reference the segment: keep it, and learn
			// the partition's LastSeq afresh next time.
			p.known = false
			return 0, nil, fmt.Errorf("%s: %w", what, err)
		default:
			// Nothing was committed (see manifest.Log.Commit).
			w.deleteOrphan(ctx, key)
			return 0, nil, fmt.Errorf("%s: %w", what, err)
		}
	}
}

// refresh learns the partition's LastSeq from its latest manifest. Cost: 1
// LIST, plus 1 GET if another writer committed since this writer last
// looked (and 1 GET of the hint on the partition's first use). It also
// confirms the head the partition log's next Commit builds on.
func (p *directPartition) refresh(ctx context.Context) error {
	m, err := p.log.Latest(ctx)
	switch {
	case errors.Is(err, manifest.ErrNoManifest):
		p.lastSeq = 0
	case err != nil:
		return err
	default:
		p.lastSeq = m.LastSeq
	}
	p.known = true
	return nil
}

// groupVersions yields the group's versions numbered from base+1.
func groupVersions(t *manifest.Table, vs []groupVersion, base uint64) iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		for _, v := range vs {
			if !yield(row.Version{Seq: base + 1 + v.off, Deleted: v.c.Deleted, SchemaVersion: t.SchemaVersion, Values: v.c.Values}, nil) {
				return
			}
		}
	}
}

// deleteOrphan removes a segment no manifest references. Best effort: an
// object left behind is garbage collected.
func (w *DirectWriter) deleteOrphan(ctx context.Context, key string) {
	if ctx.Err() != nil {
		return
	}
	if err := w.bucket.Delete(ctx, key); err != nil {
		w.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "direct orphan segment not deleted",
			slog.String("segment", key), slog.Any("err", err))
	}
}

// sleep waits the jittered backoff before rebase attempt+1, or until ctx
// ends.
func (w *DirectWriter) sleep(ctx context.Context, attempt int) error {
	return backoff.Policy{Min: w.opts.MinBackoff, Max: w.opts.MaxBackoff, Rand: w.opts.Rand}.Sleep(ctx, attempt)
}

// changeBytes estimates the memory a staged change holds.
func changeBytes(r directRow) int64 {
	n := int64(len(r.key)) + 48
	for _, v := range r.c.Values {
		n += 24 + int64(len(v.Str()))
	}
	return n
}

// requestsKey is the context key of the *objstore.OpCounts a group commit
// counts its requests in.
type requestsKey struct{}

// countingByCtx counts each call in the *objstore.OpCounts of its context,
// if any. One group commit runs in one goroutine, so the counts need no
// synchronization.
type countingByCtx struct{ objstore.Bucket }

// requestsOf returns the counts of ctx's group commit, or a throwaway.
func requestsOf(ctx context.Context) *objstore.OpCounts {
	if c, ok := ctx.Value(requestsKey{}).(*objstore.OpCounts); ok {
		return c
	}
	return &objstore.OpCounts{}
}

func count(ctx context.Context, f func(*objstore.OpCounts)) {
	if c, ok := ctx.Value(requestsKey{}).(*objstore.OpCounts); ok {
		f(c)
	}
}

func (b countingByCtx) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Attrs, error) {
	count(ctx, func(c *objstore.OpCounts) { c.Get++ })
	return b.Bucket.Get(ctx, key)
}

func (b countingByCtx) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	count(ctx, func(c *objstore.OpCounts) { c.GetRange++ })
	return b.Bucket.GetRange(ctx, key, off, length)
}

func (b countingByCtx) Attributes(ctx context.Context, key string) (objstore.Attrs, error) {
	count(ctx, func(c *objstore.OpCounts) { c.Attributes++ })
	return b.Bucket.Attributes(ctx, key)
}

func (b countingByCtx) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	count(ctx, func(c *objstore.OpCounts) { c.Put++ })
	return b.Bucket.Put(ctx, key, data, opts)
}

func (b countingByCtx) Delete(ctx context.Context, key string) error {
	count(ctx, func(c *objstore.OpCounts) { c.Delete++ })
	return b.Bucket.Delete(ctx, key)
}

func (b countingByCtx) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.Attrs, error] {
	count(ctx, func(c *objstore.OpCounts) { c.List++ })
	return b.Bucket.List(ctx, prefix, startAfter)
}

var _ objstore.Bucket = countingByCtx{}
