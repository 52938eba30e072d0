package wbuf

import (
	"context"
	"strings"
	"testing"
)

// TestReadsHitBlockCache: once a partition's state and versions have left
// the memtable, repeated lookups are served from Pebble's block cache
// instead of reading the table file on every call. (Pebble charges the
// memtables to the cache; a cache no larger than them caches nothing.)
func TestReadsHitBlockCache(t *testing.T) {
	b := openTest(t, Options{})
	ctx := context.Background()
	p := PartitionKey{TableID: "t"}
	mustWrite(t, b, p, upsert(7, "x"))
	// Pebble's memtables grow as they fill (up to MemTableSize), as on a
	// node that has been writing for a while: 32 MiB of other writes.
	big := strings.Repeat("y", 1<<10)
	for i := range 32 {
		muts := make([]Mutation, 0, 1<<10)
		for j := range 1 << 10 {
			muts = append(muts, upsert(int64(i<<10+j), big))
		}
		mustWrite(t, b, PartitionKey{TableID: "other"}, muts...)
	}
	if err := b.db.Flush(); err != nil {
		t.Fatal(err)
	}
	lookup := func(id int64) {
		s := b.Snapshot()
		defer s.Close()
		n := 0
		for _, err := range s.Lookup(ctx, p, [][]byte{pk(id)}, 0) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 1 {
			t.Fatalf("lookup %d: %d versions, want 1", id, n)
		}
	}
	lookup(7) // warms the cache
	before := b.db.Metrics().BlockCache
	const n = 100
	for range n {
		lookup(7)
	}
	after := b.db.Metrics().BlockCache
	if misses := after.Misses - before.Misses; misses != 0 {
		t.Errorf("%d lookups of a cached key missed the block cache %d times (hits %d), want 0", n, misses, after.Hits-before.Hits)
	}
}
