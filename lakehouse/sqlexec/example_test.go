package sqlexec_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// Two users write to one USER table; each reads back only its own rows.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "floe-example")
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Storage.FS.Dir = filepath.Join(dir, "objects")
	app, _ := appctx.New(ctx, cfg, appctx.Deps{LogOutput: io.Discard})
	defer app.Close()
	n, err := node.Open(ctx, app, node.Deps{}) // writer lease, buffer, DuckDB, system tables
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()

	root := access.Principal{UserID: "root", Role: access.RoleSystem}
	alice := access.Principal{UserID: "alice", Role: access.RoleUser}
	bob := access.Principal{UserID: "bob", Role: access.RoleUser}
	run := func(p access.Principal, sql string, params ...any) {
		res, err := n.Executor.Execute(ctx, p, sqlexec.Request{SQL: sql, Params: params})
		if err != nil {
			fmt.Println(p.UserID+":", err)
			return
		}
		for _, r := range res {
			if r.Columns == nil {
				fmt.Println(p.UserID+":", r.Message)
			}
			for _, row := range r.Rows {
				fmt.Println(p.UserID+":", row)
			}
		}
	}
	run(root, "CREATE NAMESPACE app")
	run(alice, "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)")
	run(alice, "INSERT INTO app.notes VALUES (1, 'buy milk'), (2, 'call mom')")
	run(bob, "INSERT INTO app.notes VALUES (1, $1)", "bob's note")
	run(alice, "SELECT id, body FROM app.notes ORDER BY id")
	run(bob, "SELECT id, body FROM app.notes")
	run(alice, "INSERT INTO app.notes VALUES (1, 'again')")
	run(alice, "SELECT * FROM read_csv('/etc/passwd')")
	// Output:
	// root: CREATE NAMESPACE
	// alice: CREATE TABLE
	// alice: INSERT 2
	// bob: INSERT 1
	// alice: [1 buy milk]
	// alice: [2 call mom]
	// bob: [1 bob's note]
	// alice: PK_VIOLATION: app.notes already has a row with primary key (id)=(1); use ON CONFLICT to update or skip it
	// alice: PERMISSION_DENIED: table function read_csv is not allowed: query Floe tables by name
}
