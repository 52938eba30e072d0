package schema

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/floedb/floe/manifest"
)

// ErrViewNotFound is returned for a view name the snapshot lacks.
var ErrViewNotFound = fmt.Errorf("schema: view not found")

// maxViewDepth bounds the nesting followed when fingerprinting views; a
// deeper (or looping) chain gets a fingerprint of its own that matches
// nothing, so its memo is never reused.
const maxViewDepth = 32

// View is one view of a snapshot: its definition plus a memo of its
// checked schema.
//
// A view has no storage, so its schema is what its query yields over the
// current definitions of its dependencies. The SQL layer checks that once
// (it binds the query and compares the result columns with the stored
// ones) and keeps the outcome with SetSchema. The memo is keyed by a
// fingerprint of the view's definition and, recursively, of every table
// (ID and schema version) and view it depends on: a catalog version that
// changes the view or any dependency gets a new, empty memo; one that
// touches neither keeps the memo.
type View struct {
	def  *manifest.View
	memo *viewMemo
}

// viewMemo holds the checked schema of a view for one fingerprint. It is
// shared by every snapshot in which the fingerprint is the same.
type viewMemo struct {
	fingerprint [sha256.Size]byte // immutable
	schema      atomic.Pointer[ViewSchema]
}

// ViewSchema is a view's schema as checked against its dependencies.
type ViewSchema struct {
	// Columns are the result columns the check found (equal to the
	// definition's when the view is sound).
	Columns []manifest.ViewColumn
}

// Def returns the view's definition. It is shared: do not modify it.
func (v *View) Def() *manifest.View { return v.def }

// Schema returns the memoized checked schema, nil when the view has not
// been checked since it or a dependency last changed. One atomic load.
func (v *View) Schema() *ViewSchema { return v.memo.schema.Load() }

// SetSchema memoizes the checked schema. Racing callers store equal
// values; the last one wins.
func (v *View) SetSchema(s *ViewSchema) { v.memo.schema.Store(s) }

// View looks a view up by namespace and name.
func (s *Snapshot) View(namespace, name string) (*View, error) {
	if v, ok := s.views[tableKey{namespace, name}]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("%w: %s.%s in catalog v%d", ErrViewNotFound, namespace, name, s.Version())
}

// Views returns the number of views in the snapshot.
func (s *Snapshot) Views() int { return len(s.views) }

// installViews fills s.views, reusing the memos of prev whose fingerprint
// is unchanged. It returns how many memos were kept.
func (s *Snapshot) installViews(prev *Snapshot) int {
	cat := s.catalog
	s.views = make(map[tableKey]*View, len(cat.Views))
	fps := make(map[tableKey][sha256.Size]byte, len(cat.Views))
	kept := 0
	for i := range cat.Views {
		def := &cat.Views[i]
		key := tableKey{def.Namespace, def.Name}
		fp := s.viewFingerprint(key, fps, 0)
		var m *viewMemo
		if prev != nil {
			if old, ok := prev.views[key]; ok && old.memo.fingerprint == fp {
				m = old.memo
				kept++
			}
		}
		if m == nil {
			m = &viewMemo{fingerprint: fp}
		}
		s.views[key] = &View{def: def, memo: m}
	}
	return kept
}

// viewFingerprint hashes the view key's definition and its dependencies'
// current definitions (tables: ID and schema version; views: their own
// fingerprint). fps memoizes results within one install.
func (s *Snapshot) viewFingerprint(key tableKey, fps map[tableKey][sha256.Size]byte, depth int) [sha256.Size]byte {
	if fp, ok := fps[key]; ok {
		return fp
	}
	h := sha256.New()
	put := func(ss ...string) {
		for _, x := range ss {
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(x)))
			h.Write(n[:])
			h.Write([]byte(x))
		}
	}
	def, ok := s.catalog.View(key.namespace, key.name)
	switch {
	case !ok:
		put("missing view", key.namespace, key.name)
	case depth > maxViewDepth:
		// A loop or an absurd chain: a fingerprint that is new on every
		// install, so no memo is ever trusted for it.
		put("too deep", fmt.Sprintf("%p", s))
	default:
		put("view", def.ID, def.SQL, fmt.Sprint(def.SchemaVersion))
		for _, c := range def.Columns {
			put(c.Name, c.Type, c.Source)
		}
		for _, d := range def.DependsOn {
			put(string(d.Kind), d.Namespace, d.Name)
			if t, ok := s.tables.byName(tableKey{d.Namespace, d.Name}); ok {
				put("table", t.def.ID, fmt.Sprint(t.def.SchemaVersion))
				continue
			}
			if _, ok := s.catalog.View(d.Namespace, d.Name); ok {
				fp := s.viewFingerprint(tableKey{d.Namespace, d.Name}, fps, depth+1)
				put("view", string(fp[:]))
				continue
			}
			put("missing")
		}
	}
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	if depth <= maxViewDepth {
		fps[key] = fp
	}
	return fp
}
