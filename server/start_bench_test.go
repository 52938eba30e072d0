package server_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/server"
)

// BenchmarkRestartToFirstSelect measures a restart of a node on an
// existing warehouse (its root user exists): assemble the server, run the
// first SELECT, close. The root bootstrap costs no bcrypt hash here.
func BenchmarkRestartToFirstSelect(b *testing.B) {
	dir := b.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Storage.FS.Dir = filepath.Join(dir, "objects")
	cfg.Auth.JWTSecret = "0123456789abcdef0123456789abcdef"
	ctx := context.Background()
	open := func() {
		app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := server.New(ctx, app, server.Options{RootPassword: "root-pass-secret-1"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Node.Executor.Execute(ctx, access.Principal{UserID: "root", Role: access.RoleSystem}, sqlexec.Request{SQL: "SELECT 1"}); err != nil {
			b.Fatal(err)
		}
		srv.Close()
		app.Close()
	}
	open() // creates the warehouse and the root user
	b.ResetTimer()
	for b.Loop() {
		open()
	}
}
