package manifest

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// putHook wraps a bucket and lets a test take over version puts.
type putHook struct {
	objstore.Bucket
	// put is called for every Put of a version key; next performs it.
	put func(ctx context.Context, key string, data []byte, next func() error) error
}

func (h *putHook) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	if h.put == nil || !strings.Contains(key, "/v/") {
		return h.Bucket.Put(ctx, key, data, opts)
	}
	var attrs objstore.Attrs
	err := h.put(ctx, key, data, func() error {
		var err error
		attrs, err = h.Bucket.Put(ctx, key, data, opts)
		return err
	})
	return attrs, err
}

var errTimeout = errors.New("simulated timeout: response lost")

// TestAmbiguousCommit covers puts whose outcome the committer cannot see.
// The protocol promises: if the version holds our commit ID, success; if it
// holds another commit, a conflict retry; if it is absent, the same bytes
// are put again; ErrCommitUnknown only when that cannot settle it.
func TestAmbiguousCommit(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		seed := NewPartitionLog(b, "T", "", testOpts("seed"))
		if _, err := seed.Commit(ctx, appendSegment("s0", 1), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		version := uint64(1)
		// commitThrough commits one segment through wrapper w and checks
		// the log afterwards.
		commitThrough := func(t *testing.T, w objstore.Bucket, opts LogOptions, key string) (*Partition, error) {
			t.Helper()
			l := NewPartitionLog(w, "T", "", opts)
			return l.Commit(ctx, appendSegment(key, 1), CommitOptions{})
		}
		check := func(t *testing.T, wantSegments ...string) {
			t.Helper()
			vs := versionKeys(t, b, PartitionPrefix("T", ""))
			if len(vs) != int(version) || vs[len(vs)-1] != version {
				t.Fatalf("versions %v, want 1..%d", vs, version)
			}
			p, err := NewPartitionLog(b, "T", "", LogOptions{}).Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tail := p.Segments[len(p.Segments)-len(wantSegments):]
			for i, s := range tail {
				if s.Key != wantSegments[i] {
					t.Fatalf("latest segments end with %v, want %v", p.Segments, wantSegments)
				}
			}
		}

		t.Run("stored but reported failed", func(t *testing.T) {
			f := objstore.NewFaulty(b)
			f.FailNextAfter(objstore.OpPut, 1, errTimeout)
			p, err := commitThrough(t, f, testOpts("a"), "landed")
			if err != nil {
				t.Fatalf("Commit = %v, want success: the version holds our commit ID", err)
			}
			version++
			if p.Version != version {
				t.Fatalf("committed v%d, want v%d", p.Version, version)
			}
			check(t, "landed")
		})

		t.Run("sdk retry after success reports precondition failure", func(t *testing.T) {
			f := objstore.NewFaulty(b)
			f.FailNextAfter(objstore.OpPut, 1, objstore.ErrConditionNotMet)
			if _, err := commitThrough(t, f, testOpts("a"), "sdk-retry"); err != nil {
				t.Fatalf("Commit = %v, want success", err)
			}
			version++
			check(t, "sdk-retry")
		})

		t.Run("not stored, then retried", func(t *testing.T) {
			f := objstore.NewFaulty(b)
			f.FailNext(objstore.OpPut, 2, errTimeout)
			p, err := commitThrough(t, f, testOpts("a"), "retried")
			if err != nil {
				t.Fatalf("Commit = %v, want success after putting the same bytes again", err)
			}
			version++
			if p.Version != version {
				t.Fatalf("v%d", p.Version)
			}
			check(t, "retried")
		})

		t.Run("first put lands late", func(t *testing.T) {
			// The first put times out without landing; before the retry,
			// the delayed request lands. The retry then loses the
			// condition, and the read-back finds our commit.
			var calls atomic.Int32
			h := &putHook{Bucket: b, put: func(ctx context.Context, key string, data []byte, next func() error) error {
				if calls.Add(1) == 1 {
					return errTimeout
				}
				if calls.Load() == 2 {
					if err := next(); err != nil { // the delayed first put
						return err
					}
				}
				return next()
			}}
			if _, err := commitThrough(t, h, testOpts("a"), "late"); err != nil {
				t.Fatalf("Commit = %v", err)
			}
			version++
			check(t, "late")
		})

		t.Run("not stored and someone else wins", func(t *testing.T) {
			other := NewPartitionLog(b, "T", "", testOpts("other"))
			var once atomic.Bool
			h := &putHook{Bucket: b, put: func(ctx context.Context, key string, data []byte, next func() error) error {
				if once.CompareAndSwap(false, true) {
					if _, err := other.Commit(ctx, appendSegment("theirs", 1), CommitOptions{}); err != nil {
						t.Error(err)
					}
					return errTimeout
				}
				return next()
			}}
			p, err := commitThrough(t, h, testOpts("a"), "ours")
			if err != nil {
				t.Fatalf("Commit = %v, want success on top of the other commit", err)
			}
			version += 2
			if p.Version != version {
				t.Fatalf("v%d, want v%d", p.Version, version)
			}
			check(t, "theirs", "ours")
		})

		t.Run("never settles", func(t *testing.T) {
			f := objstore.NewFaulty(b)
			f.FailNext(objstore.OpPut, 1000, errTimeout)
			opts := testOpts("a")
			opts.MaxAttempts = 3
			_, err := commitThrough(t, f, opts, "lost")
			if !errors.Is(err, ErrCommitUnknown) || !errors.Is(err, errTimeout) {
				t.Fatalf("Commit = %v, want ErrCommitUnknown wrapping the put error", err)
			}
			var cu *CommitUnknownError
			if !errors.As(err, &cu) || cu.Version != version+1 || cu.CommitID == "" || !strings.Contains(err.Error(), cu.CommitID) {
				t.Fatalf("CommitUnknownError = %+v", cu)
			}
			l := NewPartitionLog(b, "T", "", LogOptions{})
			if _, err := l.CheckCommit(ctx, cu.Version, cu.CommitID); !errors.Is(err, ErrVersionNotFound) {
				t.Fatalf("CheckCommit = %v, want ErrVersionNotFound (still unknown)", err)
			}
			check(t)
		})

		t.Run("read-back fails too", func(t *testing.T) {
			// The put lands but reports an error, and the first read-back
			// fails as well: the put is repeated, loses the condition, and
			// the second read-back finds our commit.
			f := objstore.NewFaulty(b)
			var armed atomic.Bool
			var gets atomic.Int32
			f.SetHook(func(ctx context.Context, op, key string) error {
				if op == objstore.OpGet && armed.Load() && gets.Add(1) == 1 {
					return errTimeout
				}
				return nil
			})
			h := &putHook{Bucket: f, put: func(ctx context.Context, key string, data []byte, next func() error) error {
				if armed.CompareAndSwap(false, true) {
					if err := next(); err != nil {
						return err
					}
					return errTimeout
				}
				return next()
			}}
			if _, err := commitThrough(t, h, testOpts("a"), "readback"); err != nil {
				t.Fatalf("Commit = %v, want success once the read-back works", err)
			}
			if gets.Load() < 2 {
				t.Fatalf("%d read-backs, want 2", gets.Load())
			}
			version++
			check(t, "readback")
		})

		t.Run("cancelled after the put landed", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			h := &putHook{Bucket: b, put: func(ctx context.Context, key string, data []byte, next func() error) error {
				err := next()
				cancel()
				if err != nil {
					return err
				}
				return context.Canceled
			}}
			l := NewPartitionLog(h, "T", "", testOpts("a"))
			if _, err := l.Commit(cctx, appendSegment("cancelled-landed", 1), CommitOptions{}); err != nil {
				t.Fatalf("Commit = %v, want success: the read-back outlives the context", err)
			}
			version++
			check(t, "cancelled-landed")
		})

		t.Run("cancelled before the put landed", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			h := &putHook{Bucket: b, put: func(ctx context.Context, key string, data []byte, next func() error) error {
				cancel()
				return context.Canceled
			}}
			l := NewPartitionLog(h, "T", "", testOpts("a"))
			_, err := l.Commit(cctx, appendSegment("cancelled-lost", 1), CommitOptions{})
			if !errors.Is(err, ErrCommitUnknown) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Commit = %v, want ErrCommitUnknown and context.Canceled", err)
			}
			check(t)
		})

		t.Run("cancelled before starting", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := commitThroughCtx(cctx, b, "never")
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCommitUnknown) {
				t.Fatalf("Commit = %v, want a plain context.Canceled", err)
			}
			check(t)
		})
	})
}

func commitThroughCtx(ctx context.Context, b objstore.Bucket, key string) (*Partition, error) {
	return NewPartitionLog(b, "T", "", testOpts("a")).Commit(ctx, appendSegment(key, 1), CommitOptions{})
}

// TestConflictGivesUp: a committer that loses every race stops after
// MaxAttempts with ErrConflict and writes nothing.
func TestConflictGivesUp(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		other := NewPartitionLog(b, "T", "", testOpts("other"))
		h := &putHook{Bucket: b}
		h.put = func(ctx context.Context, key string, data []byte, next func() error) error {
			// Someone else always commits just before us.
			if _, err := other.Commit(ctx, appendSegment("other-"+key, 1), CommitOptions{}); err != nil {
				t.Error(err)
			}
			return next()
		}
		opts := testOpts("a")
		opts.MaxAttempts = 4
		calls := 0
		l := NewPartitionLog(h, "T", "", opts)
		_, err := l.Commit(ctx, func(p *Partition) (*Partition, error) {
			calls++
			return appendSegment("mine", 1)(p)
		}, CommitOptions{})
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "after 4 attempts") {
			t.Fatalf("Commit = %v, want ErrConflict after 4 attempts", err)
		}
		if calls != 4 {
			t.Fatalf("mutate called %d times, want 4 (once per attempt)", calls)
		}
		p, err := other.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Segment("mine"); ok || p.Version != 4 {
			t.Fatalf("latest v%d, mine written: %v", p.Version, ok)
		}
	})
}
