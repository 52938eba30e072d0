// Package manifest holds Floe's metadata: the catalog and the partition
// manifests, their strict JSON codec, their validation rules, and the commit
// protocol that makes the object store the source of truth.
//
// # Manifests
//
// A manifest is an immutable, versioned JSON document. The Catalog lists a
// warehouse's namespaces and tables (schemas, options, the writer lease). A
// Partition lists the immutable Parquet segments of one partition of one
// table (one per user for USER and STREAM tables, a single one, key "", for
// SHARED and SYSTEM tables), with their row counts, sizes, _seq ranges and
// column statistics, and the partition's last _seq. Every manifest starts
// with a Header: format version, version number, commit ID, commit time,
// committing node and writer epoch.
//
// Each manifest lives in its own log of versions 1, 2, 3, … with no gaps.
// Old versions stay for time travel until garbage collection removes them;
// collection must never remove the newest version of a log, nor anything a
// version it keeps refers to.
//
// # Layout
//
//	catalog/v/00000000000000000007.json       catalog version 7 (a root)
//	catalog/chunks/<sha256>.json              table chunks of catalog roots
//	catalog/latest                            hint: "7" (best effort)
//	tables/<table id>/shared/v/<version>.json  partition "" of a table
//	tables/<table id>/shared/latest
//	tables/<table id>/shared/seg/…            its segment objects
//	tables/<table id>/u-<escaped user>/…      a user's partition, same layout
//
// Versions are zero-padded to 20 digits so that key order is version order.
// User ids are escaped by EscapePartition (lower-case letters, digits and
// "._~-" as they are, every other byte as %XX), so that any user id yields a
// valid key and distinct ids never share a folder, even on a case-insensitive
// file system. See PartitionPrefix and SegmentPrefix.
//
// # The chunked catalog
//
// A catalog version is stored as a small root (format 2,
// CatalogFormatVersion) holding the header, writer lease, namespaces and
// views, and a reference per non-empty shard to an immutable chunk
// holding that shard's tables: a table belongs to shard fnv-1a-32(ID) mod
// the root's table_shards (CatalogShards = 256 when written), a chunk
// lists its tables by ascending ID and is named by the SHA-256 of its
// bytes (ChunkKey). A DDL statement therefore rewrites one chunk and the
// root, whatever the number of tables. Rules:
//
//   - Commit puts the chunks a new root refers to, other than those its
//     base's root refers to, before the root's conditional put (plain puts;
//     a repeated put writes the same bytes): a root never refers to a chunk
//     that is not durable. A failed or crashed commit leaves orphan chunks,
//     never a broken catalog.
//   - A chunk carries the commit ID of the attempt that wrote it, so one
//     key is only ever written by one attempt, and a root reuses only its
//     base's chunks. Prune (catalog log) deletes a chunk only if no kept
//     version refers to it and it was last written before the cutoff: the
//     chunks of a commit in flight are younger, and the chunks a commit
//     reuses belong to its base, which was the head within HeadTTL and so
//     is kept.
//   - Loading a root reads its chunks in parallel, except those in the
//     Log's chunk cache (decoded chunks by hash, bounded, immutable). Any
//     chunk that cannot be read fails the load; a chunk that is missing or
//     whose bytes do not hash to its name is ErrCorrupt. The assembled
//     catalog is validated as a whole. Its tables come in shard order, then
//     ID order, not in the order they were added.
//   - Versions written by older builds as one document (format 1) are read
//     as before (DecodeCatalog); the first commit writes a root. An older
//     build meeting a root fails with ErrUnsupportedFormat ("unsupported
//     format version 2").
//
// The per-commit work in memory does not grow with the number of tables
// beyond one copy of the tables array and one pass comparing each table
// with the encoder's copy: mutate's clone shares each table's columns and
// key with the cached version (see Commit), only changed tables are
// encoded and validated (against a kept index of table names), and the
// Log keeps the encoder's private copy of the committed catalog.
//
// # Reading
//
// Log.LatestVersion finds the newest version with a bounded number of
// requests: it reads the hint object (1 GET), then lists the version keys
// from the hinted version on (1 LIST while fewer than 1000 versions were
// committed since the hint was written). The hint is written after the
// commit of every LogOptions.HintEvery-th version (and when a reader found
// it far behind), so it may be stale but is never ahead; the listing is
// what decides. A Log remembers the highest version it has seen, so later
// calls skip the GET and list from there. Log.Latest adds 1 GET to load the
// version unless it is cached; Log.Load reads any version.
//
// # Committing
//
// Log.Commit applies a mutation to the latest version N and creates version
// N+1 with a conditional put (If-None-Match: *). Exactly one of any number of
// concurrent committers creates N+1; the others reload, re-apply their
// mutation to the new latest version and retry with jittered exponential
// backoff. Because every version is written exactly once and only on top of
// its predecessor, no update is ever lost: a change either is in version N+1
// or is retried on top of it. Preconditions ("the table does not exist")
// are checked by the mutation against its base and fail without retry.
//
// A Log trusts the latest version it committed or listed for
// LogOptions.HeadTTL: an uncontended commit on such a base costs 1
// conditional PUT (plus the hint PUT every HintEvery versions), since the
// put of N+1 itself fails if N is no longer the latest. Otherwise the
// commit adds 1 LIST (and 1 GET to load the base when it is not cached). A
// lost race adds 1 GET and 1 LIST.
//
// A put can fail without saying whether it was stored: a timeout, a 5xx
// after the SDK's own retries, or a precondition failure that was caused by
// an SDK retry of our own put that had landed. Commit then reads version
// N+1: our commit ID there means success; another commit means we lost and
// retry; nothing there means our put may still land, so Commit puts the
// same bytes again (the condition lets at most one of them land). If that
// does not settle it, Commit returns a *CommitUnknownError
// (ErrCommitUnknown): the caller must neither assume failure (and delete
// the segments the commit refers to) nor retry blindly (and apply the
// change twice); Log.CheckCommit tells later. This mirrors Iceberg's
// distinction between ErrCommitFailed and ErrCommitStateUnknown: ErrConflict,
// ErrFenced and ErrInvalid mean nothing was written, ErrCommitUnknown means
// the outcome is open.
//
// # Fencing
//
// In the node-owned write path one node owns the warehouse. Which node may
// is decided by the writer lease (package lakehouse/lease); ClaimWriter
// (or AcquireWriter, for the next epoch) then commits a catalog version
// with the claimed writer epoch, above every earlier one, and a Writer
// record naming the node. The first claim also gives the catalog its
// WarehouseID, which never changes afterwards. Every later commit carries the
// committer's epoch in CommitOptions; a log whose latest version has a
// higher epoch refuses it with ErrFenced, and the new version records the
// higher of the two epochs, so epochs never go back. As in SlateDB, the new
// owner fences the old one by writing: the old node's next catalog commit
// fails at once, and its next commit to a partition fails as soon as the
// new owner has committed to that partition. A new owner that must stop the
// old one from committing to partitions it has not written yet commits an
// unchanged manifest to them with its epoch first (mutate returning base);
// an old owner that wants to find out early checks the catalog's
// WriterEpoch. Commits with epoch 0 (serverless writers hold none) are
// fenced by any log a node-owned writer has touched.
//
// # Assumptions about the bucket
//
// The protocol relies on the objstore.Bucket contract: strong read-after-
// write and list-after-write consistency, atomic visibility of a put, and
// conditional puts with If-None-Match that let exactly one concurrent
// creator win. S3 (since 2020 for consistency, since 2024 for conditional
// writes), the local file system backend and the memory backend provide
// them. Clocks are not trusted: CommittedAt and lease times are
// informational.
//
// # Codec
//
// EncodeCatalog and EncodePartition produce canonical, deterministic JSON
// (EncodeCatalog: the single-document format 1; the catalog log writes
// roots and chunks, whose decoders are as strict).
// DecodeCatalog and DecodePartition are strict: unknown, misspelled or
// duplicate fields, wrong types, out-of-range numbers and trailing data are
// refused with ErrCorrupt naming the field path and byte offset, a newer
// format_version with ErrUnsupportedFormat, and every decoded manifest is
// validated.
//
// # Build tag invariants
//
// With -tags invariants the package checks that manifests shared from a
// Log's cache are never mutated and panics if they are.
package manifest
