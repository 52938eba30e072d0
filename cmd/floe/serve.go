package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/lakehouse/api"
	"github.com/floedb/floe/lakehouse/auth"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// shutdownFlushTimeout bounds the flush of everything buffered at a
// graceful stop; apiShutdownGrace bounds the wait for in-flight calls.
const (
	shutdownFlushTimeout = 2 * time.Minute
	apiShutdownGrace     = 10 * time.Second
)

func newServeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Start a Floe node",
		Long: `Start a Floe node: build the AppContext from the configuration, open the
object store (a local directory unless S3 is configured), lock the data
dir (one process per data dir, one warehouse per data dir), claim the
warehouse's writer lease (refused while another node holds it; see
lease.take_over), open the write buffer and DuckDB, create or upgrade the
system tables, create the root user at the first start (password from
FLOE_ROOT_PASSWORD, or generated and printed once), and serve the API
(Connect, gRPC, gRPC-Web; server.listen) and the flush scheduler until
SIGINT or SIGTERM; then finish in-flight calls, flush everything buffered,
release the writer lease and stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			app, cfg, err := c.openApp(ctx, false)
			if err != nil {
				return err
			}
			defer app.Close()
			log := app.Logger()

			n, err := node.Open(context.WithoutCancel(ctx), app)
			if err != nil {
				return err
			}
			defer n.Close()
			authn, err := c.openAuth(ctx, cfg, n.Executor, log)
			if err != nil {
				return err
			}
			srv, err := api.New(api.Options{Executor: n.Executor, Auth: authn, MaxRequestBytes: cfg.Server.MaxRequestBytes,
				Serving: n.Serving, Logger: log})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s (server.listen): %w", cfg.Server.Listen, err)
			}
			snap, err := app.Schemas().Current(ctx)
			if err != nil {
				ln.Close()
				return err
			}
			log.LogAttrs(ctx, slog.LevelInfo, "node started",
				slog.String("addr", ln.Addr().String()),
				slog.String("storage", app.Bucket().Name()),
				slog.String("data_dir", cfg.DataDir),
				slog.Uint64("writer_epoch", n.WriterEpoch),
				slog.Uint64("catalog_version", snap.Version()),
				slog.Int("namespaces", len(snap.Catalog().Namespaces)),
				slog.Int("tables", snap.Tables()),
				slog.Duration("system_tables_init", n.BootstrapTime))

			// The API stops first, so that the final flush sees every
			// acknowledged write.
			nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
			defer stopNode()
			nodeErr := make(chan error, 1)
			go func() { nodeErr <- n.Run(nodeCtx, shutdownFlushTimeout) }()
			apiErr := api.Serve(ctx, ln, srv, log, apiShutdownGrace)
			// ctx is done; log with a fresh one so the line is not dropped
			// by handlers that honour cancellation.
			log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "node stopping")
			stopNode()
			return errors.Join(apiErr, <-nodeErr)
		},
	}
}

// openAuth builds the token service and creates the root user at the
// first start.
func (c *cli) openAuth(ctx context.Context, cfg config.Config, x *sqlexec.Executor, log *slog.Logger) (*auth.Service, error) {
	secret := []byte(cfg.Auth.JWTSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "jwt-secret")); err != nil {
			return nil, err
		}
	}
	svc, err := auth.New(x, auth.Options{Secret: secret, AccessTTL: cfg.Auth.AccessTTL.Duration, RefreshTTL: cfg.Auth.RefreshTTL.Duration,
		MaxFailedLogins: cfg.Auth.MaxFailedLogins, Lockout: cfg.Auth.Lockout.Duration, Logger: log.With(slog.String("component", "auth"))})
	if err != nil {
		return nil, err
	}
	pw, given := c.env("FLOE_ROOT_PASSWORD")
	if !given {
		pw = auth.GeneratePassword()
	}
	created, err := x.EnsureUser(ctx, cfg.Auth.RootUser, sqlexec.RoleSystem, pw)
	if err != nil {
		return nil, fmt.Errorf("create the root user %q: %w", cfg.Auth.RootUser, err)
	}
	if created {
		log.LogAttrs(ctx, slog.LevelInfo, "created the root user", slog.String("user", cfg.Auth.RootUser),
			slog.Bool("password_from_env", given))
		if !given {
			// Shown once, on standard output, never in the log.
			fmt.Fprintf(c.stdout, "\n  Created the system user %q with password: %s\n  It is shown only now. Log in with: floe login --user %s\n\n",
				cfg.Auth.RootUser, pw, cfg.Auth.RootUser)
		}
	}
	return svc, nil
}

// env returns the value of an environment variable of the command.
func (c *cli) env(name string) (string, bool) {
	for _, kv := range c.environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}
