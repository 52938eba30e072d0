package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/manifest"
)

func newServeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Start a Floe node",
		Long: `Start a Floe node: build the AppContext from the configuration, open the
object store (a local directory unless S3 is configured), claim the
warehouse's writer lease (fencing any older node), load the catalog, and run
until SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			app, cfg, err := c.openApp(ctx, false)
			if err != nil {
				return err
			}
			defer app.Close()
			log := app.Logger()

			epoch, cat, err := manifest.AcquireWriter(ctx, app.Catalog(), app.NodeID().String())
			if err != nil {
				return fmt.Errorf("claim the writer lease: %w", err)
			}
			snap := app.Schemas().Install(cat)
			log.LogAttrs(ctx, slog.LevelInfo, "node started",
				slog.String("storage", app.Bucket().Name()),
				slog.String("data_dir", cfg.DataDir),
				slog.Uint64("writer_epoch", epoch),
				slog.Uint64("catalog_version", snap.Version()),
				slog.Int("namespaces", len(cat.Namespaces)),
				slog.Int("tables", snap.Tables()))

			<-ctx.Done()
			// ctx is done; log with a fresh one so the line is not dropped
			// by handlers that honour cancellation.
			log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "node stopping")
			return nil
		},
	}
}
