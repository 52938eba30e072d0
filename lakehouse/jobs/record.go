// Package jobs runs Floe's background work and records every run: the
// flush policy of the write buffer, STREAM eviction, compaction of small
// segments and garbage collection, driven by one Scheduler (node role) or
// run once by RunOnce (the maintenance function). The mechanisms live in
// the storage engine (tablestore.Store.Flush, Compact, CollectGarbage) and
// in the executor (STREAM eviction, which needs its partition locks); this
// package decides when they run, runs them as jobs and keeps one record
// format for all of them: the rows of system.jobs.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/floedb/floe/manifest"
)

// Status is the state of a job run.
type Status string

// Job statuses.
const (
	Running   Status = "running"
	Completed Status = "completed"
	Failed    Status = "failed"
)

// Job kinds.
const (
	KindFlush   = "flush"
	KindCompact = "compact"
	KindGC      = "gc"
	KindEvict   = "evict"
)

// Record is the record of one job run, as system.jobs shows it.
type Record struct {
	ID        string
	Kind      string // KindFlush, KindCompact, KindGC, KindEvict
	TableID   string
	Partition string
	// NodeID is the process that ran the job.
	NodeID string
	Status Status
	// Trigger says why the job ran: "rows", "interval", "manual",
	// "shutdown" (flushes), "schedule" (the node's scheduler),
	// "maintenance" (RunOnce), "ttl" (eviction).
	Trigger    string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	// Rows and Bytes: a flush's segment; the versions and bytes a
	// compaction wrote; the objects deleted and bytes freed by GC; the
	// rows an eviction removed.
	Rows  int64
	Bytes int64
	Error string
}

// Sink receives job records: a flush once when it starts and once when it
// ends, the other jobs once when they end. Implementations must be safe
// for concurrent use; an error is logged and does not fail the job.
type Sink interface {
	RecordJob(ctx context.Context, r Record) error
}

// Env is what every job needs. The zero value records nothing, logs
// nothing and uses time.Now.
type Env struct {
	// NodeID is recorded in every record.
	NodeID string
	// Sink receives the records; nil drops them.
	Sink    Sink
	Logger  *slog.Logger
	Clock   func() time.Time
	Metrics *Metrics
}

func (e *Env) ensureDefaults() {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Clock == nil {
		e.Clock = time.Now
	}
}

// start returns the record of a job starting now.
func (e *Env) start(kind, trigger string, t *manifest.Table, partition string) Record {
	now := e.Clock()
	r := Record{ID: newID(now), Kind: kind, NodeID: e.NodeID, Status: Running, Trigger: trigger, StartedAt: now, Partition: partition}
	if t != nil {
		r.TableID = t.ID
	}
	return r
}

// finish completes r with err and records it.
func (e *Env) finish(ctx context.Context, r Record, err error) {
	r.FinishedAt = e.Clock()
	r.Status = Completed
	if err != nil {
		r.Status, r.Error = Failed, err.Error()
		e.Logger.LogAttrs(ctx, slog.LevelError, "job failed", slog.String("job_id", r.ID), slog.String("kind", r.Kind),
			slog.String("table", r.TableID), slog.String("partition", r.Partition), slog.Any("err", err))
	}
	e.Metrics.finished(r)
	e.record(ctx, r)
}

func (e *Env) record(ctx context.Context, r Record) {
	if e.Sink == nil {
		return
	}
	if err := e.Sink.RecordJob(ctx, r); err != nil {
		e.Logger.LogAttrs(ctx, slog.LevelWarn, "job record not stored", slog.String("job_id", r.ID), slog.Any("err", err))
	}
}

// newID returns a sortable unique id: UTC time to the microsecond plus
// random bits.
func newID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return strings.ReplaceAll(now.UTC().Format("20060102T150405.000000"), ".", "") + "-" + hex.EncodeToString(r[:])
}
