package duckdbbench

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/lakehouse/wbuf"
	"github.com/floedb/floe/manifest"
)

const (
	segments      = 20
	rowsPerFlush  = 10_000
	updatesPerRun = 2_000 // of the rows of each flush after the first, this many update older keys
)

func table() *manifest.Table {
	return &manifest.Table{
		ID: "bench01", Namespace: "app", Name: "events", Type: manifest.TableShared,
		Columns: []manifest.Column{
			{ID: 1, Name: "id", Type: manifest.BigInt},
			{ID: 2, Name: "kind", Type: manifest.Text},
			{ID: 3, Name: "qty", Type: manifest.BigInt},
			{ID: 4, Name: "score", Type: manifest.Double, Nullable: true},
		},
		PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 5,
	}
}

type fixture struct {
	store *tablestore.Store
	table *manifest.Table
	files []string
	// want are the expected aggregates: visible rows and sum(qty).
	wantRows, wantSum int64
}

// build writes 20 flushes of 10k rows (new keys plus updates of older
// ones) into a local-directory bucket: 200k row versions in 20 segments.
func build(tb testing.TB) *fixture {
	ctx := context.Background()
	dir := tb.TempDir()
	bucket, err := objstore.NewFS(filepath.Join(dir, "objects"))
	if err != nil {
		tb.Fatal(err)
	}
	buf, err := wbuf.Open(wbuf.Options{Dir: filepath.Join(dir, "wbuf")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { buf.Close() })
	cache, err := tablestore.NewCache(filepath.Join(dir, "cache"), 1<<30, bucket)
	if err != nil {
		tb.Fatal(err)
	}
	s := tablestore.New(bucket, buf, tablestore.Options{Cache: cache})
	t := table()
	model := map[int64]int64{}
	next := int64(0)
	for f := 0; f < segments; f++ {
		batch := make([]tablestore.Change, 0, rowsPerFlush)
		seen := map[int64]bool{}
		for i := 0; i < rowsPerFlush; i++ {
			id := next
			if f > 0 && i < updatesPerRun {
				id = int64((i*7919 + f*104729) % int(next)) // an older key
				if seen[id] {
					id = next
				}
			}
			if id == next {
				next++
			}
			seen[id] = true
			qty := int64(f*rowsPerFlush + i)
			batch = append(batch, tablestore.Change{Values: row.Row{
				row.BigInt(id), row.Text([]string{"click", "view", "buy"}[id%3]), row.BigInt(qty), row.Double(float64(i) / 7),
			}})
			model[id] = qty
		}
		if _, err := s.Write(ctx, t, "", batch); err != nil {
			tb.Fatal(err)
		}
		if _, err := s.Flush(ctx, t, ""); err != nil {
			tb.Fatal(err)
		}
	}
	fx := &fixture{store: s, table: t}
	for _, q := range model {
		fx.wantRows++
		fx.wantSum += q
	}
	m, err := s.PartitionLog(t.ID, "").Latest(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, seg := range m.Segments {
		p, err := bucket.Path(seg.Key)
		if err != nil {
			tb.Fatal(err)
		}
		fx.files = append(fx.files, p)
	}
	if len(fx.files) != segments {
		tb.Fatalf("%d segments, want %d", len(fx.files), segments)
	}
	return fx
}

func (fx *fixture) floeScan(tb testing.TB) (rows, sum int64) {
	for v, err := range fx.store.Scan(context.Background(), fx.table, "", tablestore.ScanOptions{}) {
		if err != nil {
			tb.Fatal(err)
		}
		rows++
		sum += v.Values[2].Int64()
	}
	return rows, sum
}

func openDuckDB(tb testing.TB) *sql.DB {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, q := range []string{"SET autoinstall_known_extensions = false", "SET autoload_known_extensions = false", "SET threads = 2"} {
		if _, err := db.Exec(q); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

func (fx *fixture) fileList() string {
	quoted := make([]string, len(fx.files))
	for i, f := range fx.files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// Queries DuckDB runs over the same files. "raw" reads every row version
// (no merge: it over-counts updated keys); "merged" applies Floe's merge
// rule in SQL (latest _seq per key, tombstones dropped).
func (fx *fixture) queries() map[string]string {
	src := "read_parquet(" + fx.fileList() + ")"
	return map[string]string{
		"raw":    "SELECT count(*), sum(qty) FROM " + src,
		"merged": "SELECT count(*), sum(qty) FROM (SELECT * FROM " + src + " QUALIFY row_number() OVER (PARTITION BY id ORDER BY _seq DESC) = 1) WHERE NOT _deleted",
	}
}

// The Go merge and DuckDB's merged query agree with the model.
func TestMergedScanMatchesDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 200k rows")
	}
	fx := build(t)
	rows, sum := fx.floeScan(t)
	if rows != fx.wantRows || sum != fx.wantSum {
		t.Fatalf("floe scan: %d rows sum %d, want %d and %d", rows, sum, fx.wantRows, fx.wantSum)
	}
	db := openDuckDB(t)
	var n, s int64
	if err := db.QueryRow(fx.queries()["merged"]).Scan(&n, &s); err != nil {
		t.Fatal(err)
	}
	if n != fx.wantRows || s != fx.wantSum {
		t.Fatalf("duckdb merged: %d rows sum %d, want %d and %d", n, s, fx.wantRows, fx.wantSum)
	}
	if err := db.QueryRow(fx.queries()["raw"]).Scan(&n, &s); err != nil {
		t.Fatal(err)
	}
	if n != segments*rowsPerFlush {
		t.Fatalf("duckdb raw: %d row versions, want %d", n, segments*rowsPerFlush)
	}
}

// BenchmarkScan200k: the merged scan of 200k row versions in 20 segments
// through Floe (Go k-way merge over cached segment files) against DuckDB
// reading the same files, raw and with the merge rule in SQL.
func BenchmarkScan200k(b *testing.B) {
	fx := build(b)
	fx.floeScan(b) // warm the segment cache
	b.Run("floe-merged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rows, _ := fx.floeScan(b); rows != fx.wantRows {
				b.Fatalf("rows %d", rows)
			}
		}
		b.ReportMetric(float64(segments*rowsPerFlush)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
	})
	db := openDuckDB(b)
	for _, name := range []string{"raw", "merged"} {
		q := fx.queries()[name]
		b.Run("duckdb-"+name, func(b *testing.B) {
			for b.Loop() {
				var n, s int64
				if err := db.QueryRow(q).Scan(&n, &s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(segments*rowsPerFlush)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
		})
	}
}
