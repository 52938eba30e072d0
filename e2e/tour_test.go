package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

const rootPassword = "e2e-root-password"

// TestTourOverHTTP follows the README's tour with JSON over HTTP/1.1 as
// curl sends it, checks every answer, then restarts the node and checks
// that everything is still there.
func TestTourOverHTTP(t *testing.T) { tour(t, nil) }

// TestTourOnS3 is the README's S3 step: `floe storage check
// --create-bucket` on the warehouse's bucket and prefix, then the same
// tour with a node on S3 and a data dir of its own, stopped and restarted.
func TestTourOnS3(t *testing.T) {
	if _, ok := objstoretest.S3ConfigFromEnv(); !ok {
		t.Skip("FLOE_TEST_S3_BUCKET is not set")
	}
	env := objstoretest.StorageEnv(objstoretest.NewS3ConfigForTest(t))
	cmd := exec.Command(floeBin, "storage", "check", "--create-bucket")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "conditional writes work; Floe can use it") {
		t.Fatalf("floe storage check: %v\n%s", err, out)
	}
	tour(t, env)
}

// tour follows the README's tour on a node started with env (the object
// store: a local directory when env is empty).
func tour(t *testing.T, env []string) {
	dir := t.TempDir()
	n := startNode(t, dir, append(env, "FLOE_ROOT_PASSWORD="+rootPassword)...)
	root := n.login("root", rootPassword)
	n.sql(root, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'alice-password';
		CREATE USER bob WITH PASSWORD 'bob-password';
		CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, created_at TIMESTAMP DEFAULT NOW());
		CREATE SHARED TABLE app.plans (plan TEXT PRIMARY KEY, max_notes INT) WITH (ACCESS_LEVEL = 'PUBLIC');
		INSERT INTO app.plans VALUES ('free', 100), ('pro', 10000)`)

	alice, bob := n.login("alice", "alice-password"), n.login("bob", "bob-password")
	n.sql(alice, "INSERT INTO app.notes (id, body) VALUES (1, 'buy milk'), (2, 'call mom')")
	n.sql(bob, "INSERT INTO app.notes (id, body) VALUES ($1, $2)", 1, "bob's first note")
	equalRows(t, "alice's notes", n.sql(alice, "SELECT id, body FROM app.notes ORDER BY id"), `["1","buy milk"]`, `["2","call mom"]`)
	equalRows(t, "bob's notes", n.sql(bob, "SELECT id, body FROM app.notes ORDER BY id"), `["1","bob's first note"]`)
	equalRows(t, "shared plans", n.sql(bob, "SELECT plan, max_notes FROM app.plans ORDER BY plan"), `["free",100]`, `["pro",10000]`)
	equalRows(t, "join", n.sql(alice, "SELECT count(*) AS notes, max(p.max_notes) AS allowed FROM app.notes, app.plans p WHERE p.plan = 'free'"), `["2",100]`)

	if code, floe := n.sqlError(bob, "INSERT INTO app.plans VALUES ('hack', 1)"); code != "permission_denied" || floe != "PERMISSION_DENIED" {
		t.Fatalf("bob writing a shared table: %s %s", code, floe)
	}
	if code, floe := n.sqlError(alice, "SELECT * FROM app.nope"); code != "not_found" || floe != "TABLE_NOT_FOUND" {
		t.Fatalf("missing table: %s %s", code, floe)
	}
	if code, floe := n.sqlError(alice, "EXECUTE AS USER bob (SELECT * FROM app.notes)"); code != "permission_denied" || floe != "PERMISSION_DENIED" {
		t.Fatalf("user EXECUTE AS: %s %s", code, floe)
	}
	if code, _ := n.sqlError("", "SELECT 1"); code != "unauthenticated" {
		t.Fatalf("no token: %s", code)
	}
	equalRows(t, "root acting as bob", n.sql(root, "EXECUTE AS USER bob (SELECT body FROM app.notes)"), `["bob's first note"]`)

	// Graceful stop flushes; a restart serves the same data and users.
	n.stop()
	out := n.out.String()
	for _, want := range []string{"node stopping", "partition flushed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("shutdown log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alice-password") || strings.Contains(out, rootPassword) {
		t.Fatalf("the log holds a password:\n%s", out)
	}
	n2 := startNode(t, dir, env...)
	alice = n2.login("alice", "alice-password")
	equalRows(t, "alice after restart", n2.sql(alice, "SELECT id, body FROM app.notes ORDER BY id"), `["1","buy milk"]`, `["2","call mom"]`)
	if strings.Contains(n2.out.String(), "Created the system user") {
		t.Fatal("the root user was created again on restart")
	}
	n2.stop()
}

// TestGeneratedGRPCClient drives the node with the generated Go client
// over gRPC (h2c).
func TestGeneratedGRPCClient(t *testing.T) {
	n := startNode(t, t.TempDir(), "FLOE_ROOT_PASSWORD="+rootPassword)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}}}
	ctx := context.Background()
	authc := floev1connect.NewAuthServiceClient(hc, n.url, connect.WithGRPC())
	login, err := authc.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: "root", Password: rootPassword}))
	if err != nil {
		t.Fatal(err)
	}
	if login.Msg.GetRole() != "system" || login.Msg.GetExpiresAt().AsTime().IsZero() {
		t.Fatalf("login = %v", login.Msg)
	}
	q := floev1connect.NewQueryServiceClient(hc, n.url, connect.WithGRPC(), connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+login.Msg.GetAccessToken())
				return next(ctx, req)
			}
		})))
	res, err := q.ExecuteSQL(ctx, connect.NewRequest(&floev1.ExecuteSQLRequest{
		Sql:    "CREATE USER TABLE todo (id INT PRIMARY KEY, what TEXT); INSERT INTO todo VALUES ($1, $2); SELECT id, what FROM todo",
		Params: []*structpb.Value{structpb.NewNumberValue(7), structpb.NewStringValue("ship it")}}))
	if err != nil {
		t.Fatal(err)
	}
	rs := res.Msg.GetResults()
	if len(rs) != 3 || rs[0].GetMessage() != "CREATE TABLE" || rs[1].GetRowsAffected() != 1 {
		t.Fatalf("results = %v", rs)
	}
	row := rs[2].GetRows()[0].GetValues()
	if len(rs[2].GetRows()) != 1 || row[0].GetNumberValue() != 7 || row[1].GetStringValue() != "ship it" {
		t.Fatalf("rows = %v", rs[2].GetRows())
	}
	if c := rs[2].GetColumns(); c[0].GetName() != "id" || c[0].GetType() != "INTEGER" || c[1].GetType() != "VARCHAR" {
		t.Fatalf("columns = %v", c)
	}
	_, err = q.ExecuteSQL(ctx, connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: "DROP TABLE nope"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("DROP TABLE nope: %v", err)
	}
	n.stop()
}
