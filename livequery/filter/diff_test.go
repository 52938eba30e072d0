package filter_test

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/livequery/filter"
	"github.com/floedb/floe/manifest"
)

// The differential test's table, with Floe's DuckDB types.
var diffCols = []manifest.Column{
	{Name: "id", Type: manifest.BigInt},
	{Name: "i", Type: manifest.Int, Nullable: true},
	{Name: "b", Type: manifest.BigInt, Nullable: true},
	{Name: "f", Type: manifest.Float, Nullable: true},
	{Name: "d", Type: manifest.Double, Nullable: true},
	{Name: "dec", Type: manifest.Type{Kind: manifest.KindDecimal, Precision: 10, Scale: 2}, Nullable: true},
	{Name: "s", Type: manifest.Text, Nullable: true},
	{Name: "t", Type: manifest.Boolean, Nullable: true},
	{Name: "dt", Type: manifest.Date, Nullable: true},
	{Name: "u", Type: manifest.UUID, Nullable: true},
}

var (
	textPool = []string{"", "a", "A", "ab", "aB", "a%b", "a_b", "abc", "Äb", "äb", `x\y`, "é", "b", "ba", "a\u00e9"}
	uuidPool = []string{"00000000-0000-0000-0000-000000000001", "7f000000-0000-0000-0000-000000000000", "80000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	dblPool  = []float64{0, math.Copysign(0, -1), 1.5, 0.1, 2, -3, 10, 1e300, math.NaN(), math.Inf(1), 0.30000000000000004}
)

// randomRow returns a row of diffCols with id and values from small pools,
// NULL a fifth of the time.
func randomRow(r *rand.Rand, id int64) row.Row {
	out := make(row.Row, len(diffCols))
	out[0] = row.BigInt(id)
	for c := 1; c < len(diffCols); c++ {
		if r.IntN(5) == 0 {
			continue
		}
		switch c {
		case 1:
			out[c] = row.Int(int32(r.IntN(11) - 5))
		case 2:
			out[c] = row.BigInt(int64(r.IntN(11) - 5))
		case 3:
			out[c] = row.Float(float32(dblPool[r.IntN(len(dblPool))]))
		case 4:
			out[c] = row.Double(dblPool[r.IntN(len(dblPool))])
		case 5:
			out[c] = row.DecimalFromInt64(int64(r.IntN(801) - 400)) // -4.00 … 4.00
		case 6:
			out[c] = row.Text(textPool[r.IntN(len(textPool))])
		case 7:
			out[c] = row.Bool(r.IntN(2) == 0)
		case 8:
			out[c] = row.Date(int32(19723 + r.IntN(5))) // 2024-01-01 …
		case 9:
			u := uuid.MustParse(uuidPool[r.IntN(len(uuidPool))])
			out[c] = row.UUID(u)
		}
	}
	return out
}

// sqlLiteral renders v for DuckDB.
func sqlLiteral(v row.Value, t manifest.Type) string {
	if v.IsNull() {
		return "NULL"
	}
	switch t.Kind {
	case manifest.KindInt, manifest.KindBigInt:
		return strconv.FormatInt(v.Int64(), 10)
	case manifest.KindFloat:
		return "'" + strconv.FormatFloat(v.Float64(), 'g', -1, 32) + "'::FLOAT"
	case manifest.KindDouble:
		return "'" + strconv.FormatFloat(v.Float64(), 'g', -1, 64) + "'::DOUBLE"
	case manifest.KindDecimal:
		n := v.DecimalBig().Int64()
		sign := ""
		if n < 0 {
			sign, n = "-", -n
		}
		return fmt.Sprintf("%s%d.%02d::DECIMAL(10,2)", sign, n/100, n%100)
	case manifest.KindText:
		return "'" + strings.ReplaceAll(v.Str(), "'", "''") + "'"
	case manifest.KindBoolean:
		return strconv.FormatBool(v.Bool())
	case manifest.KindDate:
		return "DATE '" + time.Unix(v.Int64()*86400, 0).UTC().Format("2006-01-02") + "'"
	case manifest.KindUUID:
		u, _ := uuid.FromBytes([]byte(v.Str()))
		return "'" + u.String() + "'::UUID"
	}
	panic("type")
}

// gen builds random filters over diffCols.
type gen struct {
	r      *rand.Rand
	params []any
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) literal(col string) string {
	switch col {
	case "i", "b":
		if g.r.IntN(6) == 0 {
			g.params = append(g.params, int64(g.r.IntN(11)-5))
			return "$" + strconv.Itoa(len(g.params))
		}
		return g.pick("0", "3", "-2", "1.5", "-0.5", "2e0", "'3'", "99999999999", "NULL", "+4")
	case "f", "d":
		return g.pick("0", "1.5", "0.1", "2", "-3", "1e1", "'nan'", "'inf'", "-0.0", "0.30000000000000004", "1e300", "NULL")
	case "dec":
		return g.pick("0", "1.25", "3", "-2.5", "'1.255'", "-4", "2.999", "1e0", "NULL")
	case "s":
		if g.r.IntN(6) == 0 {
			g.params = append(g.params, textPool[g.r.IntN(len(textPool))])
			return "$" + strconv.Itoa(len(g.params))
		}
		s := textPool[g.r.IntN(len(textPool))]
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	case "t":
		return g.pick("true", "false", "NULL", "'t'")
	case "dt":
		return g.pick("'2024-01-01'", "'2024-01-03'", "'2024-01-05'", "'2023-12-31'")
	case "u":
		return "'" + uuidPool[g.r.IntN(len(uuidPool))] + "'"
	}
	panic(col)
}

func (g *gen) leaf() string {
	cols := []string{"i", "b", "f", "d", "dec", "s", "t", "dt", "u"}
	c := cols[g.r.IntN(len(cols))]
	switch g.r.IntN(9) {
	case 0:
		return c + g.pick(" IS NULL", " IS NOT NULL")
	case 1:
		n := 1 + g.r.IntN(3)
		var xs []string
		for range n {
			xs = append(xs, g.literal(c))
		}
		return c + g.pick(" IN (", " NOT IN (") + strings.Join(xs, ", ") + ")"
	case 2:
		pats := []string{"'a%'", "'%b'", "'_b'", `'a\%b' ESCAPE '\'`, "'%'", "''", "'A%'", `'%\_%' ESCAPE '\'`, "'a%b%'", "'%ä%'", "'__'", "'%é'", `'x\y'`, "'a_b'", "NULL", "'Ä%'"}
		return "s" + g.pick(" LIKE ", " NOT LIKE ", " ILIKE ", " NOT ILIKE ") + g.pick(pats...)
	case 3:
		if g.r.IntN(2) == 0 {
			return "t"
		}
		return g.pick("TRUE", "FALSE", "NULL")
	case 4:
		return g.literal(c) + g.pick(" = ", " < ", " >= ", " <> ") + c
	}
	return c + g.pick(" = ", " != ", " <> ", " < ", " > ", " <= ", " >= ", " == ") + g.literal(c)
}

func (g *gen) expr(depth int) string {
	if depth == 0 || g.r.IntN(3) == 0 {
		return g.leaf()
	}
	switch g.r.IntN(4) {
	case 0:
		return "NOT " + g.expr(depth-1)
	case 1:
		return "(" + g.expr(depth-1) + ")"
	case 2:
		return "(" + g.expr(depth-1) + " OR " + g.expr(depth-1) + ")"
	}
	return g.expr(depth-1) + " AND " + g.expr(depth-1)
}

// TestDifferentialDuckDB checks the invariant of the package: random
// filters over random rows give the same rows with the Go predicate as
// with DuckDB evaluating the same WHERE (NULL semantics, LIKE escapes,
// casts). Filters that DuckDB rejects must be refused by Compile too, or
// be ones Compile accepts with a documented narrower reading (none so far).
func TestDifferentialDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var defs []string
	for _, c := range diffCols {
		defs = append(defs, c.Name+" "+duckType(c.Type))
	}
	if _, err := db.Exec("SET TimeZone = 'UTC'; CREATE TABLE t (" + strings.Join(defs, ", ") + ")"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(13, 42))
	rows := make([]row.Row, 300)
	for k := range rows {
		rows[k] = randomRow(r, int64(k))
		var vals []string
		for c, col := range diffCols {
			vals = append(vals, sqlLiteral(rows[k][c], col.Type))
		}
		if _, err := db.Exec("INSERT INTO t VALUES (" + strings.Join(vals, ", ") + ")"); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3000
	compared, refused, failures := 0, 0, 0
	for k := range n {
		g := &gen{r: r}
		where := g.expr(3)
		f, cerr := filter.Compile(where, diffCols, g.params)
		res, qerr := db.Query("SELECT id FROM t WHERE "+where+" ORDER BY id", g.params...)
		var want []int64
		if qerr == nil {
			for res.Next() {
				var id int64
				if err := res.Scan(&id); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			qerr = res.Err()
			res.Close()
		}
		if cerr != nil {
			refused++
			if qerr == nil {
				// Refusing what DuckDB runs is allowed only for the
				// documented type mismatches (a number vs text etc.).
				t.Logf("filter %d refused but DuckDB ran it: %s: %v", k, where, cerr)
			}
			continue
		}
		if qerr != nil {
			t.Errorf("filter %d: Compile accepted %q but DuckDB failed: %v", k, where, qerr)
			continue
		}
		var got []int64
		for _, x := range rows {
			if f.Match(x) {
				got = append(got, x[0].Int64())
			}
		}
		compared++
		if !slices.Equal(got, want) {
			failures++
			var diff []string
			for _, x := range rows {
				id := x[0].Int64()
				if slices.Contains(got, id) != slices.Contains(want, id) {
					diff = append(diff, fmt.Sprint(x))
				}
				if len(diff) > 3 {
					break
				}
			}
			t.Errorf("filter %d %q params %v: go and DuckDB differ on rows %v", k, where, g.params, diff)
			if failures > 15 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d filters compared, %d refused", compared, refused)
	if compared < n/2 {
		t.Fatalf("only %d of %d filters compared", compared, n)
	}
}

func duckType(t manifest.Type) string {
	switch t.Kind {
	case manifest.KindInt:
		return "INTEGER"
	case manifest.KindBigInt:
		return "BIGINT"
	case manifest.KindFloat:
		return "FLOAT"
	case manifest.KindDouble:
		return "DOUBLE"
	case manifest.KindDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case manifest.KindText:
		return "VARCHAR"
	case manifest.KindBoolean:
		return "BOOLEAN"
	case manifest.KindDate:
		return "DATE"
	case manifest.KindUUID:
		return "UUID"
	}
	panic(t)
}
