package sqlexec_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
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
