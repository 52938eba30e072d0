package sqlexec

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// A provider gives one statement the rows of one table that its principal
// may see: as a query over the table's files, which the gate inlines at
// each reference as a trusted subquery (sqlbind.Replacement.Trusted), or
// as a temporary relation of the statement's DuckDB session. Every
// provider takes the table's shape from the schema registry
// (schema.Table.ArrowSchema, memoized per schema version): that is the one
// place a table's columns are turned into an engine schema.
type provider interface {
	// source returns the table's rows. version is a partition manifest
	// version for time travel (0: latest). hidden includes the hidden
	// _rowid column (for UPDATE/DELETE).
	source(ctx context.Context, q *stmtCtx, tbl *schema.Table, version uint64, hidden bool) (tableSource, error)
}

// tableSource is what a provider returns: exactly one of query and
// relation is set.
type tableSource struct {
	// query is Floe's own SQL for the rows, built from the catalog, the
	// store and values Floe quotes itself: never from user SQL. It may
	// read files (read_parquet), which the gate lets no user SQL do.
	query string
	// relation is the quoted name of a temporary relation of the
	// statement's session holding the rows.
	relation string
}

// providerFor returns the provider of a table.
func (x *Executor) providerFor(t *manifest.Table) provider {
	switch t.Type {
	case manifest.TableUser, manifest.TableStream:
		return partitionProvider{perUser: true}
	case manifest.TableSystem:
		if v, ok := x.virtual[t.Name]; ok {
			return v
		}
		if t.Name == access.UsersTable {
			return usersProvider{}
		}
	}
	return partitionProvider{}
}

// scanColumn is one column of a provider's view.
type scanColumn struct {
	id       uint32
	name     string
	duckType string
	typ      manifest.Type
	// missing is the SQL value segments that predate the column read in
	// it: its initial default, or NULL.
	missing string
}

// scanColumns returns the columns of tbl from its memoized Arrow schema
// (names, order) and definition (ids, types): user columns, then _rowid
// if hidden is set and the table has one.
func scanColumns(tbl *schema.Table, hidden bool) ([]scanColumn, error) {
	sch, err := tbl.ArrowSchema()
	if err != nil {
		return nil, err
	}
	def := tbl.Def()
	if sch.NumFields() != len(def.Columns)+2 {
		return nil, fmt.Errorf("sqlexec: schema of %s has %d fields for %d columns", def.ID, sch.NumFields(), len(def.Columns))
	}
	cols := make([]scanColumn, 0, len(def.Columns))
	for i, f := range sch.Fields()[:len(def.Columns)] {
		c := def.Columns[i]
		if c.Name != f.Name {
			return nil, fmt.Errorf("sqlexec: schema of %s: field %q for column %q", def.ID, f.Name, c.Name)
		}
		if def.IsHiddenColumn(c.Name) && !hidden {
			continue
		}
		missing := "NULL"
		if c.InitialDefault != "" {
			v, err := segment.ParseStatValue(c.Type, c.InitialDefault)
			if err != nil {
				return nil, fmt.Errorf("sqlexec: %s column %s: initial default: %w", def.ID, c.Name, err)
			}
			// read_parquet wants one type for every default_value: the
			// value travels as DuckDB's own text for it, which DuckDB
			// casts back to the column type exactly.
			missing = "CAST(" + sqlLiteral(v, c.Type) + " AS VARCHAR)"
		}
		cols = append(cols, scanColumn{id: c.ID, name: c.Name, duckType: duckTypeOf(f, c.Type), typ: c.Type, missing: missing})
	}
	return cols, nil
}

// duckTypeOf is the DuckDB type of an Arrow field of the registry's schema.
func duckTypeOf(f arrow.Field, t manifest.Type) string {
	if f.Type.ID() == arrow.DECIMAL128 {
		d := f.Type.(*arrow.Decimal128Type)
		return fmt.Sprintf("DECIMAL(%d,%d)", d.Precision, d.Scale)
	}
	return duckType(t)
}

// partitionProvider reads one partition of a stored table: the caller's
// own for USER and STREAM tables (perUser), the single shared one
// otherwise.
type partitionProvider struct{ perUser bool }

func (pp partitionProvider) source(ctx context.Context, q *stmtCtx, tbl *schema.Table, version uint64, hidden bool) (tableSource, error) {
	partition := ""
	if pp.perUser {
		partition = q.p.UserID
	}
	query, err := q.partitionQuery(ctx, tbl, partition, version, hidden, q.x.expiryFilter(tbl.Def()), nil)
	return tableSource{query: query}, err
}

// usersProvider serves system.users: dba and system see every row, other
// roles only their own; no one sees password_hash.
type usersProvider struct{}

func (usersProvider) source(ctx context.Context, q *stmtCtx, tbl *schema.Table, version uint64, hidden bool) (tableSource, error) {
	// Password hashes never leave the engine through SQL. The query's
	// text holds buffered rows of every user, hashes included, as
	// literals: it goes into a temporary view, never into the text of the
	// statement (which EXPLAIN ANALYZE echoes).
	view, err := q.partitionView(ctx, tbl, "", version, hidden, access.UsersRowFilter(q.p, duckengine.Literal), access.UsersHiddenColumns())
	return tableSource{relation: view}, err
}

// partitionView is partitionQuery as a temporary view; it returns the
// view's name.
func (q *stmtCtx) partitionView(ctx context.Context, tbl *schema.Table, partition string, version uint64, hidden bool, filter string, omit []string) (string, error) {
	body, err := q.partitionQuery(ctx, tbl, partition, version, hidden, filter, omit)
	if err != nil {
		return "", err
	}
	return q.createView(ctx, body)
}

// partitionQuery returns the query of the rows of one partition (Floe's
// own SQL, for the gate to inline as a trusted subquery): the segments
// (see filesSQL) and the buffered versions, merged by tablestore's rule —
// per key the greatest _seq wins and a winning tombstone hides the key —
// without a window over all rows: the segments that no newer source
// overlaps are read as they are, and the rows of the others that a newer
// version supersedes are left out by their file positions
// (supersededByPosition) or, failing that, by key: a NOT IN list or an
// anti join with the (few) versions that may supersede them
// (tablestore.MergePlan). filter, if set, is an extra SQL condition on
// the merged rows; omit lists columns the query leaves out.
func (q *stmtCtx) partitionQuery(ctx context.Context, tbl *schema.Table, partition string, version uint64, hidden bool, filter string, omit []string) (string, error) {
	def := tbl.Def()
	fs, err := q.x.store.ScanFiles(ctx, def, partition, tablestore.ScanOptions{ManifestVersion: version})
	if err != nil {
		if version > 0 && isNotFound(err) {
			return "", dberr.New(dberr.InvalidArgument, "%s.%s has no version %d", def.Namespace, def.Name, version)
		}
		return "", fmt.Errorf("sqlexec: scan %s.%s: %w", def.Namespace, def.Name, err)
	}
	q.releases = append(q.releases, fs.Release)
	if !hidden && version == 0 {
		fs = q.pruneFiles(def, fs)
	}
	return q.fileScanQuery(ctx, tbl, fs, hidden, filter, omit)
}

// fileScanView creates a temporary view of the rows of fs (see
// partitionQuery) and returns its name.
func (q *stmtCtx) fileScanView(ctx context.Context, tbl *schema.Table, fs *tablestore.FileScan, hidden bool, filter string, omit []string) (string, error) {
	body, err := q.fileScanQuery(ctx, tbl, fs, hidden, filter, omit)
	if err != nil {
		return "", err
	}
	return q.createView(ctx, body)
}

// fileScanQuery returns the query of the rows of fs (see partitionQuery).
func (q *stmtCtx) fileScanQuery(ctx context.Context, tbl *schema.Table, fs *tablestore.FileScan, hidden bool, filter string, omit []string) (string, error) {
	def := tbl.Def()
	cols, err := scanColumns(tbl, hidden)
	if err != nil {
		return "", err
	}
	cols = slices.DeleteFunc(cols, func(c scanColumn) bool { return slices.Contains(omit, c.name) })

	// All columns (hidden ones too) are read: the merge needs the key.
	all, err := scanColumns(tbl, true)
	if err != nil {
		return "", err
	}
	// buffered is the source of the buffered versions (tombstones too),
	// with every column, _seq and _deleted.
	buffered, err := q.bufferedSource(ctx, def, all, fs.Buffered)
	if err != nil {
		return "", err
	}

	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = duckengine.Ident(c.name)
	}
	proj := strings.Join(out, ", ")
	if len(fs.Files) == 0 && len(fs.Buffered) == 0 {
		casts := make([]string, len(cols))
		for i, c := range cols {
			casts[i] = fmt.Sprintf("CAST(NULL AS %s) AS %s", c.duckType, duckengine.Ident(c.name))
		}
		return "SELECT " + strings.Join(casts, ", ") + " WHERE false", nil
	}
	// parts are the FROM and WHERE clauses of the view's parts, each
	// selecting the view's columns.
	where := func(tombstones bool, extra ...string) string {
		var conds []string
		if tombstones {
			conds = append(conds, "NOT _deleted")
		}
		conds = append(conds, extra...)
		if filter != "" {
			conds = append(conds, "("+filter+")")
		}
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}
	plan := fs.MergePlan()
	var parts []string
	if len(fs.Buffered) > 0 {
		parts = append(parts, " FROM ("+buffered+")"+where(true))
	}
	for _, g := range fileGroups(plan.Plain) {
		parts = append(parts, " FROM ("+filesSQL(def.SchemaVersion, all, g)+")"+where(!g[0].Segment.NoTombstones()))
	}
	overlapped := plan.Overlapped
	if len(overlapped) > 0 {
		// First choice: leave the superseded rows out by position.
		byPos, ok, err := supersededByPosition(ctx, def, all, fs, plan)
		if err != nil {
			return "", err
		}
		if ok {
			overlapped = nil
			for _, p := range byPos {
				parts = append(parts, " FROM ("+p.read+")"+where(p.tombstones))
			}
		}
	}
	if len(overlapped) > 0 {
		tombstones := slices.ContainsFunc(plan.Overlapped, func(f tablestore.ScanFile) bool { return !f.Segment.NoTombstones() })
		read := filesSQL(def.SchemaVersion, all, plan.Overlapped)
		notIn, ok, err := supersedingKeyList(def, fs, plan)
		if err != nil {
			return "", err
		}
		if ok {
			// Every candidate is newer than every overlapped row: the key
			// alone decides.
			parts = append(parts, " FROM ("+read+")"+where(tombstones, notIn))
		} else {
			keys := make([]string, 0, len(def.PrimaryKey)+1)
			on := make([]string, 0, len(def.PrimaryKey)+1)
			for _, k := range def.PrimaryKey {
				k = duckengine.Ident(k)
				keys = append(keys, k)
				on = append(on, "__s."+k+" = __n."+k)
			}
			keys = append(keys, "_seq")
			on = append(on, "__n._seq > __s._seq")
			var newer []string
			if len(plan.Newer) > 0 {
				newer = append(newer, "SELECT "+strings.Join(keys, ", ")+" FROM ("+filesSQL(def.SchemaVersion, all, plan.Newer)+")")
			}
			if plan.Buffer {
				newer = append(newer, "SELECT "+strings.Join(keys, ", ")+" FROM ("+buffered+")")
			}
			parts = append(parts, fmt.Sprintf(" FROM (SELECT __s.* FROM (%s) AS __s ANTI JOIN (%s) AS __n ON %s)%s",
				read, strings.Join(newer, " UNION ALL "), strings.Join(on, " AND "), where(tombstones)))
		}
	}
	if len(parts) == 1 {
		return "SELECT " + proj + parts[0], nil
	}
	// Each part of a union selects anchorColumn first: see anchorColumn.
	sel := "SELECT NULL AS " + anchorColumn + ", " + proj
	for i, p := range parts {
		parts[i] = sel + p
	}
	return "SELECT " + proj + " FROM (" + strings.Join(parts, " UNION ALL ") + ")", nil
}

// maxSupersededRows bounds the candidate versions (buffered and Newer)
// whose keys supersededByPosition looks up in the overlapped segments'
// key indexes; with more, the merge falls back to a key list or anti
// join. Each found key is one value of a NOT IN list on the file's row
// number, which DuckDB tests per row of that file only.
const maxSupersededRows = 64

// positionRead is one part of a view read by supersededByPosition.
type positionRead struct {
	read       string
	tombstones bool
}

// supersededByPosition returns reads of plan.Overlapped that leave out
// the superseded rows by their position in the file
// (FileScan.SupersededRows): a segment with superseded rows is read with
// read_parquet's file_row_number and a NOT IN list of those positions,
// the others as they are. No key column is read or compared, so count(*)
// over such a file counts row numbers, not keys. ok is false when the
// positions are not known (too many candidates, an index too large to
// cache) or a segment is not in the table's current schema version;
// then the caller merges by key.
func supersededByPosition(ctx context.Context, def *manifest.Table, all []scanColumn, fs *tablestore.FileScan, plan tablestore.MergePlan) ([]positionRead, bool, error) {
	for _, f := range plan.Overlapped {
		if f.Segment.SchemaVersion != def.SchemaVersion {
			return nil, false, nil
		}
	}
	rows, ok, err := fs.SupersededRows(ctx, plan, maxSupersededRows)
	if err != nil || !ok {
		return nil, false, err
	}
	var out []positionRead
	var whole []tablestore.ScanFile
	for i, f := range plan.Overlapped {
		if len(rows[i]) == 0 {
			whole = append(whole, f)
			continue
		}
		pos := make([]string, len(rows[i]))
		for j, p := range rows[i] {
			pos[j] = strconv.FormatInt(p, 10)
		}
		// One position is left out by "<>": DuckDB evaluates it faster
		// than a one-value NOT IN list (which it does not rewrite).
		cond := "file_row_number NOT IN (" + strings.Join(pos, ", ") + ")"
		if len(pos) == 1 {
			cond = "file_row_number <> " + pos[0]
		}
		out = append(out, positionRead{
			read:       plainReadExcept(all, f, cond),
			tombstones: !f.Segment.NoTombstones(),
		})
	}
	for _, g := range fileGroups(whole) {
		out = append(out, positionRead{read: filesSQL(def.SchemaVersion, all, g), tombstones: !g[0].Segment.NoTombstones()})
	}
	return out, true, nil
}

// maxInlineBuffered is the most buffered versions a view holds as a
// VALUES list; more go to a temporary table.
const maxInlineBuffered = 64

// bufferedSource returns a source of the buffered versions vs with every
// column of all, then _seq and _deleted ("" when vs is empty). A few
// versions are written into the view's text as typed literals (sqlLiteral
// spells each value exactly), which costs DuckDB less than a temporary
// table filled by the appender; more go to a temporary table of the
// statement's session.
func (q *stmtCtx) bufferedSource(ctx context.Context, def *manifest.Table, all []scanColumn, vs []row.Version) (string, error) {
	if len(vs) == 0 {
		return "", nil
	}
	idx := make([]int, len(all))
	for i, c := range all {
		idx[i] = columnIndex(def, c.name)
	}
	if len(vs) <= maxInlineBuffered {
		names := make([]string, 0, len(all)+2)
		for _, c := range all {
			names = append(names, duckengine.Ident(c.name))
		}
		names = append(names, "_seq", "_deleted")
		var b strings.Builder
		b.WriteString("SELECT * FROM (VALUES ")
		for j, v := range vs {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for i, c := range all {
				b.WriteString(sqlLiteral(v.Values[idx[i]], c.typ))
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "CAST(%d AS BIGINT), %t)", v.Seq, v.Deleted)
		}
		b.WriteString(") AS __b(" + strings.Join(names, ", ") + ")")
		return b.String(), nil
	}
	name := q.sess.TempName()
	tcols := make([]duckengine.Column, 0, len(all)+2)
	sel := make([]string, 0, len(all)+2)
	for _, c := range all {
		typ, expr := appendColumn(c.name, c.typ)
		tcols = append(tcols, duckengine.Column{Name: c.name, Type: typ})
		sel = append(sel, expr)
	}
	tcols = append(tcols, duckengine.Column{Name: "_seq", Type: "BIGINT"}, duckengine.Column{Name: "_deleted", Type: "BOOLEAN"})
	err := q.sess.CreateTable(ctx, name, tcols, func(yield func([]driver.Value) bool) error {
		vals := make([]driver.Value, len(tcols))
		for _, v := range vs {
			for i, c := range all {
				vals[i] = appendValue(v.Values[idx[i]], c.typ)
			}
			vals[len(all)] = int64(v.Seq)
			vals[len(all)+1] = v.Deleted
			if !yield(vals) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// Qualified: no CTE of the user's query can capture the name.
	return "SELECT " + strings.Join(sel, ", ") + ", _seq, _deleted FROM temp.main." + name, nil
}

// anchorColumn is the first column of every part of a view's UNION ALL: a
// constant NULL that no query refers to. When a query refers to no column
// of a UNION ALL (count(*)), DuckDB still keeps its first column; with the
// anchor first, that is a constant, so no part reads a Parquet column it
// does not need and count(*) over segments without tombstones is answered
// from their metadata. Its name holds a space, which no column name may.
const anchorColumn = `"__floe anchor"`

// maxKeyList bounds the keys a literal NOT IN list leaves out of the
// overlapped segments (supersedingKeyList); more are anti joined. DuckDB
// tests a NOT IN list value by value: over 1M rows in 10 overlapped
// segments a list of 16 keys cost about as much as the anti join, 64
// keys twice as much, 256 five times; one key a third less.
const maxKeyList = 16

// supersedingKeyList returns the condition "key NOT IN (…)" that leaves
// the superseded rows out of plan.Overlapped, when that is exact and
// cheap: every candidate version is newer than every overlapped row (the
// buffered ones always are; Newer segments when
// plan.NewerAfterOverlapped), the primary key is one column of a kind
// whose literal DuckDB compares exactly, and there are at most maxKeyList
// candidate versions. The keys of Newer segments are then read from their
// (small) local files. Tombstones' keys are in the list too: a newer
// delete hides the key.
func supersedingKeyList(def *manifest.Table, fs *tablestore.FileScan, plan tablestore.MergePlan) (string, bool, error) {
	if (len(plan.Newer) > 0 && !plan.NewerAfterOverlapped) || len(def.PrimaryKey) != 1 {
		return "", false, nil
	}
	i := columnIndex(def, def.PrimaryKey[0])
	if i < 0 {
		return "", false, nil
	}
	col := def.Columns[i]
	switch col.Type.Kind {
	case manifest.KindInt, manifest.KindBigInt, manifest.KindText:
	default:
		return "", false, nil
	}
	var vs []row.Version
	if plan.Buffer {
		vs = fs.Buffered
	}
	if len(vs) > maxKeyList {
		return "", false, nil
	}
	newer, ok, err := fs.NewerVersions(plan, int64(maxKeyList-len(vs)))
	if err != nil || !ok {
		return "", false, err
	}
	lits := make([]string, 0, len(vs)+len(newer))
	for _, v := range slices.Concat(vs, newer) {
		lits = append(lits, sqlLiteral(v.Values[i], col.Type))
	}
	if len(lits) == 0 {
		return "TRUE", true, nil // nothing can supersede
	}
	return duckengine.Ident(col.Name) + " NOT IN (" + strings.Join(lits, ", ") + ")", true, nil
}

// fileGroups splits files into the groups fileSelects reads alike: those
// known to hold no tombstones, then the others; empty groups are left out.
func fileGroups(files []tablestore.ScanFile) [][]tablestore.ScanFile {
	var clean, dirty []tablestore.ScanFile
	for _, f := range files {
		if f.Segment.NoTombstones() {
			clean = append(clean, f)
		} else {
			dirty = append(dirty, f)
		}
	}
	var out [][]tablestore.ScanFile
	for _, g := range [][]tablestore.ScanFile{clean, dirty} {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// createView creates a temporary view of body and returns its name.
func (q *stmtCtx) createView(ctx context.Context, body string) (string, error) {
	name := q.sess.TempName()
	if err := q.sess.CreateView(ctx, name, body); err != nil {
		return "", err
	}
	return name, nil
}

// filesSQL is a source of the rows of files with every column of all,
// then _seq and _deleted. A segment written in the table's current schema
// version (current) holds exactly the current columns under their current
// names, so it is read by plain read_parquet, which keeps DuckDB's
// projection and filter pushdown and metadata-only count(*); older
// segments (written before a rename, drop or add) are read by field id
// (read_parquet's schema parameter), which maps renamed columns, drops
// dropped ones and fills added ones with their initial default.
func filesSQL(current uint32, all []scanColumn, files []tablestore.ScanFile) string {
	var plain, mapped []tablestore.ScanFile
	for _, f := range files {
		if f.Segment.SchemaVersion == current {
			plain = append(plain, f)
		} else {
			mapped = append(mapped, f)
		}
	}
	var parts []string
	if len(plain) > 0 {
		parts = append(parts, plainRead(all, plain))
	}
	if len(mapped) > 0 {
		parts = append(parts, mappedRead(all, mapped))
	}
	return strings.Join(parts, " UNION ALL ")
}

func parquetList(files []tablestore.ScanFile) string {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = duckengine.Literal(f.Path)
	}
	return "[" + strings.Join(paths, ", ") + "]"
}

// plainRead reads segments of the current schema version by column name.
// The casts are no-ops where the file's type already is the column's
// (DuckDB drops them), and otherwise convert exactly as read_parquet's
// schema parameter would.
func plainRead(all []scanColumn, files []tablestore.ScanFile) string {
	sel := make([]string, 0, len(all)+2)
	for _, c := range all {
		id := duckengine.Ident(c.name)
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", id, c.duckType, id))
	}
	sel = append(sel, "_seq", "_deleted")
	return fmt.Sprintf("SELECT %s FROM read_parquet(%s)", strings.Join(sel, ", "), parquetList(files))
}

// plainReadExcept is plainRead of one file (of the current schema
// version) with a condition on its row numbers (file_row_number).
func plainReadExcept(all []scanColumn, file tablestore.ScanFile, cond string) string {
	sel := make([]string, 0, len(all)+2)
	for _, c := range all {
		id := duckengine.Ident(c.name)
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", id, c.duckType, id))
	}
	sel = append(sel, "_seq", "_deleted")
	return fmt.Sprintf("SELECT %s FROM read_parquet(%s, file_row_number = true) WHERE %s",
		strings.Join(sel, ", "), parquetList([]tablestore.ScanFile{file}), cond)
}

// mappedRead reads segments by Parquet field id.
func mappedRead(all []scanColumn, files []tablestore.ScanFile) string {
	var m strings.Builder
	for _, c := range all {
		fmt.Fprintf(&m, "%d: {name: %s, type: %s, default_value: %s}, ", c.id, duckengine.Literal(c.name), duckengine.Literal(c.duckType), c.missing)
	}
	fmt.Fprintf(&m, "%d: {name: '_seq', type: 'BIGINT', default_value: NULL}, %d: {name: '_deleted', type: 'BOOLEAN', default_value: NULL}",
		segment.SeqFieldID, segment.DeletedFieldID)
	return fmt.Sprintf("SELECT * FROM read_parquet(%s, schema = map {%s})", parquetList(files), m.String())
}

func columnIndex(t *manifest.Table, name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// virtualProvider serves a system table computed from the catalog and the
// node's state (namespaces, tables, columns, storages, stats,
// live_queries): rows is called per statement.
type virtualProvider struct {
	rows func(ctx context.Context, q *stmtCtx) ([][]driver.Value, error)
}

func (vp virtualProvider) source(ctx context.Context, q *stmtCtx, tbl *schema.Table, version uint64, _ bool) (tableSource, error) {
	if version > 0 {
		return tableSource{}, dberr.New(dberr.Unsupported, "system.%s has no versions: AS OF VERSION applies to stored tables", tbl.Def().Name)
	}
	cols, err := scanColumns(tbl, false)
	if err != nil {
		return tableSource{}, err
	}
	rows, err := vp.rows(ctx, q)
	if err != nil {
		return tableSource{}, err
	}
	tcols := make([]duckengine.Column, len(cols))
	for i, c := range cols {
		tcols[i] = duckengine.Column{Name: c.name, Type: c.duckType}
	}
	name := q.sess.TempName()
	err = q.sess.CreateTable(ctx, name, tcols, func(yield func([]driver.Value) bool) error {
		for _, r := range rows {
			if !yield(r) {
				return nil
			}
		}
		return nil
	})
	return tableSource{relation: name}, err
}

// schemaTable is a table of the statement's catalog snapshot.
type schemaTable = schema.Table
