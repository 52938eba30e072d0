// Package schema is Floe's schema registry (seed US1): it serves table
// and view definitions from catalog manifests and memoizes each table's
// Arrow schema and each view's checked schema (see View).
//
// # Caching model
//
// The registry holds one immutable Snapshot of the catalog at a time,
// replaced atomically when a newer catalog version is loaded. Each table in a
// snapshot points at a memo that computes the table's Arrow schema at most
// once. When a newer catalog version is loaded, a table whose ID, schema
// version, columns and primary key are unchanged keeps its memo, so an
// unrelated DDL statement costs no schema rebuilds.
//
// The hit path — (*Table).ArrowSchema on a memo that is filled — is one
// atomic load and one atomic counter increment: no lock, no allocation. The
// miss path takes the memo's own mutex and re-checks before building, so a
// stampede of concurrent first lookups builds the schema exactly once.
//
// Freshness: Current serves the loaded snapshot for RefreshInterval, then
// checks the latest catalog version (one GET and one LIST on the object
// store, see package manifest) and loads it if it changed. AtLeast serves
// read-your-writes: it refreshes until the snapshot has a given version.
package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/floedb/floe/manifest"
)

// ErrTableNotFound is returned for a table ID or name the snapshot lacks.
var ErrTableNotFound = errors.New("schema: table not found")

// ErrVersionNotVisible is returned by AtLeast when the object store does not
// (yet) hold the requested catalog version.
var ErrVersionNotVisible = errors.New("schema: catalog version not visible")

// CatalogSource yields catalog versions. *manifest.Log[*manifest.Catalog]
// implements it; tests may use any other.
type CatalogSource interface {
	// LatestVersion returns the newest committed version, 0 if none.
	LatestVersion(ctx context.Context) (uint64, error)
	// Load returns the catalog at a version.
	Load(ctx context.Context, version uint64) (*manifest.Catalog, error)
}

// Options configure a Registry. The zero value is usable.
type Options struct {
	// RefreshInterval is how long Current serves a snapshot before checking
	// for a newer catalog version. Negative means check on every call.
	// Default: 2s.
	RefreshInterval time.Duration
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
	// Logger receives load events. Default: discard.
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.RefreshInterval == 0 {
		o.RefreshInterval = 2 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Registry serves catalog snapshots and memoized Arrow schemas.
// It is safe for concurrent use.
type Registry struct {
	src  CatalogSource
	opts Options

	// refreshMu serializes loads so concurrent stale callers share one.
	refreshMu sync.Mutex
	snap      atomic.Pointer[Snapshot]

	hits    atomic.Uint64
	misses  atomic.Uint64
	reloads atomic.Uint64
}

// New returns a registry reading catalogs from src. Nothing is loaded until
// the first Current, AtLeast or Refresh.
func New(src CatalogSource, opts Options) *Registry {
	opts.EnsureDefaults()
	return &Registry{src: src, opts: opts}
}

// Stats is a point-in-time snapshot of the registry's counters.
type Stats struct {
	// Hits counts Arrow schema lookups served from a memo.
	Hits uint64
	// Misses counts Arrow schema builds (lookups that found no memo).
	Misses uint64
	// Reloads counts catalog versions loaded from the source.
	Reloads uint64
	// Version is the catalog version of the current snapshot (0: none).
	Version uint64
}

// HitRate is Hits / (Hits + Misses), 0 when there were no lookups.
func (s Stats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns the counters.
func (r *Registry) Stats() Stats {
	st := Stats{Hits: r.hits.Load(), Misses: r.misses.Load(), Reloads: r.reloads.Load()}
	if s := r.snap.Load(); s != nil {
		st.Version = s.Version()
	}
	return st
}

// Current returns a snapshot no older than RefreshInterval, loading the
// latest catalog version if needed.
func (r *Registry) Current(ctx context.Context) (*Snapshot, error) {
	s := r.snap.Load()
	if s != nil && r.opts.RefreshInterval > 0 && r.opts.Clock().Sub(s.checkedAt) < r.opts.RefreshInterval {
		return s, nil
	}
	return r.refresh(ctx, s)
}

// AtLeast returns a snapshot whose catalog version is at least v, loading
// newer versions if needed (read-your-writes for a client that saw v). It
// fails with ErrVersionNotVisible if the store has no version v.
func (r *Registry) AtLeast(ctx context.Context, v uint64) (*Snapshot, error) {
	s := r.snap.Load()
	if s != nil && s.Version() >= v {
		return s, nil
	}
	s, err := r.refresh(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.Version() < v {
		return nil, fmt.Errorf("%w: want version %d, latest is %d", ErrVersionNotVisible, v, s.Version())
	}
	return s, nil
}

// Refresh loads the latest catalog version now, whatever its age.
func (r *Registry) Refresh(ctx context.Context) (*Snapshot, error) {
	return r.refresh(ctx, nil)
}

// refresh checks the latest version. seen is the snapshot the caller found
// stale (nil: force); if another caller replaced it meanwhile, that result
// is returned instead of checking again.
func (r *Registry) refresh(ctx context.Context, seen *Snapshot) (*Snapshot, error) {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	cur := r.snap.Load()
	if seen != nil && cur != seen && cur != nil {
		return cur, nil
	}
	latest, err := r.src.LatestVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema: find latest catalog version: %w", err)
	}
	now := r.opts.Clock()
	if cur != nil && cur.Version() == latest {
		fresh := *cur
		fresh.checkedAt = now
		r.snap.Store(&fresh)
		return &fresh, nil
	}
	cat := &manifest.Catalog{}
	if latest > 0 {
		if cat, err = r.src.Load(ctx, latest); err != nil {
			return nil, fmt.Errorf("schema: load catalog v%d: %w", latest, err)
		}
	}
	return r.install(cat, now), nil
}

// Install publishes a catalog the caller already holds (typically one it
// just committed), unless the registry already has that version or a newer
// one. It returns the current snapshot.
func (r *Registry) Install(cat *manifest.Catalog) *Snapshot {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	if cur := r.snap.Load(); cur != nil && cur.Version() >= cat.Version {
		return cur
	}
	return r.install(cat, r.opts.Clock())
}

// install builds and publishes a snapshot of cat, reusing the memos of
// tables whose schema did not change. Callers hold refreshMu.
func (r *Registry) install(cat *manifest.Catalog, now time.Time) *Snapshot {
	prev := r.snap.Load()
	s := &Snapshot{catalog: cat, checkedAt: now}
	var reused int
	ok := false
	if prev != nil {
		if base, changed, removed, known := cat.TableChanges(); known && base == prev.catalog.CommitID && base != "" {
			s.tables, reused, ok = applyChanges(r, prev.tables, cat, changed, removed)
		} else {
			s.tables, reused, ok = updateIndex(r, prev.catalog, cat, prev.tables)
		}
	}
	if !ok {
		var prevIndex *tableIndex
		if prev != nil {
			prevIndex = prev.tables
		}
		s.tables, reused = buildIndex(r, cat, prevIndex)
	}
	viewsKept := s.installViews(prev)
	r.snap.Store(s)
	r.reloads.Add(1)
	r.opts.Logger.LogAttrs(context.Background(), slog.LevelDebug, "catalog snapshot installed",
		slog.Uint64("version", cat.Version), slog.Int("tables", len(cat.Tables)), slog.Int("memos_kept", reused),
		slog.Int("views", len(cat.Views)), slog.Int("view_memos_kept", viewsKept))
	return s
}

// ArrowSchema returns the memoized Arrow schema of the table with the given
// ID in the current snapshot, without checking freshness. It is the
// cheapest lookup: use it on hot paths that already hold a table ID.
func (r *Registry) ArrowSchema(tableID string) (*arrow.Schema, error) {
	s := r.snap.Load()
	if s == nil {
		return nil, fmt.Errorf("%w: %s (no catalog loaded)", ErrTableNotFound, tableID)
	}
	t, ok := s.tables.byID(tableID)
	if !ok {
		return nil, fmt.Errorf("%w: id %s in catalog v%d", ErrTableNotFound, tableID, s.Version())
	}
	return t.ArrowSchema()
}

// Invalidate drops the memoized Arrow schema of one table; the next lookup
// rebuilds it. Unknown IDs are ignored.
func (r *Registry) Invalidate(tableID string) {
	if s := r.snap.Load(); s != nil {
		if t, ok := s.tables.byID(tableID); ok {
			t.memo.schema.Store(nil)
		}
	}
}

// Clear drops every memo and the snapshot itself: the next Current loads
// the catalog again and every schema is rebuilt on first use.
func (r *Registry) Clear() {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	if s := r.snap.Load(); s != nil {
		s.tables.each(func(t *Table) { t.memo.schema.Store(nil) })
	}
	r.snap.Store(nil)
}

type tableKey struct{ namespace, name string }

// Snapshot is one immutable catalog version with its tables. It stays valid
// (and its schemas cached) for as long as the caller holds it, so a
// statement that resolves all its tables from one Snapshot sees one
// consistent catalog.
type Snapshot struct {
	catalog   *manifest.Catalog
	checkedAt time.Time
	tables    *tableIndex
	views     map[tableKey]*View
}

// Version is the catalog version, 0 for an empty warehouse.
func (s *Snapshot) Version() uint64 { return s.catalog.Version }

// Catalog returns the catalog manifest. It is shared: do not modify it.
func (s *Snapshot) Catalog() *manifest.Catalog { return s.catalog }

// Table looks a table up by namespace and name.
func (s *Snapshot) Table(namespace, name string) (*Table, error) {
	if t, ok := s.tables.byName(tableKey{namespace, name}); ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s.%s in catalog v%d", ErrTableNotFound, namespace, name, s.Version())
}

// TableByID looks a table up by its stable ID.
func (s *Snapshot) TableByID(id string) (*Table, error) {
	if t, ok := s.tables.byID(id); ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: id %s in catalog v%d", ErrTableNotFound, id, s.Version())
}

// Tables returns the number of tables in the snapshot.
func (s *Snapshot) Tables() int { return s.tables.n }

// Table is one table of a snapshot: its definition plus its schema memo.
type Table struct {
	def  *manifest.Table
	memo *memo
	reg  *Registry
}

// Def returns the table's definition. It is shared: do not modify it.
func (t *Table) Def() *manifest.Table { return t.def }

// ArrowSchema returns the table's Arrow schema (see BuildArrowSchema for
// its shape), building it on first use. The returned schema is shared and
// immutable.
func (t *Table) ArrowSchema() (*arrow.Schema, error) {
	if s := t.memo.schema.Load(); s != nil {
		t.reg.hits.Add(1)
		return s, nil
	}
	return t.build()
}

// build is the miss path: double-checked under the memo's mutex so that
// concurrent first lookups build once.
func (t *Table) build() (*arrow.Schema, error) {
	m := t.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.schema.Load(); s != nil {
		t.reg.hits.Add(1)
		return s, nil
	}
	s, err := BuildArrowSchema(t.def)
	if err != nil {
		return nil, err
	}
	m.schema.Store(s)
	t.reg.misses.Add(1)
	return s, nil
}

// memo caches one table's Arrow schema for one schema fingerprint. It is
// shared by every snapshot in which the table's schema is unchanged.
type memo struct {
	schema atomic.Pointer[arrow.Schema]
	mu     sync.Mutex // held only while building

	// The fingerprint the memo was made for; immutable.
	schemaVersion uint32
	columns       []manifest.Column
	primaryKey    []string
}

func newMemo(def *manifest.Table) *memo {
	return &memo{schemaVersion: def.SchemaVersion, columns: def.Columns, primaryKey: def.PrimaryKey}
}

// matches reports whether def has the schema the memo was made for. The
// schema version alone should decide; columns and key are compared too so
// that a manifest written by a buggy tool cannot serve a stale schema.
func (m *memo) matches(def *manifest.Table) bool {
	return m.schemaVersion == def.SchemaVersion &&
		slices.Equal(m.columns, def.Columns) &&
		slices.Equal(m.primaryKey, def.PrimaryKey)
}
