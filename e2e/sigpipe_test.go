package e2e

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSurvivesClosedOutput: `floe serve … | grep …` then Ctrl-C closes
// the pipe before the node's last log lines. A node whose stdout and
// stderr are closed pipes must not die of SIGPIPE: on SIGINT it flushes
// its buffered rows to a segment and exits 0, and a restart finds them.
func TestServeSurvivesClosedOutput(t *testing.T) {
	dir := t.TempDir()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(floeBin, "serve", "--server.listen", "127.0.0.1:0", "--data_dir", dir, "--node_id", "e2e-pipe")
	cmd.Env = append(os.Environ(), "FLOE_ROOT_PASSWORD=pipe-root-pass-1")
	cmd.Stdout, cmd.Stderr = outW, outW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	// Read until the node serves, as grep would, then close the pipe.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				return
			}
		}
	}()
	n := &node{t: t, cmd: cmd, dir: dir, done: done}
	select {
	case a := <-addr:
		n.url = "http://" + a
	case err := <-done:
		t.Fatalf("floe serve exited before serving: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("floe serve did not start in 60s")
	}
	outR.Close()

	tok := n.login("root", "pipe-root-pass-1")
	n.sql(tok, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id INT PRIMARY KEY, v TEXT)")
	// System tables may have flushed already (user changes are made
	// durable at once): the INSERT's rows must add no segment.
	before := parquetFiles(t, dir)
	n.sql(tok, "INSERT INTO app.t VALUES (1, 'kept'), (2, 'also kept')")
	if got := parquetFiles(t, dir); got != before {
		t.Fatalf("%d segments after the INSERT, %d before: the rows should still be buffered", got, before)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("floe serve with closed output exited with %v (signal: %v), want exit 0", err, ee.Sys().(syscall.WaitStatus).Signal())
		}
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("floe serve did not stop within 60s of SIGINT")
	}
	if parquetFiles(t, dir) <= before {
		t.Fatal("no new segment after the graceful stop: the buffered rows were not flushed")
	}

	n2 := startNode(t, dir, "FLOE_ROOT_PASSWORD=pipe-root-pass-1")
	tok = n2.login("root", "pipe-root-pass-1")
	equalRows(t, "after restart", n2.sql(tok, "SELECT id, v FROM app.t ORDER BY id"), `[1,"kept"]`, `[2,"also kept"]`)
	n2.stop()
}

// parquetFiles counts the segment files under dir.
func parquetFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, string(filepath.Separator)+"cache"+string(filepath.Separator)) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
