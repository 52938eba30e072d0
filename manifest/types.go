package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the family of a column type.
type Kind uint8

// The column type kinds Floe stores. The zero Kind is invalid so that a
// forgotten type never silently becomes BOOLEAN.
const (
	KindInvalid Kind = iota
	KindBoolean
	KindInt       // 32-bit signed integer
	KindBigInt    // 64-bit signed integer
	KindFloat     // 32-bit IEEE 754
	KindDouble    // 64-bit IEEE 754
	KindDecimal   // fixed point, Precision 1..38, Scale 0..Precision
	KindText      // UTF-8 string
	KindBytes     // arbitrary bytes
	KindDate      // days since the Unix epoch
	KindTimestamp // microseconds since the Unix epoch of a wall-clock time without a zone (SQL TIMESTAMP)
	KindJSON      // a JSON document stored as text
	KindUUID      // 16 bytes
	// KindTimestampTZ is an instant: microseconds since the Unix epoch,
	// UTC (SQL TIMESTAMP WITH TIME ZONE). It is stored like KindTimestamp;
	// the two differ in how SQL presents them (TIMESTAMPTZ vs TIMESTAMP)
	// and in the Arrow and Parquet annotations (UTC-adjusted or not). It
	// comes last so the numbering of the older kinds never changes.
	KindTimestampTZ
)

var kindNames = [...]string{
	KindInvalid:   "INVALID",
	KindBoolean:   "BOOLEAN",
	KindInt:       "INT",
	KindBigInt:    "BIGINT",
	KindFloat:     "FLOAT",
	KindDouble:    "DOUBLE",
	KindDecimal:   "DECIMAL",
	KindText:      "TEXT",
	KindBytes:     "BYTES",
	KindDate:      "DATE",
	KindTimestamp: "TIMESTAMP",
	KindJSON:      "JSON",
	KindUUID:      "UUID",
	// Catalogs before TIMESTAMPTZ existed said TIMESTAMP for both; such
	// columns read as TIMESTAMP (the same microseconds).
	KindTimestampTZ: "TIMESTAMPTZ",
}

// String returns the canonical SQL name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxDecimalPrecision is the largest DECIMAL precision (Arrow Decimal128).
const MaxDecimalPrecision = 38

// Type is a column type. Precision and Scale are meaningful only for
// KindDecimal and are zero otherwise. Type is comparable with ==.
//
// In JSON a Type is its canonical text, e.g. "BIGINT" or "DECIMAL(10,2)".
type Type struct {
	Kind      Kind
	Precision uint8
	Scale     uint8
}

// Convenience values for the parameterless types.
var (
	Boolean     = Type{Kind: KindBoolean}
	Int         = Type{Kind: KindInt}
	BigInt      = Type{Kind: KindBigInt}
	Float       = Type{Kind: KindFloat}
	Double      = Type{Kind: KindDouble}
	Text        = Type{Kind: KindText}
	Bytes       = Type{Kind: KindBytes}
	Date        = Type{Kind: KindDate}
	Timestamp   = Type{Kind: KindTimestamp}
	TimestampTZ = Type{Kind: KindTimestampTZ}
	JSON        = Type{Kind: KindJSON}
	UUID        = Type{Kind: KindUUID}
)

// Decimal returns DECIMAL(precision, scale). Use Validate to check bounds.
func Decimal(precision, scale uint8) Type {
	return Type{Kind: KindDecimal, Precision: precision, Scale: scale}
}

// String returns the canonical text, which ParseType accepts.
func (t Type) String() string {
	if t.Kind == KindDecimal {
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	}
	return t.Kind.String()
}

// Validate reports a type Floe cannot store.
func (t Type) Validate() error {
	switch t.Kind {
	case KindBoolean, KindInt, KindBigInt, KindFloat, KindDouble, KindText,
		KindBytes, KindDate, KindTimestamp, KindTimestampTZ, KindJSON, KindUUID:
		if t.Precision != 0 || t.Scale != 0 {
			return fmt.Errorf("type %s takes no precision or scale", t.Kind)
		}
		return nil
	case KindDecimal:
		if t.Precision < 1 || t.Precision > MaxDecimalPrecision {
			return fmt.Errorf("DECIMAL precision %d is out of range 1..%d", t.Precision, MaxDecimalPrecision)
		}
		if t.Scale > t.Precision {
			return fmt.Errorf("DECIMAL scale %d exceeds precision %d", t.Scale, t.Precision)
		}
		return nil
	default:
		return fmt.Errorf("unknown column type %s", t.Kind)
	}
}

// ParseType parses the canonical text of a type (case-insensitive, spaces
// allowed around the DECIMAL arguments). It accepts only canonical names;
// SQL synonyms such as VARCHAR or INT8 are the SQL layer's business.
func ParseType(s string) (Type, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(u, "DECIMAL"); ok {
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
			return Type{}, fmt.Errorf("type %q: DECIMAL needs (precision,scale)", s)
		}
		p, sc, ok := strings.Cut(rest[1:len(rest)-1], ",")
		if !ok {
			return Type{}, fmt.Errorf("type %q: DECIMAL needs (precision,scale)", s)
		}
		prec, err1 := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
		scale, err2 := strconv.ParseUint(strings.TrimSpace(sc), 10, 8)
		if err1 != nil || err2 != nil {
			return Type{}, fmt.Errorf("type %q: DECIMAL precision and scale must be small integers", s)
		}
		t := Decimal(uint8(prec), uint8(scale))
		if err := t.Validate(); err != nil {
			return Type{}, fmt.Errorf("type %q: %w", s, err)
		}
		return t, nil
	}
	for k, name := range kindNames {
		if Kind(k) != KindInvalid && Kind(k) != KindDecimal && name == u {
			return Type{Kind: Kind(k)}, nil
		}
	}
	return Type{}, fmt.Errorf("unknown column type %q (want one of BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), TEXT, BYTES, DATE, TIMESTAMP, TIMESTAMPTZ, JSON, UUID)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
