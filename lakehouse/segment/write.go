package segment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math"
	"strconv"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// Write batches: rows are handed to parquet-go this many at a time, or
// sooner once their values take batchBytes. Each column's values of a batch
// go to its column writer chunkRows at a time, as parquet-go's WriteRows
// would: a page is cut once it reaches PageBufferBytes, at the end of a
// chunk.
const (
	batchRows  = 256
	batchBytes = 1 << 20
	chunkRows  = 64
)

// Write encodes versions of one partition of table into a Parquet segment
// written to w and returns what the partition manifest records about it.
//
// Every version must be laid out in the table's current schema
// (Version.SchemaVersion == table.SchemaVersion, one value per column, each
// of its column's type; NULL only in nullable columns, except in the non-key
// columns of a tombstone), have a _seq in 1..math.MaxInt64, and the input
// must be sorted by primary key — row.AppendKey over the table.PrimaryKey
// columns — with at most one version per key; for a table without a
// primary key, by strictly increasing _seq. Write checks all of this as it
// goes and fails with an error wrapping ErrInvalidInput (ErrUnsorted for
// order and duplicates) that names the offending version.
//
// Versions are streamed: memory stays bounded by one row group (see
// WriterOptions) whatever the number of rows. An error yielded by the
// iterator ends the write and is returned wrapped. On any error, what was written to w
// is not a valid segment and must be discarded. An empty input makes a
// valid segment of zero rows.
//
// Write does not keep references to w or to the versions after it returns.
func Write(w io.Writer, table *manifest.Table, versions iter.Seq2[row.Version, error], opts WriterOptions) (Info, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return Info{}, err
	}
	sw, err := newSegmentWriter(w, table, opts)
	if err != nil {
		return Info{}, err
	}
	defer sw.release()
	for v, err := range versions {
		if err != nil {
			return Info{}, fmt.Errorf("segment: write %s: reading versions: %w", tableName(table), err)
		}
		if err := sw.add(v); err != nil {
			return Info{}, err
		}
	}
	return sw.close()
}

// segmentWriter is the state of one Write.
type segmentWriter struct {
	table  *manifest.Table
	opts   WriterOptions
	out    hashingWriter
	pw     *parquet.GenericWriter[any]
	kinds  []manifest.Kind
	types  []manifest.Type
	widths []int // Parquet value width (4, a length prefix, for variable-length)
	nulls  []bool
	inKey  []bool
	key    []int // indexes of the key columns, in key order
	stats  []colStats
	info   Info
	zstd   *zstdCodec // nil for snappy

	// the previous version's key, and scratch for the current one
	prevKey, curKey []byte
	keyVals         []row.Value
	prevSeq         uint64

	// the current batch, by column: cols[i][:nrows] are the values of
	// column i (the table's columns, then _seq and _deleted)
	cols       [][]parquet.Value
	nrows      int
	arena      []byte // bytes of the batch's 16-byte DECIMAL values
	batchBytes int64
	// closed is set once the file is complete: the writer's resources are
	// in a clean state and may be reused
	closed bool

	// the current row group
	groupRows, groupBytes int64
}

func newSegmentWriter(w io.Writer, table *manifest.Table, opts WriterOptions) (*segmentWriter, error) {
	meta, err := metaOf(table)
	if err != nil {
		return nil, err
	}
	schema, err := parquetSchema(meta.columns)
	if err != nil {
		return nil, err
	}
	kv, err := meta.keyValues()
	if err != nil {
		return nil, err
	}
	n := len(table.Columns)
	sw := &segmentWriter{
		table:  table,
		opts:   opts,
		out:    hashingWriter{w: bufio.NewWriterSize(w, 64<<10)},
		kinds:  make([]manifest.Kind, n),
		types:  make([]manifest.Type, n),
		widths: make([]int, n),
		nulls:  make([]bool, n),
		inKey:  make([]bool, n),
		stats:  make([]colStats, n),
		info:   Info{SchemaVersion: table.SchemaVersion},
	}
	for i, c := range table.Columns {
		sw.kinds[i], sw.types[i], sw.nulls[i] = c.Type.Kind, c.Type, c.Nullable
		sw.widths[i] = valueWidth(c.Type)
		sw.stats[i].typ = c.Type
	}
	for _, id := range meta.primaryKey {
		for i, c := range table.Columns {
			if c.ID == id {
				sw.key = append(sw.key, i)
				sw.inKey[i] = true
			}
		}
	}
	sw.keyVals = make([]row.Value, len(sw.key))

	codec := parquet.Compression(&parquet.Snappy)
	if opts.Compression == CompressionZstd {
		sw.zstd = newZstdCodec(opts.PageBufferBytes)
		sw.zstd.enc = pooledZstdEncoder(sw.zstd.window) // nil: Encode creates one
		codec = parquet.Compression(sw.zstd)
	}
	wopts := []parquet.WriterOption{
		schema,
		codec,
		parquet.PageBufferSize(opts.PageBufferBytes),
		parquet.DataPageVersion(1),
		// Column chunk statistics and the page index are always written;
		// page header statistics would repeat them, with full-length
		// strings.
		parquet.DataPageStatistics(false),
		parquet.MaxRowsPerRowGroup(opts.RowGroupRows),
		parquet.CreatedBy("floe", strconv.Itoa(FormatVersion)+".0.0", "parquet-go v0.32.0"),
		// Unbuffered, so that out sees every byte as soon as it is written:
		// it checksums the data region (see close). out buffers instead.
		parquet.WriteBufferSize(0),
	}
	for k, v := range kv {
		wopts = append(wopts, parquet.KeyValueMetadata(k, v))
	}
	wide := 0
	for _, c := range table.Columns {
		if noMinMax(c.Type) {
			wopts = append(wopts, parquet.SkipPageBounds(c.Name), parquet.SkipPageStatistics(c.Name))
		}
		if c.Type.Kind == manifest.KindDecimal && decimalWidth(c.Type.Precision) == 16 {
			wide++
		}
	}
	if sw.pw, err = newParquetWriter(&sw.out, wopts); err != nil {
		return nil, fmt.Errorf("segment: write %s: %w", tableName(table), err)
	}
	width := n + 2
	values := make([]parquet.Value, batchRows*width)
	sw.cols = make([][]parquet.Value, width)
	for i := range sw.cols {
		sw.cols[i] = values[i*batchRows : (i+1)*batchRows : (i+1)*batchRows]
	}
	sw.arena = make([]byte, 0, batchRows*16*wide)
	return sw, nil
}

// newParquetWriter calls parquet.NewWriter, which panics on bad options.
func newParquetWriter(w io.Writer, opts []parquet.WriterOption) (pw *parquet.GenericWriter[any], err error) {
	defer recoverInto(&err, "parquet writer", nil)
	return parquet.NewGenericWriter[any](w, opts...), nil
}

// add checks v and appends it to the current batch.
func (sw *segmentWriter) add(v row.Version) error {
	n := len(sw.kinds)
	if v.SchemaVersion != sw.table.SchemaVersion {
		return sw.invalid(v, "is in schema version %d, the table is at %d", v.SchemaVersion, sw.table.SchemaVersion)
	}
	if len(v.Values) != n {
		return sw.invalid(v, "has %d values for %d columns", len(v.Values), n)
	}
	if v.Seq == 0 || v.Seq > math.MaxInt64 {
		return sw.invalid(v, "has _seq %d, outside 1..%d", v.Seq, int64(math.MaxInt64))
	}
	// Check and encode the values in one pass: a row that fails leaves
	// values in the batch past nrows and in the statistics, but the write
	// fails with it.
	k := sw.nrows
	size := int64(9) // _seq and _deleted
	for i, x := range v.Values {
		switch {
		case x.IsNull():
			if !sw.nulls[i] && (!v.Deleted || sw.inKey[i]) {
				return sw.invalid(v, "has NULL in NOT NULL column %s", sw.table.Columns[i].Name)
			}
		case v.Deleted && !sw.inKey[i]:
			x = row.Null() // ignored, stored as NULL
		default:
			if err := x.Check(sw.types[i]); err != nil {
				return sw.invalid(v, "column %s: %v", sw.table.Columns[i].Name, err)
			}
		}
		sw.stats[i].add(x)
		sw.cols[i][k], size = sw.encode(i, x, size)
	}
	if err := sw.checkOrder(v); err != nil {
		return err
	}

	// Bookkeeping.
	if sw.info.Rows == 0 || v.Seq < sw.info.SeqMin {
		sw.info.SeqMin = v.Seq
	}
	sw.info.SeqMax = max(sw.info.SeqMax, v.Seq)
	sw.info.Rows++
	if v.Deleted {
		sw.info.Deleted++
	}
	sw.cols[n][k] = parquet.Int64Value(int64(v.Seq)).Level(0, 0, n)
	sw.cols[n+1][k] = parquet.BooleanValue(v.Deleted).Level(0, 0, n+1)
	sw.nrows++
	sw.batchBytes += size
	sw.groupBytes += size
	sw.groupRows++

	if sw.nrows == batchRows || sw.batchBytes >= batchBytes ||
		sw.groupRows >= sw.opts.RowGroupRows || sw.groupBytes >= sw.opts.RowGroupBytes {
		return sw.flushBatch()
	}
	return nil
}

// checkOrder verifies that v sorts after the previous version.
func (sw *segmentWriter) checkOrder(v row.Version) error {
	if len(sw.key) == 0 {
		if sw.info.Rows > 0 && v.Seq <= sw.prevSeq {
			return fmt.Errorf("%w: table %s: _seq %d follows _seq %d; a table without a primary key must be written in increasing _seq order",
				ErrUnsorted, tableName(sw.table), v.Seq, sw.prevSeq)
		}
		sw.prevSeq = v.Seq
		return nil
	}
	for j, i := range sw.key {
		sw.keyVals[j] = v.Values[i]
	}
	sw.curKey = row.AppendKey(sw.curKey[:0], sw.keyVals...)
	if sw.info.Rows > 0 {
		switch c := bytes.Compare(sw.curKey, sw.prevKey); {
		case c == 0:
			return fmt.Errorf("%w: table %s: _seq %d has the same primary key %v as the version before it (_seq %d); a segment holds one version per key",
				ErrUnsorted, tableName(sw.table), v.Seq, sw.keyVals, sw.prevSeq)
		case c < 0:
			return fmt.Errorf("%w: table %s: _seq %d has primary key %v, which sorts before the previous version's (_seq %d); input must be sorted by primary key",
				ErrUnsorted, tableName(sw.table), v.Seq, sw.keyVals, sw.prevSeq)
		}
	}
	sw.prevKey, sw.curKey = sw.curKey, sw.prevKey
	sw.prevSeq = v.Seq
	return nil
}

func (sw *segmentWriter) invalid(v row.Version, format string, args ...any) error {
	return fmt.Errorf("%w: table %s: version with _seq %d %s", ErrInvalidInput, tableName(sw.table), v.Seq, fmt.Sprintf(format, args...))
}

// encode returns the Parquet value of x in column i and adds its size to
// size. A NULL in a REQUIRED column (a tombstone's non-key value) is stored
// as the type's zero value.
func (sw *segmentWriter) encode(i int, x row.Value, size int64) (parquet.Value, int64) {
	def := 0
	if sw.nulls[i] {
		if x.IsNull() {
			return parquet.NullValue().Level(0, 0, i), size + 1
		}
		def = 1
	}
	var pv parquet.Value
	switch sw.kinds[i] {
	case manifest.KindBoolean:
		pv = parquet.BooleanValue(!x.IsNull() && x.Bool())
	case manifest.KindInt, manifest.KindDate:
		pv = parquet.Int32Value(int32(x.Int64()))
	case manifest.KindBigInt, manifest.KindTimestamp, manifest.KindTimestampTZ:
		pv = parquet.Int64Value(x.Int64())
	case manifest.KindFloat:
		pv = parquet.FloatValue(float32(x.Float64()))
	case manifest.KindDouble:
		pv = parquet.DoubleValue(x.Float64())
	case manifest.KindDecimal:
		hi, lo := x.Decimal128()
		switch sw.widths[i] {
		case 4:
			pv = parquet.Int32Value(int32(lo))
		case 8:
			pv = parquet.Int64Value(int64(lo))
		default:
			// Values point into the arena until the batch is written; if
			// append moves it, earlier values keep the old array alive.
			start := len(sw.arena)
			sw.arena = binary.BigEndian.AppendUint64(sw.arena, uint64(hi))
			sw.arena = binary.BigEndian.AppendUint64(sw.arena, lo)
			pv = parquet.FixedLenByteArrayValue(sw.arena[start:len(sw.arena):len(sw.arena)])
		}
	case manifest.KindText, manifest.KindJSON, manifest.KindBytes:
		s := x.Str()
		// parquet-go copies the bytes into its page buffer and never
		// writes through them.
		pv = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
		size += int64(len(s))
	case manifest.KindUUID:
		s := x.Str()
		if x.IsNull() {
			s = zeroUUID
		}
		pv = parquet.FixedLenByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
	return pv.Level(0, def, i), size + int64(sw.widths[i]) + 1
}

const zeroUUID = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// valueWidth is the encoded size of a fixed-width value, 4 for the length
// prefix of a variable-length one.
func valueWidth(t manifest.Type) int {
	switch t.Kind {
	case manifest.KindBoolean:
		return 1
	case manifest.KindInt, manifest.KindDate, manifest.KindFloat:
		return 4
	case manifest.KindDecimal:
		return decimalWidth(t.Precision)
	case manifest.KindUUID:
		return 16
	case manifest.KindText, manifest.KindJSON, manifest.KindBytes:
		return 4
	default:
		return 8
	}
}

// flushBatch hands the batch to parquet-go, column by column, and ends the
// row group when it is full. Writing each column's values straight to its
// column writer saves parquet-go the transposition of rows into columns.
func (sw *segmentWriter) flushBatch() (err error) {
	defer recoverInto(&err, "parquet writer", nil)
	if sw.nrows > 0 {
		writers := sw.pw.ColumnWriters()
		if len(writers) != len(sw.cols) {
			return fmt.Errorf("segment: write %s: parquet writer has %d columns, want %d", tableName(sw.table), len(writers), len(sw.cols))
		}
		for i, cw := range writers {
			for col := sw.cols[i][:sw.nrows]; len(col) > 0; {
				m := min(len(col), chunkRows)
				if _, err := cw.WriteRowValues(col[:m]); err != nil {
					return fmt.Errorf("segment: write %s: %w", tableName(sw.table), err)
				}
				col = col[m:]
			}
		}
		sw.nrows = 0
		sw.arena = sw.arena[:0]
		sw.batchBytes = 0
	}
	if sw.groupRows >= sw.opts.RowGroupRows || sw.groupBytes >= sw.opts.RowGroupBytes {
		if err := sw.pw.Flush(); err != nil {
			return fmt.Errorf("segment: write %s: ending a row group: %w", tableName(sw.table), err)
		}
		sw.groupRows, sw.groupBytes = 0, 0
	}
	return nil
}

func (sw *segmentWriter) close() (info Info, err error) {
	if err := sw.flushBatch(); err != nil {
		return Info{}, err
	}
	if err := sw.closeParquet(); err != nil {
		return Info{}, fmt.Errorf("segment: write %s: %w", tableName(sw.table), err)
	}
	if err := sw.out.w.Flush(); err != nil {
		return Info{}, fmt.Errorf("segment: write %s: %w", tableName(sw.table), err)
	}
	sw.closed = true
	sw.info.Bytes = sw.out.n
	sw.info.Columns = make([]manifest.ColumnStats, len(sw.stats))
	for i := range sw.stats {
		if sw.info.Columns[i], err = sw.stats[i].result(sw.table.Columns[i].ID); err != nil {
			return Info{}, fmt.Errorf("segment: write %s: statistics of column %s: %w", tableName(sw.table), sw.table.Columns[i].Name, err)
		}
	}
	return sw.info, nil
}

// closeParquet ends the last row group, records the size and checksum of
// everything written so far (the data region: magic and row groups) in the
// metadata, and writes the page index and footer.
func (sw *segmentWriter) closeParquet() (err error) {
	defer recoverInto(&err, "parquet writer", nil)
	if err := sw.pw.Flush(); err != nil {
		return err
	}
	sw.pw.SetKeyValueMetadata(MetaDataBytes, strconv.FormatInt(sw.out.n, 10))
	sw.pw.SetKeyValueMetadata(MetaDataCRC32C, fmt.Sprintf("%08x", sw.out.crc))
	return sw.pw.Close()
}

// release frees the compressor. After a complete write its encoder goes
// back to the pool; after a failed one (parquet-go may have panicked in the
// middle of a page) it is closed.
func (sw *segmentWriter) release() {
	if sw.zstd == nil {
		return
	}
	if sw.closed {
		sw.zstd.mu.Lock()
		enc := sw.zstd.enc
		sw.zstd.enc = nil
		sw.zstd.mu.Unlock()
		if enc != nil {
			releaseZstdEncoder(sw.zstd.window, enc)
		}
	}
	sw.zstd.close()
}

// zstdEncoders pools the zstd encoders of segment writers, one sync.Pool
// per window size (a power of two, see newZstdCodec). Creating an encoder
// allocates about 1 MiB, zeroed: for a small segment (a direct commit of a
// few rows) it was most of the write's memory and a third of its CPU.
// Encoders are interchangeable: EncodeAll keeps no state between calls.
var zstdEncoders sync.Map // int -> *sync.Pool of *zstd.Encoder

func pooledZstdEncoder(window int) *zstd.Encoder {
	if p, ok := zstdEncoders.Load(window); ok {
		if enc, ok := p.(*sync.Pool).Get().(*zstd.Encoder); ok {
			return enc
		}
	}
	return nil
}

func releaseZstdEncoder(window int, enc *zstd.Encoder) {
	p, _ := zstdEncoders.LoadOrStore(window, new(sync.Pool))
	p.(*sync.Pool).Put(enc)
}

// hashingWriter counts and checksums (CRC-32C) the bytes written through
// it.
type hashingWriter struct {
	w   *bufio.Writer
	n   int64
	crc uint32
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.crc = crc32.Update(h.crc, castagnoli, p[:n])
	h.n += int64(n)
	return n, err
}

// castagnoli is the CRC-32C table (hardware accelerated on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recoverInto turns a panic of parquet-go into an error wrapping kind (if
// not nil). It must be deferred directly by a function that calls only
// parquet-go (never the caller's code), so that it cannot hide a bug
// elsewhere. parquet-go panics on some malformed files.
func recoverInto(err *error, what string, kind error) {
	if r := recover(); r != nil {
		if kind != nil {
			*err = fmt.Errorf("%w: %s failed: %v", kind, what, r)
		} else {
			*err = fmt.Errorf("%s failed: %v", what, r)
		}
	}
}
