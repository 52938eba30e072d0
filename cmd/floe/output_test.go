package main

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	floev1 "github.com/floedb/floe/proto/floe/v1"
)

func TestResultWriterFormats(t *testing.T) {
	nested, err := structpb.NewValue(map[string]any{"b": []any{1, "x"}, "a": true})
	if err != nil {
		t.Fatal(err)
	}
	query := &floev1.StatementResult{
		Columns: cannedColumns("id:BIGINT", "name:VARCHAR", "score:DECIMAL(10,2)", "tags:STRUCT(a BOOLEAN, b VARCHAR[])"),
		Rows: []*structpb.ListValue{
			{Values: []*structpb.Value{structpb.NewNumberValue(1), structpb.NewStringValue("ann, \"the\" <first>"), structpb.NewNumberValue(12.5), nested}},
			{Values: []*structpb.Value{structpb.NewNumberValue(20), structpb.NewNullValue(), structpb.NewNumberValue(1e21), structpb.NewNullValue()}},
		},
		RowCount: 2,
		Message:  "SELECT 2",
	}
	insert := &floev1.StatementResult{Message: "INSERT 3", RowsAffected: 3}
	empty := &floev1.StatementResult{Columns: cannedColumns("n:INTEGER")}

	cases := []struct {
		format outputFormat
		want   string
	}{
		{formatTable, `+----+--------------------+-------+------------------------+
| id | name               | score | tags                   |
+----+--------------------+-------+------------------------+
|  1 | ann, "the" <first> |  12.5 | {"a":true,"b":[1,"x"]} |
| 20 | NULL               | 1e+21 | NULL                   |
+----+--------------------+-------+------------------------+
(2 rows)
INSERT 3

+---+
| n |
+---+
+---+
(0 rows)
`},
		{formatJSON, `{"columns":[{"name":"id","type":"BIGINT"},{"name":"name","type":"VARCHAR"},{"name":"score","type":"DECIMAL(10,2)"},{"name":"tags","type":"STRUCT(a BOOLEAN, b VARCHAR[])"}],"rows":[[1,"ann, \"the\" <first>",12.5,{"a":true,"b":[1,"x"]}],[20,null,1e+21,null]],"message":"SELECT 2"}
{"columns":[],"rows":[],"message":"INSERT 3"}
{"columns":[{"name":"n","type":"INTEGER"}],"rows":[],"message":""}
`},
		{formatCSV, `id,name,score,tags
1,"ann, ""the"" <first>",12.5,"{""a"":true,""b"":[1,""x""]}"
20,,1e+21,

n
`},
	}
	for _, tc := range cases {
		t.Run(string(tc.format), func(t *testing.T) {
			var buf bytes.Buffer
			rw := resultWriter{w: &buf, format: tc.format}
			for _, res := range []*floev1.StatementResult{query, insert, empty} {
				if err := rw.write(res); err != nil {
					t.Fatal(err)
				}
			}
			if buf.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", buf.String(), tc.want)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {42, "42"}, {-7, "-7"}, {0.1, "0.1"}, {1234567.25, "1234567.25"},
		{9007199254740993, "9007199254740992"}, {1e21, "1e+21"}, {1e-7, "1e-07"},
		{math.Inf(1), "+Inf"},
	}
	for _, tc := range cases {
		if got := formatNumber(tc.in); got != tc.want {
			t.Errorf("formatNumber(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]outputFormat{"table": formatTable, " JSON ": formatJSON, "csv": formatCSV} {
		if got, err := parseFormat(in); err != nil || got != want {
			t.Errorf("parseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := parseFormat("yaml"); err == nil {
		t.Error("parseFormat(yaml) succeeded")
	}
}
