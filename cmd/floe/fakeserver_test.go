package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/floedb/floe/lakehouse/dberr"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

// fakeServer implements the Auth and Query services for client tests. It
// accepts the password "secret" for any user, issues numbered tokens, and
// answers ExecuteSQL from a table of canned statements, checking the
// Authorization header of every authenticated call.
type fakeServer struct {
	floev1connect.UnimplementedAuthServiceHandler
	floev1connect.UnimplementedQueryServiceHandler

	mu struct {
		sync.Mutex
		// access and refresh hold the currently valid tokens.
		access, refresh map[string]string // token → user
		issued          int
		logins          int
		refreshes       int
		unauthenticated int
		// sql records the statements received, with their namespace.
		sql []string
		// delay slows every ExecuteSQL.
		delay time.Duration
	}
}

func newFakeServer() *fakeServer {
	f := &fakeServer{}
	f.mu.access = map[string]string{}
	f.mu.refresh = map[string]string{}
	return f
}

// start serves f over HTTP/1.1 and h2c and returns the base URL.
func (f *fakeServer) start(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(floev1connect.NewAuthServiceHandler(f))
	mux.Handle(floev1connect.NewQueryServiceHandler(f))
	srv := httptest.NewUnstartedServer(mux)
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &protos
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// issue makes a new token pair for user. f.mu must be held.
func (f *fakeServer) issue(user string) (access, refresh string) {
	f.mu.issued++
	access = fmt.Sprintf("access-%d", f.mu.issued)
	refresh = fmt.Sprintf("refresh-%d", f.mu.issued)
	f.mu.access[access] = user
	f.mu.refresh[refresh] = user
	return access, refresh
}

// grant adds a valid token pair and returns it.
func (f *fakeServer) grant(user string) (access, refresh string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issue(user)
}

// revoke makes an access token invalid, as if it had expired.
func (f *fakeServer) revoke(access string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mu.access, access)
}

// floeError is a Connect error carrying an ErrorDetail.
func floeError(code connect.Code, floeCode, msg string, line, col, completed int32) error {
	err := connect.NewError(code, errors.New(msg))
	d, derr := connect.NewErrorDetail(&floev1.ErrorDetail{Code: floeCode, Line: line, Column: col, StatementsCompleted: completed})
	if derr != nil {
		return connect.NewError(connect.CodeInternal, derr)
	}
	err.AddDetail(d)
	return err
}

// caller checks the bearer token.
func (f *fakeServer) caller(h http.Header) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	user, valid := f.mu.access[tok]
	if !ok || !valid {
		f.mu.unauthenticated++
		return "", floeError(connect.CodeUnauthenticated, "UNAUTHENTICATED", "invalid or expired access token", 0, 0, 0)
	}
	return user, nil
}

func (f *fakeServer) Login(_ context.Context, req *connect.Request[floev1.LoginRequest]) (*connect.Response[floev1.LoginResponse], error) {
	if req.Msg.GetPassword() != "secret" {
		return nil, floeError(connect.CodeUnauthenticated, "UNAUTHENTICATED", "wrong user or password", 0, 0, 0)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.logins++
	access, refresh := f.issue(req.Msg.GetUser())
	return connect.NewResponse(&floev1.LoginResponse{
		AccessToken: access, RefreshToken: refresh, User: req.Msg.GetUser(), Role: "dba",
		ExpiresAt: timestamppb.New(time.Now().Add(time.Hour)),
	}), nil
}

func (f *fakeServer) Refresh(_ context.Context, req *connect.Request[floev1.RefreshRequest]) (*connect.Response[floev1.RefreshResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	user, ok := f.mu.refresh[req.Msg.GetRefreshToken()]
	if !ok {
		return nil, floeError(connect.CodeUnauthenticated, "UNAUTHENTICATED", "refresh token revoked", 0, 0, 0)
	}
	delete(f.mu.refresh, req.Msg.GetRefreshToken())
	f.mu.refreshes++
	access, refresh := f.issue(user)
	return connect.NewResponse(&floev1.RefreshResponse{
		AccessToken: access, RefreshToken: refresh, User: user, Role: "dba",
		ExpiresAt: timestamppb.New(time.Now().Add(time.Hour)),
	}), nil
}

func (f *fakeServer) WhoAmI(_ context.Context, req *connect.Request[floev1.WhoAmIRequest]) (*connect.Response[floev1.WhoAmIResponse], error) {
	user, err := f.caller(req.Header())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&floev1.WhoAmIResponse{User: user, Role: "dba"}), nil
}

// cannedColumns makes result columns from name:type pairs.
func cannedColumns(nameTypes ...string) []*floev1.Column {
	var cols []*floev1.Column
	for _, nt := range nameTypes {
		name, typ, _ := strings.Cut(nt, ":")
		cols = append(cols, &floev1.Column{Name: name, Type: typ, Nullable: true})
	}
	return cols
}

// cannedRows makes rows from Go values (nil is NULL).
func cannedRows(rows ...[]any) []*structpb.ListValue {
	var out []*structpb.ListValue
	for _, r := range rows {
		lv, err := structpb.NewList(r)
		if err != nil {
			lv = &structpb.ListValue{} // shows up as a wrong result
		}
		out = append(out, lv)
	}
	return out
}

func (f *fakeServer) ExecuteSQL(ctx context.Context, req *connect.Request[floev1.ExecuteSQLRequest]) (*connect.Response[floev1.ExecuteSQLResponse], error) {
	if _, err := f.caller(req.Header()); err != nil {
		return nil, err
	}
	sql, ns := req.Msg.GetSql(), req.Msg.GetNamespace()
	if ns == "" {
		ns = "public"
	}
	f.mu.Lock()
	f.mu.sql = append(f.mu.sql, ns+": "+sql)
	delay := f.mu.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
	}
	res := &floev1.StatementResult{}
	upper := strings.Join(strings.Fields(strings.ToUpper(sql)), " ")
	switch {
	case strings.HasPrefix(upper, "USE "):
		ns = strings.TrimSpace(sql[4:])
		res.Message = "USE"
	case upper == "SELECT 1 AS ONE":
		res.Columns = cannedColumns("one:INTEGER")
		res.Rows = cannedRows([]any{1})
		res.RowCount = 1
	case upper == "SELECT 'A;B' AS S":
		res.Columns = cannedColumns("s:VARCHAR")
		res.Rows = cannedRows([]any{"a;b"})
		res.RowCount = 1
	case strings.HasPrefix(upper, "SHOW TABLES"):
		res.Columns = cannedColumns("namespace:VARCHAR", "name:VARCHAR")
		res.Rows = cannedRows([]any{ns, "events"})
		res.RowCount = 1
	case strings.HasPrefix(upper, "INSERT"):
		res.Message = "INSERT 3"
		res.RowsAffected = 3
	case strings.Contains(upper, "FROMM"):
		line, col := dberr.Position(sql, strings.Index(strings.ToUpper(sql), "FROMM"))
		return nil, floeError(connect.CodeInvalidArgument, "SYNTAX_ERROR", `syntax error at or near "FROMM"`, int32(line), int32(col), 0)
	default:
		return nil, floeError(connect.CodeNotFound, "TABLE_NOT_FOUND", "table not found", 0, 0, 0)
	}
	return connect.NewResponse(&floev1.ExecuteSQLResponse{Results: []*floev1.StatementResult{res}, TookMicros: 1500, Namespace: ns}), nil
}

// received returns the statements the server ran.
func (f *fakeServer) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.mu.sql...)
}

// counts returns the numbers of logins, refreshes and rejected tokens.
func (f *fakeServer) counts() (logins, refreshes, unauthenticated int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.logins, f.mu.refreshes, f.mu.unauthenticated
}
