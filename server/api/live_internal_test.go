package api

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

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
