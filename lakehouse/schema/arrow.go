package schema

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/floedb/floe/manifest"
)

// System column names. Every table has _seq and _deleted after its own
// columns; they are never declared in the manifest.
const (
	// SeqColumn holds the row version's sequence number: strictly
	// increasing per partition in commit order.
	SeqColumn = "_seq"
	// DeletedColumn marks a tombstone version.
	DeletedColumn = "_deleted"
)

// Arrow schema metadata keys.
const (
	// MetaTableID is the table's stable ID (schema-level metadata).
	MetaTableID = "floe.table_id"
	// MetaSchemaVersion is the table's schema version (schema-level).
	MetaSchemaVersion = "floe.schema_version"
	// MetaType is the Floe type of a field whose Arrow type alone does not
	// say it (JSON is stored as utf8, UUID as fixed_size_binary(16)).
	MetaType = "floe.type"
)

// Immutable, shared type and metadata values. Arrow data types and
// Metadata are never modified after construction, so sharing one instance
// across all schemas is safe and keeps a cached schema small.
var (
	uuidType      = &arrow.FixedSizeBinaryType{ByteWidth: 16}
	timestampType = &arrow.TimestampType{Unit: arrow.Microsecond}
	jsonMeta      = arrow.NewMetadata([]string{MetaType}, []string{"JSON"})
	uuidMeta      = arrow.NewMetadata([]string{MetaType}, []string{"UUID"})
)

// ArrowType maps a Floe column type to its Arrow type:
//
//	BOOLEAN       bool
//	INT           int32
//	BIGINT        int64
//	FLOAT         float32
//	DOUBLE        float64
//	DECIMAL(p,s)  decimal128(p, s)
//	TEXT          utf8
//	BYTES         binary
//	DATE          date32 (days since the epoch)
//	TIMESTAMP     timestamp[us] (no zone: a wall-clock time)
//	TIMESTAMPTZ   timestamp[us, tz=UTC]
//	JSON          utf8, field metadata floe.type=JSON
//	UUID          fixed_size_binary(16), field metadata floe.type=UUID
//
// It returns an error for an invalid type.
func ArrowType(t manifest.Type) (arrow.DataType, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	switch t.Kind {
	case manifest.KindBoolean:
		return arrow.FixedWidthTypes.Boolean, nil
	case manifest.KindInt:
		return arrow.PrimitiveTypes.Int32, nil
	case manifest.KindBigInt:
		return arrow.PrimitiveTypes.Int64, nil
	case manifest.KindFloat:
		return arrow.PrimitiveTypes.Float32, nil
	case manifest.KindDouble:
		return arrow.PrimitiveTypes.Float64, nil
	case manifest.KindDecimal:
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}, nil
	case manifest.KindText, manifest.KindJSON:
		return arrow.BinaryTypes.String, nil
	case manifest.KindBytes:
		return arrow.BinaryTypes.Binary, nil
	case manifest.KindDate:
		return arrow.FixedWidthTypes.Date32, nil
	case manifest.KindTimestamp:
		return timestampType, nil
	case manifest.KindTimestampTZ:
		return arrow.FixedWidthTypes.Timestamp_us, nil
	case manifest.KindUUID:
		return uuidType, nil
	}
	return nil, fmt.Errorf("schema: no Arrow type for %s", t)
}

// BuildArrowSchema computes the Arrow schema of a table from its definition:
// one field per column in declaration order, then _seq (int64, not null) and
// _deleted (bool, not null). Schema metadata carries the table ID and schema
// version.
//
// This is the uncached computation. Code that serves queries must go
// through Registry, which memoizes the result per table and schema version.
func BuildArrowSchema(t *manifest.Table) (*arrow.Schema, error) {
	fields := make([]arrow.Field, 0, len(t.Columns)+2)
	for _, c := range t.Columns {
		dt, err := ArrowType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("schema: table %s.%s column %s: %w", t.Namespace, t.Name, c.Name, err)
		}
		f := arrow.Field{Name: c.Name, Type: dt, Nullable: c.Nullable}
		switch c.Type.Kind {
		case manifest.KindJSON:
			f.Metadata = jsonMeta
		case manifest.KindUUID:
			f.Metadata = uuidMeta
		}
		fields = append(fields, f)
	}
	fields = append(fields,
		arrow.Field{Name: SeqColumn, Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: DeletedColumn, Type: arrow.FixedWidthTypes.Boolean},
	)
	md := arrow.NewMetadata(
		[]string{MetaTableID, MetaSchemaVersion},
		[]string{t.ID, strconv.FormatUint(uint64(t.SchemaVersion), 10)},
	)
	return arrow.NewSchema(fields, &md), nil
}
