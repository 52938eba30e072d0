// Package sqlbind checks a user's SELECT and rewrites its table references
// to the data the user may see, before DuckDB runs it.
//
// Bind asks DuckDB itself to parse the query (json_serialize_sql), walks the
// parse tree, hands every table reference to a Resolver, and replaces each
// reference in the query text with the resolver's answer: `FROM orders o`
// becomes `FROM "__floe_3" o`, and `FROM orders` becomes
// `FROM "__floe_3" AS "orders"` so that `orders.col` still binds.
//
// # Security invariant
//
// If Bind returns a Bound b and no error, then b.SQL, parsed by the DuckDB
// that q talks to, is exactly one SELECT statement in which
//
//   - every table reference is either the replacement that resolve
//     returned for the user's reference at that position, or an
//     unqualified name that DuckDB binds to a common table expression
//     (WITH) in scope, by the scoping rules below;
//   - every table function is range, generate_series or unnest, called by
//     its plain name;
//   - no scalar, aggregate or window function on the deny list is called
//     (see deniedFunctions: settings, variables, files, the catalog,
//     sequences, query execution, aggregate states), and no function is
//     called with a catalog or a schema other than main;
//   - no type POINTER or AGGREGATE_STATE is named;
//   - parameters are positional ($n or ?), and b.Params is the highest.
//
// With BindInline, a resolver may instead put a query Bind returned
// earlier (a view's) at a reference, as a parenthesized subquery. Its table
// references count as replacements of the outer query at their new
// positions, so the invariant above holds for the whole text: a CTE of
// the outer query cannot capture them, and an inlined query is checked by
// the same rules as the user's.
//
// A resolver may also return a placeholder name with a trusted query of
// its own (Replacement.Trusted: Floe's SQL for a table's rows, which reads
// files). Everything above is established for the text with the
// placeholder at the reference (Bound's checked text); only then is the
// placeholder, at the positions where the check found it as a table
// reference, replaced by the trusted query in parentheses. So b.SQL is the
// checked text with some verified table references replaced by the
// resolver's own queries, and nothing the user wrote is exempt from the
// rules: user text that looks like a trusted query is user text. A trusted
// query must be one self-contained term (checkTrusted: quotes closed,
// parentheses balanced, no comment, separator or parameter), so that it
// cannot change how the text around it is read. Bound.WithTrusted puts
// other trusted queries (another statement's, under the same checks) at
// the same verified placeholders of a checked text, which is how a
// caller reuses a bound query across statements.
//
// Bind does not take its own rewrite on trust: before returning, it has
// DuckDB parse b.SQL again and checks the tree against these rules and
// against the positions where it put the replacements. Anything Bind does
// not recognise is refused (fail closed): unknown node, table reference or
// expression kinds, DESCRIBE/SHOW/SUMMARIZE, PIVOT over an enum, AT
// clauses other than AT (VERSION => integer or parameter), table
// references whose text Bind cannot find at the position DuckDB reports.
//
// # CTE scoping
//
// DuckDB 1.5.6 binds an unqualified name to a CTE as follows, and Bind
// follows it exactly (established by experiment; see the CTE tests):
//
//   - the CTEs of a WITH clause are visible in the whole query they belong
//     to: its select list, FROM, WHERE, GROUP BY, HAVING, QUALIFY, ORDER
//     BY, LIMIT and every subquery in them, and both sides of a UNION;
//   - the body of the i-th CTE sees only the CTEs declared before it (and
//     those of enclosing queries); a CTE does not see itself or later CTEs,
//     even under WITH RECURSIVE: `WITH t AS (SELECT * FROM t)` and
//     `WITH a AS (FROM b), b AS (…)` read catalog tables t and b;
//   - the one exception is a recursive CTE (WITH RECURSIVE t AS (anchor
//     UNION [ALL] step)): its own name is visible in the step, not in the
//     anchor;
//   - names compare case-insensitively in ASCII only, as DuckDB does: a
//     CTE "É" does not hide a table "é".
//
// Making every CTE name visible in every CTE body, the simpler rule, would
// be unsafe: `WITH t AS (SELECT * FROM t) SELECT * FROM t` would leave the
// inner t, which DuckDB reads from its catalog, unrewritten. A name Bind
// wrongly took for a table would only be resolved and replaced, never
// read unchecked; so where DuckDB binds a qualified name to a CTE
// (`recurring.t` in a recursive CTE), Bind resolves it like any table.
//
// # What the caller must do
//
// Run b.SQL on a DuckDB of the same version and parser settings as q, with
// the first b.Params query arguments. A parameter used in an AT clause is
// still referenced in b.SQL, so arguments keep their numbers. Bind checks
// where the query may read, not how much work it does: bound it with
// timeouts and DuckDB's memory limit (range(1e12), recursive CTEs and
// sleep_ms are allowed).
//
// Bind is safe for concurrent use when q is (a *sql.DB is; a *sql.Conn is
// not). It makes two round trips to q and leaves no state in DuckDB.
package sqlbind
