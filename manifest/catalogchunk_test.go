package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// addTable returns a mutation that adds a small SHARED table to namespace
// "app", creating the namespace if needed.
func addTable(id, name string) func(*Catalog) (*Catalog, error) {
	return func(c *Catalog) (*Catalog, error) {
		if _, ok := c.Namespace("app"); !ok {
			c.Namespaces = append(c.Namespaces, Namespace{Name: "app", CreatedAt: testTime})
		}
		if _, ok := c.TableByID(id); ok {
			return nil, fmt.Errorf("table %s exists", id)
		}
		c.Tables = append(c.Tables, Table{
			ID: id, Namespace: "app", Name: name, Type: TableShared, PrimaryKey: []string{"id"},
			Columns:       []Column{{ID: 1, Name: "id", Type: BigInt}, {ID: 2, Name: "v", Type: Text, Nullable: true}},
			SchemaVersion: 1, NextColumnID: 3, CreatedAt: testTime, UpdatedAt: testTime,
		})
		return c, nil
	}
}

// seedTables returns a mutation that adds n tables of bigCatalog's
// shape, in its namespaces.
func seedTables(n int) func(*Catalog) (*Catalog, error) {
	return func(c *Catalog) (*Catalog, error) {
		big := bigCatalog(n)
		c.Namespaces = append(c.Namespaces, big.Namespaces...)
		c.Tables = append(c.Tables, big.Tables...)
		return c, nil
	}
}

// tableIDs returns the sorted IDs of c's tables.
func tableIDs(c *Catalog) []string {
	ids := make([]string, len(c.Tables))
	for i, t := range c.Tables {
		ids[i] = t.ID
	}
	slices.Sort(ids)
	return ids
}

// sameCatalog fails unless a and b hold the same catalog, table order
// aside.
func sameCatalog(t *testing.T, a, b *Catalog) {
	t.Helper()
	sorted := func(c *Catalog) string {
		c = c.Clone()
		slices.SortFunc(c.Tables, func(x, y Table) int { return strings.Compare(x.ID, y.ID) })
		return mustEncodeCatalog(t, c)
	}
	if sa, sb := sorted(a), sorted(b); sa != sb {
		t.Fatalf("catalogs differ:\n%.2000s\n%.2000s", sa, sb)
	}
}

// putLog records the keys and sizes of the puts to a bucket.
type putLog struct {
	objstore.Bucket
	mu   sync.Mutex
	puts []string
	size map[string]int
}

func (p *putLog) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	a, err := p.Bucket.Put(ctx, key, data, opts)
	if err == nil {
		p.mu.Lock()
		p.puts = append(p.puts, key)
		if p.size == nil {
			p.size = map[string]int{}
		}
		p.size[key] = len(data)
		p.mu.Unlock()
	}
	return a, err
}

func (p *putLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.puts
	p.puts = nil
	return out
}

// chunkKeys lists the chunk objects in b.
func chunkKeys(t *testing.T, b objstore.Bucket) []string {
	t.Helper()
	return objstoretest.Keys(t, b, ChunksPrefix, "")
}

// A DDL on a catalog of many tables writes one chunk and a small root,
// chunk first; another process reads the same catalog, and each process
// sees the other's tables.
func TestCatalogChunkedCommit(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		pl := &putLog{Bucket: b}
		a := NewCatalogLog(pl, testOpts("node-a"))
		seeded, err := a.Commit(ctx, seedTables(2000), CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(chunkKeys(t, b)); n != CatalogShards {
			t.Fatalf("%d chunks after seeding 2000 tables, want %d", n, CatalogShards)
		}
		pl.take()
		got, err := a.Commit(ctx, addTable("NEW1", "new1"), CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		puts := pl.take()
		if len(puts) != 2 || !strings.HasPrefix(puts[0], ChunksPrefix) || puts[1] != a.VersionKey(got.Version) {
			t.Fatalf("a DDL put %v, want one chunk and then the root", puts)
		}
		t.Logf("root %d bytes, chunk %d bytes (2001 tables)", pl.size[puts[1]], pl.size[puts[0]])
		if pl.size[puts[1]] > 32<<10 || pl.size[puts[0]] > 32<<10 {
			t.Fatalf("a DDL wrote a root of %d and a chunk of %d bytes", pl.size[puts[1]], pl.size[puts[0]])
		}
		if len(got.Tables) != len(seeded.Tables)+1 {
			t.Fatalf("%d tables after the DDL", len(got.Tables))
		}

		// Another process reads it all, and they take turns.
		bl := NewCatalogLog(b, testOpts("node-b"))
		cold, err := bl.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameCatalog(t, got, cold)
		if _, err := bl.Commit(ctx, addTable("NEWB", "newb"), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Commit(ctx, addTable("NEW2", "new2"), CommitOptions{}); err != nil {
			t.Fatal(err) // on a stale cached head: retried on b's version
		}
		latestA, err := a.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		latestB, err := bl.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameCatalog(t, latestA, latestB)
		for _, id := range []string{"NEW1", "NEWB", "NEW2"} {
			if _, ok := latestB.TableByID(id); !ok {
				t.Fatalf("table %s missing from %v", id, tableIDs(latestB)[:5])
			}
		}
		// Every version decodes in a cold process.
		for v := uint64(1); v <= latestB.Version; v++ {
			if _, err := NewCatalogLog(b, LogOptions{}).Load(ctx, v); err != nil {
				t.Fatalf("load v%d cold: %v", v, err)
			}
		}
	})
}

func isRootKey(key string) bool { return strings.HasPrefix(key, CatalogPrefix+versionsDir) }

// A crash between the chunk puts and the root's put leaves an orphan
// chunk and the catalog as it was. Prune later removes the orphan, but
// not the chunk of a commit whose root is not yet visible.
func TestCatalogCrashBetweenChunkAndRoot(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		f := objstore.NewFaulty(b)
		opts := testOpts("node-a")
		opts.MaxAttempts = 1
		opts.Clock = time.Now // Prune compares with the store's times
		l := NewCatalogLog(f, opts)
		before, err := l.Commit(ctx, seedTables(300), CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		chunksBefore := chunkKeys(t, b)

		// The "crash": the root's put never lands.
		f.SetHook(func(_ context.Context, op, key string) error {
			if op == objstore.OpPut && isRootKey(key) {
				return errors.New("process died")
			}
			return nil
		})
		if _, err := l.Commit(ctx, addTable("ORPHAN", "orphan"), CommitOptions{}); err == nil {
			t.Fatal("commit succeeded without its root")
		}
		f.SetHook(nil)
		orphans := slices.DeleteFunc(chunkKeys(t, b), func(k string) bool { return slices.Contains(chunksBefore, k) })
		if len(orphans) != 1 {
			t.Fatalf("orphan chunks %v, want 1", orphans)
		}
		cold, err := NewCatalogLog(b, LogOptions{}).Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameCatalog(t, before, cold)

		// A young orphan may be a commit in flight: kept.
		if res, err := l.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || res.ChunksDeleted != 0 {
			t.Fatalf("prune with an old cutoff: %+v, %v", res, err)
		}
		// Stores keep LastModified to the second: the cutoff is a whole
		// second after the orphan was written.
		time.Sleep(1100 * time.Millisecond)
		cutoff := time.Now().Truncate(time.Second)

		// A commit in flight: its chunk is put, its root waits.
		release := make(chan struct{})
		waiting := make(chan struct{})
		f.SetHook(func(_ context.Context, op, key string) error {
			if op == objstore.OpPut && isRootKey(key) {
				close(waiting)
				<-release
			}
			return nil
		})
		done := make(chan error, 1)
		l2 := NewCatalogLog(f, opts)
		go func() {
			_, err := l2.Commit(ctx, addTable("INFLIGHT", "inflight"), CommitOptions{})
			done <- err
		}()
		<-waiting
		inflight := slices.DeleteFunc(chunkKeys(t, b), func(k string) bool {
			return slices.Contains(chunksBefore, k) || slices.Contains(orphans, k)
		})
		if len(inflight) != 1 {
			t.Fatalf("chunks of the commit in flight: %v, want 1", inflight)
		}
		res, err := NewCatalogLog(b, opts).Prune(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if res.ChunksDeleted != 1 {
			t.Fatalf("prune deleted %d chunks, want the orphan", res.ChunksDeleted)
		}
		left := chunkKeys(t, b)
		if slices.Contains(left, orphans[0]) || !slices.Contains(left, inflight[0]) {
			t.Fatalf("after the prune: orphan %s, in flight %s, chunks %d", orphans[0], inflight[0], len(left))
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		f.SetHook(nil)
		after, err := NewCatalogLog(b, LogOptions{}).Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := after.TableByID("INFLIGHT"); !ok || len(after.Tables) != len(before.Tables)+1 {
			t.Fatalf("after the commit in flight: %d tables", len(after.Tables))
		}
	})
}

// Prune deletes the chunks only superseded versions referred to, once
// they are older than the cutoff, and every kept version still loads.
func TestPruneChunks(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		opts := testOpts("node-a")
		opts.Clock = time.Now
		l := NewCatalogLog(b, opts)
		if _, err := l.Commit(ctx, seedTables(20), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // each rewrites the chunk of a seeded table
			if _, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
				c.Tables[i].Name = fmt.Sprintf("renamed_%d", i)
				return c, nil
			}, CommitOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(1100 * time.Millisecond)
		cutoff := time.Now().Truncate(time.Second)
		if _, err := l.Commit(ctx, addTable("X3", "x3"), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		before := len(chunkKeys(t, b))
		res, err := l.Prune(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		// Versions 1-3 go; 4 (current at the cutoff) and 5 stay. The
		// chunks of 1-3 that 4 does not share go with them.
		if res.OldestKeptVersion != 4 || res.Deleted != 3 || res.ChunksDeleted == 0 {
			t.Fatalf("prune: %+v", res)
		}
		if after := len(chunkKeys(t, b)); after != before-res.ChunksDeleted {
			t.Fatalf("%d chunks before, %d deleted, %d left", before, res.ChunksDeleted, after)
		}
		for v := uint64(4); v <= 5; v++ {
			if _, err := NewCatalogLog(b, LogOptions{}).Load(ctx, v); err != nil {
				t.Fatalf("load kept v%d cold: %v", v, err)
			}
		}
		// A kept version that cannot be read stops chunk collection.
		putRaw(t, b, l.VersionKey(6), `{"format_version":2,"garbage":true}`)
		kept := chunkKeys(t, b)
		if res, err := l.Prune(ctx, time.Now().Add(time.Hour)); err == nil || res.ChunksDeleted != 0 {
			t.Fatalf("prune with an unreadable kept version: %+v, %v", res, err)
		}
		if left := chunkKeys(t, b); !slices.Equal(left, kept) {
			t.Fatalf("chunks deleted although a kept version could not be read: %d of %d left", len(left), len(kept))
		}
	})
}

// A chunk that cannot be read fails the load: there is no partial catalog.
func TestCatalogChunkReadFails(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		want, err := NewCatalogLog(b, testOpts("node-a")).Commit(ctx, seedTables(500), CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f := objstore.NewFaulty(b)
		var failed sync.Once
		f.SetHook(func(_ context.Context, op, key string) error {
			if op == objstore.OpGet && strings.HasPrefix(key, ChunksPrefix) {
				var err error
				failed.Do(func() { err = objstore.ErrInjected })
				return err
			}
			return nil
		})
		l := NewCatalogLog(f, LogOptions{})
		if c, err := l.Latest(ctx); !errors.Is(err, objstore.ErrInjected) || c != nil {
			t.Fatalf("Latest with a failing chunk read = %v tables, %v", c != nil, err)
		}
		got, err := l.Latest(ctx) // the next read succeeds
		if err != nil {
			t.Fatal(err)
		}
		sameCatalog(t, want, got)

		// A chunk gone from the store is corruption, named.
		keys := chunkKeys(t, b)
		if err := b.Delete(ctx, keys[7]); err != nil {
			t.Fatal(err)
		}
		if _, err := NewCatalogLog(b, LogOptions{}).Latest(ctx); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), keys[7]) {
			t.Fatalf("Latest with a chunk missing = %v", err)
		}
		// A chunk whose bytes do not match its hash is corruption too.
		putRaw(t, b, keys[7], `{"format_version":2,"commit_id":"x","shard":0,"tables":[]}`)
		if _, err := NewCatalogLog(b, LogOptions{}).Latest(ctx); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Latest with a tampered chunk = %v", err)
		}
	})
}

// A catalog written by an older build (single documents, format 1) is
// read; the first commit writes a root and chunks; the old versions stay
// readable; and an older build meeting a root refuses it as a newer
// format instead of misreading it.
func TestCatalogMigration(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		old := validCatalog()
		old.Version, old.FormatVersion = 1, FormatVersion
		data, err := EncodeCatalog(old)
		if err != nil {
			t.Fatal(err)
		}
		l := NewCatalogLog(b, testOpts("node-a"))
		putRaw(t, b, l.VersionKey(1), string(data))
		got, err := l.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if mustEncodeCatalog(t, got) != string(data) || got.FormatVersion != FormatVersion {
			t.Fatalf("format-1 version read as %+v", got)
		}
		next, err := l.Commit(ctx, addTable("MIGRATED", "migrated"), CommitOptions{WriterEpoch: old.WriterEpoch})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := objstoretest.Read(t, b, l.VersionKey(2))
		if !bytes.HasPrefix(raw, []byte(`{"format_version":2,`)) || next.FormatVersion != CatalogFormatVersion {
			t.Fatalf("first commit wrote %.80s", raw)
		}
		if n := len(chunkKeys(t, b)); n < 1 || n > len(old.Tables)+1 {
			t.Fatalf("%d chunks for %d tables", n, len(old.Tables)+1)
		}
		cold := NewCatalogLog(b, LogOptions{})
		v1, err := cold.Load(ctx, 1)
		if err != nil || mustEncodeCatalog(t, v1) != string(data) {
			t.Fatalf("v1 after the migration: %v", err)
		}
		v2, err := cold.Load(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		sameCatalog(t, next, v2)
		// What an older build does with a root: DecodeCatalog is its
		// decoder, unchanged.
		if _, err := DecodeCatalog(raw); !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "format version 2") {
			t.Fatalf("format-1 decoder on a root: %v", err)
		}
	})
}

// TestCatalogCrossProcess: several processes create tables in one
// catalog (a shared directory, and S3 when configured). Every version
// holds one table more than the one before and all of the tables of
// the one before: no process ever committed on a catalog missing
// another's table.
func TestCatalogCrossProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	check := func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		l := NewCatalogLog(b, LogOptions{})
		latest, err := l.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const total = crossProcesses * crossCommitsPer
		if latest.Version != total+1 || len(latest.Tables) != 1000+total {
			t.Fatalf("latest v%d with %d tables, want v%d with %d", latest.Version, len(latest.Tables), total+1, 1000+total)
		}
		var prev []string
		for v := uint64(1); v <= latest.Version; v++ {
			c, err := NewCatalogLog(b, LogOptions{}).Load(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			ids := tableIDs(c)
			if v > 1 && (len(ids) != len(prev)+1 || len(slices.DeleteFunc(slices.Clone(prev), func(id string) bool {
				_, ok := slices.BinarySearch(ids, id)
				return ok
			})) != 0) {
				t.Fatalf("v%d does not extend v%d by one table", v, v-1)
			}
			prev = ids
		}
	}
	seed := func(t *testing.T, b objstore.Bucket) {
		if _, err := NewCatalogLog(b, LogOptions{}).Commit(t.Context(), seedTables(1000), CommitOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("fs", func(t *testing.T) {
		dir := t.TempDir()
		b, err := objstore.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		seed(t, b)
		runHelpers(t, []string{helperDirEnv + "=" + dir, helperKindEnv + "=catalog"})
		check(t, b)
	})
	t.Run("s3", func(t *testing.T) {
		cfg := objstoretest.NewS3ConfigForTest(t)
		b, err := objstore.NewS3(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		seed(t, b)
		runHelpers(t, []string{helperS3Prefix + "=" + cfg.Prefix, helperKindEnv + "=catalog"})
		check(t, b)
	})
}
