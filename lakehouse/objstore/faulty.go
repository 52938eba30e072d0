package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
)

// ErrInjected is the error Faulty injects when a rule gives none.
var ErrInjected = errors.New("objstore: injected fault")

// OpAny matches every operation in Faulty rules.
const OpAny = "*"

// FaultHook decides, before each operation reaches the wrapped bucket,
// whether it fails. key is the object key, or the prefix for List. A
// non-nil error fails the operation without performing it.
type FaultHook func(ctx context.Context, op, key string) error

// Faulty wraps a Bucket and fails operations on demand, for failure and
// crash tests. Faults come from rules (FailNext, FailNextAfter) and from an
// optional hook (SetHook); the hook is consulted first.
//
// A "before" fault fails the call without touching the wrapped bucket. An
// "after" fault performs the call and then reports failure anyway: the
// write landed but the caller cannot know, as when a response is lost.
//
// Faulty is safe for concurrent use. Close closes the wrapped bucket.
type Faulty struct {
	b  Bucket
	mu struct {
		sync.Mutex
		rules []faultRule
		hook  FaultHook
	}
}

type faultRule struct {
	op    string // an Op constant or OpAny
	left  int    // calls still to fail
	err   error
	after bool
}

var _ Bucket = (*Faulty)(nil)

// NewFaulty returns b wrapped with no faults armed.
func NewFaulty(b Bucket) *Faulty { return &Faulty{b: b} }

// FailNext makes the next n calls of op (an Op constant, or OpAny) fail
// with err (ErrInjected if nil) before reaching the wrapped bucket. Rules
// are matched in the order they were added.
func (f *Faulty) FailNext(op string, n int, err error) { f.add(op, n, err, false) }

// FailNextAfter makes the next n calls of op succeed on the wrapped bucket
// and then return err (ErrInjected if nil) instead of the result. For
// List, the error is yielded after the complete listing.
func (f *Faulty) FailNextAfter(op string, n int, err error) { f.add(op, n, err, true) }

func (f *Faulty) add(op string, n int, err error, after bool) {
	if n <= 0 {
		return
	}
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	f.mu.rules = append(f.mu.rules, faultRule{op: op, left: n, err: err, after: after})
	f.mu.Unlock()
}

// SetHook installs h (nil removes it). See FaultHook.
func (f *Faulty) SetHook(h FaultHook) {
	f.mu.Lock()
	f.mu.hook = h
	f.mu.Unlock()
}

// Reset disarms every rule and removes the hook.
func (f *Faulty) Reset() {
	f.mu.Lock()
	f.mu.rules = nil
	f.mu.hook = nil
	f.mu.Unlock()
}

// fault returns the error to inject before the call, and the one to
// return after performing it.
func (f *Faulty) fault(ctx context.Context, op, key string) (before, after error) {
	f.mu.Lock()
	hook := f.mu.hook
	f.mu.Unlock()
	// The hook runs unlocked so it may block or call back into f.
	if hook != nil {
		if err := hook(ctx, op, key); err != nil {
			return f.wrap(op, key, err), nil
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.mu.rules {
		r := &f.mu.rules[i]
		if r.op != op && r.op != OpAny {
			continue
		}
		err := f.wrap(op, key, r.err)
		isAfter := r.after
		if r.left--; r.left == 0 {
			f.mu.rules = append(f.mu.rules[:i:i], f.mu.rules[i+1:]...)
		}
		if isAfter {
			return nil, err
		}
		return err, nil
	}
	return nil, nil
}

func (f *Faulty) wrap(op, key string, err error) error {
	return fmt.Errorf("objstore: faulty %s %q: %w", op, key, err)
}

// Get implements Bucket.
func (f *Faulty) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	before, after := f.fault(ctx, OpGet, key)
	if before != nil {
		return nil, Attrs{}, before
	}
	rc, a, err := f.b.Get(ctx, key)
	if err == nil && after != nil {
		_ = rc.Close()
		return nil, Attrs{}, after
	}
	return rc, a, err
}

// GetRange implements Bucket.
func (f *Faulty) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	before, after := f.fault(ctx, OpGetRange, key)
	if before != nil {
		return nil, before
	}
	rc, err := f.b.GetRange(ctx, key, off, length)
	if err == nil && after != nil {
		_ = rc.Close()
		return nil, after
	}
	return rc, err
}

// Attributes implements Bucket.
func (f *Faulty) Attributes(ctx context.Context, key string) (Attrs, error) {
	before, after := f.fault(ctx, OpAttributes, key)
	if before != nil {
		return Attrs{}, before
	}
	a, err := f.b.Attributes(ctx, key)
	if err == nil && after != nil {
		return Attrs{}, after
	}
	return a, err
}

// Put implements Bucket.
func (f *Faulty) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	before, after := f.fault(ctx, OpPut, key)
	if before != nil {
		return Attrs{}, before
	}
	a, err := f.b.Put(ctx, key, data, opts)
	if err == nil && after != nil {
		return Attrs{}, after
	}
	return a, err
}

// Delete implements Bucket.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	before, after := f.fault(ctx, OpDelete, key)
	if before != nil {
		return before
	}
	if err := f.b.Delete(ctx, key); err != nil {
		return err
	}
	return after
}

// List implements Bucket. Faults are decided when iteration starts.
func (f *Faulty) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		before, after := f.fault(ctx, OpList, prefix)
		if before != nil {
			yield(Attrs{}, before)
			return
		}
		for a, err := range f.b.List(ctx, prefix, startAfter) {
			if !yield(a, err) || err != nil {
				return
			}
		}
		if after != nil {
			yield(Attrs{}, after)
		}
	}
}

// Name implements Bucket.
func (f *Faulty) Name() string { return f.b.Name() }

// Close implements Bucket by closing the wrapped bucket.
func (f *Faulty) Close() error { return f.b.Close() }
