package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/floedb/floe/lakehouse/objstore"
)

// The chunked catalog (format 2). A catalog version is a small root
// document, catalog/v/<version>.json, that holds the header, the writer
// lease, the namespaces and the views, and refers to the tables through
// at most CatalogShards chunks:
//
//	catalog/v/00000000000000000012.json   root of version 12
//	catalog/chunks/<sha256>.json          one shard's tables
//
// A table belongs to shard fnv-1a-32(table ID) mod table_shards. A chunk
// holds the tables of one shard, sorted by ID, and is named by the SHA-256
// of its bytes: it is immutable, a reader checks the hash, and any number
// of roots may refer to it. A commit that changes a table rewrites only
// that table's chunk (plus the root), whatever the number of tables.
//
// Rules a writer keeps (see Log.Commit and Log.Prune):
//
//   - every chunk a root refers to is durable before the root's
//     conditional put: the commit puts its new chunks first (plain puts;
//     a retry writes the same bytes to the same key);
//   - a chunk carries the commit ID of the attempt that wrote it, so a
//     chunk key is written by one commit attempt only. A root reuses a
//     chunk only if its base version's root refers to it; every other
//     chunk it refers to was put by this attempt. Garbage collection
//     therefore deletes a chunk only when no kept version refers to it and
//     it was last written before the retention cutoff: a chunk of a
//     commit in flight is newer, and a chunk a commit reuses belongs to
//     its base, which is kept.

// CatalogFormatVersion is the catalog layout this build writes: a root
// and table chunks. It also reads FormatVersion (1), the single document
// every catalog version was before; an older build meeting a root refuses
// it with ErrUnsupportedFormat.
const CatalogFormatVersion = 2

// CatalogShards is the number of table shards a root written by this build
// has. Readers use the root's own table_shards.
const CatalogShards = 256

// ChunksPrefix holds the table chunks of format-2 catalog versions.
const ChunksPrefix = CatalogPrefix + "chunks/"

const (
	// maxShards bounds table_shards in a root.
	maxShards = 1 << 16
	// maxChunkSize bounds what a chunk read reads.
	maxChunkSize = 64 << 20
	// chunkFetchers bounds the parallel chunk reads of one load.
	chunkFetchers = 16
	// chunkCacheBytes bounds the chunk cache of a catalog Log (by encoded
	// size).
	chunkCacheBytes = 64 << 20
	chunkKeyExt     = ".json"
)

// catalogRoot is the stored form of a format-2 catalog version.
type catalogRoot struct {
	Header
	WarehouseID         string       `json:"warehouse_id,omitempty"`
	Writer              *WriterLease `json:"writer,omitempty"`
	SystemSchemaVersion int          `json:"system_schema_version,omitempty"`
	WriteMode           string       `json:"write_mode,omitempty"`
	Namespaces          []Namespace  `json:"namespaces"`
	Views               []View       `json:"views,omitempty"`
	// TableShards is the number of shards tables are hashed into.
	TableShards int `json:"table_shards"`
	// TableChunks lists the non-empty shards' chunks, by ascending shard.
	TableChunks []chunkRef `json:"table_chunks"`
}

// chunkRef is one shard's entry in a root.
type chunkRef struct {
	Shard  int    `json:"shard"`
	SHA256 string `json:"sha256"` // of the chunk's bytes, lower-case hex
	Tables int    `json:"tables"` // how many tables the chunk holds
}

// tableChunk is the stored form of one shard's tables.
type tableChunk struct {
	FormatVersion int `json:"format_version"`
	// CommitID is the commit attempt that wrote the chunk (see the rules
	// above); it makes chunks of different attempts distinct objects.
	CommitID string  `json:"commit_id"`
	Shard    int     `json:"shard"`
	Tables   []Table `json:"tables"`
}

// ChunkKey returns the object key of the chunk whose bytes hash to sha
// (lower-case hex).
func ChunkKey(sha string) string { return ChunksPrefix + sha + chunkKeyExt }

// parseChunkKey returns the hash named by a chunk key.
func parseChunkKey(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, ChunksPrefix)
	if !ok {
		return "", false
	}
	sha, ok := strings.CutSuffix(name, chunkKeyExt)
	return sha, ok && validSHA(sha)
}

func validSHA(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// shardOf returns the shard of a table ID among n.
func shardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

var (
	rootShape  = sync.OnceValue(func() *shape { return buildShape(reflect.TypeFor[catalogRoot](), map[reflect.Type]*shape{}) })
	chunkShape = sync.OnceValue(func() *shape { return buildShape(reflect.TypeFor[tableChunk](), map[reflect.Type]*shape{}) })
)

// catalogFormat returns the format_version of a catalog document: the
// canonical encodings start with it; anything else is parsed leniently
// (the strict decoder of that format checks the rest). 0 if there is none.
func catalogFormat(data []byte) int {
	for _, f := range []int{FormatVersion, CatalogFormatVersion} {
		if bytes.HasPrefix(data, fmt.Appendf(nil, `{"format_version":%d,`, f)) {
			return f
		}
	}
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return 0
	}
	return probe.FormatVersion
}

// decodeRoot parses a format-2 root strictly and checks its own rules:
// the header and everything but the tables as Catalog.Validate would (the
// tables are checked once the chunks are read), table_shards in
// 1..65536, chunk references by strictly ascending shard below
// table_shards, each with a valid hash and at least one table.
func decodeRoot(data []byte) (*catalogRoot, error) {
	var r catalogRoot
	if err := decodeStrictFormat(data, "catalog root", rootShape(), &r, CatalogFormatVersion); err != nil {
		return nil, err
	}
	var p problems
	if r.TableShards < 1 || r.TableShards > maxShards {
		p.addf("table_shards %d is out of range 1..%d", r.TableShards, maxShards)
	}
	for i, ref := range r.TableChunks {
		if ref.Shard < 0 || ref.Shard >= r.TableShards {
			p.addf("table_chunks[%d]: shard %d is out of range 0..%d", i, ref.Shard, r.TableShards-1)
		}
		if i > 0 && ref.Shard <= r.TableChunks[i-1].Shard {
			p.addf("table_chunks[%d]: shard %d does not follow shard %d", i, ref.Shard, r.TableChunks[i-1].Shard)
		}
		if !validSHA(ref.SHA256) {
			p.addf("table_chunks[%d]: sha256 %q is not 64 lower-case hex digits", i, ref.SHA256)
		}
		if ref.Tables < 1 {
			p.addf("table_chunks[%d]: a chunk holds at least one table, not %d", i, ref.Tables)
		}
	}
	if err := p.err(fmt.Sprintf("catalog root v%d", r.Version)); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	// The rest (header, lease, namespaces, views) as Validate checks it.
	shell := r.catalog(nil)
	if err := shell.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	return &r, nil
}

// rootChunks returns the chunk hashes a stored catalog version refers
// to: none for a format-1 document.
func rootChunks(data []byte) ([]string, error) {
	switch f := catalogFormat(data); {
	case f > CatalogFormatVersion:
		return nil, fmt.Errorf("%w %d (this build reads catalog formats %d and %d)", ErrUnsupportedFormat, f, FormatVersion, CatalogFormatVersion)
	case f == FormatVersion:
		return nil, nil
	case f != CatalogFormatVersion:
		return nil, fmt.Errorf("%w: catalog version without a readable format_version", ErrCorrupt)
	}
	r, err := decodeRoot(data)
	if err != nil {
		return nil, err
	}
	shas := make([]string, len(r.TableChunks))
	for i, ref := range r.TableChunks {
		shas[i] = ref.SHA256
	}
	return shas, nil
}

// catalog returns the catalog of the root with the given tables.
func (r *catalogRoot) catalog(tables []Table) *Catalog {
	return &Catalog{
		Header: r.Header, WarehouseID: r.WarehouseID, Writer: r.Writer,
		SystemSchemaVersion: r.SystemSchemaVersion, WriteMode: r.WriteMode,
		Namespaces: r.Namespaces, Tables: tables, Views: r.Views,
	}
}

// decodeChunk parses the chunk stored for ref strictly and checks that
// it is the one ref names: its bytes hash to ref.SHA256, it is ref's shard
// of shards, and it holds ref.Tables tables, each of that shard, sorted by
// strictly ascending ID. The tables themselves are validated with the
// catalog they belong to.
func decodeChunk(data []byte, ref chunkRef, shards int) ([]Table, error) {
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != ref.SHA256 {
		return nil, fmt.Errorf("%w: chunk %s: the content hashes to %x", ErrCorrupt, ref.SHA256, sum)
	}
	var c tableChunk
	if err := decodeStrictFormat(data, "table chunk", chunkShape(), &c, CatalogFormatVersion); err != nil {
		return nil, err
	}
	var p problems
	if c.Shard != ref.Shard {
		p.addf("shard is %d, the root lists it as shard %d", c.Shard, ref.Shard)
	}
	if len(c.Tables) != ref.Tables {
		p.addf("holds %d tables, the root says %d", len(c.Tables), ref.Tables)
	}
	p.utf8(plainLabel(""), "commit_id", c.CommitID)
	for i := range c.Tables {
		t := &c.Tables[i]
		clipTable(t) // shared by the catalogs assembled from the chunk (see commitClone)
		if s := shardOf(t.ID, shards); s != c.Shard {
			p.addf("%s: belongs to shard %d", tableLabel{t}, s)
		}
		if i > 0 && t.ID <= c.Tables[i-1].ID {
			p.addf("%s: ids are not in strictly ascending order", tableLabel{t})
		}
	}
	if err := p.err("table chunk " + ref.SHA256); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	return c.Tables, nil
}

// chunkCache holds decoded chunks by hash. Chunks are immutable, so an
// entry never goes stale; the cache is bounded by the chunks' encoded
// size and forgets the oldest entries first. The tables it holds are
// shared by every catalog assembled from them and never mutated. Safe for
// concurrent use.
type chunkCache struct {
	mu      sync.Mutex
	limit   int
	size    int
	entries map[string]cachedChunk
	order   []string // insertion order, for eviction
}

type cachedChunk struct {
	tables []Table
	size   int
}

func newChunkCache(limit int) *chunkCache {
	return &chunkCache{limit: limit, entries: map[string]cachedChunk{}}
}

func (c *chunkCache) get(sha string) ([]Table, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sha]
	return e.tables, ok
}

func (c *chunkCache) add(sha string, tables []Table, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sha]; ok || size > c.limit {
		return
	}
	for c.size+size > c.limit && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= c.entries[old].size
		delete(c.entries, old)
	}
	c.entries[sha] = cachedChunk{tables: tables, size: size}
	c.order = append(c.order, sha)
	c.size += size
}

// catalogStore encodes catalogs as roots and chunks and decodes them,
// for one catalog Log. It remembers, by table ID, the encoding of every
// table of the last catalog it encoded or decoded, and per shard the
// chunk that held them, so that a commit changing one table encodes,
// validates and writes one chunk. Safe for concurrent use.
type catalogStore struct {
	// read returns an object's bytes, refusing more than limit.
	read  func(ctx context.Context, key string, limit int64) ([]byte, error)
	cache *chunkCache

	mu sync.Mutex
	// The last catalog the store encoded or decoded, when valid is set:
	// its tables by ID and in order, their names, its namespaces and
	// views (private, never mutated), and per shard its chunk.
	valid      bool
	tables     map[string]*encodedTable // by table ID
	order      []*encodedTable
	names      map[qualifiedName]string // table ID by name
	namespaces []Namespace
	views      []View
	commitID   string // of the catalog the store describes
	// members lists each shard's tables (in no order); nil entries for
	// empty shards.
	members [CatalogShards][]*encodedTable
	shards  [CatalogShards]shardState
	gen     uint64 // of the current encode, marking the tables it found
	// roots maps the commit ID of recently decoded or encoded roots to
	// their chunk hashes by shard: the chunks a commit on that base may
	// reuse without putting them.
	roots     map[string]map[int]string
	rootOrder []string // of roots, for eviction
}

// shardState is what catalogStore knows of a shard: the chunk of the last
// catalog it encoded or decoded and how many tables it held.
type shardState struct {
	sha string
	n   int
}

// maxRoots bounds catalogStore.roots.
const maxRoots = 8

// encodedObject is an object a commit writes before its root.
type encodedObject struct {
	key  string
	data []byte
}

// encoded is a manifest ready to be stored: the version object's bytes and
// the objects that must be durable before it.
type encoded struct {
	data  []byte
	parts []encodedObject
}

// encode validates c and returns its root and the chunks that its base
// (the version c was derived from, nil for none) does not already refer
// to.
//
// Its cost is independent of the number of tables but for a pass over
// c.Tables that compares each table with the store's copy (found at the
// same position, or by ID): a table equal to its copy is neither
// re-encoded nor re-checked alone, and when the namespaces and views are
// unchanged too, only the changed tables are checked against the rest
// (validateChanges, which agrees with Validate). A shard is rewritten only
// if one of its tables changed, came or went, or its chunk is not one the
// base refers to (an earlier attempt's); every other chunk is the base's.
func (s *catalogStore) encode(base, c *Catalog) (encoded, error) {
	if c == nil {
		return encoded{}, fmt.Errorf("%w: nil catalog", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if out, ok, err := s.encodeEdits(base, c); ok {
		return out, err
	}
	s.gen++
	gen := s.gen
	ets := make([]*encodedTable, len(c.Tables))
	known := make([]bool, len(c.Tables))
	dup, present := false, 0
	for i := range c.Tables {
		t := &c.Tables[i]
		var et *encodedTable
		if i < len(s.order) && s.order[i].t.ID == t.ID {
			et = s.order[i]
		} else {
			et = s.tables[t.ID]
		}
		if et == nil {
			continue
		}
		if et.mark == gen { // the ID appears twice
			dup = true
			continue
		}
		et.mark = gen
		present++
		if sameTable(&et.t, t) {
			et.same = gen
			ets[i], known[i] = et, true
		}
	}
	fast := s.valid && !dup && slices.Equal(c.Namespaces, s.namespaces) && sameViews(c.Views, s.views)
	var verr error
	if fast {
		verr = s.validateChanges(c, known, gen)
	} else {
		verr = c.validate(func(i int) bool { return known[i] })
	}
	if verr != nil {
		return encoded{}, verr
	}

	var dirty [CatalogShards]bool
	for i := range c.Tables {
		if !known[i] {
			t := &c.Tables[i]
			// The store keeps the table as it is, sharing its slices with
			// c, which the Log keeps and clones for the next commit (see
			// commitClone): unchanged tables then share their arrays with
			// the store's, which sameTable compares without reading them.
			clipTable(t)
			ets[i] = &encodedTable{t: *t, shard: shardOf(t.ID, CatalogShards)}
			dirty[ets[i].shard] = true
		}
	}
	var removed []*encodedTable
	if present < len(s.tables) {
		for _, et := range s.tables {
			if et.mark != gen {
				removed = append(removed, et)
				dirty[et.shard] = true
			}
		}
	}
	var baseRefs map[int]string
	if base != nil && base.FormatVersion == CatalogFormatVersion {
		baseRefs = s.roots[base.CommitID]
	}
	for shard, st := range s.shards {
		if st.n > 0 && baseRefs[shard] != st.sha {
			dirty[shard] = true // an earlier attempt's chunk, or no base
		}
	}
	var members [CatalogShards][]*encodedTable
	for _, et := range ets {
		if dirty[et.shard] {
			members[et.shard] = append(members[et.shard], et)
		}
	}

	var out encoded
	states := s.shards
	for shard := range members {
		if !dirty[shard] {
			continue
		}
		if err := s.writeChunk(&out, &states, c.CommitID, shard, members[shard]); err != nil {
			return encoded{}, err
		}
	}
	refs, err := encodeRoot(&out, c, &states)
	if err != nil {
		return encoded{}, err
	}

	// The store now describes c.
	if fast {
		for _, et := range removed {
			delete(s.tables, et.t.ID)
			if q := et.t.qualified(); s.names[q] == et.t.ID {
				delete(s.names, q)
			}
		}
		for i, et := range ets {
			if !known[i] {
				if old := s.tables[et.t.ID]; old != nil {
					if q := old.t.qualified(); s.names[q] == et.t.ID {
						delete(s.names, q)
					}
				}
			}
		}
		for i, et := range ets {
			if !known[i] {
				s.tables[et.t.ID] = et
				s.names[et.t.qualified()] = et.t.ID
			}
		}
	} else {
		s.tables = make(map[string]*encodedTable, len(ets))
		s.names = make(map[qualifiedName]string, len(ets))
		for _, et := range ets {
			s.tables[et.t.ID] = et
			s.names[et.t.qualified()] = et.t.ID
		}
		s.namespaces = slices.Clone(c.Namespaces)
		s.views = cloneViews(c.Views)
	}
	s.members = [CatalogShards][]*encodedTable{}
	for _, et := range ets {
		s.members[et.shard] = append(s.members[et.shard], et)
	}
	s.order, s.shards, s.valid, s.commitID = ets, states, true, c.CommitID
	s.rememberRoot(c.CommitID, refs)

	return out, nil
}

// writeChunk encodes the chunk of shard holding ms (which it sorts) into
// out and records it in states and the chunk cache; no chunk for none.
func (s *catalogStore) writeChunk(out *encoded, states *[CatalogShards]shardState, commitID string, shard int, ms []*encodedTable) error {
	if len(ms) == 0 {
		states[shard] = shardState{}
		return nil
	}
	data, err := encodeChunk(commitID, shard, ms)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	states[shard] = shardState{sha: hex.EncodeToString(sum[:]), n: len(ms)}
	out.parts = append(out.parts, encodedObject{key: ChunkKey(states[shard].sha), data: data})
	tables := make([]Table, len(ms))
	for i, et := range ms {
		tables[i] = et.t
	}
	s.cache.add(states[shard].sha, tables, len(data))
	return nil
}

// encodeRoot encodes the root of c with the chunks of states into out and
// returns the chunk hashes by shard.
func encodeRoot(out *encoded, c *Catalog, states *[CatalogShards]shardState) (map[int]string, error) {
	root := catalogRoot{
		Header: c.Header, WarehouseID: c.WarehouseID, Writer: c.Writer,
		SystemSchemaVersion: c.SystemSchemaVersion, WriteMode: c.WriteMode,
		Namespaces: c.Namespaces, Views: c.Views, TableShards: CatalogShards,
		TableChunks: []chunkRef{},
	}
	root.FormatVersion = CatalogFormatVersion
	if root.Namespaces == nil {
		root.Namespaces = []Namespace{}
	}
	refs := make(map[int]string, len(root.TableChunks))
	for shard, st := range states {
		if st.n > 0 {
			refs[shard] = st.sha
			root.TableChunks = append(root.TableChunks, chunkRef{Shard: shard, SHA256: st.sha, Tables: st.n})
		}
	}
	data, err := encodeJSON(&root)
	if err != nil {
		return nil, err
	}
	out.data = data
	return refs, nil
}

// editClone is the clone of base for a commit with
// CommitOptions.EditTables: it shares base's tables, and its lookups use
// the store's index when the store describes base.
func (s *catalogStore) editClone(base *Catalog) *Catalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	var index *catalogIndex
	if s.valid && base.CommitID != "" && s.commitID == base.CommitID {
		index = &catalogIndex{tables: s.tables, names: s.names}
	}
	return base.editClone(index)
}

// encodeEdits is encode for a catalog whose table edits (see tableEdits)
// are known relative to the catalog the store describes, which is base.
// It returns ok false when they are not: encode then compares every
// table. Its cost grows with the edits and the tables of the shards they
// touch, not with the number of tables. Callers hold mu.
func (s *catalogStore) encodeEdits(base, c *Catalog) (out encoded, ok bool, err error) {
	e := c.edits
	if e == nil || e.dup || e.base == "" || !s.valid || s.commitID != e.base || base == nil || base.CommitID != e.base ||
		base.FormatVersion != CatalogFormatVersion || len(c.Tables) != e.baseLen+e.delta ||
		!keepsNamespaces(s.namespaces, c.Namespaces) || !sameViews(c.Views, s.views) {
		return encoded{}, false, nil
	}
	changed := make([]*Table, 0, len(e.changed))
	for id, i := range e.changed {
		if i >= len(c.Tables) || c.Tables[i].ID != id {
			return encoded{}, false, nil
		}
		changed = append(changed, &c.Tables[i])
	}
	for id := range e.removed {
		if s.tables[id] == nil {
			return encoded{}, false, nil
		}
	}
	slices.SortFunc(changed, func(a, b *Table) int { return strings.Compare(a.ID, b.ID) })

	// Validate as Validate would, for the changed tables against the rest.
	var p problems
	namespaces := c.validateHead(&p)
	fresh := make(map[qualifiedName]string, len(changed))
	unchanged := func(id string) bool {
		_, ch := e.changed[id]
		return !ch && !e.removed[id]
	}
	for _, t := range changed {
		s.checkChangedTable(&p, c, namespaces, fresh, t, unchanged)
	}
	if len(p.errs) > 0 {
		if err := c.validate(nil); err != nil { // worded as Validate words it
			return encoded{}, true, err
		}
		return encoded{}, false, nil
	}

	var dirty [CatalogShards]bool
	fresher := make(map[string]*encodedTable, len(changed))
	byShard := map[int][]*encodedTable{}
	for _, t := range changed {
		clipTable(t) // see the same step in encode
		et := &encodedTable{t: *t, shard: shardOf(t.ID, CatalogShards)}
		fresher[t.ID] = et
		byShard[et.shard] = append(byShard[et.shard], et)
		dirty[et.shard] = true
	}
	for id := range e.removed {
		dirty[s.tables[id].shard] = true
	}
	baseRefs := s.roots[base.CommitID]
	for shard, st := range s.shards {
		if st.n > 0 && baseRefs[shard] != st.sha {
			dirty[shard] = true // an earlier attempt's chunk
		}
	}
	states := s.shards
	var members [CatalogShards][]*encodedTable
	for shard := range dirty {
		if !dirty[shard] {
			continue
		}
		ms := make([]*encodedTable, 0, len(s.members[shard])+len(byShard[shard]))
		for _, et := range s.members[shard] {
			if _, ch := fresher[et.t.ID]; !ch && !e.removed[et.t.ID] {
				ms = append(ms, et)
			}
		}
		ms = append(ms, byShard[shard]...)
		members[shard] = ms
		if err := s.writeChunk(&out, &states, c.CommitID, shard, ms); err != nil {
			return encoded{}, true, err
		}
	}
	refs, err := encodeRoot(&out, c, &states)
	if err != nil {
		return encoded{}, true, err
	}

	// The store now describes c.
	for id := range e.removed {
		if q := s.tables[id].t.qualified(); s.names[q] == id {
			delete(s.names, q)
		}
		delete(s.tables, id)
	}
	for id := range fresher {
		if old := s.tables[id]; old != nil {
			if q := old.t.qualified(); s.names[q] == id {
				delete(s.names, q)
			}
		}
	}
	for id, et := range fresher {
		s.tables[id] = et
		s.names[et.t.qualified()] = id
	}
	for shard := range dirty {
		if dirty[shard] {
			s.members[shard] = members[shard]
		}
	}
	if !slices.Equal(c.Namespaces, s.namespaces) {
		s.namespaces = slices.Clone(c.Namespaces)
	}
	s.order, s.shards, s.commitID = nil, states, c.CommitID
	s.rememberRoot(c.CommitID, refs)
	return out, true, nil
}

// keepsNamespaces reports whether next lists every namespace of prev,
// unchanged and in the same order, before any it adds: the tables that
// were valid in prev's namespaces still are.
func keepsNamespaces(prev, next []Namespace) bool {
	return len(next) >= len(prev) && slices.Equal(prev, next[:len(prev)])
}

// sameViews reports whether a and b are equal lists of views (nil and
// empty alike).
func sameViews(a, b []View) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return reflect.DeepEqual(a, b)
}

// validateChanges is Validate for a catalog that differs from the store's
// (valid) one only in its tables: the namespaces and views are equal, no
// table ID is listed twice, and the tables with known[i] true are
// unchanged. It checks the header and namespaces, and each other table
// alone and against the rest (its namespace exists; no other table or
// view has its ID or name) with the store's name index, and returns nil
// exactly when Validate does; on a problem it returns Validate's error.
// Callers hold mu; gen marks the tables of c found in the store.
func (s *catalogStore) validateChanges(c *Catalog, known []bool, gen uint64) error {
	var p problems
	namespaces := c.validateHead(&p)
	fresh := map[qualifiedName]string{}
	freshIDs := map[string]bool{}
	unchanged := func(id string) bool {
		et := s.tables[id]
		return et != nil && et.same == gen // still there, unchanged
	}
	for i := range c.Tables {
		if known[i] {
			continue
		}
		t := &c.Tables[i]
		if freshIDs[t.ID] {
			p.addf("%s: table id is used twice", tableLabel{t})
		}
		freshIDs[t.ID] = true
		s.checkChangedTable(&p, c, namespaces, fresh, t, unchanged)
	}
	if len(p.errs) > 0 {
		// Word it as Validate does.
		return c.validate(func(i int) bool { return known[i] })
	}
	return nil
}

// checkChangedTable adds the problems Validate finds with the changed
// table t, checked alone and against the rest of c: its ID, name and
// definition, its namespace (namespaces, c's), a name it shares with a
// changed table checked before it (fresh, which it joins) or with a table
// of the store that unchanged says c keeps as it was, and a view with its
// ID or name. Callers hold mu.
func (s *catalogStore) checkChangedTable(p *problems, c *Catalog, namespaces map[string]bool, fresh map[qualifiedName]string, t *Table, unchanged func(id string) bool) {
	label := tableLabel{t}
	p.add(tableIDProblem(t.ID))
	p.add(nameProblem("table", t.Name))
	if !namespaces[t.Namespace] {
		p.addf("%s: namespace %q does not exist", label, t.Namespace)
	}
	validateTable(p, label, t)
	q := t.qualified()
	if _, dup := fresh[q]; dup {
		p.addf("%s: another table has the same name", label)
	}
	fresh[q] = t.ID
	if id, has := s.names[q]; has && id != t.ID && unchanged(id) {
		p.addf("%s: another table has the same name", label)
	}
	for j := range c.Views {
		if v := &c.Views[j]; v.ID == t.ID || (v.Namespace == t.Namespace && v.Name == t.Name) {
			p.addf("%s: clashes with %s", label, viewLabel{v})
		}
	}
}

// encodeChunk returns the chunk of one shard's tables, sorted by ID.
func encodeChunk(commitID string, shard int, ets []*encodedTable) ([]byte, error) {
	slices.SortFunc(ets, func(a, b *encodedTable) int { return strings.Compare(a.t.ID, b.t.ID) })
	head, err := encodeJSON(&tableChunk{FormatVersion: CatalogFormatVersion, CommitID: commitID, Shard: shard, Tables: []Table{}})
	if err != nil {
		return nil, err
	}
	at := bytes.LastIndex(head, []byte(tablesKey))
	if at < 0 {
		return nil, fmt.Errorf("%w: encode: the chunk document does not hold %s", ErrInvalid, tablesKey)
	}
	at += len(tablesKey) - 1 // at the closing bracket
	size := len(head)
	var fresh bytes.Buffer
	enc := json.NewEncoder(&fresh)
	enc.SetEscapeHTML(false)
	for _, et := range ets {
		if et.data == nil {
			fresh.Reset()
			if err := enc.Encode(&et.t); err != nil {
				return nil, fmt.Errorf("%w: encode: %w", ErrInvalid, err)
			}
			et.data = bytes.TrimSuffix(bytes.Clone(fresh.Bytes()), []byte("\n"))
		}
		size += len(et.data) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, head[:at]...)
	for i, et := range ets {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, et.data...)
	}
	return append(out, head[at:]...), nil
}

// rememberRoot records the chunks of the root with the given commit ID.
// Callers hold mu.
func (s *catalogStore) rememberRoot(commitID string, refs map[int]string) {
	if s.roots == nil {
		s.roots = map[string]map[int]string{}
	}
	if _, ok := s.roots[commitID]; !ok {
		s.rootOrder = append(s.rootOrder, commitID)
	}
	s.roots[commitID] = refs
	for len(s.rootOrder) > maxRoots {
		delete(s.roots, s.rootOrder[0])
		s.rootOrder = s.rootOrder[1:]
	}
}

// decode parses a catalog version: a format-1 document, or a root whose
// chunks it reads (in parallel, those not cached). Any chunk that cannot
// be read or decoded fails the whole decode: there is no partial catalog.
func (s *catalogStore) decode(ctx context.Context, data []byte) (*Catalog, error) {
	switch f := catalogFormat(data); {
	case f > CatalogFormatVersion:
		return nil, fmt.Errorf("%w %d (this build reads catalog formats %d and %d)", ErrUnsupportedFormat, f, FormatVersion, CatalogFormatVersion)
	case f != CatalogFormatVersion:
		c, err := DecodeCatalog(data)
		if err == nil {
			for i := range c.Tables {
				clipTable(&c.Tables[i]) // see commitClone
			}
		}
		return c, err
	}
	r, err := decodeRoot(data)
	if err != nil {
		return nil, err
	}
	parts := make([][]Table, len(r.TableChunks))
	var missing []int
	total := 0
	for i, ref := range r.TableChunks {
		total += ref.Tables
		if tables, ok := s.cache.get(ref.SHA256); ok && len(tables) == ref.Tables {
			parts[i] = tables
		} else {
			missing = append(missing, i)
		}
	}
	if err := s.fetch(ctx, r, missing, parts); err != nil {
		return nil, err
	}
	tables := make([]Table, 0, total)
	for _, p := range parts {
		tables = append(tables, p...)
	}
	c := r.catalog(tables)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	s.learn(r, parts)
	return c, nil
}

// fetch reads and decodes the chunks r.TableChunks[i] for i in missing
// into parts, chunkFetchers at a time, and caches them.
func (s *catalogStore) fetch(ctx context.Context, r *catalogRoot, missing []int, parts [][]Table) error {
	if len(missing) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first failure is the cause; the reads it cancels fail after it.
	var first struct {
		sync.Mutex
		err error
	}
	fail := func(err error) {
		first.Lock()
		if first.err == nil {
			first.err = err
		}
		first.Unlock()
		cancel()
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(chunkFetchers, len(missing)) {
		wg.Go(func() {
			for j := range next {
				ref := r.TableChunks[missing[j]]
				key := ChunkKey(ref.SHA256)
				data, err := s.read(ctx, key, maxChunkSize)
				if objstore.IsNotFound(err) {
					// A root is put only after its chunks: one is gone.
					err = fmt.Errorf("%w: the root refers to a chunk that does not exist: %w", ErrCorrupt, err)
				}
				if err != nil {
					fail(fmt.Errorf("read table chunk %s of catalog v%d: %w", key, r.Version, err))
					continue
				}
				tables, err := decodeChunk(data, ref, r.TableShards)
				if err != nil {
					fail(fmt.Errorf("table chunk %s of catalog v%d: %w", key, r.Version, err))
					continue
				}
				parts[missing[j]] = tables
				s.cache.add(ref.SHA256, tables, len(data))
			}
		})
	}
	for j := range missing {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	first.Lock()
	defer first.Unlock()
	if first.err != nil {
		return first.err
	}
	return ctx.Err()
}

// learn makes the decoded root the encoder's reference: its tables (by
// ID, their encodings not yet known) and its chunks per shard. Only a root
// of this build's shard count is learned.
func (s *catalogStore) learn(r *catalogRoot, parts [][]Table) {
	if r.TableShards != CatalogShards {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	tables := make(map[string]*encodedTable, n)
	order := make([]*encodedTable, 0, n)
	names := make(map[qualifiedName]string, n)
	var states [CatalogShards]shardState
	var members [CatalogShards][]*encodedTable
	refs := make(map[int]string, len(r.TableChunks))
	for i, ref := range r.TableChunks {
		states[ref.Shard] = shardState{sha: ref.SHA256, n: ref.Tables}
		refs[ref.Shard] = ref.SHA256
		for j := range parts[i] {
			t := &parts[i][j]
			et := s.tables[t.ID]
			if et == nil || !sameTable(&et.t, t) {
				// The chunk cache's tables are never mutated: share them.
				et = &encodedTable{t: *t, shard: ref.Shard}
			}
			tables[t.ID] = et
			order = append(order, et)
			names[t.qualified()] = t.ID
			members[ref.Shard] = append(members[ref.Shard], et)
		}
	}
	s.tables, s.order, s.names, s.shards, s.members = tables, order, names, states, members
	s.namespaces, s.views, s.valid, s.commitID = r.Namespaces, r.Views, true, r.CommitID
	s.rememberRoot(r.CommitID, refs)
}
