package objstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

func newFS(t *testing.T) (*objstore.FS, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, dir
}

func TestFSLayout(t *testing.T) {
	b, dir := newFS(t)
	if want := "file://" + filepath.ToSlash(dir); b.Name() != want {
		t.Errorf("Name() = %q, want %q", b.Name(), want)
	}
	objstoretest.MustPut(t, b, "t/seg/001.parquet", []byte("rows"))
	p, err := b.Path("t/seg/001.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "t", "seg", "001.parquet"); p != want {
		t.Errorf("Path = %q, want %q", p, want)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "rows" {
		t.Errorf("file at Path: %q, %v", got, err)
	}
	if _, err := b.Path("../etc/passwd"); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("Path of an invalid key: %v", err)
	}
	// Staging leaves nothing behind, whether the put wins or loses.
	_, err = b.Put(t.Context(), "t/seg/001.parquet", []byte("x"), objstore.PutOptions{IfNoneMatch: true})
	if !objstore.IsConditionNotMet(err) {
		t.Fatalf("if-none-match on existing key: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, ".floe-tmp")); len(entries) != 0 {
		t.Errorf("staged files left behind: %d", len(entries))
	}
}

func TestFSSameContentNewETag(t *testing.T) {
	b, _ := newFS(t)
	a1 := objstoretest.MustPut(t, b, "k", []byte("same"))
	a2 := objstoretest.MustPut(t, b, "k", []byte("same"))
	if a1.ETag == a2.ETag {
		t.Fatalf("rewriting identical content kept etag %q", a1.ETag)
	}
	// The stale ETag no longer matches, so a compare-and-swap cannot miss
	// an intervening write (no ABA).
	_, err := b.Put(t.Context(), "k", []byte("next"), objstore.PutOptions{IfMatch: a1.ETag})
	if !objstore.IsConditionNotMet(err) {
		t.Errorf("if-match with the etag of identical older content: %v", err)
	}
}

func TestFSReopen(t *testing.T) {
	b, dir := newFS(t)
	a := objstoretest.MustPut(t, b, "x/y", []byte("persisted"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	b2, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	got, attrs := objstoretest.Read(t, b2, "x/y")
	if string(got) != "persisted" || attrs.ETag != a.ETag {
		t.Errorf("after reopen: %q %+v, want etag %q", got, attrs, a.ETag)
	}
}

func TestFSRootIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.NewFS(file); err == nil {
		t.Error("NewFS on a regular file succeeded")
	}
	if _, err := objstore.NewFS(""); err == nil {
		t.Error("NewFS(\"\") succeeded")
	}
}

func TestFSListSkipsForeignFiles(t *testing.T) {
	b, dir := newFS(t)
	objstoretest.MustPut(t, b, "a/b", []byte("1"))
	objstoretest.MustPut(t, b, "c", []byte("2"))
	// Things the bucket did not write: internals, invalid names, symlinks,
	// empty directories.
	for _, d := range []string{"a/.floe-x", "empty/dir"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{".floe-tmp/put-123", "a/.floe-x/y", `back\slash`, "ctl\x01"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "c"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if got := objstoretest.Keys(t, b, "", ""); !slices.Equal(got, []string{"a/b", "c"}) {
		t.Errorf("list = %q, want [a/b c]", got)
	}
}

func TestFSDeletePrunesEmptyDirectories(t *testing.T) {
	b, dir := newFS(t)
	ctx := t.Context()
	objstoretest.MustPut(t, b, "p/q/r/s", []byte("1"))
	objstoretest.MustPut(t, b, "p/keep", []byte("2"))
	if err := b.Delete(ctx, "p/q/r/s"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p", "q")); !os.IsNotExist(err) {
		t.Errorf("empty directory p/q survived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p", "keep")); err != nil {
		t.Errorf("sibling removed: %v", err)
	}
	if err := b.Delete(ctx, "p/keep"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("root removed: %v", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".floe") {
			t.Errorf("left in root: %s", e.Name())
		}
	}
	// Deleting a directory that holds keys is deleting a missing object.
	objstoretest.MustPut(t, b, "m/n", []byte("3"))
	if err := b.Delete(ctx, "m"); err != nil {
		t.Errorf("delete of a directory key: %v", err)
	}
	if got, _ := objstoretest.Read(t, b, "m/n"); string(got) != "3" {
		t.Errorf("m/n = %q after deleting m", got)
	}
}

func TestFSEmptyDirectoryDoesNotBlockPut(t *testing.T) {
	b, dir := newFS(t)
	// Left behind by a crash between mkdir and rename.
	if err := os.MkdirAll(filepath.Join(dir, "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	objstoretest.MustPut(t, b, "x/y", []byte("file now"))
	if got, _ := objstoretest.Read(t, b, "x/y"); string(got) != "file now" {
		t.Errorf("x/y = %q", got)
	}
}

// Mem and FS refuse "a" next to "a/b" in both orders, whatever the
// condition; the acceptance suite also allows AWS S3's acceptance.
func TestPathConflictsRefused(t *testing.T) {
	for name, b := range map[string]objstore.Bucket{"mem": objstore.NewMem(), "fs": objstoretest.NewFSForTest(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			objstoretest.MustPut(t, b, "a/b", []byte("1"))
			objstoretest.MustPut(t, b, "c", []byte("2"))
			for _, key := range []string{"a", "c/d", "c/d/e"} {
				for _, opts := range []objstore.PutOptions{{}, {IfNoneMatch: true}} {
					_, err := b.Put(ctx, key, []byte("x"), opts)
					if !errors.Is(err, objstore.ErrInvalidKey) {
						t.Errorf("put %q %+v: got %v, want ErrInvalidKey", key, opts, err)
					}
				}
			}
			if got := objstoretest.Keys(t, b, "", ""); !slices.Equal(got, []string{"a/b", "c"}) {
				t.Errorf("list = %q", got)
			}
		})
	}
}

// Puts race with Deletes that prune the directories the Puts need, and
// with Puts of conflicting paths. Only ErrInvalidKey (a path conflict at
// that moment) may fail a Put; the tree stays consistent.
func TestFSConcurrentPutDeletePrune(t *testing.T) {
	b, _ := newFS(t)
	ctx := t.Context()
	keys := []string{"s/a/x", "s/a/y", "s/b/x", "s/a", "s/c/d/e"}
	var wg sync.WaitGroup
	for _, key := range keys {
		for range 2 {
			wg.Go(func() {
				for range 25 {
					if _, err := b.Put(ctx, key, []byte(key), objstore.PutOptions{}); err != nil && !errors.Is(err, objstore.ErrInvalidKey) {
						t.Errorf("put %q: %v", key, err)
						return
					}
					if err := b.Delete(ctx, key); err != nil {
						t.Errorf("delete %q: %v", key, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if got := objstoretest.Keys(t, b, "", ""); len(got) != 0 {
		t.Errorf("left over: %q", got)
	}
	for _, key := range keys[:3] {
		objstoretest.MustPut(t, b, key, []byte("final"))
	}
	if got := objstoretest.Keys(t, b, "", ""); !slices.Equal(got, []string{"s/a/x", "s/a/y", "s/b/x"}) {
		t.Errorf("list = %q", got)
	}
}
