package manifest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// recorder wraps a bucket and records each request with its outcome.
type recorder struct {
	objstore.Bucket
	mu  sync.Mutex
	ops []string
}

func (r *recorder) record(op, key, extra string, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case objstore.IsNotFound(err):
		outcome = "not found"
	case objstore.IsConditionNotMet(err):
		outcome = "condition not met"
	default:
		outcome = "error"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, strings.TrimSpace(fmt.Sprintf("%-4s %s %s", op, key, extra))+" -> "+outcome)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func (r *recorder) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Attrs, error) {
	rc, a, err := r.Bucket.Get(ctx, key)
	r.record("GET", key, "", err)
	return rc, a, err
}

func (r *recorder) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	a, err := r.Bucket.Put(ctx, key, data, opts)
	extra := ""
	if opts.IfNoneMatch {
		extra = "if-none-match"
	}
	r.record("PUT", key, extra, err)
	return a, err
}

func (r *recorder) Delete(ctx context.Context, key string) error {
	err := r.Bucket.Delete(ctx, key)
	r.record("DEL", key, "", err)
	return err
}

func (r *recorder) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.Attrs, error] {
	return func(yield func(objstore.Attrs, error) bool) {
		n := 0
		var lerr error
		for a, err := range r.Bucket.List(ctx, prefix, startAfter) {
			if err != nil {
				lerr = err
			} else {
				n++
			}
			if !yield(a, err) {
				break
			}
		}
		r.record("LIST", prefix, fmt.Sprintf("after=%q keys=%d", startAfter, n), lerr)
	}
}

// TestCommitIOGolden pins the exact requests of the commit protocol in
// testdata/commit_io.golden (go test -run TestCommitIOGolden -rewrite to
// regenerate): what a cold and a warm commit cost, what a stale cached
// head, a lost race and an ambiguous put add, and when the hint is written.
func TestCommitIOGolden(t *testing.T) {
	ctx := t.Context()
	mem := objstore.NewMem()
	faulty := objstore.NewFaulty(mem)
	rec := &recorder{Bucket: faulty}
	var out strings.Builder
	step := func(name string, fn func() error) {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fmt.Fprintf(&out, "# %s\n", name)
		for _, op := range rec.take() {
			fmt.Fprintf(&out, "%s\n", op)
		}
		out.WriteString("\n")
	}
	opts := testOpts("golden")
	opts.Rand = func(int64) int64 { return 0 }
	opts.HintEvery = 8
	l := NewPartitionLog(rec, "T1", "alice", opts)
	n := 0
	commit := func(l *Log[*Partition]) func() error {
		return func() error {
			n++
			_, err := l.Commit(ctx, appendSegment(fmt.Sprint(n), 1), CommitOptions{})
			return err
		}
	}

	step("first commit to an empty log", commit(l))
	step("second commit through the same Log (base cached)", commit(l))
	step("commit through a new Log (cold: hint, list, load)", commit(NewPartitionLog(rec, "T1", "alice", opts)))
	step("LatestVersion, warm", func() error { _, err := l.LatestVersion(ctx); return err })
	step("Latest, warm and cached", func() error { _, err := l.Latest(ctx); return err })

	other := NewPartitionLog(mem, "T1", "alice", opts) // unrecorded rival
	hooked := &putHook{Bucket: rec}
	raced := false
	hooked.put = func(ctx context.Context, key string, data []byte, next func() error) error {
		if !raced {
			raced = true
			if _, err := other.Commit(ctx, appendSegment("rival", 1), CommitOptions{}); err != nil {
				return err
			}
		}
		return next()
	}
	lh := NewPartitionLog(hooked, "T1", "alice", opts)
	if _, err := lh.LatestVersion(ctx); err != nil {
		t.Fatal(err)
	}
	rec.take()
	step("commit that loses a race to another process", commit(lh))
	step("commit on a stale cached head (others committed since)", commit(l))

	step("put that lands but reports an error", func() error {
		faulty.FailNextAfter(objstore.OpPut, 1, errTimeout)
		return commit(l)()
	})
	step("put that fails without landing, then succeeds (v8 writes the hint)", func() error {
		faulty.FailNext(objstore.OpPut, 1, errTimeout)
		return commit(l)()
	})
	step("commit through a new Log (cold: the hint names v8, the head)", commit(NewPartitionLog(rec, "T1", "alice", opts)))
	step("acquire the writer lease", func() error {
		_, _, err := AcquireWriter(ctx, NewCatalogLog(rec, opts), "golden")
		return err
	})

	checkGolden(t, "commit_io.golden", out.String())
}
