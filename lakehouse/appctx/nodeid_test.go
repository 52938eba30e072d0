package appctx

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestNodeIDIsOnlyMadeByAppContext fails if any code outside this package
// and the config package makes up a node id: declares its own NodeID type,
// writes a NodeID composite literal, or assigns a literal, a Sprintf, a
// hostname or a pid to a NodeID field. (The seed's bug was
// NodeId::from(format!("node-{}", pid)) scattered across components.)
func TestNodeIDIsOnlyMadeByAppContext(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s", root)
	}
	violations, scanned := checkNodeIDs(t, root)
	if scanned < 10 {
		t.Fatalf("only %d Go files scanned; the walk is broken", scanned)
	}
	for _, v := range violations {
		t.Error(v)
	}
}

// The checker itself must catch each forbidden pattern, or the test above
// proves nothing.
func TestNodeIDCheckerCatchesViolations(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/nodeid/bad.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	violations, _ := checkNodeIDs(t, dir)
	var wantLines []int
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "// want:") {
			wantLines = append(wantLines, i+1)
		}
	}
	var gotLines []int
	pos := regexp.MustCompile(`bad\.go:(\d+)`)
	for _, v := range violations {
		m := pos.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("violation without position: %s", v)
		}
		n, _ := strconv.Atoi(m[1])
		gotLines = append(gotLines, n)
	}
	sort.Ints(gotLines)
	if !slices.Equal(gotLines, wantLines) {
		t.Fatalf("checker flagged lines %v, want %v:\n%s", gotLines, wantLines, strings.Join(violations, "\n"))
	}
}

var nodeIDName = regexp.MustCompile(`(?i)^node_?id$`)

// checkNodeIDs scans every Go file under root and returns the violations
// and the number of files scanned.
func checkNodeIDs(t *testing.T, root string) ([]string, int) {
	t.Helper()
	var out []string
	scanned := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "floe-data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		inAppctx := strings.HasPrefix(rel, "lakehouse/appctx/")
		inConfig := strings.HasPrefix(rel, "lakehouse/config/")
		isTest := strings.HasSuffix(name, "_test.go")

		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("parse %s: %v", rel, err)
			return nil
		}
		scanned++
		report := func(n ast.Node, what string) {
			out = append(out, fset.Position(n.Pos()).String()+": "+what)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeSpec:
				if nodeIDName.MatchString(n.Name.Name) && !inAppctx {
					report(n, "declares its own node id type "+n.Name.Name+"; use appctx.NodeID")
				}
			case *ast.CompositeLit:
				if isNodeIDType(n.Type) && !(inAppctx && name == "appctx.go") {
					report(n, "constructs a NodeID; only appctx.New may")
				}
				if isTest || inAppctx || inConfig {
					return true
				}
				for _, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && nodeIDName.MatchString(k.Name) && fabricated(kv.Value) {
							report(kv, "makes up a node id; pass AppContext.NodeID().String()")
						}
					}
				}
			case *ast.AssignStmt:
				if isTest || inAppctx || inConfig {
					return true
				}
				for i, lhs := range n.Lhs {
					sel, ok := lhs.(*ast.SelectorExpr)
					if !ok || !nodeIDName.MatchString(sel.Sel.Name) || i >= len(n.Rhs) {
						continue
					}
					if fabricated(n.Rhs[i]) {
						report(n, "makes up a node id; pass AppContext.NodeID().String()")
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, scanned
}

func isNodeIDType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "NodeID"
	case *ast.SelectorExpr:
		return e.Sel.Name == "NodeID"
	}
	return false
}

// fabricated reports whether e builds a node id from scratch: a string
// literal, a concatenation, a fmt.Sprint*, os.Hostname or os.Getpid call.
func fabricated(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				found = true
			}
		case *ast.BinaryExpr:
			if n.Op == token.ADD {
				found = true
			}
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				switch x.Name + "." + n.Sel.Name {
				case "fmt.Sprintf", "fmt.Sprint", "fmt.Sprintln", "os.Hostname", "os.Getpid", "strconv.Itoa":
					found = true
				}
			}
		}
		return !found
	})
	return found
}
