// Package layers holds the test that keeps Floe's package dependencies
// pointing one way (docs/ARCHITECTURE.md draws the same picture):
//
//	cmd/, functions/, e2e, internal/tools   entry points: flags and output
//	server/, proto/                         process assembly and the API
//	livequery/                              live queries
//	lakehouse/node                          the engine, assembled by role
//	lakehouse/{sqlexec, auth, access}       SQL and who may run it (access: principals, rights, users)
//	lakehouse/jobs                          background jobs
//	lakehouse/{tablestore, wbuf, segment,   storage engine, catalog cache,
//	  row, schema, appctx, sqlparse,        SQL parsing and binding, DuckDB
//	  sqlbind, duckengine, …}
//	manifest/                               manifests and the commit protocol
//	lakehouse/objstore, lakehouse/{config,  the object store (it imports
//	  dberr, password}, internal/*          nothing of Floe) and leaves
//
// A package may import packages of its own layer or of a lower one. The
// test parses every non-test Go file of the module, so it needs no build.
package layers
