package e2e

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSubscribeProcessEnds: `floe subscribe` as a separate process against
// `floe serve` prints each change as it arrives; closing the pipe it
// writes to (`| head`) makes its next write fail and it exits 0 instead of
// dying of SIGPIPE; Ctrl-C (SIGINT) while it waits ends it with exit 0.
func TestSubscribeProcessEnds(t *testing.T) {
	n := startNode(t, t.TempDir(), "FLOE_ROOT_PASSWORD="+rootPassword)
	root := n.login("root", rootPassword)
	n.sql(root, "CREATE SHARED TABLE public.tail (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	n.sql(root, "INSERT INTO public.tail VALUES (1, 'first')")

	start := func() (*exec.Cmd, *os.File, chan error) {
		outR, outW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(floeBin, "subscribe", "--server", n.url, "--token", root, "SELECT id, v FROM public.tail")
		cmd.Stdout = outW
		var errb lockedBuffer
		cmd.Stderr = &errb
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
		return cmd, outR, done
	}
	wait := func(done chan error, what string) {
		t.Helper()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("%s: floe subscribe exited with %v (signaled: %v)", what, err, ee.Sys().(syscall.WaitStatus).Signaled())
			} else if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: floe subscribe still running", what)
		}
	}

	// As `floe subscribe … | head -n 2`.
	_, outR, done := start()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "row    -    id=1 v=first") {
		t.Fatalf("first line %q", sc.Text())
	}
	n.sql(root, "INSERT INTO public.tail VALUES (2, 'second')")
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "insert ") || !strings.Contains(sc.Text(), "id=2 v=second") {
		t.Fatalf("second line %q", sc.Text())
	}
	outR.Close()
	n.sql(root, "INSERT INTO public.tail VALUES (3, 'third')")
	wait(done, "after its output closed")

	// Ctrl-C.
	cmd, outR, done := start()
	sc = bufio.NewScanner(outR)
	if !sc.Scan() {
		t.Fatal("no output")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	wait(done, "after SIGINT")
}
