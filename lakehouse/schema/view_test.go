package schema

import (
	"context"
	"errors"
	"testing"

	"github.com/floedb/floe/manifest"
)

// testView is a view of namespace app reading deps (tables or views of
// app, by name).
func testView(name string, deps ...manifest.ViewDependency) manifest.View {
	return manifest.View{
		ID: "v_" + name, Namespace: "app", Name: name, SQL: "SELECT id FROM somewhere", SchemaVersion: 1,
		Columns: []manifest.ViewColumn{{Name: "id", Type: "BIGINT"}}, DependsOn: deps,
	}
}

func tableDep(name string) manifest.ViewDependency {
	return manifest.ViewDependency{Kind: manifest.DependsOnTable, Namespace: "app", Name: name}
}

func viewDep(name string) manifest.ViewDependency {
	return manifest.ViewDependency{Kind: manifest.DependsOnView, Namespace: "app", Name: name}
}

// TestViewMemo: a view's checked schema survives catalog versions that
// touch neither the view nor a dependency, direct or through another
// view, and is dropped by any change to them.
func TestViewMemo(t *testing.T) {
	ctx := context.Background()
	reg, src := newTestRegistry(3)
	src.commit(func(c *manifest.Catalog) {
		c.Views = []manifest.View{
			testView("v0", tableDep("todos_0")),
			testView("v01", viewDep("v0"), tableDep("todos_1")),
			testView("lone"),
		}
	})
	snap, err := reg.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Views() != 3 {
		t.Fatalf("snapshot has %d views, want 3", snap.Views())
	}
	if _, err := snap.View("app", "todos_0"); !errors.Is(err, ErrViewNotFound) {
		t.Fatalf("View(a table) = %v, want ErrViewNotFound", err)
	}
	check := func(s *Snapshot) {
		for _, def := range s.Catalog().Views {
			v, err := s.View(def.Namespace, def.Name)
			if err != nil {
				t.Fatal(err)
			}
			if v.Schema() == nil {
				v.SetSchema(&ViewSchema{Columns: v.Def().Columns})
			}
		}
	}
	checked := func(s *Snapshot, name string) bool {
		v, err := s.View("app", name)
		if err != nil {
			t.Fatal(err)
		}
		return v.Schema() != nil
	}
	check(snap)

	steps := []struct {
		name   string
		mutate func(c *manifest.Catalog)
		kept   map[string]bool
	}{
		{"unrelated table option", func(c *manifest.Catalog) { c.Tables[0].Options.FlushRows = 7 },
			map[string]bool{"v0": true, "v01": true, "lone": true}},
		{"unrelated table schema", func(c *manifest.Catalog) { c.Tables[2].SchemaVersion++ },
			map[string]bool{"v0": true, "v01": true, "lone": true}},
		{"new unrelated view", func(c *manifest.Catalog) { c.Views = append(c.Views, testView("extra", tableDep("todos_2"))) },
			map[string]bool{"v0": true, "v01": true, "lone": true, "extra": false}},
		{"direct dependency of v01 changes", func(c *manifest.Catalog) { c.Tables[1].SchemaVersion++ },
			map[string]bool{"v0": true, "v01": false, "lone": true, "extra": true}},
		{"dependency of v0 changes, v01 through it", func(c *manifest.Catalog) { c.Tables[0].SchemaVersion++ },
			map[string]bool{"v0": false, "v01": false, "lone": true, "extra": true}},
		{"view replaced", func(c *manifest.Catalog) { c.Views[0].SQL = "SELECT 2"; c.Views[0].SchemaVersion++ },
			map[string]bool{"v0": false, "v01": false, "lone": true, "extra": true}},
		{"dependency dropped", func(c *manifest.Catalog) { c.Tables = c.Tables[1:] },
			map[string]bool{"v0": false, "v01": false, "lone": true, "extra": true}},
		{"table recreated under the same name", func(c *manifest.Catalog) {
			tb := tenColumnTable(0)
			tb.ID = "t_new"
			c.Tables = append(c.Tables, tb)
		}, map[string]bool{"v0": false, "v01": false, "lone": true, "extra": true}},
	}
	for _, st := range steps {
		src.commit(st.mutate)
		next, err := reg.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range st.kept {
			if got := checked(next, name); got != want {
				t.Fatalf("%s: view %s kept its memo = %v, want %v", st.name, name, got, want)
			}
		}
		check(next)
	}
	// An old snapshot keeps its own memos.
	if !checked(snap, "v0") {
		t.Fatal("old snapshot lost its memo")
	}
}

// TestViewMemoLoop: a looping catalog (which Validate refuses, but a
// fingerprint must not hang on) gets fresh memos on every install.
func TestViewMemoLoop(t *testing.T) {
	ctx := context.Background()
	reg, src := newTestRegistry(1)
	src.commit(func(c *manifest.Catalog) {
		c.Views = []manifest.View{testView("a", viewDep("b")), testView("b", viewDep("a"))}
	})
	snap, err := reg.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := snap.View("app", "a")
	v.SetSchema(&ViewSchema{})
	src.commit(func(*manifest.Catalog) {})
	snap2, err := reg.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v2, _ := snap2.View("app", "a"); v2.Schema() != nil {
		t.Fatal("a view in a loop kept its memo")
	}
}
