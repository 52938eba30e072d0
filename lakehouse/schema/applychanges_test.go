package schema

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// A registry that installs catalogs committed with table edits
// (manifest.CommitOptions.EditTables: random adds, drops, renames, schema
// changes, several per commit, with plain commits between them) finds
// exactly the tables an index built from scratch finds, by ID and by name,
// including the IDs and names that are gone; and it installs most of them
// as changes (an overlay), not rebuilds.
func TestInstalledChangesMatchRebuild(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testInstalledChanges(t, seed) })
	}
}

func testInstalledChanges(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	log := manifest.NewCatalogLog(objstore.NewMem(), manifest.LogOptions{NodeID: "n1"})
	cat, err := log.Commit(ctx, func(c *manifest.Catalog) (*manifest.Catalog, error) {
		c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: "app"})
		for i := range 200 {
			c.Tables = append(c.Tables, tenColumnTable(i))
		}
		return c, nil
	}, manifest.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := New(log, Options{RefreshInterval: time.Hour})
	reg.Install(cat)
	ids, names := map[string]bool{}, map[string]bool{}
	for _, tb := range cat.Tables {
		ids[tb.ID], names[tb.Name] = true, true
	}
	next, overlays := 1000, 0
	for step := range 300 {
		opts := manifest.CommitOptions{EditTables: rng.IntN(8) != 0}
		cat, err = log.Commit(ctx, func(c *manifest.Catalog) (*manifest.Catalog, error) {
			for range 1 + rng.IntN(3) {
				pick := c.Tables[rng.IntN(len(c.Tables))]
				name := fmt.Sprintf("n%d", rng.IntN(300))
				if _, taken := c.Table("app", name); taken {
					continue
				}
				switch rng.IntN(4) {
				case 0:
					next++
					tb := tenColumnTable(next)
					tb.Name = name
					c.AddTable(tb)
				case 1:
					if len(c.Tables) > 1 {
						c.RemoveTable(pick.ID)
					}
				case 2: // rename
					pick.Name = name
					c.ReplaceTable(pick)
				case 3: // drop a column: a new schema
					pick.Columns = slices.Clone(pick.Columns[:len(pick.Columns)-1])
					pick.SchemaVersion++
					c.ReplaceTable(pick)
				}
			}
			return c, nil
		}, opts)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, tb := range cat.Tables {
			ids[tb.ID], names[tb.Name] = true, true
		}
		snap := reg.Install(cat)
		if snap.Version() != cat.Version {
			t.Fatalf("step %d: installed v%d, want v%d", step, snap.Version(), cat.Version)
		}
		if len(snap.tables.id) > 0 {
			overlays++
		}
		fresh, _ := buildIndex(reg, cat, nil)
		if snap.Tables() != fresh.n {
			t.Fatalf("step %d: %d tables, a rebuild has %d", step, snap.Tables(), fresh.n)
		}
		count := 0
		snap.tables.each(func(*Table) { count++ })
		if count != fresh.n {
			t.Fatalf("step %d: each visits %d tables, want %d", step, count, fresh.n)
		}
		for id := range ids {
			got, gotErr := snap.TableByID(id)
			want, ok := fresh.byID(id)
			if (gotErr == nil) != ok || ok && !got.Def().Equal(want.Def()) {
				t.Fatalf("step %d: table %s: got %v (%v), a rebuild finds %v", step, id, got, gotErr, ok)
			}
		}
		for name := range names {
			got, gotErr := snap.Table("app", name)
			want, ok := fresh.byName(tableKey{"app", name})
			if (gotErr == nil) != ok || ok && got.Def().ID != want.Def().ID {
				t.Fatalf("step %d: table app.%s: got %v (%v), a rebuild finds %v", step, name, got, gotErr, ok)
			}
		}
	}
	if overlays < 150 {
		t.Errorf("only %d of 300 installs kept an overlay: the changes were rebuilt, not applied", overlays)
	}
}
