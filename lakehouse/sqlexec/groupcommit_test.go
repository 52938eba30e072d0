package sqlexec_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Concurrent statements on one partition release the partition lock
// before waiting for their WAL sync (group commit), and nothing of what
// the lock protects changes: of concurrent INSERTs of one key exactly one
// succeeds and the others get PK_VIOLATION; concurrent read-modify-write
// UPDATEs lose no increment; everything acknowledged is there after a
// restart.
func TestConcurrentWritersOnePartition(t *testing.T) {
	h := newHarness(t)
	h.must(root, "CREATE SHARED TABLE public.gc (id BIGINT PRIMARY KEY, n BIGINT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(root, "INSERT INTO gc VALUES (-1, 0)")
	const writers, rounds, keys = 8, 30, 40
	// exec retries a statement the admission controller refuses
	// (OVERLOADED: eight writers of one user exceed its per-user slots),
	// as a client would.
	exec := func(sql string, params ...any) error {
		for {
			_, err := h.exec(root, sql, params...)
			var de *dberr.Error
			if errors.As(err, &de) && de.Code == dberr.Overloaded {
				time.Sleep(time.Millisecond)
				continue
			}
			return err
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted = map[int]int{}
		updates  int
		failures []error
	)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				key := (w*7 + r*3) % keys
				err := exec("INSERT INTO gc VALUES ($1, $2)", int64(key), int64(w))
				var de *dberr.Error
				mu.Lock()
				switch {
				case err == nil:
					inserted[key]++
				case errors.As(err, &de) && de.Code == dberr.PKViolation:
				default:
					failures = append(failures, fmt.Errorf("insert %d: %w", key, err))
				}
				mu.Unlock()
				if err := exec("UPDATE gc SET n = n + 1 WHERE id = -1"); err != nil {
					mu.Lock()
					failures = append(failures, fmt.Errorf("update: %w", err))
					mu.Unlock()
					continue
				}
				mu.Lock()
				updates++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d statements failed, first: %v", len(failures), failures[0])
	}
	for k, n := range inserted {
		if n != 1 {
			t.Errorf("key %d inserted %d times", k, n)
		}
	}
	check := func(when string) {
		t.Helper()
		if got := h.rows(root, "SELECT n FROM gc WHERE id = -1"); got[0] != strconv.Itoa(updates) {
			t.Fatalf("%s: counter %v after %d acknowledged increments", when, got, updates)
		}
		if got := h.rows(root, "SELECT count(*) FROM gc WHERE id >= 0"); got[0] != strconv.Itoa(len(inserted)) {
			t.Fatalf("%s: %v keys, %d inserts acknowledged", when, got, len(inserted))
		}
	}
	check("before restart")
	h.restart()
	check("after restart")
}
