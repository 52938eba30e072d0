package manifest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/internal/backoff"
	"github.com/floedb/floe/lakehouse/objstore"
)

// Log errors. Test with errors.Is; they are wrapped with the log, key and
// version concerned.
//
// A failed Commit falls in one of three classes, as in Iceberg:
//
//   - it did not happen: ErrConflict, ErrFenced, ErrInvalid, the mutate
//     function's own error, a cancelled context or a read error. Nothing
//     of this commit is or will become visible; the caller may retry.
//   - it may have happened: ErrCommitUnknown (see CommitUnknownError). The
//     new version may exist now or appear later. The caller must not retry
//     blindly (that could apply the change twice) and must never delete the
//     objects the commit references: find out with Log.CheckCommit, or
//     re-read the manifest and look for the change.
//   - it happened: a nil error.
var (
	// ErrNoManifest: the log has no version yet (Latest).
	ErrNoManifest = errors.New("manifest: no manifest")
	// ErrVersionNotFound: the requested version does not exist (never
	// written, or removed by garbage collection).
	ErrVersionNotFound = errors.New("manifest: version not found")
	// ErrConflict: other committers won every attempt; Commit gave up after
	// LogOptions.MaxAttempts. Nothing was written. Retrying later is safe.
	ErrConflict = errors.New("manifest: conflict")
	// ErrCommitUnknown: a put of the new version failed in a way that does
	// not say whether it was stored, and re-reading the version did not
	// settle it. See CommitUnknownError.
	ErrCommitUnknown = errors.New("manifest: commit state unknown")
	// ErrFenced: the log was written by a newer writer epoch than the
	// committer holds; it lost ownership and must stop writing. Not retried.
	ErrFenced = errors.New("manifest: fenced")
	// ErrDataLoss: versions were removed from the head of the log — the
	// hint or a version this process saw is ahead of what the store
	// lists. Nothing is answered from the older version that remains;
	// restore the removed objects (bucket versioning is the operator's
	// protection).
	ErrDataLoss = errors.New("manifest: data loss")
)

// CommitUnknownError is the ErrCommitUnknown error: it says which version
// and commit ID to look for. errors.Is(err, ErrCommitUnknown) holds, and so
// does errors.Is for the underlying cause (e.g. context.DeadlineExceeded).
type CommitUnknownError struct {
	// Key is the object the commit tried to create.
	Key string
	// Version is the version it tried to create.
	Version uint64
	// CommitID is the Header.CommitID of the attempted manifest: if Version
	// holds it, the commit happened.
	CommitID string
	// Err is the last put error, joined with the error of the read that
	// tried to settle it, if any.
	Err error
}

func (e *CommitUnknownError) Error() string {
	return fmt.Sprintf("manifest: commit state unknown: %s v%d (commit %s) may or may not have been stored: %v", e.Key, e.Version, e.CommitID, e.Err)
}

// Unwrap returns ErrCommitUnknown and the cause.
func (e *CommitUnknownError) Unwrap() []error { return []error{ErrCommitUnknown, e.Err} }

// Manifest is the set of documents a Log holds.
type Manifest interface {
	*Catalog | *Partition
}

// LogOptions configure a Log. The zero value of every field means its
// default; EnsureDefaults fills them in and Validate reports problems.
type LogOptions struct {
	// NodeID is recorded as Header.CommittedBy of every commit. Default:
	// empty (not recorded).
	NodeID string
	// Clock stamps Header.CommittedAt and writer leases. Default: time.Now.
	Clock func() time.Time
	// Logger receives debug records about conflicts, retries and hint
	// problems. Default: discard.
	Logger *slog.Logger
	// MaxAttempts bounds the conditional puts one Commit makes, counting
	// conflicts and puts repeated after transient errors. Default: 30.
	MaxAttempts int
	// MinBackoff is the pause after the first failed attempt; it doubles
	// with each attempt up to MaxBackoff. The pause is drawn uniformly from
	// [d/2, d] (jitter). Default: 2ms.
	MinBackoff time.Duration
	// MaxBackoff caps the pause between attempts. Default: 250ms.
	MaxBackoff time.Duration
	// Rand returns a uniform random number in [0, n) for n > 0; it only
	// draws backoff jitter (commit IDs come from crypto/rand). It must be
	// safe for concurrent use. Default: math/rand/v2.Int64N.
	Rand func(n int64) int64
	// HeadTTL is how long, by Clock, after this Log last confirmed the
	// head of the log — by committing it, or by a listing that found it as
	// the latest version — Commit puts the next version on it directly,
	// without listing first (see Commit). Negative: always list. Default:
	// 30s.
	//
	// Garbage collection of old versions must keep every version for
	// longer than HeadTTL plus the clock skew between committers and the
	// collector (tablestore's GCOptions.Retention, 24h by default): a
	// version that a cached head predates could otherwise be deleted and
	// re-created on that stale head.
	HeadTTL time.Duration
	// HintEvery is how often the "latest" hint is written: by the commit
	// of every version that is a multiple of HintEvery, and by the next
	// commit through a Log whose cold LatestVersion found the hint
	// HintEvery or more versions behind. 1 writes it after every commit.
	// Default: 32. See writeHint for what readers may assume of the hint.
	HintEvery int
	// Metrics, when set, counts commits, lost races and failures.
	// Default: none.
	Metrics *Metrics
}

// Option defaults.
const (
	DefaultMaxAttempts = 30
	DefaultMinBackoff  = 2 * time.Millisecond
	DefaultMaxBackoff  = 250 * time.Millisecond
	DefaultHeadTTL     = 30 * time.Second
	DefaultHintEvery   = 32
)

// EnsureDefaults replaces zero fields by their defaults.
func (o *LogOptions) EnsureDefaults() {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Rand == nil {
		o.Rand = mathrand.Int64N
	}
	if o.HeadTTL == 0 {
		o.HeadTTL = DefaultHeadTTL
	}
	if o.HintEvery == 0 {
		o.HintEvery = DefaultHintEvery
	}
}

// Validate reports every problem of options that EnsureDefaults has filled.
func (o *LogOptions) Validate() error {
	var errs []error
	if o.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("manifest: LogOptions.MaxAttempts must be at least 1, got %d", o.MaxAttempts))
	}
	if o.MinBackoff < 0 {
		errs = append(errs, fmt.Errorf("manifest: LogOptions.MinBackoff must not be negative, got %s", o.MinBackoff))
	}
	if o.MaxBackoff < o.MinBackoff {
		errs = append(errs, fmt.Errorf("manifest: LogOptions.MaxBackoff %s is below MinBackoff %s", o.MaxBackoff, o.MinBackoff))
	}
	if o.HintEvery < 1 {
		errs = append(errs, fmt.Errorf("manifest: LogOptions.HintEvery must be at least 1, got %d", o.HintEvery))
	}
	if o.Clock == nil || o.Logger == nil || o.Rand == nil {
		errs = append(errs, errors.New("manifest: LogOptions: call EnsureDefaults before Validate"))
	}
	return errors.Join(errs...)
}

// CommitOptions apply to one Commit.
type CommitOptions struct {
	// WriterEpoch is the epoch the committer holds (see AcquireWriter); 0
	// for a committer that holds none. If the latest version was written
	// with a higher epoch, Commit fails with ErrFenced. The new version
	// records max(WriterEpoch, the latest version's epoch).
	WriterEpoch uint64
	// EditTables (catalog logs only) promises that the mutation changes
	// the catalog's tables only through Catalog.AddTable, RemoveTable and
	// ReplaceTable, never by writing Tables or a table in place: the
	// mutation then gets the base's tables without a copy, and the commit
	// costs what the edits touch, not what the catalog holds (see
	// tableEdits).
	EditTables bool
}

// Tuning constants of the protocol.
const (
	// maxManifestSize bounds what Load reads, so that a garbage object
	// cannot exhaust memory.
	maxManifestSize = 256 << 20
	// maxHintSize bounds what a hint read reads.
	maxHintSize = 64
	// staleListing is how many versions a listing from the in-process memo
	// may return before the hint is consulted (one S3 list page).
	staleListing = 1000
	// resolveTimeout bounds the read that settles an ambiguous put when the
	// caller's context is already done.
	resolveTimeout = 10 * time.Second
)

// Log is the versioned log of one manifest: the catalog (NewCatalogLog) or
// one partition of one table (NewPartitionLog). See the package
// documentation for the layout, the commit protocol and its costs.
//
// A Log is safe for concurrent use. Commits through one Log are serialized
// in process (they would only conflict with each other); commits through
// different Logs or processes are arbitrated by the bucket's conditional
// put. Manifests returned by Load and Latest are shared with the Log's
// cache and must be treated as immutable; Commit hands mutate a private
// clone. The zero Log is not usable.
type Log[M Manifest] struct {
	bucket objstore.Bucket
	opts   LogOptions
	kind   kind[M]
	prefix string // "catalog/" or "tables/<id>/<dir>/"
	err    error  // construction problem, returned by every method

	sem  chan struct{} // one commit at a time through this Log
	memo atomic.Uint64 // highest version known to exist
	// listed is set once LatestVersion listed the log: from then on an
	// empty log (memo 0) is listed from its start without reading the
	// hint, which could only be missing or stale (a never-flushed
	// partition is read on every INSERT and point read).
	listed atomic.Bool
	// hintStale is set when a listing found the hint HintEvery or more
	// versions behind: the next commit rewrites it.
	hintStale atomic.Bool

	mu struct {
		sync.Mutex
		// The latest version loaded or committed, decoded. Under the
		// invariants tag, data holds its encoding to detect mutation.
		version uint64
		m       M
		data    []byte
		// head is the version last confirmed to be the head of the log,
		// at headAt (by Clock, taken before the request that confirmed
		// it): this Log committed it, or a listing found it as the latest
		// version. headOK is false until then, and after a commit whose
		// outcome is unknown.
		head   uint64
		headAt time.Time
		headOK bool
		// headMin: confirmations by requests started before it are stale
		// (a commit of unknown outcome happened since).
		headMin time.Time
	}
}

// kind holds what differs between catalog and partition logs.
type kind[M Manifest] struct {
	what   string
	format int // the FormatVersion a commit writes
	empty  func() M
	clone  func(M) M
	header func(M) *Header
	// encode validates next and returns its version object and the
	// objects that must be durable before it; base is the version next
	// was derived from.
	encode func(base, next M) (encoded, error)
	// fingerprint is a deterministic encoding of a manifest, for the
	// invariants check of cached manifests.
	fingerprint func(M) ([]byte, error)
	// decode parses a version object, reading what it refers to.
	decode   func(ctx context.Context, data []byte) (M, error)
	identity func(M) error // the manifest belongs to this log
	// keeps checks what a commit must not change (base → next).
	keeps  func(base, next M) error
	holder func(M) string
	// keep returns the copy of a committed manifest the Log caches; the
	// caller keeps the original.
	keep func(M) M
	// editClone, if set, is clone for a commit with
	// CommitOptions.EditTables; done is called on the mutation's result.
	editClone func(M) M
	editDone  func(M)
	// chunkRefs returns the hashes of the chunks a stored version refers
	// to; nil for logs whose versions refer to no chunks.
	chunkRefs func(data []byte) ([]string, error)
}

// NewCatalogLog returns the log of the warehouse catalog in b. Options are
// completed with EnsureDefaults; invalid options make every method fail.
//
// Versions are written in the chunked format (CatalogFormatVersion: a
// root and table chunks, see ChunksPrefix); versions in the single-document
// format 1 written by older builds are read as well.
func NewCatalogLog(b objstore.Bucket, opts LogOptions) *Log[*Catalog] {
	st := &catalogStore{cache: newChunkCache(chunkCacheBytes)}
	k := kind[*Catalog]{
		what:        "catalog",
		format:      CatalogFormatVersion,
		empty:       func() *Catalog { return &Catalog{} },
		clone:       (*Catalog).commitClone,
		keep:        (*Catalog).keepClone,
		editClone:   st.editClone,
		editDone:    func(c *Catalog) { c.editsDone() },
		header:      func(c *Catalog) *Header { return &c.Header },
		encode:      st.encode,
		fingerprint: EncodeCatalog,
		decode:      st.decode,
		identity:    func(*Catalog) error { return nil },
		keeps: func(base, next *Catalog) error {
			if base.WarehouseID != "" && next.WarehouseID != base.WarehouseID {
				return fmt.Errorf("the warehouse id %q must not change (to %q)", base.WarehouseID, next.WarehouseID)
			}
			return nil
		},
		holder:    (*Catalog).Holder,
		chunkRefs: rootChunks,
	}
	l := newLog(b, CatalogPrefix, k, opts, nil)
	st.read = l.read
	return l
}

// NewPartitionLog returns the log of partition partition ("" for SHARED and
// SYSTEM tables, the user id otherwise) of table tableID in b. An invalid
// table ID, partition key or options make every method fail.
func NewPartitionLog(b objstore.Bucket, tableID, partition string, opts LogOptions) *Log[*Partition] {
	err := errors.Join(ValidateTableID(tableID), ValidatePartitionKey(partition))
	k := kind[*Partition]{
		what:   "partition",
		empty:  func() *Partition { return &Partition{TableID: tableID, Partition: partition} },
		format: FormatVersion,
		clone:  (*Partition).Clone,
		keep:   (*Partition).Clone,
		header: func(p *Partition) *Header { return &p.Header },
		encode: func(_, p *Partition) (encoded, error) {
			data, err := EncodePartition(p)
			return encoded{data: data}, err
		},
		fingerprint: EncodePartition,
		decode:      func(_ context.Context, data []byte) (*Partition, error) { return DecodePartition(data) },
		identity: func(p *Partition) error {
			if p.TableID != tableID || p.Partition != partition {
				return fmt.Errorf("manifest holds partition %q of table %q, this log is partition %q of table %q", p.Partition, p.TableID, partition, tableID)
			}
			return nil
		},
		keeps:  func(*Partition, *Partition) error { return nil },
		holder: func(p *Partition) string { return p.CommittedBy },
	}
	return newLog(b, PartitionPrefix(tableID, partition), k, opts, err)
}

func newLog[M Manifest](b objstore.Bucket, prefix string, k kind[M], opts LogOptions, err error) *Log[M] {
	opts.EnsureDefaults()
	if b == nil {
		err = errors.Join(err, errors.New("manifest: nil bucket"))
	}
	err = errors.Join(err, opts.Validate())
	if err != nil {
		err = fmt.Errorf("manifest: log %s: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	return &Log[M]{bucket: b, opts: opts, kind: k, prefix: prefix, err: err, sem: make(chan struct{}, 1)}
}

// Prefix returns the prefix of all of the log's objects, e.g. "catalog/".
func (l *Log[M]) Prefix() string { return l.prefix }

// VersionKey returns the object key of version v.
func (l *Log[M]) VersionKey(v uint64) string { return versionKey(l.prefix, v) }

// usable returns the construction error, if any.
func (l *Log[M]) usable() error {
	if l == nil || l.bucket == nil || l.sem == nil {
		if l != nil && l.err != nil {
			return l.err
		}
		return errors.New("manifest: Log not created by NewCatalogLog or NewPartitionLog")
	}
	return l.err
}

func (l *Log[M]) name() string     { return strings.TrimSuffix(l.prefix, "/") }
func (l *Log[M]) hintKey() string  { return l.prefix + hintName }
func (l *Log[M]) versions() string { return l.prefix + versionsDir }

// LatestVersion returns the newest version of the log, 0 if it is empty.
//
// Cost: the first call of a Log reads the hint object (1 GET) and lists the
// versions from the hint on (1 LIST request while fewer than 1000 versions
// were committed since the hint was written). Later calls list from the
// highest version this Log has seen (from the start if it saw none), with
// no GET; if that listing runs past
// 1000 versions, the hint is consulted to skip ahead. The version found is
// the head the next Commit may build on without listing (LogOptions.HeadTTL).
func (l *Log[M]) LatestVersion(ctx context.Context) (uint64, error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	at := l.opts.Clock() // before the listing: the head is confirmed as of then
	memo := l.memo.Load()
	from, fromMemo := memo, memo > 0 || l.listed.Load()
	if !fromMemo {
		h, err := l.readHint(ctx)
		if err != nil {
			return 0, err
		}
		from = h
	}
	v, err := l.scan(ctx, from, fromMemo)
	if err != nil {
		return 0, err
	}
	if v == 0 && from > 0 {
		// Neither version from nor any later one exists.
		if from > 1 { // the first scan was not a full one
			if v, err = l.scan(ctx, 0, false); err != nil {
				return 0, err
			}
		}
		// The hint names a version that existed (see writeHint), and a
		// memo one this process read or wrote: versions were removed
		// from the head of the log.
		l.dropHead() // so that Commit lists, and fails, too
		what := fmt.Sprintf("the latest hint names version %d", from)
		if fromMemo {
			what = fmt.Sprintf("version %d was seen", from)
		}
		return 0, fmt.Errorf("%w: %w: %s: %s but the store lists %d as the latest; versions must never be removed from the head of a log",
			ErrDataLoss, ErrCorrupt, l.name(), what, v)
	}
	if !fromMemo && (v < from || v-from >= uint64(l.opts.HintEvery)) {
		// The hint is missing, lags by HintEvery or more (its puts failed),
		// or is ahead of the log: have the next commit rewrite it.
		l.hintStale.Store(true)
	}
	l.see(v)
	l.listed.Store(true)
	l.confirmHead(v, at)
	return v, nil
}

// readHint returns the version in the hint object, 0 if there is none or it
// cannot be used. Only a cancelled context is an error: the hint is an
// optimisation.
func (l *Log[M]) readHint(ctx context.Context) (uint64, error) {
	data, err := l.read(ctx, l.hintKey(), maxHintSize)
	if err == nil {
		v, perr := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if perr == nil {
			return v, nil
		}
		err = perr
	}
	if cerr := ctx.Err(); cerr != nil {
		return 0, fmt.Errorf("manifest: read hint %s: %w", l.hintKey(), cerr)
	}
	if !objstore.IsNotFound(err) {
		l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest hint unusable",
			slog.String("log", l.name()), slog.Any("err", err))
	}
	return 0, nil
}

// scan lists the versions from `from` on (inclusive) and returns the
// largest, or 0 if there is none.
func (l *Log[M]) scan(ctx context.Context, from uint64, mayConsultHint bool) (uint64, error) {
	vprefix := l.versions()
	for {
		startAfter := ""
		if from > 1 {
			startAfter = versionKey(l.prefix, from-1)
		}
		var latest uint64
		n := 0
		skipTo := uint64(0)
		for a, err := range l.bucket.List(ctx, vprefix, startAfter) {
			if err != nil {
				return 0, fmt.Errorf("manifest: list %s: %w", vprefix, err)
			}
			v, ok := parseVersionKey(vprefix, a.Key)
			if !ok {
				l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest ignoring unexpected key",
					slog.String("log", l.name()), slog.String("key", a.Key))
				continue
			}
			latest = max(latest, v)
			if n++; mayConsultHint && n == staleListing {
				mayConsultHint = false
				h, err := l.readHint(ctx)
				if err != nil {
					return 0, err
				}
				if h > latest {
					skipTo = h
					break
				}
			}
		}
		if skipTo == 0 {
			return latest, nil
		}
		from = skipTo
	}
}

// see records that version v exists.
func (l *Log[M]) see(v uint64) {
	for {
		cur := l.memo.Load()
		if v <= cur || l.memo.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Latest returns the newest version of the log, or ErrNoManifest. Cost:
// LatestVersion plus 1 GET unless that version is already cached.
func (l *Log[M]) Latest(ctx context.Context) (M, error) {
	var zero M
	v, err := l.LatestVersion(ctx)
	if err != nil {
		return zero, err
	}
	if v == 0 {
		return zero, fmt.Errorf("manifest: latest %s: %w", l.name(), ErrNoManifest)
	}
	return l.Load(ctx, v)
}

// Load returns version v (1 GET unless cached). A missing version is
// ErrVersionNotFound; an object that does not decode, or holds another
// version or partition than its key says, is ErrCorrupt. Both name the key.
func (l *Log[M]) Load(ctx context.Context, v uint64) (M, error) {
	var zero M
	if err := l.usable(); err != nil {
		return zero, err
	}
	key := l.VersionKey(v)
	if v == 0 {
		return zero, fmt.Errorf("manifest: load %s v%d: %w (versions start at 1)", key, v, ErrVersionNotFound)
	}
	if m, ok := l.cached(v); ok {
		return m, nil
	}
	data, err := l.read(ctx, key, maxManifestSize)
	if objstore.IsNotFound(err) {
		return zero, fmt.Errorf("manifest: load %s v%d: %w", key, v, ErrVersionNotFound)
	}
	if err != nil {
		return zero, fmt.Errorf("manifest: load %s v%d: %w", key, v, err)
	}
	m, err := l.decodeAt(ctx, key, v, data)
	if err != nil {
		return zero, err
	}
	l.remember(v, m)
	return m, nil
}

// decodeAt decodes the object stored at key, which must hold version v.
func (l *Log[M]) decodeAt(ctx context.Context, key string, v uint64, data []byte) (M, error) {
	var zero M
	m, err := l.kind.decode(ctx, data)
	if err != nil {
		return zero, fmt.Errorf("manifest: load %s v%d: %w", key, v, err)
	}
	if got := l.kind.header(m).Version; got != v {
		return zero, fmt.Errorf("manifest: load %s v%d: %w: the object holds version %d", key, v, ErrCorrupt, got)
	}
	if err := l.kind.identity(m); err != nil {
		return zero, fmt.Errorf("manifest: load %s v%d: %w: %w", key, v, ErrCorrupt, err)
	}
	return m, nil
}

// read returns the content of key, refusing objects larger than limit.
func (l *Log[M]) read(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, _, err := l.bucket.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, key, limit)
	}
	return data, nil
}

func (l *Log[M]) cached(v uint64) (M, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.version != v || l.mu.version == 0 {
		var zero M
		return zero, false
	}
	if invariantsEnabled {
		checkUnchanged(l.kind.fingerprint, l.mu.m, l.mu.data, l.VersionKey(v))
	}
	return l.mu.m, true
}

// remember caches m as version v if it is the newest seen.
func (l *Log[M]) remember(v uint64, m M) {
	l.see(v)
	var data []byte
	if invariantsEnabled {
		data, _ = l.kind.fingerprint(m)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v >= l.mu.version {
		l.mu.version, l.mu.m, l.mu.data = v, m, data
	}
}

// latestOrEmpty returns the latest manifest or, for an empty log, a fresh
// zero manifest with Version 0.
func (l *Log[M]) latestOrEmpty(ctx context.Context) (M, error) {
	v, err := l.LatestVersion(ctx)
	if err != nil {
		var zero M
		return zero, err
	}
	if v == 0 {
		return l.kind.empty(), nil
	}
	return l.Load(ctx, v)
}

// confirmHead records that v was the head of the log at time at (by Clock,
// taken before the request that showed it).
func (l *Log[M]) confirmHead(v uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.Before(l.mu.headMin) {
		return // the request started before a commit of unknown outcome
	}
	if !l.mu.headOK || v > l.mu.head || (v == l.mu.head && at.After(l.mu.headAt)) {
		l.mu.head, l.mu.headAt, l.mu.headOK = v, at, true
	}
}

// dropHead forgets the confirmed head after a commit whose outcome is
// unknown, together with the confirmations of requests already under way.
func (l *Log[M]) dropHead() {
	now := l.opts.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.headOK, l.mu.headMin = false, now
}

// cachedBase returns the base Commit may put the next version on without
// listing first: the confirmed head, if it was confirmed within HeadTTL, no
// higher version has been seen since, and it is cached (or it is version 0:
// a zero manifest).
func (l *Log[M]) cachedBase() (M, bool) {
	var zero M
	if l.opts.HeadTTL < 0 {
		return zero, false
	}
	now := l.opts.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.mu.headOK, l.mu.head != l.memo.Load(), now.Sub(l.mu.headAt) >= l.opts.HeadTTL:
		return zero, false
	case l.mu.head == 0:
		return l.kind.empty(), true
	case l.mu.version != l.mu.head:
		return zero, false
	}
	if invariantsEnabled {
		checkUnchanged(l.kind.fingerprint, l.mu.m, l.mu.data, l.VersionKey(l.mu.head))
	}
	return l.mu.m, true
}

// Base returns the manifest the next Commit through this Log starts from:
// with no request when this Log confirmed the head of the log within
// LogOptions.HeadTTL (see Commit), as Latest otherwise. So, unlike Latest,
// it may be stale: another process may have committed since. A Commit on
// it finds that out (its put fails and it retries on the latest version,
// calling mutate again); use Base where that is enough, e.g. to prepare a
// change whose mutate function checks that its premise still holds. An
// empty log is ErrNoManifest. The manifest is shared with the Log's cache
// and must be treated as immutable.
func (l *Log[M]) Base(ctx context.Context) (M, error) {
	var zero M
	if err := l.usable(); err != nil {
		return zero, err
	}
	if m, ok := l.cachedBase(); ok {
		if l.kind.header(m).Version == 0 {
			return zero, fmt.Errorf("manifest: base %s: %w", l.name(), ErrNoManifest)
		}
		return m, nil
	}
	return l.Latest(ctx)
}

// Commit appends one version to the log: the result of mutate applied to
// the latest version, stored with a conditional put of version N+1 so that
// exactly one of any number of concurrent committers creates it.
//
// mutate receives a private clone of the latest manifest (a zero manifest
// with Version 0 when the log is empty) and returns the next state, usually
// the same pointer after changing it. For a catalog the clone is shallow
// below the tables array, so that its cost does not grow with the
// tables' columns: each table's Columns and PrimaryKey are shared with
// the cached version (capped, so an append copies them); replace or clone
// them before changing their elements in place (the invariants build
// panics when a cached manifest was changed). It must check its preconditions
// against base and return an error when they fail ("table exists"); that
// error is returned as it is, without retry and without writing anything.
// mutate may be called several times, once per attempt, each time with the
// latest base, so it must not have side effects beyond its argument, and it
// must not call Commit on the same Log (commits through one Log are
// serialized, so that would deadlock). The
// header fields are set by Commit: FormatVersion, Version (base + 1), a new
// random CommitID, CommittedAt from the clock, CommittedBy from
// LogOptions.NodeID and WriterEpoch. The result must pass Validate
// (ErrInvalid otherwise).
//
// The base: if this Log confirmed the head of the log — version N — within
// LogOptions.HeadTTL, by its own last commit or by a listing (LatestVersion,
// Latest, an earlier Commit), and has seen no later version since, Commit
// builds on its cached N without listing, and the conditional put of N+1
// checks that N is still the head: N+1 can only exist if another committer
// created it, since versions are dense and created only on top of their
// predecessor. If the put finds N+1 taken, the base was stale: Commit lists
// and retries at once, and that put does not count in MaxAttempts. If
// mutate (or the fencing or validation of its result) fails on such a
// cached base, Commit lists too and only returns the error if N is still
// the latest version; otherwise it retries on the latest. Without a usable
// head, Commit starts from a listing. HeadTTL exists for garbage
// collection: a version deleted by GC could be re-created on a stale head;
// GC keeps versions far longer.
//
// If another committer created version N+1 first, Commit reloads the
// latest version, calls mutate again and retries after a jittered
// exponential backoff, up to LogOptions.MaxAttempts puts in all, then fails
// with ErrConflict. If a put fails ambiguously (a timeout, a 5xx after the
// SDK's retries, or a precondition failure that may come from an SDK retry
// of our own successful put), Commit reads version N+1: if it holds this
// commit's ID the commit succeeded; if it holds another commit, this one
// definitely lost and is retried as a conflict; if it is absent or
// unreadable, the same bytes are put again (at most one of these puts can
// land). If the attempts run out in that state, or ctx ends there, Commit
// returns a *CommitUnknownError (ErrCommitUnknown), and the Log forgets its
// head.
//
// Fencing: if the latest version's Header.WriterEpoch is above
// opts.WriterEpoch, Commit fails with ErrFenced, naming both epochs.
//
// Cost of an uncontended commit through a Log that committed or listed
// within HeadTTL (the usual case for a process that commits repeatedly): 1
// conditional PUT, plus 1 PUT of the hint for one version in
// LogOptions.HintEvery. Otherwise add 1 LIST, and 1 GET to load the base
// unless it is cached, and on the first call of a Log 1 GET of the hint. A
// stale head costs the failed put, 1 GET (the version that took its place)
// and 1 LIST; each lost race after that adds 1 GET and 1 LIST.
//
// The returned manifest is the committed version; it belongs to the
// caller, but for a catalog only down to the tables: its Tables array (and
// each table's slices, as described above) is shared with the Log's cache
// and must not be changed in place; replace the slice to change it.
func (l *Log[M]) Commit(ctx context.Context, mutate func(base M) (M, error), opts CommitOptions) (M, error) {
	return l.commit(ctx, mutate, opts.EditTables, func(base M) (uint64, error) {
		h := l.kind.header(base)
		if h.WriterEpoch > opts.WriterEpoch {
			return 0, l.fenced(base, opts.WriterEpoch)
		}
		return max(h.WriterEpoch, opts.WriterEpoch), nil
	})
}

func (l *Log[M]) fenced(base M, epoch uint64) error {
	h := l.kind.header(base)
	return fmt.Errorf("%w: %s v%d: writer epoch %d (node %q) is fenced by epoch %d (node %q)",
		ErrFenced, l.name(), h.Version, epoch, l.opts.NodeID, h.WriterEpoch, l.kind.holder(base))
}

// commit is Commit with the epoch rule as a function of the base.
func (l *Log[M]) commit(ctx context.Context, mutate func(M) (M, error), edit bool, epochFor func(M) (uint64, error)) (M, error) {
	m, err := l.commitOnce(ctx, mutate, edit, epochFor)
	if err != nil && l != nil {
		l.opts.Metrics.failed(l.kind.what, err)
	}
	return m, err
}

func (l *Log[M]) commitOnce(ctx context.Context, mutate func(M) (M, error), edit bool, epochFor func(M) (uint64, error)) (M, error) {
	var zero M
	if err := l.usable(); err != nil {
		return zero, err
	}
	if mutate == nil {
		return zero, fmt.Errorf("manifest: commit %s: nil mutate function", l.name())
	}
	select {
	case l.sem <- struct{}{}:
		defer func() { <-l.sem }()
	case <-ctx.Done():
		return zero, fmt.Errorf("manifest: commit %s: %w", l.name(), ctx.Err())
	}

	// cached: base is the cached head, not (yet) confirmed by a listing
	// made for this commit.
	base, cached := l.cachedBase()
	if !cached {
		var err error
		if base, err = l.latestOrEmpty(ctx); err != nil {
			return zero, fmt.Errorf("manifest: commit %s: %w", l.name(), err)
		}
	}
	attempts := 0
	for {
		version := l.kind.header(base).Version + 1
		now := l.opts.Clock()
		next, commitID, enc, err := l.prepare(base, mutate, edit, epochFor, now)
		if err != nil {
			if !cached {
				return zero, err
			}
			// Decided on the cached head, which may be stale: decide on
			// the latest version.
			cached = false
			latest, lerr := l.latestOrEmpty(ctx)
			if lerr != nil {
				return zero, fmt.Errorf("manifest: commit %s: %w", l.name(), lerr)
			}
			if l.kind.header(latest).Version == version-1 {
				return zero, err
			}
			base = latest
			continue
		}

		key := l.VersionKey(version)
		if err := l.putParts(ctx, version, enc.parts); err != nil {
			return zero, err
		}
		won, err := l.place(ctx, key, version, commitID, enc.data, &attempts)
		if err != nil {
			if errors.Is(err, ErrCommitUnknown) {
				l.dropHead()
			}
			return zero, err
		}
		if won {
			l.opts.Metrics.committed(l.kind.what)
			l.remember(version, l.kind.keep(next))
			l.confirmHead(version, now)
			if stale := l.hintStale.Swap(false); stale || version%uint64(l.opts.HintEvery) == 0 {
				l.writeHint(ctx, version)
			}
			l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest committed",
				slog.String("log", l.name()), slog.Uint64("version", version),
				slog.String("commit_id", commitID), slog.Int("attempt", attempts),
				slog.Bool("cached_base", cached))
			return next, nil
		}

		l.opts.Metrics.conflict(l.kind.what)
		l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest commit conflict",
			slog.String("log", l.name()), slog.Uint64("version", version),
			slog.String("commit_id", commitID), slog.Int("attempt", attempts),
			slog.Bool("cached_base", cached))
		if cached {
			// The cached head was stale. That put only found out: retry on
			// the latest version at once, without counting it.
			cached = false
			attempts--
		} else {
			if attempts >= l.opts.MaxAttempts {
				return zero, fmt.Errorf("manifest: commit %s: %w: version %d was taken by another commit, giving up after %d attempts", l.name(), ErrConflict, version, attempts)
			}
			if err := l.sleep(ctx, attempts); err != nil {
				return zero, fmt.Errorf("manifest: commit %s: %w", l.name(), err)
			}
		}
		// The winner's version is cached by place; a newer one may exist.
		if base, err = l.latestOrEmpty(ctx); err != nil {
			return zero, fmt.Errorf("manifest: commit %s: %w", l.name(), err)
		}
		if got := l.kind.header(base).Version; got < version {
			return zero, fmt.Errorf("%w: %s: version %d exists but the latest version is %d", ErrCorrupt, l.name(), version, got)
		}
	}
}

// prepare applies mutate to a clone of base and returns the next version,
// its commit ID and its encoding, stamped at now.
func (l *Log[M]) prepare(base M, mutate func(M) (M, error), edit bool, epochFor func(M) (uint64, error), now time.Time) (next M, commitID string, enc encoded, err error) {
	baseVersion := l.kind.header(base).Version
	if baseVersion == math.MaxUint64 {
		return next, "", enc, fmt.Errorf("manifest: commit %s: version space exhausted", l.name())
	}
	version := baseVersion + 1
	epoch, err := epochFor(base)
	if err != nil {
		return next, "", enc, err
	}
	clone := l.kind.clone
	if edit && l.kind.editClone != nil {
		clone = l.kind.editClone
	}
	if next, err = mutate(clone(base)); err != nil {
		return next, "", enc, err
	}
	if next == nil {
		return next, "", enc, fmt.Errorf("manifest: commit %s v%d: mutate returned a nil manifest", l.name(), version)
	}
	if edit && l.kind.editDone != nil {
		l.kind.editDone(next)
	}
	commitID = rand.Text()
	*l.kind.header(next) = Header{
		FormatVersion: l.kind.format,
		Version:       version,
		CommitID:      commitID,
		CommittedAt:   now.UTC(),
		CommittedBy:   l.opts.NodeID,
		WriterEpoch:   epoch,
	}
	if err := errors.Join(l.kind.identity(next), l.kind.keeps(base, next)); err != nil {
		return next, "", enc, fmt.Errorf("manifest: commit %s v%d: %w: %w", l.name(), version, ErrInvalid, err)
	}
	if enc, err = l.kind.encode(base, next); err != nil {
		return next, "", enc, fmt.Errorf("manifest: commit %s v%d: %w", l.name(), version, err)
	}
	return next, commitID, enc, nil
}

// putParts makes the objects a version refers to durable before the
// version itself is put: plain puts, chunkFetchers at a time. The keys
// are written by this commit attempt only (see ChunksPrefix), so a put
// repeated after a failure writes the same bytes. An error means the
// version was not put: the commit did not happen, and the parts already
// put are orphans for garbage collection.
func (l *Log[M]) putParts(ctx context.Context, version uint64, parts []encodedObject) error {
	if len(parts) == 0 {
		return nil
	}
	errs := make([]error, len(parts))
	sem := make(chan struct{}, chunkFetchers)
	var wg sync.WaitGroup
	for i, p := range parts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := l.bucket.Put(ctx, p.key, p.data, objstore.PutOptions{}); err != nil {
				errs[i] = fmt.Errorf("manifest: commit %s v%d: put %s: %w", l.name(), version, p.key, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// place creates key with data (IfNoneMatch) and finds out whether it did:
// won is true if key holds this commit, false if it holds another one. An
// error means nothing was written (ctx ended before the first put) or the
// outcome is unknown (*CommitUnknownError).
func (l *Log[M]) place(ctx context.Context, key string, version uint64, commitID string, data []byte, attempts *int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("manifest: commit %s v%d: %w", l.name(), version, err)
	}
	for {
		*attempts++
		_, perr := l.bucket.Put(ctx, key, data, objstore.PutOptions{IfNoneMatch: true})
		if perr == nil {
			return true, nil
		}
		if errors.Is(perr, objstore.ErrInvalidKey) {
			return false, fmt.Errorf("manifest: commit %s v%d: %w", l.name(), version, perr) // refused before any write
		}
		// Any other failure may hide a stored put (an SDK retry of a put that
		// landed reports a precondition failure), so read what is there.
		res, rerr := l.resolve(ctx, key, version, commitID, data)
		switch res {
		case resolvedOurs:
			l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest put failed but the commit landed",
				slog.String("log", l.name()), slog.Uint64("version", version),
				slog.String("commit_id", commitID), slog.Any("err", perr))
			return true, nil
		case resolvedTheirs:
			return false, nil
		}
		cause := perr
		if rerr != nil {
			cause = errors.Join(perr, rerr)
		}
		if *attempts >= l.opts.MaxAttempts || ctx.Err() != nil {
			return false, &CommitUnknownError{Key: key, Version: version, CommitID: commitID, Err: errors.Join(cause, ctx.Err())}
		}
		l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest put outcome unknown, retrying",
			slog.String("log", l.name()), slog.Uint64("version", version),
			slog.String("commit_id", commitID), slog.Int("attempt", *attempts), slog.Any("err", cause))
		if err := l.sleep(ctx, *attempts); err != nil {
			return false, &CommitUnknownError{Key: key, Version: version, CommitID: commitID, Err: errors.Join(cause, err)}
		}
	}
}

type resolution uint8

const (
	resolvedAbsent resolution = iota // or unreadable
	resolvedOurs
	resolvedTheirs
)

// resolve reads key after a failed put of data to it. A done ctx does not
// stop the read (it is bounded by resolveTimeout instead): knowing the
// outcome is worth a short wait.
func (l *Log[M]) resolve(ctx context.Context, key string, version uint64, commitID string, data []byte) (resolution, error) {
	rctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), resolveTimeout)
		defer cancel()
	}
	got, err := l.read(rctx, key, maxManifestSize)
	switch {
	case objstore.IsNotFound(err):
		return resolvedAbsent, nil
	case err != nil:
		return resolvedAbsent, fmt.Errorf("manifest: read back %s: %w", key, err)
	case bytes.Equal(got, data):
		return resolvedOurs, nil
	}
	m, err := l.decodeAt(rctx, key, version, got)
	if err != nil {
		// Not ours (ours decodes); the reload will report the corruption.
		return resolvedTheirs, nil
	}
	if l.kind.header(m).CommitID == commitID {
		return resolvedOurs, nil
	}
	l.remember(version, m)
	return resolvedTheirs, nil
}

// sleep waits the backoff after the given attempt, or until ctx ends.
func (l *Log[M]) sleep(ctx context.Context, attempt int) error {
	return l.backoffPolicy().Sleep(ctx, attempt)
}

// backoff returns the jittered pause after attempt (1-based): uniform in
// [d/2, d] with d = MinBackoff·2^(attempt-1) capped at MaxBackoff.
func (l *Log[M]) backoff(attempt int) time.Duration {
	return l.backoffPolicy().Delay(attempt)
}

func (l *Log[M]) backoffPolicy() backoff.Policy {
	return backoff.Policy{Min: l.opts.MinBackoff, Max: l.opts.MaxBackoff, Rand: l.opts.Rand}
}

// writeHint records v as a recent version. Best effort: a failure only
// makes later cold LatestVersion calls list a little more.
//
// The hint's invariant: it names a version that was created before the
// hint was written (Commit writes it only after its put of v landed, and
// versions are never removed from the head of a log), so it is never
// ahead of the head — unless objects were removed or tampered with, which
// LatestVersion reports as ErrDataLoss. It may lag the head by any number of
// versions: it is written for one version in HintEvery, its puts may fail
// or land out of order, and GC may have removed the version it names.
// Nothing relies on it being fresh: LatestVersion only starts its listing
// there and returns the highest version listed (listing everything if
// nothing is found from the hint on), and Commit never reads it. A lag
// costs listing, 1 LIST page per 1000 versions; under the HintEvery policy
// it stays below HintEvery while hint puts succeed, and a cold
// LatestVersion that finds it HintEvery or more behind has the Log's next
// commit rewrite it.
func (l *Log[M]) writeHint(ctx context.Context, v uint64) {
	if ctx.Err() != nil {
		return
	}
	_, err := l.bucket.Put(ctx, l.hintKey(), strconv.AppendUint(nil, v, 10), objstore.PutOptions{})
	if err != nil {
		l.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "manifest hint not written",
			slog.String("log", l.name()), slog.Uint64("version", v), slog.Any("err", err))
	}
}

// CheckCommit settles an ErrCommitUnknown: it reports whether version holds
// the commit with ID commitID (see CommitUnknownError). It returns false
// with a nil error if the version holds another commit, so the unknown
// commit definitely failed; ErrVersionNotFound if the version does not
// exist (yet), in which case the outcome is still unknown.
func (l *Log[M]) CheckCommit(ctx context.Context, version uint64, commitID string) (bool, error) {
	m, err := l.Load(ctx, version)
	if err != nil {
		return false, err
	}
	return l.kind.header(m).CommitID == commitID, nil
}

// AcquireWriter makes nodeID the owner of the warehouse's node-owned write
// path: ClaimWriter with the epoch one above the latest catalog's. It
// returns the new epoch and catalog.
func AcquireWriter(ctx context.Context, catalog *Log[*Catalog], nodeID string) (uint64, *Catalog, error) {
	c, err := ClaimWriter(ctx, catalog, WriterClaim{NodeID: nodeID})
	if err != nil {
		return 0, nil, err
	}
	return c.WriterEpoch, c, nil
}

// WriterClaim is what ClaimWriter commits.
type WriterClaim struct {
	// NodeID is the claiming node; required.
	NodeID string
	// Epoch is the writer epoch to claim. 0 means one above the latest
	// catalog's. A catalog whose epoch is already Epoch or above refuses
	// the claim with ErrFenced: the epoch belongs to someone else.
	Epoch uint64
	// WarehouseID is recorded as Catalog.WarehouseID if the catalog has
	// none yet (it is new, or older than warehouse ids); an existing id is
	// kept. Empty: none is assigned.
	WarehouseID string
}

// ClaimWriter commits a catalog version whose writer epoch is the
// claimed one, with a Writer lease naming the node, and returns it. From
// then on every commit with a lower CommitOptions.WriterEpoch to the
// catalog fails with ErrFenced, and so does every commit to a partition
// log once the new owner has committed to it with its epoch. See the
// package documentation on fencing. Which node may claim is decided
// elsewhere (the writer lease, lakehouse/lease); the catalog only keeps
// epochs from going back.
func ClaimWriter(ctx context.Context, catalog *Log[*Catalog], claim WriterClaim) (*Catalog, error) {
	if claim.NodeID == "" {
		return nil, fmt.Errorf("%w: ClaimWriter needs a node id", ErrInvalid)
	}
	next := func(base *Catalog) (uint64, error) {
		switch {
		case claim.Epoch != 0 && base.WriterEpoch >= claim.Epoch:
			return 0, fmt.Errorf("%w: catalog v%d: writer epoch %d (node %q) cannot be claimed by node %q, the catalog is at epoch %d",
				ErrFenced, base.Version, claim.Epoch, base.Holder(), claim.NodeID, base.WriterEpoch)
		case claim.Epoch != 0:
			return claim.Epoch, nil
		case base.WriterEpoch == math.MaxUint64:
			return 0, fmt.Errorf("manifest: acquire writer: epoch space exhausted")
		}
		return base.WriterEpoch + 1, nil
	}
	return catalog.commit(ctx, func(base *Catalog) (*Catalog, error) {
		epoch, err := next(base)
		if err != nil {
			return nil, err
		}
		base.Writer = &WriterLease{Epoch: epoch, NodeID: claim.NodeID, AcquiredAt: catalog.opts.Clock().UTC()}
		if base.WarehouseID == "" {
			base.WarehouseID = claim.WarehouseID
		}
		return base, nil
	}, false, next)
}
