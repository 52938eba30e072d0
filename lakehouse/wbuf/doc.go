// Package wbuf is the node's write buffer: row versions in a local Pebble
// database, numbered per partition with _seq, acknowledged once Pebble's
// WAL is synced, and kept until a flush has moved them to a segment.
//
// # Use
//
//	buf, err := wbuf.Open(wbuf.Options{Dir: dir, Logger: logger})
//	defer buf.Close()
//	buf.SetSeqFloor(p, manifest.LastSeq)  // once per partition, at start
//	first, err := buf.Write(ctx, p, muts) // _seq first, first+1, …
//
//	// A flush:
//	snap := buf.Snapshot()
//	cut := snap.MaxSeq(p)
//	for e, err := range snap.Versions(ctx, p, wbuf.ScanOptions{AfterSeq: last, UpToSeq: cut, LatestOnly: true}) { … }
//	snap.Close()
//	// … write the segment, commit the manifest with LastSeq = cut …
//	buf.DeleteUpTo(ctx, p, cut)
//
// # Key layout
//
// Every Pebble key starts with a byte naming its kind; a partition is
// encoded as uvarint(len(table ID)) table ID uvarint(len(partition))
// partition, which no other partition's encoding is a prefix of, so each
// partition's records form one contiguous key range.
//
//	m format                                  "1": the layout version (Open refuses others)
//	s <partition>                             the partition state
//	v <partition> <primary key> <^seq, 8 bytes big-endian>
//	                                          one row version
//
// Version keys sort by primary key and, within a key, newest version first
// (^seq), so "latest version per key" is the first entry of each key group
// and a scan can skip the rest with a seek. The primary key bytes are the
// caller's (row.AppendKey); they must be prefix-free within a partition,
// which row.AppendKey guarantees for one table's key columns and which a
// scan checks between neighbouring keys.
//
// A version's value is its write time (varint Unix milliseconds) followed
// by row.AppendVersion of the version (its Seq left 0: the key has it).
//
// The state value holds the partition's _seq counter (the highest _seq
// assigned, or the floor set by SetSeqFloor) and the statistics of its
// buffered versions: row count, encoded bytes, min and max _seq, oldest
// write time. It is rewritten in the same Pebble batch as every change to
// the partition's versions (Write, DeleteUpTo), so counter, statistics and
// versions change atomically, and Open only reads the state records (one
// per partition) instead of scanning the versions. Under the invariants
// build tag Open also recomputes the statistics from the versions and
// fails if they differ.
//
// # Durability and ordering
//
// Write assigns _seq values and applies its batch to Pebble (NoSync) while
// holding the partition's mutex; then, without the mutex, it waits for a
// WAL sync (an empty LogData record committed with Sync) before returning.
//
//   - Visibility follows _seq order: Pebble's Apply returns only after the
//     batch is visible (the commit pipeline publishes the visible sequence
//     number before Commit returns), and the partition's next batch is
//     applied after that, so a snapshot that shows _seq N+1 shows N.
//   - An acknowledged Write is durable: Pebble writes WAL records in the
//     order batches commit (commitPipeline.prepare writes the batch under
//     commitPipeline.mu), so the LogData record follows the batch in the
//     WAL. A sync request fsyncs everything queued before it
//     (record/log_writer.go flushLoop: "when a sync is requested, any
//     previously queued flush work will be synced"), and if the WAL was
//     rotated in between, DB.rotateWAL closed the old log, which syncs it,
//     before creating the new one. Pebble's Checkpoint(WithFlushedWAL) uses
//     the same LogData(nil, Sync) to make earlier NoSync writes durable.
//   - _seq values are never reused: the counter is in the same batch as the
//     versions, so a Write that returned has a durable counter at least as
//     high as its seqs. A batch lost in a crash (applied, not yet synced)
//     was never acknowledged, and its seqs are assigned again.
//   - Fsyncs are shared: the sync waits run outside the partition mutex, so
//     while one writer waits the next writers apply their batches, and the
//     WAL writer serves all pending sync requests with one fsync.
//   - If Pebble's WAL write or fsync fails, Pebble calls Logger.Fatalf; this
//     package's logger then ends the process (Pebble would otherwise treat
//     the batch as committed). A restart recovers from the WAL.
//
// A snapshot may show versions of a Write that has not returned yet
// (applied, sync pending). Flushing them is safe: if the process crashes
// before the sync, the manifest that a flush committed keeps their _seq
// range, and SetSeqFloor(manifest LastSeq) at start keeps _seq from going
// back.
//
// # Budget
//
// The buffered bytes (encoded key + value of each buffered version) are
// counted per partition and in total; a Write that would take the total
// above Options.MaxBytes fails with ErrFull and writes nothing. DeleteUpTo
// gives the room back.
package wbuf
