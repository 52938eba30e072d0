package sqlexec_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// Principals used across tests.
var (
	root  = access.Principal{UserID: "root", Role: access.RoleSystem}
	dba   = access.Principal{UserID: "dora", Role: access.RoleDBA}
	svc   = access.Principal{UserID: "svc", Role: access.RoleService}
	alice = access.Principal{UserID: "alice", Role: access.RoleUser}
	bob   = access.Principal{UserID: "bob", Role: access.RoleUser}
)

// harness is a real node (fs object store, Pebble buffer, DuckDB) in a
// temporary directory.
type harness struct {
	t    testing.TB
	dir  string
	node *node.Node
	app  *appctx.AppContext
	// now is the node's clock (Unix microseconds); 0 means the real time.
	now atomic.Int64
	// configure, when set, changes the node's configuration.
	configure func(*config.Config)
	// deps are what the node is opened with.
	deps node.Deps
}

// advance moves the harness clock forward by d (starting from the real
// time on first use).
func (h *harness) advance(d time.Duration) {
	if h.now.Load() == 0 {
		h.now.Store(time.Now().UnixMicro())
	}
	h.now.Add(d.Microseconds())
}

func (h *harness) clock() time.Time {
	if n := h.now.Load(); n != 0 {
		return time.UnixMicro(n)
	}
	return time.Now()
}

func newHarness(t testing.TB) *harness {
	return newHarnessWith(t, node.Deps{})
}

// newHarnessWith is newHarness with a node opened with deps.
func newHarnessWith(t testing.TB, deps node.Deps) *harness {
	h := &harness{t: t, dir: t.TempDir(), deps: deps}
	h.open()
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	cfg := config.Default()
	cfg.DataDir = h.dir
	cfg.Storage.FS.Dir = filepath.Join(h.dir, "objects")
	if h.configure != nil {
		h.configure(&cfg)
	}
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard, Clock: h.clock})
	if err != nil {
		h.t.Fatal(err)
	}
	n, err := node.Open(ctx, app, h.deps)
	if err != nil {
		app.Close()
		h.t.Fatal(err)
	}
	h.app, h.node = app, n
}

func (h *harness) close() {
	if h.node != nil {
		h.node.Close()
		h.app.Close()
		h.node, h.app = nil, nil
	}
}

// stop stops the node gracefully, as floe serve does: it flushes, releases
// the writer lease and closes.
func (h *harness) stop() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.node.Run(ctx, time.Minute); err != nil {
		h.t.Fatal(err)
	}
	h.close()
}

// restart closes the node (without flushing) and opens it again on the
// same directories: the buffer's WAL and the object store survive.
func (h *harness) restart() {
	h.t.Helper()
	h.close()
	h.open()
}

func (h *harness) exec(p access.Principal, sql string, params ...any) ([]sqlexec.Result, error) {
	return h.node.Executor.Execute(context.Background(), p, sqlexec.Request{SQL: sql, Params: params})
}

// must runs sql and fails the test on error; it returns the last result.
func (h *harness) must(p access.Principal, sql string, params ...any) sqlexec.Result {
	h.t.Helper()
	res, err := h.exec(p, sql, params...)
	if err != nil {
		h.t.Fatalf("%s as %s: %v", sql, p.UserID, err)
	}
	return res[len(res)-1]
}

// rows runs a query and returns its rows rendered with fmt (%v), so
// that tests compare simple strings.
func (h *harness) rows(p access.Principal, sql string, params ...any) []string {
	h.t.Helper()
	res := h.must(p, sql, params...)
	out := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = fmt.Sprint(r...)
		if len(r) > 1 {
			out[i] = fmt.Sprint(r)
		}
	}
	return out
}

// fails runs sql and checks that it fails with code.
func (h *harness) fails(p access.Principal, code dberr.Code, sql string, params ...any) *dberr.Error {
	h.t.Helper()
	_, err := h.exec(p, sql, params...)
	if err == nil {
		h.t.Fatalf("%s as %s: succeeded, want %s", sql, p.UserID, code)
	}
	if got := dberr.CodeOf(err); got != code {
		h.t.Fatalf("%s as %s: error %v (code %s), want %s", sql, p.UserID, err, got, code)
	}
	var de *dberr.Error
	if e, ok := err.(*dberr.Error); ok {
		de = e
	}
	return de
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}
