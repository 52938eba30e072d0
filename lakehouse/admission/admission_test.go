package admission

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustAdmit(t *testing.T, c *Controller, user string) *Ticket {
	t.Helper()
	tk, err := c.Admit(context.Background(), user)
	if err != nil {
		t.Fatalf("admit %s: %v", user, err)
	}
	return tk
}

// One user cannot take every slot: beyond its share it waits, and other
// users still get the free slots at once.
func TestPerUserShare(t *testing.T) {
	c := New(Config{Slots: 4, PerUser: 2, Queue: 8, QueueWait: 50 * time.Millisecond}, quiet(), nil, nil)
	a1, a2 := mustAdmit(t, c, "alice"), mustAdmit(t, c, "alice")
	if _, err := c.Admit(context.Background(), "alice"); !errors.Is(err, ErrBusy) {
		t.Fatalf("alice's third statement: %v, want ErrBusy after the wait", err)
	}
	// alice's waiting statement does not hold bob back.
	waiting := make(chan error)
	go func() {
		_, err := c.Admit(context.Background(), "alice")
		waiting <- err
	}()
	for {
		c.mu.Lock()
		n := len(c.mu.waiting)
		c.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b1, b2 := mustAdmit(t, c, "bob"), mustAdmit(t, c, "bob")
	if err := <-waiting; !errors.Is(err, ErrBusy) {
		t.Fatalf("alice's waiting statement: %v", err)
	}
	if c.Running() != 4 {
		t.Fatalf("running %d, want 4", c.Running())
	}
	for _, tk := range []*Ticket{a1, a2, b1, b2} {
		tk.Release()
		tk.Release() // idempotent
	}
	if c.Running() != 0 {
		t.Fatalf("running %d after release", c.Running())
	}
}

// A waiting statement gets the first slot that frees, in order; a full
// queue refuses at once.
func TestQueue(t *testing.T) {
	c := New(Config{Slots: 1, PerUser: 1, Queue: 1, QueueWait: 10 * time.Second}, quiet(), nil, nil)
	first := mustAdmit(t, c, "alice")
	got := make(chan *Ticket)
	go func() {
		tk, err := c.Admit(context.Background(), "bob")
		if err != nil {
			t.Error(err)
		}
		got <- tk
	}()
	for {
		c.mu.Lock()
		n := len(c.mu.waiting)
		c.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Admit(context.Background(), "carol"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a statement beyond the queue: %v, want ErrBusy at once", err)
	}
	first.Release()
	second := <-got
	if c.Running() != 1 {
		t.Fatalf("running %d", c.Running())
	}
	second.Release()
}

// A caller whose context ends while it waits leaves the queue.
func TestWaitCancelled(t *testing.T) {
	c := New(Config{Slots: 1, PerUser: 1, Queue: 4, QueueWait: time.Minute}, quiet(), nil, nil)
	held := mustAdmit(t, c, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Admit(ctx, "bob"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	held.Release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.waiting) != 0 || len(c.mu.running) != 0 {
		t.Fatalf("left %d waiting, %d running", len(c.mu.waiting), len(c.mu.running))
	}
}

// Above the budget the guard cancels the statement that built and read
// the most, once, then waits for memory to fall before the next.
func TestMemoryGuardPicksTheLargest(t *testing.T) {
	var rss atomic.Int64
	now := time.Unix(1_000, 0)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	c := New(Config{Slots: 4, PerUser: 4, MemoryBudget: 1 << 30}, quiet(),
		func() (int64, error) { return rss.Load(), nil }, func() time.Time { return *clock.Load() })
	var cancelled [3]error
	tickets := make([]*Ticket, 3)
	for i := range tickets {
		tickets[i] = mustAdmit(t, c, "u")
		tickets[i].SetCancel(func(cause error) { cancelled[i] = cause })
	}
	tickets[0].Built(10 << 20)
	tickets[1].ResultBytes(50 << 20)
	tickets[2].Built(20 << 20)

	rss.Store(900 << 20)
	if c.Check(context.Background()) {
		t.Fatal("cancelled below the budget")
	}
	rss.Store(2 << 30)
	if !c.Check(context.Background()) || !errors.Is(cancelled[1], ErrMemory) || cancelled[0] != nil || cancelled[2] != nil {
		t.Fatalf("cancelled %v, want only the statement with 50 MiB", cancelled)
	}
	if c.Check(context.Background()) {
		t.Fatal("a second statement was cancelled before memory could fall")
	}
	later := now.Add(2 * time.Second)
	clock.Store(&later)
	tickets[1].Release()
	if !c.Check(context.Background()) || !errors.Is(cancelled[2], ErrMemory) {
		t.Fatalf("cancelled %v, want the 20 MiB statement next", cancelled)
	}
	if c.Kills() != 2 {
		t.Fatalf("kills %d", c.Kills())
	}
}

func TestReadRSS(t *testing.T) {
	n, err := ReadRSS()
	if err != nil {
		t.Skip(err) // not Linux
	}
	if n < 1<<20 {
		t.Fatalf("rss %d bytes", n)
	}
}

// Point reads take permits of their own: they run while every query slot
// is taken, up to PointSlots at once; one more waits for a permit and is
// refused after QueueWait; a released permit admits the next.
func TestPointPermits(t *testing.T) {
	c := New(Config{Slots: 1, PerUser: 1, QueueWait: 30 * time.Millisecond, PointSlots: 3}, quiet(), nil, nil)
	slot := mustAdmit(t, c, "alice")
	defer slot.Release()
	if _, err := c.Admit(context.Background(), "bob"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second query slot: %v, want ErrBusy", err)
	}
	var releases []func()
	for i := range 3 {
		r, err := c.AdmitPoint(context.Background())
		if err != nil {
			t.Fatalf("point read %d with every query slot taken: %v", i, err)
		}
		releases = append(releases, r)
	}
	if got := c.PointsRunning(); got != 3 || c.Running() != 1 {
		t.Fatalf("PointsRunning %d, Running %d; want 3 and 1", got, c.Running())
	}
	if _, err := c.AdmitPoint(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("fourth point read: %v, want ErrBusy after QueueWait", err)
	}
	releases[0]()
	releases[0]() // only the first call counts
	if got := c.PointsRunning(); got != 2 {
		t.Fatalf("PointsRunning after one release (twice): %d, want 2", got)
	}
	r, err := c.AdmitPoint(context.Background())
	if err != nil {
		t.Fatalf("point read after a release: %v", err)
	}
	r()
	ctx, cancel := context.WithCancel(context.Background())
	r, err = c.AdmitPoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := c.AdmitPoint(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("point read with a cancelled context: %v, want context.Canceled", err)
	}
	r()
}
