package manifest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// checkEncoder fails unless enc encodes c exactly as EncodeCatalog does:
// the same bytes, or the same error.
func checkEncoder(t *testing.T, enc *catalogEncoder, c *Catalog) {
	t.Helper()
	want, werr := EncodeCatalog(c)
	got, gerr := enc.encode(c)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("encoder error = %v\nEncodeCatalog error = %v", gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoder output differs from EncodeCatalog:\n%s\n%s", got, want)
	}
}

// Every validation case, on an encoder that has already encoded the valid
// catalog (so the changed tables are in its cache with their old values):
// it must find every problem EncodeCatalog finds and encode every valid
// catalog alike. Run twice, so that the second run starts from a cache
// the first case left.
func TestCatalogEncoderMatchesEncodeCatalog(t *testing.T) {
	enc := &catalogEncoder{}
	for round := range 2 {
		for _, tc := range catalogValidationCases() {
			t.Run(fmt.Sprintf("%d/%s", round, tc.name), func(t *testing.T) {
				checkEncoder(t, enc, validCatalog())
				c := validCatalog()
				tc.mutate(c)
				checkEncoder(t, enc, c)
				checkEncoder(t, enc, c) // from the cache it just filled
			})
		}
	}
}

// A sequence of DDL-like changes, each encoded by one encoder, as a
// catalog log's commits are.
func TestCatalogEncoderSequence(t *testing.T) {
	enc := &catalogEncoder{}
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
	for _, st := range steps {
		st.change(c)
		t.Run(st.name, func(t *testing.T) {
			checkEncoder(t, enc, c)
			checkEncoder(t, enc, c.Clone())
		})
	}
}

// The encoder keeps a private copy: changing a table it encoded, in
// place, is seen as a change.
func TestCatalogEncoderOwnsItsCopies(t *testing.T) {
	enc := &catalogEncoder{}
	c := validCatalog()
	checkEncoder(t, enc, c)
	c.Tables[0].Columns[1].Name = "changed"
	c.Tables[0].PrimaryKey[0] = "balance"
	c.Tables[0].Columns[2].Nullable = false
	checkEncoder(t, enc, c)
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
