package sqlexec_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

func newHarnessConfigured(t testing.TB, configure func(*config.Config)) *harness {
	h := &harness{t: t, dir: t.TempDir(), configure: configure}
	h.open()
	t.Cleanup(h.close)
	return h
}

// wantCode checks err's Floe code and that its message holds want.
func wantCode(t *testing.T, what string, err error, code dberr.Code, want string) {
	t.Helper()
	var de *dberr.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	if !strings.Contains(de.Msg, want) {
		t.Errorf("%s: message %q does not say %q", what, de.Msg, want)
	}
}

// Values built from a size argument are refused past
// query.max_value_bytes, whatever the function (the class is tested in
// lakehouse/duckengine; these go through the whole executor).
func TestValueBombsAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, q := range []string{
		"SELECT len(range(0, 2000000000))",
		"SELECT len(list_resize([1], 2000000000))",
		"SELECT strlen(repeat('x', 100000000))",
		"SELECT strlen(lpad('x', 50000000, 'y'))",
		"SELECT strlen(printf('%100000000d', 1))",
		"SELECT max(x, 2000000000) FROM range(3) t(x)",
	} {
		_, err := h.exec(alice, q)
		wantCode(t, q, err, dberr.ResourceExhausted, "")
	}
	// Within the limits they answer.
	if got := h.rows(alice, "SELECT len(range(0, 1000)), strlen(repeat('x', 1000)), strlen(lpad('x', 10, 'y'))"); got[0] != "[1000 1000 10]" {
		t.Errorf("got %v", got)
	}
}

// A result larger than query.max_result_bytes is refused, not built.
func TestResultBytesAreBounded(t *testing.T) {
	h := newHarnessConfigured(t, func(c *config.Config) { c.Query.MaxResultBytes = 1 << 20 })
	_, err := h.exec(alice, "SELECT repeat('x', 1000) FROM range(10000)")
	wantCode(t, "10 MB result", err, dberr.ResourceExhausted, "query.max_result_bytes")
	if n := len(h.must(alice, "SELECT repeat('x', 1000) FROM range(500)").Rows); n != 500 {
		t.Errorf("a 0.5 MB result has %d rows", n)
	}
}

// Heavy statements stop at their deadline with TIMEOUT (or hit a memory
// bound first). TestBoundedAnswersAtTheDeadline covers engine work that
// does not stop in time; the time taken is logged, not asserted.
func TestStatementsReturnAtTheirDeadline(t *testing.T) {
	const timeout = time.Second
	h := newHarnessConfigured(t, func(c *config.Config) { c.Query.Timeout = config.Duration{Duration: timeout} })
	for _, q := range []string{
		"SELECT count(*) FROM range(1000000) a, range(1000000) b",
		"SELECT count(DISTINCT a * 1000003 + b) FROM range(100000) t(a), range(100000) u(b)",
		"SELECT strlen(string_agg(i::VARCHAR, ',')) FROM range(2000000000) t(i)",
		"WITH RECURSIVE r(s, n) AS (SELECT 'ab', 0 UNION ALL SELECT s || s, n + 1 FROM r WHERE n < 40) SELECT max(strlen(s)) FROM r",
		"SELECT len(list(i)) FROM range(2000000000) t(i)",
	} {
		start := time.Now()
		_, err := h.exec(alice, q)
		took := time.Since(start)
		var de *dberr.Error
		if !errors.As(err, &de) || (de.Code != dberr.Timeout && de.Code != dberr.ResourceExhausted) {
			t.Errorf("%s: got %v, want TIMEOUT or RESOURCE_EXHAUSTED", q, err)
		}
		// The code proves the deadline ended it; how long that took
		// depends on the machine's load, so it is logged, not asserted
		// (TestBoundedAnswersAtTheDeadline proves the answer does not
		// wait for engine work that ignores the interrupt).
		t.Logf("%s: %s after %s", q, dberr.CodeOf(err), took.Round(time.Millisecond))
		if de != nil && de.Code == dberr.Timeout && !strings.Contains(de.Msg, "query.timeout (1s)") {
			t.Errorf("%s: %q does not name query.timeout", q, de.Msg)
		}
	}
	// Every abandoned statement gives its slot back once DuckDB stops.
	waitFor(t, "the engine to stop the abandoned statements", func() bool { return h.node.Admission.Running() == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A client's deadline is reported as the client's, not as query.timeout.
func TestClientDeadlineIsNamed(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "SELECT count(*) FROM range(1000000) a, range(1000000) b"})
	wantCode(t, "client deadline", err, dberr.Timeout, "client's deadline")
	if strings.Contains(err.Error(), "1m0s") {
		t.Errorf("the error speaks of query.timeout: %v", err)
	}
}

// min_catalog_version ahead of the catalog is a clear, retryable error.
func TestMinCatalogVersionAhead(t *testing.T) {
	h := newHarness(t)
	_, err := h.node.Executor.Execute(context.Background(), alice, sqlexec.Request{SQL: "SELECT 1", MinCatalogVersion: 1 << 40})
	wantCode(t, "min_catalog_version", err, dberr.CatalogBehind, "retry")
}

// A full write buffer is UNAVAILABLE and names buffer.max_bytes.
func TestFullBufferIsUnavailable(t *testing.T) {
	h := newHarnessConfigured(t, func(c *config.Config) { c.Buffer.MaxBytes = 1 << 20 })
	h.must(root, "CREATE SHARED TABLE public.big (id INT PRIMARY KEY, s TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = h.exec(root, fmt.Sprintf("INSERT INTO big SELECT i + %d, repeat('x', 1000) FROM range(1000) t(i)", i*1000))
	}
	wantCode(t, "full buffer", err, dberr.Unavailable, "buffer.max_bytes")
	if strings.Contains(err.Error(), "wbuf.") {
		t.Errorf("the error names an internal key: %v", err)
	}
}

// DuckDB running out of memory is RESOURCE_EXHAUSTED and says what to do.
func TestEngineOutOfMemory(t *testing.T) {
	h := newHarnessConfigured(t, func(c *config.Config) { c.Query.MemoryLimit = "32MB" })
	_, err := h.exec(alice, "SELECT count(*) FROM (SELECT DISTINCT i::VARCHAR || 'padding-padding-padding' FROM range(20000000) t(i))")
	wantCode(t, "out of memory", err, dberr.ResourceExhausted, "query.memory_limit (32MB)")
}

// The memory guard stops the running statement, which fails with
// RESOURCE_EXHAUSTED naming the budget.
func TestMemoryGuardStopsTheLargestStatement(t *testing.T) {
	// The test process is far above a 64 MB budget.
	h := newHarnessConfigured(t, func(c *config.Config) {
		c.Query.MemoryLimit = "32MB"
		c.Query.ProcessMemoryLimit = "64MB"
	})
	errc := make(chan error, 1)
	go func() {
		_, err := h.exec(alice, "SELECT count(*) FROM range(1000000) a, range(1000000) b")
		errc <- err
	}()
	waitFor(t, "the statement to run", func() bool { return h.node.Admission.Running() == 1 })
	if !h.node.Admission.Check(context.Background()) {
		t.Fatal("the guard cancelled nothing")
	}
	wantCode(t, "memory guard", <-errc, dberr.ResourceExhausted, "memory budget")
}

// No local path reaches a client: not in EXPLAIN (ANALYZE) output, not in
// DuckDB's errors about segment files.
func TestNoLocalPathsInOutput(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE public.t (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	h.must(root, "FLUSH TABLE t")
	for _, q := range []string{"EXPLAIN SELECT * FROM t", "EXPLAIN ANALYZE SELECT * FROM t", "EXPLAIN ANALYZE SELECT count(*) FROM t WHERE v = 'a'"} {
		res := h.must(alice, q)
		text := fmt.Sprint(res.Rows)
		if strings.Contains(text, h.dir) || strings.Contains(text, ".parquet") {
			t.Errorf("%s shows a local path: %s", q, text)
		}
	}
	// Corrupt the cached segments: DuckDB's error quotes the file.
	files, _ := filepath.Glob(filepath.Join(h.dir, "cache", "*"))
	if len(files) == 0 {
		t.Fatal("no cached segment")
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("PAR1 not a parquet file PAR1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.exec(alice, "SELECT * FROM t"); err != nil && strings.Contains(err.Error(), h.dir) {
		t.Errorf("the error shows a local path: %v", err)
	}
}

// SHOW NAMESPACES counts only the tables the caller can see.
func TestShowNamespacesCountsVisibleTables(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE NAMESPACE sec")
	h.must(root, "CREATE SHARED TABLE sec.d (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'DBA')")
	h.must(root, "CREATE SHARED TABLE sec.p (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PRIVATE')")
	h.must(root, "CREATE SHARED TABLE sec.pub (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')")
	count := func(p access.Principal) string {
		for _, r := range h.must(p, "SHOW NAMESPACES").Rows {
			if r[0] == "sec" {
				return fmt.Sprint(r[1])
			}
		}
		return "missing"
	}
	listed := func(p access.Principal) string {
		return fmt.Sprint(len(h.must(p, "SHOW TABLES IN sec").Rows))
	}
	for _, p := range []access.Principal{alice, svc, dba, root} {
		if c, l := count(p), listed(p); c != l {
			t.Errorf("%s: SHOW NAMESPACES counts %s tables in sec, SHOW TABLES lists %s", p.UserID, c, l)
		}
	}
	if c := count(alice); c != "1" {
		t.Errorf("alice sees %s tables in sec, want 1", c)
	}
}

// EXPLAIN ANALYZE echoes the statement it ran: the client sees its own
// text there, not Floe's queries for the tables, whose literals hold
// buffered rows — of other users and their password hashes in
// system.users — that the caller may not read.
func TestExplainAnalyzeShowsOnlyTheUsersText(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE USER 'dora' WITH PASSWORD 'dora-pass-1' ROLE dba EMAIL 'd@x.io'")
	h.must(root, "CREATE SHARED TABLE public.t (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t VALUES (1, 'flushed-value')")
	h.must(root, "FLUSH TABLE t")
	h.must(root, "INSERT INTO t VALUES (2, 'buffered-value')")
	for _, q := range []string{"EXPLAIN ANALYZE SELECT * FROM system.users", "EXPLAIN ANALYZE SELECT count(*) FROM t WHERE id > 0"} {
		text := fmt.Sprint(h.must(alice, q).Rows)
		for _, secret := range []string{"$2a$", "d@x.io", "dora", "buffered-value", "read_parquet", "_seq"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q: %s", q, secret, text)
			}
		}
		if !strings.Contains(text, strings.TrimPrefix(q, "EXPLAIN ANALYZE ")) {
			t.Errorf("%s: the plan does not echo the query: %s", q, text)
		}
	}
}

// A plan with several scans side by side (a UNION of the merge's parts)
// shows no local path either: each box's file list is blanked.
func TestNoLocalPathsInWidePlans(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE public.t (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	for i := range 3 {
		h.must(root, fmt.Sprintf("INSERT INTO t SELECT i, 'v' FROM range(%d, %d) r(i)", i*100, i*100+100))
		h.must(root, "FLUSH TABLE t")
	}
	h.must(root, "UPDATE t SET v = 'w' WHERE id = 150")
	for _, q := range []string{"EXPLAIN SELECT count(*) FROM t", "EXPLAIN ANALYZE SELECT count(*) FROM t", "EXPLAIN SELECT * FROM t a JOIN t b ON a.id = b.id"} {
		text := fmt.Sprint(h.must(alice, q).Rows)
		if strings.Contains(text, h.dir) || strings.Contains(text, ".parquet") || strings.Contains(text, "/cache") {
			t.Errorf("%s shows a local path: %s", q, text)
		}
	}
}

// An engine error names what the client wrote, not Floe's rewrite: no
// "LINE n" context of the rewritten text (wrong lines, Floe's SQL), no
// internal names, no rows the message is not about.
func TestEngineErrorsShowOnlyTheUsersText(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE public.t (id INT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO t VALUES (1, 'flushed-value'), (3, 'other-value')")
	h.must(root, "FLUSH TABLE t")
	h.must(root, "INSERT INTO t VALUES (2, 'buffered-value')")
	h.must(root, "UPDATE t SET v = 'updated' WHERE id = 1")
	for _, tc := range []struct{ sql, names string }{
		{"SELECT nosuch FROM t", "nosuch"},
		{"SELECT t.nosuch FROM t", "nosuch"},
		{"SELECT * FROM t JOIN t u ON t.id = u.nosuch", "nosuch"},
		{"SELECT _seq FROM t", "_seq"},
		{"SELECT id FROM t WHERE v + 1 > 0", "+"},
		{"SELECT count(*) FROM t\nGROUP BY nosuch", "nosuch"},
		{"SELECT * FROM t WHERE id = 'x'", "'x'"},
	} {
		_, err := h.exec(alice, tc.sql)
		if err == nil {
			t.Fatalf("%s succeeded", tc.sql)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.names) {
			t.Errorf("%s: message does not name %q: %s", tc.sql, tc.names, msg)
		}
		for _, inner := range []string{"LINE ", "read_parquet", "__floe", "file_row_number", "Values list", "buffered-value", "other-value", h.dir} {
			if strings.Contains(msg, inner) {
				t.Errorf("%s: message shows %q: %s", tc.sql, inner, msg)
			}
		}
	}
}
