package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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

// Evictor deletes the expired rows of every STREAM table, or of those of
// tableIDs if any are given (the executor, which serializes them with the
// statements writing each partition).
type Evictor interface {
	EvictExpired(ctx context.Context, tableIDs ...string) ([]Eviction, error)
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
	Evictor Evictor
	// Catalog is the warehouse's catalog log, whose versions older than
	// the GC retention the GC job deletes too (Log.Prune); nil: the
	// catalog is left alone.
	Catalog  *manifest.Log[*manifest.Catalog]
	Schedule Schedule
	Env      Env
}

// CatalogJobTableID is the table_id of the GC jobs that prune the
// catalog's own versions (they belong to no table).
const CatalogJobTableID = "catalog"

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
	env := &s.opts.Env
	if s.opts.Evictor != nil {
		every(sc.Evict, func(ctx context.Context) { _ = s.evict(ctx, env, "ttl", nil) })
	}
	every(sc.Compact, func(ctx context.Context) { _ = s.compact(ctx, env, "schedule", nil) })
	every(sc.GC, func(ctx context.Context) { _ = s.collect(ctx, env, "schedule", nil) })
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
// that failed (each also recorded). It is usable in a node besides Run;
// the maintenance function calls RunSelected.
func (s *Scheduler) RunOnce(ctx context.Context) error {
	_, err := s.RunSelected(ctx, Selection{})
	return err
}

// Selection says which jobs RunSelected runs, on which tables.
type Selection struct {
	// TableIDs limits the jobs to these tables; empty: every table.
	TableIDs []string
	// Kinds are the jobs to run (KindFlush, KindEvict, KindCompact,
	// KindGC), in any order; empty: all four.
	Kinds []string
}

// Validate reports kinds that are not jobs.
func (sel Selection) Validate() error {
	var errs []error
	for _, k := range sel.Kinds {
		if !slices.Contains(allKinds, k) {
			errs = append(errs, fmt.Errorf("jobs: %q is not a job: want one of %s", k, strings.Join(allKinds, ", ")))
		}
	}
	return errors.Join(errs...)
}

// allKinds are the jobs in the order RunSelected runs them.
var allKinds = []string{KindFlush, KindEvict, KindCompact, KindGC}

func (sel Selection) runs(kind string) bool {
	return len(sel.Kinds) == 0 || slices.Contains(sel.Kinds, kind)
}

// RunSelected runs the jobs of sel once on its tables, always in the order
// flush, evict, compact, collect garbage (whatever order sel lists them
// in), with trigger "maintenance". It returns the finished records of the
// jobs that did something or failed (each also given to the Sink, which
// stores it in system.jobs) and the errors of the jobs that failed. A
// flush has nothing to do in a process without a write buffer, eviction
// nothing without an Evictor.
//
// Every job is idempotent and safe beside writers and other RunSelected
// calls, in this process or another: compaction commits only if the
// segments it merged are still listed (else ErrCompactionConflict, which
// is neither an error nor a job here: someone else compacted), GC deletes only what no
// kept version lists, eviction deletes only expired rows. A second run
// right after a first finds nothing to do.
//
// It is the maintenance function's entry point.
func (s *Scheduler) RunSelected(ctx context.Context, sel Selection) ([]Record, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	col := &collector{next: s.opts.Env.Sink}
	env := s.opts.Env
	env.Sink = col
	const trigger = "maintenance"
	var errs []error
	if sel.runs(KindFlush) && s.opts.Flusher != nil {
		f := *s.opts.Flusher // a copy with the collecting sink (Flusher holds no lock)
		f.env.Sink = &collector{next: f.env.Sink, into: col}
		if len(sel.TableIDs) == 0 {
			errs = append(errs, f.flushBuffered(ctx, "", trigger))
		}
		for _, id := range sel.TableIDs {
			errs = append(errs, f.flushBuffered(ctx, id, trigger))
		}
	}
	if sel.runs(KindEvict) && s.opts.Evictor != nil {
		errs = append(errs, s.evict(ctx, &env, trigger, sel.TableIDs))
	}
	if sel.runs(KindCompact) {
		errs = append(errs, s.compact(ctx, &env, trigger, sel.TableIDs))
	}
	if sel.runs(KindGC) {
		errs = append(errs, s.collect(ctx, &env, trigger, sel.TableIDs))
	}
	return col.records(), errors.Join(errs...)
}

// collector keeps the finished records it sees (in its own list, or in
// into's) and passes every record on to next.
type collector struct {
	next Sink
	into *collector
	mu   sync.Mutex
	recs []Record
}

func (c *collector) RecordJob(ctx context.Context, r Record) error {
	if r.Status != Running {
		dst := c
		if c.into != nil {
			dst = c.into
		}
		dst.mu.Lock()
		dst.recs = append(dst.recs, r)
		dst.mu.Unlock()
	}
	if c.next == nil {
		return nil
	}
	return c.next.RecordJob(ctx, r)
}

func (c *collector) records() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.recs)
}

// evict runs the Evictor on tableIDs (nil: all) and records a job per
// table it evicted rows of.
func (s *Scheduler) evict(ctx context.Context, env *Env, trigger string, tableIDs []string) error {
	start := env.Clock()
	evs, err := s.opts.Evictor.EvictExpired(ctx, tableIDs...)
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
// of the current catalog (of tableIDs only, if not empty), and returns the
// errors of all that failed.
func (s *Scheduler) eachPartition(ctx context.Context, tableIDs []string, f func(t *manifest.Table, partition string) error) error {
	tables, err := s.opts.Tables(ctx)
	if err != nil {
		return fmt.Errorf("jobs: list tables: %w", err)
	}
	var errs []error
	for _, t := range tables {
		if len(tableIDs) > 0 && !slices.Contains(tableIDs, t.ID) {
			continue
		}
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
func (s *Scheduler) compact(ctx context.Context, env *Env, trigger string, tableIDs []string) error {
	return s.eachPartition(ctx, tableIDs, func(t *manifest.Table, p string) error {
		r := env.start(KindCompact, trigger, t, p)
		res, err := s.opts.Store.Compact(ctx, t, p, s.opts.Schedule.Compaction)
		if errors.Is(err, tablestore.ErrCompactionConflict) {
			// Someone else compacted these segments first: nothing was
			// committed (its outputs were deleted), so there is no job
			// to record; what is left is looked at next time.
			env.Logger.LogAttrs(ctx, slog.LevelDebug, "compaction lost to a concurrent one", slog.String("table", t.ID),
				slog.String("partition", p), slog.Any("err", err))
			return nil
		}
		if err == nil && res.SegmentsIn == 0 {
			return nil
		}
		r.Rows, r.Bytes = res.RowsOut, res.BytesOut
		env.finish(ctx, r, err)
		return err
	})
}

// collect garbage-collects every partition, and the catalog's old
// versions when it runs on every table, and records a job for each that
// deleted something or failed.
func (s *Scheduler) collect(ctx context.Context, env *Env, trigger string, tableIDs []string) error {
	var catErr error
	if len(tableIDs) == 0 && s.opts.Catalog != nil {
		catErr = s.pruneCatalog(ctx, env, trigger)
	}
	return errors.Join(catErr, s.eachPartition(ctx, tableIDs, func(t *manifest.Table, p string) error {
		r := env.start(KindGC, trigger, t, p)
		res, err := s.opts.Store.CollectGarbage(ctx, t, p, s.opts.Schedule.GCOptions)
		deleted := int64(res.ManifestsDeleted + res.SegmentsDeleted)
		if err == nil && deleted == 0 {
			return nil
		}
		r.Rows, r.Bytes = deleted, res.BytesFreed
		env.finish(ctx, r, err)
		return err
	}))
}

// pruneCatalog deletes the catalog versions older than the GC retention
// (keeping the one current when the retention window opened) and records
// a job if it deleted something or failed.
func (s *Scheduler) pruneCatalog(ctx context.Context, env *Env, trigger string) error {
	r := env.start(KindGC, trigger, nil, "")
	r.TableID = CatalogJobTableID
	res, err := s.opts.Catalog.Prune(ctx, env.Clock().Add(-s.opts.Schedule.GCOptions.Retention))
	if err == nil && res.Deleted == 0 && res.ChunksDeleted == 0 {
		return nil
	}
	if err != nil {
		err = fmt.Errorf("jobs: prune the catalog: %w", err)
	}
	r.Rows = int64(res.Deleted + res.ChunksDeleted) // versions and table chunks
	env.finish(ctx, r, err)
	return err
}
