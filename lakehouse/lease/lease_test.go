package lease

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// fakeClock is the injected clock: it moves only when told, or when a
// lease sleeps on it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
	// onSleep, if set, runs at every Sleep before the clock moves.
	onSleep func(d time.Duration)
	slept   time.Duration
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.slept += d
	c.mu.Unlock()
	return ctx.Err()
}

// home is a data dir as the lease sees it.
type home struct {
	id     string
	mu     sync.Mutex
	epochs []uint64
}

func (h *home) ID() string   { return h.id }
func (h *home) Path() string { return "/data/" + h.id }
func (h *home) Claim(e uint64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.epochs = append(h.epochs, e)
	return nil
}

func (h *home) Held(e uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, x := range h.epochs {
		if x == e {
			return true
		}
	}
	return false
}

// world is one warehouse (a bucket that can fail on demand) and a clock.
type world struct {
	t      *testing.T
	bucket *objstore.Faulty
	clock  *fakeClock
}

const (
	testDuration = 10 * time.Second
	testGrace    = 2 * time.Second
)

func newWorld(t *testing.T) *world {
	return &world{t: t, bucket: objstore.NewFaulty(objstore.NewMem()), clock: newClock()}
}

func (w *world) options(node string, h Home) Options {
	return Options{
		Bucket:  w.bucket,
		Catalog: manifest.NewCatalogLog(w.bucket, manifest.LogOptions{NodeID: node, Clock: w.clock.Now, HeadTTL: -1}),
		NodeID:  node, Home: h, WarehouseID: "WH1",
		Duration: testDuration, RequestGrace: testGrace,
		Clock: w.clock.Now, Sleep: w.clock.Sleep,
	}
}

func (w *world) acquire(node string, h Home) *Lease {
	w.t.Helper()
	l, err := Acquire(context.Background(), w.options(node, h))
	if err != nil {
		w.t.Fatalf("Acquire(%s): %v", node, err)
	}
	return l
}

// failLeaseWrites makes every write of the lease object fail (the object
// store is down for it) until the returned function is called.
func (w *world) failLeaseWrites() (restore func()) {
	w.bucket.SetHook(func(_ context.Context, op, key string) error {
		if op == objstore.OpPut && key == Key {
			return errors.New("injected: object store unreachable")
		}
		return nil
	})
	return func() { w.bucket.SetHook(nil) }
}

func codeOf(err error) dberr.Code { return dberr.CodeOf(err) }

func TestAcquireNewWarehouse(t *testing.T) {
	w := newWorld(t)
	l := w.acquire("a", &home{id: "A"})
	if l.Epoch() != 1 || l.Continuous() || l.Previous() != nil {
		t.Fatalf("epoch %d continuous %v previous %v", l.Epoch(), l.Continuous(), l.Previous())
	}
	c := l.Catalog()
	if c.WriterEpoch != 1 || c.Writer.NodeID != "a" || c.WarehouseID != "WH1" {
		t.Fatalf("catalog: %+v", c)
	}
	rec, _, err := read(context.Background(), w.bucket)
	if err != nil || rec.NodeID != "a" || rec.DataDirID != "A" || rec.Epoch != 1 || rec.Released || rec.Duration() != testDuration {
		t.Fatalf("record %+v, %v", rec, err)
	}
	if err := l.Admit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The holder trusts its lease for the duration after a renewal, by its
// own clock; renewals that fail let it lapse (UNAVAILABLE, not serving),
// and one that succeeds later brings it back.
func TestValidityFollowsTheClock(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	l := w.acquire("a", &home{id: "A"})
	restore := w.failLeaseWrites()

	w.clock.Advance(testDuration - time.Millisecond)
	if err := l.Admit(ctx); err != nil {
		t.Fatalf("Admit just before the end: %v", err)
	}
	if _, _, err := l.Hold(ctx); codeOf(err) != dberr.Unavailable {
		t.Fatalf("Hold with less than a quarter left: %v", err)
	}
	w.clock.Advance(time.Millisecond)
	if err := l.Admit(ctx); codeOf(err) != dberr.Unavailable || !strings.Contains(err.Error(), "could not renew") {
		t.Fatalf("Admit after the end, renewals failing: %v", err)
	}
	if err := l.Confirm(ctx); codeOf(err) != dberr.Unavailable || !strings.Contains(err.Error(), "takes effect if the node renews") {
		t.Fatalf("Confirm after the end: %v", err)
	}
	if l.Serving() {
		t.Fatal("serving with a lapsed lease")
	}

	restore()
	w.clock.Advance(time.Second)
	if err := l.Admit(ctx); err != nil {
		t.Fatalf("Admit once the object store answers again: %v", err)
	}
	if !l.Serving() {
		t.Fatal("not serving after a renewal")
	}
	hctx, cancel, err := l.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if dl, ok := hctx.Deadline(); !ok || time.Until(dl) > testDuration {
		t.Fatalf("Hold's deadline %v is not within the lease", dl)
	}
}

// A live lease is never taken: without take-over the newcomer is told who
// holds it; with take-over it watches, sees the holder renew, and refuses.
func TestLiveLeaseIsNeverTaken(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.acquire("a", &home{id: "A"})

	_, err := Acquire(ctx, w.options("b", &home{id: "B"}))
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), `node "a"`) || !strings.Contains(err.Error(), "valid until") {
		t.Fatalf("Acquire of a live lease: %v", err)
	}
	w.clock.onSleep = func(time.Duration) {
		if err := a.Renew(ctx); err != nil {
			t.Errorf("A's renewal: %v", err)
		}
	}
	opts := w.options("b", &home{id: "B"})
	opts.TakeOver = true
	_, err = Acquire(ctx, opts)
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "it is alive") {
		t.Fatalf("take-over of a live lease: %v", err)
	}
	if err := a.Admit(ctx); err != nil {
		t.Fatalf("A after B's attempts: %v", err)
	}
}

// A lease that expired without being released needs the take-over flag;
// the newcomer then waits TakeoverWait, claims a higher epoch, and the old
// holder, back, finds itself fenced.
func TestExpiredLeaseNeedsTakeOver(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.acquire("a", &home{id: "A"})
	w.clock.Advance(testDuration + time.Second) // A is stopped: no renewals

	_, err := Acquire(ctx, w.options("b", &home{id: "B"}))
	for _, want := range []string{`node "a"`, "expired at", "without being released", `Restart node "a" on its data dir`, "--lease.take_over=true"} {
		if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Acquire without take-over: %v (want %q)", err, want)
		}
	}

	opts := w.options("b", &home{id: "B"})
	opts.TakeOver = true
	w.clock.slept = 0
	b, err := Acquire(ctx, opts)
	if err != nil {
		t.Fatalf("take-over: %v", err)
	}
	if w.clock.slept < TakeoverWait(testDuration, testGrace) {
		t.Fatalf("took over after watching %v, want at least %v", w.clock.slept, TakeoverWait(testDuration, testGrace))
	}
	if b.Epoch() != 2 || b.Continuous() || b.Previous() == nil || b.Previous().NodeID != "a" {
		t.Fatalf("B: epoch %d continuous %v previous %+v", b.Epoch(), b.Continuous(), b.Previous())
	}

	// A resumes (SIGCONT): its next write finds out and is refused.
	if a.Fenced() != nil {
		t.Fatal("A knows it is fenced before it looked")
	}
	select {
	case <-a.Taken():
		t.Fatal("A's Taken is closed before it looked")
	default:
	}
	err = a.Admit(ctx)
	if codeOf(err) != dberr.Fenced || !errors.Is(err, manifest.ErrFenced) || !strings.Contains(err.Error(), `node "b" took it over at epoch 2`) {
		t.Fatalf("A after the take-over: %v", err)
	}
	if a.Serving() || codeOf(a.Fenced()) != dberr.Fenced {
		t.Fatalf("fenced A: serving %v, Fenced() = %v", a.Serving(), a.Fenced())
	}
	select {
	case <-a.Taken():
	default:
		t.Fatal("fenced A's Taken is not closed")
	}
	a.Lost(manifest.ErrFenced) // a second loss closes nothing twice
	select {
	case <-b.Taken():
		t.Fatal("B's Taken is closed")
	default:
	}
	if _, _, err := a.Hold(ctx); codeOf(err) != dberr.Fenced {
		t.Fatalf("A's Hold: %v", err)
	}
	// Its catalog commits are fenced too, by the epoch B committed.
	_, err = a.opts.Catalog.Commit(ctx, func(c *manifest.Catalog) (*manifest.Catalog, error) { return c, nil }, manifest.CommitOptions{WriterEpoch: a.Epoch()})
	if !errors.Is(err, manifest.ErrFenced) {
		t.Fatalf("A's catalog commit: %v", err)
	}
	if err := b.Admit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A holder that was away past its lease but whom nobody took over renews
// it again and carries on.
func TestHolderResumesWhenNobodyTookOver(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.acquire("a", &home{id: "A"})
	w.clock.Advance(3 * testDuration)
	if err := a.Admit(ctx); err != nil {
		t.Fatalf("A after a long stop, nobody took over: %v", err)
	}
	if rec := a.Record(); rec.Renewals != 1 {
		t.Fatalf("renewals = %d", rec.Renewals)
	}
}

// A released lease is taken at once, without waiting or take-over; the
// releasing node takes no writes after releasing.
func TestReleasedLeaseIsTakenAtOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.acquire("a", &home{id: "A"})
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(ctx); codeOf(err) != dberr.Unavailable {
		t.Fatalf("Admit after Release: %v", err)
	}
	w.clock.onSleep = func(time.Duration) { t.Error("waited to take a released lease") }
	b := w.acquire("b", &home{id: "B"})
	if b.Epoch() != 2 || b.Continuous() {
		t.Fatalf("B: epoch %d continuous %v", b.Epoch(), b.Continuous())
	}
}

// The same data dir claims its own lease back at once, even a live one
// (its lock proves the old process is gone), and its buffer continues. A
// copy of the data dir (same id, other claims) does not.
func TestSameDataDirReclaims(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h := &home{id: "A"}
	old := w.acquire("a", h)
	again := w.acquire("a", h)
	if again.Epoch() != 2 || !again.Continuous() {
		t.Fatalf("restart: epoch %d continuous %v", again.Epoch(), again.Continuous())
	}
	w.clock.Advance(testDuration / 2)
	if err := old.Renew(ctx); codeOf(err) != dberr.Fenced {
		t.Fatalf("the old process's renewal: %v", err)
	}
	copied := &home{id: "A", epochs: []uint64{1}}
	if _, err := Acquire(ctx, w.options("a", copied)); !errors.Is(err, ErrHeld) {
		t.Fatalf("a copy of the data dir: %v", err)
	}
}

// A renewal stuck in the object store does not hold writes up: a write
// that finds the lease lapsed waits for it only for a bounded time, then
// gets UNAVAILABLE.
func TestStuckRenewalDoesNotBlockWrites(t *testing.T) {
	w := newWorld(t)
	opts := w.options("a", &home{id: "A"})
	opts.Duration = 200 * time.Millisecond
	l, err := Acquire(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	var once sync.Once
	w.bucket.SetHook(func(ctx context.Context, op, key string) error {
		if op == objstore.OpPut && key == Key {
			once.Do(func() { close(entered) })
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	w.clock.Advance(time.Second)
	stuck, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Renew(stuck) }()
	defer func() { cancel(); <-done }()
	<-entered // the stuck renewal has the turn
	if err := l.Admit(context.Background()); codeOf(err) != dberr.Unavailable {
		t.Fatalf("Admit while a renewal is stuck: %v", err)
	}
}

// A renewal whose answer was lost but which landed is recognised as ours.
func TestLostRenewalAnswerIsAdopted(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.acquire("a", &home{id: "A"})
	w.clock.Advance(testDuration / 2)
	w.bucket.FailNextAfter(objstore.OpPut, 1, nil)
	if err := a.Renew(ctx); err == nil {
		t.Fatal("the renewal with a lost answer succeeded")
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("the next renewal: %v", err)
	}
	if err := a.Admit(ctx); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := read(ctx, w.bucket)
	if rec.Renewals != 2 || rec.Epoch != 1 {
		t.Fatalf("record %+v", rec)
	}
}

// Lost (a partition commit found a newer epoch) fences at once.
func TestLostFences(t *testing.T) {
	w := newWorld(t)
	a := w.acquire("a", &home{id: "A"})
	a.Lost(manifest.ErrFenced)
	if err := a.Admit(context.Background()); codeOf(err) != dberr.Fenced {
		t.Fatalf("Admit after Lost: %v", err)
	}
	if err := a.Release(context.Background()); codeOf(err) != dberr.Fenced {
		t.Fatalf("Release after Lost: %v", err)
	}
}

// Two newcomers at once: one claims, the other is told who holds it.
func TestConcurrentClaims(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := string(rune('A' + i))
			_, errs[i] = Acquire(ctx, w.options("n"+id, &home{id: id}))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrHeld):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims succeeded", won)
	}
}

func TestTakeoverWaitBound(t *testing.T) {
	// (1+ρ)(D/(1−ρ)+G): at least D+G, and more for any drift.
	for _, tc := range []struct{ d, g time.Duration }{{10 * time.Second, 5 * time.Second}, {time.Second, 0}} {
		got := TakeoverWait(tc.d, tc.g)
		if got <= tc.d+tc.g || got > time.Duration(1.03*float64(tc.d+tc.g)) {
			t.Fatalf("TakeoverWait(%v, %v) = %v", tc.d, tc.g, got)
		}
	}
}

// Start renews in the background on the real clock, so the lease stays
// valid far past its duration; Close stops the renewals.
func TestStartRenews(t *testing.T) {
	b := objstore.NewMem()
	opts := Options{Bucket: b, Catalog: manifest.NewCatalogLog(b, manifest.LogOptions{}), NodeID: "a", Home: &home{id: "A"},
		Duration: 300 * time.Millisecond}
	l, err := Acquire(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	deadline := time.Now().Add(30 * time.Second)
	for l.Record().Renewals < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d renewals", l.Record().Renewals)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !l.Serving() {
		t.Fatal("not serving while renewing")
	}
	l.Close()
	n := l.Record().Renewals
	rec, _, err := read(context.Background(), b)
	if err != nil || rec.Renewals != n {
		t.Fatalf("after Close: record %+v, %v; lease says %d renewals", rec, err, n)
	}
	l.Close() // idempotent
}

// BenchmarkAdmit is the cost the lease adds to every write (Admit and
// Confirm each cost about this much while the lease is valid).
func BenchmarkAdmit(b *testing.B) {
	bucket := objstore.NewMem()
	l, err := Acquire(context.Background(), Options{Bucket: bucket, Catalog: manifest.NewCatalogLog(bucket, manifest.LogOptions{}),
		NodeID: "a", Home: &home{id: "A"}, Duration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Admit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
