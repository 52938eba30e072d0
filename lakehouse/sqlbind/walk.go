package sqlbind

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/floedb/floe/lakehouse/dberr"
)

// The parse tree is JSON decoded into any: objects are map[string]any,
// numbers json.Number. Three kinds of object carry a meaning of their own:
//
//   - expressions have a "class" (FUNCTION, SUBQUERY, CAST, …);
//   - query nodes, table references, result modifiers, ORDER BY terms and
//     type details have a string "type" (SELECT_NODE, BASE_TABLE, …);
//   - logical types have an "id" (INTEGER, LIST, UNBOUND, …).
//
// Every other object (a statement, a CTE entry, a constant's value, sample
// options, …) is plain: the walker looks into all of its fields. So no
// field is skipped, and any expression, node or reference kind the walker
// does not know is refused rather than passed over.

// foundRef is a BASE_TABLE reference met by the walker.
type foundRef struct {
	TableRef
	// cte is set when the name binds to a CTE in scope; such references
	// are left alone.
	cte bool
}

// walker checks a parse tree and collects its table references and
// parameters.
type walker struct {
	query    string
	refs     []foundRef
	params   map[int]bool
	maxParam int
}

// scope is the chain of CTE names visible at a point of the tree, innermost
// first.
type scope struct {
	name   string
	parent *scope
}

func (s *scope) with(name string) *scope { return &scope{name: name, parent: s} }

// has reports whether name is a CTE in scope. DuckDB compares names ASCII
// case-insensitively, and so must Bind: with Unicode folding, a CTE "É"
// would hide the table "é", which DuckDB reads from its catalog.
func (s *scope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if asciiEqualFold(s.name, name) {
			return true
		}
	}
	return false
}

// statement walks a statement ({"node": …, "named_param_map": …}).
func (w *walker) statement(stmt map[string]any) error {
	if _, ok := stmt["node"].(map[string]any); !ok {
		return refuse("a statement without a query")
	}
	return w.walk(stmt, nil)
}

func (w *walker) walk(v any, sc *scope) error {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if err := w.walk(e, sc); err != nil {
				return err
			}
		}
	case map[string]any:
		return w.object(v, sc)
	}
	return nil
}

func (w *walker) object(m map[string]any, sc *scope) error {
	if class, ok := m["class"]; ok {
		c, _ := class.(string)
		return w.expression(m, c, sc)
	}
	if id, ok := m["id"].(string); ok {
		if err := checkType(id, ""); err != nil {
			return err
		}
		return w.fields(m, sc)
	}
	t, ok := m["type"].(string)
	if !ok {
		return w.fields(m, sc)
	}
	switch {
	case queryNodes[t]:
		return w.node(m, t, sc)
	case tableRefs[t]:
		return w.tableRef(m, t, sc)
	case auxiliaryTypes[t]:
		return w.fields(m, sc)
	case strings.HasSuffix(t, "_TYPE_INFO"):
		name, _ := m["name"].(string)
		if err := checkType(strings.TrimSuffix(t, "_TYPE_INFO"), name); err != nil {
			return err
		}
		return w.fields(m, sc)
	}
	return refuse(describeKind(t))
}

// fields walks every field of m but skip and its "type" and "class" names,
// in key order (so that the first refusal reported does not vary).
func (w *walker) fields(m map[string]any, sc *scope, skip ...string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, isString := m[k].(string); isString && (k == "type" || k == "class") || slices.Contains(skip, k) {
			continue
		}
		if k == "pivot_enum" {
			if s, _ := m[k].(string); s != "" {
				return dberr.New(dberr.Unsupported, "PIVOT … IN %s (an enum type) is not supported: list the values", s)
			}
		}
		if err := w.walk(m[k], sc); err != nil {
			return err
		}
	}
	return nil
}

// node walks a query node. Its WITH clause (cte_map) is in scope for the
// whole node; the i-th CTE's body sees the CTEs before it only; the step
// (right side) of a recursive CTE also sees the CTE's own name.
func (w *walker) node(m map[string]any, t string, sc *scope) error {
	inner := sc
	if cm, ok := m["cte_map"]; ok && cm != nil {
		// The WITH clause is walked here and skipped below: it must hold
		// nothing but its entries.
		cmap, _ := cm.(map[string]any)
		entries, ok := cmap["map"].([]any)
		if !ok || len(cmap) != 1 {
			return refuse("a malformed WITH clause")
		}
		for _, e := range entries {
			entry, _ := e.(map[string]any)
			name, _ := entry["key"].(string)
			def, ok := entry["value"].(map[string]any)
			if name == "" || !ok || len(entry) != 2 {
				return refuse("a malformed WITH clause")
			}
			if err := w.walk(def, inner); err != nil {
				return err
			}
			inner = inner.with(name)
		}
	}
	if t == "RECURSIVE_CTE_NODE" {
		name, _ := m["cte_name"].(string)
		if name == "" {
			return refuse("a recursive CTE without a name")
		}
		if err := w.walk(m["right"], inner.with(name)); err != nil {
			return err
		}
		return w.fields(m, inner, "cte_map", "right")
	}
	return w.fields(m, inner, "cte_map")
}

// tableRef walks a table reference.
func (w *walker) tableRef(m map[string]any, t string, sc *scope) error {
	switch t {
	case "BASE_TABLE":
		return w.baseTable(m, sc)
	case "TABLE_FUNCTION":
		return w.tableFunction(m, sc)
	}
	return w.fields(m, sc)
}

var baseTableFields = set("type", "alias", "sample", "query_location", "schema_name", "table_name",
	"column_name_alias", "catalog_name", "at_clause")

func (w *walker) baseTable(m map[string]any, sc *scope) error {
	if err := knownFields(m, baseTableFields, "a table reference"); err != nil {
		return err
	}
	r := foundRef{TableRef: TableRef{
		Catalog: str(m["catalog_name"]),
		Schema:  str(m["schema_name"]),
		Name:    str(m["table_name"]),
		Alias:   str(m["alias"]),
	}}
	loc, ok := location(m["query_location"], len(w.query))
	if !ok {
		return unsafeRewrite("DuckDB gives no position for table %s", r.qualified())
	}
	r.Location = loc
	at := m["at_clause"]
	if r.Catalog == "" && r.Schema == "" && sc.has(r.Name) {
		if at != nil {
			return dberr.New(dberr.Unsupported, "AT (…) on the CTE %s is not supported", r.Name)
		}
		r.cte = true
	} else if at != nil {
		v, err := w.atClause(at, r.qualified())
		if err != nil {
			return err
		}
		r.AtVersion = v
	}
	w.refs = append(w.refs, r)
	return w.walk(m["sample"], sc)
}

// atClause reads AT (VERSION => n) or AT (VERSION => $n).
func (w *walker) atClause(v any, table string) (*AtVersion, error) {
	at, _ := v.(map[string]any)
	unit, _ := at["unit"].(string)
	if !asciiEqualFold(unit, "VERSION") {
		return nil, dberr.New(dberr.Unsupported, "AT (%s => …) on %s is not supported: use AT (VERSION => n)", unit, table)
	}
	expr, _ := at["expr"].(map[string]any)
	switch expr["class"] {
	case "PARAMETER":
		n, err := w.parameter(expr)
		if err != nil {
			return nil, err
		}
		return &AtVersion{Param: n}, nil
	case "CONSTANT":
		val, _ := expr["value"].(map[string]any)
		typ, _ := val["type"].(map[string]any)
		id := str(typ["id"])
		if integerTypes[id] {
			num, _ := val["value"].(json.Number)
			if n, err := strconv.ParseInt(num.String(), 10, 64); err == nil {
				return &AtVersion{Version: n}, nil
			}
		}
		if integerTypes[id] || id == "HUGEINT" || id == "UHUGEINT" {
			return nil, dberr.New(dberr.InvalidArgument, "AT (VERSION => …) on %s: the version is out of range", table)
		}
	}
	return nil, dberr.New(dberr.Unsupported, "AT (VERSION => …) on %s takes an integer or a parameter such as $1", table)
}

var tableFunctionFields = set("type", "alias", "sample", "query_location", "function", "column_name_alias", "with_ordinality")

func (w *walker) tableFunction(m map[string]any, sc *scope) error {
	if err := knownFields(m, tableFunctionFields, "a table function"); err != nil {
		return err
	}
	fn, _ := m["function"].(map[string]any)
	if fn["class"] != "FUNCTION" {
		return refuse("a table function that is not a function call")
	}
	name := qualifiedName(str(fn["catalog"]), str(fn["schema"]), str(fn["function_name"]))
	if !allowedTableFunctions[asciiLower(name)] {
		return dberr.New(dberr.PermissionDenied, "table function %s is not allowed: query Floe tables by name", name)
	}
	return w.fields(m, sc)
}

// expression checks one expression and walks its fields.
func (w *walker) expression(m map[string]any, class string, sc *scope) error {
	switch class {
	case "FUNCTION", "WINDOW":
		if err := checkFunction(str(m["catalog"]), str(m["schema"]), str(m["function_name"])); err != nil {
			return err
		}
		if err := checkSizeArgs(m, str(m["function_name"])); err != nil {
			return err
		}
		if export, _ := m["export_state"].(bool); export {
			return dberr.New(dberr.PermissionDenied, "EXPORT_STATE is not allowed")
		}
	case "PARAMETER":
		if _, err := w.parameter(m); err != nil {
			return err
		}
	case "DEFAULT":
		return dberr.New(dberr.Unsupported, "DEFAULT is not a value in a query")
	default:
		if !expressionClasses[class] {
			return refuse(fmt.Sprintf("the expression kind %s", class))
		}
	}
	return w.fields(m, sc)
}

// maxParams bounds parameter numbers.
const maxParams = 1 << 16

// parameter records a positional parameter and returns its number.
func (w *walker) parameter(m map[string]any) (int, error) {
	id := str(m["identifier"])
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || strings.TrimLeft(id, "0123456789") != "" {
		return 0, dberr.New(dberr.Unsupported, "named parameter $%s is not supported: use $1, $2, … or ?", id)
	}
	if n > maxParams {
		return 0, dberr.New(dberr.InvalidArgument, "parameter $%d is out of range (at most $%d)", n, maxParams)
	}
	if w.params == nil {
		w.params = map[int]bool{}
	}
	w.params[n] = true
	w.maxParam = max(w.maxParam, n)
	return n, nil
}

// refuse is the error for a construct Bind does not accept.
func refuse(what string) error {
	return dberr.New(dberr.PermissionDenied, "%s is not accepted in a Floe query", what)
}

func describeKind(t string) string {
	switch t {
	case "SHOW_REF":
		return "DESCRIBE, SHOW or SUMMARIZE"
	case "CTE_NODE":
		return "a materialized CTE node"
	}
	return "the construct " + t
}

// knownFields refuses an object with a field Bind does not know: a new
// DuckDB field could change what the reference reads.
func knownFields(m map[string]any, known map[string]bool, what string) error {
	for k := range m {
		if !known[k] {
			return refuse(fmt.Sprintf("%s with field %q", what, k))
		}
	}
	return nil
}

// location reads a query_location: a byte offset, or 2^64-1 for none.
func location(v any, n int) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	loc, err := strconv.ParseUint(num.String(), 10, 64)
	if err != nil || loc >= uint64(n) {
		return 0, false
	}
	return int(loc), true
}

func (r TableRef) qualified() string { return qualifiedName(r.Catalog, r.Schema, r.Name) }

func qualifiedName(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// asciiLower lowercases ASCII letters only, as DuckDB does for names.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func asciiEqualFold(a, b string) bool {
	return len(a) == len(b) && asciiLower(a) == asciiLower(b)
}
