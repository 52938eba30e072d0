package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/manifest"
)

func newCatalogCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Inspect the catalog manifest"}
	var version uint64
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the catalog manifest (latest version unless --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			app, _, err := c.openApp(ctx, true)
			if err != nil {
				return err
			}
			defer app.Close()
			var cat *manifest.Catalog
			if version == 0 {
				cat, err = app.Catalog().Latest(ctx)
			} else {
				cat, err = app.Catalog().Load(ctx, version)
			}
			if errors.Is(err, manifest.ErrNoManifest) {
				return fmt.Errorf("the warehouse at %s has no catalog yet; `floe serve` creates it", app.Bucket().Name())
			}
			if err != nil {
				return fmt.Errorf("read catalog from %s: %w", app.Bucket().Name(), err)
			}
			app.Logger().LogAttrs(ctx, slog.LevelDebug, "catalog read", slog.Uint64("version", cat.Version))
			return writeIndentedJSON(c.stdout, cat)
		},
	}
	show.Flags().Uint64Var(&version, "version", 0, "catalog version to show (default: latest)")
	cmd.AddCommand(show)
	return cmd
}

func writeIndentedJSON(w io.Writer, cat *manifest.Catalog) error {
	raw, err := manifest.EncodeCatalog(cat)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}
