package duckengine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/dberr"
)

// # The size guard
//
// A few DuckDB functions build a value whose size is set by an argument's
// value rather than by the size of their inputs: range(0, 2000000000) as a
// scalar is a list of two billion elements, repeat('x', 1e10) a 10 GB
// string. DuckDB builds such a value in one piece: its memory_limit does
// not cover it, and no interrupt is checked while it is built. So the
// engine shadows each of these functions by a macro of the same name (in
// the database's main schema, which is searched before the built-ins) that
// calls the built-in through a check: a Go scalar function that computes
// the size the call would build, refuses it past Config.MaxValueBytes, and
// returns its size argument unchanged otherwise. User SQL cannot reach a
// built-in past its macro: lakehouse/sqlbind refuses catalog-qualified
// function names (system.main.repeat), and users cannot create or drop
// macros.
//
// Checks run once per batch of rows (a DuckDB vector, up to 2048 rows):
// one value may build at most MaxValueBytes and one batch at most
// batchFactor × MaxValueBytes, so that the work DuckDB does between two
// interrupt checks stays bounded. A check also fails once the statement's
// context is done: a statement cancelled (deadline, client, memory guard)
// stops at its next checked call even inside one long expression.
//
// The guarded families (DuckDB 1.5.6; see TestSizeGuardCoversFamilies):
//   - list builders with a count: range and generate_series as scalars
//     (BIGINT and TIMESTAMP/TIMESTAMPTZ with INTERVAL), list_resize /
//     array_resize, equi_width_bins;
//   - repeat (VARCHAR, BLOB, lists);
//   - string builders with a width: lpad, rpad, bar, bitstring, to_base,
//     printf and format (widths and precisions, also from arguments);
//   - replace, which multiplies its inputs (each match inserts the whole
//     replacement).
//
// regexp_replace multiplies its inputs too, but a macro cannot shadow it
// (DuckDB requires its options to be a constant, which a macro parameter
// is not): lakehouse/sqlbind bounds it instead, by requiring a short
// constant replacement. Aggregates whose state size is set by an argument (max(x, n), arg_max(x,
// y, n), approx_top_k, reservoir_quantile, bitstring_agg) are bounded in
// lakehouse/sqlbind, which requires a constant within its limits. Every
// other function builds values bounded by the size of its inputs; growth
// by repetition (a recursive CTE doubling a string, cross joins) is
// stopped by DuckDB's memory_limit, the statement deadline and the
// process memory guard (lakehouse/admission).

// batchFactor bounds what the checked calls of one batch of rows build:
// batchFactor × MaxValueBytes.
const batchFactor = 4

// listElementCost is what one list element counts for: DuckDB 1.5 spends
// about this many bytes (and 2 µs) per element while it builds a list.
const listElementCost = 64

// ErrValueTooLarge marks a refusal by the size guard.
var ErrValueTooLarge = fmt.Errorf("duckengine: value too large")

// Usage is one statement's account with the engine: what its checked
// functions built and whether the size guard refused it. A Usage is safe
// for concurrent use (DuckDB runs a statement's batches on several
// threads).
type Usage struct {
	// OnBuild, when set, is told the bytes each batch of checked calls
	// builds (the memory guard's measure of a statement).
	OnBuild func(n int64)
	refusal atomic.Pointer[dberr.Error]
}

// Refusal returns the size guard's refusal of the statement, nil if none.
func (u *Usage) Refusal() *dberr.Error {
	if u == nil {
		return nil
	}
	return u.refusal.Load()
}

type usageKey struct{}

// WithUsage returns ctx carrying u: the size guard accounts the checked
// calls of statements run with ctx to u.
func WithUsage(ctx context.Context, u *Usage) context.Context {
	return context.WithValue(ctx, usageKey{}, u)
}

func usageOf(ctx context.Context) *Usage {
	u, _ := ctx.Value(usageKey{}).(*Usage)
	return u
}

// sizeGuard holds the limits of the checks.
type sizeGuard struct {
	maxValue int64
}

// refuse records and returns a RESOURCE_EXHAUSTED error.
func (g *sizeGuard) refuse(ctx context.Context, format string, args ...any) error {
	e := dberr.New(dberr.ResourceExhausted, format, args...)
	e.Err = ErrValueTooLarge
	if u := usageOf(ctx); u != nil {
		u.refusal.CompareAndSwap(nil, e)
	}
	return e
}

// account checks the sizes one batch of calls of fn would build.
func (g *sizeGuard) account(ctx context.Context, fn string, sizes []float64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("statement stopped: %w", context.Cause(ctx))
	}
	var total float64
	for _, s := range sizes {
		if s > float64(g.maxValue) {
			return g.refuse(ctx, "%s would build a value of %s, more than query.max_value_bytes (%s) allows; use smaller arguments",
				fn, formatBytes(s), formatBytes(float64(g.maxValue)))
		}
		total += s
	}
	if limit := float64(batchFactor * g.maxValue); total > limit {
		return g.refuse(ctx, "%s would build %s for one batch of rows, more than %d × query.max_value_bytes (%s) allows; use smaller arguments or fewer rows",
			fn, formatBytes(total), batchFactor, formatBytes(limit))
	}
	if u := usageOf(ctx); u != nil && u.OnBuild != nil && total > 0 {
		u.OnBuild(int64(total))
	}
	return nil
}

// formatBytes renders n bytes for a message.
func formatBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f bytes", n)
	}
	suffix := "KMGTPE"
	i := 0
	for n >= unit*unit && i < len(suffix)-1 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n/unit, suffix[i])
}

// check is a chunk-wise Go scalar function: size computes the bytes one
// row would build and the value the check returns (one of its arguments
// unchanged, or true). Its first argument is the guarded function's index
// in GuardedFunctions, for messages. Checks take numbers (lengths are
// computed by DuckDB) so that converting their arguments to Go stays
// cheap.
type check struct {
	g      *sizeGuard
	in     []duckdb.TypeInfo
	out    duckdb.TypeInfo
	vararg duckdb.TypeInfo
	size   func(args []driver.Value) (bytes float64, pass any)
}

func (c *check) Config() duckdb.ScalarFuncConfig {
	return duckdb.ScalarFuncConfig{InputTypeInfos: c.in, ResultTypeInfo: c.out, VariadicTypeInfo: c.vararg,
		SpecialNullHandling: true}
}

func (c *check) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{ChunkContextExecutor: func(ctx context.Context, chunk *duckdb.ChunkIteratorState) error {
		// One pass: the results are set as the sizes are summed; a
		// refusal returns an error, and DuckDB discards the batch.
		sizes := make([]float64, 0, 2048)
		fn := ""
		args := make([]driver.Value, 0, 8)
		for row, err := range chunk.Rows() {
			if err != nil {
				return err
			}
			args = args[:0]
			for i := range row.ColumnCount() {
				args = append(args, *row.GetValuePtr(i))
			}
			if fn == "" {
				fn = guardedName(args[0])
			}
			n, pass := c.size(args)
			sizes = append(sizes, n)
			if err := row.SetResult(pass); err != nil {
				return err
			}
		}
		return c.g.account(ctx, fn, sizes)
	}}
}

// guardedName names the guarded function of a check's first argument.
func guardedName(code any) string {
	if i, ok := code.(int32); ok && int(i) >= 0 && int(i) < len(GuardedFunctions) {
		return GuardedFunctions[i]
	}
	return "a function"
}

// functions are the Go check functions, by name. Each name is a set of
// overloads.
func (g *sizeGuard) functions() map[string][]duckdb.ScalarFunc {
	t := func(typ duckdb.Type) duckdb.TypeInfo {
		info, err := duckdb.NewTypeInfo(typ)
		if err != nil {
			panic(err) // only for primitive types, which always succeed
		}
		return info
	}
	varchar, bigint, integer, double, boolean := t(duckdb.TYPE_VARCHAR), t(duckdb.TYPE_BIGINT), t(duckdb.TYPE_INTEGER), t(duckdb.TYPE_DOUBLE), t(duckdb.TYPE_BOOLEAN)
	ts, tstz, interval := t(duckdb.TYPE_TIMESTAMP), t(duckdb.TYPE_TIMESTAMP_TZ), t(duckdb.TYPE_INTERVAL)
	fns := map[string][]duckdb.ScalarFunc{}
	// __floe_range_stop(code, start, stop, step) → stop, for range and
	// generate_series (which yields the stop too).
	rangeSize := func(args []driver.Value) (float64, any) {
		if args[1] == nil || args[2] == nil || args[3] == nil {
			return 0, args[2]
		}
		n := rangeCount(args[1], args[2], args[3])
		if guardedName(args[0]) == "generate_series" {
			n++
		}
		return n * listElementCost, args[2]
	}
	for _, ty := range [][2]duckdb.TypeInfo{{bigint, bigint}, {ts, interval}, {tstz, interval}} {
		fns["__floe_range_stop"] = append(fns["__floe_range_stop"],
			&check{g: g, in: []duckdb.TypeInfo{integer, ty[0], ty[0], ty[1]}, out: ty[0], size: rangeSize})
	}
	// __floe_times(code, n, unit) → n: n units of unit bytes.
	times := func(args []driver.Value) (float64, any) {
		return math.Max(0, toFloat(args[1])) * toFloat(args[2]), args[1]
	}
	for _, ty := range []duckdb.TypeInfo{bigint, integer, double} {
		fns["__floe_times"] = append(fns["__floe_times"],
			&check{g: g, in: []duckdb.TypeInfo{integer, ty, bigint}, out: ty, size: times})
	}
	// __floe_replace_ok(code, len(s), len(from), len(to)) → true.
	fns["__floe_replace_ok"] = []duckdb.ScalarFunc{&check{g: g, in: []duckdb.TypeInfo{integer, bigint, bigint, bigint}, out: boolean,
		size: func(args []driver.Value) (float64, any) {
			s, from, to := toFloat(args[1]), toFloat(args[2]), toFloat(args[3])
			if to <= from {
				return s, true
			}
			return s + (math.Floor(s/math.Max(from, 1))+1)*(to-from), true
		}}}
	// __floe_format_ok(code, format, len(a1), a1 as integer, …) → true.
	fns["__floe_format_ok"] = []duckdb.ScalarFunc{&check{g: g, in: []duckdb.TypeInfo{integer, varchar}, out: boolean, vararg: bigint,
		size: func(args []driver.Value) (float64, any) {
			return formatSize(str(args[1]), args[2:]), true
		}}}
	return fns
}

// rangeCount is the number of elements range(start, stop, step) yields,
// as a float so that it cannot overflow.
func rangeCount(start, stop, step any) float64 {
	switch a := start.(type) {
	case int64:
		b, _ := stop.(int64)
		s, _ := step.(int64)
		if s == 0 {
			return 0 // DuckDB refuses a zero step
		}
		return math.Max(0, math.Ceil((float64(b)-float64(a))/float64(s)))
	case time.Time:
		b, _ := stop.(time.Time)
		iv, _ := step.(duckdb.Interval)
		// The shortest an interval can be: a month of 28 days, a day of
		// 23 hours (a daylight-saving change).
		stepMicros := float64(iv.Months)*28*24*3600e6 + float64(iv.Days)*23*3600e6 + float64(iv.Micros)
		if stepMicros == 0 {
			return 0
		}
		d := float64(b.UnixMicro()) - float64(a.UnixMicro())
		return math.Max(0, math.Ceil(d/stepMicros))
	}
	return 0
}

// formatSize bounds the length printf or format builds: the format text,
// every number written in it (widths and precisions), the arguments as
// text, and, where a width or precision may come from an argument (printf
// %*d, format {:{}}), the integer arguments' values. args are pairs: an
// argument's length as text, and its value as an integer (NULL if it is
// none).
func formatSize(f string, args []driver.Value) float64 {
	n := float64(len(f))
	num := 0.0
	inNum := false
	for i := 0; i <= len(f); i++ {
		if i < len(f) && f[i] >= '0' && f[i] <= '9' {
			num = num*10 + float64(f[i]-'0')
			inNum = true
			continue
		}
		if inNum {
			n += num
			num, inNum = 0, false
		}
	}
	dynamic := strings.Contains(f, "*") || strings.Contains(f, "{:{") || strings.Contains(f, ".{")
	for i := 0; i+1 < len(args); i += 2 {
		n += toFloat(args[i]) + 24
		if dynamic {
			n += math.Abs(toFloat(args[i+1]))
		}
	}
	return n
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case float64:
		if math.IsNaN(v) {
			return 0
		}
		return v
	}
	return 0
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// code is a guarded function's check code: its index in GuardedFunctions.
func code(name string) int {
	i := slices.Index(GuardedFunctions, name)
	if i < 0 {
		panic("duckengine: " + name + " is not in GuardedFunctions")
	}
	return i
}

// guardMacros shadow the guarded built-ins. Each entry is one macro with
// its overloads (parameter list → body).
func guardMacros() []string {
	var printf, format []string
	for k := 0; k <= maxFormatArgs; k++ {
		params := []string{"f"}
		var args, sizes []string
		for i := 1; i <= k; i++ {
			a := fmt.Sprintf("a%d", i)
			params = append(params, a)
			args = append(args, a)
			sizes = append(sizes, fmt.Sprintf("strlen(CAST(%[1]s AS VARCHAR)), TRY_CAST(%[1]s AS BIGINT)", a))
		}
		for _, x := range []struct {
			name string
			out  *[]string
		}{{"printf", &printf}, {"format", &format}} {
			*x.out = append(*x.out, fmt.Sprintf("(%s) AS CASE WHEN __floe_format_ok(%d, f%s) THEN system.main.%s(%s) END",
				strings.Join(params, ", "), code(x.name), prefixComma(sizes), x.name, strings.Join(append([]string{"f"}, args...), ", ")))
		}
	}
	ranges := func(name string) string {
		return fmt.Sprintf(`%[1]s(stop) AS system.main.%[1]s(__floe_range_stop(%[2]d, 0, stop, 1)),
			(start, stop) AS system.main.%[1]s(start, __floe_range_stop(%[2]d, start, stop, 1)),
			(start, stop, step) AS system.main.%[1]s(start, __floe_range_stop(%[2]d, start, stop, step), step)`, name, code(name))
	}
	resize := func(name string) string {
		return fmt.Sprintf(`%[1]s(l, n) AS system.main.%[1]s(l, __floe_times(%[2]d, n, %[3]d)),
			(l, n, fill) AS system.main.%[1]s(l, __floe_times(%[2]d, n, %[3]d + %[4]s), fill)`, name, code(name), listElementCost, weightOf("fill"))
	}
	pad := func(name string) string {
		// A character is at most 4 bytes of UTF-8.
		return fmt.Sprintf(`%[1]s(s, n, fill) AS system.main.%[1]s(s, __floe_times(%[2]d, n, 4), fill)`, name, code(name))
	}
	return []string{
		ranges("range"),
		ranges("generate_series"),
		resize("list_resize"),
		resize("array_resize"),
		fmt.Sprintf(`repeat(s, n) AS system.main.repeat(s, __floe_times(%d, n, %s))`, code("repeat"), weightOf("s")),
		pad("lpad"),
		pad("rpad"),
		// bar's characters are 3 bytes of UTF-8.
		fmt.Sprintf(`bar(x, lo, hi) AS system.main.bar(x, lo, hi),
			(x, lo, hi, width) AS system.main.bar(x, lo, hi, __floe_times(%d, width, 3))`, code("bar")),
		fmt.Sprintf(`bitstring(s, n) AS system.main.bitstring(s, __floe_times(%d, n, 1))`, code("bitstring")),
		fmt.Sprintf(`to_base(x, radix) AS system.main.to_base(x, radix),
			(x, radix, len) AS system.main.to_base(x, radix, __floe_times(%d, len, 1))`, code("to_base")),
		fmt.Sprintf(`equi_width_bins(lo, hi, n, nice) AS system.main.equi_width_bins(lo, hi, __floe_times(%d, n, %d), nice)`, code("equi_width_bins"), listElementCost),
		fmt.Sprintf(`replace(s, a, b) AS CASE WHEN __floe_replace_ok(%d, strlen(s), strlen(a), strlen(b)) THEN system.main.replace(s, a, b) END`, code("replace")),
		"printf" + strings.Join(printf, ",\n\t\t\t"),
		"format" + strings.Join(format, ",\n\t\t\t"),
	}
}

// weightOf is the SQL for the bytes a copy of the value x costs: its
// length as text, and for a list listElementCost per element (a list's
// text has at least 3 characters per element: "1, ").
func weightOf(x string) string {
	return fmt.Sprintf("coalesce(strlen(CAST(%[1]s AS VARCHAR)), 0) * (1 + %[2]d * CAST(typeof(%[1]s) LIKE '%%[]' AS INTEGER))",
		x, listElementCost/3)
}

func prefixComma(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// maxFormatArgs is the most arguments printf and format take after the
// format (more are refused by DuckDB's binder).
const maxFormatArgs = 24

// GuardedFunctions are the built-in functions the size guard shadows.
var GuardedFunctions = []string{"range", "generate_series", "list_resize", "array_resize", "repeat", "lpad", "rpad",
	"bar", "bitstring", "to_base", "equi_width_bins", "replace", "printf", "format"}

// installGuard registers the check functions and the shadowing macros on
// conn's database.
func installGuard(ctx context.Context, conn *sql.Conn, g *sizeGuard) error {
	for name, set := range g.functions() {
		if err := duckdb.RegisterScalarUDFSet(conn, name, set...); err != nil {
			return fmt.Errorf("duckengine: register %s: %w", name, err)
		}
	}
	for _, m := range guardMacros() {
		if _, err := conn.ExecContext(ctx, "CREATE MACRO "+m); err != nil {
			return fmt.Errorf("duckengine: size guard macro %.40s…: %w", m, err)
		}
	}
	return nil
}
