package tablestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

func testTable() *manifest.Table {
	return &manifest.Table{
		ID: "tbl01", Namespace: "app", Name: "items", Type: manifest.TableUser,
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "name", Type: manifest.Text, Nullable: true},
			{ID: 3, Name: "qty", Type: manifest.Int, Nullable: true},
		},
		PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 4,
	}
}

type harness struct {
	t      testing.TB
	bucket objstore.Bucket
	dir    string
	buf    *wbuf.Buffer
	store  *Store
}

func newHarness(t testing.TB, bucket objstore.Bucket) *harness {
	h := &harness{t: t, bucket: bucket, dir: t.TempDir()}
	h.open()
	t.Cleanup(func() {
		if h.buf != nil {
			h.buf.Close()
		}
	})
	return h
}

// open (re)opens the buffer and a fresh Store, as a restarted process would.
func (h *harness) open() {
	h.t.Helper()
	buf, err := wbuf.Open(wbuf.Options{Dir: h.dir})
	if err != nil {
		h.t.Fatal(err)
	}
	h.buf = buf
	h.store = New(h.bucket, buf, Options{NodeID: "node-test"})
}

func (h *harness) restart() {
	h.t.Helper()
	if err := h.buf.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// scan returns the partition's visible rows by id.
func (h *harness) scan(tb *manifest.Table, partition string, opts ScanOptions) map[int64]row.Row {
	h.t.Helper()
	out := map[int64]row.Row{}
	var last int64
	first := true
	for v, err := range h.store.Scan(context.Background(), tb, partition, opts) {
		if err != nil {
			h.t.Fatalf("scan: %v", err)
		}
		id := v.Values[0].Int64()
		if !first && id <= last {
			h.t.Fatalf("scan out of key order: %d after %d", id, last)
		}
		if _, dup := out[id]; dup {
			h.t.Fatalf("key %d returned twice", id)
		}
		first, last = false, id
		out[id] = v.Values
	}
	return out
}

func upsert(id int64, name string, qty int32) Change {
	return Change{Values: row.Row{row.BigInt(id), row.Text(name), row.Int(qty)}}
}

func del(id int64) Change {
	return Change{Deleted: true, Values: row.Row{row.BigInt(id), row.Null(), row.Null()}}
}

// A random sequence of upserts, deletes, flushes and restarts, checked after
// every step against a map: reads merge buffer and segments correctly.
func TestRandomOpsMatchModel(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		ctx := context.Background()
		h := newHarness(t, b)
		tb := testTable()
		model := map[int64]row.Row{}
		r := rand.New(rand.NewPCG(7, 9))
		steps := 300
		if strings.HasPrefix(b.Name(), "s3://") {
			steps = 100 // every step re-reads every segment over HTTP
		}
		var lastSeq uint64
		for step := 0; step < steps; step++ {
			switch op := r.IntN(20); {
			case op < 14:
				var batch []Change
				for i := 0; i < 1+r.IntN(5); i++ {
					id := r.Int64N(40)
					if r.IntN(4) == 0 {
						batch = append(batch, del(id))
					} else {
						batch = append(batch, upsert(id, fmt.Sprintf("n%d-%d", id, step), int32(step)))
					}
				}
				first, err := h.store.Write(ctx, tb, "alice", batch)
				if err != nil {
					t.Fatal(err)
				}
				if first <= lastSeq {
					t.Fatalf("step %d: _seq %d not above %d", step, first, lastSeq)
				}
				lastSeq = first + uint64(len(batch)) - 1
				for _, c := range batch {
					if c.Deleted {
						delete(model, c.Values[0].Int64())
					} else {
						model[c.Values[0].Int64()] = c.Values
					}
				}
			case op < 18:
				if _, err := h.store.Flush(ctx, tb, "alice"); err != nil {
					t.Fatal(err)
				}
			default:
				h.restart()
			}
			got := h.scan(tb, "alice", ScanOptions{})
			if !maps.EqualFunc(got, model, row.Row.Equal) {
				t.Fatalf("step %d: scan differs from model\n got %v\nwant %v", step, got, model)
			}
			// Point lookups see the same rows (checked every 8th step: 84
			// lookups per check, half of them reading segments uncached).
			if step%8 == 7 || step == steps-1 {
				h.checkLookups(tb, "alice", model, 42)
			}
		}
		// Another user's partition stays empty: partitions are separate.
		if other := h.scan(tb, "bob", ScanOptions{}); len(other) != 0 {
			t.Fatalf("bob sees %d rows of alice", len(other))
		}
	})
}

// checkLookups checks Lookup of the keys 0..n-1 against model, through
// the harness's store (decoded segments cached) and through a store that
// caches none (each lookup reads the segments).
func (h *harness) checkLookups(tb *manifest.Table, partition string, model map[int64]row.Row, n int64) {
	h.t.Helper()
	uncached := New(h.bucket, h.buf, Options{NodeID: "node-test", PointCacheBytes: -1})
	for _, s := range []*Store{h.store, uncached} {
		for id := range n {
			v, found, err := s.Lookup(context.Background(), tb, partition, row.Row{row.BigInt(id)})
			if err != nil {
				h.t.Fatalf("lookup %d: %v", id, err)
			}
			want, ok := model[id]
			if found != ok || ok && !v.Values.Equal(want) {
				h.t.Fatalf("lookup %d: got %v (found %v), want %v (found %v)", id, v.Values, found, want, ok)
			}
		}
	}
}

// A crash after the manifest commit but before the buffer trim: no row
// shows twice, no deleted row returns, the next flush trims the buffer.
func TestCrashBetweenCommitAndTrim(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	if _, err := h.store.Write(ctx, tb, "", []Change{upsert(1, "a", 1), upsert(2, "b", 2), upsert(3, "c", 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Flush(ctx, tb, ""); err != nil {
		t.Fatal(err)
	}
	// Delete 2 and update 3, then "crash" right after the commit.
	if _, err := h.store.Write(ctx, tb, "", []Change{del(2), upsert(3, "c2", 30)}); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	h.store.afterCommit = func() error { return crash }
	if _, err := h.store.Flush(ctx, tb, ""); !errors.Is(err, crash) {
		t.Fatalf("flush err = %v", err)
	}
	h.restart()
	want := map[int64]row.Row{1: upsert(1, "a", 1).Values, 3: upsert(3, "c2", 30).Values}
	if got := h.scan(tb, "", ScanOptions{}); !maps.EqualFunc(got, want, row.Row.Equal) {
		t.Fatalf("after crash: %v, want %v", got, want)
	}
	if n := h.buf.Partitions(); len(n) != 1 || n[0].Rows != 2 {
		t.Fatalf("buffer should still hold the 2 flushed versions: %+v", n)
	}
	res, err := h.store.Flush(ctx, tb, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Segment != "" || len(h.buf.Partitions()) != 0 {
		t.Fatalf("second flush wrote %q / left %+v; want no segment and an empty buffer", res.Segment, h.buf.Partitions())
	}
	if got := h.scan(tb, "", ScanOptions{}); !maps.EqualFunc(got, want, row.Row.Equal) {
		t.Fatalf("after cleanup: %v, want %v", got, want)
	}
}

// Time travel: each manifest version shows the partition as of its flush.
func TestScanAsOfManifestVersion(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	snapshots := []map[int64]row.Row{}
	model := map[int64]row.Row{}
	for round := 0; round < 4; round++ {
		batch := []Change{upsert(int64(round), "r", int32(round)), upsert(100, fmt.Sprint("v", round), int32(round))}
		if round == 2 {
			batch = append(batch, del(0))
		}
		if _, err := h.store.Write(ctx, tb, "", batch); err != nil {
			t.Fatal(err)
		}
		for _, c := range batch {
			if c.Deleted {
				delete(model, c.Values[0].Int64())
			} else {
				model[c.Values[0].Int64()] = c.Values
			}
		}
		res, err := h.store.Flush(ctx, tb, "")
		if err != nil {
			t.Fatal(err)
		}
		if res.ManifestVersion != uint64(round+1) {
			t.Fatalf("flush %d made manifest v%d", round, res.ManifestVersion)
		}
		snapshots = append(snapshots, maps.Clone(model))
	}
	// Unflushed writes are invisible to time travel.
	if _, err := h.store.Write(ctx, tb, "", []Change{upsert(500, "late", 1)}); err != nil {
		t.Fatal(err)
	}
	for v, want := range snapshots {
		if got := h.scan(tb, "", ScanOptions{ManifestVersion: uint64(v + 1)}); !maps.EqualFunc(got, want, row.Row.Equal) {
			t.Fatalf("as of v%d: %v, want %v", v+1, got, want)
		}
	}
}

// Losing the buffer entirely (a new disk) must not make _seq go back.
func TestSeqNeverGoesBackAfterBufferLoss(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	h := newHarness(t, bucket)
	tb := testTable()
	first, err := h.store.Write(ctx, tb, "u1", []Change{upsert(1, "a", 1), upsert(2, "b", 2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Flush(ctx, tb, "u1"); err != nil {
		t.Fatal(err)
	}
	h.buf.Close()
	h2 := newHarness(t, bucket) // new, empty buffer directory
	next, err := h2.store.Write(ctx, tb, "u1", []Change{upsert(3, "c", 3)})
	if err != nil {
		t.Fatal(err)
	}
	if next <= first+1 {
		t.Fatalf("_seq %d after buffer loss is not above %d", next, first+1)
	}
	if got := h2.scan(tb, "u1", ScanOptions{}); len(got) != 3 {
		t.Fatalf("rows = %v", got)
	}
}

// A node whose writer epoch was superseded cannot commit flushes.
func TestFlushFencedByNewerEpoch(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	h := newHarness(t, bucket)
	h.store.opts.WriterEpoch = 1
	tb := testTable()
	if _, err := h.store.Write(ctx, tb, "", []Change{upsert(1, "a", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Flush(ctx, tb, ""); err != nil {
		t.Fatal(err)
	}
	// A newer node (epoch 2) commits to the partition.
	newer := manifest.NewPartitionLog(bucket, tb.ID, "", manifest.LogOptions{NodeID: "node-new"})
	if _, err := newer.Commit(ctx, func(p *manifest.Partition) (*manifest.Partition, error) { return p, nil },
		manifest.CommitOptions{WriterEpoch: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Write(ctx, tb, "", []Change{upsert(2, "b", 2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Flush(ctx, tb, ""); !errors.Is(err, manifest.ErrFenced) {
		t.Fatalf("flush by fenced node: err = %v, want ErrFenced", err)
	}
	// Once fenced, the node refuses new writes instead of acknowledging
	// rows it can never flush.
	if _, err := h.store.Write(ctx, tb, "", []Change{upsert(3, "c", 3)}); !errors.Is(err, manifest.ErrFenced) {
		t.Fatalf("write after fencing: err = %v, want ErrFenced", err)
	}
}

// A warm flush costs the segment PUT and the manifest PUT: it builds on
// the manifest of the node's last commit. When another process committed
// meanwhile without moving LastSeq (a compaction), the manifest put fails
// and the flush commits on the latest version.
func TestFlushRequests(t *testing.T) {
	ctx := context.Background()
	c := objstore.NewCounting(objstore.NewMem())
	h := newHarness(t, c)
	tb := testTable()
	model := map[int64]row.Row{}
	h.mustWrite(tb, "", model, upsert(1, "a", 1))
	h.mustFlush(tb, "")
	h.mustWrite(tb, "", model, upsert(2, "b", 2))
	c.Reset()
	if res := h.mustFlush(tb, ""); res.ManifestVersion != 2 {
		t.Fatalf("flush committed v%d", res.ManifestVersion)
	}
	if n := c.Counts(); n.Put != 2 || n.Total() != 2 {
		t.Fatalf("warm flush made %v, want 2 puts", n)
	}

	other := manifest.NewPartitionLog(c, tb.ID, "", manifest.LogOptions{NodeID: "compactor"})
	if _, err := other.Commit(ctx, func(p *manifest.Partition) (*manifest.Partition, error) { return p, nil }, manifest.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	h.mustWrite(tb, "", model, upsert(3, "c", 3))
	c.Reset()
	if res := h.mustFlush(tb, ""); res.ManifestVersion != 4 {
		t.Fatalf("flush committed v%d, want v4", res.ManifestVersion)
	}
	// Segment PUT, manifest PUT (taken), read-back GET, LIST, manifest PUT.
	if n := c.Counts(); n.Put != 3 || n.Get != 1 || n.List != 1 || n.Total() != 5 {
		t.Fatalf("flush on a stale manifest made %v", n)
	}
	h.checkScan(tb, "", ScanOptions{}, model)
	if got := h.partitionManifest(tb, ""); got.LastSeq != 3 || len(got.Segments) != 3 {
		t.Fatalf("manifest v%d: LastSeq %d, %d segments", got.Version, got.LastSeq, len(got.Segments))
	}
}

func TestWriteRejectsBadRows(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, objstore.NewMem())
	tb := testTable()
	tb.Columns[2].Nullable = false
	cases := map[string]Change{
		"null key":       {Values: row.Row{row.Null(), row.Text("x"), row.Int(1)}},
		"wrong type":     {Values: row.Row{row.Text("1"), row.Text("x"), row.Int(1)}},
		"too few values": {Values: row.Row{row.BigInt(1)}},
		"not null":       {Values: row.Row{row.BigInt(1), row.Text("x"), row.Null()}},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		if _, err := h.store.Write(ctx, tb, "", []Change{cases[name]}); !errors.Is(err, ErrInvalidRow) {
			t.Errorf("%s: err = %v, want ErrInvalidRow", name, err)
		}
	}
	if got := h.scan(tb, "", ScanOptions{}); len(got) != 0 {
		t.Fatalf("rejected batch left rows: %v", got)
	}
}

// A damaged or truncated segment object fails the read with an error that
// names the object; it is never served as data.
func TestCorruptSegmentNamesObject(t *testing.T) {
	ctx := context.Background()
	for _, damage := range []string{"flip", "truncate"} {
		t.Run(damage, func(t *testing.T) {
			bucket := objstore.NewMem()
			h := newHarness(t, bucket)
			tb := testTable()
			var batch []Change
			for id := int64(0); id < 200; id++ {
				batch = append(batch, upsert(id, fmt.Sprintf("name-%d", id), int32(id)))
			}
			if _, err := h.store.Write(ctx, tb, "", batch); err != nil {
				t.Fatal(err)
			}
			res, err := h.store.Flush(ctx, tb, "")
			if err != nil {
				t.Fatal(err)
			}
			rc, _, err := bucket.Get(ctx, res.Segment)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			switch damage {
			case "flip":
				data[len(data)/3] ^= 0x5A
			case "truncate":
				data = data[:len(data)-10]
			}
			if _, err := bucket.Put(ctx, res.Segment, data, objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			var scanErr error
			for _, err := range h.store.Scan(ctx, tb, "", ScanOptions{}) {
				if err != nil {
					scanErr = err
					break
				}
			}
			if scanErr == nil || !strings.Contains(scanErr.Error(), res.Segment) {
				t.Fatalf("scan of a damaged segment: err = %v, want one naming %s", scanErr, res.Segment)
			}
		})
	}
}
