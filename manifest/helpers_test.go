package manifest

import (
	"reflect"
	"time"
)

var testTime = time.Date(2026, 11, 27, 12, 30, 45, 123456789, time.UTC)

func strPtr(s string) *string { return &s }

// validCatalog returns a catalog that exercises every field and passes
// Validate.
func validCatalog() *Catalog {
	return &Catalog{
		Header: Header{
			FormatVersion: FormatVersion,
			Version:       7,
			CommitID:      "C0MMIT",
			CommittedAt:   testTime,
			CommittedBy:   "node-a",
			WriterEpoch:   3,
		},
		Writer: &WriterLease{Epoch: 3, NodeID: "node-a", AcquiredAt: testTime},
		Namespaces: []Namespace{
			{Name: "app", CreatedAt: testTime},
			{Name: "system", CreatedAt: testTime},
		},
		Tables: []Table{
			{
				ID: "01JDQ4A5B6C7D8E9F0GHJKMNPQ", Namespace: "app", Name: "users", Type: TableUser,
				Columns: []Column{
					{ID: 1, Name: "id", Type: BigInt},
					{ID: 2, Name: "name", Type: Text, Nullable: true, Default: "'anon'"},
					{ID: 4, Name: "balance", Type: Decimal(18, 2), Nullable: true},
				},
				PrimaryKey:    []string{"id"},
				SchemaVersion: 2, NextColumnID: 5,
				Options:   TableOptions{FlushRows: 10000, FlushIntervalSeconds: 60},
				CreatedAt: testTime, UpdatedAt: testTime.Add(time.Hour),
			},
			{
				ID: "T2", Namespace: "app", Name: "settings", Type: TableShared,
				Columns:       []Column{{ID: 0, Name: "k", Type: Text}, {ID: 1, Name: "v", Type: JSON, Nullable: true}},
				SchemaVersion: 1, NextColumnID: 2,
				Options: TableOptions{AccessLevel: AccessPublic},
			},
			{
				ID: "T3", Namespace: "app", Name: "events", Type: TableStream,
				Columns:       []Column{{ID: 1, Name: "at", Type: Timestamp}, {ID: 2, Name: "payload", Type: Bytes, Nullable: true}},
				SchemaVersion: 1, NextColumnID: 3,
				Options: TableOptions{TTLSeconds: 3600},
			},
			{
				ID: "T4", Namespace: "system", Name: "tables", Type: TableSystem,
				Columns:       []Column{{ID: 1, Name: "table_id", Type: UUID}, {ID: 2, Name: "day", Type: Date}, {ID: 3, Name: "ok", Type: Boolean}, {ID: 4, Name: "f", Type: Float, Nullable: true}, {ID: 5, Name: "d", Type: Double, Nullable: true}, {ID: 6, Name: "i", Type: Int, Nullable: true}},
				SchemaVersion: 1, NextColumnID: 7,
			},
		},
		Views: []View{
			{
				ID: "V1", Namespace: "app", Name: "rich", SQL: "SELECT id, name AS who FROM users WHERE balance > 100",
				Columns:       []ViewColumn{{Name: "id", Type: "BIGINT"}, {Name: "who", Type: "VARCHAR"}},
				DependsOn:     []ViewDependency{{Kind: DependsOnTable, Namespace: "app", Name: "users", ID: "01JDQ4A5B6C7D8E9F0GHJKMNPQ"}},
				SchemaVersion: 2, CreatedAt: testTime, CreatedBy: "alice", UpdatedAt: testTime.Add(time.Minute),
			},
			{
				ID: "V2", Namespace: "app", Name: "rich_ids", SQL: "SELECT id FROM rich",
				Columns:       []ViewColumn{{Name: "n", Type: "BIGINT", Source: "id"}},
				DependsOn:     []ViewDependency{{Kind: DependsOnView, Namespace: "app", Name: "rich", ID: "V1"}},
				SchemaVersion: 1, CreatedAt: testTime, CreatedBy: "bob", UpdatedAt: testTime,
			},
		},
	}
}

func validPartition() *Partition {
	return &Partition{
		Header: Header{
			FormatVersion: FormatVersion,
			Version:       3,
			CommitID:      "P-COMMIT",
			CommittedAt:   testTime,
			WriterEpoch:   1,
		},
		TableID:   "T1",
		Partition: "Alice@example.com",
		LastSeq:   250,
		Segments: []Segment{
			{
				Key: "tables/T1/u-%41lice%40example.com/seg/0001.parquet", Rows: 100, Bytes: 4096,
				SeqMin: 1, SeqMax: 100, SchemaVersion: 1,
				Columns: []ColumnStats{
					{ColumnID: 1, Min: strPtr("1"), Max: strPtr("100"), NullCount: 0},
					{ColumnID: 2, NullCount: 100},
					{ColumnID: 3, Min: strPtr(""), Max: strPtr("zz"), NullCount: 3},
				},
			},
			{Key: "tables/T1/u-%41lice%40example.com/seg/0002.parquet", Rows: 0, Bytes: 10, SeqMin: 101, SeqMax: 200, SchemaVersion: 2},
		},
	}
}

// normalize sets every empty slice reachable from v to nil, so that values
// can be compared with reflect.DeepEqual regardless of how JSON decoding
// represented an empty array.
func normalize(v any) {
	normalizeValue(reflect.ValueOf(v))
}

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalizeValue(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if !v.IsNil() && v.CanSet() {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	}
}
