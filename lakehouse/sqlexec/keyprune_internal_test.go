package sqlexec

import (
	"math"
	"testing"
)

func TestParseKeyBounds(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	for _, c := range []struct {
		sql    string
		ok     bool
		col    string
		lo, hi int64
	}{
		{"SELECT count(*), sum(v) FROM big WHERE id BETWEEN 500000 AND 500999", true, "id", 500000, 500999},
		{"select * from ns.big where id >= 5 and id < 10 order by id limit 3", true, "id", 5, 9},
		{`SELECT * FROM big WHERE "ID" > -3 AND g = 7 AND id <= +4;`, true, "id", -2, 4},
		{"SELECT * FROM big WHERE g = 7 AND id = 12 GROUP BY g HAVING count(*) > 1", true, "id", 12, 12},
		{"SELECT * FROM big WHERE id > 9223372036854775807", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > 5 AND id < 3", true, "id", 6, 2},
		{"SELECT * FROM big WHERE (id BETWEEN 1 AND 5)", false, "", lo, hi},
		{"SELECT * FROM big WHERE id BETWEEN 1 AND 5 OR g = 1", false, "", 0, 0},
		{"SELECT * FROM big WHERE NOT id BETWEEN 1 AND 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id NOT BETWEEN 1 AND 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE g BETWEEN 1 AND id", false, "", 0, 0},
		{"SELECT * FROM big WHERE NOT id > 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE x AND NOT id > 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > 5 IS TRUE", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > 5::INT", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > 5.5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > 1e3", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > 0x10", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > $1", true, "id", 8, hi},
		{"SELECT * FROM big WHERE id BETWEEN $2 AND $1", true, "id", -4, 7},
		{"SELECT * FROM big WHERE id > $3", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > $4", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > $5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id = $6", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > -$1", false, "", 0, 0},
		{"SELECT * FROM big WHERE id > ?", false, "", 0, 0},
		{"SELECT * FROM big WHERE id <> 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id = 5 + 1", false, "", 0, 0},
		{"SELECT * FROM big WHERE x = id > 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE big.id = 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE CASE WHEN a AND id > 5 AND b THEN true END", false, "", 0, 0},
		{"SELECT * FROM big WHERE f({'a': x AND id > 5 AND y})", false, "", 0, 0},
		{"SELECT * FROM big b WHERE id = 5", false, "", 0, 0},
		{"SELECT * FROM big AT (VERSION => 3) WHERE id = 5", false, "", 0, 0},
		{"SELECT * FROM big, other WHERE id = 5", false, "", 0, 0},
		{"SELECT * FROM big JOIN other USING (id) WHERE id = 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id = 5 UNION ALL SELECT * FROM big", false, "", 0, 0},
		{"SELECT * FROM big WHERE id IN (SELECT id FROM other) AND id = 5", false, "", 0, 0},
		{"SELECT (SELECT 1 FROM other) FROM big WHERE id = 5", false, "", 0, 0},
		{"SELECT * FROM big WHERE id = 5 AND a IS DISTINCT FROM b", false, "", 0, 0},
		{"WITH big AS (SELECT 1 AS id) SELECT * FROM big WHERE id = 5", false, "", 0, 0},
		{"SELECT * FROM big", false, "", 0, 0},
		{"SELECT * FROM big WHERE g = 5", true, "g", 5, 5},
	} {
		kb, ok := parseKeyBounds(c.sql, []any{int64(7), -4, 2.5, "3", nil, 5.0})
		b, has := kb.Cols[c.col]
		if ok != c.ok || (ok && (!has || b.Lo != c.lo || b.Hi != c.hi)) {
			t.Errorf("%s: got %+v %v, want %s %d..%d %v", c.sql, kb, ok, c.col, c.lo, c.hi, c.ok)
		}
	}
}
