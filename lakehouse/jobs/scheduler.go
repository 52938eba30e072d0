package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// Schedule says how often the periodic jobs run. An interval of 0 (or
// less) disables its job.
type Schedule struct {
	// Evict is how often expired rows of STREAM tables are evicted. Reads
	// never show expired rows; eviction frees their storage.
	Evict time.Duration
	// Compact is how often every partition is checked for runs of small
	// segments (Compaction says which) and compacted.
	Compact time.Duration
	// GC is how often every partition's old manifests and unreferenced
	// segments are garbage-collected (GCOptions say what is kept).
	GC time.Duration
	// Compaction is the small-file policy: segments under
	// TargetBytes/2 are small; a run of MinSegments of them is merged.
	Compaction tablestore.CompactOptions
	// GCOptions keep the time-travel retention and protect young
	// unreferenced objects (the grace period).
	GCOptions tablestore.GCOptions
}

// Evictor deletes the expired rows of every STREAM table (the executor,
// which serializes them with the statements writing each partition).
type Evictor interface {
	EvictExpired(ctx context.Context) ([]Eviction, error)
}

// Eviction is what one EvictExpired run removed from one table.
type Eviction struct {
	TableID               string
	Partitions            int
	Rows                  int64
	StartedAt, FinishedAt time.Time
}

// Options are what a Scheduler runs.
type Options struct {
	// Store runs compaction and GC; required.
	Store *tablestore.Store
	// Tables lists the current tables; required. (The node passes the
	// schema registry's current catalog.)
	Tables func(ctx context.Context) ([]*manifest.Table, error)
	// Flusher flushes the write buffer; nil in a process without one.
	Flusher *Flusher
	// Evictor evicts expired STREAM rows; nil: no eviction.
	Evictor  Evictor
	Schedule Schedule
	Env      Env
}

// Scheduler runs the periodic jobs of one process: the flush policy, and
// eviction, compaction and GC at their Schedule intervals, each in its own
// goroutine so that a long compaction does not delay a flush. It is safe
// for concurrent use; RunOnce may be called while Run runs.
type Scheduler struct {
	opts Options
}

// NewScheduler returns a Scheduler. Invalid compaction or GC options are
// reported with all their problems.
func NewScheduler(opts Options) (*Scheduler, error) {
	if opts.Store == nil || opts.Tables == nil {
		return nil, errors.New("jobs: Store and Tables are required")
	}
	opts.Env.ensureDefaults()
	opts.Schedule.Compaction.EnsureDefaults()
	opts.Schedule.GCOptions.EnsureDefaults()
	if err := errors.Join(opts.Schedule.Compaction.Validate(), opts.Schedule.GCOptions.Validate()); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Scheduler{opts: opts}, nil
}

// Run runs the jobs until ctx is done, then flushes everything buffered
// (bounded by shutdownTimeout) and returns that flush's error. A job that
// fails is recorded and runs again at its next interval.
func (s *Scheduler) Run(ctx context.Context, shutdownTimeout time.Duration) error {
	var wg sync.WaitGroup
	every := func(d time.Duration, run func(context.Context)) {
		if d <= 0 {
			return
		}
		wg.Go(func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					run(ctx)
				}
			}
		})
	}
	sc := s.opts.Schedule
	if s.opts.Evictor != nil {
		every(sc.Evict, func(ctx context.Context) { s.evict(ctx, "ttl") })
	}
	every(sc.Compact, func(ctx context.Context) { _ = s.compact(ctx, "schedule") })
	every(sc.GC, func(ctx context.Context) { _ = s.collect(ctx, "schedule") })
	var err error
	if s.opts.Flusher != nil {
		err = s.opts.Flusher.Run(ctx, shutdownTimeout)
	} else {
		<-ctx.Done()
	}
	wg.Wait()
	return err
}

// RunOnce runs every job once, in order — flush everything buffered,
// evict, compact, collect garbage — and returns the errors of the jobs
// that failed (each also recorded). It is the maintenance function's entry
// point, and usable in a node besides Run.
func (s *Scheduler) RunOnce(ctx context.Context) error {
	var errs []error
	if s.opts.Flusher != nil {
		errs = append(errs, s.opts.Flusher.flushBuffered(ctx, "", "maintenance"))
	}
	if s.opts.Evictor != nil {
		errs = append(errs, s.evict(ctx, "maintenance"))
	}
	errs = append(errs, s.compact(ctx, "maintenance"), s.collect(ctx, "maintenance"))
	return errors.Join(errs...)
}

// evict runs the Evictor and records a job per table it evicted rows of.
func (s *Scheduler) evict(ctx context.Context, trigger string) error {
	env := &s.opts.Env
	start := env.Clock()
	evs, err := s.opts.Evictor.EvictExpired(ctx)
	for _, ev := range evs {
		if ev.Rows == 0 {
			continue
		}
		r := Record{ID: newID(ev.StartedAt), Kind: KindEvict, TableID: ev.TableID, NodeID: env.NodeID, Trigger: trigger,
			StartedAt: ev.StartedAt, Rows: ev.Rows}
		env.finish(ctx, r, nil)
	}
	if err != nil && ctx.Err() == nil {
		r := Record{ID: newID(start), Kind: KindEvict, NodeID: env.NodeID, Trigger: trigger, StartedAt: start}
		env.finish(ctx, r, err)
		return err
	}
	return nil
}

// eachPartition calls f for every partition with objects of every table
// of the current catalog, and returns the errors of all that failed.
func (s *Scheduler) eachPartition(ctx context.Context, f func(t *manifest.Table, partition string) error) error {
	tables, err := s.opts.Tables(ctx)
	if err != nil {
		return fmt.Errorf("jobs: list tables: %w", err)
	}
	var errs []error
	for _, t := range tables {
		parts, err := s.opts.Store.Partitions(ctx, t.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range parts {
			if ctx.Err() != nil {
				return errors.Join(append(errs, ctx.Err())...)
			}
			errs = append(errs, f(t, p))
		}
	}
	return errors.Join(errs...)
}

// compact compacts every partition that has a run of small segments and
// records a job for each that merged something or failed.
func (s *Scheduler) compact(ctx context.Context, trigger string) error {
	env := &s.opts.Env
	return s.eachPartition(ctx, func(t *manifest.Table, p string) error {
		r := env.start(KindCompact, trigger, t, p)
		res, err := s.opts.Store.Compact(ctx, t, p, s.opts.Schedule.Compaction)
		if errors.Is(err, tablestore.ErrCompactionConflict) {
			err = nil // someone else compacted: nothing lost, retried next time
		}
		if err == nil && res.SegmentsIn == 0 {
			return nil
		}
		r.Rows, r.Bytes = res.RowsOut, res.BytesOut
		env.finish(ctx, r, err)
		return err
	})
}

// collect garbage-collects every partition and records a job for each
// that deleted something or failed.
func (s *Scheduler) collect(ctx context.Context, trigger string) error {
	env := &s.opts.Env
	return s.eachPartition(ctx, func(t *manifest.Table, p string) error {
		r := env.start(KindGC, trigger, t, p)
		res, err := s.opts.Store.CollectGarbage(ctx, t, p, s.opts.Schedule.GCOptions)
		deleted := int64(res.ManifestsDeleted + res.SegmentsDeleted)
		if err == nil && deleted == 0 {
			return nil
		}
		r.Rows, r.Bytes = deleted, res.BytesFreed
		env.finish(ctx, r, err)
		return err
	})
}
