package sqlparse

// isReservedWord reports whether the lower-case word is one DuckDB does
// not accept as an unquoted table, column or alias name: its "reserved"
// and "type_function" keywords (duckdb_keywords(), DuckDB 1.5). Floe
// refuses the same words so that every name it accepts is valid DuckDB.
func isReservedWord(word string) bool {
	switch word {
	case "all", "analyse", "analyze", "and", "anti", "any", "array", "as", "asc",
		"asof", "asymmetric", "at", "authorization", "binary", "both", "by",
		"case", "cast", "check", "collate", "collation", "column", "columns",
		"concurrently", "constraint", "create", "cross", "default", "deferrable",
		"desc", "describe", "distinct", "do", "else", "end", "except", "false",
		"fetch", "for", "foreign", "freeze", "from", "full", "generated", "glob",
		"group", "having", "ilike", "in", "initially", "inner", "intersect",
		"into", "is", "isnull", "join", "lambda", "lateral", "leading", "left",
		"like", "limit", "map", "natural", "not", "notnull", "null", "offset",
		"on", "only", "or", "order", "outer", "overlaps", "pivot",
		"pivot_longer", "pivot_wider", "placing", "positional", "primary",
		"qualify", "references", "returning", "right", "select", "semi", "show",
		"similar", "some", "struct", "summarize", "symmetric", "table",
		"tablesample", "then", "to", "trailing", "true", "try_cast", "union",
		"unique", "unpack", "unpivot", "using", "variadic", "verbose", "when",
		"where", "window", "with":
		return true
	}
	return false
}
