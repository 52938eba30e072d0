package sqlexec_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// A SELECT whose WHERE clause bounds the primary key reads only the
// segments whose key statistics meet the bounds. Left-out segments may
// hold newer versions and tombstones of other keys only: over segments
// with overlapping key ranges, updates and deletes (flushed and
// buffered), every bounded query returns what the same query returns
// unpruned (the bound in parentheses, which the pruning does not read).
func TestScanKeyPruningModel(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE kp (id INT PRIMARY KEY, v INT)")
	r := rand.New(rand.NewPCG(1, 2))
	for seg := range 8 {
		lo := seg * 50
		h.must(svc, fmt.Sprintf("INSERT INTO kp SELECT i, i * 10 + %d FROM range(%d, %d) t(i) ON CONFLICT (id) DO UPDATE SET v = excluded.v", seg, lo, lo+80))
		if seg%3 == 1 {
			h.must(svc, fmt.Sprintf("DELETE FROM kp WHERE id %% 7 = %d", seg))
		}
		h.must(svc, fmt.Sprintf("UPDATE kp SET v = v + 1 WHERE id = %d", r.IntN(450)))
		h.must(svc, "FLUSH TABLE kp")
	}
	// Buffered: an update, a delete and an insert.
	h.must(svc, "UPDATE kp SET v = -1 WHERE id = 120")
	h.must(svc, "DELETE FROM kp WHERE id = 260")
	h.must(svc, "INSERT INTO kp VALUES (1000, 1)")
	if n := len(h.segments("kp")); n < 8 {
		t.Fatalf("%d segments, want at least 8", n)
	}
	conds := []string{
		"id = 120", "id = 260", "id = 1000", "id = 5000", "id = -1",
		"id BETWEEN 100 AND 160", "id BETWEEN 0 AND 0", "id BETWEEN 449 AND 1000", "id BETWEEN 5 AND 4",
		"id > 300", "id >= 350", "id < 51", "id <= 50", "id > 100 AND id < 130", "v > 0 AND id >= 200 AND id < 240",
	}
	// The bounds of every segment's key range, exactly.
	for seg := range 8 {
		lo, hi := seg*50, seg*50+79
		conds = append(conds, fmt.Sprintf("id = %d", lo), fmt.Sprintf("id = %d", hi), fmt.Sprintf("id >= %d", hi),
			fmt.Sprintf("id <= %d", lo), fmt.Sprintf("id > %d", hi-1), fmt.Sprintf("id < %d", lo+1))
	}
	for range 20 {
		a := r.IntN(500) - 20
		conds = append(conds, fmt.Sprintf("id BETWEEN %d AND %d", a, a+r.IntN(120)))
	}
	for _, c := range conds {
		for _, q := range []string{"SELECT id, v FROM kp WHERE %s ORDER BY id", "SELECT count(*), sum(v) FROM kp WHERE %s"} {
			got := h.rows(svc, fmt.Sprintf(q, c))
			want := h.rows(svc, fmt.Sprintf(q, "("+c+")"))
			equal(t, c, got, want)
		}
	}
	// Bounds given as parameters.
	for _, c := range [][2]int64{{120, 120}, {260, 260}, {100, 100}, {229, 229}, {129, 180}, {1000, 2000}} {
		got := h.rows(svc, "SELECT id, v FROM kp WHERE id BETWEEN $1 AND $2 ORDER BY id", c[0], c[1])
		want := h.rows(svc, "SELECT id, v FROM kp WHERE (id BETWEEN $1 AND $2) ORDER BY id", c[0], c[1])
		equal(t, fmt.Sprint("params ", c), got, want)
	}
	// A select-list alias does not shadow the key in WHERE.
	equal(t, "alias", h.rows(svc, "SELECT v AS id FROM kp WHERE id = 3"), h.rows(svc, "SELECT v AS id FROM kp WHERE (id = 3)"))
}
