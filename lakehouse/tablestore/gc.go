package tablestore

// Garbage collection of a partition: old manifest versions past the
// time-travel retention, and segment objects no kept version refers to.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// Garbage collection defaults.
const (
	DefaultGCRetention   = 24 * time.Hour
	DefaultGCGracePeriod = time.Hour
)

// GCOptions configure one CollectGarbage call. Zero values mean the
// documented defaults; CollectGarbage calls EnsureDefaults and Validate.
type GCOptions struct {
	// Retention is the time-travel window. Kept are the latest manifest
	// version, every version committed within Retention (by its
	// CommittedAt), and the newest version committed before that: the one
	// that was current when the window opened. So every state of the
	// partition in the window stays readable, and so does the version a
	// reader loaded just before a commit replaced it. Default: 24h.
	Retention time.Duration
	// GracePeriod protects unreferenced segment objects younger than this
	// (by LastModified): they may belong to a flush, direct write or
	// compaction between upload and commit, or to a commit whose outcome
	// is unknown (manifest.ErrCommitUnknown). It must exceed the longest
	// time from a segment's upload to its commit. Default: 1h.
	GracePeriod time.Duration
}

// EnsureDefaults replaces zero fields by their defaults.
func (o *GCOptions) EnsureDefaults() {
	if o.Retention == 0 {
		o.Retention = DefaultGCRetention
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultGCGracePeriod
	}
}

// minGCRetention is the shortest Retention GC accepts: twice the time a
// committer trusts a cached head version (manifest.DefaultHeadTTL), which
// leaves as much again for clock skew.
const minGCRetention = 2 * manifest.DefaultHeadTTL

// Validate reports every problem of options that EnsureDefaults has filled.
func (o *GCOptions) Validate() error {
	var errs []error
	if o.Retention < 0 {
		errs = append(errs, fmt.Errorf("tablestore: GCOptions.Retention must not be negative, got %v", o.Retention))
	} else if o.Retention < minGCRetention {
		// A committer trusts the head version it saw for up to
		// manifest.DefaultHeadTTL; a version GC deleted within that time
		// could be written again on top of a stale head.
		errs = append(errs, fmt.Errorf("tablestore: GCOptions.Retention must be at least %v (twice the manifest head TTL), got %v", minGCRetention, o.Retention))
	}
	if o.GracePeriod < 0 {
		errs = append(errs, fmt.Errorf("tablestore: GCOptions.GracePeriod must not be negative, got %v", o.GracePeriod))
	}
	return errors.Join(errs...)
}

// GCResult describes one CollectGarbage call.
type GCResult struct {
	TableID, Partition string
	// LatestVersion is the partition's latest manifest version (0: none).
	LatestVersion uint64
	// OldestKeptVersion is the oldest manifest version kept; versions
	// OldestKeptVersion..LatestVersion (VersionsKept of them) remain.
	OldestKeptVersion uint64
	VersionsKept      int
	// ManifestsDeleted counts the manifest versions deleted.
	ManifestsDeleted int
	// SegmentsDeleted segment objects of BytesFreed bytes in all were
	// deleted. SegmentsReferenced were kept because a kept version lists
	// them, SegmentsInGrace because they are younger than the grace period.
	SegmentsDeleted    int
	BytesFreed         int64
	SegmentsReferenced int
	SegmentsInGrace    int
	Duration           time.Duration
}

// gcLoadParallelism is how many manifest versions CollectGarbage loads at
// once.
const gcLoadParallelism = 8

// CollectGarbage deletes what no reader within the retention can need from
// one partition of t (see GCOptions for what is kept):
//
//  1. it loads the manifest versions from the latest down to the oldest
//     kept one, and collects the segments they list;
//  2. it deletes the manifest versions older than that, oldest first, so
//     the versions left are always consecutive and end at the latest,
//     which is never deleted (Log.LatestVersion keeps working; Log.Load of
//     a deleted version fails with manifest.ErrVersionNotFound);
//  3. it deletes the objects under manifest.SegmentPrefix that no kept
//     version lists and that are older than the grace period.
//
// Manifests go first, so that at every moment each remaining version's
// segments exist; a failure in step 2 stops before step 3. A crash leaves
// only garbage that the next call collects. Deletes are idempotent, so
// concurrent calls are safe, and so are concurrent flushes, direct writes
// and compactions: the segments they add are either young (grace period)
// or listed by the latest version, and the segments a compaction removes
// stay listed by the kept version it replaced.
//
// Cost: 1 GET per kept version (plus up to gcLoadParallelism-1 more), 1
// LIST page per 1000 versions and per 1000 segment objects, 1 DELETE per
// deleted object.
func (s *Store) CollectGarbage(ctx context.Context, t *manifest.Table, partition string, opts GCOptions) (GCResult, error) {
	start := s.opts.Clock()
	res := GCResult{TableID: t.ID, Partition: partition}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return res, err
	}
	fail := func(err error) (GCResult, error) {
		return res, fmt.Errorf("tablestore: gc %s/%q: %w", t.ID, partition, err)
	}
	log := s.PartitionLog(t.ID, partition)
	latest, err := log.LatestVersion(ctx)
	if err != nil {
		return fail(err)
	}
	res.LatestVersion = latest
	referenced := map[string]bool{}
	if latest > 0 {
		oldest, err := s.keptVersions(ctx, log, latest, start.Add(-opts.Retention), referenced)
		if err != nil {
			return fail(err)
		}
		res.OldestKeptVersion, res.VersionsKept = oldest, int(latest-oldest+1)
		n, err := log.DeleteVersionsBefore(ctx, oldest)
		res.ManifestsDeleted = n
		if err != nil {
			return fail(err)
		}
	}

	var garbage []objstore.Attrs
	for a, err := range s.bucket.List(ctx, manifest.SegmentPrefix(t.ID, partition), "") {
		if err != nil {
			return fail(err)
		}
		switch {
		case referenced[a.Key]:
			res.SegmentsReferenced++
		case a.LastModified.IsZero() || start.Sub(a.LastModified) < opts.GracePeriod:
			// An object of unknown age counts as young.
			res.SegmentsInGrace++
		default:
			garbage = append(garbage, a)
		}
	}
	for _, a := range garbage {
		if err := s.bucket.Delete(ctx, a.Key); err != nil {
			return fail(err)
		}
		res.SegmentsDeleted++
		res.BytesFreed += a.Size
	}
	res.Duration = s.opts.Clock().Sub(start)
	s.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "partition garbage collected",
		slog.String("table", t.ID), slog.String("partition", partition),
		slog.Uint64("version", res.LatestVersion), slog.Uint64("oldest_kept_version", res.OldestKeptVersion),
		slog.Int("manifests_deleted", res.ManifestsDeleted), slog.Int("segments_deleted", res.SegmentsDeleted),
		slog.Int64("bytes_freed", res.BytesFreed), slog.Int("segments_in_grace", res.SegmentsInGrace),
		slog.Duration("duration", res.Duration))
	return res, nil
}

// keptVersions walks the versions of log from latest down, adds the
// segments of each kept one to referenced, and returns the oldest kept
// version: the first one, going down, committed before cutoff, or the
// oldest that exists.
func (s *Store) keptVersions(ctx context.Context, log *manifest.Log[*manifest.Partition], latest uint64, cutoff time.Time, referenced map[string]bool) (uint64, error) {
	oldest := latest
	for hi := latest; ; {
		lo := uint64(1)
		if hi > gcLoadParallelism {
			lo = hi - gcLoadParallelism + 1
		}
		ms := make([]*manifest.Partition, hi-lo+1)
		errs := make([]error, hi-lo+1)
		var wg sync.WaitGroup
		for v := lo; v <= hi; v++ {
			wg.Go(func() { ms[v-lo], errs[v-lo] = log.Load(ctx, v) })
		}
		wg.Wait()
		for v := hi; v >= lo; v-- {
			m, err := ms[v-lo], errs[v-lo]
			if errors.Is(err, manifest.ErrVersionNotFound) && v < latest {
				return oldest, nil // removed by an earlier collection
			}
			if err != nil {
				return 0, err
			}
			for _, seg := range m.Segments {
				referenced[seg.Key] = true
			}
			oldest = v
			if m.CommittedAt.Before(cutoff) {
				return oldest, nil
			}
		}
		if lo == 1 {
			return oldest, nil
		}
		hi = lo - 1
	}
}
