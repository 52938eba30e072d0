// Package sqlparse parses the SQL that Floe accepts before any of it
// reaches the embedded DuckDB: it splits a script into statements,
// recognises Floe's own statements, refuses the ones Floe never runs, and
// passes queries through, rewriting only Floe's time-travel syntax.
//
// # Lexing
//
// Lex follows DuckDB's scanner (PostgreSQL's) so that Floe and DuckDB
// agree on where every string, identifier and comment ends: '…' strings
// (a doubled quote is one quote; a backslash is literal, as DuckDB's
// strings are standard-conforming),
// E'…' strings with backslash escapes, $$…$$ and $tag$…$tag$ dollar
// quotes, "quoted identifiers", -- comments and /* … */ comments, which
// nest as in DuckDB. Unquoted identifiers fold to lower case. DuckDB turns
// some Unicode spaces (U+00A0, …) into ASCII spaces before it scans, in a
// pre-pass whose result depends on the text before them; Lex mirrors that
// pre-pass, and Parse refuses such characters outside strings, quoted
// identifiers and comments, so that the statement texts it returns scan the
// same wherever Floe sends them.
//
// # Statements
//
// Parse returns one Statement per statement of a script:
//
//	CREATE NAMESPACE [IF NOT EXISTS] ns
//	DROP NAMESPACE [IF EXISTS] ns [CASCADE | RESTRICT]
//	SHOW NAMESPACES
//	USE ns
//	CREATE [USER | SHARED | STREAM] TABLE [IF NOT EXISTS] name
//	    (col type [NOT NULL | NULL | PRIMARY KEY | DEFAULT expr]…, …
//	     [, PRIMARY KEY (col, …)]) [WITH (KEY = value, …)]
//	DROP TABLE [IF EXISTS] name [CASCADE | RESTRICT]
//	ALTER TABLE name ADD [COLUMN] [IF NOT EXISTS] col type [constraint…]
//	ALTER TABLE name DROP [COLUMN] [IF EXISTS] col
//	ALTER TABLE name RENAME [COLUMN] col TO col
//	ALTER TABLE name SET ACCESS_LEVEL [=] level
//	ALTER TABLE name SET (KEY = value, …)
//	SHOW TABLES [IN | FROM ns]
//	DESCRIBE [TABLE] name, DESC [TABLE] name
//	CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [(col, …)] AS query
//	DROP VIEW [IF EXISTS] name [CASCADE | RESTRICT]
//	SHOW VIEWS [IN | FROM ns]
//	INSERT [OR REPLACE | OR IGNORE] INTO name [(col, …)] {VALUES (expr, …), … | query}
//	    [ON CONFLICT [(col, …)] {DO NOTHING | DO UPDATE SET col = expr, …}]
//	UPDATE name [[AS] alias] SET col = expr, … [WHERE expr]
//	DELETE FROM name [[AS] alias] [WHERE expr]
//	[EXPLAIN [ANALYZE]] query
//	FLUSH TABLE name, FLUSH ALL [TABLES]
//	COMPACT TABLE name
//	SUBSCRIBE TO SELECT {* | col, …} FROM name [WHERE cond] [OPTIONS (key = n, …)]
//	SUBSCRIBE TO name [WHERE cond] [OPTIONS (key = n, …)]
//	KILL LIVE QUERY 'id'
//
// A name is table or namespace.table. A query is a statement starting with
// SELECT, WITH, VALUES, FROM, TABLE or '('; the parser does not parse
// queries or expressions (Expr holds their text) beyond checking that
// brackets balance and that WITH precedes a query. In queries and
// expressions it rewrites "table AS OF VERSION n [[AS] alias]", n an
// integer or a parameter, to DuckDB's "table [[AS] alias] AT (VERSION =>
// n)".
//
// Column types map to manifest types: BOOLEAN, BOOL → BOOLEAN; INT,
// INTEGER, INT4, SIGNED, SMALLINT, INT2, TINYINT, INT1 → INT; BIGINT,
// INT8, LONG → BIGINT; REAL, FLOAT, FLOAT4 → FLOAT; DOUBLE [PRECISION],
// FLOAT8 → DOUBLE; DECIMAL, NUMERIC [(p[, s])] → DECIMAL(p,s), by default
// (18,3) as in DuckDB; TEXT, STRING, VARCHAR[(n)], CHAR[(n)], CHARACTER
// [VARYING][(n)], BPCHAR[(n)] → TEXT (n is not enforced); BYTES, BYTEA,
// BLOB, VARBINARY, BINARY → BYTES; DATE; TIMESTAMP [WITHOUT TIME ZONE],
// DATETIME → TIMESTAMP; TIMESTAMP WITH TIME ZONE, TIMESTAMPTZ →
// TIMESTAMPTZ; JSON, JSONB → JSON; UUID.
//
// # Errors
//
// Errors are *dberr.Error. Statements that would let a user reach around
// Floe (ATTACH, COPY, SET, PRAGMA, INSTALL, CREATE SECRET, DROP SCHEMA, …)
// fail with PermissionDenied; valid SQL that Floe does not run
// (transactions, RETURNING, UPDATE … FROM, WITH … INSERT, …) with
// Unsupported; everything else that does not parse with SyntaxError and
// the line and column in the whole script.
//
// # Extending
//
// statementParser maps a statement's first keyword to its parser and
// createParser does the same for the word after CREATE; a new statement
// (CREATE USER, SUBSCRIBE, …) is a new case there and a new Statement
// type (ast.go, or a file of its own as view.go).
package sqlparse
