package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// catalogEncoder is EncodeCatalog for a sequence of catalogs that share
// most of their tables, as the versions of one catalog log do: it keeps
// the encoding of every table it has encoded (by table ID, with a private
// copy of the table it was made from) and reuses it, and skips the
// single-table validation rules, for a table equal to that copy. A DDL
// statement then encodes and checks one table instead of all of them.
//
// Its output is byte for byte EncodeCatalog's, and it fails where
// EncodeCatalog fails, with the same error: a table's encoding does not
// depend on the other tables, and neither do the rules skipped (see
// Catalog.validate). The cache only holds tables that passed validation.
//
// A catalogEncoder is safe for concurrent use; the zero value is ready.
type catalogEncoder struct {
	mu     sync.Mutex
	tables map[string]*encodedTable // by table ID
}

// encodedTable is one table's canonical JSON object, as it appears in the
// "tables" array, and the table it encodes (owned by the cache).
type encodedTable struct {
	t    Table
	data []byte
}

// tablesKey is the member of the catalog document that holds the tables,
// encoded as an empty array. It is unique in the document: the members
// before it (header, writer lease, namespaces) have no "tables" member,
// and a string that contains the text has its quotes escaped.
const tablesKey = `"tables":[]`

func (e *catalogEncoder) encode(c *Catalog) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil catalog", ErrInvalid)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	known := make([]*encodedTable, len(c.Tables))
	for i := range c.Tables {
		if et := e.tables[c.Tables[i].ID]; et != nil && sameTable(&et.t, &c.Tables[i]) {
			known[i] = et
		}
	}
	if err := c.validate(func(i int) bool { return known[i] != nil }); err != nil {
		return nil, err
	}
	shell := *c
	if shell.Namespaces == nil {
		shell.Namespaces = []Namespace{}
	}
	shell.Tables = []Table{}
	head, err := encodeJSON(&shell)
	if err != nil {
		return nil, err
	}
	at := bytes.Index(head, []byte(tablesKey))
	if at < 0 || bytes.Contains(head[at+1:], []byte(tablesKey)) {
		return nil, fmt.Errorf("%w: encode: the catalog document does not hold %s exactly once", ErrInvalid, tablesKey)
	}
	at += len(tablesKey) - 1 // at the closing bracket

	var fresh bytes.Buffer
	enc := json.NewEncoder(&fresh)
	enc.SetEscapeHTML(false)
	size := len(head) + len(c.Tables)
	for i := range c.Tables {
		if known[i] == nil {
			t := &c.Tables[i]
			fresh.Reset()
			if err := enc.Encode(t); err != nil { // a pointer, as in a slice: addressable
				return nil, fmt.Errorf("%w: encode: %w", ErrInvalid, err)
			}
			known[i] = &encodedTable{t: cloneTable(*t), data: bytes.TrimSuffix(bytes.Clone(fresh.Bytes()), []byte("\n"))}
		}
		size += len(known[i].data)
	}
	next := make(map[string]*encodedTable, len(c.Tables))
	out := make([]byte, 0, size)
	out = append(out, head[:at]...)
	for i, et := range known {
		next[et.t.ID] = et
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, et.data...)
	}
	out = append(out, head[at:]...)
	e.tables = next
	return out, nil
}

// sameTable reports whether a and b encode alike: every field equal, and
// Columns nil in both or in neither (nil encodes as null, empty as []).
// Times are compared with ==, which is stricter than encoding alike. A
// test changes each field of Table in turn (by reflection), so a field
// added to Table and not compared here fails it.
func sameTable(a, b *Table) bool {
	return a.ID == b.ID && a.Namespace == b.Namespace && a.Name == b.Name && a.Type == b.Type &&
		(a.Columns == nil) == (b.Columns == nil) && slices.Equal(a.Columns, b.Columns) &&
		slices.Equal(a.PrimaryKey, b.PrimaryKey) &&
		a.SchemaVersion == b.SchemaVersion && a.NextColumnID == b.NextColumnID && a.Options == b.Options &&
		a.CreatedAt == b.CreatedAt && a.UpdatedAt == b.UpdatedAt
}

// cloneTable returns t with its own slices.
func cloneTable(t Table) Table {
	t.Columns = slices.Clone(t.Columns)
	t.PrimaryKey = slices.Clone(t.PrimaryKey)
	return t
}
