package sqlexec_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
)

// BenchmarkPointSelect: SELECT by primary key on a table of 10k rows in
// one segment plus a few buffered rows, answered by the point-read fast
// path and, in the same run, by the DuckDB path (views, planning).
func BenchmarkPointSelect(b *testing.B) {
	h := newHarness(b)
	h.must(svc, "CREATE TABLE pt (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO pt SELECT i, 'v' || i FROM range(10000) t(i)")
	h.must(svc, "FLUSH TABLE pt")
	h.must(svc, "INSERT INTO pt VALUES (20000, 'buffered')")
	ctx := context.Background()
	for _, path := range []struct {
		name string
		fast bool
	}{{"fast", true}, {"duckdb", false}} {
		b.Run(path.name, func(b *testing.B) {
			sqlexec.SetPointReads(h.node.Executor, path.fast)
			defer sqlexec.SetPointReads(h.node.Executor, true)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				res, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "SELECT v FROM pt WHERE id = $1", Params: []any{int64(i % 10000)}})
				if err != nil || len(res[0].Rows) != 1 {
					b.Fatal(err, res)
				}
			}
		})
	}
	b.Run("fast-buffered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "SELECT * FROM pt WHERE id = 20000"})
			if err != nil || len(res[0].Rows) != 1 {
				b.Fatal(err, res)
			}
		}
	})
}

// BenchmarkInsert1000: one INSERT of 1000 rows (VALUES) into a USER table.
func BenchmarkInsert1000(b *testing.B) {
	h := newHarness(b)
	h.must(alice, "CREATE USER TABLE ins (id BIGINT PRIMARY KEY, v TEXT, n DOUBLE)")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var sb strings.Builder
		sb.WriteString("INSERT INTO ins VALUES ")
		for j := range 1000 {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "(%d, 'row %d', %d.5)", i*1000+j, j, j)
		}
		if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: sb.String()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGroupBy1M: GROUP BY over 1M rows in segments through Floe
// (views, merge rule, security binding) vs DuckDB reading the same Parquet
// files directly, in the same run. The ratio direct/floe is the goal
// metric (≥ 0.8).
func BenchmarkGroupBy1M(b *testing.B) {
	h := newHarness(b)
	h.must(svc, "CREATE TABLE big (id BIGINT PRIMARY KEY, g INT, v DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
	for c := range 10 {
		h.must(svc, fmt.Sprintf("INSERT INTO big SELECT i, i %% 100, i * 0.5 FROM range(%d, %d) t(i)", c*100_000, (c+1)*100_000))
		h.must(svc, "FLUSH TABLE big")
	}
	const q = "SELECT g, count(*), sum(v) FROM %s GROUP BY g"
	ctx := context.Background()
	b.Run("floe", func(b *testing.B) {
		for b.Loop() {
			res, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: fmt.Sprintf(q, "big")})
			if err != nil || len(res[0].Rows) != 100 {
				b.Fatal(err)
			}
		}
	})
	files, _ := filepath.Glob(filepath.Join(h.node.Cache.Dir(), "*.parquet"))
	if len(files) == 0 {
		b.Fatal("no cached segments")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Exec("SET threads = 2")
	list := "read_parquet(['" + strings.Join(files, "', '") + "'])"
	b.Run("duckdb-direct", func(b *testing.B) {
		for b.Loop() {
			rows, err := db.QueryContext(ctx, fmt.Sprintf(q, list))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if n != 100 {
				b.Fatalf("%d groups", n)
			}
		}
	})
	// One buffered UPDATE makes the buffer overlap a segment: the files
	// stay disjoint, so the view leaves the updated key out of the files
	// by an anti join instead of a window over all rows.
	h.must(svc, "UPDATE big SET v = v + 1 WHERE id = 500000")
	b.Run("floe-after-update", func(b *testing.B) {
		for b.Loop() {
			res, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: fmt.Sprintf(q, "big")})
			if err != nil || len(res[0].Rows) != 100 {
				b.Fatal(err)
			}
		}
	})
	// Flushed, the update is a one-row segment inside a big one's key
	// range: the files overlap.
	h.must(svc, "FLUSH TABLE big")
	b.Run("floe-after-update-flushed", func(b *testing.B) {
		for b.Loop() {
			res, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: fmt.Sprintf(q, "big")})
			if err != nil || len(res[0].Rows) != 100 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScan1M: count(*), a selective key-range filter and a
// non-key filter over 1M rows in 10 flushed segments, through Floe's SQL
// and by DuckDB read_parquet on the same cached files (goal: Floe within
// 1.1× of DuckDB, issue 15), and through Floe on an equal table after one
// buffered UPDATE (goal: within 1.1× of before), interleaved per query.
func BenchmarkScan1M(b *testing.B) {
	h := newHarness(b)
	var files []string
	for _, tb := range []string{"big", "upd"} {
		h.must(svc, "CREATE TABLE "+tb+" (id BIGINT PRIMARY KEY, g INT, v DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
		for c := range 10 {
			h.must(svc, fmt.Sprintf("INSERT INTO %s SELECT i, i %% 100, i * 0.5 FROM range(%d, %d) t(i)", tb, c*100_000, (c+1)*100_000))
			h.must(svc, "FLUSH TABLE "+tb)
		}
		h.must(alice, "SELECT count(*) FROM "+tb) // fills the segment cache
		if tb == "big" {
			files, _ = filepath.Glob(filepath.Join(h.node.Cache.Dir(), "*.parquet"))
			if len(files) != 10 {
				b.Fatalf("%d cached segments, want 10", len(files))
			}
		}
	}
	ctx := context.Background()
	h.must(svc, "UPDATE upd SET v = v + 1 WHERE id = 123457")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Exec("SET threads = 2")
	list := "read_parquet(['" + strings.Join(files, "', '") + "'])"
	for _, q := range []struct{ name, sql string }{
		{"count", "SELECT count(*) FROM %s"},
		{"key-range", "SELECT count(*), sum(v) FROM %s WHERE id BETWEEN 500000 AND 500999"},
		{"non-key", "SELECT count(*), sum(v) FROM %s WHERE g = 7"},
		{"min-max", "SELECT min(id), max(id) FROM %s"},
	} {
		for _, tb := range []struct{ name, table string }{{"floe", "big"}, {"floe-after-update", "upd"}} {
			b.Run(q.name+"/"+tb.name, func(b *testing.B) {
				for b.Loop() {
					res, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: fmt.Sprintf(q.sql, tb.table)})
					if err != nil || len(res[0].Rows) != 1 {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(q.name+"/duckdb-direct", func(b *testing.B) {
			for b.Loop() {
				rows, err := db.QueryContext(ctx, fmt.Sprintf(q.sql, list))
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				rows.Close()
			}
		})
	}
}

// BenchmarkSystemVsShared: the same query on system.jobs and on a shared
// table of equal size and shape (goal: within 5%).
func BenchmarkSystemVsShared(b *testing.B) {
	h := newHarness(b)
	h.must(svc, "CREATE TABLE jobs_like (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, table_id TEXT, namespace TEXT, table_name TEXT, partition_key TEXT, node_id TEXT NOT NULL, status TEXT NOT NULL, trigger TEXT, started_at TIMESTAMP, finished_at TIMESTAMP, rows BIGINT, bytes BIGINT, error TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "CREATE TABLE src (id INT PRIMARY KEY)")
	// 500 flush jobs → 500 rows of system.jobs (start + end records of
	// one job share a key).
	for i := range 500 {
		h.must(svc, fmt.Sprintf("INSERT INTO src VALUES (%d)", i))
		h.must(svc, "FLUSH TABLE src")
	}
	h.must(root, "INSERT INTO jobs_like SELECT * FROM system.jobs")
	// Both end as one segment with nothing buffered: FLUSH ALL records its
	// jobs in system.jobs, whose own flush records none.
	h.must(root, "FLUSH ALL")
	h.must(root, "FLUSH TABLE system.jobs")
	// FLUSH ALL itself adds a few job rows: the sizes differ by those.
	n := h.rows(root, "SELECT count(*) FROM system.jobs")
	m := h.rows(root, "SELECT count(*) FROM jobs_like")
	b.Logf("system.jobs has %s rows, jobs_like %s", n[0], m[0])
	const q = "SELECT status, count(*), sum(rows) FROM %s GROUP BY status"
	ctx := context.Background()
	for _, tb := range []string{"system.jobs", "jobs_like"} {
		b.Run(strings.ReplaceAll(tb, ".", "_"), func(b *testing.B) {
			for b.Loop() {
				if _, err := h.node.Executor.Execute(ctx, root, sqlexec.Request{SQL: fmt.Sprintf(q, tb)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBootstrap: system table initialisation at start on a catalog
// that already has them (every start after the first), and on a new
// warehouse.
func BenchmarkBootstrap(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	b.Run("existing", func(b *testing.B) {
		for b.Loop() {
			if err := h.node.Executor.Bootstrap(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A new warehouse: one catalog commit creating the namespaces and the
	// system tables. Each iteration opens a whole node (buffer, DuckDB) in
	// a fresh directory, removed right after; only Bootstrap is reported.
	b.Run("first-start", func(b *testing.B) {
		var total time.Duration
		n := 0
		for b.Loop() {
			h2 := &harness{t: b, dir: b.TempDir()}
			h2.open()
			total += h2.node.BootstrapTime
			n++
			h2.close()
			os.RemoveAll(h2.dir)
		}
		b.ReportMetric(float64(total.Microseconds())/float64(n)/1000, "ms/bootstrap")
	})
}

// BenchmarkView: the same aggregate over 1M rows in segments, through a
// view and written out directly, in the same run (goal: the view within
// 1% of the direct query; required: 5%). groupby/alternating runs the two
// in turn, so that a loaded machine slows both alike, and reports each
// one's median and their ratio. point is a primary-key lookup through a
// view and directly, where the view's fixed cost (the inlined view's
// longer text to check and plan) is not hidden by the scan.
func BenchmarkView(b *testing.B) {
	h := newHarness(b)
	h.must(svc, "CREATE TABLE vbig (id BIGINT PRIMARY KEY, g INT, v DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
	for c := range 10 {
		h.must(svc, fmt.Sprintf("INSERT INTO vbig SELECT i, i %% 100, i * 0.5 FROM range(%d, %d) t(i)", c*100_000, (c+1)*100_000))
		h.must(svc, "FLUSH TABLE vbig")
	}
	h.must(svc, "CREATE VIEW vbig_pos AS SELECT id, g, v FROM vbig WHERE v >= 0")
	ctx := context.Background()
	run := func(b *testing.B, sql string, args ...any) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: sql, Params: args}); err != nil {
				b.Fatal(err)
			}
		}
	}
	const agg = "SELECT g, count(*), sum(v) FROM %s GROUP BY g"
	b.Run("groupby/direct", func(b *testing.B) { run(b, fmt.Sprintf(agg, "vbig WHERE v >= 0")) })
	b.Run("groupby/view", func(b *testing.B) { run(b, fmt.Sprintf(agg, "vbig_pos")) })
	b.Run("groupby/alternating", func(b *testing.B) {
		var direct, view []time.Duration
		for b.Loop() {
			for _, q := range []struct {
				sql string
				d   *[]time.Duration
			}{{fmt.Sprintf(agg, "vbig WHERE v >= 0"), &direct}, {fmt.Sprintf(agg, "vbig_pos"), &view}} {
				start := time.Now()
				if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: q.sql}); err != nil {
					b.Fatal(err)
				}
				*q.d = append(*q.d, time.Since(start))
			}
		}
		med := func(ds []time.Duration) float64 {
			slices.Sort(ds)
			return float64(ds[len(ds)/2].Microseconds()) / 1000
		}
		d, v := med(direct), med(view)
		b.ReportMetric(d, "direct-ms")
		b.ReportMetric(v, "view-ms")
		b.ReportMetric(v/d, "view/direct")
	})
	b.Run("point/direct", func(b *testing.B) { run(b, "SELECT g FROM vbig WHERE v >= 0 AND id = $1", int64(4242)) })
	b.Run("point/view", func(b *testing.B) { run(b, "SELECT g FROM vbig_pos WHERE id = $1", int64(4242)) })
}

// BenchmarkInsertOneRow: single-row INSERT into a USER table through
// Execute, with literals (converted in Go) and with parameters. Each
// statement is acknowledged after its WAL sync.
func BenchmarkInsertOneRow(b *testing.B) {
	h := newHarness(b)
	h.must(alice, "CREATE USER TABLE one (id BIGINT PRIMARY KEY, v TEXT)")
	ctx := context.Background()
	next := 0 // keys stay unique across runs of the sub-benchmarks
	b.Run("literal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			next++
			sql := fmt.Sprintf("INSERT INTO one (id, v) VALUES (%d, 'row %d')", next, next)
			if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: sql}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("params", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			next++
			req := sqlexec.Request{SQL: "INSERT INTO one (id, v) VALUES ($1, $2)", Params: []any{int64(next), "row"}}
			if _, err := h.node.Executor.Execute(ctx, alice, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// noopSink listens to every change and drops it.
type noopSink struct{ batches atomic.Int64 }

func (s *noopSink) Publish(tablestore.ChangeBatch) { s.batches.Add(1) }

// BenchmarkInsertOneRowSink: the single-row INSERT of BenchmarkInsertOneRow
// (parameters) on a node without a change sink and on one whose sink
// listens and does nothing, in the same run: the cost of the change seam
// (building the batch, ordering it, reading old values) when nobody
// consumes it. Goal: within 2%.
func BenchmarkInsertOneRowSink(b *testing.B) {
	sink := &noopSink{}
	for _, c := range []struct {
		name string
		deps node.Deps
	}{{"sink=none", node.Deps{}}, {"sink=noop", node.Deps{Changes: sink}}} {
		b.Run(c.name, func(b *testing.B) {
			h := newHarnessWith(b, c.deps)
			h.must(alice, "CREATE USER TABLE one (id BIGINT PRIMARY KEY, v TEXT)")
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req := sqlexec.Request{SQL: "INSERT INTO one (id, v) VALUES ($1, $2)", Params: []any{int64(i), "row"}}
				if _, err := h.node.Executor.Execute(ctx, alice, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if sink.batches.Load() == 0 {
		b.Fatal("the sink heard nothing")
	}
}

// BenchmarkInsertIntoFlushedRange: a single-row INSERT whose key falls
// inside the key range of a flushed 100k-row segment (even keys; the
// inserted keys are odd, so each is new), so the primary-key check must
// look into the segment. 1 row is checked by key lookups, 100 rows by a
// DuckDB semi join over the segment.
func BenchmarkInsertIntoFlushedRange(b *testing.B) {
	h := newHarness(b)
	h.must(alice, "CREATE USER TABLE fr (id BIGINT PRIMARY KEY, v TEXT)")
	h.must(alice, "INSERT INTO fr SELECT 2*i, 'v' || i FROM range(100000) t(i)")
	h.must(svc, "FLUSH TABLE fr")
	ctx := context.Background()
	next := int64(1)
	for _, rows := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var sb strings.Builder
				sb.WriteString("INSERT INTO fr (id, v) VALUES ")
				for r := range rows {
					if r > 0 {
						sb.WriteString(", ")
					}
					fmt.Fprintf(&sb, "(%d, 'new')", next)
					next += 2
				}
				if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: sb.String()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInsertTimestampLiteral: one-row INSERTs (as `floe sql -f` of a
// dump sends them) into a table with a TIMESTAMP column, the timestamp
// given as NULL (no conversion), as a string literal (converted by the
// literal fast path) and as a CAST (evaluated by DuckDB, which is what
// every timestamp string cost before the fast path parsed them). Run with
// -benchtime=50000x for the 50k-row figure; the goal is "timestamp" within
// 1.5× of "none".
func BenchmarkInsertTimestampLiteral(b *testing.B) {
	h := newHarness(b)
	h.must(alice, "CREATE USER TABLE ev (id BIGINT PRIMARY KEY, v TEXT, ts TIMESTAMP)")
	ctx := context.Background()
	next := 0
	for _, c := range []struct{ name, at string }{
		{"none", "NULL"},
		{"timestamp", "'2024-02-29 12:34:56.%06d'"},
		{"duckdb-cast", "CAST('2024-02-29 12:34:56.%06d' AS TIMESTAMP)"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				next++
				at := c.at
				if strings.Contains(at, "%") {
					at = fmt.Sprintf(at, next%1_000_000)
				}
				sql := fmt.Sprintf("INSERT INTO ev VALUES (%d, 'row %d', %s)", next, next, at)
				if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: sql}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkInsertConcurrentOnePartition: single-row INSERTs from 16
// concurrent clients into one SHARED table (one partition), admission
// slots raised so that all 16 run: the statements share WAL syncs only
// if the partition lock is released before the sync wait.
func BenchmarkInsertConcurrentOnePartition(b *testing.B) {
	h := newHarnessConfigured(b, func(c *config.Config) {
		c.Query.MaxConcurrent, c.Query.MaxConcurrentPerUser, c.Query.QueueLength = 32, 32, 64
	})
	h.must(root, "CREATE SHARED TABLE public.cc (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8) // 16 clients on 2 cores
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := sqlexec.Request{SQL: "INSERT INTO cc VALUES ($1, 'v')", Params: []any{next.Add(1)}}
			if _, err := h.node.Executor.Execute(ctx, root, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAfterUpdate1M: each query over 1M rows in 10 segments on three
// equal tables — untouched, after one buffered UPDATE, and after that
// UPDATE is flushed (a one-row segment inside a big one's key range) —
// alternating per iteration, so that a busy machine slows all three
// alike. Reported: the medians' ratios after/before and flushed/before
// (goal: at most 1.1, issue 15).
func BenchmarkAfterUpdate1M(b *testing.B) {
	h := newHarness(b)
	tables := []string{"big", "upd", "updf"}
	for _, tb := range tables {
		h.must(svc, "CREATE TABLE "+tb+" (id BIGINT PRIMARY KEY, g INT, v DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
		for c := range 10 {
			h.must(svc, fmt.Sprintf("INSERT INTO %s SELECT i, i %% 100, i * 0.5 FROM range(%d, %d) t(i)", tb, c*100_000, (c+1)*100_000))
			h.must(svc, "FLUSH TABLE "+tb)
		}
		h.must(alice, "SELECT count(*) FROM "+tb) // fills the segment cache
	}
	h.must(svc, "UPDATE upd SET v = v + 1 WHERE id = 123457")
	h.must(svc, "UPDATE updf SET v = v + 1 WHERE id = 123457")
	h.must(svc, "FLUSH TABLE updf")
	ctx := context.Background()
	for _, q := range []struct{ name, sql string }{
		{"count", "SELECT count(*) FROM %s"},
		{"group-by", "SELECT g, count(*), sum(v) FROM %s GROUP BY g"},
		{"key-range", "SELECT count(*), sum(v) FROM %s WHERE id BETWEEN 500000 AND 500999"},
		{"non-key", "SELECT count(*), sum(v) FROM %s WHERE g = 7"},
	} {
		b.Run(q.name, func(b *testing.B) {
			ds := make([][]time.Duration, len(tables))
			for b.Loop() {
				for i, tb := range tables {
					start := time.Now()
					if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: fmt.Sprintf(q.sql, tb)}); err != nil {
						b.Fatal(err)
					}
					ds[i] = append(ds[i], time.Since(start))
				}
			}
			med := make([]float64, len(tables))
			for i, d := range ds {
				slices.Sort(d)
				med[i] = float64(d[len(d)/2])
			}
			b.ReportMetric(med[0]/1e6, "before-ms")
			b.ReportMetric(med[1]/med[0], "after/before")
			b.ReportMetric(med[2]/med[0], "flushed/before")
		})
	}
}
