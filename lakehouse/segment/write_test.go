package segment_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
)

// Writes share pooled zstd encoders: concurrent writes, and writes after a
// write that failed half-way (its encoder is not pooled), all produce the
// same file as a lone write, which reads back.
func TestWriteSharesEncoders(t *testing.T) {
	table := allTypesTable()
	vs := extremeVersions(table, 3000)
	for _, opts := range []segment.WriterOptions{{}, {PageBufferBytes: 4096, RowGroupRows: 1000}} {
		want, _ := writeSegment(t, table, vs, opts)
		equalVersions(t, readAll(t, want, table), expectedRead(table, vs))

		bad := append(append([]row.Version(nil), vs...), vs[0]) // unsorted at the end
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 4 {
					if (g+i)%3 == 0 {
						_, err := segment.Write(&bytes.Buffer{}, table, seqOf(bad), opts)
						if !errors.Is(err, segment.ErrUnsorted) {
							t.Errorf("write of unsorted input: %v", err)
						}
						continue
					}
					var buf bytes.Buffer
					if _, err := segment.Write(&buf, table, seqOf(vs), opts); err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(buf.Bytes(), want) {
						t.Errorf("goroutine %d write %d: the file differs from a lone write's", g, i)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
