// Package datadir opens a node's data dir, the local home of its write
// buffer, segment cache and token secret, and keeps two promises about it:
//
//   - One process at a time. Open takes an exclusive lock (flock on
//     <dir>/LOCK, released by the kernel when the process dies, kill -9
//     included) before anything else touches the directory or the
//     warehouse; a second process fails at once with ErrLocked.
//   - One warehouse for good. The data dir records which warehouse it
//     belongs to (the catalog's warehouse id and the object store's
//     name); Check refuses another warehouse with ErrOtherWarehouse, so
//     buffered rows of one warehouse never reach another.
//
// It also gives the data dir an identity (ID, random, made at creation)
// and remembers the writer epochs it claimed (Claim, Held), so that the
// writer lease can tell whether a buffer it finds is the one that held the
// lease last (package lease).
//
// The record is <dir>/datadir.json, replaced atomically (write, fsync,
// rename, fsync of the directory).
package datadir

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors, wrapped with the details; test with errors.Is.
var (
	// ErrLocked: another process has the data dir open.
	ErrLocked = errors.New("datadir: in use by another process")
	// ErrOtherWarehouse: the data dir belongs to another warehouse.
	ErrOtherWarehouse = errors.New("datadir: belongs to another warehouse")
)

const (
	lockName      = "LOCK"
	recordName    = "datadir.json"
	formatVersion = 1
	// keptEpochs is how many of the latest claimed epochs are remembered.
	keptEpochs = 4
)

// Warehouse identifies the warehouse a data dir belongs to.
type Warehouse struct {
	// ID is the catalog's warehouse id (manifest.Catalog.WarehouseID); ""
	// for an object store whose catalog has none yet (a new warehouse, or
	// one older than warehouse ids).
	ID string `json:"id"`
	// Store is the object store's name, e.g. "file:///srv/floe/objects"
	// or "s3://bucket/prefix" (objstore.Bucket.Name): where the warehouse
	// was when the data dir was bound, for messages.
	Store string `json:"store"`
}

func (w Warehouse) String() string {
	if w.ID == "" {
		return "the new warehouse at " + w.Store
	}
	return fmt.Sprintf("warehouse %s at %s", w.ID, w.Store)
}

// record is the content of datadir.json.
type record struct {
	FormatVersion int       `json:"format_version"`
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	// Warehouse is nil until Bind.
	Warehouse *Warehouse `json:"warehouse,omitempty"`
	// LeaseEpochs are the writer epochs this data dir claimed last,
	// oldest first (see Claim).
	LeaseEpochs []uint64 `json:"lease_epochs,omitempty"`
}

// Options configure Open. Zero values mean the defaults.
type Options struct {
	// Logger receives a line when the data dir is created or bound.
	// Default: discard.
	Logger *slog.Logger
	// Clock stamps the record's creation. Default: time.Now.
	Clock func() time.Time
}

// Dir is an open, locked data dir. Its methods are safe for concurrent
// use. Close releases the lock; the process must not use the directory's
// contents after that.
type Dir struct {
	path string
	lock *os.File
	log  *slog.Logger

	mu  sync.Mutex
	rec record
}

// Open creates path if needed, locks it, and reads (or, for a new data
// dir, creates) its record. A data dir locked by another process fails
// with ErrLocked naming that process, before anything else is read.
func Open(path string, opts Options) (*Dir, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: create %s: %w", path, err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	lock, err := lockDir(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{path: path, lock: lock, log: opts.Logger}
	if err := d.load(opts.Clock); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// lockDir takes the exclusive lock of the data dir and writes this
// process's id into the lock file, for the message another process gets.
func lockDir(path string) (*os.File, error) {
	name := filepath.Join(path, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datadir: open lock %s: %w", name, err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			holder := "another process"
			if b, rerr := os.ReadFile(name); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
					holder = "process " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("%w: data dir %s is used by %s (each Floe process needs its own data_dir; stop the other one or give this one another --data_dir)",
				ErrLocked, path, holder)
		}
		return nil, fmt.Errorf("datadir: lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func (d *Dir) load(clock func() time.Time) error {
	name := filepath.Join(d.path, recordName)
	b, err := os.ReadFile(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.rec = record{FormatVersion: formatVersion, ID: rand.Text(), CreatedAt: clock().UTC()}
		if err := d.save(d.rec); err != nil {
			return err
		}
		d.log.LogAttrs(context.Background(), slog.LevelInfo, "data dir created", slog.String("data_dir", d.path), slog.String("data_dir_id", d.rec.ID))
		return nil
	case err != nil:
		return fmt.Errorf("datadir: read %s: %w", name, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var r record
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("datadir: %s is damaged (%v); if this data dir holds nothing you need, move it aside and start again", name, err)
	}
	if r.FormatVersion != formatVersion {
		return fmt.Errorf("datadir: %s has format version %d; this build knows %d", name, r.FormatVersion, formatVersion)
	}
	if r.ID == "" {
		return fmt.Errorf("datadir: %s has no id; if this data dir holds nothing you need, move it aside and start again", name)
	}
	d.rec = r
	return nil
}

// save replaces the record atomically.
func (d *Dir) save(r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	name := filepath.Join(d.path, recordName)
	tmp, err := os.CreateTemp(d.path, "."+recordName+"-*")
	if err != nil {
		return fmt.Errorf("datadir: write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err == nil {
		err = syncDir(d.path)
	}
	if err != nil {
		return fmt.Errorf("datadir: write %s: %w", name, err)
	}
	return nil
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Path returns the data dir's absolute path.
func (d *Dir) Path() string { return d.path }

// ID returns the data dir's identity: random, made when the data dir was
// created, never changed. The writer lease records it (lease.Home).
func (d *Dir) ID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rec.ID
}

// Warehouse returns the warehouse the data dir is bound to, nil if none.
func (d *Dir) Warehouse() *Warehouse {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rec.Warehouse == nil {
		return nil
	}
	w := *d.rec.Warehouse
	return &w
}

// Check reports whether the data dir may serve warehouse w: it may if it
// is not bound yet (a new data dir, or one made before data dirs were
// bound), or bound to w.ID. A data dir bound to a warehouse with an id
// refuses any other id, and a store whose catalog has no id yet (w.ID
// empty: a new warehouse). The error (ErrOtherWarehouse) names both
// warehouses and what to do.
func (d *Dir) Check(w Warehouse) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.check(w)
}

func (d *Dir) check(w Warehouse) error {
	b := d.rec.Warehouse
	if b == nil || (w.ID != "" && b.ID == w.ID) {
		return nil
	}
	return fmt.Errorf("%w: data dir %s belongs to %s, but this node is configured for %s. "+
		"A data dir holds the buffered rows of one warehouse: give this node its own data dir (--data_dir, FLOE_DATA_DIR), "+
		"or configure the storage of %s again",
		ErrOtherWarehouse, d.path, b, w, b.Store)
}

// Bind checks w (see Check) and records it as the data dir's warehouse.
// Binding again to the same id at another store name (the warehouse was
// moved) records the new name.
func (d *Dir) Bind(w Warehouse) error {
	if w.ID == "" {
		return errors.New("datadir: bind needs a warehouse id")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(w); err != nil {
		return err
	}
	old := d.rec.Warehouse
	if old != nil && *old == w {
		return nil
	}
	r := d.rec
	r.Warehouse = &w
	if err := d.save(r); err != nil {
		return err
	}
	d.rec = r
	if old == nil {
		d.log.LogAttrs(context.Background(), slog.LevelInfo, "data dir bound to its warehouse",
			slog.String("data_dir", d.path), slog.String("warehouse_id", w.ID), slog.String("storage", w.Store))
	} else {
		d.log.LogAttrs(context.Background(), slog.LevelWarn, "the warehouse of this data dir moved",
			slog.String("data_dir", d.path), slog.String("warehouse_id", w.ID), slog.String("from", old.Store), slog.String("to", w.Store))
	}
	return nil
}

// Claim records, durably, that this data dir is about to claim the writer
// lease at epoch. Call it before the claim is written, so that a crash
// right after the claim still finds the claim to be this data dir's.
func (d *Dir) Claim(epoch uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slices.Contains(d.rec.LeaseEpochs, epoch) {
		return nil
	}
	r := d.rec
	r.LeaseEpochs = append(slices.Clone(r.LeaseEpochs), epoch)
	if len(r.LeaseEpochs) > keptEpochs {
		r.LeaseEpochs = r.LeaseEpochs[len(r.LeaseEpochs)-keptEpochs:]
	}
	if err := d.save(r); err != nil {
		return err
	}
	d.rec = r
	return nil
}

// Held reports whether this data dir claimed the writer lease at epoch,
// as one of its latest keptEpochs claims (the last one, and earlier ones
// in case the last claims were never written).
func (d *Dir) Held(epoch uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.rec.LeaseEpochs, epoch)
}

// Close releases the lock. It is safe to call more than once.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close() // closing the descriptor releases the flock
	d.lock = nil
	return err
}
