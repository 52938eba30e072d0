package auth

import (
	"net"
	"sync"
	"time"
)

// throttle slows password guessing per (user name, client address) with
// exponential backoff: the first free failed logins of a pair cost
// nothing; each further failure makes the pair wait base·2^k (at most
// max) before its next attempt is even checked. A success resets the
// pair. Failures from one address never slow another address, so a
// stranger cannot lock an account's owner out.
//
// The state is in memory, per process: a restart forgets it, and each
// node or function throttles on its own (documented in docs/API.md). It
// needs no write to the warehouse, so a read-only process checks logins
// as any other. Memory is bounded: at most maxThrottled pairs, stale
// pairs (no failure for max) are swept, and when the table is full of
// live pairs the oldest is dropped (the per-address rate limit of the API
// bounds how fast one address can fill it).
type throttle struct {
	free      int
	base, max time.Duration

	mu    sync.Mutex
	pairs map[throttleKey]*throttleState
	swept time.Time
}

type throttleKey struct{ user, host string }

type throttleState struct {
	failures int
	until    time.Time // no attempt is checked before this
	last     time.Time // last failure
}

// maxThrottled bounds the pairs a throttle remembers.
const maxThrottled = 100_000

func newThrottle(free int, base, max time.Duration) *throttle {
	return &throttle{free: free, base: base, max: max, pairs: map[throttleKey]*throttleState{}}
}

// hostOf is the address part of a client address (host:port or host): a
// client's port changes with every connection.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// wait returns when the pair may next try, and whether that is after now.
func (t *throttle) wait(user, client string, now time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.pairs[throttleKey{user, hostOf(client)}]
	if !ok || !now.Before(s.until) {
		return time.Time{}, false
	}
	return s.until, true
}

// fail records a failed login of the pair and returns when it may try
// again (zero while its failures are free).
func (t *throttle) fail(user, client string, now time.Time) time.Time {
	k := throttleKey{user, hostOf(client)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	s, ok := t.pairs[k]
	if !ok {
		if len(t.pairs) >= maxThrottled {
			t.dropOldest()
		}
		s = &throttleState{}
		t.pairs[k] = s
	}
	if now.Sub(s.last) > t.max {
		s.failures = 0 // quiet for the longest backoff: start over
	}
	s.failures++
	s.last = now
	if over := s.failures - t.free + 1; over > 0 { // the free-th failure starts it
		d := t.base
		for i := 1; i < over && d < t.max; i++ {
			d *= 2
		}
		s.until = now.Add(min(d, t.max))
	}
	return s.until
}

// succeed forgets the pair's failures.
func (t *throttle) succeed(user, client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pairs, throttleKey{user, hostOf(client)})
}

// sweep drops pairs with no failure for the longest backoff (at most once
// per max). Called with mu held.
func (t *throttle) sweep(now time.Time) {
	if now.Sub(t.swept) < t.max {
		return
	}
	for k, s := range t.pairs {
		if now.Sub(s.last) > t.max {
			delete(t.pairs, k)
		}
	}
	t.swept = now
}

// dropOldest drops the pair whose last failure is oldest. Called with mu
// held.
func (t *throttle) dropOldest() {
	var oldest throttleKey
	var at time.Time
	first := true
	for k, s := range t.pairs {
		if first || s.last.Before(at) {
			oldest, at, first = k, s.last, false
		}
	}
	delete(t.pairs, oldest)
}
