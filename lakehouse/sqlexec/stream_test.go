package sqlexec_test

import (
	"context"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
)

func TestStreamRowsExpire(t *testing.T) {
	h := newHarness(t)
	h.advance(0)
	h.must(alice, "CREATE STREAM TABLE events (id INT PRIMARY KEY, kind TEXT) WITH (TTL_SECONDS = 60)")
	h.must(alice, "INSERT INTO events VALUES (1, 'old')")
	h.must(root, "FLUSH ALL") // one expired row in a segment, one in the buffer
	h.must(alice, "INSERT INTO events VALUES (3, 'old-buffered')")
	h.advance(30 * time.Second)
	h.must(alice, "INSERT INTO events VALUES (2, 'new')")
	h.must(bob, "INSERT INTO events VALUES (1, 'bob')")
	equal(t, "before TTL", h.rows(alice, "SELECT kind FROM events ORDER BY id"), []string{"old", "new", "old-buffered"})
	res := h.must(alice, "SELECT * FROM events LIMIT 1")
	if len(res.Columns) != 2 {
		t.Fatalf("stream columns %v: _written_at must stay hidden", res.Columns)
	}

	h.advance(40 * time.Second) // 'old' rows are 70 s old, 'new' 40 s
	equal(t, "after TTL", h.rows(alice, "SELECT kind FROM events"), []string{"new"})
	equal(t, "bob after TTL", h.rows(bob, "SELECT kind FROM events"), []string{"bob"})

	// The maintenance entry point runs the eviction job once and records
	// it (the node's scheduler runs it every jobs.evict_interval).
	if err := h.node.Jobs.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	equal(t, "evict job", h.rows(dba, "SELECT kind, rows, trigger, node_id FROM system.jobs WHERE kind = 'evict'"), []string{"[evict 2 maintenance node-local-01]"})
	// Evicted rows stay gone even when time goes back (tombstones, not a
	// read filter).
	h.advance(-40 * time.Second)
	equal(t, "tombstoned", h.rows(alice, "SELECT kind FROM events"), []string{"new"})

	h.must(svc, "ALTER TABLE events SET (FLUSH_POLICY = 'rows:10')")
	h.must(svc, "ALTER TABLE events SET (TTL_SECONDS = 3600)")
	equal(t, "options", h.rows(dba, "SELECT ttl_seconds, flush_rows FROM system.tables WHERE table_name = 'events'"), []string{"[3600 10]"})
	h.fails(svc, dberr.InvalidOption, "ALTER TABLE events SET (ACCESS_LEVEL = 'PUBLIC')")
	h.fails(alice, dberr.PermissionDenied, "UPDATE events SET kind = 'x'")
	h.fails(alice, dberr.PermissionDenied, "DELETE FROM events")
	h.fails(alice, dberr.InvalidOption, "CREATE STREAM TABLE s2 (id INT PRIMARY KEY, _written_at TIMESTAMP) WITH (TTL_SECONDS = 5)")
}
