// Command floe runs a Floe node and administers a Floe warehouse.
//
//	floe serve            start a node (the embedded default: local directory storage)
//	floe config check     validate a configuration and print the effective settings
//	floe catalog show     print the catalog manifest
//	floe storage check    verify the object store honours conditional writes
//	floe login            log in to a server and store the tokens
//	floe logout           forget the stored tokens of a server
//	floe whoami           print the user and role a server sees
//	floe sql              run SQL (-c, -f, stdin) or an interactive shell
//	floe subscribe        print a live query's rows and changes as they arrive
//	floe version          print the version
//
// Every command reads the configuration from --config (or FLOE_CONFIG), the
// FLOE_* environment variables and the per-setting flags; see
// floe.example.toml.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A closed stdout or stderr (`floe serve | grep …` then Ctrl-C) must not
	// kill the process before it flushes: with SIGPIPE notified, the Go
	// runtime no longer dies of a write to a broken pipe on fd 1 or 2, and
	// the write returns EPIPE instead (os/signal, "SIGPIPE"). Nothing reads
	// the channel; the signals are dropped.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
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
		if !errors.Is(err, errReported) {
			writeError(stderr, err)
		}
		return 1
	}
	return 0
}

// errReported is returned by commands that printed their error already;
// the process exits 1 without printing more.
var errReported = errors.New("error reported")
