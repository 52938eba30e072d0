package manifest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// benchBuckets runs fn for mem, fs and (when configured) s3.
func benchBuckets(b *testing.B, fn func(b *testing.B, bucket objstore.Bucket)) {
	b.Run("mem", func(b *testing.B) { fn(b, objstore.NewMem()) })
	b.Run("fs", func(b *testing.B) { fn(b, objstoretest.NewFSForTest(b)) })
	b.Run("s3", func(b *testing.B) { fn(b, objstoretest.NewS3ForTest(b)) })
}

// appendBounded appends a segment and keeps the newest 100, so that the
// manifest's size (and so encoding cost) stays constant over b.N commits.
func appendBounded(key string) func(*Partition) (*Partition, error) {
	return func(p *Partition) (*Partition, error) {
		p, err := appendSegment(key, 10)(p)
		if err == nil && len(p.Segments) > 100 {
			p.Segments = p.Segments[1:]
		}
		return p, err
	}
}

func reportRequests(b *testing.B, c *objstore.Counting) {
	n := c.Counts()
	b.ReportMetric(float64(n.Total())/float64(b.N), "requests/op")
	b.ReportMetric(float64(n.Get)/float64(b.N), "gets/op")
	b.ReportMetric(float64(n.List)/float64(b.N), "lists/op")
	b.ReportMetric(float64(n.Put)/float64(b.N), "puts/op")
}

// BenchmarkCommit measures one uncontended partition commit. "warm" reuses
// one Log (the latest version is cached); "cold" uses a new Log per commit,
// as a process that commits once (e.g. a Lambda invocation) would.
func BenchmarkCommit(b *testing.B) {
	benchBuckets(b, func(b *testing.B, bucket objstore.Bucket) {
		for _, mode := range []string{"warm", "cold"} {
			b.Run(mode, func(b *testing.B) {
				c := objstore.NewCounting(bucket)
				table := "B" + mode
				l := NewPartitionLog(c, table, "u1", LogOptions{})
				if _, err := l.Commit(b.Context(), appendBounded("seed"), CommitOptions{}); err != nil {
					b.Fatal(err)
				}
				c.Reset()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if mode == "cold" {
						l = NewPartitionLog(c, table, "u1", LogOptions{})
					}
					if _, err := l.Commit(b.Context(), appendBounded(fmt.Sprint(i)), CommitOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				reportRequests(b, c)
			})
		}
	})
}

// BenchmarkCommitContended: every goroutine commits through its own Log to
// one partition, as separate processes would; reports attempts per commit.
func BenchmarkCommitContended(b *testing.B) {
	vp := &versionPuts{Bucket: objstore.NewMem()}
	c := objstore.NewCounting(vp)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		l := NewPartitionLog(c, "T", "", LogOptions{MaxAttempts: 100000, MinBackoff: 50 * time.Microsecond, MaxBackoff: 5 * time.Millisecond})
		for pb.Next() {
			key := fmt.Sprint(n.Add(1))
			if _, err := l.Commit(b.Context(), appendBounded(key), CommitOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	counts := c.Counts()
	b.ReportMetric(float64(vp.n.Load())/float64(b.N), "attempts/commit")
	b.ReportMetric(float64(counts.Total())/float64(b.N), "requests/op")
}

// versionPuts counts the puts of version objects (commit attempts, the
// hint excluded).
type versionPuts struct {
	objstore.Bucket
	n atomic.Int64
}

func (v *versionPuts) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	if strings.Contains(key, "/"+versionsDir) {
		v.n.Add(1)
	}
	return v.Bucket.Put(ctx, key, data, opts)
}

// BenchmarkLatestVersion: "cold" is a new Log (hint GET + LIST), "warm" a
// Log that has seen the latest version (LIST only).
func BenchmarkLatestVersion(b *testing.B) {
	benchBuckets(b, func(b *testing.B, bucket objstore.Bucket) {
		l := NewPartitionLog(bucket, "T", "", LogOptions{})
		for i := range 20 {
			if _, err := l.Commit(b.Context(), appendSegment(fmt.Sprint(i), 1), CommitOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		for _, mode := range []string{"warm", "cold"} {
			b.Run(mode, func(b *testing.B) {
				c := objstore.NewCounting(bucket)
				l := NewPartitionLog(c, "T", "", LogOptions{})
				b.ReportAllocs()
				for b.Loop() {
					if mode == "cold" {
						l = NewPartitionLog(c, "T", "", LogOptions{})
					}
					if v, err := l.LatestVersion(b.Context()); err != nil || v != 20 {
						b.Fatal(v, err)
					}
				}
				reportRequests(b, c)
			})
		}
	})
}

// bigCatalog returns a valid catalog with n tables of 8 columns each.
func bigCatalog(n int) *Catalog {
	c := &Catalog{Header: Header{FormatVersion: FormatVersion, Version: 1, CommitID: "X", CommittedAt: testTime}}
	for i := range 10 {
		c.Namespaces = append(c.Namespaces, Namespace{Name: fmt.Sprintf("ns%d", i), CreatedAt: testTime})
	}
	types := []Type{BigInt, Text, Double, Timestamp, Boolean, Decimal(12, 3), JSON, UUID}
	for i := range n {
		t := Table{
			ID: fmt.Sprintf("01JDQ4A5B6C7D8E9F0%08d", i), Namespace: fmt.Sprintf("ns%d", i%10), Name: fmt.Sprintf("table_%d", i),
			Type: TableUser, PrimaryKey: []string{"c0"}, SchemaVersion: 3, NextColumnID: 8,
			Options:   TableOptions{FlushRows: 10000},
			CreatedAt: testTime, UpdatedAt: testTime,
		}
		for j, typ := range types {
			t.Columns = append(t.Columns, Column{ID: uint32(j), Name: fmt.Sprintf("c%d", j), Type: typ, Nullable: j > 0})
		}
		c.Tables = append(c.Tables, t)
	}
	return c
}

func BenchmarkDecodeCatalog(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			data, err := EncodeCatalog(bigCatalog(n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeCatalog(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeCatalog(b *testing.B) {
	c := bigCatalog(1000)
	data, _ := EncodeCatalog(c)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeCatalog(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCloneCatalog(b *testing.B) {
	c := bigCatalog(1000)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Clone()
	}
}

// BenchmarkCatalogCommitAt: one catalog commit adding a table, through a
// warm Log on a mem bucket, to a catalog of N tables (and one removing it
// again, untimed, so the catalog stays at N). The protocol's share of a
// CREATE TABLE; issue 15 wants its cost independent of N.
func BenchmarkCatalogCommitAt(b *testing.B) {
	for _, n := range []int{0, 1000, 5000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			c := &putBytes{Bucket: objstore.NewMem()}
			l := NewCatalogLog(c, LogOptions{})
			seed := bigCatalog(n)
			if _, err := l.Commit(b.Context(), func(*Catalog) (*Catalog, error) { return seed, nil }, CommitOptions{}); err != nil {
				b.Fatal(err)
			}
			extra := bigCatalog(1).Tables[0]
			extra.ID, extra.Name = "EXTRA", "extra"
			c.n.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Commit(b.Context(), func(c *Catalog) (*Catalog, error) {
					c.Tables = append(c.Tables, extra)
					return c, nil
				}, CommitOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := l.Commit(b.Context(), func(c *Catalog) (*Catalog, error) {
					c.Tables = c.Tables[:len(c.Tables)-1]
					return c, nil
				}, CommitOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(c.n.Load())/float64(2*b.N), "put-bytes/op")
		})
	}
}

// BenchmarkCatalogEditAt is BenchmarkCatalogCommitAt with the commits
// made as table edits (CommitOptions.EditTables: AddTable, and
// RemoveTable untimed), as CREATE and DROP TABLE make them.
func BenchmarkCatalogEditAt(b *testing.B) {
	for _, n := range []int{0, 1000, 5000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			l := NewCatalogLog(objstore.NewMem(), LogOptions{})
			seed := bigCatalog(n)
			if _, err := l.Commit(b.Context(), func(*Catalog) (*Catalog, error) { return seed, nil }, CommitOptions{}); err != nil {
				b.Fatal(err)
			}
			extra := bigCatalog(1).Tables[0]
			extra.ID, extra.Name = "EXTRA", "extra"
			edit := CommitOptions{EditTables: true}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Commit(b.Context(), func(c *Catalog) (*Catalog, error) {
					c.AddTable(extra)
					return c, nil
				}, edit); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := l.Commit(b.Context(), func(c *Catalog) (*Catalog, error) {
					c.RemoveTable(extra.ID)
					return c, nil
				}, edit); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// putBytes counts the bytes put to version objects.
type putBytes struct {
	objstore.Bucket
	n atomic.Int64
}

func (p *putBytes) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	if strings.Contains(key, "/"+versionsDir) {
		p.n.Add(int64(len(data)))
	}
	return p.Bucket.Put(ctx, key, data, opts)
}
