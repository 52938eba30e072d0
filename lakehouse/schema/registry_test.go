package schema

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/floedb/floe/manifest"
)

// fakeSource is an in-memory CatalogSource that counts calls.
type fakeSource struct {
	mu       sync.Mutex
	versions []*manifest.Catalog // versions[i] has Version i+1
	latestN  atomic.Int64
	loadN    atomic.Int64
}

func (f *fakeSource) LatestVersion(context.Context) (uint64, error) {
	f.latestN.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.versions)), nil
}

func (f *fakeSource) Load(_ context.Context, v uint64) (*manifest.Catalog, error) {
	f.loadN.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if v == 0 || v > uint64(len(f.versions)) {
		return nil, fmt.Errorf("no version %d", v)
	}
	return f.versions[v-1], nil
}

// commit appends a new version made by mutating a deep copy of the latest.
func (f *fakeSource) commit(mutate func(c *manifest.Catalog)) *manifest.Catalog {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := &manifest.Catalog{}
	if n := len(f.versions); n > 0 {
		prev := f.versions[n-1]
		next.Namespaces = append(next.Namespaces, prev.Namespaces...)
		for _, tb := range prev.Tables {
			tb.Columns = append([]manifest.Column(nil), tb.Columns...)
			tb.PrimaryKey = append([]string(nil), tb.PrimaryKey...)
			next.Tables = append(next.Tables, tb)
		}
		next.Views = (&manifest.Catalog{Views: prev.Views}).Clone().Views
	}
	mutate(next)
	next.FormatVersion = 1
	next.Version = uint64(len(f.versions) + 1)
	f.versions = append(f.versions, next)
	return next
}

// tenColumnTable is a representative table: ten columns of mixed types.
func tenColumnTable(i int) manifest.Table {
	cols := []manifest.Column{
		{ID: 1, Name: "id", Type: manifest.BigInt},
		{ID: 2, Name: "owner", Type: manifest.Text},
		{ID: 3, Name: "title", Type: manifest.Text, Nullable: true},
		{ID: 4, Name: "done", Type: manifest.Boolean, Nullable: true, Default: "false"},
		{ID: 5, Name: "priority", Type: manifest.Int, Nullable: true},
		{ID: 6, Name: "score", Type: manifest.Double, Nullable: true},
		{ID: 7, Name: "price", Type: manifest.Decimal(12, 2), Nullable: true},
		{ID: 8, Name: "due", Type: manifest.Date, Nullable: true},
		{ID: 9, Name: "created_at", Type: manifest.Timestamp, Default: "NOW()"},
		{ID: 10, Name: "attrs", Type: manifest.JSON, Nullable: true},
	}
	return manifest.Table{
		ID: fmt.Sprintf("t%06d", i), Namespace: "app", Name: fmt.Sprintf("todos_%d", i),
		Type: manifest.TableUser, Columns: cols, PrimaryKey: []string{"id"},
		SchemaVersion: 1, NextColumnID: 11,
	}
}

func newTestRegistry(tables int) (*Registry, *fakeSource) {
	src := &fakeSource{}
	src.commit(func(c *manifest.Catalog) {
		c.Namespaces = []manifest.Namespace{{Name: "app"}}
		for i := 0; i < tables; i++ {
			c.Tables = append(c.Tables, tenColumnTable(i))
		}
	})
	return New(src, Options{RefreshInterval: time.Hour}), src
}

func TestOneBuildPerThousandLookups(t *testing.T) {
	reg, _ := newTestRegistry(3)
	snap, err := reg.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tb, err := snap.Table("app", "todos_1")
	if err != nil {
		t.Fatal(err)
	}
	var first *arrow.Schema
	for i := 0; i < 1000; i++ {
		s, err := tb.ArrowSchema()
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = s
		} else if s != first {
			t.Fatalf("lookup %d returned a different schema instance", i)
		}
	}
	st := reg.Stats()
	if st.Misses != 1 || st.Hits != 999 {
		t.Fatalf("stats = %+v, want 1 miss and 999 hits", st)
	}
	if st.HitRate() < 0.99 {
		t.Fatalf("hit rate %.4f < 0.99", st.HitRate())
	}
}

func TestConcurrentFirstLookupBuildsOnce(t *testing.T) {
	for round := 0; round < 20; round++ {
		reg, _ := newTestRegistry(1)
		snap, err := reg.Current(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		const n = 64
		var start, done sync.WaitGroup
		start.Add(1)
		results := make([]*arrow.Schema, n)
		for i := 0; i < n; i++ {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				tb, err := snap.TableByID("t000000")
				if err != nil {
					t.Error(err)
					return
				}
				results[i], _ = tb.ArrowSchema()
			}()
		}
		start.Done()
		done.Wait()
		if st := reg.Stats(); st.Misses != 1 || st.Hits != n-1 {
			t.Fatalf("round %d: stats = %+v, want exactly one build", round, st)
		}
		for i := range results {
			if results[i] != results[0] || results[i] == nil {
				t.Fatalf("round %d: goroutine %d got a different schema", round, i)
			}
		}
	}
}

func TestNewCatalogVersionKeepsUnchangedMemos(t *testing.T) {
	ctx := context.Background()
	reg, src := newTestRegistry(2)
	snap1, _ := reg.Current(ctx)
	a1 := mustSchema(t, snap1, "todos_0")
	b1 := mustSchema(t, snap1, "todos_1")

	// v2 adds a namespace and changes an option of todos_0: no schema change.
	src.commit(func(c *manifest.Catalog) {
		c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: "other"})
		c.Tables[0].Options.FlushRows = 5000
	})
	snap2, err := reg.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Version() != 2 {
		t.Fatalf("version = %d, want 2", snap2.Version())
	}
	if a2 := mustSchema(t, snap2, "todos_0"); a2 != a1 {
		t.Fatal("unchanged table todos_0 lost its memo")
	}
	if got, _ := snap2.Table("app", "todos_0"); got.Def().Options.FlushRows != 5000 {
		t.Fatal("snapshot v2 does not carry the new table options")
	}
	if st := reg.Stats(); st.Misses != 2 {
		t.Fatalf("misses = %d after an unrelated change, want 2", st.Misses)
	}

	// v3 adds a column to todos_1 (new schema version): only it is rebuilt.
	src.commit(func(c *manifest.Catalog) {
		tb := &c.Tables[1]
		tb.Columns = append(tb.Columns, manifest.Column{ID: 11, Name: "note", Type: manifest.Text, Nullable: true})
		tb.NextColumnID = 12
		tb.SchemaVersion = 2
	})
	snap3, _ := reg.Refresh(ctx)
	b3 := mustSchema(t, snap3, "todos_1")
	if b3 == b1 {
		t.Fatal("changed table todos_1 served its old schema")
	}
	if b3.NumFields() != b1.NumFields()+1 {
		t.Fatalf("new schema has %d fields, want %d", b3.NumFields(), b1.NumFields()+1)
	}
	if mustSchema(t, snap3, "todos_0") != a1 {
		t.Fatal("todos_0 memo lost by a change to todos_1")
	}
	// The old snapshot still serves the old schema (readers holding it keep working).
	if mustSchema(t, snap1, "todos_1") != b1 {
		t.Fatal("old snapshot's schema changed under it")
	}
	if st := reg.Stats(); st.Misses != 3 {
		t.Fatalf("misses = %d, want 3", st.Misses)
	}
}

func TestInvalidateAndClear(t *testing.T) {
	ctx := context.Background()
	reg, src := newTestRegistry(2)
	snap, _ := reg.Current(ctx)
	a := mustSchema(t, snap, "todos_0")
	b := mustSchema(t, snap, "todos_1")

	reg.Invalidate("t000000")
	reg.Invalidate("no-such-table")
	if mustSchema(t, snap, "todos_0") == a {
		t.Fatal("Invalidate did not drop the memo")
	}
	if mustSchema(t, snap, "todos_1") != b {
		t.Fatal("Invalidate dropped another table's memo")
	}
	if st := reg.Stats(); st.Misses != 3 {
		t.Fatalf("misses = %d, want 3", st.Misses)
	}

	loads := src.loadN.Load()
	reg.Clear()
	if _, err := reg.ArrowSchema("t000000"); !errors.Is(err, ErrTableNotFound) {
		t.Fatalf("after Clear, ArrowSchema err = %v, want ErrTableNotFound", err)
	}
	snap2, err := reg.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if src.loadN.Load() != loads+1 {
		t.Fatal("Clear did not force a reload")
	}
	if mustSchema(t, snap2, "todos_1") == b {
		t.Fatal("Clear kept a memo")
	}
}

func TestCurrentHonoursRefreshInterval(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	src.commit(func(c *manifest.Catalog) {
		c.Namespaces = []manifest.Namespace{{Name: "app"}}
		c.Tables = []manifest.Table{tenColumnTable(0)}
	})
	now := time.Unix(1_000_000, 0)
	reg := New(src, Options{RefreshInterval: 2 * time.Second, Clock: func() time.Time { return now }})

	if _, err := reg.Current(ctx); err != nil {
		t.Fatal(err)
	}
	if src.latestN.Load() != 1 || src.loadN.Load() != 1 {
		t.Fatalf("first Current: latest=%d load=%d", src.latestN.Load(), src.loadN.Load())
	}
	now = now.Add(time.Second)
	for i := 0; i < 100; i++ {
		if _, err := reg.Current(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if src.latestN.Load() != 1 {
		t.Fatalf("Current inside the interval touched the source %d times", src.latestN.Load()-1)
	}
	now = now.Add(1500 * time.Millisecond)
	if _, err := reg.Current(ctx); err != nil {
		t.Fatal(err)
	}
	if src.latestN.Load() != 2 || src.loadN.Load() != 1 {
		t.Fatalf("stale unchanged: latest=%d load=%d, want 2 and 1", src.latestN.Load(), src.loadN.Load())
	}
	src.commit(func(c *manifest.Catalog) { c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: "b"}) })
	// Still fresh (checked just now): a plain Current does not see v2 ...
	if s, _ := reg.Current(ctx); s.Version() != 1 {
		t.Fatalf("version = %d, want 1 within the interval", s.Version())
	}
	// ... but a client holding version 2 gets it at once.
	s, err := reg.AtLeast(ctx, 2)
	if err != nil || s.Version() != 2 {
		t.Fatalf("AtLeast(2) = v%d, %v", s.Version(), err)
	}
	if _, err := reg.AtLeast(ctx, 9); !errors.Is(err, ErrVersionNotVisible) {
		t.Fatalf("AtLeast(9) err = %v, want ErrVersionNotVisible", err)
	}
}

func TestInstallIgnoresOlderVersions(t *testing.T) {
	ctx := context.Background()
	reg, src := newTestRegistry(1)
	v2 := src.commit(func(c *manifest.Catalog) { c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: "b"}) })
	if s := reg.Install(v2); s.Version() != 2 {
		t.Fatalf("Install(v2) -> v%d", s.Version())
	}
	v1, _ := src.Load(ctx, 1)
	if s := reg.Install(v1); s.Version() != 2 {
		t.Fatalf("Install(v1) replaced v2: now v%d", s.Version())
	}
}

func TestEmptyWarehouse(t *testing.T) {
	reg := New(&fakeSource{}, Options{})
	s, err := reg.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != 0 || s.Tables() != 0 {
		t.Fatalf("empty warehouse: v%d with %d tables", s.Version(), s.Tables())
	}
	if _, err := s.Table("a", "b"); !errors.Is(err, ErrTableNotFound) {
		t.Fatalf("err = %v", err)
	}
}

// Lookups, refreshes and installs racing each other (run with -race).
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	reg, src := newTestRegistry(10)
	reg.opts.RefreshInterval = -1 // every Current checks the source
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := reg.Current(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				for i := 0; i < 10; i++ {
					if _, err := reg.ArrowSchema(fmt.Sprintf("t%06d", i)); err != nil {
						t.Error(err)
						return
					}
				}
				_ = s.Tables()
			}
		}()
	}
	for v := 0; v < 50; v++ {
		src.commit(func(c *manifest.Catalog) { c.Tables[v%10].Options.FlushRows = int64(v) })
		if v%7 == 0 {
			reg.Invalidate(fmt.Sprintf("t%06d", v%10))
		}
	}
	close(stop)
	wg.Wait()
	if st := reg.Stats(); st.Misses > 10+8 {
		t.Fatalf("misses = %d: unchanged tables were rebuilt", st.Misses)
	}
}

func mustSchema(t *testing.T, s *Snapshot, name string) *arrow.Schema {
	t.Helper()
	tb, err := s.Table("app", name)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := tb.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
