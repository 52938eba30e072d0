package manifest

import (
	"context"
	"fmt"
	"time"
)

// DeleteVersionsBefore deletes the versions of the log below oldest,
// oldest first, and returns how many it deleted. Deleting in that order
// keeps the remaining versions consecutive and ending at the latest, so
// LatestVersion keeps working at every moment (a Load of a deleted version
// fails with ErrVersionNotFound). It never deletes oldest itself or
// anything above it, and the caller must not pass an oldest above the
// latest version: the head of a log is never removed. Deletes are
// idempotent, so concurrent calls are safe.
//
// Cost: 1 LIST page per 1000 versions below oldest, 1 DELETE per version.
func (l *Log[M]) DeleteVersionsBefore(ctx context.Context, oldest uint64) (int, error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	vprefix := l.versions()
	var doomed []string
	for a, err := range l.bucket.List(ctx, vprefix, "") {
		if err != nil {
			return 0, fmt.Errorf("manifest: list %s: %w", vprefix, err)
		}
		v, ok := parseVersionKey(vprefix, a.Key)
		if !ok {
			continue // not a version object; leave it alone
		}
		if v >= oldest {
			break
		}
		doomed = append(doomed, a.Key)
	}
	return l.deleteKeys(ctx, doomed)
}

// deleteKeys deletes keys in order and returns how many it deleted.
func (l *Log[M]) deleteKeys(ctx context.Context, keys []string) (int, error) {
	for i, key := range keys {
		if err := l.bucket.Delete(ctx, key); err != nil {
			return i, fmt.Errorf("manifest: delete %s: %w", key, err)
		}
	}
	return len(keys), nil
}

// PruneResult describes one Prune call.
type PruneResult struct {
	// LatestVersion is the log's latest version (0: the log is empty).
	LatestVersion uint64
	// OldestKeptVersion..LatestVersion remain.
	OldestKeptVersion uint64
	// Deleted counts the versions deleted.
	Deleted int
	// ChunksDeleted counts the table chunks deleted (catalog logs only).
	ChunksDeleted int
}

// Prune deletes the versions of the log that no reader within a time
// window can need, for logs whose versions refer to nothing else (the
// catalog; partition logs also reference segments, see tablestore's
// garbage collection). Kept are the latest version, every version the
// store last modified at or after cutoff, and the newest one modified
// before it — the version that was current when the window opened — so
// every state of the log since cutoff stays readable. A version of
// unknown age (no LastModified) counts as recent.
//
// cutoff must leave committers that trust a cached head (HeadTTL) far
// behind: callers use a retention of at least twice HeadTTL.
//
// For the catalog log, Prune then deletes the table chunks (ChunksPrefix)
// that no kept version refers to and that were last written before cutoff.
// The age rule protects the chunks of a commit in flight: it puts its new
// chunks before its root, so they are younger than cutoff until long after
// the root is visible (or the attempt has failed, leaving orphans that a
// later Prune removes). A chunk a commit reuses without putting it is one
// its base version refers to, and the base was the head of the log within
// HeadTTL, so Prune keeps it. Kept versions are read only after the
// listing of versions, and chunks listed only after that, so a root that
// appears meanwhile refers to chunks that are either young or kept. If any
// kept version cannot be read, no chunk is deleted.
//
// Cost: 1 LIST page per 1000 versions; 1 DELETE per version deleted. No
// partition version is read; for the catalog, 1 GET per kept format-2
// version, 1 LIST page per 1000 chunks and 1 DELETE per chunk deleted.
func (l *Log[M]) Prune(ctx context.Context, cutoff time.Time) (PruneResult, error) {
	var res PruneResult
	if err := l.usable(); err != nil {
		return res, err
	}
	vprefix := l.versions()
	// The versions come in ascending order. The oldest kept is the last
	// one modified before cutoff ahead of the first recent one (a version
	// modified before cutoff after a recent one — clocks disagreeing —
	// deletes nothing more).
	var oldest uint64
	seenRecent := false
	var keys []string // the version keys, ascending
	kept := 0         // the index of oldest's key in keys
	for a, err := range l.bucket.List(ctx, vprefix, "") {
		if err != nil {
			return res, fmt.Errorf("manifest: list %s: %w", vprefix, err)
		}
		v, ok := parseVersionKey(vprefix, a.Key)
		if !ok {
			continue
		}
		res.LatestVersion = max(res.LatestVersion, v)
		keys = append(keys, a.Key)
		if a.LastModified.IsZero() || !a.LastModified.Before(cutoff) {
			seenRecent = true
		} else if !seenRecent {
			oldest, kept = v, len(keys)-1
		}
		if oldest == 0 {
			oldest, kept = v, len(keys)-1
		}
	}
	res.OldestKeptVersion = oldest
	// The keys listed before oldest's are the versions below it.
	n, err := l.deleteKeys(ctx, keys[:kept])
	res.Deleted = n
	if err != nil || l.kind.chunkRefs == nil || len(keys) == 0 {
		return res, err
	}
	res.ChunksDeleted, err = l.pruneChunks(ctx, keys[kept:], cutoff)
	return res, err
}

// pruneChunks deletes the chunks that none of the versions stored at
// kept refers to and that were last modified before cutoff.
func (l *Log[M]) pruneChunks(ctx context.Context, kept []string, cutoff time.Time) (int, error) {
	live := map[string]bool{}
	for _, key := range kept {
		data, err := l.read(ctx, key, maxManifestSize)
		if err != nil {
			return 0, fmt.Errorf("manifest: prune chunks: read kept version %s: %w", key, err)
		}
		shas, err := l.kind.chunkRefs(data)
		if err != nil {
			return 0, fmt.Errorf("manifest: prune chunks: kept version %s: %w", key, err)
		}
		for _, sha := range shas {
			live[sha] = true
		}
	}
	var doomed []string
	for a, err := range l.bucket.List(ctx, ChunksPrefix, "") {
		if err != nil {
			return 0, fmt.Errorf("manifest: list %s: %w", ChunksPrefix, err)
		}
		sha, ok := parseChunkKey(a.Key)
		if !ok || live[sha] || a.LastModified.IsZero() || !a.LastModified.Before(cutoff) {
			continue
		}
		doomed = append(doomed, a.Key)
	}
	return l.deleteKeys(ctx, doomed)
}
