package api

import (
	"testing"
	"time"
)

func TestLoginLimiterPerAddress(t *testing.T) {
	l := newLoginLimiter(1, 3)
	now := time.Unix(1_000_000, 0)
	for i := range 3 {
		if !l.allow("10.0.0.1:5000", now) {
			t.Fatalf("attempt %d within the burst refused", i+1)
		}
	}
	if l.allow("10.0.0.1:6000", now) {
		t.Fatal("a 4th attempt at once from the same host (another port) was allowed")
	}
	if !l.allow("10.0.0.2:5000", now) {
		t.Fatal("another address was limited by the first one's attempts")
	}
	if !l.allow("10.0.0.1:5000", now.Add(1100*time.Millisecond)) {
		t.Fatal("no attempt allowed after the rate refilled one token")
	}
	// Idle clients are forgotten.
	later := now.Add(limiterIdle + time.Minute)
	l.allow("10.0.0.3:1", later)
	if _, ok := l.clients["10.0.0.1"]; ok {
		t.Fatal("an idle client's limiter was kept")
	}
}
