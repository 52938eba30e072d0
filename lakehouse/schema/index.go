package schema

import (
	"math"

	"github.com/floedb/floe/manifest"
)

// tableIndex finds a snapshot's tables by ID and by name. It is immutable
// once built. A snapshot that changes a few tables of its predecessor's
// shares the predecessor's base maps and adds an overlay of the changes
// (a nil entry: the ID or name is gone), so installing a catalog version
// after a DDL statement does not rebuild maps of every table. When the
// overlay would pass maxOverlay(n) entries, the index is rebuilt.
type tableIndex struct {
	baseID   map[string]*Table
	baseName map[tableKey]*Table
	id       map[string]*Table   // overlay over baseID
	name     map[tableKey]*Table // overlay over baseName
	n        int                 // number of tables
}

// maxOverlay bounds an overlay. An install copies the overlay (L
// entries at most) and rebuilds the n entries once per L changes: L =
// sqrt(2n) keeps the sum of the two, per change, near sqrt(2n) (141
// entries for 10,000 tables) instead of growing with n.
func maxOverlay(n int) int { return max(64, int(math.Sqrt(float64(2*n)))) }

func (x *tableIndex) byID(id string) (*Table, bool) {
	if t, ok := x.id[id]; ok {
		return t, t != nil
	}
	t, ok := x.baseID[id]
	return t, ok
}

func (x *tableIndex) byName(k tableKey) (*Table, bool) {
	if t, ok := x.name[k]; ok {
		return t, t != nil
	}
	t, ok := x.baseName[k]
	return t, ok
}

// each calls fn for every table.
func (x *tableIndex) each(fn func(*Table)) {
	for id, t := range x.baseID {
		if _, over := x.id[id]; !over {
			fn(t)
		}
	}
	for _, t := range x.id {
		if t != nil {
			fn(t)
		}
	}
}

// buildIndex indexes every table of cat, reusing the memos of prev's
// tables whose schema is unchanged. It returns how many it reused.
func buildIndex(r *Registry, cat *manifest.Catalog, prev *tableIndex) (*tableIndex, int) {
	x := &tableIndex{
		baseID:   make(map[string]*Table, len(cat.Tables)),
		baseName: make(map[tableKey]*Table, len(cat.Tables)),
		n:        len(cat.Tables),
	}
	reused := 0
	tables := make([]Table, len(cat.Tables)) // one allocation, not one per table
	for i := range cat.Tables {
		def := &cat.Tables[i]
		var m *memo
		if prev != nil {
			if old, ok := prev.byID(def.ID); ok && old.memo.matches(def) {
				m = old.memo
				reused++
			}
		}
		if m == nil {
			m = newMemo(def)
		}
		t := &tables[i]
		*t = Table{def: def, memo: m, reg: r}
		x.baseID[def.ID] = t
		x.baseName[tableKey{def.Namespace, def.Name}] = t
	}
	return x, reused
}

// updateIndex returns the index of cat as a change of prev, the index of
// prevCat: it compares the two catalogs' tables (position by position,
// by ID where they are not aligned) and records the tables that changed,
// came or went in an overlay. A table that did not change keeps its
// *Table, whose definition equals cat's; a changed one gets a private
// copy of its definition, so that no *Table keeps a whole catalog's
// tables alive. ok is false when the overlay would grow past
// maxOverlay: build the index instead.
func updateIndex(r *Registry, prevCat, cat *manifest.Catalog, prev *tableIndex) (x *tableIndex, reused int, ok bool) {
	limit := maxOverlay(len(cat.Tables))
	var changed []*manifest.Table // of cat
	var olds []*Table             // their predecessors, nil for new ones
	present := 0                  // tables of cat that prevCat has
	for i := range cat.Tables {
		def := &cat.Tables[i]
		if i < len(prevCat.Tables) && prevCat.Tables[i].ID == def.ID && prevCat.Tables[i].Equal(def) {
			present++
			reused++
			continue
		}
		old, had := prev.byID(def.ID)
		if had {
			present++
			if old.def.Equal(def) {
				reused++
				continue
			}
		}
		if len(changed)+len(prev.id) >= limit {
			return nil, 0, false
		}
		changed, olds = append(changed, def), append(olds, old)
	}
	var removed []*manifest.Table // of prevCat
	if present < prev.n {
		ids := make(map[string]bool, len(cat.Tables))
		for i := range cat.Tables {
			ids[cat.Tables[i].ID] = true
		}
		for i := range prevCat.Tables {
			if !ids[prevCat.Tables[i].ID] {
				removed = append(removed, &prevCat.Tables[i])
			}
		}
		if len(removed)+len(changed)+len(prev.id) >= limit {
			return nil, 0, false
		}
	}

	x = prev.overlay(len(cat.Tables), len(changed), len(removed))
	// Names that are gone first, then the new entries: a name may move
	// from one table to another in one version.
	for _, d := range removed {
		x.id[d.ID] = nil
		x.name[tableKey{d.Namespace, d.Name}] = nil
	}
	for _, old := range olds {
		if old != nil {
			x.name[tableKey{old.def.Namespace, old.def.Name}] = nil
		}
	}
	reused += x.put(r, changed, olds)
	return x, reused, true
}

// overlay returns a copy of prev's overlay maps, with room for the
// entries of changed and removed tables, as the index of a catalog of n
// tables on prev's base.
func (prev *tableIndex) overlay(n, changed, removed int) *tableIndex {
	x := &tableIndex{baseID: prev.baseID, baseName: prev.baseName, n: n,
		id:   make(map[string]*Table, len(prev.id)+changed+removed),
		name: make(map[tableKey]*Table, len(prev.name)+2*changed+removed),
	}
	for k, v := range prev.id {
		x.id[k] = v
	}
	for k, v := range prev.name {
		x.name[k] = v
	}
	return x
}

// put enters the tables changed into x, each keeping the memo of its
// predecessor (olds, nil for a new table) when that still matches, and
// returns how many did.
func (x *tableIndex) put(r *Registry, changed []*manifest.Table, olds []*Table) (reused int) {
	for i, def := range changed {
		own := *def
		var m *memo
		if old := olds[i]; old != nil && old.memo.matches(&own) {
			m = old.memo
			reused++
		} else {
			m = newMemo(&own)
		}
		t := &Table{def: &own, memo: m, reg: r}
		x.id[own.ID] = t
		x.name[tableKey{own.Namespace, own.Name}] = t
	}
	return reused
}

// applyChanges returns the index of cat from prev, the index of the
// catalog cat was committed on, and cat's table changes (see
// manifest.Catalog.TableChanges): changed are cat's tables added or
// replaced, removed the IDs of prev's tables that are gone. It looks at
// nothing else, so its cost is that of the changes and the overlay, not of
// the number of tables. ok is false when the overlay would grow past
// maxOverlay, or the changes do not fit prev: build the index instead.
func applyChanges(r *Registry, prev *tableIndex, cat *manifest.Catalog, changed []*manifest.Table, removed []string) (x *tableIndex, reused int, ok bool) {
	if len(changed)+len(removed)+len(prev.id) >= maxOverlay(len(cat.Tables)) {
		return nil, 0, false
	}
	x = prev.overlay(len(cat.Tables), len(changed), len(removed))
	// Names that are gone first, then the new entries: a name may move
	// from one table to another in one version.
	for _, id := range removed {
		old, had := prev.byID(id)
		if !had {
			return nil, 0, false
		}
		x.id[id] = nil
		x.name[tableKey{old.def.Namespace, old.def.Name}] = nil
	}
	olds := make([]*Table, len(changed))
	for i, def := range changed {
		if old, had := prev.byID(def.ID); had {
			olds[i] = old
			x.name[tableKey{old.def.Namespace, old.def.Name}] = nil
		}
	}
	reused += x.put(r, changed, olds)
	unchanged := x.n - len(changed)
	return x, reused + unchanged, true
}
