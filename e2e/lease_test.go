package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// Writer lease tests: real `floe serve` processes, each with its own data
// dir, on one object store (a shared --storage.fs.dir), driven through the
// API. The lease is short (1s, request grace 200ms) so that expiry and
// take-over take seconds.

// fastLease shortens the writer lease.
var fastLease = []string{"--lease.duration", "1s", "--lease.request_grace", "200ms"}

// leaseNode starts node id on its own data dir under root, on the shared
// object store root/shared.
func leaseNode(t *testing.T, root, id string, extra ...string) *node {
	t.Helper()
	return startServe(t, filepath.Join(root, id), leaseArgs(root, id, extra...), "FLOE_ROOT_PASSWORD="+rootPassword)
}

func leaseArgs(root, id string, extra ...string) []string {
	args := []string{"--data_dir", filepath.Join(root, id), "--storage.fs.dir", filepath.Join(root, "shared"), "--node_id", id}
	return append(append(args, fastLease...), extra...)
}

// serveFails runs `floe serve` with args, which must exit with status 1
// after printing an error (never a panic); it returns the output.
func serveFails(t *testing.T, args []string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, floeBin, append([]string{"serve", "--server.listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("floe serve %v: want exit status 1, got %v:\n%s", args, err, out)
	}
	if !strings.Contains(string(out), "floe: error:") || strings.Contains(string(out), "panic") || strings.Contains(string(out), "goroutine ") {
		t.Fatalf("floe serve %v: want a clean error, got:\n%s", args, out)
	}
	return string(out)
}

// must fails the test unless s contains every want.
func mustContain(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// sqlFails runs a statement that must fail and returns the Connect code,
// the Floe code and the message.
func (n *node) sqlFails(token, sql string) (code, floe, msg string) {
	n.t.Helper()
	code, floe = n.sqlError(token, sql)
	_, out := n.call("/floe.v1.QueryService/ExecuteSQL", token, map[string]any{"sql": sql})
	msg, _ = out["message"].(string)
	return code, floe, msg
}

// health returns the node's gRPC health status of the whole server.
func (n *node) health() grpchealth.Status {
	n.t.Helper()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}}}
	res, err := grpchealth.NewClient(hc, n.url, connect.WithGRPC()).Check(context.Background(), &grpchealth.CheckRequest{})
	if err != nil {
		n.t.Fatalf("health check: %v", err)
	}
	return res.Status
}

// wait waits for the process to exit and returns its error.
func (n *node) wait() error {
	select {
	case err := <-n.done:
		return err
	case <-time.After(60 * time.Second):
		n.cmd.Process.Kill()
		n.t.Fatalf("floe serve did not exit within 60s:\n%s", n.out)
		return nil
	}
}

func ids(n *node, token string) []string { return n.sql(token, "SELECT id FROM app.t ORDER BY id") }

// TestLeaseLiveIsRefusedReleasedIsTaken: the writer lease of a running
// node is never taken; its graceful stop releases it, and the next node
// takes the warehouse over at once and sees every acknowledged row.
func TestLeaseLiveIsRefusedReleasedIsTaken(t *testing.T) {
	root := t.TempDir()
	a := leaseNode(t, root, "node-a", "--lease.duration", "10s") // live however slow the machine
	tok := a.login("root", rootPassword)
	a.sql(tok, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
	a.sql(tok, "INSERT INTO app.t VALUES (1)")
	a.sql(tok, "FLUSH TABLE app.t")

	// B while A runs: refused, naming A; A is unaffected.
	out := serveFails(t, leaseArgs(root, "node-b"), "FLOE_ROOT_PASSWORD="+rootPassword)
	mustContain(t, "node-b's refusal", out, "held by another node", `node "node-a"`, "valid until", "Stop that node first")
	a.sql(tok, "INSERT INTO app.t VALUES (2)")
	equalRows(t, "A after B's attempt", ids(a, tok), `["1"]`, `["2"]`)
	if st := a.health(); st != grpchealth.StatusServing {
		t.Fatalf("A's health = %v", st)
	}

	// A stops cleanly: flush, then release. B takes over at once.
	a.stop()
	mustContain(t, "A's log", a.out.String(), "writer lease released")
	b := leaseNode(t, root, "node-b")
	tok = b.login("root", rootPassword)
	equalRows(t, "B after the take-over", ids(b, tok), `["1"]`, `["2"]`)
	b.sql(tok, "INSERT INTO app.t VALUES (3)")
	b.stop()

	c := leaseNode(t, root, "node-c")
	tok = c.login("root", rootPassword)
	equalRows(t, "a fresh node", ids(c, tok), `["1"]`, `["2"]`, `["3"]`)
	c.stop()
}

// TestLeaseTakeOverAfterSIGSTOP: a node stopped (SIGSTOP) past its lease is
// not taken over without the take-over flag; with it, the new node takes
// over and the old one, resumed, is fenced: it refuses writes with FENCED,
// says NOT_SERVING, logs it, and none of its flushes land. A fresh node
// sees exactly the acknowledged rows minus the ones given up by the
// take-over (acknowledged by A, never flushed).
func TestLeaseTakeOverAfterSIGSTOP(t *testing.T) {
	root := t.TempDir()
	a := leaseNode(t, root, "node-a")
	tokA := a.login("root", rootPassword)
	a.sql(tokA, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
	a.sql(tokA, "INSERT INTO app.t VALUES (1)")
	a.sql(tokA, "FLUSH TABLE app.t")
	a.sql(tokA, "INSERT INTO app.t VALUES (2)") // acknowledged, only in A's buffer
	// A live query on A: once A is fenced, the writes it follows go to
	// the new node, so A must end it (FENCED) rather than leave it silent.
	sub := startSubscribe(t, a.url, tokA, "SELECT id FROM app.t")
	sub.waitFor(t, "the subscription on A", " at _seq ")

	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			a.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	// Without the flag B is refused: first while A's lease may still run,
	// then, once it expired, with what to do about it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := serveFails(t, leaseArgs(root, "node-b"))
		mustContain(t, "node-b's refusal", out, `node "node-a"`)
		if strings.Contains(out, "without being released") {
			mustContain(t, "node-b's refusal", out, "Restart node \"node-a\" on its data dir", "--lease.take_over=true", "give those rows up")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's lease never expired:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	b := leaseNode(t, root, "node-b", "--lease.take_over=true")
	mustContain(t, "B's log", b.out.String(), "took over an unreleased writer lease")
	tokB := b.login("root", rootPassword)
	equalRows(t, "B after the take-over", ids(b, tokB), `["1"]`)
	// A resume on B from the position A's subscriber reached (it saw
	// row 2, which the take-over gave up) gets a reload: B numbers its
	// own changes from the last flushed _seq, so resuming there would
	// keep row 2 and skip B's first changes.
	m := regexp.MustCompile(`at _seq (\d+)`).FindStringSubmatch(sub.stderr.String())
	if m == nil {
		t.Fatalf("no snapshot _seq in the subscriber's output:\n%s", sub.stderr)
	}
	resume := startSubscribe(t, b.url, tokB, "SELECT id FROM app.t", "--from-seq", m[1])
	resume.waitFor(t, "a resume on B from A's position", "floe: resync (FROM_SEQ "+m[1]+" is beyond the partition's last change")

	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	// A's first answers may be UNAVAILABLE (its lease lapsed; it has not
	// yet learnt that it was taken over), then FENCED; never a success.
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, floe, msg := a.sqlFails(tokA, "INSERT INTO app.t VALUES (3)")
		if code != "unavailable" || (floe != "FENCED" && floe != "UNAVAILABLE") {
			t.Fatalf("A's insert after SIGCONT: %s %s %s", code, floe, msg)
		}
		if floe == "FENCED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A never learnt it was fenced: %s", msg)
		}
	}
	if st := a.health(); st != grpchealth.StatusNotServing {
		t.Fatalf("A's health after SIGCONT = %v", st)
	}
	mustContain(t, "A's log", a.out.String(), "writer lease lost")
	sub.mustFail(t, "the subscription on fenced A", "FENCED")
	// And a new one is refused.
	startSubscribe(t, a.url, tokA, "SELECT id FROM app.t").mustFail(t, "a new subscription on fenced A", "FENCED")
	if code, _, _ := a.sqlFails(tokA, "FLUSH TABLE app.t"); code != "unavailable" {
		t.Fatalf("A's flush after SIGCONT: %s", code)
	}

	b.sql(tokB, "INSERT INTO app.t VALUES (4)")
	b.sql(tokB, "FLUSH TABLE app.t")
	b.stop()
	// A's graceful stop cannot flush (it is fenced): it says so and fails.
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.wait(); err == nil {
		t.Fatalf("fenced A exited cleanly:\n%s", a.out)
	}
	mustContain(t, "fenced A's stop", a.out.String(), "the rows this node had not flushed were given up", "floe: error: node: this node lost the warehouse")

	c := leaseNode(t, root, "node-c")
	tokC := c.login("root", rootPassword)
	equalRows(t, "a fresh node", ids(c, tokC), `["1"]`, `["4"]`)
	c.stop()
}

// TestLeaseSameNodeRecoversAfterKill: kill -9, then the same node on its
// own data dir takes its lease back without any flag and still has every
// row it acknowledged; another node meanwhile is refused.
func TestLeaseSameNodeRecoversAfterKill(t *testing.T) {
	root := t.TempDir()
	a := leaseNode(t, root, "node-a")
	tok := a.login("root", rootPassword)
	a.sql(tok, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
	a.sql(tok, "INSERT INTO app.t VALUES (1), (2)")
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.wait()

	out := serveFails(t, leaseArgs(root, "node-b"))
	mustContain(t, "node-b's refusal", out, "held by another node", `node "node-a"`)

	a = leaseNode(t, root, "node-a")
	tok = a.login("root", rootPassword)
	equalRows(t, "A after kill -9 and restart", ids(a, tok), `["1"]`, `["2"]`)
	a.sql(tok, "INSERT INTO app.t VALUES (3)")
	a.stop()
	b := leaseNode(t, root, "node-b")
	tok = b.login("root", rootPassword)
	equalRows(t, "B after A's clean stop", ids(b, tok), `["1"]`, `["2"]`, `["3"]`)
	b.stop()
}

// TestDataDirUsedByTwoProcesses: a second process on one data dir fails
// at once on the data dir's lock, before it touches the warehouse, and the
// first one carries on.
func TestDataDirUsedByTwoProcesses(t *testing.T) {
	root := t.TempDir()
	a := leaseNode(t, root, "node-a")
	tok := a.login("root", rootPassword)
	a.sql(tok, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)")
	leaseObj := filepath.Join(root, "shared", "catalog", "lease")
	before := catalogVersions(t, root)

	out := serveFails(t, leaseArgs(root, "node-a"))
	mustContain(t, "the second process's error", out, "in use by another process", "needs its own data_dir")
	if after := catalogVersions(t, root); after != before {
		t.Fatalf("the second process changed the catalog: %d versions before, %d after", before, after)
	}
	if b, err := os.ReadFile(leaseObj); err != nil || !strings.Contains(string(b), `"epoch": 1,`) {
		t.Fatalf("lease record after the second process: %s %v", b, err)
	}
	a.sql(tok, "INSERT INTO app.t VALUES (1)")
	equalRows(t, "the first process", ids(a, tok), `["1"]`)
	if st := a.health(); st != grpchealth.StatusServing {
		t.Fatalf("the first process's health = %v", st)
	}
	a.stop()
}

func catalogVersions(t *testing.T, root string) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, "shared", "catalog", "v"))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestServeCorruptCatalog: a damaged latest catalog version stops the
// start with the real error and exit status 1, not a panic.
func TestServeCorruptCatalog(t *testing.T) {
	root := t.TempDir()
	a := leaseNode(t, root, "node-a")
	a.stop()
	dir := filepath.Join(root, "shared", "catalog", "v")
	es, err := os.ReadDir(dir)
	if err != nil || len(es) == 0 {
		t.Fatalf("catalog versions: %v %v", es, err)
	}
	latest := filepath.Join(dir, es[len(es)-1].Name())
	if err := os.WriteFile(latest, []byte(`{"format_version": 1, "version": `), 0o644); err != nil {
		t.Fatal(err)
	}
	out := serveFails(t, leaseArgs(root, "node-a"))
	mustContain(t, "the error", out, "corrupt", es[len(es)-1].Name())
}

// TestDataDirOfAnotherWarehouse: a data dir used with one warehouse is
// refused for another one (another local store; another S3 prefix when an
// S3 server is configured), naming both; its own warehouse still works.
func TestDataDirOfAnotherWarehouse(t *testing.T) {
	root := t.TempDir()
	a := leaseNode(t, root, "node-a")
	tok := a.login("root", rootPassword)
	a.sql(tok, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY); INSERT INTO app.t VALUES (1)")
	a.stop()

	other := filepath.Join(root, "other")
	out := serveFails(t, append(leaseArgs(root, "node-a"), "--storage.fs.dir", other))
	mustContain(t, "the refusal", out, "belongs to another warehouse", "file://"+filepath.Join(root, "shared"), "file://"+other,
		"give this node its own data dir")
	if _, ok := objstoretest.S3ConfigFromEnv(); ok {
		out := serveFails(t, leaseArgs(root, "node-a"), objstoretest.StorageEnv(objstoretest.NewS3ConfigForTest(t))...)
		mustContain(t, "the S3 refusal", out, "belongs to another warehouse", "s3://")
	}

	a = leaseNode(t, root, "node-a")
	tok = a.login("root", rootPassword)
	equalRows(t, "its own warehouse", ids(a, tok), `["1"]`)
	a.stop()
}

// TestDataDirOfAnotherS3Prefix: two warehouses in one bucket (two
// prefixes); a data dir bound to one is refused for the other.
func TestDataDirOfAnotherS3Prefix(t *testing.T) {
	one, two := objstoretest.NewS3ConfigForTest(t), objstoretest.NewS3ConfigForTest(t)
	dir := filepath.Join(t.TempDir(), "d")
	args := append([]string{"--data_dir", dir, "--node_id", "node-s3"}, fastLease...)
	n := startServe(t, dir, args, append(objstoretest.StorageEnv(one), "FLOE_ROOT_PASSWORD="+rootPassword)...)
	n.stop()
	out := serveFails(t, args, objstoretest.StorageEnv(two)...)
	mustContain(t, "the refusal", out, "belongs to another warehouse", one.Prefix, two.Prefix)
	n = startServe(t, dir, args, objstoretest.StorageEnv(one)...)
	n.stop()
}

// subscription is a `floe subscribe` process.
type subscription struct {
	stderr *lockedBuffer
	done   chan error // its exit
}

// startSubscribe runs `floe subscribe` against url as the token's user;
// it is killed when t ends.
func startSubscribe(t *testing.T, url, token, sql string, flags ...string) *subscription {
	t.Helper()
	cmd := exec.Command(floeBin, append([]string{"subscribe", "--server", url, "--token", token, sql}, flags...)...)
	s := &subscription{stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return s
}

// mustFail waits up to 30 s for the process to exit with an error whose
// output holds want.
func (s *subscription) mustFail(t *testing.T, what, want string) {
	t.Helper()
	select {
	case err := <-s.done:
		if err == nil {
			t.Fatalf("%s ended without an error:\n%s", what, s.stderr)
		}
		mustContain(t, what, s.stderr.String(), want)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still runs 30 s after the fence:\n%s", what, s.stderr)
	}
}

// waitFor waits up to 30 s for the process's standard error to hold want.
func (s *subscription) waitFor(t *testing.T, what, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.stderr.String(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in its output:\n%s", what, want, s.stderr)
		}
	}
}
