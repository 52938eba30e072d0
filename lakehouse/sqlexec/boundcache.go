package sqlexec

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/sqlbind"
	"github.com/floedb/floe/manifest"
)

// Bound view cache.
//
// Inlining a view (expandView) parses its stored SQL, binds it through
// the gate for the caller and projects it to the view's columns: work that
// depends only on the catalog and the caller, yet was redone by every
// statement. viewForms keeps that work: a view's bound, projected query
// (its form) for one catalog version and one principal.
//
// A form holds the gate-checked text with a placeholder name at each
// table the view reads (directly or through inlined views), and which
// table, version and hiddenness each placeholder stands for. It holds no
// rows and no table sources: the trusted queries at the placeholders are
// blanked when the form is stored, and a statement that uses the form
// builds every source again for itself (its principal, its data snapshot;
// tableSource, shared with the statement's own references) and checks
// again that its principal may read each table, then puts them in with
// sqlbind.Bound.WithTrusted, which fails unless every placeholder gets
// one. So a form can neither show stale rows nor one principal's rows to
// another, even if it were looked up under the wrong key.
//
// Invariants:
//   - The key is exact: the view's ID and schema version, the catalog
//     version the statement reads (any DDL — a replaced or dropped view, a
//     changed table schema or access level — is a new version) and the
//     whole principal the statement runs as (EXECUTE AS USER: the user it
//     runs as). A view's bound form depends on nothing else: unqualified
//     names in its SQL resolve in the view's own namespace, not the
//     session's; views have no parameters and never see statement-local
//     relations or hidden row ids.
//   - Only self-contained forms are stored (sqlbind.Bound.SelfContained):
//     every replacement is a placeholder with a trusted query, never a
//     temporary relation of the session that bound it (TABLE t in a view,
//     a nested view not yet checked at its version, a provider's
//     temporary relation). Forms are never stored while a view is being
//     created (CREATE VIEW collects dependencies while binding).
//   - A placeholder's name is a function of the table source it stands
//     for (viewKey.placeholder): a form, the statement using it and the
//     other forms it inlines name each source alike.
//   - Bounded: at most maxViewForms forms per generation, two generations
//     (lookups promote from the older); a statement at a newer catalog
//     version than any seen drops every form, since older versions are
//     then read only by statements already running.
//
// viewFormCache is safe for concurrent use.
type viewFormCache struct {
	mu struct {
		sync.Mutex
		// catalog is the newest catalog version seen.
		catalog   uint64
		cur, prev map[viewFormKey]*viewForm
	}
	hits, misses atomic.Int64
}

// maxViewForms bounds the forms of one generation of viewFormCache.
const maxViewForms = 1024

// viewFormKey is what a view's bound form depends on.
type viewFormKey struct {
	viewID        string
	schemaVersion uint32
	catalog       uint64
	principal     access.Principal
}

// viewForm is a view's bound query, projected to its columns, with its
// trusted queries blanked.
type viewForm struct {
	bound *sqlbind.Bound
	// tables maps each placeholder of bound to the table source it
	// stands for.
	tables map[string]viewKey
}

func newViewFormKey(def *manifest.View, catalog uint64, p access.Principal) viewFormKey {
	return viewFormKey{viewID: def.ID, schemaVersion: def.SchemaVersion, catalog: catalog, principal: p}
}

func (c *viewFormCache) get(k viewFormKey) (*viewForm, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(k.catalog)
	f, ok := c.mu.cur[k]
	if !ok {
		if f, ok = c.mu.prev[k]; ok {
			c.putLocked(k, f)
		}
	}
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return f, ok
}

func (c *viewFormCache) put(k viewFormKey, f *viewForm) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(k.catalog)
	if k.catalog < c.mu.catalog {
		return // a statement on an old snapshot: its forms will not be asked for again
	}
	c.putLocked(k, f)
}

// advance drops every form when catalog is newer than any seen.
func (c *viewFormCache) advance(catalog uint64) {
	if catalog > c.mu.catalog || c.mu.cur == nil {
		c.mu.catalog = max(c.mu.catalog, catalog)
		c.mu.cur, c.mu.prev = map[viewFormKey]*viewForm{}, nil
	}
}

func (c *viewFormCache) putLocked(k viewFormKey, f *viewForm) {
	if len(c.mu.cur) >= maxViewForms {
		c.mu.prev, c.mu.cur = c.mu.cur, make(map[viewFormKey]*viewForm, maxViewForms)
	}
	c.mu.cur[k] = f
}

// len returns how many forms the cache holds.
func (c *viewFormCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.cur) + len(c.mu.prev)
}

// cachedView returns the form of def cached for the statement's catalog
// version and principal, with the statement's own table sources put in.
// It reports false when there is none or it cannot be used in this
// statement (a table now has no query source, or the principal may not
// read it): the caller binds the view in full, which also gives the
// precise error.
func (q *stmtCtx) cachedView(ctx context.Context, def *manifest.View) (*sqlbind.Bound, bool) {
	f, ok := q.x.viewForms.get(newViewFormKey(def, q.snap.Version(), q.p))
	if !ok {
		return nil, false
	}
	texts := make(map[string]string, len(f.tables))
	for name, key := range f.tables {
		t, err := q.snap.TableByID(key.tableID)
		if err != nil || q.p.CanRead(t.Def()) != nil {
			return nil, false
		}
		src, err := q.tableSource(ctx, t, key)
		if err != nil || src.query == "" {
			return nil, false
		}
		texts[name] = src.query
	}
	b, err := f.bound.WithTrusted(func(name string) (string, bool) {
		s, ok := texts[name]
		return s, ok
	})
	if err != nil {
		return nil, false
	}
	return b, true
}

// cacheView stores the form of def: w, its bound and projected query in
// this statement, when it is self-contained and each placeholder is a
// table source of the statement.
func (q *stmtCtx) cacheView(def *manifest.View, w *sqlbind.Bound) {
	if !w.SelfContained() {
		return
	}
	byName := make(map[string]viewKey, len(q.rels.tables))
	for key, src := range q.rels.tables {
		if src.placeholder != "" {
			byName[src.placeholder] = key
		}
	}
	tables := map[string]viewKey{}
	for _, name := range w.TrustedNames() {
		key, ok := byName[name]
		if !ok || key.hidden {
			return
		}
		tables[name] = key
	}
	blank, err := w.WithTrusted(func(string) (string, bool) { return "", true })
	if err != nil {
		return
	}
	q.x.viewForms.put(newViewFormKey(def, q.snap.Version(), q.p), &viewForm{bound: blank, tables: tables})
}
