package sqlparse_test

import (
	"fmt"

	"github.com/floedb/floe/lakehouse/sqlparse"
)

func ExampleParse() {
	sts, err := sqlparse.Parse(`
		CREATE TABLE sales.orders (
			id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
			amount DECIMAL(10, 2) NOT NULL
		) WITH (TTL_SECONDS = 86400);
		SELECT o.id FROM sales.orders AS OF VERSION 3 o WHERE o.amount > 10;`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range sts {
		switch st := st.(type) {
		case *sqlparse.CreateTable:
			fmt.Println("create", st.Table, st.PrimaryKey, st.Options[0].Key, st.Options[0].Value)
			for _, c := range st.Columns {
				fmt.Printf("  %s %s not null=%t default=%q\n", c.Name, c.Type, c.NotNull, c.Default)
			}
		case *sqlparse.Select:
			fmt.Println("query", st.Query)
		}
	}
	// Output:
	// create sales.orders [id] TTL_SECONDS 86400
	//   id BIGINT not null=true default="SNOWFLAKE_ID()"
	//   amount DECIMAL(10,2) not null=true default=""
	// query SELECT o.id FROM sales.orders o AT (VERSION => 3) WHERE o.amount > 10
}

func ExampleParse_error() {
	_, err := sqlparse.Parse("SELECT 1;\nCREATE TABLE t (age , name TEXT)")
	fmt.Println(err)
	_, err = sqlparse.Parse("ATTACH 's3://bucket/db.duckdb'")
	fmt.Println(err)
	// Output:
	// SYNTAX_ERROR: expected a column type after "age", found "," (line 2, column 21)
	// PERMISSION_DENIED: ATTACH is not allowed: Floe manages storage itself
}

func ExampleSplit() {
	pieces, _ := sqlparse.Split("SELECT ';'; -- note;\nSELECT $$a;b$$;")
	for _, p := range pieces {
		fmt.Printf("%d %s\n", p.Offset, p.Text)
	}
	// Output:
	// 0 SELECT ';'
	// 21 SELECT $$a;b$$
}
