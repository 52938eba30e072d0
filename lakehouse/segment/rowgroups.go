package segment

import (
	"iter"

	"github.com/parquet-go/parquet-go"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// RowGroup locates one row group of a segment: the position in the file of
// its first row and its number of rows. A segment's row groups follow one
// another, so row FirstRow+k of the file is row k of the group.
type RowGroup struct {
	FirstRow, Rows int64
}

// RowGroups returns the segment's row groups in file order. Reading it
// costs nothing: it comes from the footer Open already read.
func (rd *Reader) RowGroups() []RowGroup {
	groups := rd.file.RowGroups()
	out := make([]RowGroup, len(groups))
	var first int64
	for g, rg := range groups {
		out[g] = RowGroup{FirstRow: first, Rows: rg.NumRows()}
		first += rg.NumRows()
	}
	return out
}

// RowGroupBounds returns the smallest and largest value of the table
// column col (an index into the table's current columns) in row group g,
// from the Parquet column chunk statistics of the footer: no data is read.
// ok is false when the group does not exist, the segment predates the
// column, the chunk has no statistics, or the column's type is not one
// whose Parquet statistics order values as Floe does: only the integer,
// date and timestamp kinds are trusted (byte-array statistics may be
// truncated by other writers, and floats and decimals order differently).
// A caller may skip row group g for a value outside [lo, hi] only when ok.
func (rd *Reader) RowGroupBounds(g, col int) (lo, hi row.Value, ok bool) {
	// parquet-go panics on statistics of the wrong width; a damaged footer
	// means no bounds, and the caller reads the group.
	defer func() {
		if recover() != nil {
			lo, hi, ok = row.Value{}, row.Value{}, false
		}
	}()
	groups := rd.file.RowGroups()
	if g < 0 || g >= len(groups) || col < 0 || col >= len(rd.cols) {
		return lo, hi, false
	}
	c := rd.cols[col]
	if c.leaf < 0 {
		return lo, hi, false
	}
	switch c.typ.Kind {
	case manifest.KindInt, manifest.KindBigInt, manifest.KindDate, manifest.KindTimestamp, manifest.KindTimestampTZ:
	default:
		return lo, hi, false
	}
	fc, isFile := groups[g].ColumnChunks()[c.leaf].(*parquet.FileColumnChunk)
	if !isFile {
		return lo, hi, false
	}
	pmin, pmax, has := fc.Bounds()
	if !has || pmin.IsNull() || pmax.IsNull() {
		return lo, hi, false
	}
	var out [2]row.Value
	if convert(out[:], 1, 0, 0, c.typ, []parquet.Value{pmin, pmax}) != nil {
		return lo, hi, false
	}
	if out[0].IsNull() || out[1].IsNull() || row.Compare(out[0], out[1]) > 0 {
		return lo, hi, false // damaged statistics: trust nothing
	}
	return out[0], out[1], true
}

// RowGroupVersions is Versions of row group g alone: the versions of its
// rows in file order, read with the same checks and memory bound. An
// out-of-range g yields nothing.
func (rd *Reader) RowGroupVersions(g int) iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		groups := rd.file.RowGroups()
		if g < 0 || g >= len(groups) {
			return
		}
		rd.readGroup(g, groups[g], &trackingReaderAt{r: rd.r}, yield)
	}
}
