package sqlbind

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// TestWalkFailsClosed feeds the walker parse trees DuckDB 1.5.6 does not
// produce for user SQL, made by editing a real one, and checks that each
// is refused rather than passed over.
func TestWalkFailsClosed(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	const query = `SELECT 1 AS x FROM orders WHERE true`
	cases := []struct {
		name string
		edit func(node map[string]any)
		code dberr.Code
		msg  string
	}{
		{name: "table without a location", code: dberr.Unsupported, msg: "no position",
			edit: func(n map[string]any) { from(n)["query_location"] = json.Number("18446744073709551615") }},
		{name: "table location past the text", code: dberr.Unsupported, msg: "no position",
			edit: func(n map[string]any) { from(n)["query_location"] = json.Number("1000") }},
		{name: "table location missing", code: dberr.Unsupported, msg: "no position",
			edit: func(n map[string]any) { delete(from(n), "query_location") }},
		{name: "unknown table field", code: dberr.PermissionDenied, msg: `"file_path"`,
			edit: func(n map[string]any) { from(n)["file_path"] = "/etc/passwd" }},
		{name: "unknown table reference kind", code: dberr.PermissionDenied, msg: "DELIM_GET",
			edit: func(n map[string]any) { from(n)["type"] = "DELIM_GET" }},
		{name: "column data reference", code: dberr.PermissionDenied, msg: "COLUMN_DATA",
			edit: func(n map[string]any) { n["from_table"] = map[string]any{"type": "COLUMN_DATA"} }},
		{name: "CTE_NODE", code: dberr.PermissionDenied, msg: "CTE node",
			edit: func(n map[string]any) { n["type"] = "CTE_NODE" }},
		{name: "unknown query node", code: dberr.PermissionDenied, msg: "STATEMENT_NODE",
			edit: func(n map[string]any) { n["type"] = "STATEMENT_NODE" }},
		{name: "unknown expression class", code: dberr.PermissionDenied, msg: "BOUND_REF",
			edit: func(n map[string]any) { where(n)["class"] = "BOUND_REF" }},
		{name: "expression class not a string", code: dberr.PermissionDenied, msg: "expression kind",
			edit: func(n map[string]any) { where(n)["class"] = json.Number("7") }},
		{name: "unknown modifier", code: dberr.PermissionDenied, msg: "SAMPLE_MODIFIER",
			edit: func(n map[string]any) { n["modifiers"] = []any{map[string]any{"type": "SAMPLE_MODIFIER"}} }},
		{name: "expression in a new field", code: dberr.PermissionDenied, msg: "read_text",
			edit: func(n map[string]any) {
				n["new_clause"] = map[string]any{"class": "FUNCTION", "function_name": "read_text", "schema": "", "catalog": ""}
			}},
		{name: "pointer constant", code: dberr.PermissionDenied, msg: "POINTER",
			edit: func(n map[string]any) {
				n["select_list"].([]any)[0].(map[string]any)["value"].(map[string]any)["type"] = map[string]any{"id": "POINTER"}
			}},
		{name: "malformed WITH", code: dberr.PermissionDenied, msg: "WITH",
			edit: func(n map[string]any) { n["cte_map"] = map[string]any{"map": []any{map[string]any{"key": "c"}}} }},
		{name: "WITH with another field", code: dberr.PermissionDenied, msg: "WITH",
			edit: func(n map[string]any) { n["cte_map"].(map[string]any)["extra"] = []any{} }},
		{name: "WITH entry with another field", code: dberr.PermissionDenied, msg: "WITH",
			edit: func(n map[string]any) {
				n["cte_map"] = map[string]any{"map": []any{map[string]any{"key": "c", "value": map[string]any{}, "x": 1}}}
			}},
		{name: "recursive CTE without a name", code: dberr.PermissionDenied, msg: "recursive",
			edit: func(n map[string]any) { n["type"] = "RECURSIVE_CTE_NODE" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stmt, err := parse(ctx, nil, conn, query)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(stmt["node"].(map[string]any))
			w := &walker{query: query}
			err = w.statement(stmt)
			var de *dberr.Error
			if !errors.As(err, &de) || de.Code != tc.code || !strings.Contains(de.Msg, tc.msg) {
				t.Fatalf("got %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
}

func from(node map[string]any) map[string]any  { return node["from_table"].(map[string]any) }
func where(node map[string]any) map[string]any { return node["where_clause"].(map[string]any) }
