package sqlexec_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
)

// changeLog records the batches of one table.
type changeLog struct {
	mu      sync.Mutex
	table   string
	batches []tablestore.ChangeBatch
}

func (c *changeLog) Publish(b tablestore.ChangeBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.Table.Name == c.table {
		c.batches = append(c.batches, b)
	}
}

// take returns the rows published since the last call, one string each:
// "op new-values <- old-values".
func (c *changeLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	show := func(r row.Row) string {
		var s []string
		for _, v := range r {
			s = append(s, strings.Trim(v.String(), `"`))
		}
		return strings.Join(s, " ")
	}
	for _, b := range c.batches {
		for _, r := range b.Rows {
			line := r.Op.String() + " " + show(r.Values)
			if r.Old != nil {
				line += " <- " + show(r.Old)
			}
			out = append(out, line)
		}
	}
	c.batches = nil
	return out
}

// With a change sink listening, every DML statement hands its changes to
// it with the op and, for updates and deletes, the values it replaced —
// from rows in the buffer and in segments alike.
func TestChangesCarryOldValues(t *testing.T) {
	log := &changeLog{table: "kv"}
	h := newHarnessWith(t, node.Deps{Changes: log})
	h.must(svc, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO kv VALUES (1, 'a'), (2, 'b')")
	equal(t, "insert", log.take(), []string{"insert 1 a", "insert 2 b"})
	for _, where := range []string{"buffer", "segments"} {
		t.Run(where, func(t *testing.T) {
			if where == "segments" {
				h.must(root, "FLUSH ALL")
			}
			h.must(svc, "UPDATE kv SET v = v || '+' WHERE k = 1")
			equal(t, "update", log.take(), []string{fmt.Sprintf("update 1 %s <- 1 %s", "a+", "a")})
			h.must(svc, "UPDATE kv SET v = 'a' WHERE k = 1")
			log.take()
			h.must(svc, "INSERT INTO kv VALUES (2, 'B') ON CONFLICT (k) DO UPDATE SET v = excluded.v")
			equal(t, "upsert", log.take(), []string{"update 2 B <- 2 b"})
			h.must(svc, "INSERT OR REPLACE INTO kv VALUES (2, 'b')")
			equal(t, "replace", log.take(), []string{"update 2 b <- 2 B"})
			h.must(svc, "INSERT INTO kv VALUES (3, 'c') ON CONFLICT (k) DO NOTHING")
			equal(t, "insert", log.take(), []string{"insert 3 c"})
			h.must(svc, "DELETE FROM kv WHERE k = 3")
			equal(t, "delete", log.take(), []string{"delete 3 NULL <- 3 c"})
		})
	}
}

// STREAM eviction publishes its deletes with the rows they remove.
func TestEvictionPublishesDeletes(t *testing.T) {
	log := &changeLog{table: "ev"}
	h := newHarnessWith(t, node.Deps{Changes: log})
	h.advance(0)
	h.must(alice, "CREATE STREAM TABLE ev (id INT PRIMARY KEY, kind TEXT) WITH (TTL_SECONDS = 60)")
	h.must(alice, "INSERT INTO ev VALUES (1, 'old')")
	log.take()
	h.advance(2 * time.Minute)
	if err := h.node.Jobs.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := log.take()
	// STREAM rows carry the hidden _written_at column first.
	if len(got) != 1 || !strings.HasPrefix(got[0], "delete NULL 1 NULL <- ") || !strings.HasSuffix(got[0], " 1 old") {
		t.Fatalf("eviction published %q", got)
	}
}
