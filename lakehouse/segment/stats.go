package segment

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// MaxStatBytes is the longest TEXT, JSON or BYTES value kept as a segment's
// Min or Max in Info (see Info.Columns for how longer ones are handled).
const MaxStatBytes = 64

// FormatStatValue returns the canonical text of a non-NULL value of type t,
// as manifest.ColumnStats stores it:
//
//	BOOLEAN                       true, false
//	INT, BIGINT, DATE, TIMESTAMP  base 10 (DATE in days, TIMESTAMP in µs since the epoch)
//	FLOAT, DOUBLE                 shortest text that parses back to the same value
//	                              (strconv 'g' format: -0, 1.5, 1e+30, +Inf, -Inf)
//	DECIMAL(p,s)                  plain decimal with exactly s fraction digits: -12.50, 0.05, 7
//	TEXT, JSON                    the text
//	BYTES, UUID                   lower-case hex, no separators
//
// ParseStatValue is its inverse.
func FormatStatValue(t manifest.Type, v row.Value) (string, error) {
	if v.IsNull() || v.Kind() != t.Kind {
		return "", fmt.Errorf("segment: cannot format %s value %v as %s", v.Kind(), v, t)
	}
	switch t.Kind {
	case manifest.KindBoolean:
		return strconv.FormatBool(v.Bool()), nil
	case manifest.KindInt, manifest.KindBigInt, manifest.KindDate, manifest.KindTimestamp, manifest.KindTimestampTZ:
		return strconv.FormatInt(v.Int64(), 10), nil
	case manifest.KindFloat:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 32), nil
	case manifest.KindDouble:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 64), nil
	case manifest.KindDecimal:
		hi, lo := v.Decimal128()
		return formatDecimal(hi, lo, t.Scale), nil
	case manifest.KindText, manifest.KindJSON:
		return v.Str(), nil
	case manifest.KindBytes, manifest.KindUUID:
		return hex.EncodeToString([]byte(v.Str())), nil
	}
	return "", fmt.Errorf("segment: cannot format a value of type %s", t)
}

// ParseStatValue parses text made by FormatStatValue for type t.
func ParseStatValue(t manifest.Type, s string) (row.Value, error) {
	bad := func(err error) (row.Value, error) {
		return row.Value{}, fmt.Errorf("segment: %q is not a %s statistic: %v", s, t, err)
	}
	var v row.Value
	switch t.Kind {
	case manifest.KindBoolean:
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			return bad(fmt.Errorf("want true or false"))
		}
		v = row.Bool(b)
	case manifest.KindInt, manifest.KindDate:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad(err)
		}
		if t.Kind == manifest.KindInt {
			v = row.Int(int32(n))
		} else {
			v = row.Date(int32(n))
		}
	case manifest.KindBigInt, manifest.KindTimestamp, manifest.KindTimestampTZ:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad(err)
		}
		if t.Kind == manifest.KindBigInt {
			v = row.BigInt(n)
		} else {
			v = row.Temporal(t.Kind, n)
		}
	case manifest.KindFloat:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return bad(err)
		}
		v = row.Float(float32(f))
	case manifest.KindDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad(err)
		}
		v = row.Double(f)
	case manifest.KindDecimal:
		hi, lo, err := parseDecimal(s, t.Scale)
		if err != nil {
			return bad(err)
		}
		v = row.Decimal(hi, lo)
	case manifest.KindText:
		v = row.Text(s)
	case manifest.KindJSON:
		v = row.JSON(s)
	case manifest.KindBytes, manifest.KindUUID:
		b, err := hex.DecodeString(s)
		if err != nil {
			return bad(err)
		}
		if t.Kind == manifest.KindBytes {
			v = row.Bytes(b)
		} else {
			if len(b) != 16 {
				return bad(fmt.Errorf("UUID needs 16 bytes, got %d", len(b)))
			}
			v = row.UUID([16]byte(b))
		}
	default:
		return bad(fmt.Errorf("unsupported type"))
	}
	if err := v.Check(t); err != nil {
		return bad(err)
	}
	return v, nil
}

// int128 converts a two's complement hi:lo to a big.Int.
func int128(hi int64, lo uint64) *big.Int {
	n := new(big.Int).SetInt64(hi)
	n.Lsh(n, 64)
	return n.Or(n, new(big.Int).SetUint64(lo))
}

func formatDecimal(hi int64, lo uint64, scale uint8) string {
	n := int128(hi, lo)
	neg := n.Sign() < 0
	digits := new(big.Int).Abs(n).String()
	if scale > 0 {
		if len(digits) <= int(scale) {
			digits = strings.Repeat("0", int(scale)-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-int(scale)] + "." + digits[len(digits)-int(scale):]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func parseDecimal(s string, scale uint8) (hi int64, lo uint64, err error) {
	body := strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(body, ".")
	if intPart == "" || len(frac) > int(scale) || strings.HasPrefix(body, "+") {
		return 0, 0, fmt.Errorf("want a decimal with at most %d fraction digits", scale)
	}
	digits := intPart + frac + strings.Repeat("0", int(scale)-len(frac))
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, 0, fmt.Errorf("bad digit %q", digits[i])
		}
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok || n.BitLen() > 127 {
		return 0, 0, fmt.Errorf("out of range")
	}
	if strings.HasPrefix(s, "-") {
		n.Neg(n)
	}
	// Two's complement 128-bit: take the low 128 bits of n mod 2^128.
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	u := new(big.Int).Mod(n, mod)
	lo = new(big.Int).And(u, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi = int64(new(big.Int).Rsh(u, 64).Uint64())
	return hi, lo, nil
}

// colStats accumulates the statistics of one column.
type colStats struct {
	typ      manifest.Type
	nulls    int64
	has      bool // min and max are set
	nan      bool
	min, max row.Value
}

func (s *colStats) add(v row.Value) {
	if v.IsNull() {
		s.nulls++
		return
	}
	if (s.typ.Kind == manifest.KindFloat || s.typ.Kind == manifest.KindDouble) && math.IsNaN(v.Float64()) {
		s.nan = true
		return
	}
	if !s.has {
		s.min, s.max, s.has = v, v, true
		return
	}
	if row.Compare(v, s.min) < 0 {
		s.min = v
	} else if row.Compare(v, s.max) > 0 {
		s.max = v
	}
}

// result renders the statistics by the rules documented on Info.Columns.
func (s *colStats) result(id uint32) (manifest.ColumnStats, error) {
	cs := manifest.ColumnStats{ColumnID: id, NullCount: s.nulls}
	if !s.has {
		return cs, nil
	}
	switch s.typ.Kind {
	case manifest.KindText, manifest.KindJSON:
		lo := validPrefix(s.min.Str(), MaxStatBytes)
		cs.Min = &lo
		if hi := s.max.Str(); len(hi) <= MaxStatBytes && utf8.ValidString(hi) {
			cs.Max = &hi
		}
		return cs, nil
	case manifest.KindBytes:
		b := s.min.Str()
		lo := hex.EncodeToString([]byte(b[:min(len(b), MaxStatBytes)]))
		cs.Min = &lo
		if b := s.max.Str(); len(b) <= MaxStatBytes {
			hi := hex.EncodeToString([]byte(b))
			cs.Max = &hi
		}
		return cs, nil
	}
	lo, err := FormatStatValue(s.typ, s.min)
	if err != nil {
		return cs, err
	}
	cs.Min = &lo
	if !s.nan {
		hi, err := FormatStatValue(s.typ, s.max)
		if err != nil {
			return cs, err
		}
		cs.Max = &hi
	}
	return cs, nil
}

// validPrefix returns the longest prefix of s that is valid UTF-8, at most
// n bytes long and ends on a character boundary.
func validPrefix(s string, n int) string {
	end := 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if end+size > n {
			break
		}
		end += size
	}
	return s[:end]
}
