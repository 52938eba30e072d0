package tablestore

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// DefaultPointCacheBytes is the default of Options.PointCacheBytes.
const DefaultPointCacheBytes = 64 << 20

// Lookup returns the latest version of one primary key (the key columns'
// values in key order) in one partition of t, by the rule of Scan: the
// version with the greatest _seq among the buffer and the segments. found
// is false when the key has no version or its latest is a tombstone.
//
// It reads what ScanFiles would for that key — the buffer snapshot first,
// then the latest partition manifest — but only one buffer seek and the
// segments whose key statistics may hold the key. A segment is searched in
// its decoded, key-sorted form, kept in a bounded in-memory cache
// (Options.PointCacheBytes) keyed by segment and schema version: segments
// are immutable, so the cache never needs invalidation. A segment too large
// for the cache is read through once per lookup instead.
//
// Lookup is safe for concurrent use. The returned Values are the caller's
// to keep but must not be modified (they may share memory with the cache).
func (s *Store) Lookup(ctx context.Context, t *manifest.Table, partition string, key row.Row) (v row.Version, found bool, err error) {
	pk, err := pkIndexes(t)
	if err != nil {
		return v, false, err
	}
	if len(key) != len(pk) {
		return v, false, fmt.Errorf("%w: key of %d values for a %d-column primary key", ErrInvalidRow, len(key), len(pk))
	}
	fail := func(err error) (row.Version, bool, error) {
		return row.Version{}, false, fmt.Errorf("tablestore: lookup in %s/%q: %w", t.ID, partition, err)
	}
	// As in ScanFiles: the snapshot is taken before the manifest is read,
	// so a concurrent flush shows its rows in one or both, never neither.
	snap := s.buf.Snapshot()
	defer snap.Close()
	m, err := s.latest(ctx, t, partition)
	if err != nil {
		return fail(err)
	}
	enc := row.AppendKey(nil, key...)
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	for e, err := range snap.Lookup(ctx, p, [][]byte{enc}, m.LastSeq) {
		if err != nil {
			return fail(err)
		}
		if e.Version.SchemaVersion != t.SchemaVersion {
			return fail(fmt.Errorf("buffered version _seq %d has schema v%d, table is at v%d; flush before altering",
				e.Version.Seq, e.Version.SchemaVersion, t.SchemaVersion))
		}
		// Buffered versions have _seq > LastSeq ≥ every segment's _seq:
		// the newest buffered version wins outright.
		return e.Version, !e.Version.Deleted, nil
	}
	col := t.Columns[pk[0]]
	var best row.Version
	have := false
	for _, seg := range m.Segments {
		if seg.Rows == 0 {
			continue
		}
		if b, ok := segmentBounds(seg, col); ok && (row.Compare(key[0], b.lo) < 0 || row.Compare(key[0], b.hi) > 0) {
			continue
		}
		sv, ok, err := s.segmentLookup(ctx, t, pk, seg, enc)
		if err != nil {
			return fail(err)
		}
		if ok && (!have || sv.Seq > best.Seq) {
			best, have = sv, true
		}
	}
	if !have {
		return row.Version{}, false, nil
	}
	return best, !best.Deleted, nil
}

// segmentLookup finds the version of the encoded key enc in seg.
func (s *Store) segmentLookup(ctx context.Context, t *manifest.Table, pk []int, seg manifest.Segment, enc []byte) (row.Version, bool, error) {
	ck := pointKey{segment: seg.Key, schema: t.SchemaVersion}
	if idx := s.points.get(ck); idx != nil {
		v, ok := idx.find(enc)
		return v, ok, nil
	}
	limit := s.opts.PointCacheBytes
	if limit == 0 {
		limit = DefaultPointCacheBytes
	}
	r, release, err := s.openSegment(ctx, t, seg)
	if err != nil {
		return row.Version{}, false, err
	}
	defer release()
	cacheable := limit > 0 && estimateSegmentBytes(seg, len(t.Columns)) <= limit/4
	idx := &segmentIndex{key: ck}
	for v, err := range r.Versions() {
		if err != nil {
			return row.Version{}, false, err
		}
		k := keyOf(pk, v.Values)
		if !cacheable {
			if bytes.Equal(k, enc) {
				return v, true, nil // a key occurs at most once per segment
			}
			continue
		}
		idx.keys = append(idx.keys, k)
		idx.versions = append(idx.versions, v)
		idx.bytes += int64(len(k)) + versionBytes(v)
	}
	if !cacheable {
		return row.Version{}, false, nil
	}
	idx.sort()
	s.points.put(idx, limit)
	v, ok := idx.find(enc)
	return v, ok, nil
}

// estimateSegmentBytes is a cheap upper-bound guess of a segment's decoded
// size, made before decoding it: per row, a row.Value per column plus
// overhead, and the file's bytes for variable-length data.
func estimateSegmentBytes(seg manifest.Segment, cols int) int64 {
	return seg.Rows*int64(cols*40+96) + seg.Bytes
}

// versionBytes approximates the memory a decoded version holds.
func versionBytes(v row.Version) int64 {
	n := int64(64 + 40*len(v.Values))
	for _, x := range v.Values {
		n += int64(len(x.Str()))
	}
	return n
}

// pointKey identifies a decoded segment: the same file decoded in another
// schema version of its table has other Values.
type pointKey struct {
	segment string
	schema  uint32
}

// segmentIndex is one segment's versions sorted by encoded primary key.
type segmentIndex struct {
	key      pointKey
	keys     [][]byte
	versions []row.Version
	bytes    int64
}

// sort orders the index by key (segments are written in key order, so
// this usually only checks).
func (x *segmentIndex) sort() {
	if slices.IsSortedFunc(x.keys, bytes.Compare) {
		return
	}
	order := make([]int, len(x.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(x.keys[a], x.keys[b]) })
	keys := make([][]byte, len(order))
	versions := make([]row.Version, len(order))
	for i, j := range order {
		keys[i], versions[i] = x.keys[j], x.versions[j]
	}
	x.keys, x.versions = keys, versions
}

func (x *segmentIndex) find(enc []byte) (row.Version, bool) {
	i, ok := slices.BinarySearchFunc(x.keys, enc, bytes.Compare)
	if !ok {
		return row.Version{}, false
	}
	return x.versions[i], true
}

// pointCache is an LRU of decoded segments bounded by their approximate
// size. The zero value is ready to use; it is safe for concurrent use.
type pointCache struct {
	mu      sync.Mutex
	entries map[pointKey]*list.Element // of *segmentIndex
	lru     list.List                  // front: most recently used
	bytes   int64
}

func (c *pointCache) get(k pointKey) *segmentIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*segmentIndex)
}

// put adds idx and evicts the least recently used entries beyond limit.
func (c *pointCache) put(idx *segmentIndex, limit int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[pointKey]*list.Element{}
	}
	if _, ok := c.entries[idx.key]; ok {
		return // a concurrent lookup decoded it too
	}
	c.entries[idx.key] = c.lru.PushFront(idx)
	c.bytes += idx.bytes
	for c.bytes > limit && c.lru.Len() > 0 {
		old := c.lru.Remove(c.lru.Back()).(*segmentIndex)
		delete(c.entries, old.key)
		c.bytes -= old.bytes
	}
}
