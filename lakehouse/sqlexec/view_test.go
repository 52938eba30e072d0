package sqlexec_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// addUser writes a row of system.users as the user management statements
// would (SQL cannot write system tables).
func addUser(h *harness, id, role string, deleted bool) {
	h.t.Helper()
	ctx := context.Background()
	snap, err := h.app.Schemas().Current(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	t, err := snap.Table("system", "users")
	if err != nil {
		h.t.Fatal(err)
	}
	def := t.Def()
	r := make(row.Row, len(def.Columns))
	for i, c := range def.Columns {
		switch c.Name {
		case "user_id":
			r[i] = row.Text(id)
		case "role":
			r[i] = row.Text(role)
		case "email":
			r[i] = row.Text(id + "@example.com")
		case "password_hash":
			r[i] = row.Text("HASH-" + id)
		case "deleted_at":
			if deleted {
				r[i] = row.Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro())
			}
		}
	}
	if _, err := h.node.Store.Write(ctx, def, "", []tablestore.Change{{Values: r}}); err != nil {
		h.t.Fatal(err)
	}
}

func errMsg(err *dberr.Error) string {
	if err == nil {
		return ""
	}
	return err.Msg
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s %q does not contain %q", what, s, sub)
		}
	}
}

// TestViewSeedScenario is the seed's scenario: a view over system.users
// filtering soft-deleted users returns exactly the rows of the filter.
func TestViewSeedScenario(t *testing.T) {
	h := newHarness(t)
	addUser(h, "ann", "user", false)
	addUser(h, "ben", "service", true)
	addUser(h, "cy", "dba", false)
	h.must(root, "FLUSH TABLE system.users")
	addUser(h, "dee", "user", true) // buffered
	addUser(h, "eve", "user", false)

	h.must(dba, "CREATE VIEW v_active_users AS SELECT * FROM system.users WHERE deleted_at IS NULL")
	for _, p := range []access.Principal{dba, root} {
		got := h.rows(p, "SELECT user_id, role, email FROM v_active_users ORDER BY user_id")
		want := h.rows(p, "SELECT user_id, role, email FROM system.users WHERE deleted_at IS NULL ORDER BY user_id")
		equal(t, "view rows", got, want)
		equal(t, "view rows", got, []string{"[ann user ann@example.com]", "[cy dba cy@example.com]", "[eve user eve@example.com]"})
	}
	// The view shows what system.users shows: no password_hash.
	res := h.must(dba, "SELECT * FROM public.v_active_users")
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	if strings.Contains(strings.Join(names, ","), "password_hash") || len(names) != 10 {
		t.Fatalf("view columns %v", names)
	}
	// Catalog: namespace, columns and types, dependencies, creator.
	snap, err := h.app.Schemas().Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, ok := snap.Catalog().View("public", "v_active_users")
	if !ok {
		t.Fatal("view not in the catalog")
	}
	if v.SQL != "SELECT * FROM system.users WHERE deleted_at IS NULL" || v.CreatedBy != "dora" || v.CreatedAt.IsZero() ||
		len(v.DependsOn) != 1 || v.DependsOn[0] != (manifest.ViewDependency{Kind: manifest.DependsOnTable, Namespace: "system", Name: "users", ID: "system.users"}) ||
		v.Columns[0] != (manifest.ViewColumn{Name: "user_id", Type: "VARCHAR"}) || v.Columns[7] != (manifest.ViewColumn{Name: "deleted_at", Type: "TIMESTAMP"}) {
		t.Fatalf("catalog view %+v", v)
	}
	// A user reading the view sees what system.users shows it: its own row.
	equal(t, "user through view", h.rows(access.Principal{UserID: "ann", Role: access.RoleUser}, "SELECT user_id FROM v_active_users"), []string{"ann"})
	equal(t, "deleted user through view", h.rows(access.Principal{UserID: "dee", Role: access.RoleUser}, "SELECT user_id FROM v_active_users"), nil)
	// Time travel and writes do not apply to views.
	h.fails(dba, dberr.Unsupported, "SELECT * FROM v_active_users AS OF VERSION 1")
	h.fails(dba, dberr.InvalidArgument, "INSERT INTO v_active_users (user_id, role) VALUES ('x', 'user')")
	h.fails(dba, dberr.InvalidArgument, "DROP TABLE v_active_users")
	audit := h.rows(dba, "SELECT action, target, actor FROM system.audit_log WHERE action LIKE '%VIEW'")
	equal(t, "audit", audit, []string{"[CREATE VIEW public.v_active_users dora]"})
}

// TestViewBroken: a dependency that lost a column, or that no longer
// exists, makes the view fail with VIEW_BROKEN naming the view and what is
// missing; DROP TABLE of a table read by views needs CASCADE.
func TestViewBroken(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, price DOUBLE, note TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO items VALUES (1, 'a', 1.5, 'x'), (2, 'b', 20, 'y')")
	h.must(svc, "CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10")
	h.must(svc, "CREATE VIEW everything AS SELECT * FROM items")
	h.must(svc, "CREATE VIEW cheap_names AS SELECT name FROM cheap")
	equal(t, "nested", h.rows(alice, "SELECT * FROM cheap_names"), []string{"a"})

	// A column no view reads: all keep working; SELECT * keeps its columns.
	h.must(svc, "ALTER TABLE items ADD COLUMN extra INT")
	equal(t, "star after add", h.rows(alice, "SELECT * FROM everything ORDER BY id"), []string{"[1 a 1.5 x]", "[2 b 20 y]"})
	h.must(svc, "ALTER TABLE items DROP COLUMN note")
	equal(t, "unaffected", h.rows(alice, "SELECT * FROM cheap"), []string{"[1 a]"})
	e := h.fails(alice, dberr.ViewBroken, "SELECT * FROM everything")
	mustContain(t, "message", errMsg(e), "view public.everything is broken", "column note", "public.items")

	// A column a nested view reads: the innermost view is named.
	h.must(svc, "ALTER TABLE items DROP COLUMN price")
	e = h.fails(alice, dberr.ViewBroken, "SELECT * FROM cheap_names")
	mustContain(t, "message", errMsg(e), "view public.cheap is broken", "column price")
	e = h.fails(alice, dberr.ViewBroken, "SELECT count(*) FROM cheap")
	mustContain(t, "message", errMsg(e), "view public.cheap is broken", "column price")

	// Renamed column with the same name restored under another type: the
	// stored type check catches it.
	h.must(svc, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)")
	h.must(svc, "CREATE VIEW kv_view AS SELECT k, v FROM kv")
	h.rows(svc, "SELECT * FROM kv_view")
	h.must(svc, "ALTER TABLE kv DROP COLUMN v")
	h.must(svc, "ALTER TABLE kv ADD COLUMN v BIGINT")
	e = h.fails(svc, dberr.ViewBroken, "SELECT * FROM kv_view")
	mustContain(t, "message", errMsg(e), "view public.kv_view is broken", "column v was VARCHAR", "now BIGINT")
	// Replacing the view repairs it.
	h.must(svc, "CREATE OR REPLACE VIEW kv_view AS SELECT k, v FROM kv")
	h.must(svc, "INSERT INTO kv VALUES (1, 7)")
	equal(t, "repaired", h.rows(svc, "SELECT * FROM kv_view"), []string{"[1 7]"})

	// DROP TABLE is refused while views read the table, listing them.
	e = h.fails(svc, dberr.HasDependents, "DROP TABLE items")
	mustContain(t, "message", errMsg(e), "public.cheap", "public.everything", "public.cheap_names", "CASCADE")
	e = h.fails(svc, dberr.HasDependents, "DROP VIEW cheap")
	mustContain(t, "message", errMsg(e), "public.cheap_names")
	h.must(svc, "DROP TABLE items CASCADE")
	h.fails(svc, dberr.TableNotFound, "SELECT * FROM cheap")
	equal(t, "views left", h.rows(svc, "SHOW VIEWS"), []string{"[public kv_view 2 svc " + showTime(h, "kv_view") + "]"})
	audit := h.rows(dba, "SELECT target FROM system.audit_log WHERE action = 'DROP VIEW' ORDER BY target")
	equal(t, "cascade audit", audit, []string{"public.cheap", "public.cheap_names", "public.everything"})

	// A dependency gone from the catalog by other means (a foreign tool,
	// an older build's DROP): VIEW_BROKEN naming the table.
	h.must(svc, "CREATE TABLE gone (id INT PRIMARY KEY)")
	h.must(svc, "CREATE VIEW over_gone AS SELECT id FROM gone")
	_, err := h.app.Catalog().Commit(context.Background(), func(c *manifest.Catalog) (*manifest.Catalog, error) {
		for i, tb := range c.Tables {
			if tb.Name == "gone" {
				c.Tables = append(c.Tables[:i], c.Tables[i+1:]...)
				break
			}
		}
		return c, nil
	}, manifest.CommitOptions{WriterEpoch: h.node.WriterEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.Schemas().Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	e = h.fails(svc, dberr.ViewBroken, "SELECT * FROM over_gone")
	mustContain(t, "message", errMsg(e), "view public.over_gone is broken", "table public.gone", "no longer exists")
}

func showTime(h *harness, view string) string {
	h.t.Helper()
	snap, err := h.app.Schemas().Current(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	v, _ := snap.Catalog().View("public", view)
	return v.CreatedAt.String()
}

// TestViewIsolation: a view runs with the caller's rights.
func TestViewIsolation(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE notes (id INT PRIMARY KEY, body TEXT)")
	h.must(alice, "INSERT INTO notes VALUES (1, 'alice-1'), (2, 'alice-2')")
	h.must(bob, "INSERT INTO notes VALUES (1, 'bob-1')")
	h.must(root, "FLUSH ALL")
	h.must(bob, "INSERT INTO notes VALUES (3, 'bob-3')")

	// Two users query one view over a USER table: each sees its own rows.
	h.must(alice, "CREATE VIEW my_notes AS SELECT id, upper(body) AS body FROM notes")
	equal(t, "alice", h.rows(alice, "SELECT * FROM my_notes ORDER BY id"), []string{"[1 ALICE-1]", "[2 ALICE-2]"})
	equal(t, "bob", h.rows(bob, "SELECT * FROM my_notes ORDER BY id"), []string{"[1 BOB-1]", "[3 BOB-3]"})
	equal(t, "bob join", h.rows(bob, "SELECT n.body, m.body FROM notes n JOIN my_notes m USING (id) ORDER BY id"), []string{"[bob-1 BOB-1]", "[bob-3 BOB-3]"})

	// A dba's view over a DBA-level shared table does not let users read it.
	h.must(dba, "CREATE SHARED TABLE secrets (id INT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'DBA')")
	h.must(dba, "INSERT INTO secrets VALUES (1, 'TOP-SECRET')")
	h.must(dba, "CREATE VIEW leak AS SELECT * FROM secrets")
	equal(t, "dba reads", h.rows(dba, "SELECT secret FROM leak"), []string{"TOP-SECRET"})
	for _, p := range []access.Principal{alice, svc} {
		for _, q := range []string{"SELECT * FROM leak", "SELECT count(*) FROM leak", "WITH x AS (SELECT * FROM leak) SELECT * FROM x",
			"SELECT * FROM notes WHERE id IN (SELECT id FROM leak)"} {
			e := h.fails(p, dberr.PermissionDenied, q)
			mustContain(t, "message", errMsg(e), "public.secrets", "view public.leak")
		}
		h.fails(p, dberr.PermissionDenied, "INSERT INTO notes SELECT id, secret FROM leak")
	}
	// Nor through a view of their own over the dba's view.
	h.fails(alice, dberr.PermissionDenied, "CREATE VIEW mine AS SELECT * FROM leak")
	// SHOW VIEWS lists what the caller can read.
	equal(t, "alice views", h.rows(alice, "SHOW VIEWS"), []string{"[public my_notes 2 alice " + showTime(h, "my_notes") + "]"})
	if got := h.rows(dba, "SHOW VIEWS IN public"); len(got) != 2 {
		t.Fatalf("dba SHOW VIEWS: %v", got)
	}
	// Dropping: the creator or service and up.
	h.fails(bob, dberr.PermissionDenied, "DROP VIEW my_notes")
	h.fails(bob, dberr.PermissionDenied, "CREATE OR REPLACE VIEW my_notes AS SELECT 1 AS x")
	h.fails(alice, dberr.PermissionDenied, "DROP VIEW leak")
	h.must(alice, "DROP VIEW my_notes")
	h.must(svc, "DROP VIEW leak")
	h.must(svc, "DROP VIEW IF EXISTS leak")
	h.fails(svc, dberr.TableNotFound, "DROP VIEW leak")
}

// TestViewDefinitions: names, column lists, nesting, cycles, CTEs,
// system tables, DESCRIBE.
func TestViewDefinitions(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE NAMESPACE app")
	h.must(svc, "CREATE TABLE app.t (id INT PRIMARY KEY, g TEXT, v DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO app.t VALUES (1, 'x', 1), (2, 'x', 2), (3, 'y', 4)")

	// Unqualified names in a view name objects of the view's namespace.
	h.must(svc, "CREATE VIEW app.sums (grp, total) AS WITH s AS (SELECT g, sum(v) AS s FROM t GROUP BY g) SELECT * FROM s")
	equal(t, "column list", h.rows(alice, "SELECT grp, total FROM app.sums ORDER BY grp"), []string{"[x 3]", "[y 4]"})
	// Views over views, across namespaces; CTEs are not dependencies.
	h.must(svc, "CREATE VIEW big AS SELECT grp FROM app.sums WHERE total > 3")
	equal(t, "nested", h.rows(alice, "SELECT * FROM big"), []string{"y"})
	snap, _ := h.app.Schemas().Current(context.Background())
	v, _ := snap.Catalog().View("app", "sums")
	if len(v.DependsOn) != 1 || v.DependsOn[0].Name != "t" || v.Columns[0] != (manifest.ViewColumn{Name: "grp", Type: "VARCHAR", Source: "g"}) {
		t.Fatalf("app.sums: %+v", v)
	}
	if b, _ := snap.Catalog().View("public", "big"); len(b.DependsOn) != 1 || b.DependsOn[0] != (manifest.ViewDependency{Kind: manifest.DependsOnView, Namespace: "app", Name: "sums", ID: v.ID}) {
		t.Fatalf("public.big: %+v", b)
	}
	// The same view twice in one query, and a CTE named like a view.
	equal(t, "twice", h.rows(alice, "SELECT a.grp FROM big a JOIN big b USING (grp)"), []string{"y"})
	equal(t, "cte shadows", h.rows(alice, "WITH big AS (SELECT 'cte' AS grp) SELECT * FROM big"), []string{"cte"})

	// Cycles are refused.
	e := h.fails(svc, dberr.InvalidArgument, "CREATE OR REPLACE VIEW app.sums AS SELECT grp, 1.0 AS total FROM public.big")
	mustContain(t, "message", errMsg(e), "would read itself", "app.sums -> public.big -> app.sums")
	h.fails(svc, dberr.InvalidArgument, "CREATE OR REPLACE VIEW big AS SELECT * FROM big")
	h.fails(svc, dberr.TableNotFound, "CREATE VIEW selfish AS SELECT * FROM selfish")

	// Names are shared with tables; bad definitions are refused.
	h.fails(svc, dberr.AlreadyExists, "CREATE VIEW app.t AS SELECT 1 AS x")
	h.fails(svc, dberr.AlreadyExists, "CREATE TABLE big (id INT PRIMARY KEY)")
	h.fails(svc, dberr.AlreadyExists, "CREATE VIEW big AS SELECT 1 AS x")
	h.must(svc, "CREATE VIEW IF NOT EXISTS big AS SELECT 1 AS x")
	equal(t, "if not exists kept", h.rows(alice, "SELECT * FROM big"), []string{"y"})
	h.fails(svc, dberr.InvalidOption, "CREATE VIEW p AS SELECT * FROM app.t WHERE id = $1")
	h.fails(svc, dberr.InvalidArgument, "CREATE VIEW two (a) AS SELECT 1, 2")
	h.fails(svc, dberr.InvalidArgument, `CREATE VIEW dup ("A", a) AS SELECT 1, 2`)
	h.fails(svc, dberr.PermissionDenied, "CREATE VIEW system.v AS SELECT 1 AS x")
	h.fails(svc, dberr.NamespaceNotFound, "CREATE VIEW nope.v AS SELECT 1 AS x")
	h.fails(svc, dberr.PermissionDenied, "CREATE VIEW files AS SELECT * FROM read_csv('/etc/passwd')")
	h.fails(svc, dberr.ColumnNotFound, "CREATE VIEW badcol AS SELECT nope FROM app.t")
	h.fails(svc, dberr.InvalidArgument, "DROP VIEW app.t")

	// system.tables, system.columns and DESCRIBE show views.
	equal(t, "system.tables", h.rows(dba, "SELECT namespace, table_name, table_type, schema_version FROM system.tables WHERE table_type = 'VIEW' ORDER BY 2"),
		[]string{"[public big VIEW 1]", "[app sums VIEW 1]"})
	equal(t, "system.columns", h.rows(dba, "SELECT column_name, ordinal, data_type FROM system.columns WHERE table_name = 'sums' ORDER BY ordinal"),
		[]string{"[grp 1 TEXT]", "[total 2 DOUBLE]"})
	equal(t, "describe", h.rows(alice, "DESCRIBE app.sums"), []string{"[grp TEXT true <nil> false]", "[total DOUBLE true <nil> false]"})

	// DROP NAMESPACE: views count as content; CASCADE drops views reading it
	// from other namespaces too.
	e = h.fails(root, dberr.NotEmpty, "DROP NAMESPACE app")
	mustContain(t, "message", errMsg(e), "sums")
	h.must(root, "DROP NAMESPACE app CASCADE")
	h.fails(alice, dberr.TableNotFound, "SELECT * FROM big")
	equal(t, "no views", h.rows(root, "SHOW VIEWS"), nil)
}

// TestViewSurvivesRestartAndSecondNode: views live in the catalog
// manifest: a restarted node and a second node on the same object store
// see and query them.
func TestViewSurvivesRestartAndSecondNode(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE todo (id INT PRIMARY KEY, done BOOLEAN)")
	h.must(alice, "INSERT INTO todo VALUES (1, true), (2, false)")
	h.must(alice, "CREATE VIEW open_todo AS SELECT id FROM todo WHERE NOT done")
	h.must(root, "FLUSH ALL")
	h.restart()
	equal(t, "after restart", h.rows(alice, "SELECT * FROM open_todo"), []string{"2"})

	// A second process: its own data directory, the same object store.
	cfg := config.Default()
	cfg.NodeID = "node-second-02"
	cfg.DataDir = filepath.Join(t.TempDir(), "second")
	cfg.Storage.FS.Dir = filepath.Join(h.dir, "objects")
	ctx := context.Background()
	h.stop() // releases the writer lease, which the second node takes
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	n, err := node.Open(ctx, app, node.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	res, err := n.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "SELECT * FROM open_todo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Rows) != 1 || res[0].Rows[0][0] != int32(2) {
		t.Fatalf("second node: %v", res[0].Rows)
	}
	res, err = n.Executor.Execute(ctx, bob, sqlexec.Request{SQL: "SELECT count(*) FROM open_todo"})
	if err != nil || res[0].Rows[0][0] != int64(0) {
		t.Fatalf("second node, bob: %v %v", res, err)
	}
}

// TestViewInlined: a view whose columns have been checked at its current
// version is inlined into the caller's query as a subquery; the first
// query of a version builds a temporary view instead. Both give the same
// rows, for every shape of reference, and a query cannot redirect an
// inlined view's table references to CTEs of its own.
func TestViewInlined(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE items (id INT PRIMARY KEY, qty INT, note TEXT)")
	h.must(alice, "INSERT INTO items VALUES (1, 5, 'a'), (2, 0, 'b'), (3, 9, 'c')")
	h.must(bob, "INSERT INTO items VALUES (1, 4, 'bob')")
	h.must(alice, "CREATE VIEW in_stock AS SELECT id, qty FROM items WHERE qty > 0 -- a trailing comment")
	h.must(alice, "CREATE VIEW big AS SELECT id FROM in_stock WHERE qty > 4")
	cases := []struct {
		who  access.Principal
		sql  string
		want []string
	}{
		{alice, "SELECT * FROM in_stock ORDER BY id", []string{"[1 5]", "[3 9]"}},
		{bob, "SELECT * FROM in_stock ORDER BY id", []string{"[1 4]"}},
		{alice, "SELECT s.id FROM in_stock AS s ORDER BY 1", []string{"1", "3"}},
		{alice, "SELECT x.a FROM in_stock x(a, b) ORDER BY 1", []string{"1", "3"}},
		{alice, "SELECT a.id, b.qty FROM in_stock a JOIN in_stock b USING (id) ORDER BY 1", []string{"[1 5]", "[3 9]"}},
		{alice, "WITH w AS (SELECT * FROM in_stock) SELECT sum(qty) FROM w", []string{"14"}},
		{alice, "SELECT id FROM big ORDER BY id", []string{"1", "3"}},
		{bob, "SELECT id FROM big ORDER BY id", nil},
		{alice, "TABLE in_stock", []string{"[1 5]", "[3 9]"}},
		{alice, "SELECT i.note FROM items i WHERE i.id IN (SELECT id FROM big) ORDER BY 1", []string{"a", "c"}},
	}
	for round := range 3 {
		for _, c := range cases {
			equal(t, fmt.Sprintf("round %d: %s as %s", round, c.sql, c.who.UserID), h.rows(c.who, c.sql), c.want)
		}
	}
	// The inlined view's base table is a placeholder of the statement
	// ("__floe_src_<table id>_<version>", or a "__floe_N" relation): no CTE
	// name can stand in for it.
	id := h.rows(dba, "SELECT table_id FROM system.tables WHERE table_name = 'items'")
	if len(id) != 1 {
		t.Fatalf("table id: %v", id)
	}
	ctes := []string{fmt.Sprintf("__floe_src_%s_0", id[0])}
	for n := 1; n <= 6; n++ {
		ctes = append(ctes, fmt.Sprintf("__floe_%d", n))
	}
	for _, name := range ctes {
		q := fmt.Sprintf(`WITH "%s" AS (SELECT 1 AS id, 100 AS qty, 'x' AS note) SELECT * FROM in_stock`, name)
		res, err := h.exec(alice, q)
		if err == nil {
			got := fmt.Sprint(res[0].Rows)
			if strings.Contains(got, "100") {
				t.Fatalf("%s read the CTE through the view: %v", q, got)
			}
		}
	}
}
