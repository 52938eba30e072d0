package duckengine

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Prepared-statement cache. Planning (parsing, binding read_parquet to
// its files, optimizing) is most of the fixed cost of a cheap query, and
// clients send the same query again and again. Each DuckDB connection of
// the pool keeps the statements it prepared for Session.QueryCached, by
// their exact SQL text, and re-executes one when the same text comes
// again.
//
// Invariants:
//
//   - The key is the exact final text DuckDB runs. Floe's text for a table
//     is a subquery over read_parquet of content-named, immutable segment
//     files plus the buffered rows as literals, filtered for the
//     principal: equal texts read equal data, and a new version of a table
//     (a flush, an UPDATE) or another principal's partition is another
//     text. A text that names a temporary relation of its Session (which
//     lives for one statement; another Session may create a relation of
//     the same name with other rows) is never cached: QueryCached runs
//     such statements unprepared (see Session.QueryCached).
//   - Only statements without parameters are cached, and only statements
//     DuckDB reports as SELECT (not EXPLAIN). The text must be one
//     statement (sqlbind's output is): duckdb-go runs all but the last
//     statement of a text while preparing it.
//   - The cache belongs to one driver connection, which database/sql uses
//     from one goroutine at a time; it is closed (its statements
//     destroyed) with the connection.
//   - At most maxPreparedStmts statements, of at most maxPreparedSQL
//     bytes each, are kept; the least recently used is closed first.
//   - A prepared read_parquet keeps its first file open (DuckDB's bind
//     data holds a reader). A segment file the segment cache removes
//     (lakehouse/tablestore) therefore keeps its disk space while a cached
//     statement names it, unseen by the cache's MaxBytes: connections
//     (and their caches) are closed connLifetime after they were opened,
//     which bounds that time.
//   - A cached statement whose execution fails is dropped and the
//     statement runs once more unprepared, so that errors are exactly
//     those of an unprepared run (DuckDB re-binds a prepared statement
//     itself when the catalog changed; this covers anything else).

// Cache bounds.
const (
	// maxPreparedStmts is the most statements a connection keeps.
	maxPreparedStmts = 128
	// maxPreparedSQL is the longest text kept: longer texts (many
	// segments, many buffered rows) plan slowly anyway and their keys and
	// plans would hold much memory.
	maxPreparedSQL = 64 << 10
)

// conn is a DuckDB driver connection with its statement cache.
// Embedding *duckdb.Conn keeps every interface database/sql uses.
type conn struct {
	*duckdb.Conn
	cache stmtCache
}

// Close destroys the cached statements, then closes the connection.
func (c *conn) Close() error {
	c.cache.closeAll()
	return c.Conn.Close()
}

// connLifetime is how long a pooled connection, with its cached
// statements, lives (a variable for tests).
var connLifetime = 30 * time.Second

// connector wraps duckdb's connector to give each connection a cache.
type connector struct{ *duckdb.Connector }

// Connect implements driver.Connector.
func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	d, ok := dc.(*duckdb.Conn)
	if !ok {
		_ = dc.Close()
		return nil, fmt.Errorf("duckengine: unexpected driver connection %T", dc)
	}
	return &conn{Conn: d}, nil
}

// Driver implements driver.Connector.
func (c connector) Driver() driver.Driver { return c.Connector.Driver() }

// setupConnector is duckdb's connector for Open's configuring
// connection: plain duckdb-go connections, and closing its pool leaves the
// database open.
type setupConnector struct{ *duckdb.Connector }

// Close does not close the database.
func (setupConnector) Close() error { return nil }

// stmtCache is an LRU of prepared statements by text.
type stmtCache struct {
	mu    sync.Mutex // the connection is used by one goroutine; this is for len
	order list.List  // of *cachedStmt, most recently used first
	byKey map[string]*list.Element
}

type cachedStmt struct {
	text string
	stmt *duckdb.Stmt
}

// take removes text's statement from the cache and returns it (nil when
// absent): the caller executes it and puts it back.
func (c *stmtCache) take(text string) *duckdb.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[text]
	if !ok {
		return nil
	}
	c.order.Remove(e)
	delete(c.byKey, text)
	return e.Value.(*cachedStmt).stmt
}

// put adds a statement (no rows open) as the most recently used one,
// closing the least recently used ones beyond the bound.
func (c *stmtCache) put(text string, st *duckdb.Stmt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*list.Element{}
	}
	if old, ok := c.byKey[text]; ok { // not reached: take removed it
		c.order.Remove(old)
		_ = old.Value.(*cachedStmt).stmt.Close()
	}
	c.byKey[text] = c.order.PushFront(&cachedStmt{text: text, stmt: st})
	for c.order.Len() > maxPreparedStmts {
		e := c.order.Back()
		c.order.Remove(e)
		cs := e.Value.(*cachedStmt)
		delete(c.byKey, cs.text)
		_ = cs.stmt.Close()
	}
}

// closeAll closes every statement.
func (c *stmtCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*cachedStmt).stmt.Close()
	}
	c.order.Init()
	c.byKey = nil
}

// len returns the number of cached statements.
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Rows are the rows of a query, as QueryCached passes them: duckdb-go's
// driver rows (values as duckdb-go returns them; database/sql would pass
// them on unchanged to a *any, []byte copied). Next returns io.EOF after
// the last row.
type Rows interface {
	Columns() []string
	ColumnTypeDatabaseTypeName(index int) string
	Next(dest []driver.Value) error
}

// errRead carries an error of QueryCached's read function through
// Conn.Raw, to be returned as is.
type errRead struct{ err error }

func (e errRead) Error() string { return e.err.Error() }

// QueryCached runs query, a SELECT without parameters, and passes its
// rows to read (which must not keep them). When the Session has created
// no temporary relation (so that query cannot name one), query runs
// through the connection's prepared-statement cache (see the invariants
// above); otherwise unprepared. Errors are those of an unprepared run of
// query, or read's.
func (s *Session) QueryCached(ctx context.Context, query string, read func(Rows) error) error {
	read1 := func(r driver.Rows) error {
		defer r.Close()
		if err := read(r.(Rows)); err != nil {
			return errRead{err}
		}
		return nil
	}
	// keep puts st back into the cache after a run that read returned
	// err for (the statement is sound unless the error is DuckDB's).
	keep := func(c *conn, st *duckdb.Stmt, err error) error {
		if _, isRead := err.(errRead); err == nil || isRead {
			c.cache.put(query, st)
		} else {
			_ = st.Close()
		}
		return err
	}
	err := s.conn.Raw(func(dc any) error {
		c, ok := dc.(*conn)
		if !ok || len(s.temps) > 0 || len(query) > maxPreparedSQL {
			return queryUnprepared(ctx, dc, query, read1)
		}
		if st := c.cache.take(query); st != nil {
			s.e.preparedHits.Add(1)
			r, err := st.QueryContext(ctx, nil)
			if err == nil {
				return keep(c, st, read1(r))
			}
			// Nothing was read: drop the statement, run the query
			// unprepared once.
			_ = st.Close()
			return queryUnprepared(ctx, dc, query, read1)
		}
		ds, err := c.Conn.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		st := ds.(*duckdb.Stmt)
		if t, err := st.StatementType(); err != nil || t != duckdb.STATEMENT_TYPE_SELECT || st.NumInput() != 0 {
			_ = st.Close()
			return queryUnprepared(ctx, dc, query, read1)
		}
		r, err := st.QueryContext(ctx, nil)
		if err != nil {
			_ = st.Close()
			return err
		}
		return keep(c, st, read1(r))
	})
	var re errRead
	if errors.As(err, &re) {
		return re.err
	}
	return err
}

// queryUnprepared runs query on the driver connection dc as
// database/sql's QueryContext would.
func queryUnprepared(ctx context.Context, dc any, query string, read func(driver.Rows) error) error {
	var d *duckdb.Conn
	switch c := dc.(type) {
	case *conn:
		d = c.Conn
	case *duckdb.Conn:
		d = c
	default:
		return fmt.Errorf("duckengine: unexpected driver connection %T", dc)
	}
	r, err := d.QueryContext(ctx, query, nil)
	if err != nil {
		return err
	}
	return read(r)
}

// CachedStatements returns how many statements the Session's connection
// has cached.
func (s *Session) CachedStatements() (n int) {
	_ = s.conn.Raw(func(dc any) error {
		if c, ok := dc.(*conn); ok {
			n = c.cache.len()
		}
		return nil
	})
	return n
}

// PreparedHits returns how many queries ran a cached prepared statement.
func (e *Engine) PreparedHits() uint64 { return e.preparedHits.Load() }
