// Command floe runs a Floe node and administers a Floe warehouse.
//
//	floe serve            start a node (the embedded default: local directory storage)
//	floe config check     validate a configuration and print the effective settings
//	floe catalog show     print the catalog manifest
//	floe storage check    verify the object store honours conditional writes
//	floe version          print the version
//
// Every command reads the configuration from --config (or FLOE_CONFIG), the
// FLOE_* environment variables and the per-setting flags; see
// floe.example.toml.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	root := newRootCmd(environ, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		writeError(stderr, err)
		return 1
	}
	return 0
}
