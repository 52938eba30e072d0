package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// testOpts are fast-retrying options with a fixed clock.
func testOpts(node string) LogOptions {
	return LogOptions{
		NodeID:     node,
		Clock:      func() time.Time { return testTime },
		MinBackoff: 100 * time.Microsecond,
		MaxBackoff: 5 * time.Millisecond,
	}
}

// appendSegment returns a mutation that appends one segment of n rows with
// the next _seq range, as a writer would.
func appendSegment(key string, n uint64) func(*Partition) (*Partition, error) {
	return func(p *Partition) (*Partition, error) {
		if _, dup := p.Segment(key); dup {
			return nil, fmt.Errorf("segment %s already committed", key)
		}
		p.Segments = append(p.Segments, Segment{
			Key: key, Rows: int64(n), Bytes: 100, SchemaVersion: 1,
			SeqMin: p.LastSeq + 1, SeqMax: p.LastSeq + n,
		})
		p.LastSeq += n
		return p, nil
	}
}

func addNamespace(name string) func(*Catalog) (*Catalog, error) {
	return func(c *Catalog) (*Catalog, error) {
		if _, ok := c.Namespace(name); ok {
			return nil, errExists
		}
		c.Namespaces = append(c.Namespaces, Namespace{Name: name, CreatedAt: testTime})
		return c, nil
	}
}

var errExists = errors.New("namespace exists")

// versionKeys lists the version numbers stored in a log, in order.
func versionKeys(t *testing.T, b objstore.Bucket, prefix string) []uint64 {
	t.Helper()
	var vs []uint64
	for a, err := range b.List(context.Background(), prefix+"v/", "") {
		if err != nil {
			t.Fatal(err)
		}
		v, ok := parseVersionKey(prefix+"v/", a.Key)
		if !ok {
			t.Fatalf("unexpected key %q", a.Key)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestEmptyLog(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		l := NewCatalogLog(b, testOpts("a"))
		if v, err := l.LatestVersion(ctx); err != nil || v != 0 {
			t.Fatalf("LatestVersion = %d, %v", v, err)
		}
		if _, err := l.Latest(ctx); !errors.Is(err, ErrNoManifest) {
			t.Fatalf("Latest = %v, want ErrNoManifest", err)
		}
		_, err := l.Load(ctx, 3)
		if !errors.Is(err, ErrVersionNotFound) || !strings.Contains(err.Error(), "catalog/v/00000000000000000003.json v3") {
			t.Fatalf("Load(3) = %v", err)
		}
		if _, err := l.Load(ctx, 0); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("Load(0) = %v", err)
		}
	})
}

func TestCommitSequence(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		opts := testOpts("node-a")
		opts.HintEvery = 3
		l := NewCatalogLog(b, opts)
		var seen []*Catalog
		for i, ns := range []string{"app", "billing", "ops"} {
			c, err := l.Commit(ctx, func(base *Catalog) (*Catalog, error) {
				if base.Version != uint64(i) {
					return nil, fmt.Errorf("base version %d, want %d", base.Version, i)
				}
				return addNamespace(ns)(base)
			}, CommitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h := c.Header
			if h.Version != uint64(i+1) || h.FormatVersion != CatalogFormatVersion || h.CommitID == "" ||
				!h.CommittedAt.Equal(testTime) || h.CommittedBy != "node-a" || h.WriterEpoch != 0 {
				t.Fatalf("header of commit %d: %+v", i+1, h)
			}
			if len(c.Namespaces) != i+1 {
				t.Fatalf("commit %d has %d namespaces", i+1, len(c.Namespaces))
			}
			seen = append(seen, c)
		}
		// A fresh Log (another process) reads the same history.
		l2 := NewCatalogLog(b, testOpts("node-b"))
		latest, err := l2.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if latest.Version != 3 || latest.CommitID != seen[2].CommitID {
			t.Fatalf("latest = v%d %s", latest.Version, latest.CommitID)
		}
		for i, want := range seen {
			got, err := l2.Load(ctx, uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			if got.CommitID != want.CommitID || len(got.Namespaces) != i+1 {
				t.Fatalf("v%d = %+v", i+1, got.Header)
			}
		}
		// The hint names the latest version, a multiple of HintEvery.
		rc, _, err := b.Get(ctx, "catalog/latest")
		if err != nil {
			t.Fatal(err)
		}
		hint, _ := io.ReadAll(rc)
		rc.Close()
		if string(hint) != "3" {
			t.Fatalf("hint = %q", hint)
		}
		// The returned manifest belongs to the caller: mutating it does not
		// reach the log's cache.
		seen[2].Namespaces[0].Name = "mutated"
		again, err := l.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again.Namespaces[0].Name != "app" {
			t.Fatal("mutating a commit result changed the cached manifest")
		}
	})
}

func TestCommitMutateErrorAborts(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		l := NewCatalogLog(b, testOpts("a"))
		if _, err := l.Commit(ctx, addNamespace("app"), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		counting := objstore.NewCounting(b)
		l = NewCatalogLog(counting, testOpts("a"))
		calls := 0
		_, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			calls++
			return addNamespace("app")(c)
		}, CommitOptions{})
		if !errors.Is(err, errExists) {
			t.Fatalf("Commit = %v, want the mutate error", err)
		}
		if calls != 1 {
			t.Fatalf("mutate called %d times, want 1 (no retry)", calls)
		}
		if n := counting.Counts().Put; n != 0 {
			t.Fatalf("%d puts after a failed mutation", n)
		}

		// An invalid result is refused before anything is written.
		_, err = l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			c.Namespaces = append(c.Namespaces, Namespace{Name: "Bad Name"})
			return c, nil
		}, CommitOptions{})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"Bad Name"`) {
			t.Fatalf("Commit(invalid) = %v", err)
		}
		_, err = l.Commit(ctx, func(*Catalog) (*Catalog, error) { return nil, nil }, CommitOptions{})
		if err == nil || !strings.Contains(err.Error(), "nil manifest") {
			t.Fatalf("Commit(nil result) = %v", err)
		}
		if _, err := l.Commit(ctx, nil, CommitOptions{}); err == nil {
			t.Fatal("Commit(nil mutate) succeeded")
		}
		// The mutation's changes to the header are overwritten.
		c, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			c.Version, c.CommitID, c.FormatVersion = 99, "mine", 5
			return c, nil
		}, CommitOptions{})
		if err != nil || c.Version != 2 || c.CommitID == "mine" || c.FormatVersion != CatalogFormatVersion {
			t.Fatalf("Commit = %+v, %v", c, err)
		}
		if n := counting.Counts().Put; n != 1 { // the version (no hint for v2)
			t.Fatalf("%d puts, want 1", n)
		}
		if vs := versionKeys(t, b, CatalogPrefix); len(vs) != 2 {
			t.Fatalf("versions %v, want [1 2]", vs)
		}
	})
}

// TestCommitConcurrent: many committers, each with its own Log as if in its
// own process, append unique segments. Every commit must appear exactly
// once, versions must be dense, and each version must extend its
// predecessor by exactly one segment: no lost update.
func TestCommitConcurrent(t *testing.T) {
	const writers, commits = 16, 20
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		opts := testOpts("")
		opts.MaxAttempts = 10000 // this test is about correctness, not patience
		shared := NewPartitionLog(b, "T1", "user-1", opts)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			commitOf = map[uint64]string{} // version -> segment key
			errs     []error
		)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := opts
				o.NodeID = fmt.Sprintf("w%02d", w)
				l := NewPartitionLog(b, "T1", "user-1", o)
				if w%4 == 0 {
					l = shared // some writers share one Log
				}
				for c := range commits {
					key := fmt.Sprintf("w%02d-c%02d", w, c)
					p, err := l.Commit(ctx, appendSegment(key, uint64(1+c%3)), CommitOptions{})
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else if other, dup := commitOf[p.Version]; dup {
						errs = append(errs, fmt.Errorf("version %d reported by %s and %s", p.Version, other, key))
					} else {
						commitOf[p.Version] = key
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		const total = writers * commits
		verifyPartitionHistory(t, b, "T1", "user-1", total, commitOf)
	})
}

// verifyPartitionHistory checks that the partition log holds versions
// 1..total, each readable, each adding exactly the segment its committer
// reported to its predecessor, with contiguous _seq ranges.
func verifyPartitionHistory(t *testing.T, b objstore.Bucket, tableID, partition string, total int, commitOf map[uint64]string) {
	t.Helper()
	ctx := context.Background()
	if vs := versionKeys(t, b, PartitionPrefix(tableID, partition)); len(vs) != total || vs[0] != 1 || vs[len(vs)-1] != uint64(total) {
		t.Fatalf("stored versions: %d of them, %v…, want 1..%d", len(vs), vs[:min(len(vs), 5)], total)
	}
	if len(commitOf) != total {
		t.Fatalf("%d commits reported, want %d", len(commitOf), total)
	}
	l := NewPartitionLog(b, tableID, partition, LogOptions{})
	if v, err := l.LatestVersion(ctx); err != nil || v != uint64(total) {
		t.Fatalf("LatestVersion = %d, %v", v, err)
	}
	var prev *Partition
	keys := map[string]bool{}
	for v := uint64(1); v <= uint64(total); v++ {
		p, err := l.Load(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Segments) != int(v) {
			t.Fatalf("v%d has %d segments, want %d", v, len(p.Segments), v)
		}
		last := p.Segments[len(p.Segments)-1]
		if last.Key != commitOf[v] {
			t.Fatalf("v%d adds segment %q but its committer reported %q", v, last.Key, commitOf[v])
		}
		if keys[last.Key] {
			t.Fatalf("segment %q committed twice", last.Key)
		}
		keys[last.Key] = true
		if prev != nil {
			for i, s := range prev.Segments {
				if p.Segments[i].Key != s.Key {
					t.Fatalf("v%d lost or reordered segment %q of v%d (lost update)", v, s.Key, v-1)
				}
			}
			if last.SeqMin != prev.LastSeq+1 {
				t.Fatalf("v%d: _seq %d does not follow %d", v, last.SeqMin, prev.LastSeq)
			}
		}
		prev = p
	}
}

func TestCommitConcurrentCatalog(t *testing.T) {
	const writers, commits = 8, 10
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		opts := testOpts("")
		opts.MaxAttempts = 10000
		var wg sync.WaitGroup
		errc := make(chan error, writers*commits)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := NewCatalogLog(b, opts)
				for c := range commits {
					if _, err := l.Commit(ctx, addNamespace(fmt.Sprintf("ns_%d_%d", w, c)), CommitOptions{}); err != nil {
						errc <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		c, err := NewCatalogLog(b, LogOptions{}).Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != writers*commits || len(c.Namespaces) != writers*commits {
			t.Fatalf("v%d with %d namespaces, want %d", c.Version, len(c.Namespaces), writers*commits)
		}
	})
}

func TestFencing(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		catA := NewCatalogLog(b, testOpts("node-a"))
		catB := NewCatalogLog(b, testOpts("node-b"))

		epochA, c, err := AcquireWriter(ctx, catA, "node-a")
		if err != nil {
			t.Fatal(err)
		}
		if epochA != 1 || c.WriterEpoch != 1 || c.Writer == nil || c.Writer.NodeID != "node-a" || c.Writer.Epoch != 1 || !c.Writer.AcquiredAt.Equal(testTime) {
			t.Fatalf("AcquireWriter = %d, %+v", epochA, c)
		}
		if _, err := catA.Commit(ctx, addNamespace("app"), CommitOptions{WriterEpoch: epochA}); err != nil {
			t.Fatal(err)
		}
		partA := NewPartitionLog(b, "T1", "", testOpts("node-a"))
		partB := NewPartitionLog(b, "T1", "", testOpts("node-b"))
		if _, err := partA.Commit(ctx, appendSegment("a1", 1), CommitOptions{WriterEpoch: epochA}); err != nil {
			t.Fatal(err)
		}

		epochB, c, err := AcquireWriter(ctx, catB, "node-b")
		if err != nil {
			t.Fatal(err)
		}
		if epochB != 2 || c.Writer.NodeID != "node-b" || len(c.Namespaces) != 1 {
			t.Fatalf("AcquireWriter(B) = %d, %+v", epochB, c)
		}

		// A is fenced on the catalog at once.
		_, err = catA.Commit(ctx, addNamespace("late"), CommitOptions{WriterEpoch: epochA})
		if !errors.Is(err, ErrFenced) {
			t.Fatalf("A's catalog commit = %v, want ErrFenced", err)
		}
		for _, want := range []string{`writer epoch 1 (node "node-a")`, `fenced by epoch 2 (node "node-b")`, "catalog v3"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("fenced error %q does not say %q", err, want)
			}
		}
		// Committers without an epoch are fenced too.
		if _, err := catA.Commit(ctx, addNamespace("late"), CommitOptions{}); !errors.Is(err, ErrFenced) {
			t.Fatalf("epoch-0 commit = %v, want ErrFenced", err)
		}

		// On a partition, A is fenced once B has committed there.
		if _, err := partA.Commit(ctx, appendSegment("a2", 1), CommitOptions{WriterEpoch: epochA}); err != nil {
			t.Fatalf("A's partition commit before B touched it: %v", err)
		}
		if _, err := partB.Commit(ctx, func(p *Partition) (*Partition, error) { return p, nil }, CommitOptions{WriterEpoch: epochB}); err != nil {
			t.Fatal(err)
		}
		_, err = partA.Commit(ctx, appendSegment("a3", 1), CommitOptions{WriterEpoch: epochA})
		if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), `fenced by epoch 2 (node "node-b")`) {
			t.Fatalf("A's partition commit after B's = %v, want ErrFenced", err)
		}
		p, err := partB.Commit(ctx, appendSegment("b1", 1), CommitOptions{WriterEpoch: epochB})
		if err != nil {
			t.Fatal(err)
		}
		if p.WriterEpoch != 2 || len(p.Segments) != 3 {
			t.Fatalf("partition = %+v", p)
		}
		// Nothing A attempted after being fenced was written.
		cat, err := catB.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cat.Namespace("late"); ok || cat.Version != 3 {
			t.Fatalf("catalog v%d after fencing", cat.Version)
		}
		// A catalog commit by the owner keeps the lease.
		cat, err = catB.Commit(ctx, addNamespace("more"), CommitOptions{WriterEpoch: epochB})
		if err != nil || cat.Writer == nil || cat.Writer.Epoch != 2 || cat.WriterEpoch != 2 {
			t.Fatalf("owner commit = %+v, %v", cat, err)
		}
		// A can take the warehouse back, and then B is the fenced one.
		epochA2, _, err := AcquireWriter(ctx, catA, "node-a")
		if err != nil || epochA2 != 3 {
			t.Fatalf("re-acquire = %d, %v", epochA2, err)
		}
		if _, err := catB.Commit(ctx, addNamespace("x"), CommitOptions{WriterEpoch: epochB}); !errors.Is(err, ErrFenced) {
			t.Fatalf("B after A re-acquired = %v", err)
		}
		if _, _, err := AcquireWriter(ctx, catA, ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("AcquireWriter without node = %v", err)
		}
	})
}

// TestClaimWriter: a claim of a given epoch succeeds only above the
// catalog's epoch; the first claim gives a catalog its warehouse id, which
// no later commit may change.
func TestClaimWriter(t *testing.T) {
	ctx := t.Context()
	b := objstore.NewMem()
	cat := NewCatalogLog(b, testOpts("node-a"))
	if _, err := cat.Commit(ctx, addNamespace("old"), CommitOptions{}); err != nil {
		t.Fatal(err) // a catalog from before warehouse ids
	}
	c, err := ClaimWriter(ctx, cat, WriterClaim{NodeID: "node-a", Epoch: 5, WarehouseID: "WH-1"})
	if err != nil || c.WriterEpoch != 5 || c.Writer.Epoch != 5 || c.WarehouseID != "WH-1" || len(c.Namespaces) != 1 {
		t.Fatalf("claim of epoch 5 = %+v, %v", c, err)
	}
	_, err = ClaimWriter(ctx, cat, WriterClaim{NodeID: "node-b", Epoch: 5, WarehouseID: "WH-2"})
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "catalog is at epoch 5") {
		t.Fatalf("second claim of epoch 5 = %v", err)
	}
	c, err = ClaimWriter(ctx, cat, WriterClaim{NodeID: "node-b", WarehouseID: "WH-2"})
	if err != nil || c.WriterEpoch != 6 || c.WarehouseID != "WH-1" {
		t.Fatalf("next claim = %+v, %v (the warehouse id must stay WH-1)", c, err)
	}
	_, err = cat.Commit(ctx, func(c *Catalog) (*Catalog, error) { c.WarehouseID = "WH-3"; return c, nil }, CommitOptions{WriterEpoch: 6})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "must not change") {
		t.Fatalf("changing the warehouse id = %v", err)
	}
	_, err = cat.Commit(ctx, func(c *Catalog) (*Catalog, error) { c.WarehouseID = ""; return c, nil }, CommitOptions{WriterEpoch: 6})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("clearing the warehouse id = %v", err)
	}
	_, err = ClaimWriter(ctx, NewCatalogLog(objstore.NewMem(), testOpts("n")), WriterClaim{NodeID: "n", WarehouseID: "bad id!"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "warehouse_id") {
		t.Fatalf("a bad warehouse id = %v", err)
	}
}

// TestCommitHigherEpoch: a committer with a higher epoch than the log's
// raises the log's epoch.
func TestCommitHigherEpoch(t *testing.T) {
	b := objstore.NewMem()
	l := NewPartitionLog(b, "T", "", testOpts("n"))
	p, err := l.Commit(t.Context(), appendSegment("s", 1), CommitOptions{WriterEpoch: 5})
	if err != nil || p.WriterEpoch != 5 {
		t.Fatalf("%+v, %v", p, err)
	}
	p, err = l.Commit(t.Context(), appendSegment("s2", 1), CommitOptions{WriterEpoch: 5})
	if err != nil || p.WriterEpoch != 5 {
		t.Fatalf("%+v, %v", p, err)
	}
	if _, err := l.Commit(t.Context(), appendSegment("s3", 1), CommitOptions{WriterEpoch: 4}); !errors.Is(err, ErrFenced) {
		t.Fatalf("lower epoch: %v", err)
	}
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestCommitOnCachedHead: a Log that committed or listed within HeadTTL
// puts the next version on its cached head without listing; a stale head
// costs one failed put, found out by the condition, and the commit lands
// on the latest version without counting that put in MaxAttempts.
func TestCommitOnCachedHead(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		clock := &testClock{now: testTime}
		opts := testOpts("a")
		opts.Clock = clock.Now
		opts.MaxAttempts = 1 // a lost race would fail: the stale head must not count
		c := objstore.NewCounting(b)
		l := NewPartitionLog(c, "T", "", opts)
		commitOf := map[uint64]string{}
		commit := func(l *Log[*Partition], key string, wantVersion uint64, want objstore.OpCounts) {
			t.Helper()
			c.Reset()
			p, err := l.Commit(ctx, appendSegment(key, 1), CommitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != wantVersion {
				t.Fatalf("%s committed v%d, want v%d", key, p.Version, wantVersion)
			}
			if got := c.Counts(); got != want {
				t.Fatalf("commit of v%d made %v, want %v", wantVersion, got, want)
			}
			commitOf[p.Version] = key
		}
		commit(l, "cold", 1, objstore.OpCounts{Get: 1, List: 1, Put: 1}) // hint, list, put
		for v := uint64(2); v <= 4; v++ {
			commit(l, fmt.Sprint("warm", v), v, objstore.OpCounts{Put: 1})
		}

		// Another process commits v5: l's head is stale. Its put of v5
		// fails, it reads v5 back (not its commit), lists and puts v6.
		other := NewPartitionLog(b, "T", "", testOpts("b"))
		if p, err := other.Commit(ctx, appendSegment("other", 1), CommitOptions{}); err != nil || p.Version != 5 {
			t.Fatalf("other commit = %v, %v", p, err)
		}
		commitOf[5] = "other"
		commit(l, "stale", 6, objstore.OpCounts{Get: 1, List: 1, Put: 2})
		commit(l, "warm-again", 7, objstore.OpCounts{Put: 1})

		// After HeadTTL the head is confirmed by a listing again (the
		// manifest itself is still cached).
		clock.Advance(DefaultHeadTTL)
		commit(l, "expired", 8, objstore.OpCounts{List: 1, Put: 1})
		commit(l, "fresh", 9, objstore.OpCounts{Put: 1})

		// A negative HeadTTL always lists.
		o := opts
		o.HeadTTL = -1
		always := NewPartitionLog(c, "T", "", o)
		commit(always, "always-1", 10, objstore.OpCounts{Get: 2, List: 1, Put: 1}) // hint, list, load v9
		commit(always, "always-2", 11, objstore.OpCounts{List: 1, Put: 1})

		// Base: the cached head with no request while fresh.
		c.Reset()
		if p, err := l.Base(ctx); err != nil || p.Version != 9 || c.Counts().Total() != 0 {
			t.Fatalf("Base = v%d, %v with %v; want the cached (stale) v9 and no request", p.Version, err, c.Counts())
		}
		clock.Advance(DefaultHeadTTL)
		if p, err := l.Base(ctx); err != nil || p.Version != 11 || c.Counts().List != 1 {
			t.Fatalf("expired Base = v%d, %v with %v; want v11 from a listing", p.Version, err, c.Counts())
		}
		empty := NewPartitionLog(b, "T", "empty", opts)
		if _, err := empty.LatestVersion(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := empty.Base(ctx); !errors.Is(err, ErrNoManifest) {
			t.Fatalf("Base of an empty log = %v, want ErrNoManifest", err)
		}
		if p, err := empty.Commit(ctx, appendSegment("first", 1), CommitOptions{}); err != nil || p.Version != 1 {
			t.Fatalf("first commit on a confirmed empty log = %v, %v", p, err)
		}
		verifyPartitionHistory(t, b, "T", "", 11, commitOf)
	})
}

// TestCommitCachedHeadPreconditions: a mutation (or fencing) that fails on
// a cached head is decided again on the latest version; its error is
// returned only if the cached head was the latest.
func TestCommitCachedHeadPreconditions(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		a := NewCatalogLog(b, testOpts("a"))
		if _, err := a.Commit(ctx, addNamespace("x"), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		// Another process drops namespace x: on a's cached v1 it exists.
		other := NewCatalogLog(b, testOpts("b"))
		if _, err := other.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			c.Namespaces = nil
			return c, nil
		}, CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		calls := 0
		c, err := a.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			calls++
			return addNamespace("x")(c)
		}, CommitOptions{})
		if err != nil || c.Version != 3 || calls != 2 {
			t.Fatalf("Commit = v%d, %v after %d calls; want v3 after 2 (stale head, then latest)", c.Version, err, calls)
		}
		// On an up-to-date cached head the error stands, after one listing
		// and no put.
		counting := objstore.NewCounting(b)
		a2 := NewCatalogLog(counting, testOpts("a"))
		if _, err := a2.LatestVersion(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a2.Load(ctx, 3); err != nil {
			t.Fatal(err)
		}
		counting.Reset()
		calls = 0
		if _, err := a2.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			calls++
			return addNamespace("x")(c)
		}, CommitOptions{}); !errors.Is(err, errExists) || calls != 1 {
			t.Fatalf("Commit = %v after %d calls, want errExists after 1", err, calls)
		}
		if n := counting.Counts(); n.List != 1 || n.Put != 0 || n.Total() != 1 {
			t.Fatalf("failed precondition made %v, want 1 list", n)
		}
		// Fencing seen on a cached head is confirmed the same way.
		if _, _, err := AcquireWriter(ctx, other, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := a2.Commit(ctx, addNamespace("y"), CommitOptions{}); !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "catalog v4") {
			t.Fatalf("Commit after a newer writer = %v, want ErrFenced naming v4", err)
		}
	})
}

// TestCommitUnknownForgetsHead: after ErrCommitUnknown the Log does not
// trust its cached head: the version may have landed.
func TestCommitUnknownForgetsHead(t *testing.T) {
	b := objstore.NewMem()
	ctx := t.Context()
	f := objstore.NewFaulty(b)
	c := objstore.NewCounting(f)
	opts := testOpts("a")
	opts.MaxAttempts = 2
	l := NewPartitionLog(c, "T", "", opts)
	if _, err := l.Commit(ctx, appendSegment("s1", 1), CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	f.FailNextAfter(objstore.OpPut, 1, errTimeout) // lands, reports an error
	if _, err := l.Commit(ctx, appendSegment("s2", 1), CommitOptions{}); err != nil {
		t.Fatalf("Commit = %v, want success (the read-back finds it)", err)
	}
	f.FailNext(objstore.OpPut, 2, errTimeout)
	f.FailNext(objstore.OpGet, 2, errTimeout)
	_, err := l.Commit(ctx, appendSegment("s3", 1), CommitOptions{})
	if !errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("Commit = %v, want ErrCommitUnknown", err)
	}
	c.Reset()
	p, err := l.Commit(ctx, appendSegment("s4", 1), CommitOptions{})
	if err != nil || p.Version != 3 {
		t.Fatalf("Commit = %v, %v", p, err)
	}
	if n := c.Counts(); n.List != 1 || n.Put != 1 {
		t.Fatalf("commit after an unknown outcome made %v, want a listing first", n)
	}
}

// TestHintEvery: the hint is written for every HintEvery-th version, and
// by the next commit of a Log that found it HintEvery or more behind; it
// never names a version that does not exist.
func TestHintEvery(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		opts := testOpts("a")
		opts.HintEvery = 4
		l := NewPartitionLog(b, "T", "", opts)
		hintKey := l.Prefix() + "latest"
		hint := func() string {
			t.Helper()
			rc, _, err := b.Get(ctx, hintKey)
			if objstore.IsNotFound(err) {
				return ""
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, _ := io.ReadAll(rc)
			return string(data)
		}
		want := []string{"", "", "", "4", "4", "4", "4", "8", "8"}
		for i, w := range want {
			if _, err := l.Commit(ctx, appendSegment(fmt.Sprint(i), 1), CommitOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := hint(); got != w {
				t.Fatalf("after v%d the hint is %q, want %q", i+1, got, w)
			}
		}
		// A cold Log that finds the hint missing with 9 versions rewrites
		// it on its next commit; one that finds it 2 behind does not.
		if err := b.Delete(ctx, hintKey); err != nil {
			t.Fatal(err)
		}
		cold := NewPartitionLog(b, "T", "", opts)
		if _, err := cold.Commit(ctx, appendSegment("cold", 1), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := hint(); got != "10" {
			t.Fatalf("hint after a cold commit that found it missing = %q, want 10", got)
		}
		if _, err := l.Commit(ctx, appendSegment("warm", 1), CommitOptions{}); err != nil { // v11, on a stale head
			t.Fatal(err)
		}
		cold = NewPartitionLog(b, "T", "", opts)
		if _, err := cold.Commit(ctx, appendSegment("cold2", 1), CommitOptions{}); err != nil { // v12: hint by policy
			t.Fatal(err)
		}
		if _, err := cold.Commit(ctx, appendSegment("cold3", 1), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := hint(); got != "12" {
			t.Fatalf("hint = %q, want 12", got)
		}
		cold = NewPartitionLog(b, "T", "", opts) // finds it 1 behind
		if _, err := cold.Commit(ctx, appendSegment("cold4", 1), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := hint(); got != "12" {
			t.Fatalf("hint = %q, want 12 (v14 is no multiple of 4, and the hint was 1 behind)", got)
		}
		if v, err := NewPartitionLog(b, "T", "", LogOptions{}).LatestVersion(ctx); err != nil || v != 14 {
			t.Fatalf("cold LatestVersion = %d, %v; want 14", v, err)
		}
	})
}

func putRaw(t *testing.T, b objstore.Bucket, key, data string) {
	t.Helper()
	if _, err := b.Put(context.Background(), key, []byte(data), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestLatestVersionHint(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		l := NewPartitionLog(b, "T1", "bob", testOpts("a"))
		for i := range 5 {
			if _, err := l.Commit(ctx, appendSegment(fmt.Sprint(i), 1), CommitOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		hintKey := PartitionPrefix("T1", "bob") + "latest"
		tests := []struct {
			name string
			hint string // "" deletes the hint
		}{
			{"fresh hint", "5"},
			{"stale hint", "2"},
			{"missing hint", ""},
			{"garbage hint", "five"},
			{"hint zero", "0"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.hint == "" {
					if err := b.Delete(ctx, hintKey); err != nil {
						t.Fatal(err)
					}
				} else {
					putRaw(t, b, hintKey, tc.hint)
				}
				c := objstore.NewCounting(b)
				fresh := NewPartitionLog(c, "T1", "bob", LogOptions{})
				v, err := fresh.LatestVersion(ctx)
				if err != nil || v != 5 {
					t.Fatalf("LatestVersion = %d, %v", v, err)
				}
				n := c.Counts()
				wantList := int64(1)
				if n.Get != 1 || n.List != wantList || n.Total() != 1+wantList {
					t.Fatalf("cold LatestVersion made %v, want 1 get and %d list", n, wantList)
				}
				// Warm: the memo replaces the hint.
				c.Reset()
				if v, err := fresh.LatestVersion(ctx); err != nil || v != 5 {
					t.Fatalf("warm LatestVersion = %d, %v", v, err)
				}
				if n := c.Counts(); n.List != 1 || n.Total() != 1 {
					t.Fatalf("warm LatestVersion made %v, want 1 list", n)
				}
				c.Reset()
				if _, err := fresh.Latest(ctx); err != nil {
					t.Fatal(err)
				}
				if n := c.Counts(); n.List != 1 || n.Get != 1 || n.Total() != 2 {
					t.Fatalf("Latest made %v, want 1 list and 1 get", n)
				}
				c.Reset()
				if _, err := fresh.Latest(ctx); err != nil {
					t.Fatal(err)
				}
				if n := c.Counts(); n.Total() != 1 {
					t.Fatalf("cached Latest made %v, want 1 list", n)
				}
			})
		}
	})
}

// A hint ahead of every listed version means versions were removed from
// the head: LatestVersion reports ErrDataLoss instead of answering from
// the older version that remains (issue 11, 8).
func TestLatestVersionHintAheadIsDataLoss(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		l := NewPartitionLog(b, "T1", "bob", testOpts("a"))
		for i := range 5 {
			if _, err := l.Commit(ctx, appendSegment(fmt.Sprint(i), 1), CommitOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		putRaw(t, b, PartitionPrefix("T1", "bob")+"latest", "5")
		// The head version is deleted (an operator, a bucket lifecycle rule).
		if err := b.Delete(ctx, l.VersionKey(5)); err != nil {
			t.Fatal(err)
		}
		cold := NewPartitionLog(b, "T1", "bob", LogOptions{})
		if _, err := cold.LatestVersion(ctx); !errors.Is(err, ErrDataLoss) {
			t.Fatalf("cold LatestVersion after the head was removed: %v, want ErrDataLoss", err)
		}
		if _, err := l.LatestVersion(ctx); !errors.Is(err, ErrDataLoss) {
			t.Fatalf("warm LatestVersion after the head was removed: %v, want ErrDataLoss", err)
		}
	})
}

// TestLatestVersionVeryStale: a memo more than a list page behind consults
// the hint to skip ahead; stray keys are ignored.
func TestLatestVersionVeryStale(t *testing.T) {
	b := objstore.NewMem()
	ctx := t.Context()
	l := NewPartitionLog(b, "T", "", LogOptions{})
	if _, err := l.Commit(ctx, appendSegment("s", 1), CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	// Other processes commit 2500 more versions (raw writes for speed).
	p, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for v := uint64(2); v <= 2501; v++ {
		p = p.Clone()
		p.Version = v
		data, err := EncodePartition(p)
		if err != nil {
			t.Fatal(err)
		}
		putRaw(t, b, l.VersionKey(v), string(data))
	}
	putRaw(t, b, l.Prefix()+"latest", "2400")
	putRaw(t, b, l.Prefix()+"v/README", "stray")
	c := objstore.NewCounting(b)
	l.bucket = c
	v, err := l.LatestVersion(ctx)
	if err != nil || v != 2501 {
		t.Fatalf("LatestVersion = %d, %v", v, err)
	}
	if n := c.Counts(); n.Get != 1 || n.List != 2 {
		t.Fatalf("stale LatestVersion made %v, want 1 get (hint) and 2 lists", n)
	}
	// The next commit builds on 2501.
	p, err = l.Commit(ctx, appendSegment("t", 1), CommitOptions{})
	if err != nil || p.Version != 2502 {
		t.Fatalf("Commit = v%d, %v", p.Version, err)
	}
}

// TestLatestVersionVanished: a log whose versions disappear under a Log
// that has seen them is reported, not silently restarted.
func TestLatestVersionVanished(t *testing.T) {
	b := objstore.NewMem()
	ctx := t.Context()
	l := NewCatalogLog(b, LogOptions{})
	// With only version 1 seen, the vanishing is noticed too.
	one := NewCatalogLog(b, LogOptions{})
	if _, err := one.Commit(ctx, addNamespace("first"), CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, one.VersionKey(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := one.LatestVersion(ctx); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version 1 was seen") {
		t.Fatalf("LatestVersion after v1 vanished = %v", err)
	}
	for i := range 3 {
		if _, err := l.Commit(ctx, addNamespace(fmt.Sprintf("n%d", i)), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for v := uint64(1); v <= 3; v++ {
		if err := b.Delete(ctx, l.VersionKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.LatestVersion(ctx); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version 3 was seen") {
		t.Fatalf("LatestVersion = %v", err)
	}
	if _, err := l.Commit(ctx, addNamespace("x"), CommitOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Commit = %v", err)
	}
}

// TestOldVersionsCollected: garbage collection of old versions does not
// disturb readers or committers.
func TestOldVersionsCollected(t *testing.T) {
	b := objstore.NewMem()
	ctx := t.Context()
	l := NewCatalogLog(b, LogOptions{})
	for i := range 5 {
		if _, err := l.Commit(ctx, addNamespace(fmt.Sprintf("n%d", i)), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for v := uint64(1); v <= 4; v++ {
		if err := b.Delete(ctx, l.VersionKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	putRaw(t, b, "catalog/latest", "2") // stale hint pointing at a collected version
	fresh := NewCatalogLog(b, LogOptions{})
	if v, err := fresh.LatestVersion(ctx); err != nil || v != 5 {
		t.Fatalf("LatestVersion = %d, %v", v, err)
	}
	if _, err := fresh.Load(ctx, 2); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("Load(2) = %v", err)
	}
	if c, err := fresh.Commit(ctx, addNamespace("x"), CommitOptions{}); err != nil || c.Version != 6 {
		t.Fatalf("Commit = %v", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	b := objstore.NewMem()
	ctx := t.Context()
	cat := NewCatalogLog(b, LogOptions{})
	putRaw(t, b, cat.VersionKey(1), `{"format_version":1,"version":1`)
	_, err := cat.Load(ctx, 1)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "catalog/v/00000000000000000001.json v1") || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Load(truncated) = %v", err)
	}
	if _, err := cat.Latest(ctx); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Latest = %v", err)
	}
	// A corrupt head blocks commits instead of being overwritten.
	if _, err := cat.Commit(ctx, addNamespace("x"), CommitOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Commit over a corrupt head = %v", err)
	}

	// An object holding another version than its key says.
	c2 := &Catalog{Header: Header{FormatVersion: 1, Version: 7}}
	data, err := EncodeCatalog(c2)
	if err != nil {
		t.Fatal(err)
	}
	putRaw(t, b, cat.VersionKey(2), string(data))
	if _, err := cat.Load(ctx, 2); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "holds version 7") {
		t.Fatalf("Load(misplaced) = %v", err)
	}

	// A partition manifest stored in another partition's log.
	p := &Partition{Header: Header{FormatVersion: 1, Version: 1}, TableID: "T", Partition: "alice"}
	data, err = EncodePartition(p)
	if err != nil {
		t.Fatal(err)
	}
	bob := NewPartitionLog(b, "T", "bob", LogOptions{})
	putRaw(t, b, bob.VersionKey(1), string(data))
	if _, err := bob.Load(ctx, 1); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `holds partition "alice"`) {
		t.Fatalf("Load(other partition) = %v", err)
	}
	// A newer format is reported as such.
	putRaw(t, b, cat.VersionKey(3), `{"format_version":3}`)
	if _, err := cat.Load(ctx, 3); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("Load(newer format) = %v", err)
	}
}

func TestLogConstruction(t *testing.T) {
	ctx := t.Context()
	b := objstore.NewMem()
	for name, l := range map[string]*Log[*Partition]{
		"bad table id":    NewPartitionLog(b, "a/b", "", LogOptions{}),
		"bad partition":   NewPartitionLog(b, "T", "\xff", LogOptions{}),
		"nil bucket":      NewPartitionLog(nil, "T", "", LogOptions{}),
		"bad options":     NewPartitionLog(b, "T", "", LogOptions{MaxAttempts: -1}),
		"backoff swapped": NewPartitionLog(b, "T", "", LogOptions{MinBackoff: time.Second, MaxBackoff: time.Millisecond}),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := l.LatestVersion(ctx); err == nil {
				t.Fatal("LatestVersion succeeded")
			}
			if _, err := l.Latest(ctx); err == nil {
				t.Fatal("Latest succeeded")
			}
			if _, err := l.Load(ctx, 1); err == nil {
				t.Fatal("Load succeeded")
			}
			if _, err := l.Commit(ctx, appendSegment("x", 1), CommitOptions{}); err == nil {
				t.Fatal("Commit succeeded")
			}
		})
	}
	var zero Log[*Catalog]
	var nilLog *Log[*Catalog]
	for _, l := range []*Log[*Catalog]{&zero, nilLog} {
		if _, err := l.LatestVersion(ctx); err == nil {
			t.Fatal("zero Log: LatestVersion succeeded")
		}
		if _, err := l.Commit(ctx, addNamespace("x"), CommitOptions{}); err == nil {
			t.Fatal("zero Log: Commit succeeded")
		}
		if _, _, err := AcquireWriter(ctx, l, "n"); err == nil {
			t.Fatal("zero Log: AcquireWriter succeeded")
		}
	}
	if n := len(versionKeys(t, b, "tables/T/shared/")); n != 0 {
		t.Fatalf("%d versions written by invalid logs", n)
	}
}

func TestLogOptions(t *testing.T) {
	var o LogOptions
	o.EnsureDefaults()
	if o.MaxAttempts != 30 || o.MinBackoff != 2*time.Millisecond || o.MaxBackoff != 250*time.Millisecond ||
		o.Clock == nil || o.Logger == nil || o.Rand == nil {
		t.Fatalf("defaults: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := LogOptions{MaxAttempts: -1, MinBackoff: -1, MaxBackoff: -2}
	bad.EnsureDefaults()
	err := bad.Validate()
	for _, want := range []string{"MaxAttempts", "MinBackoff must not be negative", "MaxBackoff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (&LogOptions{}).Validate(); err == nil {
		t.Error("Validate before EnsureDefaults passed")
	}
}

func TestBackoff(t *testing.T) {
	var draws []int64
	l := NewCatalogLog(objstore.NewMem(), LogOptions{
		Rand: func(n int64) int64 { draws = append(draws, n); return n - 1 }, // always the maximum
	})
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 250, 250}
	for i, w := range want {
		if got := l.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
	l.opts.Rand = func(int64) int64 { return 0 } // the minimum
	if got := l.backoff(1); got != time.Millisecond {
		t.Errorf("min backoff(1) = %s", got)
	}
	if got := l.backoff(100); got != 125*time.Millisecond {
		t.Errorf("min backoff(100) = %s", got)
	}
}

// An empty log (a partition never flushed) is read on every INSERT and
// point read: after its first listing, LatestVersion lists it again but
// does not read the hint; once a version exists, it is found.
func TestLatestVersionOfEmptyLogSkipsHint(t *testing.T) {
	ctx := context.Background()
	c := objstore.NewCounting(objstore.NewMem())
	l := NewPartitionLog(c, "tbl", "u1", LogOptions{})
	for i := range 3 {
		c.Reset()
		if v, err := l.LatestVersion(ctx); err != nil || v != 0 {
			t.Fatalf("call %d: version %d, %v", i, v, err)
		}
		want := objstore.OpCounts{List: 1}
		if i == 0 {
			want.Get = 1 // the hint
		}
		if got := c.Counts(); got != want {
			t.Fatalf("call %d: requests %+v, want %+v", i, got, want)
		}
	}
	other := NewPartitionLog(c, "tbl", "u1", LogOptions{})
	if _, err := other.Commit(ctx, func(p *Partition) (*Partition, error) { return p, nil }, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, err := l.LatestVersion(ctx); err != nil || v != 1 {
		t.Fatalf("after another writer's commit: version %d, %v", v, err)
	}
}
