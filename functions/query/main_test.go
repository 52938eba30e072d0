package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	"github.com/floedb/floe/lakehouse/tablestore"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/server/livebus"
)

const (
	testRootPassword = "fn-root-password-1"
	testJWTSecret    = "0123456789abcdef0123456789abcdef"
)

// fnEnv is the environment of a query function on the test warehouse, as
// the SAM template would set it (FLOE_* names of lakehouse/config).
func fnEnv(t *testing.T, s3 objstore.S3Config, nodeID string) []string {
	return append([]string{"FLOE_NODE_ID=" + nodeID, "FLOE_DATA_DIR=" + t.TempDir(), "FLOE_AUTH_JWT_SECRET=" + testJWTSecret,
		"FLOE_ROLE=node", // forced to function by loadConfig
		"FLOE_LOG_LEVEL=warn"}, objstoretest.StorageEnv(s3)...)
}

// fn is one function container: a handler built once, invoked many times.
type fn struct {
	t *testing.T
	h Handler
}

func coldStart(t *testing.T, environ []string) *fn {
	t.Helper()
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatal(err)
	}
	h, closeFn, err := newHandler(context.Background(), cfg, testRootPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return &fn{t: t, h: h}
}

// invoke sends a Function URL event (payload format 2.0, as the Lambda
// service builds it, through its JSON form) and returns the response.
func (f *fn) invoke(path, contentType, token string, body []byte, binary bool) events.LambdaFunctionURLResponse {
	f.t.Helper()
	headers := map[string]string{"content-type": contentType, "connect-protocol-version": "1", "host": "abc.lambda-url.us-east-1.on.aws"}
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: path, Headers: headers,
		RequestContext: events.LambdaFunctionURLRequestContext{AccountID: "anonymous", RequestID: "req-1", APIID: "abc",
			DomainName: "abc.lambda-url.us-east-1.on.aws", DomainPrefix: "abc", Time: time.Now().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.7", UserAgent: "connect-go"}}}
	if binary {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	} else {
		req.Body = string(body)
	}
	// Through JSON, as the runtime delivers it.
	raw, err := json.Marshal(req)
	if err != nil {
		f.t.Fatal(err)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		f.t.Fatal(err)
	}
	resp, err := f.h(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("invoke %s: %v", path, err)
	}
	return resp
}

// call sends a Connect JSON unary request and decodes the JSON answer.
func (f *fn) call(path, token string, msg any) (int, map[string]any) {
	f.t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		f.t.Fatal(err)
	}
	resp := f.invoke(path, "application/json", token, body, false)
	out := resp.Body
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(out)
		if err != nil {
			f.t.Fatal(err)
		}
		out = string(b)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		f.t.Fatalf("%s: status %d, body %q is not JSON: %v", path, resp.StatusCode, out, err)
	}
	return resp.StatusCode, m
}

func (f *fn) login(user, password string) string {
	f.t.Helper()
	status, out := f.call("/floe.v1.AuthService/Login", "", map[string]any{"user": user, "password": password})
	tok, _ := out["accessToken"].(string)
	if status != 200 || tok == "" {
		f.t.Fatalf("login %s: %d %v", user, status, out)
	}
	return tok
}

// sql runs statements and returns the rows of the last result, each as
// its JSON array.
func (f *fn) sql(token, sql string) []string {
	f.t.Helper()
	status, out := f.call("/floe.v1.QueryService/ExecuteSQL", token, map[string]any{"sql": sql})
	if status != 200 {
		f.t.Fatalf("%s: %d %v", sql, status, out)
	}
	results := out["results"].([]any)
	var rows []string
	if rs, ok := results[len(results)-1].(map[string]any)["rows"].([]any); ok {
		for _, r := range rs {
			b, _ := json.Marshal(r)
			rows = append(rows, string(b))
		}
	}
	return rows
}

// sqlError runs a statement that must fail; it returns the HTTP status,
// the Connect code and the Floe code.
func (f *fn) sqlError(token, sql string) (int, string, string) {
	f.t.Helper()
	status, out := f.call("/floe.v1.QueryService/ExecuteSQL", token, map[string]any{"sql": sql})
	code, _ := out["code"].(string)
	floe := ""
	if ds, ok := out["details"].([]any); ok && len(ds) > 0 {
		if dbg, ok := ds[0].(map[string]any)["debug"].(map[string]any); ok {
			floe, _ = dbg["code"].(string)
		}
	}
	return status, code, floe
}

func equalRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// The query function answers Function URL events carrying Connect
// requests (JSON and binary protobuf) against a warehouse on real S3: the
// root user is created at the first cold start, users log in, DDL and
// writes are committed before they are acknowledged, user tables keep
// users apart, errors carry a Connect code and a Floe code; a second,
// cold container (a fresh data dir) on the same warehouse reads every row
// and writes rows the first, warm container reads.
func TestFunctionURLEventsOnS3(t *testing.T) {
	s3 := objstoretest.NewS3ConfigForTest(t)
	a := coldStart(t, fnEnv(t, s3, "fn-a"))
	root := a.login("root", testRootPassword)
	a.sql(root, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'alice-password';
		CREATE USER bob WITH PASSWORD 'bob-password';
		CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);
		CREATE SHARED TABLE app.plans (plan TEXT PRIMARY KEY, max_notes INT) WITH (ACCESS_LEVEL = 'PUBLIC');
		INSERT INTO app.plans VALUES ('free', 100), ('pro', 10000)`)
	alice, bob := a.login("alice", "alice-password"), a.login("bob", "bob-password")
	a.sql(alice, "INSERT INTO app.notes (id, body) VALUES (1, 'buy milk'), (2, 'call mom')")
	a.sql(bob, "INSERT INTO app.notes (id, body) VALUES (1, 'bob note')")
	equalRows(t, "alice's notes", a.sql(alice, "SELECT id, body FROM app.notes ORDER BY id"), `["1","buy milk"]`, `["2","call mom"]`)
	equalRows(t, "bob's notes", a.sql(bob, "SELECT id, body FROM app.notes ORDER BY id"), `["1","bob note"]`)

	// Errors: a Connect code, a Floe code, a non-200 status.
	if status, code, floe := a.sqlError(alice, "SELECT * FROM app.nope"); status != 404 || code != "not_found" || floe != "TABLE_NOT_FOUND" {
		t.Fatalf("missing table: %d %s %s", status, code, floe)
	}
	if status, code, floe := a.sqlError(bob, "INSERT INTO app.plans VALUES ('hack', 1)"); status != 403 || code != "permission_denied" || floe != "PERMISSION_DENIED" {
		t.Fatalf("bob writing a shared table: %d %s %s", status, code, floe)
	}
	if status, code, _ := a.sqlError("", "SELECT 1"); status != 401 || code != "unauthenticated" {
		t.Fatalf("no token: %d %s", status, code)
	}
	if status, code, floe := a.sqlError(alice, "SELECT * FROM read_csv('/etc/passwd')"); status == 200 || code == "" || floe == "" {
		t.Fatalf("host file read: %d %s %s", status, code, floe)
	}

	// Binary protobuf (application/proto), as connect-go clients send it.
	req, err := proto.Marshal(&floev1.ExecuteSQLRequest{Sql: "SELECT count(*) AS n FROM app.notes"})
	if err != nil {
		t.Fatal(err)
	}
	resp := a.invoke("/floe.v1.QueryService/ExecuteSQL", "application/proto", alice, req, true)
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "application/proto" {
		t.Fatalf("binary call: %d %v %q", resp.StatusCode, resp.Headers, resp.Body)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	var bin floev1.ExecuteSQLResponse
	if err := proto.Unmarshal(body, &bin); err != nil {
		t.Fatalf("binary answer: %v", err)
	}
	if rs := bin.GetResults(); len(rs) != 1 || len(rs[0].GetRows()) != 1 || len(rs[0].GetRows()[0].GetValues()) != 1 ||
		rs[0].GetRows()[0].GetValues()[0].GetStringValue() != "2" {
		t.Fatalf("binary answer: %v", &bin)
	}

	// A second container, cold, with a data dir of its own: stateless.
	b := coldStart(t, fnEnv(t, s3, "fn-b"))
	alice2 := b.login("alice", "alice-password")
	equalRows(t, "alice's notes on a cold container", b.sql(alice2, "SELECT id, body FROM app.notes ORDER BY id"), `["1","buy milk"]`, `["2","call mom"]`)
	equalRows(t, "plans on a cold container", b.sql(alice2, "SELECT plan, max_notes FROM app.plans ORDER BY plan"), `["free",100]`, `["pro",10000]`)
	b.sql(alice2, "INSERT INTO app.notes (id, body) VALUES (3, 'from b')")
	// The warm container sees the other container's committed write
	// (a token of one container is valid on the other: shared JWT secret).
	equalRows(t, "warm container after the cold one wrote", a.sql(alice2, "SELECT id FROM app.notes ORDER BY id"), `["1"]`, `["2"]`, `["3"]`)
}

// TestWarmContainerSeesNewTables: a warm container serves its catalog for
// catalog.refresh_interval, then finds tables another container created
// meanwhile (functions share the warehouse; no lease makes one of them the
// catalog's only writer).
func TestWarmContainerSeesNewTables(t *testing.T) {
	s3 := objstoretest.NewS3ConfigForTest(t)
	const refresh = 100 * time.Millisecond
	a := coldStart(t, append(fnEnv(t, s3, "fn-a"), "FLOE_CATALOG_REFRESH_INTERVAL="+refresh.String()))
	root := a.login("root", testRootPassword)
	a.sql(root, "CREATE NAMESPACE app; CREATE SHARED TABLE app.first (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')")
	b := coldStart(t, append(fnEnv(t, s3, "fn-b"), "FLOE_CATALOG_REFRESH_INTERVAL="+refresh.String()))
	rootB := b.login("root", testRootPassword)
	equalRows(t, "b warm", b.sql(rootB, "SELECT count(*) FROM app.first"), `["0"]`)

	a.sql(root, "CREATE SHARED TABLE app.second (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC'); INSERT INTO app.second VALUES (7)")
	time.Sleep(3 * refresh)
	equalRows(t, "b after a's DDL", b.sql(rootB, "SELECT id FROM app.second"), `[7]`)
	// And the other way round, with a column b added.
	b.sql(rootB, "ALTER TABLE app.second ADD COLUMN note TEXT")
	time.Sleep(3 * refresh)
	equalRows(t, "a after b's ALTER", a.sql(root, "SELECT id, note FROM app.second"), `[7,null]`)
}

// loadConfig forces the function role and keeps Lambda's writable /tmp as
// the default data dir.
func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig([]string{"FLOE_ROLE=node", "FLOE_STORAGE_BACKEND=memory"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Role != config.RoleFunction || cfg.DataDir != DefaultDataDir || cfg.CacheDir() != filepath.Join(DefaultDataDir, "cache") {
		t.Fatalf("role %q, data dir %q, cache dir %q", cfg.Role, cfg.DataDir, cfg.CacheDir())
	}
	cfg, err = loadConfig([]string{"FLOE_DATA_DIR=/tmp/x", "FLOE_QUERY_CACHE_DIR=/tmp/c"})
	if err != nil || cfg.DataDir != "/tmp/x" || cfg.CacheDir() != "/tmp/c" {
		t.Fatalf("data dir %q, cache dir %q, %v", cfg.DataDir, cfg.CacheDir(), err)
	}
	if _, err := loadConfig([]string{"FLOE_STORAGE_S3_MAX_ATTEMPTS=many"}); err == nil || !strings.Contains(err.Error(), "FLOE_STORAGE_S3_MAX_ATTEMPTS") {
		t.Fatalf("bad env: %v", err)
	}
}

// slowSink is a live node's end of the bus that takes a while to hand a
// batch on, and records what it was given.
type slowSink struct {
	mu  sync.Mutex
	got []tablestore.ChangeBatch
}

func (s *slowSink) Deliver(_ context.Context, b tablestore.ChangeBatch) {
	time.Sleep(300 * time.Millisecond)
	s.mu.Lock()
	s.got = append(s.got, b)
	s.mu.Unlock()
}

// A function with live nodes (FLOE_LIVE_NODES) answers an invocation
// only after the changes it committed reached them: Lambda freezes the
// container once the handler returns, so a publish left queued would
// wait for the next invocation. The live node here takes 300 ms per
// batch, so an answer that did not wait for it finds nothing delivered.
func TestPublishesBeforeAnswering(t *testing.T) {
	s3 := objstoretest.NewS3ConfigForTest(t)
	sink := &slowSink{}
	path, h := livebus.Handler(livebus.DeriveKey([]byte(testJWTSecret)), sink, livebus.HandlerOptions{})
	mux := http.NewServeMux()
	mux.Handle(path, h)
	live := httptest.NewServer(mux)
	defer live.Close()

	a := coldStart(t, append(fnEnv(t, s3, "fn-a"), "FLOE_LIVE_NODES="+live.URL))
	root := a.login("root", testRootPassword)
	a.sql(root, "CREATE NAMESPACE app; CREATE SHARED TABLE app.feed (id BIGINT PRIMARY KEY, v TEXT)")
	sink.mu.Lock()
	before := len(sink.got)
	sink.mu.Unlock()
	a.sql(root, "INSERT INTO app.feed VALUES (1, 'one'), (2, 'two')")
	sink.mu.Lock()
	got := append([]tablestore.ChangeBatch(nil), sink.got[before:]...)
	sink.mu.Unlock()
	var rows int
	for _, b := range got {
		if b.Table.Name == "feed" {
			rows += len(b.Rows)
		}
	}
	if rows != 2 {
		t.Fatalf("when the INSERT was answered the live node had %d of its 2 rows (batches %d)", rows, len(got))
	}
}
