package wbuf

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// checkStates recomputes every partition's statistics from its version
// records and compares them with the partition states. It reads the whole
// buffer and must not run concurrently with writes (Open under the
// invariants build tag, and tests).
func (b *Buffer) checkStates() error {
	got := map[PartitionKey]*state{}
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindVersion}, UpperBound: []byte{kindVersion + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		p, rest, err := decodePartition(k[1:])
		if err != nil {
			return err
		}
		_, seq, err := splitVersionKey(rest, 0)
		if err != nil {
			return err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		ms, _, err := splitValue(v)
		if err != nil {
			return err
		}
		st := got[p]
		if st == nil {
			st = &state{minSeq: seq, maxSeq: seq, oldestMs: ms}
			got[p] = st
		}
		st.rows++
		st.bytes += int64(len(k) + len(v))
		st.minSeq, st.maxSeq = min(st.minSeq, seq), max(st.maxSeq, seq)
		st.oldestMs = min(st.oldestMs, ms)
	}
	if err := it.Error(); err != nil {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for p, part := range b.mu.parts {
		part.mu.Lock()
		st := part.mu.st
		part.mu.Unlock()
		want := state{lastSeq: st.lastSeq}
		if g := got[p]; g != nil {
			want = *g
			want.lastSeq = st.lastSeq
		}
		delete(got, p)
		if st != want {
			errs = append(errs, fmt.Errorf("%w: partition %s: state %+v, versions say %+v", ErrCorrupt, p, st, want))
		}
		if st.maxSeq > st.lastSeq {
			errs = append(errs, fmt.Errorf("%w: partition %s: version _seq %d above the counter %d", ErrCorrupt, p, st.maxSeq, st.lastSeq))
		}
	}
	for p := range got {
		errs = append(errs, fmt.Errorf("%w: partition %s has versions but no state", ErrCorrupt, p))
	}
	return errors.Join(errs...)
}
