package manifest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// Prune keeps the latest version, the versions modified since the cutoff
// and the one current when it passed; it deletes the rest, oldest first,
// and the log goes on: another process finds the latest version and
// commits on top of it. The latest version is never deleted, even when
// every version is older than the cutoff.
func TestPrune(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := t.Context()
		opts := testOpts("node-a")
		opts.HintEvery = 2
		l := NewCatalogLog(b, opts)
		commit := func(l *Log[*Catalog], ns string) {
			t.Helper()
			if _, err := l.Commit(ctx, addNamespace(ns), CommitOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			commit(l, fmt.Sprintf("old%d", i))
		}
		// Object stores keep LastModified to the second (S3): the cutoff
		// is a whole second after version 3 and before version 4.
		time.Sleep(1100 * time.Millisecond)
		cutoff := time.Now().Truncate(time.Second)
		commit(l, "new0")
		commit(l, "new1")

		if res, err := l.Prune(ctx, cutoff.Add(-time.Hour)); err != nil || res.Deleted != 0 || res.OldestKeptVersion != 1 {
			t.Fatalf("prune before every version: %+v, %v", res, err)
		}
		res, err := l.Prune(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if want := (PruneResult{LatestVersion: 5, OldestKeptVersion: 3, Deleted: 2}); res != want {
			t.Fatalf("prune: %+v, want %+v", res, want)
		}
		for v := uint64(1); v <= 5; v++ {
			_, err := l.Load(ctx, v)
			if gone := errors.Is(err, ErrVersionNotFound); gone != (v < 3) || !gone && err != nil {
				t.Fatalf("load v%d after the prune: %v", v, err)
			}
		}
		if res, err := l.Prune(ctx, cutoff); err != nil || res.Deleted != 0 {
			t.Fatalf("second prune: %+v, %v", res, err)
		}

		// Another process: the hint may name a deleted version; the
		// listing from it still finds the latest.
		l2 := NewCatalogLog(b, testOpts("node-b"))
		if v, err := l2.LatestVersion(ctx); err != nil || v != 5 {
			t.Fatalf("latest in another process: %d, %v", v, err)
		}
		commit(l2, "after")
		c, err := l2.Latest(ctx)
		if err != nil || c.Version != 6 || len(c.Namespaces) != 6 {
			t.Fatalf("commit after the prune: %+v, %v", c, err)
		}

		// Every version older than the cutoff: the latest stays.
		res, err = l2.Prune(ctx, time.Now().Add(time.Hour))
		if err != nil || res.OldestKeptVersion != 6 || res.Deleted != 3 {
			t.Fatalf("prune of everything: %+v, %v", res, err)
		}
		if c, err := NewCatalogLog(b, testOpts("node-c")).Latest(ctx); err != nil || c.Version != 6 {
			t.Fatalf("latest after pruning everything else: %+v, %v", c, err)
		}
	})
}
