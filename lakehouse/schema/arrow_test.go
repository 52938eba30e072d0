package schema

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/floedb/floe/manifest"
)

func TestArrowTypeMapping(t *testing.T) {
	cases := []struct {
		typ  manifest.Type
		want string // arrow DataType.String()
		meta string // floe.type field metadata, "" for none
	}{
		{manifest.Boolean, "bool", ""},
		{manifest.Int, "int32", ""},
		{manifest.BigInt, "int64", ""},
		{manifest.Float, "float32", ""},
		{manifest.Double, "float64", ""},
		{manifest.Decimal(10, 2), "decimal(10, 2)", ""},
		{manifest.Decimal(38, 0), "decimal(38, 0)", ""},
		{manifest.Text, "utf8", ""},
		{manifest.Bytes, "binary", ""},
		{manifest.Date, "date32", ""},
		{manifest.Timestamp, "timestamp[us]", ""},
		{manifest.TimestampTZ, "timestamp[us, tz=UTC]", ""},
		{manifest.JSON, "utf8", "JSON"},
		{manifest.UUID, "fixed_size_binary[16]", "UUID"},
	}
	for _, tc := range cases {
		t.Run(tc.typ.String(), func(t *testing.T) {
			tbl := &manifest.Table{ID: "x", Namespace: "n", Name: "t", SchemaVersion: 3,
				Columns: []manifest.Column{{ID: 1, Name: "c", Type: tc.typ, Nullable: true}}}
			s, err := BuildArrowSchema(tbl)
			if err != nil {
				t.Fatal(err)
			}
			f := s.Field(0)
			if f.Type.String() != tc.want {
				t.Errorf("%s maps to %s, want %s", tc.typ, f.Type, tc.want)
			}
			got, _ := f.Metadata.GetValue(MetaType)
			if got != tc.meta {
				t.Errorf("%s field metadata floe.type = %q, want %q", tc.typ, got, tc.meta)
			}
			if !f.Nullable {
				t.Error("nullable column became NOT NULL")
			}
		})
	}
}

func TestBuildArrowSchemaShape(t *testing.T) {
	tbl := tenColumnTable(7)
	tbl.SchemaVersion = 4
	s, err := BuildArrowSchema(&tbl)
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFields() != len(tbl.Columns)+2 {
		t.Fatalf("fields = %d, want %d", s.NumFields(), len(tbl.Columns)+2)
	}
	for i, c := range tbl.Columns {
		if s.Field(i).Name != c.Name || s.Field(i).Nullable != c.Nullable {
			t.Errorf("field %d = %v, want column %s nullable=%v", i, s.Field(i), c.Name, c.Nullable)
		}
	}
	seq, del := s.Field(len(tbl.Columns)), s.Field(len(tbl.Columns)+1)
	if seq.Name != SeqColumn || seq.Type.ID() != arrow.INT64 || seq.Nullable {
		t.Errorf("_seq field = %v", seq)
	}
	if del.Name != DeletedColumn || del.Type.ID() != arrow.BOOL || del.Nullable {
		t.Errorf("_deleted field = %v", del)
	}
	md := s.Metadata()
	if id, _ := md.GetValue(MetaTableID); id != tbl.ID {
		t.Errorf("table id metadata = %q", id)
	}
	if v, _ := md.GetValue(MetaSchemaVersion); v != "4" {
		t.Errorf("schema version metadata = %q", v)
	}
}

func TestBuildArrowSchemaRejectsInvalidType(t *testing.T) {
	tbl := &manifest.Table{ID: "x", Namespace: "n", Name: "t",
		Columns: []manifest.Column{{ID: 1, Name: "c", Type: manifest.Decimal(60, 2)}}}
	if _, err := BuildArrowSchema(tbl); err == nil {
		t.Fatal("DECIMAL(60,2) accepted")
	}
	if _, err := ArrowType(manifest.Type{}); err == nil {
		t.Fatal("zero type accepted")
	}
}
