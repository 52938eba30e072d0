package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

// checkGolden compares got with testdata/name (-rewrite regenerates it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (run with -rewrite if intended):\n%s", path, got)
	}
}

// TestCatalogFormatGolden pins the bytes of a format-2 catalog version
// (testdata/catalog_v2.golden: the root, then each chunk under its key)
// and checks that the pinned bytes decode to the catalog.
func TestCatalogFormatGolden(t *testing.T) {
	c := validCatalog()
	c.FormatVersion = CatalogFormatVersion
	m := &memChunks{objs: map[string][]byte{}}
	enc, err := newTestStore(m).encode(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- root\n%s", enc.data)
	for _, p := range enc.parts {
		fmt.Fprintf(&out, "--- %s\n%s\n", p.key, p.data)
	}
	checkGolden(t, "catalog_v2.golden", out.String())

	// Decode what the file holds.
	data, err := os.ReadFile(filepath.Join("testdata", "catalog_v2.golden"))
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(data), "--- ")
	var root []byte
	for _, s := range sections[1:] {
		head, body, _ := strings.Cut(s, "\n")
		if head == "root" {
			root = []byte(body)
			continue
		}
		m.objs[head] = []byte(strings.TrimSuffix(body, "\n"))
	}
	got, err := newTestStore(m).decode(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	sameCatalog(t, c, got)
}

var chunkHash = regexp.MustCompile(`[0-9a-f]{64}`)

// TestCatalogCommitIOGolden pins the requests of catalog commits in
// testdata/catalog_io.golden: a first commit, a DDL through a warm Log (one
// chunk, then the root), a cold load (root, then its chunks) and a DDL
// through the cold Log. Chunk hashes, which depend on random commit IDs,
// are numbered in order of appearance.
func TestCatalogCommitIOGolden(t *testing.T) {
	ctx := t.Context()
	rec := &recorder{Bucket: objstore.NewMem()}
	opts := testOpts("golden")
	opts.Rand = func(int64) int64 { return 0 }
	var out strings.Builder
	ids := map[string]string{}
	step := func(name string, fn func() error) {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fmt.Fprintf(&out, "# %s\n", name)
		ops := rec.take()
		for i, op := range ops {
			ops[i] = chunkHash.ReplaceAllStringFunc(op, func(h string) string {
				if _, ok := ids[h]; !ok {
					ids[h] = fmt.Sprintf("<chunk %d>", len(ids)+1)
				}
				return ids[h]
			})
		}
		// Chunks are read in parallel: sort each run of chunk reads.
		for i := 0; i < len(ops); {
			j := i
			for j < len(ops) && strings.HasPrefix(ops[j], "GET  "+ChunksPrefix) {
				j++
			}
			slices.Sort(ops[i:j])
			i = max(j, i+1)
		}
		for _, op := range ops {
			fmt.Fprintf(&out, "%s\n", op)
		}
		out.WriteString("\n")
	}
	l := NewCatalogLog(rec, opts)
	step("first commit: two tables in two shards", func() error {
		_, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			if _, err := addTable("A1", "a1")(c); err != nil {
				return nil, err
			}
			return addTable("A2", "a2")(c)
		}, CommitOptions{})
		return err
	})
	step("CREATE TABLE through the same Log", func() error {
		_, err := l.Commit(ctx, addTable("B1", "b1"), CommitOptions{})
		return err
	})
	cold := NewCatalogLog(rec, opts)
	step("Latest through a new Log (root, then every chunk)", func() error {
		_, err := cold.Latest(ctx)
		return err
	})
	step("CREATE TABLE through that Log", func() error {
		_, err := cold.Commit(ctx, addTable("C1", "c1"), CommitOptions{})
		return err
	})
	checkGolden(t, "catalog_io.golden", out.String())
}
