package manifest

import "slices"

// encodedTable is one table as catalogStore knows it: a private copy of
// the table (or one shared with the immutable chunk cache), its shard,
// and its canonical JSON object as it appears in a chunk's "tables" array
// (nil until first needed).
type encodedTable struct {
	t     Table
	shard int
	data  []byte
	// mark and same are the catalogStore.gen of the last encode that
	// found the table in its catalog, and found it unchanged.
	mark, same uint64
}

// qualified returns the table's namespace and name.
func (t *Table) qualified() qualifiedName { return qualifiedName{t.Namespace, t.Name} }

// tablesKey is the member of a chunk document that holds the tables,
// encoded as an empty array. It is the chunk's last member, and a string
// that contains the text has its quotes escaped.
const tablesKey = `"tables":[]`

// sameTable reports whether a and b encode alike: every field equal, and
// Columns nil in both or in neither (nil encodes as null, empty as []).
// Times are compared with ==, which is stricter than encoding alike. A
// test changes each field of Table in turn (by reflection), so a field
// added to Table and not compared here fails it.
//
// Slices that share their array (as a catalog commit's tables share them
// with the cached version, see Catalog.commitClone) are equal without
// comparing their elements.
func sameTable(a, b *Table) bool {
	return a.ID == b.ID && a.Namespace == b.Namespace && a.Name == b.Name && a.Type == b.Type &&
		(a.Columns == nil) == (b.Columns == nil) && sameSlice(a.Columns, b.Columns) &&
		sameSlice(a.PrimaryKey, b.PrimaryKey) &&
		a.SchemaVersion == b.SchemaVersion && a.NextColumnID == b.NextColumnID && a.Options == b.Options &&
		a.CreatedAt == b.CreatedAt && a.UpdatedAt == b.UpdatedAt
}

// Equal reports whether t and o are the same definition: every field
// equal (times compared with ==), and Columns nil in both or in neither.
func (t *Table) Equal(o *Table) bool { return sameTable(t, o) }

// sameSlice is slices.Equal, without looking at the elements of two
// slices of one array.
func sameSlice[E comparable](a, b []E) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}

// cloneTable returns t with its own slices, without room to append.
func cloneTable(t Table) Table {
	t.Columns = slices.Clip(slices.Clone(t.Columns))
	t.PrimaryKey = slices.Clip(slices.Clone(t.PrimaryKey))
	return t
}

// clipTable removes the room beyond the length of t's slices, so that an
// append to a copy of t that shares them copies them (see commitClone).
func clipTable(t *Table) {
	t.Columns = slices.Clip(t.Columns)
	t.PrimaryKey = slices.Clip(t.PrimaryKey)
}
