package sqlexec_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
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
