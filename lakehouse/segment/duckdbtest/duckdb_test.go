package duckdbtest

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Floe runs DuckDB without extension auto-loading; reading segments
	// must not need any extension.
	for _, q := range []string{"SET autoinstall_known_extensions = false", "SET autoload_known_extensions = false"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// writeFile writes a segment to a temporary file and returns its path.
func writeFile(t *testing.T, table *manifest.Table, vs []row.Version, opts segment.WriterOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seg.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	it := func(yield func(row.Version, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
	if _, err := segment.Write(f, table, it, opts); err != nil {
		t.Fatal(err)
	}
	return path
}

func decimal(s string) row.Value {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	u := new(big.Int).Mod(n, mod)
	lo := new(big.Int).And(u, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	return row.Decimal(int64(new(big.Int).Rsh(u, 64).Uint64()), lo)
}

func typesTable() *manifest.Table {
	return &manifest.Table{ID: "duck", Namespace: "n", Name: "t", SchemaVersion: 4, PrimaryKey: []string{"id"},
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "b", Type: manifest.Boolean, Nullable: true},
			{ID: 3, Name: "i", Type: manifest.Int, Nullable: true},
			{ID: 4, Name: "f", Type: manifest.Float, Nullable: true},
			{ID: 5, Name: "d", Type: manifest.Double, Nullable: true},
			{ID: 6, Name: "dec9", Type: manifest.Decimal(9, 2), Nullable: true},
			{ID: 7, Name: "dec18", Type: manifest.Decimal(18, 4), Nullable: true},
			{ID: 8, Name: "dec38", Type: manifest.Decimal(38, 10), Nullable: true},
			{ID: 9, Name: "t", Type: manifest.Text, Nullable: true},
			{ID: 10, Name: "j", Type: manifest.JSON, Nullable: true},
			{ID: 11, Name: "by", Type: manifest.Bytes, Nullable: true},
			{ID: 12, Name: "dt", Type: manifest.Date, Nullable: true},
			{ID: 13, Name: "ts", Type: manifest.Timestamp, Nullable: true},
			{ID: 14, Name: "u", Type: manifest.UUID, Nullable: true},
			{ID: 15, Name: "nn", Type: manifest.Text},
			{ID: 16, Name: "tstz", Type: manifest.TimestampTZ, Nullable: true},
		}}
}

func typesVersions() []row.Version {
	max38, min38 := strings.Repeat("9", 38), "-"+strings.Repeat("9", 38)
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	rows := []row.Row{
		{row.BigInt(math.MinInt64), row.Bool(true), row.Int(math.MinInt32), row.Float(float32(math.Inf(-1))), row.Double(math.Copysign(0, -1)),
			row.DecimalFromInt64(-999_999_999), row.DecimalFromInt64(-999_999_999_999_999_999), decimal(min38),
			row.Text(""), row.JSON(`{"a":[1,null]}`), row.Bytes([]byte{0, 0xff}), row.Date(-719_162), row.Timestamp(-62_135_596_800_000_000),
			row.UUID([16]byte{}), row.Text("a\x00b"), row.TimestampTZ(-62_135_596_800_000_000)},
		{row.BigInt(0), row.Bool(false), row.Int(math.MaxInt32), row.Float(math.MaxFloat32), row.Double(math.Inf(1)),
			row.DecimalFromInt64(999_999_999), row.DecimalFromInt64(999_999_999_999_999_999), decimal(max38),
			row.Text("日本語"), row.JSON(`"x"`), row.Bytes(nil), row.Date(0), row.Timestamp(0),
			row.UUID(ones), row.Text(""), row.TimestampTZ(0)},
		{row.BigInt(1), row.Null(), row.Null(), row.Null(), row.Null(), row.Null(), row.Null(), row.Null(),
			row.Null(), row.Null(), row.Null(), row.Null(), row.Null(), row.Null(), row.Text("z"), row.Null()},
		{row.BigInt(math.MaxInt64), row.Bool(true), row.Int(-1), row.Float(1.5), row.Double(math.NaN()),
			row.DecimalFromInt64(-1), row.DecimalFromInt64(5), decimal("-1"),
			row.Text(strings.Repeat("long ", 100)), row.JSON("[]"), row.Bytes([]byte("\x00")), row.Date(2_932_896), row.Timestamp(253_402_300_799_999_999),
			row.UUID([16]byte{0x12, 0x34}), row.Text("zz"), row.TimestampTZ(253_402_300_799_999_999)},
	}
	vs := make([]row.Version, len(rows))
	for i, r := range rows {
		vs[i] = row.Version{Seq: uint64(10 + i), SchemaVersion: 4, Values: r}
	}
	vs[2].Deleted = true
	return vs
}

func TestDuckDBReadsSegments(t *testing.T) {
	table := typesTable()
	vs := typesVersions()
	path := writeFile(t, table, vs, segment.WriterOptions{RowGroupRows: 2})
	db := openDB(t)
	src := fmt.Sprintf("read_parquet('%s')", path)

	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + src).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(vs) {
		t.Fatalf("count = %d, want %d", n, len(vs))
	}

	// Types.
	wantTypes := []string{"BIGINT", "BOOLEAN", "INTEGER", "FLOAT", "DOUBLE", "DECIMAL(9,2)", "DECIMAL(18,4)", "DECIMAL(38,10)",
		"VARCHAR", "VARCHAR", "BLOB", "DATE", "TIMESTAMP", "UUID", "VARCHAR", "TIMESTAMP WITH TIME ZONE", "BIGINT", "BOOLEAN"}
	rows, err := db.Query("DESCRIBE SELECT * FROM " + src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i, c := range append(table.Columns, manifest.Column{Name: "_seq"}, manifest.Column{Name: "_deleted"}) {
		if i >= len(got) || got[i] != c.Name+" "+wantTypes[i] {
			t.Errorf("column %d = %q, want %q", i, got[min(i, len(got)-1)], c.Name+" "+wantTypes[i])
		}
	}

	// Values, in file order.
	rows, err = db.Query("SELECT * FROM " + src)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	r := 0
	for rows.Next() {
		cells := make([]any, len(table.Columns)+2)
		ptrs := make([]any, len(cells))
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		v := vs[r]
		if cells[len(table.Columns)] != int64(v.Seq) || cells[len(table.Columns)+1] != v.Deleted {
			t.Errorf("row %d: _seq, _deleted = %v, %v", r, cells[len(table.Columns)], cells[len(table.Columns)+1])
		}
		for c, col := range table.Columns {
			want := v.Values[c]
			if v.Deleted && c > 0 {
				continue
			}
			if got := fromDuck(t, col.Type, cells[c]); got != want && !(isNaN(got) && isNaN(want)) {
				t.Errorf("row %d column %s: DuckDB has %v (%T), want %v", r, col.Name, got, cells[c], want)
			}
		}
		r++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func isNaN(v row.Value) bool {
	return (v.Kind() == manifest.KindDouble || v.Kind() == manifest.KindFloat) && math.IsNaN(v.Float64())
}

// fromDuck converts a value scanned from DuckDB to a row.Value of type t.
func fromDuck(t *testing.T, typ manifest.Type, x any) row.Value {
	if x == nil {
		return row.Null()
	}
	switch v := x.(type) {
	case bool:
		return row.Bool(v)
	case int32:
		return row.Int(v)
	case int64:
		return row.BigInt(v)
	case float32:
		return row.Float(v)
	case float64:
		return row.Double(v)
	case duckdb.Decimal:
		return decimal(v.Value.String())
	case string:
		if typ.Kind == manifest.KindJSON {
			return row.JSON(v)
		}
		return row.Text(v)
	case []byte:
		if typ.Kind == manifest.KindUUID {
			return row.UUID([16]byte(v))
		}
		return row.Bytes(v)
	case time.Time:
		if typ.Kind == manifest.KindDate {
			return row.Date(int32(v.Unix() / 86400))
		}
		return row.Temporal(typ.Kind, v.UnixMicro())
	}
	t.Fatalf("unexpected DuckDB value %T", x)
	return row.Null()
}

// TestDuckDBPruningIsCorrect runs filters whose answers depend on row groups
// that statistics could wrongly skip: negative DECIMALs of every width, NaN
// (which DuckDB orders above every number, while Parquet statistics leave it
// out), and strings.
func TestDuckDBPruningIsCorrect(t *testing.T) {
	table := &manifest.Table{ID: "prune", Namespace: "n", Name: "p", SchemaVersion: 1, PrimaryKey: []string{"id"},
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "x", Type: manifest.Double, Nullable: true},
			{ID: 3, Name: "d9", Type: manifest.Decimal(9, 0)},
			{ID: 4, Name: "d18", Type: manifest.Decimal(18, 0)},
			{ID: 5, Name: "d38", Type: manifest.Decimal(38, 0)},
			{ID: 6, Name: "s", Type: manifest.Text},
			{ID: 7, Name: "f", Type: manifest.Float},
		}}
	// Row groups of two rows: {1, NaN} {2, 3} {-5, -7} ...
	xs := []float64{1, math.NaN(), 2, 3, -5, -7, 0, 4}
	ds := []int64{1, -2, 3, 4, -100, -200, 5, 6}
	var vs []row.Version
	for i, x := range xs {
		vs = append(vs, row.Version{Seq: uint64(i + 1), SchemaVersion: 1, Values: row.Row{
			row.BigInt(int64(i)), row.Double(x), row.DecimalFromInt64(ds[i]), row.DecimalFromInt64(ds[i] * 1e9),
			row.DecimalFromInt64(ds[i]), row.Text(fmt.Sprint("s", i)), row.Float(float32(x)),
		}})
	}
	path := writeFile(t, table, vs, segment.WriterOptions{RowGroupRows: 2})
	db := openDB(t)
	for _, tc := range []struct {
		where string
		want  int
	}{
		{"x > 5", 1}, // only NaN: DuckDB orders NaN above every number
		{"f > 5", 1}, // the same for FLOAT
		{"x = 'NaN'::DOUBLE", 1},
		{"isnan(x)", 1},
		{"x < -6", 1},
		{"x >= 1 AND x <= 3", 3},
		{"d9 < -150", 1},
		{"d18 < -150000000000", 1},
		{"d38 < -150", 1},
		{"d38 < 0", 3},
		{"d38 > 5", 1},
		{"s = 's5'", 1},
		{"s > 's6'", 1},
	} {
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM read_parquet('%s') WHERE %s", path, tc.where)
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", tc.where, err)
		}
		if n != tc.want {
			t.Errorf("WHERE %s: %d rows, want %d", tc.where, n, tc.want)
		}
	}
}
