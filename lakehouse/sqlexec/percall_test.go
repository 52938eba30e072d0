package sqlexec_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// A burst of point statements needs no query slot: with the only slot
// taken and no queue, 64 concurrent point reads and then 64 concurrent
// single-row INSERTs all succeed, while a statement that needs DuckDB — an
// aggregate, a point-shaped read the fast path declines, INSERT … SELECT,
// an ON CONFLICT DO UPDATE that hits a key — is refused OVERLOADED: the
// engine's slots stay bounded.
func TestPointStatementBurstNeedsNoQuerySlot(t *testing.T) {
	h := newHarnessConfigured(t, func(c *config.Config) {
		c.Query.MaxConcurrent, c.Query.MaxConcurrentPerUser, c.Query.QueueLength = 1, 1, 0
		c.Query.QueueWait = config.Duration{Duration: 100 * time.Millisecond}
	})
	h.must(root, "CREATE SHARED TABLE kv (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO kv SELECT i, 'value ' || i FROM range(100) t(i)")
	adm := h.node.Admission
	slot, err := adm.Admit(context.Background(), "someone-else")
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	served := sqlexec.PointReads(h.node.Executor)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			p := access.Principal{UserID: fmt.Sprintf("u%02d", i), Role: access.RoleUser}
			res, err := h.exec(p, "SELECT id, v FROM kv WHERE id = $1", int64(i))
			switch {
			case err != nil:
				errs <- err
			case len(res[0].Rows) != 1 || res[0].Rows[0][1] != fmt.Sprintf("value %d", i):
				errs <- fmt.Errorf("key %d: rows %v", i, res[0].Rows)
			}
			if r := adm.Running(); r > 1 {
				errs <- fmt.Errorf("%d statements hold query slots (1 allowed)", r)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := sqlexec.PointReads(h.node.Executor) - served; got != n {
		t.Errorf("%d point reads served by the fast path, want %d", got, n)
	}
	_, err = h.exec(alice, "SELECT count(*) FROM kv")
	wantCode(t, "an aggregate with the only slot taken", err, dberr.Overloaded, "busy")
	// Shaped as a point read, but a text for a BIGINT key: DuckDB decides,
	// so it needs a slot.
	_, err = h.exec(alice, "SELECT id, v FROM kv WHERE id = '7'")
	wantCode(t, "a declined point read with the only slot taken", err, dberr.Overloaded, "busy")
	burst(t, "INSERT", n, func(i int) error {
		p := access.Principal{UserID: fmt.Sprintf("u%02d", i), Role: access.RoleService}
		_, err := h.exec(p, "INSERT INTO kv VALUES ($1, 'new')", int64(1000+i))
		if r := adm.Running(); r > 1 {
			return fmt.Errorf("%d statements hold query slots (1 allowed)", r)
		}
		return err
	})
	_, err = h.exec(root, "INSERT INTO kv SELECT 5000, 'x'")
	wantCode(t, "INSERT … SELECT with the only slot taken", err, dberr.Overloaded, "busy")
	_, err = h.exec(root, "INSERT INTO kv VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v")
	wantCode(t, "ON CONFLICT DO UPDATE of an existing key with the only slot taken", err, dberr.Overloaded, "busy")
	if r := adm.PointsRunning(); r != 0 {
		t.Errorf("%d point permits still taken after every statement ended", r)
	}
	slot.Release()
	if got := h.rows(alice, "SELECT id, v FROM kv WHERE id = '7'"); len(got) != 1 {
		t.Errorf("the declined point read with a free slot: %v", got)
	}
	equal(t, "inserted", h.rows(alice, "SELECT count(*) FROM kv WHERE v = 'new'"), []string{fmt.Sprint(n)})
	if r := adm.Running(); r != 0 {
		t.Errorf("%d query slots still taken after every statement ended", r)
	}
}

// burst runs f(0) … f(n-1) at once and reports their errors.
func burst(t *testing.T, what string, n int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if err := f(i); err != nil {
				errs <- fmt.Errorf("%s %d: %w", what, i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A cached point plan is never another principal's: two users read the
// same key of a USER table with the same text and each sees its own row;
// a role that may not read a SHARED table is refused even after a role
// that may read it ran the same text.
func TestPointPlanCacheIsPerPrincipal(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT)")
	h.must(alice, "INSERT INTO notes VALUES (1, 'alice''s note')")
	h.must(bob, "INSERT INTO notes VALUES (1, 'bob''s note')")
	const q = "SELECT id, body FROM notes WHERE id = $1"
	for range 2 {
		equal(t, "alice", h.rows(alice, q, int64(1)), []string{"[1 alice's note]"})
		equal(t, "bob", h.rows(bob, q, int64(1)), []string{"[1 bob's note]"})
	}

	h.must(root, "CREATE SHARED TABLE secrets (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'DBA')")
	h.must(root, "INSERT INTO secrets VALUES (1, 'classified')")
	const s = "SELECT id, v FROM secrets WHERE id = 1"
	served := sqlexec.PointReads(h.node.Executor)
	equal(t, "dba", h.rows(dba, s), []string{"[1 classified]"})
	if sqlexec.PointReads(h.node.Executor) == served {
		t.Fatal("the dba's read did not take the point-read path")
	}
	// Same user id, lower role (a role change moves the token epoch, but
	// the executor must not rely on it).
	demoted := access.Principal{UserID: dba.UserID, Role: access.RoleService}
	for _, p := range []access.Principal{svc, demoted} {
		_, err := h.exec(p, s)
		wantCode(t, "role "+string(p.Role)+" reading a DBA table", err, dberr.PermissionDenied, "")
	}
}

// A cached point plan is never used with another catalog version: after
// ALTER TABLE ADD COLUMN the same SELECT * has the new column; after the
// table is dropped and created again with other columns the same text
// reads the new table.
func TestPointPlanCacheSeesDDL(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE t (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t VALUES (1, 'one')")
	const q = "SELECT * FROM t WHERE id = 1"
	equal(t, "before", h.rows(alice, q), []string{"[1 one]"})
	h.must(root, "ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'dflt'")
	res := h.must(alice, q)
	if len(res.Columns) != 3 {
		t.Fatalf("columns after ADD COLUMN: %v, want id, v, w", res.Columns)
	}
	equal(t, "after ADD COLUMN", h.rows(alice, q), []string{"[1 one dflt]"})

	h.must(root, "DROP TABLE t")
	_, err := h.exec(alice, q)
	wantCode(t, "after DROP TABLE", err, dberr.TableNotFound, "")
	h.must(root, "CREATE SHARED TABLE t (id BIGINT PRIMARY KEY, n BIGINT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t VALUES (1, 42)")
	equal(t, "re-created", h.rows(alice, q), []string{"[1 42]"})
}
