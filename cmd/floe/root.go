package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// cli carries what every command needs: where to write and how to load the
// configuration.
type cli struct {
	environ    []string
	stdout     io.Writer
	stderr     io.Writer
	configPath string
	flags      *config.Flags
}

func newRootCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{environ: environ, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "floe",
		Short:         "Floe: a serverless, object-store-native lakehouse with live queries",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	gofs := flag.NewFlagSet("floe", flag.ContinueOnError)
	c.flags = config.RegisterFlags(gofs)
	// Only the commands that read the node's configuration take --config
	// and the per-setting flags; the client commands (sql, login, …) list
	// only their own.
	withConfig := func(cmd *cobra.Command) *cobra.Command {
		cmd.PersistentFlags().StringVar(&c.configPath, "config", "", "TOML configuration file (env FLOE_CONFIG; default: built-in defaults)")
		cmd.PersistentFlags().AddGoFlagSet(gofs)
		return cmd
	}

	root.AddCommand(
		withConfig(newServeCmd(c)),
		withConfig(newConfigCmd(c)),
		withConfig(newCatalogCmd(c)),
		withConfig(newStorageCmd(c)),
		newSQLCmd(c),
		newSubscribeCmd(c),
		newLoginCmd(c),
		newLogoutCmd(c),
		newWhoAmICmd(c),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintln(c.stdout, "floe", version)
				return err
			},
		},
	)
	return root
}

// loadConfig returns the validated configuration: defaults, then the file,
// then FLOE_* variables, then flags.
func (c *cli) loadConfig() (config.Config, error) {
	path := c.configPath
	if path == "" {
		for _, kv := range c.environ {
			if v, ok := strings.CutPrefix(kv, "FLOE_CONFIG="); ok {
				path = v
			}
		}
	}
	cfg, err := config.Load(path, c.environ)
	if err != nil {
		return config.Config{}, err
	}
	if err := c.flags.Apply(&cfg); err != nil {
		return config.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// openApp loads the configuration and builds the AppContext. quiet lowers
// the log level to warn, for inspection commands whose output is the point.
// The caller must Close the AppContext.
func (c *cli) openApp(ctx context.Context, quiet bool) (*appctx.AppContext, config.Config, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, config.Config{}, err
	}
	if quiet {
		cfg.Log.Level = "warn"
	}
	app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: c.stderr})
	if err != nil {
		return nil, config.Config{}, err
	}
	return app, cfg, nil
}

// writeError prints err for a person: one problem per line.
func writeError(w io.Writer, err error) {
	// Only a list at the top is a list of problems: one met deeper in the
	// chain is the cause of the error around it, whose text says more.
	if joined, ok := err.(interface{ Unwrap() []error }); ok && len(joined.Unwrap()) > 1 {
		fmt.Fprintln(w, "floe: error:")
		for _, e := range joined.Unwrap() {
			fmt.Fprintln(w, "  -", e)
		}
		return
	}
	fmt.Fprintln(w, "floe: error:", err)
}
