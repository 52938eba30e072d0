package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tourStep is one `$ ./bin/floe …` command of the README's tour and the
// output printed under it.
type tourStep struct {
	cmd, want string
}

// readmeTour returns the floe CLI commands of the README's five-minute
// tour (console blocks from "## A five-minute tour" up to "Stop the node")
// with their outputs. Commands of other programs (make, curl, buf) are
// left out: TestTourOverHTTP covers the API they call.
func readmeTour(t *testing.T) []tourStep {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "## A five-minute tour")
	end := strings.Index(text, "\nStop the node")
	if start < 0 || end < start {
		t.Fatal("README.md has no tour section")
	}
	var steps []tourStep
	blocks := regexp.MustCompile("(?s)```console\n(.*?)```").FindAllStringSubmatch(text[start:end], -1)
	for _, blk := range blocks {
		lines := strings.Split(strings.TrimSuffix(blk[1], "\n"), "\n")
		for i := 0; i < len(lines); {
			if !strings.HasPrefix(lines[i], "$ ") {
				t.Fatalf("README tour: output without a command: %q", lines[i])
			}
			cmd := strings.TrimPrefix(lines[i], "$ ")
			i++
			// A command continues while its double quotes are open.
			for strings.Count(cmd, `"`)%2 == 1 && i < len(lines) {
				cmd += "\n" + lines[i]
				i++
			}
			var out []string
			for i < len(lines) && !strings.HasPrefix(lines[i], "$ ") {
				out = append(out, lines[i])
				i++
			}
			if strings.Contains(cmd, "./bin/floe ") {
				steps = append(steps, tourStep{cmd: cmd, want: strings.Join(out, "\n")})
			}
		}
	}
	return steps
}

// expiry masks the token expiry time the CLI prints.
var expiry = regexp.MustCompile(`expires at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)

// TestReadmeTourCLI runs every floe CLI command of the README's tour, in
// order, against a real node and compares each output with the README
// (the server address and token expiry times masked).
func TestReadmeTourCLI(t *testing.T) {
	steps := readmeTour(t)
	if len(steps) < 8 {
		t.Fatalf("found only %d floe commands in the README tour", len(steps))
	}
	dir := t.TempDir()
	n := startNode(t, filepath.Join(dir, "floe-data"), "FLOE_ROOT_PASSWORD=change-me-now")
	// The README runs ./bin/floe from the checkout.
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(floeBin, filepath.Join(dir, "bin", "floe")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "FLOE_SERVER="+n.url, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "FLOE_TOKEN=", "FLOE_USER=", "FLOE_PASSWORD=")
	for _, st := range steps {
		cmd := exec.Command("bash", "-c", st.cmd)
		cmd.Dir, cmd.Env = dir, env
		out, _ := cmd.CombinedOutput() // failing commands are part of the tour
		got := strings.TrimRight(strings.ReplaceAll(string(out), n.url, "http://127.0.0.1:7878"), "\n")
		got = expiry.ReplaceAllString(got, "expires at <time>")
		want := expiry.ReplaceAllString(st.want, "expires at <time>")
		if got != want {
			t.Errorf("README command\n  %s\nprinted\n%s\nREADME shows\n%s", st.cmd, got, want)
		}
	}
	n.stop()
}
