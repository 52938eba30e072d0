package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func open(t *testing.T, path string) *Dir {
	t.Helper()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestIDIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	d := open(t, path)
	id := d.ID()
	if id == "" || d.Warehouse() != nil {
		t.Fatalf("new data dir: id %q, warehouse %v", id, d.Warehouse())
	}
	d.Close()
	if again := open(t, path); again.ID() != id {
		t.Fatalf("id changed from %q to %q", id, again.ID())
	}
	if other := open(t, filepath.Join(t.TempDir(), "other")); other.ID() == id {
		t.Fatal("two data dirs share an id")
	}
}

// One process at a time: a second Open fails at once, naming the holder,
// until the first one is closed.
func TestLockedWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	d := open(t, path)
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path)
}

func TestWarehouseBinding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	d := open(t, path)
	local := Warehouse{ID: "W1", Store: "file:///srv/objects"}
	if err := d.Check(Warehouse{Store: "s3://b/p"}); err != nil {
		t.Fatalf("an unbound data dir refuses a new warehouse: %v", err)
	}
	if err := d.Bind(local); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d = open(t, path)
	if w := d.Warehouse(); w == nil || *w != local {
		t.Fatalf("binding after reopen: %v", w)
	}
	for _, other := range []Warehouse{{ID: "W2", Store: "s3://bucket/tour"}, {ID: "", Store: "s3://bucket/new"}} {
		err := d.Check(other)
		if !errors.Is(err, ErrOtherWarehouse) {
			t.Fatalf("Check(%v) = %v", other, err)
		}
		for _, want := range []string{path, "W1", "file:///srv/objects", other.Store, "its own data dir"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("Check(%v): %q lacks %q", other, err, want)
			}
		}
		if err := d.Bind(Warehouse{ID: "W2", Store: other.Store}); !errors.Is(err, ErrOtherWarehouse) {
			t.Fatalf("Bind to another warehouse: %v", err)
		}
	}
	// The same warehouse moved (same id, another store name) is accepted
	// and recorded.
	moved := Warehouse{ID: "W1", Store: "file:///new/place"}
	if err := d.Bind(moved); err != nil {
		t.Fatal(err)
	}
	if w := d.Warehouse(); *w != moved {
		t.Fatalf("after the move: %v", w)
	}
}

func TestClaimedEpochs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	d := open(t, path)
	for _, e := range []uint64{3, 5, 6, 7, 8} {
		if err := d.Claim(e); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	d = open(t, path)
	if d.Held(3) || !d.Held(5) || !d.Held(8) || d.Held(9) {
		t.Fatalf("held: 3 %v 5 %v 8 %v 9 %v", d.Held(3), d.Held(5), d.Held(8), d.Held(9))
	}
}

func TestDamagedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	open(t, path).Close()
	if err := os.WriteFile(filepath.Join(path, recordName), []byte(`{"id": 7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Open of a damaged record: %v", err)
	}
	// The lock was let go.
	if err := os.WriteFile(filepath.Join(path, recordName), []byte(`{"format_version": 1, "id": "X", "created_at": "2026-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if d := open(t, path); d.ID() != "X" {
		t.Fatalf("id %q", d.ID())
	}
}
