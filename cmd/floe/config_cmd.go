package main

import (
	"fmt"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
)

func newConfigCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print the effective settings (secrets redacted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			out, err := toml.Marshal(cfg.Redacted())
			if err != nil {
				return fmt.Errorf("encode configuration: %w", err)
			}
			_, err = fmt.Fprintf(c.stdout, "# configuration is valid\n%s", out)
			return err
		},
	})
	return cmd
}
