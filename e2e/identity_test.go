package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Identity over real `floe serve` processes sharing one object store:
// revocations (a demoted dba, a dropped user) are durable and hold after
// a kill -9 and restart and on a second node that takes the warehouse
// over; user ids are never reused.

const identitySecret = "e2e-identity-secret-0123456789abcdef"

// identityNode starts node id on its own data dir under root, on the
// shared object store root/shared, with one token secret for all nodes.
func identityNode(t *testing.T, root, id string, extra ...string) *node {
	t.Helper()
	return startServe(t, filepath.Join(root, id), leaseArgs(root, id, extra...),
		"FLOE_ROOT_PASSWORD="+rootPassword, "FLOE_AUTH_JWT_SECRET="+identitySecret)
}

// kill stops n with SIGKILL: nothing is flushed, the lease is not
// released.
func (n *node) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		n.t.Fatal(err)
	}
	<-n.done
}

// refused checks that token is refused as unauthenticated.
func refused(t *testing.T, n *node, what, token string) {
	t.Helper()
	code, floe, msg := n.sqlFails(token, "SELECT 1")
	if code != "unauthenticated" || floe != "UNAUTHENTICATED" {
		t.Fatalf("%s: got %s %s %s, want unauthenticated", what, code, floe, msg)
	}
}

// takeOver waits until the lease of the killed node lapsed and starts id
// with the take-over flag.
func takeOver(t *testing.T, root, id string) *node {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		out := serveFails(t, leaseArgs(root, id), "FLOE_AUTH_JWT_SECRET="+identitySecret)
		if strings.Contains(out, "without being released") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease never lapsed:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return identityNode(t, root, id, "--lease.take_over=true")
}

// TestRevocationIsDurable: a demoted dba's and a dropped user's tokens
// are refused at once, after a kill -9 and restart of the node, and on a
// second node that took the warehouse over (it sees only what was
// flushed to the object store).
func TestRevocationIsDurable(t *testing.T) {
	root := t.TempDir()
	a := identityNode(t, root, "node-a")
	tokRoot := a.login("root", rootPassword)
	a.sql(tokRoot, `CREATE USER dana WITH PASSWORD 'dana-password' ROLE dba;
		CREATE USER dave WITH PASSWORD 'dave-password';
		CREATE USER erin WITH PASSWORD 'erin-password';
		CREATE NAMESPACE app; CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)`)
	tokDana := a.login("dana", "dana-password")
	tokDave := a.login("dave", "dave-password")
	tokErin := a.login("erin", "erin-password")
	a.sql(tokDave, "INSERT INTO app.notes VALUES (1, 'dave-secret')")
	a.sql(tokDana, "SELECT count(*) FROM system.audit_log")
	a.sql(tokErin, "SELECT count(*) FROM app.notes")

	a.sql(tokRoot, "ALTER USER dana SET ROLE user; DROP USER dave; ALTER USER erin REVOKE TOKENS")
	refused(t, a, "demoted dba on the same node", tokDana)
	refused(t, a, "dropped user on the same node", tokDave)
	refused(t, a, "revoked tokens on the same node", tokErin)

	a.kill()
	a = identityNode(t, root, "node-a")
	refused(t, a, "demoted dba after a restart", tokDana)
	refused(t, a, "dropped user after a restart", tokDave)
	refused(t, a, "revoked tokens after a restart", tokErin)
	tokUser := a.login("dana", "dana-password")
	if code, floe, msg := a.sqlFails(tokUser, "SELECT count(*) FROM system.audit_log"); floe != "PERMISSION_DENIED" {
		t.Fatalf("demoted dana reads the audit log after logging in again: %s %s %s", code, floe, msg)
	}

	a.kill()
	b := takeOver(t, root, "node-b")
	refused(t, b, "demoted dba on a second node", tokDana)
	refused(t, b, "dropped user on a second node", tokDave)
	refused(t, b, "revoked tokens on a second node", tokErin)
	b.stop()
}
