// Package lease is the writer lease of a warehouse's node-owned write
// path: at most one node acknowledges writes to a warehouse at a time, and
// a node acknowledges a write only while it can prove by its own clock
// that no other node took the warehouse over.
//
// # The record
//
// The lease is one small object, catalog/lease (Record): the holder's node
// id, writer epoch and data dir id, the lease duration it uses, when it
// last renewed, and whether it released the lease cleanly. Every write of
// it is a compare-and-swap on its ETag, so renewals create no catalog
// versions. Claiming the lease also commits a catalog version with the new
// writer epoch (manifest.ClaimWriter), which fences every catalog commit
// of an older holder; partition manifests carry the epoch too
// (tablestore), so the first commit of the new holder to a partition
// fences the old holder there.
//
// # Who may claim it
//
// Acquire claims the lease when it is free: no record (a new warehouse, or
// one older than the lease object), a record released by its holder's
// graceful stop, or a record of this very data dir (the same node
// restarting after a crash: the data dir's lock proves the previous
// process is gone, and its buffer holds the rows that process
// acknowledged). A record of another data dir that was not released is
// never taken silently, live or expired: its holder may have acknowledged
// rows that only its disk holds. Acquire refuses with ErrHeld, naming the
// holder and what to do, unless the operator asked to take over
// (Options.TakeOver, `lease.take_over`), which gives those rows up. Even
// then a lease is taken only when it is proven expired: Acquire watches
// the record for TakeoverWait (below) and claims it with a compare-and-
// swap on the version it watched; a holder that renews meanwhile is alive
// and the claim is refused.
//
// # Validity and the clock bound
//
// The holder trusts its lease for the lease duration D, measured on its
// own monotonic clock from the moment it sent the renewal (or claim) that
// succeeded. It acknowledges a write only while that holds (Admit before
// the write, Confirm after it is durable), and commits a manifest only
// while at least D/4 is left, with the commit's context ending when the
// lease does (Hold). It renews every D/3.
//
// A node that takes an unreleased lease over reads the record, then waits
// TakeoverWait = (1+ρ)·(D/(1−ρ) + G) on its own clock and claims with
// If-Match on the version it read, where
//
//   - ρ = MaxDriftRate (1%) bounds how much the rate of any node's
//     monotonic clock may differ from real time (NTP keeps it within
//     0.05%; a clock that runs 1% wrong is broken),
//   - G (`lease.request_grace`, 5s by default) bounds how long an object
//     store request that its sender has given up on may still take
//     effect, and
//   - D is the holder's duration, from the record.
//
// If the claim succeeds, no renewal landed since the read, so the old
// holder's last successful renewal was sent before the read; by the bound
// on ρ its lease ran out, by real time, at most D/(1−ρ) after that, and
// every request it sent before then took effect within G. So nothing the
// old holder does can land after the new holder's claim. A holder stopped
// for longer than its lease (SIGSTOP, a VM pause) finds out at its next
// renewal: if nobody took over, the compare-and-swap succeeds and it
// carries on; otherwise it is fenced and says so (FENCED, NOT_SERVING on
// the health check, an ERROR in the log). Clocks of different machines are
// never compared; wall-clock times in the record are for people.
//
// A renewal that fails (the object store is down) leaves the lease valid
// until it runs out; after that the node refuses writes as unavailable
// (retryable) and takes them again once a renewal succeeds.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// Defaults and bounds of the protocol (see the package documentation).
const (
	// DefaultDuration is the default lease duration D.
	DefaultDuration = 10 * time.Second
	// DefaultRequestGrace is the default bound G on how long an abandoned
	// object store request may still take effect.
	DefaultRequestGrace = 5 * time.Second
	// MaxDriftRate is ρ: the largest difference between the rate of a
	// node's monotonic clock and real time that the protocol tolerates.
	MaxDriftRate = 0.01
)

// TakeoverWait returns how long a node that takes over an unreleased lease
// watches the record unchanged before it claims it: (1+ρ)·(D/(1−ρ) + G)
// for the holder's duration d and the request grace g.
func TakeoverWait(d, g time.Duration) time.Duration {
	return time.Duration((1 + MaxDriftRate) * (float64(d)/(1-MaxDriftRate) + float64(g)))
}

// Errors of Acquire; wrapped with the holder and what to do.
var (
	// ErrHeld: another node holds the lease (live, or expired without a
	// clean release and no take-over was asked for).
	ErrHeld = errors.New("lease: held by another node")
)

// Home is the holder's local state the lease is tied to: its data dir
// (datadir.Dir implements it).
type Home interface {
	// ID identifies the data dir for good; Path says where it is.
	ID() string
	Path() string
	// Claim records durably that the data dir is about to claim epoch.
	Claim(epoch uint64) error
	// Held reports whether the data dir claimed epoch (one of its latest
	// claims).
	Held(epoch uint64) bool
}

// Options configure Acquire. Zero values mean the documented defaults.
type Options struct {
	// Bucket is the warehouse's object store; Catalog its catalog log.
	Bucket  objstore.Bucket
	Catalog *manifest.Log[*manifest.Catalog]
	// NodeID is this node's id; Home its data dir. Both required.
	NodeID string
	Home   Home
	// WarehouseID is recorded in a catalog that has none yet (see
	// manifest.WriterClaim). Default: none.
	WarehouseID string
	// Duration is the lease duration D. Default: DefaultDuration.
	Duration time.Duration
	// RequestGrace is G. Default: DefaultRequestGrace.
	RequestGrace time.Duration
	// TakeOver allows taking over a lease that expired without being
	// released; the rows its holder acknowledged and did not flush are
	// given up. A live lease is never taken. Default: false.
	TakeOver bool
	// Clock returns the current time; differences of its values must
	// follow a monotonic clock (time.Now does). Default: time.Now.
	Clock func() time.Time
	// Sleep waits d or until ctx ends (its error). Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger gets the lease's events. Default: discard.
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() error {
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.RequestGrace == 0 {
		o.RequestGrace = DefaultRequestGrace
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if o.Bucket == nil || o.Catalog == nil || o.Home == nil {
		errs = append(errs, errors.New("lease: Bucket, Catalog and Home are required"))
	}
	if o.NodeID == "" {
		errs = append(errs, errors.New("lease: NodeID is required"))
	}
	if o.Duration < 0 || o.RequestGrace < 0 {
		errs = append(errs, errors.New("lease: Duration and RequestGrace must not be negative"))
	}
	return errors.Join(errs...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// state is where a held lease stands.
type state uint8

const (
	stateHeld     state = iota // valid while the clock is before validUntil
	stateFenced                // another node took over
	stateReleased              // released by Release
)

// Lease is a writer lease this node acquired. Its methods are safe for
// concurrent use. Start runs the renewals; Close stops them (without
// releasing: Release does that, at a graceful stop).
type Lease struct {
	opts       Options
	epoch      uint64
	continuous bool
	previous   *Record
	catalog    *manifest.Catalog

	// turn serializes the requests to the lease object (one token; a
	// waiter gives up when its context ends).
	turn chan struct{}
	// fenced is closed when the lease is lost for good (stateFenced).
	fenced chan struct{}

	mu struct {
		sync.Mutex
		rec        Record
		etag       string
		validUntil time.Time // by Clock: send time of the last good renewal + D
		lastTry    time.Time // when the last renewal was sent
		state      state
		fencedBy   string // why, for messages
		lapsed     bool   // a lapse was logged
	}

	stop context.CancelFunc
	done chan struct{}
}

// Epoch returns the writer epoch of the lease.
func (l *Lease) Epoch() uint64 { return l.epoch }

// Catalog returns the catalog version that recorded the claim.
func (l *Lease) Catalog() *manifest.Catalog { return l.catalog }

// Continuous reports whether this data dir held the lease last, so that
// the rows in its buffer are ones this warehouse's writer acknowledged and
// still has to flush. When false, any rows in the buffer belong to an
// earlier holding that another node took over since (they were given up)
// and must not be flushed.
func (l *Lease) Continuous() bool { return l.continuous }

// Previous returns the record found when the lease was claimed, nil if
// there was none.
func (l *Lease) Previous() *Record { return l.previous }

// Record returns a copy of the lease record as last written by this node.
func (l *Lease) Record() Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.rec
}

// Timings derived from the duration.
func (l *Lease) renewEvery() time.Duration   { return l.opts.Duration / 3 }
func (l *Lease) commitMargin() time.Duration { return l.opts.Duration / 4 }
func (l *Lease) retryPause() time.Duration   { return max(l.opts.Duration/10, 10*time.Millisecond) }

// check returns nil if the lease is valid with at least margin left, and
// otherwise the error a client gets: FENCED, or UNAVAILABLE (released;
// lapsed, or too little left). It also returns the time left.
func (l *Lease) check(margin time.Duration) (time.Duration, error) {
	now := l.opts.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	left := l.mu.validUntil.Sub(now)
	switch l.mu.state {
	case stateFenced:
		return 0, l.fencedErrLocked()
	case stateReleased:
		return 0, dberr.Wrap(dberr.Unavailable, errReleased,
			"this node is stopping and released the warehouse's writer lease; send writes to the node that takes over")
	}
	if left > margin {
		return left, nil
	}
	if left <= 0 && !l.mu.lapsed {
		l.mu.lapsed = true
		l.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "writer lease lapsed: it could not be renewed in time; writes are refused until a renewal succeeds",
			slog.Uint64("writer_epoch", l.epoch), slog.Duration("lease_duration", l.opts.Duration))
	}
	return left, dberr.Wrap(dberr.Unavailable, errLapsed,
		"this node could not renew its writer lease in time (see its log); it takes writes again once a renewal succeeds. Retry shortly")
}

var (
	errReleased = errors.New("lease: released")
	errLapsed   = errors.New("lease: lapsed")
)

func (l *Lease) fencedErrLocked() error {
	return dberr.Wrap(dberr.Fenced, fmt.Errorf("%w: writer epoch %d: %s", manifest.ErrFenced, l.epoch, l.mu.fencedBy),
		"this node no longer holds the warehouse's writer lease (%s); it takes no more writes. Send writes to the current node", l.mu.fencedBy)
}

// Admit returns nil if a write may be made now, FENCED if another node
// took over, and UNAVAILABLE if the lease is released or lapsed; a lapsed
// lease is renewed first if possible (one attempt, bounded). Call it
// before a write.
func (l *Lease) Admit(ctx context.Context) error {
	if _, err := l.check(0); !errors.Is(err, errLapsed) {
		return err
	}
	l.renewLapsed(ctx)
	_, err := l.check(0)
	return err
}

// Held reports whether the lease is provably valid now by this process's
// monotonic clock, without renewing it: while it is, no other node can
// commit to the warehouse's partitions.
func (l *Lease) Held() bool {
	_, err := l.check(0)
	return err == nil
}

// Confirm is Admit for the moment a durable write is about to be
// acknowledged. Its UNAVAILABLE error says that the write may still take
// effect: it is in this node's buffer and is flushed if this node renews
// its lease; it is given up if another node takes the warehouse over.
// FENCED means it never takes effect.
func (l *Lease) Confirm(ctx context.Context) error {
	err := l.Admit(ctx)
	if errors.Is(err, errLapsed) {
		return dberr.Wrap(dberr.Unavailable, err, "the write reached this node's buffer, but the node could not confirm its writer lease "+
			"before acknowledging it: it takes effect if the node renews the lease, and not if another node takes the warehouse over. "+
			"Check whether it took effect before retrying")
	}
	return err
}

// Hold returns a context for one manifest commit: it ends when the lease
// can no longer be proven valid. It fails (as Admit) unless at least a
// quarter of the lease duration is left, after one attempt to renew.
func (l *Lease) Hold(ctx context.Context) (context.Context, context.CancelFunc, error) {
	left, err := l.check(l.commitMargin())
	if errors.Is(err, errLapsed) {
		l.renewLapsed(ctx)
		left, err = l.check(l.commitMargin())
	}
	if err != nil {
		return nil, nil, err
	}
	c, cancel := context.WithTimeout(ctx, left)
	return c, cancel, nil
}

// Lost records that a commit found the warehouse fenced by a newer writer
// epoch (manifest.ErrFenced): the lease is gone for good.
func (l *Lease) Lost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fenceLocked(fmt.Sprintf("a commit found a newer writer epoch: %v", err))
}

// Fenced returns the FENCED error once another node took the lease over
// (or a commit found a newer epoch), nil before.
func (l *Lease) Fenced() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.state != stateFenced {
		return nil
	}
	return l.fencedErrLocked()
}

// Taken returns a channel closed once another node took the lease over
// (or a commit found a newer epoch), when Fenced starts returning its
// error: what the node still serves that depends on being the writer
// (live queries fed by its writes) ends then.
func (l *Lease) Taken() <-chan struct{} { return l.fenced }

// Serving reports whether the node holds a valid lease, for the health
// check.
func (l *Lease) Serving() bool {
	_, err := l.check(0)
	return err == nil
}

// fenceLocked moves to stateFenced and logs it once.
func (l *Lease) fenceLocked(why string) {
	if l.mu.state == stateFenced {
		return
	}
	l.mu.state, l.mu.fencedBy = stateFenced, why
	close(l.fenced)
	l.opts.Logger.LogAttrs(context.Background(), slog.LevelError, "writer lease lost: another node took over the warehouse; this node takes no more writes",
		slog.Uint64("writer_epoch", l.epoch), slog.String("reason", why))
}

// renewLapsed makes one bounded renewal attempt for a caller that found
// the lease lapsed: it waits for a renewal under way, and tries one
// itself unless the last one failed very recently.
func (l *Lease) renewLapsed(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, l.commitMargin())
	defer cancel()
	_ = l.renew(rctx, true)
}

// Renew extends the lease by one compare-and-swap of the record. On
// success the lease is valid for the duration from the moment the request
// was sent. If another node changed the record, the lease is fenced
// (FENCED from then on). Any other failure leaves the lease as it was, to
// run out if renewals keep failing. A renewal that finds the lease renewed
// less than a third of the duration ago does nothing.
func (l *Lease) Renew(ctx context.Context) error { return l.renew(ctx, false) }

// renew is Renew; throttled skips the request if the last one was sent
// less than retryPause ago.
func (l *Lease) renew(ctx context.Context, throttled bool) error {
	if err := l.takeTurn(ctx); err != nil {
		return err
	}
	defer l.endTurn()
	left, err := l.check(0)
	if err == nil && left > l.opts.Duration-l.renewEvery() {
		return nil // renewed meanwhile
	} else if err != nil && !errors.Is(err, errLapsed) {
		return err
	}
	if throttled {
		l.mu.Lock()
		recent := l.opts.Clock().Sub(l.mu.lastTry) < l.retryPause()
		l.mu.Unlock()
		if recent {
			return err
		}
	}
	for range 2 { // a second round after adopting our own landed write
		l.mu.Lock()
		next, etag := l.mu.rec, l.mu.etag
		l.mu.Unlock()
		sent := l.opts.Clock()
		next.Renewals++
		next.RenewedAt = sent.UTC()
		l.mu.Lock()
		l.mu.lastTry = sent
		l.mu.Unlock()
		newTag, err := write(ctx, l.opts.Bucket, &next, etag)
		if err == nil {
			l.mu.Lock()
			l.mu.rec, l.mu.etag = next, newTag
			if until := sent.Add(l.opts.Duration); until.After(l.mu.validUntil) {
				l.mu.validUntil = until
			}
			if l.mu.lapsed {
				l.mu.lapsed = false
				l.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "writer lease renewed again; writes are accepted", slog.Uint64("writer_epoch", l.epoch))
			}
			l.mu.Unlock()
			return nil
		}
		if !objstore.IsConditionNotMet(err) {
			return fmt.Errorf("lease: renew: %w", err)
		}
		// Someone changed the record: another node, or an earlier renewal
		// of ours whose answer was lost.
		cur, curTag, rerr := read(ctx, l.opts.Bucket)
		if rerr != nil {
			return fmt.Errorf("lease: renew: %w", rerr)
		}
		if l.ours(cur) && !cur.Released {
			l.mu.Lock()
			l.mu.rec, l.mu.etag = *cur, curTag
			l.mu.Unlock()
			continue
		}
		l.mu.Lock()
		l.fenceLocked(describeTakeover(cur))
		err = l.fencedErrLocked()
		l.mu.Unlock()
		return err
	}
	return fmt.Errorf("lease: renew: the record keeps changing")
}

// takeTurn waits until no other request to the lease object is under way,
// or until ctx ends.
func (l *Lease) takeTurn(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lease: wait for a renewal under way: %w", ctx.Err())
	}
}

func (l *Lease) endTurn() { <-l.turn }

// ours reports whether r is this lease's record.
func (l *Lease) ours(r *Record) bool {
	return r != nil && r.Epoch == l.epoch && r.DataDirID == l.opts.Home.ID() && r.NodeID == l.opts.NodeID
}

func describeTakeover(r *Record) string {
	if r == nil {
		return "the lease record was removed"
	}
	return fmt.Sprintf("node %q took it over at epoch %d", r.NodeID, r.Epoch)
}

// Start runs the renewals in the background until Close: every third of
// the duration, and after a failure again after a tenth of it. It returns
// at once.
func (l *Lease) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
}

func (l *Lease) run(ctx context.Context) {
	failures := 0
	for {
		l.mu.Lock()
		wait := l.mu.validUntil.Add(-l.opts.Duration).Add(l.renewEvery()).Sub(l.opts.Clock())
		st := l.mu.state
		l.mu.Unlock()
		if st != stateHeld {
			return
		}
		if failures > 0 {
			wait = l.retryPause()
		}
		if wait > 0 {
			if err := l.opts.Sleep(ctx, wait); err != nil {
				return
			}
		}
		rctx, cancel := context.WithTimeout(ctx, l.opts.Duration)
		err := l.Renew(rctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			if failures == 1 || failures%10 == 0 {
				l.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "writer lease renewal failed", slog.Int("failures", failures), slog.Any("error", err))
			}
		default:
			failures = 0
		}
	}
}

// Release ends the lease cleanly, at a graceful stop after the last
// flush: from the call on the node takes no writes and makes no commits,
// and the record says that nothing of this holder remains unflushed, so
// the next node may claim it at once. Call it only when the buffer is
// empty. It does not stop the renewals (Close does).
func (l *Lease) Release(ctx context.Context) error {
	if err := l.takeTurn(ctx); err != nil {
		return fmt.Errorf("lease: release: %w", err)
	}
	defer l.endTurn()
	l.mu.Lock()
	if l.mu.state == stateFenced {
		err := l.fencedErrLocked()
		l.mu.Unlock()
		return err
	}
	l.mu.state = stateReleased
	next, etag := l.mu.rec, l.mu.etag
	l.mu.Unlock()
	now := l.opts.Clock().UTC()
	next.Renewals++
	next.Released, next.ReleasedAt = true, &now
	for range 2 {
		newTag, err := write(ctx, l.opts.Bucket, &next, etag)
		if err == nil {
			l.mu.Lock()
			l.mu.rec, l.mu.etag = next, newTag
			l.mu.Unlock()
			l.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "writer lease released", slog.Uint64("writer_epoch", l.epoch))
			return nil
		}
		if !objstore.IsConditionNotMet(err) {
			return fmt.Errorf("lease: release: %w", err)
		}
		cur, curTag, rerr := read(ctx, l.opts.Bucket)
		if rerr != nil {
			return fmt.Errorf("lease: release: %w", rerr)
		}
		if !l.ours(cur) {
			l.mu.Lock()
			l.fenceLocked(describeTakeover(cur))
			err = l.fencedErrLocked()
			l.mu.Unlock()
			return fmt.Errorf("lease: release: %w", err)
		}
		if cur.Released {
			return nil
		}
		next.Renewals = cur.Renewals + 1
		etag = curTag
	}
	return errors.New("lease: release: the record keeps changing")
}

// Close stops the renewals started by Start and waits for them. It does
// not release the lease. It is safe to call more than once, and on a
// lease that was never started.
func (l *Lease) Close() error {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
	return nil
}
