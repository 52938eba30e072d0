// Package node assembles one Floe process's engine from its AppContext:
// the write buffer, the segment cache, the storage engine, the flush
// scheduler, DuckDB and the SQL executor. cmd/floe serve, the tests and
// the benchmarks build their engine here, so they all run the same wiring.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/admission"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// Node is a running engine. Close it after Run returned (or without Run).
type Node struct {
	App      *appctx.AppContext
	Buffer   *wbuf.Buffer
	Cache    *tablestore.Cache
	Store    *tablestore.Store
	Flusher  *tablestore.Flusher
	Engine   *duckengine.Engine
	Executor *sqlexec.Executor
	// Admission admits statements; Run runs its memory guard.
	Admission *admission.Controller
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

// Open claims the warehouse's writer lease (fencing any older node), opens
// the buffer under <data_dir>/buffer and the segment cache under
// <data_dir>/cache, starts DuckDB and creates or upgrades the system
// tables.
func Open(ctx context.Context, app *appctx.AppContext) (n *Node, err error) {
	cfg := app.Config()
	log := app.Logger()
	n = &Node{App: app}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	epoch, cat, err := manifest.AcquireWriter(ctx, app.Catalog(), app.NodeID().String())
	if err != nil {
		return nil, fmt.Errorf("node: claim the writer lease: %w", err)
	}
	n.WriterEpoch = epoch
	app.Schemas().Install(cat)

	n.Buffer, err = wbuf.Open(wbuf.Options{
		Dir:      filepath.Join(cfg.DataDir, "buffer"),
		Logger:   log.With(slog.String("component", "wbuf")),
		MaxBytes: cfg.Buffer.MaxBytes,
		Clock:    app.Clock(),
	})
	if err != nil {
		return nil, fmt.Errorf("node: open write buffer: %w", err)
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
		AllowedDirs:   []string{cacheDir},
		MemoryLimit:   cfg.Query.MemoryLimit,
		Threads:       cfg.Query.Threads,
		MaxValueBytes: cfg.Query.MaxValueBytes,
	})
	if err != nil {
		return nil, err
	}
	n.Admission = admission.New(admission.Config{
		Slots: cfg.Query.MaxConcurrent, PerUser: cfg.Query.MaxConcurrentPerUser,
		Queue: cfg.Query.QueueLength, QueueWait: cfg.Query.QueueWait.Duration,
		MemoryBudget: cfg.Query.ProcessMemoryBytes(),
	}, app.Logger().With(slog.String("component", "admission")), admission.ReadRSS, app.Clock())
	n.Executor, err = sqlexec.New(app, sqlexec.Options{
		Store: n.Store, Flusher: n.Flusher, Engine: n.Engine,
		WriterEpoch: epoch, QueryTimeout: cfg.Query.Timeout.Duration,
		Admission: n.Admission, MaxResultBytes: cfg.Query.MaxResultBytes,
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
	return n, nil
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
	guardDone := make(chan struct{})
	go func() {
		defer close(guardDone)
		n.Admission.Run(ctx)
	}()
	err := n.Flusher.Run(ctx, shutdownTimeout)
	<-done
	<-guardDone
	return err
}

// Close releases DuckDB and the buffer. It does not flush: use Run's
// graceful shutdown for that. The AppContext stays open.
func (n *Node) Close() error {
	var errs []error
	if n.Engine != nil {
		errs = append(errs, n.Engine.Close())
	}
	if n.Buffer != nil {
		errs = append(errs, n.Buffer.Close())
	}
	return errors.Join(errs...)
}
