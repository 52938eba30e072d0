package sqlbind

import (
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
)

// The node, reference and expression kinds DuckDB 1.5.6's parser emits for
// SELECT that Bind accepts. Anything else is refused.
var (
	// queryNodes: SELECT (also VALUES, FROM-first, PIVOT/UNPIVOT
	// statements), UNION/INTERSECT/EXCEPT [ALL] [BY NAME], and the
	// UNION of a WITH RECURSIVE. CTE_NODE is not emitted by the parser.
	queryNodes = set("SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE")
	// tableRefs: JOIN also carries LATERAL, POSITIONAL, ASOF, SEMI/ANTI;
	// SUBQUERY is a subquery in FROM; EXPRESSION_LIST is VALUES; EMPTY is
	// no FROM. SHOW_REF (DESCRIBE, SHOW, SUMMARIZE) is refused.
	tableRefs = set("BASE_TABLE", "TABLE_FUNCTION", "JOIN", "SUBQUERY", "EXPRESSION_LIST", "EMPTY", "PIVOT")
	// auxiliaryTypes: result modifiers (ORDER BY, LIMIT/OFFSET, LIMIT n%,
	// DISTINCT [ON]) and ORDER BY terms.
	auxiliaryTypes = set("ORDER_MODIFIER", "LIMIT_MODIFIER", "LIMIT_PERCENT_MODIFIER", "DISTINCT_MODIFIER",
		"ORDER_DEFAULT", "ASCENDING", "DESCENDING")
	// expressionClasses: the parsed expression classes. Their DuckDB
	// types (COMPARE_EQUAL, OPERATOR_TRY, ARRAY_EXTRACT, …) do not
	// matter: functions are checked by name, and every child is walked.
	expressionClasses = set("BETWEEN", "CASE", "CAST", "COLLATE", "COLUMN_REF", "COMPARISON", "CONJUNCTION",
		"CONSTANT", "FUNCTION", "LAMBDA", "OPERATOR", "PARAMETER", "POSITIONAL_REFERENCE", "STAR", "SUBQUERY", "WINDOW")
	// integerTypes: the constant types AT (VERSION => n) accepts.
	integerTypes = set("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
)

// allowedTableFunctions are the only table functions a query may call:
// they generate rows and read nothing.
var allowedTableFunctions = set("range", "generate_series", "unnest")

// deniedFunctions are functions a query may not call, by lowercase name:
// they read engine settings or state, host files or the catalog, run SQL
// text, change engine state, or handle raw aggregate states. Table
// functions are listed too: the same names could come back as scalar
// functions or macros.
var deniedFunctions = set(
	// settings, variables and the environment
	"current_setting", "getvariable", "set_variable", "getenv",
	"current_database", "current_catalog", "current_schema", "current_schemas", "in_search_path",
	// parse trees, plans and SQL text run as queries
	"json_serialize_sql", "json_deserialize_sql", "json_execute_serialized_sql", "json_serialize_plan",
	"query", "query_table",
	// files
	"read_text", "read_blob", "glob", "sniff_csv", "st_read", "st_read_meta", "st_readosm", "st_readshp",
	"load_aws_credentials", "which_secret",
	// the catalog, through pg_catalog macros over duckdb_views() & co.
	"pg_get_viewdef", "pg_get_constraintdef", "format_type", "get_block_size",
	// engine state: sequences, the random seed, the log, checkpoints
	"nextval", "currval", "setval", "setseed", "write_log",
	"checkpoint", "force_checkpoint", "enable_logging", "disable_logging", "truncate_duckdb_logs",
	"enable_profiling", "disable_profiling", "sql_auto_complete",
	// storage statistics (min/max of rows a view may filter out)
	"stats",
	// raw aggregate states
	"finalize", "combine",
)

// deniedPrefixes deny whole families: pragma_* and duckdb_* (catalog,
// settings, secrets, memory), readers and file metadata, other databases'
// scanners, Arrow pointers, DuckDB's internal functions and Floe's own
// (the size guard's checks, lakehouse/duckengine).
var deniedPrefixes = []string{
	"pragma_", "duckdb_", "read_", "parquet_", "iceberg_", "delta_", "ducklake_",
	"arrow_", "postgres_", "mysql_", "sqlite_", "__internal_", "__floe_",
}

// checkFunction refuses a denied or qualified function. The parser itself
// qualifies some built-ins with main (list_value for [1, 2]), so main is
// the one schema accepted; a method call x.f() parses as f in schema x and
// is refused too. No catalog is accepted: system.main.f would reach a
// built-in that lakehouse/duckengine's size guard shadows.
func checkFunction(catalog, schema, name string) error {
	if catalog != "" || (schema != "" && !asciiEqualFold(schema, "main")) {
		return dberr.New(dberr.PermissionDenied, "function %s is not allowed: call functions by their plain name, as f(x)",
			qualifiedName(catalog, schema, name))
	}
	lower := asciiLower(name)
	if deniedFunctions[lower] {
		return dberr.New(dberr.PermissionDenied, "function %s is not allowed in a Floe query", name)
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(lower, p) {
			return dberr.New(dberr.PermissionDenied, "function %s is not allowed in a Floe query", name)
		}
	}
	return nil
}

// checkType refuses POINTER (raw memory addresses, as arrow_scan takes)
// and AGGREGATE_STATE, named as a type id or an unbound type name.
func checkType(id, name string) error {
	for _, s := range []string{id, name} {
		switch asciiLower(s) {
		case "pointer", "aggregate_state":
			return dberr.New(dberr.PermissionDenied, "the type %s is not allowed in a Floe query", strings.ToUpper(s))
		}
	}
	return nil
}
