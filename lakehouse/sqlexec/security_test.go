package sqlexec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
)

// TestIsolationMatrix plays an attacker: for every table type and role, a
// principal tries to read another user's rows, host files, the segment
// cache and engine settings through every SQL form we know of. Every
// attempt must return no foreign row and fail, when it fails, with
// PERMISSION_DENIED, a syntax error or a not-found code.
func TestIsolationMatrix(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE NAMESPACE sec")
	h.must(root, "CREATE USER TABLE sec.u (id INT PRIMARY KEY, secret TEXT)")
	h.must(root, "CREATE STREAM TABLE sec.s (id INT PRIMARY KEY, secret TEXT) WITH (TTL_SECONDS = 3600)")
	h.must(root, "CREATE SHARED TABLE sec.d (id INT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'DBA')")
	h.must(root, "CREATE SHARED TABLE sec.p (id INT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'PRIVATE')")
	h.must(root, "CREATE SHARED TABLE sec.pub (id INT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	// The victim's rows, in the buffer and in segments.
	victim := access.Principal{UserID: "victim", Role: access.RoleUser}
	for _, tb := range []string{"sec.u", "sec.s"} {
		h.must(victim, fmt.Sprintf("INSERT INTO %s VALUES (1, 'VICTIM-SECRET-1')", tb))
	}
	h.must(root, "INSERT INTO sec.d VALUES (1, 'VICTIM-SECRET-D')")
	h.must(root, "INSERT INTO sec.p VALUES (1, 'VICTIM-SECRET-P')")
	// The attackers' own partitions have versions too (AS OF VERSION 1).
	h.must(alice, "INSERT INTO sec.u VALUES (1, 'mine')")
	h.must(access.Principal{UserID: "mallory-svc", Role: access.RoleService}, "INSERT INTO sec.u VALUES (1, 'mine')")
	h.must(root, "FLUSH ALL")
	for _, tb := range []string{"sec.u", "sec.s"} {
		h.must(victim, fmt.Sprintf("INSERT INTO %s VALUES (2, 'VICTIM-SECRET-2')", tb))
	}
	h.rows(victim, "SELECT * FROM sec.u") // brings the victim's segment into the cache
	cache := h.node.Cache.Dir()
	files, _ := filepath.Glob(filepath.Join(cache, "*.parquet"))
	if len(files) == 0 {
		t.Fatal("no cached segment files to attack")
	}
	segFile := files[0]
	hostFile := "/etc/passwd"
	if _, err := os.Stat(hostFile); err != nil {
		hostFile = filepath.Join(h.dir, "host-secret.txt")
		os.WriteFile(hostFile, []byte("VICTIM-SECRET-HOST"), 0o644)
	}

	attacks := []string{
		"SELECT * FROM sec.u",
		"SELECT * FROM sec.s",
		"SELECT * FROM sec.u a JOIN sec.s b USING (id)",
		"SELECT (SELECT max(secret) FROM sec.u), * FROM sec.s",
		"SELECT * FROM sec.u WHERE id IN (SELECT id FROM sec.s)",
		"WITH u AS (SELECT * FROM sec.u) SELECT * FROM u",
		"WITH d AS (SELECT 1 AS id) SELECT * FROM sec.d",
		"WITH pub AS (SELECT * FROM sec.d) SELECT * FROM pub",
		"SELECT * FROM sec.u UNION ALL SELECT * FROM sec.s",
		"SELECT * FROM sec.d",
		"SELECT * FROM sec.p",
		"SELECT * FROM sec.u AS OF VERSION 1",
		"SELECT * FROM sec.d AS OF VERSION 1",
		"SELECT * FROM sec.u WHERE secret = $1",
		"SELECT * FROM system.users",
		"SELECT * FROM system.jobs",
		"SELECT * FROM system.audit_log",
		fmt.Sprintf("SELECT * FROM read_parquet('%s')", segFile),
		fmt.Sprintf("SELECT * FROM read_parquet('%s/**')", cache),
		fmt.Sprintf("SELECT * FROM parquet_scan('%s')", segFile),
		fmt.Sprintf("SELECT * FROM glob('%s/*')", cache),
		fmt.Sprintf("SELECT * FROM read_csv('%s')", hostFile),
		fmt.Sprintf("SELECT * FROM read_csv_auto('%s')", hostFile),
		fmt.Sprintf("SELECT * FROM read_text('%s')", hostFile),
		fmt.Sprintf("SELECT * FROM '%s'", segFile),
		fmt.Sprintf(`SELECT * FROM "%s"`, segFile),
		fmt.Sprintf(`SELECT * FROM "%s"`, hostFile),
		fmt.Sprintf("SELECT * FROM query('SELECT * FROM read_parquet(''%s'')')", segFile),
		"SELECT * FROM query_table('sec.u')",
		"SELECT current_setting('allowed_directories')",
		"SELECT * FROM duckdb_settings()",
		"SELECT * FROM duckdb_tables()",
		"SELECT * FROM information_schema.tables",
		"SELECT * FROM pg_catalog.pg_settings",
		"SELECT * FROM temp.main.__floe_1",
		"SELECT * FROM __floe_1",
		fmt.Sprintf("ATTACH '%s' AS x", filepath.Join(h.dir, "x.db")),
		fmt.Sprintf("COPY sec.u TO '%s'", filepath.Join(h.dir, "out.csv")),
		"SET enable_external_access = true",
		"PRAGMA database_list",
		"INSTALL httpfs",
		"LOAD httpfs",
		fmt.Sprintf("EXPORT DATABASE '%s'", h.dir),
		"SELECT 1; SELECT * FROM read_csv('/etc/passwd')",
		"SELECT 1; ATTACH ':memory:' AS m",
		"SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
		"UPDATE sec.d SET secret = 'x'",
		"DELETE FROM sec.p",
		"INSERT INTO sec.d VALUES (9, 'x')",
		"INSERT INTO sec.u SELECT * FROM sec.d",
		"INSERT INTO sec.u SELECT id, secret FROM read_parquet('" + segFile + "')",
		"UPDATE sec.u SET secret = (SELECT max(secret) FROM sec.d)",
	}
	allowed := map[dberr.Code]bool{dberr.PermissionDenied: true, dberr.SyntaxError: true, dberr.TableNotFound: true,
		dberr.NamespaceNotFound: true, dberr.Unsupported: true, dberr.InvalidArgument: true}
	// Every role attacks; the shared and system tables a role may
	// legitimately read or write are left out of its attacks.
	for _, p := range []access.Principal{alice, {UserID: "mallory-svc", Role: access.RoleService}, dba, root} {
		for _, sql := range attacks {
			switch {
			case p.Role == access.RoleService && strings.Contains(sql, "sec.p"):
				continue // PRIVATE shared tables are the service role's to read and write
			case p.Role.AtLeast(access.RoleDBA) && (strings.Contains(sql, "sec.p") || strings.Contains(sql, "sec.d") || strings.Contains(sql, "system.")):
				continue
			}
			res, err := h.exec(p, sql, "VICTIM-SECRET-1")
			for _, r := range res {
				for _, row := range r.Rows {
					text := fmt.Sprint(row...)
					if strings.Contains(text, "VICTIM-SECRET") || strings.Contains(text, "root:") || strings.Contains(text, cache) {
						t.Errorf("%s as %s (%s) leaked %q", sql, p.UserID, p.Role, text)
					}
				}
			}
			if err != nil && !allowed[dberr.CodeOf(err)] {
				t.Errorf("%s as %s: error code %s (%v), want a refusal", sql, p.UserID, dberr.CodeOf(err), err)
			}
		}
	}
	// The attacker's own data is still served.
	equal(t, "own row", h.rows(alice, "SELECT secret FROM sec.u"), []string{"mine"})
	equal(t, "victim intact", h.rows(victim, "SELECT secret FROM sec.u ORDER BY id"), []string{"VICTIM-SECRET-1", "VICTIM-SECRET-2"})
}

// TestSecurityCTECannotCaptureFloeRelations: Floe's query for a table's
// rows may read a temporary relation of the statement's session (many
// buffered rows go to a temporary table). A CTE of the user's query named
// like that relation must not stand in for it, directly or through an
// inlined view (before the fix, WITH "__floe_1" AS (…) replaced the
// caller's buffered rows with the CTE's).
func TestSecurityCTECannotCaptureFloeRelations(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE items (id INT PRIMARY KEY, qty INT)")
	h.must(alice, "INSERT INTO items SELECT i, i FROM range(500) t(i)") // buffered, more than a literal list holds
	h.must(alice, "CREATE VIEW all_items AS SELECT id, qty FROM items")
	for _, from := range []string{"items", "all_items", "all_items", "all_items"} {
		for n := 1; n <= 8; n++ {
			q := fmt.Sprintf(`WITH "__floe_%d" AS (SELECT 99999 AS id, 77777 AS qty, CAST(1 AS BIGINT) AS _seq, false AS _deleted)
				SELECT max(qty), count(*) FROM %s`, n, from)
			res, err := h.exec(alice, q)
			if err != nil {
				if c := dberr.CodeOf(err); c != dberr.PermissionDenied {
					t.Errorf("%s: %v, want rows or PERMISSION_DENIED", q, err)
				}
				continue
			}
			if got := fmt.Sprint(res[0].Rows); got != "[[499 500]]" {
				t.Errorf("%s: rows %s, want [[499 500]]: the CTE stood in for Floe's relation", q, got)
			}
		}
	}
}

func TestSystemTablesPersistAndAreGuarded(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE jobs_src (id INT PRIMARY KEY)")
	h.must(svc, "INSERT INTO jobs_src VALUES (1), (2)")
	h.must(svc, "FLUSH TABLE jobs_src")
	node := h.app.NodeID().String()
	got := h.rows(dba, "SELECT kind, table_name, status, rows, node_id FROM system.jobs WHERE table_name = 'jobs_src' AND status = 'completed'")
	equal(t, "flush job", got, []string{fmt.Sprintf("[flush jobs_src completed 2 %s]", node)})
	h.must(root, "FLUSH ALL")
	h.restart()
	equal(t, "jobs after restart", h.rows(dba, "SELECT kind, status FROM system.jobs WHERE table_name = 'jobs_src' AND status = 'completed'"), []string{"[flush completed]"})
	audit := h.rows(dba, "SELECT action, target, actor FROM system.audit_log WHERE action = 'CREATE TABLE'")
	equal(t, "audit", audit, []string{"[CREATE TABLE public.jobs_src svc]"})
	h.fails(alice, dberr.PermissionDenied, "SELECT * FROM system.jobs")
	h.fails(svc, dberr.PermissionDenied, "SELECT * FROM system.tables")
	h.fails(dba, dberr.PermissionDenied, "INSERT INTO system.jobs (job_id, kind, node_id, status) VALUES ('x', 'y', 'z', 'w')")
	equal(t, "system.tables", h.rows(dba, "SELECT table_type FROM system.tables WHERE table_name = 'jobs_src'"), []string{"SHARED"})
	equal(t, "system.columns", h.rows(dba, "SELECT column_name FROM system.columns WHERE namespace = 'system' AND table_name = 'users' AND column_name = 'password_hash'"), []string{"password_hash"})
	res := h.must(dba, "SELECT * FROM system.users")
	for _, c := range res.Columns {
		if c.Name == "password_hash" {
			t.Fatal("system.users shows password_hash")
		}
	}
}
