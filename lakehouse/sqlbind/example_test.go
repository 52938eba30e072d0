package sqlbind_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlbind"
)

func ExampleBind() {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	// The resolver knows one table and maps it to the view the principal
	// may read.
	resolve := func(ref sqlbind.TableRef) (string, error) {
		if ref.Catalog == "" && ref.Schema == "" && strings.EqualFold(ref.Name, "orders") {
			return `"__floe_1"`, nil
		}
		return "", dberr.New(dberr.TableNotFound, "table %s does not exist", ref.Name)
	}

	b, err := sqlbind.Bind(ctx, db, `SELECT orders.id FROM orders AT (VERSION => $1) WHERE orders.amount > $2`, resolve)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.SQL)
	fmt.Printf("%s at version $%d, %d parameters\n", b.Tables[0].Name, b.Tables[0].AtVersion.Param, b.Params)

	for _, q := range []string{
		`SELECT * FROM read_parquet('/data/secret.parquet')`,
		`SELECT current_setting('allowed_directories')`,
		`SELECT * FROM customers`,
		`ATTACH '/tmp/x.db'`,
	} {
		_, err := sqlbind.Bind(ctx, db, q, resolve)
		fmt.Println(err)
	}
	// Output:
	// SELECT orders.id FROM (SELECT * FROM "__floe_1" WHERE $1 IS NULL OR TRUE) AS "orders" WHERE orders.amount > $2
	// orders at version $1, 2 parameters
	// PERMISSION_DENIED: table function read_parquet is not allowed: query Floe tables by name
	// PERMISSION_DENIED: function current_setting is not allowed in a Floe query
	// TABLE_NOT_FOUND: table customers does not exist
	// PERMISSION_DENIED: only SELECT queries are accepted here
}
