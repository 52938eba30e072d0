package sqlexec

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func (p *workers) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Sequential statements run on one reused goroutine; a burst runs every
// function and leaves at most maxIdleWorkers waiting; idle workers leave
// after idleFor, and functions handed over while they leave still run.
func TestWorkersReuseAndBound(t *testing.T) {
	p := &workers{idleFor: 20 * time.Millisecond}
	var started atomic.Int64
	p.Go(func() {})
	waitFor(t, "the first worker to go idle", func() bool { return p.idleCount() == 1 })
	first := p.idle[0]
	for range 100 {
		done := make(chan struct{})
		p.Go(func() { started.Add(1); close(done) })
		<-done
		waitFor(t, "the worker to go idle", func() bool { return p.idleCount() == 1 })
	}
	if p.idle[0] != first {
		t.Error("sequential functions did not reuse the idle worker")
	}

	var wg sync.WaitGroup
	var ran atomic.Int64
	release := make(chan struct{})
	const burst = 3 * maxIdleWorkers
	for range burst {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release; ran.Add(1) })
	}
	close(release)
	wg.Wait()
	if ran.Load() != burst {
		t.Fatalf("%d of %d functions ran", ran.Load(), burst)
	}
	waitFor(t, "the burst's workers to settle", func() bool { return p.idleCount() == maxIdleWorkers })

	// Idle workers leave; handing functions over meanwhile loses none.
	var late atomic.Int64
	deadline := time.Now().Add(200 * time.Millisecond)
	n := int64(0)
	for time.Now().Before(deadline) {
		wg.Add(1)
		n++
		p.Go(func() { defer wg.Done(); late.Add(1) })
		time.Sleep(time.Duration(n%7) * time.Millisecond)
	}
	wg.Wait()
	if late.Load() != n {
		t.Fatalf("%d of %d functions ran while workers left", late.Load(), n)
	}
	waitFor(t, "every idle worker to leave", func() bool { return p.idleCount() == 0 })
}

// waitFor polls cond for up to a minute (a hang guard, not a speed bound).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 60000 {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
