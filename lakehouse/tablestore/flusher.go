package tablestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// JobStatus is the state of a background job.
type JobStatus string

// Job statuses.
const (
	JobRunning   JobStatus = "running"
	JobCompleted JobStatus = "completed"
	JobFailed    JobStatus = "failed"
)

// Job is the record of one background job run (a flush of one partition,
// today), as system.jobs shows it.
type Job struct {
	ID        string
	Kind      string // "flush"
	TableID   string
	Partition string
	NodeID    string
	Status    JobStatus
	// Trigger says why the job ran: "rows", "interval", "manual" or
	// "shutdown".
	Trigger    string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Rows       int64
	Bytes      int64
	Error      string
}

// JobSink receives job records: once when a job starts and once when it
// ends. Implementations must be safe for concurrent use; an error is
// logged and does not fail the job.
type JobSink interface {
	RecordJob(ctx context.Context, j Job) error
}

// TableLookup resolves a table ID to its current definition (nil, nil if
// the table no longer exists). The schema registry provides it.
type TableLookup func(ctx context.Context, tableID string) (*manifest.Table, error)

// FlushPolicy is the default flush policy; a table's own options
// (FlushRows, FlushIntervalSeconds) override it.
type FlushPolicy struct {
	// Rows flushes a partition once it buffers this many versions.
	// Default: 10000.
	Rows int64
	// Interval flushes a partition this long after its oldest buffered
	// write. Default: 60s.
	Interval time.Duration
	// Tick is how often Run checks the policy. Default: 1s.
	Tick time.Duration
}

func (p *FlushPolicy) ensureDefaults() {
	if p.Rows <= 0 {
		p.Rows = 10000
	}
	if p.Interval <= 0 {
		p.Interval = 60 * time.Second
	}
	if p.Tick <= 0 {
		p.Tick = time.Second
	}
}

// Flusher decides when partitions are flushed and records each flush as a
// job: by policy (Run), on demand (FlushTable, FlushAll) and at shutdown.
type Flusher struct {
	store  *Store
	buf    *wbuf.Buffer
	lookup TableLookup
	sink   JobSink
	policy FlushPolicy
	logger *slog.Logger
	clock  func() time.Time
	nodeID string
}

// NewFlusher returns a Flusher for store's buffer. sink may be nil.
func NewFlusher(store *Store, buf *wbuf.Buffer, lookup TableLookup, sink JobSink, policy FlushPolicy) *Flusher {
	policy.ensureDefaults()
	return &Flusher{
		store: store, buf: buf, lookup: lookup, sink: sink, policy: policy,
		logger: store.opts.Logger, clock: store.opts.Clock, nodeID: store.opts.NodeID,
	}
}

// due returns why partition p should be flushed now, or "".
func (f *Flusher) due(t *manifest.Table, p wbuf.PartitionStats, now time.Time) string {
	rows, interval := f.policy.Rows, f.policy.Interval
	if t.Options.FlushRows > 0 {
		rows = t.Options.FlushRows
	}
	if t.Options.FlushIntervalSeconds > 0 {
		interval = time.Duration(t.Options.FlushIntervalSeconds) * time.Second
	}
	switch {
	case p.Rows >= rows:
		return "rows"
	case !p.OldestWrite.IsZero() && now.Sub(p.OldestWrite) >= interval:
		return "interval"
	}
	return ""
}

// Run checks the policy every Tick until ctx is done, then flushes every
// buffered partition ("shutdown") with a fresh context bounded by
// shutdownTimeout, so a graceful stop leaves nothing only in the buffer.
func (f *Flusher) Run(ctx context.Context, shutdownTimeout time.Duration) error {
	tick := time.NewTicker(f.policy.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			defer cancel()
			return f.flushBuffered(sctx, "", "shutdown")
		case <-tick.C:
			now := f.clock()
			for _, p := range f.buf.Partitions() {
				t, err := f.lookup(ctx, p.TableID)
				if err != nil || t == nil {
					continue // dropped table or catalog hiccup: retried next tick
				}
				if why := f.due(t, p, now); why != "" {
					_, _ = f.flushOne(ctx, t, p.Partition, why)
				}
			}
		}
	}
}

// FlushTable flushes every buffered partition of one table ("FLUSH TABLE").
func (f *Flusher) FlushTable(ctx context.Context, tableID string) error {
	return f.flushBuffered(ctx, tableID, "manual")
}

// FlushAll flushes every buffered partition of every table ("FLUSH ALL").
func (f *Flusher) FlushAll(ctx context.Context) error {
	return f.flushBuffered(ctx, "", "manual")
}

// flushBuffered flushes the buffered partitions of tableID ("" for all)
// and returns the errors of all that failed.
func (f *Flusher) flushBuffered(ctx context.Context, tableID, trigger string) error {
	var errs []error
	for _, p := range f.buf.Partitions() {
		if tableID != "" && p.TableID != tableID {
			continue
		}
		t, err := f.lookup(ctx, p.TableID)
		if err != nil {
			errs = append(errs, fmt.Errorf("tablestore: flush table %s: %w", p.TableID, err))
			continue
		}
		if t == nil {
			continue
		}
		if _, err := f.flushOne(ctx, t, p.Partition, trigger); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flushOne runs one flush as a job.
func (f *Flusher) flushOne(ctx context.Context, t *manifest.Table, partition, trigger string) (FlushResult, error) {
	job := Job{ID: newJobID(f.clock()), Kind: "flush", TableID: t.ID, Partition: partition, NodeID: f.nodeID,
		Status: JobRunning, Trigger: trigger, StartedAt: f.clock()}
	f.record(ctx, job)
	res, err := f.store.Flush(ctx, t, partition)
	job.FinishedAt = f.clock()
	job.Rows, job.Bytes = res.Rows, res.Bytes
	job.Status = JobCompleted
	if err != nil {
		job.Status, job.Error = JobFailed, err.Error()
		f.logger.LogAttrs(ctx, slog.LevelError, "flush failed", slog.String("job_id", job.ID),
			slog.String("table", t.ID), slog.String("partition", partition), slog.Any("err", err))
	}
	f.record(ctx, job)
	return res, err
}

func (f *Flusher) record(ctx context.Context, j Job) {
	if f.sink == nil {
		return
	}
	if err := f.sink.RecordJob(ctx, j); err != nil {
		f.logger.LogAttrs(ctx, slog.LevelWarn, "job record not stored", slog.String("job_id", j.ID), slog.Any("err", err))
	}
}

// newJobID returns a sortable unique id: UTC time to the microsecond plus
// random bits.
func newJobID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return strings.ReplaceAll(now.UTC().Format("20060102T150405.000000"), ".", "") + "-" + hex.EncodeToString(r[:])
}
