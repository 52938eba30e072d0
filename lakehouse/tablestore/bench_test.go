package tablestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
)

// BenchmarkFlush measures flushing a partition of n buffered rows to one
// segment on the local directory backend: buffer scan, Parquet encoding,
// upload and manifest commit. rows/s is per second of wall time; rows/cpu-s
// per second of the CPU time the whole process used during the flushes
// (garbage collection and background work included): the per-core rate.
func BenchmarkFlush(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			ctx := context.Background()
			bucket, err := objstore.NewFS(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			h := &harness{t: b, bucket: bucket, dir: b.TempDir()}
			h.open()
			defer h.buf.Close()
			tb := testTable()
			batch := make([]Change, 1000)
			var segBytes int64
			var cpu time.Duration
			cpuOK := true
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				for start := 0; start < n; start += len(batch) {
					for j := range batch {
						id := int64(i*n + start + j)
						batch[j] = Change{Values: row.Row{row.BigInt(id), row.Text(fmt.Sprintf("item-%d", id)), row.Int(int32(j))}}
					}
					if _, err := h.store.Write(ctx, tb, "", batch); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				cpu0, ok0 := processCPU()
				res, err := h.store.Flush(ctx, tb, "")
				cpu1, ok1 := processCPU()
				cpu += cpu1 - cpu0
				cpuOK = cpuOK && ok0 && ok1
				if err != nil {
					b.Fatal(err)
				}
				if res.Rows != int64(n) {
					b.Fatalf("flushed %d rows, want %d", res.Rows, n)
				}
				segBytes = res.Bytes
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if cpuOK && cpu > 0 {
				b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
			}
			b.ReportMetric(float64(segBytes)/float64(n), "segment-bytes/row")
		})
	}
}
