// Package e2e tests the real floe binary: it builds cmd/floe, starts
// `floe serve` as a separate process on a loopback port, and drives it the
// way users do — curl-style JSON over HTTP/1.1, a generated gRPC client over
// h2c, and the floe CLI — following the README's tour.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/floedb/floe/internal/syncbuf"
)

// floeBin is the binary under test, built once by TestMain.
var floeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "floe-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	floeBin = filepath.Join(dir, "floe")
	build := exec.Command("go", "build", "-o", floeBin, "github.com/floedb/floe/cmd/floe")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build floe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a process's output.
type lockedBuffer = syncbuf.Buffer

// node is a running `floe serve`.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	url  string
	out  *lockedBuffer
	env  []string
	done chan error
}

var addrLine = regexp.MustCompile(`msg="node started".* addr=(\S+)`)

// startNode runs `floe serve` on a free loopback port with data in dir and
// waits until it serves.
func startNode(t *testing.T, dir string, env ...string) *node {
	t.Helper()
	return startServe(t, dir, []string{"--data_dir", dir, "--node_id", "e2e-node"}, env...)
}

// startServe runs `floe serve` with args on a free loopback port and waits
// until it serves.
func startServe(t *testing.T, dir string, args []string, env ...string) *node {
	t.Helper()
	n := &node{t: t, dir: dir, out: &lockedBuffer{}, done: make(chan error, 1)}
	n.env = append(os.Environ(), env...)
	n.cmd = exec.Command(floeBin, append([]string{"serve", "--server.listen", "127.0.0.1:0"}, args...)...)
	n.cmd.Env = n.env
	pr, pw := io.Pipe()
	n.cmd.Stdout = n.out
	n.cmd.Stderr = io.MultiWriter(n.out, pw)
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait(); pw.Close() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		n.url = "http://" + a
	case err := <-n.done:
		t.Fatalf("floe serve exited before serving: %v\n%s", err, n.out)
	case <-time.After(60 * time.Second):
		n.cmd.Process.Kill()
		t.Fatalf("floe serve did not start in 60s:\n%s", n.out)
	}
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			n.cmd.Process.Kill()
			<-n.done
		}
	})
	return n
}

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Fatalf("floe serve exited with %v after SIGTERM:\n%s", err, n.out)
		}
	case <-time.After(60 * time.Second):
		n.cmd.Process.Kill()
		n.t.Fatalf("floe serve did not stop within 60s of SIGTERM:\n%s", n.out)
	}
}

// call POSTs a JSON request to a procedure, as curl does, and returns
// the status and the decoded body.
func (n *node) call(procedure, token string, body any) (int, map[string]any) {
	n.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", n.url+procedure, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		n.t.Fatalf("%s: decode response: %v", procedure, err)
	}
	return res.StatusCode, out
}

// login returns an access token.
func (n *node) login(user, password string) string {
	n.t.Helper()
	status, out := n.call("/floe.v1.AuthService/Login", "", map[string]string{"user": user, "password": password})
	if status != 200 {
		n.t.Fatalf("login %s: %d %v", user, status, out)
	}
	return out["accessToken"].(string)
}

// sql runs statements over JSON and returns the rows of the last result
// as compact JSON arrays.
func (n *node) sql(token, sql string, params ...any) []string {
	n.t.Helper()
	body := map[string]any{"sql": sql}
	if len(params) > 0 {
		body["params"] = params
	}
	status, out := n.call("/floe.v1.QueryService/ExecuteSQL", token, body)
	if status != 200 {
		n.t.Fatalf("%s: %d %v", sql, status, out)
	}
	results := out["results"].([]any)
	last := results[len(results)-1].(map[string]any)
	var rows []string
	if rs, ok := last["rows"].([]any); ok {
		for _, r := range rs {
			b, _ := json.Marshal(r)
			rows = append(rows, string(b))
		}
	}
	return rows
}

// sqlError runs a statement that must fail and returns the Connect code
// and the Floe code.
func (n *node) sqlError(token, sql string) (string, string) {
	n.t.Helper()
	status, out := n.call("/floe.v1.QueryService/ExecuteSQL", token, map[string]any{"sql": sql})
	if status == 200 {
		n.t.Fatalf("%s succeeded", sql)
	}
	code, _ := out["code"].(string)
	floe := ""
	if ds, ok := out["details"].([]any); ok && len(ds) > 0 {
		if dbg, ok := ds[0].(map[string]any)["debug"].(map[string]any); ok {
			floe, _ = dbg["code"].(string)
		}
	}
	return code, floe
}

func equalRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}
