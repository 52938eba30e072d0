package segment_test

import (
	"bytes"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// RowGroups, RowGroupVersions and RowGroupBounds agree with the data: the
// groups tile the file, each group's versions are the file's rows at its
// positions, and the bounds of every trusted column type (integers, dates,
// timestamps) are exactly the smallest and largest non-NULL value of the
// group, extremes included; other types, a column the segment predates and
// a group out of range have none.
func TestRowGroups(t *testing.T) {
	table := allTypesTable()
	vs := extremeVersions(table, 1000)
	data, _ := writeSegment(t, table, vs, segment.WriterOptions{RowGroupRows: 128})
	all := readAll(t, data, table)

	// The table gains a column after the segment was written.
	later := *table
	later.Columns = append(append([]manifest.Column(nil), table.Columns...), manifest.Column{ID: 29, Name: "late", Type: manifest.BigInt, Nullable: true})
	later.SchemaVersion, later.NextColumnID = 2, 30
	rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), "test.parquet", &later)
	if err != nil {
		t.Fatal(err)
	}
	groups := rd.RowGroups()
	if len(groups) != 8 {
		t.Fatalf("%d row groups, want 8 (1000 rows by 128)", len(groups))
	}
	var next int64
	for g, rg := range groups {
		if rg.FirstRow != next || rg.Rows <= 0 {
			t.Fatalf("group %d = %+v, want to start at row %d", g, rg, next)
		}
		next += rg.Rows
		k := rg.FirstRow
		for v, err := range rd.RowGroupVersions(g) {
			if err != nil {
				t.Fatal(err)
			}
			if v.Seq != all[k].Seq || !v.Values[:len(table.Columns)].Equal(all[k].Values) {
				t.Fatalf("group %d row %d: %v, the file's row %d is %v", g, k-rg.FirstRow, v, k, all[k])
			}
			k++
		}
		if k != rg.FirstRow+rg.Rows {
			t.Fatalf("group %d yielded %d rows, want %d", g, k-rg.FirstRow, rg.Rows)
		}

		for c, col := range later.Columns {
			lo, hi, ok := rd.RowGroupBounds(g, c)
			var wantLo, wantHi row.Value
			for _, v := range all[rg.FirstRow : rg.FirstRow+rg.Rows] {
				if c >= len(v.Values) || v.Values[c].IsNull() {
					continue
				}
				if wantLo.IsNull() || row.Compare(v.Values[c], wantLo) < 0 {
					wantLo = v.Values[c]
				}
				if wantHi.IsNull() || row.Compare(v.Values[c], wantHi) > 0 {
					wantHi = v.Values[c]
				}
			}
			trusted := false
			switch col.Type.Kind {
			case manifest.KindInt, manifest.KindBigInt, manifest.KindDate, manifest.KindTimestamp, manifest.KindTimestampTZ:
				trusted = c < len(table.Columns) && !wantLo.IsNull()
			}
			if ok != trusted {
				t.Fatalf("group %d column %s (%s): bounds ok = %v, want %v", g, col.Name, col.Type, ok, trusted)
			}
			if ok && (row.Compare(lo, wantLo) != 0 || row.Compare(hi, wantHi) != 0) {
				t.Fatalf("group %d column %s: bounds [%v, %v], data [%v, %v]", g, col.Name, lo, hi, wantLo, wantHi)
			}
		}
	}
	if next != rd.NumRows() {
		t.Fatalf("groups cover %d rows of %d", next, rd.NumRows())
	}
	if _, _, ok := rd.RowGroupBounds(len(groups), 0); ok {
		t.Fatal("bounds of a group past the last")
	}
	for range rd.RowGroupVersions(-1) {
		t.Fatal("versions of group -1")
	}
}
