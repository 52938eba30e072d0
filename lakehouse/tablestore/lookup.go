package tablestore

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"iter"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
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
// segments whose key statistics may hold the key. A segment is searched
// one row group at a time, only in the groups that may hold the key (see
// segmentLookup), each in its compact, key-sorted index kept in a bounded
// in-memory cache (Options.PointCacheBytes) keyed by segment, row group
// and schema version: segments are immutable, so the cache never needs
// invalidation. A row group too large for the cache is read through once
// per lookup instead.
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
			sv, ok, err := s.segmentLookup(ctx, t, pk, seg, key[0], encoded[i])
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

// segmentLookup finds the version of the encoded key enc, whose first
// column's value is key0, in seg.
//
// A segment is searched one row group at a time, and only in the row
// groups whose statistics (the first key column's minimum and maximum in
// the Parquet footer, segment.Reader.RowGroupBounds) may hold the key; a
// segment is written in key order, so that is usually one group however
// large the segment. The first lookup in a row group reads that group and
// builds its compact index (keys and versions in encoded form, a few bytes
// per value); while the index stays within half of
// Options.PointCacheBytes it is cached, and later lookups in the group are
// a binary search and one decode. A group whose index would not fit is
// searched by reading it through. The groups' bounds are cached per
// segment too, so a cached lookup opens no file.
func (s *Store) segmentLookup(ctx context.Context, t *manifest.Table, pk []int, seg manifest.Segment, key0 row.Value, enc []byte) (row.Version, bool, error) {
	limit := s.pointCacheLimit()
	f := &lazySegment{s: s, t: t, seg: seg}
	defer f.close()
	groups, err := s.segmentGroupsOf(ctx, f, pk, limit)
	if err != nil {
		return row.Version{}, false, err
	}
	for g := range groups.bounds {
		if !groups.mayHold(g, key0, enc) {
			continue
		}
		ck := pointKey{segment: seg.Key, schema: t.SchemaVersion, group: int32(g)}
		if idx, _ := s.points.get(ck).(*segmentIndex); idx != nil {
			v, found, err := idx.find(enc)
			if err != nil || found {
				return v, found, err // a key occurs at most once per segment
			}
			continue
		}
		r, err := f.reader(ctx)
		if err != nil {
			return row.Version{}, false, err
		}
		v, found, seen, err := s.searchVersions(r.RowGroupVersions(g), ck, pk, enc, limit)
		if err != nil {
			return row.Version{}, false, err
		}
		if seen.complete {
			groups.learn(g, seen.lo, seen.hi)
		}
		if found {
			return v, true, nil
		}
	}
	return row.Version{}, false, nil
}

// keyRange is the smallest and largest encoded key of the versions a
// search went through; complete is false when it stopped early.
type keyRange struct {
	lo, hi   []byte
	complete bool
}

// searchVersions looks for the encoded key enc among versions (a segment's
// or a row group's, in file order) and, with a positive limit, builds
// their index under the cache key ck and caches it if it takes at most
// limit/2. It also returns the range of the keys it went through.
func (s *Store) searchVersions(versions iter.Seq2[row.Version, error], ck pointKey, pk []int, enc []byte, limit int64) (row.Version, bool, keyRange, error) {
	var idx *segmentIndex
	if limit > 0 {
		idx = &segmentIndex{key: ck}
	}
	var (
		match row.Version
		found bool
		k     []byte
		seen  keyRange
	)
	seen.complete = true
	for v, err := range versions {
		if err != nil {
			return row.Version{}, false, keyRange{}, err
		}
		k = appendKeyOf(k[:0], pk, v.Values)
		if seen.lo == nil || bytes.Compare(k, seen.lo) < 0 {
			seen.lo = append(seen.lo[:0], k...)
		}
		if seen.hi == nil || bytes.Compare(k, seen.hi) > 0 {
			seen.hi = append(seen.hi[:0], k...)
		}
		if !found && bytes.Equal(k, enc) {
			match, found = v, true // a key occurs at most once per segment
		}
		if idx == nil {
			if found {
				seen.complete = false
				break
			}
			continue
		}
		idx.add(k, v)
		if idx.size() > limit/2 {
			idx = nil // too large to cache: search only
			if found {
				seen.complete = false
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
	return match, found, seen, nil
}

// pointCacheLimit is Options.PointCacheBytes with its default applied; a
// negative value turns the cache off.
func (s *Store) pointCacheLimit() int64 {
	if s.opts.PointCacheBytes == 0 {
		return DefaultPointCacheBytes
	}
	return s.opts.PointCacheBytes
}

// lazySegment opens a segment's file on first use, so that a lookup
// answered from the caches opens none; close releases it.
type lazySegment struct {
	s       *Store
	t       *manifest.Table
	seg     manifest.Segment
	r       *segment.Reader
	release func()
}

func (f *lazySegment) reader(ctx context.Context) (*segment.Reader, error) {
	if f.r != nil {
		return f.r, nil
	}
	r, release, err := f.s.openSegment(ctx, f.t, f.seg)
	if err != nil {
		return nil, err
	}
	f.r, f.release = r, release
	return r, nil
}

func (f *lazySegment) close() {
	if f.release != nil {
		f.release()
	}
}

// segmentGroupsOf returns the row-group map of f's segment from its cache,
// or builds it from the segment's footer and caches it.
func (s *Store) segmentGroupsOf(ctx context.Context, f *lazySegment, pk []int, limit int64) (*segmentGroups, error) {
	gk := pointKey{segment: f.seg.Key, schema: f.t.SchemaVersion, group: groupBoundsEntry}
	if groups, _ := s.groupMaps.get(gk).(*segmentGroups); groups != nil {
		return groups, nil
	}
	r, err := f.reader(ctx)
	if err != nil {
		return nil, err
	}
	groups := newSegmentGroups(gk, r, pk[0])
	if limit > 0 {
		s.groupMaps.put(groups, limit/groupMapShare)
	}
	return groups, nil
}

// supersededPositions returns the positions in seg's file (row numbers,
// in no particular order) of the rows that a version of cands supersedes
// (same key, whose encoding is in keys, and a greater _seq), looking each
// key up in the index of the row groups that may hold it (cached, or
// built and cached). ok is false when an index it needs is too large to
// cache or not in file order.
func (s *Store) supersededPositions(ctx context.Context, t *manifest.Table, pk []int, seg manifest.Segment, cands []row.Version, keys [][]byte) (positions []int64, ok bool, err error) {
	limit := s.pointCacheLimit()
	if limit < 0 {
		return nil, false, nil
	}
	f := &lazySegment{s: s, t: t, seg: seg}
	defer f.close()
	groups, err := s.segmentGroupsOf(ctx, f, pk, limit)
	if err != nil {
		return nil, false, err
	}
	for j, v := range cands {
		for g := range groups.bounds {
			if !groups.mayHold(g, v.Values[pk[0]], keys[j]) {
				continue
			}
			ck := pointKey{segment: seg.Key, schema: t.SchemaVersion, group: int32(g)}
			idx, _ := s.points.get(ck).(*segmentIndex)
			if idx == nil {
				r, err := f.reader(ctx)
				if err != nil {
					return nil, false, err
				}
				_, _, seen, err := s.searchVersions(r.RowGroupVersions(g), ck, pk, nil, limit)
				if err != nil {
					return nil, false, err
				}
				groups.learn(g, seen.lo, seen.hi)
				if idx, _ = s.points.get(ck).(*segmentIndex); idx == nil {
					return nil, false, nil // too large to cache
				}
			}
			if idx.reordered {
				return nil, false, nil
			}
			pos, seq, found, err := idx.position(keys[j])
			if err != nil {
				return nil, false, err
			}
			if found {
				if seq < v.Seq {
					positions = append(positions, groups.first[g]+int64(pos))
				}
				break // a key occurs at most once per segment
			}
		}
	}
	return positions, true, nil
}

// segmentGroups is the cached row-group map of one segment: per row group
// (in file order) the bounds of the first key column, when the footer has
// statistics Floe trusts, and the bounds of the encoded keys once a lookup
// has read the whole group (exact for every key type; they outlive the
// group's index in the cache). A group is skipped for a key outside
// either.
type segmentGroups struct {
	key    pointKey
	bounds []groupBounds // fixed at creation
	first  []int64       // each group's first row in the file
	mu     sync.Mutex
	seen   []keyRange // per group; complete once learned
}

type groupBounds struct {
	lo, hi row.Value
	ok     bool
}

// mayHold reports whether row group g may hold the key whose first value
// is key0 and whose encoding is enc.
func (x *segmentGroups) mayHold(g int, key0 row.Value, enc []byte) bool {
	if b := x.bounds[g]; b.ok && (row.Compare(key0, b.lo) < 0 || row.Compare(key0, b.hi) > 0) {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	seen := x.seen[g]
	return !seen.complete || bytes.Compare(enc, seen.lo) >= 0 && bytes.Compare(enc, seen.hi) <= 0
}

// learn records the range of every key of row group g.
func (x *segmentGroups) learn(g int, lo, hi []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.seen[g].complete && len(lo)+len(hi) <= maxLearnedKeyBytes {
		x.seen[g] = keyRange{lo: slices.Clone(lo), hi: slices.Clone(hi), complete: true}
	}
}

func newSegmentGroups(key pointKey, r *segment.Reader, col int) *segmentGroups {
	groups := r.RowGroups()
	x := &segmentGroups{key: key, bounds: make([]groupBounds, len(groups)), first: make([]int64, len(groups)), seen: make([]keyRange, len(groups))}
	for g, rg := range groups {
		x.first[g] = rg.FirstRow
		b := &x.bounds[g]
		b.lo, b.hi, b.ok = r.RowGroupBounds(g, col)
	}
	return x
}

func (x *segmentGroups) cacheKey() pointKey { return x.key }

// groupMapShare: the row-group maps, kept apart from the indexes (a map
// must outlive the indexes of its groups, which a lookup may cycle
// through), take at most 1/groupMapShare of Options.PointCacheBytes on top
// of it — at the default, a map of every segment of a few thousand tables.
const groupMapShare = 16

// maxLearnedKeyBytes bounds the two keys of a learned range (longer ones
// are not kept, and their group is searched as before), so that the size
// of a segmentGroups stays what it was when it entered the cache.
const maxLearnedKeyBytes = 256

// size counts the bounds and their learned key ranges at their largest.
func (x *segmentGroups) size() int64 {
	return int64(128 + (168+maxLearnedKeyBytes)*len(x.bounds))
}

// pointKey identifies a decoded segment: the same file decoded in another
// schema version of its table has other Values.
type pointKey struct {
	segment string
	schema  uint32
	// group is the row group an index covers, or groupBoundsEntry for the
	// segment's row-group map.
	group int32
}

// groupBoundsEntry is the pointKey.group of a segment's row-group map.
const groupBoundsEntry int32 = -1

// pointEntry is what the point cache holds: a segmentIndex or a
// segmentGroups.
type pointEntry interface {
	cacheKey() pointKey
	size() int64
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

func (x *segmentIndex) cacheKey() pointKey { return x.key }

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
// in the row group unless the index is reordered — and the _seq of its
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

// pointCache is an LRU of segment and row-group indexes and row-group
// maps, bounded by their approximate size. The zero value is ready to
// use; it is safe for concurrent use.
type pointCache struct {
	mu      sync.Mutex
	entries map[pointKey]*list.Element // of pointEntry
	lru     list.List                  // front: most recently used
	bytes   int64
}

func (c *pointCache) get(k pointKey) pointEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(pointEntry)
}

// put adds idx and evicts the least recently used entries beyond limit.
func (c *pointCache) put(idx pointEntry, limit int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[pointKey]*list.Element{}
	}
	if _, ok := c.entries[idx.cacheKey()]; ok {
		return // a concurrent lookup decoded it too
	}
	c.entries[idx.cacheKey()] = c.lru.PushFront(idx)
	c.bytes += idx.size()
	for c.bytes > limit && c.lru.Len() > 0 {
		old := c.lru.Remove(c.lru.Back()).(pointEntry)
		delete(c.entries, old.cacheKey())
		c.bytes -= old.size()
	}
}
