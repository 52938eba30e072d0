// Package server assembles a Floe server process from its AppContext: the
// engine for the configured role (lakehouse/node), the token service and
// the root user's bootstrap, the API (server/api: Connect, gRPC and
// gRPC-Web with health checking and reflection) and the Prometheus
// /metrics endpoint; Run serves them until its context ends and then stops
// gracefully. `floe serve` calls it (cmd/floe is flags and output); the
// Lambda query function and the live node are to call it too, so that
// every shape runs the same wiring.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/auth"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery"
	"github.com/floedb/floe/server/api"
	"github.com/floedb/floe/server/livebus"
)

// MetricsPath is where the Prometheus metrics are served.
const MetricsPath = "/metrics"

// HealthPath is the plain GET health check of every role (api.HealthPath):
// 200 while the node serves, 503 otherwise. Load balancers use it
// (template.yaml's live node target group).
const HealthPath = api.HealthPath

// Defaults of Options.
const (
	DefaultShutdownFlush = 2 * time.Minute
	DefaultShutdownGrace = 10 * time.Second
)

// Options configure a Server. The zero value is valid.
type Options struct {
	// Changes receives every acknowledged write (node.Deps.Changes), next
	// to the server's live-query manager. Default: none.
	Changes tablestore.ChangeSink
	// RootPassword is the password of the system user created at the
	// first start (config auth.root_user). Empty: a random one is
	// generated and handed to ShowPassword.
	RootPassword string
	// ShowPassword receives a generated root password, once, to show the
	// operator (floe serve prints it on standard output, never in the
	// log). Default: the password is not shown.
	ShowPassword func(user, password string)
	// ShutdownGrace bounds the wait for in-flight calls at a graceful
	// stop. Default: DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// ShutdownFlush bounds the flush of everything buffered at a graceful
	// stop (node role). Default: DefaultShutdownFlush.
	ShutdownFlush time.Duration
}

// Server is one assembled server process. Close it after Run returned (or
// without Run); the AppContext stays open.
type Server struct {
	App  *appctx.AppContext
	Node *node.Node
	Auth *auth.Service
	// Live is the live-query manager: it receives every write this
	// process acknowledges and serves LiveService.
	Live *livequery.Manager
	// Handler serves the API, and /metrics unless config
	// server.metrics_listen gives it an address of its own.
	Handler http.Handler
	// Metrics serves the Prometheus text format of the AppContext's
	// registry.
	Metrics http.Handler
	opts    Options
	// Live-bus ends: the publisher of a function with live nodes; the
	// gate and receiver of a live node.
	pub  *livebus.Publisher
	gate *livequery.Gate
	recv *livebus.Receiver
	// closed by Close: stops endWhenFenced.
	closed chan struct{}
}

// New builds the engine for app's role, the token service (creating the
// root user at the first start of a warehouse this process may write) and
// the API handler.
func New(ctx context.Context, app *appctx.AppContext, opts Options) (s *Server, err error) {
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.ShutdownFlush <= 0 {
		opts.ShutdownFlush = DefaultShutdownFlush
	}
	cfg := app.Config()
	log := app.Logger()
	srv := &Server{App: app, opts: opts, closed: make(chan struct{})}
	defer func() {
		if err != nil {
			srv.Close() // what was opened before the failure (s is nil here)
		}
	}()
	s = srv
	s.Live = livequery.New(app.NodeID().String(), livequery.Limits{MaxPerUser: cfg.Live.MaxSubscriptionsPerUser,
		MaxPerConnection: cfg.Live.MaxSubscriptionsPerConnection, QueueLength: cfg.Live.QueueLength}, log)
	if err := livequery.RegisterMetrics(app.Metrics(), s.Live); err != nil {
		return nil, fmt.Errorf("server: live-query metrics: %w", err)
	}
	var sink tablestore.ChangeSink = s.Live
	if opts.Changes != nil {
		sink = teeSink{s.Live, opts.Changes}
	}
	if s.pub, err = livebus.NewPublisherFromConfig(&cfg, app.NodeID().String(), log); err != nil {
		return nil, err
	} else if s.pub != nil {
		sink = teeSink{sink, s.pub}
		if err := livebus.RegisterMetrics(app.Metrics(), s.pub); err != nil {
			return nil, fmt.Errorf("server: live-bus metrics: %w", err)
		}
	}
	if s.Node, err = node.Open(ctx, app, node.Deps{Changes: sink}); err != nil {
		return nil, err
	}
	s.Node.Executor.SetLiveQueries(liveAdapter{s.Live})
	if s.Auth, err = openAuth(ctx, app, s.Node, opts); err != nil {
		return nil, err
	}
	liveOpts := &api.LiveOptions{Manager: s.Live, Planner: s.Node.Executor, Heartbeat: cfg.Live.Heartbeat.Duration,
		MaxMessageBytes: cfg.Live.MaxMessageBytes}
	if l := s.Node.Lease; l != nil {
		liveOpts.Fenced = l.Fenced
		go s.endWhenFenced()
	}
	apiSrv, err := api.New(api.Options{Executor: s.Node.Executor, Auth: s.Auth, MaxRequestBytes: cfg.Server.MaxRequestBytes,
		Serving: s.Node.Serving, Logger: log, Metrics: api.NewMetrics(app.Metrics()), Clock: app.Clock(),
		Live: liveOpts})
	if err != nil {
		return nil, err
	}
	s.Metrics = promhttp.HandlerFor(app.Metrics(), promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
	mux := http.NewServeMux()
	if cfg.Server.MetricsListen == "" {
		mux.Handle(MetricsPath, s.Metrics)
	}
	mux.Handle("/", apiSrv)
	s.Handler = mux
	if cfg.Role == config.RoleLive {
		s.gate = livequery.NewGate(s.Live, s.Node.Executor)
		if err := livequery.RegisterGateMetrics(app.Metrics(), s.gate); err != nil {
			return nil, fmt.Errorf("server: live-bus metrics: %w", err)
		}
		if s.recv, err = livebus.NewReceiver(&cfg, app.NodeID().String(), s.gate, int(cfg.Server.MaxRequestBytes), log); err != nil {
			return nil, err
		}
		mux.Handle(s.recv.Path, s.recv.Handler)
	}
	return s, nil
}

// endWhenFenced ends every live query of a node once another node takes
// its writer lease over: the writes they follow go to that node now, so
// they would go silent; ended with FENCED, their clients subscribe again
// there. It returns then, or at Close.
func (s *Server) endWhenFenced() {
	l := s.Node.Lease
	select {
	case <-l.Taken():
	case <-s.closed:
		return
	}
	s.Live.EndWhere(func(*livequery.Subscription) error { return l.Fenced() })
}

// liveAdapter shows the live-query manager to the executor (KILL LIVE
// QUERY, system.live_queries).
type liveAdapter struct{ *livequery.Manager }

func (a liveAdapter) LiveList(visible func(user string) bool) []sqlexec.LiveQueryInfo {
	var out []sqlexec.LiveQueryInfo
	for _, i := range a.List(visible) {
		ns, name, _ := strings.Cut(i.Table, ".")
		out = append(out, sqlexec.LiveQueryInfo{ID: i.ID, UserID: i.User, Namespace: ns, Table: name, Query: i.Query,
			NodeID: i.NodeID, Created: i.Created, LastSeq: i.LastSeq})
	}
	return out
}

// teeSink publishes to two sinks.
type teeSink [2]tablestore.ChangeSink

func (t teeSink) Publish(b tablestore.ChangeBatch) {
	t[0].Publish(b)
	t[1].Publish(b)
}

// openAuth builds the token service and creates the root user at the
// first start.
func openAuth(ctx context.Context, app *appctx.AppContext, n *node.Node, opts Options) (*auth.Service, error) {
	cfg := app.Config()
	log := app.Logger()
	secret := []byte(cfg.Auth.JWTSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "jwt-secret")); err != nil {
			return nil, err
		}
	}
	svc, err := auth.New(n.Executor.Users(), auth.Options{Secret: secret, AccessTTL: cfg.Auth.AccessTTL.Duration, RefreshTTL: cfg.Auth.RefreshTTL.Duration,
		MaxFailedLogins: cfg.Auth.MaxFailedLogins, LoginBackoff: cfg.Auth.LoginBackoff.Duration, Lockout: cfg.Auth.Lockout.Duration, UserCacheTTL: cfg.Auth.UserCacheTTL.Duration, Logger: log.With(slog.String("component", "auth"))})
	if err != nil {
		return nil, err
	}
	if n.Writable() != nil {
		return svc, nil // users are created by a process that may write
	}
	pw, given := opts.RootPassword, opts.RootPassword != ""
	if !given {
		pw = auth.GeneratePassword()
	}
	created, err := n.Executor.Users().Ensure(ctx, cfg.Auth.RootUser, access.RoleSystem, pw)
	if err != nil {
		return nil, fmt.Errorf("create the root user %q: %w", cfg.Auth.RootUser, err)
	}
	if created {
		log.LogAttrs(ctx, slog.LevelInfo, "created the root user", slog.String("user", cfg.Auth.RootUser),
			slog.Bool("password_from_env", given))
		if !given && opts.ShowPassword != nil {
			opts.ShowPassword(cfg.Auth.RootUser, pw)
		}
	}
	return svc, nil
}

// FlushPublishes returns once the changes this process committed before
// the call were sent to the live nodes (or given up), or when ctx ends
// (bus.Publisher.Flush); nil at once when it publishes nothing. A Lambda
// function calls it before answering an invocation: its environment is
// frozen between invocations, which would hold a queued publish back.
func (s *Server) FlushPublishes(ctx context.Context) error {
	if s.pub == nil {
		return nil
	}
	return s.pub.Flush(ctx)
}

// Run serves the API on ln (and /metrics on config server.metrics_listen,
// if set) and runs the engine's background jobs until ctx is done; then it
// stops the API first (in-flight calls get ShutdownGrace), so that the
// final flush sees every acknowledged write, and flushes (ShutdownFlush).
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if s.gate != nil {
		// A live node writes nothing: the changes it streams are the ones
		// other processes committed, published over the bus (the gate
		// orders them) or found by this poll.
		go s.gate.Poll(ctx, s.App.Config().Live.PollInterval.Duration)
	}
	log := s.App.Logger()
	cfg := s.App.Config()
	var metricsErr chan error
	if addr := cfg.Server.MetricsListen; addr != "" {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (server.metrics_listen): %w", addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle(MetricsPath, s.Metrics)
		metricsErr = make(chan error, 1)
		go func() { metricsErr <- api.Serve(ctx, mln, mux, log, s.opts.ShutdownGrace) }()
	}
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNode()
	nodeErr := make(chan error, 1)
	go func() { nodeErr <- s.Node.Run(nodeCtx, s.opts.ShutdownFlush) }()
	apiErr := api.Serve(ctx, ln, s.Handler, log, s.opts.ShutdownGrace)
	// ctx is done; log with a fresh one so the line is not dropped by
	// handlers that honour cancellation.
	log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "node stopping")
	stopNode()
	errs := []error{apiErr, <-nodeErr}
	if metricsErr != nil {
		errs = append(errs, <-metricsErr)
	}
	return errors.Join(errs...)
}

// Close releases the engine. It does not flush: Run's graceful stop does.
// It is safe on a nil or partly built Server.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	var errs []error
	if s.pub != nil {
		errs = append(errs, s.pub.Close())
	}
	errs = append(errs, s.recv.Close())
	if s.Node != nil {
		errs = append(errs, s.Node.Close())
	}
	return errors.Join(errs...)
}
