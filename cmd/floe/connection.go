package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/floedb/floe/internal/httpsend"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

const (
	// defaultServer is the address `floe serve` listens on by default.
	defaultServer = "http://127.0.0.1:7878"
	// expirySkew treats an access token as expired this long before its
	// expiry, so that it does not lapse in flight.
	expirySkew = 30 * time.Second
)

// connFlags are the connection settings of the client commands (sql,
// login, logout, whoami). Each flag falls back to its FLOE_* variable.
type connFlags struct {
	server    string
	token     string
	user      string
	password  string
	namespace string
	protocol  string
	timeout   time.Duration
}

// connFlagSet selects which connection flags a command takes.
type connFlagSet uint8

const (
	withAuth      connFlagSet = 1 << iota // --token, --user, --password
	withNamespace                         // --namespace/-n
)

// register adds the flags to fs. Defaults are applied by resolve, after
// parsing, so that help never prints a password from the environment.
func (f *connFlags) register(fs *pflag.FlagSet, set connFlagSet) {
	fs.StringVar(&f.server, "server", "", "Floe server URL (env FLOE_SERVER; default "+defaultServer+")")
	fs.StringVar(&f.protocol, "protocol", "", "RPC protocol: connect, grpc or grpcweb (default connect)")
	fs.DurationVar(&f.timeout, "timeout", 0, "timeout of each call to the server (default: none)")
	if set&withAuth != 0 {
		fs.StringVar(&f.token, "token", "", "access token to send instead of stored credentials (env FLOE_TOKEN)")
		fs.StringVar(&f.user, "user", "", "log in as this user first (env FLOE_USER)")
		fs.StringVar(&f.password, "password", "", "password for --user (env FLOE_PASSWORD; prompted when unset)")
	}
	if set&withNamespace != 0 {
		fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace for unqualified table names (default public)")
	}
}

// resolve fills unset flags from environ and defaults, and validates them.
func (f *connFlags) resolve(fs *pflag.FlagSet, environ []string) error {
	fromEnv := func(flag, env string, dst *string) {
		if fs.Changed(flag) {
			return
		}
		if v, ok := lookupEnviron(environ, env); ok {
			*dst = v
		}
	}
	fromEnv("server", "FLOE_SERVER", &f.server)
	fromEnv("token", "FLOE_TOKEN", &f.token)
	fromEnv("user", "FLOE_USER", &f.user)
	fromEnv("password", "FLOE_PASSWORD", &f.password)
	if f.server == "" {
		f.server = defaultServer
	}
	server, err := normalizeServer(f.server)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	f.server = server
	switch f.protocol {
	case "":
		f.protocol = "connect"
	case "connect", "grpc", "grpcweb":
	default:
		return fmt.Errorf("--protocol %q: want connect, grpc or grpcweb", f.protocol)
	}
	if f.timeout < 0 {
		return fmt.Errorf("--timeout %s: must not be negative", f.timeout)
	}
	return nil
}

// clients returns the Auth and Query clients for the settings. gRPC on an
// http:// URL speaks HTTP/2 without TLS (h2c); the other protocols use
// HTTP/1.1 there, and all of them negotiate HTTP/2 on https://.
func (f *connFlags) clients() (floev1connect.AuthServiceClient, floev1connect.QueryServiceClient) {
	hc, opts := f.transport()
	return floev1connect.NewAuthServiceClient(hc, f.server, opts...),
		floev1connect.NewQueryServiceClient(hc, f.server, opts...)
}

// liveClient returns the LiveService client for the settings (see
// clients). The HTTP client has no timeout: a subscription's stream
// lasts until it ends.
func (f *connFlags) liveClient() floev1connect.LiveServiceClient {
	hc, opts := f.transport()
	return floev1connect.NewLiveServiceClient(hc, f.server, opts...)
}

// transport returns the HTTP client and Connect options of the protocol.
func (f *connFlags) transport() (*http.Client, []connect.ClientOption) {
	var protos http.Protocols
	var opts []connect.ClientOption
	switch f.protocol {
	case "grpc":
		protos.SetHTTP2(true)
		protos.SetUnencryptedHTTP2(true)
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		protos.SetHTTP1(true)
		protos.SetHTTP2(true)
		opts = append(opts, connect.WithGRPCWeb())
	default:
		protos.SetHTTP1(true)
		protos.SetHTTP2(true)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Protocols = &protos
	return &http.Client{Transport: httpsend.Transport(transport)}, opts
}

// session is an authenticated connection to one server. It sends the
// access token with every call and, when it holds a refresh token,
// refreshes an access token that has expired or that the server rejects
// as Unauthenticated, saving the new tokens when they came from the
// credentials file. A session is not safe for concurrent use.
type session struct {
	server  string
	auth    floev1connect.AuthServiceClient
	query   floev1connect.QueryServiceClient
	live    floev1connect.LiveServiceClient
	timeout time.Duration
	now     func() time.Time

	tok storedToken
	// store is where tok came from and goes back to after a refresh; nil
	// when the tokens were given (--token) or obtained (--user) for this
	// run only.
	store *credentialStore
}

// errNotLoggedIn returns the message for a server without credentials.
func errNotLoggedIn(server string) error {
	return fmt.Errorf("not logged in to %s: run `floe login --server %s`", server, server)
}

// openSession authenticates in the documented order: --token/FLOE_TOKEN,
// then --user/--password (logging in now), then the stored credentials
// (refreshed first when expired).
func openSession(ctx context.Context, f *connFlags, environ []string, stdin io.Reader, prompt io.Writer) (*session, error) {
	auth, query := f.clients()
	s := &session{server: f.server, auth: auth, query: query, live: f.liveClient(), timeout: f.timeout, now: time.Now}
	switch {
	case f.token != "":
		s.tok = storedToken{AccessToken: f.token}
		return s, nil
	case f.user != "":
		password, err := passwordFor(f, stdin, prompt)
		if err != nil {
			return nil, err
		}
		tok, err := s.login(ctx, f.user, password)
		if err != nil {
			return nil, err
		}
		s.tok = tok
		return s, nil
	}
	path, err := credentialsPath(environ)
	if err != nil {
		return nil, err
	}
	store := &credentialStore{path: path}
	tok, ok, err := store.get(f.server)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotLoggedIn(f.server)
	}
	s.tok, s.store = tok, store
	if tok.expired(s.now(), expirySkew) {
		if err := s.refresh(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// callCtx bounds one call by the --timeout.
func (s *session) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return context.WithCancel(ctx)
}

// login calls AuthService.Login.
func (s *session) login(ctx context.Context, user, password string) (storedToken, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.auth.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: user, Password: password}))
	if err != nil {
		return storedToken{}, fmt.Errorf("log in to %s as %s: %w", s.server, user, err)
	}
	m := resp.Msg
	return storedToken{
		AccessToken:  m.GetAccessToken(),
		RefreshToken: m.GetRefreshToken(),
		ExpiresAt:    timeOf(m.GetExpiresAt().AsTime(), m.GetExpiresAt() != nil),
		User:         m.GetUser(),
		Role:         m.GetRole(),
	}, nil
}

// refresh exchanges the refresh token for new tokens and saves them when
// they came from the credentials file.
func (s *session) refresh(ctx context.Context) error {
	if s.tok.RefreshToken == "" {
		return fmt.Errorf("the access token for %s has expired: run `floe login --server %s`", s.server, s.server)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.auth.Refresh(cctx, connect.NewRequest(&floev1.RefreshRequest{RefreshToken: s.tok.RefreshToken}))
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		return fmt.Errorf("the session for %s has expired or was revoked: run `floe login --server %s`", s.server, s.server)
	}
	if err != nil {
		return fmt.Errorf("refresh the access token for %s: %w", s.server, err)
	}
	m := resp.Msg
	s.tok.AccessToken = m.GetAccessToken()
	if m.GetRefreshToken() != "" {
		s.tok.RefreshToken = m.GetRefreshToken()
	}
	s.tok.ExpiresAt = timeOf(m.GetExpiresAt().AsTime(), m.GetExpiresAt() != nil)
	if m.GetUser() != "" {
		s.tok.User, s.tok.Role = m.GetUser(), m.GetRole()
	}
	if s.store != nil {
		if err := s.store.put(s.server, s.tok); err != nil {
			return fmt.Errorf("save refreshed token: %w", err)
		}
	}
	return nil
}

// timeOf returns t when set, else the zero time.
func timeOf(t time.Time, set bool) time.Time {
	if !set {
		return time.Time{}
	}
	return t
}

// callAuthed sends msg through fn with the access token, refreshing the
// token and retrying once when it has expired or the server answers
// Unauthenticated. The retry is safe: the server rejects an
// unauthenticated call before running anything.
func callAuthed[Req, Res any](ctx context.Context, s *session, msg *Req,
	fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) (*connect.Response[Res], error) {
	if s.tok.RefreshToken != "" && s.tok.expired(s.now(), expirySkew) {
		if err := s.refresh(ctx); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		req := connect.NewRequest(msg)
		req.Header().Set("Authorization", "Bearer "+s.tok.AccessToken)
		cctx, cancel := s.callCtx(ctx)
		resp, err := fn(cctx, req)
		cancel()
		if connect.CodeOf(err) != connect.CodeUnauthenticated || s.tok.RefreshToken == "" || attempt > 0 {
			return resp, err
		}
		if err := s.refresh(ctx); err != nil {
			return nil, err
		}
	}
}

// executeSQL runs sql in namespace.
func (s *session) executeSQL(ctx context.Context, sql, namespace string) (*floev1.ExecuteSQLResponse, error) {
	resp, err := callAuthed(ctx, s, &floev1.ExecuteSQLRequest{
		Sql:       sql,
		Namespace: namespace,
		Format:    floev1.ResultFormat_RESULT_FORMAT_ROWS,
	}, s.query.ExecuteSQL)
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// whoAmI asks the server who the token belongs to.
func (s *session) whoAmI(ctx context.Context) (*floev1.WhoAmIResponse, error) {
	resp, err := callAuthed(ctx, s, &floev1.WhoAmIRequest{}, s.auth.WhoAmI)
	if err != nil {
		return nil, fmt.Errorf("whoami on %s: %w", s.server, err)
	}
	return resp.Msg, nil
}

// terminalFd returns the file descriptor of v when it is a terminal.
func terminalFd(v any) (int, bool) {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}
