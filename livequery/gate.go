package livequery

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// Gate is a live node's entry for changes committed by other processes:
// batches received over the bus (server/livebus) and the changes its
// manifest poll finds. It hands them to the Manager so that every
// subscriber sees each partition's changes exactly once, in _seq order,
// whatever the bus does (drops, duplicates, reordering):
//
//   - per partition with subscriptions it tracks last, the highest _seq
//     handed to the Manager; a batch at or below last is a duplicate and
//     is dropped, one that overlaps it is trimmed;
//   - a batch whose FirstSeq is above last+1 reveals a gap: the missing
//     changes last+1..FirstSeq-1 are read from the object store first
//     (Reader.ReadChanges, the poll's path), then the batch follows;
//   - last starts, for a partition it has no state for, at the lowest
//     _seq the partition's started subscriptions have (their snapshots or
//     resume points). While a partition's subscriptions are all still
//     loading, batches are dropped: each loading subscription's snapshot
//     is read after it registered, and when the first one starts the gate
//     reads everything above its snapshot from the object store at once
//     (Manager.OnStart).
//
// The gap fill relies on what a publisher guarantees: a batch is published
// after its commit, and a partition's _seq values are committed in order
// (the direct write path's manifest commit), so every _seq below a
// received batch is in the object store. Writes on the node path are not
// committed to the object store until flushed, so node-role writers do not
// publish to other processes; live nodes see their writes through the
// poll, once flushed.
//
// Deliver and Poll are safe for concurrent use; one partition's batches
// are handled one at a time, different partitions' in parallel.
type Gate struct {
	m *Manager
	r Reader
	// readTimeout bounds one gap fill or poll read of a partition.
	readTimeout time.Duration
	log         *slog.Logger

	mu         sync.Mutex
	parts      map[[2]string]*gatePart
	catchingUp sync.WaitGroup

	// Metrics (totals since NewGate).
	received, duplicates, gapFills, gapRows, polled, unserved atomic.Int64
}

type gatePart struct {
	mu sync.Mutex
	// gone: the poll removed the part from Gate.parts; a holder must
	// fetch the current one.
	gone  bool
	known bool
	last  uint64
}

// NewGate returns the gate of manager m, filling gaps with r. It
// registers with m.OnStart: when a subscription starts on a partition the
// gate has no state for (its batches were dropped while the partition's
// subscriptions loaded), the gate reads the partition's committed changes
// above the snapshot at once, rather than at the next batch or poll.
func NewGate(m *Manager, r Reader) *Gate {
	g := &Gate{m: m, r: r, readTimeout: 30 * time.Second, log: m.log.With(slog.String("component", "live-gate")),
		parts: map[[2]string]*gatePart{}}
	m.OnStart(g.started)
	return g
}

// started catches up a partition whose first subscription just started.
func (g *Gate) started(t *manifest.Table, partition string) {
	k := [2]string{t.ID, partition}
	g.mu.Lock()
	p := g.parts[k]
	g.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		known := p.known
		p.mu.Unlock()
		if known {
			return
		}
	}
	g.catchingUp.Add(1)
	go func() {
		defer g.catchingUp.Done()
		g.catchUp(context.Background(), t, partition)
	}()
}

// catchUp delivers the committed changes of a partition above its last
// delivered _seq (the poll of one partition).
func (g *Gate) catchUp(ctx context.Context, t *manifest.Table, partition string) {
	k := [2]string{t.ID, partition}
	p := g.lock(k)
	defer p.mu.Unlock()
	if !g.startLocked(p, k) {
		return
	}
	b, err := g.read(ctx, tablestore.ChangeBatch{Table: t, Partition: partition}, p.last+1, 0)
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "live: read of committed changes failed; retrying at the next batch or poll",
			slog.String("table_id", t.ID), slog.Any("error", err))
		return
	}
	if len(b.Rows) > 0 {
		g.polled.Add(int64(len(b.Rows)))
		g.m.OnTableChange(b)
		p.last = b.LastSeq
	}
}

// Wait waits for the catch-up reads started by subscriptions (tests).
func (g *Gate) Wait() { g.catchingUp.Wait() }

// lock returns k's part, locked.
func (g *Gate) lock(k [2]string) *gatePart {
	for {
		g.mu.Lock()
		p := g.parts[k]
		if p == nil {
			p = &gatePart{}
			g.parts[k] = p
		}
		g.mu.Unlock()
		p.mu.Lock()
		if !p.gone {
			return p
		}
		p.mu.Unlock()
	}
}

// GateStats counts what a Gate did.
type GateStats struct {
	// Received: batches given to Deliver. Duplicates: dropped as already
	// delivered. GapFills: gaps filled from the object store, GapRows:
	// the rows they read. Polled: rows the poll found. Unserved: batches
	// of partitions nobody subscribes to (or whose subscriptions were
	// still loading).
	Received, Duplicates, GapFills, GapRows, Polled, Unserved int64
}

// Stats returns the counters since NewGate.
func (g *Gate) Stats() GateStats {
	return GateStats{Received: g.received.Load(), Duplicates: g.duplicates.Load(), GapFills: g.gapFills.Load(),
		GapRows: g.gapRows.Load(), Polled: g.polled.Load(), Unserved: g.unserved.Load()}
}

// Deliver hands b to the Manager in order (see Gate). It implements the
// bus's Sink. A gap it cannot read (the object store fails) drops b; the
// next batch of the partition or the poll retries from the same point.
func (g *Gate) Deliver(ctx context.Context, b tablestore.ChangeBatch) {
	g.received.Add(1)
	if b.Table == nil || len(b.Rows) == 0 {
		return
	}
	k := [2]string{b.Table.ID, b.Partition}
	if indexed, _, _ := g.m.partitionFloor(k[0], k[1], false); !indexed {
		// Nobody subscribes: no state is created (a live node receives
		// every partition's changes).
		g.unserved.Add(1)
		return
	}
	p := g.lock(k)
	defer p.mu.Unlock()
	if !g.startLocked(p, k) {
		g.unserved.Add(1)
		return
	}
	if b.LastSeq <= p.last {
		g.duplicates.Add(1)
		return
	}
	if b.FirstSeq > p.last+1 {
		gap, err := g.read(ctx, b, p.last+1, b.FirstSeq-1)
		if err != nil {
			g.log.LogAttrs(ctx, slog.LevelWarn, "live: gap fill from the object store failed; the next batch or poll retries",
				slog.String("table_id", b.Table.ID), slog.Uint64("from_seq", p.last+1), slog.Uint64("to_seq", b.FirstSeq-1), slog.Any("error", err))
			return
		}
		g.gapFills.Add(1)
		g.gapRows.Add(int64(len(gap.Rows)))
		if len(gap.Rows) > 0 {
			g.m.OnTableChange(gap)
		}
	} else if b.FirstSeq <= p.last {
		// Overlap: keep the rows above last (rows are numbered
		// consecutively from FirstSeq).
		b.Rows = b.Rows[p.last+1-b.FirstSeq:]
		b.FirstSeq = p.last + 1
	}
	g.m.OnTableChange(b)
	p.last = b.LastSeq
}

// startLocked makes sure p has a starting point; it reports false when the
// partition has no started subscription to deliver to (p is then reset).
func (g *Gate) startLocked(p *gatePart, k [2]string) bool {
	indexed, started, floor := g.m.partitionFloor(k[0], k[1], !p.known)
	if !indexed {
		p.known = false
		return false
	}
	if !p.known {
		if !started {
			return false
		}
		p.known, p.last = true, floor
	}
	return true
}

// read returns the committed changes fromSeq..toSeq (toSeq 0: all) of b's
// partition as one batch in b's table definition.
func (g *Gate) read(ctx context.Context, b tablestore.ChangeBatch, fromSeq, toSeq uint64) (tablestore.ChangeBatch, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.readTimeout)
	defer cancel()
	out := tablestore.ChangeBatch{Table: b.Table, Partition: b.Partition}
	for cr, err := range g.r.ReadChanges(ctx, b.Table, b.Partition, fromSeq, toSeq) {
		if err != nil {
			return out, err
		}
		out.Rows = append(out.Rows, cr)
	}
	if n := len(out.Rows); n > 0 {
		out.FirstSeq, out.LastSeq = out.Rows[0].Seq, out.Rows[n-1].Seq
	}
	return out, nil
}

// Poll is the backstop of the bus, until ctx ends: every interval, for
// each partition with started subscriptions, it reads the committed
// changes after the partition's last delivered _seq and delivers them.
// It finds what no batch revealed: a lost publish with no later one, a
// writer that publishes nothing (a node-role writer's flushed changes).
func (g *Gate) Poll(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.PollOnce(ctx)
	}
}

// PollOnce is one round of Poll.
func (g *Gate) PollOnce(ctx context.Context) {
	seen := map[[2]string]bool{}
	for _, sv := range g.m.served() {
		seen[[2]string{sv.table.ID, sv.partition}] = true
		g.catchUp(ctx, sv.table, sv.partition)
	}
	g.mu.Lock()
	for k, p := range g.parts {
		if !seen[k] && p.mu.TryLock() {
			if indexed, _, _ := g.m.partitionFloor(k[0], k[1], false); !indexed {
				p.gone = true
				delete(g.parts, k)
			}
			p.mu.Unlock()
		}
	}
	g.mu.Unlock()
}
