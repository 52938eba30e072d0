package sqlexec_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/password"
	"github.com/floedb/floe/lakehouse/sqlparse"
)

// statementKinds returns the names of sqlparse's statement types: the
// struct types that embed span, read from its source, so a statement kind
// added later is in the list without anyone remembering it.
func statementKinds(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../sqlparse/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, sp := range g.Specs {
				ts := sp.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fld := range st.Fields.List {
					if id, ok := fld.Type.(*ast.Ident); ok && len(fld.Names) == 0 && id.Name == "span" {
						kinds = append(kinds, ts.Name.Name)
					}
				}
			}
		}
	}
	sort.Strings(kinds)
	return kinds
}

// TestExecuteAsRunsDataStatementsOnly: inside EXECUTE AS USER only SELECT,
// INSERT, UPDATE and DELETE run; every other statement kind the parser
// knows is refused with PERMISSION_DENIED before it does anything — even
// for the system role, which may act as anyone. The table covers every
// statement kind (checked against sqlparse's source).
func TestExecuteAsRunsDataStatementsOnly(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.must(root, "CREATE USER alice WITH PASSWORD 'alice-pass-1'; CREATE USER bob WITH PASSWORD 'bob-pass-123'")
	u, _, err := h.node.Executor.Users().Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	realAlice := u.Principal()
	h.must(realAlice, "CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT)")
	h.must(root, "CREATE NAMESPACE spare; CREATE VIEW vv AS SELECT 1 AS one")

	cases := []struct {
		sql  string
		kind string
		runs bool
		// elsewhere: allowed inside EXECUTE AS, but not run by Execute
		// (SUBSCRIBE is served by the live-query stream).
		elsewhere bool
	}{
		{"SELECT body FROM notes", "Select", true, false},
		{"INSERT INTO notes VALUES (9, 'x') ON CONFLICT DO NOTHING", "Insert", true, false},
		{"UPDATE notes SET body = 'y' WHERE id = 9", "Update", true, false},
		{"DELETE FROM notes WHERE id = 9", "Delete", true, false},
		{"CREATE NAMESPACE evil", "CreateNamespace", false, false},
		{"DROP NAMESPACE spare", "DropNamespace", false, false},
		{"SHOW NAMESPACES", "ShowNamespaces", false, false},
		{"USE spare", "Use", false, false},
		{"CREATE USER TABLE t2 (id INT PRIMARY KEY)", "CreateTable", false, false},
		{"DROP TABLE notes", "DropTable", false, false},
		{"ALTER TABLE notes ADD COLUMN c TEXT", "AlterTable", false, false},
		{"SHOW TABLES", "ShowTables", false, false},
		{"DESCRIBE notes", "Describe", false, false},
		{"FLUSH TABLE notes", "Flush", false, false},
		{"COMPACT TABLE notes", "Compact", false, false},
		{"CREATE USER evil WITH PASSWORD 'evil-pass-1' ROLE system", "CreateUser", false, false},
		{"ALTER USER alice SET PASSWORD 'hijacked-123'", "AlterUser", false, false},
		{"ALTER USER alice SET ROLE dba", "AlterUser", false, false},
		{"ALTER USER alice REVOKE TOKENS", "AlterUser", false, false},
		{"DROP USER bob", "DropUser", false, false},
		{"EXECUTE AS USER bob (SELECT 1)", "ExecuteAs", false, false},
		{"CREATE VIEW v2 AS SELECT 1", "CreateView", false, false},
		{"DROP VIEW vv", "DropView", false, false},
		{"SHOW VIEWS", "ShowViews", false, false},
		{"SUBSCRIBE TO notes", "Subscribe", true, true},
		{"KILL LIVE QUERY 'lq-1'", "KillLiveQuery", false, false},
	}
	var covered []string
	for _, c := range cases {
		st, err := sqlparse.Parse(c.sql)
		if err != nil || len(st) != 1 {
			t.Fatalf("parse %q: %v", c.sql, err)
		}
		if k := reflect.TypeOf(st[0]).Elem().Name(); k != c.kind {
			t.Fatalf("%q parses as %s, the table says %s", c.sql, k, c.kind)
		}
		if !slices.Contains(covered, c.kind) {
			covered = append(covered, c.kind)
		}
		for _, actor := range []access.Principal{root, svc} {
			_, err := h.exec(actor, "EXECUTE AS USER alice ("+c.sql+")")
			var de *dberr.Error
			if c.elsewhere {
				if !errors.As(err, &de) || de.Code != dberr.Unsupported {
					t.Errorf("%s: EXECUTE AS USER alice (%s) = %v, want UNSUPPORTED (not run by Execute), not refused as impersonation", actor.Role, c.sql, err)
				}
				continue
			}
			if c.runs {
				if err != nil {
					t.Errorf("%s: EXECUTE AS USER alice (%s): %v", actor.Role, c.sql, err)
				}
				continue
			}
			if c.kind == "ExecuteAs" && errors.As(err, &de) && de.Code == dberr.SyntaxError && strings.Contains(de.Msg, "cannot be nested") {
				continue // the parser refuses it before anything runs
			}
			if !errors.As(err, &de) || de.Code != dberr.PermissionDenied || !strings.Contains(de.Msg, "EXECUTE AS USER runs only SELECT, INSERT, UPDATE and DELETE") {
				t.Errorf("%s: EXECUTE AS USER alice (%s) = %v, want PERMISSION_DENIED naming the data statements", actor.Role, c.sql, err)
			}
		}
	}
	sort.Strings(covered)
	if kinds := statementKinds(t); !slices.Equal(covered, kinds) {
		t.Fatalf("the table covers %v; sqlparse knows %v: add the new kinds to the table (and decide whether they may run inside EXECUTE AS)", covered, kinds)
	}

	// Nothing changed: alice's password and role, bob, the catalog.
	u, _, _ = h.node.Executor.Users().Lookup(ctx, "alice")
	if password.Check(u.PasswordHash, "alice-pass-1") != nil || u.Role != access.RoleUser || u.TokenEpoch != 0 {
		t.Fatalf("alice changed inside EXECUTE AS: role %s, epoch %d", u.Role, u.TokenEpoch)
	}
	if b, ok, _ := h.node.Executor.Users().Lookup(ctx, "bob"); !ok || !b.Active() {
		t.Fatal("bob was dropped inside EXECUTE AS")
	}
	equal(t, "namespaces", h.rows(root, "SELECT namespace FROM system.namespaces WHERE namespace IN ('evil', 'spare') ORDER BY 1"), []string{"spare"})
}
