package sqlparse

import (
	"errors"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

type errCase struct {
	name string
	sql  string
	code dberr.Code
	// line and col are the expected position of a syntax error.
	line, col int
	// msg must be part of the message.
	msg string
}

func errCases() []errCase {
	const (
		syntax      = dberr.SyntaxError
		denied      = dberr.PermissionDenied
		unsupported = dberr.Unsupported
		invalid     = dberr.InvalidOption
	)
	return []errCase{
		// Positions and expectations.
		{"missing column type", "CREATE TABLE t (age , b INT)", syntax, 1, 21, `expected a column type after "age", found ","`},
		{"position in later statement", "SELECT 1;\nCREATE TABLE t (\n  a INT,\n  b FOO\n)", syntax, 4, 5, `unknown column type "FOO" for column "b"; use one of BOOLEAN, INT`},
		{"position counts runes", "SELECT 'ä';\n  CREATE TABLE t (ä INT, b)", syntax, 2, 27, `expected a column type after "b", found ")"`},
		{"unknown statement", "FOO bar", syntax, 1, 1, `unknown statement "FOO"`},
		{"unknown statement after comment", "-- hi\n  frobnicate", syntax, 2, 3, `unknown statement "FROBNICATE"`},
		{"not a statement", "1 + 1", syntax, 1, 1, `expected a statement, found "1"`},
		{"lexer error", "SELECT 1; SELECT 'x", syntax, 1, 18, "unterminated quoted string"},
		{"three-part name", "CREATE TABLE a.b.c (x INT)", syntax, 1, 17, "a table name has at most two parts"},
		{"two-part namespace", "CREATE NAMESPACE a.b", syntax, 1, 19, "a namespace name has one part"},
		{"reserved word as name", "CREATE TABLE select (a INT)", syntax, 1, 14, `expected a table name after "TABLE", found "select"; "select" is a reserved word: write it in double quotes`},
		{"reserved word as column", "CREATE TABLE t (a INT, from TEXT)", syntax, 1, 24, `expected a column name after ",", found "from"`},
		{"empty column list", "CREATE TABLE t ()", syntax, 1, 17, `expected a column name after "(", found ")"`},
		{"missing paren", "CREATE TABLE t a INT", syntax, 1, 16, `expected "(" after "t", found "a"`},
		{"missing comma", "CREATE TABLE t (a INT b INT)", syntax, 1, 23, `expected "," or ")" after "INT", found "b"`},
		{"unclosed column list", "CREATE TABLE t (a INT", syntax, 1, 22, `expected "," or ")" after "INT", found end of statement`},
		{"trailing junk", "CREATE TABLE t (a INT) foo", syntax, 1, 24, `expected end of statement after ")", found "foo"`},
		{"empty default", "CREATE TABLE t (a INT DEFAULT, b INT)", syntax, 1, 30, `expected an expression after "DEFAULT", found ","`},
		{"default not null", "CREATE TABLE t (a INT DEFAULT NOT NULL)", syntax, 1, 31, `expected an expression after "DEFAULT", found "NOT"`},
		{"default unbalanced", "CREATE TABLE t (a INT DEFAULT f(1]) ", syntax, 1, 34, `expected ")" to close "(" of line 1, column 32, found "]"`},
		{"two defaults", "CREATE TABLE t (a INT DEFAULT 1 DEFAULT 2)", syntax, 1, 33, `column "a" has two DEFAULT values`},
		{"null and not null", "CREATE TABLE t (a INT NOT NULL NULL)", syntax, 1, 32, `column "a" is declared both NULL and NOT NULL`},
		{"primary key twice on column", "CREATE TABLE t (a INT PRIMARY KEY PRIMARY KEY)", syntax, 1, 35, `column "a" is marked PRIMARY KEY twice`},
		{"table primary key twice", "CREATE TABLE t (a INT, b INT, PRIMARY KEY (a), PRIMARY KEY (b))", syntax, 1, 48, "PRIMARY KEY (…) is given twice"},
		{"primary key column listed twice", "CREATE TABLE t (a INT, PRIMARY KEY (a, a))", syntax, 1, 40, `column "a" is listed twice`},
		{"decimal precision too large", "CREATE TABLE t (\n  price DECIMAL(39, 2))", syntax, 2, 9, `DECIMAL precision 39 of column "price" is out of range 1..38`},
		{"decimal precision zero", "CREATE TABLE t (p NUMERIC(0))", syntax, 1, 19, `DECIMAL precision 0 of column "p" is out of range 1..38`},
		{"decimal scale above precision", "CREATE TABLE t (p DECIMAL(5,6))", syntax, 1, 19, `DECIMAL scale 6 of column "p" exceeds its precision 5`},
		{"decimal three arguments", "CREATE TABLE t (p DECIMAL(5,2,1))", syntax, 1, 30, `expected ")" after "2", found ","`},
		{"decimal not an integer", "CREATE TABLE t (p DECIMAL(5.5))", syntax, 1, 27, `expected an integer after "(", found "5.5"`},
		{"decimal huge", "CREATE TABLE t (p DECIMAL(99999999999999999999))", syntax, 1, 27, `type argument "99999999999999999999" is too large`},
		{"type takes no arguments", "CREATE TABLE t (p INT(3))", syntax, 1, 22, `column type INT of column "p" takes no arguments`},
		{"unknown type", "CREATE TABLE t (p HUGEINT)", syntax, 1, 19, `unknown column type "HUGEINT" for column "p"`},
		{"quoted type", `CREATE TABLE t (p "INT")`, syntax, 1, 19, `expected a column type after "p", found "\"INT\""`},
		{"missing option value", "CREATE TABLE t (a INT) WITH (ttl_seconds = )", syntax, 1, 44, `expected a string or number after "=", found ")"`},
		{"missing option equals", "CREATE TABLE t (a INT) WITH (ttl_seconds 5)", syntax, 1, 42, `expected "=" after "ttl_seconds", found "5"`},
		{"empty options", "CREATE TABLE t (a INT) WITH ()", syntax, 1, 30, `expected an option name after "(", found ")"`},
		{"create what", "CREATE FOO x", syntax, 1, 8, `expected TABLE, VIEW or NAMESPACE after "CREATE", found "FOO"`},
		{"create shared without table", "CREATE SHARED t (a INT)", syntax, 1, 15, `expected TABLE after "SHARED", found "t"`},
		{"drop two tables", "DROP TABLE a, b", syntax, 1, 13, `expected end of statement after "a", found ","`},
		{"drop what", "DROP t", syntax, 1, 6, `expected TABLE, VIEW or NAMESPACE after "DROP", found "t"`},
		{"alter what", "ALTER VIEW v", syntax, 1, 7, `expected TABLE after "ALTER", found "VIEW"`},
		{"alter action", "ALTER TABLE t FOO", syntax, 1, 15, `expected ADD, DROP, RENAME or SET after "t", found "FOO"`},
		{"alter set what", "ALTER TABLE t SET foo = 1", syntax, 1, 19, `expected ACCESS_LEVEL or "(" after "SET", found "foo"`},
		{"rename without to", "ALTER TABLE t RENAME a b", syntax, 1, 24, `expected TO after "a", found "b"`},
		{"show what", "SHOW databases", syntax, 1, 6, `expected TABLES, VIEWS or NAMESPACES after "SHOW", found "databases"`},
		{"flush what", "FLUSH t", syntax, 1, 7, `expected TABLE or ALL after "FLUSH", found "t"`},
		{"compact without table", "COMPACT t", syntax, 1, 9, `expected TABLE after "COMPACT", found "t"`},
		{"use two parts", "USE a.b", syntax, 1, 6, "a namespace name has one part"},
		{"insert without into", "INSERT t VALUES (1)", syntax, 1, 8, `expected INTO after "INSERT", found "t"`},
		{"insert without values", "INSERT INTO t", syntax, 1, 14, `expected VALUES or a query after "t", found end of statement`},
		{"insert or what", "INSERT OR FAIL INTO t VALUES (1)", syntax, 1, 11, `expected REPLACE or IGNORE after "OR", found "FAIL"`},
		{"insert rows differ", "INSERT INTO t VALUES (1, 2),\n  (3)", syntax, 2, 3, "VALUES row 2 has 1 values but row 1 has 2"},
		{"insert row and columns differ", "INSERT INTO t (a, b) VALUES (1)", syntax, 1, 29, "VALUES row 1 has 1 values for 2 listed columns"},
		{"insert empty row", "INSERT INTO t VALUES ()", syntax, 1, 23, `expected a value after "(", found ")"`},
		{"insert empty value", "INSERT INTO t VALUES (1, )", syntax, 1, 26, `expected a value after ",", found ")"`},
		{"insert unclosed row", "INSERT INTO t VALUES (1, (2)", syntax, 1, 29, `expected "," or ")" after ")", found end of statement`},
		{"insert column twice", "INSERT INTO t (a, b, a) VALUES (1, 2, 3)", syntax, 1, 22, `column "a" is listed twice`},
		{"insert junk after values", "INSERT INTO t VALUES (1) LIMIT 1", syntax, 1, 26, `expected end of statement after ")", found "LIMIT"`},
		{"on conflict with replace", "INSERT OR REPLACE INTO t VALUES (1) ON CONFLICT DO NOTHING", syntax, 1, 37, "cannot have an ON CONFLICT clause"},
		{"on conflict what", "INSERT INTO t VALUES (1) ON CONFLICT DO SOMETHING", syntax, 1, 41, `expected NOTHING or UPDATE after "DO", found "SOMETHING"`},
		{"update without set", "UPDATE t WHERE a = 1", syntax, 1, 10, `expected SET after "t", found "WHERE"`},
		{"update assigned twice", "UPDATE t SET a = 1, a = 2", syntax, 1, 21, `column "a" is assigned twice`},
		{"update empty where", "UPDATE t SET a = 1 WHERE", syntax, 1, 25, `expected a condition after "WHERE", found end of statement`},
		{"update missing equals", "UPDATE t SET a 1", syntax, 1, 16, `expected "=" after "a", found "1"`},
		{"delete without from", "DELETE t", syntax, 1, 8, `expected FROM after "DELETE", found "t"`},
		{"select unclosed", "SELECT (1", syntax, 1, 10, `expected ")" to close "(" of line 1, column 8, found end of statement`},
		{"select unmatched", "SELECT 1)", syntax, 1, 9, `unmatched ")"`},
		{"semicolon in parentheses", "SELECT (1; 2)", syntax, 1, 10, `expected ")" to close "("`},
		{"parenthesized non-query", "(1)", syntax, 1, 2, `expected a query after "(", found "1"`},
		{"with without query", "WITH x AS (SELECT 1)", syntax, 1, 21, `expected a query after ")", found end of statement`},
		{"with without as", "WITH x (SELECT 1) SELECT 2", syntax, 1, 19, `expected AS after ")", found "SELECT"`},
		{"explain nothing", "EXPLAIN", syntax, 1, 8, `expected a query after "EXPLAIN", found end of statement`},
		{"as of version string", "SELECT * FROM t AS OF VERSION 'x'", syntax, 1, 31, `expected a version number or parameter after "VERSION", found "'x'"`},
		{"as of version decimal", "SELECT * FROM t AS OF VERSION 1.5", syntax, 1, 31, `expected a version number or parameter after "VERSION", found "1.5"`},
		{"as of version negative", "SELECT * FROM t AS OF VERSION -1", syntax, 1, 31, `expected a version number or parameter after "VERSION", found "-"`},
		{"as of version missing", "SELECT * FROM t AS OF VERSION", syntax, 1, 30, `expected a version number or parameter after "VERSION", found end of statement`},
		{"as of version after subquery", "SELECT * FROM (SELECT 1) AS OF VERSION 1", syntax, 1, 26, "AS OF VERSION must directly follow a table name"},
		{"as of version after keyword", "SELECT * FROM t WHERE AS OF VERSION 1", syntax, 1, 23, "AS OF VERSION must directly follow a table name"},
		{"as of version missing alias", "SELECT * FROM t AS OF VERSION 1 AS", syntax, 1, 35, `expected an alias after "AS", found end of statement`},
		{"as of version in insert values", "INSERT INTO t VALUES ((SELECT 1 AS OF VERSION 2))", syntax, 1, 33, "AS OF VERSION must directly follow a table name"},

		{"unicode space between tokens", "SELECT\u00a01", syntax, 1, 7, "Unicode space character U+00A0 is not allowed outside strings, quoted identifiers and comments; use an ASCII space"},
		{"unicode space in identifier", "SELECT 1 AS x\u3000y", syntax, 1, 14, "U+3000 is not allowed"},
		{"unicode space at the end", "SELECT 1 AS x\u00a0", syntax, 1, 14, "U+00A0 is not allowed"},
		{"unicode space between string parts", "SELECT 'a'\u00a0\n'b'", syntax, 1, 11, "U+00A0 is not allowed"},
		{"unicode space in dollar tag", "SELECT $\u00a0$x$\u00a0$", syntax, 1, 9, "U+00A0 is not allowed"},
		{"unicode space smuggling a statement", "SELECT E'\\'';\nSELECT \u00a0E'\\' || '; SELECT 42; --'", syntax, 2, 8, "U+00A0 is not allowed"},
		{"unicode space in create table", "CREATE TABLE t (a\ufeffINT)", syntax, 1, 18, "U+FEFF is not allowed"},

		{"nul byte", "SELECT 1;\nSELECT 'a\x00'; ATTACH 'x'", syntax, 2, 10, "the text holds a NUL character"},
		{"invalid utf-8", "SELECT 1 AS \"ä\" , x\xff", syntax, 1, 20, "the text is not valid UTF-8"},

		// Definition rules.
		{"reserved column", "CREATE TABLE t (_seq BIGINT)", invalid, 0, 0, `column name "_seq" is reserved for a system column`},
		{"reserved column folded", "CREATE TABLE t (a INT, _DELETED BOOLEAN)", invalid, 0, 0, `column name "_deleted" is reserved`},
		{"reserved column added", "ALTER TABLE t ADD COLUMN _rowid INT", invalid, 0, 0, `column name "_rowid" is reserved`},
		{"reserved column renamed to", "ALTER TABLE t RENAME a TO _seq", invalid, 0, 0, `column name "_seq" is reserved`},
		{"duplicate option", "CREATE TABLE t (a INT) WITH (ttl_seconds = 1, TTL_SECONDS = 2)", invalid, 0, 0, "option TTL_SECONDS is given twice"},
		{"duplicate set option", "ALTER TABLE t SET (a = 1, \"A\" = 2)", invalid, 0, 0, "option A is given twice"},
		{"duplicate column", "CREATE TABLE t (a INT, A TEXT)", invalid, 0, 0, `column "a" is defined twice`},
		{"both primary keys", "CREATE TABLE t (a INT PRIMARY KEY, b INT, PRIMARY KEY (a, b))", invalid, 0, 0, `column "a" is marked PRIMARY KEY and the table has PRIMARY KEY (…) too`},
		{"two primary key columns", "CREATE TABLE t (a INT PRIMARY KEY, b INT PRIMARY KEY)", invalid, 0, 0, "use PRIMARY KEY (a, b)"},
		{"primary key not a column", "CREATE TABLE t (a INT, PRIMARY KEY (b))", invalid, 0, 0, `primary key column "b" is not a column of table t`},
		{"nullable primary key", "CREATE TABLE t (a INT NULL PRIMARY KEY)", invalid, 0, 0, `primary key column "a" cannot be NULL`},
		{"no columns", "CREATE TABLE t (PRIMARY KEY (a))", invalid, 0, 0, "table t has no columns"},
		{"add primary key column", "ALTER TABLE t ADD COLUMN c INT PRIMARY KEY", invalid, 0, 0, `column "c" cannot be added as a primary key column`},

		// Refused statements.
		{"attach", "ATTACH 'x.db' AS x", denied, 0, 0, "ATTACH is not allowed: Floe manages storage itself"},
		{"detach", "detach x", denied, 0, 0, "DETACH is not allowed: Floe manages storage itself"},
		{"copy", "COPY t TO 'x.csv'", denied, 0, 0, "COPY is not allowed: Floe manages storage itself"},
		{"export", "EXPORT DATABASE 'x'", denied, 0, 0, "EXPORT is not allowed"},
		{"import", "IMPORT DATABASE 'x'", denied, 0, 0, "IMPORT is not allowed"},
		{"checkpoint", "CHECKPOINT", denied, 0, 0, "CHECKPOINT is not allowed"},
		{"force checkpoint", "FORCE CHECKPOINT", denied, 0, 0, "FORCE CHECKPOINT is not allowed: Floe manages storage itself"},
		{"vacuum", "VACUUM", denied, 0, 0, "VACUUM is not allowed"},
		{"pragma", "PRAGMA table_info('t')", denied, 0, 0, "PRAGMA is not allowed: Floe manages the engine's settings"},
		{"set", "SET memory_limit = '1GB'", denied, 0, 0, "SET is not allowed: Floe manages the engine's settings"},
		{"reset", "RESET memory_limit", denied, 0, 0, "RESET is not allowed"},
		{"install", "INSTALL httpfs", denied, 0, 0, "INSTALL is not allowed: Floe does not load extensions"},
		{"force install", "FORCE INSTALL httpfs", denied, 0, 0, "FORCE INSTALL is not allowed: Floe does not load extensions"},
		{"load", "LOAD httpfs", denied, 0, 0, "LOAD is not allowed"},
		{"call", "CALL pragma_version()", denied, 0, 0, "CALL is not allowed"},
		{"create secret", "CREATE SECRET s (TYPE s3)", denied, 0, 0, "CREATE SECRET is not allowed: Floe manages credentials itself"},
		{"create persistent secret", "CREATE PERSISTENT SECRET s (TYPE s3)", denied, 0, 0, "CREATE PERSISTENT is not allowed"},
		{"create or replace secret", "CREATE OR REPLACE SECRET s (TYPE s3)", denied, 0, 0, "CREATE SECRET is not allowed"},
		{"create macro", "CREATE MACRO m(a) AS a", denied, 0, 0, "CREATE MACRO is not allowed: Floe manages the catalog itself"},
		{"create function", "CREATE FUNCTION f(a) AS a", denied, 0, 0, "CREATE FUNCTION is not allowed"},
		{"create index", "CREATE INDEX i ON t (a)", denied, 0, 0, "CREATE INDEX is not allowed"},
		{"create unique index", "CREATE UNIQUE INDEX i ON t (a)", denied, 0, 0, "CREATE UNIQUE is not allowed"},
		{"create sequence", "CREATE SEQUENCE s", denied, 0, 0, "CREATE SEQUENCE is not allowed"},
		{"create schema", "CREATE SCHEMA s", denied, 0, 0, "CREATE SCHEMA is not allowed: Floe manages the catalog itself; use CREATE NAMESPACE"},
		{"create type", "CREATE TYPE mood AS ENUM ('a')", denied, 0, 0, "CREATE TYPE is not allowed"},
		{"create temp table", "CREATE TEMP TABLE t (a INT)", denied, 0, 0, "CREATE TEMP is not allowed"},
		{"create temporary table", "CREATE TEMPORARY TABLE t (a INT)", denied, 0, 0, "CREATE TEMPORARY is not allowed"},
		{"drop schema", "DROP SCHEMA s", denied, 0, 0, "DROP SCHEMA is not allowed: Floe manages the catalog itself"},
		{"drop secret", "DROP SECRET s", denied, 0, 0, "DROP SECRET is not allowed"},
		{"drop macro", "DROP MACRO m", denied, 0, 0, "DROP MACRO is not allowed"},

		// Valid SQL Floe does not run.
		{"begin", "BEGIN", unsupported, 0, 0, "transactions are not supported; each statement commits on its own"},
		{"begin transaction", "BEGIN TRANSACTION", unsupported, 0, 0, "transactions are not supported"},
		{"start transaction", "START TRANSACTION", unsupported, 0, 0, "transactions are not supported"},
		{"commit", "COMMIT", unsupported, 0, 0, "transactions are not supported"},
		{"rollback", "ROLLBACK", unsupported, 0, 0, "transactions are not supported"},
		{"summarize", "SUMMARIZE t", unsupported, 0, 0, "SUMMARIZE is not supported"},
		{"pivot", "PIVOT t ON a", unsupported, 0, 0, "PIVOT is not supported"},
		{"truncate", "TRUNCATE t", unsupported, 0, 0, "TRUNCATE is not supported; use DELETE FROM table"},
		{"merge", "MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE", unsupported, 0, 0, "MERGE is not supported"},
		{"prepare", "PREPARE p AS SELECT 1", unsupported, 0, 0, "prepared statements are not supported"},
		{"execute", "EXECUTE p", unsupported, 0, 0, "prepared statements are not supported"},
		{"create user without password", "CREATE USER alice", syntax, 1, 18, `expected WITH after "alice", found end of statement`},
		{"create user password not a string", "CREATE USER alice WITH PASSWORD secret", syntax, 1, 33, "expected the password as a string literal"},
		{"create user junk after password", "CREATE USER alice WITH PASSWORD 's3cr3t' GARBAGE", syntax, 1, 42, `expected ROLE, EMAIL or the end of the statement after the password, found "GARBAGE"`},
		{"create or replace user", "CREATE OR REPLACE USER a WITH PASSWORD 'p'", unsupported, 0, 0, "CREATE OR REPLACE USER is not supported"},
		{"alter user junk after password", "ALTER USER bob SET PASSWORD 's3cr3t' ROLE dba", syntax, 1, 38, `expected "," or the end of the statement after the password, found "ROLE"`},
		{"alter user nothing", "ALTER USER bob SET", syntax, 1, 19, "expected PASSWORD, ROLE or EMAIL"},
		{"execute as unclosed", "EXECUTE AS USER 'a' (SELECT 1", syntax, 1, 21, `the "(" after EXECUTE AS USER is not closed`},
		{"execute as empty", "EXECUTE AS USER 'a' ()", syntax, 1, 21, "needs a statement inside the parentheses"},
		{"execute as nested", "EXECUTE AS USER 'a' (EXECUTE AS USER 'b' (SELECT 1))", syntax, 1, 22, "cannot be nested"},
		{"execute as trailing", "EXECUTE AS USER 'a' (SELECT 1) x", syntax, 1, 32, "expected end of statement"},
		{"prepared execute", "EXECUTE p", unsupported, 0, 0, "prepared statements are not supported"},
		{"create or replace table", "CREATE OR REPLACE TABLE t (a INT)", unsupported, 0, 0, "CREATE OR REPLACE TABLE is not supported"},
		{"create table as", "CREATE TABLE t AS SELECT 1", unsupported, 0, 0, "CREATE TABLE … AS is not supported"},
		{"table check constraint", "CREATE TABLE t (a INT, CHECK (a > 0))", unsupported, 0, 0, "table constraint CHECK is not supported"},
		{"table unique constraint", "CREATE TABLE t (a INT, UNIQUE (a))", unsupported, 0, 0, "table constraint UNIQUE is not supported"},
		{"column unique", "CREATE TABLE t (a INT UNIQUE)", unsupported, 0, 0, `column constraint UNIQUE is not supported (column "a")`},
		{"column references", "CREATE TABLE t (a INT REFERENCES u (a))", unsupported, 0, 0, "column constraint REFERENCES is not supported"},
		{"column collate", "CREATE TABLE t (a TEXT COLLATE nocase)", unsupported, 0, 0, "column constraint COLLATE is not supported"},
		{"generated column", "CREATE TABLE t (a INT, b INT GENERATED ALWAYS AS (a + 1))", unsupported, 0, 0, `generated columns are not supported (column "b")`},
		{"generated column shorthand", "CREATE TABLE t (a INT, b INT AS (a + 1))", unsupported, 0, 0, "generated columns are not supported"},
		{"default then generated", "CREATE TABLE t (a INT DEFAULT 1 GENERATED ALWAYS AS (2))", unsupported, 0, 0, "generated columns are not supported"},
		{"array type", "CREATE TABLE t (a INT[])", unsupported, 0, 0, `array column types are not supported (column "a")`},
		{"alter column", "ALTER TABLE t ALTER COLUMN a TYPE BIGINT", unsupported, 0, 0, "ALTER COLUMN is not supported"},
		{"alter add constraint", "ALTER TABLE t ADD PRIMARY KEY (a)", unsupported, 0, 0, "ALTER TABLE … ADD PRIMARY is not supported"},
		{"alter drop constraint", "ALTER TABLE t DROP CONSTRAINT c", unsupported, 0, 0, "ALTER TABLE … DROP CONSTRAINT is not supported"},
		{"rename table", "ALTER TABLE t RENAME TO u", unsupported, 0, 0, "renaming a table is not supported"},
		{"update from", "UPDATE t SET a = u.a FROM u WHERE t.k = u.k", unsupported, 0, 0, "UPDATE … FROM is not supported"},
		{"update returning", "UPDATE t SET a = 1 RETURNING *", unsupported, 0, 0, "RETURNING is not supported"},
		{"update where returning", "UPDATE t SET a = 1 WHERE b RETURNING *", unsupported, 0, 0, "RETURNING is not supported"},
		{"update tuple", "UPDATE t SET (a, b) = (1, 2)", unsupported, 0, 0, "SET (a, b) = …, is not supported"},
		{"delete returning", "DELETE FROM t RETURNING *", unsupported, 0, 0, "RETURNING is not supported"},
		{"delete using", "DELETE FROM t USING u WHERE t.a = u.a", unsupported, 0, 0, "DELETE … USING is not supported"},
		{"insert returning", "INSERT INTO t VALUES (1) RETURNING *", unsupported, 0, 0, "RETURNING is not supported"},
		{"insert select returning", "INSERT INTO t SELECT 1 RETURNING *", unsupported, 0, 0, "RETURNING is not supported"},
		{"insert default values", "INSERT INTO t DEFAULT VALUES", unsupported, 0, 0, "DEFAULT VALUES is not supported"},
		{"insert by name", "INSERT INTO t BY NAME SELECT 1 AS a", unsupported, 0, 0, "BY NAME and BY POSITION are not supported"},
		{"on conflict on constraint", "INSERT INTO t VALUES (1) ON CONFLICT ON CONSTRAINT pk DO NOTHING", unsupported, 0, 0, "ON CONSTRAINT is not supported"},
		{"on conflict target where", "INSERT INTO t VALUES (1) ON CONFLICT (a) WHERE a > 0 DO NOTHING", unsupported, 0, 0, "ON CONFLICT (…) WHERE is not supported"},
		{"on conflict update where", "INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 1 WHERE a > 0", unsupported, 0, 0, "DO UPDATE … WHERE is not supported"},
		{"with insert", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", unsupported, 0, 0, "a WITH clause may only precede a query, not INSERT"},
		{"with delete", "with recursive x as (select 1), y as (select 2) delete from t", unsupported, 0, 0, "not DELETE"},
		{"parenthesized with update", "(WITH x AS (SELECT 1) UPDATE t SET a = 1)", unsupported, 0, 0, "not UPDATE"},
		{"insert with delete", "INSERT INTO t WITH x AS (SELECT 1) DELETE FROM u", unsupported, 0, 0, "not DELETE"},
		{"explain insert", "EXPLAIN ANALYZE INSERT INTO t VALUES (1)", unsupported, 0, 0, "EXPLAIN supports only queries"},
		{"explain options", "EXPLAIN (FORMAT JSON) SELECT 1", unsupported, 0, 0, "EXPLAIN options are not supported"},
		{"describe query", "DESCRIBE SELECT 1", unsupported, 0, 0, "DESCRIBE of a query is not supported"},
		{"as of timestamp", "SELECT * FROM t AS OF TIMESTAMP now()", unsupported, 0, 0, "AS OF TIMESTAMP is not supported; use AS OF VERSION n"},
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range append(errCases(), viewErrCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			sts, err := Parse(tc.sql)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tc.sql, dump(sts))
			}
			var e *dberr.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %v is not a *dberr.Error", tc.sql, err)
			}
			if e.Code != tc.code || e.Line != tc.line || e.Col != tc.col || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Parse(%q) error:\n got %v\nwant %s: …%s… (line %d, column %d)", tc.sql, e, tc.code, tc.msg, tc.line, tc.col)
			}
		})
	}
}
