package manifest

import "time"

// TableType says how a table's rows are partitioned and who may touch them.
type TableType string

// Table types.
const (
	// TableUser: one partition per user; a caller only ever sees its own.
	TableUser TableType = "USER"
	// TableShared: one partition, governed by the table's access level.
	TableShared TableType = "SHARED"
	// TableStream: per-user like USER, append-only, rows expire after TTL.
	TableStream TableType = "STREAM"
	// TableSystem: Floe's own tables in the system namespace.
	TableSystem TableType = "SYSTEM"
)

// AccessLevel governs reads and writes of a SHARED table.
type AccessLevel string

// Access levels, as in KalamDB.
const (
	AccessPublic     AccessLevel = "PUBLIC"
	AccessPrivate    AccessLevel = "PRIVATE"
	AccessRestricted AccessLevel = "RESTRICTED"
	AccessDBA        AccessLevel = "DBA"
)

// Header is carried by every versioned manifest. Version, CommitID,
// CommittedAt, CommittedBy and WriterEpoch are set by the commit protocol
// (see Log.Commit); a mutation must not change them.
type Header struct {
	// FormatVersion is the layout of this document. A reader refuses any
	// format it does not know rather than guessing.
	FormatVersion int `json:"format_version"`
	// Version is this manifest's position in its log: 1, 2, 3, … dense.
	Version uint64 `json:"version"`
	// CommitID is unique per commit attempt; a committer that is unsure
	// whether its conditional put landed re-reads the version and compares.
	CommitID string `json:"commit_id"`
	// CommittedAt is the committer's clock at commit time (informational).
	CommittedAt time.Time `json:"committed_at"`
	// CommittedBy is the NodeId of the committing process (informational).
	CommittedBy string `json:"committed_by,omitempty"`
	// WriterEpoch is the highest writer epoch that has committed to this
	// log. A committer holding a lower epoch is fenced (ErrFenced).
	WriterEpoch uint64 `json:"writer_epoch,omitempty"`
}

// Catalog is the versioned root of a warehouse: its namespaces, tables and
// views.
// A Catalog value read from a Log is shared and must be treated as
// immutable; mutate a Clone.
type Catalog struct {
	Header
	// WarehouseID names the warehouse for good: it is assigned by the
	// first writer claim (ClaimWriter) of a new catalog, or of a catalog
	// written before warehouse ids existed, and never changes after that
	// (a commit that changes it fails with ErrInvalid). A node's data dir
	// records the id it belongs to, so that its buffered rows never reach
	// another warehouse. Omitted while empty, so older catalogs encode as
	// before.
	WarehouseID string `json:"warehouse_id,omitempty"`
	// Writer is the current holder of the node-owned writer lease, nil if
	// no node has claimed the warehouse. Its Epoch equals Header.WriterEpoch.
	Writer *WriterLease `json:"writer,omitempty"`
	// SystemSchemaVersion is the version of Floe's system tables this
	// catalog holds (0: none yet). A node that knows a newer version
	// creates or migrates the system tables at start.
	SystemSchemaVersion int `json:"system_schema_version,omitempty"`
	// WriteMode says which write path owns the warehouse's partitions:
	// WriteModeNode (one node holding the writer lease; also what "" means,
	// the mode of every catalog written before the field existed) or
	// WriteModeDirect (serverless writers committing segments). It is set
	// when the warehouse is created and the two paths never mix: a
	// process whose role does not fit refuses to write (see lakehouse/node).
	WriteMode  string      `json:"write_mode,omitempty"`
	Namespaces []Namespace `json:"namespaces"`
	Tables     []Table     `json:"tables"`
	// Views are named queries (see View). The field is omitted when there
	// are none, so a catalog without views encodes as before views
	// existed; a build that does not know views refuses a catalog that
	// has some (unknown field) instead of silently dropping them.
	Views []View `json:"views,omitempty"`

	// arr is the array Tables lives in when successive versions share it
	// (see tablesArray); edits records the table edits of a catalog a
	// commit with CommitOptions.EditTables made (see tableEdits).
	arr   *tablesArray
	edits *tableEdits
}

// Write modes of a warehouse (Catalog.WriteMode).
const (
	WriteModeNode   = "node"
	WriteModeDirect = "direct"
)

// Mode returns the catalog's write mode, WriteModeNode for "".
func (c *Catalog) Mode() string {
	if c.WriteMode == "" {
		return WriteModeNode
	}
	return c.WriteMode
}

// Holder returns the node that holds the catalog's writer epoch: the
// Writer lease's node, or the last committer when there is none.
func (c *Catalog) Holder() string {
	if c.Writer != nil && c.Writer.Epoch == c.WriterEpoch {
		return c.Writer.NodeID
	}
	return c.CommittedBy
}

// WriterLease records which node owns the node-owned write path.
type WriterLease struct {
	Epoch      uint64    `json:"epoch"`
	NodeID     string    `json:"node_id"`
	AcquiredAt time.Time `json:"acquired_at"`
}

// Namespace groups tables.
type Namespace struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Table is one table's definition. Its ID never changes and is never reused,
// so data written under an ID belongs to exactly one table even if a table
// of the same name is dropped and created again.
type Table struct {
	ID        string    `json:"id"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Type      TableType `json:"type"`
	// Columns in declaration order. System columns (_seq, _deleted) are not
	// listed: they are implied for every table.
	Columns []Column `json:"columns"`
	// PrimaryKey names the key columns in key order. A table declared
	// without one gets the hidden BIGINT column ColumnRowID as its key
	// (see HasHiddenRowID); the storage engine requires a key.
	PrimaryKey []string `json:"primary_key,omitempty"`
	// SchemaVersion increases by one with every change of Columns or
	// PrimaryKey. Segments record the version they were written with.
	SchemaVersion uint32 `json:"schema_version"`
	// NextColumnID is the ID the next added column gets; IDs are never reused.
	NextColumnID uint32       `json:"next_column_id"`
	Options      TableOptions `json:"options"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// Column is one user column. ID is stable across renames and is how
// segments written under older schema versions are matched to columns.
type Column struct {
	ID       uint32 `json:"id"`
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Nullable bool   `json:"nullable"`
	// Default is the SQL text of the default expression, empty for none.
	Default string `json:"default,omitempty"`
	// InitialDefault is the value rows written before the column existed
	// read in it (Iceberg's initial-default): set once by ALTER TABLE … ADD
	// COLUMN … DEFAULT, never changed, empty for NULL. It is the value's
	// statistic text (segment.FormatStatValue): the type's canonical,
	// exact spelling. Segments that lack the column read it there; segments
	// written after the column was added have the column and never use it.
	InitialDefault string `json:"initial_default,omitempty"`
}

// TableOptions are the WITH (…) options of a table. Zero values mean the
// engine's defaults.
type TableOptions struct {
	// FlushRows flushes a partition once it buffers this many rows.
	FlushRows int64 `json:"flush_rows,omitempty"`
	// FlushIntervalSeconds flushes a partition this long after its oldest
	// unflushed write.
	FlushIntervalSeconds int64 `json:"flush_interval_seconds,omitempty"`
	// TTLSeconds is required for STREAM tables and refused for the others.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	// AccessLevel applies to SHARED tables only; empty means PRIVATE.
	AccessLevel AccessLevel `json:"access_level,omitempty"`
}

// Partition is the versioned list of immutable segments of one partition of
// one table. A Partition read from a Log is shared and must be treated as
// immutable; mutate a Clone.
type Partition struct {
	Header
	TableID string `json:"table_id"`
	// Partition is the partition key: the user id for USER and STREAM
	// tables, "" for SHARED and SYSTEM tables.
	Partition string `json:"partition"`
	// LastSeq is the highest _seq ever committed to this partition (0 for
	// none). The next write uses a larger one, so _seq never goes back even
	// when segments are compacted away.
	LastSeq uint64 `json:"last_seq"`
	// Segments in commit order; their _seq ranges do not overlap.
	Segments []Segment `json:"segments"`
	// PurgedThrough bounds the tombstones compaction has dropped from this
	// partition: every one had _seq <= PurgedThrough (0: none dropped).
	// The partition's changes from a _seq at or below it can no longer all
	// be replayed (a delete may be gone), so a consumer resuming from
	// there must re-read the partition instead (a live subscriber gets a
	// resync to reload). Never above LastSeq; it only grows. Like
	// Segment.Deleted it is omitted when 0.
	PurgedThrough uint64 `json:"purged_through,omitempty"`
}

// Segment is one immutable Parquet object.
type Segment struct {
	Key           string        `json:"key"`
	Rows          int64         `json:"rows"`
	Bytes         int64         `json:"bytes"`
	SeqMin        uint64        `json:"seq_min"`
	SeqMax        uint64        `json:"seq_max"`
	SchemaVersion uint32        `json:"schema_version"`
	Columns       []ColumnStats `json:"columns,omitempty"`
	// Deleted is how many of the Rows versions are tombstones; nil when
	// unknown (segments committed before the field existed), which readers
	// must treat as "may hold tombstones". A segment with Deleted = 0 is
	// read without the _deleted filter, so count(*) and min/max can be
	// answered from Parquet metadata. Like Catalog.Views it is omitted when
	// nil, so a manifest without it is what format 1 always was.
	Deleted *int64 `json:"deleted,omitempty"`
}

// NoTombstones reports whether the segment is known to hold no tombstones.
func (s *Segment) NoTombstones() bool { return s.Deleted != nil && *s.Deleted == 0 }

// ColumnStats are per-column statistics of a segment, keyed by column ID.
// Min and Max hold the canonical text of a value of the column's type
// (integers in base 10; floats in Go's shortest form, "-0", "+Inf", never
// NaN; DECIMAL as a plain decimal with exactly scale fraction digits, e.g.
// "-0.05"; text as is; bytes and UUID in hex; DATE as days and TIMESTAMP as
// microseconds since the epoch), as produced by segment.FormatStatValue.
// They are nil when the column has only NULLs or no bound was kept (a
// string longer than 64 bytes has a truncated Min and no Max; a float
// column holding NaN has no Max).
type ColumnStats struct {
	ColumnID  uint32  `json:"column_id"`
	Min       *string `json:"min,omitempty"`
	Max       *string `json:"max,omitempty"`
	NullCount int64   `json:"null_count"`
}
