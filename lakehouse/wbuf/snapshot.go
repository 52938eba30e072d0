package wbuf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floedb/floe/lakehouse/row"
)

// Snapshot is a consistent, immutable view of the whole buffer (a Pebble
// snapshot): it shows exactly the batches applied before it was taken, so
// within each partition a gap-free prefix of the _seq order (see Write for
// why a version it shows may belong to a Write that has not returned yet).
//
// A nil *Snapshot is empty: it shows no versions (see Buffer.Snapshot).
//
// A Snapshot must be closed; it pins the versions it shows (DeleteUpTo does
// not free their disk space while it is open). Its methods are safe for
// concurrent use; an iteration in progress keeps it usable until the
// iteration ends, even if Close is called meanwhile. Buffer.Close closes the
// Snapshots still open, after the iterations in progress have ended.
type Snapshot struct {
	b *Buffer
	// at is the buffer's change counter read just before the Pebble
	// snapshot was taken (see Buffer.stateAsOf).
	at uint64
	mu struct {
		sync.Mutex
		snap   *pebble.Snapshot // nil once released
		closed bool
		active int // iterations and lookups in progress
	}
}

// Snapshot returns a view of the buffer as it is now. On a closed Buffer
// the Snapshot's methods fail with ErrClosed. A nil Buffer (a process
// without a write buffer) returns a nil Snapshot, which shows no versions.
func (b *Buffer) Snapshot() *Snapshot {
	if b == nil {
		return nil
	}
	s := &Snapshot{b: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		s.mu.closed = true
		return s
	}
	// Close sets closed under b.mu before it closes Pebble: Pebble is open.
	// The counter is read before the snapshot is taken: every change
	// numbered at or below it is in the snapshot.
	s.at = b.changes.Load()
	s.mu.snap = b.db.NewSnapshot()
	b.mu.snaps[s] = struct{}{}
	return s
}

// Close releases the snapshot (at the end of the iterations in progress,
// if any). Later calls return nil.
func (s *Snapshot) Close() error {
	if s == nil {
		return nil
	}
	if _, err := s.b.begin(nil, false); err != nil {
		// Buffer.Close releases (or released) every Snapshot.
		s.mu.Lock()
		s.mu.closed = true
		s.mu.Unlock()
		return nil
	}
	defer s.b.end()
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	var err error
	if s.mu.active == 0 {
		err = s.releaseLocked()
	}
	s.mu.Unlock()
	s.b.mu.Lock()
	delete(s.b.mu.snaps, s)
	s.b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("wbuf: close snapshot: %w", err)
	}
	return nil
}

// release closes the Pebble snapshot (Buffer.Close).
func (s *Snapshot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.closed = true
	_ = s.releaseLocked()
}

func (s *Snapshot) releaseLocked() error {
	if s.mu.snap == nil {
		return nil
	}
	err := s.mu.snap.Close()
	s.mu.snap = nil
	return err
}

// acquire starts a use of the Pebble snapshot; done ends it.
func (s *Snapshot) acquire() (*pebble.Snapshot, error) {
	if _, err := s.b.begin(nil, false); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		s.b.end()
		return nil, ErrClosed
	}
	s.mu.active++
	snap := s.mu.snap
	s.mu.Unlock()
	return snap, nil
}

func (s *Snapshot) done() {
	s.mu.Lock()
	s.mu.active--
	if s.mu.active == 0 && s.mu.closed {
		_ = s.releaseLocked()
	}
	s.mu.Unlock()
	s.b.end()
}

// MaxSeq returns the highest _seq of p's versions in the snapshot, 0 if it
// shows none. A flush uses it as its cut: it reads up to it and then
// deletes up to it.
func (s *Snapshot) MaxSeq(p PartitionKey) uint64 {
	if s == nil {
		return 0
	}
	st, err := s.state(p)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			s.b.logger.LogAttrs(context.Background(), slog.LevelError, "read partition state",
				slog.String("table", p.TableID), slog.String("partition", p.Partition), slog.Any("error", err))
		}
		return 0
	}
	return st.maxSeq
}

// state reads p's state record as of the snapshot.
func (s *Snapshot) state(p PartitionKey) (state, error) {
	snap, err := s.acquire()
	if err != nil {
		return state{}, err
	}
	defer s.done()
	return s.stateLocked(snap, p)
}

// stateLocked reads p's state record from snap, acquired by the caller:
// from memory when the partition's state has not changed since the
// snapshot was taken (Buffer.stateAsOf), else from Pebble. A Pebble read
// of the record costs microseconds (it may open an iterator per sstable),
// a point read's largest part when the buffer holds nothing for it.
func (s *Snapshot) stateLocked(snap *pebble.Snapshot, p PartitionKey) (state, error) {
	if st, ok := s.b.stateAsOf(p, s.at); ok {
		if invariantsEnabled {
			if disk, err := s.readState(snap, p); err == nil && disk != st {
				panic(fmt.Sprintf("wbuf: in-memory state %+v of %s/%q differs from the snapshot's %+v", st, p.TableID, p.Partition, disk))
			}
		}
		return st, nil
	}
	s.b.statePebbleReads.Add(1)
	return s.readState(snap, p)
}

// readState reads p's state record from snap.
func (s *Snapshot) readState(snap *pebble.Snapshot, p PartitionKey) (state, error) {
	v, closer, err := snap.Get(stateKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return state{}, nil
	}
	if err != nil {
		return state{}, err
	}
	defer closer.Close()
	return decodeState(v)
}

// ScanOptions select the versions Versions yields.
type ScanOptions struct {
	// AfterSeq skips versions with _seq <= AfterSeq (those a flush already
	// committed to segments).
	AfterSeq uint64
	// UpToSeq skips versions with _seq > UpToSeq; 0 means no bound.
	UpToSeq uint64
	// LatestOnly yields, per key, only the newest version within the
	// bounds (a tombstone included).
	LatestOnly bool
}

// Entry is one buffered version and its primary key.
type Entry struct {
	// Key is the Mutation's Key; a fresh slice the caller owns.
	Key []byte
	// Version has Seq set from the buffer.
	Version row.Version
}

// Versions yields p's versions in the snapshot within opts' bounds, ordered
// by Key ascending and, for one key, newest first. After an error (the
// context's, ErrClosed, ErrCorrupt, or ErrInvalid when two keys are
// prefixes of each other) it yields nothing more. Stopping early is fine.
// An iteration in progress delays Buffer.Close until it ends, so the loop
// body must not call Buffer.Close; it may Write.
func (s *Snapshot) Versions(ctx context.Context, p PartitionKey, opts ScanOptions) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if s == nil {
			return
		}
		fail := func(err error) {
			yield(Entry{}, fmt.Errorf("wbuf: scan %s/%q: %w", p.TableID, p.Partition, err))
		}
		it, prefix, release, err := s.openIter(ctx, p, opts)
		if err != nil {
			fail(err)
			return
		}
		defer release()
		if it == nil {
			return
		}
		sc := scanner{it: it, prefix: prefix}
		if err := sc.run(ctx, opts, yield); err != nil {
			fail(err)
		}
	}
}

// scanner walks the version keys of one partition.
type scanner struct {
	it     *pebble.Iterator
	prefix []byte
	cur    []byte // primary key of the current key group
	seek   []byte // scratch for seek keys
}

// maxNextBeforeSeek is how many versions of one key the scanner steps over
// with Next before it seeks past them instead.
const maxNextBeforeSeek = 8

// run yields the versions; it returns an error to report, or nil when done
// or when yield asked to stop.
func (sc *scanner) run(ctx context.Context, opts ScanOptions, yield func(Entry, error) bool) error {
	it := sc.it
	n := 0
	for ok := it.First(); ok; {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pk, seq, err := splitVersionKey(it.Key(), len(sc.prefix))
		if err != nil {
			return err
		}
		if !bytes.Equal(pk, sc.cur) {
			if n > 1 && (bytes.HasPrefix(pk, sc.cur) || bytes.HasPrefix(sc.cur, pk)) {
				return fmt.Errorf("%w: keys %x and %x: one is a prefix of the other (keys must be encoded with row.AppendKey)", ErrInvalid, sc.cur, pk)
			}
			sc.cur = append(sc.cur[:0], pk...)
		}
		switch {
		case opts.UpToSeq != 0 && seq > opts.UpToSeq:
			// Too new; older versions of the key follow.
			ok = sc.seekSeq(opts.UpToSeq)
			continue
		case seq <= opts.AfterSeq:
			// This and the older versions of the key are out of bounds.
			ok = sc.nextKey()
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		_, enc, err := splitValue(val)
		if err != nil {
			return err
		}
		v, err := row.DecodeVersion(enc)
		if err != nil {
			return fmt.Errorf("%w: version _seq %d: %w", ErrCorrupt, seq, err)
		}
		v.Seq = seq
		if !yield(Entry{Key: bytes.Clone(sc.cur), Version: v}, nil) {
			return nil
		}
		if opts.LatestOnly {
			ok = sc.nextKey()
		} else {
			ok = it.Next()
		}
	}
	return it.Error()
}

// nextKey moves to the first version of the next key.
func (sc *scanner) nextKey() bool {
	// Seqs are never 0, so key|^0 (all 0xFF) sorts after all of key's
	// versions and before the next key's.
	return sc.skipTo(^uint64(0))
}

// seekSeq moves to the newest version of the current key with _seq <= seq,
// or to the next key if there is none.
func (sc *scanner) seekSeq(seq uint64) bool {
	return sc.skipTo(^seq)
}

// skipTo moves to the first key >= prefix|cur|BE(suffix): a few Next calls
// first (the target is usually near), then a seek.
func (sc *scanner) skipTo(suffix uint64) bool {
	for range maxNextBeforeSeek {
		if !sc.it.Next() {
			return false
		}
		pk, seq, err := splitVersionKey(sc.it.Key(), len(sc.prefix))
		if err != nil || !bytes.Equal(pk, sc.cur) || ^seq >= suffix {
			return true // run reports the error, if any
		}
	}
	sc.seek = append(append(sc.seek[:0], sc.prefix...), sc.cur...)
	sc.seek = binary.BigEndian.AppendUint64(sc.seek, suffix)
	return sc.it.SeekGE(sc.seek)
}

// openIter acquires the snapshot and returns an iterator over p's version
// keys, and the keys' prefix. The partition's state record is part of the
// snapshot: when it shows nothing within opts' bounds, it returns a nil
// iterator, skipping an iteration that would otherwise step over every
// version a flush range-deleted until Pebble compacts them away. release
// must be called (also with a nil iterator) when err is nil.
func (s *Snapshot) openIter(ctx context.Context, p PartitionKey, opts ScanOptions) (it *pebble.Iterator, prefix []byte, release func(), err error) {
	if err := p.validate(); err != nil {
		return nil, nil, nil, err
	}
	snap, err := s.acquire()
	if err != nil {
		return nil, nil, nil, err
	}
	switch st, err := s.stateLocked(snap, p); {
	case err != nil:
		s.done()
		return nil, nil, nil, err
	case st.rows == 0 || st.maxSeq <= opts.AfterSeq || (opts.UpToSeq != 0 && st.minSeq > opts.UpToSeq):
		return nil, nil, s.done, nil
	}
	prefix = versionPrefix(p)
	it, err = snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		s.done()
		return nil, nil, nil, err
	}
	return it, prefix, func() { it.Close(); s.done() }, nil
}

// Lookup yields, for each of keys (primary keys encoded with
// row.AppendKey, in any order), the newest version of the key in the
// snapshot with _seq > afterSeq, a tombstone included; keys with none are
// skipped. It seeks once per key, so its cost does not grow with the
// partition's size. After an error it yields nothing more.
func (s *Snapshot) Lookup(ctx context.Context, p PartitionKey, keys [][]byte, afterSeq uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if s == nil {
			return
		}
		fail := func(err error) {
			yield(Entry{}, fmt.Errorf("wbuf: lookup in %s/%q: %w", p.TableID, p.Partition, err))
		}
		it, prefix, release, err := s.openIter(ctx, p, ScanOptions{AfterSeq: afterSeq})
		if err != nil {
			fail(err)
			return
		}
		defer release()
		if it == nil {
			return
		}
		seek := make([]byte, 0, len(prefix)+64)
		for i, key := range keys {
			if i%256 == 255 {
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
			}
			seek = append(append(seek[:0], prefix...), key...)
			if !it.SeekGE(seek) {
				if err := it.Error(); err != nil {
					fail(err)
					return
				}
				continue
			}
			pk, seq, err := splitVersionKey(it.Key(), len(prefix))
			if err != nil {
				fail(err)
				return
			}
			if !bytes.Equal(pk, key) || seq <= afterSeq {
				continue
			}
			val, err := it.ValueAndErr()
			if err != nil {
				fail(err)
				return
			}
			_, enc, err := splitValue(val)
			if err != nil {
				fail(err)
				return
			}
			v, err := row.DecodeVersion(enc)
			if err != nil {
				fail(fmt.Errorf("%w: version _seq %d: %w", ErrCorrupt, seq, err))
				return
			}
			v.Seq = seq
			if !yield(Entry{Key: bytes.Clone(key), Version: v}, nil) {
				return
			}
		}
	}
}
