package manifest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

// editTable is a small valid table of namespace "app".
func editTable(id, name string, cols int) Table {
	t := Table{ID: id, Namespace: "app", Name: name, Type: TableShared, PrimaryKey: []string{"id"},
		Columns:       []Column{{ID: 1, Name: "id", Type: BigInt}},
		SchemaVersion: uint32(cols), NextColumnID: uint32(cols + 1), CreatedAt: testTime, UpdatedAt: testTime,
		Options: TableOptions{AccessLevel: AccessPrivate}}
	for i := 2; i <= cols; i++ {
		t.Columns = append(t.Columns, Column{ID: uint32(i), Name: fmt.Sprintf("c%d", i), Type: Text, Nullable: true})
	}
	return t
}

// Commits with CommitOptions.EditTables (random adds, removes, renames,
// schema changes, several in one commit, invalid ones; between them plain
// commits and another process's) give exactly what the same changes give
// without edits: the committed catalog, what a cold reader loads, the
// lookups during the mutation, the changes TableChanges reports, and the
// errors. No commit changes a catalog returned before it (the tables
// array is shared).
func TestTableEditsMatchFullRebuild(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			testTableEdits(t, seed)
		})
	}
}

func testTableEdits(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 15))
	b := objstore.NewMem()
	a := NewCatalogLog(b, testOpts("node-a"))
	other := NewCatalogLog(b, testOpts("node-b"))
	model := map[string]Table{} // by ID
	if _, err := a.Commit(ctx, func(c *Catalog) (*Catalog, error) {
		c.Namespaces = append(c.Namespaces, Namespace{Name: "app", CreatedAt: testTime})
		for i := range 300 { // many tables per shard, and edits past the registry's overlay
			tb := editTable(fmt.Sprintf("s%04d", i), fmt.Sprintf("seed%d", i), 2)
			c.Tables = append(c.Tables, tb)
			model[tb.ID] = tb
		}
		return c, nil
	}, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	type held struct{ c, copy *Catalog }
	var kept []held
	next := 0
	names := func() string { return fmt.Sprintf("n%d", rng.IntN(40)) } // a small pool: names clash
	randomID := func(m map[string]Table) string {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return "none"
		}
		slices.Sort(ids)
		return ids[rng.IntN(len(ids))]
	}
	nameTaken := func(m map[string]Table, name, except string) bool {
		for id, tb := range m {
			if tb.Name == name && id != except {
				return true
			}
		}
		return false
	}
	var prev *Catalog
	for step := range 150 {
		switch rng.IntN(10) {
		case 0: // a plain commit
			next++
			tb := editTable(fmt.Sprintf("p%04d", next), fmt.Sprintf("plain%d", next), 2)
			if _, err := a.Commit(ctx, func(c *Catalog) (*Catalog, error) {
				c.Tables = append(c.Tables, tb)
				return c, nil
			}, CommitOptions{}); err != nil {
				t.Fatal(err)
			}
			model[tb.ID] = tb
			prev = nil
			continue
		case 1: // another process's commit: a's head and store go stale
			next++
			tb := editTable(fmt.Sprintf("o%04d", next), fmt.Sprintf("other%d", next), 2)
			if _, err := other.Commit(ctx, func(c *Catalog) (*Catalog, error) {
				c.Tables = append(c.Tables, tb)
				return c, nil
			}, CommitOptions{}); err != nil {
				t.Fatal(err)
			}
			model[tb.ID] = tb
			prev = nil
			continue
		}
		// An edit commit of 1 to 3 operations; want is the model after it.
		want := maps.Clone(model)
		valid := true
		type op struct {
			kind     int
			id, name string
			cols     int
		}
		var ops []op
		for range 1 + rng.IntN(3) {
			o := op{kind: rng.IntN(6)}
			switch o.kind {
			case 0, 1: // add (a new ID, or rarely one in use)
				next++
				o.id, o.name, o.cols = fmt.Sprintf("e%04d", next), names(), 2
				if rng.IntN(15) == 0 {
					o.id = randomID(want)
				}
				if _, used := want[o.id]; used {
					valid = false
				}
				want[o.id] = editTable(o.id, o.name, o.cols)
			case 2: // remove
				o.id = randomID(want)
				delete(want, o.id)
			case 3: // rename
				o.id, o.name = randomID(want), names()
				if tb, ok := want[o.id]; ok {
					tb.Name = o.name
					want[o.id] = tb
				}
			case 5: // add a namespace
				next++
				o.name = fmt.Sprintf("ns%d", next)
			case 4: // add a column
				o.id = randomID(want)
				if tb, ok := want[o.id]; ok {
					o.cols = len(tb.Columns) + 1
					nt := editTable(tb.ID, tb.Name, o.cols)
					want[o.id] = nt
				}
			}
			ops = append(ops, o)
		}
		for id, tb := range want { // names are unique once all ops are done
			if nameTaken(want, tb.Name, id) {
				valid = false
			}
		}
		got, err := a.Commit(ctx, func(c *Catalog) (*Catalog, error) {
			for _, o := range ops {
				switch o.kind {
				case 0, 1:
					c.AddTable(editTable(o.id, o.name, o.cols))
				case 2:
					if !c.RemoveTable(o.id) && o.id != "none" {
						return nil, fmt.Errorf("remove %s: not found", o.id)
					}
				case 3, 4:
					cur, ok := c.TableByID(o.id)
					if !ok {
						continue
					}
					nt := *cur
					if o.kind == 3 {
						nt.Name = o.name
					} else {
						nt = editTable(cur.ID, cur.Name, o.cols)
					}
					if !c.ReplaceTable(nt) {
						return nil, fmt.Errorf("replace %s: not found", o.id)
					}
				case 5:
					c.Namespaces = append(c.Namespaces, Namespace{Name: o.name, CreatedAt: testTime})
				}
			}
			// The lookups agree with a scan (names are unique if valid).
			for range 3 {
				if !valid {
					break
				}
				name := names()
				scan := slices.IndexFunc(c.Tables, func(tb Table) bool { return tb.Namespace == "app" && tb.Name == name })
				tb, ok := c.Table("app", name)
				if ok != (scan >= 0) || ok && tb.ID != c.Tables[scan].ID {
					return nil, fmt.Errorf("lookup of %s: got %v, a scan finds position %d", name, ok, scan)
				}
				id := randomID(model)
				scan = slices.IndexFunc(c.Tables, func(tb Table) bool { return tb.ID == id })
				tb, ok = c.TableByID(id)
				if ok != (scan >= 0) || ok && tb != &c.Tables[scan] {
					return nil, fmt.Errorf("lookup of id %s: got %v, a scan finds position %d", id, ok, scan)
				}
			}
			return c, nil
		}, CommitOptions{EditTables: true})
		if !valid {
			if err == nil {
				t.Fatalf("step %d: %+v: committed an invalid catalog", step, ops)
			}
			if !strings.Contains(err.Error(), "invalid") {
				t.Fatalf("step %d: %+v: %v", step, ops, err)
			}
			prev = nil
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %+v: %v", step, ops, err)
		}
		model = want
		// The catalog holds the model's tables, and so does a cold reader's.
		wantTables := make([]Table, 0, len(model))
		for _, tb := range model {
			wantTables = append(wantTables, tb)
		}
		wantCat := got.Clone()
		wantCat.Tables = wantTables
		sameCatalog(t, got, wantCat)
		cold, err := NewCatalogLog(b, testOpts("node-c")).Latest(ctx)
		if err != nil {
			t.Fatalf("step %d: cold load: %v", step, err)
		}
		sameCatalog(t, cold, got)
		// TableChanges, when known, is the difference from the previous
		// commit of a.
		if base, changed, removed, ok := got.TableChanges(); ok && prev != nil && base == prev.CommitID {
			old := map[string]*Table{}
			for i := range prev.Tables {
				old[prev.Tables[i].ID] = &prev.Tables[i]
			}
			var wantChanged, wantRemoved, gotChanged []string
			for i := range got.Tables {
				if o := old[got.Tables[i].ID]; o == nil || !o.Equal(&got.Tables[i]) {
					wantChanged = append(wantChanged, got.Tables[i].ID)
				}
				delete(old, got.Tables[i].ID)
			}
			for id := range old {
				wantRemoved = append(wantRemoved, id)
			}
			for _, tb := range changed {
				gotChanged = append(gotChanged, tb.ID)
			}
			slices.Sort(wantChanged)
			slices.Sort(wantRemoved)
			slices.Sort(gotChanged)
			slices.Sort(removed)
			// A table removed and added back under its ID is both; one
			// replaced by an equal one may be reported as changed.
			removedOnly := slices.DeleteFunc(slices.Clone(removed), func(id string) bool { return slices.Contains(gotChanged, id) })
			missed := slices.DeleteFunc(slices.Clone(wantChanged), func(id string) bool { return slices.Contains(gotChanged, id) })
			if len(missed) > 0 || !slices.Equal(removedOnly, wantRemoved) {
				t.Fatalf("step %d: %+v: TableChanges: changed %v removed %v, want changed %v removed %v", step, ops, gotChanged, removed, wantChanged, wantRemoved)
			}
		}
		prev = got
		kept = append(kept, held{got, got.Clone()})
		for _, h := range kept {
			if !reflect.DeepEqual(h.c.Tables, h.copy.Tables) {
				t.Fatalf("step %d: %+v: the tables of v%d changed after it was committed", step, ops, h.c.Version)
			}
		}
	}
}

// Two catalogs cloned from one version each append a table: the first
// appends in place (the array has room), the second must not write over
// it. A catalog Log never makes two such clones, but a mutation that
// failed after AddTable leaves its slot taken, and a commit that reuses
// it must copy.
func TestTableEditsNeverOverwriteAnotherCatalog(t *testing.T) {
	ctx := context.Background()
	l := NewCatalogLog(objstore.NewMem(), testOpts("node-a"))
	_, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
		c.Namespaces = append(c.Namespaces, Namespace{Name: "app", CreatedAt: testTime})
		c.AddTable(editTable("t1", "one", 2))
		return c, nil
	}, CommitOptions{EditTables: true})
	if err != nil {
		t.Fatal(err)
	}
	base, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
		c.AddTable(editTable("t2", "two", 2))
		return c, nil
	}, CommitOptions{EditTables: true})
	if err != nil {
		t.Fatal(err)
	}
	if base.arr == nil || cap(base.arr.full) <= len(base.Tables) {
		t.Fatalf("the committed catalog's array has no room: the test tests nothing")
	}
	a, b := base.editClone(nil), base.editClone(nil)
	a.AddTable(editTable("ta", "a", 2))
	b.AddTable(editTable("tb", "b", 2))
	if &a.Tables[0] != &base.Tables[0] {
		t.Errorf("the first append copied the array")
	}
	if got := a.Tables[len(a.Tables)-1].ID; got != "ta" {
		t.Errorf("the first clone's last table is %s, want ta", got)
	}
	if got := b.Tables[len(b.Tables)-1].ID; got != "tb" {
		t.Errorf("the second clone's last table is %s, want tb", got)
	}
	if len(base.Tables) != 2 {
		t.Errorf("the base has %d tables, want 2", len(base.Tables))
	}
}

// A mutation of an edit commit that appends to Tables itself, breaking
// the EditTables contract, is caught by the count of its tables: the
// commit compares every table, and TableChanges says the changes are
// unknown (a registry then compares every table too).
func TestTableEditsNoticeADirectAppend(t *testing.T) {
	ctx := context.Background()
	l := NewCatalogLog(objstore.NewMem(), testOpts("node-a"))
	if _, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
		c.Namespaces = append(c.Namespaces, Namespace{Name: "app", CreatedAt: testTime})
		c.AddTable(editTable("t1", "one", 2))
		return c, nil
	}, CommitOptions{EditTables: true}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Commit(ctx, func(c *Catalog) (*Catalog, error) {
		c.AddTable(editTable("t2", "two", 2))
		c.Tables = append(c.Tables, editTable("t3", "three", 2))
		return c, nil
	}, CommitOptions{EditTables: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := got.TableChanges(); ok {
		t.Errorf("TableChanges reports known changes for a catalog whose tables were appended to directly")
	}
	cold, err := NewCatalogLog(l.bucket, testOpts("node-c")).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tableIDs(cold); !slices.Equal(ids, []string{"t1", "t2", "t3"}) {
		t.Errorf("a cold load finds tables %v, want t1 t2 t3", ids)
	}
}
