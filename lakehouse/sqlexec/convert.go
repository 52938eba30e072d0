package sqlexec

import (
	"database/sql/driver"
	"fmt"
	"math/big"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// duckType is the DuckDB type Floe presents a column type as.
func duckType(t manifest.Type) string {
	switch t.Kind {
	case manifest.KindBoolean:
		return "BOOLEAN"
	case manifest.KindInt:
		return "INTEGER"
	case manifest.KindBigInt:
		return "BIGINT"
	case manifest.KindFloat:
		return "FLOAT"
	case manifest.KindDouble:
		return "DOUBLE"
	case manifest.KindDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case manifest.KindText:
		return "VARCHAR"
	case manifest.KindJSON:
		return "JSON"
	case manifest.KindBytes:
		return "BLOB"
	case manifest.KindDate:
		return "DATE"
	case manifest.KindTimestamp:
		return "TIMESTAMP"
	case manifest.KindTimestampTZ:
		return "TIMESTAMPTZ"
	case manifest.KindUUID:
		return "UUID"
	}
	return "VARCHAR"
}

const (
	secondsPerDay = 86_400
	microsPerDay  = 86_400_000_000
)

// DuckDB's encodings of ±infinity: a TIMESTAMP[TZ] of ±(2^63-1)
// microseconds and a DATE of ±(2^31-1) days. Floe stores them as those
// integers, so they survive a flush and read back as ±infinity.
const (
	timestampInfinity = 1<<63 - 1
	dateInfinity      = 1<<31 - 1
)

// appendColumn is how a column of type t travels through DuckDB's
// appender (buffered rows, system tables): its column type there and the
// SQL expression that turns the appended column name back into a value of
// t. TIMESTAMP[TZ] travels as its microseconds (the Go driver refuses
// times beyond year 294246, which ±infinity are) and JSON as its text (the
// driver would encode a Go string as a JSON string). appendValue converts
// the values to match.
func appendColumn(name string, t manifest.Type) (typ, expr string) {
	id := duckengine.Ident(name)
	switch t.Kind {
	case manifest.KindTimestamp, manifest.KindTimestampTZ:
		return "BIGINT", fmt.Sprintf("CAST(CASE WHEN %[1]s = %[2]d THEN TIMESTAMP 'infinity' WHEN %[1]s = -%[2]d THEN TIMESTAMP '-infinity' ELSE make_timestamp(%[1]s) END AS %[3]s) AS %[1]s",
			id, int64(timestampInfinity), duckType(t))
	case manifest.KindJSON:
		return "VARCHAR", fmt.Sprintf("CAST(%[1]s AS JSON) AS %[1]s", id)
	}
	return duckType(t), id
}

// appendValue is v as appendColumn's column takes it.
func appendValue(v row.Value, t manifest.Type) driver.Value {
	if (t.Kind == manifest.KindTimestamp || t.Kind == manifest.KindTimestampTZ) && !v.IsNull() {
		return v.Int64()
	}
	return toDriver(v, t)
}

// toDriver converts a stored value to what DuckDB's appender takes.
func toDriver(v row.Value, t manifest.Type) driver.Value {
	if v.IsNull() {
		return nil
	}
	switch t.Kind {
	case manifest.KindBoolean:
		return v.Bool()
	case manifest.KindInt:
		return int32(v.Int64())
	case manifest.KindBigInt:
		return v.Int64()
	case manifest.KindFloat:
		return float32(v.Float64())
	case manifest.KindDouble:
		return v.Float64()
	case manifest.KindDecimal:
		return duckdb.Decimal{Width: t.Precision, Scale: t.Scale, Value: v.DecimalBig()}
	case manifest.KindText, manifest.KindJSON:
		return v.Str()
	case manifest.KindBytes:
		return []byte(v.Str())
	case manifest.KindDate:
		// Seconds, not microseconds: DATE 'infinity' (2^31-1 days) would
		// overflow an int64 of microseconds.
		return time.Unix(v.Int64()*secondsPerDay, 0).UTC()
	case manifest.KindTimestamp, manifest.KindTimestampTZ:
		return time.UnixMicro(v.Int64()).UTC()
	case manifest.KindUUID:
		var u duckdb.UUID
		copy(u[:], v.Str())
		return u
	}
	return nil
}

// fromDriver converts a value DuckDB returned for a column CAST to t's
// DuckDB type into a stored value. col names the column in errors.
func fromDriver(x any, t manifest.Type, col string) (row.Value, error) {
	if x == nil {
		return row.Null(), nil
	}
	bad := func() (row.Value, error) {
		return row.Value{}, dberr.New(dberr.TypeMismatch, "column %s: a %T value does not fit type %s", col, x, t)
	}
	switch t.Kind {
	case manifest.KindBoolean:
		if b, ok := x.(bool); ok {
			return row.Bool(b), nil
		}
	case manifest.KindInt:
		switch n := x.(type) {
		case int32:
			return row.Int(n), nil
		case int64:
			if n == int64(int32(n)) {
				return row.Int(int32(n)), nil
			}
		}
	case manifest.KindBigInt:
		switch n := x.(type) {
		case int64:
			return row.BigInt(n), nil
		case int32:
			return row.BigInt(int64(n)), nil
		}
	case manifest.KindFloat:
		switch f := x.(type) {
		case float32:
			return row.Float(f), nil
		case float64:
			return row.Float(float32(f)), nil
		}
	case manifest.KindDouble:
		switch f := x.(type) {
		case float64:
			return row.Double(f), nil
		case float32:
			return row.Double(float64(f)), nil
		}
	case manifest.KindDecimal:
		if d, ok := x.(duckdb.Decimal); ok {
			n := d.Value
			if d.Scale != t.Scale {
				n = rescale(n, int(t.Scale)-int(d.Scale))
			}
			if v, ok := row.DecimalFromBig(n); ok {
				if err := v.Check(t); err == nil {
					return v, nil
				}
			}
			return row.Value{}, dberr.New(dberr.TypeMismatch, "column %s: value out of range for %s", col, t)
		}
	case manifest.KindText:
		if s, ok := x.(string); ok {
			return row.Text(s), nil
		}
	case manifest.KindJSON:
		switch s := x.(type) {
		case string:
			return row.JSON(s), nil
		case []byte:
			return row.JSON(string(s)), nil
		}
	case manifest.KindBytes:
		switch b := x.(type) {
		case []byte:
			return row.Bytes(b), nil
		case string:
			return row.Bytes([]byte(b)), nil
		}
	case manifest.KindDate:
		if tm, ok := x.(time.Time); ok {
			// Seconds, not microseconds, which overflow for ±infinity.
			secs := tm.Unix()
			days := secs / secondsPerDay
			if secs%secondsPerDay < 0 {
				days--
			}
			return row.Date(int32(days)), nil
		}
	case manifest.KindTimestamp, manifest.KindTimestampTZ:
		if tm, ok := x.(time.Time); ok {
			return row.Temporal(t.Kind, tm.UnixMicro()), nil
		}
	case manifest.KindUUID:
		switch u := x.(type) {
		case duckdb.UUID:
			return row.UUID(u), nil
		case []byte:
			if len(u) == 16 {
				return row.UUID([16]byte(u)), nil
			}
		case string:
			if p, err := uuid.Parse(u); err == nil {
				return row.UUID(p), nil
			}
		}
	}
	return bad()
}

// rescale multiplies n by 10^shift (shift may be negative: truncates).
func rescale(n *big.Int, shift int) *big.Int {
	out := new(big.Int).Set(n)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(shift))), nil)
	if shift > 0 {
		return out.Mul(out, p)
	}
	return out.Quo(out, p)
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
