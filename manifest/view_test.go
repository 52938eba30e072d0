package manifest

import (
	"slices"
	"testing"
)

func TestViewLookupsAndDependents(t *testing.T) {
	c := validCatalog()
	c.Views = append(c.Views, View{
		ID: "V3", Namespace: "system", Name: "top", SQL: "SELECT * FROM app.rich_ids", SchemaVersion: 1,
		Columns:   []ViewColumn{{Name: "n", Type: "BIGINT"}},
		DependsOn: []ViewDependency{{Kind: DependsOnView, Namespace: "app", Name: "rich_ids", ID: "V2"}},
	}, View{
		ID: "V4", Namespace: "app", Name: "other", SQL: "SELECT 1 AS one", SchemaVersion: 1,
		Columns: []ViewColumn{{Name: "one", Type: "INTEGER"}},
	})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.View("app", "rich"); !ok || v.ID != "V1" {
		t.Fatal("View(app, rich)")
	}
	if _, ok := c.View("app", "users"); ok {
		t.Fatal("View finds a table")
	}
	names := func(vs []*View) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.QualifiedName())
		}
		return out
	}
	tests := []struct {
		ns, name string
		want     []string
	}{
		{"app", "users", []string{"app.rich", "app.rich_ids", "system.top"}},
		{"app", "rich", []string{"app.rich_ids", "system.top"}},
		{"app", "rich_ids", []string{"system.top"}},
		{"system", "top", nil},
		{"app", "settings", nil},
	}
	for _, tc := range tests {
		if got := names(c.Dependents(tc.ns, tc.name)); !slices.Equal(got, tc.want) {
			t.Errorf("Dependents(%s.%s) = %v, want %v", tc.ns, tc.name, got, tc.want)
		}
	}
	if cyc := c.ViewCycle("app", "rich"); cyc != nil {
		t.Fatalf("ViewCycle on an acyclic catalog: %v", cyc)
	}
	// A loop (as a corrupt or foreign manifest might hold): Dependents
	// still ends and ViewCycle names it.
	c.Views[0].DependsOn = append(c.Views[0].DependsOn, ViewDependency{Kind: DependsOnView, Namespace: "system", Name: "top"})
	if got := names(c.Dependents("app", "users")); !slices.Equal(got, []string{"app.rich", "app.rich_ids", "system.top"}) {
		t.Fatalf("Dependents with a loop = %v", got)
	}
	if got := c.ViewCycle("app", "rich"); !slices.Equal(got, []string{"app.rich", "system.top", "app.rich_ids", "app.rich"}) {
		t.Fatalf("ViewCycle = %v", got)
	}
	if err := c.Validate(); err == nil {
		t.Fatal("a catalog with a view loop validates")
	}
}
