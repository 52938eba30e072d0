// Package rie tests the Lambda functions as AWS runs them: the bootstrap
// binaries built exactly as `make build-lambda` builds them (fully static,
// cgo, DuckDB), each run under the real Lambda Runtime Interface Emulator
// (aws-lambda-rie, installed by `make tools`) as a separate process, with
// a real S3 server (versitygw in CI) as the warehouse's object store; and
// a live node (`floe serve`, live role, built as the Dockerfile builds it)
// beside them, streaming their writes to a subscriber.
//
// The tests need FLOE_TEST_S3_BUCKET (and the other FLOE_TEST_S3_*
// variables; scripts/test.sh starts versitygw) and aws-lambda-rie on PATH
// or in $(go env GOPATH)/bin; without either they skip and say which is
// missing. Run them with -v to see the Connect responses and the cold
// start measurement.
package rie

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/internal/syncbuf"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// The build of `make build-lambda` (Makefile LAMBDA_TAGS, LAMBDA_LDFLAGS).
var (
	lambdaTags    = "lambda.norpc netgo osusergo"
	lambdaLDFlags = "-s -w -linkmode external -extldflags '-static'"
	// liveTags are the Dockerfile's tags for the live node's floe.
	liveTags = "netgo osusergo"
)

var (
	// binDir holds query/bootstrap, maintenance/bootstrap and floe/floe,
	// built by TestMain; "" when the tests skip.
	binDir string
	// rieBin is the emulator.
	rieBin string
	// skipWhy says which requirement is missing.
	skipWhy string
)

func TestMain(m *testing.M) {
	if _, ok := objstoretest.S3ConfigFromEnv(); !ok {
		skipWhy = objstoretest.EnvS3Bucket + " is not set: run scripts/s3-up.sh (scripts/test.sh starts versitygw)"
	} else if rieBin = findRIE(); rieBin == "" {
		skipWhy = "aws-lambda-rie is not on PATH nor in $(go env GOPATH)/bin: run make tools"
	}
	if skipWhy != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "floe-rie-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The two functions as `make build-lambda` builds them, and the live
	// node's `floe` as the Dockerfile builds it (the same static link,
	// without lambda.norpc).
	for _, b := range []struct{ out, pkg, tags string }{
		{"query/bootstrap", "functions/query", lambdaTags},
		{"maintenance/bootstrap", "functions/maintenance", lambdaTags},
		{"floe/floe", "cmd/floe", liveTags},
	} {
		start := time.Now()
		out := filepath.Join(dir, b.out)
		build := exec.Command("go", "build", "-trimpath", "-tags", b.tags, "-ldflags", lambdaLDFlags,
			"-o", out, "github.com/floedb/floe/"+b.pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if msg, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, msg)
			os.Exit(1)
		}
		st, _ := os.Stat(out)
		fmt.Fprintf(os.Stderr, "rie: built %s (%d bytes, static) in %v\n", b.out, st.Size(), time.Since(start).Round(time.Millisecond))
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func findRIE() string {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "aws-lambda-rie")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p
	}
	return ""
}

func needs(t *testing.T) {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
}

const (
	rootPassword = "rie-root-password-1"
	jwtSecret    = "0123456789abcdef0123456789abcdef"
)

// fnEnv is a function's environment on the test warehouse, as the SAM
// template sets it (FLOE_* names of lakehouse/config).
func fnEnv(t *testing.T, s3 objstore.S3Config, name string) []string {
	return append([]string{"AWS_LAMBDA_FUNCTION_NAME=" + name, "FLOE_DATA_DIR=" + t.TempDir(), "FLOE_AUTH_JWT_SECRET=" + jwtSecret,
		"FLOE_ROOT_PASSWORD=" + rootPassword, "FLOE_LOG_LEVEL=warn", "FLOE_JOBS_COMPACT_MIN_SEGMENTS=4"}, objstoretest.StorageEnv(s3)...)
}

// emulator is one aws-lambda-rie process running one function's
// bootstrap: one Lambda execution environment.
type emulator struct {
	t       *testing.T
	name    string
	url     string
	out     *syncbuf.Buffer
	cmd     *exec.Cmd
	started time.Time // when the emulator process was started
	ready   time.Time // when it accepted connections
	stopped sync.Once
}

// stop kills the emulator and the bootstrap process it started (one
// process group).
func (e *emulator) stop() {
	e.stopped.Do(func() {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		_ = e.cmd.Wait()
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRIE starts the emulator for functions/<fn> on free loopback ports
// and waits until it accepts connections. (The emulator starts the
// bootstrap process at the first invocation, as Lambda does.)
func startRIE(t *testing.T, fn string, env []string) *emulator {
	t.Helper()
	api, rie := freePort(t), freePort(t)
	e := &emulator{t: t, name: fn, url: "http://" + rie + "/2015-03-31/functions/function/invocations", out: &syncbuf.Buffer{}}
	e.cmd = exec.Command(rieBin, "--runtime-interface-emulator-address", rie, "--runtime-api-address", api,
		"--log-level", "error", filepath.Join(binDir, fn, "bootstrap"))
	e.cmd.Env = append(os.Environ(), env...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the bootstrap is its child: stop both
	e.started = time.Now()
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("%s emulator output:\n%s", fn, e.out.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", rie, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen on %s: %v\n%s", rie, err, e.out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.ready = time.Now()
	return e
}

// invoke posts one event to the emulator's invoke API and returns the
// function's answer (the handler's JSON, or Lambda's error object).
func (e *emulator) invoke(event any) []byte {
	e.t.Helper()
	body, err := json.Marshal(event)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(e.url, "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("invoke %s: %v\n%s", e.name, err, e.out.String())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("invoke %s: %d %v %s\n%s", e.name, resp.StatusCode, err, out, e.out.String())
	}
	return out
}

// urlEvent is the Function URL event (payload format 2.0) the Lambda
// service builds for an HTTP request to the function's URL.
func urlEvent(path, contentType, token string, body []byte, binary bool) events.LambdaFunctionURLRequest {
	headers := map[string]string{"content-type": contentType, "connect-protocol-version": "1", "host": "abc.lambda-url.us-east-1.on.aws"}
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	now := time.Now()
	req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: path, Headers: headers,
		RequestContext: events.LambdaFunctionURLRequestContext{AccountID: "anonymous", RequestID: fmt.Sprint(now.UnixNano()), APIID: "abc",
			DomainName: "abc.lambda-url.us-east-1.on.aws", DomainPrefix: "abc", Time: now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: now.UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.7", UserAgent: "connect-go"}}}
	if binary {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	} else {
		req.Body = string(body)
	}
	return req
}

// connect sends one Connect unary request through a Function URL event
// and returns the HTTP status and the decoded body.
func (e *emulator) connect(path, contentType, token string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	raw := e.invoke(urlEvent(path, contentType, token, body, contentType == "application/proto"))
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode == 0 {
		e.t.Fatalf("%s %s: the function did not answer with a Function URL response: %s", e.name, path, raw)
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			e.t.Fatal(err)
		}
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	return resp.StatusCode, h, out
}

// call sends a Connect JSON request, logs the answer and decodes it.
func (e *emulator) call(path, token string, msg any) (int, map[string]any) {
	e.t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		e.t.Fatal(err)
	}
	status, _, out := e.connect(path, "application/json", token, body)
	e.t.Logf("%s %s %s -> %d %s", e.name, path, redact(body), status, clip(out))
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		e.t.Fatalf("%s: status %d, body %q is not JSON: %v", path, status, out, err)
	}
	return status, m
}

// redact hides passwords in logged requests.
func redact(b []byte) string {
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		if _, ok := m["password"]; ok {
			m["password"] = "…"
			b, _ = json.Marshal(m)
		}
	}
	return string(b)
}

// tokenValue matches the tokens of a Login answer.
var tokenValue = regexp.MustCompile(`("(?:access|refresh)Token":"[^"]{12})[^"]*"`)

// clip shortens a logged answer: tokens cut, at most 600 characters.
func clip(b []byte) string {
	s := tokenValue.ReplaceAllString(string(b), `$1…"`)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

func (e *emulator) login(user, password string) string {
	e.t.Helper()
	status, out := e.call("/floe.v1.AuthService/Login", "", map[string]any{"user": user, "password": password})
	tok, _ := out["accessToken"].(string)
	if status != 200 || tok == "" {
		e.t.Fatalf("login %s: %d %v", user, status, out)
	}
	return tok
}

// sql runs statements and returns the rows of the last result, each as
// its JSON array.
func (e *emulator) sql(token, sql string) []string {
	e.t.Helper()
	status, out := e.call("/floe.v1.QueryService/ExecuteSQL", token, map[string]any{"sql": sql})
	if status != 200 {
		e.t.Fatalf("%s: %d %v", sql, status, out)
	}
	return rowsOf(out)
}

func rowsOf(out map[string]any) []string {
	results, _ := out["results"].([]any)
	if len(results) == 0 {
		return nil
	}
	var rows []string
	if rs, ok := results[len(results)-1].(map[string]any)["rows"].([]any); ok {
		for _, r := range rs {
			b, _ := json.Marshal(r)
			rows = append(rows, string(b))
		}
	}
	return rows
}

// maintain invokes the maintenance function with a request.
func (e *emulator) maintain(req string) map[string]any {
	e.t.Helper()
	out := e.invoke(json.RawMessage(req))
	e.t.Logf("%s %s -> %s", e.name, req, clip(out))
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		e.t.Fatalf("maintenance answer %s: %v", out, err)
	}
	if msg, ok := m["errorMessage"]; ok {
		e.t.Fatalf("maintenance %s failed: %v", req, msg)
	}
	return m
}

func equalRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// The query and maintenance functions, built as `make build-lambda` builds
// them, answer under the Lambda Runtime Interface Emulator: Function URL
// events carrying Connect requests (login, DDL, INSERT, SELECT as JSON and
// as binary protobuf, errors with their Connect and Floe codes), and
// maintenance events whose jobs land in system.jobs; a cold function
// process reads what a warm one wrote (and its first SELECT is timed).
func TestFunctionsUnderRIE(t *testing.T) {
	needs(t)
	s3 := objstoretest.NewS3ConfigForTest(t)
	a := startRIE(t, "query", fnEnv(t, s3, "floe-query"))

	// The first invocation starts the bootstrap, which creates the
	// warehouse and its root user.
	start := time.Now()
	root := a.login("root", rootPassword)
	t.Logf("first invocation of a new warehouse (process start, warehouse creation, login): %v", time.Since(start).Round(time.Millisecond))
	a.sql(root, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'alice-password';
		CREATE SHARED TABLE app.events (id BIGINT PRIMARY KEY, who TEXT NOT NULL) WITH (ACCESS_LEVEL = 'PUBLIC');
		CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`)
	alice := a.login("alice", "alice-password")
	a.sql(alice, "INSERT INTO app.notes (id, body) VALUES (1, 'buy milk'), (2, 'call mom')")
	for i := range 4 { // four small segments for the maintenance function
		a.sql(root, fmt.Sprintf("INSERT INTO app.events VALUES (%d, 'setup')", i))
	}
	equalRows(t, "alice's notes", a.sql(alice, "SELECT id, body FROM app.notes ORDER BY id"), `["1","buy milk"]`, `["2","call mom"]`)

	// Binary protobuf (application/proto), as connect-go clients send it.
	req, err := proto.Marshal(&floev1.ExecuteSQLRequest{Sql: "SELECT count(*) AS n FROM app.events"})
	if err != nil {
		t.Fatal(err)
	}
	status, h, body := a.connect("/floe.v1.QueryService/ExecuteSQL", "application/proto", alice, req)
	var bin floev1.ExecuteSQLResponse
	if status != 200 || h.Get("Content-Type") != "application/proto" {
		t.Fatalf("binary call: %d %v %q", status, h, body)
	}
	if err := proto.Unmarshal(body, &bin); err != nil {
		t.Fatalf("binary answer: %v", err)
	}
	t.Logf("query /floe.v1.QueryService/ExecuteSQL (application/proto, %d bytes) -> %d application/proto (%d bytes): %v", len(req), status, len(body), &bin)
	if rs := bin.GetResults(); len(rs) != 1 || len(rs[0].GetRows()) != 1 || rs[0].GetRows()[0].GetValues()[0].GetStringValue() != "4" {
		t.Fatalf("binary answer: %v", &bin)
	}

	// Errors: an HTTP status, a Connect code and a Floe code.
	status, out := a.call("/floe.v1.QueryService/ExecuteSQL", alice, map[string]any{"sql": "SELECT * FROM app.nope"})
	if code, floe := errCodes(out); status != 404 || code != "not_found" || floe != "TABLE_NOT_FOUND" {
		t.Fatalf("missing table: %d %s %s", status, code, floe)
	}
	status, out = a.call("/floe.v1.QueryService/ExecuteSQL", alice, map[string]any{"sql": "INSERT INTO app.events VALUES (99, 'alice')"})
	if code, floe := errCodes(out); status != 403 || code != "permission_denied" || floe != "PERMISSION_DENIED" {
		t.Fatalf("alice writing a shared table: %d %s %s", status, code, floe)
	}
	status, out = a.call("/floe.v1.AuthService/Login", "", map[string]any{"user": "alice", "password": "wrong"})
	if code, _ := errCodes(out); status != 401 || code != "unauthenticated" {
		t.Fatalf("bad password: %d %s", status, code)
	}

	// The maintenance function compacts app.events and records the job
	// in system.jobs under its node id; the scheduled event runs
	// everything on every table.
	m := startRIE(t, "maintenance", fnEnv(t, s3, "floe-maintenance"))
	res := m.maintain(`{"table": "app.events", "jobs": ["compact"]}`)
	jobs, _ := res["jobs"].([]any)
	if len(jobs) != 1 || jobs[0].(map[string]any)["kind"] != "compact" || jobs[0].(map[string]any)["rows"] != 4.0 {
		t.Fatalf("maintenance answer %v", res)
	}
	nodeID, _ := res["node_id"].(string)
	if !strings.HasPrefix(nodeID, "floe-maintenance-") {
		t.Fatalf("node id %q", nodeID)
	}
	m.maintain(`{"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}`)
	out2 := m.invoke(json.RawMessage(`{"jobs": ["vacuum"]}`))
	t.Logf("maintenance {\"jobs\": [\"vacuum\"]} -> %s", out2)
	if !strings.Contains(string(out2), `"errorMessage"`) || !strings.Contains(string(out2), `\"vacuum\" is not a job`) {
		t.Fatalf("bad maintenance event: %s", out2)
	}
	equalRows(t, "system.jobs", a.sql(root, fmt.Sprintf(
		"SELECT kind, trigger, status FROM system.jobs WHERE node_id = '%s' AND table_name = 'events' ORDER BY started_at LIMIT 1", nodeID)),
		`["compact","maintenance","completed"]`)
	equalRows(t, "app.events after compaction", a.sql(alice, "SELECT count(*) FROM app.events"), `["4"]`)

	// Cold start: a new function process, whose first invocation is a
	// SELECT (with a token of the other container: shared JWT secret).
	b := startRIE(t, "query", fnEnv(t, s3, "floe-query"))
	first := time.Now()
	got := b.sql(alice, "SELECT id, body FROM app.notes ORDER BY id")
	answered := time.Now()
	cold := answered.Sub(first)
	equalRows(t, "cold container", got, `["1","buy milk"]`, `["2","call mom"]`)
	var warm []time.Duration
	sel, _ := json.Marshal(map[string]any{"sql": "SELECT id, body FROM app.notes ORDER BY id"})
	for range 20 {
		s := time.Now()
		if status, _, out := b.connect("/floe.v1.QueryService/ExecuteSQL", "application/json", alice, sel); status != 200 {
			t.Fatalf("warm SELECT: %d %s", status, out)
		}
		warm = append(warm, time.Since(s))
	}
	slices.Sort(warm)
	t.Logf("cold start: emulator process start -> listening %v; first invocation (bootstrap process start, "+
		"engine open, catalog load, SELECT) -> answered %v; emulator start -> first SELECT answered %v",
		b.ready.Sub(b.started).Round(time.Microsecond), cold.Round(time.Millisecond), answered.Sub(b.started).Round(time.Millisecond))
	t.Logf("warm SELECT through the emulator: p50 %v, p90 %v, max %v (%d calls)",
		warm[len(warm)/2].Round(time.Microsecond), warm[len(warm)*9/10].Round(time.Microsecond), warm[len(warm)-1].Round(time.Microsecond), len(warm))
	if line := initReport(b.out.String()); line != "" {
		t.Logf("emulator report of the first invocation: %s", line)
	}

	// More cold starts, for a spread: a fresh process each time, stopped
	// after its first SELECT.
	colds := []time.Duration{answered.Sub(b.started)}
	for range 4 {
		c := startRIE(t, "query", fnEnv(t, s3, "floe-query"))
		if status, _, out := c.connect("/floe.v1.QueryService/ExecuteSQL", "application/json", alice, sel); status != 200 {
			t.Fatalf("cold SELECT: %d %s", status, out)
		}
		colds = append(colds, time.Since(c.started))
		c.stop()
	}
	slices.Sort(colds)
	t.Logf("cold start (emulator process start -> first SELECT answered), %d fresh processes: min %v, median %v, max %v",
		len(colds), colds[0].Round(time.Millisecond), colds[len(colds)/2].Round(time.Millisecond), colds[len(colds)-1].Round(time.Millisecond))
}

// initReport returns the emulator's REPORT line that has an Init
// Duration.
func initReport(out string) string {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "REPORT") && strings.Contains(line, "Init Duration") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// errCodes returns the Connect code and the Floe code of an error answer.
func errCodes(out map[string]any) (string, string) {
	code, _ := out["code"].(string)
	floe := ""
	if ds, ok := out["details"].([]any); ok && len(ds) > 0 {
		if dbg, ok := ds[0].(map[string]any)["debug"].(map[string]any); ok {
			floe, _ = dbg["code"].(string)
		}
	}
	return code, floe
}

// Two function processes (two emulators) writing the same partition at
// the same time lose nothing: every acknowledged row is read afterwards.
func TestConcurrentFunctionsUnderRIE(t *testing.T) {
	needs(t)
	s3 := objstoretest.NewS3ConfigForTest(t)
	a := startRIE(t, "query", fnEnv(t, s3, "floe-query"))
	root := a.login("root", rootPassword)
	a.sql(root, `CREATE NAMESPACE app; CREATE SHARED TABLE app.hot (id BIGINT PRIMARY KEY, writer TEXT NOT NULL)`)
	b := startRIE(t, "query", fnEnv(t, s3, "floe-query"))
	b.login("root", rootPassword) // cold start before the race

	const perWriter = 25
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		errs  = make(chan error, 2)
	)
	start := time.Now()
	for w, e := range []*emulator{a, b} {
		wg.Go(func() {
			for i := range perWriter {
				id := w*1000 + i
				body, _ := json.Marshal(map[string]any{"sql": fmt.Sprintf("INSERT INTO app.hot VALUES (%d, '%s')", id, e.name)})
				status, _, out := e.connect("/floe.v1.QueryService/ExecuteSQL", "application/json", root, body)
				if status != 200 {
					errs <- fmt.Errorf("writer %d insert %d: %d %s", w, id, status, out)
					return
				}
				mu.Lock()
				acked = append(acked, fmt.Sprint(id))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d INSERTs from 2 function processes on one partition in %v", len(acked), time.Since(start).Round(time.Millisecond))
	sort.Strings(acked)
	for _, e := range []*emulator{a, b} {
		var got []string
		for _, r := range e.sql(root, "SELECT CAST(id AS TEXT) FROM app.hot") {
			var v []string
			if err := json.Unmarshal([]byte(r), &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v[0])
		}
		sort.Strings(got)
		if !slices.Equal(got, acked) || len(got) != 2*perWriter {
			t.Fatalf("%s reads %d rows, %d were acknowledged", e.name, len(got), len(acked))
		}
	}
}

// The binaries under test are built as `make build-lambda` builds them:
// the tags and linker flags here are the Makefile's.
func TestBuildFlagsMatchMakefile(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for line := range strings.Lines(string(mk)) {
		if name, val, ok := strings.Cut(line, ":="); ok && strings.HasPrefix(name, "LAMBDA_") {
			vars[strings.TrimSpace(name)] = strings.TrimSpace(val)
		}
	}
	if vars["LAMBDA_TAGS"] != lambdaTags || vars["LAMBDA_LDFLAGS"] != lambdaLDFlags {
		t.Fatalf("Makefile LAMBDA_TAGS %q, LAMBDA_LDFLAGS %q; this test builds with %q, %q",
			vars["LAMBDA_TAGS"], vars["LAMBDA_LDFLAGS"], lambdaTags, lambdaLDFlags)
	}
	if fns := strings.Fields(vars["LAMBDA_FUNCTIONS"]); !slices.Equal(fns, []string{"query", "maintenance"}) {
		t.Fatalf("Makefile LAMBDA_FUNCTIONS %q", fns)
	}
}
