// Package duckdbtest checks that DuckDB (through duckdb-go, the engine Floe
// embeds) reads Floe segments with the expected types and values, and that
// its row-group pruning on segment statistics gives correct answers. It
// holds only tests; it is a separate package so that the segment package's
// own tests do not link DuckDB.
package duckdbtest
