package segment_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// evolve returns a copy of t at the next schema version after change.
func evolve(t *manifest.Table, change func(*manifest.Table)) *manifest.Table {
	n := *t
	n.Columns = slices.Clone(t.Columns)
	n.PrimaryKey = slices.Clone(t.PrimaryKey)
	change(&n)
	n.SchemaVersion++
	return &n
}

func TestSchemaEvolution(t *testing.T) {
	v1 := &manifest.Table{ID: "users", Namespace: "app", Name: "users", SchemaVersion: 1, NextColumnID: 5,
		PrimaryKey: []string{"id"},
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "name", Type: manifest.Text},
			{ID: 3, Name: "age", Type: manifest.Int, Nullable: true},
			{ID: 4, Name: "score", Type: manifest.Double},
		}}
	vs := []row.Version{
		{Seq: 3, SchemaVersion: 1, Values: row.Row{row.BigInt(1), row.Text("ann"), row.Int(31), row.Double(1.5)}},
		{Seq: 1, SchemaVersion: 1, Values: row.Row{row.BigInt(2), row.Text("bob"), row.Null(), row.Double(-2)}},
		{Seq: 2, SchemaVersion: 1, Deleted: true, Values: row.Row{row.BigInt(3), row.Null(), row.Null(), row.Null()}},
	}
	data, info := writeSegment(t, v1, vs, segment.WriterOptions{})
	if info.SchemaVersion != 1 {
		t.Fatalf("Info.SchemaVersion = %d", info.SchemaVersion)
	}

	// v2: ADD COLUMN email TEXT DEFAULT 'none', RENAME COLUMN name TO full_name.
	v2 := evolve(v1, func(t *manifest.Table) {
		t.Columns = append(t.Columns, manifest.Column{ID: 5, Name: "email", Type: manifest.Text, Nullable: true, Default: "'none'"})
		t.NextColumnID = 6
		t.Columns[1].Name = "full_name"
	})
	// v3: DROP COLUMN age, and the remaining columns listed in another order.
	v3 := evolve(v2, func(t *manifest.Table) {
		t.Columns = []manifest.Column{t.Columns[4], t.Columns[0], t.Columns[3], t.Columns[1]}
	})

	for _, tc := range []struct {
		table *manifest.Table
		want  []row.Row
	}{
		{v1, []row.Row{
			{row.BigInt(1), row.Text("ann"), row.Int(31), row.Double(1.5)},
			{row.BigInt(2), row.Text("bob"), row.Null(), row.Double(-2)},
			{row.BigInt(3), row.Null(), row.Null(), row.Null()},
		}},
		{v2, []row.Row{
			{row.BigInt(1), row.Text("ann"), row.Int(31), row.Double(1.5), row.Null()},
			{row.BigInt(2), row.Text("bob"), row.Null(), row.Double(-2), row.Null()},
			{row.BigInt(3), row.Null(), row.Null(), row.Null(), row.Null()},
		}},
		{v3, []row.Row{ // email, id, score, full_name
			{row.Null(), row.BigInt(1), row.Double(1.5), row.Text("ann")},
			{row.Null(), row.BigInt(2), row.Double(-2), row.Text("bob")},
			{row.Null(), row.BigInt(3), row.Null(), row.Null()},
		}},
	} {
		rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), "seg", tc.table)
		if err != nil {
			t.Fatalf("v%d: %v", tc.table.SchemaVersion, err)
		}
		if rd.SchemaVersion() != 1 || rd.NumRows() != 3 {
			t.Errorf("v%d: segment schema version %d, rows %d", tc.table.SchemaVersion, rd.SchemaVersion(), rd.NumRows())
		}
		i := 0
		for v, err := range rd.Versions() {
			if err != nil {
				t.Fatal(err)
			}
			if v.SchemaVersion != tc.table.SchemaVersion || v.Seq != vs[i].Seq || v.Deleted != vs[i].Deleted || !v.Values.Equal(tc.want[i]) {
				t.Errorf("v%d row %d = %+v, want values %v", tc.table.SchemaVersion, i, v, tc.want[i])
			}
			i++
		}
	}

	// A segment written under v3 reads back under v3 as written.
	v3vs := []row.Version{{Seq: 10, SchemaVersion: 3, Values: row.Row{row.Text("a@b"), row.BigInt(7), row.Double(0), row.Text("cy")}}}
	data3, _ := writeSegment(t, v3, v3vs, segment.WriterOptions{})
	equalVersions(t, readAll(t, data3, v3), v3vs)

	t.Run("initial default fills the rows the segment predates", func(t *testing.T) {
		// v4: ADD COLUMN level INT DEFAULT 7 records initial default 7.
		v4 := evolve(v3, func(t *manifest.Table) {
			t.Columns = append(t.Columns, manifest.Column{ID: 6, Name: "level", Type: manifest.Int, Nullable: true, Default: "7", InitialDefault: "7"})
		})
		got := readAll(t, data, v4)
		for i, v := range got {
			want := row.Int(7)
			if v.Deleted {
				want = row.Null() // a tombstone has no non-key values
			}
			if lv := v.Values[4]; lv != want {
				t.Errorf("row %d level = %v, want %v", i, lv, want)
			}
		}
		// A segment written with the column keeps its own values.
		v4vs := []row.Version{{Seq: 11, SchemaVersion: 4, Values: row.Row{row.Null(), row.BigInt(8), row.Double(0), row.Text("d"), row.Null()}}}
		data4, _ := writeSegment(t, v4, v4vs, segment.WriterOptions{})
		equalVersions(t, readAll(t, data4, v4), v4vs)
		bad := evolve(v4, func(t *manifest.Table) { t.Columns[4].InitialDefault = "seven" })
		if _, err := segment.Open(bytes.NewReader(data), int64(len(data)), "seg", bad); !errors.Is(err, segment.ErrIncompatibleSchema) {
			t.Errorf("bad initial default: err = %v", err)
		}
	})
	t.Run("type change is refused", func(t *testing.T) {
		v4 := evolve(v3, func(t *manifest.Table) { t.Columns[2].Type = manifest.Float })
		_, err := segment.Open(bytes.NewReader(data), int64(len(data)), "seg/old.parquet", v4)
		if !errors.Is(err, segment.ErrIncompatibleSchema) || !strings.Contains(err.Error(), "score") || !strings.Contains(err.Error(), "seg/old.parquet") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("segment newer than the table", func(t *testing.T) {
		_, err := segment.Open(bytes.NewReader(data3), int64(len(data3)), "seg", v2)
		if !errors.Is(err, segment.ErrIncompatibleSchema) || !strings.Contains(err.Error(), "newer") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("another table", func(t *testing.T) {
		other := evolve(v1, func(t *manifest.Table) { t.ID = "orders" })
		_, err := segment.Open(bytes.NewReader(data), int64(len(data)), "seg", other)
		if !errors.Is(err, segment.ErrIncompatibleSchema) || !strings.Contains(err.Error(), `"users"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("NOT NULL column becomes nullable", func(t *testing.T) {
		loose := evolve(v1, func(t *manifest.Table) { t.Columns[1].Nullable = true })
		got := readAll(t, data, loose)
		if got[0].Values[1] != row.Text("ann") {
			t.Errorf("got %v", got[0].Values)
		}
	})
}
