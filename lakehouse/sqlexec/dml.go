package sqlexec

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// writeTarget resolves the table a DML statement writes, checks the
// principal's right to write it, and returns the partition it writes:
// the caller's own for USER and STREAM tables.
func (q *stmtCtx) writeTarget(n sqlparse.Name) (*schemaTable, string, error) {
	t, err := q.lookup(n)
	if err != nil {
		return nil, "", err
	}
	def := t.Def()
	if err := q.p.CanWrite(def); err != nil {
		return nil, "", err
	}
	if def.Type == manifest.TableUser || def.Type == manifest.TableStream {
		return t, q.p.UserID, nil
	}
	return t, "", nil
}

// lockPartition serializes read-check-write statements on one partition
// of this node. The returned function unlocks; calls after the first do
// nothing (write unlocks early, the caller's deferred call is then a
// no-op).
func (x *Executor) lockPartition(tableID, partition string) func() {
	m, _ := x.partLocks.LoadOrStore(tableID+"\x00"+partition, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return sync.OnceFunc(mu.Unlock)
}

// qualified is the SQL name of a table, for statements Floe builds.
func qualified(t *manifest.Table) string {
	return duckengine.Ident(t.Namespace) + "." + duckengine.Ident(t.Name)
}

// readValues runs a bound SELECT whose columns are cols (in order, each
// CAST to its column's type) and converts its rows to stored values.
func (q *stmtCtx) readValues(ctx context.Context, text string, nparams int, cols []manifest.Column) ([]row.Row, error) {
	args, err := q.args(nparams)
	if err != nil {
		return nil, err
	}
	if _, err := q.session(ctx); err != nil {
		return nil, err
	}
	rows, err := q.sess.Conn().QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row.Row
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make(row.Row, len(cols))
		for i, c := range cols {
			v, err := fromDriver(raw[i], c.Type, c.Name)
			if err != nil {
				return nil, err
			}
			r[i] = v
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// castTo is the SQL that evaluates expr as a value of type t, in the form
// fromDriver reads: JSON travels as its text (DuckDB's driver would decode
// it into Go maps and lose its exact text).
func castTo(expr string, t manifest.Type) string {
	if t.Kind == manifest.KindJSON {
		return "CAST(CAST((" + expr + ") AS JSON) AS VARCHAR)"
	}
	return "CAST((" + expr + ") AS " + duckType(t) + ")"
}

// checkNotNull refuses NULL in NOT NULL columns.
func checkNotNull(def *manifest.Table, r row.Row, n int) error {
	for i, c := range def.Columns {
		if r[i].IsNull() && !c.Nullable {
			return dberr.New(dberr.NotNullViolation, "row %d: column %s of %s.%s is NOT NULL and got no value", n, c.Name, def.Namespace, def.Name)
		}
	}
	return nil
}

func (x *Executor) insert(ctx context.Context, q *stmtCtx, s *sqlparse.Insert) (Result, error) {
	t, part, err := q.writeTarget(s.Table)
	if err != nil {
		return Result{}, err
	}
	def := t.Def()
	target := s.Columns
	if len(target) == 0 {
		for _, c := range def.Columns {
			if !isHidden(def, c.Name) {
				target = append(target, c.Name)
			}
		}
	}
	pos := make(map[string]int, len(target))
	for i, name := range target {
		if _, ok := def.Column(name); !ok || isHidden(def, name) {
			return Result{}, dberr.New(dberr.ColumnNotFound, "%s.%s has no column %s", def.Namespace, def.Name, name)
		}
		if _, dup := pos[name]; dup {
			return Result{}, dberr.New(dberr.InvalidArgument, "column %s is listed twice", name)
		}
		pos[name] = i
	}
	alias := make([]string, len(target))
	for i := range target {
		alias[i] = fmt.Sprintf(`"c%d"`, i+1)
	}
	var src string
	if s.Query != "" {
		src = "(" + s.Query + ")"
	} else {
		tuples := make([]string, len(s.Rows))
		for i, r := range s.Rows {
			if len(r) != len(target) {
				return Result{}, dberr.New(dberr.InvalidArgument, "row %d has %d values for %d columns", i+1, len(r), len(target))
			}
			es := make([]string, len(r))
			for j, e := range r {
				es[j] = e.Text
			}
			tuples[i] = "(" + strings.Join(es, ", ") + ")"
		}
		src = "(VALUES " + strings.Join(tuples, ", ") + ")"
	}
	src += " AS __floe_src(" + strings.Join(alias, ", ") + ")"

	proj := make([]string, len(def.Columns))
	goDefaults := make([]defaultKind, len(def.Columns))
	for i, c := range def.Columns {
		k, targeted := pos[c.Name]
		switch {
		case targeted:
			proj[i] = castTo("__floe_src."+alias[k], c.Type)
		case c.Name == manifest.ColumnRowID && isHidden(def, c.Name):
			goDefaults[i] = defaultSnowflake
			proj[i] = "CAST(NULL AS BIGINT)"
		case c.Name == manifest.ColumnWrittenAt && isHidden(def, c.Name):
			goDefaults[i] = defaultNow
			proj[i] = castTo("NULL", c.Type)
		default:
			goDefaults[i] = classifyDefault(c.Default)
			if goDefaults[i] == defaultSQL {
				proj[i] = castTo(c.Default, c.Type)
			} else {
				proj[i] = castTo("NULL", c.Type)
			}
		}
	}
	rows, fast := literalRows(def, s.Rows, pos, goDefaults, q.params)
	if !fast {
		b, err := q.bindQuery(ctx, "SELECT "+strings.Join(proj, ", ")+" FROM "+src, false)
		if err != nil {
			return Result{}, err
		}
		if rows, err = q.readValues(ctx, b.SQL, b.Params, def.Columns); err != nil {
			return Result{}, err
		}
	}
	now := x.app.Clock()()
	for n, r := range rows {
		for i, k := range goDefaults {
			if k != defaultNone && k != defaultSQL {
				v, err := x.goDefault(k, def.Columns[i], q.p, now)
				if err != nil {
					return Result{}, err
				}
				r[i] = v
			}
		}
		if err := checkNotNull(def, r, n+1); err != nil {
			return Result{}, err
		}
	}
	if len(rows) == 0 {
		return Result{Message: "INSERT 0"}, nil
	}

	unlock := x.lockPartition(def.ID, part)
	defer unlock()
	changes, err := x.resolveConflicts(ctx, q, t, part, s.OnConflict, s.Replace, rows)
	if err != nil {
		return Result{}, err
	}
	if err := x.write(ctx, q, def, part, changes, unlock); err != nil {
		return Result{}, err
	}
	return Result{RowsAffected: int64(len(changes)), Message: fmt.Sprintf("INSERT %d", len(changes))}, nil
}

// literalRows converts VALUES rows made only of plain literals (see
// literalValue), with defaults that are Floe functions or literals, to
// stored rows without DuckDB. ok is false when any expression needs DuckDB.
func literalRows(def *manifest.Table, rows [][]sqlparse.Expr, pos map[string]int, goDefaults []defaultKind, params []any) (out []row.Row, ok bool) {
	if rows == nil {
		return nil, false
	}
	defaults := make([]row.Value, len(def.Columns))
	for i, c := range def.Columns {
		if _, targeted := pos[c.Name]; !targeted && goDefaults[i] == defaultSQL {
			v, ok := literalValue(c.Default, c.Type, nil)
			if !ok {
				return nil, false
			}
			defaults[i] = v
		}
	}
	out = make([]row.Row, len(rows))
	for n, exprs := range rows {
		r := make(row.Row, len(def.Columns))
		for i, c := range def.Columns {
			k, targeted := pos[c.Name]
			if !targeted {
				r[i] = defaults[i]
				continue
			}
			v, ok := literalValue(exprs[k].Text, c.Type, params)
			if !ok {
				return nil, false
			}
			r[i] = v
		}
		out[n] = r
	}
	return out, true
}

// resolveConflicts checks the primary keys of new rows against each other
// and against the partition, and applies ON CONFLICT (or INSERT OR
// REPLACE: the new row replaces the old). It returns the changes to write.
func (x *Executor) resolveConflicts(ctx context.Context, q *stmtCtx, t *schemaTable, part string, oc *sqlparse.OnConflict, replace bool, rows []row.Row) ([]tablestore.Change, error) {
	def := t.Def()
	if def.HasHiddenRowID() {
		changes := make([]tablestore.Change, len(rows))
		for i, r := range rows {
			changes[i] = tablestore.Change{Values: r, Insert: true} // a fresh _rowid
		}
		return changes, nil
	}
	pk := pkPositions(def)
	seen := make(map[string]int, len(rows))
	for i, r := range rows {
		k := string(row.AppendKey(nil, pick(r, pk)...))
		if j, dup := seen[k]; dup {
			return nil, dberr.New(dberr.PKViolation, "rows %d and %d of the statement have the same primary key %s", j+1, i+1, keyText(def, r, pk))
		}
		seen[k] = i
	}
	existing, err := q.existingKeys(ctx, t, part, rows, pk)
	if err != nil {
		return nil, err
	}
	var changes []tablestore.Change
	var conflicts []row.Row
	for _, r := range rows {
		old, found := existing[string(row.AppendKey(nil, pick(r, pk)...))]
		if !found {
			changes = append(changes, tablestore.Change{Values: r, Insert: true})
			continue
		}
		switch {
		case oc == nil && replace:
			changes = append(changes, tablestore.Change{Values: r, Old: old})
		case oc == nil:
			return nil, dberr.New(dberr.PKViolation, "%s.%s already has a row with primary key %s; use ON CONFLICT to update or skip it", def.Namespace, def.Name, keyText(def, r, pk))
		case oc.DoNothing:
		default:
			conflicts = append(conflicts, r)
		}
	}
	if len(conflicts) > 0 {
		updated, err := q.conflictUpdates(ctx, t, oc, conflicts)
		if err != nil {
			return nil, err
		}
		for _, r := range updated {
			changes = append(changes, tablestore.Change{Values: r, Old: existing[string(row.AppendKey(nil, pick(r, pk)...))]})
		}
	}
	return changes, nil
}

// keysTable loads the key columns of rows into a temporary table and
// returns its name.
func (q *stmtCtx) keysTable(ctx context.Context, def *manifest.Table, rows []row.Row, cols []int) (string, error) {
	if _, err := q.session(ctx); err != nil {
		return "", err
	}
	name := q.sess.TempName()
	tcols := make([]duckengine.Column, len(cols))
	for i, c := range cols {
		tcols[i] = duckengine.Column{Name: def.Columns[c].Name, Type: duckType(def.Columns[c].Type)}
	}
	err := q.sess.CreateTable(ctx, name, tcols, func(yield func([]driver.Value) bool) error {
		vals := make([]driver.Value, len(cols))
		for _, r := range rows {
			for i, c := range cols {
				vals[i] = toDriver(r[c], def.Columns[c].Type)
			}
			if !yield(vals) {
				return nil
			}
		}
		return nil
	})
	return name, err
}

// lookupKeysMax is the most rows for which existingKeys looks each key up
// in the store instead of joining with DuckDB.
const lookupKeysMax = 64

// existingKeys returns the encoded keys among rows' that the partition
// holds, each with its row's current values when the executor passes old
// values down (Options.OldValues; nil otherwise). It reads only the
// buffered versions of those keys and the segments whose key statistics
// may hold them (tablestore.KeyScan), so its cost does not grow with the
// partition; when no segment can hold them it does not run DuckDB at all.
//
// A statement of at most lookupKeysMax rows asks the store for each key
// (tablestore.Store.LookupKeys: one buffer seek per key and the segments'
// cached key indexes), which costs microseconds where a DuckDB semi join over the
// segments costs milliseconds.
func (q *stmtCtx) existingKeys(ctx context.Context, t *schemaTable, part string, rows []row.Row, pk []int) (map[string]row.Row, error) {
	def := t.Def()
	full := q.x.opts.OldValues
	keys := make([]row.Row, len(rows))
	for i, r := range rows {
		keys[i] = pick(r, pk)
	}
	if len(keys) <= lookupKeysMax {
		live, err := q.x.store.LookupKeys(ctx, def, part, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[string]row.Row, len(live))
		for _, v := range live {
			var old row.Row
			if full {
				old = v.Values
			}
			out[string(row.AppendKey(nil, pick(v.Values, pk)...))] = old
		}
		return out, nil
	}
	fs, err := q.x.store.KeyScan(ctx, def, part, keys)
	if err != nil {
		return nil, err
	}
	q.releases = append(q.releases, fs.Release)
	out := make(map[string]row.Row, len(fs.Buffered))
	if len(fs.Files) == 0 {
		for _, v := range fs.Buffered {
			if !v.Deleted {
				var old row.Row
				if full {
					old = v.Values
				}
				out[string(row.AppendKey(nil, pick(v.Values, pk)...))] = old
			}
		}
		return out, nil
	}
	if _, err := q.session(ctx); err != nil {
		return nil, err
	}
	view, err := q.fileScanView(ctx, t, fs, true, "", nil)
	if err != nil {
		return nil, err
	}
	keyTable, err := q.keysTable(ctx, def, rows, pk)
	if err != nil {
		return nil, err
	}
	k := keyColumnsOf(def)
	names := strings.Join(k.names, ", ")
	proj, cols := names, k.cols
	if full {
		proj, cols = strings.Join(allColumns(def, ""), ", "), def.Columns
	}
	text := fmt.Sprintf("SELECT %s FROM %s SEMI JOIN %s USING (%s)", proj, view, keyTable, names)
	found, err := q.readValues(ctx, text, 0, cols)
	if err != nil {
		return nil, err
	}
	for _, r := range found {
		if full {
			out[string(row.AppendKey(nil, pick(r, pk)...))] = r
		} else {
			out[string(row.AppendKey(nil, r...))] = nil
		}
	}
	return out, nil
}

// conflictUpdates evaluates ON CONFLICT DO UPDATE SET for rows whose key
// exists: the SET expressions see the existing row under the table's name
// and the proposed row as excluded.
func (q *stmtCtx) conflictUpdates(ctx context.Context, t *schemaTable, oc *sqlparse.OnConflict, rows []row.Row) ([]row.Row, error) {
	def := t.Def()
	all := make([]int, len(def.Columns))
	for i := range all {
		all[i] = i
	}
	excluded, err := q.keysTable(ctx, def, rows, all)
	if err != nil {
		return nil, err
	}
	if q.extra == nil {
		q.extra = map[string]string{}
	}
	q.extra["excluded"] = excluded
	set := make(map[string]string, len(oc.Set))
	for _, a := range oc.Set {
		if _, ok := def.Column(a.Column); !ok || isHidden(def, a.Column) {
			return nil, dberr.New(dberr.ColumnNotFound, "%s.%s has no column %s", def.Namespace, def.Name, a.Column)
		}
		if isKey(def, a.Column) {
			return nil, dberr.New(dberr.Unsupported, "ON CONFLICT cannot change primary key column %s", a.Column)
		}
		set[a.Column] = a.Value.Text
	}
	proj := make([]string, len(def.Columns))
	for i, c := range def.Columns {
		if e, ok := set[c.Name]; ok {
			proj[i] = castTo(e, c.Type)
		} else {
			proj[i] = castTo(duckengine.Ident(def.Name)+"."+duckengine.Ident(c.Name), c.Type)
		}
	}
	pk := make([]string, len(def.PrimaryKey))
	for i, k := range def.PrimaryKey {
		pk[i] = duckengine.Ident(k)
	}
	text := fmt.Sprintf("SELECT %s FROM %s AS %s JOIN excluded USING (%s)", strings.Join(proj, ", "), qualified(def), duckengine.Ident(def.Name), strings.Join(pk, ", "))
	b, err := q.bindQuery(ctx, text, true)
	if err != nil {
		return nil, err
	}
	out, err := q.readValues(ctx, b.SQL, b.Params, def.Columns)
	if err != nil {
		return nil, err
	}
	for n, r := range out {
		if err := checkNotNull(def, r, n+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (x *Executor) update(ctx context.Context, q *stmtCtx, s *sqlparse.Update) (Result, error) {
	t, part, err := q.writeTarget(s.Table)
	if err != nil {
		return Result{}, err
	}
	def := t.Def()
	if def.Type == manifest.TableStream {
		return Result{}, dberr.New(dberr.PermissionDenied, "%s.%s is a STREAM table: rows are append-only", def.Namespace, def.Name)
	}
	set := make(map[string]string, len(s.Set))
	for _, a := range s.Set {
		if _, ok := def.Column(a.Column); !ok || isHidden(def, a.Column) {
			return Result{}, dberr.New(dberr.ColumnNotFound, "%s.%s has no column %s", def.Namespace, def.Name, a.Column)
		}
		if isKey(def, a.Column) {
			return Result{}, dberr.New(dberr.Unsupported, "UPDATE cannot change primary key column %s; delete the row and insert it with the new key", a.Column)
		}
		if _, dup := set[a.Column]; dup {
			return Result{}, dberr.New(dberr.InvalidArgument, "column %s is set twice", a.Column)
		}
		set[a.Column] = a.Value.Text
	}
	alias := s.Alias
	if alias == "" {
		alias = def.Name
	}
	proj := make([]string, len(def.Columns))
	for i, c := range def.Columns {
		if e, ok := set[c.Name]; ok {
			proj[i] = castTo(e, c.Type)
		} else {
			proj[i] = castTo(duckengine.Ident(alias)+"."+duckengine.Ident(c.Name), c.Type)
		}
	}
	cols := def.Columns
	if x.opts.OldValues {
		// The old values travel in the same SELECT, after the new ones.
		proj = append(proj, allColumns(def, duckengine.Ident(alias))...)
		cols = append(slices.Clone(cols), def.Columns...)
	}
	unlock := x.lockPartition(def.ID, part)
	defer unlock()
	rows, err := q.selectTarget(ctx, def, proj, alias, s.Where, cols)
	if err != nil {
		return Result{}, err
	}
	changes := make([]tablestore.Change, len(rows))
	for n, r := range rows {
		c := tablestore.Change{Values: r}
		if x.opts.OldValues {
			n := len(def.Columns)
			c = tablestore.Change{Values: r[:n:n], Old: r[n:]}
		}
		if err := checkNotNull(def, c.Values, n+1); err != nil {
			return Result{}, err
		}
		changes[n] = c
	}
	if err := x.write(ctx, q, def, part, changes, unlock); err != nil {
		return Result{}, err
	}
	return Result{RowsAffected: int64(len(rows)), Message: fmt.Sprintf("UPDATE %d", len(rows))}, nil
}

func (x *Executor) delete(ctx context.Context, q *stmtCtx, s *sqlparse.Delete) (Result, error) {
	t, part, err := q.writeTarget(s.Table)
	if err != nil {
		return Result{}, err
	}
	def := t.Def()
	if def.Type == manifest.TableStream {
		return Result{}, dberr.New(dberr.PermissionDenied, "%s.%s is a STREAM table: rows are append-only and expire after their TTL", def.Namespace, def.Name)
	}
	alias := s.Alias
	if alias == "" {
		alias = def.Name
	}
	k := keyColumnsOf(def)
	proj := make([]string, len(k.names))
	for i, n := range k.names {
		proj[i] = duckengine.Ident(alias) + "." + n
	}
	cols := k.cols
	if x.opts.OldValues {
		proj, cols = allColumns(def, duckengine.Ident(alias)), def.Columns
	}
	unlock := x.lockPartition(def.ID, part)
	defer unlock()
	rows, err := q.selectTarget(ctx, def, proj, alias, s.Where, cols)
	if err != nil {
		return Result{}, err
	}
	if err := x.write(ctx, q, def, part, k.deletes(def, rows, x.opts.OldValues), unlock); err != nil {
		return Result{}, err
	}
	return Result{RowsAffected: int64(len(rows)), Message: fmt.Sprintf("DELETE %d", len(rows))}, nil
}

// selectTarget reads the rows of the statement's target table that match
// where (the caller's own partition for per-user tables), projected by proj
// (SQL over the table under alias, one per column of cols).
func (q *stmtCtx) selectTarget(ctx context.Context, def *manifest.Table, proj []string, alias string, where *sqlparse.Expr, cols []manifest.Column) ([]row.Row, error) {
	text := fmt.Sprintf("SELECT %s FROM %s AS %s", strings.Join(proj, ", "), qualified(def), duckengine.Ident(alias))
	if where != nil {
		text += " WHERE " + where.Text
	}
	b, err := q.bindQuery(ctx, text, true)
	if err != nil {
		return nil, err
	}
	return q.readValues(ctx, b.SQL, b.Params, cols)
}

// write hands changes of one partition to the storage engine for the
// statement q (nil for the engine's own writes). Once the changes are
// visible and before waiting for them to be durable, it calls unlock (the
// statement's partition lock), so that the next statement on the
// partition runs its key check and applies its changes meanwhile and the
// two share a WAL sync (group commit), and it gives back q's query slot:
// the wait does no engine work, and a slot held across it would let at
// most query.max_concurrent writers share one sync. The next statement
// may see these changes before they are acknowledged, as any reader may;
// a statement that builds on them is acknowledged only after them (the
// WAL is written in order), and if the process dies first neither is. q
// must do no engine work after write.
func (x *Executor) write(ctx context.Context, q *stmtCtx, def *manifest.Table, part string, changes []tablestore.Change, unlock func()) error {
	if len(changes) == 0 {
		return nil
	}
	durable, err := x.opts.Writes.Apply(ctx, def, part, changes)
	unlock()
	if q != nil {
		q.lim.yieldSlot()
	}
	if err == nil {
		err = durable()
	}
	if err != nil {
		return fmt.Errorf("sqlexec: write %s.%s: %w", def.Namespace, def.Name, err)
	}
	return nil
}

// keyColumns describes a table's primary key: column positions, columns
// and quoted names.
type keyColumns struct {
	pos   []int
	cols  []manifest.Column
	names []string
}

func keyColumnsOf(def *manifest.Table) keyColumns {
	k := keyColumns{pos: pkPositions(def)}
	for _, c := range k.pos {
		k.cols = append(k.cols, def.Columns[c])
		k.names = append(k.names, duckengine.Ident(def.Columns[c].Name))
	}
	return k
}

// deletes returns a delete of each row: rows are the key columns' values
// in key order, or, when full, whole rows, which the deletes carry as
// their old values.
func (k keyColumns) deletes(def *manifest.Table, rows []row.Row, full bool) []tablestore.Change {
	changes := make([]tablestore.Change, len(rows))
	for n, r := range rows {
		vals := make(row.Row, len(def.Columns))
		for i, c := range k.pos {
			if full {
				vals[c] = r[c]
			} else {
				vals[c] = r[i]
			}
		}
		changes[n] = tablestore.Change{Deleted: true, Values: vals}
		if full {
			changes[n].Old = r
		}
	}
	return changes
}

// allColumns are the SQL expressions reading every column of def in the
// form readValues expects, qualified by qual ("" for none).
func allColumns(def *manifest.Table, qual string) []string {
	out := make([]string, len(def.Columns))
	for i, c := range def.Columns {
		ref := duckengine.Ident(c.Name)
		if qual != "" {
			ref = qual + "." + ref
		}
		out[i] = castTo(ref, c.Type)
	}
	return out
}

func isHidden(def *manifest.Table, col string) bool { return def.IsHiddenColumn(col) }

func isKey(def *manifest.Table, col string) bool {
	for _, k := range def.PrimaryKey {
		if k == col {
			return true
		}
	}
	return false
}

func pkPositions(def *manifest.Table) []int {
	out := make([]int, len(def.PrimaryKey))
	for i, k := range def.PrimaryKey {
		out[i] = columnIndex(def, k)
	}
	return out
}

func pick(r row.Row, idx []int) []row.Value {
	out := make([]row.Value, len(idx))
	for i, j := range idx {
		out[i] = r[j]
	}
	return out
}

// keyText renders a key for messages: (id)=(42).
func keyText(def *manifest.Table, r row.Row, pk []int) string {
	names := make([]string, len(pk))
	vals := make([]string, len(pk))
	for i, c := range pk {
		names[i] = def.Columns[c].Name
		vals[i] = r[c].String()
	}
	return "(" + strings.Join(names, ", ") + ")=(" + strings.Join(vals, ", ") + ")"
}
