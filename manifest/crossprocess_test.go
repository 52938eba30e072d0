package manifest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

// Environment of the helper process.
const (
	helperEnv       = "FLOE_MANIFEST_HELPER"           // "1" in a child
	helperIDEnv     = "FLOE_MANIFEST_HELPER_ID"        // the child's number
	helperCommits   = "FLOE_MANIFEST_HELPER_COMMITS"   // commits to make
	helperDirEnv    = "FLOE_MANIFEST_HELPER_DIR"       // FS bucket directory, or
	helperS3Prefix  = "FLOE_MANIFEST_HELPER_S3_PREFIX" // S3 prefix (with FLOE_TEST_S3_*)
	helperKindEnv   = "FLOE_MANIFEST_HELPER_KIND"      // "catalog": create tables in the catalog
	crossTableID    = "T1"
	crossPartition  = "shared-user"
	crossProcesses  = 4
	crossCommitsPer = 25
)

// TestHelperProcess is not a test: TestCommitCrossProcess runs the test
// binary with this test selected and FLOE_MANIFEST_HELPER=1 to get several
// processes committing to one log. Each commit is reported on stdout as
// "COMMIT <version> <commit id> <segment key>".
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestCommitCrossProcess")
	}
	ctx := context.Background()
	id := os.Getenv(helperIDEnv)
	n, err := strconv.Atoi(os.Getenv(helperCommits))
	if err != nil {
		t.Fatal(err)
	}
	b := objstoretest.OpenShared(t, os.Getenv(helperDirEnv), os.Getenv(helperS3Prefix))
	opts := LogOptions{NodeID: "proc-" + id, MaxAttempts: 10000, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if os.Getenv(helperKindEnv) == "catalog" {
		cat := NewCatalogLog(b, opts)
		for c := range n {
			name := fmt.Sprintf("p%s_c%02d", id, c)
			got, err := cat.Commit(ctx, addTable("P"+id+"C"+strconv.Itoa(c), name), CommitOptions{})
			if err != nil {
				t.Fatalf("commit %s: %v", name, err)
			}
			fmt.Fprintf(out, "COMMIT %d %s %s\n", got.Version, got.CommitID, name)
		}
		return
	}
	l := NewPartitionLog(b, crossTableID, crossPartition, opts)
	for c := range n {
		key := fmt.Sprintf("p%s-c%02d", id, c)
		p, err := l.Commit(ctx, appendSegment(key, uint64(1+c%4)), CommitOptions{})
		if err != nil {
			t.Fatalf("commit %s: %v", key, err)
		}
		fmt.Fprintf(out, "COMMIT %d %s %s\n", p.Version, p.CommitID, key)
	}
}

// TestCommitCrossProcess: several processes commit to one partition log in
// a shared directory (and in S3 when configured). Versions must be dense
// and every commit must appear exactly once, where its process said.
func TestCommitCrossProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Run("fs", func(t *testing.T) {
		dir := t.TempDir()
		runCrossProcess(t, []string{helperDirEnv + "=" + dir}, func() objstore.Bucket {
			b, err := objstore.NewFS(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		})
	})
	t.Run("s3", func(t *testing.T) {
		cfg := objstoretest.NewS3ConfigForTest(t)
		runCrossProcess(t, []string{helperS3Prefix + "=" + cfg.Prefix}, func() objstore.Bucket {
			b, err := objstore.NewS3(t.Context(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		})
	})
}

func runCrossProcess(t *testing.T, env []string, open func() objstore.Bucket) {
	commitOf, commitIDOf := runHelpers(t, env)
	b := open()
	const total = crossProcesses * crossCommitsPer
	verifyPartitionHistory(t, b, crossTableID, crossPartition, total, commitOf)
	l := NewPartitionLog(b, crossTableID, crossPartition, LogOptions{})
	for v, id := range commitIDOf {
		if ok, err := l.CheckCommit(t.Context(), v, id); err != nil || !ok {
			t.Fatalf("v%d does not hold commit %s: %v", v, id, err)
		}
	}
}

// runHelpers runs crossProcesses helper processes with env and returns
// the version and commit ID each commit was reported at.
func runHelpers(t *testing.T, env []string) (commitOf, commitIDOf map[uint64]string) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	type result struct {
		id     int
		stdout []byte
		err    error
		stderr string
	}
	results := make([]result, crossProcesses)
	var wg sync.WaitGroup
	for i := range crossProcesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), append([]string{
				helperEnv + "=1",
				helperIDEnv + "=" + strconv.Itoa(i),
				helperCommits + "=" + strconv.Itoa(crossCommitsPer),
			}, env...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			results[i] = result{id: i, stdout: stdout.Bytes(), err: err, stderr: stderr.String()}
		}()
	}
	wg.Wait()

	commitOf, commitIDOf = map[uint64]string{}, map[uint64]string{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("process %d: %v\nstdout:\n%s\nstderr:\n%s", r.id, r.err, r.stdout, r.stderr)
		}
		n := 0
		for line := range strings.Lines(string(r.stdout)) {
			f := strings.Fields(line)
			if len(f) != 4 || f[0] != "COMMIT" {
				continue
			}
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if other, dup := commitOf[v]; dup {
				t.Fatalf("version %d reported by two commits: %s and %s", v, other, f[3])
			}
			commitOf[v], commitIDOf[v] = f[3], f[2]
			n++
		}
		if n != crossCommitsPer {
			t.Fatalf("process %d reported %d commits, want %d:\n%s", r.id, n, crossCommitsPer, r.stdout)
		}
	}
	return commitOf, commitIDOf
}
