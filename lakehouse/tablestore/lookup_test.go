package tablestore

import (
	"context"
	"fmt"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
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
		if n := cachedIndexes(s); n != 1 {
			t.Fatalf("%d segment indexes cached, want 1", n)
		}
	})
	t.Run("too large to index", func(t *testing.T) {
		s := New(bucket, h.buf, Options{NodeID: "node-test", PointCacheBytes: 64 << 10})
		bucket.Reset()
		check(t, s, ids)
		if got := bucket.Counts(); got.Get+got.GetRange < int64(len(ids))/2 {
			t.Fatalf("lookups without an index read the store only %v times", got)
		}
		if cachedIndexes(s) != 0 {
			t.Fatalf("a segment index larger than half the cache was kept")
		}
	})
}

// cachedIndexes counts the segment and row-group indexes in s's point
// cache (not the row-group maps).
func cachedIndexes(s *Store) int {
	s.points.mu.Lock()
	defer s.points.mu.Unlock()
	n := 0
	for _, e := range s.points.entries {
		if _, ok := e.Value.(*segmentIndex); ok {
			n++
		}
	}
	return n
}

// A segment of many row groups is searched one row group at a time: a
// lookup reads and indexes only the group whose footer statistics may hold
// its key, so a point cache far smaller than the whole segment's index
// still answers every later lookup without reading the object store (the
// segment-wide index of the old code did not fit, and every lookup read
// the segment). Answers equal a model for present, absent and deleted keys
// in every group, at group edges and outside the segment, and for a text
// key, whose statistics are not trusted (every group is searched, each
// once).
func TestLookupRowGroups(t *testing.T) {
	ctx := context.Background()
	const n, perGroup = 40_000, 1000
	for _, text := range []bool{false, true} {
		t.Run(fmt.Sprintf("text key %v", text), func(t *testing.T) {
			bucket := objstore.NewCounting(objstore.NewMem())
			h := newHarness(t, bucket)
			tb := testTable()
			keyOf := func(id int64) row.Value { return row.BigInt(id) }
			if text {
				tb.Columns[0].Type = manifest.Text
				keyOf = func(id int64) row.Value { return row.Text(fmt.Sprintf("k%08d", id)) }
			}
			model := map[int64]row.Row{}
			var changes []Change
			for id := int64(0); id < n; id += 2 { // odd ids are absent
				c := upsert(0, fmt.Sprintf("v%d", id), int32(id))
				c.Values[0] = keyOf(id)
				changes = append(changes, c)
				model[id] = c.Values
			}
			if _, err := h.store.Write(ctx, tb, "", changes); err != nil {
				t.Fatal(err)
			}
			for _, id := range []int64{perGroup * 2, perGroup*2 + 2, n - 2} {
				d := del(0)
				d.Values[0] = keyOf(id)
				if _, err := h.store.Write(ctx, tb, "", []Change{d}); err != nil {
					t.Fatal(err)
				}
				delete(model, id)
			}
			writer := New(bucket, h.buf, Options{NodeID: "node-test", Segment: segment.WriterOptions{RowGroupRows: perGroup}})
			if _, err := writer.Flush(ctx, tb, ""); err != nil {
				t.Fatal(err)
			}
			// Each group's index takes ~40 KiB: 256 KiB holds a few, the
			// whole segment's (~800 KiB) does not fit in half of it.
			s := New(bucket, h.buf, Options{NodeID: "node-test", PointCacheBytes: 256 << 10})
			check := func(id int64) {
				t.Helper()
				v, found, err := s.Lookup(ctx, tb, "", row.Row{keyOf(id)})
				if err != nil {
					t.Fatalf("lookup %d: %v", id, err)
				}
				want, ok := model[id]
				if found != ok || ok && !v.Values.Equal(want) {
					t.Fatalf("lookup %d: got %v (found %v), want %v (found %v)", id, v.Values, found, want, ok)
				}
			}

			id := int64(17*perGroup + 2) // the middle of group 8 (2 rows per id step)
			check(id)
			if got, want := cachedIndexes(s), 1; !text && got != want {
				t.Fatalf("one lookup cached %d row-group indexes, want %d (only its group)", got, want)
			}
			bucket.Reset()
			for _, k := range []int64{id, id + 2, id - 2, id + 1} {
				check(k)
			}
			if got := bucket.Counts(); !text && got.Get+got.GetRange != 0 {
				t.Fatalf("lookups in a cached row group read the object store: %v", got)
			}

			// Every kind of key, all over the segment.
			ids := []int64{-1, 0, 1, perGroup*2 - 2, perGroup * 2, perGroup*2 + 2, perGroup*2 - 1, n - 4, n - 2, n - 1, n, n + 10}
			for k := int64(3); k < n; k += 331 {
				ids = append(ids, k, k+1)
			}
			for _, k := range ids {
				check(k)
			}
			// Twice: the second pass is answered from the cached groups
			// that stayed (some were evicted: the cache holds a few).
			for _, k := range ids[:6] {
				check(k)
			}
			bucket.Reset()
			for _, k := range ids[:6] {
				check(k)
			}
			if got := bucket.Counts(); got.Get+got.GetRange != 0 {
				t.Fatalf("repeated lookups of cached groups read the object store: %v", got)
			}
		})
	}
}

// BenchmarkLookupFlushed: a primary-key lookup of a flushed row in a
// 100k-row segment, with the segment index cached (the default), without
// (PointCacheBytes < 0: each lookup reads the segment), and — as for a
// large compacted segment — with a cache too small to keep the segment's
// index as one entry (at most half of it) but large enough for all of its
// row groups' (8192-row groups, 8 MiB of cache: each group is read and
// indexed once; before row groups were searched apart, every lookup read
// the segment).
func BenchmarkLookupFlushed(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		bytes     int64
		groupRows int64
	}{{"indexed", 0, 0}, {"unindexed", -1, 0}, {"small cache, 8192-row groups", 8 << 20, 8192}} {
		b.Run(c.name, func(b *testing.B) {
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
			writer := New(h.bucket, h.buf, Options{NodeID: "node-test", Segment: segment.WriterOptions{RowGroupRows: c.groupRows}})
			if _, err := writer.Flush(ctx, tb, ""); err != nil {
				b.Fatal(err)
			}
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
