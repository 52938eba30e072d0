package manifest

import "slices"

// Clone returns a deep copy of c: no slice or pointer is shared, so the copy
// may be mutated freely. Nil and empty slices are preserved as such.
func (c *Catalog) Clone() *Catalog {
	if c == nil {
		return nil
	}
	out := c.cloneButTables()
	out.Tables = slices.Clone(c.Tables)
	// The tables' columns and keys are copied into two shared arrays (3
	// allocations instead of 2 per table); each table's slices are capped
	// at their length, so an append to one reallocates instead of
	// overwriting the next table's.
	nc, nk := 0, 0
	for i := range c.Tables {
		nc += len(c.Tables[i].Columns)
		nk += len(c.Tables[i].PrimaryKey)
	}
	cols, keys := make([]Column, 0, nc), make([]string, 0, nk)
	for i := range out.Tables {
		t := &out.Tables[i]
		if t.Columns != nil {
			at := len(cols)
			cols = append(cols, t.Columns...)
			t.Columns = cols[at:len(cols):len(cols)]
		}
		if t.PrimaryKey != nil {
			at := len(keys)
			keys = append(keys, t.PrimaryKey...)
			t.PrimaryKey = keys[at:len(keys):len(keys)]
		}
	}
	return &out
}

// cloneButTables returns a copy of c with its own writer lease, namespaces
// and views; the tables are c's, for the caller to copy or share.
func (c *Catalog) cloneButTables() Catalog {
	out := *c
	if c.Writer != nil {
		w := *c.Writer
		out.Writer = &w
	}
	out.Namespaces = slices.Clone(c.Namespaces)
	out.Views = cloneViews(c.Views)
	out.arr, out.edits = nil, nil
	return out
}

// commitClone is the copy of c that Log.Commit hands to a mutation (and
// keeps of a committed catalog): its own header, lease, namespaces, views
// and tables array, but each table's Columns and PrimaryKey shared with
// c. A mutation must replace those slices (or clone them) before changing
// their elements in place. The catalogs a catalog Log caches hold no such
// slice with room beyond its length (catalogStore clips them), so an
// append copies it. It costs one copy of the tables array, not a copy of
// every table's columns.
func (c *Catalog) commitClone() *Catalog {
	out := c.cloneButTables()
	if c.Tables != nil {
		// Room for a CREATE TABLE's append, which would copy it again.
		out.Tables = append(make([]Table, 0, len(c.Tables)+1), c.Tables...)
	}
	return &out
}

// keepClone is the copy of a committed catalog that its Log caches: its
// own header, lease, namespaces and views, but the tables array of c
// (capped at its length), which the committer must not change in place.
// It copies nothing that grows with the number of tables.
func (c *Catalog) keepClone() *Catalog {
	out := c.cloneButTables()
	out.Tables = slices.Clip(c.Tables)
	out.arr = c.arr // the array c.Tables lives in
	return &out
}

// Clone returns a deep copy of p, like Catalog.Clone.
func (p *Partition) Clone() *Partition {
	if p == nil {
		return nil
	}
	out := *p
	out.Segments = slices.Clone(p.Segments)
	for i := range out.Segments {
		s := &out.Segments[i]
		s.Columns = slices.Clone(s.Columns)
		s.Deleted = clonePtr(s.Deleted)
		for j := range s.Columns {
			cs := &s.Columns[j]
			cs.Min = clonePtr(cs.Min)
			cs.Max = clonePtr(cs.Max)
		}
	}
	return &out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Namespace returns the namespace with the given name. The pointer is into
// c: mutate it only on a clone.
func (c *Catalog) Namespace(name string) (*Namespace, bool) {
	for i := range c.Namespaces {
		if c.Namespaces[i].Name == name {
			return &c.Namespaces[i], true
		}
	}
	return nil, false
}

// Table returns the table named name in namespace ns. The pointer is into
// c: mutate it only on a clone. Lookups scan linearly (build an index for
// hot paths), except on the catalog a commit with
// CommitOptions.EditTables hands its mutation: there a missing table
// costs no scan, and the pointer must not be written through (use
// ReplaceTable).
func (c *Catalog) Table(ns, name string) (*Table, bool) {
	if i := c.tableIndexByName(ns, name); i >= 0 {
		return &c.Tables[i], true
	}
	return nil, false
}

// TableByID returns the table with the given ID. The pointer is into c:
// mutate it only on a clone. On the catalog a commit with
// CommitOptions.EditTables hands its mutation, a missing or edited table
// costs no scan, and the pointer must not be written through (use
// ReplaceTable).
func (c *Catalog) TableByID(id string) (*Table, bool) {
	if i := c.tableIndexByID(id); i >= 0 {
		return &c.Tables[i], true
	}
	return nil, false
}

// Column returns the column with the given name.
func (t *Table) Column(name string) (*Column, bool) {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i], true
		}
	}
	return nil, false
}

// Segment returns the segment with the given key.
func (p *Partition) Segment(key string) (*Segment, bool) {
	for i := range p.Segments {
		if p.Segments[i].Key == key {
			return &p.Segments[i], true
		}
	}
	return nil, false
}
