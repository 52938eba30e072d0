package sqlbind

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// bindCase is one query of the matrix. A case either succeeds, with the
// rewritten SQL, the references handed to the resolver (formatRef) and
// the parameter count, or fails with code and a message containing msg.
type bindCase struct {
	name   string
	query  string
	sql    string
	refs   []string
	params int
	code   dberr.Code
	msg    string
}

// bindCases is the matrix, also the seed corpus of FuzzBind.
func bindCases() []bindCase {
	return []bindCase{
		// Names, aliases, qualification and quoting.
		{name: "plain", query: `SELECT * FROM orders`,
			sql: `SELECT * FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "alias", query: `SELECT o.id FROM orders o`,
			sql: `SELECT o.id FROM "__floe_1" o`, refs: []string{"orders AS o"}},
		{name: "alias with AS", query: `SELECT o.id FROM orders AS o`,
			sql: `SELECT o.id FROM "__floe_1" AS o`, refs: []string{"orders AS o"}},
		{name: "implicit alias keeps column binding", query: `SELECT orders.id FROM orders WHERE orders.cid = 1`,
			sql: `SELECT orders.id FROM "__floe_1" AS "orders" WHERE orders.cid = 1`, refs: []string{"orders"}},
		{name: "upper case", query: `SELECT * FROM ORDERS`,
			sql: `SELECT * FROM "__floe_1" AS "ORDERS"`, refs: []string{"ORDERS"}},
		{name: "schema qualified", query: `SELECT items.sku FROM sales.items`,
			sql: `SELECT items.sku FROM "__floe_3" AS "items"`, refs: []string{"sales.items"}},
		{name: "quoted qualified", query: `SELECT * FROM "sales"."items" i`,
			sql: `SELECT * FROM "__floe_3" i`, refs: []string{"sales.items AS i"}},
		{name: "spaces and comment around dot", query: "SELECT * FROM sales /* ns */ . items",
			sql: `SELECT * FROM "__floe_3" AS "items"`, refs: []string{"sales.items"}},
		{name: "newline around dot", query: "SELECT * FROM sales\n.\n\"ITEMS\" AS x",
			sql: `SELECT * FROM "__floe_3" AS x`, refs: []string{"sales.ITEMS AS x"}},
		{name: "quoted with space", query: `SELECT * FROM "My Table"`,
			sql: `SELECT * FROM "__floe_4" AS "My Table"`, refs: []string{"My Table"}},
		{name: "quoted with escaped quote", query: `SELECT * FROM "we""ird"`,
			sql: `SELECT * FROM "__floe_6" AS "we""ird"`, refs: []string{`we"ird`}},
		{name: "three-part name goes to resolver", query: `SELECT * FROM floe.sales.items`,
			code: dberr.TableNotFound, msg: "floe.sales.items"},
		{name: "unknown table", query: `SELECT * FROM nope`, code: dberr.TableNotFound, msg: "nope"},
		{name: "same table twice", query: `SELECT * FROM orders a JOIN orders b USING (id)`,
			sql: `SELECT * FROM "__floe_1" a JOIN "__floe_1" b USING (id)`, refs: []string{"orders AS a", "orders AS b"}},
		{name: "joins", query: `SELECT * FROM orders o LEFT JOIN customers c ON o.cid = c.id CROSS JOIN sales.items`,
			sql:  `SELECT * FROM "__floe_1" o LEFT JOIN "__floe_2" c ON o.cid = c.id CROSS JOIN "__floe_3" AS "items"`,
			refs: []string{"orders AS o", "customers AS c", "sales.items"}},
		{name: "positional and asof joins", query: `SELECT * FROM orders POSITIONAL JOIN customers ASOF JOIN sales.items i ON true`,
			sql:  `SELECT * FROM "__floe_1" AS "orders" POSITIONAL JOIN "__floe_2" AS "customers" ASOF JOIN "__floe_3" i ON true`,
			refs: []string{"orders", "customers", "sales.items AS i"}},
		{name: "FROM-first", query: `FROM orders`,
			sql: `FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "FROM-first with SELECT", query: `FROM orders SELECT id WHERE id > 1`,
			sql: `FROM "__floe_1" AS "orders" SELECT id WHERE id > 1`, refs: []string{"orders"}},
		{name: "TABLE statement", query: `TABLE orders`,
			sql: `TABLE "__floe_1"`, refs: []string{"orders"}},
		{name: "ONLY", query: `SELECT * FROM ONLY orders`,
			sql: `SELECT * FROM ONLY "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "TABLESAMPLE", query: `SELECT * FROM orders TABLESAMPLE 10% USING SAMPLE 5 ROWS`,
			sql: `SELECT * FROM "__floe_1" AS "orders" TABLESAMPLE 10% USING SAMPLE 5 ROWS`, refs: []string{"orders"}},
		{name: "column aliases", query: `SELECT x.a FROM orders AS x(a)`,
			sql: `SELECT x.a FROM "__floe_1" AS x(a)`, refs: []string{"orders AS x"}},

		// Subqueries, set operations, windows and other shapes.
		{name: "subquery in FROM", query: `SELECT * FROM (SELECT id FROM orders) s`,
			sql: `SELECT * FROM (SELECT id FROM "__floe_1" AS "orders") s`, refs: []string{"orders"}},
		{name: "subquery in WHERE", query: `SELECT * FROM orders WHERE cid IN (SELECT id FROM customers)`,
			sql:  `SELECT * FROM "__floe_1" AS "orders" WHERE cid IN (SELECT id FROM "__floe_2" AS "customers")`,
			refs: []string{"orders", "customers"}},
		{name: "subquery in select list", query: `SELECT (SELECT count(*) FROM customers) AS n FROM orders`,
			sql:  `SELECT (SELECT count(*) FROM "__floe_2" AS "customers") AS n FROM "__floe_1" AS "orders"`,
			refs: []string{"customers", "orders"}},
		{name: "subquery in ORDER BY and LIMIT", query: `SELECT id FROM orders ORDER BY (SELECT max(id) FROM customers) LIMIT (SELECT 1 FROM sales.items)`,
			sql:  `SELECT id FROM "__floe_1" AS "orders" ORDER BY (SELECT max(id) FROM "__floe_2" AS "customers") LIMIT (SELECT 1 FROM "__floe_3" AS "items")`,
			refs: []string{"orders", "customers", "sales.items"}},
		{name: "correlated EXISTS", query: `SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.cid)`,
			sql:  `SELECT * FROM "__floe_1" o WHERE EXISTS (SELECT 1 FROM "__floe_2" c WHERE c.id = o.cid)`,
			refs: []string{"orders AS o", "customers AS c"}},
		{name: "LATERAL", query: `SELECT * FROM orders o, LATERAL (SELECT * FROM customers c WHERE c.id = o.cid) l`,
			sql:  `SELECT * FROM "__floe_1" o, LATERAL (SELECT * FROM "__floe_2" c WHERE c.id = o.cid) l`,
			refs: []string{"orders AS o", "customers AS c"}},
		{name: "UNION ALL, INTERSECT, EXCEPT", query: `SELECT id FROM orders UNION ALL SELECT id FROM customers INTERSECT SELECT order_id FROM sales.items EXCEPT SELECT 1`,
			sql:  `SELECT id FROM "__floe_1" AS "orders" UNION ALL SELECT id FROM "__floe_2" AS "customers" INTERSECT SELECT order_id FROM "__floe_3" AS "items" EXCEPT SELECT 1`,
			refs: []string{"orders", "customers", "sales.items"}},
		{name: "UNION BY NAME", query: `SELECT * FROM orders UNION ALL BY NAME SELECT * FROM customers`,
			sql:  `SELECT * FROM "__floe_1" AS "orders" UNION ALL BY NAME SELECT * FROM "__floe_2" AS "customers"`,
			refs: []string{"orders", "customers"}},
		{name: "window and QUALIFY", query: `SELECT id, row_number() OVER (PARTITION BY cid ORDER BY id) AS rn FROM orders QUALIFY rn = 1`,
			sql: `SELECT id, row_number() OVER (PARTITION BY cid ORDER BY id) AS rn FROM "__floe_1" AS "orders" QUALIFY rn = 1`, refs: []string{"orders"}},
		{name: "named window copied into two uses", query: `SELECT sum(id) OVER w, avg(id) OVER w FROM orders WINDOW w AS (ORDER BY (SELECT 1 FROM customers))`,
			sql:  `SELECT sum(id) OVER w, avg(id) OVER w FROM "__floe_1" AS "orders" WINDOW w AS (ORDER BY (SELECT 1 FROM "__floe_2" AS "customers"))`,
			refs: []string{"orders", "customers"}},
		{name: "simple CASE copies its operand", query: `SELECT CASE (SELECT count(*) FROM customers) WHEN 1 THEN 'a' WHEN 2 THEN 'b' END`,
			sql: `SELECT CASE (SELECT count(*) FROM "__floe_2" AS "customers") WHEN 1 THEN 'a' WHEN 2 THEN 'b' END`, refs: []string{"customers"}},
		{name: "VALUES", query: `VALUES (1, 'a'), (2, 'b')`, sql: `VALUES (1, 'a'), (2, 'b')`},
		{name: "VALUES in FROM", query: `SELECT * FROM (VALUES (1)) v(x), orders`,
			sql: `SELECT * FROM (VALUES (1)) v(x), "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "PIVOT statement", query: `PIVOT orders ON status IN ('new', 'paid') USING sum(amount) GROUP BY cid`,
			sql: `PIVOT "__floe_1" AS "orders" ON status IN ('new', 'paid') USING sum(amount) GROUP BY cid`, refs: []string{"orders"}},
		{name: "PIVOT in FROM", query: `SELECT * FROM orders PIVOT (sum(amount) FOR status IN ('new', 'paid'))`,
			sql: `SELECT * FROM "__floe_1" AS "orders" PIVOT (sum(amount) FOR status IN ('new', 'paid'))`, refs: []string{"orders"}},
		{name: "UNPIVOT", query: `UNPIVOT orders ON cid, amount INTO NAME k VALUE v`,
			sql: `UNPIVOT "__floe_1" AS "orders" ON cid, amount INTO NAME k VALUE v`, refs: []string{"orders"}},
		{name: "PIVOT over an enum", query: `PIVOT orders ON status IN my_enum USING sum(amount)`,
			code: dberr.Unsupported, msg: "enum"},
		{name: "allowed table functions", query: `SELECT * FROM range(3), generate_series(1, 2), unnest([1, 2]) u(x)`,
			sql: `SELECT * FROM range(3), generate_series(1, 2), unnest([1, 2]) u(x)`},
		{name: "table function argument is walked", query: `SELECT * FROM range((SELECT count(*) FROM orders))`,
			sql: `SELECT * FROM range((SELECT count(*) FROM "__floe_1" AS "orders"))`, refs: []string{"orders"}},
		{name: "grouping and modifiers", query: `SELECT DISTINCT ON (cid) cid, count(*) FROM orders GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 10 OFFSET 1`,
			sql: `SELECT DISTINCT ON (cid) cid, count(*) FROM "__floe_1" AS "orders" GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 10 OFFSET 1`, refs: []string{"orders"}},
		{name: "literals and lambdas", query: `SELECT [x * 2 FOR x IN [1, 2]], list_transform([1], lambda y: y + 1), {'a': 1}, MAP {1: 2}, 'x'::VARCHAR, TRY(1 / 0), COLUMNS('a.*')`,
			sql: `SELECT [x * 2 FOR x IN [1, 2]], list_transform([1], lambda y: y + 1), {'a': 1}, MAP {1: 2}, 'x'::VARCHAR, TRY(1 / 0), COLUMNS('a.*')`},
		{name: "infinite constants", query: `SELECT 1e999, -1e999 FROM orders`,
			sql: `SELECT 1e999, -1e999 FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "main-qualified function", query: `SELECT main.lower('X')`, sql: `SELECT main.lower('X')`},

		// Parameters.
		{name: "dollar parameters", query: `SELECT * FROM orders WHERE id = $1 AND cid = $2`,
			sql: `SELECT * FROM "__floe_1" AS "orders" WHERE id = $1 AND cid = $2`, refs: []string{"orders"}, params: 2},
		{name: "question mark parameters", query: `SELECT * FROM orders WHERE id = ? AND cid = ?`,
			sql: `SELECT * FROM "__floe_1" AS "orders" WHERE id = ? AND cid = ?`, refs: []string{"orders"}, params: 2},
		{name: "highest parameter counts", query: `SELECT $3`, sql: `SELECT $3`, params: 3},
		{name: "named parameter", query: `SELECT * FROM orders WHERE id = $name`, code: dberr.Unsupported, msg: "$name"},

		// CTE scoping (see the package documentation).
		{name: "CTE", query: `WITH recent AS (SELECT * FROM orders) SELECT * FROM recent`,
			sql: `WITH recent AS (SELECT * FROM "__floe_1" AS "orders") SELECT * FROM recent`, refs: []string{"orders"}},
		{name: "CTE shadows a table", query: `WITH orders AS (SELECT 1 AS id) SELECT * FROM orders, customers`,
			sql: `WITH orders AS (SELECT 1 AS id) SELECT * FROM orders, "__floe_2" AS "customers"`, refs: []string{"customers"}},
		{name: "CTE body naming itself reads the table", query: `WITH orders AS (SELECT * FROM orders WHERE id > 1) SELECT * FROM orders`,
			sql: `WITH orders AS (SELECT * FROM "__floe_1" AS "orders" WHERE id > 1) SELECT * FROM orders`, refs: []string{"orders"}},
		{name: "CTE named like a table used by a later CTE", query: `WITH customers AS (SELECT 1 AS id), big AS (SELECT * FROM customers) SELECT * FROM big, orders`,
			sql: `WITH customers AS (SELECT 1 AS id), big AS (SELECT * FROM customers) SELECT * FROM big, "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "CTE named before its declaration reads the table", query: `WITH big AS (SELECT * FROM customers), customers AS (SELECT 1 AS id) SELECT * FROM big`,
			sql: `WITH big AS (SELECT * FROM "__floe_2" AS "customers"), customers AS (SELECT 1 AS id) SELECT * FROM big`, refs: []string{"customers"}},
		{name: "CTE names are case-insensitive", query: `WITH Orders AS (SELECT 1) SELECT * FROM ORDERS`,
			sql: `WITH Orders AS (SELECT 1) SELECT * FROM ORDERS`},
		{name: "quoted CTE name", query: `WITH "ORDERS" AS (SELECT 1) SELECT * FROM orders`,
			sql: `WITH "ORDERS" AS (SELECT 1) SELECT * FROM orders`},
		{name: "CTE names fold ASCII only", query: `WITH "É" AS (SELECT 1) SELECT * FROM "é"`,
			code: dberr.TableNotFound, msg: "é"},
		{name: "qualified name is never a CTE", query: `WITH items AS (SELECT 1) SELECT * FROM sales.items, items`,
			sql: `WITH items AS (SELECT 1) SELECT * FROM "__floe_3" AS "items", items`, refs: []string{"sales.items"}},
		{name: "recursive CTE", query: `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r, orders`,
			sql: `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r, "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "recursive CTE anchor reads the table", query: `WITH RECURSIVE orders AS (SELECT id FROM orders UNION ALL SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders`,
			sql: `WITH RECURSIVE orders AS (SELECT id FROM "__floe_1" AS "orders" UNION ALL SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders`, refs: []string{"orders"}},
		{name: "WITH RECURSIVE without UNION reads the table", query: `WITH RECURSIVE orders AS (SELECT * FROM orders) SELECT * FROM orders`,
			sql: `WITH RECURSIVE orders AS (SELECT * FROM "__floe_1" AS "orders") SELECT * FROM orders`, refs: []string{"orders"}},
		{name: "recursive step sees itself in subqueries", query: `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT max(n) FROM r)) SELECT * FROM r`,
			sql: `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT max(n) FROM r)) SELECT * FROM r`},
		{name: "USING KEY recurring table is resolved", query: `WITH RECURSIVE t(n) USING KEY (n) AS (SELECT 1 UNION SELECT n + 1 FROM recurring.t WHERE n < 3) SELECT * FROM t`,
			code: dberr.TableNotFound, msg: "recurring.t"},
		{name: "CTE in a subquery is not visible outside", query: `SELECT * FROM (WITH orders AS (SELECT 1 AS id) SELECT * FROM orders) s, orders`,
			sql: `SELECT * FROM (WITH orders AS (SELECT 1 AS id) SELECT * FROM orders) s, "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "CTE visible in both sides of a UNION", query: `WITH c AS (SELECT 1) SELECT * FROM c UNION ALL SELECT * FROM c`,
			sql: `WITH c AS (SELECT 1) SELECT * FROM c UNION ALL SELECT * FROM c`},
		{name: "CTE of a parenthesized UNION side", query: `(WITH orders AS (SELECT 1 AS id) SELECT * FROM orders) UNION ALL SELECT id FROM orders`,
			sql: `(WITH orders AS (SELECT 1 AS id) SELECT * FROM orders) UNION ALL SELECT id FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "CTE visible in subqueries", query: `WITH c AS (SELECT 1 AS id) SELECT (SELECT id FROM c) FROM orders WHERE id IN (SELECT id FROM c) ORDER BY (SELECT id FROM c)`,
			sql: `WITH c AS (SELECT 1 AS id) SELECT (SELECT id FROM c) FROM "__floe_1" AS "orders" WHERE id IN (SELECT id FROM c) ORDER BY (SELECT id FROM c)`, refs: []string{"orders"}},
		{name: "inner CTE body sees the outer CTE of the same name", query: `WITH orders AS (SELECT 1 AS id) SELECT * FROM (WITH orders AS (SELECT * FROM orders) SELECT * FROM orders)`,
			sql: `WITH orders AS (SELECT 1 AS id) SELECT * FROM (WITH orders AS (SELECT * FROM orders) SELECT * FROM orders)`},
		{name: "CTE named like a replacement", query: `WITH "__floe_1" AS (SELECT 1) SELECT * FROM orders`,
			code: dberr.PermissionDenied, msg: "reserved"},
		{name: "AT on a CTE", query: `WITH c AS (SELECT 1) SELECT * FROM c AT (VERSION => 1)`,
			code: dberr.Unsupported, msg: "CTE"},

		// AT (VERSION => …).
		{name: "AT constant", query: `SELECT * FROM orders AT (VERSION => 3)`,
			sql: `SELECT * FROM "__floe_1_v3" AS "orders"`, refs: []string{"orders @v3"}},
		{name: "AT with alias", query: `SELECT o.id FROM orders AS o AT (VERSION => 3) WHERE o.id > 1`,
			sql: `SELECT o.id FROM "__floe_1_v3" AS o WHERE o.id > 1`, refs: []string{"orders AS o @v3"}},
		{name: "AT with column aliases and sample", query: `SELECT * FROM orders x(a, "b)") AT (VERSION => 2) TABLESAMPLE 1 ROWS`,
			sql: `SELECT * FROM "__floe_1_v2" x(a, "b)") TABLESAMPLE 1 ROWS`, refs: []string{"orders AS x @v2"}},
		{name: "AT without spaces, with a comment", query: `SELECT * FROM orders AT(VERSION=>/* v */ 3)JOIN customers USING (id)`,
			sql: `SELECT * FROM "__floe_1_v3" AS "orders" JOIN "__floe_2" AS "customers" USING (id)`, refs: []string{"orders @v3", "customers"}},
		{name: "AT parameter", query: `SELECT * FROM orders AT (VERSION => $1)`,
			sql: `SELECT * FROM (SELECT * FROM "__floe_1_p1" WHERE $1 IS NULL OR TRUE) AS "orders"`, refs: []string{"orders @$1"}, params: 1},
		{name: "AT parameter keeps parameter numbers", query: `SELECT o.id FROM orders o AT (VERSION => $2) WHERE o.id = $1`,
			sql: `SELECT o.id FROM (SELECT * FROM "__floe_1_p2" WHERE $2 IS NULL OR TRUE) o WHERE o.id = $1`, refs: []string{"orders AS o @$2"}, params: 2},
		{name: "AT question mark keeps order", query: `SELECT * FROM orders AT (VERSION => ?) WHERE id = ?`,
			sql: `SELECT * FROM (SELECT * FROM "__floe_1_p1" WHERE ? IS NULL OR TRUE) AS "orders" WHERE id = ?`, refs: []string{"orders @$1"}, params: 2},
		{name: "AT on two tables", query: `SELECT * FROM orders AT (VERSION => 1), sales.items i AT (VERSION => 2)`,
			sql: `SELECT * FROM "__floe_1_v1" AS "orders", "__floe_3_v2" i`, refs: []string{"orders @v1", "sales.items AS i @v2"}},
		{name: "alias after AT", query: `SELECT * FROM orders AT (VERSION => 1) o`, code: dberr.SyntaxError},
		{name: "AT negative constant is passed on", query: `SELECT * FROM orders AT (VERSION => -1)`,
			sql: `SELECT * FROM "__floe_1_v-1" AS "orders"`, refs: []string{"orders @v-1"}},
		{name: "AT TIMESTAMP", query: `SELECT * FROM orders AT (TIMESTAMP => now())`, code: dberr.Unsupported, msg: "TIMESTAMP"},
		{name: "AT expression", query: `SELECT * FROM orders AT (VERSION => 1 + 1)`, code: dberr.Unsupported, msg: "integer or a parameter"},
		{name: "AT cast", query: `SELECT * FROM orders AT (VERSION => 3::INT)`, code: dberr.Unsupported, msg: "integer or a parameter"},
		{name: "AT string", query: `SELECT * FROM orders AT (VERSION => '3')`, code: dberr.Unsupported, msg: "integer or a parameter"},
		{name: "AT out of range", query: `SELECT * FROM orders AT (VERSION => 99999999999999999999)`, code: dberr.InvalidArgument, msg: "out of range"},
		{name: "AT named parameter", query: `SELECT * FROM orders AT (VERSION => $v)`, code: dberr.Unsupported, msg: "$v"},

		// Statements other than one SELECT.
		{name: "two statements", query: `SELECT 1; SELECT 2`, code: dberr.SyntaxError, msg: "one statement per query"},
		{name: "SELECT then ATTACH", query: `SELECT 1; ATTACH 'x.db' AS x`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "COPY", query: `COPY orders TO '/tmp/x.csv'`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "COPY query", query: `COPY (SELECT 1) TO '/tmp/x.csv'`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "PRAGMA", query: `PRAGMA database_list`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "SET", query: `SET enable_external_access = true`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "SET VARIABLE", query: `SET VARIABLE x = 1`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "INSTALL", query: `INSTALL httpfs`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "LOAD", query: `LOAD httpfs`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "ATTACH", query: `ATTACH '/tmp/x.db' AS x`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "CALL", query: `CALL duckdb_settings()`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "EXPLAIN", query: `EXPLAIN SELECT 1`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "CREATE TABLE AS", query: `CREATE TABLE x AS SELECT 1`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "INSERT", query: `INSERT INTO orders SELECT * FROM orders`, code: dberr.PermissionDenied, msg: "only SELECT"},
		{name: "DESCRIBE", query: `DESCRIBE orders`, code: dberr.PermissionDenied, msg: "DESCRIBE"},
		{name: "SUMMARIZE in a subquery", query: `SELECT * FROM (SUMMARIZE orders)`, code: dberr.PermissionDenied, msg: "SUMMARIZE"},
		{name: "SHOW TABLES", query: `SHOW TABLES`, code: dberr.PermissionDenied, msg: "SHOW"},
		{name: "syntax error", query: "SELECT *\nFROM orders WHERE (", code: dberr.SyntaxError, msg: "syntax error"},
		{name: "empty", query: `-- nothing`, code: dberr.SyntaxError, msg: "empty"},
		{name: "NUL byte", query: "SELECT 1\x00; ATTACH 'x'", code: dberr.SyntaxError, msg: "NUL"},
		{name: "invalid UTF-8", query: "SELECT '\x87'", code: dberr.SyntaxError, msg: "UTF-8"},
		{name: "not implemented by the parser", query: `SELECT 1 BETWEEN SYMMETRIC 0 AND 2`, code: dberr.Unsupported},
		{name: "DEFAULT", query: `SELECT DEFAULT`, code: dberr.Unsupported, msg: "DEFAULT"},

		// Files, settings and the engine.
		{name: "read_parquet", query: `SELECT * FROM read_parquet('/data/x.parquet')`, code: dberr.PermissionDenied, msg: "table function read_parquet is not allowed: query Floe tables by name"},
		{name: "read_csv", query: `SELECT * FROM read_csv('/etc/passwd')`, code: dberr.PermissionDenied, msg: "read_csv"},
		{name: "read_json", query: `SELECT * FROM read_json('/etc/x.json')`, code: dberr.PermissionDenied, msg: "read_json"},
		{name: "read_text", query: `SELECT * FROM read_text('/etc/passwd')`, code: dberr.PermissionDenied, msg: "read_text"},
		{name: "parquet_scan", query: `SELECT * FROM parquet_scan('/x')`, code: dberr.PermissionDenied, msg: "parquet_scan"},
		{name: "glob", query: `SELECT * FROM glob('/*')`, code: dberr.PermissionDenied, msg: "glob"},
		{name: "query()", query: `SELECT * FROM query('SELECT current_setting(''threads'')')`, code: dberr.PermissionDenied, msg: "query"},
		{name: "query_table", query: `SELECT * FROM query_table('orders')`, code: dberr.PermissionDenied, msg: "query_table"},
		{name: "json_execute_serialized_sql", query: `SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))`, code: dberr.PermissionDenied, msg: "json_execute_serialized_sql"},
		{name: "parquet_metadata", query: `SELECT * FROM parquet_metadata('/x.parquet')`, code: dberr.PermissionDenied, msg: "parquet_metadata"},
		{name: "duckdb_settings()", query: `SELECT * FROM duckdb_settings()`, code: dberr.PermissionDenied, msg: "duckdb_settings"},
		{name: "qualified table function", query: `SELECT * FROM main.range(3)`, code: dberr.PermissionDenied, msg: "main.range"},
		{name: "histogram table macro", query: `SELECT * FROM histogram(orders, id)`, code: dberr.PermissionDenied, msg: "histogram"},
		{name: "arrow_scan with pointers", query: `SELECT * FROM arrow_scan(1::POINTER, 2::POINTER, 3::POINTER)`, code: dberr.PermissionDenied, msg: "arrow_scan"},
		{name: "file as a table", query: `SELECT * FROM '/etc/passwd'`, code: dberr.TableNotFound, msg: "/etc/passwd"},
		{name: "quoted file as a table", query: `SELECT * FROM "/etc/passwd"`, code: dberr.TableNotFound, msg: "/etc/passwd"},
		{name: "parquet file as a table", query: `SELECT * FROM 'data/*.parquet'`, code: dberr.TableNotFound, msg: "data/*.parquet"},
		{name: "table function in WHERE subquery", query: `SELECT * FROM orders WHERE id IN (SELECT * FROM read_csv('/etc/passwd'))`, code: dberr.PermissionDenied, msg: "read_csv"},
		{name: "table function in CTE body", query: `WITH c AS (SELECT * FROM glob('/*')) SELECT * FROM c`, code: dberr.PermissionDenied, msg: "glob"},
		{name: "table function in LATERAL", query: `SELECT * FROM orders, LATERAL (SELECT * FROM read_blob('/etc/passwd'))`, code: dberr.PermissionDenied, msg: "read_blob"},
		{name: "table function in select-list subquery", query: `SELECT (SELECT count(*) FROM sniff_csv('/etc/passwd'))`, code: dberr.PermissionDenied, msg: "sniff_csv"},
		{name: "information_schema", query: `SELECT * FROM information_schema.tables`, code: dberr.TableNotFound, msg: "information_schema.tables"},
		{name: "pg_catalog", query: `SELECT * FROM pg_catalog.pg_settings`, code: dberr.TableNotFound, msg: "pg_catalog.pg_settings"},
		{name: "duckdb_tables view", query: `SELECT * FROM duckdb_tables`, code: dberr.TableNotFound, msg: "duckdb_tables"},
		{name: "sqlite_master", query: `SELECT * FROM sqlite_master`, code: dberr.TableNotFound, msg: "sqlite_master"},
		{name: "a replacement by name", query: `SELECT * FROM temp.main."__floe_1"`, code: dberr.TableNotFound, msg: "__floe_1"},
		{name: "current_setting", query: `SELECT current_setting('allowed_directories')`, code: dberr.PermissionDenied, msg: "current_setting"},
		{name: "current_setting upper case", query: `SELECT CURRENT_SETTING('threads')`, code: dberr.PermissionDenied, msg: "current_setting"},
		{name: "current_setting as a window", query: `SELECT current_setting('threads') OVER ()`, code: dberr.PermissionDenied, msg: "current_setting"},
		{name: "current_setting in a lambda", query: `SELECT list_transform(['threads'], x -> current_setting(x))`, code: dberr.PermissionDenied, msg: "current_setting"},
		{name: "current_setting in AT-less subquery", query: `SELECT * FROM orders WHERE id = (SELECT current_setting('threads'))`, code: dberr.PermissionDenied, msg: "current_setting"},
		{name: "getenv", query: `SELECT getenv('HOME')`, code: dberr.PermissionDenied, msg: "getenv"},
		{name: "getvariable", query: `SELECT getvariable('secret')`, code: dberr.PermissionDenied, msg: "getvariable"},
		{name: "json_serialize_plan", query: `SELECT json_serialize_plan('SELECT * FROM orders')`, code: dberr.PermissionDenied, msg: "json_serialize_plan"},
		{name: "json_serialize_sql", query: `SELECT json_serialize_sql('SELECT 1')`, code: dberr.PermissionDenied, msg: "json_serialize_sql"},
		{name: "json_deserialize_sql", query: `SELECT json_deserialize_sql('{}')`, code: dberr.PermissionDenied, msg: "json_deserialize_sql"},
		{name: "current_database", query: `SELECT current_database()`, code: dberr.PermissionDenied, msg: "current_database"},
		{name: "current_schemas", query: `SELECT current_schemas(true)`, code: dberr.PermissionDenied, msg: "current_schemas"},
		{name: "pg_get_viewdef reads view SQL", query: `SELECT pg_get_viewdef(1)`, code: dberr.PermissionDenied, msg: "pg_get_viewdef"},
		{name: "format_type reads duckdb_types", query: `SELECT format_type(1, 1)`, code: dberr.PermissionDenied, msg: "format_type"},
		{name: "get_block_size reads the database", query: `SELECT get_block_size('memory')`, code: dberr.PermissionDenied, msg: "get_block_size"},
		{name: "nextval", query: `SELECT nextval('seq')`, code: dberr.PermissionDenied, msg: "nextval"},
		{name: "stats", query: `SELECT stats(id) FROM orders`, code: dberr.PermissionDenied, msg: "stats"},
		{name: "setseed", query: `SELECT setseed(0.5)`, code: dberr.PermissionDenied, msg: "setseed"},
		{name: "write_log", query: `SELECT write_log('x')`, code: dberr.PermissionDenied, msg: "write_log"},
		{name: "duckdb_ prefix", query: `SELECT duckdb_secrets()`, code: dberr.PermissionDenied, msg: "duckdb_secrets"},
		{name: "pragma_ prefix", query: `SELECT pragma_version()`, code: dberr.PermissionDenied, msg: "pragma_version"},
		{name: "internal function", query: `SELECT __internal_decompress_string(1::UBIGINT)`, code: dberr.PermissionDenied, msg: "__internal_decompress_string"},
		{name: "EXPORT_STATE", query: `SELECT sum(id) EXPORT_STATE FROM orders`, code: dberr.PermissionDenied, msg: "EXPORT_STATE"},
		{name: "finalize", query: `SELECT finalize(NULL)`, code: dberr.PermissionDenied, msg: "finalize"},
		{name: "pointer cast", query: `SELECT 1::POINTER`, code: dberr.PermissionDenied, msg: "POINTER"},
		{name: "nested pointer type", query: `SELECT CAST(NULL AS STRUCT(p POINTER)[])`, code: dberr.PermissionDenied, msg: "POINTER"},
		{name: "pg_catalog-qualified function", query: `SELECT pg_catalog.lower('x')`, code: dberr.PermissionDenied, msg: "pg_catalog.lower"},
		{name: "catalog-qualified function", query: `SELECT system.main.lower('x')`, code: dberr.PermissionDenied, msg: "system.main.lower"},
		{name: "method call", query: `SELECT x.upper() FROM (SELECT 'a' AS x)`, code: dberr.PermissionDenied, msg: "x.upper"},

		// Size arguments (sizeargs.go) and the size guard's built-ins.
		{name: "built-in past the size guard", query: `SELECT system.main.repeat('a', 3)`, code: dberr.PermissionDenied, msg: "system.main.repeat"},
		{name: "quoted built-in past the size guard", query: `SELECT "system"."main"."range"(3)`, code: dberr.PermissionDenied, msg: "system.main.range"},
		{name: "size guard check", query: `SELECT __floe_times('repeat', 3, 1)`, code: dberr.PermissionDenied, msg: "__floe_times"},
		{name: "top-n within limit", query: `SELECT max(id, 10), arg_max(id, cid, 5), approx_top_k(id, 3), reservoir_quantile(id, 0.5, 100) FROM orders`,
			sql: `SELECT max(id, 10), arg_max(id, cid, 5), approx_top_k(id, 3), reservoir_quantile(id, 0.5, 100) FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "top-n too large", query: `SELECT max(id, 1000000000) FROM orders`, code: dberr.ResourceExhausted, msg: "max: the size argument 1000000000"},
		{name: "top-n from a column", query: `SELECT min_by(id, cid, cid) FROM orders`, code: dberr.Unsupported, msg: "integer constant"},
		{name: "top-n as a window", query: `SELECT max(id, 2000000000) OVER () FROM orders`, code: dberr.ResourceExhausted, msg: "max"},
		{name: "top-n from a parameter", query: `SELECT approx_top_k(id, $1) FROM orders`, code: dberr.Unsupported, msg: "approx_top_k"},
		{name: "reservoir sample too large", query: `SELECT reservoir_quantile(id, 0.5, 2000000000) FROM orders`, code: dberr.ResourceExhausted, msg: "reservoir_quantile"},
		{name: "bitstring_agg within limit", query: `SELECT bitstring_agg(id, 1, 1000) FROM orders`,
			sql: `SELECT bitstring_agg(id, 1, 1000) FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "bitstring_agg too wide", query: `SELECT bitstring_agg(id, 0, 9000000000000) FROM orders`, code: dberr.ResourceExhausted, msg: "bitstring_agg"},
		{name: "bitstring_agg from statistics", query: `SELECT bitstring_agg(id) FROM orders`, code: dberr.Unsupported, msg: "bitstring_agg(x, min, max)"},
		{name: "regexp_replace constant", query: `SELECT regexp_replace(note, '\s+', ' ', 'g') FROM orders`,
			sql: `SELECT regexp_replace(note, '\s+', ' ', 'g') FROM "__floe_1" AS "orders"`, refs: []string{"orders"}},
		{name: "regexp_replace computed replacement", query: `SELECT regexp_replace(note, '', repeat('b', 1000), 'g') FROM orders`, code: dberr.Unsupported, msg: "replacement must be a string constant"},
		{name: "regexp_replace long replacement", query: `SELECT regexp_replace('a', '', '` + strings.Repeat("b", 65) + `', 'g')`, code: dberr.ResourceExhausted, msg: "65 bytes"},
	}
}

func TestBind(t *testing.T) {
	ctx := context.Background()
	conn := openConn(t)
	cat := testCatalog()
	for _, tc := range bindCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bind(ctx, conn, tc.query, cat.resolve)
			if tc.code != "" {
				if err == nil {
					t.Fatalf("Bind succeeded with %q, want %s", b.SQL, tc.code)
				}
				var de *dberr.Error
				if !errors.As(err, &de) || de.Code != tc.code || !strings.Contains(de.Msg, tc.msg) {
					t.Fatalf("error %v, want %s containing %q", err, tc.code, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.SQL != tc.sql {
				t.Errorf("SQL\n got %s\nwant %s", b.SQL, tc.sql)
			}
			var refs []string
			for _, r := range b.Tables {
				refs = append(refs, formatRef(r))
				checkLocation(t, tc.query, r)
			}
			if !slices.Equal(refs, tc.refs) {
				t.Errorf("refs %q, want %q", refs, tc.refs)
			}
			if b.Params != tc.params {
				t.Errorf("Params %d, want %d", b.Params, tc.params)
			}
		})
	}
}

// checkLocation checks that the reference's text starts with its first
// name part, quoted or not.
func checkLocation(t *testing.T, query string, r TableRef) {
	t.Helper()
	first := r.Name
	if r.Catalog != "" {
		first = r.Catalog
	} else if r.Schema != "" {
		first = r.Schema
	}
	text := query[r.Location:]
	if !strings.HasPrefix(asciiLower(text), asciiLower(first)) && !strings.HasPrefix(asciiLower(text), asciiLower(quoteIdent(first))) {
		t.Errorf("reference %s at byte %d: text there is %.20q", formatRef(r), r.Location, text)
	}
}

func TestBindSyntaxErrorPosition(t *testing.T) {
	conn := openConn(t)
	for _, tc := range []struct {
		query     string
		line, col int
	}{
		{"SELECT *\nFROM orders WHERE (", 2, 20},
		{"SELECT 'é€€€' FRM x", 1, 19},
		{"SELECT 1,\n  'é€' FRM x", 2, 12},
	} {
		_, err := Bind(context.Background(), conn, tc.query, testCatalog().resolve)
		var de *dberr.Error
		if !errors.As(err, &de) || de.Code != dberr.SyntaxError || de.Line != tc.line || de.Col != tc.col {
			t.Errorf("%q: got %v, want a syntax error at line %d, column %d", tc.query, err, tc.line, tc.col)
		}
	}
}

func TestBindReturnsResolverErrorAsIs(t *testing.T) {
	denied := dberr.New(dberr.PermissionDenied, "no access to customers")
	resolve := func(ref TableRef) (string, error) {
		if ref.Name == "customers" {
			return "", denied
		}
		return testCatalog().resolve(ref)
	}
	_, err := Bind(context.Background(), openConn(t), `SELECT * FROM orders, customers`, resolve)
	if err != denied {
		t.Fatalf("got %v, want the resolver's error itself", err)
	}
}

func TestBindResolvesInTextOrder(t *testing.T) {
	var got []string
	resolve := func(ref TableRef) (string, error) {
		got = append(got, ref.Name)
		return testCatalog().resolve(ref)
	}
	_, err := Bind(context.Background(), openConn(t),
		`SELECT (SELECT 1 FROM customers) FROM orders WHERE EXISTS (SELECT 1 FROM sales.items) ORDER BY (SELECT 1 FROM "My Table")`, resolve)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"customers", "orders", "items", "My Table"}; !slices.Equal(got, want) {
		t.Fatalf("resolver calls %q, want %q", got, want)
	}
}

func TestBindRefusesBadReplacement(t *testing.T) {
	for _, repl := range []string{`read_csv('/etc/passwd')`, `"__floe_1" x`, `"__floe_1"; ATTACH 'x'`, ``, `a.b.c.d`, `"open`} {
		resolve := func(TableRef) (string, error) { return repl, nil }
		_, err := Bind(context.Background(), openConn(t), `SELECT * FROM orders`, resolve)
		if err == nil || dberr.CodeOf(err) != dberr.Internal {
			t.Errorf("replacement %q: got %v, want an internal error", repl, err)
		}
	}
}

func TestBindQualifiedReplacement(t *testing.T) {
	resolve := func(TableRef) (string, error) { return `temp.main."__floe_9"`, nil }
	b, err := Bind(context.Background(), openConn(t), `SELECT orders.id FROM orders`, resolve)
	if err != nil {
		t.Fatal(err)
	}
	if want := `SELECT orders.id FROM temp.main."__floe_9" AS "orders"`; b.SQL != want {
		t.Fatalf("got %s, want %s", b.SQL, want)
	}
}

func TestBindCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Bind(ctx, openConn(t), `SELECT * FROM orders`, testCatalog().resolve)
	if dberr.CodeOf(err) != dberr.Canceled {
		t.Fatalf("got %v, want CANCELED", err)
	}
}

func TestNonFiniteToNull(t *testing.T) {
	in := `{"a":Infinity,"b":[-Infinity,NaN,1],"c":"Infinity \\\" NaN","d":"\\","e":NaN}`
	want := `{"a":null,"b":[null,null,1],"c":"Infinity \\\" NaN","d":"\\","e":null}`
	if got := nonFiniteToNull(in); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
