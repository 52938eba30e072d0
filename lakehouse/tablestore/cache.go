package tablestore

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
)

// Cache is a bounded local cache of segment objects, keyed by object key.
// Segments are immutable, so a cached file never goes stale: the key names
// exactly one content. Files live in one directory under names derived from
// the key; the cache is emptied when it is opened (a restarted process
// starts cold rather than trusting files it did not verify).
//
// Readers pin a file with Acquire and unpin it with Release; the least
// recently used unpinned files are removed when the cache holds more than
// MaxBytes. Pinned files are never removed, so the cache may exceed its
// bound while many readers hold many files.
//
// Cache is safe for concurrent use; concurrent Acquires of one key share
// one download.
type Cache struct {
	dir      string
	maxBytes int64
	bucket   objstore.Bucket

	mu struct {
		sync.Mutex
		entries map[string]*cacheEntry
		lru     *list.List // of *cacheEntry, most recently used at the front
		bytes   int64
		// gen numbers the files: each entry has a path of its own, so a
		// re-download of a discarded key never shares the path of a file
		// an older reader still holds.
		gen uint64
	}
}

type cacheEntry struct {
	key  string
	path string
	size int64
	// modTime is the file's modification time when it was last verified:
	// a file whose size or modification time changed since is verified
	// again before it is served (see Acquire).
	modTime time.Time
	pins    int
	elem    *list.Element
	// discarded: the entry left the cache (its content failed
	// verification); the file goes when the last pin does.
	discarded bool
	// ready is closed when the download finished; err is its outcome.
	ready chan struct{}
	err   error
}

// NewCache returns an empty cache of at most maxBytes (unpinned) bytes in
// dir, reading from bucket. dir is created, and emptied if it holds files.
func NewCache(dir string, maxBytes int64, bucket objstore.Bucket) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("tablestore: cache size must be positive, got %d", maxBytes)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("tablestore: reset segment cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tablestore: create segment cache %s: %w", dir, err)
	}
	c := &Cache{dir: dir, maxBytes: maxBytes, bucket: bucket}
	c.mu.entries = map[string]*cacheEntry{}
	c.mu.lru = list.New()
	return c, nil
}

// Dir is the directory holding the cached files.
func (c *Cache) Dir() string { return c.dir }

// Handle is a pinned cached segment file.
type Handle struct {
	c    *Cache
	e    *cacheEntry
	once sync.Once
	// fresh: this Acquire downloaded the file, so its content has not
	// been verified yet.
	fresh bool
}

// Fresh reports whether the file's content has to be verified before it
// is used: this Acquire downloaded it, or the file changed on disk since
// it was last verified (its size or modification time differs). The
// caller verifies it and calls Verified, or Discard when it is damaged.
func (h *Handle) Fresh() bool { return h.fresh }

// Verified records that the caller verified the file's content as it is
// on disk now.
func (h *Handle) Verified() {
	fi, err := os.Stat(h.e.path)
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if err == nil && fi.Size() == h.e.size {
		h.e.modTime = fi.ModTime()
	}
}

// Path is the local file; valid until Release.
func (h *Handle) Path() string { return h.e.path }

// Size is the file's size in bytes.
func (h *Handle) Size() int64 { return h.e.size }

// Release unpins the file. It is idempotent.
func (h *Handle) Release() {
	h.once.Do(func() {
		h.c.mu.Lock()
		h.e.pins--
		if h.e.discarded && h.e.pins == 0 {
			_ = os.Remove(h.e.path)
		}
		h.c.evictLocked()
		h.c.mu.Unlock()
	})
}

// Discard releases the handle and drops the file from the cache, for a
// file whose content failed verification: the next Acquire of the key
// downloads it again rather than serving the damaged copy.
func (h *Handle) Discard() {
	h.c.mu.Lock()
	e := h.e
	if !e.discarded {
		e.discarded = true
		if h.c.mu.entries[e.key] == e {
			delete(h.c.mu.entries, e.key)
		}
		if e.elem != nil {
			h.c.mu.lru.Remove(e.elem)
			e.elem = nil
			h.c.mu.bytes -= e.size
		}
	}
	h.c.mu.Unlock()
	h.Release()
}

// Acquire returns the cached file of key, downloading it first if needed.
// size is the object's size from the manifest: a download of any other size
// fails (a truncated or replaced object is reported, never served).
func (c *Cache) Acquire(ctx context.Context, key string, size int64) (*Handle, error) {
	c.mu.Lock()
	e, ok := c.mu.entries[key]
	if !ok {
		sum := sha256.Sum256([]byte(key))
		c.mu.gen++
		name := fmt.Sprintf("%s-%d.parquet", hex.EncodeToString(sum[:16]), c.mu.gen)
		e = &cacheEntry{key: key, path: filepath.Join(c.dir, name), size: size, ready: make(chan struct{})}
		c.mu.entries[key] = e
		e.pins++
		c.mu.Unlock()
		e.err = c.download(ctx, e)
		c.mu.Lock()
		if e.err != nil {
			delete(c.mu.entries, key)
		} else {
			e.elem = c.mu.lru.PushFront(e)
			c.mu.bytes += e.size
		}
		close(e.ready)
		if e.err != nil {
			c.mu.Unlock()
			return nil, e.err
		}
		c.evictLocked()
		c.mu.Unlock()
		return &Handle{c: c, e: e, fresh: true}, nil
	}
	e.pins++
	c.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		c.unpin(e)
		return nil, ctx.Err()
	}
	if e.err != nil {
		c.unpin(e)
		return nil, e.err
	}
	if e.size != size {
		c.unpin(e)
		return nil, fmt.Errorf("tablestore: segment %s: manifest says %d bytes, cached object has %d", key, size, e.size)
	}
	// A file changed on disk since it was verified (bit rot, an operator,
	// another process) is verified again before it is served.
	fi, err := os.Stat(e.path)
	c.mu.Lock()
	changed := err != nil || fi.Size() != e.size || !fi.ModTime().Equal(e.modTime)
	if e.elem != nil {
		c.mu.lru.MoveToFront(e.elem)
	}
	c.mu.Unlock()
	return &Handle{c: c, e: e, fresh: changed}, nil
}

func (c *Cache) unpin(e *cacheEntry) {
	c.mu.Lock()
	e.pins--
	c.mu.Unlock()
}

// download fetches e.key into e.path through a temporary file.
func (c *Cache) download(ctx context.Context, e *cacheEntry) error {
	rc, attrs, err := c.bucket.Get(ctx, e.key)
	if err != nil {
		return fmt.Errorf("tablestore: fetch segment %s: %w", e.key, err)
	}
	defer rc.Close()
	if attrs.Size != e.size {
		return fmt.Errorf("tablestore: segment %s is %d bytes, manifest says %d", e.key, attrs.Size, e.size)
	}
	tmp, err := os.CreateTemp(c.dir, "fetch-*")
	if err != nil {
		return fmt.Errorf("tablestore: cache segment %s: %w", e.key, err)
	}
	n, err := io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != e.size {
		err = fmt.Errorf("read %d bytes, manifest says %d", n, e.size)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), e.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("tablestore: cache segment %s: %w", e.key, err)
	}
	return nil
}

// evictLocked removes least recently used unpinned files while the cache
// is over its bound. Callers hold c.mu.
func (c *Cache) evictLocked() {
	for el := c.mu.lru.Back(); el != nil && c.mu.bytes > c.maxBytes; {
		e := el.Value.(*cacheEntry)
		prev := el.Prev()
		if e.pins == 0 {
			c.mu.lru.Remove(el)
			delete(c.mu.entries, e.key)
			c.mu.bytes -= e.size
			_ = os.Remove(e.path)
		}
		el = prev
	}
}

// CacheStats is a snapshot of the cache's state.
type CacheStats struct {
	Files int
	Bytes int64
}

// Stats returns the number and total size of cached files.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Files: c.mu.lru.Len(), Bytes: c.mu.bytes}
}
