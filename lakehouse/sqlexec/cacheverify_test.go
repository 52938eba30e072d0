package sqlexec_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/manifest"
)

// A cached segment file changed on disk is verified again before it is
// read, and a damaged one is dropped and fetched again: flipping bytes in
// <data_dir>/cache/*.parquet never gives a wrong answer (issue 11, 7).
func TestDamagedCacheFileIsFetchedAgain(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE public.t (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t SELECT i, 'value-' || i FROM range(2000) t(i)")
	h.must(root, "FLUSH TABLE t")
	const q = "SELECT count(*), sum(id), min(v), max(v), sum(length(v)) FROM t"
	want := h.rows(alice, q)
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 30; trial++ {
		files, _ := filepath.Glob(filepath.Join(h.dir, "cache", "*.parquet"))
		if len(files) == 0 {
			t.Fatal("no cached segment")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			i := rng.IntN(len(b))
			b[i] ^= byte(1 + rng.IntN(255))
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res, err := h.exec(alice, q)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		got := h.rows(alice, q)
		if !slices.Equal(got, want) || len(res) != 1 {
			t.Fatalf("trial %d: %v, want %v", trial, got, want)
		}
	}
}

// Deleting the latest manifest version of a partition a node has read is
// reported as DATA_LOSS, not answered from the older version (issue 11,
// 8): an acknowledged row never silently disappears.
func TestDeletedHeadManifestIsDataLoss(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE public.t (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t VALUES (1)")
	h.must(root, "FLUSH TABLE t")
	h.must(root, "INSERT INTO t VALUES (2)")
	h.must(root, "FLUSH TABLE t")
	if got := h.rows(alice, "SELECT count(*) FROM t"); got[0] != "2" {
		t.Fatalf("count %v", got)
	}
	var heads []string
	_ = filepath.WalkDir(filepath.Join(h.dir, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) == "v" && strings.Contains(p, "shared") {
			heads = append(heads, p)
		}
		return nil
	})
	slices.Sort(heads)
	if len(heads) < 2 {
		t.Fatalf("partition versions: %v", heads)
	}
	if err := os.Remove(heads[len(heads)-1]); err != nil {
		t.Fatal(err)
	}
	// While this node holds the writer lease and confirmed the head within
	// the log's head TTL, it reads its own head (issue 15): the answer is
	// still the latest state, never the older version.
	if got := h.rows(alice, "SELECT count(*) FROM t"); got[0] != "2" {
		t.Fatalf("count from the held head %v, want 2", got)
	}
	// Once the head is listed again, the loss is reported.
	h.advance(manifest.DefaultHeadTTL + time.Second)
	_, err := h.exec(alice, "SELECT count(*) FROM t")
	var de *dberr.Error
	if !errors.As(err, &de) || de.Code != dberr.DataLoss {
		t.Fatalf("after the head manifest was deleted: %v, want DATA_LOSS", err)
	}
}
