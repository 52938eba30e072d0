package costs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/manifest"
	"github.com/floedb/floe/server"
)

const (
	rootPassword = "costs-root-password"
	jwtSecret    = "0123456789abcdef0123456789abcdef"
)

// clock is a settable clock shared by a function's components, so the
// test decides when the catalog's refresh interval has passed.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tracing records the operation and key of every call, for the log.
type tracing struct {
	objstore.Bucket
	mu  sync.Mutex
	ops []string
}

func (b *tracing) add(op, key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ops = append(b.ops, op+" "+key)
}

func (b *tracing) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ops := b.ops
	b.ops = nil
	return ops
}

func (b *tracing) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Attrs, error) {
	b.add("GET", key)
	return b.Bucket.Get(ctx, key)
}

func (b *tracing) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	b.add("GET(range)", key)
	return b.Bucket.GetRange(ctx, key, off, length)
}

func (b *tracing) Attributes(ctx context.Context, key string) (objstore.Attrs, error) {
	b.add("HEAD", key)
	return b.Bucket.Attributes(ctx, key)
}

func (b *tracing) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	b.add("PUT", key)
	return b.Bucket.Put(ctx, key, data, opts)
}

func (b *tracing) Delete(ctx context.Context, key string) error {
	b.add("DELETE", key)
	return b.Bucket.Delete(ctx, key)
}

func (b *tracing) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.Attrs, error] {
	b.add("LIST", prefix)
	return b.Bucket.List(ctx, prefix, startAfter)
}

// function is one query-function container: the server the query
// function builds at cold start (role "function"), over a counting bucket.
type function struct {
	t      *testing.T
	h      http.Handler
	bucket *objstore.Counting
	trace  *tracing
	clock  *clock
}

// coldStart builds a function on a fresh connection to the S3 server of
// cfg (no state shared with other functions but the bucket) and returns it
// with the requests its start made.
func coldStart(t *testing.T, s3 objstore.S3Config, name string) (*function, objstore.OpCounts) {
	t.Helper()
	ctx := context.Background()
	b, err := objstore.NewS3(ctx, s3, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &function{t: t, trace: &tracing{Bucket: b}, clock: &clock{now: time.Now()}}
	f.bucket = objstore.NewCounting(f.trace)
	cfg := config.Default()
	cfg.NodeID, cfg.Role, cfg.DataDir = name, config.RoleFunction, t.TempDir()
	cfg.Auth.JWTSecret = jwtSecret
	cfg.Log.Level = "warn"
	// The auth service's user cache runs on the real clock: a long TTL
	// keeps a slow test run from adding re-checks of the user to the
	// warm queries (each is a LIST of system.users, see COSTS.md).
	cfg.Auth.UserCacheTTL = config.Duration{Duration: time.Minute}
	app, err := appctx.New(ctx, cfg, appctx.Deps{Bucket: f.bucket, Clock: f.clock.Now, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, app, server.Options{RootPassword: rootPassword})
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		app.Close()
	})
	f.h = srv.Handler
	f.t.Logf("%s start: %v", name, f.trace.take())
	return f, f.bucket.Counts()
}

// call makes one Connect JSON unary call and returns the decoded answer
// and the requests it made.
func (f *function) call(path, token string, msg any) (map[string]any, objstore.OpCounts) {
	f.t.Helper()
	f.bucket.Reset()
	f.trace.take()
	body, err := json.Marshal(msg)
	if err != nil {
		f.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK {
		f.t.Fatalf("%s %v: %d %s", path, msg, rec.Code, rec.Body.String())
	}
	f.t.Logf("%s %v: %v", path, msg, f.trace.take())
	return out, f.bucket.Counts()
}

func (f *function) login(user, password string) (string, objstore.OpCounts) {
	f.t.Helper()
	out, n := f.call("/floe.v1.AuthService/Login", "", map[string]any{"user": user, "password": password})
	tok, _ := out["accessToken"].(string)
	if tok == "" {
		f.t.Fatalf("login %s: %v", user, out)
	}
	return tok, n
}

func (f *function) sql(token, sql string) ([]any, objstore.OpCounts) {
	f.t.Helper()
	out, n := f.call("/floe.v1.QueryService/ExecuteSQL", token, map[string]any{"sql": sql})
	results, _ := out["results"].([]any)
	if len(results) == 0 {
		f.t.Fatalf("%s: no result: %v", sql, out)
	}
	rows, _ := results[len(results)-1].(map[string]any)["rows"].([]any)
	return rows, n
}

// The request counts docs/COSTS.md prices, on a real S3 server.
func TestFunctionRequestCounts(t *testing.T) {
	s3 := objstoretest.NewS3ConfigForTest(t)

	// A warehouse with a user table, written by a first function.
	setup, _ := coldStart(t, s3, "fn-setup")
	root, _ := setup.login("root", rootPassword)
	setup.sql(root, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'alice-password';
		CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`)
	alice, _ := setup.login("alice", "alice-password")
	setup.sql(alice, "INSERT INTO app.notes (id, body) VALUES (1, 'a'), (2, 'b')")
	setup.sql(alice, "INSERT INTO app.notes (id, body) VALUES (3, 'c')")

	// A cold container: start, first query (with a token from before, as
	// a client keeps it across containers), warm queries, writes.
	f, start := coldStart(t, s3, "fn-cold")
	chunks := catalogChunks(t, s3)
	const query = "SELECT id, body FROM app.notes ORDER BY id"
	rows, cold := f.sql(alice, query)
	if len(rows) != 3 {
		t.Fatalf("cold query: %v", rows)
	}
	rows, warm := f.sql(alice, query)
	if len(rows) != 3 {
		t.Fatalf("warm query: %v", rows)
	}
	f.clock.Advance(3 * time.Second) // past catalog.refresh_interval (2s)
	_, warmStale := f.sql(alice, query)
	_, firstWrite := f.sql(alice, "INSERT INTO app.notes (id, body) VALUES (10, 'x')")
	_, write := f.sql(alice, "INSERT INTO app.notes (id, body) VALUES (11, 'y')")
	rows, afterWrite := f.sql(alice, query)
	if len(rows) != 5 {
		t.Fatalf("after the writes: %v", rows)
	}
	_, login := f.login("alice", "alice-password")

	// Each phase's requests, as docs/COSTS.md explains them. A change
	// here is a change of what the serverless shape costs: update the doc.
	for _, c := range []struct {
		what      string
		got, want objstore.OpCounts
	}{
		// The catalog (hint GET, LIST, GET of the latest version's root,
		// one GET per table chunk it refers to, and a LIST confirming it)
		// and the two system tables auth needs (system.user_names,
		// system.users: hint GET, LIST, manifest GET, one segment GET
		// each).
		{"start", start, objstore.OpCounts{Get: 8 + int64(chunks), List: 4}},
		// The token's user re-checked (LIST of system.users, GET of its
		// newer segment), then the partition: hint GET, LIST, manifest
		// GET, one GET per segment (2).
		{"cold query", cold, objstore.OpCounts{Get: 5, List: 2}},
		// The partition's freshness: one LIST; segments come from the
		// cache in /tmp.
		{"warm query", warm, objstore.OpCounts{List: 1}},
		// Past catalog.refresh_interval the catalog is re-checked: a LIST
		// of its versions (unchanged here, so no GET), then the partition.
		{"warm query after the catalog refresh interval", warmStale, objstore.OpCounts{List: 2}},
		// The executor's read of the partition (LIST, manifest GET) before
		// the direct write; the writer's first commit to the partition
		// (hint GET, LIST, manifest GET), turn queue GET, segment PUT,
		// manifest PUT.
		{"first write of the container", firstWrite, objstore.OpCounts{Get: 3, Put: 2, List: 2}},
		// Steady state: the executor's LIST and GET of the manifest the
		// writer committed last, turn queue GET, segment PUT, manifest PUT.
		{"write", write, objstore.OpCounts{Get: 2, Put: 2, List: 1}},
		// LIST, the new manifest, the two new segments.
		{"query after own writes", afterWrite, objstore.OpCounts{Get: 3, List: 1}},
		// The user name index and the user row (the catalog was checked
		// by the query before it, within refresh_interval).
		{"login", login, objstore.OpCounts{Get: 1, List: 2}},
	} {
		t.Logf("%-48s %2d requests: %v", c.what, c.got.Total(), c.got)
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

// catalogChunks returns how many table chunks the latest catalog version
// refers to: one per shard holding a table, which depends on the tables'
// IDs (app.notes' is random, so it may share a shard with a system table).
func catalogChunks(t *testing.T, cfg objstore.S3Config) int {
	t.Helper()
	ctx := context.Background()
	b, err := objstore.NewS3(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	latest := ""
	for a, err := range b.List(ctx, manifest.CatalogPrefix+"v/", "") {
		if err != nil {
			t.Fatal(err)
		}
		latest = a.Key
	}
	rc, _, err := b.Get(ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var root struct {
		TableChunks []json.RawMessage `json:"table_chunks"`
	}
	if err := json.NewDecoder(rc).Decode(&root); err != nil {
		t.Fatal(err)
	}
	if len(root.TableChunks) == 0 {
		t.Fatalf("catalog version %s refers to no table chunks", latest)
	}
	return len(root.TableChunks)
}
