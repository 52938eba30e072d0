package server_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/server"
)

// BenchmarkRestartToFirstSelect measures a restart of a node on an
// existing warehouse (its root user exists) of 0 and 1000 user tables:
// assemble the server, run the first SELECT (of the last table created),
// close. The root bootstrap costs no bcrypt hash here. Goal with 1000
// tables: ≤ 300 ms (issue 15; `make bench-peers` measures the same from
// exec of `floe serve`).
func BenchmarkRestartToFirstSelect(b *testing.B) {
	for _, tables := range []int{0, 1000} {
		b.Run(fmt.Sprintf("tables=%d", tables), func(b *testing.B) { benchRestart(b, tables) })
	}
}

func benchRestart(b *testing.B, tables int) {
	dir := b.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Storage.FS.Dir = filepath.Join(dir, "objects")
	cfg.Auth.JWTSecret = "0123456789abcdef0123456789abcdef"
	ctx := context.Background()
	root := access.Principal{UserID: "root", Role: access.RoleSystem}
	query := "SELECT 1"
	if tables > 0 {
		query = fmt.Sprintf("SELECT count(*) FROM t%d", tables-1)
	}
	open := func(setup func(*server.Server)) {
		app, err := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := server.New(ctx, app, server.Options{RootPassword: "root-pass-secret-1"})
		if err != nil {
			b.Fatal(err)
		}
		if setup != nil {
			setup(srv)
		}
		if _, err := srv.Node.Executor.Execute(ctx, root, sqlexec.Request{SQL: query}); err != nil {
			b.Fatal(err)
		}
		srv.Close()
		app.Close()
	}
	// The first open creates the warehouse, the root user and the tables.
	open(func(srv *server.Server) {
		const batch = 100
		for i := 0; i < tables; i += batch {
			var sb strings.Builder
			for j := i; j < min(tables, i+batch); j++ {
				fmt.Fprintf(&sb, "CREATE SHARED TABLE t%d (id BIGINT PRIMARY KEY, a TEXT, b DOUBLE);", j)
			}
			if _, err := srv.Node.Executor.Execute(ctx, root, sqlexec.Request{SQL: sb.String()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ResetTimer()
	for b.Loop() {
		open(nil)
	}
}
