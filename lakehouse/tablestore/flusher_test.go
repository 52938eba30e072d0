package tablestore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

type memSink struct {
	mu   sync.Mutex
	jobs []Job
}

func (m *memSink) RecordJob(_ context.Context, j Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs = append(m.jobs, j)
	return nil
}

func (m *memSink) finished() []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Job
	for _, j := range m.jobs {
		if j.Status != JobRunning {
			out = append(out, j)
		}
	}
	return out
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFlusherPolicyManualAndShutdown(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	h.store.opts.NodeID = "node-flush"
	byRows := testTable()
	byRows.Options.FlushRows = 5
	byTime := testTable()
	byTime.ID, byTime.Name = "tbl02", "timed"
	manual := testTable()
	manual.ID, manual.Name = "tbl03", "manual"
	sink := &memSink{}
	f := NewFlusher(h.store, h.buf, lookupOf(byRows, byTime, manual), sink,
		FlushPolicy{Rows: 1000, Interval: 150 * time.Millisecond, Tick: 10 * time.Millisecond})

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx, 10*time.Second) }()

	// 5 rows reach byRows' FlushRows: flushed by the "rows" rule.
	if _, err := h.store.Write(ctx, byRows, "u1", []Change{upsert(1, "a", 1), upsert(2, "b", 1), upsert(3, "c", 1), upsert(4, "d", 1), upsert(5, "e", 1)}); err != nil {
		t.Fatal(err)
	}
	// One row in byTime: flushed by the "interval" rule after 150ms.
	if _, err := h.store.Write(ctx, byTime, "", []Change{upsert(1, "a", 1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "policy flushes", func() bool { return len(sink.finished()) >= 2 })
	triggers := map[string]string{}
	for _, j := range sink.finished() {
		triggers[j.TableID] = j.Trigger
		if j.NodeID != "node-flush" || j.Status != JobCompleted || j.Rows == 0 || j.Bytes == 0 || j.FinishedAt.Before(j.StartedAt) {
			t.Errorf("job record %+v", j)
		}
	}
	if triggers["tbl01"] != "rows" || triggers["tbl02"] != "interval" {
		t.Fatalf("triggers = %v", triggers)
	}

	// FLUSH TABLE flushes on demand.
	if _, err := h.store.Write(ctx, manual, "", []Change{upsert(7, "x", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := f.FlushTable(ctx, manual.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range h.buf.Partitions() {
		if p.TableID == manual.ID {
			t.Fatalf("FlushTable left %+v buffered", p)
		}
	}

	// Shutdown flushes what is left.
	if _, err := h.store.Write(ctx, byRows, "u2", []Change{upsert(9, "late", 1)}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left := h.buf.Partitions(); len(left) != 0 {
		t.Fatalf("shutdown left %+v buffered", left)
	}
	last := sink.finished()[len(sink.finished())-1]
	if last.Trigger != "shutdown" || last.Partition != "u2" {
		t.Fatalf("last job %+v, want the shutdown flush of u2", last)
	}
	if got := h.scan(byRows, "u2", ScanOptions{}); len(got) != 1 {
		t.Fatalf("u2 rows after shutdown flush: %v", got)
	}
}

func TestFlusherRecordsFailures(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMem())
	h := newHarness(t, faulty)
	tb := testTable()
	sink := &memSink{}
	f := NewFlusher(h.store, h.buf, lookupOf(tb), sink, FlushPolicy{})
	if _, err := h.store.Write(ctx, tb, "", []Change{upsert(1, "a", 1)}); err != nil {
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
	jobs := sink.finished()
	if len(jobs) != 1 || jobs[0].Status != JobFailed || jobs[0].Error == "" {
		t.Fatalf("jobs = %+v", jobs)
	}
	// Nothing acknowledged is lost: the row is still readable from the buffer.
	faulty.SetHook(nil)
	if got := h.scan(tb, "", ScanOptions{}); len(got) != 1 {
		t.Fatalf("rows after failed flush: %v", got)
	}
	if err := f.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.scan(tb, "", ScanOptions{}); len(got) != 1 || len(h.buf.Partitions()) != 0 {
		t.Fatalf("after retry: rows %v, buffer %+v", got, h.buf.Partitions())
	}
}
