package sqlexec

import (
	"testing"
	"time"

	"github.com/floedb/floe/manifest"
)

// An older catalog — a system table missing, another lacking a column —
// is brought to SystemSchemaVersion: the table is created, the column
// added with a new ID and a new schema version, existing columns kept.
func TestMigrateSystemUpgradesOldCatalog(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC()
	users := systemTables[0].definition(now)
	users.Columns = users.Columns[:len(users.Columns)-1] // version 1: no token_epoch yet
	users.NextColumnID = uint32(len(users.Columns) + 1)
	c := &manifest.Catalog{
		Header:     manifest.Header{FormatVersion: manifest.FormatVersion, Version: 4, CommitID: "c"},
		Namespaces: []manifest.Namespace{{Name: SystemNamespace}},
		Tables:     []manifest.Table{users},
	}
	migrateSystem(c, now)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SystemSchemaVersion != SystemSchemaVersion {
		t.Fatalf("system_schema_version = %d", c.SystemSchemaVersion)
	}
	if _, ok := c.Namespace(DefaultNamespace); !ok {
		t.Fatal("default namespace not created")
	}
	if len(c.Tables) != len(systemTables) {
		t.Fatalf("%d tables, want %d", len(c.Tables), len(systemTables))
	}
	u, _ := c.TableByID(systemTableID("users"))
	col, ok := u.Column("token_epoch")
	if !ok || col.ID != uint32(len(users.Columns)+1) || !col.Nullable || u.SchemaVersion != 2 {
		t.Fatalf("users after migration: %+v (schema v%d)", col, u.SchemaVersion)
	}
	// A second run changes nothing.
	before := len(c.Tables)
	migrateSystem(c, now)
	if len(c.Tables) != before || u.SchemaVersion != 2 {
		t.Fatal("migration is not idempotent")
	}
}
