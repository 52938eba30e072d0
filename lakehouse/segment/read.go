package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"slices"
	"strconv"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// readBatchRows is how many rows Versions decodes at a time.
const readBatchRows = 1024

// readBufferBytes is the size of each read of the segment.
const readBufferBytes = 64 << 10

// Reader reads one segment in a table's current schema. It holds r (and
// nothing that needs closing); a Reader is safe for concurrent use if r is,
// and each Versions call reads independently.
type Reader struct {
	r       io.ReaderAt
	name    string
	file    *parquet.File
	table   *manifest.Table
	meta    fileMeta
	numRows int64
	cols    []readColumn // one per column of table
	seqLeaf int          // Parquet leaf index of _seq; _deleted follows
	// nullOnDelete lists the table columns (indexes) that were not part of
	// the segment's primary key: a tombstone reads NULL there.
	nullOnDelete []int
}

// readColumn maps a column of the table onto the segment.
type readColumn struct {
	name string
	leaf int // Parquet leaf index, -1 if the segment predates the column
	typ  manifest.Type
}

// Open opens the segment r of size bytes for reading in table's current
// schema. name (usually the object key) labels every error.
//
// The segment may have been written under any schema version of table up
// to the current one: see the package documentation for how columns are
// matched. Open reads and checks the footer; damaged data pages are found
// (by their CRC-32 and structure) when Versions reaches them. Errors wrap
// ErrCorrupt for a damaged or foreign file, ErrIncompatibleSchema for a
// segment of another table, of a newer schema version, or whose column
// types differ from the table's, or an I/O error of r.
func Open(r io.ReaderAt, size int64, name string, table *manifest.Table) (*Reader, error) {
	rd, err := open(r, size, name, table)
	if err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", name, err)
	}
	return rd, nil
}

func open(r io.ReaderAt, size int64, name string, table *manifest.Table) (*Reader, error) {
	footer, err := readFooter(r, size)
	if err != nil {
		return nil, err
	}
	rd := &Reader{r: r, name: name, table: table}
	if err := rd.inspect(size, footer); err != nil {
		return nil, err
	}
	if rd.meta.tableID != table.ID {
		return nil, fmt.Errorf("%w: the segment belongs to table id %q, not %s", ErrIncompatibleSchema, rd.meta.tableID, tableName(table))
	}
	if rd.meta.schemaVersion > table.SchemaVersion {
		return nil, fmt.Errorf("%w: the segment has schema version %d, newer than the table's %d (stale catalog?)",
			ErrIncompatibleSchema, rd.meta.schemaVersion, table.SchemaVersion)
	}
	if err := rd.mapColumns(); err != nil {
		return nil, err
	}
	return rd, nil
}

// inspect opens the Parquet file and checks its metadata, schema and row
// groups. parquet-go panics on some malformed footers, hence the recover.
func (rd *Reader) inspect(size, footer int64) (err error) {
	defer recoverInto(&err, "parquet reader", ErrCorrupt)
	f, err := parquet.OpenFile(rd.r, size,
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		// Also the read size of each column's page reader: fewer, larger
		// reads of r, at 64 KiB per column being read.
		parquet.ReadBufferSize(readBufferBytes),
	)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	rd.file = f
	if rd.meta, err = parseMeta(f.Lookup); err != nil {
		return err
	}
	rd.seqLeaf = len(rd.meta.columns)
	if err := rd.checkSchema(); err != nil {
		return err
	}
	return rd.checkRowGroups(footer)
}

// checkSchema verifies the Parquet schema is the one Write makes for the
// columns the metadata lists.
func (rd *Reader) checkSchema() error {
	leaves := rd.file.Root().Columns()
	if len(leaves) != len(rd.meta.columns)+2 {
		return fmt.Errorf("%w: %d Parquet columns for %d user columns", ErrCorrupt, len(leaves), len(rd.meta.columns))
	}
	for i, c := range rd.meta.columns {
		want, err := leafType(c.Type)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if err := checkLeaf(leaves[i], c.Name, int(c.ID), want, c.Nullable); err != nil {
			return err
		}
	}
	if err := checkLeaf(leaves[rd.seqLeaf], SeqColumn, SeqFieldID, parquet.Int64Type, false); err != nil {
		return err
	}
	return checkLeaf(leaves[rd.seqLeaf+1], DeletedColumn, DeletedFieldID, parquet.BooleanType, false)
}

func checkLeaf(c *parquet.Column, name string, id int, want parquet.Type, nullable bool) error {
	switch {
	case !c.Leaf() || c.Repeated():
		return fmt.Errorf("%w: Parquet column %q is not a flat column", ErrCorrupt, c.Name())
	case c.Name() != name || c.ID() != id:
		return fmt.Errorf("%w: Parquet column %q (field_id %d) where the metadata says %q (id %d)", ErrCorrupt, c.Name(), c.ID(), name, id)
	case !parquet.EqualTypes(c.Type(), want):
		return fmt.Errorf("%w: Parquet column %q has type %s, want %s", ErrCorrupt, name, c.Type(), want)
	case c.Optional() != nullable:
		return fmt.Errorf("%w: Parquet column %q: optional=%v, but the column's nullability is %v", ErrCorrupt, name, c.Optional(), nullable)
	}
	return nil
}

// checkRowGroups verifies the row counts, and that the column chunks tile
// the data region exactly — from the magic to MetaDataBytes, in order,
// with no gap or overlap, as Write lays them out — so that a damaged
// offset or size in the footer is reported before any page is read.
// footer is where the footer starts.
func (rd *Reader) checkRowGroups(footer int64) error {
	md := rd.file.Metadata()
	leaves := rd.file.Root().Columns()
	if rd.meta.dataBytes > footer || (rd.meta.dataBytes != 0 && rd.meta.dataBytes < int64(len(magic))) {
		return fmt.Errorf("%w: %s %d does not fit before the footer at %d", ErrCorrupt, MetaDataBytes, rd.meta.dataBytes, footer)
	}
	var total int64
	next := int64(len(magic)) // where the next chunk must start
	for g, rg := range md.RowGroups {
		if rg.NumRows < 1 || len(rg.Columns) != len(leaves) {
			return fmt.Errorf("%w: row group %d has %d rows and %d columns", ErrCorrupt, g, rg.NumRows, len(rg.Columns))
		}
		total += rg.NumRows
		for j, cc := range rg.Columns {
			m := &cc.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 {
				start = min(start, m.DictionaryPageOffset)
			}
			switch {
			case m.NumValues != rg.NumRows:
				return fmt.Errorf("%w: row group %d column %d holds %d values for %d rows", ErrCorrupt, g, j, m.NumValues, rg.NumRows)
			case m.Type != format.Type(leaves[j].Type().Kind()):
				return fmt.Errorf("%w: row group %d column %d has physical type %s, the schema says %s", ErrCorrupt, g, j, m.Type, leaves[j].Type())
			case start != next || m.TotalCompressedSize < 1 || m.TotalCompressedSize > rd.meta.dataBytes-start:
				return fmt.Errorf("%w: row group %d column %d spans bytes %d..+%d; expected it at %d, within the %d bytes of data",
					ErrCorrupt, g, j, start, m.TotalCompressedSize, next, rd.meta.dataBytes)
			}
			next = start + m.TotalCompressedSize
		}
	}
	if len(md.RowGroups) > 0 && next != rd.meta.dataBytes {
		return fmt.Errorf("%w: the column chunks end at %d, the data at %d", ErrCorrupt, next, rd.meta.dataBytes)
	}
	if total != md.NumRows || len(rd.file.RowGroups()) != len(md.RowGroups) {
		return fmt.Errorf("%w: row groups hold %d rows, the footer says %d", ErrCorrupt, total, md.NumRows)
	}
	rd.numRows = total
	return nil
}

// Verify reads the segment's data region (every page; not the page index
// and footer, which Open checks) and compares its CRC-32C with the one Write
// recorded. Versions always checks each page's own CRC-32 but cannot see
// damage in page headers; Verify can. It costs one sequential read of the
// file: call it where a segment enters a local cache, or in a scrub job.
// Errors wrap ErrCorrupt or are the reader's I/O error.
func (rd *Reader) Verify() error {
	buf := make([]byte, min(rd.meta.dataBytes, 1<<20))
	var crc uint32
	for off := int64(0); off < rd.meta.dataBytes; {
		n := int(min(int64(len(buf)), rd.meta.dataBytes-off))
		if err := readFull(rd.r, buf[:n], off); err != nil {
			return fmt.Errorf("segment: verify %s: %w", rd.name, err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += int64(n)
	}
	if crc != rd.meta.dataCRC {
		return fmt.Errorf("segment: verify %s: %w: data checksum %08x, the footer says %08x", rd.name, ErrCorrupt, crc, rd.meta.dataCRC)
	}
	return nil
}

// mapColumns matches the table's columns to the segment's by ID.
func (rd *Reader) mapColumns() error {
	byID := make(map[uint32]int, len(rd.meta.columns))
	for i, c := range rd.meta.columns {
		byID[c.ID] = i
	}
	rd.cols = make([]readColumn, len(rd.table.Columns))
	for i, c := range rd.table.Columns {
		rc := readColumn{name: c.Name, leaf: -1, typ: c.Type}
		if j, ok := byID[c.ID]; ok {
			if fc := rd.meta.columns[j]; fc.Type != c.Type {
				return fmt.Errorf("%w: column %s (id %d) is %s in the segment (schema version %d) and %s in the table (schema version %d); changing a column's type is not supported",
					ErrIncompatibleSchema, c.Name, c.ID, fc.Type, rd.meta.schemaVersion, c.Type, rd.table.SchemaVersion)
			}
			rc.leaf = j
		}
		if !slices.Contains(rd.meta.primaryKey, c.ID) {
			rd.nullOnDelete = append(rd.nullOnDelete, i)
		}
		rd.cols[i] = rc
	}
	return nil
}

// NumRows returns the number of row versions in the segment.
func (rd *Reader) NumRows() int64 { return rd.numRows }

// SchemaVersion returns the table schema version the segment was written
// in (from its metadata).
func (rd *Reader) SchemaVersion() uint32 { return rd.meta.schemaVersion }

// Versions iterates over the segment's row versions in file order (the
// order they were written in: by primary key), presented in the table's
// current schema: Version.SchemaVersion is the table's, Values has one
// value per current column. Values of different versions may share a
// backing array but never overlap; a caller may keep them.
//
// On an error the iteration yields it (wrapping ErrCorrupt for damaged
// data, or the reader's I/O error) and stops. Memory stays bounded by one
// page and a 64 KiB read buffer per column, plus a batch of 1024 decoded
// rows.
func (rd *Reader) Versions() iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		ra := &trackingReaderAt{r: rd.r}
		for g, rg := range rd.file.RowGroups() {
			if !rd.readGroup(g, rg, ra, yield) {
				return
			}
		}
	}
}

// readGroup yields the versions of one row group; false means stop.
func (rd *Reader) readGroup(g int, rg parquet.RowGroup, ra *trackingReaderAt, yield func(row.Version, error) bool) bool {
	readers := make([]*columnReader, len(rd.cols)+2) // table columns, then _seq and _deleted
	defer closeReaders(readers)
	if err := rd.openReaders(rg, readers, ra); err != nil {
		yield(row.Version{}, rd.readError(g, "", ra, err))
		return false
	}

	var b batch
	for left := rg.NumRows(); left > 0; {
		n := int(min(left, readBatchRows))
		left -= int64(n)
		if col, err := rd.readBatch(&b, readers, n); err != nil {
			yield(row.Version{}, rd.readError(g, col, ra, err))
			return false
		}
		stride := len(rd.cols)
		for i := range n {
			v := row.Version{
				Seq:           b.seq[i],
				Deleted:       b.deleted[i],
				SchemaVersion: rd.table.SchemaVersion,
				Values:        b.values[i*stride : (i+1)*stride : (i+1)*stride],
			}
			if !yield(v, nil) {
				return false
			}
		}
	}
	return true
}

// openReaders opens the column readers of a row group.
func (rd *Reader) openReaders(rg parquet.RowGroup, readers []*columnReader, ra io.ReaderAt) (err error) {
	defer recoverInto(&err, "parquet reader", ErrCorrupt)
	chunks := rg.ColumnChunks()
	open := func(i, leaf int) error {
		fc, ok := chunks[leaf].(*parquet.FileColumnChunk)
		if !ok {
			return fmt.Errorf("%w: unexpected column chunk type %T", ErrCorrupt, chunks[leaf])
		}
		readers[i] = &columnReader{pages: fc.PagesFrom(ra)}
		return nil
	}
	for i, c := range rd.cols {
		if c.leaf >= 0 {
			if err := open(i, c.leaf); err != nil {
				return err
			}
		}
	}
	if err := open(len(rd.cols), rd.seqLeaf); err != nil {
		return err
	}
	return open(len(rd.cols)+1, rd.seqLeaf+1)
}

// closeReaders closes the readers openReaders opened.
func closeReaders(readers []*columnReader) {
	for _, cr := range readers {
		if cr != nil {
			cr.close()
		}
	}
}

// batch holds decoded rows. values is row-major, freshly allocated per
// batch because the versions handed out keep it.
type batch struct {
	values  []row.Value
	seq     []uint64
	deleted []bool
	buf     []parquet.Value
}

// readBatch decodes the next n rows of every column. It returns the name
// of the column that failed with the error.
func (rd *Reader) readBatch(b *batch, readers []*columnReader, n int) (col string, err error) {
	defer recoverInto(&err, "parquet reader", ErrCorrupt)
	stride := len(rd.cols)
	b.values = make([]row.Value, n*stride)
	b.seq = slices.Grow(b.seq[:0], n)[:n]
	b.deleted = slices.Grow(b.deleted[:0], n)[:n]
	if cap(b.buf) < n {
		b.buf = make([]parquet.Value, n)
	}
	for i, c := range rd.cols {
		if c.leaf < 0 {
			continue // added after the segment was written: NULL
		}
		conv := func(first int, vals []parquet.Value) error { return convert(b.values, stride, i, first, c.typ, vals) }
		if err := readColumnValues(readers[i], b.buf[:n], conv); err != nil {
			return c.name, err
		}
	}
	seqs := func(first int, vals []parquet.Value) error {
		for k, v := range vals {
			s := v.Int64()
			if v.IsNull() || s < 1 {
				return fmt.Errorf("%w: _seq %d", ErrCorrupt, s)
			}
			b.seq[first+k] = uint64(s)
		}
		return nil
	}
	if err := readColumnValues(readers[stride], b.buf[:n], seqs); err != nil {
		return SeqColumn, err
	}
	dels := func(first int, vals []parquet.Value) error {
		for k, v := range vals {
			b.deleted[first+k] = v.Boolean()
		}
		return nil
	}
	if err := readColumnValues(readers[stride+1], b.buf[:n], dels); err != nil {
		return DeletedColumn, err
	}
	for i := range n {
		if b.deleted[i] {
			for _, c := range rd.nullOnDelete {
				b.values[i*stride+c] = row.Null()
			}
		}
	}
	return "", nil
}

// readColumnValues reads exactly len(buf) values from cr, handing each run
// to conv (with the index of its first value) before reading more: the
// values point into pages that the next read may recycle.
func readColumnValues(cr *columnReader, buf []parquet.Value, conv func(first int, vals []parquet.Value) error) error {
	for got := 0; got < len(buf); {
		k, err := cr.read(buf[got:])
		if k > 0 {
			if err := conv(got, buf[got:got+k]); err != nil {
				return err
			}
			got += k
			continue
		}
		if err == io.EOF {
			return fmt.Errorf("%w: the column ends after %d of the row group's rows", ErrCorrupt, got)
		}
		return err
	}
	return nil
}

// convert stores Parquet values of a column of type t as row values at
// dst[(first+k)*stride+col].
func convert(dst []row.Value, stride, col, first int, t manifest.Type, vals []parquet.Value) error {
	at := func(k int) *row.Value { return &dst[(first+k)*stride+col] }
	switch t.Kind {
	case manifest.KindBoolean:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Bool(v.Boolean())
			}
		}
	case manifest.KindInt:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Int(v.Int32())
			}
		}
	case manifest.KindDate:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Date(v.Int32())
			}
		}
	case manifest.KindBigInt:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.BigInt(v.Int64())
			}
		}
	case manifest.KindTimestamp, manifest.KindTimestampTZ:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Temporal(t.Kind, v.Int64())
			}
		}
	case manifest.KindFloat:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Float(v.Float())
			}
		}
	case manifest.KindDouble:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Double(v.Double())
			}
		}
	case manifest.KindDecimal:
		width := decimalWidth(t.Precision)
		for k, v := range vals {
			if v.IsNull() {
				continue
			}
			switch width {
			case 4:
				*at(k) = row.DecimalFromInt64(int64(v.Int32()))
			case 8:
				*at(k) = row.DecimalFromInt64(v.Int64())
			default:
				b := v.ByteArray()
				if len(b) != 16 {
					return fmt.Errorf("%w: DECIMAL value of %d bytes", ErrCorrupt, len(b))
				}
				*at(k) = row.Decimal(int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint64(b[8:]))
			}
		}
	case manifest.KindText:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Text(string(v.ByteArray()))
			}
		}
	case manifest.KindJSON:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.JSON(string(v.ByteArray()))
			}
		}
	case manifest.KindBytes:
		for k, v := range vals {
			if !v.IsNull() {
				*at(k) = row.Bytes(v.ByteArray())
			}
		}
	case manifest.KindUUID:
		for k, v := range vals {
			if v.IsNull() {
				continue
			}
			b := v.ByteArray()
			if len(b) != 16 {
				return fmt.Errorf("%w: UUID value of %d bytes", ErrCorrupt, len(b))
			}
			*at(k) = row.UUID([16]byte(b))
		}
	default:
		return fmt.Errorf("%w: cannot read a %s column", ErrCorrupt, t)
	}
	return nil
}

// readError labels an error of row group g (column col, if known). An I/O
// error of the underlying reader is returned as such; anything else means
// the data is damaged.
func (rd *Reader) readError(g int, col string, ra *trackingReaderAt, err error) error {
	where := "row group " + strconv.Itoa(g)
	if col != "" {
		where += ", column " + col
	}
	if ioErr := ra.failure(); ioErr != nil {
		return fmt.Errorf("segment: read %s: %s: %w", rd.name, where, ioErr)
	}
	if !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return fmt.Errorf("segment: read %s: %s: %w", rd.name, where, err)
}

// columnReader reads the values of one column chunk page by page.
type columnReader struct {
	pages  parquet.Pages
	page   parquet.Page
	values parquet.ValueReader
}

// read reads values from the current page, moving to the next one when it
// is exhausted. It returns io.EOF at the end of the chunk.
func (cr *columnReader) read(buf []parquet.Value) (int, error) {
	for {
		if cr.values == nil {
			p, err := cr.pages.ReadPage()
			if err != nil {
				return 0, err
			}
			cr.page, cr.values = p, p.Values()
		}
		n, err := cr.values.ReadValues(buf)
		if n > 0 {
			return n, nil
		}
		if err == nil {
			return 0, io.ErrNoProgress
		}
		if err != io.EOF {
			return 0, err
		}
		parquet.Release(cr.page)
		cr.page, cr.values = nil, nil
	}
}

func (cr *columnReader) close() {
	if cr.page != nil {
		parquet.Release(cr.page)
		cr.page, cr.values = nil, nil
	}
	cr.pages.Close()
}

// trackingReaderAt remembers the first error of its reader other than
// io.EOF, to tell I/O failures from damaged data.
type trackingReaderAt struct {
	r  io.ReaderAt
	mu sync.Mutex
	// err is the first I/O error seen.
	err error
}

func (t *trackingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return n, err
}

func (t *trackingReaderAt) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}
