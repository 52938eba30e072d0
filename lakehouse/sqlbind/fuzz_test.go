package sqlbind

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
)

// FuzzBind checks that Bind never panics, fails only with *dberr.Error,
// and that whatever it returns keeps the security invariant, checked
// independently of Bind's own walker:
//
//   - DuckDB, parsing Bound.SQL again, finds one statement whose every
//     table reference is a replacement (__floe_…) or an unqualified name
//     that some WITH of the query declares, and whose table functions are
//     all allowed;
//   - run on a database where the real names hold SECRET rows, the bound
//     query reads no SECRET row and hits no missing table (a name Bind
//     took for a CTE that DuckDB does not) and no file.
//
// Run it with: go test -run '^$' -fuzz FuzzBind -fuzztime 2m ./lakehouse/sqlbind
func FuzzBind(f *testing.F) {
	for _, tc := range bindCases() {
		f.Add(tc.query)
	}
	for _, tc := range e2eCases() {
		f.Add(tc.query)
	}
	conn := floeDB(f)
	cat := testCatalog()
	// Versions do not matter here: every reference maps to a view that
	// exists.
	resolve := func(ref TableRef) (string, error) {
		ref.AtVersion = nil
		return cat.resolve(ref)
	}
	f.Fuzz(func(t *testing.T, query string) {
		ctx := context.Background()
		b, err := Bind(ctx, conn, query, resolve)
		if err != nil {
			var de *dberr.Error
			if !errors.As(err, &de) {
				t.Fatalf("Bind(%q): %v is not a *dberr.Error", query, err)
			}
			return
		}
		checkBoundTree(t, ctx, conn, b.SQL)

		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		args := make([]any, b.Params)
		for i := range args {
			args[i] = 1
		}
		rows, err := queryRows(ctx, conn, b.SQL, args...)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "Table with name") || strings.Contains(msg, "Permission Error") {
				t.Fatalf("Bind(%q) = %q, which reads outside the replacements: %v", query, b.SQL, err)
			}
			return
		}
		if strings.Contains(strings.Join(rows, "\n"), "SECRET") {
			t.Fatalf("Bind(%q) = %q, which read a SECRET row", query, b.SQL)
		}
	})
}

// checkBoundTree parses sql with DuckDB and checks its table references
// and table functions, without CTE scoping: a name counts as a CTE when
// any WITH of the query declares it.
func checkBoundTree(t *testing.T, ctx context.Context, q Querier, sql string) {
	t.Helper()
	var text string
	if err := q.QueryRowContext(ctx, serializeSQL, sql).Scan(&text); err != nil {
		t.Fatalf("serialize %q: %v", sql, err)
	}
	var root map[string]any
	if err := json.Unmarshal([]byte(nonFiniteToNull(text)), &root); err != nil {
		t.Fatal(err)
	}
	if root["error"] == true {
		t.Fatalf("the bound query %q does not parse: %v", sql, root["error_message"])
	}
	if stmts, _ := root["statements"].([]any); len(stmts) != 1 {
		t.Fatalf("the bound query %q has %d statements", sql, len(stmts))
	}
	ctes := map[string]bool{}
	var tables, functions []map[string]any
	var visit func(v any)
	visit = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				visit(e)
			}
		case map[string]any:
			switch v["type"] {
			case "BASE_TABLE":
				tables = append(tables, v)
			case "TABLE_FUNCTION":
				functions = append(functions, v)
			case "RECURSIVE_CTE_NODE":
				ctes[asciiLower(str(v["cte_name"]))] = true
			}
			if cm, ok := v["cte_map"].(map[string]any); ok {
				entries, _ := cm["map"].([]any)
				for _, e := range entries {
					entry, _ := e.(map[string]any)
					ctes[asciiLower(str(entry["key"]))] = true
				}
			}
			for _, f := range v {
				visit(f)
			}
		}
	}
	visit(root)
	for _, tbl := range tables {
		name := str(tbl["table_name"])
		qualified := str(tbl["catalog_name"]) != "" || str(tbl["schema_name"]) != ""
		if qualified || !(strings.HasPrefix(name, "__floe_") || ctes[asciiLower(name)]) {
			t.Fatalf("the bound query %q reads table %s.%s.%s", sql, tbl["catalog_name"], tbl["schema_name"], name)
		}
	}
	for _, tf := range functions {
		fn, _ := tf["function"].(map[string]any)
		if name := asciiLower(str(fn["function_name"])); !allowedTableFunctions[name] {
			t.Fatalf("the bound query %q calls table function %s", sql, name)
		}
	}
}
