// Package admission decides which statements of a process run: a fixed
// number of query slots shared by all users, a per-user share of them, a
// short queue in front, and a memory guard that cancels the largest
// running statement before the process goes past its memory budget.
//
// Statements that need not reach the query engine (primary-key point
// reads and small INSERTs answered by the storage engine) do not take a
// query slot: they take a point permit (AdmitPoint), from a separate,
// larger limit that still bounds a flood of them.
//
// A statement is admitted by Admit and holds its slot until its Ticket is
// released — which, for a statement abandoned at its deadline, is when the
// engine has really stopped, not when the client got its answer: the slots
// count the work the process does.
//
// A Controller is safe for concurrent use.
package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by Admit when the statement cannot get a slot: the
// queue is full, the caller already waits for as many slots as it may
// hold, or the wait ran past Config.QueueWait. Nothing ran.
var ErrBusy = errors.New("admission: busy")

// ErrMemory is the cause of a statement cancelled by the memory guard.
var ErrMemory = errors.New("admission: process memory budget exceeded")

// Config sizes a Controller. The zero value of a field means its default.
type Config struct {
	// Slots is how many statements run at once. Default: 4.
	Slots int
	// PerUser is how many of them one user may hold. Default: half of
	// Slots (at least 1), so that one user never holds them all.
	PerUser int
	// Queue is how many statements may wait for a slot (0: none); one
	// user may have at most PerUser of them waiting.
	Queue int
	// QueueWait is how long a statement waits for a slot before it is
	// refused. Default: 2s.
	QueueWait time.Duration
	// MemoryBudget is the process's memory budget in bytes (resident set
	// size); 0 turns the memory guard off.
	MemoryBudget int64
	// PollInterval is how often the guard reads the process's memory.
	// Default: 20ms.
	PollInterval time.Duration
	// PointSlots is how many point statements (statements that do no
	// query engine work, see AdmitPoint) run at once; more wait up to
	// QueueWait.
	// Default: 64.
	PointSlots int
}

func (c *Config) ensureDefaults() {
	if c.Slots <= 0 {
		c.Slots = 4
	}
	if c.PerUser <= 0 {
		c.PerUser = max(1, c.Slots/2)
	}
	if c.QueueWait <= 0 {
		c.QueueWait = 2 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 20 * time.Millisecond
	}
	if c.PointSlots <= 0 {
		c.PointSlots = DefaultPointSlots
	}
}

// DefaultPointSlots is Config.PointSlots' default.
const DefaultPointSlots = 64

// Controller admits statements; see the package documentation.
type Controller struct {
	cfg Config
	log *slog.Logger
	// rss reads the process's resident set size.
	rss func() (int64, error)
	// release returns freed memory to the OS before the guard decides
	// (debug.FreeOSMemory); nil in tests.
	release func()
	now     func() time.Time

	mu struct {
		sync.Mutex
		running map[*Ticket]struct{}
		perUser map[string]int // running statements per user
		waiting []*waiter      // FIFO
		waitPer map[string]int // waiting statements per user
	}
	// points holds one token per running point read (Config.PointSlots).
	points chan struct{}
	// lastKill is when the guard last cancelled a statement (unix nanos).
	lastKill atomic.Int64
	kills    atomic.Int64
}

type waiter struct {
	user  string
	ready chan *Ticket // receives the ticket when admitted
}

// New returns a Controller. rss reads the process's resident set size
// (ReadRSS on Linux); nil turns the memory guard off. now is the clock
// (time.Now when nil).
func New(cfg Config, log *slog.Logger, rss func() (int64, error), now func() time.Time) *Controller {
	cfg.ensureDefaults()
	if now == nil {
		now = time.Now
	}
	c := &Controller{cfg: cfg, log: log, rss: rss, now: now, points: make(chan struct{}, cfg.PointSlots)}
	if rss != nil {
		c.release = debug.FreeOSMemory
	}
	c.mu.running = map[*Ticket]struct{}{}
	c.mu.perUser = map[string]int{}
	c.mu.waitPer = map[string]int{}
	return c
}

// Config returns the controller's configuration with defaults filled in.
func (c *Controller) Config() Config { return c.cfg }

// Ticket is one admitted statement. Release it exactly once when the
// statement has stopped.
type Ticket struct {
	c       *Controller
	user    string
	started time.Time
	built   atomic.Int64 // bytes the statement's checked functions built
	result  atomic.Int64 // bytes of result read
	cancel  atomic.Pointer[context.CancelCauseFunc]
	once    sync.Once
}

// Admit takes a slot for a statement of user, waiting in the queue up to
// Config.QueueWait. It returns an error wrapping ErrBusy when it cannot,
// or ctx's error when ctx ends first.
func (c *Controller) Admit(ctx context.Context, user string) (*Ticket, error) {
	c.mu.Lock()
	// Waiters never fit (a release admits every waiter that does), so a
	// statement that fits takes its slot at once: another user's queued
	// statements do not hold it back.
	if c.fits(user) {
		t := c.startLocked(user)
		c.mu.Unlock()
		return t, nil
	}
	if len(c.mu.waiting) >= c.cfg.Queue {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: all %d query slots are taken and %d statements wait; retry with backoff", ErrBusy, c.cfg.Slots, c.cfg.Queue)
	}
	if n := c.mu.waitPer[user]; n >= c.cfg.PerUser {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %d of your statements already wait for a query slot (query.max_concurrent_per_user is %d); wait for your running statements to finish", ErrBusy, n, c.cfg.PerUser)
	}
	w := &waiter{user: user, ready: make(chan *Ticket, 1)}
	c.mu.waiting = append(c.mu.waiting, w)
	c.mu.waitPer[user]++
	c.mu.Unlock()

	timer := time.NewTimer(c.cfg.QueueWait)
	defer timer.Stop()
	var cause error
	select {
	case t := <-w.ready:
		return t, nil
	case <-timer.C:
		cause = fmt.Errorf("%w: waited %s for a query slot (query.max_concurrent %d, query.max_concurrent_per_user %d); retry with backoff",
			ErrBusy, c.cfg.QueueWait, c.cfg.Slots, c.cfg.PerUser)
	case <-ctx.Done():
		cause = ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := indexOf(c.mu.waiting, w); i >= 0 {
		c.mu.waiting = append(c.mu.waiting[:i], c.mu.waiting[i+1:]...)
		c.mu.waitPer[user]--
		return nil, cause
	}
	// Admitted while timing out: give the slot back.
	t := <-w.ready
	c.releaseLocked(t)
	return nil, cause
}

// AdmitPoint takes a point permit for a statement that does no query
// engine work (no DuckDB session, no memory the guard measures), waiting
// up to Config.QueueWait for one of Config.PointSlots. It does not take a
// query slot, so point reads are not queued behind analytical statements
// and do not count against a user's query slots. It returns release,
// which frees the permit (only its first call counts), or an error
// wrapping ErrBusy, or ctx's error when ctx ends first. A statement that
// turns out to need the engine must also Admit before it uses it.
func (c *Controller) AdmitPoint(ctx context.Context) (release func(), err error) {
	select {
	case c.points <- struct{}{}:
	default:
		timer := time.NewTimer(c.cfg.QueueWait)
		defer timer.Stop()
		select {
		case c.points <- struct{}{}:
		case <-timer.C:
			return nil, fmt.Errorf("%w: waited %s for one of %d point permits; retry with backoff", ErrBusy, c.cfg.QueueWait, c.cfg.PointSlots)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-c.points }) }, nil
}

// PointsRunning returns how many point permits are taken.
func (c *Controller) PointsRunning() int { return len(c.points) }

func indexOf(ws []*waiter, w *waiter) int {
	for i, x := range ws {
		if x == w {
			return i
		}
	}
	return -1
}

// fits reports whether a statement of user may start now.
func (c *Controller) fits(user string) bool {
	return len(c.mu.running) < c.cfg.Slots && c.mu.perUser[user] < c.cfg.PerUser
}

func (c *Controller) startLocked(user string) *Ticket {
	t := &Ticket{c: c, user: user, started: c.now()}
	c.mu.running[t] = struct{}{}
	c.mu.perUser[user]++
	return t
}

// releaseLocked frees t's slot and admits the first waiters that fit.
func (c *Controller) releaseLocked(t *Ticket) {
	if _, ok := c.mu.running[t]; !ok {
		return
	}
	delete(c.mu.running, t)
	if c.mu.perUser[t.user]--; c.mu.perUser[t.user] == 0 {
		delete(c.mu.perUser, t.user)
	}
	for i := 0; i < len(c.mu.waiting); {
		w := c.mu.waiting[i]
		if !c.fits(w.user) {
			i++
			continue
		}
		c.mu.waiting = append(c.mu.waiting[:i], c.mu.waiting[i+1:]...)
		if c.mu.waitPer[w.user]--; c.mu.waitPer[w.user] == 0 {
			delete(c.mu.waitPer, w.user)
		}
		w.ready <- c.startLocked(w.user)
	}
}

// Running returns how many statements hold a slot.
func (c *Controller) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.running)
}

// Kills returns how many statements the memory guard has cancelled.
func (c *Controller) Kills() int64 { return c.kills.Load() }

// Release frees the ticket's slot. Only the first call counts.
func (t *Ticket) Release() {
	t.once.Do(func() {
		t.c.mu.Lock()
		defer t.c.mu.Unlock()
		t.c.releaseLocked(t)
	})
}

// SetCancel gives the memory guard the way to stop the statement.
func (t *Ticket) SetCancel(cancel context.CancelCauseFunc) { t.cancel.Store(&cancel) }

// Built adds n bytes built by the statement's checked functions.
func (t *Ticket) Built(n int64) { t.built.Add(n) }

// ResultBytes adds n bytes of result read.
func (t *Ticket) ResultBytes(n int64) { t.result.Add(n) }

// size is the guard's measure of the statement.
func (t *Ticket) size() int64 { return t.built.Load() + t.result.Load() }

// Run is the memory guard: until ctx ends, it reads the process's memory
// every PollInterval and, when it is above the budget, cancels the
// largest running statement (by bytes built and read; the oldest among
// equals) with cause ErrMemory, then waits for the memory to fall (at
// most a second) before it cancels another. It returns when ctx ends; it
// does nothing without a budget or an rss reader.
func (c *Controller) Run(ctx context.Context) {
	if c.cfg.MemoryBudget <= 0 || c.rss == nil {
		return
	}
	tick := time.NewTicker(c.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.Check(ctx)
	}
}

// Check runs one round of the memory guard and reports whether it
// cancelled a statement.
func (c *Controller) Check(ctx context.Context) bool {
	if c.rss == nil || c.cfg.MemoryBudget <= 0 {
		return false
	}
	rss, err := c.rss()
	if err != nil || rss <= c.cfg.MemoryBudget {
		return false
	}
	if since := c.now().UnixNano() - c.lastKill.Load(); since < int64(time.Second) {
		return false
	}
	// Memory freed but not yet returned to the OS is not a reason to
	// stop anyone: return the Go heap's first and read again.
	if c.release != nil {
		c.release()
		if rss, err = c.rss(); err != nil || rss <= c.cfg.MemoryBudget {
			return false
		}
	}
	victim := c.largest()
	if victim == nil {
		return false
	}
	cancel := victim.cancel.Load()
	if cancel == nil {
		return false
	}
	c.lastKill.Store(c.now().UnixNano())
	c.kills.Add(1)
	c.log.LogAttrs(ctx, slog.LevelWarn, "memory guard cancels a statement",
		slog.Int64("rss_bytes", rss), slog.Int64("budget_bytes", c.cfg.MemoryBudget),
		slog.String("user", victim.user), slog.Int64("statement_bytes", victim.size()),
		slog.Duration("running", c.now().Sub(victim.started)))
	(*cancel)(ErrMemory)
	return true
}

// largest returns the running statement the guard stops first.
func (c *Controller) largest() *Ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *Ticket
	for t := range c.mu.running {
		if t.cancel.Load() == nil {
			continue
		}
		if best == nil || t.size() > best.size() || (t.size() == best.size() && t.started.Before(best.started)) {
			best = t
		}
	}
	return best
}
