// Package segment reads and writes Floe's immutable Parquet segments: the
// row versions of one partition of one table, sorted by primary key, with
// the statistics that go into the partition manifest.
//
// # File layout
//
// A segment is a plain Parquet file that DuckDB, Arrow and other engines
// read as is. It has one column per user column of the table, in declaration
// order, named by the column name and carrying the column ID as Parquet
// field_id, then _seq (INT64, required, field_id SeqFieldID) and _deleted
// (BOOLEAN, required, field_id DeletedFieldID). Because every column has a
// field_id, a reader can map a file of any schema version onto the current
// schema by ID (DuckDB: read_parquet(…, schema = map {id: {name, type,
// default_value}, …})).
// Nullable columns are OPTIONAL, NOT NULL columns REQUIRED. Types follow
// lakehouse/schema's Arrow mapping:
//
//	BOOLEAN       BOOLEAN
//	INT           INT32
//	BIGINT        INT64
//	FLOAT         FLOAT
//	DOUBLE        DOUBLE
//	DECIMAL(p,s)  DECIMAL(p,s) on INT32 (p ≤ 9), INT64 (p ≤ 18) or FIXED_LEN_BYTE_ARRAY(16)
//	TEXT          BYTE_ARRAY, STRING
//	JSON          BYTE_ARRAY, STRING (not the JSON logical type, which DuckDB
//	              reads only with its json extension; the Floe type is in the metadata)
//	BYTES         BYTE_ARRAY
//	DATE          INT32, DATE
//	TIMESTAMP     INT64, TIMESTAMP(isAdjustedToUTC=true, MICROS)
//	UUID          FIXED_LEN_BYTE_ARRAY(16), UUID
//
// The file's key-value metadata records floe.format_version, floe.table_id,
// floe.schema_version, floe.columns (a JSON array of the columns' IDs, names,
// Floe types and nullability) and floe.primary_key (a JSON array of the key
// columns' IDs), so that a file can be mapped onto any later schema of its
// table without the catalog version it was written under; and the length
// and CRC-32C of the data region (floe.data_bytes, floe.data_crc32c), which
// Reader.Verify checks.
//
// Data pages are Parquet format version 1, PLAIN encoded, compressed with
// zstd (default) or snappy, each with a CRC-32 of its contents. Column
// chunks carry null counts and min/max statistics, and the file has a page
// index, so that engines can skip row groups and pages — except that FLOAT,
// DOUBLE and 16-byte DECIMAL columns have no Parquet min/max (see noMinMax:
// parquet-go's would make DuckDB skip row groups holding NaN, or negative
// DECIMALs). Floe's own statistics (Info) cover every column.
//
// # Tombstones
//
// A tombstone (_deleted = true) carries the primary key values; its other
// columns are stored as NULL, or as the type's zero value in a REQUIRED
// column, and always read back as NULL. Write ignores non-key values of a
// tombstone. Engines reading the file directly must filter on _deleted.
//
// # Schema evolution
//
// Open presents a segment written under any earlier schema version in the
// table's current schema: columns are matched by ID, so renamed columns are
// found and dropped columns skipped. Columns added after the segment was
// written read as their initial default (Column.InitialDefault: the value
// recorded when the column was added, as Iceberg's initial-default and
// Postgres' attmissingval), or NULL without one — never as Column.Default,
// which is the default for future inserts and may change. A tombstone
// reads NULL there as in any non-key column. A column added as NOT NULL
// has an initial default (ALTER TABLE requires a DEFAULT), so it reads no
// NULL in older
// segments. Changing a column's type is not supported (Open fails with
// ErrIncompatibleSchema).
//
// # Damage
//
// Open checks the footer's structure before parquet-go decodes it (a damaged
// length could otherwise make it allocate gigabytes) and that the column
// chunks tile the data region; Versions checks every page's CRC-32. What
// neither sees — a damaged page header that still decodes — Verify catches
// with the data region's CRC-32C. Errors name the object and wrap ErrCorrupt.
package segment

import (
	"errors"
	"fmt"
	"math"

	"github.com/floedb/floe/manifest"
)

// Errors. Every error of this package wraps one of them or an I/O error of
// the underlying reader or writer.
var (
	// ErrInvalidInput: Write was given versions that do not fit the table
	// or are not sorted. Fix the caller.
	ErrInvalidInput = errors.New("segment: invalid input")
	// ErrUnsorted: the input of Write is not sorted by primary key (or by
	// _seq for tables without one), or holds two versions of one key.
	ErrUnsorted = fmt.Errorf("%w: not sorted by key, or more than one version of a key", ErrInvalidInput)
	// ErrCorrupt: the object is not a readable Floe segment (truncated,
	// damaged, or not written by this package).
	ErrCorrupt = errors.New("segment: corrupt segment")
	// ErrIncompatibleSchema: the segment cannot be presented in the table's
	// schema (another table, a newer schema version, or a changed column
	// type).
	ErrIncompatibleSchema = errors.New("segment: incompatible schema")
)

// Key-value metadata keys of a segment file.
const (
	MetaFormatVersion = "floe.format_version"
	MetaTableID       = "floe.table_id"
	MetaSchemaVersion = "floe.schema_version"
	MetaColumns       = "floe.columns"
	MetaPrimaryKey    = "floe.primary_key"
	// MetaDataBytes and MetaDataCRC32C are the length and CRC-32C (8 hex
	// digits) of the file's data region: every byte before the page index
	// and footer. Reader.Verify checks them.
	MetaDataBytes  = "floe.data_bytes"
	MetaDataCRC32C = "floe.data_crc32c"
)

// Field IDs of the system columns. User column IDs are below SeqFieldID.
const (
	SeqFieldID     = math.MaxInt32 - 1
	DeletedFieldID = math.MaxInt32
)

// FormatVersion is the segment layout this package writes and the only one
// it reads.
const FormatVersion = 1

// System column names, after the user columns in every segment.
const (
	SeqColumn     = manifest.ColumnSeq
	DeletedColumn = manifest.ColumnDeleted
)

// Info describes a written segment: what the partition manifest records
// about it.
type Info struct {
	// Rows is the number of row versions, tombstones included.
	Rows int64
	// Deleted is how many of them are tombstones.
	Deleted int64
	// Bytes is the size of the file.
	Bytes int64
	// SeqMin and SeqMax are the smallest and largest _seq (0 for an empty
	// segment).
	SeqMin, SeqMax uint64
	// SchemaVersion is the table schema version the segment was written in.
	SchemaVersion uint32
	// Columns has one entry per user column, in declaration order. NullCount
	// counts the rows whose value reads back as NULL (so it includes the
	// non-key columns of tombstones); Min and Max cover the other values,
	// rendered by FormatStatValue, with these rules:
	//   - FLOAT and DOUBLE: NaN is never the min or max; if the column holds
	//     a NaN, Max is nil (NaN sorts after every number, so no number is an
	//     upper bound), and Min is the smallest other value;
	//   - TEXT, JSON and BYTES: a Min longer than MaxStatBytes bytes is cut to
	//     a prefix of at most MaxStatBytes bytes (a TEXT/JSON prefix ends on a
	//     character boundary and before any invalid UTF-8), which is still a
	//     lower bound; a Max longer than MaxStatBytes, or TEXT/JSON Max that
	//     is not valid UTF-8, is omitted (nil);
	//   - both are nil when the column has no value to bound.
	// Every Min ≤ every value ≤ every Max in row.Compare order.
	Columns []manifest.ColumnStats
}

// Segment returns the manifest entry for the segment stored under key.
func (i Info) Segment(key string) manifest.Segment {
	return manifest.Segment{
		Key:           key,
		Rows:          i.Rows,
		Bytes:         i.Bytes,
		SeqMin:        i.SeqMin,
		SeqMax:        i.SeqMax,
		SchemaVersion: i.SchemaVersion,
		Columns:       i.Columns,
		Deleted:       &i.Deleted,
	}
}
