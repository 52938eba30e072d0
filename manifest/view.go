package manifest

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// View is a named query with no storage of its own. Its SQL text is the
// source of truth: a reader binds it again for every query, with the
// caller's own rights. Columns and DependsOn are what the query produced
// and read when the view was created (or last replaced); the SQL layer
// checks them at query time to report a broken view clearly.
//
// Views and tables share one name space per namespace: no view has the
// name of a table of its namespace.
type View struct {
	// ID never changes, also not when the view is replaced (CREATE OR
	// REPLACE VIEW); it follows the table ID rules (ValidateTableID) and is
	// unique among tables and views.
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// SQL is the view's query as the user wrote it (a SELECT, WITH, VALUES,
	// FROM or TABLE query, in Floe's dialect). Unqualified table names in
	// it name tables and views of the view's own namespace.
	SQL string `json:"sql"`
	// Columns are the result columns in order: at least one, names unique
	// (ASCII case-insensitively, as the engine compares them).
	Columns []ViewColumn `json:"columns"`
	// DependsOn lists the tables and views the query reads directly (CTE
	// names excluded), each once, in the order of the query text.
	DependsOn []ViewDependency `json:"depends_on,omitempty"`
	// SchemaVersion starts at 1 and increases when the view is replaced.
	SchemaVersion uint32    `json:"schema_version"`
	CreatedAt     time.Time `json:"created_at"`
	// CreatedBy is the user id of the creator, who may drop or replace it.
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ViewColumn is one result column of a view.
type ViewColumn struct {
	Name string `json:"name"`
	// Type is the column's engine (DuckDB) type as the engine names it,
	// e.g. BIGINT, VARCHAR, DECIMAL(18,2), INTEGER[]: a view's columns may
	// have types no table column has.
	Type string `json:"type"`
	// Source is the name of the column in the query's own result when the
	// view renames it (CREATE VIEW v (a, b) AS …); "" when it is Name.
	Source string `json:"source,omitempty"`
}

// DependencyKind says what a view depends on.
type DependencyKind string

// Dependency kinds.
const (
	DependsOnTable DependencyKind = "TABLE"
	DependsOnView  DependencyKind = "VIEW"
)

// ViewDependency is a table or view a view reads.
type ViewDependency struct {
	Kind      DependencyKind `json:"kind"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	// ID is the table's or view's ID when the view was created.
	ID string `json:"id"`
}

// QualifiedName returns namespace.name.
func (v *View) QualifiedName() string { return v.Namespace + "." + v.Name }

// View returns the view named name in namespace ns. The pointer is into
// c: mutate it only on a clone.
func (c *Catalog) View(ns, name string) (*View, bool) {
	for i := range c.Views {
		if v := &c.Views[i]; v.Namespace == ns && v.Name == name {
			return v, true
		}
	}
	return nil, false
}

// Dependents returns the views that read the table or view ns.name,
// directly or through other views, in catalog order. It follows each
// view once, so it ends even on a catalog whose dependencies loop.
func (c *Catalog) Dependents(ns, name string) []*View {
	type key struct{ ns, name string }
	found := map[key]bool{{ns, name}: true}
	var out []*View
	for changed := true; changed; {
		changed = false
		for i := range c.Views {
			v := &c.Views[i]
			if found[key{v.Namespace, v.Name}] {
				continue
			}
			if slices.ContainsFunc(v.DependsOn, func(d ViewDependency) bool { return found[key{d.Namespace, d.Name}] }) {
				found[key{v.Namespace, v.Name}] = true
				out = append(out, v)
				changed = true
			}
		}
	}
	// Catalog order, whatever order the fixpoint found them in.
	slices.SortFunc(out, func(a, b *View) int { return c.viewIndex(a) - c.viewIndex(b) })
	return out
}

func (c *Catalog) viewIndex(v *View) int {
	for i := range c.Views {
		if &c.Views[i] == v {
			return i
		}
	}
	return -1
}

// ViewCycle returns the names of a dependency loop among c's views that
// passes through ns.name (["a.v", "a.w", "a.v"]), nil if there is none.
func (c *Catalog) ViewCycle(ns, name string) []string {
	start := ns + "." + name
	var path []string
	seen := map[string]bool{}
	var visit func(v *View) bool
	visit = func(v *View) bool {
		path = append(path, v.QualifiedName())
		for _, d := range v.DependsOn {
			if d.Kind != DependsOnView {
				continue
			}
			q := d.Namespace + "." + d.Name
			if q == start {
				path = append(path, q)
				return true
			}
			if seen[q] {
				continue
			}
			seen[q] = true
			if w, ok := c.View(d.Namespace, d.Name); ok && visit(w) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if v, ok := c.View(ns, name); ok && visit(v) {
		return path
	}
	return nil
}

// MaxViewSQLLen bounds a view's SQL text (1 MiB): the catalog is read on
// every start and by every stateless function.
const MaxViewSQLLen = 1 << 20

type viewLabel struct{ v *View }

func (l viewLabel) String() string {
	return fmt.Sprintf("view %s.%s (id %q)", l.v.Namespace, l.v.Name, l.v.ID)
}

// validateViews checks the views of c; ids and names hold the table IDs
// and qualified table names already seen.
func validateViews(p *problems, c *Catalog, namespaces map[string]bool, ids map[string]idOwner, names map[qualifiedName]bool) {
	for i := range c.Views {
		v := &c.Views[i]
		label := viewLabel{v}
		if msg := tableIDProblem(v.ID); msg != "" {
			p.addf("%s: %s", label, strings.Replace(msg, "table id", "view id", 1))
		}
		if other, dup := ids[v.ID]; dup {
			p.addf("%s: id is also used by %s", label, other)
		} else {
			ids[v.ID] = idOwner{v.Namespace, v.Name, true}
		}
		if !namespaces[v.Namespace] {
			p.addf("%s: namespace %q does not exist", label, v.Namespace)
		}
		if msg := nameProblem("view", v.Name); msg != "" {
			p.addf("%s: %s", label, msg)
		}
		if names[qualifiedName{v.Namespace, v.Name}] {
			p.addf("%s: a table or another view has the same name", label)
		}
		names[qualifiedName{v.Namespace, v.Name}] = true
		switch {
		case strings.TrimSpace(v.SQL) == "":
			p.addf("%s: sql is empty", label)
		case len(v.SQL) > MaxViewSQLLen:
			p.addf("%s: sql is %d bytes long, the limit is %d", label, len(v.SQL), MaxViewSQLLen)
		case strings.IndexByte(v.SQL, 0) >= 0:
			p.addf("%s: sql holds a NUL byte", label)
		}
		p.utf8(label, ": sql", v.SQL)
		p.utf8(label, ": created_by", v.CreatedBy)
		if v.SchemaVersion < 1 {
			p.addf("%s: schema_version must be at least 1", label)
		}
		if len(v.Columns) == 0 {
			p.addf("%s: a view needs at least one column", label)
		}
		cols := make(map[string]bool, len(v.Columns))
		for j, col := range v.Columns {
			switch {
			case col.Name == "":
				p.addf("%s: column #%d has no name", label, j+1)
			case cols[asciiLower(col.Name)]:
				p.addf("%s: column %q is listed more than once", label, col.Name)
			}
			cols[asciiLower(col.Name)] = true
			if col.Type == "" {
				p.addf("%s: column %q has no type", label, col.Name)
			}
			for _, s := range []string{col.Name, col.Type, col.Source} {
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					p.addf("%s: column %q: name, type and source must be valid UTF-8 without NUL", label, col.Name)
				}
			}
		}
		deps := make(map[string]bool, len(v.DependsOn))
		for _, d := range v.DependsOn {
			q := d.Namespace + "." + d.Name
			switch {
			case d.Kind != DependsOnTable && d.Kind != DependsOnView:
				p.addf("%s: dependency %s has unknown kind %q (want TABLE or VIEW)", label, q, d.Kind)
			case d.Namespace == "" || d.Name == "":
				p.addf("%s: a dependency has no namespace or name", label)
			case deps[q]:
				p.addf("%s: dependency %s is listed more than once", label, q)
			case q == v.QualifiedName():
				p.addf("%s: the view depends on itself", label)
			}
			deps[q] = true
			p.utf8(label, ": dependency", q+d.ID)
		}
		if cycle := c.ViewCycle(v.Namespace, v.Name); len(cycle) > 2 {
			p.addf("%s: views depend on each other in a loop: %s", label, strings.Join(cycle, " -> "))
		}
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// cloneViews deep-copies views.
func cloneViews(views []View) []View {
	out := slices.Clone(views)
	for i := range out {
		out[i].Columns = slices.Clone(out[i].Columns)
		out[i].DependsOn = slices.Clone(out[i].DependsOn)
	}
	return out
}
