package sqlexec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/lakehouse/sqlbind"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// reservedNamespaces cannot be created or dropped by users: system holds
// Floe's own tables; the others are DuckDB's.
var reservedNamespaces = []string{"system", "information_schema", "pg_catalog", "main", "temp"}

// commitCatalog applies mutate to the latest catalog, commits it with the
// node's writer epoch and installs the result in the schema registry.
// mutate may return a *dberr.Error, which is returned as is.
func (x *Executor) commitCatalog(ctx context.Context, mutate func(c *manifest.Catalog) error) (*schema.Snapshot, error) {
	return x.commitWith(ctx, mutate, false)
}

// commitTables is commitCatalog for a mutation that changes tables only
// through Catalog.AddTable, RemoveTable and ReplaceTable (and never
// writes Tables or a table in place): its commit and the registry's
// install cost what it changes, not the number of tables
// (manifest.CommitOptions.EditTables).
func (x *Executor) commitTables(ctx context.Context, mutate func(c *manifest.Catalog) error) (*schema.Snapshot, error) {
	return x.commitWith(ctx, mutate, true)
}

func (x *Executor) commitWith(ctx context.Context, mutate func(c *manifest.Catalog) error, edit bool) (*schema.Snapshot, error) {
	if err := x.opts.Writes.Writable(); err != nil {
		return nil, err
	}
	cat, err := x.app.Catalog().Commit(ctx, func(base *manifest.Catalog) (*manifest.Catalog, error) {
		if err := mutate(base); err != nil {
			return nil, err
		}
		return base, nil
	}, manifest.CommitOptions{WriterEpoch: x.opts.WriterEpoch, EditTables: edit})
	if err != nil {
		var de *dberr.Error
		if errors.As(err, &de) {
			return nil, de
		}
		return nil, fmt.Errorf("sqlexec: commit catalog: %w", err)
	}
	return x.app.Schemas().Install(cat), nil
}

func (x *Executor) createNamespace(ctx context.Context, q *stmtCtx, s *sqlparse.CreateNamespace) (Result, error) {
	if !q.p.Role.AtLeast(access.RoleDBA) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not create namespaces (needs dba)", q.p.Role)
	}
	if slices.Contains(reservedNamespaces, s.Name) {
		return Result{}, dberr.New(dberr.PermissionDenied, "namespace name %s is reserved", s.Name)
	}
	if err := manifest.ValidateName("namespace", s.Name); err != nil {
		return Result{}, invalidOption(err)
	}
	created := true
	_, err := x.commitTables(ctx, func(c *manifest.Catalog) error { // changes no table
		if _, ok := c.Namespace(s.Name); ok {
			if s.IfNotExists {
				created = false
				return errNoChange
			}
			return dberr.New(dberr.AlreadyExists, "namespace %s already exists", s.Name)
		}
		c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: s.Name, CreatedAt: x.app.Clock()().UTC()})
		return nil
	})
	return x.ddlDone(ctx, q, err, created, "CREATE NAMESPACE", s.Name)
}

// ddlDone finishes a catalog statement whose commit returned err: a
// commit with nothing to change (errNoChange) is no error, and a change
// is audited (action and target, never the statement text).
func (x *Executor) ddlDone(ctx context.Context, q *stmtCtx, err error, changed bool, action, target string) (Result, error) {
	if err != nil && !errors.Is(err, errNoChange) {
		return Result{}, err
	}
	if changed {
		x.audit(ctx, q, action, target)
	}
	return Result{Message: action}, nil
}

// invalidOption turns a manifest validation error into the user's
// INVALID_OPTION error, without the package prefix.
func invalidOption(err error) error {
	return dberr.New(dberr.InvalidOption, "%s", strings.TrimPrefix(err.Error(), manifest.ErrInvalid.Error()+": "))
}

// errNoChange aborts a catalog commit that has nothing to change.
var errNoChange = errors.New("sqlexec: no change")

func (x *Executor) dropNamespace(ctx context.Context, q *stmtCtx, s *sqlparse.DropNamespace) (Result, error) {
	if !q.p.Role.AtLeast(access.RoleDBA) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not drop namespaces (needs dba)", q.p.Role)
	}
	if slices.Contains(reservedNamespaces, s.Name) || s.Name == DefaultNamespace {
		return Result{}, dberr.New(dberr.PermissionDenied, "namespace %s cannot be dropped", s.Name)
	}
	dropped := true
	_, err := x.commitCatalog(ctx, func(c *manifest.Catalog) error {
		i := slices.IndexFunc(c.Namespaces, func(n manifest.Namespace) bool { return n.Name == s.Name })
		if i < 0 {
			if s.IfExists {
				dropped = false
				return errNoChange
			}
			return dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist", s.Name)
		}
		var tables []string
		for _, t := range c.Tables {
			if t.Namespace == s.Name {
				tables = append(tables, t.Name)
			}
		}
		for _, v := range c.Views {
			if v.Namespace == s.Name {
				tables = append(tables, v.Name)
			}
		}
		if len(tables) > 0 && !s.Cascade {
			return dberr.New(dberr.NotEmpty, "namespace %s holds tables or views %s; drop them first or use DROP NAMESPACE %s CASCADE", s.Name, strings.Join(tables, ", "), s.Name)
		}
		dropNamespaceViews(c, s.Name)
		c.Tables = slices.DeleteFunc(c.Tables, func(t manifest.Table) bool { return t.Namespace == s.Name })
		c.Namespaces = slices.Delete(c.Namespaces, i, i+1)
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return Result{}, err
	}
	if dropped {
		x.audit(ctx, q, "DROP NAMESPACE", s.Name)
	}
	return Result{Message: "DROP NAMESPACE"}, nil
}

func (x *Executor) showNamespaces(_ context.Context, q *stmtCtx) (Result, error) {
	res := Result{Columns: []Column{{Name: "namespace", Type: "VARCHAR"}, {Name: "tables", Type: "BIGINT"}}}
	// Count only what SHOW TABLES would list to the caller.
	counts := map[string]int64{}
	for _, t := range q.snap.Catalog().Tables {
		if q.p.CanRead(&t) == nil {
			counts[t.Namespace]++
		}
	}
	for _, n := range q.snap.Catalog().Namespaces {
		res.Rows = append(res.Rows, []any{n.Name, counts[n.Name]})
	}
	slices.SortFunc(res.Rows, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	res.Message = fmt.Sprintf("SHOW %d", len(res.Rows))
	return res, nil
}

func (x *Executor) use(_ context.Context, q *stmtCtx, s *sqlparse.Use) (Result, error) {
	if _, ok := q.snap.Catalog().Namespace(s.Namespace); !ok {
		return Result{}, dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist", s.Namespace)
	}
	q.ns = s.Namespace
	return Result{Message: "USE " + s.Namespace, Namespace: s.Namespace}, nil
}

// tableOptions validates the WITH options of a table of type typ. When
// creating, it also applies the rules for a whole definition (a STREAM
// table needs a TTL; a SHARED table defaults to PRIVATE); ALTER TABLE …
// SET (…) changes only the options it lists.
func tableOptions(typ manifest.TableType, opts []sqlparse.Option, creating bool) (manifest.TableOptions, error) {
	var o manifest.TableOptions
	for _, op := range opts {
		switch op.Key {
		case "FLUSH_POLICY":
			for _, part := range strings.Split(op.Value, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if !ok || err != nil || n <= 0 {
					return o, dberr.New(dberr.InvalidOption, "FLUSH_POLICY %q: want 'rows:N,interval:SECONDS' with positive numbers", op.Value)
				}
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "rows":
					o.FlushRows = n
				case "interval":
					o.FlushIntervalSeconds = n
				default:
					return o, dberr.New(dberr.InvalidOption, "FLUSH_POLICY %q: unknown part %q (want rows or interval)", op.Value, k)
				}
			}
		case "TTL_SECONDS":
			n, err := strconv.ParseInt(op.Value, 10, 64)
			if err != nil || n <= 0 {
				return o, dberr.New(dberr.InvalidOption, "TTL_SECONDS must be a positive number of seconds, got %q", op.Value)
			}
			if typ != manifest.TableStream {
				return o, dberr.New(dberr.InvalidOption, "TTL_SECONDS applies to STREAM tables only")
			}
			o.TTLSeconds = n
		case "ACCESS_LEVEL":
			l, err := accessLevel(op.Value)
			if err != nil {
				return o, err
			}
			if typ != manifest.TableShared {
				return o, dberr.New(dberr.InvalidOption, "ACCESS_LEVEL applies to SHARED tables only")
			}
			o.AccessLevel = l
		default:
			return o, dberr.New(dberr.InvalidOption, "unknown table option %s (known: FLUSH_POLICY, TTL_SECONDS, ACCESS_LEVEL)", op.Key)
		}
	}
	if !creating {
		return o, nil
	}
	if typ == manifest.TableStream && o.TTLSeconds == 0 {
		return o, dberr.New(dberr.InvalidOption, "a STREAM table needs WITH (TTL_SECONDS = n)")
	}
	if typ == manifest.TableShared && o.AccessLevel == "" {
		o.AccessLevel = manifest.AccessPrivate
	}
	return o, nil
}

func accessLevel(s string) (manifest.AccessLevel, error) {
	switch l := manifest.AccessLevel(strings.ToUpper(s)); l {
	case manifest.AccessPublic, manifest.AccessPrivate, manifest.AccessRestricted, manifest.AccessDBA:
		return l, nil
	}
	return "", dberr.New(dberr.InvalidOption, "ACCESS_LEVEL %q: want PUBLIC, PRIVATE, RESTRICTED or DBA", s)
}

// tableName resolves the namespace of a name for DDL.
func (q *stmtCtx) tableName(n sqlparse.Name) sqlparse.Name {
	if n.Namespace == "" {
		n.Namespace = q.ns
	}
	return n
}

// checkDefault checks a column's DEFAULT: a Floe function fitting the
// column's type, or a constant expression DuckDB can evaluate and cast to
// the column's type (no table references).
func (x *Executor) checkDefault(ctx context.Context, q *stmtCtx, col manifest.Column) error {
	_, err := x.evalDefault(ctx, q, col)
	return err
}

// evalDefault checks col's DEFAULT (see checkDefault) and, when it is
// constant SQL, returns its value once evaluated (NULL for no default or a
// Floe function, which is evaluated per row).
func (x *Executor) evalDefault(ctx context.Context, q *stmtCtx, col manifest.Column) (row.Value, error) {
	if col.Default == "" {
		return row.Null(), nil
	}
	if floe, err := checkFloeDefault(col); floe || err != nil {
		return row.Null(), err
	}
	if v, ok := literalValue(col.Default, col.Type, nil); ok {
		return v, nil
	}
	sess, err := q.session(ctx)
	if err != nil {
		return row.Null(), err
	}
	b, err := x.binder.Bind(ctx, sess.Conn(), "SELECT "+castTo(col.Default, col.Type), func(ref sqlbind.TableRef) (string, error) {
		return "", dberr.New(dberr.InvalidOption, "column %s: a DEFAULT cannot read tables", col.Name)
	})
	if err == nil && b.Params > 0 {
		err = dberr.New(dberr.InvalidOption, "column %s: a DEFAULT cannot use parameters", col.Name)
	}
	var v row.Value
	if err == nil {
		var x any
		if err = sess.Conn().QueryRowContext(ctx, b.SQL).Scan(&x); err == nil {
			v, err = fromDriver(x, col.Type, col.Name)
		}
	}
	if err != nil {
		var de *dberr.Error
		if errors.As(err, &de) && de.Code == dberr.InvalidOption {
			return row.Null(), err
		}
		return row.Null(), dberr.Wrap(dberr.InvalidOption, err, "column %s: DEFAULT %s is not a constant of type %s: %v", col.Name, col.Default, col.Type, q.userError(ctx, err))
	}
	return v, nil
}

// initialDefault is the value the rows already in a table read in a
// column ADD COLUMN adds with col's DEFAULT (manifest.Column.
// InitialDefault): the DEFAULT evaluated once, now. NOW() and
// CURRENT_TIMESTAMP give the time of the ALTER (as in Postgres); the Floe
// functions that give each row its own value (SNOWFLAKE_ID(), UUID_V7(),
// ULID(), CURRENT_USER) cannot be evaluated once for every row and are
// refused.
func (x *Executor) initialDefault(ctx context.Context, q *stmtCtx, col manifest.Column) (string, error) {
	var v row.Value
	switch k := classifyDefault(col.Default); k {
	case defaultNone:
		return "", nil
	case defaultSQL:
		var err error
		if v, err = x.evalDefault(ctx, q, col); err != nil {
			return "", err
		}
	case defaultNow:
		if _, err := checkFloeDefault(col); err != nil {
			return "", err
		}
		var err error
		if v, err = x.goDefault(k, col, q.p, x.app.Clock()()); err != nil {
			return "", err
		}
	default:
		if _, err := checkFloeDefault(col); err != nil {
			return "", err
		}
		return "", dberr.New(dberr.InvalidOption, "column %s: DEFAULT %s gives each row its own value and cannot fill the rows already in the table; "+
			"add the column without a DEFAULT (older rows read NULL) or with a constant one", col.Name, strings.TrimSpace(col.Default))
	}
	if v.IsNull() {
		return "", nil
	}
	return segment.FormatStatValue(col.Type, v)
}

func (x *Executor) createTable(ctx context.Context, q *stmtCtx, s *sqlparse.CreateTable) (Result, error) {
	name := q.tableName(s.Table)
	typ := manifest.TableType(s.Kind)
	if typ == "" {
		typ = manifest.TableShared
	}
	if name.Namespace == "system" {
		return Result{}, dberr.New(dberr.PermissionDenied, "namespace system holds Floe's own tables")
	}
	opts, err := tableOptions(typ, s.Options, true)
	if err != nil {
		return Result{}, err
	}
	if err := q.p.CanCreate(typ, opts.AccessLevel); err != nil {
		return Result{}, err
	}
	if err := manifest.ValidateName("table", name.Name); err != nil {
		return Result{}, invalidOption(err)
	}
	now := x.app.Clock()().UTC()
	t := manifest.Table{
		ID: fmt.Sprintf("t%016x", x.ids.next()), Namespace: name.Namespace, Name: name.Name, Type: typ,
		PrimaryKey: s.PrimaryKey, SchemaVersion: 1, Options: opts, CreatedAt: now, UpdatedAt: now,
	}
	if len(t.PrimaryKey) == 0 {
		t.Columns = append(t.Columns, manifest.Column{ID: 1, Name: manifest.ColumnRowID, Type: manifest.BigInt})
		t.PrimaryKey = []string{manifest.ColumnRowID}
	}
	if typ == manifest.TableStream {
		t.Columns = append(t.Columns, manifest.Column{ID: uint32(len(t.Columns) + 1), Name: manifest.ColumnWrittenAt, Type: manifest.Timestamp})
	}
	for _, c := range s.Columns {
		if err := manifest.ValidateName("column", c.Name); err != nil {
			return Result{}, invalidOption(err)
		}
		col := manifest.Column{ID: uint32(len(t.Columns) + 1), Name: c.Name, Type: c.Type, Nullable: !c.NotNull && !slices.Contains(s.PrimaryKey, c.Name), Default: c.Default}
		if _, dup := t.Column(c.Name); dup {
			return Result{}, dberr.New(dberr.InvalidOption, "two columns are named %s", c.Name)
		}
		if err := x.checkDefault(ctx, q, col); err != nil {
			return Result{}, err
		}
		t.Columns = append(t.Columns, col)
	}
	for _, k := range s.PrimaryKey {
		if _, ok := t.Column(k); !ok {
			return Result{}, dberr.New(dberr.ColumnNotFound, "primary key column %s is not a column of the table", k)
		}
	}
	t.NextColumnID = uint32(len(t.Columns) + 1)
	created := true
	_, err = x.commitTables(ctx, func(c *manifest.Catalog) error {
		if _, ok := c.Namespace(t.Namespace); !ok {
			return dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist; CREATE NAMESPACE %s first", t.Namespace, t.Namespace)
		}
		if _, ok := c.Table(t.Namespace, t.Name); ok {
			if s.IfNotExists {
				created = false
				return errNoChange
			}
			return dberr.New(dberr.AlreadyExists, "table %s.%s already exists", t.Namespace, t.Name)
		}
		if _, ok := c.View(t.Namespace, t.Name); ok {
			return dberr.New(dberr.AlreadyExists, "a view named %s.%s already exists; views and tables share names", t.Namespace, t.Name)
		}
		c.AddTable(t)
		if err := c.ValidateTable(t.ID); err != nil { // the rest of c is valid
			return invalidOption(err)
		}
		return nil
	})
	return x.ddlDone(ctx, q, err, created, "CREATE TABLE", t.Namespace+"."+t.Name)
}

func (x *Executor) dropTable(ctx context.Context, q *stmtCtx, s *sqlparse.DropTable) (Result, error) {
	name := q.tableName(s.Table)
	t, err := q.lookup(name)
	if err != nil {
		if s.IfExists && dberr.CodeOf(err) == dberr.TableNotFound {
			return Result{Message: "DROP TABLE"}, nil
		}
		return Result{}, err
	}
	if err := q.p.CanManage(t.Def()); err != nil {
		return Result{}, err
	}
	id := t.Def().ID
	var views []string // dropped with the table (CASCADE)
	_, err = x.commitTables(ctx, func(c *manifest.Catalog) error {
		var err error
		if _, ok := c.TableByID(id); ok {
			if views, err = dropDependents(c, name.Namespace, name.Name, s.Cascade, "table"); err != nil {
				return err
			}
		}
		if !c.RemoveTable(id) {
			if s.IfExists {
				return errNoChange
			}
			return dberr.New(dberr.TableNotFound, "table %s.%s does not exist", name.Namespace, name.Name)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return Result{}, err
	}
	x.audit(ctx, q, "DROP TABLE", name.Namespace+"."+name.Name)
	for _, v := range views {
		x.audit(ctx, q, "DROP VIEW", v)
	}
	return Result{Message: "DROP TABLE"}, nil
}

func (x *Executor) alterTable(ctx context.Context, q *stmtCtx, s *sqlparse.AlterTable) (Result, error) {
	name := q.tableName(s.Table)
	t, err := q.lookup(name)
	if err != nil {
		return Result{}, err
	}
	def := t.Def()
	if err := q.p.CanManage(def); err != nil {
		return Result{}, err
	}
	schemaChange := true
	initial := "" // ADD COLUMN: the added column's InitialDefault
	switch a := s.Action.(type) {
	case *sqlparse.SetAccessLevel:
		schemaChange = false
		if def.Type != manifest.TableShared {
			return Result{}, dberr.New(dberr.InvalidOption, "ACCESS_LEVEL applies to SHARED tables only; %s.%s is %s", def.Namespace, def.Name, def.Type)
		}
		l, err := accessLevel(a.Level)
		if err != nil {
			return Result{}, err
		}
		if err := q.p.CanCreate(def.Type, l); err != nil {
			return Result{}, err
		}
	case *sqlparse.SetOptions:
		schemaChange = false
		o, err := tableOptions(def.Type, a.Options, false)
		if err != nil {
			return Result{}, err
		}
		if err := q.p.CanCreate(def.Type, o.AccessLevel); err != nil {
			return Result{}, err
		}
	case *sqlparse.AddColumn:
		if a.Column.NotNull && a.Column.Default == "" {
			return Result{}, dberr.New(dberr.InvalidOption, "column %s: a column added to an existing table must be nullable or have a DEFAULT", a.Column.Name)
		}
		col := manifest.Column{Name: a.Column.Name, Type: a.Column.Type, Nullable: true, Default: a.Column.Default}
		if err := x.checkDefault(ctx, q, col); err != nil {
			return Result{}, err
		}
		if initial, err = x.initialDefault(ctx, q, col); err != nil {
			return Result{}, err
		}
	}
	if schemaChange {
		// Buffered rows are stored in the schema version they were written
		// with: move them to segments, which map onto any later version.
		if err := x.opts.Writes.Flush(ctx, def.ID); err != nil {
			return Result{}, fmt.Errorf("sqlexec: flush %s.%s before ALTER: %w", def.Namespace, def.Name, err)
		}
	}
	changed := true
	_, err = x.commitTables(ctx, func(c *manifest.Catalog) error {
		cur, ok := c.TableByID(def.ID)
		if !ok {
			return dberr.New(dberr.TableNotFound, "table %s.%s was dropped", name.Namespace, name.Name)
		}
		// The commit shares the tables, their columns and key with the
		// cached catalog (manifest.CommitOptions.EditTables): applyAlter
		// changes a copy, which replaces the table.
		ct := *cur
		ct.Columns, ct.PrimaryKey = slices.Clone(ct.Columns), slices.Clone(ct.PrimaryKey)
		if err := applyAlter(&ct, s.Action, initial, x.app.Clock()().UTC(), &changed); err != nil {
			return err
		}
		if !changed {
			return errNoChange
		}
		c.ReplaceTable(ct)
		if err := c.ValidateTable(def.ID); err != nil { // only ct changed
			return invalidOption(err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return Result{}, err
	}
	if changed {
		x.audit(ctx, q, "ALTER TABLE", name.Namespace+"."+name.Name)
	}
	return Result{Message: "ALTER TABLE"}, nil
}

// applyAlter changes t (a table of a catalog being committed). initial is
// the InitialDefault of a column ADD COLUMN adds.
func applyAlter(t *manifest.Table, action sqlparse.AlterAction, initial string, now time.Time, changed *bool) error {
	t.UpdatedAt = now
	bump := func() { t.SchemaVersion++ }
	switch a := action.(type) {
	case *sqlparse.AddColumn:
		if _, ok := t.Column(a.Column.Name); ok {
			if a.IfNotExists {
				*changed = false
				return nil
			}
			return dberr.New(dberr.AlreadyExists, "%s.%s already has a column %s", t.Namespace, t.Name, a.Column.Name)
		}
		if err := manifest.ValidateName("column", a.Column.Name); err != nil {
			return invalidOption(err)
		}
		t.Columns = append(t.Columns, manifest.Column{ID: t.NextColumnID, Name: a.Column.Name, Type: a.Column.Type, Nullable: true,
			Default: a.Column.Default, InitialDefault: initial})
		t.NextColumnID++
		bump()
	case *sqlparse.DropColumn:
		i := slices.IndexFunc(t.Columns, func(c manifest.Column) bool { return c.Name == a.Name })
		if i < 0 || isHidden(t, a.Name) {
			if a.IfExists {
				*changed = false
				return nil
			}
			return dberr.New(dberr.ColumnNotFound, "%s.%s has no column %s", t.Namespace, t.Name, a.Name)
		}
		if isKey(t, a.Name) {
			return dberr.New(dberr.InvalidOption, "column %s is part of the primary key and cannot be dropped", a.Name)
		}
		if len(t.Columns) == 1 || (len(t.Columns) == 2 && t.HasHiddenRowID()) {
			return dberr.New(dberr.InvalidOption, "cannot drop the last column of %s.%s", t.Namespace, t.Name)
		}
		t.Columns = slices.Delete(t.Columns, i, i+1)
		bump()
	case *sqlparse.RenameColumn:
		c, ok := t.Column(a.From)
		if !ok || isHidden(t, a.From) {
			return dberr.New(dberr.ColumnNotFound, "%s.%s has no column %s", t.Namespace, t.Name, a.From)
		}
		if _, taken := t.Column(a.To); taken {
			return dberr.New(dberr.AlreadyExists, "%s.%s already has a column %s", t.Namespace, t.Name, a.To)
		}
		if err := manifest.ValidateName("column", a.To); err != nil {
			return invalidOption(err)
		}
		for i, k := range t.PrimaryKey {
			if k == a.From {
				t.PrimaryKey[i] = a.To
			}
		}
		c.Name = a.To
		bump()
	case *sqlparse.SetAccessLevel:
		l, err := accessLevel(a.Level)
		if err != nil {
			return err
		}
		t.Options.AccessLevel = l
	case *sqlparse.SetOptions:
		o, err := tableOptions(t.Type, a.Options, false)
		if err != nil {
			return err
		}
		for _, op := range a.Options {
			switch op.Key {
			case "FLUSH_POLICY":
				t.Options.FlushRows, t.Options.FlushIntervalSeconds = o.FlushRows, o.FlushIntervalSeconds
			case "TTL_SECONDS":
				t.Options.TTLSeconds = o.TTLSeconds
			case "ACCESS_LEVEL":
				t.Options.AccessLevel = o.AccessLevel
			}
		}
	default:
		return dberr.New(dberr.Unsupported, "this ALTER TABLE action is not supported")
	}
	return nil
}

func (x *Executor) showTables(_ context.Context, q *stmtCtx, s *sqlparse.ShowTables) (Result, error) {
	res := Result{Columns: []Column{{Name: "namespace", Type: "VARCHAR"}, {Name: "table", Type: "VARCHAR"}, {Name: "type", Type: "VARCHAR"}, {Name: "access_level", Type: "VARCHAR", Nullable: true}}}
	if s.Namespace != "" {
		if _, ok := q.snap.Catalog().Namespace(s.Namespace); !ok {
			return Result{}, dberr.New(dberr.NamespaceNotFound, "namespace %s does not exist", s.Namespace)
		}
	}
	for _, t := range q.snap.Catalog().Tables {
		if (s.Namespace != "" && t.Namespace != s.Namespace) || q.p.CanRead(&t) != nil {
			continue
		}
		var level any
		if t.Type == manifest.TableShared {
			level = string(t.Options.AccessLevel)
		}
		res.Rows = append(res.Rows, []any{t.Namespace, t.Name, string(t.Type), level})
	}
	slices.SortFunc(res.Rows, func(a, b []any) int {
		return strings.Compare(a[0].(string)+"."+a[1].(string), b[0].(string)+"."+b[1].(string))
	})
	res.Message = fmt.Sprintf("SHOW %d", len(res.Rows))
	return res, nil
}

func (x *Executor) describe(_ context.Context, q *stmtCtx, s *sqlparse.Describe) (Result, error) {
	if n := q.tableName(s.Table); q.snap.Views() > 0 {
		if v, ok := q.snap.Catalog().View(n.Namespace, n.Name); ok {
			return x.describeView(q, v)
		}
	}
	t, err := q.lookup(q.tableName(s.Table))
	if err != nil {
		return Result{}, err
	}
	def := t.Def()
	if err := q.p.CanRead(def); err != nil {
		return Result{}, err
	}
	res := Result{Columns: []Column{{Name: "column", Type: "VARCHAR"}, {Name: "type", Type: "VARCHAR"}, {Name: "nullable", Type: "BOOLEAN"},
		{Name: "default", Type: "VARCHAR", Nullable: true}, {Name: "primary_key", Type: "BOOLEAN"}}}
	for _, c := range def.Columns {
		if isHidden(def, c.Name) {
			continue
		}
		var d any
		if c.Default != "" {
			d = c.Default
		}
		res.Rows = append(res.Rows, []any{c.Name, c.Type.String(), c.Nullable, d, isKey(def, c.Name)})
	}
	res.Message = fmt.Sprintf("DESCRIBE %s.%s", def.Namespace, def.Name)
	return res, nil
}

func (x *Executor) flush(ctx context.Context, q *stmtCtx, s *sqlparse.Flush) (Result, error) {
	if !q.p.Role.AtLeast(access.RoleService) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not run FLUSH (needs service)", q.p.Role)
	}
	if s.All {
		if err := x.opts.Writes.Flush(ctx, ""); err != nil {
			return Result{}, err
		}
		return Result{Message: "FLUSH ALL"}, nil
	}
	t, err := q.lookup(q.tableName(*s.Table))
	if err != nil {
		return Result{}, err
	}
	if t.Def().Type != manifest.TableSystem {
		if err := q.p.CanManage(t.Def()); err != nil {
			return Result{}, err
		}
	} else if !q.p.Role.AtLeast(access.RoleDBA) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not flush system tables (needs dba)", q.p.Role)
	}
	if err := x.opts.Writes.Flush(ctx, t.Def().ID); err != nil {
		return Result{}, err
	}
	return Result{Message: "FLUSH TABLE " + t.Def().Namespace + "." + t.Def().Name}, nil
}

func (x *Executor) compact(ctx context.Context, q *stmtCtx, s *sqlparse.Compact) (Result, error) {
	t, err := q.lookup(q.tableName(s.Table))
	if err != nil {
		return Result{}, err
	}
	def := t.Def()
	if def.Type != manifest.TableSystem {
		if err := q.p.CanManage(def); err != nil {
			return Result{}, err
		}
	} else if !q.p.Role.AtLeast(access.RoleDBA) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not compact system tables (needs dba)", q.p.Role)
	}
	parts, err := x.store.Partitions(ctx, def.ID)
	if err != nil {
		return Result{}, err
	}
	var in, out int
	for _, p := range parts {
		r, err := x.store.Compact(ctx, def, p, x.opts.Compact)
		if err != nil {
			return Result{}, err
		}
		in += r.SegmentsIn
		out += r.SegmentsOut
	}
	return Result{Message: fmt.Sprintf("COMPACT %s.%s: %d partitions, %d segments into %d", def.Namespace, def.Name, len(parts), in, out)}, nil
}
