package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelayDoublesWithinJitterAndCaps(t *testing.T) {
	lo := Policy{Min: 2 * time.Millisecond, Max: 20 * time.Millisecond, Rand: func(int64) int64 { return 0 }}
	hi := lo
	hi.Rand = func(n int64) int64 { return n - 1 }
	want := []time.Duration{2, 4, 8, 16, 20, 20}
	for i, w := range want {
		d := w * time.Millisecond
		if got := lo.Delay(i + 1); got != d/2 {
			t.Errorf("attempt %d: low end %v, want %v", i+1, got, d/2)
		}
		if got := hi.Delay(i + 1); got != d {
			t.Errorf("attempt %d: high end %v, want %v", i+1, got, d)
		}
	}
	if (Policy{}).Delay(3) != 0 {
		t.Error("zero policy pauses")
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Policy{Min: time.Hour, Max: time.Hour, Rand: func(int64) int64 { return 0 }}
	if err := p.Sleep(ctx, 1); err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
}
