package objstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// The multi-process tests re-run this test binary as children selected by
// environment variables: TestChildProcess does the work in the child.
const (
	envChildMode    = "FLOE_OBJSTORE_CHILD"         // "create" or "increment"
	envChildID      = "FLOE_OBJSTORE_CHILD_ID"      // child number
	envChildDir     = "FLOE_OBJSTORE_CHILD_DIR"     // FS root; empty means S3
	envChildPrefix  = "FLOE_OBJSTORE_CHILD_PREFIX"  // S3 prefix
	envChildBarrier = "FLOE_OBJSTORE_CHILD_BARRIER" // directory for ready/go files
	envChildCount   = "FLOE_OBJSTORE_CHILD_COUNT"   // increments per child
	childResult     = "FLOE_CHILD_RESULT="
	childKey        = "race/key"
)

func TestChildProcess(t *testing.T) {
	mode := os.Getenv(envChildMode)
	if mode == "" {
		t.Skip("helper process for the multi-process tests")
	}
	ctx := t.Context()
	b := objstoretest.OpenShared(t, os.Getenv(envChildDir), os.Getenv(envChildPrefix))

	// Say we are ready, then wait for the parent's go, so that all
	// children hit the bucket at once.
	id := os.Getenv(envChildID)
	barrier := os.Getenv(envChildBarrier)
	if err := os.WriteFile(filepath.Join(barrier, "ready-"+id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(barrier, "go")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}

	switch mode {
	case "create":
		_, err := b.Put(ctx, childKey, []byte("process "+id), objstore.PutOptions{IfNoneMatch: true})
		switch {
		case err == nil:
			fmt.Println(childResult + "won")
		case objstore.IsConditionNotMet(err):
			fmt.Println(childResult + "lost")
		default:
			t.Fatal(err)
		}
	case "increment":
		n, err := strconv.Atoi(os.Getenv(envChildCount))
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := objstoretest.Increment(ctx, b, childKey); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Println(childResult + "incremented " + strconv.Itoa(n))
	default:
		t.Fatalf("unknown child mode %q", mode)
	}
}

// runChildren starts n children with env, releases them together and
// returns each one's result line.
func runChildren(t *testing.T, n int, env ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	barrier := t.TempDir()
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	children := make([]*child, n)
	for i := range children {
		c := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=3m")}
		c.cmd.Env = append(os.Environ(), env...)
		c.cmd.Env = append(c.cmd.Env, envChildID+"="+strconv.Itoa(i), envChildBarrier+"="+barrier)
		c.cmd.Stdout = &c.out
		c.cmd.Stderr = &c.out
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = c
	}
	for ready := 0; ready < n; {
		entries, err := os.ReadDir(barrier)
		if err != nil {
			t.Fatal(err)
		}
		if ready = len(entries); ready < n {
			if ctx.Err() != nil {
				t.Fatalf("only %d of %d children got ready", ready, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := os.WriteFile(filepath.Join(barrier, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	results := make([]string, n)
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, c.out.String())
			continue
		}
		sc := bufio.NewScanner(&c.out)
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), childResult); ok {
				results[i] = r
			}
		}
		if results[i] == "" {
			t.Errorf("child %d reported nothing:\n%s", i, c.out.String())
		}
	}
	return results
}

const (
	createProcs    = 16
	incrementProcs = 8
	incrementsEach = 25
)

func testMultiProcessCreate(t *testing.T, b objstore.Bucket, env ...string) {
	results := runChildren(t, createProcs, append(env, envChildMode+"=create")...)
	winner := -1
	for i, r := range results {
		if r == "won" {
			if winner >= 0 {
				t.Errorf("children %d and %d both created the key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no child created the key: %q", results)
	}
	if got, _ := objstoretest.Read(t, b, childKey); string(got) != "process "+strconv.Itoa(winner) {
		t.Errorf("stored %q, want the winner's (child %d)", got, winner)
	}
}

func testMultiProcessCounter(t *testing.T, b objstore.Bucket, env ...string) {
	objstoretest.MustPut(t, b, childKey, []byte("0"))
	results := runChildren(t, incrementProcs,
		append(env, envChildMode+"=increment", envChildCount+"="+strconv.Itoa(incrementsEach))...)
	for i, r := range results {
		if want := "incremented " + strconv.Itoa(incrementsEach); r != want {
			t.Errorf("child %d: %q, want %q", i, r, want)
		}
	}
	if got, _ := objstoretest.Read(t, b, childKey); string(got) != strconv.Itoa(incrementProcs*incrementsEach) {
		t.Errorf("counter = %s, want %d: lost update across processes", got, incrementProcs*incrementsEach)
	}
}

func TestMultiProcessFS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	t.Run("IfNoneMatch", func(t *testing.T) {
		dir := t.TempDir()
		b, err := objstore.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		testMultiProcessCreate(t, b, envChildDir+"="+dir)
	})
	t.Run("IfMatchCounter", func(t *testing.T) {
		dir := t.TempDir()
		b, err := objstore.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		testMultiProcessCounter(t, b, envChildDir+"="+dir)
	})
}

func TestMultiProcessS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, b objstore.Bucket, env ...string)
	}{{"IfNoneMatch", testMultiProcessCreate}, {"IfMatchCounter", testMultiProcessCounter}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := objstoretest.NewS3ConfigForTest(t)
			b, err := objstore.NewS3(t.Context(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			tc.fn(t, b, envChildDir+"=", envChildPrefix+"="+cfg.Prefix)
		})
	}
}
