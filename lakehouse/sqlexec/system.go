package sqlexec

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/floedb/floe/lakehouse/jobs"
	"github.com/floedb/floe/manifest"
)

// SystemSchemaVersion is the version of the system tables this build
// creates. Bump it with every change of systemTables and add the step to
// migrateSystem's notes: tables missing from the catalog are created, and
// columns missing from an existing system table are added (nullable).
const SystemSchemaVersion = 3

// SystemNamespace holds Floe's own tables.
const SystemNamespace = "system"

// systemTable is the definition of one system table.
type systemTable struct {
	name   string
	stored bool // rows live on the buffer → segment path; else computed
	cols   []manifest.Column
	pk     []string
}

func col(name string, t manifest.Type, nullable bool) manifest.Column {
	return manifest.Column{Name: name, Type: t, Nullable: nullable}
}

// systemTables are Floe's system tables, in creation order.
var systemTables = []systemTable{
	// system.users and system.audit_log: their row formats belong to
	// lakehouse/access.
	{name: access.UsersTable, stored: true, pk: access.UsersKey(), cols: access.UsersColumns()},
	{name: access.NamesTable, stored: true, pk: access.NamesKey(), cols: access.NamesColumns()},
	// system.jobs: its row format belongs to lakehouse/jobs.
	{name: jobs.TableName, stored: true, pk: []string{"job_id"}, cols: jobs.Columns()},
	{name: access.AuditTable, stored: true, pk: access.AuditKey(), cols: access.AuditColumns()},
	{name: "namespaces", cols: []manifest.Column{
		col("namespace", manifest.Text, false), col("created_at", manifest.Timestamp, true), col("tables", manifest.BigInt, false)}},
	{name: "tables", cols: []manifest.Column{
		col("namespace", manifest.Text, false), col("table_name", manifest.Text, false), col("table_id", manifest.Text, false),
		col("table_type", manifest.Text, false), col("access_level", manifest.Text, true), col("primary_key", manifest.Text, true),
		col("schema_version", manifest.BigInt, false), col("ttl_seconds", manifest.BigInt, true),
		col("flush_rows", manifest.BigInt, true), col("flush_interval_seconds", manifest.BigInt, true),
		col("created_at", manifest.Timestamp, true), col("updated_at", manifest.Timestamp, true)}},
	{name: "columns", cols: []manifest.Column{
		col("namespace", manifest.Text, false), col("table_name", manifest.Text, false), col("column_name", manifest.Text, false),
		col("ordinal", manifest.Int, false), col("data_type", manifest.Text, false), col("nullable", manifest.Boolean, false),
		col("default_expr", manifest.Text, true), col("primary_key", manifest.Boolean, false), col("column_id", manifest.BigInt, false)}},
	{name: "storages", cols: []manifest.Column{
		col("storage_id", manifest.Text, false), col("location", manifest.Text, false), col("node_id", manifest.Text, false)}},
	{name: "stats", cols: []manifest.Column{
		col("metric", manifest.Text, false), col("value", manifest.BigInt, false), col("node_id", manifest.Text, false)}},
	{name: "live_queries", cols: []manifest.Column{
		col("live_id", manifest.Text, false), col("user_id", manifest.Text, false), col("namespace", manifest.Text, true),
		col("table_name", manifest.Text, true), col("query", manifest.Text, true), col("node_id", manifest.Text, false),
		col("created_at", manifest.Timestamp, true), col("last_seq", manifest.BigInt, true)}},
}

// systemTableID is the stable ID of a system table.
func systemTableID(name string) string { return "system." + name }

// definition returns the manifest table of st (schema version 1).
func (st systemTable) definition(now time.Time) manifest.Table {
	t := manifest.Table{ID: systemTableID(st.name), Namespace: SystemNamespace, Name: st.name, Type: manifest.TableSystem,
		SchemaVersion: 1, CreatedAt: now, UpdatedAt: now}
	pk := st.pk
	if len(pk) == 0 {
		// Computed tables are never stored; the catalog still needs a key.
		pk = []string{st.cols[0].Name}
	}
	for i, c := range st.cols {
		c.ID = uint32(i + 1)
		if slices.Contains(pk, c.Name) {
			c.Nullable = false
		}
		t.Columns = append(t.Columns, c)
	}
	t.PrimaryKey = slices.Clone(pk)
	t.NextColumnID = uint32(len(t.Columns) + 1)
	return t
}

// Bootstrap makes the catalog hold what this build needs: the default and
// system namespaces and the system tables at SystemSchemaVersion. Tables a
// newer build added are left alone; a catalog at the current version costs
// no write. It is idempotent and safe to run on every start.
func (x *Executor) Bootstrap(ctx context.Context) error {
	snap, err := x.app.Schemas().Current(ctx)
	if err != nil {
		return fmt.Errorf("sqlexec: bootstrap: %w", err)
	}
	if snap.Catalog().SystemSchemaVersion >= SystemSchemaVersion && snap.Catalog().Version > 0 {
		return nil
	}
	if err := x.opts.Writes.Writable(); err != nil {
		return fmt.Errorf("sqlexec: bootstrap: the warehouse's system tables are at version %d, this build needs %d, and this process may not write (%w); "+
			"start a node (or run the maintenance function) of this build first", snap.Catalog().SystemSchemaVersion, SystemSchemaVersion, err)
	}
	now := x.app.Clock()().UTC()
	_, err = x.commitCatalog(ctx, func(c *manifest.Catalog) error {
		if c.SystemSchemaVersion >= SystemSchemaVersion {
			return errNoChange
		}
		if c.SystemSchemaVersion == 0 && c.WriteMode == "" {
			c.WriteMode = x.opts.WriteMode // a new warehouse: record its write path
		}
		migrateSystem(c, now)
		// The commit stamps the header; a new warehouse's base (v0) has
		// none yet, so check the body under the header it will get.
		probe := *c
		probe.FormatVersion, probe.Version = manifest.FormatVersion, c.Version+1
		return probe.Validate()
	})
	if err != nil && err != errNoChange {
		return fmt.Errorf("sqlexec: bootstrap system tables: %w", err)
	}
	x.log.LogAttrs(ctx, slog.LevelInfo, "system tables ready", slog.Int("system_schema_version", SystemSchemaVersion))
	return nil
}

// migrateSystem upgrades c's system tables to SystemSchemaVersion:
// missing namespaces and tables are created, columns missing from an
// existing system table are added as nullable columns (a new schema
// version of that table; old segments read NULL for them).
//
// Versions: 1 — users, jobs, audit_log, namespaces, tables, columns,
// storages, stats, live_queries. 2 — users.token_epoch (revocation that
// holds across processes and restarts; rows of version 1 read NULL, that
// is epoch 0). 3 — users.user_name and user_names (immutable user ids:
// users created from now on get "~" and a ULID as id; older users keep
// their name as id and NULL as user_name).
func migrateSystem(c *manifest.Catalog, now time.Time) {
	for _, ns := range []string{DefaultNamespace, SystemNamespace} {
		if _, ok := c.Namespace(ns); !ok {
			c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: ns, CreatedAt: now})
		}
	}
	for _, st := range systemTables {
		t, ok := c.TableByID(systemTableID(st.name))
		if !ok {
			c.Tables = append(c.Tables, st.definition(now))
			continue
		}
		added := false
		for _, want := range st.cols {
			if _, ok := t.Column(want.Name); !ok {
				want.ID = t.NextColumnID
				want.Nullable = true
				t.NextColumnID++
				t.Columns = append(t.Columns, want)
				added = true
			}
		}
		if added {
			t.SchemaVersion++
			t.UpdatedAt = now
		}
	}
	c.SystemSchemaVersion = SystemSchemaVersion
}

// virtualTables are the providers of the computed system tables.
func (x *Executor) virtualTables() map[string]virtualProvider {
	node := x.app.NodeID().String()
	ts := func(t time.Time) driver.Value {
		if t.IsZero() {
			return nil
		}
		return t.UTC()
	}
	opt := func(n int64) driver.Value {
		if n == 0 {
			return nil
		}
		return n
	}
	return map[string]virtualProvider{
		"namespaces": {rows: func(_ context.Context, q *stmtCtx) ([][]driver.Value, error) {
			counts := map[string]int64{}
			for _, t := range q.snap.Catalog().Tables {
				counts[t.Namespace]++
			}
			var out [][]driver.Value
			for _, n := range q.snap.Catalog().Namespaces {
				out = append(out, []driver.Value{n.Name, ts(n.CreatedAt), counts[n.Name]})
			}
			return out, nil
		}},
		"tables": {rows: func(_ context.Context, q *stmtCtx) ([][]driver.Value, error) {
			var out [][]driver.Value
			for _, t := range q.snap.Catalog().Tables {
				var level, pk driver.Value
				if t.Type == manifest.TableShared {
					level = string(t.Options.AccessLevel)
				}
				if !t.HasHiddenRowID() {
					pk = strings.Join(t.PrimaryKey, ",")
				}
				out = append(out, []driver.Value{t.Namespace, t.Name, t.ID, string(t.Type), level, pk, int64(t.SchemaVersion),
					opt(t.Options.TTLSeconds), opt(t.Options.FlushRows), opt(t.Options.FlushIntervalSeconds), ts(t.CreatedAt), ts(t.UpdatedAt)})
			}
			return append(out, viewTableRows(q)...), nil
		}},
		"columns": {rows: func(_ context.Context, q *stmtCtx) ([][]driver.Value, error) {
			var out [][]driver.Value
			for _, t := range q.snap.Catalog().Tables {
				n := int32(0)
				for _, c := range t.Columns {
					if isHidden(&t, c.Name) {
						continue
					}
					n++
					var d driver.Value
					if c.Default != "" {
						d = c.Default
					}
					out = append(out, []driver.Value{t.Namespace, t.Name, c.Name, n, c.Type.String(), c.Nullable, d, isKey(&t, c.Name), int64(c.ID)})
				}
			}
			return append(out, viewColumnRows(q)...), nil
		}},
		"storages": {rows: func(context.Context, *stmtCtx) ([][]driver.Value, error) {
			return [][]driver.Value{{"default", x.app.Bucket().Name(), node}}, nil
		}},
		"stats": {rows: func(context.Context, *stmtCtx) ([][]driver.Value, error) {
			st := x.app.Schemas().Stats()
			return [][]driver.Value{
				{"catalog_version", int64(st.Version), node},
				{"schema_cache_hits", int64(st.Hits), node},
				{"schema_cache_misses", int64(st.Misses), node},
				{"catalog_reloads", int64(st.Reloads), node},
			}, nil
		}},
		"live_queries": {rows: func(_ context.Context, q *stmtCtx) ([][]driver.Value, error) {
			return x.liveQueryRows(q), nil
		}},
	}
}
