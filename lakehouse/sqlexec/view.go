package sqlexec

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/lakehouse/sqlbind"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// Views
//
// A view is a named query stored in the catalog manifest (manifest.View):
// its SQL text, result columns and the tables and views it reads. It has
// no storage and no rights of its own. A query naming a view binds the
// view's stored SQL again through sqlbind, with the caller's principal, and
// puts the bound query, projected to the view's columns, in place of the
// reference as a subquery (sqlbind.Replacement.Inline): the gate checks it
// again as part of the caller's whole query, its table references at their
// new positions. So the view's rows are exactly what the caller could read
// by writing the query out (a view over a USER table shows each caller its
// own rows; a view over a table the caller may not read fails with
// PERMISSION_DENIED), user SQL still reaches DuckDB only through the gate,
// and DuckDB plans the query as if it were written out. Where a subquery
// cannot stand (TABLE v, FROM ONLY v), and for the first query of a view
// at each version (which checks the view's column types, below), the bound
// query becomes a temporary view of the statement's DuckDB session
// instead, and the reference is rewritten to its name. The inlined form
// is cached per catalog version and principal (boundcache.go), so a
// statement reusing it only builds its own table sources.
//
// Unqualified names in a view's SQL name tables and views of the view's
// own namespace (not the namespace of the session that created it).
//
// Rights: any principal may create a view in a namespace other than
// system, provided it can read everything the view reads (the view is
// bound for the creator at creation). The creator or any role from
// service up may replace or drop it.
//
// Dependencies are checked at query time: a table or view the view read at
// creation that no longer exists, or a column its query needs that is
// gone, fails the query with VIEW_BROKEN naming the view and what is
// missing. The check that the view's columns still have the types stored
// at creation runs once per view and dependency version: its outcome is
// memoized in the schema registry (schema.View), which drops it when the
// view or a dependency changes.

// maxViewDepth bounds how deeply views may be nested at query time.
const maxViewDepth = 16

// relations are the temporary relations one statement has created.
type relations struct {
	// tables are the sources of tables (trusted queries, or temporary
	// relations), shared by the statement's own text and every view it
	// expands.
	tables map[viewKey]*boundSource
	// views maps a view's ID to its temporary view.
	views map[string]string
	// inlined maps a view's ID to its query, bound for the caller and
	// projected to the view's columns, for inlining.
	inlined map[string]*sqlbind.Bound
}

// viewChain is the views being expanded (or created), innermost first.
// A nil chain is the statement's own text.
type viewChain struct {
	view   *manifest.View
	parent *viewChain
	// deps, when set, collects the direct dependencies of view (CREATE
	// VIEW).
	deps *[]manifest.ViewDependency
}

// namespace returns where unqualified names resolve: the innermost view's
// namespace, or def for the statement's own text.
func (c *viewChain) namespace(def string) string {
	if c == nil {
		return def
	}
	return c.view.Namespace
}

// record notes a dependency of the innermost view when its dependencies
// are being collected.
func (c *viewChain) record(kind manifest.DependencyKind, ns, name, id string) {
	if c == nil || c.deps == nil {
		return
	}
	if slices.ContainsFunc(*c.deps, func(d manifest.ViewDependency) bool { return d.Namespace == ns && d.Name == name }) {
		return
	}
	*c.deps = append(*c.deps, manifest.ViewDependency{Kind: kind, Namespace: ns, Name: name, ID: id})
}

// outermost returns the view the expansion started from.
func (c *viewChain) outermost() *manifest.View {
	for c.parent != nil {
		c = c.parent
	}
	return c.view
}

// creating reports whether the chain binds a view being created.
func (c *viewChain) creating() bool {
	for ; c != nil; c = c.parent {
		if c.parent == nil {
			return c.deps != nil
		}
	}
	return false
}

func (c *viewChain) depth() int {
	n := 0
	for ; c != nil; c = c.parent {
		n++
	}
	return n
}

// path names the chain outermost first: "a.v -> a.w".
func (c *viewChain) path() string {
	var names []string
	for ; c != nil; c = c.parent {
		names = append(names, c.view.QualifiedName())
	}
	slices.Reverse(names)
	return strings.Join(names, " -> ")
}

func (c *viewChain) contains(ns, name string) bool {
	for ; c != nil; c = c.parent {
		if c.view.Namespace == ns && c.view.Name == name {
			return true
		}
	}
	return false
}

// refName is the qualified name a reference names, unqualified names in
// namespace ns.
func refName(ref sqlbind.TableRef, ns string) sqlparse.Name {
	n := sqlparse.Name{Namespace: strings.ToLower(ref.Schema), Name: strings.ToLower(ref.Name)}
	if n.Namespace == "" {
		n.Namespace = ns
	}
	return n
}

// viewOf returns the view a reference names, if it names one.
func (q *stmtCtx) viewOf(ref sqlbind.TableRef, within *viewChain) (*schema.View, bool) {
	if ref.Catalog != "" || q.snap.Views() == 0 {
		return nil, false
	}
	n := refName(ref, within.namespace(q.ns))
	v, err := q.snap.View(n.Namespace, n.Name)
	return v, err == nil
}

// expandView returns what replaces a reference to view v: the view's
// query bound for the caller, inlined as a subquery, or — where a
// subquery cannot stand (TABLE v) or the view's column types have not been
// checked at this version — a temporary view holding it. Either is built
// once per statement; the inlined query comes from the bound view cache
// when it holds the view's form (not while a view is being created, whose
// binding collects dependencies).
func (q *stmtCtx) expandView(ctx context.Context, v *schema.View, ref sqlbind.TableRef, within *viewChain) (sqlbind.Replacement, error) {
	def := v.Def()
	within.record(manifest.DependsOnView, def.Namespace, def.Name, def.ID)
	if ref.AtVersion != nil {
		return sqlbind.Replacement{}, dberr.New(dberr.Unsupported, "%s is a view and has no versions: AS OF VERSION applies to tables", def.QualifiedName())
	}
	inline := !ref.Bare && v.Schema() != nil
	if b, ok := q.rels.inlined[def.ID]; ok && inline {
		return sqlbind.Replacement{Inline: b}, nil
	}
	if name, ok := q.rels.views[def.ID]; ok && !inline {
		return sqlbind.Replacement{Name: name}, nil
	}
	if within.contains(def.Namespace, def.Name) {
		if within.creating() {
			return sqlbind.Replacement{}, dberr.New(dberr.InvalidArgument, "view %s would read itself: %s -> %s", within.outermost().QualifiedName(), within.path(), def.QualifiedName())
		}
		return sqlbind.Replacement{}, dberr.New(dberr.ViewBroken, "view %s reads itself (%s -> %s); replace one of these views", def.QualifiedName(), within.path(), def.QualifiedName())
	}
	if within.depth() >= maxViewDepth {
		return sqlbind.Replacement{}, dberr.New(dberr.ViewBroken, "views are nested more than %d deep (%s -> %s)", maxViewDepth, within.path(), def.QualifiedName())
	}
	if err := q.checkViewDeps(def); err != nil {
		return sqlbind.Replacement{}, err
	}
	cacheable := inline && !within.creating()
	if cacheable {
		if w, ok := q.cachedView(ctx, def); ok {
			q.inline(def, w)
			return sqlbind.Replacement{Inline: w}, nil
		}
	}
	chain := &viewChain{view: def, parent: within}
	b, err := q.bindView(ctx, def.SQL, chain)
	if err != nil {
		return sqlbind.Replacement{}, viewBindError(def, err)
	}
	prefix, suffix := viewProjection(def.Columns)
	if inline {
		w := b.Wrap(prefix, suffix)
		if cacheable {
			q.cacheView(def, w)
		}
		q.inline(def, w)
		return sqlbind.Replacement{Inline: w}, nil
	}
	name := q.sess.TempName()
	if err := q.sess.CreateView(ctx, name, prefix+b.SQL+suffix); err != nil {
		return sqlbind.Replacement{}, q.viewEngineError(ctx, def, err)
	}
	if v.Schema() == nil {
		if err := q.checkViewSchema(ctx, def, name); err != nil {
			return sqlbind.Replacement{}, err
		}
		v.SetSchema(&schema.ViewSchema{Columns: def.Columns})
	}
	if q.rels.views == nil {
		q.rels.views = map[string]string{}
	}
	q.rels.views[def.ID] = name
	q.names[strings.Trim(name, `"`)] = def.QualifiedName()
	return sqlbind.Replacement{Name: name}, nil
}

// inline notes w as the query inlined for view def in this statement.
func (q *stmtCtx) inline(def *manifest.View, w *sqlbind.Bound) {
	if q.rels.inlined == nil {
		q.rels.inlined = map[string]*sqlbind.Bound{}
	}
	q.rels.inlined[def.ID] = w
}

// bindView parses a view's stored SQL with Floe's parser (time travel)
// and binds it for the caller.
func (q *stmtCtx) bindView(ctx context.Context, text string, chain *viewChain) (*sqlbind.Bound, error) {
	sts, err := sqlparse.Parse(text)
	if err != nil {
		return nil, err
	}
	sel, ok := sts[0].(*sqlparse.Select)
	if len(sts) != 1 || !ok || sel.Explain {
		return nil, dberr.New(dberr.InvalidOption, "a view's definition must be one query")
	}
	b, err := q.bind(ctx, sel.Query, false, chain)
	if err != nil {
		return nil, err
	}
	if b.Params > 0 {
		return nil, dberr.New(dberr.InvalidOption, "a view cannot use parameters ($%d): views are stored queries", b.Params)
	}
	return b, nil
}

// checkViewDeps fails with VIEW_BROKEN when a table or view def read at
// creation no longer exists.
func (q *stmtCtx) checkViewDeps(def *manifest.View) error {
	for _, d := range def.DependsOn {
		if _, err := q.snap.Table(d.Namespace, d.Name); err == nil {
			continue
		}
		if _, err := q.snap.View(d.Namespace, d.Name); err == nil {
			continue
		}
		return dberr.New(dberr.ViewBroken, "view %s is broken: %s %s.%s, which it reads, no longer exists; recreate the view with CREATE OR REPLACE VIEW or drop it",
			def.QualifiedName(), strings.ToLower(string(d.Kind)), d.Namespace, d.Name)
	}
	return nil
}

// viewBindError turns a failure to bind a stored view's query for the
// caller into what the caller sees: missing names are VIEW_BROKEN; refused
// reads keep their code and say through which view.
func viewBindError(def *manifest.View, err error) error {
	var de *dberr.Error
	if !errors.As(err, &de) {
		return err
	}
	switch de.Code {
	case dberr.TableNotFound, dberr.NamespaceNotFound, dberr.ColumnNotFound, dberr.SyntaxError, dberr.InvalidOption:
		if strings.HasPrefix(de.Msg, "view ") {
			return err // already about the inner view
		}
		return dberr.Wrap(dberr.ViewBroken, err, "view %s is broken: %s; recreate the view with CREATE OR REPLACE VIEW or drop it", def.QualifiedName(), de.Msg)
	case dberr.PermissionDenied:
		c := *de
		c.Msg = fmt.Sprintf("%s (read through view %s)", de.Msg, def.QualifiedName())
		return &c
	}
	return err
}

var missingColumn = regexp.MustCompile(`(?:column|Column) "?([^"\s]+)"? (?:not found|referenced that exists)|does not have a column named "([^"]+)"`)

// viewEngineError turns DuckDB's refusal to bind a view's query (a column
// it reads is gone) into VIEW_BROKEN naming the view and the column.
func (q *stmtCtx) viewEngineError(ctx context.Context, def *manifest.View, err error) error {
	var dk *duckdb.Error
	if !errors.As(err, &dk) || (dk.Type != duckdb.ErrorTypeBinder && dk.Type != duckdb.ErrorTypeCatalog) {
		return err
	}
	var de *dberr.Error
	errors.As(q.userError(ctx, err), &de)
	msg := dk.Msg
	if de != nil {
		msg = de.Msg
	}
	if m := missingColumn.FindStringSubmatch(dk.Msg); m != nil {
		col := m[1] + m[2]
		return dberr.Wrap(dberr.ViewBroken, err, "view %s is broken: column %s, which it reads, no longer exists in %s; recreate the view with CREATE OR REPLACE VIEW or drop it",
			def.QualifiedName(), col, dependencyList(def))
	}
	return dberr.Wrap(dberr.ViewBroken, err, "view %s is broken: %s; recreate the view with CREATE OR REPLACE VIEW or drop it", def.QualifiedName(), firstLine(msg))
}

func dependencyList(def *manifest.View) string {
	names := make([]string, len(def.DependsOn))
	for i, d := range def.DependsOn {
		names[i] = d.Namespace + "." + d.Name
	}
	if len(names) == 0 {
		return "its query"
	}
	return strings.Join(names, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// viewProjection returns the text around a view's bound query that
// projects it to the view's stored columns, by name. Columns a dependency
// gained since the view was created (SELECT *) are left out, as if * had
// been expanded then. The query stands on lines of its own, so that a
// trailing comment in it ends there.
func viewProjection(cols []manifest.ViewColumn) (prefix, suffix string) {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		src := c.Source
		if src == "" {
			src = c.Name
		}
		b.WriteString(`"__floe_v".`)
		b.WriteString(duckengine.Ident(src))
		b.WriteString(" AS ")
		b.WriteString(duckengine.Ident(c.Name))
	}
	b.WriteString(" FROM (\n")
	return b.String(), "\n) AS \"__floe_v\""
}

// describeRelation returns the columns DuckDB gives a temporary relation.
func (q *stmtCtx) describeRelation(ctx context.Context, name string) ([]manifest.ViewColumn, error) {
	rows, err := q.sess.Conn().QueryContext(ctx, "DESCRIBE "+name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []manifest.ViewColumn
	for rows.Next() {
		var col, typ string
		var null, key, dflt, extra any
		if err := rows.Scan(&col, &typ, &null, &key, &dflt, &extra); err != nil {
			return nil, err
		}
		out = append(out, manifest.ViewColumn{Name: col, Type: typ})
	}
	return out, rows.Err()
}

// checkViewSchema checks that the view's temporary view has the column
// types stored at creation.
func (q *stmtCtx) checkViewSchema(ctx context.Context, def *manifest.View, name string) error {
	got, err := q.describeRelation(ctx, name)
	if err != nil {
		return err
	}
	if len(got) != len(def.Columns) {
		return dberr.New(dberr.ViewBroken, "view %s is broken: its query yields %d columns, it was created with %d; recreate the view with CREATE OR REPLACE VIEW or drop it",
			def.QualifiedName(), len(got), len(def.Columns))
	}
	for i, c := range def.Columns {
		if got[i].Type != c.Type {
			return dberr.New(dberr.ViewBroken, "view %s is broken: column %s was %s when the view was created and is now %s; recreate the view with CREATE OR REPLACE VIEW or drop it",
				def.QualifiedName(), c.Name, c.Type, got[i].Type)
		}
	}
	return nil
}

// canDropView reports whether p may drop or replace view v: its creator
// may, and so may every role from service up.
func canDropView(p access.Principal, v *manifest.View) error {
	if v.CreatedBy == p.UserID || p.Role.AtLeast(access.RoleService) {
		return nil
	}
	return dberr.New(dberr.PermissionDenied, "role %s may not drop or replace view %s: only its creator (%s) and roles from service up may", p.Role, v.QualifiedName(), v.CreatedBy)
}

// newView binds the query of s for the creator and returns its columns and
// direct dependencies. ns.name is the view's name.
func (x *Executor) newView(ctx context.Context, q *stmtCtx, s *sqlparse.CreateView, name sqlparse.Name, id string) ([]manifest.ViewColumn, []manifest.ViewDependency, error) {
	var deps []manifest.ViewDependency
	chain := &viewChain{view: &manifest.View{ID: id, Namespace: name.Namespace, Name: name.Name}, deps: &deps}
	b, err := q.bindView(ctx, s.Source, chain)
	if err != nil {
		return nil, nil, err
	}
	rel := q.sess.TempName()
	if err := q.sess.CreateView(ctx, rel, b.SQL); err != nil {
		return nil, nil, err
	}
	inner, err := q.describeRelation(ctx, rel)
	if err != nil {
		return nil, nil, err
	}
	cols := inner
	if s.Columns != nil {
		if len(s.Columns) != len(inner) {
			return nil, nil, dberr.New(dberr.InvalidArgument, "view %s lists %d column names but its query yields %d columns", name, len(s.Columns), len(inner))
		}
		cols = make([]manifest.ViewColumn, len(inner))
		for i, c := range inner {
			cols[i] = manifest.ViewColumn{Name: s.Columns[i], Type: c.Type}
			if c.Name != s.Columns[i] {
				cols[i].Source = c.Name
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range cols {
		k := strings.ToLower(c.Name)
		if seen[k] {
			return nil, nil, dberr.New(dberr.InvalidArgument, "view %s would have two columns named %s; name them apart with AS or a column list", name, c.Name)
		}
		seen[k] = true
	}
	return cols, deps, nil
}

func (x *Executor) createView(ctx context.Context, q *stmtCtx, s *sqlparse.CreateView) (Result, error) {
	name := q.tableName(s.View)
	if slices.Contains(reservedNamespaces, name.Namespace) {
		return Result{}, dberr.New(dberr.PermissionDenied, "namespace %s holds Floe's own objects; create the view in another namespace", name.Namespace)
	}
	if err := manifest.ValidateName("view", name.Name); err != nil {
		return Result{}, invalidOption(err)
	}
	if _, ok := q.snap.Catalog().Namespace(name.Namespace); !ok {
		return Result{}, dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist; CREATE NAMESPACE %s first", name.Namespace, name.Namespace)
	}
	id := fmt.Sprintf("v%016x", x.ids.next())
	if old, ok := q.snap.Catalog().View(name.Namespace, name.Name); ok {
		switch {
		case s.IfNotExists:
			return Result{Message: "CREATE VIEW"}, nil
		case !s.OrReplace:
			return Result{}, dberr.New(dberr.AlreadyExists, "view %s already exists; use CREATE OR REPLACE VIEW to change it", name)
		}
		if err := canDropView(q.p, old); err != nil {
			return Result{}, err
		}
		id = old.ID
	}
	if _, ok := q.snap.Catalog().Table(name.Namespace, name.Name); ok {
		return Result{}, dberr.New(dberr.AlreadyExists, "a table named %s already exists; views and tables share names", name)
	}
	cols, deps, err := x.newView(ctx, q, s, name, id)
	if err != nil {
		return Result{}, err
	}
	now := x.app.Clock()().UTC()
	created := true
	_, err = x.commitCatalog(ctx, func(c *manifest.Catalog) error {
		if _, ok := c.Namespace(name.Namespace); !ok {
			return dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist", name.Namespace)
		}
		if _, ok := c.Table(name.Namespace, name.Name); ok {
			return dberr.New(dberr.AlreadyExists, "a table named %s already exists; views and tables share names", name)
		}
		for _, d := range deps {
			_, isTable := c.Table(d.Namespace, d.Name)
			_, isView := c.View(d.Namespace, d.Name)
			if !isTable && !isView {
				return dberr.New(dberr.Conflict, "%s %s.%s was dropped while the view was being created; run the statement again", strings.ToLower(string(d.Kind)), d.Namespace, d.Name)
			}
		}
		v := manifest.View{ID: id, Namespace: name.Namespace, Name: name.Name, SQL: s.Source, Columns: cols, DependsOn: deps,
			SchemaVersion: 1, CreatedAt: now, CreatedBy: q.p.UserID, UpdatedAt: now}
		if old, ok := c.View(name.Namespace, name.Name); ok {
			if s.IfNotExists {
				created = false
				return errNoChange
			}
			if !s.OrReplace {
				return dberr.New(dberr.AlreadyExists, "view %s already exists; use CREATE OR REPLACE VIEW to change it", name)
			}
			if err := canDropView(q.p, old); err != nil {
				return err
			}
			v.ID, v.CreatedAt, v.CreatedBy, v.SchemaVersion = old.ID, old.CreatedAt, old.CreatedBy, old.SchemaVersion+1
			*old = v
		} else {
			c.Views = append(c.Views, v)
		}
		if cycle := c.ViewCycle(name.Namespace, name.Name); cycle != nil {
			return dberr.New(dberr.InvalidArgument, "view %s would read itself: %s", name, strings.Join(cycle, " -> "))
		}
		if err := c.Validate(); err != nil {
			return invalidOption(err)
		}
		return nil
	})
	return x.ddlDone(ctx, q, err, created, "CREATE VIEW", name.Namespace+"."+name.Name)
}

func (x *Executor) dropView(ctx context.Context, q *stmtCtx, s *sqlparse.DropView) (Result, error) {
	name := q.tableName(s.View)
	v, ok := q.snap.Catalog().View(name.Namespace, name.Name)
	if !ok {
		if _, isTable := q.snap.Catalog().Table(name.Namespace, name.Name); isTable {
			return Result{}, dberr.New(dberr.InvalidArgument, "%s is a table, not a view; use DROP TABLE", name)
		}
		if s.IfExists {
			return Result{Message: "DROP VIEW"}, nil
		}
		return Result{}, dberr.New(dberr.TableNotFound, "view %s does not exist", name)
	}
	if err := canDropView(q.p, v); err != nil {
		return Result{}, err
	}
	id := v.ID
	var dropped []string
	_, err := x.commitCatalog(ctx, func(c *manifest.Catalog) error {
		dropped = nil
		cur, ok := c.View(name.Namespace, name.Name)
		if !ok || cur.ID != id {
			if s.IfExists {
				return errNoChange
			}
			return dberr.New(dberr.TableNotFound, "view %s does not exist", name)
		}
		deps, err := dropDependents(c, name.Namespace, name.Name, s.Cascade, "view")
		if err != nil {
			return err
		}
		dropped = append([]string{name.Namespace + "." + name.Name}, deps...)
		c.Views = slices.DeleteFunc(c.Views, func(v manifest.View) bool { return v.ID == id })
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return Result{}, err
	}
	for _, n := range dropped {
		x.audit(ctx, q, "DROP VIEW", n)
	}
	return Result{Message: "DROP VIEW"}, nil
}

// dropDependents removes from c the views that read ns.name, directly or
// through other views, and returns their names; without cascade it fails
// with HAS_DEPENDENTS listing them instead. what is "table" or "view".
func dropDependents(c *manifest.Catalog, ns, name string, cascade bool, what string) ([]string, error) {
	deps := c.Dependents(ns, name)
	if len(deps) == 0 {
		return nil, nil
	}
	names := make([]string, len(deps))
	ids := make(map[string]bool, len(deps))
	for i, v := range deps {
		names[i] = v.QualifiedName()
		ids[v.ID] = true
	}
	if !cascade {
		return nil, dberr.New(dberr.HasDependents, "%s %s.%s is read by views %s; drop or replace them first, or use DROP %s %s.%s CASCADE to drop them too",
			what, ns, name, strings.Join(names, ", "), strings.ToUpper(what), ns, name)
	}
	c.Views = slices.DeleteFunc(c.Views, func(v manifest.View) bool { return ids[v.ID] })
	return names, nil
}

// dropNamespaceViews removes the views of namespace ns from c, and the
// views elsewhere that read ns's tables or views, returning their names
// (DROP NAMESPACE … CASCADE).
func dropNamespaceViews(c *manifest.Catalog, ns string) []string {
	drop := map[string]bool{}
	var names []string
	add := func(v *manifest.View) {
		if !drop[v.ID] {
			drop[v.ID] = true
			names = append(names, v.QualifiedName())
		}
	}
	for i := range c.Views {
		if v := &c.Views[i]; v.Namespace == ns {
			add(v)
		}
	}
	objects := make([]string, 0, len(c.Tables))
	for _, t := range c.Tables {
		if t.Namespace == ns {
			objects = append(objects, t.Name)
		}
	}
	for i := range c.Views {
		if v := &c.Views[i]; v.Namespace == ns {
			objects = append(objects, v.Name)
		}
	}
	for _, o := range objects {
		for _, v := range c.Dependents(ns, o) {
			add(v)
		}
	}
	c.Views = slices.DeleteFunc(c.Views, func(v manifest.View) bool { return drop[v.ID] })
	return names
}

// canReadView reports whether p may read everything view v reads,
// through other views too (SHOW VIEWS lists such views).
func (q *stmtCtx) canReadView(v *manifest.View, depth int) bool {
	if depth > maxViewDepth {
		return false
	}
	for _, d := range v.DependsOn {
		if t, ok := q.snap.Catalog().Table(d.Namespace, d.Name); ok {
			if q.p.CanRead(t) != nil {
				return false
			}
			continue
		}
		w, ok := q.snap.Catalog().View(d.Namespace, d.Name)
		if !ok || !q.canReadView(w, depth+1) {
			return false
		}
	}
	return true
}

func (x *Executor) showViews(_ context.Context, q *stmtCtx, s *sqlparse.ShowViews) (Result, error) {
	res := Result{Columns: []Column{{Name: "namespace", Type: "VARCHAR"}, {Name: "view", Type: "VARCHAR"}, {Name: "columns", Type: "BIGINT"},
		{Name: "created_by", Type: "VARCHAR"}, {Name: "created_at", Type: "TIMESTAMP WITH TIME ZONE"}}}
	if s.Namespace != "" {
		if _, ok := q.snap.Catalog().Namespace(s.Namespace); !ok {
			return Result{}, dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist", s.Namespace)
		}
	}
	for i := range q.snap.Catalog().Views {
		v := &q.snap.Catalog().Views[i]
		if s.Namespace != "" && v.Namespace != s.Namespace {
			continue
		}
		if v.CreatedBy != q.p.UserID && !q.canReadView(v, 0) {
			continue
		}
		res.Rows = append(res.Rows, []any{v.Namespace, v.Name, int64(len(v.Columns)), v.CreatedBy, v.CreatedAt})
	}
	slices.SortFunc(res.Rows, func(a, b []any) int {
		return strings.Compare(a[0].(string)+"."+a[1].(string), b[0].(string)+"."+b[1].(string))
	})
	res.Message = fmt.Sprintf("SHOW %d", len(res.Rows))
	return res, nil
}

// describeView is DESCRIBE of a view: its stored columns.
func (x *Executor) describeView(q *stmtCtx, v *manifest.View) (Result, error) {
	if v.CreatedBy != q.p.UserID && !q.canReadView(v, 0) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not read view %s", q.p.Role, v.QualifiedName())
	}
	res := Result{Columns: []Column{{Name: "column", Type: "VARCHAR"}, {Name: "type", Type: "VARCHAR"}, {Name: "nullable", Type: "BOOLEAN"},
		{Name: "default", Type: "VARCHAR", Nullable: true}, {Name: "primary_key", Type: "BOOLEAN"}}}
	for _, c := range v.Columns {
		res.Rows = append(res.Rows, []any{c.Name, viewTypeName(c.Type), true, nil, false})
	}
	res.Message = "DESCRIBE " + v.QualifiedName()
	return res, nil
}

// viewTypeName shows a view column's engine type by Floe's name for it
// when it is a Floe column type (VARCHAR is TEXT), else as the engine
// names it (INTEGER[]).
func viewTypeName(duck string) string {
	switch duck {
	case "INTEGER":
		return "INT"
	case "VARCHAR":
		return "TEXT"
	case "BLOB":
		return "BYTES"
	case "TIMESTAMP WITH TIME ZONE":
		return "TIMESTAMPTZ"
	}
	return duck
}

// viewTableRows are the rows of system.tables for the views of q's
// catalog (table_type VIEW).
func viewTableRows(q *stmtCtx) [][]driver.Value {
	var out [][]driver.Value
	for _, v := range q.snap.Catalog().Views {
		out = append(out, []driver.Value{v.Namespace, v.Name, v.ID, "VIEW", nil, nil, int64(v.SchemaVersion),
			nil, nil, nil, v.CreatedAt.UTC(), v.UpdatedAt.UTC()})
	}
	return out
}

// viewColumnRows are the rows of system.columns for the views of q's
// catalog.
func viewColumnRows(q *stmtCtx) [][]driver.Value {
	var out [][]driver.Value
	for _, v := range q.snap.Catalog().Views {
		for i, c := range v.Columns {
			out = append(out, []driver.Value{v.Namespace, v.Name, c.Name, int32(i + 1), viewTypeName(c.Type), true, nil, false, int64(i + 1)})
		}
	}
	return out
}
