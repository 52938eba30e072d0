package manifest

import (
	"slices"
	"sync"
)

// Table edits: DDL whose cost does not grow with the number of tables.
//
// A commit made with CommitOptions.EditTables hands its mutation a catalog
// whose Tables array is the base version's, shared, not copied. The
// mutation changes the tables only through AddTable, RemoveTable and
// ReplaceTable, which copy on write and record what they changed, and it
// looks tables up with Table and TableByID, which use the catalog Log's
// index of the base instead of scanning. The commit then encodes,
// validates and writes only what the edits touched (catalogStore.encode),
// and a schema registry installs only those tables (TableChanges).
//
// AddTable appends in place when the base's array has room that no other
// catalog uses (tablesArray), so a CREATE TABLE copies nothing that grows
// with the number of tables; RemoveTable and ReplaceTable copy the array
// once (a memmove, no per-table work) into one with room for the appends
// that follow.

// tablesArray is an array of tables that successive catalog versions
// share: each version's Tables is a prefix of full (capped at its
// length), and used is how many elements some version has written. A
// catalog whose Tables is full[:used] may append at full[used]: no other
// catalog reads it.
type tablesArray struct {
	mu   sync.Mutex
	full []Table
	used int
}

// claim reserves full[n] for a catalog whose tables are full[:n]: true if
// it is free and within the array.
func (a *tablesArray) claim(tables []Table) bool {
	n := len(tables)
	if n == 0 || n >= len(a.full) || &a.full[0] != &tables[0] {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used != n {
		return false
	}
	a.used++
	return true
}

// newTablesArray copies head and tail, one after the other, into a new
// array with room for appends and returns the array and the tables
// (capped at their number).
func newTablesArray(head, tail []Table) (*tablesArray, []Table) {
	n := len(head) + len(tail)
	full := make([]Table, n+max(16, n/4))
	copy(full[copy(full, head):], tail)
	return &tablesArray{full: full, used: n}, full[:n:n]
}

// tableEdits records how a catalog's tables differ from its base's: the
// catalog committed with CommitOptions.EditTables that it was cloned
// from.
type tableEdits struct {
	base string // commit ID of the base
	// index finds the base's tables by ID and by name while the mutation
	// runs (nil after it, or when the Log knows no index of the base).
	index *catalogIndex
	// changed maps the IDs of the tables added or replaced to their
	// position in Tables; removed holds the IDs of the base's tables that
	// are gone.
	changed map[string]int
	removed map[string]bool
	// baseLen is the number of the base's tables, delta the tables added
	// less those removed: a mutation that changed Tables other than
	// through the methods is caught if it changed their number.
	baseLen, delta int
	// dup is set when an added table's ID may be there already (or the
	// edits cannot be told from the base's tables): the commit then
	// compares and validates every table, as without edits.
	dup bool
}

// editsDone ends the mutation of an edit clone: its lookups no longer use
// the store's index, which the commit changes.
func (c *Catalog) editsDone() {
	if e := c.edits; e != nil {
		e.index = nil
	}
}

// catalogIndex finds the tables of one catalog version by ID and by
// name: a view of catalogStore's maps, which describe that version while
// the mutation runs (see catalogStore.editClone).
type catalogIndex struct {
	tables map[string]*encodedTable
	names  map[qualifiedName]string
}

// editClone is the copy of c that Log.Commit hands to a mutation of a
// commit with CommitOptions.EditTables: like commitClone, but sharing c's
// tables array (see tableEdits).
func (c *Catalog) editClone(index *catalogIndex) *Catalog {
	out := c.cloneButTables()
	out.Tables = slices.Clip(c.Tables)
	out.arr = c.arr
	out.edits = &tableEdits{base: c.CommitID, index: index, changed: map[string]int{}, removed: map[string]bool{}, baseLen: len(c.Tables)}
	return &out
}

// AddTable appends t to c's tables. On a catalog a commit with
// CommitOptions.EditTables hands its mutation, it costs the same
// whatever the number of tables (amortized).
func (c *Catalog) AddTable(t Table) {
	e := c.edits
	if e == nil {
		c.Tables = append(c.Tables, t)
		return
	}
	if _, ok := e.changed[t.ID]; ok || e.index == nil {
		e.dup = true
	} else if _, ok := e.index.tables[t.ID]; ok && !e.removed[t.ID] {
		e.dup = true
	}
	e.delta++
	n := len(c.Tables)
	if a := c.arr; a != nil && a.claim(c.Tables) {
		a.full[n] = t
		c.Tables = a.full[: n+1 : n+1]
	} else {
		c.arr, c.Tables = newTablesArray(c.Tables, []Table{t})
	}
	e.changed[t.ID] = n
}

// RemoveTable removes the table with the given ID from c's tables and
// reports whether there was one.
func (c *Catalog) RemoveTable(id string) bool {
	i := c.tableIndexByID(id)
	if i < 0 {
		return false
	}
	e := c.edits
	if e == nil {
		c.Tables = slices.Delete(c.Tables, i, i+1)
		return true
	}
	c.arr, c.Tables = newTablesArray(c.Tables[:i], c.Tables[i+1:])
	delete(e.changed, id)
	e.delta--
	if e.index == nil {
		e.dup = true
	} else if _, ok := e.index.tables[id]; ok {
		e.removed[id] = true
	}
	for k, p := range e.changed {
		if p > i {
			e.changed[k] = p - 1
		}
	}
	return true
}

// ReplaceTable replaces the table with t's ID by t and reports whether
// there was one.
func (c *Catalog) ReplaceTable(t Table) bool {
	i := c.tableIndexByID(t.ID)
	if i < 0 {
		return false
	}
	e := c.edits
	if e == nil {
		c.Tables[i] = t
		return true
	}
	c.arr, c.Tables = newTablesArray(c.Tables, nil)
	c.Tables[i] = t
	e.changed[t.ID] = i
	return true
}

// tableIndexByID returns the position of the table with the given ID, -1
// if there is none.
func (c *Catalog) tableIndexByID(id string) int {
	if e := c.edits; e != nil {
		if i, ok := e.changed[id]; ok {
			return i
		}
		if e.removed[id] {
			return -1
		}
		if e.index != nil {
			if _, ok := e.index.tables[id]; !ok {
				return -1
			}
		}
	}
	for i := range c.Tables {
		if c.Tables[i].ID == id {
			return i
		}
	}
	return -1
}

// tableIndexByName returns the position of the table ns.name, -1 if
// there is none.
func (c *Catalog) tableIndexByName(ns, name string) int {
	if e := c.edits; e != nil && e.index != nil {
		for _, i := range e.changed {
			if t := &c.Tables[i]; t.Namespace == ns && t.Name == name {
				return i
			}
		}
		id, ok := e.index.names[qualifiedName{ns, name}]
		if !ok || e.removed[id] {
			return -1
		}
		if _, ok := e.changed[id]; ok { // renamed
			return -1
		}
		return c.tableIndexByID(id)
	}
	for i := range c.Tables {
		if t := &c.Tables[i]; t.Namespace == ns && t.Name == name {
			return i
		}
	}
	return -1
}

// TableChanges reports how c's tables differ from those of the catalog
// version it was derived from, when c is what a commit with
// CommitOptions.EditTables returned: base is that version's commit ID,
// changed the tables added or replaced (pointers into c: do not modify
// them), removed the IDs of the base's tables that are gone. ok is false
// when c is not such a catalog, or its changes are not known.
func (c *Catalog) TableChanges() (base string, changed []*Table, removed []string, ok bool) {
	e := c.edits
	if e == nil || e.dup || len(c.Tables) != e.baseLen+e.delta {
		return "", nil, nil, false
	}
	for _, i := range e.changed {
		changed = append(changed, &c.Tables[i])
	}
	for id := range e.removed {
		removed = append(removed, id)
	}
	return e.base, changed, removed, true
}
