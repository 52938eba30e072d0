package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/lakehouse/node"
)

// shutdownFlushTimeout bounds the flush of everything buffered at a
// graceful stop.
const shutdownFlushTimeout = 2 * time.Minute

func newServeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Start a Floe node",
		Long: `Start a Floe node: build the AppContext from the configuration, open the
object store (a local directory unless S3 is configured), claim the
warehouse's writer lease (fencing any older node), open the write buffer
and DuckDB, create or upgrade the system tables, and run the flush
scheduler until SIGINT or SIGTERM; then flush everything buffered and stop.`,
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
			snap, err := app.Schemas().Current(ctx)
			if err != nil {
				return err
			}
			log.LogAttrs(ctx, slog.LevelInfo, "node started",
				slog.String("storage", app.Bucket().Name()),
				slog.String("data_dir", cfg.DataDir),
				slog.Uint64("writer_epoch", n.WriterEpoch),
				slog.Uint64("catalog_version", snap.Version()),
				slog.Int("namespaces", len(snap.Catalog().Namespaces)),
				slog.Int("tables", snap.Tables()),
				slog.Duration("system_tables_init", n.BootstrapTime))

			err = n.Run(ctx, shutdownFlushTimeout)
			// ctx is done; log with a fresh one so the line is not dropped
			// by handlers that honour cancellation.
			log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "node stopping")
			return err
		},
	}
}
