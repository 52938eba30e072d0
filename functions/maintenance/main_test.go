package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

var root = access.Principal{UserID: "root", Role: access.RoleSystem}

// env is the environment of a function on the test warehouse, as the SAM
// template sets it, plus extra.
func env(t *testing.T, s3 objstore.S3Config, extra ...string) []string {
	e := append([]string{"FLOE_DATA_DIR=" + t.TempDir(), "FLOE_LOG_LEVEL=warn",
		"FLOE_AUTH_JWT_SECRET=0123456789abcdef0123456789abcdef"}, objstoretest.StorageEnv(s3)...)
	return append(e, extra...)
}

// writer is another function process on the warehouse (its own engine,
// data dir and node id), writing through the direct path.
type writer struct {
	t *testing.T
	n *node.Node
}

func openWriter(t *testing.T, environ []string) *writer {
	t.Helper()
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, app, node.Deps{})
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); app.Close() })
	return &writer{t: t, n: n}
}

func (w *writer) exec(sql string) ([]sqlexec.Result, error) {
	return w.n.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: sql})
}

// rows runs sql and returns its rows, each formatted with fmt.Sprint.
func (w *writer) rows(sql string) []string {
	w.t.Helper()
	res, err := w.exec(sql)
	if err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for _, r := range res[len(res)-1].Rows {
		out = append(out, fmt.Sprint(r...))
	}
	return out
}

// maint is one maintenance container.
type maint struct {
	t *testing.T
	h Handler
}

func coldStart(t *testing.T, environ []string, deps appctx.Deps) *maint {
	t.Helper()
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatal(err)
	}
	h, closeFn, err := newHandler(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return &maint{t: t, h: h}
}

func (m *maint) invoke(event string) (Response, error) {
	return m.h(context.Background(), json.RawMessage(event))
}

func (m *maint) must(event string) Response {
	m.t.Helper()
	resp, err := m.invoke(event)
	if err != nil {
		m.t.Fatalf("%s: %v", event, err)
	}
	for _, j := range resp.Jobs {
		if j.Status != "completed" {
			m.t.Fatalf("%s: job %+v", event, j)
		}
	}
	return resp
}

func kinds(r Response) map[string]int64 {
	out := map[string]int64{}
	for _, j := range r.Jobs {
		out[j.Kind+" "+j.Table] += j.Rows
	}
	return out
}

// The maintenance function compacts, evicts and garbage-collects a
// warehouse on real S3 while another function process writes the same
// partition: every acknowledged row survives, each job is recorded in
// system.jobs with the function's node id, runs are idempotent, and bad
// events are refused with a message saying what is wrong.
func TestMaintenanceOnS3(t *testing.T) {
	s3 := objstoretest.NewS3ConfigForTest(t)
	w := openWriter(t, env(t, s3, "FLOE_NODE_ID=writer-1"))
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE SHARED TABLE app.hot (id BIGINT PRIMARY KEY, v TEXT)",
		"CREATE SHARED TABLE app.cold (id BIGINT PRIMARY KEY)",
		"CREATE SHARED TABLE app.twin (id BIGINT PRIMARY KEY)",
		"CREATE STREAM TABLE app.ev (id INT PRIMARY KEY, kind TEXT) WITH (TTL_SECONDS = 1)",
		"INSERT INTO app.ev VALUES (1, 'a'), (2, 'b'), (3, 'c')",
	} {
		if _, err := w.exec(sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for i := range 5 { // five small segments in app.cold
		if _, err := w.exec(fmt.Sprintf("INSERT INTO app.cold VALUES (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
	m := coldStart(t, env(t, s3, "AWS_LAMBDA_FUNCTION_NAME=floe-maintenance", "FLOE_JOBS_COMPACT_MIN_SEGMENTS=4"), appctx.Deps{})

	// Bad events: refused before any job runs.
	for event, want := range map[string]string{
		`{"jobs": ["vacuum"]}`:    `"vacuum" is not a job`,
		`{"table": "app.nope"}`:   `table "app.nope"`,
		`{"table": "nodot"}`:      `"nodot" is not namespace.table`,
		`{"tabels": ["app.hot"]}`: `unknown field "tabels"`,
		`[1, 2]`:                  "not a JSON object",
	} {
		if _, err := m.invoke(event); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("event %s: %v, want an error holding %q", event, err, want)
		}
	}

	// A writer inserts one row per statement (one segment per commit)
	// into app.hot while the function compacts app.hot, over and over.
	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		done  = make(chan error, 1)
	)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := w.exec(fmt.Sprintf("INSERT INTO app.hot VALUES (%d, 'v%d')", i, i)); err != nil {
				done <- fmt.Errorf("insert %d: %w", i, err)
				return
			}
			mu.Lock()
			acked = append(acked, fmt.Sprint(i))
			mu.Unlock()
		}
	}()
	ackedNow := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	var compacted int64
	for round := 0; round < 4; round++ {
		for n := ackedNow(); ackedNow() < n+6; {
			time.Sleep(20 * time.Millisecond)
		}
		resp := m.must(`{"table": "app.hot", "jobs": ["compact", "gc"]}`)
		compacted += kinds(resp)["compact app.hot"]
		t.Logf("round %d while writing (%d rows acked): %+v", round, ackedNow(), resp)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if compacted == 0 {
		t.Fatal("no compaction of app.hot beside the writer")
	}
	want := slices.Clone(acked)
	slices.Sort(want)
	got := w.rows("SELECT CAST(id AS TEXT) AS id FROM app.hot ORDER BY id")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("app.hot holds %d rows, %d were acknowledged", len(got), len(want))
	}

	// Two containers compacting the same table at the same time: both
	// succeed, and the rows are intact.
	for i := range 6 {
		if _, err := w.exec(fmt.Sprintf("INSERT INTO app.twin VALUES (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
	m2 := coldStart(t, env(t, s3, "AWS_LAMBDA_FUNCTION_NAME=floe-maintenance", "FLOE_JOBS_COMPACT_MIN_SEGMENTS=4"), appctx.Deps{})
	var twins [2]Response
	var twinErrs [2]error
	var wg sync.WaitGroup
	for i, c := range []*maint{m, m2} {
		wg.Go(func() { twins[i], twinErrs[i] = c.invoke(`{"table": "app.twin", "jobs": ["compact"]}`) })
	}
	wg.Wait()
	if err := errors.Join(twinErrs[:]...); err != nil {
		t.Fatalf("concurrent maintenance: %v", err)
	}
	t.Logf("concurrent maintenance: %+v / %+v", twins[0], twins[1])
	// Exactly one compaction is recorded: the other run found nothing
	// to do, or lost the commit race (nothing committed, nothing recorded).
	if n := len(twins[0].Jobs) + len(twins[1].Jobs); n != 1 || kinds(twins[0])["compact app.twin"]+kinds(twins[1])["compact app.twin"] != 6 {
		t.Fatalf("concurrent runs recorded %d jobs: %+v / %+v", n, twins[0].Jobs, twins[1].Jobs)
	}
	if got := w.rows("SELECT count(*) FROM app.twin"); !slices.Equal(got, []string{"6"}) {
		t.Fatalf("app.twin after concurrent compactions: %v", got)
	}

	// Everything, on every table: app.cold is compacted; the stream's
	// rows (TTL 1 s) are evicted; a second run finds nothing to do.
	time.Sleep(1100 * time.Millisecond)
	all := m.must(`{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}`)
	t.Logf("scheduled event: %+v", all)
	if k := kinds(all); k["compact app.cold"] != 5 || k["evict app.ev"] != 3 {
		t.Fatalf("scheduled run: %v", k)
	}
	// (Its own records are commits to system.jobs, which it may compact.)
	again := m.must(`{}`)
	for _, j := range again.Jobs {
		if !strings.HasPrefix(j.Table, "system.") {
			t.Fatalf("second run did %+v", again.Jobs)
		}
	}
	if got := w.rows("SELECT count(*) FROM app.ev"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("stream rows after eviction: %v", got)
	}

	// Recorded in system.jobs under the function's node id.
	if !strings.HasPrefix(all.NodeID, "floe-maintenance-") {
		t.Fatalf("node id %q", all.NodeID)
	}
	recs := w.rows(fmt.Sprintf("SELECT kind, trigger, status, count(*) FROM system.jobs WHERE node_id = '%s' GROUP BY ALL ORDER BY kind", all.NodeID))
	if len(recs) != 2 || !strings.HasPrefix(recs[0], "compactmaintenancecompleted") || recs[1] != "evictmaintenancecompleted1" {
		t.Fatalf("system.jobs of %s: %q", all.NodeID, recs)
	}

	// Garbage collection: within the retention (1 minute at least) the
	// versions compaction replaced are kept; a container whose clock is
	// two hours on (no writer runs now: a skewed clock would defeat the
	// grace period that protects uploads not yet committed) deletes them,
	// and every acknowledged row is still read, by a cold reader.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	gc := coldStart(t, env(t, s3, "FLOE_NODE_ID=maint-gc", "FLOE_JOBS_GC_RETENTION=1m", "FLOE_JOBS_GC_GRACE=1m"), appctx.Deps{Clock: later})
	swept := gc.must(`{"jobs": ["gc"]}`)
	t.Logf("gc: %+v", swept)
	if k := kinds(swept); k["gc app.hot"] == 0 || k["gc app.cold"] == 0 {
		t.Fatalf("gc deleted nothing: %v", k)
	}
	r := openWriter(t, env(t, s3, "FLOE_NODE_ID=reader-1"))
	got = r.rows("SELECT CAST(id AS TEXT) AS id FROM app.hot ORDER BY id")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("after gc app.hot holds %d rows, %d were acknowledged", len(got), len(want))
	}
	if got := r.rows("SELECT count(*) FROM app.cold"); !slices.Equal(got, []string{"5"}) {
		t.Fatalf("app.cold after gc: %v", got)
	}
}
