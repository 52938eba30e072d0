package sqlbind

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/dberr"
)

// openConn opens an in-memory DuckDB with extension auto-loading off and
// returns one connection (temporary views are per connection).
func openConn(t testing.TB) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, s := range []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
	} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// catalog is the test resolver's Floe: tables by lowercase
// "[namespace.]name", each mapped to the replacement Bind should insert.
// A reference at a version maps to "<replacement>_v<n>" (constant) or
// "<replacement>_p<n>" (parameter $n).
type catalog map[string]string

func testCatalog() catalog {
	return catalog{
		"orders":      `"__floe_1"`,
		"customers":   `"__floe_2"`,
		"sales.items": `"__floe_3"`,
		"my table":    `"__floe_4"`,
		"sales.t":     `"__floe_5"`,
		`we"ird`:      `"__floe_6"`,
	}
}

func (c catalog) resolve(ref TableRef) (string, error) {
	key := asciiLower(ref.Name)
	if ref.Schema != "" {
		key = asciiLower(ref.Schema) + "." + key
	}
	repl, ok := c[key]
	if !ok || ref.Catalog != "" {
		return "", dberr.New(dberr.TableNotFound, "table %s does not exist", ref.qualified())
	}
	if v := ref.AtVersion; v != nil {
		base := strings.Trim(repl, `"`)
		if v.Param > 0 {
			return fmt.Sprintf(`"%s_p%d"`, base, v.Param), nil
		}
		return fmt.Sprintf(`"%s_v%d"`, base, v.Version), nil
	}
	return repl, nil
}

// formatRef renders a reference for comparisons: [[catalog.]schema.]name,
// then " AS alias", " @v<n>" or " @$<n>".
func formatRef(r TableRef) string {
	s := r.qualified()
	if r.Alias != "" {
		s += " AS " + r.Alias
	}
	if v := r.AtVersion; v != nil {
		if v.Param > 0 {
			s += fmt.Sprintf(" @$%d", v.Param)
		} else {
			s += fmt.Sprintf(" @v%d", v.Version)
		}
	}
	return s
}
