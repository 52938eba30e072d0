package tablestore

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// DefaultPointCacheBytes is the default of Options.PointCacheBytes.
const DefaultPointCacheBytes = 128 << 20

// Lookup returns the latest version of one primary key (the key columns'
// values in key order) in one partition of t, by the rule of Scan: the
// version with the greatest _seq among the buffer and the segments. found
// is false when the key has no version or its latest is a tombstone.
//
// It reads what ScanFiles would for that key — the buffer snapshot first,
// then the latest partition manifest — but only one buffer seek and the
// segments whose key statistics may hold the key. A segment is searched in
// its compact, key-sorted index, kept in a bounded in-memory cache
// (Options.PointCacheBytes) keyed by segment and schema version: segments
// are immutable, so the cache never needs invalidation. A segment too large
// for the cache is read through once per lookup instead.
//
// Lookup is safe for concurrent use. The returned Values are the caller's
// to keep but must not be modified (they may share memory with the cache).
func (s *Store) Lookup(ctx context.Context, t *manifest.Table, partition string, key row.Row) (v row.Version, found bool, err error) {
	live, err := s.LookupKeys(ctx, t, partition, []row.Row{key})
	if err != nil || len(live) == 0 {
		return row.Version{}, false, err
	}
	return live[0], true, nil
}

// LookupKeys is Lookup of several keys of one partition, read from one
// buffer snapshot and one manifest: it returns the latest version of each
// key that has one that is not a tombstone, in no particular order.
func (s *Store) LookupKeys(ctx context.Context, t *manifest.Table, partition string, keys []row.Row) ([]row.Version, error) {
	pk, err := pkIndexes(t)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if len(key) != len(pk) {
			return nil, fmt.Errorf("%w: key of %d values for a %d-column primary key", ErrInvalidRow, len(key), len(pk))
		}
	}
	fail := func(err error) ([]row.Version, error) {
		return nil, fmt.Errorf("tablestore: lookup in %s/%q: %w", t.ID, partition, err)
	}
	// As in ScanFiles: the snapshot is taken before the manifest is read,
	// so a concurrent flush shows its rows in one or both, never neither.
	snap := s.buf.Snapshot()
	defer snap.Close()
	m, err := s.readHead(ctx, t, partition)
	if err != nil {
		return fail(err)
	}
	encoded := make([][]byte, len(keys))
	for i, key := range keys {
		encoded[i] = row.AppendKey(nil, key...)
	}
	var live []row.Version
	buffered := make(map[string]bool, len(keys))
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	for e, err := range snap.Lookup(ctx, p, encoded, m.LastSeq) {
		if err != nil {
			return fail(err)
		}
		if e.Version.SchemaVersion != t.SchemaVersion {
			return fail(fmt.Errorf("buffered version _seq %d has schema v%d, table is at v%d; flush before altering",
				e.Version.Seq, e.Version.SchemaVersion, t.SchemaVersion))
		}
		// Buffered versions have _seq > LastSeq ≥ every segment's _seq:
		// the newest buffered version wins outright.
		buffered[string(e.Key)] = true
		if !e.Version.Deleted {
			live = append(live, e.Version)
		}
	}
	col := t.Columns[pk[0]]
	for i, key := range keys {
		if buffered[string(encoded[i])] {
			continue
		}
		var best row.Version
		have := false
		for _, seg := range m.Segments {
			if seg.Rows == 0 {
				continue
			}
			if b, ok := segmentBounds(seg, col); ok && (row.Compare(key[0], b.lo) < 0 || row.Compare(key[0], b.hi) > 0) {
				continue
			}
			sv, ok, err := s.segmentLookup(ctx, t, pk, seg, encoded[i])
			if err != nil {
				return fail(err)
			}
			if ok && (!have || sv.Seq > best.Seq) {
				best, have = sv, true
			}
		}
		if have && !best.Deleted {
			live = append(live, best)
		}
	}
	return live, nil
}

// segmentLookup finds the version of the encoded key enc in seg.
//
// The first lookup in a segment reads it whole and builds its compact
// index (keys and versions in encoded form, a few bytes per value); while
// the index stays within half of Options.PointCacheBytes it is cached, and
// later lookups in the segment are a binary search and one decode. A
// segment whose index would not fit is searched by reading it through.
func (s *Store) segmentLookup(ctx context.Context, t *manifest.Table, pk []int, seg manifest.Segment, enc []byte) (row.Version, bool, error) {
	ck := pointKey{segment: seg.Key, schema: t.SchemaVersion}
	if idx := s.points.get(ck); idx != nil {
		return idx.find(enc)
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
	var idx *segmentIndex
	if limit > 0 {
		idx = &segmentIndex{key: ck}
	}
	var (
		match row.Version
		found bool
		k     []byte
	)
	for v, err := range r.Versions() {
		if err != nil {
			return row.Version{}, false, err
		}
		k = appendKeyOf(k[:0], pk, v.Values)
		if !found && bytes.Equal(k, enc) {
			match, found = v, true // a key occurs at most once per segment
		}
		if idx == nil {
			if found {
				break
			}
			continue
		}
		idx.add(k, v)
		if idx.size() > limit/2 {
			idx = nil // too large to cache: search only
			if found {
				break
			}
		}
	}
	if idx != nil {
		idx.sort()
		s.points.put(idx, limit)
	}
	if found {
		// The values of v may share memory with the reader's batch, which
		// the next lookup reuses: hand out a copy.
		match.Values = slices.Clone(match.Values)
	}
	return match, found, nil
}

// cachedSegmentIndex returns the key index of seg from the point cache,
// building and caching it (reading the segment whole) when absent; nil
// when the index would be too large to cache.
func (s *Store) cachedSegmentIndex(ctx context.Context, t *manifest.Table, pk []int, seg manifest.Segment) (*segmentIndex, error) {
	ck := pointKey{segment: seg.Key, schema: t.SchemaVersion}
	if idx := s.points.get(ck); idx != nil {
		return idx, nil
	}
	limit := s.opts.PointCacheBytes
	if limit == 0 {
		limit = DefaultPointCacheBytes
	}
	if limit < 0 {
		return nil, nil
	}
	r, release, err := s.openSegment(ctx, t, seg)
	if err != nil {
		return nil, err
	}
	defer release()
	idx := &segmentIndex{key: ck}
	var k []byte
	for v, err := range r.Versions() {
		if err != nil {
			return nil, err
		}
		k = appendKeyOf(k[:0], pk, v.Values)
		idx.add(k, v)
		if idx.size() > limit/2 {
			return nil, nil
		}
	}
	idx.sort()
	s.points.put(idx, limit)
	return idx, nil
}

// pointKey identifies a decoded segment: the same file decoded in another
// schema version of its table has other Values.
type pointKey struct {
	segment string
	schema  uint32
}

// segmentIndex is one segment's versions sorted by encoded primary key,
// in compact form: the keys and the versions (row.AppendVersion) are
// packed in two arenas, each entry located by its end offset. It takes
// about the segment's uncompressed size plus 8 bytes a row, where decoded
// versions take ten times that.
type segmentIndex struct {
	key      pointKey
	keys     []byte
	keyEnds  []uint32
	vers     []byte
	verEnds  []uint32
	overflow bool // an arena passed 4 GiB: not cacheable
	// reordered: the segment's rows were not in key order, so an entry's
	// index is not its row's position in the file.
	reordered bool
}

// add appends the version v with encoded key k.
func (x *segmentIndex) add(k []byte, v row.Version) {
	x.keys = append(x.keys, k...)
	x.vers = row.AppendVersion(x.vers, v)
	if len(x.keys) > math.MaxUint32 || len(x.vers) > math.MaxUint32 {
		x.overflow = true
		return
	}
	x.keyEnds = append(x.keyEnds, uint32(len(x.keys)))
	x.verEnds = append(x.verEnds, uint32(len(x.vers)))
}

// size is the memory the index holds; an overflowed index reports more
// than any limit.
func (x *segmentIndex) size() int64 {
	if x.overflow {
		return math.MaxInt64
	}
	return int64(cap(x.keys) + cap(x.vers) + 4*cap(x.keyEnds) + 4*cap(x.verEnds) + 128)
}

func (x *segmentIndex) len() int { return len(x.keyEnds) }

func (x *segmentIndex) keyAt(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.keyEnds[i-1]
	}
	return x.keys[start:x.keyEnds[i]]
}

func (x *segmentIndex) verAt(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.verEnds[i-1]
	}
	return x.vers[start:x.verEnds[i]]
}

// sort orders the index by key (segments are written in key order, so
// this usually only checks) and trims the arenas to their length.
func (x *segmentIndex) sort() {
	n := x.len()
	sorted := true
	for i := 1; i < n && sorted; i++ {
		sorted = bytes.Compare(x.keyAt(i-1), x.keyAt(i)) < 0
	}
	if !sorted {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return bytes.Compare(x.keyAt(a), x.keyAt(b)) })
		y := segmentIndex{key: x.key, reordered: true}
		for _, j := range order {
			y.keys = append(y.keys, x.keyAt(j)...)
			y.vers = append(y.vers, x.verAt(j)...)
			y.keyEnds = append(y.keyEnds, uint32(len(y.keys)))
			y.verEnds = append(y.verEnds, uint32(len(y.vers)))
		}
		*x = y
		return
	}
	x.keys, x.vers = slices.Clip(x.keys), slices.Clip(x.vers)
	x.keyEnds, x.verEnds = slices.Clip(x.keyEnds), slices.Clip(x.verEnds)
}

// find returns the version of the encoded key enc, decoded afresh (the
// caller may keep it).
func (x *segmentIndex) find(enc []byte) (row.Version, bool, error) {
	i, ok := sort.Find(x.len(), func(i int) int { return bytes.Compare(enc, x.keyAt(i)) })
	if !ok {
		return row.Version{}, false, nil
	}
	v, err := row.DecodeVersion(x.verAt(i))
	if err != nil {
		return row.Version{}, false, fmt.Errorf("cached point index of segment %s: %w", x.key.segment, err)
	}
	return v, true, nil
}

// position returns the index of the encoded key enc — its row's position
// in the segment file unless the index is reordered — and the _seq of its
// version.
func (x *segmentIndex) position(enc []byte) (pos int, seq uint64, found bool, err error) {
	i, ok := sort.Find(x.len(), func(i int) int { return bytes.Compare(enc, x.keyAt(i)) })
	if !ok {
		return 0, 0, false, nil
	}
	v, err := row.DecodeVersion(x.verAt(i))
	if err != nil {
		return 0, 0, false, fmt.Errorf("cached point index of segment %s: %w", x.key.segment, err)
	}
	return i, v.Seq, true, nil
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
	c.bytes += idx.size()
	for c.bytes > limit && c.lru.Len() > 0 {
		old := c.lru.Remove(c.lru.Back()).(*segmentIndex)
		delete(c.entries, old.key)
		c.bytes -= old.size()
	}
}
