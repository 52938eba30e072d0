package tablestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// testGate is a Gate whose answers the test sets.
type testGate struct {
	mu                   sync.Mutex
	admit, confirm, hold error
	// holdCanceled makes Hold hand out a context that is already done
	// (the lease ran out during the commit).
	holdCanceled        bool
	admits, holds, lost int
}

func (g *testGate) Admit(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admits++
	return g.admit
}

func (g *testGate) Confirm(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.confirm
}

func (g *testGate) Hold(ctx context.Context) (context.Context, context.CancelFunc, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holds++
	if g.hold != nil {
		return nil, nil, g.hold
	}
	c, cancel := context.WithCancel(ctx)
	if g.holdCanceled {
		cancel()
	}
	return c, cancel, nil
}

func (g *testGate) Held() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admit == nil
}

func (g *testGate) Lost(error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lost++
}

func (g *testGate) set(f func(g *testGate)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

var errNoLease = errors.New("test: no lease")

// gatedStore opens a Store with its own buffer, epoch and gate on bucket,
// as one node process.
func gatedStore(t *testing.T, bucket objstore.Bucket, node string, epoch uint64) (*Store, *testGate, *wbuf.Buffer) {
	t.Helper()
	buf, err := wbuf.Open(wbuf.Options{Dir: filepath.Join(t.TempDir(), node)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	g := &testGate{}
	return New(bucket, buf, Options{NodeID: node, WriterEpoch: epoch, Gate: g}), g, buf
}

// A write the gate does not admit is not made; one it does not confirm
// is made but not acknowledged.
func TestGateAdmitsAndConfirmsWrites(t *testing.T) {
	ctx := context.Background()
	s, g, buf := gatedStore(t, objstore.NewMem(), "a", 1)
	tb := testTable()
	g.set(func(g *testGate) { g.admit = errNoLease })
	if _, err := s.Write(ctx, tb, "u1", []Change{upsert(1, "a", 1)}); !errors.Is(err, errNoLease) {
		t.Fatalf("write not admitted: %v", err)
	}
	if st := buf.Stats(); st.Rows != 0 {
		t.Fatalf("a write that was not admitted is in the buffer: %d rows", st.Rows)
	}
	g.set(func(g *testGate) { g.admit, g.confirm = nil, errNoLease })
	if _, err := s.Write(ctx, tb, "u1", []Change{upsert(1, "a", 1)}); !errors.Is(err, errNoLease) {
		t.Fatalf("write not confirmed: %v", err)
	}
	g.set(func(g *testGate) { g.confirm = nil })
	if _, err := s.Write(ctx, tb, "u1", []Change{upsert(2, "b", 2)}); err != nil {
		t.Fatal(err)
	}
}

// No partition commit lands without the gate's hold: a flush or a
// compaction the gate refuses, or whose hold ends, leaves the manifest as
// it was.
func TestGateHoldsEveryCommit(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	s, g, _ := gatedStore(t, bucket, "a", 1)
	tb := testTable()
	for i := range int64(3) {
		if _, err := s.Write(ctx, tb, "u1", []Change{upsert(i, "x", 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Flush(ctx, tb, "u1"); err != nil {
			t.Fatal(err)
		}
	}
	log := s.PartitionLog(tb.ID, "u1")
	before, err := log.LatestVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, tb, "u1", []Change{upsert(9, "y", 2)}); err != nil {
		t.Fatal(err)
	}

	g.set(func(g *testGate) { g.hold = errNoLease })
	if _, err := s.Flush(ctx, tb, "u1"); !errors.Is(err, errNoLease) {
		t.Fatalf("flush without a hold: %v", err)
	}
	if _, err := s.Compact(ctx, tb, "u1", CompactOptions{MinSegments: 2}); !errors.Is(err, errNoLease) {
		t.Fatalf("compaction without a hold: %v", err)
	}
	g.set(func(g *testGate) { g.hold, g.holdCanceled = nil, true })
	if _, err := s.Flush(ctx, tb, "u1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("flush whose hold ended: %v", err)
	}
	g.set(func(g *testGate) { g.admit = errNoLease })
	if _, err := s.Flush(ctx, tb, "u1"); !errors.Is(err, errNoLease) {
		t.Fatalf("flush not admitted: %v", err)
	}
	if after, err := log.LatestVersion(ctx); err != nil || after != before {
		t.Fatalf("manifest version %d after refused commits, %d before (%v)", after, before, err)
	}
	// No orphan segment was left by the refused flushes.
	n := 0
	for _, err := range bucket.List(ctx, manifest.SegmentPrefix(tb.ID, "u1"), "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d segment objects, want the 3 committed ones", n)
	}
}

// The scenario of issue 11: node A (epoch 1) flushes a partition; node B
// (epoch 2) takes over and writes it. A's next flush of that partition
// cannot land, even though A has not noticed the take-over: B's first
// write fenced the partition with its epoch. A then refuses writes and
// reports the loss to its gate, and B's own flushes are not disturbed.
func TestOldWriterCannotFlushAfterTakeOver(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	tb := testTable()
	a, ga, _ := gatedStore(t, bucket, "a", 1)
	if _, err := a.Write(ctx, tb, "", []Change{upsert(1, "a1", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Flush(ctx, tb, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(ctx, tb, "", []Change{upsert(2, "a2", 1)}); err != nil {
		t.Fatal(err)
	}

	b, _, _ := gatedStore(t, bucket, "b", 2)
	if _, err := b.Write(ctx, tb, "", []Change{upsert(3, "b3", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Flush(ctx, tb, ""); !errors.Is(err, manifest.ErrFenced) {
		t.Fatalf("A's flush after B's first write: %v", err)
	}
	if ga.lost != 1 {
		t.Fatalf("A's gate heard of %d losses", ga.lost)
	}
	if _, err := a.Write(ctx, tb, "", []Change{upsert(4, "a4", 1)}); !errors.Is(err, manifest.ErrFenced) {
		t.Fatalf("A's write after it was fenced: %v", err)
	}
	if _, err := b.Flush(ctx, tb, ""); err != nil {
		t.Fatalf("B's flush: %v", err)
	}
	rows := map[int64]bool{}
	for v, err := range b.Scan(ctx, tb, "", ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		rows[v.Values[0].Int64()] = true
	}
	if len(rows) != 2 || !rows[1] || !rows[3] {
		t.Fatalf("rows after the take-over: %v, want 1 (flushed by A) and 3 (B's)", rows)
	}
}

// While the lease is held, a point read uses the partition head this
// store confirmed by its own commits (flush, compaction) and makes no
// request; the answers stay those of the latest manifest. Without the
// lease, every read lists the partition, so it sees another process's
// commit.
func TestReadsUseTheHeldHead(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewCounting(objstore.NewMem())
	s, g, _ := gatedStore(t, bucket, "a", 1)
	tb := testTable()
	lookup := func(s *Store, id int64) (string, bool) {
		t.Helper()
		v, found, err := s.Lookup(ctx, tb, "u1", row.Row{row.BigInt(id)})
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			return "", false
		}
		return v.Values[1].Str(), true
	}
	for round := range 3 {
		if _, err := s.Write(ctx, tb, "u1", []Change{upsert(int64(round), fmt.Sprint("v", round), 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Flush(ctx, tb, "u1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Compact(ctx, tb, "u1", CompactOptions{MinSegments: 2}); err != nil {
		t.Fatal(err)
	}
	lookup(s, 0) // builds the segment index
	bucket.Reset()
	for round := range 3 {
		if got, ok := lookup(s, int64(round)); !ok || got != fmt.Sprint("v", round) {
			t.Fatalf("key %d: %q, %v", round, got, ok)
		}
	}
	if c := bucket.Counts(); c.Total() != 0 {
		t.Fatalf("point reads under a held lease made requests: %v", c)
	}

	// Without the lease the head is listed on every read.
	g.set(func(g *testGate) { g.admit = errNoLease })
	bucket.Reset()
	lookup(s, 1)
	if c := bucket.Counts(); c.List == 0 {
		t.Fatalf("a point read without the lease did not list the partition: %v", c)
	}
	// ... and so it sees what another process committed.
	other, _, _ := gatedStore(t, bucket, "b", 2)
	if _, err := other.Write(ctx, tb, "u1", []Change{upsert(7, "from b", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Flush(ctx, tb, "u1"); err != nil {
		t.Fatal(err)
	}
	if got, ok := lookup(s, 7); !ok || got != "from b" {
		t.Fatalf("read without the lease missed another process's commit: %q, %v", got, ok)
	}
}
