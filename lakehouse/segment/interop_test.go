package segment_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// TestArrowInterop reads a segment with arrow-go's Parquet reader and checks
// that types match lakehouse/schema's Arrow mapping and values match what
// was written.
func TestArrowInterop(t *testing.T) {
	table := allTypesTable()
	vs := extremeVersions(table, 1000)
	data, _ := writeSegment(t, table, vs, segment.WriterOptions{RowGroupRows: 300})

	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if pf.NumRowGroups() != 4 || pf.NumRows() != 1000 {
		t.Errorf("%d row groups, %d rows; want 4, 1000", pf.NumRowGroups(), pf.NumRows())
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 128}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()

	want, err := schema.BuildArrowSchema(table)
	if err != nil {
		t.Fatal(err)
	}
	got := tbl.Schema()
	if got.NumFields() != want.NumFields() {
		t.Fatalf("%d fields, want %d", got.NumFields(), want.NumFields())
	}
	for i := range want.NumFields() {
		g, w := got.Field(i), want.Field(i)
		gt := g.Type
		if ext, ok := gt.(arrow.ExtensionType); ok { // arrow.uuid
			gt = ext.StorageType()
		}
		if g.Name != w.Name || !arrow.TypeEqual(gt, w.Type) || g.Nullable != w.Nullable {
			t.Errorf("field %d = %s %s nullable=%v, want %s %s nullable=%v", i, g.Name, g.Type, g.Nullable, w.Name, w.Type, w.Nullable)
		}
		if i < len(table.Columns) {
			if id, _ := g.Metadata.GetValue("PARQUET:field_id"); id != strconv.Itoa(int(table.Columns[i].ID)) {
				t.Errorf("field %s has field_id %q, want %d", g.Name, id, table.Columns[i].ID)
			}
		}
	}
	if v := pf.MetaData().KeyValueMetadata().FindValue(segment.MetaSchemaVersion); v == nil || *v != "1" {
		t.Errorf("%s = %v", segment.MetaSchemaVersion, v)
	}

	// Values: every column, every row. Non-key values of tombstones are
	// placeholders in the file and not compared.
	wantRows := expectedRead(table, vs)
	for c := range tbl.NumCols() {
		r := 0
		for _, chunk := range tbl.Column(int(c)).Data().Chunks() {
			for i := range chunk.Len() {
				v := wantRows[r]
				switch {
				case int(c) == len(table.Columns):
					if got := chunk.(*array.Int64).Value(i); uint64(got) != v.Seq {
						t.Fatalf("row %d _seq = %d, want %d", r, got, v.Seq)
					}
				case int(c) == len(table.Columns)+1:
					if got := chunk.(*array.Boolean).Value(i); got != v.Deleted {
						t.Fatalf("row %d _deleted = %v", r, got)
					}
				case v.Deleted && c != 0:
				default:
					col := table.Columns[c]
					if got := arrowValue(chunk, i, col.Type); got != v.Values[c] {
						t.Fatalf("row %d column %s = %v, want %v", r, col.Name, got, v.Values[c])
					}
				}
				r++
			}
		}
		if r != len(wantRows) {
			t.Fatalf("column %d has %d rows", c, r)
		}
	}

	// Statistics: min/max on every column but FLOAT, DOUBLE and the 16-byte
	// DECIMALs, and a
	// well-formed page index everywhere.
	pir := pf.GetPageIndexReader()
	for g := range pf.NumRowGroups() {
		rg := pf.MetaData().RowGroup(g)
		rpi, err := pir.RowGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		for j := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(j)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cc.Statistics()
			if err != nil || st == nil {
				t.Fatalf("row group %d column %d: no statistics (%v)", g, j, err)
			}
			var wide bool
			if j < len(table.Columns) {
				switch typ := table.Columns[j].Type; typ.Kind {
				case manifest.KindFloat, manifest.KindDouble:
					wide = true
				case manifest.KindDecimal:
					wide = typ.Precision > 18
				}
			}
			if st.HasMinMax() == wide {
				t.Errorf("row group %d column %d: HasMinMax = %v", g, j, st.HasMinMax())
			}
			ci, err := rpi.GetColumnIndex(j)
			if err != nil {
				t.Fatalf("row group %d column %d: column index: %v", g, j, err)
			}
			if n := len(ci.GetNullPages()); n == 0 || len(ci.GetMinValues()) != n || len(ci.GetMaxValues()) != n {
				t.Errorf("row group %d column %d: malformed column index: %d pages, %d min, %d max",
					g, j, n, len(ci.GetMinValues()), len(ci.GetMaxValues()))
			}
		}
	}
}

func arrowValue(arr arrow.Array, i int, t manifest.Type) row.Value {
	if arr.IsNull(i) {
		return row.Null()
	}
	if ext, ok := arr.(array.ExtensionArray); ok {
		arr = ext.Storage()
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return row.Bool(a.Value(i))
	case *array.Int32:
		return row.Int(a.Value(i))
	case *array.Int64:
		return row.BigInt(a.Value(i))
	case *array.Float32:
		return row.Float(a.Value(i))
	case *array.Float64:
		return row.Double(a.Value(i))
	case *array.Decimal128:
		n := a.Value(i)
		return row.Decimal(n.HighBits(), n.LowBits())
	case *array.String:
		if t.Kind == manifest.KindJSON {
			return row.JSON(a.Value(i))
		}
		return row.Text(a.Value(i))
	case *array.Binary:
		return row.Bytes(a.Value(i))
	case *array.Date32:
		return row.Date(int32(a.Value(i)))
	case *array.Timestamp:
		return row.Temporal(t.Kind, int64(a.Value(i)))
	case *array.FixedSizeBinary:
		return row.UUID([16]byte(a.Value(i)))
	}
	return row.Text("unexpected array " + arr.DataType().String())
}
