package objstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func newTestFS(t *testing.T) *FS {
	t.Helper()
	f, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// A stopped clock must not make two puts share an ETag: Put stamps each
// version strictly after the one it replaces.
func TestFSETagWithStoppedClock(t *testing.T) {
	f := newTestFS(t)
	frozen := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.now = func() time.Time { return frozen }
	ctx := t.Context()
	seen := map[string]bool{}
	var last Attrs
	for i := range 20 {
		a, err := f.Put(ctx, "k", []byte("same"), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[a.ETag] {
			t.Fatalf("put %d repeated etag %q", i, a.ETag)
		}
		seen[a.ETag] = true
		if i > 0 && !a.LastModified.After(last.LastModified) {
			t.Errorf("put %d: LastModified %v not after %v", i, a.LastModified, last.LastModified)
		}
		last = a
	}
	head, err := f.Attributes(ctx, "k")
	if err != nil || head != last {
		t.Errorf("attributes = %+v, %v; want %+v", head, err, last)
	}
}

// A writer waiting for a key's lock gives up when its context ends.
func TestFSLockHonoursContext(t *testing.T) {
	f := newTestFS(t)
	unlock, err := f.locks.lock(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = f.Put(ctx, "k", []byte("x"), PutOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("put while locked: got %v, want DeadlineExceeded", err)
	}
	if err := f.Delete(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delete while locked: got %v, want DeadlineExceeded", err)
	}
	// Other stripes are not blocked.
	other := "k2"
	for stripe(other) == stripe("k") {
		other += "x"
	}
	if _, err := f.Put(t.Context(), other, []byte("x"), PutOptions{}); err != nil {
		t.Errorf("put on another stripe: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(f.root, fsTmpDir)); len(entries) != 0 {
		t.Errorf("staged files left behind: %d", len(entries))
	}
}

func TestFSRemovesStaleStagedFiles(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, fsTmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(tmp, "put-stale"), filepath.Join(tmp, "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * fsStaleTmp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	f, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale staged file survived: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh staged file (maybe another process's put) was removed: %v", err)
	}
}
