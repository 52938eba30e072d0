package manifest

import (
	"bytes"
	"reflect"
	"testing"
)

func TestCloneIsDeep(t *testing.T) {
	t.Run("catalog", func(t *testing.T) {
		orig := validCatalog()
		before := mustEncodeCatalog(t, orig)
		c := orig.Clone()
		if !reflect.DeepEqual(c, orig) {
			t.Fatal("clone differs from the original")
		}
		c.Writer.NodeID = "x"
		c.Namespaces[0].Name = "x"
		c.Tables[0].Name = "x"
		c.Tables[0].Columns[0].Name = "x"
		c.Tables[0].PrimaryKey[0] = "x"
		c.Views[0].Columns[0].Name = "x"
		c.Views[0].DependsOn[0].Name = "x"
		c.Views[1].Name = "x"
		c.Namespaces = append(c.Namespaces, Namespace{Name: "y"})
		if after := mustEncodeCatalog(t, orig); after != before {
			t.Fatalf("mutating the clone changed the original")
		}
		var nilCat *Catalog
		if nilCat.Clone() != nil {
			t.Fatal("nil clone")
		}
	})
	t.Run("partition", func(t *testing.T) {
		orig := validPartition()
		orig.Segments[0].Deleted = int64Ptr(0)
		before := mustEncodePartition(t, orig)
		p := orig.Clone()
		if !reflect.DeepEqual(p, orig) {
			t.Fatal("clone differs from the original")
		}
		p.Segments[0].Key = "x"
		p.Segments[0].Columns[0].ColumnID = 9
		*p.Segments[0].Columns[0].Min = "x"
		*p.Segments[0].Deleted = 5
		if after := mustEncodePartition(t, orig); after != before {
			t.Fatalf("mutating the clone changed the original")
		}
	})
	t.Run("nil and empty preserved", func(t *testing.T) {
		c := &Catalog{Namespaces: []Namespace{}}
		cc := c.Clone()
		if cc.Namespaces == nil || cc.Tables != nil {
			t.Fatalf("clone changed nil-ness: %#v", cc)
		}
	})
}

func TestLookups(t *testing.T) {
	c := validCatalog()
	if ns, ok := c.Namespace("system"); !ok || ns.Name != "system" {
		t.Fatal("Namespace(system)")
	}
	if _, ok := c.Namespace("nope"); ok {
		t.Fatal("Namespace(nope)")
	}
	tb, ok := c.Table("app", "events")
	if !ok || tb.ID != "T3" {
		t.Fatal("Table(app, events)")
	}
	if _, ok := c.Table("system", "events"); ok {
		t.Fatal("Table(system, events)")
	}
	if tb, ok := c.TableByID("T4"); !ok || tb.Name != "tables" {
		t.Fatal("TableByID(T4)")
	}
	if _, ok := c.TableByID("nope"); ok {
		t.Fatal("TableByID(nope)")
	}
	if col, ok := tb.Column("payload"); !ok || col.ID != 2 {
		t.Fatal("Column(payload)")
	}
	// Lookups return pointers into the catalog.
	tb.Name = "renamed"
	if _, ok := c.Table("app", "renamed"); !ok {
		t.Fatal("Table pointer is not into the catalog")
	}
	p := validPartition()
	if s, ok := p.Segment(p.Segments[1].Key); !ok || s.SeqMin != 101 {
		t.Fatal("Segment")
	}
	if _, ok := p.Segment("nope"); ok {
		t.Fatal("Segment(nope)")
	}
}

// TestDecodeNormalizesNothingSurprising: decode of an encoding keeps
// fields byte-identical on re-encode.
func TestReencodeStable(t *testing.T) {
	data := []byte(mustEncodeCatalog(t, validCatalog()))
	c, err := DecodeCatalog(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeCatalog(c.Clone())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatal("clone re-encodes differently")
	}
}
