package sqlexec_test

import (
	"fmt"
	"testing"
)

// TestCachePreparedUsersSeeOwnRows: alice's and bob's query texts are the
// same, and so are the statements Floe runs but for the sources inlined
// for their partitions (segment files, buffered rows). Through a warm
// prepared-statement cache each still gets only their own rows.
func TestCachePreparedUsersSeeOwnRows(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE NAMESPACE pc")
	h.must(root, "CREATE USER TABLE pc.u (id INT PRIMARY KEY, secret TEXT)")
	h.must(alice, "INSERT INTO pc.u VALUES (1, 'alice-1'), (2, 'alice-2')")
	h.must(bob, "INSERT INTO pc.u VALUES (1, 'bob-1')")
	h.must(root, "FLUSH ALL")
	h.must(bob, "INSERT INTO pc.u VALUES (3, 'bob-3')") // buffered: a literal in bob's text
	const q = "SELECT secret FROM pc.u ORDER BY id"
	before := h.node.Engine.PreparedHits()
	for range 4 {
		equal(t, "alice", h.rows(alice, q), []string{"alice-1", "alice-2"})
		equal(t, "bob", h.rows(bob, q), []string{"bob-1", "bob-3"})
		equal(t, "alice count", h.rows(alice, "SELECT count(*) FROM pc.u"), []string{"2"})
		equal(t, "bob count", h.rows(bob, "SELECT count(*) FROM pc.u"), []string{"2"})
	}
	if h.node.Engine.PreparedHits() == before {
		t.Fatal("no query ran a cached statement: the test proves nothing")
	}
}

// TestCachePreparedSeesNewData: after a flush, an UPDATE or an insert the
// same query text reads the table's new data through a warm cache.
func TestCachePreparedSeesNewData(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE NAMESPACE pc")
	h.must(root, "CREATE SHARED TABLE pc.s (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	for i := range 10 {
		h.must(root, fmt.Sprintf("INSERT INTO pc.s VALUES (%d, 'a')", i))
	}
	h.must(root, "FLUSH ALL")
	const count = "SELECT count(*), min(v), max(v) FROM pc.s"
	before := h.node.Engine.PreparedHits()
	for range 3 {
		equal(t, "flushed", h.rows(alice, count), []string{"[10 a a]"})
	}
	if h.node.Engine.PreparedHits() == before {
		t.Fatal("no query ran a cached statement: the test proves nothing")
	}
	steps := []struct {
		sql, want string
	}{
		{"INSERT INTO pc.s VALUES (10, 'b')", "[11 a b]"},
		{"FLUSH ALL", "[11 a b]"},
		{"UPDATE pc.s SET v = 'c' WHERE id < 5", "[11 a c]"},
		{"FLUSH ALL", "[11 a c]"},
		{"DELETE FROM pc.s WHERE id >= 5", "[5 c c]"},
		{"FLUSH ALL", "[5 c c]"},
	}
	for _, st := range steps {
		h.must(root, st.sql)
		for range 2 {
			equal(t, "after "+st.sql, h.rows(alice, count), []string{st.want})
		}
	}
}
