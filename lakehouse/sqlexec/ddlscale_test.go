package sqlexec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/manifest"
)

// A random sequence of DDL statements (CREATE, DROP, ALTER … ADD, DROP and
// RENAME COLUMN, CREATE NAMESPACE, a CREATE of a name in use), each
// committed as table edits and installed as changes: after every
// statement the node's schema registry finds exactly what a cold process
// finds, loading the catalog from the object store and indexing it from
// scratch.
func TestDDLRegistryMatchesColdLoad(t *testing.T) {
	h := newHarness(t)
	h.seedTables(40)
	ctx := context.Background()
	b, err := objstore.NewFS(filepath.Join(h.dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(15, 7))
	var live []string // tables of namespace public
	seen := map[string]bool{}
	ids := map[string]bool{}
	cols := map[string]int{} // columns added to each table
	for step := range 60 {
		var sql string
		wantErr := dberr.Code("")
		switch k := rng.IntN(7); {
		case k <= 1 || len(live) == 0:
			name := fmt.Sprintf("t%d", step)
			sql = "CREATE TABLE " + name + " (id BIGINT PRIMARY KEY, v TEXT)"
			live = append(live, name)
			seen[name] = true
		case k == 2:
			i := rng.IntN(len(live))
			sql = "DROP TABLE " + live[i]
			live = append(live[:i], live[i+1:]...)
		case k == 3:
			name := live[rng.IntN(len(live))]
			cols[name]++
			sql = fmt.Sprintf("ALTER TABLE %s ADD COLUMN c%d INT", name, cols[name])
		case k == 4:
			name := live[rng.IntN(len(live))]
			sql = fmt.Sprintf("ALTER TABLE %s RENAME COLUMN v TO v%d", name, step)
			wantErr = "" // v may be gone already: either outcome is checked below
		case k == 5:
			sql = "CREATE TABLE " + live[rng.IntN(len(live))] + " (id BIGINT PRIMARY KEY)"
			wantErr = dberr.AlreadyExists
		default:
			sql = fmt.Sprintf("CREATE NAMESPACE ns%d", step)
		}
		_, err := h.exec(dba, sql)
		if wantErr != "" {
			if dberr.CodeOf(err) != wantErr {
				t.Fatalf("step %d: %s: got %v, want %s", step, sql, err, wantErr)
			}
		} else if err != nil && dberr.CodeOf(err) != dberr.ColumnNotFound {
			t.Fatalf("step %d: %s: %v", step, sql, err)
		}

		snap, err := h.app.Schemas().Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cold, err := schema.New(manifest.NewCatalogLog(b, manifest.LogOptions{NodeID: "cold"}), schema.Options{}).Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Version() != cold.Version() || snap.Tables() != cold.Tables() {
			t.Fatalf("step %d: %s: the node has v%d with %d tables, a cold load v%d with %d", step, sql,
				snap.Version(), snap.Tables(), cold.Version(), cold.Tables())
		}
		for _, def := range cold.Catalog().Tables {
			ids[def.ID] = true
			got, err := snap.TableByID(def.ID)
			if err != nil || !got.Def().Equal(&def) {
				t.Fatalf("step %d: %s: table %s.%s: the node has %+v (%v), a cold load %+v", step, sql, def.Namespace, def.Name, got, err, def)
			}
			if byName, err := snap.Table(def.Namespace, def.Name); err != nil || byName.Def().ID != def.ID {
				t.Fatalf("step %d: %s: table %s.%s by name: %v", step, sql, def.Namespace, def.Name, err)
			}
		}
		for id := range ids {
			_, errNode := snap.TableByID(id)
			_, errCold := cold.TableByID(id)
			if (errNode == nil) != (errCold == nil) {
				t.Fatalf("step %d: %s: table id %s: the node finds it: %v, a cold load: %v", step, sql, id, errNode == nil, errCold == nil)
			}
		}
		for name := range seen {
			_, errNode := snap.Table("public", name)
			_, errCold := cold.Table("public", name)
			if (errNode == nil) != (errCold == nil) {
				t.Fatalf("step %d: %s: table public.%s: the node finds it: %v, a cold load: %v", step, sql, name, errNode == nil, errCold == nil)
			}
		}
	}
}
