package sqlexec

import (
	"sync"
	"time"
)

// Worker pool bounds: at most maxIdleWorkers wait for a statement, each
// for at most workerIdle.
const (
	maxIdleWorkers = 16
	workerIdle     = 10 * time.Second
)

// workers run read-only statements (see bounded) on goroutines that
// outlive them. A statement run on a fresh goroutine grows that
// goroutine's stack, copying it several times, on its way down the
// catalog's and Pebble's deep call chains: about a tenth of the CPU of a
// point read served over the API. An idle worker keeps the stack it grew
// (until a garbage collection finds it mostly unused and shrinks it).
//
// A nil *workers starts a goroutine per call. Safe for concurrent use.
type workers struct {
	// idleFor is how long a worker waits idle. Default (0): workerIdle.
	idleFor time.Duration

	mu   sync.Mutex
	idle []*worker // LIFO: the most recently used has the warmest stack
}

// worker is one goroutine; it receives the next function on c.
type worker struct{ c chan func() }

// Go runs f on an idle worker or on a new goroutine; it does not wait
// for f.
func (p *workers) Go(f func()) {
	if p == nil {
		go f()
		return
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.c <- f // buffered: the worker owes this send a receive
		return
	}
	p.mu.Unlock()
	w := &worker{c: make(chan func(), 1)}
	go p.loop(w, f)
}

// loop runs f, then waits as an idle worker for the next function, until
// there is no room among the idle workers or it waited workerIdle.
func (p *workers) loop(w *worker, f func()) {
	idleFor := p.idleFor
	if idleFor <= 0 {
		idleFor = workerIdle
	}
	timer := time.NewTimer(idleFor)
	defer timer.Stop()
	for {
		f()
		p.mu.Lock()
		if len(p.idle) >= maxIdleWorkers {
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		timer.Reset(idleFor)
		select {
		case f = <-w.c:
			continue
		case <-timer.C:
		}
		p.mu.Lock()
		for i, x := range p.idle {
			if x == w {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				p.mu.Unlock()
				return
			}
		}
		// Go took w off the idle list before it could withdraw: the
		// function is on its way.
		p.mu.Unlock()
		f = <-w.c
	}
}
