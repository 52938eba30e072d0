package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/manifest"
)

var root = access.Principal{UserID: "root", Role: access.RoleSystem}

// process is one engine built from a configuration, as a Floe process
// builds it.
type process struct {
	t   testing.TB
	app *appctx.AppContext
	n   *node.Node
}

// open builds a process from a TOML document (as a floe.toml would hold
// it). clock may be nil.
func open(t testing.TB, toml string, clock func() time.Time) *process {
	t.Helper()
	cfg, err := config.Parse([]byte(toml), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, app, node.Deps{})
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	p := &process{t: t, app: app, n: n}
	t.Cleanup(p.close)
	return p
}

// openErr is open for a configuration that must not start.
func openErr(t testing.TB, toml string) error {
	t.Helper()
	cfg, err := config.Parse([]byte(toml), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	n, err := node.Open(ctx, app, node.Deps{})
	if err == nil {
		n.Close()
		t.Fatal("the process started")
	}
	return err
}

func (p *process) close() {
	if p.n != nil {
		p.n.Close()
		p.app.Close()
		p.n = nil
	}
}

func (p *process) exec(sql string) ([]sqlexec.Result, error) {
	return p.n.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: sql})
}

func (p *process) must(sql string) sqlexec.Result {
	p.t.Helper()
	res, err := p.exec(sql)
	if err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
	return res[len(res)-1]
}

func (p *process) rows(sql string) string {
	p.t.Helper()
	var out []string
	for _, r := range p.must(sql).Rows {
		out = append(out, strings.TrimSuffix(fmt.Sprintln(r...), "\n"))
	}
	return strings.Join(out, ",")
}

// fails runs sql and checks that it fails with code and a message
// holding want.
func (p *process) fails(sql string, code dberr.Code, want string) {
	p.t.Helper()
	_, err := p.exec(sql)
	var de *dberr.Error
	if !errors.As(err, &de) || de.Code != code || !strings.Contains(de.Msg, want) {
		p.t.Fatalf("%s: got %v, want %s mentioning %q", sql, err, code, want)
	}
}

func (p *process) catalog() *manifest.Catalog {
	p.t.Helper()
	c, err := p.app.Catalog().Latest(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// fsConfig is a configuration of a process with its own data directory
// on the shared local object store objects.
func fsConfig(t testing.TB, role, nodeID, objects string) string {
	return fmt.Sprintf("role = %q\nnode_id = %q\ndata_dir = %q\n[storage.fs]\ndir = %q\n", role, nodeID, t.TempDir(), objects)
}

// The node role: writer lease, buffer, acknowledged after the WAL sync;
// it creates a node-mode warehouse.
func TestNodeRole(t *testing.T) {
	p := open(t, fsConfig(t, "node", "node-a", filepath.Join(t.TempDir(), "objects")), nil)
	if p.n.Role != config.RoleNode || p.n.WriteMode != manifest.WriteModeNode || p.n.Buffer == nil || p.n.Flusher == nil ||
		p.n.Direct != nil || p.n.WriterEpoch != 1 || p.n.Writable() != nil {
		t.Fatalf("node role: %+v", p.n)
	}
	p.must("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
	p.must("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
	if got := p.rows("SELECT id, v FROM t ORDER BY id"); got != "1 one,2 two" {
		t.Fatalf("rows: %s", got)
	}
	if c := p.catalog(); c.WriteMode != manifest.WriteModeNode || c.Writer == nil || c.Writer.NodeID != "node-a" {
		t.Fatalf("catalog write mode %q, writer %+v", c.WriteMode, c.Writer)
	}
	// The rows are buffered, not committed: no segment, and no partition
	// manifest but the lease's fence (version 1, no segments, LastSeq 0).
	for _, k := range objstoretest.Keys(t, p.app.Bucket(), "tables/", "") {
		if !strings.HasSuffix(k, "/v/00000000000000000001.json") {
			t.Fatalf("the node wrote %s before a flush", k)
		}
		data, _, err := objstoretest.Get(context.Background(), p.app.Bucket(), k)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.DecodePartition(data)
		if err != nil || len(m.Segments) != 0 || m.LastSeq != 0 {
			t.Fatalf("%s is not an empty fence: %+v, %v", k, m, err)
		}
	}
}

// The function role writes through the direct path against real S3: each
// write is committed (segment + manifest) before it is acknowledged; a
// second function process reads it; a live process reads it and refuses
// writes; a node refuses the direct warehouse without touching it.
func TestFunctionRoleDirectOnS3(t *testing.T) {
	s3 := objstoretest.NewS3ConfigForTest(t)
	s3conf := func(role, nodeID string) string {
		return fmt.Sprintf("role = %q\nnode_id = %q\ndata_dir = %q\n[storage]\nbackend = \"s3\"\n[storage.s3]\n"+
			"bucket = %q\nprefix = %q\nendpoint = %q\nregion = %q\nforce_path_style = %t\naccess_key_id = %q\nsecret_access_key = %q\n"+
			"[query]\ncache_dir = %q\n",
			role, nodeID, t.TempDir(), s3.Bucket, s3.Prefix, s3.Endpoint, s3.Region, s3.ForcePathStyle, s3.AccessKeyID, s3.SecretAccessKey,
			filepath.Join(t.TempDir(), "tmp-cache"))
	}
	f := open(t, s3conf("function", "fn-1"), nil)
	if f.n.Role != config.RoleFunction || f.n.WriteMode != manifest.WriteModeDirect || f.n.Buffer != nil || f.n.Direct == nil ||
		f.n.WriterEpoch != 0 || f.n.Writable() != nil {
		t.Fatalf("function role: %+v", f.n)
	}
	f.must("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
	f.must("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
	f.must("UPDATE t SET v = 'TWO' WHERE id = 2")
	if got := f.rows("SELECT id, v FROM t ORDER BY id"); got != "1 one,2 TWO" {
		t.Fatalf("rows: %s", got)
	}
	c := f.catalog()
	if c.WriteMode != manifest.WriteModeDirect || c.WriterEpoch != 0 || c.Writer != nil {
		t.Fatalf("catalog: write mode %q, epoch %d, writer %+v", c.WriteMode, c.WriterEpoch, c.Writer)
	}
	tbl, _ := c.Table(sqlexec.DefaultNamespace, "t")
	m, err := manifest.NewPartitionLog(f.app.Bucket(), tbl.ID, "", manifest.LogOptions{}).Latest(context.Background())
	if err != nil || m.LastSeq != 3 || len(m.Segments) != 2 {
		t.Fatalf("partition manifest after two acknowledged writes: %+v, %v", m, err)
	}
	// FLUSH has nothing to do on the direct path.
	f.must("FLUSH ALL")

	// Another function process sees the committed rows.
	g := open(t, s3conf("function", "fn-2"), nil)
	if got := g.rows("SELECT v FROM t ORDER BY id"); got != "one,TWO" {
		t.Fatalf("second function reads %s", got)
	}
	g.must("INSERT INTO t VALUES (3, 'three')")
	if got := f.rows("SELECT count(*) FROM t"); got != "3" {
		t.Fatalf("first function after the second's write: %s", got)
	}

	// A live process reads and refuses writes.
	l := open(t, s3conf("live", "live-1"), nil)
	if got := l.rows("SELECT count(*) FROM t"); got != "3" {
		t.Fatalf("live reads %s", got)
	}
	l.fails("INSERT INTO t VALUES (9, 'x')", dberr.ReadOnly, "live")
	l.fails("CREATE TABLE u (id INT PRIMARY KEY)", dberr.ReadOnly, "live")

	// A node refuses the direct warehouse, and claims no lease on it.
	err = openErr(t, s3conf("node", "node-x"))
	if !strings.Contains(err.Error(), `write mode "direct"`) || !strings.Contains(err.Error(), `role = "function"`) {
		t.Fatalf("node on a direct warehouse: %v", err)
	}
	if c := f.catalog(); c.WriterEpoch != 0 || c.Writer != nil {
		t.Fatalf("the refused node changed the catalog: epoch %d, writer %+v", c.WriterEpoch, c.Writer)
	}
	f.must("INSERT INTO t VALUES (4, 'four')")
}

// A function on a node-mode warehouse answers reads of committed data and
// refuses writes with READ_ONLY naming the write mode.
func TestFunctionOnNodeWarehouseReadsCommittedOnly(t *testing.T) {
	objects := filepath.Join(t.TempDir(), "objects")
	n := open(t, fsConfig(t, "node", "node-a", objects), nil)
	n.must("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
	n.must("INSERT INTO t VALUES (1, 'flushed')")
	n.must("FLUSH ALL")
	n.must("INSERT INTO t VALUES (2, 'buffered')")

	f := open(t, fsConfig(t, "function", "fn-1", objects), nil)
	if f.n.WriteMode != manifest.WriteModeNode || f.n.Direct != nil {
		t.Fatalf("function on a node warehouse: %+v", f.n)
	}
	if got := f.rows("SELECT id, v FROM t ORDER BY id"); got != "1 flushed" {
		t.Fatalf("function reads %q, want the committed row only", got)
	}
	f.fails("INSERT INTO t VALUES (3, 'x')", dberr.ReadOnly, `write mode is "node"`)
	f.fails("DELETE FROM t WHERE id = 1", dberr.ReadOnly, `write mode is "node"`)
	f.fails("CREATE TABLE u (id INT PRIMARY KEY)", dberr.ReadOnly, `write mode is "node"`)
	// The node is untouched: its lease and rows stand.
	n.must("INSERT INTO t VALUES (3, 'node')")
	if got := n.rows("SELECT count(*) FROM t"); got != "3" {
		t.Fatalf("node after the function: %s", got)
	}
}

// A live process cannot start a warehouse nobody created.
func TestLiveRoleNeedsAWarehouse(t *testing.T) {
	err := openErr(t, fsConfig(t, "live", "live-1", filepath.Join(t.TempDir(), "objects")))
	if !strings.Contains(err.Error(), "start a node") {
		t.Fatalf("live on an empty warehouse: %v", err)
	}
}

// The node's scheduler compacts small segments and collects the garbage
// they leave, on the configured schedule, and records both in
// system.jobs with the node's id.
func TestNodeRunsCompactionAndGCOnSchedule(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixMicro())
	clock := func() time.Time { return time.UnixMicro(now.Load()) }
	objects := filepath.Join(t.TempDir(), "objects")
	conf := fsConfig(t, "node", "node-jobs", objects) + `
[jobs]
compact_interval = "20ms"
compact_min_segments = 2
gc_interval = "20ms"
gc_retention = "1m"
gc_grace = "1m"
`
	p := open(t, conf, clock)
	p.must("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
	for i := range 3 {
		p.must(fmt.Sprintf("INSERT INTO t VALUES (%d, 'v%d')", i, i))
		p.must("FLUSH TABLE t")
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.n.Run(ctx, time.Minute) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	const compacted = "SELECT node_id, trigger, status, rows FROM system.jobs WHERE kind = 'compact' AND table_name = 't'"
	waitRows(t, p, compacted)
	if got := p.rows(compacted); got != "node-jobs schedule completed 3" {
		t.Fatalf("compaction record: %s", got)
	}
	// The three replaced segments are young and their manifests inside
	// the retention: nothing to collect until the clock passes both.
	const collected = "SELECT node_id, trigger, status FROM system.jobs WHERE kind = 'gc' AND table_name = 't' AND rows > 0"
	if got := p.rows(collected); got != "" {
		t.Fatalf("GC inside the retention: %s", got)
	}
	now.Add((2 * time.Hour).Microseconds())
	waitRows(t, p, collected)
	if got := strings.Split(p.rows(collected), ",")[0]; got != "node-jobs schedule completed" {
		t.Fatalf("gc record: %s", got)
	}
	if got := p.rows("SELECT count(*) FROM t"); got != "3" {
		t.Fatalf("rows after compaction and GC: %s", got)
	}
	// The catalog's versions older than the retention went too: only the
	// latest is left, and DDL goes on from it.
	const prunedCatalog = "SELECT status FROM system.jobs WHERE kind = 'gc' AND table_id = 'catalog' AND rows > 0"
	waitRows(t, p, prunedCatalog)
	if got := strings.Split(p.rows(prunedCatalog), ",")[0]; got != "completed" {
		t.Fatalf("catalog gc record: %s", got)
	}
	versions, err := os.ReadDir(filepath.Join(objects, "catalog", "v"))
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 1 {
		t.Fatalf("catalog versions left: %d, want the latest only", len(versions))
	}
	p.must("CREATE TABLE t2 (id BIGINT PRIMARY KEY)")
	if got := p.rows("SELECT count(*) FROM t2"); got != "0" {
		t.Fatalf("t2: %s", got)
	}
}

// waitRows polls sql until it returns a row; the deadline only bounds a
// broken test.
func waitRows(t *testing.T, p *process, sql string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.rows(sql) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for a row of %s", sql)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The health check's Serving is true in the roles without a writer lease
// (function, live): they serve as long as they run.
func TestServingWithoutLease(t *testing.T) {
	objects := filepath.Join(t.TempDir(), "objects")
	n := open(t, fsConfig(t, "node", "node-a", objects), nil)
	if !n.n.Serving() {
		t.Fatal("node with its lease: not serving")
	}
	for _, role := range []string{"function", "live"} {
		p := open(t, fsConfig(t, role, role+"-1", objects), nil)
		if p.n.Lease != nil || !p.n.Serving() {
			t.Fatalf("%s: lease %v, serving %v", role, p.n.Lease, p.n.Serving())
		}
	}
}
