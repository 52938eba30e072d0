package tablestore

// Turns: fairness of direct writers on one partition (see DirectWriter,
// "Fairness").

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// turnsName is the object, in a partition's folder, holding the queue of
// its contended direct writers. Garbage collection lists only the seg/ and
// v/ folders, so it leaves it alone.
const turnsName = "turns"

// maxTurnsBytes bounds what is read of a turns object: a few thousand
// waiters.
const maxTurnsBytes = 1 << 20

// maxTurnUpdates bounds the conditional puts of one queue update; past it
// the writer stops waiting for its turn and commits optimistically.
const maxTurnUpdates = 20

func turnsKey(tableID, partition string) string {
	return manifest.PartitionPrefix(tableID, partition) + turnsName
}

// turnEntry is one waiting writer: its DirectWriter's turn ID and when the
// entry lapses unless renewed (Unix nanoseconds, by the writer's clock).
type turnEntry struct {
	ID      string `json:"id"`
	Expires int64  `json:"expires"`
}

// turnQueue is a turns object as read: the waiters in arrival order, the
// latest commit to the partition that a writer leaving the queue knew of
// (a hint for the next writer's base: a later commit may exist), and the
// ETag to update it with (empty: the object does not exist).
type turnQueue struct {
	Waiters []turnEntry `json:"waiters"`
	Head    turnHead    `json:"head,omitzero"`
	etag    string
}

// turnHead is a partition manifest version and its LastSeq.
type turnHead struct {
	Version uint64 `json:"version"`
	LastSeq uint64 `json:"last_seq"`
}

// live returns the waiters whose entries have not lapsed at now.
func (q turnQueue) live(now time.Time) []turnEntry {
	return slices.DeleteFunc(slices.Clone(q.Waiters), func(e turnEntry) bool { return e.Expires <= now.UnixNano() })
}

// position returns id's index among the live waiters, or -1.
func (q turnQueue) position(id string, now time.Time) int {
	return slices.IndexFunc(q.live(now), func(e turnEntry) bool { return e.ID == id })
}

// newTurnID returns the identity of one DirectWriter in turn queues: its
// node ID (for people reading the object) and a random part (writers may
// share a node ID).
func newTurnID(nodeID string) string {
	return nodeID + "/" + rand.Text()[:12]
}

// readTurns reads the queue at key; a missing object is an empty queue.
func (w *DirectWriter) readTurns(ctx context.Context, key string) (turnQueue, error) {
	rc, attrs, err := w.bucket.Get(ctx, key)
	if objstore.IsNotFound(err) {
		return turnQueue{}, nil
	}
	if err != nil {
		return turnQueue{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxTurnsBytes+1))
	if err != nil {
		return turnQueue{}, err
	}
	var q turnQueue
	if len(data) > maxTurnsBytes || json.Unmarshal(data, &q) != nil {
		// Unreadable: treat as empty, and overwrite it on the next update.
		q = turnQueue{}
	}
	q.etag = attrs.ETag
	return q, nil
}

// updateTurns applies change to the queue at key, starting from q as last
// read, with conditional puts (re-reading after each refused one). change
// gets the live waiters and returns the new list, or false to leave the
// queue as it is. It returns the queue as written or last read.
// known, if newer than the queue's Head, replaces it.
func (w *DirectWriter) updateTurns(ctx context.Context, key string, q turnQueue, known turnHead, change func(live []turnEntry) ([]turnEntry, bool)) (turnQueue, error) {
	var err error
	for range maxTurnUpdates {
		next, ok := change(q.live(w.opts.Clock()))
		if !ok {
			return q, nil
		}
		out := turnQueue{Waiters: next, Head: q.Head}
		if known.Version > out.Head.Version {
			out.Head = known
		}
		data, merr := json.Marshal(out)
		if merr != nil {
			return q, merr
		}
		opts := objstore.PutOptions{IfNoneMatch: true}
		if q.etag != "" {
			opts = objstore.PutOptions{IfMatch: q.etag}
		}
		attrs, perr := w.bucket.Put(ctx, key, data, opts)
		if perr == nil {
			out.etag = attrs.ETag
			return out, nil
		}
		if ctx.Err() != nil {
			return q, ctx.Err()
		}
		// Refused (another writer updated it) or unknown (it may have
		// landed): re-read and decide again; change is idempotent.
		if q, err = w.readTurns(ctx, key); err != nil {
			return q, err
		}
	}
	return q, fmt.Errorf("tablestore: turns %s: %d updates refused in a row", key, maxTurnUpdates)
}

// enqueue puts this writer at the end of the queue, or renews its entry if
// it is there already.
func (w *DirectWriter) enqueue(ctx context.Context, key string, q turnQueue) (turnQueue, error) {
	return w.updateTurns(ctx, key, q, turnHead{}, func(live []turnEntry) ([]turnEntry, bool) {
		exp := w.opts.Clock().Add(w.opts.TurnTTL).UnixNano()
		if i := slices.IndexFunc(live, func(e turnEntry) bool { return e.ID == w.turnID }); i >= 0 {
			live[i].Expires = exp
			return live, true
		}
		return append(live, turnEntry{ID: w.turnID, Expires: exp}), true
	})
}

// leaveTurns removes this writer from the queue, starting from q as last
// read (a refused update re-reads it), and records committed, the
// partition's head after this writer's commit (zero: none), for the next
// writer. Best effort: an entry left behind lapses after TurnTTL.
func (w *DirectWriter) leaveTurns(ctx context.Context, key string, q turnQueue, committed turnHead) {
	var err error
	if q.etag == "" {
		q, err = w.readTurns(ctx, key)
	}
	if err == nil {
		_, err = w.updateTurns(ctx, key, q, committed, func(live []turnEntry) ([]turnEntry, bool) {
			i := slices.IndexFunc(live, func(e turnEntry) bool { return e.ID == w.turnID })
			if i < 0 && len(live) == len(q.Waiters) {
				return nil, false // not there, nothing lapsed to prune
			}
			if i >= 0 {
				live = slices.Delete(live, i, i+1)
			}
			return live, true
		})
	}
	if err != nil {
		w.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "direct writer did not leave the turn queue",
			slog.String("turns", key), slog.Any("err", err))
	}
}

// mustQueue reports whether the queue has live entries, so that this
// writer must take a turn rather than commit at once. An entry of its own
// (left by a leave that failed) counts too: taking the turn renews it and
// the leave after the commit removes it, instead of it holding the others
// up until it lapses.
func (w *DirectWriter) mustQueue(q turnQueue) bool {
	return len(q.live(w.opts.Clock())) > 0
}

// awaitTurn queues this writer (if it is not queued yet) and waits until it
// heads the queue. Between reads it sleeps about a quarter of a turn per
// writer ahead of it (p.turnEstimate, learnt from how fast the queue
// advances; at least TurnPoll, at most MaxBackoff, jittered), and it renews
// its entry when half of TurnTTL has passed. It returns an error if ctx
// ends or the queue cannot be read or updated; the caller then commits
// without its turn (the queue only orders commits, it never decides
// whether one is safe). It returns the queue as last read.
func (w *DirectWriter) awaitTurn(ctx context.Context, p *directPartition, key string, q turnQueue) (turnQueue, error) {
	q, err := w.enqueue(ctx, key, q)
	if err != nil {
		return q, err
	}
	if p.turnEstimate == 0 {
		p.turnEstimate = 4 * w.opts.TurnPoll
	}
	renewed := w.opts.Clock()
	lastPos, lastMove := -1, renewed
	for {
		now := w.opts.Clock()
		pos := q.position(w.turnID, now)
		if lastPos > 0 && pos >= 0 && pos < lastPos {
			// The queue advanced lastPos-pos turns since lastMove.
			per := now.Sub(lastMove) / time.Duration(lastPos-pos)
			p.turnEstimate = (3*p.turnEstimate + per) / 4
		}
		if pos != lastPos {
			lastPos, lastMove = pos, now
		}
		switch {
		case pos == 0:
			return q, nil
		case pos < 0 || now.Sub(renewed) >= w.opts.TurnTTL/2:
			// Lapsed (a long wait) or about to: renew.
			if q, err = w.enqueue(ctx, key, q); err != nil {
				return q, err
			}
			renewed = now
			continue
		}
		d := min(max(time.Duration(pos)*p.turnEstimate/4, w.opts.TurnPoll), w.opts.MaxBackoff)
		half := d / 2
		d = half + time.Duration(w.opts.Rand(int64(d-half)+1))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return q, ctx.Err()
		}
		if q, err = w.readTurns(ctx, key); err != nil {
			return q, err
		}
	}
}

// turnRead is the outcome of a read of the turn queue made beside a
// segment upload.
type turnRead struct {
	q    turnQueue
	err  error
	reqs objstore.OpCounts
}

// readTurnsAsync reads the queue at key in a goroutine (counting its
// requests apart: a group's counts are not synchronized) and delivers the
// result on the returned channel.
func (w *DirectWriter) readTurnsAsync(ctx context.Context, key string) <-chan turnRead {
	ch := make(chan turnRead, 1)
	go func() {
		var r turnRead
		rctx := context.WithValue(ctx, requestsKey{}, &r.reqs)
		r.q, r.err = w.readTurns(rctx, key)
		ch <- r
	}()
	return ch
}

// refreshAsync runs p.refresh in a goroutine (counting its requests apart)
// and delivers its error and requests on the returned channel. p's lastSeq
// and known belong to that goroutine until the result is received.
func refreshAsync(ctx context.Context, p *directPartition) <-chan turnRead {
	ch := make(chan turnRead, 1)
	go func() {
		var r turnRead
		rctx := context.WithValue(ctx, requestsKey{}, &r.reqs)
		r.err = p.refresh(rctx)
		ch <- r
	}()
	return ch
}

// addCounts adds b to a.
func addCounts(a *objstore.OpCounts, b objstore.OpCounts) {
	a.Get += b.Get
	a.GetRange += b.GetRange
	a.Attributes += b.Attributes
	a.Put += b.Put
	a.Delete += b.Delete
	a.List += b.List
}
