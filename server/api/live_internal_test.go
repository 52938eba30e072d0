package api

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// TestLiveSizeBound: the cheap size bound of a row of initial rows is
// never below its encoded size.
func TestLiveSizeBound(t *testing.T) {
	long := strings.Repeat("é", 100_000)
	for _, lv := range []*structpb.ListValue{
		{},
		{Values: []*structpb.Value{structpb.NewNullValue(), structpb.NewBoolValue(true), structpb.NewNumberValue(-1.5e300), structpb.NewStringValue("")}},
		{Values: []*structpb.Value{structpb.NewStringValue(long), {}}},
	} {
		wrapped := &floev1.LiveRows{Rows: []*structpb.ListValue{lv}}
		if got, enc := sizeBound(lv), proto.Size(wrapped); got < enc {
			t.Errorf("bound %d below the encoded %d for %v", got, enc, lv)
		}
	}
}

// TestArenaEncodesAsListValue: the arena's encoding of initial rows (with
// a projection) is the same message as listValue's, for every kind,
// NULL, NaN and infinities, across slab refills.
func TestArenaEncodesAsListValue(t *testing.T) {
	types := []manifest.Type{manifest.Boolean, manifest.Int, manifest.BigInt, manifest.Double, manifest.Double, manifest.Text,
		manifest.Bytes, manifest.Date, manifest.Timestamp, manifest.UUID, manifest.Text}
	r := row.Row{row.Bool(true), row.Int(-7), row.BigInt(1 << 60), row.Double(math.NaN()), row.Double(math.Inf(-1)), row.Text("héllo"),
		row.Bytes([]byte{0, 1, 2}), row.Date(19000), row.Timestamp(1700000000123456), row.UUID([16]byte{1, 2, 3}), row.Null()}
	cols := []int{10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	ptypes := make([]manifest.Type, len(cols))
	projected := make(row.Row, len(cols))
	for i, c := range cols {
		ptypes[i], projected[i] = types[c], r[c]
	}
	want := listValue(projected, ptypes)
	a := &valueArena{}
	for i := range 3 * arenaSlab / len(cols) {
		if got := a.list(r, cols, ptypes); !proto.Equal(got, want) {
			t.Fatalf("row %d: arena %v, listValue %v", i, got, want)
		}
	}
}
