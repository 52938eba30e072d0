package sqlexec_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/manifest"
)

// seedTables commits n tables (three columns each) to the harness's
// catalog in one commit and installs the result in the schema registry,
// so that a benchmark can start from a large catalog without n DDL
// statements. The tables live in namespace "seed".
func (h *harness) seedTables(n int) {
	h.t.Helper()
	ctx := context.Background()
	cat := h.app.Catalog()
	base, err := cat.Latest(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	now := time.Now().UTC()
	got, err := cat.Commit(ctx, func(c *manifest.Catalog) (*manifest.Catalog, error) {
		c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: "seed", CreatedAt: now})
		for i := range n {
			c.Tables = append(c.Tables, manifest.Table{
				ID: fmt.Sprintf("seed%012d", i), Namespace: "seed", Name: fmt.Sprintf("t%d", i),
				Type: manifest.TableShared, PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 4,
				Columns: []manifest.Column{
					{ID: 1, Name: "id", Type: manifest.BigInt},
					{ID: 2, Name: "v", Type: manifest.Text, Nullable: true},
					{ID: 3, Name: "n", Type: manifest.Double, Nullable: true},
				},
				Options:   manifest.TableOptions{AccessLevel: manifest.AccessPrivate},
				CreatedAt: now, UpdatedAt: now,
			})
		}
		return c, nil
	}, manifest.CommitOptions{WriterEpoch: base.WriterEpoch})
	if err != nil {
		h.t.Fatal(err)
	}
	h.app.Schemas().Install(got)
}

// BenchmarkCreateTableAt: one CREATE TABLE on a catalog that already holds
// N tables (goal of issue 15: the 10,000th within 1.2× of the first). Each
// iteration creates a table and then drops it untimed, so the catalog
// keeps N (+1) tables whatever b.N is.
func BenchmarkCreateTableAt(b *testing.B) {
	for _, n := range []int{0, 1000, 5000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			h := newHarness(b)
			h.seedTables(n)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("bench_%d", i)
				if _, err := h.node.Executor.Execute(ctx, svc, sqlexec.Request{SQL: "CREATE TABLE " + name + " (id BIGINT PRIMARY KEY, v TEXT, n DOUBLE)"}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := h.node.Executor.Execute(ctx, svc, sqlexec.Request{SQL: "DROP TABLE " + name}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
