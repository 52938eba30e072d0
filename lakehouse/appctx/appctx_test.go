package appctx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func testConfig(t *testing.T, nodeID string) config.Config {
	cfg := config.Default()
	cfg.NodeID = nodeID
	cfg.DataDir = t.TempDir()
	cfg.Log = config.LogConfig{Level: "debug", Format: "json"}
	return cfg
}

func TestNodeIDComesFromConfig(t *testing.T) {
	ctx := context.Background()
	app, err := New(ctx, testConfig(t, "node-test-7"), Deps{LogOutput: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if got := app.NodeID().String(); got != "node-test-7" {
		t.Fatalf("NodeID = %q, want node-test-7", got)
	}
	if app.NodeID().IsZero() {
		t.Fatal("NodeID is zero")
	}
	// The default fs backend lives under data_dir.
	if want := "file://" + filepath.Join(app.Config().DataDir, "objects"); !strings.HasPrefix(app.Bucket().Name(), want) {
		t.Fatalf("bucket = %s, want %s", app.Bucket().Name(), want)
	}
}

func TestInvalidConfigIsRefused(t *testing.T) {
	cfg := testConfig(t, "bad id with spaces")
	_, err := New(context.Background(), cfg, Deps{LogOutput: &syncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "node_id") {
		t.Fatalf("err = %v, want one naming node_id", err)
	}
}

// Every line logged by the AppContext and by the components built from it
// carries the configured node_id.
func TestEveryLogLineCarriesNodeID(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	app, err := New(ctx, testConfig(t, "node-logs-1"), Deps{LogOutput: logs, Bucket: objstore.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	// Exercise components that log: the catalog log (commits, retries) and
	// the schema registry (snapshot installs).
	epoch, _, err := manifest.AcquireWriter(ctx, app.Catalog(), app.NodeID().String())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := app.Catalog().Commit(ctx, func(c *manifest.Catalog) (*manifest.Catalog, error) {
				c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: "ns" + string(rune('a'+i))})
				return c, nil
			}, manifest.CommitOptions{WriterEpoch: epoch})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := app.Schemas().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	app.Logger().With("component", "test").Info("custom component line")

	lines := logs.lines(t)
	if len(lines) < 3 {
		t.Fatalf("only %d log lines; components did not log", len(lines))
	}
	components := map[string]bool{}
	for _, l := range lines {
		if l["node_id"] != "node-logs-1" {
			t.Errorf("log line without node_id=node-logs-1: %v", l)
		}
		if c, ok := l["component"].(string); ok {
			components[c] = true
		}
	}
	for _, c := range []string{"catalog", "schema", "test"} {
		if !components[c] {
			t.Errorf("no log line from component %q (got %v)", c, components)
		}
	}
}

// The NodeID reaches the manifests this process commits.
func TestCommitsCarryNodeID(t *testing.T) {
	ctx := context.Background()
	app, err := New(ctx, testConfig(t, "node-commit-2"), Deps{LogOutput: &syncBuffer{}, Bucket: objstore.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	epoch, cat, err := manifest.AcquireWriter(ctx, app.Catalog(), app.NodeID().String())
	if err != nil {
		t.Fatal(err)
	}
	if cat.CommittedBy != "node-commit-2" || cat.Writer == nil || cat.Writer.NodeID != "node-commit-2" || epoch != 1 {
		t.Fatalf("catalog header %+v writer %+v epoch %d", cat.Header, cat.Writer, epoch)
	}
}
