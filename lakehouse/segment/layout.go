package segment

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/floedb/floe/manifest"
)

// fileColumn is one user column as a segment records it in floe.columns.
type fileColumn struct {
	ID       uint32        `json:"id"`
	Name     string        `json:"name"`
	Type     manifest.Type `json:"type"`
	Nullable bool          `json:"nullable"`
}

// fileMeta is the Floe part of a segment's key-value metadata.
type fileMeta struct {
	tableID       string
	schemaVersion uint32
	columns       []fileColumn
	primaryKey    []uint32 // column IDs in key order
	dataBytes     int64    // read only: see MetaDataBytes
	dataCRC       uint32
}

// metaOf describes table's current schema. It checks what a segment needs:
// valid types, field IDs that fit Parquet's int32, and an existing key.
func metaOf(t *manifest.Table) (fileMeta, error) {
	if len(t.Columns) == 0 {
		return fileMeta{}, fmt.Errorf("%w: table %s has no columns", ErrInvalidInput, tableName(t))
	}
	m := fileMeta{tableID: t.ID, schemaVersion: t.SchemaVersion, columns: make([]fileColumn, len(t.Columns))}
	byName := make(map[string]uint32, len(t.Columns))
	for i, c := range t.Columns {
		if err := c.Type.Validate(); err != nil {
			return fileMeta{}, fmt.Errorf("%w: table %s column %s: %v", ErrInvalidInput, tableName(t), c.Name, err)
		}
		if c.ID >= SeqFieldID {
			return fileMeta{}, fmt.Errorf("%w: table %s column %s: id %d does not fit a Parquet field_id below the system columns' ids", ErrInvalidInput, tableName(t), c.Name, c.ID)
		}
		if c.Name == "" || (manifest.IsReservedColumn(c.Name) && !t.IsHiddenColumn(c.Name)) {
			return fileMeta{}, fmt.Errorf("%w: table %s: column name %q is empty or reserved", ErrInvalidInput, tableName(t), c.Name)
		}
		if _, dup := byName[c.Name]; dup {
			return fileMeta{}, fmt.Errorf("%w: table %s: two columns are named %q", ErrInvalidInput, tableName(t), c.Name)
		}
		byName[c.Name] = c.ID
		m.columns[i] = fileColumn{ID: c.ID, Name: c.Name, Type: c.Type, Nullable: c.Nullable}
	}
	for _, k := range t.PrimaryKey {
		id, ok := byName[k]
		if !ok {
			return fileMeta{}, fmt.Errorf("%w: table %s: primary key column %q does not exist", ErrInvalidInput, tableName(t), k)
		}
		m.primaryKey = append(m.primaryKey, id)
	}
	return m, nil
}

// keyValues returns the metadata to store in the file.
func (m fileMeta) keyValues() (map[string]string, error) {
	cols, err := json.Marshal(m.columns)
	if err != nil {
		return nil, err
	}
	pk := m.primaryKey
	if pk == nil {
		pk = []uint32{}
	}
	key, err := json.Marshal(pk)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		MetaFormatVersion: strconv.Itoa(FormatVersion),
		MetaTableID:       m.tableID,
		MetaSchemaVersion: strconv.FormatUint(uint64(m.schemaVersion), 10),
		MetaColumns:       string(cols),
		MetaPrimaryKey:    string(key),
	}, nil
}

// parseMeta reads the Floe metadata of a file and checks it is coherent.
// Errors wrap ErrCorrupt.
func parseMeta(lookup func(string) (string, bool)) (fileMeta, error) {
	get := func(k string) (string, error) {
		v, ok := lookup(k)
		if !ok {
			return "", fmt.Errorf("%w: no %s metadata (not a Floe segment)", ErrCorrupt, k)
		}
		return v, nil
	}
	var m fileMeta
	fv, err := get(MetaFormatVersion)
	if err != nil {
		return m, err
	}
	if fv != strconv.Itoa(FormatVersion) {
		return m, fmt.Errorf("%w: unknown segment format version %q (this build reads %d)", ErrCorrupt, fv, FormatVersion)
	}
	if m.tableID, err = get(MetaTableID); err != nil {
		return m, err
	}
	sv, err := get(MetaSchemaVersion)
	if err != nil {
		return m, err
	}
	n, err := strconv.ParseUint(sv, 10, 32)
	if err != nil {
		return m, fmt.Errorf("%w: bad %s %q", ErrCorrupt, MetaSchemaVersion, sv)
	}
	m.schemaVersion = uint32(n)
	cols, err := get(MetaColumns)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(cols), &m.columns); err != nil {
		return m, fmt.Errorf("%w: bad %s: %v", ErrCorrupt, MetaColumns, err)
	}
	pk, err := get(MetaPrimaryKey)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(pk), &m.primaryKey); err != nil {
		return m, fmt.Errorf("%w: bad %s: %v", ErrCorrupt, MetaPrimaryKey, err)
	}
	db, err := get(MetaDataBytes)
	if err != nil {
		return m, err
	}
	if m.dataBytes, err = strconv.ParseInt(db, 10, 64); err != nil || m.dataBytes < 0 {
		return m, fmt.Errorf("%w: bad %s %q", ErrCorrupt, MetaDataBytes, db)
	}
	crc, err := get(MetaDataCRC32C)
	if err != nil {
		return m, err
	}
	c, err := strconv.ParseUint(crc, 16, 32)
	if err != nil || len(crc) != 8 {
		return m, fmt.Errorf("%w: bad %s %q", ErrCorrupt, MetaDataCRC32C, crc)
	}
	m.dataCRC = uint32(c)
	if len(m.columns) == 0 {
		return m, fmt.Errorf("%w: %s lists no columns", ErrCorrupt, MetaColumns)
	}
	ids := make(map[uint32]bool, len(m.columns))
	for _, c := range m.columns {
		if ids[c.ID] {
			return m, fmt.Errorf("%w: %s lists column id %d twice", ErrCorrupt, MetaColumns, c.ID)
		}
		ids[c.ID] = true
		if c.Type.Validate() != nil {
			return m, fmt.Errorf("%w: %s: column %q has no valid type", ErrCorrupt, MetaColumns, c.Name)
		}
	}
	for _, id := range m.primaryKey {
		if !ids[id] {
			return m, fmt.Errorf("%w: %s names column id %d, which is not in %s", ErrCorrupt, MetaPrimaryKey, id, MetaColumns)
		}
	}
	return m, nil
}

// decimalWidth is the Parquet physical width of a DECIMAL(p,s) column: 4
// (INT32), 8 (INT64) or 16 bytes (FIXED_LEN_BYTE_ARRAY(16)).
func decimalWidth(precision uint8) int {
	switch {
	case precision <= 9:
		return 4
	case precision <= 18:
		return 8
	default:
		return 16
	}
}

// leafType returns the Parquet type of a column of Floe type t.
func leafType(t manifest.Type) (parquet.Type, error) {
	switch t.Kind {
	case manifest.KindBoolean:
		return parquet.BooleanType, nil
	case manifest.KindInt:
		return parquet.Int32Type, nil
	case manifest.KindBigInt:
		return parquet.Int64Type, nil
	case manifest.KindFloat:
		return newWideType(parquet.FloatType, t.Kind), nil
	case manifest.KindDouble:
		return newWideType(parquet.DoubleType, t.Kind), nil
	case manifest.KindDecimal:
		p, s := int(t.Precision), int(t.Scale)
		switch decimalWidth(t.Precision) {
		case 4:
			return parquet.Decimal(s, p, parquet.Int32Type).Type(), nil
		case 8:
			return parquet.Decimal(s, p, parquet.Int64Type).Type(), nil
		default:
			return newWideType(parquet.Decimal(s, p, parquet.FixedLenByteArrayType(16)).Type(), t.Kind), nil
		}
	case manifest.KindText, manifest.KindJSON:
		return parquet.String().Type(), nil
	case manifest.KindBytes:
		return parquet.ByteArrayType, nil
	case manifest.KindDate:
		return parquet.Date().Type(), nil
	case manifest.KindTimestamp:
		// A wall-clock time: not adjusted to UTC, so readers (DuckDB)
		// present it as TIMESTAMP.
		return parquet.TimestampAdjusted(parquet.Microsecond, false).Type(), nil
	case manifest.KindTimestampTZ:
		return parquet.TimestampAdjusted(parquet.Microsecond, true).Type(), nil
	case manifest.KindUUID:
		return parquet.UUID().Type(), nil
	}
	return nil, fmt.Errorf("%w: no Parquet type for %s", ErrInvalidInput, t)
}

// parquetSchema builds the Parquet schema of a segment with the given user
// columns: one leaf per column in order, then _seq and _deleted.
func parquetSchema(cols []fileColumn) (*parquet.Schema, error) {
	g := orderedGroup{Group: parquet.Group{}}
	for _, c := range cols {
		typ, err := leafType(c.Type)
		if err != nil {
			return nil, err
		}
		var node parquet.Node = parquet.Leaf(typ)
		if c.Nullable {
			node = parquet.Optional(node)
		} else {
			node = parquet.Required(node)
		}
		g.add(c.Name, parquet.FieldID(node, int(c.ID)))
	}
	g.add(SeqColumn, parquet.FieldID(parquet.Required(parquet.Leaf(parquet.Int64Type)), SeqFieldID))
	g.add(DeletedColumn, parquet.FieldID(parquet.Required(parquet.Leaf(parquet.BooleanType)), DeletedFieldID))
	return parquet.NewSchema("floe_segment", g), nil
}

// orderedGroup is a Parquet group whose fields keep the order they were
// added in (parquet.Group orders them by name).
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g *orderedGroup) add(name string, node parquet.Node) {
	g.Group[name] = node
	g.fields = append(g.fields, namedField{Node: node, name: name})
}

// Fields implements parquet.Node.
func (g orderedGroup) Fields() []parquet.Field { return g.fields }

// namedField implements parquet.Field for orderedGroup. Floe never maps Go
// structs onto segments, so Value is not used.
type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string                          { return f.name }
func (f namedField) Value(reflect.Value) (v reflect.Value) { return v }

// Parquet min/max statistics are left out for two kinds of columns, where
// parquet-go's would make readers skip row groups they need:
//   - DECIMAL on FIXED_LEN_BYTE_ARRAY(16): parquet-go orders fixed-length
//     byte arrays as unsigned bytes, which misorders negative numbers;
//   - FLOAT and DOUBLE: parquet-go leaves NaN out of min/max, but DuckDB
//     orders NaN above every number, so it would skip a row group holding
//     NaN for "x > 5" or "x = 'NaN'" (checked in duckdbtest).
//
// The writer skips their page bounds (SkipPageBounds) and wideType gives
// them a column index in which every page spans the whole range of the
// type: well formed, correct, and no help for pruning.
func noMinMax(t manifest.Type) bool {
	switch t.Kind {
	case manifest.KindFloat, manifest.KindDouble:
		return true
	case manifest.KindDecimal:
		return decimalWidth(t.Precision) == 16
	}
	return false
}

// wideType wraps the Parquet type of a noMinMax column.
type wideType struct {
	parquet.Type
	min, max []byte // page bounds for the column index, PLAIN encoded
}

func newWideType(t parquet.Type, kind manifest.Kind) wideType {
	w := wideType{Type: t}
	switch kind {
	case manifest.KindFloat:
		w.min = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.Inf(-1))))
		w.max = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.NaN())))
	case manifest.KindDouble:
		w.min = binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Inf(-1)))
		w.max = binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN()))
	default: // DECIMAL: the int128 extremes, big-endian two's complement
		w.min, w.max = make([]byte, 16), make([]byte, 16)
		w.min[0] = 0x80
		for i := range w.max {
			w.max[i] = 0xff
		}
		w.max[0] = 0x7f
	}
	return w
}

// NewColumnIndexer implements parquet.Type.
func (w wideType) NewColumnIndexer(int) parquet.ColumnIndexer {
	return &wideIndexer{min: w.min, max: w.max}
}

// wideIndexer is the column indexer of wideType.
type wideIndexer struct {
	min, max   []byte
	nullPages  []bool
	nullCounts []int64
}

func (i *wideIndexer) Reset() {
	i.nullPages = i.nullPages[:0]
	i.nullCounts = i.nullCounts[:0]
}

func (i *wideIndexer) IndexPage(numValues, numNulls int64, _, _ parquet.Value) {
	i.nullPages = append(i.nullPages, numValues == numNulls)
	i.nullCounts = append(i.nullCounts, numNulls)
}

func (i *wideIndexer) ColumnIndex() format.ColumnIndex {
	ci := format.ColumnIndex{
		NullPages:     append([]bool(nil), i.nullPages...),
		NullCounts:    append([]int64(nil), i.nullCounts...),
		MinValues:     make([][]byte, len(i.nullPages)),
		MaxValues:     make([][]byte, len(i.nullPages)),
		BoundaryOrder: format.Unordered,
	}
	for p, null := range i.nullPages {
		if null { // the spec wants empty bounds for a page of only NULLs
			ci.MinValues[p], ci.MaxValues[p] = []byte{}, []byte{}
			continue
		}
		ci.MinValues[p], ci.MaxValues[p] = i.min, i.max
	}
	return ci
}

func tableName(t *manifest.Table) string {
	return t.Namespace + "." + t.Name + " (id " + strconv.Quote(t.ID) + ")"
}
