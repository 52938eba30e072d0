package tablestore

import (
	"context"
	"fmt"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
)

// Lookups in a flushed segment are answered from its compact index after
// the first one: the answers equal the written rows (present, absent,
// deleted, NULL and multi-byte values), and only the first lookup reads
// the segment from the object store. A cache too small for the index
// gives the same answers by reading the segment on every lookup.
func TestLookupSegmentIndex(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewCounting(objstore.NewMem())
	h := newHarness(t, bucket)
	tb := testTable()
	const n = 20_000
	model := map[int64]row.Row{}
	var changes []Change
	for id := int64(0); id < n; id += 2 { // odd ids are absent
		c := upsert(id, fmt.Sprintf("näme-%d-🦆", id), int32(id))
		if id%10 == 0 {
			c.Values[2] = row.Null()
		}
		changes = append(changes, c)
		model[id] = c.Values
	}
	if _, err := h.store.Write(ctx, tb, "alice", changes); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Write(ctx, tb, "alice", []Change{del(4), del(6)}); err != nil {
		t.Fatal(err)
	}
	delete(model, 4)
	delete(model, 6)
	if _, err := h.store.Flush(ctx, tb, "alice"); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, s *Store, ids []int64) {
		t.Helper()
		for _, id := range ids {
			v, found, err := s.Lookup(ctx, tb, "alice", row.Row{row.BigInt(id)})
			if err != nil {
				t.Fatalf("lookup %d: %v", id, err)
			}
			want, ok := model[id]
			if found != ok || ok && !v.Values.Equal(want) {
				t.Fatalf("lookup %d: got %v (found %v), want %v (found %v)", id, v.Values, found, want, ok)
			}
		}
	}
	ids := []int64{0, 1, 2, 4, 6, 10, 9999, 10000, n - 2, n - 1, n, -1}
	for id := int64(3); id < n; id += 997 {
		ids = append(ids, id, id+1)
	}

	t.Run("indexed", func(t *testing.T) {
		s := New(bucket, h.buf, Options{NodeID: "node-test"})
		check(t, s, ids[:1])
		bucket.Reset()
		check(t, s, ids)
		if got := bucket.Counts(); got.Get+got.GetRange != 0 {
			t.Fatalf("indexed lookups read the object store: %v", got)
		}
		if len(s.points.entries) != 1 {
			t.Fatalf("%d segment indexes cached, want 1", len(s.points.entries))
		}
	})
	t.Run("too large to index", func(t *testing.T) {
		s := New(bucket, h.buf, Options{NodeID: "node-test", PointCacheBytes: 64 << 10})
		bucket.Reset()
		check(t, s, ids)
		if got := bucket.Counts(); got.Get+got.GetRange < int64(len(ids))/2 {
			t.Fatalf("lookups without an index read the store only %v times", got)
		}
		if len(s.points.entries) != 0 {
			t.Fatalf("a segment index larger than half the cache was kept")
		}
	})
}

// BenchmarkLookupFlushed: a primary-key lookup of a flushed row in a
// 100k-row segment, with the segment index cached (the default) and
// without (PointCacheBytes < 0: each lookup reads the segment).
func BenchmarkLookupFlushed(b *testing.B) {
	ctx := context.Background()
	h := newHarness(b, objstore.NewMem())
	tb := testTable()
	const n = 100_000
	changes := make([]Change, 0, n)
	for id := range int64(n) {
		changes = append(changes, upsert(id, fmt.Sprintf("name-%d", id), int32(id)))
	}
	if _, err := h.store.Write(ctx, tb, "", changes); err != nil {
		b.Fatal(err)
	}
	if _, err := h.store.Flush(ctx, tb, ""); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		bytes int64
	}{{"indexed", 0}, {"unindexed", -1}} {
		b.Run(c.name, func(b *testing.B) {
			s := New(h.bucket, h.buf, Options{NodeID: "node-test", PointCacheBytes: c.bytes})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				id := int64(i*7919) % n
				v, found, err := s.Lookup(ctx, tb, "", row.Row{row.BigInt(id)})
				if err != nil || !found || v.Values[0].Int64() != id {
					b.Fatal(err, found, v)
				}
			}
		})
	}
}
