package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrInvalid marks a manifest, or a name or ID, that breaks a rule of the
// model (see Catalog.Validate and Partition.Validate). Commit returns it
// when a mutation produces an invalid manifest; nothing is written.
var ErrInvalid = errors.New("manifest: invalid manifest")

// Name rules shared by namespaces, tables and columns.
const (
	// MaxNameLen is the longest namespace, table or column name.
	MaxNameLen = 63
	// MaxTableIDLen is the longest table ID.
	MaxTableIDLen = 128
	// MaxPartitionLen is the longest partition key (user id) in bytes; it
	// keeps escaped object keys well under S3's 1024-byte limit.
	MaxPartitionLen = 200
)

// The system columns every table has implicitly. A user column may not take
// their names (see IsReservedColumn).
const (
	// ColumnSeq holds a row version's _seq, strictly increasing per partition.
	ColumnSeq = "_seq"
	// ColumnDeleted marks a tombstone.
	ColumnDeleted = "_deleted"
	// ColumnRowID is the hidden key of a table without a primary key.
	ColumnRowID = "_rowid"
	// ColumnWrittenAt is the hidden write time of a STREAM table's rows,
	// from which their expiry (TTLSeconds) is computed.
	ColumnWrittenAt = "_written_at"
)

// maxProblems caps how many problems one Validate reports, so that a badly
// broken manifest does not produce a megabyte of error text.
const maxProblems = 50

// ValidateName checks a namespace, table or column name: 1 to 63 characters
// of a-z, 0-9 and _, not starting with a digit (^[a-z_][a-z0-9_]{0,62}$).
// For kind "column" the reserved system column names are refused too. kind
// only labels the message. The error wraps ErrInvalid.
func ValidateName(kind, name string) error {
	if msg := nameProblem(kind, name); msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	return nil
}

func nameProblem(kind, name string) string {
	if !validName(name) {
		return fmt.Sprintf("%s name %q must be 1 to %d characters of a-z, 0-9 and _, not starting with a digit", kind, name, MaxNameLen)
	}
	if kind == "column" && IsReservedColumn(name) {
		return fmt.Sprintf("column name %q is reserved for a system column", name)
	}
	return ""
}

// HasHiddenRowID reports whether t's primary key is the hidden row id
// column (ColumnRowID), which the SQL layer adds to a table declared
// without a primary key. It is the only reserved name a column may have.
func (t *Table) HasHiddenRowID() bool {
	return len(t.PrimaryKey) == 1 && t.PrimaryKey[0] == ColumnRowID
}

// IsHiddenColumn reports whether name is one of t's hidden columns, which
// the SQL layer adds and never shows: the row id of a table without a
// primary key (BIGINT NOT NULL), the write time of a STREAM table's rows
// (TIMESTAMP NOT NULL). They are the only reserved names a column may have.
func (t *Table) IsHiddenColumn(name string) bool {
	return (name == ColumnRowID && t.HasHiddenRowID()) || (name == ColumnWrittenAt && t.Type == TableStream)
}

// hiddenColumnType is the type every hidden column must have.
func hiddenColumnType(name string) Type {
	if name == ColumnWrittenAt {
		return Timestamp
	}
	return BigInt
}

// IsReservedColumn reports whether name is a system column's name
// (ColumnSeq, ColumnDeleted, ColumnRowID or ColumnWrittenAt).
func IsReservedColumn(name string) bool {
	return name == ColumnSeq || name == ColumnDeleted || name == ColumnRowID || name == ColumnWrittenAt
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidateTableID checks a table ID. IDs become object key segments
// (tables/<id>/…), so they are 1 to 128 characters of A-Z, a-z, 0-9, '.',
// '_' and '-', starting with a letter or digit. The error wraps ErrInvalid.
//
// IDs differing only in letter case are distinct here but collide on a
// case-insensitive file system; generate IDs in one case (e.g. ULIDs).
func ValidateTableID(id string) error {
	if msg := tableIDProblem(id); msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	return nil
}

func tableIDProblem(id string) string { return idProblem("table id", id) }

// idProblem checks an identifier (a table or warehouse id): 1 to
// MaxTableIDLen characters of A-Z, a-z, 0-9, '.', '_' and '-', starting
// with a letter or digit.
func idProblem(what, id string) string {
	ok := len(id) > 0 && len(id) <= MaxTableIDLen
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			ok = false
		}
	}
	if !ok {
		return fmt.Sprintf("%s %q must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit", what, id, MaxTableIDLen)
	}
	return ""
}

// ValidatePartitionKey checks a partition key: "" (the single partition of
// a SHARED or SYSTEM table) or a user id of valid UTF-8 of at most
// MaxPartitionLen bytes. The error wraps ErrInvalid.
func ValidatePartitionKey(partition string) error {
	if msg := partitionProblem(partition); msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	return nil
}

func partitionProblem(p string) string {
	switch {
	case len(p) > MaxPartitionLen:
		return fmt.Sprintf("partition key is %d bytes long, the limit is %d", len(p), MaxPartitionLen)
	case !utf8.ValidString(p):
		return fmt.Sprintf("partition key %q is not valid UTF-8", p)
	}
	return ""
}

// problems collects the findings of one Validate.
type problems struct {
	errs    []error
	dropped int
}

func (p *problems) addf(format string, args ...any) {
	if len(p.errs) >= maxProblems {
		p.dropped++
		return
	}
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *problems) add(msg string) {
	if msg != "" {
		p.addf("%s", msg)
	}
}

func (p *problems) utf8(what fmt.Stringer, field, s string) {
	if !utf8.ValidString(s) {
		p.addf("%s%s %q is not valid UTF-8", what, field, s)
	}
}

// Labels name what a problem is about. They are formatted only when a
// problem is reported, which keeps validating a large catalog cheap.
type (
	plainLabel  string
	tableLabel  struct{ t *Table }
	columnLabel struct {
		tableLabel
		c *Column
	}
	segmentLabel struct {
		i int
		s *Segment
	}
	statsLabel struct {
		segmentLabel
		cs *ColumnStats
	}
)

func (l plainLabel) String() string { return string(l) }
func (l tableLabel) String() string {
	return fmt.Sprintf("table %s.%s (id %q)", l.t.Namespace, l.t.Name, l.t.ID)
}
func (l columnLabel) String() string {
	return fmt.Sprintf("%s: column %q (id %d)", l.tableLabel, l.c.Name, l.c.ID)
}
func (l segmentLabel) String() string {
	if l.s.Key == "" {
		return fmt.Sprintf("segment #%d", l.i)
	}
	return fmt.Sprintf("segment %q", l.s.Key)
}
func (l statsLabel) String() string {
	return fmt.Sprintf("%s: stats of column id %d", l.segmentLabel, l.cs.ColumnID)
}

// err returns nil or ErrInvalid wrapping errors.Join of every problem.
func (p *problems) err(subject string) error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	if p.dropped > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("and %d more problems", p.dropped))
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalid, subject, errors.Join(errs...))
}

func (p *problems) header(h *Header, formats ...int) {
	if !slices.Contains(formats, h.FormatVersion) {
		want := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(formats)), " or "), "[]")
		p.addf("format_version is %d, want %s", h.FormatVersion, want)
	}
	if h.Version < 1 {
		p.addf("version must be at least 1 (versions start at 1)")
	}
	p.utf8(plainLabel(""), "commit_id", h.CommitID)
	p.utf8(plainLabel(""), "committed_by", h.CommittedBy)
}

// Validate checks every rule of a stored catalog and reports all problems
// at once: an error wrapping ErrInvalid and errors.Join of one error per
// problem, each naming the namespace, table or column concerned (at most
// 50 are listed). The rules:
//
//   - header: format_version is FormatVersion or CatalogFormatVersion and
//     version ≥ 1;
//   - the writer lease, when set, has a node_id and the header's
//     writer_epoch (≥ 1);
//   - namespace, table and column names pass ValidateName; namespace names
//     are unique, table names unique within their namespace, and every
//     table's namespace exists;
//   - table IDs pass ValidateTableID and are unique;
//   - a table has a known type, at least one column, schema_version ≥ 1;
//   - column names are unique and not reserved, column IDs unique and below
//     next_column_id, and types valid;
//   - primary key columns exist, are listed once and are not nullable;
//   - ttl_seconds is required (> 0) for STREAM tables and refused for the
//     others; access_level is only for SHARED tables and one of the
//     AccessLevel constants; flush options are not negative;
//   - views: IDs pass ValidateTableID and are unique among tables and
//     views, names pass ValidateName and no table or other view of the
//     namespace has the same name, the namespace exists, the SQL is
//     non-empty UTF-8 of at most MaxViewSQLLen bytes, schema_version ≥ 1,
//     at least one column, column names non-empty and unique (ASCII
//     case-insensitively) with a type, dependencies of kind TABLE or VIEW
//     listed once, and no view depends on itself, directly or through
//     other views. A dependency that does not exist is allowed: the view
//     is broken, which the SQL layer reports when it is queried.
func (c *Catalog) Validate() error { return c.validate(nil) }

// validate is Validate, skipping the rules that concern one table alone
// (its ID and name spelling, validateTable) for the tables for which
// checked returns true: tables known to have passed them before (see
// catalogStore). The rules that relate a table to others (unique IDs and
// names, an existing namespace) always run. A nil checked checks all.
func (c *Catalog) validate(checked func(i int) bool) error {
	if c == nil {
		return fmt.Errorf("%w: nil catalog", ErrInvalid)
	}
	var p problems
	namespaces := c.validateHead(&p)
	c.validateTables(&p, namespaces, checked)
	return p.err(fmt.Sprintf("catalog v%d", c.Version))
}

// validateHead checks the rules of Validate that concern neither tables
// nor views (header, warehouse id, writer lease, write mode, namespaces)
// and returns the set of namespace names.
func (c *Catalog) validateHead(p *problems) map[string]bool {
	p.header(&c.Header, FormatVersion, CatalogFormatVersion)
	if c.WarehouseID != "" {
		p.add(idProblem("warehouse_id", c.WarehouseID))
	}
	if w := c.Writer; w != nil {
		if w.Epoch == 0 {
			p.addf("writer lease: epoch must be at least 1")
		}
		if w.Epoch != c.WriterEpoch {
			p.addf("writer lease: epoch %d differs from the header's writer_epoch %d", w.Epoch, c.WriterEpoch)
		}
		if w.NodeID == "" {
			p.addf("writer lease: node_id is empty")
		}
		p.utf8(plainLabel("writer lease: "), "node_id", w.NodeID)
	}
	switch c.WriteMode {
	case "", WriteModeNode, WriteModeDirect:
	default:
		p.addf("write_mode %q is not one of %q, %q", c.WriteMode, WriteModeNode, WriteModeDirect)
	}
	namespaces := make(map[string]bool, len(c.Namespaces))
	for _, ns := range c.Namespaces {
		p.add(nameProblem("namespace", ns.Name))
		if namespaces[ns.Name] {
			p.addf("namespace %q is listed more than once", ns.Name)
		}
		namespaces[ns.Name] = true
	}
	return namespaces
}

// validateTables checks the rules of Validate on tables and views.
func (c *Catalog) validateTables(p *problems, namespaces map[string]bool, checked func(i int) bool) {
	ids := make(map[string]idOwner, len(c.Tables)+len(c.Views))
	names := make(map[qualifiedName]bool, len(c.Tables)+len(c.Views))
	for i := range c.Tables {
		t := &c.Tables[i]
		label := tableLabel{t}
		known := checked != nil && checked(i)
		if msg := tableIDProblem(t.ID); msg != "" && !known {
			p.addf("%s: %s", label, msg)
		}
		if other, dup := ids[t.ID]; dup {
			p.addf("%s: table id is also used by table %s", label, other)
		} else {
			ids[t.ID] = idOwner{t.Namespace, t.Name, false}
		}
		if !namespaces[t.Namespace] {
			p.addf("%s: namespace %q does not exist", label, t.Namespace)
		}
		if !known {
			if msg := nameProblem("table", t.Name); msg != "" {
				p.addf("%s: %s", label, msg)
			}
		}
		qualified := qualifiedName{t.Namespace, t.Name}
		if names[qualified] {
			p.addf("%s: another table has the same name", label)
		}
		names[qualified] = true
		if !known {
			validateTable(p, label, t)
		}
	}
	validateViews(p, c, namespaces, ids, names)
}

// ValidateTable checks the rules of Validate that concern the table with
// the given ID: its own (ID and name spelling, columns, key, options) and
// those relating it to the rest of c (its namespace exists, no other table
// or view has its ID or name). It assumes the rest of c is valid, as it is
// after a change of that one table to a catalog that passed Validate, and
// then returns nil exactly when Validate does, in time independent of the
// number of other tables' columns and without building indexes. Problems
// are worded as Validate words them, each on the table (where Validate
// reports a clash on whichever of the two comes later). A missing ID is an
// error.
func (c *Catalog) ValidateTable(id string) error {
	if c == nil {
		return fmt.Errorf("%w: nil catalog", ErrInvalid)
	}
	t, ok := c.TableByID(id)
	if !ok {
		return fmt.Errorf("%w: catalog v%d: no table has id %q", ErrInvalid, c.Version, id)
	}
	var p problems
	label := tableLabel{t}
	if msg := tableIDProblem(t.ID); msg != "" {
		p.addf("%s: %s", label, msg)
	}
	if _, ok := c.Namespace(t.Namespace); !ok {
		p.addf("%s: namespace %q does not exist", label, t.Namespace)
	}
	if msg := nameProblem("table", t.Name); msg != "" {
		p.addf("%s: %s", label, msg)
	}
	if e := c.edits; e != nil && e.index != nil && !e.dup {
		// No ID is listed twice (AddTable would have set dup): only a
		// name can clash, with another edited table or an unedited one.
		for _, i := range e.changed {
			if o := &c.Tables[i]; o != t && o.Namespace == t.Namespace && o.Name == t.Name {
				p.addf("%s: another table has the same name", label)
			}
		}
		if id, ok := e.index.names[t.qualified()]; ok && id != t.ID && !e.removed[id] {
			if _, edited := e.changed[id]; !edited {
				p.addf("%s: another table has the same name", label)
			}
		}
	} else {
		for i := range c.Tables {
			o := &c.Tables[i]
			if o == t {
				continue
			}
			if o.ID == t.ID {
				p.addf("%s: table id is also used by table %s", label, idOwner{o.Namespace, o.Name, false})
			}
			if o.Namespace == t.Namespace && o.Name == t.Name {
				p.addf("%s: another table has the same name", label)
			}
		}
	}
	for i := range c.Views {
		v := &c.Views[i]
		if v.ID == t.ID {
			p.addf("%s: id is also used by %s", viewLabel{v}, idOwner{t.Namespace, t.Name, false})
		}
		if v.Namespace == t.Namespace && v.Name == t.Name {
			p.addf("%s: a table or another view has the same name", viewLabel{v})
		}
	}
	validateTable(&p, label, t)
	return p.err(fmt.Sprintf("catalog v%d", c.Version))
}

// qualifiedName is a table's or view's namespace and name, a map key of
// validate that costs no allocation.
type qualifiedName struct{ namespace, name string }

// idOwner is what holds an ID in validate, formatted only for a problem.
type idOwner struct {
	namespace, name string
	view            bool
}

func (o idOwner) String() string {
	if o.view {
		return "view " + o.namespace + "." + o.name
	}
	return o.namespace + "." + o.name
}

func validateTable(p *problems, label tableLabel, t *Table) {
	switch t.Type {
	case TableUser, TableShared, TableStream, TableSystem:
	default:
		p.addf("%s: unknown table type %q (want USER, SHARED, STREAM or SYSTEM)", label, t.Type)
	}
	if t.SchemaVersion < 1 {
		p.addf("%s: schema_version must be at least 1", label)
	}
	if len(t.Columns) == 0 {
		p.addf("%s: a table needs at least one column", label)
	}
	byName := make(map[string]*Column, len(t.Columns))
	byID := make(map[uint32]string, len(t.Columns))
	for i := range t.Columns {
		col := &t.Columns[i]
		clabel := columnLabel{label, col}
		if t.IsHiddenColumn(col.Name) {
			if want := hiddenColumnType(col.Name); col.Type != want || col.Nullable {
				p.addf("%s: hidden column must be %s NOT NULL", clabel, want)
			}
		} else if msg := nameProblem("column", col.Name); msg != "" {
			p.addf("%s: %s", clabel, msg)
		}
		if _, dup := byName[col.Name]; dup {
			p.addf("%s: another column has the same name", clabel)
		} else {
			byName[col.Name] = col
		}
		if other, dup := byID[col.ID]; dup {
			p.addf("%s: column id is also used by column %q", clabel, other)
		} else {
			byID[col.ID] = col.Name
		}
		if col.ID >= t.NextColumnID {
			p.addf("%s: column id is not below next_column_id %d", clabel, t.NextColumnID)
		}
		if err := col.Type.Validate(); err != nil {
			p.addf("%s: %v", clabel, err)
		}
		p.utf8(clabel, ": default", col.Default)
	}
	inKey := make(map[string]bool, len(t.PrimaryKey))
	for _, k := range t.PrimaryKey {
		col, ok := byName[k]
		switch {
		case !ok:
			p.addf("%s: primary key column %q does not exist", label, k)
		case col.Nullable:
			p.addf("%s: primary key column %q must not be nullable", label, k)
		}
		if inKey[k] {
			p.addf("%s: primary key lists column %q more than once", label, k)
		}
		inKey[k] = true
	}
	o := t.Options
	if t.Type == TableStream {
		if o.TTLSeconds <= 0 {
			p.addf("%s: a STREAM table needs ttl_seconds > 0, got %d", label, o.TTLSeconds)
		}
	} else if o.TTLSeconds != 0 {
		p.addf("%s: ttl_seconds is only for STREAM tables, this is a %s table", label, t.Type)
	}
	if o.AccessLevel != "" {
		if t.Type != TableShared {
			p.addf("%s: access_level is only for SHARED tables, this is a %s table", label, t.Type)
		} else {
			switch o.AccessLevel {
			case AccessPublic, AccessPrivate, AccessRestricted, AccessDBA:
			default:
				p.addf("%s: unknown access_level %q (want PUBLIC, PRIVATE, RESTRICTED or DBA)", label, o.AccessLevel)
			}
		}
	}
	if o.FlushRows < 0 {
		p.addf("%s: flush_rows must not be negative, got %d", label, o.FlushRows)
	}
	if o.FlushIntervalSeconds < 0 {
		p.addf("%s: flush_interval_seconds must not be negative, got %d", label, o.FlushIntervalSeconds)
	}
}

// Validate checks every rule of a stored partition manifest and reports all
// problems at once, like Catalog.Validate. The rules:
//
//   - header: format_version is FormatVersion and version ≥ 1;
//   - table_id passes ValidateTableID and partition ValidatePartitionKey;
//   - segment keys are non-empty, valid UTF-8 and unique;
//   - each segment has 1 ≤ seq_min ≤ seq_max ≤ last_seq, rows and bytes ≥ 0,
//     schema_version ≥ 1 and, when set, 0 ≤ deleted ≤ rows;
//   - segments are sorted by seq_min and their _seq ranges do not overlap;
//   - a segment's column stats name each column ID once, with
//     0 ≤ null_count ≤ rows.
func (p *Partition) Validate() error {
	if p == nil {
		return fmt.Errorf("%w: nil partition", ErrInvalid)
	}
	var pr problems
	pr.header(&p.Header, FormatVersion)
	pr.add(tableIDProblem(p.TableID))
	pr.add(partitionProblem(p.Partition))
	if p.PurgedThrough > p.LastSeq {
		pr.addf("purged_through %d is above last_seq %d", p.PurgedThrough, p.LastSeq)
	}
	keys := make(map[string]bool, len(p.Segments))
	for i := range p.Segments {
		s := &p.Segments[i]
		label := segmentLabel{i, s}
		if s.Key == "" {
			pr.addf("%s: empty key", label)
		} else if keys[s.Key] {
			pr.addf("%s: listed more than once", label)
		}
		keys[s.Key] = true
		pr.utf8(label, ": key", s.Key)
		if s.SeqMin < 1 {
			pr.addf("%s: seq_min must be at least 1", label)
		}
		if s.SeqMin > s.SeqMax {
			pr.addf("%s: seq_min %d is above seq_max %d", label, s.SeqMin, s.SeqMax)
		}
		if s.SeqMax > p.LastSeq {
			pr.addf("%s: seq_max %d is above the partition's last_seq %d", label, s.SeqMax, p.LastSeq)
		}
		if i > 0 {
			prev := &p.Segments[i-1]
			if s.SeqMin <= prev.SeqMax {
				pr.addf("%s: _seq range %d..%d is not after the previous segment %q (%d..%d); segments must be sorted by seq_min and not overlap",
					label, s.SeqMin, s.SeqMax, prev.Key, prev.SeqMin, prev.SeqMax)
			}
		}
		if s.Rows < 0 {
			pr.addf("%s: rows must not be negative, got %d", label, s.Rows)
		}
		if s.Bytes < 0 {
			pr.addf("%s: bytes must not be negative, got %d", label, s.Bytes)
		}
		if s.SchemaVersion < 1 {
			pr.addf("%s: schema_version must be at least 1", label)
		}
		if s.Deleted != nil && (*s.Deleted < 0 || *s.Deleted > s.Rows) {
			pr.addf("%s: deleted %d is outside 0..rows (%d)", label, *s.Deleted, s.Rows)
		}
		cols := make(map[uint32]bool, len(s.Columns))
		for j := range s.Columns {
			cs := &s.Columns[j]
			clabel := statsLabel{label, cs}
			if cols[cs.ColumnID] {
				pr.addf("%s: listed more than once", clabel)
			}
			cols[cs.ColumnID] = true
			if cs.NullCount < 0 || cs.NullCount > s.Rows {
				pr.addf("%s: null_count %d is outside 0..rows (%d)", clabel, cs.NullCount, s.Rows)
			}
			if cs.Min != nil {
				pr.utf8(clabel, ": min", *cs.Min)
			}
			if cs.Max != nil {
				pr.utf8(clabel, ": max", *cs.Max)
			}
		}
	}
	subject := fmt.Sprintf("partition %q of table %q v%d", p.Partition, p.TableID, p.Version)
	return pr.err(subject)
}
