// Package backoff computes jittered exponential pauses between retries,
// shared by every retry loop in Floe (manifest commits, direct writes).
package backoff

import (
	"context"
	"time"
)

// Policy is an exponential backoff with jitter: the pause after attempt n
// (1-based) is drawn uniformly from [d/2, d], where d = Min·2^(n-1) capped
// at Max. The zero Policy never pauses.
type Policy struct {
	Min, Max time.Duration
	// Rand returns a uniform random number in [0, n) for n > 0 and must be
	// safe for concurrent use (math/rand/v2.Int64N is).
	Rand func(n int64) int64
}

// Delay returns the pause after the given attempt.
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Min
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + time.Duration(p.Rand(int64(d-half)+1))
}

// Sleep waits Delay(attempt), or until ctx ends (returning its error).
func (p Policy) Sleep(ctx context.Context, attempt int) error {
	d := p.Delay(attempt)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
