// Package duckdbbench compares Floe's merged scan of a partition with
// DuckDB reading the same segment files directly. It holds only tests and
// benchmarks; it is a separate package so the storage engine's own tests do
// not link DuckDB.
package duckdbbench
