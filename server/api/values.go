package api

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/lakehouse/dberr"
)

// maxExactInt is the largest integer a JSON number (a float64) holds
// exactly.
const maxExactInt = 1 << 53

// paramValues converts request parameters to the executor's Go values:
// null, bool, string, and numbers — whole numbers within ±2^53 as int64,
// others as float64. Lists and structs are refused: pass them as JSON
// text and cast in SQL.
func paramValues(in []*structpb.Value) ([]any, error) {
	out := make([]any, len(in))
	for i, v := range in {
		switch k := v.GetKind().(type) {
		case nil, *structpb.Value_NullValue:
			out[i] = nil
		case *structpb.Value_BoolValue:
			out[i] = k.BoolValue
		case *structpb.Value_StringValue:
			out[i] = k.StringValue
		case *structpb.Value_NumberValue:
			f := k.NumberValue
			if f == math.Trunc(f) && math.Abs(f) <= maxExactInt {
				out[i] = int64(f)
			} else {
				out[i] = f
			}
		default:
			return nil, dberr.New(dberr.InvalidArgument, "parameter $%d: lists and objects are not supported as parameters; pass JSON text and cast it in SQL (e.g. CAST($%d AS JSON))", i+1, i+1)
		}
	}
	return out, nil
}

// resultValue converts a value as DuckDB's driver returns it to a
// google.protobuf.Value, by the column's SQL type name (typ, "" inside
// nested values):
//
//   - NULL → null; BOOLEAN → bool;
//   - TINYINT…INTEGER, UTINYINT…UINTEGER, FLOAT, DOUBLE → number (NaN and
//     infinities → the strings "NaN", "Infinity", "-Infinity");
//   - BIGINT, UBIGINT, HUGEINT, DECIMAL → string (exact; a JSON number
//     would lose digits beyond 2^53);
//   - VARCHAR, UUID, ENUM → string; BLOB → base64 string;
//   - DATE → "2006-01-02"; TIME → "15:04:05.999999"; TIMESTAMP[TZ] →
//     RFC 3339 in UTC; ±infinity of either → "infinity", "-infinity"; INTERVAL → {"months", "days", "micros"};
//   - LIST/ARRAY → list; STRUCT → object; MAP → object when its keys are
//     strings, else a list of {"key", "value"}; JSON → its JSON value.
func resultValue(v any, typ string) (*structpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case bool:
		return structpb.NewBoolValue(x), nil
	case int8:
		return structpb.NewNumberValue(float64(x)), nil
	case int16:
		return structpb.NewNumberValue(float64(x)), nil
	case int32:
		return structpb.NewNumberValue(float64(x)), nil
	case uint8:
		return structpb.NewNumberValue(float64(x)), nil
	case uint16:
		return structpb.NewNumberValue(float64(x)), nil
	case uint32:
		return structpb.NewNumberValue(float64(x)), nil
	case int64:
		return structpb.NewStringValue(strconv.FormatInt(x, 10)), nil
	case int:
		return structpb.NewStringValue(strconv.Itoa(x)), nil
	case uint64:
		return structpb.NewStringValue(strconv.FormatUint(x, 10)), nil
	case *big.Int:
		return structpb.NewStringValue(x.String()), nil
	case float32:
		return floatValue(float64(x)), nil
	case float64:
		return floatValue(x), nil
	case duckdb.Decimal:
		return structpb.NewStringValue(decimalString(x)), nil
	case string:
		return structpb.NewStringValue(x), nil
	case []byte:
		if typ == "UUID" && len(x) == 16 {
			if u, err := uuid.FromBytes(x); err == nil {
				return structpb.NewStringValue(u.String()), nil
			}
		}
		return structpb.NewStringValue(base64.StdEncoding.EncodeToString(x)), nil
	case time.Time:
		return structpb.NewStringValue(formatTime(x, typ)), nil
	case duckdb.UUID:
		return structpb.NewStringValue(x.String()), nil
	case *duckdb.UUID:
		return structpb.NewStringValue(x.String()), nil
	case duckdb.Interval:
		return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"months": structpb.NewNumberValue(float64(x.Months)), "days": structpb.NewNumberValue(float64(x.Days)),
			"micros": structpb.NewStringValue(strconv.FormatInt(x.Micros, 10))}}), nil
	case []any:
		elem := ""
		if strings.HasSuffix(typ, "[]") {
			elem = strings.TrimSuffix(typ, "[]")
		}
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(x))}
		for i, e := range x {
			ev, err := resultValue(e, elem)
			if err != nil {
				return nil, err
			}
			l.Values[i] = ev
		}
		return structpb.NewListValue(l), nil
	case map[string]any:
		s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(x))}
		for k, e := range x {
			ev, err := resultValue(e, "")
			if err != nil {
				return nil, err
			}
			s.Fields[k] = ev
		}
		return structpb.NewStructValue(s), nil
	case duckdb.Map:
		return mapValue(x)
	case duckdb.Union:
		return resultValue(x.Value, "")
	}
	return structpb.NewStringValue(fmt.Sprint(v)), nil
}

// decimalString renders a DECIMAL with exactly its scale's digits after
// the point (12.30 stays "12.30").
func decimalString(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	digits := new(big.Int).Abs(d.Value).String()
	sign := ""
	if d.Value.Sign() < 0 {
		sign = "-"
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + digits
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

func floatValue(f float64) *structpb.Value {
	switch {
	case math.IsNaN(f):
		return structpb.NewStringValue("NaN")
	case math.IsInf(f, 1):
		return structpb.NewStringValue("Infinity")
	case math.IsInf(f, -1):
		return structpb.NewStringValue("-Infinity")
	}
	return structpb.NewNumberValue(f)
}

// formatTime renders a DATE, TIME or TIMESTAMP value.
// DuckDB's ±infinity (a DATE of ±(2^31-1) days, a TIMESTAMP of ±(2^63-1)
// microseconds) render as "infinity" and "-infinity", as DuckDB prints them.
func formatTime(t time.Time, typ string) string {
	switch typ {
	case "DATE":
		switch t.Unix() {
		case (1<<31 - 1) * 86400:
			return "infinity"
		case -(1<<31 - 1) * 86400:
			return "-infinity"
		}
		return t.Format(time.DateOnly)
	case "TIME":
		return t.Format("15:04:05.999999")
	}
	switch t.UnixMicro() {
	case 1<<63 - 1:
		return "infinity"
	case -(1<<63 - 1):
		return "-infinity"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// mapValue renders a MAP: an object if every key is a string, else a list
// of {"key", "value"} objects.
func mapValue(m duckdb.Map) (*structpb.Value, error) {
	obj := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for k, e := range m {
		ks, ok := k.(string)
		if !ok {
			obj = nil
			break
		}
		ev, err := resultValue(e, "")
		if err != nil {
			return nil, err
		}
		obj.Fields[ks] = ev
	}
	if obj != nil {
		return structpb.NewStructValue(obj), nil
	}
	l := &structpb.ListValue{}
	for k, e := range m {
		kv, err := resultValue(k, "")
		if err != nil {
			return nil, err
		}
		ev, err := resultValue(e, "")
		if err != nil {
			return nil, err
		}
		l.Values = append(l.Values, structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"key": kv, "value": ev}}))
	}
	return structpb.NewListValue(l), nil
}
