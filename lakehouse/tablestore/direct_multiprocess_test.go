package tablestore

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
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// The must-show of the direct write path: several processes write one
// partition through DirectWriters, each acknowledging hundreds of commits;
// every acknowledged row must be there exactly once, with the _seq it was
// acknowledged with, in a dense history of manifest versions.

// Environment of a child process.
const (
	envDirectChild    = "FLOE_TEST_DIRECT_CHILD" // the child's number
	envDirectCommits  = "FLOE_TEST_DIRECT_COMMITS"
	envDirectRows     = "FLOE_TEST_DIRECT_ROWS" // rows per commit
	envDirectDir      = "FLOE_TEST_DIRECT_DIR"  // FS bucket directory, or
	envDirectS3Prefix = "FLOE_TEST_DIRECT_S3_PREFIX"
	// Knobs of TestDirectMultiProcess for measurements, e.g. 16 processes
	// with and without turns: FLOE_TEST_DIRECT_PROCS=16
	// FLOE_TEST_DIRECT_COMMITS=20 FLOE_TEST_DIRECT_NO_TURNS=true.
	envDirectProcs     = "FLOE_TEST_DIRECT_PROCS"
	envDirectNoTurns   = "FLOE_TEST_DIRECT_NO_TURNS"
	multiProcPartition = "shared-user"
)

// TestDirectChild is not a test: TestDirectMultiProcess runs the test binary
// with this test selected to get processes that write one partition. Each
// acknowledged write is printed as "ACK <first id> <rows> <first _seq>
// <manifest version>", and the totals of its group commits as "STATS
// <commits> <attempts> <requests> <most attempts of a commit> <slowest
// commit in ms>".
func TestDirectChild(t *testing.T) {
	id := os.Getenv(envDirectChild)
	if id == "" {
		t.Skip("child process of TestDirectMultiProcess")
	}
	n, err1 := strconv.Atoi(os.Getenv(envDirectCommits))
	rows, err2 := strconv.Atoi(os.Getenv(envDirectRows))
	proc, err3 := strconv.Atoi(id)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	b := objstoretest.OpenShared(t, os.Getenv(envDirectDir), os.Getenv(envDirectS3Prefix))
	var commits, attempts, maxAttempts, requests int64
	var maxDuration time.Duration
	w, err := NewDirectWriter(b, DirectOptions{
		NodeID: "proc-" + id, MaxAttempts: 100000, CommitTimeout: 10 * time.Minute,
		NoTurns: os.Getenv(envDirectNoTurns) == "true",
		OnGroup: func(st GroupStats) {
			commits++
			attempts += int64(st.Attempts)
			maxAttempts = max(maxAttempts, int64(st.Attempts))
			requests += st.Requests.Total()
			maxDuration = max(maxDuration, st.Duration)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	tb := idTable()
	for c := range n {
		first := int64(proc*1_000_000 + c*rows)
		res, err := w.Write(context.Background(), tb, multiProcPartition, idRows(first, rows))
		if err != nil {
			t.Fatalf("write %d: %v", c, err)
		}
		fmt.Fprintf(out, "ACK %d %d %d %d\n", first, rows, res.FirstSeq, res.ManifestVersion)
	}
	fmt.Fprintf(out, "STATS %d %d %d %d %d\n", commits, attempts, requests, maxAttempts, maxDuration.Milliseconds())
}

// idTable has a single column, the key: the manifest, which every commit
// rewrites and which grows by one segment per commit here, stays as small
// as it can be (one column's statistics per segment).
func idTable() *manifest.Table {
	return &manifest.Table{
		ID: "tbl02", Namespace: "app", Name: "ids", Type: manifest.TableShared,
		Columns:    []manifest.Column{{ID: 1, Name: "id", Type: manifest.BigInt}},
		PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 2,
	}
}

func idRows(first int64, n int) []Change {
	out := make([]Change, n)
	for i := range out {
		out[i] = Change{Values: row.Row{row.BigInt(first + int64(i))}}
	}
	return out
}

func TestDirectMultiProcess(t *testing.T) {
	procs, commits := 8, 200
	if testing.Short() {
		procs, commits = 4, 25
	}
	if n, err := strconv.Atoi(os.Getenv(envDirectProcs)); err == nil && n > 0 {
		procs = n
	}
	if n, err := strconv.Atoi(os.Getenv(envDirectCommits)); err == nil && n > 0 {
		commits = n
	}
	t.Run("fs", func(t *testing.T) {
		dir := t.TempDir()
		b, err := objstore.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		runDirectProcesses(t, procs, commits, envDirectDir+"="+dir, b)
	})
	t.Run("s3", func(t *testing.T) {
		cfg := objstoretest.NewS3ConfigForTest(t)
		b, err := objstore.NewS3(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		runDirectProcesses(t, procs, commits, envDirectS3Prefix+"="+cfg.Prefix, b)
	})
}

func runDirectProcesses(t *testing.T, procs, commits int, env string, b objstore.Bucket) {
	const rows = 3
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	type result struct {
		stdout, stderr bytes.Buffer
		err            error
	}
	results := make([]result, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDirectChild$", "-test.count=1")
			cmd.Env = append(os.Environ(),
				envDirectChild+"="+strconv.Itoa(i),
				envDirectCommits+"="+strconv.Itoa(commits),
				envDirectRows+"="+strconv.Itoa(rows),
				// Every commit re-encodes the growing manifest: collect less
				// often (the race detector makes collections expensive).
				"GOGC=400",
				env)
			cmd.Stdout, cmd.Stderr = &results[i].stdout, &results[i].stderr
			results[i].err = cmd.Run()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var acks []ack
	var attempts, requests, maxAttempts, maxMillis int64
	for i := range results {
		r := &results[i]
		if r.err != nil {
			t.Fatalf("process %d: %v\nstdout:\n%s\nstderr:\n%s", i, r.err, r.stdout.String(), r.stderr.String())
		}
		n := 0
		for line := range strings.Lines(r.stdout.String()) {
			f := strings.Fields(line)
			switch {
			case len(f) == 5 && f[0] == "ACK":
				var a ack
				var err error
				a.first, err = strconv.ParseInt(f[1], 10, 64)
				if err == nil {
					a.n, err = strconv.Atoi(f[2])
				}
				if err == nil {
					a.seq, err = strconv.ParseUint(f[3], 10, 64)
				}
				if err == nil {
					a.version, err = strconv.ParseUint(f[4], 10, 64)
				}
				if err != nil {
					t.Fatalf("process %d: bad line %q: %v", i, line, err)
				}
				acks = append(acks, a)
				n++
			case len(f) == 6 && f[0] == "STATS":
				c, _ := strconv.ParseInt(f[1], 10, 64)
				a, _ := strconv.ParseInt(f[2], 10, 64)
				q, _ := strconv.ParseInt(f[3], 10, 64)
				ma, _ := strconv.ParseInt(f[4], 10, 64)
				md, _ := strconv.ParseInt(f[5], 10, 64)
				maxAttempts, maxMillis = max(maxAttempts, ma), max(maxMillis, md)
				if c != int64(commits) {
					t.Fatalf("process %d made %d group commits, want %d", i, c, commits)
				}
				attempts += a
				requests += q
			}
		}
		if n != commits {
			t.Fatalf("process %d acknowledged %d writes, want %d:\n%s", i, n, commits, r.stdout.String())
		}
	}
	total := procs * commits
	verifyStart := time.Now()
	m := checkDirectPartition(t, b, idTable(), multiProcPartition, acks, uint64(total))
	t.Logf("%d processes x %d commits (%d rows each) on %s: %s, %.0f commits/s; %d attempts (%.2f per commit, at most %d), "+
		"slowest commit %dms, %.1f requests per commit; v%d, LastSeq %d, %d segments; verified in %s",
		procs, commits, rows, b.Name(), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(),
		attempts, float64(attempts)/float64(total), maxAttempts, maxMillis, float64(requests)/float64(total),
		m.Version, m.LastSeq, len(m.Segments), time.Since(verifyStart).Round(time.Millisecond))
}
