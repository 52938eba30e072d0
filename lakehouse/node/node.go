// Package node assembles one Floe process's engine from its AppContext,
// by the process's role (config role):
//
//   - node: locks the data dir (one process per data dir, bound to one
//     warehouse), claims the warehouse's writer lease (package lease),
//     opens the write buffer
//     (writes are acknowledged after its WAL sync) and runs the jobs
//     scheduler (flush policy, STREAM eviction, compaction, GC);
//   - function: no lease, no buffer; writes go through the direct path
//     (tablestore.DirectWriter: acknowledged after the partition manifest
//     commit); jobs run only when asked (Jobs.RunOnce: the maintenance
//     function);
//   - live: reads (and, later, subscriptions); no writes.
//
// Every role gets the same storage engine for reads, segment cache,
// DuckDB and SQL executor; the executor writes through a
// sqlexec.WritePath that this package picks by role and by the
// warehouse's write mode. cmd/floe serve (through server/), the tests and
// the benchmarks build their engine here, so they all run the same wiring.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/floedb/floe/internal/backoff"
	"github.com/floedb/floe/lakehouse/admission"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/datadir"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/jobs"
	"github.com/floedb/floe/lakehouse/lease"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// Deps are what the layers above the engine plug into it. The zero value
// is a complete engine.
type Deps struct {
	// Changes receives every acknowledged write (tablestore.ChangeSink):
	// the live-query manager. With it, the executor also reads the old
	// values of the rows it replaces. Default: none.
	Changes tablestore.ChangeSink
}

// Node is a running engine. Close it after Run returned (or without Run).
type Node struct {
	App *appctx.AppContext
	// Role is the process's role (config.RoleNode, RoleFunction, RoleLive).
	Role string
	// WriteMode is the warehouse's write mode (manifest.WriteModeNode or
	// WriteModeDirect) as found, or as created, at Open.
	WriteMode string
	// Dir (the locked data dir), Lease (the writer lease, renewed in the
	// background from Open to Close), Buffer and Flusher exist in the node
	// role only.
	Dir     *datadir.Dir
	Lease   *lease.Lease
	Buffer  *wbuf.Buffer
	Flusher *jobs.Flusher
	// Direct exists in the function role on a direct-mode warehouse.
	Direct   *tablestore.DirectWriter
	Cache    *tablestore.Cache
	Store    *tablestore.Store
	Engine   *duckengine.Engine
	Executor *sqlexec.Executor
	// Admission admits statements; Run runs its memory guard.
	Admission *admission.Controller
	// Jobs runs the background jobs: periodically in the node role (Run),
	// once per call of RunOnce in any role that may write.
	Jobs *jobs.Scheduler
	// WriterEpoch is the writer lease this node holds (0 in other roles).
	WriterEpoch uint64
	// BootstrapTime is how long creating or checking the system tables took.
	BootstrapTime time.Duration

	// jobsMetrics are shared by the flusher and the scheduler.
	jobsMetrics *jobs.Metrics
	// writes is the executor's write path.
	writes writePath
}

// Writable returns nil if this process may write to the warehouse, or a
// READ_ONLY *dberr.Error saying why not (role live, or a function on a
// node-mode warehouse).
func (n *Node) Writable() error { return n.writes.Writable() }

// Open builds the engine for the AppContext's role: see the package
// documentation. A role that does not fit the warehouse's write mode is
// refused with an error saying so (node on a direct warehouse), or gets a
// read-only write path (a function on a node warehouse: reads of
// committed data; writes fail with READ_ONLY naming the mode).
func Open(ctx context.Context, app *appctx.AppContext, deps Deps) (_ *Node, err error) {
	cfg := app.Config()
	n := &Node{App: app, Role: cfg.Role, jobsMetrics: jobs.NewMetrics(app.Metrics())}
	defer func() {
		if err != nil {
			n.Close() // what was opened before the failure
		}
	}()
	log := app.Logger()
	clock := app.Clock()
	reg := app.Metrics()
	storeMetrics := tablestore.NewMetrics(reg)

	cacheDir, err := filepath.Abs(cfg.CacheDir())
	if err != nil {
		return nil, err
	}
	if n.Cache, err = tablestore.NewCache(cacheDir, cfg.Query.CacheBytes, app.Bucket()); err != nil {
		return nil, err
	}
	pointCache := cfg.Query.PointCacheBytes
	if pointCache == 0 {
		pointCache = -1 // off
	}
	storeOpts := tablestore.Options{
		NodeID:          app.NodeID().String(),
		Cache:           n.Cache,
		PointCacheBytes: pointCache,
		Changes:         deps.Changes,
		Metrics:         storeMetrics,
		ManifestMetrics: app.ManifestMetrics(),
		Logger:          log.With(slog.String("component", "tablestore")),
		Clock:           clock,
	}
	// DuckDB starts (its open and the size guard's macros cost tens of
	// milliseconds of CPU) while the storage below waits on the object
	// store and the disk: the two share nothing until sqlexec.New.
	engineCfg := duckengine.Config{
		AllowedDirs:   []string{cacheDir},
		MemoryLimit:   cfg.Query.MemoryLimit,
		Threads:       cfg.Query.Threads,
		MaxValueBytes: cfg.Query.MaxValueBytes,
	}
	var (
		engine     *duckengine.Engine
		engineErr  error
		engineDone = make(chan struct{})
	)
	go func() {
		defer close(engineDone)
		engine, engineErr = duckengine.Open(ctx, engineCfg)
	}()
	defer func() {
		// On a failure the engine is waited for, and closed unless the
		// node owns it (n.Close closes it then).
		if err != nil {
			<-engineDone
			if engine != nil && n.Engine == nil {
				engine.Close()
			}
		}
	}()
	var writes writePath
	switch cfg.Role {
	case config.RoleNode:
		if writes, err = n.openNode(ctx, storeOpts); err != nil {
			return nil, err
		}
	case config.RoleFunction:
		if writes, err = n.openFunction(ctx, storeOpts, storeMetrics); err != nil {
			return nil, err
		}
	case config.RoleLive:
		n.Store = tablestore.New(app.Bucket(), nil, storeOpts)
		writes = readOnly{why: "a live process serves reads and subscriptions; send writes to the node (or to a function of a direct-mode warehouse)"}
	default:
		return nil, fmt.Errorf("node: role %q is not one of node, function, live", cfg.Role)
	}

	n.writes = writes
	<-engineDone
	if engineErr != nil {
		return nil, engineErr
	}
	n.Engine = engine
	n.Admission = admission.New(admission.Config{
		Slots: cfg.Query.MaxConcurrent, PerUser: cfg.Query.MaxConcurrentPerUser,
		Queue: cfg.Query.QueueLength, QueueWait: cfg.Query.QueueWait.Duration,
		MemoryBudget: cfg.Query.ProcessMemoryBytes(), PointSlots: cfg.Query.MaxConcurrentPointStatements,
	}, log.With(slog.String("component", "admission")), admission.ReadRSS, clock)
	n.Executor, err = sqlexec.New(app, sqlexec.Options{
		Store: n.Store, Writes: writes, Engine: n.Engine,
		WriterEpoch: n.WriterEpoch, WriteMode: n.WriteMode, QueryTimeout: cfg.Query.Timeout.Duration,
		OldValues: deps.Changes != nil, Metrics: sqlexec.NewMetrics(reg, clock),
		Admission: n.Admission, MaxResultBytes: cfg.Query.MaxResultBytes,
	})
	if err != nil {
		return nil, err
	}
	start := clock()
	if err := n.Executor.Bootstrap(ctx); err != nil {
		return nil, err
	}
	n.BootstrapTime = clock().Sub(start)
	if n.Jobs, err = n.scheduler(writes); err != nil {
		return nil, err
	}
	return n, nil
}

// claimWarehouse checks that the data dir belongs to the configured
// warehouse, claims the writer lease, starts its renewals and binds the
// data dir to the warehouse.
func claimWarehouse(ctx context.Context, app *appctx.AppContext, dir *datadir.Dir) (*lease.Lease, error) {
	cfg := app.Config()
	store := app.Bucket().Name()
	cat, err := app.Catalog().Latest(ctx)
	if errors.Is(err, manifest.ErrNoManifest) {
		cat, err = &manifest.Catalog{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node: read the catalog of %s: %w", store, err)
	}
	if err := dir.Check(datadir.Warehouse{ID: cat.WarehouseID, Store: store}); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	l, err := lease.Acquire(ctx, lease.Options{
		Bucket: app.Bucket(), Catalog: app.Catalog(), NodeID: app.NodeID().String(), Home: dir,
		WarehouseID: rand.Text(), Duration: cfg.Lease.Duration.Duration, RequestGrace: cfg.Lease.RequestGrace.Duration,
		TakeOver: cfg.Lease.TakeOver, Clock: app.Clock(), Logger: app.Logger().With(slog.String("component", "lease")),
	})
	if err != nil {
		return nil, fmt.Errorf("node: claim the writer lease of %s: %w", store, err)
	}
	l.Start()
	if err := dir.Bind(datadir.Warehouse{ID: l.Catalog().WarehouseID, Store: store}); err != nil {
		l.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	return l, nil
}

// openBuffer opens <data_dir>/buffer. If the lease did not continue this
// data dir's last holding, rows found in the buffer were given up when
// another node took the warehouse over, and must never be flushed: the
// buffer is moved aside (kept for inspection) and a new one is opened.
func openBuffer(app *appctx.AppContext, l *lease.Lease) (*wbuf.Buffer, error) {
	cfg := app.Config()
	opts := wbuf.Options{
		Dir:      filepath.Join(cfg.DataDir, "buffer"),
		Logger:   app.Logger().With(slog.String("component", "wbuf")),
		MaxBytes: cfg.Buffer.MaxBytes,
		Clock:    app.Clock(),
		// Validated by config: 1 MiB up to 4 GiB.
		MemTableSize:   uint64(cfg.Buffer.MemTableBytes),
		BlockCacheSize: cfg.Buffer.BlockCacheBytes,
	}
	buf, err := wbuf.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("node: open write buffer: %w", err)
	}
	st := buf.Stats()
	if l.Continuous() || st.Rows == 0 {
		return buf, nil
	}
	if err := buf.Close(); err != nil {
		return nil, fmt.Errorf("node: close the given-up write buffer: %w", err)
	}
	aside := opts.Dir + ".given-up-epoch-" + strconv.FormatUint(l.Epoch()-1, 10) + "-" + app.Clock()().UTC().Format("20060102T150405")
	if err := os.Rename(opts.Dir, aside); err != nil {
		return nil, fmt.Errorf("node: move the given-up write buffer aside: %w", err)
	}
	attrs := []slog.Attr{slog.Int64("rows", st.Rows), slog.Int("partitions", st.Partitions), slog.String("moved_to", aside)}
	if prev := l.Previous(); prev != nil {
		attrs = append(attrs, slog.String("holder_before", prev.NodeID), slog.Uint64("holder_before_epoch", prev.Epoch))
	}
	app.Logger().LogAttrs(context.Background(), slog.LevelWarn,
		"the write buffer held rows of an earlier writer lease that another node took over; they were given up and are not flushed", attrs...)
	if buf, err = wbuf.Open(opts); err != nil {
		return nil, fmt.Errorf("node: open write buffer: %w", err)
	}
	return buf, nil
}

// openNode builds the node role's storage: lease, buffer, store, flusher.
func (n *Node) openNode(ctx context.Context, storeOpts tablestore.Options) (writePath, error) {
	app, cfg := n.App, n.App.Config()
	// Lock the data dir before anything touches the catalog: a second
	// process on it must fail fast, before it claims anything.
	var err error
	if n.Dir, err = datadir.Open(cfg.DataDir, datadir.Options{Logger: app.Logger(), Clock: app.Clock()}); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	// Refuse a direct warehouse before claiming the lease: the claim
	// would raise the catalog's writer epoch and fence its writers.
	cur, err := latestCatalog(ctx, app)
	if err != nil {
		return nil, err
	}
	if cur.Mode() != manifest.WriteModeNode {
		return nil, fmt.Errorf("node: the warehouse at %s has write mode %q: its writers are functions committing directly, and a node "+
			"would fence them; run this process with role = \"function\" or \"live\", or use another warehouse", app.Bucket().Name(), cur.Mode())
	}
	if n.Lease, err = claimWarehouse(ctx, app, n.Dir); err != nil {
		return nil, err
	}
	epoch, cat := n.Lease.Epoch(), n.Lease.Catalog()
	if cat.Mode() != manifest.WriteModeNode {
		return nil, fmt.Errorf("node: the warehouse at %s became write mode %q while this node started; stop it and run it with role = \"function\" or \"live\"",
			app.Bucket().Name(), cat.Mode())
	}
	n.WriterEpoch, n.WriteMode = epoch, manifest.WriteModeNode
	app.Schemas().Install(cat)

	if n.Buffer, err = openBuffer(app, n.Lease); err != nil {
		return nil, err
	}
	if err := wbuf.RegisterMetrics(app.Metrics(), n.Buffer); err != nil {
		return nil, err
	}
	storeOpts.WriterEpoch = epoch
	storeOpts.Gate = n.Lease
	n.Store = tablestore.New(app.Bucket(), n.Buffer, storeOpts)
	lookup := func(ctx context.Context, id string) (*manifest.Table, error) {
		snap, err := app.Schemas().Current(ctx)
		if err != nil {
			return nil, err
		}
		t, err := snap.TableByID(id)
		if err != nil {
			return nil, nil // dropped
		}
		return t.Def(), nil
	}
	// The flusher records its jobs in system.jobs through the buffer.
	n.Flusher = jobs.NewFlusher(n.Store, n.Buffer, lookup,
		jobs.FlushPolicy{Rows: cfg.Flush.Rows, Interval: cfg.Flush.Interval.Duration}, n.jobsEnv(bufferedWrites{store: n.Store}))
	return bufferedWrites{store: n.Store, flusher: n.Flusher, lease: n.Lease}, nil
}

// openFunction builds the function role's storage: a store without a
// buffer, and the direct writer if the warehouse is (or becomes) direct.
func (n *Node) openFunction(ctx context.Context, storeOpts tablestore.Options, m *tablestore.Metrics) (writePath, error) {
	app := n.App
	cur, err := latestCatalog(ctx, app)
	if err != nil {
		return nil, err
	}
	n.Store = tablestore.New(app.Bucket(), nil, storeOpts)
	n.WriteMode = manifest.WriteModeDirect // a warehouse this function creates
	if cur.SystemSchemaVersion > 0 || cur.Writer != nil {
		n.WriteMode = cur.Mode() // an existing warehouse keeps its mode
	}
	if n.WriteMode != manifest.WriteModeDirect {
		app.Logger().LogAttrs(ctx, slog.LevelWarn, "the warehouse is node-owned: this function answers reads of committed data only",
			slog.String("write_mode", n.WriteMode))
		return readOnly{why: fmt.Sprintf("the warehouse's write mode is %q: its node owns every write and this function answers reads of committed data only; "+
			"send writes to the node", n.WriteMode)}, nil
	}
	n.Direct, err = tablestore.NewDirectWriter(app.Bucket(), tablestore.DirectOptions{
		NodeID:          app.NodeID().String(),
		Changes:         storeOpts.Changes,
		Metrics:         m,
		ManifestMetrics: app.ManifestMetrics(),
		Logger:          app.Logger().With(slog.String("component", "direct")),
		Clock:           app.Clock(),
	})
	if err != nil {
		return nil, err
	}
	return directWrites{w: n.Direct}, nil
}

// latestCatalog reads the latest catalog (an empty one for a new
// warehouse).
func latestCatalog(ctx context.Context, app *appctx.AppContext) (*manifest.Catalog, error) {
	cat, err := app.Catalog().Latest(ctx)
	if errors.Is(err, manifest.ErrNoManifest) {
		return &manifest.Catalog{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node: read the catalog: %w", err)
	}
	return cat, nil
}

// jobsEnv is the jobs' environment; records go to system.jobs through w.
func (n *Node) jobsEnv(w jobs.Writer) jobs.Env {
	return jobs.Env{
		NodeID:  n.App.NodeID().String(),
		Sink:    jobs.NewTableSink(n.App.Schemas(), w),
		Logger:  n.App.Logger().With(slog.String("component", "jobs")),
		Clock:   n.App.Clock(),
		Metrics: n.jobsMetrics,
	}
}

// scheduler builds the jobs scheduler: the configured schedule in the node
// role; no schedule in the function role (the maintenance function calls
// RunOnce); nothing to run in a read-only process.
func (n *Node) scheduler(w writePath) (*jobs.Scheduler, error) {
	cfg := n.App.Config()
	opts := jobs.Options{
		Store: n.Store,
		Tables: func(ctx context.Context) ([]*manifest.Table, error) {
			snap, err := n.App.Schemas().Current(ctx)
			if err != nil {
				return nil, err
			}
			tables := snap.Catalog().Tables
			out := make([]*manifest.Table, len(tables))
			for i := range tables {
				out[i] = &tables[i]
			}
			return out, nil
		},
		Flusher: n.Flusher,
		Schedule: jobs.Schedule{
			Compaction: tablestore.CompactOptions{MinSegments: cfg.Jobs.CompactMinSegments, TargetBytes: cfg.Jobs.CompactTargetBytes},
			GCOptions:  tablestore.GCOptions{Retention: cfg.Jobs.GCRetention.Duration, GracePeriod: cfg.Jobs.GCGrace.Duration},
		},
	}
	if w.Writable() == nil {
		opts.Env, opts.Evictor = n.jobsEnv(w), n.Executor
		opts.Catalog = n.App.Catalog()
	}
	if n.Role == config.RoleNode {
		opts.Schedule.Evict = cfg.Jobs.EvictInterval.Duration
		opts.Schedule.Compact = cfg.Jobs.CompactInterval.Duration
		opts.Schedule.GC = cfg.Jobs.GCInterval.Duration
	}
	return jobs.NewScheduler(opts)
}

// Run runs the background jobs until ctx is done, then flushes everything
// buffered (bounded by shutdownTimeout). In the function and live roles
// there is no schedule: Run waits for ctx.
func (n *Node) Run(ctx context.Context, shutdownTimeout time.Duration) error {
	guardDone := make(chan struct{})
	go func() {
		defer close(guardDone)
		n.Admission.Run(ctx)
	}()
	err := n.Jobs.Run(ctx, shutdownTimeout)
	<-guardDone
	if n.Lease == nil {
		return err
	}
	if lost := n.Lease.Fenced(); lost != nil {
		// Every flush failed for this one reason; say it once.
		n.App.Logger().LogAttrs(ctx, slog.LevelError, "stopping without the writer lease: another node took the warehouse over; the rows this node had not flushed were given up",
			slog.Int64("rows", n.Buffer.Stats().Rows))
		return fmt.Errorf("node: this node lost the warehouse to another node; its unflushed rows were given up: %w", lost)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if rerr := n.release(rctx); rerr != nil {
		return errors.Join(err, rerr)
	}
	if err != nil {
		// The shutdown flush failed at first, but the retries in release
		// flushed everything and handed the lease back: a clean stop.
		n.App.Logger().LogAttrs(ctx, slog.LevelWarn, "the shutdown flush failed at first; its retries flushed every row and the writer lease was released",
			slog.Any("error", err))
	}
	return nil
}

// shutdownRetry paces the retries of the final drain and of the lease
// release at a graceful stop: object-store errors are often transient, and
// a stop that gives up early keeps the lease until it expires.
var shutdownRetry = backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second, Rand: mathrand.Int64N}

// shutdownAttempts bounds those retries (besides the shutdown timeout).
const shutdownAttempts = 8

// release gives the writer lease back after the final flush, so that the
// next node may take the warehouse at once. It first flushes what that
// flush left (its own job records, partitions whose flush failed),
// without recording jobs, retrying failures with backoff. It returns nil
// only when the lease was released: with rows of existing tables still
// buffered the lease stays with this data dir, whose restart flushes
// them, and the error says so (the process exits non-zero, so that an
// operator or a supervisor does not take the stop for a hand-off).
func (n *Node) release(ctx context.Context) error {
	var left int64
	var err error
	retryAtShutdown(ctx, func() bool {
		left, err = n.drain(ctx)
		return left == 0
	})
	if left > 0 {
		n.App.Logger().LogAttrs(ctx, slog.LevelError, "writer lease kept, not released: rows are still buffered; restart this node on its data dir to flush them",
			slog.Int64("rows", left), slog.Any("error", err))
		return fmt.Errorf("node: %d rows are still buffered after the final flush, so the writer lease stays with data dir %s: restart the node on it to flush them: %w",
			left, n.Dir.Path(), err)
	}
	retryAtShutdown(ctx, func() bool {
		err = n.Lease.Release(ctx)
		return err == nil || dberr.CodeOf(err) == dberr.Fenced // fenced: for good
	})
	if err != nil {
		return fmt.Errorf("node: release the writer lease: %w", err)
	}
	return nil
}

// retryAtShutdown calls try until it reports done, at most
// shutdownAttempts times, pausing by shutdownRetry between calls, until
// ctx ends.
func retryAtShutdown(ctx context.Context, try func() (done bool)) {
	for attempt := 1; !try() && attempt < shutdownAttempts; attempt++ {
		if shutdownRetry.Sleep(ctx, attempt) != nil {
			return
		}
	}
}

// drain flushes every buffered partition of an existing table, without
// job records, and returns how many rows of existing tables remain.
// (Rows of dropped tables are never flushed or read.)
func (n *Node) drain(ctx context.Context) (int64, error) {
	snap, err := n.App.Schemas().Current(ctx)
	if err != nil {
		return n.Buffer.Stats().Rows, err
	}
	var errs []error
	for _, p := range n.Buffer.Partitions() {
		if t, terr := snap.TableByID(p.TableID); terr == nil {
			_, ferr := n.Store.Flush(ctx, t.Def(), p.Partition)
			errs = append(errs, ferr)
		}
	}
	var left int64
	for _, p := range n.Buffer.Partitions() {
		if _, terr := snap.TableByID(p.TableID); terr == nil {
			left += p.Rows
		}
	}
	return left, errors.Join(errs...)
}

// Serving reports whether the process can serve (for the health check):
// in the node role, whether it holds a valid writer lease (false once
// another node took over, while the lease could not be renewed, and after
// it was released); in the function and live roles, which hold no lease,
// always.
func (n *Node) Serving() bool {
	if n.Lease == nil {
		return true
	}
	return n.Lease.Serving()
}

// Close releases DuckDB and the buffer, stops the lease renewals and
// unlocks the data dir. It does not flush or release the lease: use Run's
// graceful shutdown for that. The AppContext stays open. Close is safe on
// a partly opened Node.
func (n *Node) Close() error {
	if n == nil {
		return nil
	}
	var errs []error
	if n.Engine != nil {
		errs = append(errs, n.Engine.Close())
	}
	if n.Buffer != nil {
		errs = append(errs, n.Buffer.Close())
	}
	if n.Lease != nil {
		errs = append(errs, n.Lease.Close())
	}
	if n.Dir != nil {
		errs = append(errs, n.Dir.Close())
	}
	return errors.Join(errs...)
}

// writePath is what the executor and the job records write through.
type writePath interface {
	sqlexec.WritePath
	jobs.Writer
}

// bufferedWrites is the node role's write path: the write buffer, flushed
// by the flusher.
type bufferedWrites struct {
	store   *tablestore.Store
	flusher *jobs.Flusher
	lease   *lease.Lease
}

func (w bufferedWrites) Write(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) error {
	_, err := w.store.Write(ctx, t, partition, changes)
	return err
}

func (w bufferedWrites) Apply(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) (func() error, error) {
	_, durable, err := w.store.Apply(ctx, t, partition, changes)
	return durable, err
}

func (w bufferedWrites) Flush(ctx context.Context, tableID string) error {
	if tableID == "" {
		return w.flusher.FlushAll(ctx)
	}
	return w.flusher.FlushTable(ctx, tableID)
}

func (bufferedWrites) Writable() error { return nil }

// Admit asks the writer lease (sqlexec.WritePath).
func (w bufferedWrites) Admit(ctx context.Context) error {
	if w.lease == nil {
		return nil
	}
	return w.lease.Admit(ctx)
}

// directWrites is the function role's write path on a direct-mode
// warehouse: each write is committed before it is acknowledged.
type directWrites struct{ w *tablestore.DirectWriter }

func (d directWrites) Write(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) error {
	_, err := d.w.Write(ctx, t, partition, changes)
	return err
}

// Apply commits at once: a direct write is visible when it is durable.
func (d directWrites) Apply(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) (func() error, error) {
	if err := d.Write(ctx, t, partition, changes); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

// Flush has nothing to do: the direct path buffers nothing.
func (directWrites) Flush(context.Context, string) error { return nil }

func (directWrites) Writable() error { return nil }

// Admit admits every write: a function holds no lease; each of its
// commits is a conditional put that fails if another writer fenced it.
func (directWrites) Admit(context.Context) error { return nil }

// readOnly is the write path of a process that may not write.
type readOnly struct{ why string }

func (r readOnly) Write(context.Context, *manifest.Table, string, []tablestore.Change) error {
	return r.Writable()
}

func (r readOnly) Apply(context.Context, *manifest.Table, string, []tablestore.Change) (func() error, error) {
	return nil, r.Writable()
}

// Flush has nothing to do: nothing is buffered.
func (readOnly) Flush(context.Context, string) error { return nil }

func (r readOnly) Writable() error { return dberr.New(dberr.ReadOnly, "%s", r.why) }

func (r readOnly) Admit(context.Context) error { return r.Writable() }

var (
	_ writePath = bufferedWrites{}
	_ writePath = directWrites{}
	_ writePath = readOnly{}
)
