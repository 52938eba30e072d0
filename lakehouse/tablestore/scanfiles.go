package tablestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// ErrNoCache: ScanFiles needs a Store with a segment Cache.
var ErrNoCache = errors.New("tablestore: the store has no segment cache")

// FileScan is one partition of a table as a query engine reads it: local
// files of the partition's segments plus the buffered versions newer than
// the manifest. The rows of the partition are the merge of these sources
// by the rule of Scan:
//
//	per primary key, the version with the greatest _seq wins;
//	a winning version with _deleted = true hides the key.
//
// Within one source a key appears at most once (a segment holds the latest
// version of each key it covers; Buffered is already resolved per key), so
// the merge is only needed across sources: see Disjoint.
//
// A FileScan pins its files in the cache until Release.
type FileScan struct {
	// Manifest is the partition manifest read (Version 0: never flushed).
	Manifest *manifest.Partition
	// Files are the segments' local paths, in Manifest order.
	Files []ScanFile
	// Buffered are the latest buffered version of each key with _seq >
	// Manifest.LastSeq, tombstones included, in primary key order. Empty
	// for a time-travel scan.
	Buffered []row.Version

	pk      []int
	table   *manifest.Table
	store   *Store
	handles []*Handle
}

// ScanFile is one segment of a FileScan.
type ScanFile struct {
	Path    string
	Segment manifest.Segment
}

// Release unpins the scan's files. It is idempotent.
func (f *FileScan) Release() {
	for _, h := range f.handles {
		h.Release()
	}
	f.handles = nil
}

// ScanFiles returns the sources of one partition of t: the segments of the
// latest manifest (or of opts.ManifestVersion, without buffered rows) as
// verified local files, and the buffered versions. The caller must Release
// the result.
func (s *Store) ScanFiles(ctx context.Context, t *manifest.Table, partition string, opts ScanOptions) (*FileScan, error) {
	if s.opts.Cache == nil {
		return nil, ErrNoCache
	}
	pk, err := pkIndexes(t)
	if err != nil {
		return nil, err
	}
	var (
		m    *manifest.Partition
		snap *wbuf.Snapshot
	)
	if opts.ManifestVersion > 0 {
		m, err = s.PartitionLog(t.ID, partition).Load(ctx, opts.ManifestVersion)
	} else {
		// The buffer snapshot is taken before the manifest is read: a flush
		// that commits in between then shows its rows in both (the buffer
		// copy is skipped as _seq <= LastSeq), never in neither.
		snap = s.buf.Snapshot()
		defer snap.Close()
		m, err = s.readHead(ctx, t, partition)
	}
	if err != nil {
		return nil, fmt.Errorf("tablestore: scan %s/%q: %w", t.ID, partition, err)
	}
	fs := &FileScan{Manifest: m, pk: pk, table: t, store: s}
	for _, seg := range m.Segments {
		if err := s.addFile(ctx, fs, seg); err != nil {
			fs.Release()
			return nil, err
		}
	}
	if snap != nil {
		if err := bufferedLatest(ctx, snap, t, partition, m.LastSeq, fs); err != nil {
			fs.Release()
			return nil, err
		}
	}
	return fs, nil
}

// bufferedLatest fills fs.Buffered with the partition's versions in snap
// newer than afterSeq.
func bufferedLatest(ctx context.Context, snap *wbuf.Snapshot, t *manifest.Table, partition string, afterSeq uint64, fs *FileScan) error {
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	for e, err := range snap.Versions(ctx, p, wbuf.ScanOptions{AfterSeq: afterSeq, LatestOnly: true}) {
		if err != nil {
			return fmt.Errorf("tablestore: scan buffer of %s/%q: %w", t.ID, partition, err)
		}
		if e.Version.SchemaVersion != t.SchemaVersion {
			return fmt.Errorf("tablestore: scan %s/%q: buffered version _seq %d has schema v%d, table is at v%d; flush before altering",
				t.ID, partition, e.Version.Seq, e.Version.SchemaVersion, t.SchemaVersion)
		}
		fs.Buffered = append(fs.Buffered, e.Version)
	}
	return nil
}

// addFile pins seg in the cache and adds it to fs.
func (s *Store) addFile(ctx context.Context, fs *FileScan, seg manifest.Segment) error {
	h, err := s.acquireVerified(ctx, fs.table, seg)
	if err != nil {
		return err
	}
	fs.handles = append(fs.handles, h)
	fs.Files = append(fs.Files, ScanFile{Path: h.Path(), Segment: seg})
	return nil
}

// acquireVerified pins seg in the cache. A file that just entered the cache
// is opened and its checksum verified once, so that a damaged object is
// reported (naming it) before any engine reads it.
func (s *Store) acquireVerified(ctx context.Context, t *manifest.Table, seg manifest.Segment) (*Handle, error) {
	// A damaged cached copy is dropped and fetched again once: only a
	// damaged object fails the scan.
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var h *Handle
		h, err = s.opts.Cache.Acquire(ctx, seg.Key, seg.Bytes)
		if err != nil {
			return nil, err
		}
		if !h.Fresh() {
			return h, nil
		}
		if err = verifySegment(h.Path(), t, seg); err == nil {
			h.Verified()
			return h, nil
		}
		h.Discard()
	}
	return nil, fmt.Errorf("tablestore: segment %s: %w", seg.Key, err)
}

// verifySegment checks a cached segment file against its checksums.
func verifySegment(path string, t *manifest.Table, seg manifest.Segment) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := segment.Open(f, seg.Bytes, seg.Key, t)
	if err != nil {
		return err
	}
	return r.Verify()
}

// MergePlan says which rows of a FileScan need the merge rule and which
// sources they are merged with, so that a query engine can drop superseded
// versions with an anti join on the few versions that may supersede them
// instead of sorting every row by key (a window).
//
// A row of segment S can only be superseded by a version of its key with a
// greater _seq: one in a source T whose key range overlaps S's (judged by
// the first key column) and whose _seq range reaches above S's least _seq
// (T.SeqMax > S.SeqMin), or a buffered version of a key in S's range
// (buffered versions are newer than every segment's). Segments with no
// such source are Plain: none of their rows is superseded. The others are
// Overlapped, and the versions that may supersede them are those of Newer
// and, if Buffer is set, the buffered ones.
//
// The rows of the scan are then exactly
//
//	the non-tombstone rows of Plain,
//	the non-tombstone rows r of Overlapped for which no version v of
//	  Newer or the buffer has v.key = r.key and v._seq > r._seq,
//	the non-tombstone buffered versions.
//
// The _seq condition makes the anti join exact whatever the order of the
// sources (a segment of Newer may itself be Overlapped, or be older than
// some Overlapped segment it overlaps). When every candidate is newer
// than every row of Overlapped — Newer is empty (buffered versions are
// newer than every segment's), or NewerAfterOverlapped — the anti join may
// match on the key alone.
type MergePlan struct {
	Plain      []ScanFile
	Overlapped []ScanFile
	Newer      []ScanFile
	Buffer     bool
	// NewerAfterOverlapped: every Newer segment's least _seq is above
	// every Overlapped segment's greatest (both known), so a key of Newer
	// supersedes the key's version in any Overlapped segment. True when
	// Newer is empty.
	NewerAfterOverlapped bool
}

// MergePlan returns the merge plan of the scan (see MergePlan). Bounds
// or _seq ranges that are unknown count as overlapping: the plan may
// overlap more than needed, never less.
func (f *FileScan) MergePlan() MergePlan {
	var p MergePlan
	col := f.table.Columns[f.pk[0]]
	k := f.pk[0]
	bounds := make([]keyBounds, len(f.Files))
	known := make([]bool, len(f.Files))
	for i, sf := range f.Files {
		bounds[i], known[i] = segmentBounds(sf.Segment, col)
	}
	// buffered reports whether a buffered key falls in file i's range.
	buffered := func(i int) bool {
		if len(f.Buffered) == 0 {
			return false
		}
		if !known[i] {
			return true
		}
		// Buffered is in key order: find the first key ≥ lo.
		j, _ := slices.BinarySearchFunc(f.Buffered, bounds[i].lo, func(v row.Version, lo row.Value) int { return row.Compare(v.Values[k], lo) })
		return j < len(f.Buffered) && row.Compare(f.Buffered[j].Values[k], bounds[i].hi) <= 0
	}
	over := make([]bool, len(f.Files))
	newer := make([]bool, len(f.Files))
	// consider records that a version of file j may supersede a row of
	// file i, their key ranges overlapping: only if its _seq can be above
	// i's least (SeqMax 0 is unknown).
	consider := func(i, j int) {
		s, t := f.Files[i].Segment, f.Files[j].Segment
		if s.Rows == 0 || t.Rows == 0 || (t.SeqMax != 0 && t.SeqMax <= s.SeqMin) {
			return
		}
		over[i], newer[j] = true, true
	}
	// The pairs of files whose key ranges overlap, without comparing all
	// pairs: sorted by lo, a later file b overlaps a iff b.lo <= a.hi, so
	// the scan from a stops at the first b past a.hi. A file of unknown
	// bounds overlaps every other.
	var sorted, unknown []int
	for i := range f.Files {
		if known[i] {
			sorted = append(sorted, i)
		} else {
			unknown = append(unknown, i)
		}
	}
	slices.SortFunc(sorted, func(a, b int) int { return row.Compare(bounds[a].lo, bounds[b].lo) })
	for x, a := range sorted {
		for _, b := range sorted[x+1:] {
			if row.Compare(bounds[b].lo, bounds[a].hi) > 0 {
				break
			}
			consider(a, b)
			consider(b, a)
		}
	}
	for _, u := range unknown {
		for j := range f.Files {
			if j != u {
				consider(u, j)
				consider(j, u)
			}
		}
	}
	for i, s := range f.Files {
		if s.Segment.Rows > 0 && buffered(i) {
			over[i], p.Buffer = true, true
		}
		if over[i] {
			p.Overlapped = append(p.Overlapped, s)
		} else {
			p.Plain = append(p.Plain, s)
		}
	}
	var maxOverlapped uint64
	seqKnown := true
	for _, s := range p.Overlapped {
		maxOverlapped = max(maxOverlapped, s.Segment.SeqMax)
		seqKnown = seqKnown && s.Segment.SeqMax != 0
	}
	p.NewerAfterOverlapped = seqKnown
	for j, t := range f.Files {
		if newer[j] {
			p.Newer = append(p.Newer, t)
			p.NewerAfterOverlapped = p.NewerAfterOverlapped && t.Segment.SeqMin != 0 && t.Segment.SeqMin > maxOverlapped
		}
	}
	return p
}

// NewerVersions returns the versions (tombstones included) of the Newer
// segments of p, a plan of f, read from f's local files, when the manifest
// counts at most limit rows in them; otherwise ok is false and nothing is
// read. Values are the caller's to keep.
func (f *FileScan) NewerVersions(p MergePlan, limit int64) (vs []row.Version, ok bool, err error) {
	var n int64
	for _, sf := range p.Newer {
		n += sf.Segment.Rows
	}
	if n > limit {
		return nil, false, nil
	}
	for _, sf := range p.Newer {
		if vs, err = appendSegmentVersions(vs, f.table, sf); err != nil {
			return nil, false, err
		}
	}
	return vs, true, nil
}

// SupersededRows returns, for each segment of p.Overlapped (p a plan of
// f), the positions in its file (0-based row numbers in file order,
// ascending) of the rows that a version of Newer or, if p.Buffer, a
// buffered version supersedes: same key, greater _seq. Every other row of
// an Overlapped segment is then latest, so the rows of the scan are the
// non-tombstone rows of every file but those positions, and of the
// buffer — a deletion vector computed at query time, with no key
// comparison over the segments' rows.
//
// It looks each candidate key up in the key index of the segment's row
// group that may hold it (the ones point reads use, cached in
// Options.PointCacheBytes; building one reads its row group once). ok is
// false, and nothing is returned, when there are more than limit
// candidate versions, or when a row group's index is too large to cache or
// not in file order.
func (f *FileScan) SupersededRows(ctx context.Context, p MergePlan, limit int) (rows [][]int64, ok bool, err error) {
	if f.store == nil {
		return nil, false, nil
	}
	var buffered []row.Version
	if p.Buffer {
		buffered = f.Buffered
	}
	if len(buffered) > limit {
		return nil, false, nil
	}
	newer, ok, err := f.NewerVersions(p, int64(limit-len(buffered)))
	if err != nil || !ok {
		return nil, false, err
	}
	cands := slices.Concat(buffered, newer)
	keys := make([][]byte, len(cands))
	for i, v := range cands {
		keys[i] = keyOf(f.pk, v.Values)
	}
	rows = make([][]int64, len(p.Overlapped))
	for i, sf := range p.Overlapped {
		rows[i], ok, err = f.store.supersededPositions(ctx, f.table, f.pk, sf.Segment, cands, keys)
		if err != nil || !ok {
			return nil, false, err
		}
		slices.Sort(rows[i])
		rows[i] = slices.Compact(rows[i])
	}
	return rows, true, nil
}

// appendSegmentVersions appends the versions of the local segment file sf
// to vs.
func appendSegmentVersions(vs []row.Version, t *manifest.Table, sf ScanFile) ([]row.Version, error) {
	file, err := os.Open(sf.Path)
	if err != nil {
		return nil, fmt.Errorf("tablestore: open cached segment %s: %w", sf.Segment.Key, err)
	}
	defer file.Close()
	r, err := segment.Open(file, sf.Segment.Bytes, sf.Segment.Key, t)
	if err != nil {
		return nil, err
	}
	for v, err := range r.Versions() {
		if err != nil {
			return nil, err
		}
		// The values may share memory with the reader's batch.
		v.Values = slices.Clone(v.Values)
		vs = append(vs, v)
	}
	return vs, nil
}

// Disjoint reports whether no primary key can occur in two sources of the
// scan (files, and Buffered when not empty), judged by the first key
// column's bounds: the segments' manifest statistics and the buffered
// keys. Then the rows are simply the non-deleted versions of all sources,
// with no merge. With more than one source it returns false whenever a
// bound is unknown.
func (f *FileScan) Disjoint() bool {
	var rs []keyBounds
	known := true
	col := f.table.Columns[f.pk[0]]
	for _, sf := range f.Files {
		if sf.Segment.Rows == 0 {
			continue
		}
		b, ok := segmentBounds(sf.Segment, col)
		known = known && ok
		rs = append(rs, b)
	}
	if n := len(f.Buffered); n > 0 {
		// Buffered is in key order: its first and last versions bound it.
		rs = append(rs, keyBounds{f.Buffered[0].Values[f.pk[0]], f.Buffered[n-1].Values[f.pk[0]]})
	}
	if len(rs) <= 1 {
		return true
	}
	if !known {
		return false
	}
	slices.SortFunc(rs, func(a, b keyBounds) int { return row.Compare(a.lo, b.lo) })
	for i := 1; i < len(rs); i++ {
		if row.Compare(rs[i-1].hi, rs[i].lo) >= 0 {
			return false
		}
	}
	return true
}

// keyBounds are the least and greatest value of a key column in a source.
type keyBounds struct{ lo, hi row.Value }

// segmentBounds returns the bounds of col in seg from its statistics.
func segmentBounds(seg manifest.Segment, col manifest.Column) (b keyBounds, ok bool) {
	for _, st := range seg.Columns {
		if st.ColumnID != col.ID || st.Min == nil || st.Max == nil {
			continue
		}
		lo, err1 := segment.ParseStatValue(col.Type, *st.Min)
		hi, err2 := segment.ParseStatValue(col.Type, *st.Max)
		if err1 != nil || err2 != nil {
			return b, false
		}
		b.lo, b.hi = lo, hi
		return b, true
	}
	return b, false
}

// Partitions lists the partitions of a table that have objects in the
// store (flushed at least once), in key order. It costs one LIST request
// per partition: after the first object of a partition it skips past the
// partition's folder.
func (s *Store) Partitions(ctx context.Context, tableID string) ([]string, error) {
	prefix := manifest.TablePrefix(tableID)
	var out []string
	after := ""
	for {
		var dir string
		for a, err := range s.bucket.List(ctx, prefix, after) {
			if err != nil {
				return nil, fmt.Errorf("tablestore: list partitions of %s: %w", tableID, err)
			}
			rest := a.Key[len(prefix):]
			if i := strings.IndexByte(rest, '/'); i > 0 {
				dir = rest[:i]
			}
			break
		}
		if dir == "" {
			return out, nil
		}
		p, err := manifest.ParsePartitionDir(dir)
		if err != nil {
			return nil, fmt.Errorf("tablestore: list partitions of %s: %w", tableID, err)
		}
		out = append(out, p)
		// '/' + 1 = '0': every key of the folder sorts before dir + "0".
		after = prefix + dir + "/\xff"
	}
}

// BufferedPartitions lists the partitions of a table that have buffered
// versions.
func (s *Store) BufferedPartitions(tableID string) []string {
	var out []string
	for _, p := range s.buf.Partitions() {
		if p.TableID == tableID {
			out = append(out, p.Partition)
		}
	}
	return out
}

// KeyScan is ScanFiles narrowed to the given primary keys (each the key
// columns' values in key order), for existence checks: Buffered holds only
// the newest buffered version of each of those keys (one seek per key),
// and Files only the segments whose key statistics may contain one of
// them. A key's latest version is in the result if it exists at all, so
// merging the result by the rule of FileScan answers "which of these keys
// exist" without reading the rest of the partition.
func (s *Store) KeyScan(ctx context.Context, t *manifest.Table, partition string, keys []row.Row) (*FileScan, error) {
	if s.opts.Cache == nil {
		return nil, ErrNoCache
	}
	pk, err := pkIndexes(t)
	if err != nil {
		return nil, err
	}
	snap := s.buf.Snapshot()
	defer snap.Close()
	m, err := s.readHead(ctx, t, partition)
	if err != nil {
		return nil, fmt.Errorf("tablestore: key scan %s/%q: %w", t.ID, partition, err)
	}
	fs := &FileScan{Manifest: m, pk: pk, table: t, store: s}
	encoded := make([][]byte, len(keys))
	firsts := make([]row.Value, len(keys))
	for i, k := range keys {
		if len(k) != len(pk) {
			return nil, fmt.Errorf("%w: key of %d values for a %d-column primary key", ErrInvalidRow, len(k), len(pk))
		}
		encoded[i] = row.AppendKey(nil, k...)
		firsts[i] = k[0]
	}
	slices.SortFunc(firsts, row.Compare)
	col := t.Columns[pk[0]]
	for _, seg := range m.Segments {
		if b, ok := segmentBounds(seg, col); ok {
			i, _ := slices.BinarySearchFunc(firsts, b.lo, row.Compare)
			if i == len(firsts) || row.Compare(firsts[i], b.hi) > 0 {
				continue // no key falls in [lo, hi]
			}
		}
		if err := s.addFile(ctx, fs, seg); err != nil {
			fs.Release()
			return nil, err
		}
	}
	p := wbuf.PartitionKey{TableID: t.ID, Partition: partition}
	for e, err := range snap.Lookup(ctx, p, encoded, m.LastSeq) {
		if err != nil {
			fs.Release()
			return nil, fmt.Errorf("tablestore: key scan %s/%q: %w", t.ID, partition, err)
		}
		if e.Version.SchemaVersion != t.SchemaVersion {
			fs.Release()
			return nil, fmt.Errorf("tablestore: key scan %s/%q: buffered version _seq %d has schema v%d, table is at v%d; flush before altering",
				t.ID, partition, e.Version.Seq, e.Version.SchemaVersion, t.SchemaVersion)
		}
		fs.Buffered = append(fs.Buffered, e.Version)
	}
	slices.SortFunc(fs.Buffered, func(a, b row.Version) int {
		return bytes.Compare(keyOf(pk, a.Values), keyOf(pk, b.Values))
	})
	return fs, nil
}
