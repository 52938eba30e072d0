package sqlbind

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The end-to-end test runs each query twice and compares the results:
//
//   - as written, on a reference database where orders, customers,
//     sales.items and "My Table" are real tables (and orders_v1 holds the
//     first version of orders, for the AT queries' reference text);
//   - bound, on a Floe-like database where the data is in temporary views
//     named like the test resolver's replacements, and tables of the real
//     names exist too but hold SECRET rows: a reference Bind failed to
//     rewrite, or a name it wrongly took for a CTE, reads them and the
//     results differ.

// Table contents, as VALUES lists with their column names.
const (
	ordersRows    = `(1, 1, 5, 'new'), (2, 1, 20, 'paid'), (3, 2, 30, 'paid'), (4, 3, 12, 'new')`
	ordersV1Rows  = `(1, 1, 5, 'new')`
	ordersCols    = `(id, cid, amount, status)`
	customersRows = `(1, 'ann'), (2, 'bob'), (3, 'cy')`
	customersCols = `(id, name)`
	itemsRows     = `('a', 1), ('b', 2)`
	itemsCols     = `(sku, order_id)`
	myTableRows   = `(7)`
	myTableCols   = `(x)`
)

func values(rows, cols string) string {
	return fmt.Sprintf("SELECT * FROM (VALUES %s) v%s", rows, cols)
}

// referenceDB holds the tables under their real names.
func referenceDB(t testing.TB) *sql.Conn {
	conn := openConn(t)
	mustExec(t, conn,
		"CREATE TABLE orders AS "+values(ordersRows, ordersCols),
		"CREATE TABLE orders_v1 AS "+values(ordersV1Rows, ordersCols),
		"CREATE TABLE customers AS "+values(customersRows, customersCols),
		"CREATE SCHEMA sales",
		"CREATE TABLE sales.items AS "+values(itemsRows, itemsCols),
		`CREATE TABLE "My Table" AS `+values(myTableRows, myTableCols),
	)
	return conn
}

// floeDB holds the data in temporary views named like the test
// catalog's replacements, and SECRET rows under the real names.
func floeDB(t testing.TB) *sql.Conn {
	conn := openConn(t)
	mustExec(t, conn,
		"CREATE TABLE orders AS "+values(`(666, 666, 666, 'SECRET')`, ordersCols),
		"CREATE TABLE customers AS "+values(`(666, 'SECRET')`, customersCols),
		"CREATE SCHEMA sales",
		"CREATE TABLE sales.items AS "+values(`('SECRET', 666)`, itemsCols),
		`CREATE TABLE "My Table" AS `+values(`(666)`, myTableCols),
		`CREATE TEMP VIEW "__floe_1" AS `+values(ordersRows, ordersCols),
		`CREATE TEMP VIEW "__floe_1_v1" AS `+values(ordersV1Rows, ordersCols),
		`CREATE TEMP VIEW "__floe_1_p1" AS `+values(ordersV1Rows, ordersCols),
		`CREATE TEMP VIEW "__floe_1_p2" AS `+values(ordersV1Rows, ordersCols),
		`CREATE TEMP VIEW "__floe_2" AS `+values(customersRows, customersCols),
		`CREATE TEMP VIEW "__floe_3" AS `+values(itemsRows, itemsCols),
		`CREATE TEMP VIEW "__floe_4" AS `+values(myTableRows, myTableCols),
		`CREATE TEMP VIEW "__floe_5" AS `+values(`(1)`, `(t)`),
		`CREATE TEMP VIEW "__floe_6" AS `+values(`(1)`, `(w)`),
		"SET enable_external_access = false",
		"SET memory_limit = '1GB'",
		"SET threads = 1",
		"SET lock_configuration = true",
	)
	return conn
}

func mustExec(t testing.TB, conn *sql.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// queryRows runs a query and returns its rows as sorted strings.
func queryRows(ctx context.Context, conn *sql.Conn, query string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprint(vals...))
	}
	slices.Sort(out)
	return out, rows.Err()
}

// e2eCase is a query, its arguments, and the query giving the expected
// rows on the reference database ("" for the query itself).
type e2eCase struct {
	query string
	args  []any
	want  string
}

func e2eCases() []e2eCase {
	return []e2eCase{
		{query: `SELECT id, amount FROM orders WHERE amount > 10`},
		{query: `SELECT o.id, c.name FROM orders o JOIN customers c ON o.cid = c.id`},
		{query: `SELECT orders.id, customers.name FROM orders, customers WHERE orders.cid = customers.id`},
		{query: `SELECT items.sku, order_id FROM sales.items`},
		{query: `SELECT "My Table".x FROM "My Table"`},
		{query: `TABLE customers`},
		{query: `FROM orders SELECT count(*), sum(amount)`},
		{query: `SELECT x.a FROM orders AS x(a)`},
		{query: `WITH orders AS (SELECT * FROM orders WHERE amount > 10) SELECT count(*) FROM orders`},
		{query: `WITH customers AS (SELECT 99 AS id, 'cte' AS name), x AS (SELECT * FROM customers) SELECT * FROM x`},
		{query: `WITH x AS (SELECT * FROM customers), customers AS (SELECT 99 AS id, 'cte' AS name) SELECT * FROM x`},
		{query: `WITH RECURSIVE x AS (SELECT * FROM customers), customers AS (SELECT 99 AS id, 'cte' AS name) SELECT * FROM x`},
		{query: `WITH RECURSIVE r(n) AS (SELECT min(id) FROM orders UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r`},
		{query: `WITH RECURSIVE orders AS (SELECT id FROM orders UNION ALL SELECT id + 100 FROM orders WHERE id < 100) SELECT * FROM orders`},
		{query: `WITH RECURSIVE orders AS (SELECT * FROM orders) SELECT id FROM orders`},
		{query: `WITH c AS (SELECT * FROM customers) SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM orders)`},
		{query: `WITH customers AS (SELECT 99 AS id, 'cte' AS name), x AS MATERIALIZED (SELECT * FROM customers) SELECT * FROM x`},
		{query: `WITH x AS MATERIALIZED (SELECT * FROM customers), customers AS (SELECT 99 AS id) SELECT * FROM x`},
		{query: `WITH orders AS (SELECT 'cte' AS status, 1 AS amount) PIVOT orders ON status IN ('cte', 'new') USING sum(amount)`},
		{query: `WITH orders AS (SELECT 1 AS cid, 'new' AS status, 5 AS amount) SELECT * FROM orders PIVOT (sum(amount) FOR status IN ('new'))`},
		{query: `WITH orders AS (SELECT 1 AS a, 2 AS b) UNPIVOT orders ON a, b INTO NAME k VALUE v`},
		{query: `WITH customers AS (SELECT 99 AS id) TABLE customers`},
		{query: `WITH customers AS (SELECT 99 AS id) FROM customers`},
		{query: `WITH c AS (SELECT 1 AS id) SELECT * FROM orders WHERE id IN (WITH d AS (SELECT * FROM c) SELECT * FROM d)`},
		{query: `WITH RECURSIVE customers AS (SELECT 1 AS id), r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, customers WHERE n < 3) SELECT * FROM r`},
		{query: `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT count(*) FROM customers)) SELECT * FROM r`},
		{query: `WITH RECURSIVE r(n) AS (WITH customers AS (SELECT 5 AS id) SELECT 1 UNION ALL SELECT n + 1 FROM r, customers WHERE n < customers.id) SELECT * FROM r`},
		{query: `SELECT * FROM (WITH customers AS (SELECT 99 AS id) SELECT * FROM customers) a, customers b`},
		{query: `WITH orders AS (SELECT 1 AS id) SELECT * FROM (WITH orders AS (SELECT * FROM orders) SELECT * FROM orders), customers`},
		{query: `(WITH orders AS (SELECT 100 AS id) SELECT * FROM orders) UNION ALL SELECT id FROM orders`},
		{query: `SELECT * FROM orders o, LATERAL (SELECT name FROM customers c WHERE c.id = o.cid)`},
		{query: `SELECT cid, sum(amount) FROM orders GROUP BY cid UNION ALL SELECT id, 0 FROM customers EXCEPT SELECT order_id, 0 FROM sales.items`},
		{query: `PIVOT orders ON status IN ('new', 'paid') USING sum(amount) GROUP BY cid`},
		{query: `UNPIVOT (SELECT id, cid, amount FROM orders) ON cid, amount INTO NAME k VALUE v`},
		{query: `SELECT id, row_number() OVER (PARTITION BY cid ORDER BY amount DESC) AS rn FROM orders QUALIFY rn = 1`},
		{query: `SELECT sum(amount) OVER w, count(*) OVER w FROM orders WINDOW w AS (ORDER BY id ROWS (SELECT count(*) FROM customers) PRECEDING)`},
		{query: `SELECT (SELECT count(*) FROM customers), (SELECT max(amount) FROM orders WHERE status IN (SELECT status FROM orders WHERE id = 1))`},
		{query: `SELECT CASE (SELECT count(*) FROM customers) WHEN 2 THEN 'two' WHEN 3 THEN 'three' END`},
		{query: `SELECT * FROM (VALUES (1, 'x')) v(id, tag) JOIN customers USING (id)`},
		{query: `SELECT * FROM orders WHERE id = $1`, args: []any{2}},
		{query: `SELECT * FROM orders WHERE id > ? AND cid = ?`, args: []any{1, 1}},
		{query: `SELECT * FROM orders AT (VERSION => 1)`, want: `SELECT * FROM orders_v1`},
		{query: `SELECT orders.amount FROM orders AT (VERSION => 1)`, want: `SELECT orders_v1.amount FROM orders_v1`},
		{query: `SELECT o.id FROM orders o AT (VERSION => $2) WHERE o.id >= $1`, args: []any{0, 1},
			want: `SELECT o.id FROM orders_v1 o WHERE o.id >= $1`},
		{query: `SELECT * FROM orders AT (VERSION => ?) WHERE id > ?`, args: []any{1, 0},
			want: `SELECT * FROM orders_v1 WHERE id > $2 AND $1 = $1`},
		{query: `SELECT count(*) FROM orders a AT (VERSION => $1), orders b WHERE a.id = b.id`, args: []any{1},
			want: `SELECT count(*) FROM orders_v1 a, orders b WHERE a.id = b.id`},
	}
}

func TestBindEndToEnd(t *testing.T) {
	ctx := context.Background()
	ref, floe := referenceDB(t), floeDB(t)
	cat := testCatalog()
	for _, tc := range e2eCases() {
		t.Run(tc.query, func(t *testing.T) {
			wantQuery := tc.query
			if tc.want != "" {
				wantQuery = tc.want
			}
			want, err := queryRows(ctx, ref, wantQuery, tc.args...)
			if err != nil {
				t.Fatalf("reference: %v", err)
			}
			b, err := Bind(ctx, floe, tc.query, cat.resolve)
			if err != nil {
				t.Fatal(err)
			}
			got, err := queryRows(ctx, floe, b.SQL, tc.args[:b.Params]...)
			if err != nil {
				t.Fatalf("%s: %v", b.SQL, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("bound as %s\n got %q\nwant %q", b.SQL, got, want)
			}
			if strings.Contains(strings.Join(got, " "), "SECRET") {
				t.Errorf("bound as %s: read a table Bind should have replaced", b.SQL)
			}
		})
	}
}
