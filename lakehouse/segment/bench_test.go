package segment_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

const benchRows = 200_000

func benchTable() *manifest.Table {
	return &manifest.Table{ID: "bench", Namespace: "n", Name: "orders", SchemaVersion: 1, PrimaryKey: []string{"id"},
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "customer", Type: manifest.Text},
			{ID: 3, Name: "amount", Type: manifest.Decimal(18, 2)},
			{ID: 4, Name: "price", Type: manifest.Double, Nullable: true},
			{ID: 5, Name: "created", Type: manifest.Timestamp},
			{ID: 6, Name: "paid", Type: manifest.Boolean, Nullable: true},
		}}
}

func benchVersions() []row.Version {
	rng := rand.New(rand.NewPCG(3, 4))
	vs := make([]row.Version, benchRows)
	for i := range vs {
		vs[i] = row.Version{Seq: uint64(benchRows - i), SchemaVersion: 1, Deleted: i%50 == 0, Values: row.Row{
			row.BigInt(int64(i) * 7),
			row.Text(fmt.Sprintf("customer-%06d", rng.IntN(50_000))),
			row.DecimalFromInt64(rng.Int64N(10_000_000)),
			row.Double(rng.Float64() * 1000),
			row.Timestamp(1_700_000_000_000_000 + int64(i)*1_000_000),
			row.Bool(rng.IntN(2) == 0),
		}}
		if vs[i].Deleted {
			for c := 1; c < 6; c++ {
				vs[i].Values[c] = row.Null()
			}
		}
	}
	return vs
}

// rawBytes is a rough size of the values: what a row costs before encoding.
func rawBytes(vs []row.Version) int64 {
	var n int64
	for _, v := range vs {
		n += 8 + 1 // _seq, _deleted
		for _, x := range v.Values {
			n += 8 + int64(len(x.Str()))
		}
	}
	return n
}

// BenchmarkWrite reports rows/s and, through SetBytes, MB/s of input
// values (8 bytes per fixed-width value, strings by length).
func BenchmarkWrite(b *testing.B) {
	table := benchTable()
	vs := benchVersions()
	for _, comp := range []string{"zstd", "snappy"} {
		b.Run(comp, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(rawBytes(vs))
			var size int64
			for b.Loop() {
				info, err := segment.Write(io.Discard, table, seqOf(vs), segment.WriterOptions{Compression: comp})
				if err != nil {
					b.Fatal(err)
				}
				size = info.Bytes
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(size), "file-bytes")
		})
	}
}

// BenchmarkWriteSmall writes segments of 10 rows, as a direct commit does:
// the fixed cost of a write (writer and compressor set-up) dominates.
func BenchmarkWriteSmall(b *testing.B) {
	table := benchTable()
	vs := benchVersions()[:10]
	for _, comp := range []string{"zstd", "snappy"} {
		b.Run(comp, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := segment.Write(io.Discard, table, seqOf(vs), segment.WriterOptions{Compression: comp}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVersions reports the rows/s of reading a segment back.
func BenchmarkVersions(b *testing.B) {
	table := benchTable()
	vs := benchVersions()
	for _, comp := range []string{"zstd", "snappy"} {
		b.Run(comp, func(b *testing.B) {
			var buf bytes.Buffer
			if _, err := segment.Write(&buf, table, seqOf(vs), segment.WriterOptions{Compression: comp}); err != nil {
				b.Fatal(err)
			}
			data := buf.Bytes()
			b.ReportAllocs()
			b.SetBytes(rawBytes(vs))
			for b.Loop() {
				rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), "bench", table)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for _, err := range rd.Versions() {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != benchRows {
					b.Fatalf("read %d rows", n)
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
