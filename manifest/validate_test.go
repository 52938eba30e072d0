package manifest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

// catalogCase is a change of validCatalog and what Validate must say.
type catalogCase struct {
	name   string
	mutate func(c *Catalog)
	want   []string // substrings of the error; none means valid
}

// catalogValidationCases cover every rule of Catalog.Validate.
func catalogValidationCases() []catalogCase {
	return []catalogCase{
		{name: "valid", mutate: func(*Catalog) {}},
		{name: "valid without views", mutate: func(c *Catalog) { c.Views = nil }},
		{name: "view with missing dependency is valid", mutate: func(c *Catalog) { c.Tables = c.Tables[1:] }},
		{name: "view named like a table", mutate: func(c *Catalog) { c.Views[0].Name = "settings"; c.Views[1].DependsOn[0].Name = "settings" },
			want: []string{`view app.settings (id "V1"): a table or another view has the same name`}},
		{name: "duplicate view name", mutate: func(c *Catalog) { c.Views[1].Name = "rich"; c.Views[1].DependsOn = nil },
			want: []string{`view app.rich (id "V2"): a table or another view has the same name`}},
		{name: "view id used by a table", mutate: func(c *Catalog) { c.Views[0].ID = "T2" },
			want: []string{`view app.rich (id "T2"): id is also used by app.settings`}},
		{name: "bad view id", mutate: func(c *Catalog) { c.Views[0].ID = "a/b" },
			want: []string{`view id "a/b" must be`}},
		{name: "bad view name", mutate: func(c *Catalog) { c.Views[0].Name = "Rich" },
			want: []string{`view name "Rich" must be`}},
		{name: "view namespace missing", mutate: func(c *Catalog) { c.Views[1].Namespace = "nope" },
			want: []string{`view nope.rich_ids (id "V2"): namespace "nope" does not exist`}},
		{name: "view without sql", mutate: func(c *Catalog) { c.Views[0].SQL = " " },
			want: []string{"view app.rich", "sql is empty"}},
		{name: "view sql with NUL", mutate: func(c *Catalog) { c.Views[0].SQL = "SELECT 1\x00" },
			want: []string{"sql holds a NUL byte"}},
		{name: "view sql too long", mutate: func(c *Catalog) { c.Views[0].SQL = "SELECT " + strings.Repeat(" ", MaxViewSQLLen) + "1" },
			want: []string{"the limit is 1048576"}},
		{name: "view schema version", mutate: func(c *Catalog) { c.Views[0].SchemaVersion = 0 },
			want: []string{"view app.rich", "schema_version must be at least 1"}},
		{name: "view without columns", mutate: func(c *Catalog) { c.Views[0].Columns = nil },
			want: []string{"view app.rich", "a view needs at least one column"}},
		{name: "view column case duplicate", mutate: func(c *Catalog) { c.Views[0].Columns[1].Name = "ID" },
			want: []string{`column "ID" is listed more than once`}},
		{name: "view column without name or type", mutate: func(c *Catalog) { c.Views[0].Columns[1] = ViewColumn{} },
			want: []string{"column #2 has no name", `column "" has no type`}},
		{name: "view dependency kind", mutate: func(c *Catalog) { c.Views[0].DependsOn[0].Kind = "INDEX" },
			want: []string{`dependency app.users has unknown kind "INDEX"`}},
		{name: "view dependency twice", mutate: func(c *Catalog) { c.Views[0].DependsOn = append(c.Views[0].DependsOn, c.Views[0].DependsOn[0]) },
			want: []string{"dependency app.users is listed more than once"}},
		{name: "view depends on itself", mutate: func(c *Catalog) {
			c.Views[0].DependsOn[0] = ViewDependency{Kind: DependsOnView, Namespace: "app", Name: "rich"}
		},
			want: []string{"view app.rich", "the view depends on itself"}},
		{name: "views in a loop", mutate: func(c *Catalog) {
			c.Views[0].DependsOn = append(c.Views[0].DependsOn, ViewDependency{Kind: DependsOnView, Namespace: "app", Name: "rich_ids", ID: "V2"})
		}, want: []string{"views depend on each other in a loop: app.rich -> app.rich_ids -> app.rich"}},
		{name: "valid without writer", mutate: func(c *Catalog) { c.Writer = nil }},
		{name: "valid empty", mutate: func(c *Catalog) { c.Namespaces, c.Tables, c.Views, c.Writer = nil, nil, nil, nil }},
		{name: "version zero", mutate: func(c *Catalog) { c.Version = 0 }, want: []string{"catalog v0", "version must be at least 1"}},
		{name: "format version", mutate: func(c *Catalog) { c.FormatVersion = 3 }, want: []string{"format_version is 3, want 1 or 2"}},
		{name: "writer epoch mismatch", mutate: func(c *Catalog) { c.Writer.Epoch = 2 },
			want: []string{"writer lease: epoch 2 differs from the header's writer_epoch 3"}},
		{name: "writer epoch zero", mutate: func(c *Catalog) { c.Writer.Epoch, c.WriterEpoch = 0, 0 },
			want: []string{"writer lease: epoch must be at least 1"}},
		{name: "writer without node", mutate: func(c *Catalog) { c.Writer.NodeID = "" }, want: []string{"writer lease: node_id is empty"}},
		{name: "bad namespace name", mutate: func(c *Catalog) { c.Namespaces[0].Name = "App" },
			want: []string{`namespace name "App" must be 1 to 63 characters`}},
		{name: "duplicate namespace", mutate: func(c *Catalog) { c.Namespaces[1].Name = "app"; c.Tables = c.Tables[:3] },
			want: []string{`namespace "app" is listed more than once`}},
		{name: "missing namespace", mutate: func(c *Catalog) { c.Tables[0].Namespace = "nope" },
			want: []string{`table nope.users (id "01JDQ4A5B6C7D8E9F0GHJKMNPQ"): namespace "nope" does not exist`}},
		{name: "bad table name", mutate: func(c *Catalog) { c.Tables[0].Name = "9users" },
			want: []string{`table app.9users`, `table name "9users" must be 1 to 63`}},
		{name: "long table name", mutate: func(c *Catalog) { c.Tables[0].Name = strings.Repeat("a", 64) },
			want: []string{"must be 1 to 63 characters"}},
		{name: "duplicate table name", mutate: func(c *Catalog) { c.Tables[1].Name = "users"; c.Tables[1].Options.AccessLevel = "" },
			want: []string{`table app.users (id "T2"): another table has the same name`}},
		{name: "same name other namespace", mutate: func(c *Catalog) { c.Tables[3].Name = "users" }},
		{name: "duplicate table id", mutate: func(c *Catalog) { c.Tables[2].ID = "T2" },
			want: []string{`table app.events (id "T2"): table id is also used by table app.settings`}},
		{name: "empty table id", mutate: func(c *Catalog) { c.Tables[2].ID = "" },
			want: []string{`table id "" must be 1 to 128 characters`}},
		{name: "table id with slash", mutate: func(c *Catalog) { c.Tables[2].ID = "a/b" },
			want: []string{`table id "a/b" must be`}},
		{name: "unknown table type", mutate: func(c *Catalog) { c.Tables[0].Type = "TEMP" },
			want: []string{`table app.users`, `unknown table type "TEMP"`}},
		{name: "no columns", mutate: func(c *Catalog) { c.Tables[2].Columns = nil },
			want: []string{"table app.events", "at least one column"}},
		{name: "bad column name", mutate: func(c *Catalog) { c.Tables[0].Columns[1].Name = "Name" },
			want: []string{`table app.users (id "01JDQ4A5B6C7D8E9F0GHJKMNPQ"): column "Name" (id 2): column name "Name" must be`}},
		{name: "reserved column", mutate: func(c *Catalog) { c.Tables[0].Columns[1].Name = "_seq" },
			want: []string{`column "_seq" (id 2): column name "_seq" is reserved`}},
		{name: "reserved column deleted", mutate: func(c *Catalog) { c.Tables[0].Columns[1].Name = "_deleted" },
			want: []string{`"_deleted" is reserved`}},
		{name: "reserved column rowid", mutate: func(c *Catalog) { c.Tables[0].Columns[1].Name = "_rowid" },
			want: []string{`"_rowid" is reserved`}},
		{name: "duplicate column name", mutate: func(c *Catalog) { c.Tables[0].Columns[2].Name = "name" },
			want: []string{`column "name" (id 4): another column has the same name`}},
		{name: "duplicate column id", mutate: func(c *Catalog) { c.Tables[0].Columns[2].ID = 2 },
			want: []string{`column "balance" (id 2): column id is also used by column "name"`}},
		{name: "column id not below next", mutate: func(c *Catalog) { c.Tables[0].NextColumnID = 4 },
			want: []string{`column "balance" (id 4): column id is not below next_column_id 4`}},
		{name: "invalid column type", mutate: func(c *Catalog) { c.Tables[0].Columns[1].Type = Type{} },
			want: []string{`column "name" (id 2): unknown column type INVALID`}},
		{name: "invalid decimal", mutate: func(c *Catalog) { c.Tables[0].Columns[2].Type = Decimal(10, 11) },
			want: []string{`column "balance" (id 4): DECIMAL scale 11 exceeds precision 10`}},
		{name: "pk column missing", mutate: func(c *Catalog) { c.Tables[0].PrimaryKey = []string{"nope"} },
			want: []string{`table app.users`, `primary key column "nope" does not exist`}},
		{name: "pk column twice", mutate: func(c *Catalog) { c.Tables[0].PrimaryKey = []string{"id", "id"} },
			want: []string{`primary key lists column "id" more than once`}},
		{name: "pk column nullable", mutate: func(c *Catalog) { c.Tables[0].PrimaryKey = []string{"id", "name"} },
			want: []string{`primary key column "name" must not be nullable`}},
		{name: "schema version zero", mutate: func(c *Catalog) { c.Tables[1].SchemaVersion = 0 },
			want: []string{"table app.settings", "schema_version must be at least 1"}},
		{name: "stream without ttl", mutate: func(c *Catalog) { c.Tables[2].Options.TTLSeconds = 0 },
			want: []string{"table app.events", "a STREAM table needs ttl_seconds > 0, got 0"}},
		{name: "stream negative ttl", mutate: func(c *Catalog) { c.Tables[2].Options.TTLSeconds = -5 },
			want: []string{"needs ttl_seconds > 0, got -5"}},
		{name: "ttl on user table", mutate: func(c *Catalog) { c.Tables[0].Options.TTLSeconds = 60 },
			want: []string{"table app.users", "ttl_seconds is only for STREAM tables, this is a USER table"}},
		{name: "access level on user table", mutate: func(c *Catalog) { c.Tables[0].Options.AccessLevel = AccessPublic },
			want: []string{"access_level is only for SHARED tables, this is a USER table"}},
		{name: "unknown access level", mutate: func(c *Catalog) { c.Tables[1].Options.AccessLevel = "SECRET" },
			want: []string{"table app.settings", `unknown access_level "SECRET"`}},
		{name: "every access level", mutate: func(c *Catalog) {
			c.Tables[1].Options.AccessLevel = AccessDBA
		}},
		{name: "negative flush rows", mutate: func(c *Catalog) { c.Tables[0].Options.FlushRows = -1 },
			want: []string{"flush_rows must not be negative, got -1"}},
		{name: "negative flush interval", mutate: func(c *Catalog) { c.Tables[0].Options.FlushIntervalSeconds = -1 },
			want: []string{"flush_interval_seconds must not be negative, got -1"}},
		{name: "invalid utf8 default", mutate: func(c *Catalog) { c.Tables[0].Columns[1].Default = "\xff" },
			want: []string{"default", "not valid UTF-8"}},
		{name: "several problems at once", mutate: func(c *Catalog) {
			c.Version = 0
			c.Tables[0].Name = "X"
			c.Tables[2].Options.TTLSeconds = 0
		}, want: []string{"version must be at least 1", `table name "X"`, "needs ttl_seconds"}},
	}
}

func TestValidateCatalog(t *testing.T) {
	for _, tc := range catalogValidationCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := validCatalog()
			tc.mutate(c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateCatalogCapsProblems(t *testing.T) {
	c := validCatalog()
	for i := range 200 {
		c.Namespaces = append(c.Namespaces, Namespace{Name: fmt.Sprintf("Bad%d", i)})
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "and 150 more problems") {
		t.Fatalf("err = %v", err)
	}
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) {
		t.Fatalf("Validate error does not unwrap to the problem list: %T", err)
	}
}

func TestValidatePartition(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *Partition)
		want   []string
	}{
		{name: "valid", mutate: func(*Partition) {}},
		{name: "valid shared empty", mutate: func(p *Partition) { p.Partition, p.Segments, p.LastSeq = "", nil, 0 }},
		{name: "version zero", mutate: func(p *Partition) { p.Version = 0 }, want: []string{"version must be at least 1"}},
		{name: "format version", mutate: func(p *Partition) { p.FormatVersion = 0 }, want: []string{"format_version is 0, want 1"}},
		{name: "empty table id", mutate: func(p *Partition) { p.TableID = "" }, want: []string{`table id "" must be`}},
		{name: "partition too long", mutate: func(p *Partition) { p.Partition = strings.Repeat("u", MaxPartitionLen+1) },
			want: []string{"partition key is 201 bytes long, the limit is 200"}},
		{name: "partition not utf8", mutate: func(p *Partition) { p.Partition = "a\xffb" }, want: []string{"not valid UTF-8"}},
		{name: "empty segment key", mutate: func(p *Partition) { p.Segments[1].Key = "" }, want: []string{"segment #1: empty key"}},
		{name: "duplicate segment key", mutate: func(p *Partition) { p.Segments[1].Key = p.Segments[0].Key },
			want: []string{`segment "tables/T1/u-%41lice%40example.com/seg/0001.parquet": listed more than once`}},
		{name: "seq min zero", mutate: func(p *Partition) { p.Segments[0].SeqMin = 0 }, want: []string{"seq_min must be at least 1"}},
		{name: "seq min above max", mutate: func(p *Partition) { p.Segments[1].SeqMin = 201 },
			want: []string{"0002.parquet", "seq_min 201 is above seq_max 200"}},
		{name: "seq max above last seq", mutate: func(p *Partition) { p.LastSeq = 199 },
			want: []string{"0002.parquet", "seq_max 200 is above the partition's last_seq 199"}},
		{name: "overlapping segments", mutate: func(p *Partition) { p.Segments[1].SeqMin = 100 },
			want: []string{"0002.parquet", "_seq range 100..200 is not after the previous segment", "must be sorted"}},
		{name: "unsorted segments", mutate: func(p *Partition) { p.Segments[0], p.Segments[1] = p.Segments[1], p.Segments[0] },
			want: []string{"0001.parquet", "_seq range 1..100 is not after the previous segment"}},
		{name: "negative rows", mutate: func(p *Partition) { p.Segments[1].Rows = -1 }, want: []string{"rows must not be negative, got -1"}},
		{name: "negative bytes", mutate: func(p *Partition) { p.Segments[1].Bytes = -1 }, want: []string{"bytes must not be negative, got -1"}},
		{name: "segment schema version zero", mutate: func(p *Partition) { p.Segments[1].SchemaVersion = 0 },
			want: []string{"0002.parquet", "schema_version must be at least 1"}},
		{name: "duplicate stats column", mutate: func(p *Partition) { p.Segments[0].Columns[1].ColumnID = 1 },
			want: []string{"0001.parquet", "stats of column id 1: listed more than once"}},
		{name: "negative null count", mutate: func(p *Partition) { p.Segments[0].Columns[0].NullCount = -1 },
			want: []string{"stats of column id 1: null_count -1 is outside 0..rows (100)"}},
		{name: "null count above rows", mutate: func(p *Partition) { p.Segments[0].Columns[0].NullCount = 101 },
			want: []string{"null_count 101 is outside 0..rows (100)"}},
		{name: "deleted counted", mutate: func(p *Partition) { p.Segments[0].Deleted = int64Ptr(100) }},
		{name: "deleted negative", mutate: func(p *Partition) { p.Segments[0].Deleted = int64Ptr(-1) },
			want: []string{"0001.parquet", "deleted -1 is outside 0..rows (100)"}},
		{name: "deleted above rows", mutate: func(p *Partition) { p.Segments[0].Deleted = int64Ptr(101) },
			want: []string{"deleted 101 is outside 0..rows (100)"}},
		{name: "stats min not utf8", mutate: func(p *Partition) { p.Segments[0].Columns[0].Min = strPtr("\xfe") },
			want: []string{"stats of column id 1: min", "not valid UTF-8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPartition()
			tc.mutate(p)
			err := p.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		kind, name string
		ok         bool
	}{
		{"table", "users", true},
		{"table", "_private", true},
		{"table", "a1_b2", true},
		{"table", strings.Repeat("a", 63), true},
		{"table", strings.Repeat("a", 64), false},
		{"table", "", false},
		{"table", "1abc", false},
		{"table", "Users", false},
		{"table", "user-s", false},
		{"table", "usérs", false},
		{"table", "a b", false},
		{"namespace", "_seq", true},
		{"column", "_seq", false},
		{"column", "_deleted", false},
		{"column", "_rowid", false},
		{"column", "_seq2", true},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			err := ValidateName(tc.kind, tc.name)
			if tc.ok != (err == nil) {
				t.Fatalf("ValidateName(%q, %q) = %v, want ok=%v", tc.kind, tc.name, err, tc.ok)
			}
			if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.kind)) {
				t.Fatalf("error %q should wrap ErrInvalid and name the kind", err)
			}
		})
	}
}

func TestValidateTableID(t *testing.T) {
	for id, ok := range map[string]bool{
		"01JDQ4A5B6C7D8E9F0GHJKMNPQ": true, "t_1": true, "a.b-c": true, "x": true,
		"": false, ".x": false, "-x": false, "a/b": false, "a b": false, "é": false,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
	} {
		if err := ValidateTableID(id); ok != (err == nil) {
			t.Errorf("ValidateTableID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestPartitionDir(t *testing.T) {
	tests := []struct{ partition, dir string }{
		{"", "shared"},
		{"alice", "u-alice"},
		{"Alice", "u-%41lice"},
		{"a.b_c~d-e", "u-a.b_c~d-e"},
		{"a/b", "u-a%2Fb"},
		{"100%", "u-100%25"},
		{".", "u-."},
		{"..", "u-.."},
		{"shared", "u-shared"},
		{".floe", "u-.floe"},
		{"ü", "u-%C3%BC"},
		{"a b", "u-a%20b"},
	}
	for _, tc := range tests {
		if got := PartitionDir(tc.partition); got != tc.dir {
			t.Errorf("PartitionDir(%q) = %q, want %q", tc.partition, got, tc.dir)
		}
		back, err := ParsePartitionDir(tc.dir)
		if err != nil || back != tc.partition {
			t.Errorf("ParsePartitionDir(%q) = %q, %v, want %q", tc.dir, back, err, tc.partition)
		}
		for _, key := range []string{
			PartitionPrefix("T1", tc.partition) + "v/00000000000000000001.json",
			SegmentPrefix("T1", tc.partition) + "x.parquet",
		} {
			if err := objstore.ValidateKey(key); err != nil {
				t.Errorf("partition %q: key %q: %v", tc.partition, key, err)
			}
		}
	}
	if got := SegmentPrefix("T1", "bob"); got != "tables/T1/u-bob/seg/" {
		t.Errorf("SegmentPrefix = %q", got)
	}
	for _, bad := range []string{"u-", "u-A", "u-%41%", "u-%4", "u-%4a", "u-%61", "x-a", "u-a b"} {
		if _, err := ParsePartitionDir(bad); err == nil {
			t.Errorf("ParsePartitionDir(%q) accepted a name PartitionDir never produces", bad)
		}
	}
}

// TestPartitionDirCaseInsensitive: distinct partitions never get folder
// names that differ only in letter case.
func TestPartitionDirCaseInsensitive(t *testing.T) {
	seen := map[string]string{}
	for _, p := range []string{"bob", "Bob", "BOB", "bOb", "%42ob", "b", "B", "%", "%25", "\x00", "~"} {
		folded := strings.ToLower(PartitionDir(p))
		if other, dup := seen[folded]; dup {
			t.Fatalf("partitions %q and %q collide case-insensitively as %q", p, other, folded)
		}
		seen[folded] = p
	}
}

func FuzzPartitionDir(f *testing.F) {
	for _, s := range []string{"", "alice", "Alice@x", "a/b", "%41", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		dir := PartitionDir(p)
		back, err := ParsePartitionDir(dir)
		if err != nil || back != p {
			t.Fatalf("ParsePartitionDir(PartitionDir(%q)) = %q, %v", p, back, err)
		}
		if dir != strings.ToLower(dir) && strings.ContainsFunc(dir, func(r rune) bool { return r >= 'A' && r <= 'Z' && !strings.Contains(dir, "%") }) {
			t.Fatalf("upper-case letter outside an escape in %q", dir)
		}
		if ValidatePartitionKey(p) == nil {
			if err := objstore.ValidateKey(SegmentPrefix("T", p) + "s"); err != nil {
				t.Fatalf("partition %q gives an invalid key: %v", p, err)
			}
		}
	})
}

// ValidateTable agrees with Validate on every validation case that changes
// one table of a valid catalog: nil exactly when Validate is, and the same
// problems otherwise.
func TestValidateTableAgreesWithValidate(t *testing.T) {
	exercised := 0
	for _, tc := range catalogValidationCases() {
		c, orig := validCatalog(), validCatalog()
		tc.mutate(c)
		if c.Header != orig.Header || !reflect.DeepEqual(c.Namespaces, orig.Namespaces) || !reflect.DeepEqual(c.Views, orig.Views) ||
			!reflect.DeepEqual(c.Writer, orig.Writer) || len(c.Tables) != len(orig.Tables) {
			continue
		}
		changed := -1
		for i := range c.Tables {
			if !sameTable(&c.Tables[i], &orig.Tables[i]) {
				if changed >= 0 {
					changed = -2
				}
				if changed == -1 {
					changed = i
				}
			}
		}
		if changed < 0 {
			continue
		}
		exercised++
		t.Run(tc.name, func(t *testing.T) {
			full := c.Validate()
			err := c.ValidateTable(c.Tables[changed].ID)
			if (err == nil) != (full == nil) {
				t.Fatalf("ValidateTable = %v, Validate = %v", err, full)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("ValidateTable = %v, want ErrInvalid", err)
			}
			if tc.name == "duplicate table id" {
				return // the ID now names the other table first
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if exercised < 20 {
		t.Fatalf("only %d cases change one table", exercised)
	}
	if err := validCatalog().ValidateTable("nope"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ValidateTable of a missing id = %v", err)
	}
}
