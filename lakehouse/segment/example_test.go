package segment_test

import (
	"bytes"
	"fmt"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

func Example() {
	table := &manifest.Table{ID: "t1", Namespace: "app", Name: "users", SchemaVersion: 1, NextColumnID: 3,
		PrimaryKey: []string{"id"},
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "name", Type: manifest.Text, Nullable: true},
		}}
	versions := func(yield func(row.Version, error) bool) {
		_ = yield(row.Version{Seq: 7, SchemaVersion: 1, Values: row.Row{row.BigInt(1), row.Text("ann")}}, nil) &&
			yield(row.Version{Seq: 5, SchemaVersion: 1, Deleted: true, Values: row.Row{row.BigInt(2), row.Null()}}, nil)
	}
	var buf bytes.Buffer
	info, err := segment.Write(&buf, table, versions, segment.WriterOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("rows %d, _seq %d..%d, id min %s max %s\n", info.Rows, info.SeqMin, info.SeqMax, *info.Columns[0].Min, *info.Columns[0].Max)

	// Later: ALTER TABLE users ADD COLUMN email TEXT.
	table.Columns = append(table.Columns, manifest.Column{ID: 3, Name: "email", Type: manifest.Text, Nullable: true})
	table.SchemaVersion, table.NextColumnID = 2, 4

	rd, err := segment.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "tables/t1/shared/seg/1.parquet", table)
	if err != nil {
		fmt.Println(err)
		return
	}
	for v, err := range rd.Versions() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(v.Seq, v.Deleted, v.SchemaVersion, v.Values)
	}
	// Output:
	// rows 2, _seq 5..7, id min 1 max 2
	// 7 false 2 [1 "ann" NULL]
	// 5 true 2 [2 NULL NULL]
}
