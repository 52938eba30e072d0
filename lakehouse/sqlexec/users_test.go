package sqlexec_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/password"
)

func TestUserLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.node.Executor
	var changed []string
	x.Users().OnChange(func(id string, _ time.Time) { changed = append(changed, id) })

	h.must(root, "CREATE USER root WITH PASSWORD 'root-pass-1' ROLE system")
	h.must(root, "CREATE USER 'dora' WITH PASSWORD 'dora-pass-1' ROLE dba EMAIL 'd@x.io'")
	h.must(dba, "CREATE USER alice WITH PASSWORD 'alice-pass-1'")
	h.fails(dba, dberr.AlreadyExists, "CREATE USER alice WITH PASSWORD 'alice-pass-2'")
	h.must(dba, "CREATE USER IF NOT EXISTS alice WITH PASSWORD 'alice-pass-2'")

	u, ok, err := x.Users().Lookup(ctx, "alice")
	if err != nil || !ok {
		t.Fatalf("LookupUser(alice) = %v, %v", ok, err)
	}
	if u.Role != access.RoleUser || !u.Active() {
		t.Fatalf("alice = %+v", u)
	}
	if err := password.Check(u.PasswordHash, "alice-pass-1"); err != nil {
		t.Fatalf("stored hash does not match the first password: %v", err)
	}

	// The hash never leaves through SQL, and no column holds the password.
	equal(t, "users as dba", h.rows(dba, "SELECT user_id, role, email FROM system.users ORDER BY user_id"),
		[]string{"[alice user <nil>]", "[dora dba d@x.io]", "[root system <nil>]"})
	h.fails(dba, dberr.ColumnNotFound, "SELECT password_hash FROM system.users")
	for _, r := range h.rows(root, "SELECT * FROM system.users") {
		if strings.Contains(r, "alice-pass") || strings.Contains(r, "$2a$") {
			t.Fatalf("system.users row shows a password or hash: %s", r)
		}
	}

	// Self-service: password; a user may not change its role.
	h.must(alice, "ALTER USER alice SET PASSWORD 'alice-pass-3'")
	h.fails(alice, dberr.PermissionDenied, "ALTER USER alice SET ROLE dba")
	h.fails(alice, dberr.PermissionDenied, "ALTER USER dora SET PASSWORD 'hijacked-1'")
	u, _, _ = x.Users().Lookup(ctx, "alice")
	if password.Check(u.PasswordHash, "alice-pass-3") != nil {
		t.Fatal("ALTER USER SET PASSWORD did not change the hash")
	}
	h.fails(alice, dberr.InvalidArgument, "ALTER USER alice SET PASSWORD 'short'")

	// Role hierarchy: a dba cannot mint or manage system users.
	h.fails(dba, dberr.PermissionDenied, "CREATE USER evil WITH PASSWORD 'evil-pass-1' ROLE system")
	h.fails(dba, dberr.PermissionDenied, "ALTER USER alice SET ROLE system")
	h.fails(dba, dberr.PermissionDenied, "ALTER USER root SET PASSWORD 'hijacked-1'")
	h.fails(svc, dberr.PermissionDenied, "CREATE USER s2 WITH PASSWORD 'service-pass-1' ROLE user")
	h.must(dba, "ALTER USER alice SET ROLE service")
	h.fails(dba, dberr.InvalidArgument, "CREATE USER 'bad name' WITH PASSWORD 'password-1'")
	h.fails(dba, dberr.InvalidArgument, "CREATE USER x WITH PASSWORD 'password-1' ROLE wizard")

	// DROP keeps the row (deleted_at) and removes the hash.
	h.fails(dba, dberr.InvalidArgument, "DROP USER dora")
	h.must(dba, "DROP USER alice")
	h.fails(dba, dberr.InvalidArgument, "DROP USER alice")
	h.must(dba, "DROP USER IF EXISTS alice")
	u, ok, _ = x.Users().Lookup(ctx, "alice")
	if !ok || u.Active() || u.PasswordHash != "" {
		t.Fatalf("dropped alice = %+v (ok %v)", u, ok)
	}
	// A new password, a new role and DROP each void older tokens.
	if u.TokenEpoch != 3 {
		t.Fatalf("dropped alice's token epoch = %d, want 3 (password, role, drop)", u.TokenEpoch)
	}
	equal(t, "active users", h.rows(dba, "SELECT user_id FROM system.users WHERE deleted_at IS NULL ORDER BY 1"), []string{"dora", "root"})
	h.must(dba, "CREATE USER alice WITH PASSWORD 'alice-pass-4'") // re-create
	equal(t, "changes", changed, []string{"root", "dora", "alice", "alice", "alice", "alice", "alice"})

	// Every user change is audited with the actor; nothing holds a password.
	got := h.rows(root, "SELECT actor, subject, action, target FROM system.audit_log WHERE action LIKE '%USER' ORDER BY audit_id")
	equal(t, "audit", got, []string{
		"[root root CREATE USER root]", "[root root CREATE USER dora]", "[dora dora CREATE USER alice]", "[alice alice ALTER USER alice]",
		"[dora dora ALTER USER alice]", "[dora dora DROP USER alice]", "[dora dora CREATE USER alice]"})

	// Survives a restart.
	h.restart()
	if u, ok, _ := h.node.Executor.Users().Lookup(ctx, "dora"); !ok || u.Role != access.RoleDBA || u.Email != "d@x.io" {
		t.Fatalf("after restart dora = %+v", u)
	}
}

func TestExecuteAs(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE USER root WITH PASSWORD 'root-pass-1' ROLE system")
	h.must(root, "CREATE USER dora WITH PASSWORD 'dora-pass-1' ROLE dba")
	h.must(root, "CREATE USER svc WITH PASSWORD 'svc-pass-12' ROLE service")
	h.must(root, "CREATE USER alice WITH PASSWORD 'alice-pass-1'")
	h.must(root, "CREATE USER bob WITH PASSWORD 'bob-pass-123'")
	h.must(alice, "CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT)")

	res := h.must(svc, "EXECUTE AS USER 'alice' (INSERT INTO notes VALUES (1, 'from svc'))")
	if res.AsUser != "alice" || res.RowsAffected != 1 {
		t.Fatalf("EXECUTE AS result = %+v", res)
	}
	equal(t, "alice sees the row", h.rows(alice, "SELECT id, body FROM notes"), []string{"[1 from svc]"})
	equal(t, "bob does not", h.rows(bob, "SELECT id, body FROM notes"), nil)
	equal(t, "svc reads as alice", h.rows(svc, "EXECUTE AS USER alice (SELECT body FROM notes)"), []string{"from svc"})
	if r := h.must(alice, "SELECT 1"); r.AsUser != "alice" {
		t.Fatalf("AsUser of a plain statement = %q", r.AsUser)
	}

	// Hierarchy: user → no one; service → not dba; dba → not system.
	h.fails(alice, dberr.PermissionDenied, "EXECUTE AS USER bob (SELECT 1)")
	h.fails(alice, dberr.PermissionDenied, "EXECUTE AS USER dora (SELECT 1)")
	h.fails(svc, dberr.PermissionDenied, "EXECUTE AS USER dora (SELECT 1)")
	h.fails(dba, dberr.PermissionDenied, "EXECUTE AS USER root (SELECT 1)")
	h.must(dba, "EXECUTE AS USER svc (SELECT 1)")
	h.fails(svc, dberr.InvalidArgument, "EXECUTE AS USER nobody (SELECT 1)")
	// The subject's role applies: acting as a user gives no service rights.
	h.must(svc, "CREATE SHARED TABLE cfg (k TEXT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.fails(svc, dberr.PermissionDenied, "EXECUTE AS USER alice (INSERT INTO cfg VALUES ('a', 'b'))")
	// A dropped user cannot be acted as.
	h.must(dba, "DROP USER bob")
	h.fails(svc, dberr.InvalidArgument, "EXECUTE AS USER bob (SELECT 1)")

	got := h.rows(root, "SELECT actor, actor_role, subject, target FROM system.audit_log WHERE action = 'EXECUTE AS' ORDER BY audit_id")
	equal(t, "audit", got, []string{
		"[svc service alice INSERT INTO notes]", "[svc service alice SELECT body FROM]", "[dora dba svc SELECT 1]"})
}
