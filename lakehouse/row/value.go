// Package row is Floe's in-memory row model: typed cell values, row
// versions, and the two byte encodings every storage layer shares — an
// order-preserving key encoding for primary keys (buffer keys sort like the
// values they encode) and a compact value encoding for row versions.
package row

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/floedb/floe/manifest"
)

// Value is one cell: NULL or a value of one Floe kind. The zero Value is
// NULL. Values are small, immutable and comparable with Equal.
//
// Representation by kind:
//
//	BOOLEAN    n = 0 or 1
//	INT        n (fits int32)
//	BIGINT     n
//	FLOAT      n = math.Float64bits(float64(v)) of the float32 value
//	DOUBLE     n = math.Float64bits(v)
//	DECIMAL    hi:n = the unscaled value as a two's complement 128-bit integer
//	TEXT, JSON s (UTF-8)
//	BYTES      s (any bytes)
//	UUID       s (exactly 16 bytes)
//	DATE       n = days since 1970-01-01 (fits int32)
//	TIMESTAMP  n = microseconds since 1970-01-01T00:00:00Z
type Value struct {
	kind manifest.Kind // KindInvalid means NULL
	n    int64
	hi   int64
	s    string
}

// Null returns the NULL value.
func Null() Value { return Value{} }

// Bool returns a BOOLEAN value.
func Bool(b bool) Value {
	v := Value{kind: manifest.KindBoolean}
	if b {
		v.n = 1
	}
	return v
}

// Int returns an INT value.
func Int(i int32) Value { return Value{kind: manifest.KindInt, n: int64(i)} }

// BigInt returns a BIGINT value.
func BigInt(i int64) Value { return Value{kind: manifest.KindBigInt, n: i} }

// Float returns a FLOAT value.
func Float(f float32) Value {
	return Value{kind: manifest.KindFloat, n: int64(math.Float64bits(float64(f)))}
}

// Double returns a DOUBLE value.
func Double(f float64) Value { return Value{kind: manifest.KindDouble, n: int64(math.Float64bits(f))} }

// Decimal returns a DECIMAL value with the unscaled 128-bit integer hi:lo
// (two's complement). The scale is the column's.
func Decimal(hi int64, lo uint64) Value {
	return Value{kind: manifest.KindDecimal, hi: hi, n: int64(lo)}
}

// DecimalFromInt64 returns a DECIMAL value whose unscaled value is i.
func DecimalFromInt64(i int64) Value {
	hi := int64(0)
	if i < 0 {
		hi = -1
	}
	return Decimal(hi, uint64(i))
}

// DecimalFromBig returns a DECIMAL value whose unscaled value is b; ok is
// false when b does not fit 128 bits (two's complement).
func DecimalFromBig(b *big.Int) (v Value, ok bool) {
	if b.BitLen() > 127 && !(b.Sign() < 0 && new(big.Int).Add(b, big.NewInt(1)).BitLen() <= 127) {
		return Value{}, false
	}
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	u := new(big.Int).Mod(b, mod) // two's complement as an unsigned 128-bit value
	lo := new(big.Int).And(u, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := new(big.Int).Rsh(u, 64).Uint64()
	return Decimal(int64(hi), lo), true
}

// DecimalBig returns the unscaled value of a DECIMAL as a big.Int.
func (v Value) DecimalBig() *big.Int {
	n := new(big.Int).SetInt64(v.hi)
	n.Lsh(n, 64)
	return n.Or(n, new(big.Int).SetUint64(uint64(v.n)))
}

// Text returns a TEXT value.
func Text(s string) Value { return Value{kind: manifest.KindText, s: s} }

// JSON returns a JSON value (the document's text).
func JSON(s string) Value { return Value{kind: manifest.KindJSON, s: s} }

// Bytes returns a BYTES value. b is copied.
func Bytes(b []byte) Value { return Value{kind: manifest.KindBytes, s: string(b)} }

// UUID returns a UUID value.
func UUID(u [16]byte) Value { return Value{kind: manifest.KindUUID, s: string(u[:])} }

// Date returns a DATE value: days since 1970-01-01.
func Date(days int32) Value { return Value{kind: manifest.KindDate, n: int64(days)} }

// Timestamp returns a TIMESTAMP value: microseconds since the Unix epoch, UTC.
func Timestamp(micros int64) Value { return Value{kind: manifest.KindTimestamp, n: micros} }

// TimestampTZ returns an instant value: microseconds since the Unix epoch,
// UTC.
func TimestampTZ(micros int64) Value { return Value{kind: manifest.KindTimestampTZ, n: micros} }

// Temporal returns a value of kind k (KindDate, KindTimestamp or
// KindTimestampTZ) from its stored integer: days for DATE, microseconds
// otherwise. It is the one constructor for code that handles all three.
func Temporal(k manifest.Kind, n int64) Value { return Value{kind: k, n: n} }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.kind == manifest.KindInvalid }

// Kind returns v's kind, KindInvalid for NULL.
func (v Value) Kind() manifest.Kind { return v.kind }

// Bool returns a BOOLEAN's value.
func (v Value) Bool() bool { return v.n != 0 }

// Int64 returns the integer of an INT, BIGINT, DATE or TIMESTAMP value.
func (v Value) Int64() int64 { return v.n }

// Float64 returns the number of a FLOAT or DOUBLE value.
func (v Value) Float64() float64 { return math.Float64frombits(uint64(v.n)) }

// Decimal128 returns the unscaled value of a DECIMAL as hi:lo.
func (v Value) Decimal128() (hi int64, lo uint64) { return v.hi, uint64(v.n) }

// Str returns the content of a TEXT, JSON, BYTES or UUID value without
// copying; for BYTES and UUID it is raw bytes in a string.
func (v Value) Str() string { return v.s }

// Equal reports whether a and b are the same value (NULL equals NULL here:
// this is identity, not SQL equality). Floats compare by bits.
func (a Value) Equal(b Value) bool { return a == b }

// Compare orders two values of the same kind: NULL first, then by value
// (numbers numerically with -0 < +0 and NaN last, strings and bytes
// bytewise, booleans false < true). Values of different kinds compare by
// kind, so a mixed slice still sorts deterministically.
func Compare(a, b Value) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind)
	}
	switch a.kind {
	case manifest.KindInvalid:
		return 0
	case manifest.KindFloat, manifest.KindDouble:
		return cmp.Compare(orderedFloat(a.n), orderedFloat(b.n))
	case manifest.KindDecimal:
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		return cmp.Compare(uint64(a.n), uint64(b.n))
	case manifest.KindText, manifest.KindJSON, manifest.KindBytes, manifest.KindUUID:
		return strings.Compare(a.s, b.s)
	default:
		return cmp.Compare(a.n, b.n)
	}
}

// orderedFloat maps float64 bits to a uint64 whose unsigned order is the
// numeric order (-Inf < … < -0 < +0 < … < +Inf < NaN).
func orderedFloat(bits int64) uint64 {
	u := uint64(bits)
	if u&(1<<63) != 0 {
		return ^u
	}
	return u | 1<<63
}

// Check reports whether v can be stored in a column of type t: NULL fits
// any column (nullability is the caller's rule), otherwise the kinds must
// match and the value must be in range.
func (v Value) Check(t manifest.Type) error {
	if v.IsNull() {
		return nil
	}
	if v.kind != t.Kind {
		return fmt.Errorf("row: %s value in a %s column", v.kind, t)
	}
	switch t.Kind {
	case manifest.KindInt, manifest.KindDate:
		if v.n < math.MinInt32 || v.n > math.MaxInt32 {
			return fmt.Errorf("row: %d is out of range for %s", v.n, t)
		}
	case manifest.KindUUID:
		if len(v.s) != 16 {
			return fmt.Errorf("row: UUID must be 16 bytes, got %d", len(v.s))
		}
	case manifest.KindDecimal:
		if !decimalFits(v.hi, uint64(v.n), t.Precision) {
			return fmt.Errorf("row: decimal value has more than %d digits", t.Precision)
		}
	}
	return nil
}

// decimalFits reports whether |hi:lo| < 10^precision.
func decimalFits(hi int64, lo uint64, precision uint8) bool {
	neg := hi < 0
	uhi, ulo := uint64(hi), lo
	if neg { // two's complement negate
		ulo = ^ulo + 1
		uhi = ^uhi
		if ulo == 0 {
			uhi++
		}
	}
	// Compare against 10^precision as a 128-bit number.
	phi, plo := uint64(0), uint64(1)
	for i := uint8(0); i < precision; i++ {
		// multiply (phi:plo) by 10
		h1, l1 := mul64(plo, 10)
		phi = phi*10 + h1
		plo = l1
	}
	if uhi != phi {
		return uhi < phi
	}
	return ulo < plo
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t & mask32
	w2 := t >> 32
	w1 += a0 * b1
	hi = a1*b1 + w2 + w1>>32
	lo = a * b
	return
}

// String formats v for logs and test failures (not SQL literals).
func (v Value) String() string {
	switch v.kind {
	case manifest.KindInvalid:
		return "NULL"
	case manifest.KindBoolean:
		if v.Bool() {
			return "true"
		}
		return "false"
	case manifest.KindFloat, manifest.KindDouble:
		return fmt.Sprint(v.Float64())
	case manifest.KindDecimal:
		return fmt.Sprintf("decimal(%d:%d)", v.hi, uint64(v.n))
	case manifest.KindText, manifest.KindJSON:
		return fmt.Sprintf("%q", v.s)
	case manifest.KindBytes, manifest.KindUUID:
		return fmt.Sprintf("%x", v.s)
	default:
		return fmt.Sprint(v.n)
	}
}

// Row is the values of one row in the column order of a table's schema
// version (system columns excluded).
type Row []Value

// Equal reports whether two rows hold identical values.
func (r Row) Equal(o Row) bool {
	if len(r) != len(o) {
		return false
	}
	for i := range r {
		if r[i] != o[i] {
			return false
		}
	}
	return true
}

// Version is one version of a row as the buffer and segments hold it.
type Version struct {
	// Seq is the version's _seq: unique and increasing per partition in
	// commit order.
	Seq uint64
	// Deleted marks a tombstone. A tombstone's Values hold the primary key
	// columns; the others are NULL.
	Deleted bool
	// SchemaVersion is the table schema version Values are laid out in.
	SchemaVersion uint32
	// Values in that schema version's column order.
	Values Row
}
