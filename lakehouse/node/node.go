// Package node assembles one Floe process's engine from its AppContext:
// the data dir, the writer lease, the write buffer, the segment cache, the
// storage engine, the flush scheduler, DuckDB and the SQL executor. cmd/floe serve, the tests and
// the benchmarks build their engine here, so they all run the same wiring.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/datadir"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/lease"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// Node is a running engine. Close it after Run returned (or without Run).
type Node struct {
	App *appctx.AppContext
	// Dir is the locked data dir; Lease the writer lease (renewed in the
	// background from Open to Close).
	Dir      *datadir.Dir
	Lease    *lease.Lease
	Buffer   *wbuf.Buffer
	Cache    *tablestore.Cache
	Store    *tablestore.Store
	Flusher  *tablestore.Flusher
	Engine   *duckengine.Engine
	Executor *sqlexec.Executor
	// WriterEpoch is the writer lease this node holds.
	WriterEpoch uint64
	// BootstrapTime is how long creating or checking the system tables took.
	BootstrapTime time.Duration
}

// jobSink forwards job records to the executor once it exists (the
// flusher is built before it).
type jobSink struct {
	x atomic.Pointer[sqlexec.Executor]
}

func (s *jobSink) RecordJob(ctx context.Context, j tablestore.Job) error {
	if x := s.x.Load(); x != nil {
		return x.RecordJob(ctx, j)
	}
	return nil
}

// Open locks the data dir (refusing a data dir another process uses, or
// one of another warehouse), claims the warehouse's writer lease (see
// package lease: a live or unreleased lease of another node is refused),
// opens the buffer under <data_dir>/buffer and the segment cache under
// <data_dir>/cache, starts DuckDB and creates or upgrades the system
// tables. On failure it returns the error and leaves nothing open.
func Open(ctx context.Context, app *appctx.AppContext) (*Node, error) {
	cfg := app.Config()
	log := app.Logger()
	n := &Node{App: app}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	var err error
	if n.Dir, err = datadir.Open(cfg.DataDir, datadir.Options{Logger: log, Clock: app.Clock()}); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.Lease, err = claimWarehouse(ctx, app, n.Dir); err != nil {
		return nil, err
	}
	epoch := n.Lease.Epoch()
	n.WriterEpoch = epoch
	app.Schemas().Install(n.Lease.Catalog())

	if n.Buffer, err = openBuffer(app, n.Lease); err != nil {
		return nil, err
	}
	cacheDir, err := filepath.Abs(filepath.Join(cfg.DataDir, "cache"))
	if err != nil {
		return nil, err
	}
	n.Cache, err = tablestore.NewCache(cacheDir, cfg.Query.CacheBytes, app.Bucket())
	if err != nil {
		return nil, err
	}
	n.Store = tablestore.New(app.Bucket(), n.Buffer, tablestore.Options{
		NodeID:      app.NodeID().String(),
		WriterEpoch: epoch,
		Gate:        n.Lease,
		Cache:       n.Cache,
		Logger:      log.With(slog.String("component", "tablestore")),
		Clock:       app.Clock(),
	})
	sink := &jobSink{}
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
	n.Flusher = tablestore.NewFlusher(n.Store, n.Buffer, lookup, sink, tablestore.FlushPolicy{
		Rows: cfg.Flush.Rows, Interval: cfg.Flush.Interval.Duration,
	})
	n.Engine, err = duckengine.Open(ctx, duckengine.Config{
		AllowedDirs: []string{cacheDir},
		MemoryLimit: cfg.Query.MemoryLimit,
		Threads:     cfg.Query.Threads,
	})
	if err != nil {
		return nil, err
	}
	n.Executor, err = sqlexec.New(app, sqlexec.Options{
		Store: n.Store, Flusher: n.Flusher, Engine: n.Engine,
		WriterEpoch: epoch, QueryTimeout: cfg.Query.Timeout.Duration,
	})
	if err != nil {
		return nil, err
	}
	sink.x.Store(n.Executor)
	start := time.Now()
	if err := n.Executor.Bootstrap(ctx); err != nil {
		return nil, err
	}
	n.BootstrapTime = time.Since(start)
	ok = true
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

// EvictInterval is how often Run evicts expired rows of STREAM tables.
// Reads never show expired rows; eviction frees their storage.
const EvictInterval = 30 * time.Second

// Run runs the flush scheduler and the STREAM eviction job until ctx is
// done, then flushes everything buffered (bounded by shutdownTimeout).
func (n *Node) Run(ctx context.Context, shutdownTimeout time.Duration) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(EvictInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := n.Executor.EvictExpired(ctx); err != nil && ctx.Err() == nil {
					n.App.Logger().LogAttrs(ctx, slog.LevelError, "evict expired stream rows", slog.Any("error", err))
				}
			}
		}
	}()
	err := n.Flusher.Run(ctx, shutdownTimeout)
	<-done
	if lost := n.Lease.Fenced(); lost != nil {
		// Every flush failed for this one reason; say it once.
		n.App.Logger().LogAttrs(ctx, slog.LevelError, "stopping without the writer lease: another node took the warehouse over; the rows this node had not flushed were given up",
			slog.Int64("rows", n.Buffer.Stats().Rows))
		return fmt.Errorf("node: this node lost the warehouse to another node; its unflushed rows were given up: %w", lost)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	return errors.Join(err, n.release(rctx))
}

// release gives the writer lease back after the final flush, so that the
// next node may take the warehouse at once. It first flushes what that
// flush left (its own job records), without recording jobs. With rows of
// existing tables still buffered (a flush failed) the lease stays with
// this data dir, whose restart flushes them.
func (n *Node) release(ctx context.Context) error {
	left, err := n.drain(ctx)
	if left > 0 {
		n.App.Logger().LogAttrs(ctx, slog.LevelWarn, "writer lease kept, not released: rows are still buffered; restart this node on its data dir to flush them",
			slog.Int64("rows", left), slog.Any("error", err))
		return nil
	}
	if err := n.Lease.Release(ctx); err != nil {
		return fmt.Errorf("node: release the writer lease: %w", err)
	}
	return nil
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

// Serving reports whether the node holds a valid writer lease (for the
// health check): false once another node took over, while the lease could
// not be renewed, and after it was released.
func (n *Node) Serving() bool { return n.Lease.Serving() }

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
