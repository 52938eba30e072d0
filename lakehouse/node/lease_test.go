package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/internal/syncbuf"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/datadir"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/lease"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// world is a warehouse in a local directory shared by nodes with their own
// data dirs.
type world struct {
	t   *testing.T
	dir string
}

// app builds the AppContext of node id with data dir <dir>/<id>.
func (w *world) app(id string, edit ...func(*config.Config)) (*appctx.AppContext, *syncbuf.Buffer) {
	w.t.Helper()
	cfg := config.Default()
	cfg.NodeID = id
	cfg.DataDir = filepath.Join(w.dir, id)
	cfg.Storage.FS.Dir = filepath.Join(w.dir, "shared")
	cfg.Lease.Duration = config.Duration{Duration: 500 * time.Millisecond}
	cfg.Lease.RequestGrace = config.Duration{}
	for _, e := range edit {
		e(&cfg)
	}
	log := &syncbuf.Buffer{}
	app, err := appctx.New(context.Background(), cfg, appctx.Deps{LogOutput: log})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { app.Close() })
	return app, log
}

func (w *world) open(id string, edit ...func(*config.Config)) (*node.Node, *syncbuf.Buffer) {
	w.t.Helper()
	app, log := w.app(id, edit...)
	n, err := node.Open(context.Background(), app, node.Deps{})
	if err != nil {
		w.t.Fatalf("open %s: %v\n%s", id, err, log)
	}
	w.t.Cleanup(func() { n.Close() })
	return n, log
}

// openFaulty opens node id on the world's shared directory through a
// Faulty bucket, with the given lease duration; both close when t ends.
func (w *world) openFaulty(t *testing.T, id string, leaseDuration time.Duration) (*node.Node, *objstore.Faulty) {
	t.Helper()
	var faulty *objstore.Faulty
	n := w.openWrapped(t, id, leaseDuration, func(b objstore.Bucket) objstore.Bucket {
		faulty = objstore.NewFaulty(b)
		return faulty
	})
	return n, faulty
}

// openWrapped opens node id on the world's shared directory through the
// bucket wrap makes of it, with the given lease duration; both close when
// t ends.
func (w *world) openWrapped(t *testing.T, id string, leaseDuration time.Duration, wrap func(objstore.Bucket) objstore.Bucket) *node.Node {
	t.Helper()
	cfg := config.Default()
	cfg.NodeID, cfg.DataDir = id, filepath.Join(w.dir, id)
	cfg.Lease.Duration = config.Duration{Duration: leaseDuration}
	bucket, err := objstore.NewFS(filepath.Join(w.dir, "shared"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := appctx.New(context.Background(), cfg, appctx.Deps{Bucket: wrap(bucket), LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	n, err := node.Open(context.Background(), app, node.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func exec(t *testing.T, n *node.Node, sql string) []sqlexec.Result {
	t.Helper()
	res, err := n.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: sql})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

// stop stops n gracefully: final flush, lease released, closed.
func stop(t *testing.T, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Run(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	n.Close()
}

// A failed Open returns its error and leaves nothing behind: no panic on
// the half-built node, the data dir unlocked, the lease not renewed.
func TestOpenFailsCleanly(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	n, _ := w.open("a")
	stop(t, n)

	// The latest catalog version is damaged.
	vdir := filepath.Join(w.dir, "shared", "catalog", "v")
	es, err := os.ReadDir(vdir)
	if err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(vdir, es[len(es)-1].Name())
	good, err := os.ReadFile(latest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(latest, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	app, _ := w.app("a")
	if _, err := node.Open(context.Background(), app, node.Deps{}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Open on a damaged catalog: %v", err)
	}
	if err := os.WriteFile(latest, good, 0o644); err != nil {
		t.Fatal(err)
	}
	// The data dir was let go: the next Open works.
	n, _ = w.open("a")
	stop(t, n)
}

// Two processes (here: two Opens) on one data dir: the second fails on the
// lock before it touches the warehouse; the first carries on.
func TestSecondOpenOfADataDir(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	n, _ := w.open("a")
	exec(t, n, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
	epoch := n.Lease.Record().Epoch
	app, _ := w.app("a")
	if _, err := node.Open(context.Background(), app, node.Deps{}); !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	exec(t, n, "INSERT INTO app.t VALUES (1)")
	if !n.Serving() || n.Lease.Record().Epoch != epoch || app.Catalog() == nil {
		t.Fatalf("the first node after the second Open: serving %v, epoch %d (was %d)", n.Serving(), n.Lease.Record().Epoch, epoch)
	}
	stop(t, n)
}

// A data dir whose lease another node took over (with take_over) comes
// back without its buffered rows: they were given up, so they are moved
// aside, never flushed over the newer node's writes.
func TestGivenUpBufferIsSetAside(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	a, _ := w.open("a")
	exec(t, a, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY, v TEXT)")
	exec(t, a, "INSERT INTO app.t VALUES (1, 'a')")
	exec(t, a, "FLUSH TABLE app.t")
	exec(t, a, "INSERT INTO app.t VALUES (2, 'a')")
	exec(t, a, "INSERT INTO app.t VALUES (4, 'a')")
	a.Close() // a crash: the lease is not released, rows 2 and 4 only in a's buffer

	app, _ := w.app("b")
	if _, err := node.Open(context.Background(), app, node.Deps{}); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("b without take-over: %v", err)
	}
	b, blog := w.open("b", func(c *config.Config) { c.Lease.TakeOver = true })
	if !strings.Contains(blog.String(), "took over an unreleased writer lease") {
		t.Fatalf("b's log:\n%s", blog)
	}
	exec(t, b, "INSERT INTO app.t VALUES (3, 'b')")
	stop(t, b)

	a, alog := w.open("a")
	rows := exec(t, a, "SELECT id, v FROM app.t ORDER BY id")[0].Rows
	if len(rows) != 2 || rows[0][1] != "a" || rows[1][1] != "b" {
		t.Fatalf("rows after a came back: %v", rows)
	}
	if !strings.Contains(alog.String(), "given up") {
		t.Fatalf("a's log:\n%s", alog)
	}
	aside, _ := filepath.Glob(filepath.Join(w.dir, "a", "buffer.given-up-*"))
	if len(aside) != 1 {
		t.Fatalf("set-aside buffers: %v", aside)
	}
	stop(t, a)
}

// A graceful stop releases the lease; a crashed node's own data dir takes
// its lease back and still has its buffered rows.
func TestReleaseAndReclaim(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	a, _ := w.open("a")
	exec(t, a, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
	exec(t, a, "INSERT INTO app.t VALUES (1)")
	a.Close() // crash
	a, _ = w.open("a")
	if !a.Lease.Continuous() {
		t.Fatal("the restarted node does not continue its buffer")
	}
	if rows := exec(t, a, "SELECT id FROM app.t")[0].Rows; len(rows) != 1 {
		t.Fatalf("rows after the restart: %v", rows)
	}
	stop(t, a)
	if rec := a.Lease.Record(); !rec.Released {
		t.Fatalf("record after the graceful stop: %+v", rec)
	}
	b, _ := w.open("b")
	if rows := exec(t, b, "SELECT id FROM app.t")[0].Rows; len(rows) != 1 {
		t.Fatalf("rows on b: %v", rows)
	}
	stop(t, b)
}

// While the object store does not take the lease's renewals, the node
// lets its lease lapse: writes fail with a retryable UNAVAILABLE and the
// health check says not serving. Once renewals get through again, it
// serves and takes writes as before.
func TestLapsedLeaseRecovers(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	n, faulty := w.openFaulty(t, "a", 500*time.Millisecond)
	exec(t, n, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")

	faulty.SetHook(func(_ context.Context, op, key string) error {
		if op == objstore.OpPut && key == lease.Key {
			return errors.New("injected: the object store does not answer")
		}
		return nil
	})
	waitFor(t, "the lease to lapse", func() bool { return !n.Serving() })
	_, err := n.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: "INSERT INTO app.t VALUES (1)"})
	if dberr.CodeOf(err) != dberr.Unavailable {
		t.Fatalf("insert with a lapsed lease: %v", err)
	}
	faulty.SetHook(nil)
	waitFor(t, "the lease to be renewed", n.Serving)
	exec(t, n, "INSERT INTO app.t VALUES (2)")
	if rows := exec(t, n, "SELECT id FROM app.t")[0].Rows; len(rows) != 1 || rows[0][0] != int64(2) {
		t.Fatalf("rows: %v", rows)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A data dir is bound to its warehouse: another object store is refused.
func TestDataDirOfAnotherWarehouse(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	n, _ := w.open("a")
	stop(t, n)
	app, _ := w.app("a", func(c *config.Config) { c.Storage.FS.Dir = filepath.Join(w.dir, "other") })
	_, err := node.Open(context.Background(), app, node.Deps{})
	if !errors.Is(err, datadir.ErrOtherWarehouse) || !strings.Contains(err.Error(), filepath.Join(w.dir, "other")) {
		t.Fatalf("Open with another warehouse: %v", err)
	}
}

// A graceful stop retries what transient object-store errors made fail
// (the final flush, the lease release) and ends cleanly: the lease is
// released and the next node reads every row. When the rows cannot be
// flushed at all, the stop returns an error — the process exits non-zero —
// and the lease stays with the data dir, so that no supervisor or operator
// takes the stop for a hand-off.
func TestGracefulStopRetriesFaults(t *testing.T) {
	run := func(n *node.Node, timeout time.Duration) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return n.Run(ctx, timeout)
	}

	t.Run("transient", func(t *testing.T) {
		w := &world{t: t, dir: t.TempDir()}
		a, faulty := w.openFaulty(t, "a", 5*time.Second)
		exec(t, a, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
		exec(t, a, "INSERT INTO app.t VALUES (1), (2), (3)")
		// The store refuses the next 8 segment uploads (more than the
		// shutdown flush and the first drain make: 3 partitions), then one
		// write lands but is reported failed.
		var refused atomic.Int32
		faulty.SetHook(func(_ context.Context, op, key string) error {
			if op == objstore.OpPut && strings.Contains(key, "/seg/") && refused.Add(1) <= 8 {
				return errors.New("injected: the object store is briefly unavailable")
			}
			return nil
		})
		faulty.FailNextAfter(objstore.OpPut, 1, nil)
		if err := run(a, time.Minute); err != nil {
			t.Fatalf("graceful stop with transient faults: %v", err)
		}
		if rec := a.Lease.Record(); !rec.Released {
			t.Fatalf("lease after the stop: %+v", rec)
		}
		a.Close()
		b, _ := w.open("b")
		if rows := exec(t, b, "SELECT id FROM app.t ORDER BY id")[0].Rows; len(rows) != 3 {
			t.Fatalf("rows on the next node: %v", rows)
		}
	})

	t.Run("lasting", func(t *testing.T) {
		w := &world{t: t, dir: t.TempDir()}
		a, faulty := w.openFaulty(t, "a", 5*time.Second)
		exec(t, a, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
		exec(t, a, "INSERT INTO app.t VALUES (1)")
		faulty.SetHook(func(_ context.Context, op, key string) error {
			if op == objstore.OpPut && key != lease.Key {
				return errors.New("injected: the object store refuses writes")
			}
			return nil
		})
		err := run(a, 3*time.Second)
		if err == nil || !strings.Contains(err.Error(), "still buffered") {
			t.Fatalf("graceful stop that cannot flush: %v", err)
		}
		if rec := a.Lease.Record(); rec.Released {
			t.Fatalf("the lease was released with rows buffered: %+v", rec)
		}
		a.Close()
		faulty.SetHook(nil)
		a, _ = w.openFaulty(t, "a", 5*time.Second) // the restart on the data dir flushes them
		if err := run(a, time.Minute); err != nil {
			t.Fatal(err)
		}
		a.Close()
		b, _ := w.open("b")
		if rows := exec(t, b, "SELECT id FROM app.t")[0].Rows; len(rows) != 1 {
			t.Fatalf("rows on the next node: %v", rows)
		}
	})
}

// noOpWrites are statements that write to the warehouse (rows, segments,
// the catalog, users) but change nothing here, one per write statement
// kind and no-op form (no matching row, nothing to flush or compact, IF
// EXISTS / IF NOT EXISTS, inside EXECUTE AS); changingWrites change
// something. An answer to any of them is a claim about the warehouse's
// current state that only the lease holder may make.
var (
	noOpWrites = []string{
		"INSERT INTO app.t SELECT id, v FROM app.t WHERE id < 0",
		"UPDATE app.t SET v = 'y' WHERE id = 12345",
		"DELETE FROM app.t WHERE id = 12345",
		"EXECUTE AS USER 'u1' (UPDATE app.u SET v = 'y' WHERE id = 12345)",
		"EXECUTE AS USER 'u1' (DELETE FROM app.u WHERE id = 12345)",
		"FLUSH TABLE app.t",
		"FLUSH TABLE app.u",
		"FLUSH ALL",
		"COMPACT TABLE app.t",
		"CREATE NAMESPACE IF NOT EXISTS app",
		"DROP NAMESPACE IF EXISTS nope",
		"CREATE SHARED TABLE IF NOT EXISTS app.t (id BIGINT PRIMARY KEY, v TEXT)",
		"DROP TABLE IF EXISTS app.nope",
		"CREATE VIEW IF NOT EXISTS app.tv AS SELECT id FROM app.t",
		"DROP VIEW IF EXISTS app.nope",
		"CREATE USER IF NOT EXISTS u1 WITH PASSWORD 'u1-password-1'",
		"DROP USER IF EXISTS nope",
	}
	changingWrites = []string{
		"INSERT INTO app.t VALUES (100, 'x')",
		"UPDATE app.t SET v = 'y' WHERE id = 1",
		"DELETE FROM app.t WHERE id = 1",
		"EXECUTE AS USER 'u1' (INSERT INTO app.u VALUES (2, 'b'))",
		"CREATE SHARED TABLE app.new (id BIGINT PRIMARY KEY)",
		"ALTER TABLE app.t ADD COLUMN w TEXT",
		"CREATE VIEW app.v2 AS SELECT id FROM app.t",
		"CREATE USER u2 WITH PASSWORD 'u2-password-1'",
		"ALTER USER u1 REVOKE TOKENS",
	}
)

// A node whose lease lapsed (renewals fail) or was taken over refuses
// every statement that writes, also one that would change nothing (an
// UPDATE that matches no row, a FLUSH with an empty buffer, CREATE … IF
// NOT EXISTS of what exists): its answer would claim a state of the
// warehouse it can no longer vouch for — another node may have written
// the row, or hold rows it has not flushed. Lapsed: UNAVAILABLE; taken
// over: FENCED once it knows. Reads are still answered.
func TestWritesRefusedWithoutTheLease(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	a, faulty := w.openFaulty(t, "a", 500*time.Millisecond)
	exec(t, a, `CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY, v TEXT);
CREATE USER TABLE app.u (id BIGINT PRIMARY KEY, v TEXT); CREATE VIEW app.tv AS SELECT id FROM app.t;
CREATE USER u1 WITH PASSWORD 'u1-password-1'`)
	exec(t, a, "INSERT INTO app.t VALUES (1, 'a')")
	exec(t, a, "EXECUTE AS USER 'u1' (INSERT INTO app.u VALUES (1, 'a'))")
	exec(t, a, "FLUSH ALL") // nothing buffered from here on
	// Each no-op succeeds while the lease is held, so that a refusal
	// below is the lease's, not the statement's.
	for _, sql := range noOpWrites {
		exec(t, a, sql)
	}

	// What b must see after a's refused statements: the warehouse as a
	// left it.
	state := []string{
		"SELECT id, v FROM app.t ORDER BY id",
		"EXECUTE AS USER 'u1' (SELECT id, v FROM app.u ORDER BY id)",
		"SHOW TABLES IN app",
		"SHOW VIEWS IN app",
		"DESCRIBE app.t",
		"SELECT user_name, token_epoch FROM system.users ORDER BY user_name",
	}
	before := map[string]string{}
	for _, sql := range state {
		before[sql] = fmt.Sprint(exec(t, a, sql)[0].Rows)
	}

	refused := func(phase string, codes ...dberr.Code) {
		t.Helper()
		for _, sql := range append(append([]string(nil), noOpWrites...), changingWrites...) {
			_, err := a.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: sql})
			if c := dberr.CodeOf(err); !slices.Contains(codes, c) {
				t.Errorf("%s: %s: %v (code %q), want one of %v", phase, sql, err, c, codes)
			}
		}
	}

	faulty.SetHook(func(_ context.Context, op, key string) error {
		if op == objstore.OpPut && key == lease.Key {
			return errors.New("injected: the object store does not answer")
		}
		return nil
	})
	waitFor(t, "the lease to lapse", func() bool { return !a.Serving() })
	refused("lapsed", dberr.Unavailable)

	b, _ := w.open("b", func(c *config.Config) { c.Lease.TakeOver = true })
	faulty.SetHook(nil)
	refused("taken over", dberr.Unavailable, dberr.Fenced)
	waitFor(t, "a to learn that it was taken over", func() bool { return a.Lease.Fenced() != nil })
	refused("fenced", dberr.Fenced)
	if rows := exec(t, a, "SELECT id FROM app.t")[0].Rows; len(rows) != 1 {
		t.Fatalf("a read on the fenced node: %v", rows)
	}

	// None of a's refused statements took effect.
	for _, sql := range state {
		if got := fmt.Sprint(exec(t, b, sql)[0].Rows); got != before[sql] {
			t.Errorf("on b: %s = %s, want %s", sql, got, before[sql])
		}
	}
}
