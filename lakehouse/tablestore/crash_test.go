package tablestore

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
)

// Crash tests: a child process ingests and flushes into a local-directory
// object store and a Pebble buffer; the parent kills it with SIGKILL at a
// random point of one of three phases, reopens both, and checks that every
// acknowledged write is visible exactly once, no deleted row reappears and
// _seq never goes back.

const (
	envCrashMode   = "FLOE_TEST_CRASH_MODE"
	envCrashDir    = "FLOE_TEST_CRASH_DIR"
	envCrashPause  = "FLOE_TEST_CRASH_PAUSE_AT" // flush number that pauses
	crashFlushEach = 3                          // batches between flushes
)

// crashBatch is batch i of the deterministic workload: insert ids
// 10i..10i+4, delete 10(i-1), update 10(i-1)+1.
func crashBatch(i int) []Change {
	var out []Change
	for id := int64(10 * i); id < int64(10*i+5); id++ {
		out = append(out, upsert(id, fmt.Sprintf("v%d", id), int32(i)))
	}
	if i > 0 {
		out = append(out, del(int64(10*(i-1))), upsert(int64(10*(i-1)+1), fmt.Sprintf("u%d", i), int32(i)))
	}
	return out
}

// crashModel is the expected table after batches 0..n-1.
func crashModel(n int) map[int64]row.Row {
	m := map[int64]row.Row{}
	for i := 0; i < n; i++ {
		for _, c := range crashBatch(i) {
			if c.Deleted {
				delete(m, c.Values[0].Int64())
			} else {
				m[c.Values[0].Int64()] = c.Values
			}
		}
	}
	return m
}

func TestCrashChild(t *testing.T) {
	mode := os.Getenv(envCrashMode)
	if mode == "" {
		t.Skip("child process of the crash tests")
	}
	ctx := context.Background()
	dir := os.Getenv(envCrashDir)
	bucket, err := objstore.NewFS(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	buf, err := wbuf.Open(wbuf.Options{Dir: filepath.Join(dir, "wbuf")})
	if err != nil {
		t.Fatal(err)
	}
	s := New(bucket, buf, Options{NodeID: "node-crash"})
	pauseAt, _ := strconv.Atoi(os.Getenv(envCrashPause))
	flushes := 0
	pause := func() error {
		fmt.Println("PAUSE")
		select {} // wait for SIGKILL
	}
	tb := testTable()
	for i := 0; ; i++ {
		first, err := s.Write(ctx, tb, "p", crashBatch(i))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ACK %d %d\n", i, first+uint64(len(crashBatch(i)))-1)
		if (i+1)%crashFlushEach == 0 {
			flushes++
			s.beforeCommit, s.afterCommit = nil, nil
			if flushes == pauseAt {
				switch mode {
				case "before-commit":
					s.beforeCommit = pause
				case "after-commit":
					s.afterCommit = pause
				}
			}
			if _, err := s.Flush(ctx, tb, "p"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	trials := 50
	if testing.Short() {
		trials = 10
	}
	for _, mode := range []string{"ingest", "before-commit", "after-commit"} {
		t.Run(mode, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(len(mode)), 42))
			for trial := 0; trial < trials; trial++ {
				crashTrial(t, mode, r)
			}
		})
	}
}

func crashTrial(t *testing.T, mode string, r *rand.Rand) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	pauseAt := 1 + r.IntN(3)
	cmd.Env = append(os.Environ(), envCrashMode+"="+mode, envCrashDir+"="+dir, envCrashPause+"="+strconv.Itoa(pauseAt))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill at a random ack (ingest) or at the pause (flush modes).
	killAfterAcks := 1 + r.IntN(12)
	acked, maxSeq := 0, uint64(0)
	sc := bufio.NewScanner(out)
	timeout := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 3 && f[0] == "ACK" {
			i, _ := strconv.Atoi(f[1])
			seq, _ := strconv.ParseUint(f[2], 10, 64)
			acked, maxSeq = i+1, seq
			if mode == "ingest" && acked >= killAfterAcks {
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				break
			}
		}
		if line == "PAUSE" {
			break
		}
	}
	timeout.Stop()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if acked == 0 {
		t.Fatalf("%s: child acknowledged nothing", mode)
	}

	// Restart on the same directories.
	bucket, err := objstore.NewFS(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	buf, err := wbuf.Open(wbuf.Options{Dir: filepath.Join(dir, "wbuf")})
	if err != nil {
		t.Fatalf("%s: reopen buffer after SIGKILL: %v", mode, err)
	}
	defer buf.Close()
	h := &harness{t: t, bucket: bucket, dir: dir, buf: buf, store: New(bucket, buf, Options{NodeID: "node-recover"})}
	tb := testTable()
	got := h.scan(tb, "p", ScanOptions{})
	// Batches after the last ack we read may have landed too (the child
	// runs ahead of its stdout), but only whole batches, in order: the
	// table must be exactly the state after some n >= acked batches.
	n := -1
	for k := acked; k <= acked+200; k++ {
		if maps.EqualFunc(got, crashModel(k), row.Row.Equal) {
			n = k
			break
		}
	}
	if n < 0 {
		t.Fatalf("%s: after SIGKILL with %d acked batches the table is no prefix of the workload:\n%v\nwant at least\n%v", mode, acked, got, crashModel(acked))
	}
	// Batch 0 has 5 changes and every later one 7, with _seq from 1.
	landedSeq := uint64(5 + 7*(n-1))
	if landedSeq < maxSeq {
		t.Fatalf("%s: %d batches landed but _seq %d was acknowledged", mode, n, maxSeq)
	}
	next, err := h.store.Write(context.Background(), tb, "p", []Change{upsert(999999, "after", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if next <= landedSeq {
		t.Fatalf("%s: _seq went back: %d after %d was used", mode, next, landedSeq)
	}
	// A flush after recovery converges buffer and segments.
	if _, err := h.store.Flush(context.Background(), tb, "p"); err != nil {
		t.Fatalf("%s: flush after recovery: %v", mode, err)
	}
	want := h.scan(tb, "p", ScanOptions{})
	if len(want) != len(got)+1 {
		t.Fatalf("%s: after recovery flush %d rows, want %d", mode, len(want), len(got)+1)
	}
}
