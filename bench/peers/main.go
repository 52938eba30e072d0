//go:build peers

// Command peers runs the same workloads against Floe (a real `floe serve`
// over loopback Connect: binary protobuf over HTTP/1.1, a bearer token per
// call), PostgreSQL (pgx, fsync and synchronous_commit on) and DuckDB
// (read_parquet on copies of Floe's own segment files, in this process),
// systems interleaved within each round, and writes the medians and their
// ratios into the peers section of docs/BENCHMARKS.md (between
// <!-- peers:begin --> and <!-- peers:end -->).
//
// It is built only with -tags peers, so `go test ./...` never runs it;
// scripts/bench-peers.sh (`make bench-peers`) starts PostgreSQL and calls it.
// Nothing here asserts a result: the goals of issue 15 are printed next to
// the measured ratios, met or not.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peers: "+format+"\n", args...)
	os.Exit(1)
}

var (
	flagFloe    = flag.String("floe", "", "path of the floe binary")
	flagPG      = flag.String("pg", "", "PostgreSQL connection string")
	flagPGVer   = flag.String("pg-version", "PostgreSQL", "PostgreSQL version string for the report")
	flagRounds  = flag.Int("rounds", 3, "rounds per workload (the tables show medians)")
	flagDoc     = flag.String("doc", "", "markdown file whose peers section is rewritten (empty: print only)")
	flagRows    = flag.Int("rows", 1_000_000, "rows of the analytics table")
	flagTables  = flag.Int("tables", 1000, "tables of the cold start workload")
	flagDDL     = flag.Int("ddl-tables", 10_000, "tables the CREATE TABLE workload creates (its last 10 are compared with its first 10)")
	flagPoint   = flag.Int("point-keys", 10_000, "rows of the point-read table")
	flagSamples = flag.Int("samples", 1000, "calls per latency measurement (per client when concurrent)")
	// flagProcs bounds the Go threads of this load generator, which runs
	// the Floe, PostgreSQL and DuckDB clients alike. On a machine with few
	// cores a Go client at the default GOMAXPROCS spins an idle P looking
	// for work after every wake-up and takes the core the server under
	// test needs; the clients of both peers pay the same bound.
	flagProcs = flag.Int("client-procs", 1, "GOMAXPROCS of this load generator (0: Go's default, one per core)")
	flagOnly  = flag.String("only", "", "comma-separated workload groups to run (point,insert,range,scan,ddl); empty: all")
)

// result is one workload's measurement per round for Floe and its peer.
type result struct {
	group, name, unit string
	peerName          string
	floe, peer        []float64
	// higher is set when a higher value is better (throughput).
	higher bool
	// goal is the largest allowed Floe/peer ratio (or, when higher, the
	// smallest allowed); 0: none. With self set, the goal applies to the
	// Floe value itself (a ratio of two Floe measurements).
	goal     float64
	self     bool
	goalText string
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func p50(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[len(d)/2].Nanoseconds()) / 1e3
}

// timeIt runs fn n times in a row and returns the latencies.
func timeIt(n int, fn func(i int) error) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if err := fn(i); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// concurrently runs per calls on each of clients goroutines and returns
// every call's latency and the wall time.
func concurrently(clients, per int, fn func(c, i int) error) ([]time.Duration, time.Duration, error) {
	var mu sync.Mutex
	var firstErr error
	all := make([]time.Duration, 0, clients*per)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			local := make([]time.Duration, 0, per)
			for i := range per {
				t0 := time.Now()
				if err := fn(c, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, time.Since(start), firstErr
}

type bench struct {
	ctx     context.Context
	tmp     string
	node    *floeNode
	root    *floeClient
	users   []*floeClient // 16 service users, one per concurrent client
	pg      *pgxpool.Pool
	duck    *sql.DB
	results []*result
	// loadStart and loadEnd are /proc/loadavg's 1-minute load average when
	// the run started and ended: the machine may be shared.
	loadStart, loadEnd string
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func (b *bench) add(r *result) *result { b.results = append(b.results, r); return r }

func main() {
	flag.Parse()
	if *flagProcs > 0 {
		runtime.GOMAXPROCS(*flagProcs)
	}
	if *flagFloe == "" || *flagPG == "" {
		fatalf("-floe and -pg are required")
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "floe-peers-run-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(tmp)

	b := &bench{ctx: ctx, tmp: tmp, loadStart: loadAvg()}
	cfg, err := pgxpool.ParseConfig(*flagPG)
	if err != nil {
		fatalf("pg config: %v", err)
	}
	cfg.MaxConns = 32
	if b.pg, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		fatalf("pg: %v", err)
	}
	defer b.pg.Close()
	if b.duck, err = sql.Open("duckdb", ""); err != nil {
		fatalf("duckdb: %v", err)
	}
	defer b.duck.Close()
	// DuckDB gets what Floe's engine gets (query.threads defaults to 2).
	b.mustDuck("SET threads = 2")

	groups := map[string]bool{}
	for _, g := range strings.Split(*flagOnly, ",") {
		if g != "" {
			groups[g] = true
		}
	}
	run := func(g string) bool { return len(groups) == 0 || groups[g] }

	dir := filepath.Join(tmp, "main")
	must(os.MkdirAll(dir, 0o755))
	if b.node, err = newFloeNode(*flagFloe, dir); err != nil {
		fatalf("%v", err)
	}
	must(b.node.start())
	if b.root, err = b.node.login(ctx, "root", rootPassword, time.Minute); err != nil {
		fatalf("%v", err)
	}
	for i := range 16 {
		name := fmt.Sprintf("peer%02d", i)
		b.root.must(ctx, "CREATE USER "+name+" WITH PASSWORD 'peer-password-1' ROLE service")
		c, err := b.node.login(ctx, name, "peer-password-1", time.Minute)
		if err != nil {
			fatalf("%v", err)
		}
		b.users = append(b.users, c)
	}

	if run("point") {
		b.pointReads()
	}
	if run("insert") {
		b.inserts()
	}
	if run("range") {
		b.insertRange()
	}
	if run("scan") {
		b.scans()
	}
	if err := b.node.stop(); err != nil {
		fatalf("%v", err)
	}
	if run("ddl") {
		b.ddlAndColdStart()
	}

	b.loadEnd = loadAvg()
	report := b.report()
	fmt.Print(report)
	if *flagDoc != "" {
		if err := writeSection(*flagDoc, report); err != nil {
			fatalf("%v", err)
		}
	}
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func (b *bench) mustPG(sql string, args ...any) {
	if _, err := b.pg.Exec(b.ctx, sql, args...); err != nil {
		fatalf("pg: %s: %v", short(sql), err)
	}
}

func (b *bench) mustDuck(sql string) {
	if _, err := b.duck.ExecContext(b.ctx, sql); err != nil {
		fatalf("duckdb: %s: %v", short(sql), err)
	}
}

// pointReads: SELECT by primary key, 1 and 16 clients, buffered and
// flushed, p50 over the API vs PostgreSQL over pgx.
func (b *bench) pointReads() {
	ctx := b.ctx
	n := *flagPoint
	b.root.must(ctx, "CREATE SHARED TABLE kv (id BIGINT PRIMARY KEY, v TEXT)")
	b.root.must(ctx, fmt.Sprintf("INSERT INTO kv SELECT i, 'value ' || i FROM range(%d) t(i)", n))
	b.mustPG("DROP TABLE IF EXISTS kv")
	b.mustPG("CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT)")
	b.mustPG(fmt.Sprintf("INSERT INTO kv SELECT i, 'value ' || i FROM generate_series(0, %d) i", n-1))
	b.mustPG("VACUUM ANALYZE kv")

	const q = "SELECT id, v FROM kv WHERE id = $1"
	floeGet := func(c *floeClient, id int64) error {
		r, err := c.exec(ctx, q, id)
		if err == nil && len(r.GetRows()) != 1 {
			err = fmt.Errorf("floe: key %d: %d rows", id, len(r.GetRows()))
		}
		return err
	}
	pgGet := func(id int64) error {
		var k int64
		var v string
		return b.pg.QueryRow(ctx, q, id).Scan(&k, &v)
	}
	for _, state := range []string{"buffered", "flushed"} {
		if state == "flushed" {
			b.root.must(ctx, "FLUSH TABLE kv")
			b.mustPG("CHECKPOINT")
		}
		one := b.add(&result{group: "point", name: "PK SELECT, " + state + ", 1 client", unit: "p50 µs", peerName: "PostgreSQL", goal: 1.5, goalText: "≤ 1.5×"})
		many := b.add(&result{group: "point", name: "PK SELECT, " + state + ", 16 clients", unit: "p50 µs", peerName: "PostgreSQL", goal: 1.5, goalText: "≤ 1.5×"})
		// The calls per second of the same 16-client runs: a p50 alone hides
		// how the calls queue (16 clients in a closed loop: calls/s × mean
		// latency = 16).
		manyRate := b.add(&result{group: "point", name: "PK SELECT, " + state + ", 16 clients", unit: "calls/s", peerName: "PostgreSQL", higher: true})
		samples := *flagSamples
		for round := range *flagRounds {
			rng := rand.New(rand.NewPCG(uint64(round), 1))
			d, err := timeIt(samples, func(int) error { return floeGet(b.users[0], rng.Int64N(int64(n))) })
			must(err)
			one.floe = append(one.floe, p50(d))
			d, err = timeIt(samples, func(int) error { return pgGet(rng.Int64N(int64(n))) })
			must(err)
			one.peer = append(one.peer, p50(d))
			per := max(50, samples/4)
			d, wall, err := concurrently(16, per, func(c, i int) error { return floeGet(b.users[c], int64((c*7919+i*104729)%n)) })
			must(err)
			many.floe = append(many.floe, p50(d))
			manyRate.floe = append(manyRate.floe, float64(len(d))/wall.Seconds())
			d, wall, err = concurrently(16, per, func(c, i int) error { return pgGet(int64((c*7919 + i*104729) % n)) })
			must(err)
			many.peer = append(many.peer, p50(d))
			manyRate.peer = append(manyRate.peer, float64(len(d))/wall.Seconds())
			fmt.Fprintf(os.Stderr, "point %s round %d: floe %.0f/%.0f µs, pg %.0f/%.0f µs\n", state, round,
				one.floe[round], many.floe[round], one.peer[round], many.peer[round])
		}
	}
}

// inserts: single-row INSERTs from 16 clients into one shared table,
// rows per second.
func (b *bench) inserts() {
	ctx := b.ctx
	b.root.must(ctx, "CREATE SHARED TABLE ins (id BIGINT PRIMARY KEY, v TEXT)")
	b.mustPG("DROP TABLE IF EXISTS ins")
	b.mustPG("CREATE TABLE ins (id BIGINT PRIMARY KEY, v TEXT)")
	const q = "INSERT INTO ins VALUES ($1, $2)"
	thr := b.add(&result{group: "insert", name: "single-row INSERT, 16 clients, one shared table", unit: "rows/s", peerName: "PostgreSQL", higher: true, goal: 1, goalText: "≥ 1×"})
	lat := b.add(&result{group: "insert", name: "single-row INSERT, 16 clients, one shared table", unit: "p50 µs", peerName: "PostgreSQL"})
	single := b.add(&result{group: "insert", name: "single-row INSERT, 1 client", unit: "p50 µs", peerName: "PostgreSQL"})
	per := max(20, *flagSamples/8)
	next := int64(0)
	var mu sync.Mutex
	id := func() int64 { mu.Lock(); defer mu.Unlock(); next++; return next }
	for round := range *flagRounds {
		d, wall, err := concurrently(16, per, func(c, i int) error {
			_, err := b.users[c].exec(ctx, q, id(), "a row")
			return err
		})
		must(err)
		thr.floe = append(thr.floe, float64(len(d))/wall.Seconds())
		lat.floe = append(lat.floe, p50(d))
		d, wall, err = concurrently(16, per, func(c, i int) error {
			_, err := b.pg.Exec(ctx, q, id(), "a row")
			return err
		})
		must(err)
		thr.peer = append(thr.peer, float64(len(d))/wall.Seconds())
		lat.peer = append(lat.peer, p50(d))
		d, err = timeIt(per*2, func(int) error { _, err := b.users[0].exec(ctx, q, id(), "a row"); return err })
		must(err)
		single.floe = append(single.floe, p50(d))
		d, err = timeIt(per*2, func(int) error { _, err := b.pg.Exec(ctx, q, id(), "a row"); return err })
		must(err)
		single.peer = append(single.peer, p50(d))
		fmt.Fprintf(os.Stderr, "insert round %d: floe %.0f rows/s, pg %.0f rows/s\n", round, thr.floe[round], thr.peer[round])
	}
}

// insertRange: a single-row INSERT whose key falls inside a flushed
// segment's key range vs one whose key is above every flushed key.
func (b *bench) insertRange() {
	ctx := b.ctx
	const n = 100_000
	b.root.must(ctx, "CREATE SHARED TABLE fr (id BIGINT PRIMARY KEY, v TEXT)")
	b.root.must(ctx, fmt.Sprintf("INSERT INTO fr SELECT 2 * i, 'even' FROM range(%d) t(i); FLUSH TABLE fr", n))
	b.mustPG("DROP TABLE IF EXISTS fr")
	b.mustPG("CREATE TABLE fr (id BIGINT PRIMARY KEY, v TEXT)")
	b.mustPG(fmt.Sprintf("INSERT INTO fr SELECT 2 * i, 'even' FROM generate_series(0, %d) i", n-1))
	b.mustPG("VACUUM ANALYZE fr")
	const q = "INSERT INTO fr VALUES ($1, $2)"
	inside := b.add(&result{group: "range", name: "INSERT, key inside a flushed key range", unit: "p50 µs", peerName: "PostgreSQL"})
	outside := b.add(&result{group: "range", name: "INSERT, key above the flushed keys", unit: "p50 µs", peerName: "PostgreSQL"})
	in := b.add(&result{group: "range", name: "INSERT inside / outside the flushed range (Floe)", unit: "ratio", peerName: "—", goal: 1.2, goalText: "≤ 1.2×", self: true})
	per := max(50, *flagSamples/4)
	odd, high := int64(1), int64(10*n)
	for round := range *flagRounds {
		d, err := timeIt(per, func(int) error { odd += 2; _, err := b.users[0].exec(ctx, q, odd, "odd"); return err })
		must(err)
		fi := p50(d)
		d, err = timeIt(per, func(int) error { high++; _, err := b.users[0].exec(ctx, q, high, "high"); return err })
		must(err)
		fo := p50(d)
		d, err = timeIt(per, func(int) error { odd += 2; _, err := b.pg.Exec(ctx, q, odd, "odd"); return err })
		must(err)
		pi := p50(d)
		d, err = timeIt(per, func(int) error { high++; _, err := b.pg.Exec(ctx, q, high, "high"); return err })
		must(err)
		po := p50(d)
		inside.floe, inside.peer = append(inside.floe, fi), append(inside.peer, pi)
		outside.floe, outside.peer = append(outside.floe, fo), append(outside.peer, po)
		in.floe = append(in.floe, fi/fo)
		fmt.Fprintf(os.Stderr, "range round %d: floe in %.0f out %.0f µs, pg in %.0f out %.0f µs\n", round, fi, fo, pi, po)
	}
}

// scans: GROUP BY, count(*) and a selective filter over flushed segments,
// Floe vs DuckDB read_parquet on copies of the same files (and
// PostgreSQL for reference); a view vs the written-out query; the same
// queries after one UPDATE vs before it.
func (b *bench) scans() {
	ctx := b.ctx
	n := *flagRows
	b.root.must(ctx, "CREATE SHARED TABLE facts (id BIGINT PRIMARY KEY, g INT, v DOUBLE)")
	b.root.must(ctx, fmt.Sprintf("INSERT INTO facts SELECT i, i %% 100, i * 0.5 FROM range(%d) t(i); FLUSH TABLE facts", n))
	b.root.must(ctx, "CREATE VIEW facts_by_g AS SELECT g, count(*) AS n, sum(v) AS s FROM facts GROUP BY g")
	r := b.root.must(ctx, "SELECT table_id FROM system.tables WHERE namespace = 'public' AND table_name = 'facts'")
	tableID := r.GetRows()[0].GetValues()[0].GetStringValue()
	files, err := b.node.segmentFiles(tableID)
	must(err)
	if len(files) == 0 {
		fatalf("no segment files of facts (%s)", tableID)
	}
	// DuckDB reads copies, so a compaction of Floe's files cannot change
	// what it reads.
	pq := filepath.Join(b.tmp, "facts-parquet")
	must(os.MkdirAll(pq, 0o755))
	for i, f := range files {
		must(copyFile(f, filepath.Join(pq, fmt.Sprintf("%03d.parquet", i))))
	}
	fmt.Fprintf(os.Stderr, "scan: %d rows in %d segment files\n", n, len(files))
	duckSrc := fmt.Sprintf("read_parquet('%s/*.parquet')", pq)

	b.mustPG("DROP TABLE IF EXISTS facts")
	b.mustPG("CREATE TABLE facts (id BIGINT PRIMARY KEY, g INT, v DOUBLE PRECISION)")
	b.mustPG(fmt.Sprintf("INSERT INTO facts SELECT i, i %% 100, i * 0.5 FROM generate_series(0, %d) i", n-1))
	b.mustPG("VACUUM ANALYZE facts")

	queries := []struct{ name, sql string }{
		{"GROUP BY g (100 groups)", "SELECT g, count(*), sum(v) FROM %s GROUP BY g"},
		{"count(*)", "SELECT count(*) FROM %s"},
		{"selective filter (key range, 1000 rows)", "SELECT count(*), sum(v) FROM %s WHERE id BETWEEN 500000 AND 500999"},
		{"selective filter (non-key, 1%)", "SELECT count(*), sum(v) FROM %s WHERE g = 7"},
	}
	const reps = 11 // per round and system; the round's value is their median
	floeRun := func(sql string) func(int) error {
		return func(int) error { _, err := b.root.exec(ctx, sql); return err }
	}
	floeQ := func(sql string) float64 {
		d, err := timeIt(reps, floeRun(sql))
		must(err)
		return p50(d) / 1e3
	}
	duckRun := func(sql string) func(int) error {
		return func(int) error {
			rows, err := b.duck.QueryContext(ctx, sql)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			return rows.Close()
		}
	}
	// floeDuckQ times Floe and DuckDB call by call in turn, so that
	// neither runs right after the other's (or PostgreSQL's) work more
	// often than the other does.
	floeDuckQ := func(floeSQL, duckSQL string) (floe, duck float64) {
		f, d := floeRun(floeSQL), duckRun(duckSQL)
		var fd, dd []time.Duration
		one := func(fn func(int) error) []time.Duration {
			x, err := timeIt(1, fn)
			must(err)
			return x
		}
		for i := range reps {
			if i%2 == 0 {
				fd = append(fd, one(f)...)
				dd = append(dd, one(d)...)
			} else {
				dd = append(dd, one(d)...)
				fd = append(fd, one(f)...)
			}
		}
		return p50(fd) / 1e3, p50(dd) / 1e3
	}
	pgQ := func(sql string) float64 {
		d, err := timeIt(reps, func(int) error {
			rows, err := b.pg.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		})
		must(err)
		return p50(d) / 1e3
	}
	before := make([]*result, len(queries))
	vsPG := make([]*result, len(queries))
	for i, q := range queries {
		before[i] = b.add(&result{group: "scan", name: q.name + ", flushed", unit: "ms", peerName: "DuckDB read_parquet", goal: 1.1, goalText: "≤ 1.1×"})
		vsPG[i] = b.add(&result{group: "scan", name: q.name + ", flushed", unit: "ms", peerName: "PostgreSQL"})
	}
	view := b.add(&result{group: "scan", name: "GROUP BY through a view / written out (Floe)", unit: "ms", peerName: "written out", goal: 1.01, goalText: "≤ 1.01×"})
	for round := range *flagRounds {
		for i, q := range queries {
			f, d := floeDuckQ(fmt.Sprintf(q.sql, "facts"), fmt.Sprintf(q.sql, duckSrc))
			before[i].floe = append(before[i].floe, f)
			before[i].peer = append(before[i].peer, d)
			vsPG[i].floe = append(vsPG[i].floe, before[i].floe[round])
			vsPG[i].peer = append(vsPG[i].peer, pgQ(fmt.Sprintf(q.sql, "facts")))
		}
		// The view and the written-out query take turns going first, so
		// that whatever the previous query left behind (caches, the
		// peers' background work) falls on both alike.
		viewQ := func() { view.floe = append(view.floe, floeQ("SELECT * FROM facts_by_g")) }
		writtenQ := func() {
			view.peer = append(view.peer, floeQ("SELECT g, count(*) AS n, sum(v) AS s FROM facts GROUP BY g"))
		}
		if round%2 == 0 {
			viewQ()
			writtenQ()
		} else {
			writtenQ()
			viewQ()
		}
		fmt.Fprintf(os.Stderr, "scan round %d: group by floe %.1f duck %.1f pg %.1f ms\n", round, before[0].floe[round], before[0].peer[round], vsPG[0].peer[round])
	}

	// One UPDATE (buffered), then the same queries.
	b.root.must(ctx, "UPDATE facts SET v = v + 1 WHERE id = 123457")
	for i, q := range queries {
		after := b.add(&result{group: "scan", name: q.name + ", after one UPDATE / before (Floe)", unit: "ms", peerName: "before", goal: 1.1, goalText: "≤ 1.1×"})
		after.peer = before[i].floe
		for range *flagRounds {
			after.floe = append(after.floe, floeQ(fmt.Sprintf(q.sql, "facts")))
		}
	}
}

// ddlAndColdStart: CREATE TABLE latency on an empty warehouse and after
// *flagDDL tables (PostgreSQL for reference), and exec → first SELECT of
// a node with no user tables, with *flagTables and with *flagDDL tables.
func (b *bench) ddlAndColdStart() {
	ctx := b.ctx
	nt, cold := *flagDDL, min(*flagTables, *flagDDL)
	dir := filepath.Join(b.tmp, "ddl")
	must(os.MkdirAll(dir, 0o755))
	node, err := newFloeNode(*flagFloe, dir)
	must(err)
	must(node.start())
	root, err := node.login(ctx, "root", rootPassword, time.Minute)
	must(err)

	coldEmpty := b.add(&result{group: "ddl", name: "cold start, exec → first SELECT, no user tables", unit: "ms", peerName: "—"})
	coldFull := b.add(&result{group: "ddl", name: fmt.Sprintf("cold start, exec → first SELECT, %d tables", cold), unit: "ms", peerName: "—", goalText: "≤ 300 ms"})
	var coldAll *result
	if nt > cold {
		coldAll = b.add(&result{group: "ddl", name: fmt.Sprintf("cold start, exec → first SELECT, %d tables", nt), unit: "ms", peerName: "—"})
	}
	first := b.add(&result{group: "ddl", name: "CREATE TABLE, the first 10 (median)", unit: "ms", peerName: "PostgreSQL"})
	nth := b.add(&result{group: "ddl", name: fmt.Sprintf("CREATE TABLE, tables %d–%d (median)", nt-9, nt), unit: "ms", peerName: "PostgreSQL"})
	growth := b.add(&result{group: "ddl", name: fmt.Sprintf("CREATE TABLE, tables %d–%d / the first 10 (Floe; PostgreSQL's in the peer column)", nt-9, nt), unit: "ratio", peerName: "PostgreSQL", goal: 1.2, goalText: "≤ 1.2× (at 10,000)", self: true})

	coldStart := func(res *result, token string, table string) {
		for range *flagRounds {
			must(node.stop())
			t0 := time.Now()
			must(node.start())
			c := node.client(token)
			sql := "SELECT 1"
			if table != "" {
				sql = "SELECT count(*) FROM " + table
			}
			for {
				if _, err := c.exec(ctx, sql); err == nil {
					break
				}
				if time.Since(t0) > time.Minute {
					fatalf("cold start: no answer in 1m\n%s", node.tail())
				}
				time.Sleep(time.Millisecond)
			}
			res.floe = append(res.floe, float64(time.Since(t0).Microseconds())/1e3)
		}
		res.peer = nil
	}
	coldStart(coldEmpty, root.token, "")

	for i := range nt {
		b.mustPG(fmt.Sprintf("DROP TABLE IF EXISTS ddl_t%d", i))
	}
	var floeTimes, pgTimes []float64
	for i := range nt {
		ddl := fmt.Sprintf("CREATE SHARED TABLE t%d (id BIGINT PRIMARY KEY, a TEXT, b DOUBLE)", i)
		t0 := time.Now()
		root.must(ctx, ddl)
		floeTimes = append(floeTimes, float64(time.Since(t0).Microseconds())/1e3)
		t0 = time.Now()
		b.mustPG(fmt.Sprintf("CREATE TABLE ddl_t%d (id BIGINT PRIMARY KEY, a TEXT, b DOUBLE PRECISION)", i))
		pgTimes = append(pgTimes, float64(time.Since(t0).Microseconds())/1e3)
		if i+1 == cold {
			coldStart(coldFull, root.token, fmt.Sprintf("t%d", i))
		}
	}
	k := min(10, nt)
	first.floe, first.peer = []float64{median(floeTimes[:k])}, []float64{median(pgTimes[:k])}
	nth.floe, nth.peer = []float64{median(floeTimes[nt-k:])}, []float64{median(pgTimes[nt-k:])}
	growth.floe = []float64{nth.floe[0] / first.floe[0]}
	growth.peer = []float64{nth.peer[0] / first.peer[0]}
	for i := range nt {
		b.mustPG(fmt.Sprintf("DROP TABLE IF EXISTS ddl_t%d", i))
	}

	if coldAll != nil {
		coldStart(coldAll, root.token, fmt.Sprintf("t%d", nt-1))
	}
	must(node.stop())
}

// report renders the results as markdown.
func (b *bench) report() string {
	var s strings.Builder
	fmt.Fprintf(&s, "Measured %s on: %d cores, %s/%s, %s; %s (fsync=on, synchronous_commit=on, pgx v5); DuckDB via duckdb-go in the benchmark process (threads = 2, as Floe's query.threads).\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), *flagPGVer)
	fmt.Fprintf(&s, "Load average (1 min) at the start and end of the run: %s, %s on %d cores; numbers taken on a busy machine vary from run to run.\n\n", b.loadStart, b.loadEnd, runtime.NumCPU())
	fmt.Fprintf(&s, "Command: `make bench-peers` (ROUNDS=%d; each value is the median of the rounds; latencies are the p50 of %d calls per round, per client when concurrent ÷ 4; the load generator, which runs the Floe, PostgreSQL and DuckDB clients, at GOMAXPROCS=%d, the servers at their defaults).\n\n", *flagRounds, *flagSamples, runtime.GOMAXPROCS(0))
	s.WriteString("| workload | unit | Floe | peer | peer value | Floe / peer | goal | met |\n|---|---|---:|---|---:|---:|---|---|\n")
	for _, r := range b.results {
		f, p := median(r.floe), median(r.peer)
		ratio := "—"
		met := "—"
		if p > 0 {
			q := f / p
			ratio = fmt.Sprintf("%.2f×", q)
			if r.goal > 0 {
				ok := q <= r.goal
				if r.higher {
					ok = q >= r.goal
				}
				met = map[bool]string{true: "yes", false: "**no**"}[ok]
			}
		}
		if r.self {
			ratio = "—"
			met = map[bool]string{true: "yes", false: "**no**"}[f <= r.goal]
		}
		if r.goalText == "≤ 300 ms" {
			met = map[bool]string{true: "yes", false: "**no**"}[f <= 300]
		}
		pv := "—"
		if p > 0 {
			pv = num(p)
		}
		goal := r.goalText
		if goal == "" {
			goal = "—"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, r.unit, num(f), r.peerName, pv, ratio, goal, met)
	}
	return s.String()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// writeSection replaces the text between the peers markers of doc.
func writeSection(doc, body string) error {
	const begin, end = "<!-- peers:begin -->", "<!-- peers:end -->"
	b, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s section", doc, begin, end)
	}
	s = s[:i+len(begin)] + "\n\n" + body + "\n" + s[j:]
	return os.WriteFile(doc, []byte(s), 0o644)
}
