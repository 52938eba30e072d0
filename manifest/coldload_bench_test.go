package manifest

import (
	"fmt"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

// BenchmarkLoadCatalogCold: a process that has read nothing loads the
// latest catalog of N tables (bigCatalog's, 8 columns each) from a memory
// bucket: the hint, the listing, the version and, for a chunked catalog,
// its chunks, decoded and validated. Issue 15 item 6 wants this fast.
func BenchmarkLoadCatalogCold(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			bucket := objstore.NewMem()
			seed := bigCatalog(n)
			if _, err := NewCatalogLog(bucket, LogOptions{}).Commit(b.Context(), func(*Catalog) (*Catalog, error) { return seed, nil }, CommitOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c, err := NewCatalogLog(bucket, LogOptions{}).Latest(b.Context())
				if err != nil || len(c.Tables) != n {
					b.Fatal(err)
				}
			}
		})
	}
}
