// Package sqlexec is Floe's SQL executor (the seed's SqlExecutor): it
// parses a request's statements (lakehouse/sqlparse), authorizes them for
// an access.Principal, and runs them — catalog statements against the catalog
// manifest, DML as SELECTs plus writes to the storage engine, queries on
// DuckDB over views of exactly the rows the principal may see.
//
// # Security invariant
//
// User SQL reaches DuckDB only after lakehouse/sqlbind has checked it and
// replaced every table reference by a view this package built for the
// principal: the caller's own partition of USER and STREAM tables, shared
// tables the caller's role may read, system tables for dba and system
// (system.users: one's own row below dba). Anything else — file readers,
// table functions, unknown names, engine settings — is refused before
// DuckDB runs.
package sqlexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/admission"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/lakehouse/sqlbind"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

// DefaultNamespace is the namespace unqualified names resolve in when a
// request names none. It exists from the first start.
const DefaultNamespace = "public"

// Options are what an Executor runs on.
type Options struct {
	// Store is the storage engine the executor reads (scans, point reads,
	// key checks) and compacts with; required.
	Store *tablestore.Store
	// Writes is where writes go (and FLUSH); required.
	Writes WritePath
	// Engine is DuckDB; required.
	Engine *duckengine.Engine
	// WriterEpoch is the node's writer epoch (manifest.AcquireWriter);
	// catalog commits carry it. 0 without a lease (function role).
	WriterEpoch uint64
	// WriteMode is recorded in the catalog when Bootstrap creates the
	// warehouse (manifest.WriteModeNode or WriteModeDirect). Default:
	// node.
	WriteMode string
	// OldValues makes UPDATE, DELETE, upserts and STREAM eviction read the
	// values they replace and pass them down with the change
	// (tablestore.Change.Old), for a ChangeSink. Off, they read only what
	// they need. Default: off.
	OldValues bool
	// Metrics, when set, measures statements (see NewMetrics).
	Metrics *Metrics
	// QueryTimeout bounds each statement. Default: 60s.
	QueryTimeout time.Duration
	// Admission admits statements (query slots, per-user share, memory
	// guard); nil admits every statement at once.
	Admission *admission.Controller
	// MaxResultBytes bounds the result of one statement, as read from
	// DuckDB (see resultSize). Default: 64 MiB.
	MaxResultBytes int64
	// Compact configures COMPACT TABLE.
	Compact tablestore.CompactOptions
}

// Executor runs SQL for principals. It is safe for concurrent use.
type Executor struct {
	app     *appctx.AppContext
	opts    Options
	store   *tablestore.Store
	engine  *duckengine.Engine
	log     *slog.Logger
	virtual map[string]virtualProvider
	ids     *idGenerator
	point   pointState
	// binder checks queries; it caches DuckDB's parses.
	binder *sqlbind.Binder
	// viewForms caches views' bound forms (boundcache.go).
	viewForms viewFormCache
	// readers run read-only statements (bounded).
	readers *workers
	// parses and plans are the per-call caches (stmtcache.go).
	parses parseCache
	plans  planCache

	// users is the user store (system.users, system.audit_log).
	users *access.Store
	// live is the live-query engine (SetLiveQueries), for KILL LIVE QUERY.
	live LiveQueries

	// partLocks serialize read-check-write statements (INSERT's key check,
	// UPDATE, DELETE) per partition, so two statements cannot both see a
	// key as absent and both insert it.
	partLocks sync.Map // partitionID → *sync.Mutex
}

// New returns an Executor. Call Bootstrap once before serving requests.
func New(app *appctx.AppContext, opts Options) (*Executor, error) {
	if opts.Store == nil || opts.Writes == nil || opts.Engine == nil {
		return nil, errors.New("sqlexec: Store, Writes and Engine are required")
	}
	if opts.WriteMode == "" {
		opts.WriteMode = manifest.WriteModeNode
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 60 * time.Second
	}
	if opts.MaxResultBytes <= 0 {
		opts.MaxResultBytes = DefaultMaxResultBytes
	}
	x := &Executor{
		readers: &workers{},
		app:     app,
		opts:    opts,
		store:   opts.Store,
		engine:  opts.Engine,
		log:     app.Logger().With(slog.String("component", "sqlexec")),
		ids:     newIDGenerator(app.NodeID().String(), app.Clock()),
		binder:  sqlbind.NewBinder(),
	}
	x.users = access.NewStore(access.StoreOptions{App: app, Rows: opts.Store, Writes: opts.Writes, NextID: x.ids.next})
	x.virtual = x.virtualTables()
	return x, nil
}

// Request is one call of Execute.
type Request struct {
	// SQL holds one or more statements separated by ';'.
	SQL string
	// Params are the values of $1, $2, … (shared by all statements).
	Params []any
	// Namespace resolves unqualified table names. Default:
	// DefaultNamespace. USE changes it for the following statements.
	Namespace string
	// MinCatalogVersion makes the executor read a catalog at least this
	// new (read-your-writes across nodes).
	MinCatalogVersion uint64
}

// Column describes a result column.
type Column struct {
	Name     string
	Type     string // DuckDB type name, e.g. BIGINT, VARCHAR, DECIMAL(10,2)
	Nullable bool
}

// Result is the outcome of one statement.
type Result struct {
	Columns []Column
	// Rows hold the values as DuckDB's Go driver returns them (int32,
	// int64, float64, string, []byte, bool, time.Time, duckdb.Decimal,
	// duckdb.UUID, maps, slices, nil).
	Rows [][]any
	// RowsAffected counts rows inserted, updated or deleted by DML.
	RowsAffected int64
	// Message is a human-readable summary ("INSERT 3", "CREATE TABLE").
	Message string
	// Namespace is the namespace in effect after the statement.
	Namespace string
	// AsUser is the name of the user the statement ran as: the caller, or
	// the user named by EXECUTE AS USER.
	AsUser string
}

// Execute runs the statements of req in order and returns one Result per
// statement. It stops at the first failing statement and returns the
// results of the statements before it with the error (a *dberr.Error for
// anything the caller can act on). All statements are parsed before the
// first runs, so a syntax error anywhere runs nothing.
func (x *Executor) Execute(ctx context.Context, p access.Principal, req Request) ([]Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pr, err := x.parses.get(req.SQL)
	if err != nil {
		return nil, err
	}
	stmts := pr.stmts
	if len(stmts) == 0 {
		return nil, dberr.New(dberr.SyntaxError, "no statement to run")
	}
	ns := req.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	results := make([]Result, 0, len(stmts))
	for i, st := range stmts {
		res, err := x.run(ctx, p, pr, st, req, ns)
		if err != nil {
			if len(stmts) > 1 {
				err = statementError(i+1, err)
			}
			return results, err
		}
		ns = res.Namespace
		results = append(results, res)
	}
	return results, nil
}

// statementError prefixes the message of err with the statement number.
func statementError(n int, err error) error {
	var e *dberr.Error
	if errors.As(err, &e) {
		c := *e
		c.Msg = fmt.Sprintf("statement %d: %s", n, e.Msg)
		return &c
	}
	return fmt.Errorf("statement %d: %w", n, err)
}

// stmtCtx is the state of one statement.
type stmtCtx struct {
	x *Executor
	// p is whom the statement runs as; actor is who sent it. They differ
	// inside EXECUTE AS USER.
	p        access.Principal
	actor    access.Principal
	ns       string
	params   []any
	snap     *schema.Snapshot
	sess     *duckengine.Session
	releases []func()
	// names maps the session's temporary names back to table names, so
	// that DuckDB's messages speak of the user's tables.
	names map[string]string
	// extra are statement-local relations (ON CONFLICT's excluded) that
	// unqualified references resolve to before the catalog.
	extra map[string]string
	// rels are the relations created for the statement's tables and views.
	rels relations
	// lim is the statement's accounting: deadline, admission, size guard.
	lim *limits
	// parsed is the parse the statement came from (point-read shapes);
	// nil for statements built by the executor.
	parsed *parsed
	// bounds are the key bounds of a SELECT's WHERE clause, for pruning
	// segments (keyBounds); nil when it has none.
	bounds *keyBounds
}

func (q *stmtCtx) close() {
	for _, r := range q.releases {
		r()
	}
	q.releases = nil
	if q.sess != nil {
		if err := q.sess.Close(); err != nil {
			q.x.log.Warn("close query session", slog.Any("error", err))
		}
		q.sess = nil
	}
}

// session opens the statement's DuckDB session on first use. It is the
// one way to DuckDB: a statement admitted with a point permit takes its
// query slot here (limits.admitEngine).
func (q *stmtCtx) session(ctx context.Context) (*duckengine.Session, error) {
	if q.sess == nil {
		if err := q.lim.admitEngine(ctx); err != nil {
			return nil, err
		}
		s, err := q.x.engine.Session(ctx)
		if err != nil {
			return nil, err
		}
		q.sess = s
	}
	return q.sess, nil
}

func (x *Executor) run(ctx context.Context, p access.Principal, pr *parsed, st sqlparse.Statement, req Request, ns string) (Result, error) {
	// A point statement is admitted with a point permit; it takes a
	// query slot only if it turns out to need DuckDB (stmtCtx.session).
	point := x.pointStatement(pr, st)
	if s, ok := st.(*sqlparse.Select); ok && point {
		// A point read runs on the caller's goroutine (no hand-off to a
		// reader: it never reaches DuckDB, so it needs no abandoning at
		// its deadline); one the fast path declines runs again as any
		// query, with a query slot.
		res, err := x.boundedAs(ctx, p, st, true, true, x.statement(p, pr, st, req, ns, func(ctx context.Context, q *stmtCtx, _ sqlparse.Statement) (Result, error) {
			res, handled, err := x.pointSelect(ctx, q, s)
			if !handled {
				return Result{}, errNotPoint
			}
			return res, err
		}))
		if !errors.Is(err, errNotPoint) {
			return res, err
		}
		point = false
	}
	return x.boundedAs(ctx, p, st, point, false, x.statement(p, pr, st, req, ns, x.dispatch))
}

// errNotPoint is how a point read the fast path declines leaves its
// inline attempt (run); it never reaches a caller.
var errNotPoint = errors.New("sqlexec: not a point read")

// statement returns the body of one statement for boundedAs: it loads the
// catalog, runs body on a fresh stmtCtx, records the statement's metrics
// and turns its error into what the caller sees.
func (x *Executor) statement(p access.Principal, pr *parsed, st sqlparse.Statement, req Request, ns string,
	body func(context.Context, *stmtCtx, sqlparse.Statement) (Result, error)) func(context.Context, *limits) (Result, error) {
	return func(ctx context.Context, lim *limits) (Result, error) {
		snap, err := x.catalog(ctx, req.MinCatalogVersion)
		if err != nil {
			if errors.Is(err, schema.ErrVersionNotVisible) {
				return Result{}, dberr.Wrap(dberr.CatalogBehind, err,
					"min_catalog_version %d is newer than the catalog this node can read yet (%v); retry shortly", req.MinCatalogVersion, err)
			}
			return Result{}, fmt.Errorf("sqlexec: load catalog: %w", err)
		}
		q := &stmtCtx{x: x, p: p, actor: p, ns: ns, params: req.Params, snap: snap, names: map[string]string{}, lim: lim, parsed: pr}
		defer q.close()
		done := x.opts.Metrics.start(st)
		var res Result
		if writes(st) {
			err = x.opts.Writes.Admit(ctx)
		}
		if err == nil {
			res, err = body(ctx, q, st)
		}
		if errors.Is(err, errNotPoint) {
			return Result{}, err
		}
		done(err)
		if err != nil {
			return Result{}, q.userError(ctx, err)
		}
		if res.Namespace == "" {
			res.Namespace = q.ns
		}
		res.AsUser = q.p.Label()
		return res, nil
	}
}

// pointStatement reports whether st, a statement of pr, is a point
// statement, which the storage engine answers without DuckDB unless a
// detail says otherwise: a SELECT shaped as a primary-key point read
// (pointread.go), or an INSERT … VALUES of at most lookupKeysMax rows
// (literal values, key checks by point lookups). Admission gives such a
// statement a point permit instead of a query slot (see boundedAs).
func (x *Executor) pointStatement(pr *parsed, st sqlparse.Statement) bool {
	switch s := st.(type) {
	case *sqlparse.Select:
		_, ok := pr.shape(s)
		return ok && !x.point.off
	case *sqlparse.Insert:
		return s.Query == "" && len(s.Rows) <= lookupKeysMax
	}
	return false
}

// catalog returns the catalog snapshot a statement runs on: at least
// version min (read-your-writes for a client that saw min), and otherwise
// as fresh as the role needs. A node holds the writer lease, so every
// catalog change is its own commit, installed in the registry as it
// lands: the snapshot it holds is the latest. A function or live process
// shares the warehouse with other writers (other functions' DDL), so it
// serves its snapshot for catalog.refresh_interval and then checks the
// object store for a newer one (schema.Registry.Current).
func (x *Executor) catalog(ctx context.Context, min uint64) (*schema.Snapshot, error) {
	reg := x.app.Schemas()
	if x.app.Config().Role == config.RoleNode {
		return reg.AtLeast(ctx, min)
	}
	s, err := reg.Current(ctx)
	if err != nil || s.Version() >= min {
		return s, err
	}
	return reg.AtLeast(ctx, min)
}

func (x *Executor) dispatch(ctx context.Context, q *stmtCtx, st sqlparse.Statement) (Result, error) {
	switch s := st.(type) {
	case *sqlparse.Select:
		return x.query(ctx, q, s)
	case *sqlparse.Insert:
		return x.insert(ctx, q, s)
	case *sqlparse.Update:
		return x.update(ctx, q, s)
	case *sqlparse.Delete:
		return x.delete(ctx, q, s)
	case *sqlparse.CreateNamespace:
		return x.createNamespace(ctx, q, s)
	case *sqlparse.DropNamespace:
		return x.dropNamespace(ctx, q, s)
	case *sqlparse.ShowNamespaces:
		return x.showNamespaces(ctx, q)
	case *sqlparse.Use:
		return x.use(ctx, q, s)
	case *sqlparse.CreateTable:
		return x.createTable(ctx, q, s)
	case *sqlparse.DropTable:
		return x.dropTable(ctx, q, s)
	case *sqlparse.AlterTable:
		return x.alterTable(ctx, q, s)
	case *sqlparse.ShowTables:
		return x.showTables(ctx, q, s)
	case *sqlparse.Describe:
		return x.describe(ctx, q, s)
	case *sqlparse.Flush:
		return x.flush(ctx, q, s)
	case *sqlparse.Compact:
		return x.compact(ctx, q, s)
	case *sqlparse.CreateUser:
		return x.createUser(ctx, q, s)
	case *sqlparse.AlterUser:
		return x.alterUser(ctx, q, s)
	case *sqlparse.DropUser:
		return x.dropUser(ctx, q, s)
	case *sqlparse.ExecuteAs:
		return x.executeAs(ctx, q, s)
	case *sqlparse.CreateView:
		return x.createView(ctx, q, s)
	case *sqlparse.DropView:
		return x.dropView(ctx, q, s)
	case *sqlparse.ShowViews:
		return x.showViews(ctx, q, s)
	case *sqlparse.KillLiveQuery:
		return x.killLive(ctx, q, s)
	case *sqlparse.Subscribe:
		return Result{}, dberr.New(dberr.Unsupported, "SUBSCRIBE streams changes: run it with LiveService.Subscribe (or `floe subscribe`), not ExecuteSQL")
	}
	return Result{}, dberr.New(dberr.Unsupported, "statement %q is not supported", firstWords(st.Text()))
}

func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

var tempName = regexp.MustCompile(`"?__floe_\d+"?`)

// engineContext is the tail DuckDB adds to a message: the line of the
// statement it ran and a caret under the position.
var engineContext = regexp.MustCompile(`(?s)\n+LINE \d+:.*$`)

// tidyEngineMessage rewrites a DuckDB message for the client: DuckDB ran
// Floe's rewrite of the statement (table references replaced by Floe's
// subqueries, on lines of their own), so its "LINE n: …" context would show
// Floe's text at line numbers the client never wrote; it is dropped. A
// table reference whose rows are literals is what DuckDB calls a "Values
// list"; the client wrote a table.
func tidyEngineMessage(msg string) string {
	msg = engineContext.ReplaceAllString(msg, "")
	msg = strings.ReplaceAll(msg, "Values list \"", "Table \"")
	return msg
}

// userError turns an error into what the caller sees: *dberr.Error pass
// through; DuckDB errors get a code by their type, with temporary names
// replaced by table names; storage and context errors keep their codes;
// anything else is internal and logged.
func (q *stmtCtx) userError(ctx context.Context, err error) error {
	var de *dberr.Error
	if errors.As(err, &de) {
		return err
	}
	if r := q.lim.usage.Refusal(); r != nil {
		return r
	}
	if ctx.Err() != nil {
		return q.lim.stopError(ctx, err)
	}
	var dk *duckdb.Error
	if errors.As(err, &dk) {
		msg := tempName.ReplaceAllStringFunc(dk.Msg, func(s string) string {
			if n, ok := q.names[strings.Trim(s, `"`)]; ok {
				return n
			}
			return "<table>"
		})
		// DuckDB quotes the segment files it reads; clients never see
		// local paths.
		msg = q.x.engine.Redact(tidyEngineMessage(msg))
		code := dberr.Internal
		switch dk.Type {
		case duckdb.ErrorTypeConversion, duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeDecimal:
			code = dberr.TypeMismatch
		case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax:
			code = dberr.SyntaxError
		case duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog:
			code = dberr.InvalidArgument
			if strings.Contains(msg, "Referenced column") || strings.Contains(msg, "not found in FROM clause") {
				code = dberr.ColumnNotFound
			}
		case duckdb.ErrorTypePermission:
			code = dberr.PermissionDenied
		case duckdb.ErrorTypeInterrupt:
			code = dberr.Canceled
		case duckdb.ErrorTypeInvalidInput, duckdb.ErrorTypeDivideByZero, duckdb.ErrorTypeParameterNotResolved, duckdb.ErrorTypeParameterNotAllowed, duckdb.ErrorTypeNotImplemented:
			code = dberr.InvalidArgument
		case duckdb.ErrorTypeOutOfMemory:
			return dberr.Wrap(dberr.ResourceExhausted, err,
				"the statement needs more memory than query.memory_limit (%s) allows: filter or aggregate earlier, select fewer columns, add LIMIT, or run it when the node is less busy",
				q.x.engine.MemoryLimit())
		}
		if code != dberr.Internal {
			return &dberr.Error{Code: code, Msg: msg, Err: err}
		}
	}
	switch {
	case errors.Is(err, manifest.ErrFenced):
		return dberr.Wrap(dberr.Fenced, err, "this node no longer holds the writer lease: another node took over the warehouse; send writes to the current node")
	case errors.Is(err, manifest.ErrConflict):
		return dberr.Wrap(dberr.Conflict, err, "a concurrent change won; run the statement again")
	case errors.Is(err, manifest.ErrDataLoss):
		q.x.log.LogAttrs(ctx, slog.LevelError, "manifest versions lost", slog.Any("error", err))
		return dberr.Wrap(dberr.DataLoss, err,
			"manifest versions this node knows existed are missing from the object store; Floe will not answer from an older version: the operator must restore them (bucket versioning)")
	case errors.Is(err, manifest.ErrCommitUnknown):
		q.x.log.LogAttrs(ctx, slog.LevelError, "commit outcome unknown", slog.Any("error", err))
		return dberr.Wrap(dberr.OutcomeUnknown, err,
			"the object store did not confirm whether this statement's change was committed, and it may still become visible: read the affected rows back before running it again")
	case objstore.IsUnavailable(err):
		q.x.log.LogAttrs(ctx, slog.LevelWarn, "object store unavailable", slog.Any("error", err))
		return dberr.Wrap(dberr.Unavailable, err, "the object store did not answer (the node's log has the details): retry shortly")
	case errors.Is(err, wbuf.ErrFull):
		return dberr.Wrap(dberr.Unavailable, err,
			"the node's write buffer is full (buffer.max_bytes); it drains as buffered rows are flushed to segments: retry shortly, or raise buffer.max_bytes")
	}
	q.x.log.LogAttrs(ctx, slog.LevelError, "statement failed", slog.Any("error", err))
	return dberr.Wrap(dberr.Internal, err, "internal error; see the node's log")
}

func isNotFound(err error) bool {
	return errors.Is(err, manifest.ErrVersionNotFound) || errors.Is(err, objstore.ErrNotFound) || errors.Is(err, manifest.ErrNoManifest)
}
