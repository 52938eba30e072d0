package sqlexec_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// No provider builds its own schema: the package never calls the
// uncached schema builders or Arrow's schema constructor; the only route
// to a table's shape is schema.Table.ArrowSchema (the registry's memo).
func TestProvidersUseRegistrySchemas(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok {
				switch id.Name + "." + sel.Sel.Name {
				case "schema.BuildArrowSchema", "arrow.NewSchema", "schema.ArrowType":
					t.Errorf("%s: %s.%s builds a schema outside the registry", fset.Position(sel.Pos()), id.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked only %d files", checked)
	}
}

func TestExplainAndParams(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE t (id INT PRIMARY KEY, s TEXT)")
	h.must(alice, "INSERT INTO t VALUES ($1, $2), ($3, $2)", 1, "x", 2)
	equal(t, "params", h.rows(alice, "SELECT id FROM t WHERE s = $1 AND id > $2 ORDER BY id", "x", 1), []string{"2"})
	res := h.must(alice, "EXPLAIN SELECT * FROM t WHERE id = 1")
	if len(res.Rows) == 0 || !strings.Contains(strings.ToUpper(res.Rows[0][len(res.Rows[0])-1].(string)), "SCAN") {
		t.Fatalf("EXPLAIN returned no plan: %v", res.Rows)
	}
	h.fails(alice, dberr.InvalidArgument, "SELECT * FROM t WHERE id = $2", 1)
}

func TestCancelAndTimeout(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	// 10^15 rows take days: the query ends only if the cancellation
	// interrupts it (no wall-clock bound needed; a miss is a hang the test
	// timeout reports).
	_, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "SELECT count(*) FROM range(1000000000000000) a"})
	if dberr.CodeOf(err) != dberr.Canceled {
		t.Fatalf("cancelled query: %v (code %s)", err, dberr.CodeOf(err))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "SELECT count(*) FROM range(1000000000000000) a"})
	if c := dberr.CodeOf(err); c != dberr.Timeout {
		t.Fatalf("timed-out query: %v (code %s)", err, c)
	}
	// The engine still works afterwards.
	equal(t, "after", h.rows(alice, "SELECT 1 + 1"), []string{"2"})
}

func TestRestartKeepsBufferedAndFlushedRows(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE r (id INT PRIMARY KEY, s TEXT)")
	h.must(alice, "INSERT INTO r VALUES (1, 'flushed')")
	h.must(root, "FLUSH ALL")
	h.must(alice, "INSERT INTO r VALUES (2, 'buffered')")
	h.must(alice, "DELETE FROM r WHERE id = 1")
	h.restart()
	equal(t, "after restart", h.rows(alice, "SELECT id, s FROM r"), []string{"[2 buffered]"})
	if _, err := os.Stat(filepath.Join(h.dir, "buffer")); err != nil {
		t.Fatal(err)
	}
}
