package sqlexec_test

import (
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

func TestUserTablePartitionsByCaller(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE NAMESPACE app")
	h.must(alice, "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, stars INT DEFAULT 0)")
	h.must(alice, "INSERT INTO app.notes (id, body) VALUES (1, 'alice one'), (2, 'alice two')")
	h.must(bob, "INSERT INTO app.notes VALUES (1, 'bob one', 5)")

	equal(t, "alice", h.rows(alice, "SELECT id, body, stars FROM app.notes ORDER BY id"), []string{"[1 alice one 0]", "[2 alice two 0]"})
	equal(t, "bob", h.rows(bob, "SELECT id, body, stars FROM app.notes ORDER BY id"), []string{"[1 bob one 5]"})
	// Even the system role sees only its own (empty) partition.
	equal(t, "root", h.rows(root, "SELECT count(*) FROM app.notes"), []string{"0"})

	// The same key in two partitions is no conflict; in one it is.
	e := h.fails(alice, dberr.PKViolation, "INSERT INTO app.notes (id, body) VALUES (1, 'again')")
	if !strings.Contains(e.Msg, "(id)=(1)") {
		t.Errorf("message %q does not name the key", e.Msg)
	}
	h.fails(alice, dberr.PKViolation, "INSERT INTO app.notes (id, body) VALUES (7, 'a'), (7, 'b')")
	h.must(alice, "INSERT INTO app.notes (id, body) VALUES (1, 'upserted') ON CONFLICT (id) DO UPDATE SET body = excluded.body, stars = notes.stars + 1")
	h.must(alice, "INSERT INTO app.notes (id, body) VALUES (2, 'ignored') ON CONFLICT DO NOTHING")
	equal(t, "after upserts", h.rows(alice, "SELECT id, body, stars FROM app.notes ORDER BY id"), []string{"[1 upserted 1]", "[2 alice two 0]"})

	res := h.must(alice, "UPDATE app.notes SET stars = stars + 10 WHERE id >= $1", 2)
	if res.RowsAffected != 1 {
		t.Errorf("UPDATE affected %d rows, want 1", res.RowsAffected)
	}
	res = h.must(bob, "DELETE FROM app.notes WHERE id = 1")
	if res.RowsAffected != 1 {
		t.Errorf("DELETE affected %d rows, want 1", res.RowsAffected)
	}
	equal(t, "bob after delete", h.rows(bob, "SELECT * FROM app.notes"), nil)
	equal(t, "alice untouched by bob", h.rows(alice, "SELECT id, stars FROM app.notes ORDER BY id"), []string{"[1 1]", "[2 10]"})
}

func TestMergeAcrossFlushesAndTimeTravel(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE SHARED TABLE public.kv (k INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO kv SELECT i, 'v' || i FROM range(1, 101) t(i)")
	h.must(svc, "FLUSH TABLE kv")
	h.must(svc, "UPDATE kv SET v = 'updated' WHERE k % 10 = 0")
	h.must(svc, "DELETE FROM kv WHERE k > 95")
	// Buffer overlaps the segment: the merge must pick the newest version
	// and hide deleted keys.
	equal(t, "buffer+segment", h.rows(alice, "SELECT count(*), count(*) FILTER (v = 'updated'), max(k) FROM kv"), []string{"[95 9 95]"})
	h.must(svc, "FLUSH TABLE kv")
	equal(t, "two segments", h.rows(alice, "SELECT count(*), count(*) FILTER (v = 'updated'), max(k) FROM kv"), []string{"[95 9 95]"})
	// Version 1 of the partition is the one the node fenced it with at its
	// first write (empty); version 2 is the first flush.
	equal(t, "as of version 1", h.rows(alice, "SELECT count(*) FROM kv AS OF VERSION 1"), []string{"0"})
	equal(t, "as of version 2", h.rows(alice, "SELECT count(*), count(*) FILTER (v = 'updated') FROM kv AS OF VERSION 2"), []string{"[100 0]"})
	equal(t, "as of version $1", h.rows(alice, "SELECT count(*) FROM kv AS OF VERSION $1", 2), []string{"100"})
	h.fails(alice, dberr.InvalidArgument, "SELECT * FROM kv AS OF VERSION 99")
	h.must(svc, "COMPACT TABLE kv")
	equal(t, "compacted", h.rows(alice, "SELECT count(*), count(*) FILTER (v = 'updated'), max(k) FROM kv"), []string{"[95 9 95]"})
	// Readers are PUBLIC; writers need service.
	h.fails(alice, dberr.PermissionDenied, "INSERT INTO kv VALUES (1000, 'x')")
	// Raising the access level takes effect on the next statement.
	h.fails(svc, dberr.PermissionDenied, "ALTER TABLE kv SET ACCESS_LEVEL = 'DBA'")
	h.must(dba, "ALTER TABLE kv SET ACCESS_LEVEL = 'DBA'")
	h.fails(alice, dberr.PermissionDenied, "SELECT count(*) FROM kv")
	h.fails(svc, dberr.PermissionDenied, "SELECT count(*) FROM kv")
	equal(t, "dba reads", h.rows(dba, "SELECT count(*) FROM kv"), []string{"95"})
	equal(t, "system.tables", h.rows(dba, "SELECT access_level FROM system.tables WHERE table_name = 'kv'"), []string{"DBA"})
}

func TestTableWithoutPrimaryKey(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE log (msg TEXT, created TIMESTAMP DEFAULT NOW(), who TEXT DEFAULT CURRENT_USER())")
	h.must(alice, "INSERT INTO log (msg) VALUES ('a'), ('a'), ('b')")
	equal(t, "columns hide _rowid", h.rows(alice, "SELECT msg, who FROM log ORDER BY msg"), []string{"[a alice]", "[a alice]", "[b alice]"})
	res := h.must(alice, "SELECT * FROM log LIMIT 1")
	if len(res.Columns) != 3 {
		t.Fatalf("SELECT * has columns %v, want msg, created, who", res.Columns)
	}
	if got := h.must(alice, "UPDATE log SET msg = 'c' WHERE msg = 'a'").RowsAffected; got != 2 {
		t.Fatalf("UPDATE affected %d, want 2", got)
	}
	if got := h.must(alice, "DELETE FROM log WHERE msg = 'b'").RowsAffected; got != 1 {
		t.Fatalf("DELETE affected %d, want 1", got)
	}
	equal(t, "after", h.rows(alice, "SELECT msg FROM log"), []string{"c", "c"})
	h.fails(alice, dberr.ColumnNotFound, "SELECT _rowid FROM log")
}

func TestAlterTableKeepsOldSegmentsReadable(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, price DECIMAL(10,2))")
	h.must(svc, "INSERT INTO items VALUES (1, 'pen', 1.50), (2, 'ink', 7.25)")
	h.must(svc, "FLUSH TABLE items")
	h.must(svc, "INSERT INTO items VALUES (3, 'pad', 3.00)") // buffered: ALTER flushes it
	h.must(svc, "ALTER TABLE items ADD COLUMN color TEXT DEFAULT 'blue'")
	h.must(svc, "ALTER TABLE items RENAME COLUMN name TO title")
	h.must(svc, "ALTER TABLE items DROP COLUMN price")
	h.must(svc, "INSERT INTO items (id, title) VALUES (4, 'cap')")
	equal(t, "evolved", h.rows(svc, "SELECT * FROM items ORDER BY id"), []string{"[1 pen blue]", "[2 ink blue]", "[3 pad blue]", "[4 cap blue]"})
	h.fails(svc, dberr.ColumnNotFound, "SELECT price FROM items")
	h.fails(svc, dberr.InvalidOption, "ALTER TABLE items DROP COLUMN id")
	h.fails(alice, dberr.PermissionDenied, "ALTER TABLE items ADD COLUMN x INT")
	equal(t, "describe", h.rows(svc, "DESCRIBE items"), []string{"[id INT false <nil> true]", "[title TEXT true <nil> false]", "[color TEXT true 'blue' false]"})
}

func TestDDLRulesAndErrors(t *testing.T) {
	h := newHarness(t)
	h.fails(alice, dberr.PermissionDenied, "CREATE NAMESPACE x")
	h.fails(alice, dberr.PermissionDenied, "CREATE SHARED TABLE t (id INT PRIMARY KEY)")
	h.fails(svc, dberr.PermissionDenied, "CREATE TABLE t (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'DBA')")
	h.fails(alice, dberr.InvalidOption, "CREATE STREAM TABLE s (id INT PRIMARY KEY)")
	h.fails(alice, dberr.InvalidOption, "CREATE USER TABLE u (id INT PRIMARY KEY) WITH (TTL_SECONDS = 5)")
	h.fails(alice, dberr.InvalidOption, "CREATE USER TABLE u (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.fails(alice, dberr.InvalidOption, "CREATE USER TABLE u (id INT PRIMARY KEY) WITH (COLOR = 'red')")
	h.fails(alice, dberr.InvalidOption, "CREATE USER TABLE u (id INT PRIMARY KEY, n INT DEFAULT 'abc')")
	h.fails(alice, dberr.InvalidOption, "CREATE USER TABLE u (id INT PRIMARY KEY, n INT DEFAULT ULID())")
	h.fails(alice, dberr.NamespaceNotFound, "CREATE USER TABLE nope.u (id INT PRIMARY KEY)")
	h.fails(alice, dberr.PermissionDenied, "CREATE USER TABLE system.u (id INT PRIMARY KEY)")
	h.must(alice, "CREATE USER TABLE u (id INT PRIMARY KEY)")
	h.fails(alice, dberr.AlreadyExists, "CREATE USER TABLE u (id INT PRIMARY KEY)")
	h.must(alice, "CREATE USER TABLE IF NOT EXISTS u (id INT PRIMARY KEY)")
	h.fails(alice, dberr.TableNotFound, "SELECT * FROM missing")
	h.fails(alice, dberr.SyntaxError, "SELEC 1")
	h.fails(alice, dberr.TypeMismatch, "INSERT INTO u VALUES ('not a number')")
	h.fails(alice, dberr.NotNullViolation, "INSERT INTO u VALUES (NULL)")
	h.must(root, "CREATE NAMESPACE fulls")
	h.must(root, "CREATE TABLE fulls.t (id INT PRIMARY KEY)")
	h.fails(root, dberr.NotEmpty, "DROP NAMESPACE fulls")
	h.must(root, "DROP NAMESPACE fulls CASCADE")
	h.fails(root, dberr.PermissionDenied, "DROP NAMESPACE system")
	// Statements run in order; an error stops the rest and reports which.
	res, err := h.exec(alice, "INSERT INTO u VALUES (1); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2)")
	if len(res) != 1 || dberr.CodeOf(err) != dberr.PKViolation || !strings.Contains(err.Error(), "statement 2") {
		t.Fatalf("multi-statement: %d results, err %v", len(res), err)
	}
	equal(t, "third did not run", h.rows(alice, "SELECT id FROM u"), []string{"1"})
	h.fails(alice, dberr.NamespaceNotFound, "USE nowhere")
	res, err = h.exec(svc, "CREATE NAMESPACE x2; USE x2; CREATE TABLE t (id INT PRIMARY KEY); SHOW TABLES IN x2")
	if dberr.CodeOf(err) != dberr.PermissionDenied || len(res) != 0 {
		t.Fatalf("service created a namespace? %v", err)
	}
	res, err = h.exec(root, "CREATE NAMESPACE x2; USE x2; CREATE TABLE t (id INT PRIMARY KEY); SHOW TABLES IN x2")
	if err != nil || res[3].Namespace != "x2" || len(res[3].Rows) != 1 {
		t.Fatalf("USE: %v %+v", err, res)
	}
}

func TestSchemaBuiltOncePerTable(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE s1 (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO s1 VALUES (1, 'a')")
	before := h.app.Schemas().Stats()
	for range 1000 {
		h.must(alice, "SELECT * FROM s1")
	}
	after := h.app.Schemas().Stats()
	if misses := after.Misses - before.Misses; misses > 1 {
		t.Fatalf("1000 SELECTs built the schema %d times, want at most 1", misses)
	}
	if after.Hits-before.Hits < 1000 {
		t.Fatalf("1000 SELECTs made %d schema lookups, want ≥ 1000", after.Hits-before.Hits)
	}
}
