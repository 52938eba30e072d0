package api_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/internal/httpsend"
	"github.com/floedb/floe/internal/syncbuf"
	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/auth"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/node"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server/api"
)

const (
	rootPassword = "root-pass-secret-1"
	secret       = "0123456789abcdef0123456789abcdef"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer = syncbuf.Buffer

// server is a real node (fs object store, Pebble, DuckDB) serving the API
// on a loopback port with HTTP/1.1 and h2c.
type server struct {
	t    testing.TB
	url  string
	node *node.Node
	auth *auth.Service
	logs *syncBuffer
}

func startServer(t testing.TB, mutate func(*config.Config), apiOpts ...func(*api.Options)) *server {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Storage.FS.Dir = filepath.Join(dir, "objects")
	cfg.Log.Level = "debug"
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	ctx := context.Background()
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: logs})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, app, node.Deps{})
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	a, err := auth.New(n.Executor.Users(), auth.Options{Secret: []byte(secret), AccessTTL: cfg.Auth.AccessTTL.Duration,
		RefreshTTL: cfg.Auth.RefreshTTL.Duration, MaxFailedLogins: cfg.Auth.MaxFailedLogins, LoginBackoff: cfg.Auth.LoginBackoff.Duration, Lockout: cfg.Auth.Lockout.Duration,
		Logger: app.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Executor.Users().Ensure(ctx, "root", access.RoleSystem, rootPassword); err != nil {
		t.Fatal(err)
	}
	opts := api.Options{Executor: n.Executor, Auth: a, MaxRequestBytes: cfg.Server.MaxRequestBytes, Logger: app.Logger()}
	for _, f := range apiOpts {
		f(&opts)
	}
	srv, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- api.Serve(sctx, ln, srv, app.Logger(), 5*time.Second) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		n.Close()
		app.Close()
	})
	return &server{t: t, url: "http://" + ln.Addr().String(), node: n, auth: a, logs: logs}
}

// h2cClient is an HTTP client speaking cleartext HTTP/2, as gRPC needs.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}}}
}

// clients are the generated clients of one protocol, with a token.
type clients struct {
	query floev1connect.QueryServiceClient
	auth  floev1connect.AuthServiceClient
	token string
}

// http1Client is the bench-peers client's: it keeps idle connections for
// many concurrent clients, as pgx's pool does (http.DefaultClient keeps 2
// per host and opens a new connection for every call beyond them), and
// sends each call in one write (httpsend).
var http1Client = &http.Client{Transport: httpsend.Transport(&http.Transport{MaxIdleConnsPerHost: 64})}

func (s *server) clients(token string, opts ...connect.ClientOption) *clients {
	hc := http1Client
	for _, o := range opts {
		if o == connect.WithGRPC() {
			hc = h2cClient()
		}
	}
	return s.clientsOver(hc, token, opts...)
}

// clientsOver returns clients sending over hc.
func (s *server) clientsOver(hc *http.Client, token string, opts ...connect.ClientOption) *clients {
	c := &clients{token: token}
	opts = append(opts, connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if c.token != "" {
				req.Header().Set("Authorization", "Bearer "+c.token)
			}
			return next(ctx, req)
		}
	})))
	c.query = floev1connect.NewQueryServiceClient(hc, s.url, opts...)
	c.auth = floev1connect.NewAuthServiceClient(hc, s.url, opts...)
	return c
}

// login returns clients logged in as user.
func (s *server) login(user, password string, opts ...connect.ClientOption) *clients {
	s.t.Helper()
	c := s.clients("", opts...)
	res, err := c.auth.Login(context.Background(), connect.NewRequest(&floev1.LoginRequest{User: user, Password: password}))
	if err != nil {
		s.t.Fatalf("login %s: %v", user, err)
	}
	c.token = res.Msg.GetAccessToken()
	return c
}

// exec runs SQL and fails the test on error.
func (c *clients) exec(t testing.TB, sql string, params ...any) *floev1.ExecuteSQLResponse {
	t.Helper()
	res, err := c.try(sql, params...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

func (c *clients) try(sql string, params ...any) (*floev1.ExecuteSQLResponse, error) {
	req := &floev1.ExecuteSQLRequest{Sql: sql}
	for _, p := range params {
		v, err := structpb.NewValue(p)
		if err != nil {
			return nil, err
		}
		req.Params = append(req.Params, v)
	}
	res, err := c.query.ExecuteSQL(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// rowsText renders the rows of the last result as "a|b" lines.
func rowsText(res *floev1.ExecuteSQLResponse) []string {
	r := res.GetResults()[len(res.GetResults())-1]
	var out []string
	for _, row := range r.GetRows() {
		var parts []string
		for _, v := range row.GetValues() {
			if sv, ok := v.GetKind().(*structpb.Value_StringValue); ok {
				parts = append(parts, sv.StringValue)
				continue
			}
			b, _ := json.Marshal(v.AsInterface()) // stable, unlike protojson
			parts = append(parts, string(b))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// floeCode returns the Connect code and Floe code of err.
func floeCode(t testing.TB, err error) (connect.Code, string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a Connect error", err)
	}
	for _, d := range ce.Details() {
		m, derr := d.Value()
		if derr != nil {
			continue
		}
		if ed, ok := m.(*floev1.ErrorDetail); ok {
			return ce.Code(), ed.GetCode()
		}
	}
	return ce.Code(), ""
}

func errorsAs(err error, target **connect.Error) bool { return errors.As(err, target) }
