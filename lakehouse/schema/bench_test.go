package schema

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkArrowSchema compares the memoized lookup with building the same
// schema from its definition; `make bench` reports the ratio.
func BenchmarkArrowSchema(b *testing.B) {
	reg, _ := newTestRegistry(1)
	snap, err := reg.Current(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	tb, _ := snap.TableByID("t000000")
	if _, err := tb.ArrowSchema(); err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tb.ArrowSchema(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-by-id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reg.ArrowSchema("t000000"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tb.ArrowSchema(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("uncached-build", func(b *testing.B) {
		b.ReportAllocs()
		def := tb.Def()
		for b.Loop() {
			if _, err := BuildArrowSchema(def); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLookups1000 performs 1000 lookups of one table on a fresh
// registry per iteration and reports the hit and miss counts per 1000.
func BenchmarkLookups1000(b *testing.B) {
	var hits, misses uint64
	for b.Loop() {
		reg, _ := newTestRegistry(1)
		snap, err := reg.Current(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		tb, _ := snap.TableByID("t000000")
		for i := 0; i < 1000; i++ {
			if _, err := tb.ArrowSchema(); err != nil {
				b.Fatal(err)
			}
		}
		st := reg.Stats()
		hits, misses = st.Hits, st.Misses
	}
	b.ReportMetric(float64(hits), "hits/1000")
	b.ReportMetric(float64(misses), "misses/1000")
}

// BenchmarkHeap1000Tables measures the live heap held by the memoized Arrow
// schemas of 1000 ten-column tables (the catalog itself excluded).
func BenchmarkHeap1000Tables(b *testing.B) {
	reg, _ := newTestRegistry(1000)
	snap, err := reg.Current(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var bytes uint64
	for b.Loop() {
		reg.Clear()
		snap, err = reg.Current(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		before := liveHeap()
		for _, def := range snap.Catalog().Tables {
			if _, err := reg.ArrowSchema(def.ID); err != nil {
				b.Fatal(err)
			}
		}
		bytes = liveHeap() - before
	}
	runtime.KeepAlive(snap)
	b.ReportMetric(float64(bytes), "heap-bytes/1000tables")
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkInstallAt: Install of a catalog version that differs from the
// installed one by one table (what every DDL statement does), at N tables.
func BenchmarkInstallAt(b *testing.B) {
	for _, n := range []int{0, 1000, 5000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			reg, _ := newTestRegistry(n)
			base, err := reg.Current(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			cat := base.Catalog().Clone()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				next := cat.Clone()
				next.Version = cat.Version + 1
				next.Tables = append(next.Tables, tenColumnTable(n+1+i%2))
				reg.Install(next)
				cat = next
				cat.Tables = cat.Tables[:n]
			}
		})
	}
}
