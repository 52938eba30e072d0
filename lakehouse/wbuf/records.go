package wbuf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Record kinds: the first byte of every Pebble key the buffer writes. See
// the package documentation for the full layout.
const (
	kindMeta    = 'm' // m <name>                       → buffer metadata
	kindState   = 's' // s <partition>                  → partition state
	kindVersion = 'v' // v <partition> <pk> <^seq BE64> → write time + version
)

// metaFormatKey holds the layout version of the records below.
var metaFormatKey = []byte{kindMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// bufferFormat is the record layout this package writes and reads. Open
// refuses a directory with any other.
const bufferFormat = 1

// stateFormat is the first byte of every encoded state.
const stateFormat = 1

// seqLen is the length of the seq suffix of a version key.
const seqLen = 8

// maxIDLen bounds table IDs and partition keys (in bytes).
const maxIDLen = 4096

// PartitionKey names one partition of one table: Partition is the user id
// for USER and STREAM tables and "" for SHARED and SYSTEM tables.
type PartitionKey struct {
	TableID   string
	Partition string
}

// String formats p as table/"partition" for logs and errors.
func (p PartitionKey) String() string { return fmt.Sprintf("%s/%q", p.TableID, p.Partition) }

func (p PartitionKey) validate() error {
	switch {
	case p.TableID == "":
		return fmt.Errorf("%w: empty table ID", ErrInvalid)
	case len(p.TableID) > maxIDLen || len(p.Partition) > maxIDLen:
		return fmt.Errorf("%w: table ID or partition longer than %d bytes", ErrInvalid, maxIDLen)
	case !utf8.ValidString(p.TableID) || !utf8.ValidString(p.Partition):
		return fmt.Errorf("%w: table ID or partition is not UTF-8", ErrInvalid)
	}
	return nil
}

// appendPartition appends the prefix-free encoding of p: the table ID and
// the partition, each preceded by its uvarint length. No partition's
// encoding is a prefix of another's, so the keys of one partition form one
// contiguous key range that holds nothing else.
func appendPartition(dst []byte, p PartitionKey) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p.TableID)))
	dst = append(dst, p.TableID...)
	dst = binary.AppendUvarint(dst, uint64(len(p.Partition)))
	return append(dst, p.Partition...)
}

// decodePartition decodes an appendPartition encoding and returns the rest.
func decodePartition(b []byte) (PartitionKey, []byte, error) {
	var p PartitionKey
	var err error
	take := func() string {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			err = fmt.Errorf("%w: bad partition encoding %x", ErrCorrupt, b)
			return ""
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s
	}
	if p.TableID = take(); err != nil {
		return PartitionKey{}, nil, err
	}
	if p.Partition = take(); err != nil {
		return PartitionKey{}, nil, err
	}
	return p, b, nil
}

// stateKey is the key of p's state record.
func stateKey(p PartitionKey) []byte {
	return appendPartition([]byte{kindState}, p)
}

// versionPrefix is the prefix of all of p's version keys.
func versionPrefix(p PartitionKey) []byte {
	return appendPartition([]byte{kindVersion}, p)
}

// prefixEnd returns the smallest key greater than every key that starts
// with prefix. Every prefix here starts with a kind byte below 0xFF, so
// there always is one (nil, "no bound", would only be returned for an
// all-0xFF prefix).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// putSeq writes the 8-byte seq suffix of a version key into dst:
// big-endian ^seq, so that larger seqs sort first.
func putSeq(dst []byte, seq uint64) { binary.BigEndian.PutUint64(dst, ^seq) }

// splitVersionKey splits a version key whose partition prefix is prefixLen
// bytes long into the primary key (aliasing key) and the seq.
func splitVersionKey(key []byte, prefixLen int) (pk []byte, seq uint64, err error) {
	if len(key) < prefixLen+1+seqLen {
		return nil, 0, fmt.Errorf("%w: version key %x too short", ErrCorrupt, key)
	}
	pk = key[prefixLen : len(key)-seqLen]
	seq = ^binary.BigEndian.Uint64(key[len(key)-seqLen:])
	if seq == 0 {
		return nil, 0, fmt.Errorf("%w: version key %x has _seq 0", ErrCorrupt, key)
	}
	return pk, seq, nil
}

// Version values are the write time (varint Unix milliseconds) followed by
// row.AppendVersion of the version with Seq 0 (the key holds the seq).

// appendWriteTime appends the value header.
func appendWriteTime(dst []byte, ms int64) []byte { return binary.AppendVarint(dst, ms) }

// splitValue returns the write time of a version value and the encoded
// row.Version that follows it.
func splitValue(v []byte) (ms int64, rest []byte, err error) {
	ms, n := binary.Varint(v)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad version value header", ErrCorrupt)
	}
	return ms, v[n:], nil
}

// state is what the buffer knows about one partition. It is persisted in
// the partition's state record, in the same batch as every change to the
// partition's versions, so that it always agrees with them (also after a
// crash).
type state struct {
	// lastSeq is the highest seq assigned, or the floor set by
	// SetSeqFloor if that is higher. The next write gets lastSeq+1.
	lastSeq uint64
	// rows and bytes count the buffered versions and their encoded size
	// (key + value).
	rows, bytes int64
	// minSeq and maxSeq bound the buffered versions' seqs; 0 when rows == 0.
	minSeq, maxSeq uint64
	// oldestMs is the earliest write time (Unix ms) of a buffered version;
	// 0 when rows == 0.
	oldestMs int64
}

// appendState encodes s: format byte, then uvarints lastSeq, rows, bytes,
// minSeq, maxSeq and the varint oldestMs.
func appendState(dst []byte, s state) []byte {
	dst = append(dst, stateFormat)
	dst = binary.AppendUvarint(dst, s.lastSeq)
	dst = binary.AppendUvarint(dst, uint64(s.rows))
	dst = binary.AppendUvarint(dst, uint64(s.bytes))
	dst = binary.AppendUvarint(dst, s.minSeq)
	dst = binary.AppendUvarint(dst, s.maxSeq)
	return binary.AppendVarint(dst, s.oldestMs)
}

func decodeState(b []byte) (state, error) {
	bad := func(what string) (state, error) {
		return state{}, fmt.Errorf("%w: partition state %x: %s", ErrCorrupt, b, what)
	}
	if len(b) == 0 || b[0] != stateFormat {
		return bad("unknown format")
	}
	rest := b[1:]
	var u [5]uint64
	for i := range u {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return bad("truncated")
		}
		u[i], rest = v, rest[n:]
	}
	ms, n := binary.Varint(rest)
	if n <= 0 || n != len(rest) {
		return bad("truncated or trailing bytes")
	}
	s := state{lastSeq: u[0], rows: int64(u[1]), bytes: int64(u[2]), minSeq: u[3], maxSeq: u[4], oldestMs: ms}
	if u[1] > math.MaxInt64 || u[2] > math.MaxInt64 || s.maxSeq > s.lastSeq || (s.rows == 0) != (s.maxSeq == 0) || s.minSeq > s.maxSeq {
		return bad("inconsistent")
	}
	return s, nil
}

// msTime converts Unix milliseconds to a time; 0 is the zero time.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
