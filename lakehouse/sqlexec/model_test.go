package sqlexec_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestRandomDMLMatchesModel runs random INSERT/UPDATE/DELETE/upsert
// statements, with flushes and compactions in between, and checks after
// each that SELECT (the DuckDB views over segments and buffer, merged by
// the merge rule) shows exactly the rows of an in-memory model.
func TestRandomDMLMatchesModel(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE m (id INT PRIMARY KEY, v BIGINT)")
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[int]int64{}
	steps := 300
	if testing.Short() {
		steps = 60
	}
	for step := range steps {
		id := rng.IntN(40)
		var sql string
		switch op := rng.IntN(10); {
		case op < 3:
			v := rng.Int64N(1000)
			sql = fmt.Sprintf("INSERT INTO m VALUES (%d, %d) ON CONFLICT (id) DO UPDATE SET v = excluded.v", id, v)
			model[id] = v
		case op < 5:
			lo := rng.IntN(40)
			sql = fmt.Sprintf("UPDATE m SET v = v + 1 WHERE id BETWEEN %d AND %d", lo, lo+5)
			for k := range model {
				if k >= lo && k <= lo+5 {
					model[k]++
				}
			}
		case op < 7:
			sql = fmt.Sprintf("DELETE FROM m WHERE id %% 7 = %d", id%7)
			for k := range model {
				if k%7 == id%7 {
					delete(model, k)
				}
			}
		case op < 8:
			sql = "FLUSH TABLE m"
		case op < 9:
			sql = "COMPACT TABLE m"
		default:
			sql = fmt.Sprintf("INSERT INTO m VALUES (%d, 1) ON CONFLICT DO NOTHING", id)
			if _, ok := model[id]; !ok {
				model[id] = 1
			}
		}
		h.must(svc, sql)
		var want []string
		for k, v := range model {
			want = append(want, fmt.Sprint([]any{int32(k), v}))
		}
		slices.Sort(want)
		got := h.rows(svc, "SELECT id, v FROM m")
		slices.Sort(got)
		equal(t, fmt.Sprintf("step %d after %s", step, sql), got, want)
	}
}

// TestBufferOverDisjointSegmentsMatchesModel: segments flushed from
// disjoint key ranges, then random buffered UPDATE/DELETE/INSERT that
// overlap some of them: the view leaves buffered keys out of the
// overlapped segments (no window over all rows), and every read equals an
// in-memory model — rows, count(*) and a filter.
func TestBufferOverDisjointSegmentsMatchesModel(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE TABLE r (id INT PRIMARY KEY, v BIGINT)")
	model := map[int]int64{}
	for c := range 4 {
		h.must(svc, fmt.Sprintf("INSERT INTO r SELECT i, i * 10 FROM range(%d, %d) t(i)", c*100, c*100+100))
		h.must(svc, "FLUSH TABLE r")
		for i := c * 100; i < c*100+100; i++ {
			model[i] = int64(i * 10)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	steps := 120
	if testing.Short() {
		steps = 40
	}
	for step := range steps {
		id := rng.IntN(450) // some keys beyond every segment
		var sql string
		switch op := rng.IntN(4); op {
		case 0:
			sql = fmt.Sprintf("UPDATE r SET v = v + 1 WHERE id BETWEEN %d AND %d", id, id+3)
			for k := range model {
				if k >= id && k <= id+3 {
					model[k]++
				}
			}
		case 1:
			sql = fmt.Sprintf("DELETE FROM r WHERE id = %d", id)
			delete(model, id)
		default:
			sql = fmt.Sprintf("INSERT INTO r VALUES (%d, 7) ON CONFLICT (id) DO UPDATE SET v = excluded.v", id)
			model[id] = 7
		}
		h.must(svc, sql)
		var want []string
		var over int
		for k, v := range model {
			want = append(want, fmt.Sprint([]any{int32(k), v}))
			if v > 2000 {
				over++
			}
		}
		slices.Sort(want)
		got := h.rows(svc, "SELECT id, v FROM r")
		slices.Sort(got)
		equal(t, fmt.Sprintf("step %d after %s", step, sql), got, want)
		equal(t, fmt.Sprintf("step %d count", step), h.rows(svc, "SELECT count(*) FROM r"), []string{fmt.Sprint(len(model))})
		equal(t, fmt.Sprintf("step %d filter", step), h.rows(svc, "SELECT count(*) FROM r WHERE v > 2000"), []string{fmt.Sprint(over)})
		noWindow(t, h, "r")
	}
}

// noWindow fails the test if the plan of a scan of table uses a window:
// the merge of overlapping sources is done by anti joins.
func noWindow(t *testing.T, h *harness, table string) {
	t.Helper()
	for _, line := range h.rows(svc, "EXPLAIN SELECT * FROM "+table) {
		if strings.Contains(line, "WINDOW") {
			t.Fatalf("the scan of %s sorts by a window:\n%s", table, line)
		}
	}
}

// TestOverlappingSourcesMatchModel: random writes with frequent flushes
// and rare compactions build many segments whose key ranges overlap each
// other and the buffer — the same key updated in several segments, keys
// deleted and inserted again, keys only in the buffer — for three primary
// key shapes (an integer key, whose buffered keys are left out of older
// segments by a literal list; a text key; a composite key, which takes
// the anti join). After every step rows, count(*), a filter and a key
// lookup equal an in-memory model, and no plan uses a window.
func TestOverlappingSourcesMatchModel(t *testing.T) {
	for _, shape := range []struct {
		name, ddl string
		key       func(int) string // a key's SQL condition
		cols      func(int) string // a key's column values
		row       func(int, int64) string
	}{
		{"int", "id INT PRIMARY KEY, v BIGINT",
			func(k int) string { return fmt.Sprintf("id = %d", k) },
			func(k int) string { return fmt.Sprint(k) },
			func(k int, v int64) string { return fmt.Sprint([]any{int32(k), v}) }},
		{"text", "id TEXT PRIMARY KEY, v BIGINT",
			func(k int) string { return fmt.Sprintf("id = 'k%03d'", k) },
			func(k int) string { return fmt.Sprintf("'k%03d'", k) },
			func(k int, v int64) string { return fmt.Sprint([]any{fmt.Sprintf("k%03d", k), v}) }},
		{"composite", "a INT, b TEXT, v BIGINT, PRIMARY KEY (a, b)",
			func(k int) string { return fmt.Sprintf("a = %d AND b = 'b%d'", k/3, k%3) },
			func(k int) string { return fmt.Sprintf("%d, 'b%d'", k/3, k%3) },
			func(k int, v int64) string { return fmt.Sprint([]any{int32(k / 3), fmt.Sprintf("b%d", k%3), v}) }},
	} {
		t.Run(shape.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(svc, "CREATE TABLE o ("+shape.ddl+")")
			cols := "id, v"
			if shape.name == "composite" {
				cols = "a, b, v"
			}
			rng := rand.New(rand.NewPCG(5, 6))
			model := map[int]int64{}
			const keys = 60
			steps := 100
			if testing.Short() {
				steps = 50
			}
			for step := range steps {
				k := rng.IntN(keys)
				var stmts []string
				switch op := rng.IntN(20); {
				case op < 6:
					v := rng.Int64N(1000)
					stmts = []string{fmt.Sprintf("INSERT INTO o VALUES (%s, %d) ON CONFLICT DO UPDATE SET v = excluded.v", shape.cols(k), v)}
					model[k] = v
				case op < 8:
					// The same key updated in several segments.
					if _, ok := model[k]; ok {
						stmts = []string{fmt.Sprintf("UPDATE o SET v = v + 1 WHERE %s", shape.key(k)), "FLUSH TABLE o",
							fmt.Sprintf("UPDATE o SET v = v + 1 WHERE %s", shape.key(k))}
						model[k] += 2
					}
				case op < 10:
					stmts = []string{fmt.Sprintf("DELETE FROM o WHERE %s", shape.key(k))}
					delete(model, k)
				case op < 12:
					// Deleted, flushed, then inserted again.
					v := rng.Int64N(1000)
					stmts = []string{fmt.Sprintf("DELETE FROM o WHERE %s", shape.key(k)), "FLUSH TABLE o",
						fmt.Sprintf("INSERT INTO o VALUES (%s, %d)", shape.cols(k), v)}
					model[k] = v
				case op < 13:
					// A batch over a range of keys.
					lo := rng.IntN(keys)
					stmts = []string{fmt.Sprintf("UPDATE o SET v = v * 2 WHERE v %% 5 = %d", lo%5)}
					for kk, v := range model {
						if v%5 == int64(lo%5) {
							model[kk] = v * 2
						}
					}
				case op < 18:
					stmts = []string{"FLUSH TABLE o"}
				case op < 19:
					stmts = []string{"COMPACT TABLE o"}
				default:
					// A key beyond every segment: in the buffer only.
					v := rng.Int64N(1000)
					kk := keys + rng.IntN(10)
					stmts = []string{fmt.Sprintf("INSERT INTO o VALUES (%s, %d) ON CONFLICT DO UPDATE SET v = excluded.v", shape.cols(kk), v)}
					model[kk] = v
				}
				for _, s := range stmts {
					h.must(svc, s)
				}
				var want []string
				big := 0
				for kk, v := range model {
					want = append(want, shape.row(kk, v))
					if v >= 500 {
						big++
					}
				}
				slices.Sort(want)
				at := fmt.Sprintf("step %d after %q", step, stmts)
				got := h.rows(svc, "SELECT "+cols+" FROM o")
				slices.Sort(got)
				equal(t, at, got, want)
				equal(t, at+": count", h.rows(svc, "SELECT count(*) FROM o"), []string{fmt.Sprint(len(model))})
				equal(t, at+": filter", h.rows(svc, "SELECT count(*) FROM o WHERE v >= 500"), []string{fmt.Sprint(big)})
				_, present := model[k]
				equal(t, at+": key", h.rows(svc, "SELECT count(*) FROM o WHERE "+shape.key(k)+" AND v IS NOT NULL"), []string{fmt.Sprint(map[bool]int{true: 1}[present])})
				noWindow(t, h, "o")
			}
		})
	}
}
