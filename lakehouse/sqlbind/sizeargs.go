package sqlbind

import (
	"encoding/json"
	"math/big"
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Size arguments. Most functions whose output size is set by an
// argument's value are bounded at run time by lakehouse/duckengine's size
// guard, which shadows them with checked macros. The ones a macro cannot
// shadow are bounded here, in the parse tree: their size argument must be
// a constant within a limit.
//
//   - Aggregates whose state is sized by an argument: max(x, n), min(x,
//     n), arg_max/arg_min/max_by/min_by(x, y, n) and their variants,
//     approx_top_k(x, k), reservoir_quantile(x, q, n): n at most
//     MaxAggregateN. bitstring_agg(x, lo, hi) allocates hi-lo+1 bits for
//     each group: lo and hi must be constants at most MaxBitstringBits
//     apart (the one-argument form, which takes them from column
//     statistics, is refused).
//   - regexp_replace(s, pattern, replacement[, options]): each match
//     inserts the replacement, so the output can be the input's length
//     times the replacement's; DuckDB requires constant options, which a
//     macro cannot pass on. The replacement must be a constant string of
//     at most MaxRegexpReplacement bytes, which keeps the output within
//     (MaxRegexpReplacement+1) × the input.

// MaxAggregateN bounds the n of top-n aggregates and sample sizes.
const MaxAggregateN = 100_000

// MaxBitstringBits bounds the range of bitstring_agg (16 MiB of bits).
const MaxBitstringBits = 128 << 20

// MaxRegexpReplacement bounds regexp_replace's replacement.
const MaxRegexpReplacement = 64

// sizeArg says which argument of a function is a size: the 0-based
// argument index when the call has args arguments.
type sizeArg struct {
	args, index int
}

// aggregateSizes are the aggregates with a size argument, by lowercase
// name.
var aggregateSizes = map[string]sizeArg{
	"max": {2, 1}, "min": {2, 1},
	"arg_max": {3, 2}, "arg_min": {3, 2}, "argmax": {3, 2}, "argmin": {3, 2}, "max_by": {3, 2}, "min_by": {3, 2},
	"arg_max_null": {3, 2}, "arg_min_null": {3, 2}, "arg_max_nulls_last": {3, 2}, "arg_min_nulls_last": {3, 2},
	"approx_top_k": {2, 1}, "reservoir_quantile": {3, 2},
}

// checkSizeArgs applies the rules above to a FUNCTION expression.
func checkSizeArgs(m map[string]any, name string) error {
	args, _ := m["children"].([]any)
	lower := asciiLower(name)
	if sa, ok := aggregateSizes[lower]; ok && len(args) == sa.args {
		n, ok := constInt(args[sa.index])
		if !ok {
			return dberr.New(dberr.Unsupported, "%s: the size argument must be an integer constant (at most %d)", name, MaxAggregateN)
		}
		if n.Sign() < 0 || n.Cmp(big.NewInt(MaxAggregateN)) > 0 {
			return dberr.New(dberr.ResourceExhausted, "%s: the size argument %s is out of range (0 to %d)", name, n, MaxAggregateN)
		}
		return nil
	}
	switch lower {
	case "bitstring_agg":
		if len(args) != 3 {
			return dberr.New(dberr.Unsupported, "bitstring_agg needs its bounds as constants: bitstring_agg(x, min, max)")
		}
		lo, ok1 := constInt(args[1])
		hi, ok2 := constInt(args[2])
		if !ok1 || !ok2 {
			return dberr.New(dberr.Unsupported, "bitstring_agg: min and max must be integer constants")
		}
		if d := new(big.Int).Sub(hi, lo); d.Cmp(big.NewInt(MaxBitstringBits)) > 0 {
			return dberr.New(dberr.ResourceExhausted, "bitstring_agg: max - min is %s, more than %d", d, MaxBitstringBits)
		}
	case "regexp_replace":
		if len(args) < 3 {
			return nil // DuckDB refuses it
		}
		r, ok := constString(args[2])
		if !ok {
			return dberr.New(dberr.Unsupported, "regexp_replace: the replacement must be a string constant (at most %d bytes); use replace() for a computed replacement", MaxRegexpReplacement)
		}
		if len(r) > MaxRegexpReplacement {
			return dberr.New(dberr.ResourceExhausted, "regexp_replace: the replacement is %d bytes, more than %d", len(r), MaxRegexpReplacement)
		}
	}
	return nil
}

// constInt reads an integer CONSTANT expression.
func constInt(v any) (*big.Int, bool) {
	m, _ := v.(map[string]any)
	if m["class"] != "CONSTANT" {
		return nil, false
	}
	val, _ := m["value"].(map[string]any)
	typ, _ := val["type"].(map[string]any)
	id := str(typ["id"])
	if !integerTypes[id] && id != "HUGEINT" && id != "UHUGEINT" {
		return nil, false
	}
	num, ok := val["value"].(json.Number)
	if !ok {
		return nil, false
	}
	n, ok := new(big.Int).SetString(num.String(), 10)
	return n, ok
}

// constString reads a VARCHAR CONSTANT expression.
func constString(v any) (string, bool) {
	m, _ := v.(map[string]any)
	if m["class"] != "CONSTANT" {
		return "", false
	}
	val, _ := m["value"].(map[string]any)
	typ, _ := val["type"].(map[string]any)
	if !strings.EqualFold(str(typ["id"]), "VARCHAR") {
		return "", false
	}
	s, ok := val["value"].(string)
	return s, ok
}
