package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// The suite's knobs (environment):
//
//	FLOE_RELIABILITY_DURATION  time budget of the trials, split among the stores
//	                           (default 15s, at least one episode of each kind,
//	                           the fs store only: the short run of
//	                           `make test`; `make reliability` sets 7m)
//	FLOE_RELIABILITY_SEED      seed of the random choices (default: the clock);
//	                           printed, to re-run a failing trial sequence
//	FLOE_RELIABILITY_LOGDIR    where node logs and the operation log go
//	                           (default: a new temporary directory, kept on failure)
//	FLOE_TEST_S3_*             an S3 server (scripts/s3-up.sh): the suite runs on
//	                           it too when the duration is set
const (
	envDuration = "FLOE_RELIABILITY_DURATION"
	envSeed     = "FLOE_RELIABILITY_SEED"
	envLogDir   = "FLOE_RELIABILITY_LOGDIR"
)

const rootPassword = "reliability-root-pw"

// floeBin is the binary under test: cmd/floe built with the
// floe_faultinject tag, so FLOE_FAULT_INJECT works.
var floeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "floe-reliability-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	floeBin = filepath.Join(dir, "floe")
	build := exec.Command("go", "build", "-tags", "floe_faultinject", "-o", floeBin, "github.com/floedb/floe/cmd/floe")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build floe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestReliability(t *testing.T) {
	budget, long := 15*time.Second, false
	if v := os.Getenv(envDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", envDuration, v, err)
		}
		budget, long = d, true
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, v, err)
		}
		seed = n
	}
	stores := []string{"fs"}
	if _, ok := objstoretest.S3ConfigFromEnv(); ok && long {
		stores = append(stores, "s3")
	}
	var total Counts
	for i, store := range stores {
		t.Run(store, func(t *testing.T) {
			c := runStore(t, store, seed+uint64(i), budget/time.Duration(len(stores)))
			total = add(total, c)
		})
	}
	t.Logf("reliability: seed=%d total %v", seed, total)
	fmt.Printf("reliability: seed=%d stores=%v\nreliability: %v\n", seed, stores, total)
}

func add(a, b Counts) Counts {
	a.Trials += b.Trials
	a.Kills += b.Kills
	a.TakeOvers += b.TakeOvers
	a.HandOffs += b.HandOffs
	a.FaultCycles += b.FaultCycles
	a.Acked += b.Acked
	a.Ambiguous += b.Ambiguous
	a.Refused += b.Refused
	a.Reads += b.Reads
	a.Flushes += b.Flushes
	a.GivenUp += b.GivenUp
	a.Discarded += b.Discarded
	a.Lost += b.Lost
	a.Resurrected += b.Resurrected
	a.Duplicated += b.Duplicated
	a.Phantom += b.Phantom
	a.Foreign += b.Foreign
	a.FencedAcks += b.FencedAcks
	a.AppliedOnErr += b.AppliedOnErr
	return a
}

// harness runs the trials of one store.
type harness struct {
	t         *testing.T
	store     string
	dir       string // node data dirs and logs
	storeArgs []string
	storeEnv  []string
	m         *Model

	rngMu sync.Mutex
	rng   *rand.Rand

	// gate: writers hold it shared for each statement; the harness takes
	// it exclusively to quiesce them (full checks, take-overs).
	gate  sync.RWMutex
	cur   atomic.Pointer[proc]
	nodes int // node ids handed out

	procMu sync.Mutex
	procs  []*proc // every process started, killed at the end

	// paused is the node SIGSTOPped mid-traffic and when (nil when none):
	// its answers to requests sent after that moment must not be
	// acknowledgements.
	paused atomic.Pointer[pause]

	tokMu  sync.Mutex
	tokens map[string]string

	opMu  sync.Mutex
	opLog *os.File
}

var users = map[string]string{"root": rootPassword, "u1": "reliability-u1-pw", "u2": "reliability-u2-pw"}

func (h *harness) intn(n int) int {
	h.rngMu.Lock()
	defer h.rngMu.Unlock()
	return h.rng.IntN(n)
}

func (h *harness) logf(format string, args ...any) {
	h.t.Logf("%s [%s] %s", time.Now().UTC().Format("15:04:05.000"), h.store, fmt.Sprintf(format, args...))
}

// logOp appends one operation and its outcome to the operation log.
func (h *harness) logOp(node, who, sql, outcome string) {
	b, _ := json.Marshal(map[string]any{"t": time.Now().UTC().Format(time.RFC3339Nano), "seq": h.m.Seq(), "node": node, "who": who, "sql": sql, "outcome": outcome})
	h.opMu.Lock()
	h.opLog.Write(append(b, '\n'))
	h.opMu.Unlock()
}

// token returns a token of user, logging in on p when needed (or when
// fresh is set: the last one was refused).
func (h *harness) token(ctx context.Context, p *proc, user string, fresh bool) (string, error) {
	h.tokMu.Lock()
	defer h.tokMu.Unlock()
	if tok, ok := h.tokens[user]; ok && !fresh {
		return tok, nil
	}
	tok, err := login(ctx, p.url, user, users[user])
	if err != nil {
		return "", err
	}
	h.tokens[user] = tok
	return tok, nil
}

// exec runs sql as user on p, logging in again once if the token is refused.
func (h *harness) exec(ctx context.Context, p *proc, user, sql string) (result, error) {
	tok, err := h.token(ctx, p, user, false)
	if err != nil {
		return result{}, err
	}
	r, err := execSQL(ctx, p.url, tok, sql)
	if unauthenticated(err) {
		if tok, err = h.token(ctx, p, user, true); err != nil {
			return result{}, err
		}
		r, err = execSQL(ctx, p.url, tok, sql)
	}
	return r, err
}

// faultSpec returns a FLOE_FAULT_INJECT value for the next node start:
// none half the time.
func (h *harness) faultSpec() string {
	if h.intn(2) == 0 {
		return ""
	}
	return h.faults()
}

// faults returns a FLOE_FAULT_INJECT value with a new seed: a few percent
// of the object-store calls fail, before or after reaching the store.
func (h *harness) faults() string {
	return fmt.Sprintf("seed=%d,put=0.02,put_after=0.02,get=0.01,get_range=0.01,list=0.02,delete=0.02", h.intn(1<<30))
}

// start starts node id on dataDir, retrying a start that faults made
// fail (with other fault decisions; the last attempt without faults).
func (h *harness) start(id, dataDir string, takeOver bool, faults string) *proc {
	for attempt := 0; ; attempt++ {
		if attempt == 3 {
			faults = ""
		} else if attempt > 0 && faults != "" {
			faults = h.faults()
		}
		p, err := startProc(floeBin, h.dir, id, dataDir, takeOver, faults, h.storeArgs, h.storeEnv)
		if err == nil {
			h.procMu.Lock()
			h.procs = append(h.procs, p)
			h.procMu.Unlock()
			h.logf("started %s (take_over=%v faults=%q) at %s", id, takeOver, faults, p.url)
			return p
		}
		if faults == "" && attempt >= 3 {
			h.t.Fatalf("start %s: %v", id, err)
		}
		h.logf("start %s failed (attempt %d, faults %q): %.300v", id, attempt+1, faults, lastLine(err.Error()))
		time.Sleep(300 * time.Millisecond)
	}
}

// newNode returns a new node id and its own data dir.
func (h *harness) newNode() (string, string) {
	h.nodes++
	id := fmt.Sprintf("node-%d", h.nodes)
	return id, filepath.Join(h.dir, id)
}

func runStore(t *testing.T, store string, seed uint64, budget time.Duration) Counts {
	dir := os.Getenv(envLogDir)
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "floe-reliability-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, store)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, dir: dir, m: NewModel(), rng: rand.New(rand.NewPCG(seed, 1)), tokens: map[string]string{}}
	var err error
	if h.opLog, err = os.Create(filepath.Join(dir, "operations.jsonl")); err != nil {
		t.Fatal(err)
	}
	defer h.opLog.Close()
	switch store {
	case "fs":
		h.storeArgs = []string{"--storage.fs.dir", filepath.Join(dir, "warehouse")}
	case "s3":
		cfg := objstoretest.NewS3ConfigForTest(t)
		h.storeEnv = []string{"FLOE_STORAGE_BACKEND=s3", "FLOE_STORAGE_S3_BUCKET=" + cfg.Bucket, "FLOE_STORAGE_S3_REGION=" + cfg.Region,
			"FLOE_STORAGE_S3_PREFIX=" + cfg.Prefix, "FLOE_STORAGE_S3_ENDPOINT=" + cfg.Endpoint,
			"FLOE_STORAGE_S3_FORCE_PATH_STYLE=" + strconv.FormatBool(cfg.ForcePathStyle),
			"FLOE_STORAGE_S3_ACCESS_KEY_ID=" + cfg.AccessKeyID, "FLOE_STORAGE_S3_SECRET_ACCESS_KEY=" + cfg.SecretAccessKey}
	}
	t.Cleanup(func() {
		// A failed test leaves no process behind (stopped ones included).
		h.procMu.Lock()
		for _, p := range h.procs {
			p.kill9()
		}
		h.procMu.Unlock()
		if t.Failed() {
			t.Logf("node logs and the operation log are kept in %s; re-run with %s=%d", dir, envSeed, seed)
		} else if os.Getenv(envLogDir) == "" {
			os.RemoveAll(filepath.Dir(dir))
		}
	})
	h.logf("seed %d, budget %v, logs in %s", seed, budget, dir)
	h.run(budget)
	c := h.m.Counts()
	for _, v := range h.m.Violations() {
		t.Errorf("violation: %s", v)
	}
	t.Logf("%s: %v", store, c)
	return c
}

// run sets the warehouse up, runs trials until the budget is spent, then
// checks the final state on a fresh node.
func (h *harness) run(budget time.Duration) {
	ctx := context.Background()
	id, dataDir := h.newNode()
	p := h.start(id, dataDir, false, "")
	h.cur.Store(p)
	h.setup(ctx, p)

	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stopped := false
	defer func() { // also when a check stops the test early
		if !stopped {
			stopWriters()
			wg.Wait()
		}
	}()
	for _, w := range []*writer{
		{h: h, table: "rel.s", user: "root", shared: true},
		{h: h, table: "rel.s", user: "root", shared: true},
		{h: h, table: "rel.u", user: "u1"},
		{h: h, table: "rel.u", user: "u2"},
	} {
		w.rng = rand.New(rand.NewPCG(uint64(h.intn(1<<30)), 2))
		wg.Add(1)
		go func() { defer wg.Done(); w.run(wctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); h.flusher(wctx) }()

	episodes := []struct {
		run   func()
		count func(*Counts) *int
	}{
		{h.kill9, func(c *Counts) *int { return &c.Kills }},
		{h.takeOver, func(c *Counts) *int { return &c.TakeOvers }},
		{h.cleanHandOff, func(c *Counts) *int { return &c.HandOffs }},
		{h.faultsToggle, func(c *Counts) *int { return &c.FaultCycles }},
	}
	deadline := time.Now().Add(budget)
	// Every kind of episode runs at least once, however short the budget.
	for i := 0; i < len(episodes) || time.Now().Before(deadline); i++ {
		time.Sleep(time.Duration(500+h.intn(2000)) * time.Millisecond) // writers at work
		e := i
		if i >= len(episodes) {
			e = h.intn(len(episodes))
		}
		episodes[e].run()
		h.gate.Lock()
		h.checkAll(ctx, h.cur.Load(), false)
		h.gate.Unlock()
		h.m.CountTrial(episodes[e].count)
	}
	stopWriters()
	wg.Wait()
	stopped = true
	h.final(ctx)
}

// setup creates the namespace, the tables and the users.
func (h *harness) setup(ctx context.Context, p *proc) {
	sql := `CREATE NAMESPACE rel;
CREATE SHARED TABLE rel.s (k BIGINT PRIMARY KEY, v BIGINT NOT NULL) WITH (FLUSH_POLICY = 'rows:64,interval:1');
CREATE USER TABLE rel.u (k BIGINT PRIMARY KEY, v BIGINT NOT NULL) WITH (FLUSH_POLICY = 'rows:64,interval:1');
CREATE USER u1 WITH PASSWORD '` + users["u1"] + `';
CREATE USER u2 WITH PASSWORD '` + users["u2"] + `'`
	if _, err := h.exec(ctx, p, "root", sql); err != nil {
		h.t.Fatalf("setup: %v", err)
	}
	// No FLUSH: user changes are durable once acknowledged, so the users
	// survive every take-over (the settle read logs in as u1 and u2 on the
	// new node; it fails the run if they were given up).
}

// flusher runs FLUSH and COMPACT statements at random moments.
func (h *harness) flusher(ctx context.Context) {
	stmts := []struct{ sql, table string }{
		{"FLUSH TABLE rel.s", "rel.s"}, {"FLUSH TABLE rel.u", "rel.u"}, {"FLUSH ALL", "*"},
		{"COMPACT TABLE rel.s", ""}, {"COMPACT TABLE rel.u", ""},
	}
	for ctx.Err() == nil {
		time.Sleep(time.Duration(200+h.intn(1500)) * time.Millisecond)
		s := stmts[h.intn(len(stmts))]
		h.gate.RLock()
		p := h.cur.Load()
		seq := h.m.Seq()
		sent := time.Now()
		_, err := h.exec(ctx, p, "root", s.sql)
		if err == nil && h.afterPause(p, sent, time.Now()) != answeredBefore {
			// Answered by a node paused past its lease: no proof of
			// durability. A FLUSH or COMPACT sent after the pause claims
			// work the node may no longer do (even with nothing to do: it
			// can no longer know): a violation.
			if h.afterPause(p, sent, time.Now()) == sentAfter {
				h.m.FencedAck("%s acknowledged %q sent after it was stopped past its lease", p.id, s.sql)
			}
			h.logOp(p.id, "root", s.sql, "ok (after the pause)")
		} else if err == nil {
			h.m.CountFlush()
			if s.table != "" {
				h.m.Flushed(p.id, s.table, seq)
			}
			h.logOp(p.id, "root", s.sql, "ok")
		} else {
			h.logOp(p.id, "root", s.sql, "error: "+err.Error())
		}
		h.gate.RUnlock()
	}
}

// writer writes its own keys of one table (a SHARED table's keys are
// split among its writers; a USER table's writer is the partition's
// user), one statement at a time, and checks its reads.
type writer struct {
	h            *harness
	table, user  string
	shared       bool
	rng          *rand.Rand
	live, absent []int64 // keys present / deleted, not retired
}

func (w *writer) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.h.gate.RLock()
		w.step(ctx)
		w.h.gate.RUnlock()
	}
}

func (w *writer) step(ctx context.Context) {
	h, m := w.h, w.h.m
	p := h.cur.Load()
	r := w.rng.IntN(100)
	switch {
	case r < 35 || len(w.live) == 0:
		k, v := m.NewKey(w.table, w.user), m.NewValue()
		if w.write(ctx, p, k, Row(v), fmt.Sprintf("INSERT INTO %s VALUES (%d, %d)", w.table, k, v)) == acked {
			w.live = append(w.live, k)
		}
	case r < 60:
		i := w.rng.IntN(len(w.live))
		k, v := w.live[i], m.NewValue()
		w.live = append(w.live[:i], w.live[i+1:]...)
		switch w.write(ctx, p, k, Row(v), fmt.Sprintf("UPDATE %s SET v = %d WHERE k = %d", w.table, v, k)) {
		case acked, notSent:
			w.live = append(w.live, k)
		case noRow:
			w.absent = append(w.absent, k)
		}
	case r < 75:
		i := w.rng.IntN(len(w.live))
		k := w.live[i]
		w.live = append(w.live[:i], w.live[i+1:]...)
		switch w.write(ctx, p, k, Absent, fmt.Sprintf("DELETE FROM %s WHERE k = %d", w.table, k)) {
		case acked, noRow:
			w.absent = append(w.absent, k)
		case notSent:
			w.live = append(w.live, k)
		}
	case r < 92 || w.shared:
		keys := append(append([]int64(nil), w.live...), w.absent...)
		k := keys[w.rng.IntN(len(keys))]
		res, err := h.exec(ctx, p, w.user, fmt.Sprintf("SELECT v FROM %s WHERE k = %d", w.table, k))
		if err != nil {
			return // a failed read says nothing
		}
		got := Absent
		if len(res.rows) > 0 {
			v, err := asInt64(res.rows[0][0])
			if err != nil {
				h.t.Errorf("point read of %d: %v", k, err)
				return
			}
			got = Row(v)
		}
		if !m.CheckRead(k, got) {
			h.logf("violation on a point read of %s key %d on %s", w.table, k, p.id)
		}
	default: // the whole partition: only this writer writes it
		res, err := h.exec(ctx, p, w.user, "SELECT k, v FROM "+w.table+" ORDER BY k")
		if err != nil {
			return
		}
		m.CheckScan(h.scan(w.table, w.user, false, res), false)
	}
}

// outcome is what became of a write.
type outcome int

const (
	acked   outcome = iota // acknowledged: k is in state after
	noRow                  // acknowledged, found no row (a take-over gave it up): k is absent
	notSent                // never reached a node: k is unchanged
	failed                 // failed or unanswered: k is retired
)

// write runs one write of key k and records its outcome.
func (w *writer) write(ctx context.Context, p *proc, k int64, after State, sql string) outcome {
	h, m := w.h, w.h.m
	sent := time.Now()
	res, err := h.exec(ctx, p, w.user, sql)
	switch when := h.afterPause(p, sent, time.Now()); {
	case err == nil && when != answeredBefore:
		// Acknowledged by a node stopped past its lease. Sent before the
		// stop, it may have been acknowledged before the take-over, and
		// then given up like any unflushed write: its outcome is unknown.
		// Sent after the stop, it reached the node after its lease ran
		// out: acknowledging it is a violation.
		if when == sentAfter {
			m.FencedAck("%s acknowledged %q sent after it was stopped past its lease", p.id, sql)
		}
		m.Failed(k, p.id, after)
		h.logOp(p.id, w.user, sql, "ok (after the pause)")
		return failed
	case err == nil:
		h.logOp(p.id, w.user, sql, fmt.Sprintf("ok %d", res.affected))
		if res.affected == 0 {
			// An UPDATE or DELETE that found no row: a read of the key
			// (absent), which the model must allow.
			if !m.CheckRead(k, Absent) {
				h.logf("violation: %s on %s found no row", sql, p.id)
			}
			m.Ack(k, p.id, Absent)
			return noRow
		}
		m.Ack(k, p.id, after)
		return acked
	case wasNotSent(err):
		m.Refused()
		time.Sleep(50 * time.Millisecond)
		return notSent
	default:
		m.Failed(k, p.id, after)
		h.logOp(p.id, w.user, sql, "error: "+err.Error())
		var e *apiError
		if !errors.As(err, &e) || e.Code == "unavailable" {
			time.Sleep(50 * time.Millisecond) // the node is going away or lost its lease
		}
		return failed
	}
}

// scan turns a k, v result into a Scan.
func (h *harness) scan(table, owner string, shared bool, res result) Scan {
	s := Scan{Table: table, Owner: owner, Shared: shared}
	for _, row := range res.rows {
		k, err1 := asInt64(row[0])
		v, err2 := asInt64(row[1])
		if err := errors.Join(err1, err2); err != nil {
			h.t.Errorf("scan of %s: %v", table, err)
			continue
		}
		s.Rows = append(s.Rows, [2]int64{k, v})
	}
	return s
}

// checkAll reads every table on p, as each owner, and checks the reads
// (with settle: makes them the keys' new base). The writers must be
// quiesced. It retries reads that faults fail.
func (h *harness) checkAll(ctx context.Context, p *proc, settle bool) {
	reads := []struct {
		table, user string
		shared      bool
	}{{"rel.s", "root", true}, {"rel.u", "u1", false}, {"rel.u", "u2", false}}
	for _, r := range reads {
		var res result
		var err error
		for attempt := 0; attempt < 30; attempt++ {
			if res, err = h.exec(ctx, p, r.user, "SELECT k, v FROM "+r.table+" ORDER BY k"); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			if settle {
				h.t.Fatalf("settle read of %s as %s on %s: %v", r.table, r.user, p.id, err)
			}
			h.logf("full check of %s as %s skipped: %v", r.table, r.user, err)
			continue
		}
		h.m.CheckScan(h.scan(r.table, r.user, r.shared, res), settle)
	}
}

// kill9: kill -9 the node mid-traffic, restart it on its data dir
// (faults on or off at random); it must recover every acknowledged write.
func (h *harness) kill9() {
	p := h.cur.Load()
	h.logf("episode: kill -9 %s", p.id)
	p.kill9()
	time.Sleep(time.Duration(h.intn(500)) * time.Millisecond)
	h.cur.Store(h.start(p.id, p.dataDir, false, h.faultSpec()))
}

// faultsToggle: restart the node on its data dir (kill -9) with the
// opposite fault setting.
func (h *harness) faultsToggle() {
	p := h.cur.Load()
	faults := ""
	if p.faults == "" {
		faults = h.faults()
	}
	h.logf("episode: restart %s with faults %q", p.id, faults)
	p.kill9()
	h.cur.Store(h.start(p.id, p.dataDir, false, faults))
}

// cleanHandOff: stop the node gracefully (SIGTERM: it flushes and
// releases its lease) and start another node on its own data dir, which
// takes the lease at once. If the stop failed (faults), the same node
// restarts on its data dir instead.
func (h *harness) cleanHandOff() {
	p := h.cur.Load()
	h.logf("episode: graceful stop of %s, hand-off", p.id)
	p.signal(syscall.SIGTERM)
	if err := p.wait(2 * time.Minute); err != nil {
		h.logf("%s's graceful stop failed (%v): restart it on its data dir", p.id, err)
		h.cur.Store(h.start(p.id, p.dataDir, false, h.faultSpec()))
		return
	}
	h.m.Flushed(p.id, "*", h.m.Seq())
	id, dataDir := h.newNode()
	h.cur.Store(h.start(id, dataDir, false, h.faultSpec()))
}

// takeOver: SIGSTOP the node past its lease, start another node with
// lease.take_over, then SIGCONT the old one: it must refuse every write,
// also one that would change nothing (FENCED or UNAVAILABLE, never an
// acknowledgement), and none of its flushes may land. The old node's acknowledged writes after its last
// acknowledged flush are given up (Model.GiveUp); the new node's first
// read settles them.
//
// Half the time the clients are paused first; otherwise the node is
// stopped mid-traffic: requests in flight and sent meanwhile hang until
// SIGCONT. Then an acknowledgement of a request sent after the stop is a
// violation, and one of a request sent before it has an unknown outcome
// (it may have been acknowledged before the take-over and given up).
func (h *harness) takeOver() {
	ctx := context.Background()
	midTraffic := h.intn(2) == 0
	if !midTraffic {
		h.gate.Lock()
	}
	old := h.cur.Load()
	h.logf("episode: SIGSTOP %s (mid-traffic %v), take-over", old.id, midTraffic)
	if err := old.stop(); err != nil {
		h.t.Fatal(err)
	}
	if midTraffic {
		// Taken once the node is stopped: a request sent before is
		// answered before the stop or after the take-over, which makes
		// its outcome unknown; one sent after may not be acknowledged.
		// (Taken before the stop, a request sent in between and answered
		// before the stop landed would be a false violation.)
		h.paused.Store(&pause{node: old, at: time.Now()})
	}
	id, dataDir := h.newNode()
	np := h.start(id, dataDir, true, h.faultSpec())
	if midTraffic {
		// The clients hang on the stopped node: resume it so that they
		// get their answers, then quiesce them.
		old.signal(syscall.SIGCONT)
		h.gate.Lock()
	}
	h.m.GiveUp(old.id)
	h.checkAll(ctx, np, true)
	h.cur.Store(np)
	h.gate.Unlock()

	old.signal(syscall.SIGCONT)
	var codes []string
	for i := 0; i < 4; i++ {
		k, v := h.m.FencedKey(), h.m.NewValue()
		sql := fmt.Sprintf("INSERT INTO rel.s VALUES (%d, %d)", k, v)
		_, err := h.exec(ctx, old, "root", sql)
		if err == nil {
			h.m.FencedAck("%s acknowledged %q after %s took its lease over", old.id, sql, id)
			h.logOp(old.id, "root", sql, "ok (FENCED NODE)")
			continue
		}
		h.logOp(old.id, "root", sql, "error: "+err.Error())
		var e *apiError
		if errors.As(err, &e) {
			codes = append(codes, e.Floe)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Statements that would change nothing are refused too: the fenced
	// node can no longer know that (another node holds the rows now).
	for _, sql := range []string{"FLUSH ALL", "FLUSH TABLE rel.u", "COMPACT TABLE rel.s",
		fmt.Sprintf("UPDATE rel.s SET v = 0 WHERE k = %d", h.m.FencedKey()), fmt.Sprintf("DELETE FROM rel.s WHERE k = %d", h.m.FencedKey())} {
		if _, err := h.exec(ctx, old, "root", sql); err == nil {
			h.m.FencedAck("%s acknowledged %q after %s took its lease over", old.id, sql, id)
		}
	}
	time.Sleep(1500 * time.Millisecond) // its flush policy (interval 1s) tries to flush
	h.logf("fenced %s answered %v", old.id, codes)
	old.signal(syscall.SIGTERM)
	if err := old.wait(time.Minute); err == nil {
		h.logf("fenced %s exited cleanly", old.id)
	}
	h.paused.Store(nil)
}

// pause is a node SIGSTOPped mid-traffic.
type pause struct {
	node *proc
	at   time.Time
}

// when is how a request to a node relates to its pause.
type when int

const (
	answeredBefore when = iota // no pause of that node, or answered before it
	sentBefore                 // sent before the pause, answered after it
	sentAfter                  // sent after the pause
)

// afterPause classifies a request to p sent and answered at the given
// times. A request whose send time was taken just before the pause but
// that reached the node after it counts as sentBefore (its ack is then
// only of unknown outcome): the classification errs towards no
// violation.
func (h *harness) afterPause(p *proc, sent, answered time.Time) when {
	ps := h.paused.Load()
	switch {
	case ps == nil || ps.node != p || answered.Before(ps.at):
		return answeredBefore
	case sent.Before(ps.at):
		return sentBefore
	}
	return sentAfter
}

// final stops the current node gracefully (after a restart without
// faults), starts a fresh node on its own data dir and checks every table
// there.
func (h *harness) final(ctx context.Context) {
	p := h.cur.Load()
	for attempt := 0; ; attempt++ {
		if p.faults != "" || attempt > 0 {
			p.kill9()
			p = h.start(p.id, p.dataDir, false, "")
		}
		p.signal(syscall.SIGTERM)
		err := p.wait(2 * time.Minute)
		if err == nil {
			break
		}
		if attempt == 3 {
			h.t.Fatalf("%s never stopped cleanly: %v\n%s", p.id, err, tail(p.log.Name(), 20))
		}
	}
	h.m.Flushed(p.id, "*", h.m.Seq())
	id, dataDir := h.newNode()
	f := h.start(id, dataDir, false, "")
	h.tokMu.Lock()
	h.tokens = map[string]string{}
	h.tokMu.Unlock()
	h.checkAll(ctx, f, false)
	f.signal(syscall.SIGTERM)
	if err := f.wait(2 * time.Minute); err != nil {
		h.t.Errorf("the final node's stop: %v", err)
	}
}
