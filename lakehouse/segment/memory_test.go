package segment_test

import (
	"encoding/hex"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// heapPeak samples HeapInuse every few milliseconds until stop is called,
// which returns the peak above the starting heap.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		if p := peak.Load(); p > base {
			return p - base
		}
		return 0
	}
}

func largeTable() *manifest.Table {
	return &manifest.Table{ID: "big", Namespace: "n", Name: "big", SchemaVersion: 1, PrimaryKey: []string{"id"},
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "name", Type: manifest.Text},
			{ID: 3, Name: "amount", Type: manifest.Double, Nullable: true},
			{ID: 4, Name: "at", Type: manifest.Timestamp},
		}}
}

// generate yields n versions of largeTable without keeping them.
func generate(n int) iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		rng := rand.New(rand.NewPCG(1, 1))
		var b [16]byte
		for i := range n {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			v := row.Version{Seq: uint64(n - i), SchemaVersion: 1, Values: row.Row{
				row.BigInt(int64(i)), row.Text(hex.EncodeToString(b[:])), row.Double(rng.Float64()),
				row.Timestamp(1_700_000_000_000_000 + int64(i)*1000),
			}}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// TestLargeWriteHeapIsBounded writes 2M rows (about 110 MB of values) and
// reads them back, reporting the peak heap. The bound asserted is loose on
// purpose: it only catches a writer or reader that keeps the whole segment.
func TestLargeWriteHeapIsBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("large write: run without -short and -race")
	}
	const rows = 2_000_000
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	table := largeTable()
	path := filepath.Join(t.TempDir(), "big.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	stop := heapPeak()
	start := time.Now()
	info, err := segment.Write(f, table, generate(rows), segment.WriterOptions{})
	writePeak, writeTime := stop(), time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != rows {
		t.Fatalf("wrote %d rows", info.Rows)
	}

	stop = heapPeak()
	start = time.Now()
	rd, err := segment.Open(f, info.Bytes, path, table)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	var last int64 = -1
	for v, err := range rd.Versions() {
		if err != nil {
			t.Fatal(err)
		}
		if id := v.Values[0].Int64(); id != last+1 {
			t.Fatalf("row %d has id %d", n, id)
		}
		last++
		n++
	}
	readPeak, readTime := stop(), time.Since(start)
	if n != rows {
		t.Fatalf("read %d rows", n)
	}
	t.Logf("%d rows, %.1f MB file: write %v, peak heap +%.1f MiB; read %v, peak heap +%.1f MiB",
		rows, float64(info.Bytes)/1e6, writeTime.Round(time.Millisecond), float64(writePeak)/(1<<20),
		readTime.Round(time.Millisecond), float64(readPeak)/(1<<20))
	// Observed: write about +30 MiB, read about +10 MiB (garbage included).
	// A writer that kept the file (86 MB) would fail.
	const bound = 64 << 20
	if writePeak > bound || readPeak > bound {
		t.Errorf("peak heap above %d MiB: write +%d MiB, read +%d MiB", bound>>20, writePeak>>20, readPeak>>20)
	}
}
