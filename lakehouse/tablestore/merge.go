package tablestore

import (
	"bytes"
	"container/heap"
	"iter"

	"github.com/floedb/floe/lakehouse/row"
)

// keyed is one row version with its encoded primary key.
type keyed struct {
	key []byte
	v   row.Version
}

// source is one sorted input of a merge: a segment or the buffer. Within a
// source keys are strictly increasing (one version per key).
type source struct {
	next func() (keyed, error, bool)
	stop func()
	head keyed
}

type sourceHeap []*source

func (h sourceHeap) Len() int { return len(h) }
func (h sourceHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].head.key, h[j].head.key); c != 0 {
		return c < 0
	}
	return h[i].head.v.Seq > h[j].head.v.Seq // newest first among equal keys
}
func (h sourceHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *sourceHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// mergeLatest merges sorted sources into the latest version of each key:
// among versions of one key the one with the highest _seq wins, and a
// winning tombstone hides the key. This is the merge rule of every read:
//
//	latest(key) = the version of key with the greatest _seq over all
//	segments of the manifest version read and, for current reads, the
//	buffered versions with _seq > manifest.LastSeq; the key is visible
//	iff that version is not a tombstone.
//
// When withTombstones is true winning tombstones are yielded too (for
// compaction, which must keep them while older segments may hold the key).
func mergeLatest(inputs []iter.Seq2[keyed, error], withTombstones bool) iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		h := make(sourceHeap, 0, len(inputs))
		defer func() {
			for _, s := range h {
				s.stop()
			}
		}()
		for _, in := range inputs {
			next, stop := iter.Pull2(in)
			s := &source{next: next, stop: stop}
			k, err, ok := next()
			if err != nil {
				stop()
				yield(row.Version{}, err)
				return
			}
			if !ok {
				stop()
				continue
			}
			s.head = k
			h = append(h, s)
		}
		heap.Init(&h)
		for h.Len() > 0 {
			win := h[0].head
			// Advance every source positioned on this key.
			for h.Len() > 0 && bytes.Equal(h[0].head.key, win.key) {
				s := h[0]
				k, err, ok := s.next()
				if err != nil {
					yield(row.Version{}, err)
					return
				}
				if !ok {
					s.stop()
					heap.Pop(&h)
					continue
				}
				s.head = k
				heap.Fix(&h, 0)
			}
			if win.v.Deleted && !withTombstones {
				continue
			}
			if !yield(win.v, nil) {
				return
			}
		}
	}
}
