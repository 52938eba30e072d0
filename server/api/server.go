// Package api serves Floe's API (proto/floe/v1): QueryService and
// AuthService over Connect, gRPC and gRPC-Web on one handler, with gRPC
// health checking and server reflection, and a plain GET health check at
// HealthPath for load balancers.
//
// Every procedure except AuthService.Login, AuthService.Refresh, health
// (and HealthPath) and reflection needs "Authorization: Bearer <access token>"; the
// interceptor verifies it before the handler runs and the handler runs as
// the token's user. Every error carries a floe.v1.ErrorDetail with a
// stable Floe error code next to its Connect code.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/auth"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

// Executor runs SQL (sqlexec.Executor).
type Executor interface {
	Execute(ctx context.Context, p access.Principal, req sqlexec.Request) ([]sqlexec.Result, error)
}

// Authenticator logs users in and verifies tokens (auth.Service).
type Authenticator interface {
	Login(ctx context.Context, user, password, client string) (auth.Tokens, error)
	Refresh(ctx context.Context, token string) (auth.Tokens, error)
	Verify(ctx context.Context, token string) (auth.Identity, error)
}

// compressMinBytes: smaller responses are sent uncompressed.
const compressMinBytes = 4 << 10

// Options configure a Server.
type Options struct {
	Executor Executor
	Auth     Authenticator
	// MaxRequestBytes bounds a request message (ResourceExhausted above).
	MaxRequestBytes int64
	// LoginRate and LoginBurst bound the login attempts (Login and
	// Refresh) of one client address: LoginRate per second sustained,
	// LoginBurst at once; beyond them calls fail with ResourceExhausted.
	// Defaults: 5 and 20.
	LoginRate  float64
	LoginBurst int
	// Serving, when set, decides the health check's answer: SERVING while
	// it returns true, NOT_SERVING otherwise (the node lost or could not
	// renew its writer lease). Default: always SERVING.
	Serving func() bool
	Logger  *slog.Logger
	// Metrics, when set, counts calls by procedure and code, and
	// authentication failures (see NewMetrics). Default: none.
	Metrics *Metrics
	// Clock stamps rate limits and durations. Default: time.Now.
	Clock func() time.Time
	// Live, when set, serves LiveService (live queries). Default: none.
	Live *LiveOptions
}

// Server is the API's http.Handler.
type Server struct {
	exec   Executor
	auth   Authenticator
	logins *loginLimiter
	log    *slog.Logger
	mux    *http.ServeMux
	clock  func() time.Time
}

// HealthPath is the plain-HTTP health check: GET (or HEAD) answers 200
// while the gRPC health check of the whole server (service "") says
// SERVING, and 503 otherwise, from the same checker. It needs no token. It
// is for load balancers that only send a GET over HTTP/1.1, such as an AWS
// ALB target group (template.yaml): the gRPC health check is a POST.
const HealthPath = "/healthz"

// Services are the fully-qualified names of the services served.
var Services = []string{floev1connect.QueryServiceName, floev1connect.AuthServiceName}

// New returns the API handler.
func New(opts Options) (*Server, error) {
	if opts.Executor == nil || opts.Auth == nil {
		return nil, errors.New("api: Executor and Auth are required")
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LoginRate <= 0 {
		opts.LoginRate = defaultLoginRate
	}
	if opts.LoginBurst <= 0 {
		opts.LoginBurst = defaultLoginBurst
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{exec: opts.Executor, auth: opts.Auth, logins: newLoginLimiter(opts.LoginRate, opts.LoginBurst), log: opts.Logger.With(slog.String("component", "api")), mux: http.NewServeMux(),
		clock: opts.Clock}
	handlerOpts := []connect.HandlerOption{
		connect.WithReadMaxBytes(int(opts.MaxRequestBytes)),
		// Outermost first: the metrics see what authentication refuses.
		connect.WithInterceptors(metricsInterceptor{opts.Metrics}, &authInterceptor{s: s}),
		connect.WithRecover(s.recoverPanic),
		// Compressing a few hundred bytes costs more than sending them.
		connect.WithCompressMinBytes(compressMinBytes),
		connect.WithCodec(strictJSON{name: "json"}),
		connect.WithCodec(strictJSON{name: "json; charset=utf-8"}),
	}
	s.mux.Handle(floev1connect.NewQueryServiceHandler(queryHandler{s}, handlerOpts...))
	s.mux.Handle(floev1connect.NewAuthServiceHandler(authHandler{s}, handlerOpts...))
	if opts.Live != nil {
		if opts.Live.Manager == nil || opts.Live.Planner == nil {
			return nil, errors.New("api: Live needs a Manager and a Planner")
		}
		s.mux.Handle(floev1connect.NewLiveServiceHandler(liveHandler{s: s, opt: *opts.Live, watch: newCatalogWatch(opts.Live.Planner.CatalogVersion)}, handlerOpts...))
	}
	var checker grpchealth.Checker = grpchealth.NewStaticChecker(Services...)
	if opts.Serving != nil {
		checker = health{static: checker.(*grpchealth.StaticChecker), serving: opts.Serving}
	}
	s.mux.Handle(grpchealth.NewHandler(checker))
	s.mux.Handle(http.MethodGet+" "+HealthPath, httpHealth{checker})
	reflector := grpcreflect.NewStaticReflector(Services...)
	s.mux.Handle(grpcreflect.NewHandlerV1(reflector))
	s.mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// recoverPanic turns a handler panic into an internal error (and a log
// line with the stack's cause) instead of a dropped connection.
func (s *Server) recoverPanic(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	s.log.LogAttrs(ctx, slog.LevelError, "handler panic", slog.String("procedure", spec.Procedure), slog.String("panic", fmt.Sprint(p)))
	return connect.NewError(connect.CodeInternal, errors.New("internal error; see the node's log"))
}

// HTTPServer returns an http.Server for h that speaks HTTP/1.1 and
// cleartext HTTP/2 (h2c, which gRPC clients use without TLS).
func HTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve serves h on ln until ctx is done, then shuts down gracefully:
// new connections are refused and in-flight calls get up to grace to
// finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration) error {
	srv := HTTPServer(h, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Calls still running after the grace period are cut. (A
		// connection a client opened but never used also counts as busy
		// for its first 5 seconds, see net/http.Server.Shutdown.)
		log.LogAttrs(context.WithoutCancel(ctx), slog.LevelWarn, "api: connections still open after the shutdown grace period were closed",
			slog.Duration("grace", grace), slog.Any("error", err))
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// healthPoll is how often a health Watch stream re-checks the status.
const healthPoll = 250 * time.Millisecond

// health answers the gRPC health check for the services of the static
// checker: SERVING while serving() holds, NOT_SERVING otherwise.
type health struct {
	static  *grpchealth.StaticChecker
	serving func() bool
}

// Check implements grpchealth.Checker.
func (h health) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	res, err := h.static.Check(ctx, req)
	if err != nil || h.serving() {
		return res, err
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
}

// httpHealth serves HealthPath from a gRPC health checker.
type httpHealth struct{ checker grpchealth.Checker }

func (h httpHealth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, body := http.StatusOK, "SERVING\n"
	if res, err := h.checker.Check(r.Context(), &grpchealth.CheckRequest{}); err != nil || res.Status != grpchealth.StatusServing {
		code, body = http.StatusServiceUnavailable, "NOT_SERVING\n"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// Watch implements grpchealth.Watcher: it has the handler re-check every
// healthPoll (the handler sends only changes) until stop is called.
func (h health) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	if _, err := h.static.Check(ctx, req); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(healthPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				onChange()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }, nil
}
