package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/internal/syncbuf"
)

// lockedBuffer is a goroutine-safe output sink.
type lockedBuffer = syncbuf.Buffer

func runCLI(t *testing.T, ctx context.Context, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb lockedBuffer
	code = run(ctx, args, environ, &out, &errb)
	return code, out.String(), errb.String()
}

// serve starts, claims the writer lease, logs with the configured node id
// and stops on cancellation; a second node fences the first; catalog show
// prints what they committed.
func TestServeThenCatalogShow(t *testing.T) {
	dir := t.TempDir()
	env := []string{"FLOE_DATA_DIR=" + dir, "FLOE_LOG_FORMAT=json", "FLOE_SERVER_LISTEN=127.0.0.1:0"}
	var firstOut string

	for i, node := range []string{"node-a", "node-b"} {
		ctx, cancel := context.WithCancel(context.Background())
		var errb, outb lockedBuffer
		done := make(chan int)
		go func() {
			done <- run(ctx, []string{"serve", "--node_id", node}, env, &outb, &errb)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(errb.String(), `"node started"`) {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("%s did not start; stderr:\n%s", node, errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("%s exited %d; stderr:\n%s", node, code, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		var sawStart, sawStop bool
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line not JSON: %q", l)
			}
			if m["node_id"] != node {
				t.Errorf("log line without node_id=%s: %s", node, l)
			}
			switch m["msg"] {
			case "node started":
				sawStart = true
				if m["writer_epoch"] != float64(i+1) {
					t.Errorf("%s writer_epoch = %v, want %d", node, m["writer_epoch"], i+1)
				}
			case "node stopping":
				sawStop = true
			}
		}
		if !sawStart || !sawStop {
			t.Fatalf("%s: start=%v stop=%v in\n%s", node, sawStart, sawStop, errb.String())
		}
		// The generated root password is shown once, on stdout, and
		// never logged.
		if i == 0 {
			firstOut = outb.String()
			m := regexp.MustCompile(`with password: (\S+)`).FindStringSubmatch(firstOut)
			if m == nil {
				t.Fatalf("first start does not show the root password; stdout:\n%s", firstOut)
			}
			if strings.Contains(errb.String(), m[1]) {
				t.Fatalf("the root password is in the log:\n%s", errb.String())
			}
		} else if strings.Contains(outb.String(), "password") {
			t.Fatalf("a later start shows a password again:\n%s", outb.String())
		}
	}

	code, out, stderr := runCLI(t, context.Background(), env, "catalog", "show")
	if code != 0 {
		t.Fatalf("catalog show exited %d: %s", code, stderr)
	}
	var cat struct {
		Version     uint64 `json:"version"`
		WriterEpoch uint64 `json:"writer_epoch"`
		Writer      struct {
			NodeID string `json:"node_id"`
		} `json:"writer"`
	}
	if err := json.Unmarshal([]byte(out), &cat); err != nil {
		t.Fatalf("catalog show output is not JSON: %v\n%s", err, out)
	}
	// v1: node-a's lease, v2: the system tables, v3: node-b's lease (the
	// second start finds the system tables current and commits nothing).
	if cat.Version != 3 || cat.WriterEpoch != 2 || cat.Writer.NodeID != "node-b" {
		t.Fatalf("catalog = %+v, want version 3 owned by node-b at epoch 2", cat)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "catalog")); err != nil {
		t.Fatalf("catalog not stored under data_dir: %v", err)
	}

	code, _, stderr = runCLI(t, context.Background(), env, "catalog", "show", "--version", "9")
	if code == 0 || !strings.Contains(stderr, "version") {
		t.Fatalf("catalog show --version 9: code %d, stderr %q", code, stderr)
	}
}

func TestConfigCheckReportsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "floe.toml")
	if err := os.WriteFile(bad, []byte("[storage.s3]\nmax_attempts = \"five\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"wrong type in file", nil, []string{"config", "check", "--config", bad}, `floe.toml:2:16: key "storage.s3.max_attempts"`},
		{"config from env", []string{"FLOE_CONFIG=" + bad}, []string{"config", "check"}, `key "storage.s3.max_attempts"`},
		{"bad env value", []string{"FLOE_LOG_LEVEL=loud"}, []string{"config", "check"}, `log.level: "loud" is not one of`},
		{"bad flag value", nil, []string{"config", "check", "--storage.s3.max_attempts=x"}, `flag --storage.s3.max_attempts`},
		{"missing file", nil, []string{"config", "check", "--config", filepath.Join(dir, "nope.toml")}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, context.Background(), tc.env, tc.args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("code %d, stderr %q; want failure mentioning %q", code, stderr, tc.want)
			}
		})
	}

	code, out, stderr := runCLI(t, context.Background(),
		[]string{"FLOE_STORAGE_S3_SECRET_ACCESS_KEY=hunter2", "FLOE_NODE_ID=node-env"}, "config", "check")
	if code != 0 {
		t.Fatalf("config check failed: %s", stderr)
	}
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "node_id = 'node-env'") {
		t.Fatalf("config check output leaks a secret or lost the env override:\n%s", out)
	}
}

// Each command's help lists only the flags it takes: the client commands
// none of the node's settings, and the node's settings by their kind
// (string, duration, bool, int), never by an internal type name.
func TestHelpListsOwnFlags(t *testing.T) {
	ctx := context.Background()
	_, sqlHelp, _ := runCLI(t, ctx, nil, "sql", "--help")
	for _, bad := range []string{"--data_dir", "--storage.s3.bucket", "--config", "override"} {
		if strings.Contains(sqlHelp, bad) {
			t.Errorf("floe sql --help lists %q:\n%s", bad, sqlHelp)
		}
	}
	if !strings.Contains(sqlHelp, "--server string") {
		t.Errorf("floe sql --help lacks its own --server flag:\n%s", sqlHelp)
	}
	_, serveHelp, _ := runCLI(t, ctx, nil, "serve", "--help")
	for _, want := range []string{"--data_dir string", "--flush.interval duration", "--flush.rows int", "--lease.take_over ", "--config string"} {
		if !strings.Contains(serveHelp, want) {
			t.Errorf("floe serve --help lacks %q", want)
		}
	}
	if strings.Contains(serveHelp, "override") {
		t.Errorf("floe serve --help names the internal type override:\n%s", serveHelp)
	}
	if code, out, errOut := runCLI(t, ctx, nil, "config", "check", "--lease.take_over"); code != 0 || !strings.Contains(out, "take_over") {
		t.Errorf("a bare boolean flag: exit %d\n%s%s", code, out, errOut)
	}
}
