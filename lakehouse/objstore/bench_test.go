package objstore_test

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
)

// benchBuckets returns the local backends; S3 is too noisy to benchmark
// against a local gateway meaningfully.
func benchBuckets(b *testing.B) map[string]objstore.Bucket {
	fs, err := objstore.NewFS(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fs.Close() })
	return map[string]objstore.Bucket{"mem": objstore.NewMem(), "fs": fs}
}

const benchSize = 4 << 10

func BenchmarkPut(b *testing.B) {
	data := make([]byte, benchSize)
	for name, bkt := range benchBuckets(b) {
		b.Run(name+"/4KiB", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(benchSize)
			ctx := b.Context()
			i := 0
			for b.Loop() {
				if _, err := bkt.Put(ctx, "put/"+strconv.Itoa(i%64), data, objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	data := make([]byte, benchSize)
	buf := make([]byte, benchSize+1)
	for name, bkt := range benchBuckets(b) {
		b.Run(name+"/4KiB", func(b *testing.B) {
			ctx := b.Context()
			if _, err := bkt.Put(ctx, "get/k", data, objstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(benchSize)
			for b.Loop() {
				rc, _, err := bkt.Get(ctx, "get/k")
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.ReadFull(rc, buf); n != benchSize || err != io.ErrUnexpectedEOF {
					b.Fatalf("read %d bytes: %v", n, err)
				}
				_ = rc.Close()
			}
		})
	}
}

// BenchmarkConditionalPut is one compare-and-swap step: IfMatch against
// the ETag the previous put returned.
func BenchmarkConditionalPut(b *testing.B) {
	data := make([]byte, benchSize)
	for name, bkt := range benchBuckets(b) {
		b.Run(name+"/IfMatch/4KiB", func(b *testing.B) {
			ctx := b.Context()
			a, err := bkt.Put(ctx, "cas/k", data, objstore.PutOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(benchSize)
			for b.Loop() {
				data[0]++ // keep content-hash ETags changing
				if a, err = bkt.Put(ctx, "cas/k", data, objstore.PutOptions{IfMatch: a.ETag}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/IfNoneMatch/4KiB", func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			b.SetBytes(benchSize)
			// The function may run more than once on one bucket (-count):
			// every run creates keys of its own.
			prefix := "create/" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/"
			i := 0
			for b.Loop() {
				if _, err := bkt.Put(ctx, prefix+strconv.Itoa(i), data, objstore.PutOptions{IfNoneMatch: true}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkParallelGet(b *testing.B) {
	data := make([]byte, benchSize)
	for name, bkt := range benchBuckets(b) {
		b.Run(name+"/4KiB", func(b *testing.B) {
			if _, err := bkt.Put(b.Context(), "get/k", data, objstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(benchSize)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, benchSize)
				for pb.Next() {
					rc, _, err := bkt.Get(b.Context(), "get/k")
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.ReadFull(rc, buf)
					_ = rc.Close()
				}
			})
		})
	}
}
