package tablestore

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
)

func putObjects(t *testing.T, b objstore.Bucket, n, size int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := b.Put(context.Background(), fmt.Sprintf("seg/%d", i), []byte(strings.Repeat(string(rune('a'+i)), size)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCacheDownloadsOnceAndEvictsUnpinned(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	putObjects(t, mem, 4, 100)
	counting := objstore.NewCounting(mem)
	c, err := NewCache(t.TempDir(), 250, counting)
	if err != nil {
		t.Fatal(err)
	}

	// 16 concurrent readers of one key: one download.
	var wg sync.WaitGroup
	handles := make([]*Handle, 16)
	for i := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := c.Acquire(ctx, "seg/0", 100)
			if err != nil {
				t.Error(err)
				return
			}
			handles[i] = h
		}()
	}
	wg.Wait()
	if got := counting.Counts().Get; got != 1 {
		t.Fatalf("%d downloads for one key, want 1", got)
	}
	data, err := os.ReadFile(handles[0].Path())
	if err != nil || string(data) != strings.Repeat("a", 100) {
		t.Fatalf("cached content %q, %v", data, err)
	}

	// seg/0 stays pinned; seg/1..3 push the cache over 250 bytes.
	for i := 1; i <= 3; i++ {
		h, err := c.Acquire(ctx, fmt.Sprintf("seg/%d", i), 100)
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
	}
	if st := c.Stats(); st.Bytes > 250 {
		t.Fatalf("cache holds %d bytes, bound 250 (stats %+v)", st.Bytes, st)
	}
	if _, err := os.Stat(handles[0].Path()); err != nil {
		t.Fatalf("pinned file evicted: %v", err)
	}
	for _, h := range handles {
		h.Release()
		h.Release() // idempotent
	}
	entries, _ := os.ReadDir(c.Dir())
	if st := c.Stats(); len(entries) != st.Files {
		t.Fatalf("%d files on disk, %d in the index", len(entries), st.Files)
	}
}

func TestCacheRejectsWrongSize(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	putObjects(t, mem, 1, 100)
	c, err := NewCache(t.TempDir(), 1<<20, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(ctx, "seg/0", 99); err == nil || !strings.Contains(err.Error(), "manifest says 99") {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Acquire(ctx, "seg/missing", 5); !objstore.IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	if st := c.Stats(); st.Files != 0 {
		t.Fatalf("failed downloads left %d files", st.Files)
	}
}

// Reads through a tiny cache (constant eviction) return what reads without
// one return.
func TestScanThroughCache(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMem()
	h := newHarness(t, bucket)
	tb := testTable()
	model := map[int64]row.Row{}
	for round := 0; round < 6; round++ {
		var batch []Change
		for id := int64(0); id < 50; id++ {
			if (id+int64(round))%7 == 0 {
				batch = append(batch, del(id))
				delete(model, id)
				continue
			}
			c := upsert(id, fmt.Sprintf("r%d", round), int32(round))
			batch = append(batch, c)
			model[id] = c.Values
		}
		if _, err := h.store.Write(ctx, tb, "", batch); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Flush(ctx, tb, ""); err != nil {
			t.Fatal(err)
		}
	}
	cache, err := NewCache(filepath.Join(t.TempDir(), "cache"), 1, bucket) // 1 byte: evict everything unpinned
	if err != nil {
		t.Fatal(err)
	}
	buf, err := wbuf.Open(wbuf.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	cached := &harness{t: t, bucket: bucket, buf: buf, store: New(bucket, buf, Options{Cache: cache})}
	if got := cached.scan(tb, "", ScanOptions{}); !maps.EqualFunc(got, model, row.Row.Equal) {
		t.Fatalf("scan through cache = %v, want %v", got, model)
	}
	if st := cache.Stats(); st.Files != 0 {
		t.Fatalf("%d files left pinned after the scan", st.Files)
	}
}
