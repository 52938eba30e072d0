package tablestore

// Compaction: merging runs of small segments of a partition into segments
// of about CompactOptions.TargetBytes, committed as one manifest version
// that replaces exactly the merged segments.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// ErrCompactionConflict: the partition changed under a compaction so that
// its merged segments can no longer replace the ones it read (another
// compaction replaced some of them). Nothing was committed and the new
// segment objects were deleted; compacting again is safe.
var ErrCompactionConflict = errors.New("tablestore: compaction conflict")

// Compaction defaults.
const (
	DefaultCompactTargetBytes        = 128 << 20
	DefaultCompactMinSegments        = 4
	DefaultCompactMaxSegments        = 64
	DefaultCompactTombstoneRetention = 24 * time.Hour
)

// CompactOptions configure one Compact call. Zero values mean the
// documented defaults; Compact calls EnsureDefaults and Validate.
type CompactOptions struct {
	// TargetBytes is the size of the segments compaction writes. Segments
	// of TargetBytes/2 or more are never merged. Default: 128 MiB.
	TargetBytes int64
	// MinSegments is the fewest consecutive small segments worth merging;
	// with fewer, Compact does nothing. At least 2. Default: 4.
	MinSegments int
	// MaxSegments bounds the segments one call merges (every input is open
	// at once during the merge). A longer run is merged from its start and
	// the rest left to the next call. At least MinSegments. Default: 64.
	MaxSegments int
	// MaxInputBytes bounds the total size of the segments one call merges,
	// as MaxSegments does; it bounds the memory of a compaction, which
	// holds its inputs (unless the Store has a Cache) and its outputs.
	// Default: the larger of 2 × TargetBytes and MinSegments × TargetBytes/2.
	MaxInputBytes int64
	// TombstoneRetention is how long tombstones are kept after their
	// segment was written, so that readers of the change history (live
	// subscriptions resuming from a _seq) see deletes. Compaction drops a
	// tombstone only when its run starts at the partition's first segment
	// (no older segment can hold the key) and the segment holding it was
	// written (object LastModified) at least this long ago. Default: 24h.
	TombstoneRetention time.Duration
}

// EnsureDefaults replaces zero fields by their defaults.
func (o *CompactOptions) EnsureDefaults() {
	if o.TargetBytes == 0 {
		o.TargetBytes = DefaultCompactTargetBytes
	}
	if o.MinSegments == 0 {
		o.MinSegments = DefaultCompactMinSegments
	}
	if o.MaxSegments == 0 {
		o.MaxSegments = max(DefaultCompactMaxSegments, o.MinSegments)
	}
	if o.MaxInputBytes == 0 {
		o.MaxInputBytes = max(2*o.TargetBytes, int64(o.MinSegments)*(o.TargetBytes/2))
	}
	if o.TombstoneRetention == 0 {
		o.TombstoneRetention = DefaultCompactTombstoneRetention
	}
}

// Validate reports every problem of options that EnsureDefaults has filled.
func (o *CompactOptions) Validate() error {
	var errs []error
	if o.TargetBytes < 2 {
		errs = append(errs, fmt.Errorf("tablestore: CompactOptions.TargetBytes must be at least 2, got %d", o.TargetBytes))
	}
	if o.MinSegments < 2 {
		errs = append(errs, fmt.Errorf("tablestore: CompactOptions.MinSegments must be at least 2, got %d", o.MinSegments))
	}
	if o.MaxSegments < o.MinSegments {
		errs = append(errs, fmt.Errorf("tablestore: CompactOptions.MaxSegments (%d) must be at least MinSegments (%d)", o.MaxSegments, o.MinSegments))
	}
	if o.MaxInputBytes < int64(o.MinSegments)*(o.TargetBytes/2) {
		errs = append(errs, fmt.Errorf("tablestore: CompactOptions.MaxInputBytes (%d) must hold MinSegments small segments (%d × TargetBytes/2)", o.MaxInputBytes, o.MinSegments))
	}
	if o.TombstoneRetention < 0 {
		errs = append(errs, fmt.Errorf("tablestore: CompactOptions.TombstoneRetention must not be negative, got %v", o.TombstoneRetention))
	}
	return errors.Join(errs...)
}

// CompactResult describes one Compact call. SegmentsIn is 0 when there
// was nothing to compact.
type CompactResult struct {
	TableID, Partition string
	// SegmentsIn segments of RowsIn row versions and BytesIn bytes were
	// replaced by SegmentsOut segments of RowsOut versions and BytesOut
	// bytes. SegmentsOut is 0 when nothing survived the merge.
	SegmentsIn, SegmentsOut int
	RowsIn, RowsOut         int64
	BytesIn, BytesOut       int64
	// TombstonesDropped counts the tombstones purged (included in RowsIn,
	// not in RowsOut).
	TombstonesDropped int64
	// Segments are the keys of the new segments.
	Segments []string
	// ManifestVersion is the version committed, or the latest version when
	// there was nothing to do.
	ManifestVersion uint64
	Duration        time.Duration
}

// compactionPlan is the run of segments one Compact call merges.
type compactionPlan struct {
	// first is the index of the run's first segment in the manifest.
	first int
	// run holds the segments merged, in manifest (_seq) order.
	run []manifest.Segment
	// groups splits run into consecutive index ranges [lo, hi), one per
	// output segment: the versions surviving from run[lo:hi] go to one
	// segment whose _seq range covers theirs.
	groups [][2]int
}

// planCompaction picks the longest run (the earliest among equals) of
// consecutive segments smaller than TargetBytes/2, cut to MaxSegments and
// MaxInputBytes from its start, and groups it into outputs of at most
// TargetBytes of input each (at least one input per output). It reports
// false when the run has fewer than MinSegments segments. opts must be
// valid.
func planCompaction(segs []manifest.Segment, opts CompactOptions) (compactionPlan, bool) {
	small := func(s manifest.Segment) bool { return s.Bytes < opts.TargetBytes/2 }
	bestLo, bestN := 0, 0
	for i := 0; i < len(segs); {
		if !small(segs[i]) {
			i++
			continue
		}
		j := i
		for j < len(segs) && small(segs[j]) {
			j++
		}
		if j-i > bestN {
			bestLo, bestN = i, j-i
		}
		i = j
	}
	var run []manifest.Segment
	var total int64
	for _, s := range segs[bestLo : bestLo+bestN] {
		if len(run) == opts.MaxSegments || (len(run) > 0 && total+s.Bytes > opts.MaxInputBytes) {
			break
		}
		run = append(run, s)
		total += s.Bytes
	}
	if len(run) < opts.MinSegments {
		return compactionPlan{}, false
	}
	p := compactionPlan{first: bestLo, run: run}
	lo, size := 0, int64(0)
	for i, s := range run {
		if i > lo && size+s.Bytes > opts.TargetBytes {
			p.groups = append(p.groups, [2]int{lo, i})
			lo, size = i, 0
		}
		size += s.Bytes
	}
	p.groups = append(p.groups, [2]int{lo, len(run)})
	return p, true
}

// inputOf returns the index of the run segment whose _seq range holds seq,
// or -1.
func (p *compactionPlan) inputOf(seq uint64) int {
	i := sort.Search(len(p.run), func(i int) bool { return p.run[i].SeqMax >= seq })
	if i == len(p.run) || p.run[i].SeqMin > seq {
		return -1
	}
	return i
}

// Compact merges the longest run of consecutive small segments of one
// partition of t into segments of about opts.TargetBytes and commits a
// manifest version that replaces exactly those segments; see
// CompactOptions for what is merged. The merge keeps the latest version of
// each key (the rule of mergeLatest) and the winning tombstones, except
// old tombstones when no older segment remains (see TombstoneRetention).
// Segments are presented in t's current schema, so columns added since an
// input was written are NULL in the output; t must be the table's current
// definition (at least as new as every segment).
//
// Each output holds the surviving versions of a consecutive sub-run of the
// inputs, sorted by key, and its manifest _seq range covers that sub-run,
// so ranges stay sorted and disjoint; the outputs together cover the run's
// _seq range exactly. LastSeq does not change, so writers and flushes are
// never forced to rebase by a compaction.
//
// The commit checks that every merged segment is still listed, in order;
// if not (another compaction replaced some), it fails with
// ErrCompactionConflict. Commits of other writers (flushes, direct writes)
// in between are kept: the commit applies on top of them. On any failure
// the new objects are deleted, except on manifest.ErrCommitUnknown, when
// the commit may have happened (garbage collection removes them if not).
// The replaced objects are not deleted: readers of older manifest versions
// keep reading them until CollectGarbage removes them.
//
// Compact is safe for concurrent use, also with Flush, Scan and other
// processes; concurrent compactions of one partition are safe but all but
// one fail with ErrCompactionConflict.
func (s *Store) Compact(ctx context.Context, t *manifest.Table, partition string, opts CompactOptions) (CompactResult, error) {
	res, err := s.compact(ctx, t, partition, opts)
	s.opts.Metrics.compact(res, err)
	return res, err
}

func (s *Store) compact(ctx context.Context, t *manifest.Table, partition string, opts CompactOptions) (CompactResult, error) {
	start := s.opts.Clock()
	res := CompactResult{TableID: t.ID, Partition: partition}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return res, err
	}
	pk, err := pkIndexes(t)
	if err != nil {
		return res, err
	}
	base, err := s.latest(ctx, t, partition)
	if err != nil {
		return res, fmt.Errorf("tablestore: compact %s/%q: %w", t.ID, partition, err)
	}
	res.ManifestVersion = base.Version
	plan, ok := planCompaction(base.Segments, opts)
	if !ok {
		res.Duration = s.opts.Clock().Sub(start)
		return res, nil
	}
	res.SegmentsIn = len(plan.run)
	for _, seg := range plan.run {
		res.RowsIn += seg.Rows
		res.BytesIn += seg.Bytes
	}

	// Tombstones may go only if no older segment can hold their key.
	var purge []bool // per input: its tombstones are old enough to drop
	if plan.first == 0 {
		now := s.opts.Clock()
		purge = make([]bool, len(plan.run))
		for i, seg := range plan.run {
			a, err := s.bucket.Attributes(ctx, seg.Key)
			if err != nil {
				return res, fmt.Errorf("tablestore: compact %s/%q: age of %s: %w", t.ID, partition, seg.Key, err)
			}
			purge[i] = !a.LastModified.IsZero() && now.Sub(a.LastModified) >= opts.TombstoneRetention
		}
	}

	outs, dropped, err := s.mergeRun(ctx, t, pk, &plan, purge)
	if err != nil {
		return res, fmt.Errorf("tablestore: compact %s/%q: %w", t.ID, partition, err)
	}
	res.TombstonesDropped = dropped

	// Upload, then commit. Until the commit succeeds the new objects are
	// ours to delete.
	var keys []string
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		for _, k := range keys {
			if err := s.bucket.Delete(cctx, k); err != nil {
				s.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "compaction output not deleted",
					slog.String("table", t.ID), slog.String("partition", partition),
					slog.String("segment", k), slog.Any("err", err))
			}
		}
	}
	segs := make([]manifest.Segment, len(outs))
	for i, o := range outs {
		seg := o.info.Segment(segmentKey(t.ID, partition, o.seqMin, o.seqMax))
		seg.Bytes, seg.SeqMin, seg.SeqMax = int64(len(o.data)), o.seqMin, o.seqMax
		keys = append(keys, seg.Key)
		if _, err := s.bucket.Put(ctx, seg.Key, o.data, objstore.PutOptions{IfNoneMatch: true}); err != nil {
			cleanup()
			return res, fmt.Errorf("tablestore: compact %s/%q: upload segment: %w", t.ID, partition, err)
		}
		segs[i] = seg
		res.RowsOut += seg.Rows
		res.BytesOut += seg.Bytes
	}
	if s.beforeCommit != nil { // the test hook Flush uses too
		if err := s.beforeCommit(); err != nil {
			return res, err // as a crash would: the outputs stay, unreferenced
		}
	}
	committed, err := s.commit(ctx, t.ID, partition, func(m *manifest.Partition) (*manifest.Partition, error) {
		i := slices.IndexFunc(m.Segments, func(seg manifest.Segment) bool { return seg.Key == plan.run[0].Key })
		if i < 0 || len(m.Segments)-i < len(plan.run) ||
			!slices.EqualFunc(m.Segments[i:i+len(plan.run)], plan.run, func(a, b manifest.Segment) bool { return a.Key == b.Key }) {
			return nil, fmt.Errorf("%w: %s/%q v%d: the %d segments merged from v%d (%s…) are no longer all listed, in order",
				ErrCompactionConflict, t.ID, partition, m.Version, len(plan.run), base.Version, plan.run[0].Key)
		}
		if dropped > 0 && i != 0 {
			return nil, fmt.Errorf("%w: %s/%q v%d: tombstones were dropped but segments now precede the merged ones",
				ErrCompactionConflict, t.ID, partition, m.Version)
		}
		m.Segments = slices.Concat(m.Segments[:i], segs, m.Segments[i+len(plan.run):])
		if dropped > 0 {
			// Every dropped tombstone came from an input old enough to
			// purge: none is above the newest such input's SeqMax.
			for j, seg := range plan.run {
				if purge[j] {
					m.PurgedThrough = max(m.PurgedThrough, seg.SeqMax)
				}
			}
		}
		return m, nil
	})
	if err != nil {
		if !errors.Is(err, manifest.ErrCommitUnknown) {
			cleanup()
		}
		return res, fmt.Errorf("tablestore: compact %s/%q: commit: %w", t.ID, partition, err)
	}
	res.SegmentsOut, res.Segments = len(segs), keys
	res.ManifestVersion = committed.Version
	res.Duration = s.opts.Clock().Sub(start)
	s.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "partition compacted",
		slog.String("table", t.ID), slog.String("partition", partition),
		slog.Int("segments_in", res.SegmentsIn), slog.Int("segments_out", res.SegmentsOut),
		slog.Int64("rows_in", res.RowsIn), slog.Int64("rows_out", res.RowsOut),
		slog.Int64("bytes_in", res.BytesIn), slog.Int64("bytes_out", res.BytesOut),
		slog.Int64("tombstones_dropped", res.TombstonesDropped),
		slog.Uint64("version", res.ManifestVersion), slog.Duration("duration", res.Duration))
	return res, nil
}

// cleanupTimeout bounds the deletion of the objects of a failed operation,
// which runs even when the operation's context is done.
const cleanupTimeout = 30 * time.Second

// compactedOutput is one segment written by a compaction, not yet
// uploaded, with the _seq range its manifest entry gets.
type compactedOutput struct {
	data           []byte
	info           segment.Info
	seqMin, seqMax uint64
}

// mergeRun merges the run's segments and writes the surviving versions of
// each group of plan to a segment of its own. A winning tombstone from
// input i is dropped when purge[i] (purge may be nil). Groups left empty
// get no segment; the _seq ranges of the outputs cover the run's range.
func (s *Store) mergeRun(ctx context.Context, t *manifest.Table, pk []int, plan *compactionPlan, purge []bool) ([]compactedOutput, int64, error) {
	groupOf := make([]int, len(plan.run))
	for g, r := range plan.groups {
		for i := r[0]; i < r[1]; i++ {
			groupOf[i] = g
		}
	}
	inputs := make([]iter.Seq2[keyed, error], len(plan.run))
	for i, seg := range plan.run {
		inputs[i] = s.segmentSource(ctx, t, pk, seg)
	}
	sinks := make([]*segmentSink, len(plan.groups))
	defer func() {
		for _, sk := range sinks {
			if sk != nil {
				sk.abort()
			}
		}
	}()
	var dropped, n int64
	for v, err := range mergeLatest(inputs, true) {
		if err != nil {
			return nil, 0, err
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		i := plan.inputOf(v.Seq)
		if i < 0 {
			return nil, 0, fmt.Errorf("%w: a merged segment holds _seq %d, outside the _seq ranges the manifest gives the run %d..%d",
				segment.ErrCorrupt, v.Seq, plan.run[0].SeqMin, plan.run[len(plan.run)-1].SeqMax)
		}
		if v.Deleted && purge != nil && purge[i] {
			dropped++
			continue
		}
		g := groupOf[i]
		if sinks[g] == nil {
			sinks[g] = newSegmentSink(t, s.opts.Segment)
		}
		if err := sinks[g].add(v); err != nil {
			return nil, 0, fmt.Errorf("write segment: %w", err)
		}
	}

	var outs []compactedOutput
	for g, sk := range sinks {
		if sk == nil {
			continue
		}
		info, data, err := sk.close()
		sinks[g] = nil
		if err != nil {
			return nil, 0, fmt.Errorf("write segment: %w", err)
		}
		o := compactedOutput{data: data, info: info, seqMax: plan.run[plan.groups[g][1]-1].SeqMax}
		if len(outs) == 0 {
			o.seqMin = plan.run[0].SeqMin
		} else {
			o.seqMin = outs[len(outs)-1].seqMax + 1
		}
		outs = append(outs, o)
	}
	if len(outs) > 0 {
		outs[len(outs)-1].seqMax = plan.run[len(plan.run)-1].SeqMax
	}
	for _, o := range outs {
		if o.info.SeqMin < o.seqMin || o.info.SeqMax > o.seqMax {
			// Cannot happen: versions are routed by the input holding them.
			return nil, 0, fmt.Errorf("tablestore: compacted segment holds _seq %d..%d outside its range %d..%d",
				o.info.SeqMin, o.info.SeqMax, o.seqMin, o.seqMax)
		}
	}
	return outs, dropped, nil
}

// segmentSink writes one segment from versions pushed one at a time, so
// that one merge can feed several segments. segment.Write pulls its input;
// the sink runs it as a coroutine (iter.Pull) and resumes it with each
// version. Not safe for concurrent use.
type segmentSink struct {
	buf  bytes.Buffer
	next func() (struct{}, bool)
	stop func()
	v    row.Version // the version handed over by add
	// Set when segment.Write returns.
	info segment.Info
	err  error
}

func newSegmentSink(t *manifest.Table, opts segment.WriterOptions) *segmentSink {
	sk := &segmentSink{}
	sk.next, sk.stop = iter.Pull(func(yield func(struct{}) bool) {
		sk.info, sk.err = segment.Write(&sk.buf, t, func(put func(row.Version, error) bool) {
			// Each yield returns control to add, which resumes us with
			// the next version in sk.v; stop makes yield return false.
			for yield(struct{}{}) {
				if !put(sk.v, nil) {
					return
				}
			}
		}, opts)
	})
	sk.next() // run Write up to its first read
	return sk
}

// add writes v.
func (sk *segmentSink) add(v row.Version) error {
	sk.v = v
	if _, ok := sk.next(); !ok {
		if sk.err == nil {
			sk.err = errors.New("tablestore: segment writer ended early")
		}
		return sk.err
	}
	return nil
}

// close ends the segment and returns it.
func (sk *segmentSink) close() (segment.Info, []byte, error) {
	sk.stop()
	if sk.err != nil {
		return segment.Info{}, nil, sk.err
	}
	return sk.info, sk.buf.Bytes(), nil
}

// abort ends the writer and discards its output.
func (sk *segmentSink) abort() {
	sk.stop()
	sk.buf = bytes.Buffer{}
}
