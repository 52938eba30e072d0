package wbuf

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/row"
)

// openTest opens a buffer in a fresh directory (or opts.Dir) and closes it
// at the end of the test.
func openTest(t testing.TB, opts Options) *Buffer {
	t.Helper()
	if opts.Dir == "" && opts.fs == nil {
		opts.Dir = t.TempDir()
	}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// pk encodes an integer primary key.
func pk(i int64) []byte { return row.AppendKey(nil, row.BigInt(i)) }

// upsert is a one-column-key row (id, text).
func upsert(id int64, s string) Mutation {
	return Mutation{Key: pk(id), SchemaVersion: 1, Values: row.Row{row.BigInt(id), row.Text(s)}}
}

func tombstone(id int64) Mutation {
	return Mutation{Key: pk(id), Deleted: true, SchemaVersion: 1, Values: row.Row{row.BigInt(id), row.Null()}}
}

// mustWrite writes muts and returns the first seq.
func mustWrite(t testing.TB, b *Buffer, p PartitionKey, muts ...Mutation) uint64 {
	t.Helper()
	first, err := b.Write(context.Background(), p, muts)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

// scan collects the versions of p in a fresh snapshot.
func scan(t testing.TB, b *Buffer, p PartitionKey, opts ScanOptions) []Entry {
	t.Helper()
	s := b.Snapshot()
	defer s.Close()
	return collect(t, s, p, opts)
}

func collect(t testing.TB, s *Snapshot, p PartitionKey, opts ScanOptions) []Entry {
	t.Helper()
	var out []Entry
	for e, err := range s.Versions(context.Background(), p, opts) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// seqs returns the seqs of entries, in order.
func seqs(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Version.Seq
	}
	return out
}

// checkConsistent fails the test if the persisted partition states do not
// match the versions.
func checkConsistent(t testing.TB, b *Buffer) {
	t.Helper()
	if err := b.checkStates(); err != nil {
		t.Fatal(err)
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []uint64) []uint64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
