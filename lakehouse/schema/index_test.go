package schema

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/floedb/floe/manifest"
)

// A long random sequence of DDL-like changes, each installed on top of
// the last (so the index is updated, and now and then rebuilt): after
// every install each table is found by ID and by name with its current
// definition, nothing dropped or renamed away is found, and a table whose
// schema did not change keeps its memo (the same Arrow schema).
func TestInstallIncremental(t *testing.T) {
	reg, _ := newTestRegistry(0)
	rnd := rand.New(rand.NewPCG(1, 2))
	cat := &manifest.Catalog{Header: manifest.Header{Version: 1}, Namespaces: []manifest.Namespace{{Name: "app"}}}
	for i := range 300 {
		cat.Tables = append(cat.Tables, tenColumnTable(i))
	}
	reg.Install(cat)
	next := 300
	var gone []manifest.Table
	for step := range 400 {
		prev := reg.snap.Load()
		c := cat.Clone()
		c.Version++
		switch op := rnd.IntN(6); {
		case op == 0 || len(c.Tables) < 10:
			c.Tables = append(c.Tables, tenColumnTable(next))
			next++
		case op == 1:
			i := rnd.IntN(len(c.Tables))
			gone = append(gone, c.Tables[i])
			c.Tables = slices.Delete(c.Tables, i, i+1)
		case op == 2: // two tables swap names
			i, j := rnd.IntN(len(c.Tables)), rnd.IntN(len(c.Tables))
			c.Tables[i].Name, c.Tables[j].Name = c.Tables[j].Name, c.Tables[i].Name
		case op == 3: // a schema change
			tb := &c.Tables[rnd.IntN(len(c.Tables))]
			tb.Columns = append(tb.Columns, manifest.Column{ID: tb.NextColumnID, Name: fmt.Sprintf("c%d", tb.NextColumnID), Type: manifest.Text, Nullable: true})
			tb.NextColumnID++
			tb.SchemaVersion++
		case op == 4: // an option
			c.Tables[rnd.IntN(len(c.Tables))].Options.FlushRows++
		default: // a rename to a fresh name
			c.Tables[rnd.IntN(len(c.Tables))].Name = fmt.Sprintf("renamed_%d", step)
		}
		snap := reg.Install(c)
		if snap.Version() != c.Version || snap.Tables() != len(c.Tables) {
			t.Fatalf("step %d: snapshot v%d with %d tables, want v%d with %d", step, snap.Version(), snap.Tables(), c.Version, len(c.Tables))
		}
		for i := range c.Tables {
			def := &c.Tables[i]
			byID, err := snap.TableByID(def.ID)
			if err != nil || !byID.Def().Equal(def) {
				t.Fatalf("step %d: TableByID(%s) = %+v, %v; want %+v", step, def.ID, byID, err, def)
			}
			byName, err := snap.Table(def.Namespace, def.Name)
			if err != nil || byName != byID {
				t.Fatalf("step %d: Table(%s) = %v, %v", step, def.Name, byName, err)
			}
			if old, err := prev.TableByID(def.ID); err == nil && old.Def().SchemaVersion == def.SchemaVersion {
				a, _ := old.ArrowSchema()
				b, _ := byID.ArrowSchema()
				if a != b {
					t.Fatalf("step %d: table %s lost its memo", step, def.ID)
				}
			}
		}
		for _, g := range gone {
			if _, err := snap.TableByID(g.ID); err == nil {
				t.Fatalf("step %d: dropped table %s still found", step, g.ID)
			}
			if tb, err := snap.Table(g.Namespace, g.Name); err == nil {
				if _, ok := c.Table(g.Namespace, g.Name); !ok {
					t.Fatalf("step %d: dropped name %s found as %s", step, g.Name, tb.Def().ID)
				}
			}
		}
		for _, old := range prev.Catalog().Tables {
			if _, ok := c.Table(old.Namespace, old.Name); !ok {
				if tb, err := snap.Table(old.Namespace, old.Name); err == nil {
					t.Fatalf("step %d: name %s, gone, still finds %s", step, old.Name, tb.Def().ID)
				}
			}
		}
		n := 0
		snap.tables.each(func(*Table) { n++ })
		if n != len(c.Tables) {
			t.Fatalf("step %d: the index iterates %d tables, want %d", step, n, len(c.Tables))
		}
		cat = c
	}
}
