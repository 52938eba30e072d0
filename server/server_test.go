package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server"
)

const rootPassword = "root-pass-secret-1"

// running is a server process on loopback ports.
type running struct {
	url, metricsURL string
	srv             *server.Server
}

// start assembles and runs a server as floe serve does.
func start(t testing.TB, mutate func(*config.Config)) *running {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Storage.FS.Dir = filepath.Join(dir, "objects")
	cfg.Auth.JWTSecret = "0123456789abcdef0123456789abcdef"
	cfg.Server.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, app, server.Options{RootPassword: rootPassword})
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		srv.Close()
		app.Close()
	})
	r := &running{url: "http://" + ln.Addr().String(), srv: srv}
	r.metricsURL = r.url
	if cfg.Server.MetricsListen != "" {
		r.metricsURL = "http://" + cfg.Server.MetricsListen
	}
	return r
}

func (r *running) sql(t testing.TB, token, sql string) {
	t.Helper()
	q := floev1connect.NewQueryServiceClient(http.DefaultClient, r.url)
	req := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: sql})
	req.Header().Set("Authorization", "Bearer "+token)
	if _, err := q.ExecuteSQL(context.Background(), req); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// metric returns the value of the sample named by name and labels (in the
// text format's order), or -1 if absent.
func metric(text, sample string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// A small workload through the API shows up in /metrics, served on the
// API port: statements by kind, object store requests per operation,
// manifest commits, the buffer, flushes, jobs and authentication failures.
func TestMetricsAfterWorkload(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	a := floev1connect.NewAuthServiceClient(http.DefaultClient, r.url)
	if _, err := a.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: "root", Password: "wrong"})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("bad login: %v", err)
	}
	res, err := a.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: "root", Password: rootPassword}))
	if err != nil {
		t.Fatal(err)
	}
	token := res.Msg.AccessToken
	r.sql(t, token, "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
	for i := range 3 {
		r.sql(t, token, fmt.Sprintf("INSERT INTO t VALUES (%d, 'v')", i))
	}
	r.sql(t, token, "SELECT count(*) FROM t")
	_, before := get(t, r.url+server.MetricsPath)
	r.sql(t, token, "FLUSH TABLE t")

	code, text := get(t, r.url+server.MetricsPath)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, text)
	}
	for _, c := range []struct {
		sample string
		min    float64
	}{
		{`floe_sqlexec_statement_duration_seconds_count{kind="insert",result="ok"}`, 3},
		{`floe_sqlexec_statement_duration_seconds_count{kind="select",result="ok"}`, 1},
		{`floe_sqlexec_statement_duration_seconds_count{kind="ddl",result="ok"}`, 1},
		{`floe_sqlexec_active_statements`, 0},
		{`floe_objstore_requests_total{op="put"}`, 3},
		{`floe_objstore_requests_total{op="list"}`, 1},
		{`floe_manifest_commits_total{log="catalog"}`, 3},
		{`floe_manifest_commits_total{log="partition"}`, 1},
		{`floe_tablestore_flushes_total{result="ok"}`, 1},
		{`floe_tablestore_flush_bytes_total`, 1},
		{`floe_jobs_runs_total{kind="flush",status="completed"}`, 1},
		{`floe_api_auth_failures_total{procedure="/floe.v1.AuthService/Login"}`, 1},
		{`floe_api_calls_total{code="ok",procedure="/floe.v1.QueryService/ExecuteSQL"}`, 6},
		{`floe_wbuf_max_bytes`, 1 << 30},
	} {
		if v := metric(text, c.sample); v < c.min {
			t.Errorf("%s = %v, want at least %v", c.sample, v, c.min)
		}
	}
	// The buffer held t's rows before the flush, which moved them to a
	// segment (system tables keep buffering their job and audit records).
	if b, a := metric(before, "floe_wbuf_buffered_rows"), metric(text, "floe_wbuf_buffered_rows"); b < 3 || a >= b {
		t.Errorf("floe_wbuf_buffered_rows: %v before FLUSH, %v after", b, a)
	}
	if v := metric(text, "floe_tablestore_flush_rows_total"); v < 3 {
		t.Errorf("floe_tablestore_flush_rows_total = %v, want t's 3 rows", v)
	}
	if !strings.Contains(text, "# TYPE floe_objstore_request_duration_seconds histogram") {
		t.Error("no object store latency histogram")
	}
}

// With server.metrics_listen, /metrics has an address of its own and the
// API port does not serve it.
func TestMetricsOnOwnAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := start(t, func(c *config.Config) { c.Server.MetricsListen = addr })
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(r.metricsURL + server.MetricsPath)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "floe_objstore_requests_total") {
				t.Fatalf("GET %s/metrics: %d", r.metricsURL, res.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get(t, r.url+server.MetricsPath); code == http.StatusOK {
		t.Fatalf("the API port serves /metrics too")
	}
}

// Every role answers the load balancers' GET health check over HTTP/1.1
// without a token, next to the API: a node-role server and a live-role
// server (the ECS live node of template.yaml) on its warehouse.
func TestHealthPathEveryRole(t *testing.T) {
	writer := start(t, nil)
	wcfg := writer.srv.App.Config()
	objects := wcfg.FSDir()
	live := start(t, func(c *config.Config) {
		c.Role = config.RoleLive
		c.NodeID = "live-1"
		c.Storage.FS.Dir = objects
	})
	for role, r := range map[string]*running{"node": writer, "live": live} {
		if code, body := get(t, r.url+server.HealthPath); code != http.StatusOK || body != "SERVING\n" {
			t.Errorf("%s role: GET %s: %d %q, want 200 SERVING", role, server.HealthPath, code, body)
		}
		if code, _ := get(t, r.url+"/"); code == http.StatusOK {
			t.Errorf("%s role: GET / answers 200; it is no health check", role)
		}
	}
}
