package row

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/floedb/floe/manifest"
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("row: corrupt encoding")

// Key encoding tags. NULL sorts before every value.
const (
	keyNull  = 0x01
	keyValue = 0x02
)

// AppendKey appends the order-preserving encoding of vals to dst: for two
// key tuples of the same column types, bytes.Compare of their encodings
// equals the lexicographic Compare of their values, and no encoding is a
// prefix of another's. It is used for primary keys in buffer keys.
//
// Per value: a tag byte, then integers as 8 big-endian bytes with the sign
// bit flipped, floats as 8 bytes ordered like the numbers, DECIMAL as 16
// bytes, strings and bytes with 0x00 escaped as 0x00 0xFF and terminated by
// 0x00 0x01.
func AppendKey(dst []byte, vals ...Value) []byte {
	for _, v := range vals {
		if v.IsNull() {
			dst = append(dst, keyNull)
			continue
		}
		dst = append(dst, keyValue)
		switch v.kind {
		case manifest.KindBoolean:
			dst = append(dst, byte(v.n))
		case manifest.KindFloat, manifest.KindDouble:
			dst = binary.BigEndian.AppendUint64(dst, orderedFloat(v.n))
		case manifest.KindDecimal:
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.hi)^1<<63)
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.n))
		case manifest.KindText, manifest.KindJSON, manifest.KindBytes, manifest.KindUUID:
			for i := 0; i < len(v.s); i++ {
				c := v.s[i]
				dst = append(dst, c)
				if c == 0x00 {
					dst = append(dst, 0xFF)
				}
			}
			dst = append(dst, 0x00, 0x01)
		default: // INT, BIGINT, DATE, TIMESTAMP
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.n)^1<<63)
		}
	}
	return dst
}

// DecodeKey decodes a key made by AppendKey for columns of the given types
// and returns the values and the bytes that follow the key.
func DecodeKey(b []byte, types []manifest.Type) (Row, []byte, error) {
	out := make(Row, len(types))
	for i, t := range types {
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: key ends before column %d", ErrCorrupt, i)
		}
		tag := b[0]
		b = b[1:]
		if tag == keyNull {
			continue
		}
		if tag != keyValue {
			return nil, nil, fmt.Errorf("%w: key column %d has tag %#x", ErrCorrupt, i, tag)
		}
		need := func(n int) error {
			if len(b) < n {
				return fmt.Errorf("%w: key column %d (%s) truncated", ErrCorrupt, i, t)
			}
			return nil
		}
		switch t.Kind {
		case manifest.KindBoolean:
			if err := need(1); err != nil {
				return nil, nil, err
			}
			if b[0] > 1 {
				return nil, nil, fmt.Errorf("%w: key column %d: boolean byte %#x", ErrCorrupt, i, b[0])
			}
			out[i] = Bool(b[0] == 1)
			b = b[1:]
		case manifest.KindFloat, manifest.KindDouble:
			if err := need(8); err != nil {
				return nil, nil, err
			}
			u := binary.BigEndian.Uint64(b)
			if u&(1<<63) != 0 {
				u &^= 1 << 63
			} else {
				u = ^u
			}
			out[i] = Value{kind: t.Kind, n: int64(u)}
			b = b[8:]
		case manifest.KindDecimal:
			if err := need(16); err != nil {
				return nil, nil, err
			}
			out[i] = Decimal(int64(binary.BigEndian.Uint64(b)^1<<63), binary.BigEndian.Uint64(b[8:]))
			b = b[16:]
		case manifest.KindText, manifest.KindJSON, manifest.KindBytes, manifest.KindUUID:
			var s []byte
			for {
				if len(b) < 2 {
					return nil, nil, fmt.Errorf("%w: key column %d (%s) unterminated", ErrCorrupt, i, t)
				}
				if b[0] != 0x00 {
					s = append(s, b[0])
					b = b[1:]
					continue
				}
				if b[1] == 0xFF {
					s = append(s, 0x00)
					b = b[2:]
					continue
				}
				if b[1] != 0x01 {
					return nil, nil, fmt.Errorf("%w: key column %d: bad escape %#x", ErrCorrupt, i, b[1])
				}
				b = b[2:]
				break
			}
			out[i] = Value{kind: t.Kind, s: string(s)}
		case manifest.KindInt, manifest.KindBigInt, manifest.KindDate, manifest.KindTimestamp, manifest.KindTimestampTZ:
			if err := need(8); err != nil {
				return nil, nil, err
			}
			out[i] = Value{kind: t.Kind, n: int64(binary.BigEndian.Uint64(b) ^ 1<<63)}
			b = b[8:]
		default:
			return nil, nil, fmt.Errorf("row: key column %d has unsupported type %s", i, t)
		}
		if err := out[i].Check(t); err != nil {
			return nil, nil, fmt.Errorf("%w: key column %d: %v", ErrCorrupt, i, err)
		}
	}
	return out, b, nil
}

// Version encoding format version, the first byte of every encoding.
const versionFormat = 1

// AppendVersion appends the compact, self-describing encoding of v:
//
//	format byte (1) | flags (bit 0: deleted) | uvarint seq | uvarint schema version
//	| uvarint column count | per column: kind byte (0 = NULL) and the value
//
// Values: BOOLEAN 1 byte; INT, BIGINT, DATE, TIMESTAMP zigzag varint;
// FLOAT 4 bytes; DOUBLE 8 bytes; DECIMAL 16 bytes; TEXT, JSON, BYTES, UUID
// uvarint length and the bytes. Decoding needs no schema.
func AppendVersion(dst []byte, v Version) []byte {
	flags := byte(0)
	if v.Deleted {
		flags |= 1
	}
	dst = append(dst, versionFormat, flags)
	dst = binary.AppendUvarint(dst, v.Seq)
	dst = binary.AppendUvarint(dst, uint64(v.SchemaVersion))
	dst = binary.AppendUvarint(dst, uint64(len(v.Values)))
	for _, x := range v.Values {
		dst = append(dst, byte(x.kind))
		switch x.kind {
		case manifest.KindInvalid:
		case manifest.KindBoolean:
			dst = append(dst, byte(x.n))
		case manifest.KindFloat:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(x.Float64())))
		case manifest.KindDouble:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(x.n))
		case manifest.KindDecimal:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(x.n))
			dst = binary.LittleEndian.AppendUint64(dst, uint64(x.hi))
		case manifest.KindText, manifest.KindJSON, manifest.KindBytes, manifest.KindUUID:
			dst = binary.AppendUvarint(dst, uint64(len(x.s)))
			dst = append(dst, x.s...)
		default:
			dst = binary.AppendVarint(dst, x.n)
		}
	}
	return dst
}

// DecodeVersion decodes an encoding made by AppendVersion. The values'
// strings are copied out of b, so b may be reused.
func DecodeVersion(b []byte) (Version, error) {
	d := decoder{b: b}
	if f := d.byte(); f != versionFormat {
		if d.err != nil {
			return Version{}, d.err
		}
		return Version{}, fmt.Errorf("%w: unknown version format %d", ErrCorrupt, f)
	}
	flags := d.byte()
	v := Version{Deleted: flags&1 != 0, Seq: d.uvarint()}
	sv := d.uvarint()
	n := d.uvarint()
	if d.err != nil {
		return Version{}, d.err
	}
	if flags&^1 != 0 || sv > math.MaxUint32 || n > uint64(len(d.b)) {
		return Version{}, fmt.Errorf("%w: bad version header (flags %#x, schema version %d, %d columns)", ErrCorrupt, flags, sv, n)
	}
	v.SchemaVersion = uint32(sv)
	v.Values = make(Row, n)
	for i := range v.Values {
		k := manifest.Kind(d.byte())
		x := Value{kind: k}
		switch k {
		case manifest.KindInvalid:
		case manifest.KindBoolean:
			x.n = int64(d.byte())
			if x.n > 1 {
				d.fail("boolean byte %d", x.n)
			}
		case manifest.KindFloat:
			x.n = int64(math.Float64bits(float64(math.Float32frombits(d.uint32()))))
		case manifest.KindDouble:
			x.n = int64(d.uint64())
		case manifest.KindDecimal:
			x.n = int64(d.uint64())
			x.hi = int64(d.uint64())
		case manifest.KindText, manifest.KindJSON, manifest.KindBytes, manifest.KindUUID:
			x.s = d.str()
			if k == manifest.KindUUID && len(x.s) != 16 && d.err == nil {
				d.fail("UUID of %d bytes", len(x.s))
			}
		case manifest.KindInt, manifest.KindBigInt, manifest.KindDate, manifest.KindTimestamp, manifest.KindTimestampTZ:
			x.n = d.varint()
			if (k == manifest.KindInt || k == manifest.KindDate) && (x.n < math.MinInt32 || x.n > math.MaxInt32) {
				d.fail("%s value %d out of range", k, x.n)
			}
		default:
			d.fail("unknown kind %d in column %d", k, i)
		}
		if d.err != nil {
			return Version{}, d.err
		}
		v.Values[i] = x
	}
	if len(d.b) != 0 {
		return Version{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return v, nil
}

// decoder reads from b, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte() byte {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes exceeds the %d left", n, len(d.b))
		return ""
	}
	return string(d.take(int(n)))
}
