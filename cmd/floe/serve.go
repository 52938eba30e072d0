package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/server"
)

func newServeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Start a Floe node",
		Long: `Start a Floe server process in its configured role (role: node by
default; function or live): build the AppContext from the configuration,
open the object store (a local directory unless S3 is configured); as a
node, lock the data dir (one process per data dir, one warehouse per data
dir), claim the warehouse's writer lease (refused while another node holds
it; see lease.take_over) and open the write buffer; start DuckDB, create or upgrade the system tables, create
the root user at the first start (password from FLOE_ROOT_PASSWORD, or
generated and printed once), and serve the API (Connect, gRPC, gRPC-Web;
server.listen), /metrics and the background jobs until SIGINT or SIGTERM;
then finish in-flight calls, flush everything buffered, release the
writer lease and stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			app, cfg, err := c.openApp(ctx, false)
			if err != nil {
				return err
			}
			defer app.Close()
			log := app.Logger()

			pw, _ := c.env("FLOE_ROOT_PASSWORD")
			srv, err := server.New(context.WithoutCancel(ctx), app, server.Options{
				RootPassword: pw,
				ShowPassword: func(user, password string) { showPassword(c.stdout, user, password) },
			})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s (server.listen): %w", cfg.Server.Listen, err)
			}
			snap, err := app.Schemas().Current(ctx)
			if err != nil {
				ln.Close()
				return err
			}
			attrs := []slog.Attr{
				slog.String("addr", ln.Addr().String()),
				slog.String("storage", app.Bucket().Name()),
				slog.String("data_dir", cfg.DataDir),
			}
			if cfg.Role != "node" {
				attrs = append(attrs, slog.String("role", cfg.Role), slog.String("write_mode", srv.Node.WriteMode))
			}
			attrs = append(attrs,
				slog.Uint64("writer_epoch", srv.Node.WriterEpoch),
				slog.Uint64("catalog_version", snap.Version()),
				slog.Int("namespaces", len(snap.Catalog().Namespaces)),
				slog.Int("tables", snap.Tables()),
				slog.Duration("system_tables_init", srv.Node.BootstrapTime))
			log.LogAttrs(ctx, slog.LevelInfo, "node started", attrs...)
			return srv.Run(ctx, ln)
		},
	}
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

// showPassword shows a generated password once, on standard output, never
// in the log. When standard output is not a terminal (`floe serve | grep
// …`, a log file) the line may never reach a person, so it is also written
// to the controlling terminal, if the process has one.
func showPassword(stdout io.Writer, user, password string) {
	msg := fmt.Sprintf("\n  Created the system user %q with password: %s\n  It is shown only now. Log in with: floe login --user %s\n"+
		"  (Set FLOE_ROOT_PASSWORD before the first start to choose it instead.)\n\n", user, password, user)
	_, _ = io.WriteString(stdout, msg)
	if _, isTerm := terminalFd(stdout); isTerm {
		return
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		_, _ = io.WriteString(tty, msg)
		_ = tty.Close()
	}
}
