// Package duckengine runs DuckDB, Floe's relational engine, locked down for
// untrusted queries.
//
// # Security invariants
//
// An Engine's database is configured once at Open and then locked
// (lock_configuration): no connection can change a setting afterwards.
// External access is off except for the directories Floe reads segments
// from (allowed_directories), extension auto-install and auto-load are
// off, and memory and threads are bounded. The engine holds no tables of
// its own: the data of a query is read by subqueries Floe writes into the
// query's text (read_parquet of the segment cache) or lives in temporary
// views and tables of the query's Session, private to its connection and
// dropped when the Session closes. Callers (lakehouse/sqlexec) pass DuckDB
// only SQL that lakehouse/sqlbind has checked and rewritten to those
// private names and Floe's own subqueries. Each pooled connection keeps
// the SELECTs it prepared, by exact text (stmtcache.go); a Session that
// created temporary relations does not use that cache.
//
// # Bounds
//
// DuckDB's memory_limit bounds what its buffer manager tracks (hash
// tables, sorts, materialized results), and an interrupt stops a query
// between batches of rows. Neither bounds a single value a function
// builds from a size argument: the size guard (sizeguard.go) does. Messages
// and plans DuckDB writes may quote the segment files a query reads:
// Redact replaces those local paths before a client sees them.
package duckengine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/duckdb/duckdb-go/v2"
)

// Config sizes and confines the engine.
type Config struct {
	// AllowedDirs are the only directories file readers may open (Floe's
	// segment cache). Each must be an absolute path.
	AllowedDirs []string
	// TempDir is where DuckDB spills; "" disables spilling.
	TempDir string
	// MemoryLimit is DuckDB's memory_limit, e.g. "1GB". Default: "1GB".
	MemoryLimit string
	// Threads is DuckDB's worker thread count. Default: 2.
	Threads int
	// MaxValueBytes bounds the value one call of a size-driven function
	// (range, repeat, lpad, printf, …) may build; see sizeguard.go.
	// Default: 16 MiB.
	MaxValueBytes int64
}

// DefaultMaxValueBytes is Config.MaxValueBytes's default.
const DefaultMaxValueBytes = 16 << 20

// Engine is one DuckDB database shared by all queries of a process. It is
// safe for concurrent use; Close it after all Sessions are closed.
type Engine struct {
	db          *sql.DB
	memoryLimit string
	// dirs are the local directories whose paths Redact hides, with a
	// trailing slash.
	dirs []string
	// preparedHits counts the queries a cached prepared statement ran.
	preparedHits atomic.Uint64
}

// Open starts DuckDB with cfg and locks its configuration.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = "1GB"
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 2
	}
	if cfg.MaxValueBytes <= 0 {
		cfg.MaxValueBytes = DefaultMaxValueBytes
	}
	for _, d := range cfg.AllowedDirs {
		if !strings.HasPrefix(d, "/") {
			return nil, fmt.Errorf("duckengine: allowed directory %q is not absolute", d)
		}
	}
	dc, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("duckengine: open DuckDB: %w", err)
	}
	db := sql.OpenDB(connector{dc})
	// A connection's cached statements keep the first segment file of
	// each read_parquet open (DuckDB's bind keeps a reader): connections
	// are replaced after connLifetime, so that a file the segment cache
	// removed stops taking disk space soon (see stmtcache.go).
	db.SetConnMaxLifetime(connLifetime)
	dirs := make([]string, len(cfg.AllowedDirs))
	for i, d := range cfg.AllowedDirs {
		dirs[i] = Literal(strings.TrimSuffix(d, "/") + "/")
	}
	settings := []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allow_community_extensions = false",
		fmt.Sprintf("SET memory_limit = %s", Literal(cfg.MemoryLimit)),
		fmt.Sprintf("SET threads = %d", cfg.Threads),
		"SET TimeZone = 'UTC'",
		// Give memory back to the OS soon after a statement frees it, so
		// that the process memory guard (lakehouse/admission), which
		// reads the resident set size, sees what is really in use.
		"SET allocator_flush_threshold = '32MB'",
		"SET allocator_bulk_deallocation_flush_threshold = '32MB'",
		"SET allocator_background_threads = true",
		// Segments are immutable: their Parquet footers can be cached.
		"SET parquet_metadata_cache = true",
		fmt.Sprintf("SET allowed_directories = [%s]", strings.Join(dirs, ", ")),
	}
	if cfg.TempDir != "" {
		settings = append(settings, fmt.Sprintf("SET temp_directory = %s", Literal(cfg.TempDir)))
	} else {
		settings = append(settings, "SET temp_directory = ''")
	}
	settings = append(settings,
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	)
	// One connection configures the database: settings are global, and
	// the size guard's functions and macros live in its catalog. It is a
	// plain duckdb-go connection (duckdb-go's UDF registration needs one),
	// of a pool of its own that leaves the database open when closed.
	setup := sql.OpenDB(setupConnector{dc})
	defer setup.Close()
	conn, err := setup.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("duckengine: connection: %w", err)
	}
	defer conn.Close()
	if err := installGuard(ctx, conn, &sizeGuard{maxValue: cfg.MaxValueBytes}); err != nil {
		db.Close()
		return nil, err
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckengine: %s: %w", s, err)
		}
	}
	e := &Engine{db: db, memoryLimit: cfg.MemoryLimit}
	for _, d := range append(slices.Clone(cfg.AllowedDirs), cfg.TempDir) {
		if d != "" {
			e.dirs = append(e.dirs, strings.TrimSuffix(d, "/")+"/")
		}
	}
	return e, nil
}

// MemoryLimit is DuckDB's memory_limit, as configured ("1GB").
func (e *Engine) MemoryLimit() string { return e.memoryLimit }

// Redact replaces every local file path under the engine's directories
// (the segment cache, the spill directory) in s by "<segment file>", so
// that DuckDB's messages and plans can be shown to clients.
func (e *Engine) Redact(s string) string {
	for _, d := range e.dirs {
		for {
			i := strings.Index(s, d)
			if i < 0 {
				break
			}
			j := i + len(d)
			for j < len(s) && s[j] < 0x80 && strings.IndexByte(pathEnd, s[j]) < 0 {
				j++
			}
			s = s[:i] + "<segment file>" + s[j:]
		}
		// A directory named without its trailing slash.
		s = strings.ReplaceAll(s, strings.TrimSuffix(d, "/"), "<local directory>")
	}
	return s
}

// RedactPlan is Redact for EXPLAIN output: a plan box lists the files a
// scan reads under "Filename(s):", wrapped over several lines, which
// RedactPlan blanks out. Boxes may stand side by side (the parts of a
// UNION, the sides of a join), so the list is blanked within its box's
// columns only: from the box's left border to its right one, on each line
// below "Filename(s):" until the box's cell is empty or its border ends.
func (e *Engine) RedactPlan(plan string) string {
	lines := strings.Split(plan, "\n")
	// open are the file-list cells being blanked: rune columns of their
	// left and right borders, and whether the label is written yet.
	type cell struct {
		left, right int
		labelled    bool
	}
	var open []cell
	for i, l := range lines {
		rs := []rune(l)
		kept := open[:0]
		for _, c := range open {
			if c.right >= len(rs) || rs[c.left] != '│' || rs[c.right] != '│' {
				continue
			}
			inner := strings.TrimSpace(string(rs[c.left+1 : c.right]))
			if inner == "" || strings.ContainsAny(inner, "┌└─│") {
				continue
			}
			width := c.right - c.left - 1
			fill := []rune(strings.Repeat(" ", width))
			if label := "<segment files>"; !c.labelled && width >= len(label) {
				pad := (width - len(label)) / 2
				copy(fill[pad:], []rune(label))
				c.labelled = true
			}
			copy(rs[c.left+1:c.right], fill)
			kept = append(kept, c)
		}
		open = kept
		// New lists start below each "Filename(s):" cell of this line.
		for j := 0; j+1 < len(rs); j++ {
			if rs[j] != '│' {
				continue
			}
			k := j + 1
			for k < len(rs) && rs[k] != '│' {
				k++
			}
			if k < len(rs) && strings.TrimSpace(string(rs[j+1:k])) == "Filename(s):" {
				open = append(open, cell{left: j, right: k})
			}
		}
		lines[i] = string(rs)
	}
	return e.Redact(strings.Join(lines, "\n"))
}

// pathEnd are the ASCII bytes that end a path quoted in a DuckDB message
// or plan; so does any non-ASCII byte (the plan's box drawing).
const pathEnd = " \t\n'\"`,;)]}|"

// Close closes the database.
func (e *Engine) Close() error { return e.db.Close() }

// Session is one query's private connection. Its temporary views and
// tables are invisible to other Sessions and are dropped by Close. A
// Session is not safe for concurrent use.
type Session struct {
	e     *Engine
	conn  *sql.Conn
	temps []string // "VIEW name" / "TABLE name", in creation order
	n     int
}

// Session takes a connection for one query.
func (e *Engine) Session(ctx context.Context) (*Session, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("duckengine: connection: %w", err)
	}
	return &Session{e: e, conn: conn}, nil
}

// Conn is the session's connection, for parsing (sqlbind) and querying.
func (s *Session) Conn() *sql.Conn { return s.conn }

// TempName returns a new name for a temporary object of this session,
// quoted for SQL.
func (s *Session) TempName() string {
	s.n++
	return fmt.Sprintf(`"__floe_%d"`, s.n)
}

// CreateView creates the temporary view name AS query.
func (s *Session) CreateView(ctx context.Context, name, query string) error {
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP VIEW "+name+" AS "+query); err != nil {
		return fmt.Errorf("duckengine: create view: %w", err)
	}
	s.temps = append(s.temps, "VIEW "+name)
	return nil
}

// Column is a column of a temporary table.
type Column struct {
	Name string // unquoted
	Type string // DuckDB type
}

// CreateTable creates the temporary table name and appends rows to it with
// DuckDB's appender. Values follow duckdb-go's Appender conversions.
func (s *Session) CreateTable(ctx context.Context, name string, cols []Column, rows func(yield func([]driver.Value) bool) error) error {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = Ident(c.Name) + " " + c.Type
	}
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return fmt.Errorf("duckengine: create table: %w", err)
	}
	s.temps = append(s.temps, "TABLE "+name)
	return s.conn.Raw(func(dc any) error {
		d, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("duckengine: unexpected driver connection %T", dc)
		}
		app, err := duckdb.NewAppender(d.Conn, "temp", "main", strings.Trim(name, `"`))
		if err != nil {
			return fmt.Errorf("duckengine: appender: %w", err)
		}
		var appendErr error
		err = rows(func(vals []driver.Value) bool {
			appendErr = app.AppendRow(vals...)
			return appendErr == nil
		})
		cerr := app.Close()
		return errors.Join(err, appendErr, cerr)
	})
}

// Close drops the session's temporary objects and returns the connection
// to the pool (or discards it when a drop failed).
func (s *Session) Close() error {
	ctx := context.Background()
	var errs []error
	for i := len(s.temps) - 1; i >= 0; i-- {
		if _, err := s.conn.ExecContext(ctx, "DROP "+s.temps[i]); err != nil {
			errs = append(errs, err)
		}
	}
	s.temps = nil
	if len(errs) > 0 {
		// A connection that may still hold temporary objects is not
		// reused: discard it.
		_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	errs = append(errs, s.conn.Close())
	return errors.Join(errs...)
}

// Ident quotes an SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Literal quotes an SQL string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
