package manifest

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
)

// memChunks is the bucket of a catalogStore under test: the chunks it
// may read.
type memChunks struct {
	objs map[string][]byte
	refs map[int]string // the chunks of the last root, by shard
}

func newTestStore(m *memChunks) *catalogStore {
	return &catalogStore{cache: newChunkCache(chunkCacheBytes), read: func(_ context.Context, key string, _ int64) ([]byte, error) {
		if b, ok := m.objs[key]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s: %w", key, objstore.ErrNotFound)
	}}
}

// checkEncoder fails unless enc fails where EncodeCatalog fails (with the
// same error) and otherwise writes a root that refers only to chunks its
// base refers to or that it returned to put, and that a cold store
// decodes to c (tables in chunk order). base is the version c was derived
// from, nil for none; its chunks are the ones in m.refs.
//
// It returns the encoded catalog (a commit's next version, to be the base
// of the next call), nil if encoding failed.
func checkEncoder(t *testing.T, enc *catalogStore, m *memChunks, base, c *Catalog) *Catalog {
	t.Helper()
	c = c.Clone()
	c.FormatVersion = CatalogFormatVersion
	c.CommitID = rand.Text()
	_, werr := EncodeCatalog(c)
	got, gerr := enc.encode(base, c)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("encoder error = %v\nEncodeCatalog error = %v", gerr, werr)
	}
	if gerr != nil {
		return nil
	}
	durable := map[string]bool{}
	for _, sha := range m.refs {
		durable[ChunkKey(sha)] = true
	}
	for _, p := range got.parts {
		m.objs[p.key] = p.data
		durable[p.key] = true
	}
	root, err := decodeRoot(got.data)
	if err != nil {
		t.Fatalf("root does not decode: %v\n%s", err, got.data)
	}
	m.refs = map[int]string{}
	for _, ref := range root.TableChunks {
		if !durable[ChunkKey(ref.SHA256)] {
			t.Fatalf("root refers to chunk %s, which neither its base refers to nor the commit puts", ref.SHA256)
		}
		m.refs[ref.Shard] = ref.SHA256
	}
	back, err := newTestStore(m).decode(t.Context(), got.data)
	if err != nil {
		t.Fatalf("root does not decode with its chunks: %v", err)
	}
	want := c.Clone()
	slices.SortStableFunc(want.Tables, func(a, b Table) int {
		return cmp.Or(cmp.Compare(shardOf(a.ID, CatalogShards), shardOf(b.ID, CatalogShards)), strings.Compare(a.ID, b.ID))
	})
	if wb, bb := mustEncodeCatalog(t, want), mustEncodeCatalog(t, back); wb != bb || back.FormatVersion != CatalogFormatVersion {
		t.Fatalf("round trip changed the catalog:\n%s\n%s", wb, bb)
	}
	return c
}

// Every validation case, on an encoder that has already encoded the valid
// catalog (so the changed tables are in its cache with their old values):
// it must find every problem EncodeCatalog finds and encode every valid
// catalog alike. Run twice, so that the second run starts from a cache
// the first case left.
func TestCatalogEncoderMatchesEncodeCatalog(t *testing.T) {
	m := &memChunks{objs: map[string][]byte{}}
	enc := newTestStore(m)
	for round := range 2 {
		for _, tc := range catalogValidationCases() {
			t.Run(fmt.Sprintf("%d/%s", round, tc.name), func(t *testing.T) {
				checkEncoder(t, enc, m, nil, validCatalog())
				c := validCatalog()
				tc.mutate(c)
				checkEncoder(t, enc, m, nil, c)
				checkEncoder(t, enc, m, nil, c) // from the cache it just filled
			})
		}
	}
}

// A sequence of DDL-like changes, each encoded by one encoder, as a
// catalog log's commits are.
func TestCatalogEncoderSequence(t *testing.T) {
	m := &memChunks{objs: map[string][]byte{}}
	enc := newTestStore(m)
	c := bigCatalog(50)
	c.Views = validCatalog().Views
	c.Namespaces = append(c.Namespaces, Namespace{Name: "app", CreatedAt: testTime})
	c.Tables = append(c.Tables, validCatalog().Tables[0])
	steps := []struct {
		name   string
		change func(c *Catalog)
	}{
		{"unchanged", func(*Catalog) {}},
		{"add table", func(c *Catalog) {
			t := validCatalog().Tables[1]
			t.Name = "added"
			c.Tables = append(c.Tables, t)
		}},
		{"rename column", func(c *Catalog) { c.Tables[3].Columns[2].Name = "renamed" }},
		{"add column", func(c *Catalog) {
			t := &c.Tables[4]
			t.Columns = append(t.Columns, Column{ID: t.NextColumnID, Name: "extra", Type: Text, Nullable: true})
			t.NextColumnID++
			t.SchemaVersion++
		}},
		{"drop table", func(c *Catalog) { c.Tables = append(c.Tables[:5], c.Tables[6:]...) }},
		{"reorder tables", func(c *Catalog) { c.Tables[0], c.Tables[1] = c.Tables[1], c.Tables[0] }},
		{"touch time only", func(c *Catalog) { c.Tables[7].UpdatedAt = c.Tables[7].UpdatedAt.Add(time.Nanosecond) }},
		{"time zone only", func(c *Catalog) { c.Tables[8].CreatedAt = c.Tables[8].CreatedAt.In(time.FixedZone("x", 3600)) }},
		{"empty columns", func(c *Catalog) { c.Tables[9].Columns = []Column{} }},
		{"valid again", func(c *Catalog) { c.Tables[9].Columns = bigCatalog(1).Tables[0].Columns }},
		{"reuse a dropped id", func(c *Catalog) {
			t := bigCatalog(6).Tables[5]
			t.Name, t.Type = "again", TableShared
			t.Options = TableOptions{AccessLevel: AccessDBA}
			c.Tables = append(c.Tables, t)
		}},
		{"duplicate name", func(c *Catalog) { c.Tables[10].Name = c.Tables[11].Name }},
		{"name back", func(c *Catalog) { c.Tables[10].Name = "table_10" }},
		{"html characters", func(c *Catalog) { c.Tables[12].Columns[1].Default = "'<a & b>'" }},
		{"no tables", func(c *Catalog) { c.Tables = nil; c.Views = nil }},
	}
	var base *Catalog
	for _, st := range steps {
		st.change(c)
		t.Run(st.name, func(t *testing.T) {
			next := checkEncoder(t, enc, m, base, c)
			if next == nil {
				return // invalid: the commit fails, the base stays
			}
			checkEncoder(t, enc, m, base, c.Clone()) // a retry on the same base
			base = checkEncoder(t, enc, m, next, c)
		})
	}
}

// A change made as a catalog commit must make it (see commitClone:
// clone a table's slices, then change their elements) is seen.
func TestCatalogEncoderSeesClonedChanges(t *testing.T) {
	m := &memChunks{objs: map[string][]byte{}}
	enc := newTestStore(m)
	c := validCatalog()
	checkEncoder(t, enc, m, nil, c)
	c = c.commitClone()
	c.Tables[0].Columns = slices.Clone(c.Tables[0].Columns)
	c.Tables[0].PrimaryKey = slices.Clone(c.Tables[0].PrimaryKey)
	c.Tables[0].Columns[1].Name = "changed"
	c.Tables[0].PrimaryKey[0] = "balance"
	c.Tables[0].Columns[2].Nullable = false
	checkEncoder(t, enc, m, nil, c)
}

// sameTable must compare every field of Table: changing any one of them
// (found by reflection, so a field added later is covered) makes the
// tables differ. Without this, a new field would be served from the
// encoder's cache with its old value.
func TestSameTableSeesEveryField(t *testing.T) {
	base := validCatalog().Tables[0]
	typ := reflect.TypeFor[Table]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			changed := cloneTable(base)
			v := reflect.ValueOf(&changed).Elem().Field(i)
			if !changeValue(v) {
				t.Fatalf("test cannot change field %s of kind %s: extend changeValue", f.Name, v.Kind())
			}
			if sameTable(&base, &changed) {
				t.Fatalf("sameTable does not see a change of %s", f.Name)
			}
			if cp := cloneTable(base); !sameTable(&base, &cp) {
				t.Fatal("sameTable differs on a copy")
			}
		})
	}
	// nil and empty Columns encode differently (null, []).
	a, b := base, base
	a.Columns, b.Columns = nil, []Column{}
	if sameTable(&a, &b) {
		t.Fatal("sameTable does not tell nil from empty Columns")
	}
}

// changeValue changes v (settable) to a different value; false if it
// does not know how.
func changeValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
			return true
		}
		return changeValue(v.Index(0))
	case reflect.Struct:
		if tv, ok := v.Addr().Interface().(*time.Time); ok {
			*tv = tv.Add(time.Second)
			return true
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && changeValue(v.Field(i)) {
				return true
			}
		}
		return false
	default:
		return false
	}
	return true
}
