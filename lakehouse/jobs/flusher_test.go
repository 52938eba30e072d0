package jobs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

type memSink struct {
	mu   sync.Mutex
	jobs []Record
}

func (m *memSink) RecordJob(_ context.Context, j Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs = append(m.jobs, j)
	return nil
}

func (m *memSink) finished(kind string) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, j := range m.jobs {
		if j.Status != Running && (kind == "" || j.Kind == kind) {
			out = append(out, j)
		}
	}
	return out
}

func testTable(id, name string) *manifest.Table {
	return &manifest.Table{
		ID: id, Namespace: "app", Name: name, Type: manifest.TableShared,
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "name", Type: manifest.Text, Nullable: true},
		},
		PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 3,
	}
}

func upsert(id int64, name string) tablestore.Change {
	return tablestore.Change{Values: row.Row{row.BigInt(id), row.Text(name)}}
}

func lookupOf(tables ...*manifest.Table) TableLookup {
	return func(_ context.Context, id string) (*manifest.Table, error) {
		for _, t := range tables {
			if t.ID == id {
				return t, nil
			}
		}
		return nil, nil
	}
}

// waitFor polls cond; the deadline only bounds a broken test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// storeOn opens a buffer in a temporary directory and a Store over b.
func storeOn(t *testing.T, b objstore.Bucket, clock func() time.Time) (*tablestore.Store, *wbuf.Buffer) {
	t.Helper()
	buf, err := wbuf.Open(wbuf.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close() })
	return tablestore.New(b, buf, tablestore.Options{NodeID: "node-test", Clock: clock}), buf
}

func scanIDs(t *testing.T, s *tablestore.Store, tb *manifest.Table, partition string) []int64 {
	t.Helper()
	var out []int64
	for v, err := range s.Scan(context.Background(), tb, partition, tablestore.ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Values[0].Int64())
	}
	return out
}

func TestFlusherPolicyManualAndShutdown(t *testing.T) {
	ctx := context.Background()
	store, buf := storeOn(t, objstore.NewMem(), nil)
	byRows := testTable("tbl01", "rows")
	byRows.Options.FlushRows = 5
	byTime := testTable("tbl02", "timed")
	manual := testTable("tbl03", "manual")
	sink := &memSink{}
	f := NewFlusher(store, buf, lookupOf(byRows, byTime, manual),
		FlushPolicy{Rows: 1000, Interval: 150 * time.Millisecond, Tick: 10 * time.Millisecond}, Env{NodeID: "node-flush", Sink: sink})

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx, 10*time.Second) }()

	// 5 rows reach byRows' FlushRows: flushed by the "rows" rule.
	if _, err := store.Write(ctx, byRows, "u1", []tablestore.Change{upsert(1, "a"), upsert(2, "b"), upsert(3, "c"), upsert(4, "d"), upsert(5, "e")}); err != nil {
		t.Fatal(err)
	}
	// One row in byTime: flushed by the "interval" rule after 150ms.
	if _, err := store.Write(ctx, byTime, "", []tablestore.Change{upsert(1, "a")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "policy flushes", func() bool { return len(sink.finished("")) >= 2 })
	triggers := map[string]string{}
	for _, j := range sink.finished("") {
		triggers[j.TableID] = j.Trigger
		if j.NodeID != "node-flush" || j.Kind != KindFlush || j.Status != Completed || j.Rows == 0 || j.Bytes == 0 || j.FinishedAt.Before(j.StartedAt) {
			t.Errorf("job record %+v", j)
		}
	}
	if triggers["tbl01"] != "rows" || triggers["tbl02"] != "interval" {
		t.Fatalf("triggers = %v", triggers)
	}

	// FLUSH TABLE flushes on demand.
	if _, err := store.Write(ctx, manual, "", []tablestore.Change{upsert(7, "x")}); err != nil {
		t.Fatal(err)
	}
	if err := f.FlushTable(ctx, manual.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range buf.Partitions() {
		if p.TableID == manual.ID {
			t.Fatalf("FlushTable left %+v buffered", p)
		}
	}

	// Shutdown flushes what is left.
	if _, err := store.Write(ctx, byRows, "u2", []tablestore.Change{upsert(9, "late")}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left := buf.Partitions(); len(left) != 0 {
		t.Fatalf("shutdown left %+v buffered", left)
	}
	all := sink.finished("")
	if last := all[len(all)-1]; last.Trigger != "shutdown" || last.Partition != "u2" {
		t.Fatalf("last job %+v, want the shutdown flush of u2", last)
	}
	if got := scanIDs(t, store, byRows, "u2"); len(got) != 1 {
		t.Fatalf("u2 rows after shutdown flush: %v", got)
	}
}

func TestFlusherRecordsFailures(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMem())
	store, buf := storeOn(t, faulty, nil)
	tb := testTable("tbl01", "items")
	sink := &memSink{}
	f := NewFlusher(store, buf, lookupOf(tb), FlushPolicy{}, Env{Sink: sink})
	if _, err := store.Write(ctx, tb, "", []tablestore.Change{upsert(1, "a")}); err != nil {
		t.Fatal(err)
	}
	faulty.SetHook(func(_ context.Context, op, key string) error {
		if op == objstore.OpPut {
			return errors.New("disk on fire")
		}
		return nil
	})
	if err := f.FlushAll(ctx); err == nil {
		t.Fatal("FlushAll succeeded with a failing object store")
	}
	jobs := sink.finished("")
	if len(jobs) != 1 || jobs[0].Status != Failed || jobs[0].Error == "" {
		t.Fatalf("jobs = %+v", jobs)
	}
	// Nothing acknowledged is lost: the row is still readable from the buffer.
	faulty.SetHook(nil)
	if got := scanIDs(t, store, tb, ""); len(got) != 1 {
		t.Fatalf("rows after failed flush: %v", got)
	}
	if err := f.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, store, tb, ""); len(got) != 1 || len(buf.Partitions()) != 0 {
		t.Fatalf("after retry: rows %v, buffer %+v", got, buf.Partitions())
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The scheduler compacts runs of small segments and garbage-collects the
// replaced ones after the grace period, on its schedule, and records both.
func TestSchedulerCompactsAndCollects(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Now()}
	store, buf := storeOn(t, objstore.NewMem(), clock.Now)
	tb := testTable("tbl01", "items")
	for i := range 3 {
		if _, err := store.Write(ctx, tb, "", []tablestore.Change{upsert(int64(i), "v")}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Flush(ctx, tb, ""); err != nil {
			t.Fatal(err)
		}
	}
	sink := &memSink{}
	sc, err := NewScheduler(Options{
		Store:   store,
		Tables:  func(context.Context) ([]*manifest.Table, error) { return []*manifest.Table{tb}, nil },
		Flusher: NewFlusher(store, buf, lookupOf(tb), FlushPolicy{}, Env{}),
		Schedule: Schedule{Compact: 5 * time.Millisecond, GC: 5 * time.Millisecond,
			Compaction: tablestore.CompactOptions{MinSegments: 2},
			GCOptions:  tablestore.GCOptions{Retention: time.Minute, GracePeriod: time.Minute}},
		Env: Env{NodeID: "node-jobs", Sink: sink, Clock: clock.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sc.Run(runCtx, time.Minute) }()

	waitFor(t, "a compaction", func() bool { return len(sink.finished(KindCompact)) > 0 })
	c := sink.finished(KindCompact)[0]
	if c.Status != Completed || c.NodeID != "node-jobs" || c.Trigger != "schedule" || c.TableID != tb.ID || c.Rows != 3 {
		t.Fatalf("compaction record %+v", c)
	}
	// The three replaced segments are listed by the manifests in the
	// retention window and young: GC may only delete them after the clock
	// passes retention and grace (GC compares the clock with commit times
	// and object ages), and the scheduler records a GC only when it
	// deleted something.
	time.Sleep(50 * time.Millisecond) // several GC rounds inside the retention
	clock.Advance(time.Hour)
	advanced := clock.Now()
	waitFor(t, "a garbage collection that deletes", func() bool { return len(sink.finished(KindGC)) > 0 })
	// A GC that finished before the advance also decided before it. (One
	// that started before and finished after may have read the advanced
	// clock: it may delete.)
	for _, g := range sink.finished(KindGC) {
		if g.FinishedAt.Before(advanced) {
			t.Fatalf("GC deleted something inside the retention: %+v", g)
		}
	}
	g := sink.finished(KindGC)[0]
	if g.Status != Completed || g.NodeID != "node-jobs" || g.Rows == 0 {
		t.Fatalf("gc record %+v", g)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, store, tb, ""); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("rows after compaction and GC: %v", got)
	}
}

// RunOnce (the maintenance function's entry point) runs every job once:
// it flushes what is buffered, compacts, and collects garbage once the
// clock allows, recording each with trigger "maintenance".
func TestRunOnce(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Now()}
	store, buf := storeOn(t, objstore.NewMem(), clock.Now)
	tb := testTable("tbl01", "items")
	for i := range 2 {
		if _, err := store.Write(ctx, tb, "", []tablestore.Change{upsert(int64(i), "v")}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Flush(ctx, tb, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Write(ctx, tb, "", []tablestore.Change{upsert(9, "buffered")}); err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	env := Env{NodeID: "maint-1", Sink: sink, Clock: clock.Now}
	sc, err := NewScheduler(Options{
		Store:   store,
		Tables:  func(context.Context) ([]*manifest.Table, error) { return []*manifest.Table{tb}, nil },
		Flusher: NewFlusher(store, buf, lookupOf(tb), FlushPolicy{}, env),
		Schedule: Schedule{Compaction: tablestore.CompactOptions{MinSegments: 3},
			GCOptions: tablestore.GCOptions{Retention: time.Minute, GracePeriod: time.Minute}},
		Env: env,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	kinds := func() string {
		var out []string
		for _, r := range sink.finished("") {
			if r.Trigger != "maintenance" || r.NodeID != "maint-1" || r.Status != Completed {
				t.Fatalf("record %+v", r)
			}
			out = append(out, r.Kind)
		}
		return strings.Join(out, ",")
	}
	// The flush makes the third small segment, which compaction merges
	// with the other two; GC waits for retention and grace.
	if got := kinds(); got != "flush,compact" {
		t.Fatalf("first run recorded %s", got)
	}
	clock.Advance(time.Hour)
	if err := sc.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kinds(); got != "flush,compact,gc" {
		t.Fatalf("after the retention: %s", got)
	}
	if got := scanIDs(t, store, tb, ""); !slices.Equal(got, []int64{0, 1, 9}) {
		t.Fatalf("rows: %v", got)
	}
}

// RunSelected runs only the selected jobs on the selected tables, returns
// their finished records (also given to the sink), rejects unknown jobs,
// and finds nothing to do when run again.
func TestRunSelected(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Now()}
	store, buf := storeOn(t, objstore.NewMem(), clock.Now)
	a, b := testTable("tblaa", "a"), testTable("tblbb", "b")
	for _, tb := range []*manifest.Table{a, b} {
		for i := range 3 {
			if _, err := store.Write(ctx, tb, "", []tablestore.Change{upsert(int64(i), "v")}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Flush(ctx, tb, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.Write(ctx, tb, "", []tablestore.Change{upsert(9, "buffered")}); err != nil {
			t.Fatal(err)
		}
	}
	sink := &memSink{}
	env := Env{NodeID: "maint-sel", Sink: sink, Clock: clock.Now}
	sc, err := NewScheduler(Options{
		Store:   store,
		Tables:  func(context.Context) ([]*manifest.Table, error) { return []*manifest.Table{a, b}, nil },
		Flusher: NewFlusher(store, buf, lookupOf(a, b), FlushPolicy{}, env),
		Schedule: Schedule{Compaction: tablestore.CompactOptions{MinSegments: 3},
			GCOptions: tablestore.GCOptions{Retention: time.Minute, GracePeriod: time.Minute}},
		Env: env,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.RunSelected(ctx, Selection{Kinds: []string{"compact", "vacuum"}}); err == nil || !strings.Contains(err.Error(), `"vacuum" is not a job`) {
		t.Fatalf("unknown job: %v", err)
	}
	if len(sink.finished("")) != 0 {
		t.Fatalf("a refused selection ran jobs: %+v", sink.finished(""))
	}
	summary := func(recs []Record) string {
		var out []string
		for _, r := range recs {
			if r.NodeID != "maint-sel" || r.Trigger != "maintenance" || r.Status != Completed {
				t.Fatalf("record %+v", r)
			}
			out = append(out, r.Kind+":"+r.TableID)
		}
		return strings.Join(out, ",")
	}
	// Compaction only, of table b only (listed before flush: the order is
	// fixed): a's segments and both buffers are untouched.
	recs, err := sc.RunSelected(ctx, Selection{TableIDs: []string{b.ID}, Kinds: []string{KindCompact}})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(recs); got != "compact:tblbb" {
		t.Fatalf("compact b: %s", got)
	}
	if got := summary(sink.finished("")); got != "compact:tblbb" {
		t.Fatalf("sink after compact b: %s", got)
	}
	if buf.Stats().Rows != 2 {
		t.Fatalf("buffered rows after a compaction-only run: %d", buf.Stats().Rows)
	}
	// Everything on a: flush and compaction (GC waits for the retention).
	recs, err = sc.RunSelected(ctx, Selection{TableIDs: []string{a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(recs); got != "flush:tblaa,compact:tblaa" {
		t.Fatalf("all jobs of a: %s", got)
	}
	// Again: nothing left to do.
	if recs, err = sc.RunSelected(ctx, Selection{TableIDs: []string{a.ID}}); err != nil || len(recs) != 0 {
		t.Fatalf("second run: %+v %v", recs, err)
	}
	clock.Advance(time.Hour)
	if recs, err = sc.RunSelected(ctx, Selection{Kinds: []string{KindGC}}); err != nil || summary(recs) != "gc:tblaa,gc:tblbb" {
		t.Fatalf("gc after the retention: %s %v", summary(recs), err)
	}
	if buf.Stats().Rows != 1 {
		t.Fatalf("buffered rows: %d, want b's one", buf.Stats().Rows)
	}
	for _, tb := range []*manifest.Table{a, b} {
		if got := scanIDs(t, store, tb, ""); !slices.Equal(got, []int64{0, 1, 2, 9}) {
			t.Fatalf("rows of %s: %v", tb.ID, got)
		}
	}
}
