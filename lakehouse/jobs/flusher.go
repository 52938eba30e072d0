package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

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

// Flusher decides when buffered partitions are flushed and records each
// flush as a job: by policy (Run), on demand (FlushTable, FlushAll) and at
// shutdown. It is safe for concurrent use.
type Flusher struct {
	store  *tablestore.Store
	buf    *wbuf.Buffer
	lookup TableLookup
	policy FlushPolicy
	env    Env
}

// NewFlusher returns a Flusher of buf's partitions, flushed by store.
func NewFlusher(store *tablestore.Store, buf *wbuf.Buffer, lookup TableLookup, policy FlushPolicy, env Env) *Flusher {
	policy.ensureDefaults()
	env.ensureDefaults()
	return &Flusher{store: store, buf: buf, lookup: lookup, policy: policy, env: env}
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
			f.tick(ctx)
		}
	}
}

// tick flushes the partitions the policy says are due.
func (f *Flusher) tick(ctx context.Context) {
	now := f.env.Clock()
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
			errs = append(errs, fmt.Errorf("jobs: flush table %s: %w", p.TableID, err))
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
func (f *Flusher) flushOne(ctx context.Context, t *manifest.Table, partition, trigger string) (tablestore.FlushResult, error) {
	job := f.env.start(KindFlush, trigger, t, partition)
	f.env.record(ctx, job)
	res, err := f.store.Flush(ctx, t, partition)
	job.Rows, job.Bytes = res.Rows, res.Bytes
	f.env.finish(ctx, job, err)
	return res, err
}
