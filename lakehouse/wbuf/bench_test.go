package wbuf

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
)

// benchRow is a typical small row: id, name, score, timestamp.
func benchRow(id int64) Mutation {
	return Mutation{
		Key:           row.AppendKey(nil, row.BigInt(id)),
		SchemaVersion: 1,
		Values:        row.Row{row.BigInt(id), row.Text("user-name-0123456789"), row.Double(float64(id) / 3), row.Timestamp(1_700_000_000_000_000 + id)},
	}
}

// BenchmarkWrite measures acknowledged (WAL-synced) writes of batches of
// `rows` rows by `writers` concurrent writers, on one partition or on one
// partition per writer.
func BenchmarkWrite(b *testing.B) {
	for _, tc := range []struct{ rows, writers, partitions int }{
		{1, 1, 1}, {1, 16, 1}, {1, 16, 16},
		{1000, 1, 1}, {1000, 16, 1}, {1000, 16, 16},
	} {
		b.Run(fmt.Sprintf("rows=%d/writers=%d/partitions=%d", tc.rows, tc.writers, tc.partitions), func(b *testing.B) {
			buf := openTest(b, Options{MaxBytes: 1 << 40})
			ctx := context.Background()
			// Each writer rewrites its own rows (new versions of the same
			// keys), built once so that allocations are Write's own.
			var writerID atomic.Int64
			newWriter := func() func() {
				w := writerID.Add(1) - 1
				muts := make([]Mutation, tc.rows)
				for i := range muts {
					muts[i] = benchRow(w*int64(tc.rows) + int64(i))
				}
				p := PartitionKey{TableID: "bench", Partition: fmt.Sprint(w % int64(tc.partitions))}
				return func() {
					if _, err := buf.Write(ctx, p, muts); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			if tc.writers == 1 {
				write := newWriter()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					write()
				}
			} else {
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((tc.writers + procs - 1) / procs)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					write := newWriter()
					for pb.Next() {
						write()
					}
				})
			}
			b.ReportMetric(float64(b.N*tc.rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkVersionsScan scans a partition of 100k versions (50k keys, two
// versions each), all of them or only the latest per key.
func BenchmarkVersionsScan(b *testing.B) {
	buf := openTest(b, Options{})
	ctx := context.Background()
	p := PartitionKey{TableID: "bench"}
	const keys, batch = 50_000, 1000
	for v := range 2 {
		for start := 0; start < keys; start += batch {
			muts := make([]Mutation, batch)
			for i := range muts {
				muts[i] = benchRow(int64(start + i))
				muts[i].Values[1] = row.Text(fmt.Sprint("version-", v))
			}
			if _, err := buf.Write(ctx, p, muts); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		opts ScanOptions
		want int
	}{
		{"all", ScanOptions{}, 2 * keys},
		{"latest", ScanOptions{LatestOnly: true}, keys},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := buf.Snapshot()
				n := 0
				for _, err := range s.Versions(ctx, p, tc.opts) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				s.Close()
				if n != tc.want {
					b.Fatalf("%d versions, want %d", n, tc.want)
				}
			}
			b.ReportMetric(float64(b.N*tc.want)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
