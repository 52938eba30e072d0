package layers

import (
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/floedb/floe"

// Layers, lowest first. A package belongs to the layer of its longest
// matching pattern ("x/..." matches x and everything under it).
var layers = []struct {
	name     string
	patterns []string
}{
	{"leaves", []string{"internal/...", "lakehouse/objstore/...", "lakehouse/dberr", "lakehouse/config", "lakehouse/password"}},
	{"manifest", []string{"manifest/..."}},
	{"engine: storage", []string{"lakehouse/..."}}, // every engine package not named below
	{"engine: jobs", []string{"lakehouse/jobs/..."}},
	{"engine: sql", []string{"lakehouse/sqlexec/...", "lakehouse/auth/...", "lakehouse/access/..."}},
	{"engine: assembly", []string{"lakehouse/node/..."}},
	{"livequery", []string{"livequery/..."}},
	{"server", []string{"server/...", "proto/..."}},
	{"entry points", []string{"cmd/...", "functions/...", "e2e/...", "internal/tools/...", "deploy/...", "bench/..."}},
}

// isolated packages import nothing of the module.
var isolated = []string{"lakehouse/objstore"}

// layerOf returns the index of pkg's layer (a path relative to the module).
func layerOf(pkg string) (int, bool) {
	best, bestLen := -1, -1
	for i, l := range layers {
		for _, p := range l.patterns {
			prefix, tree := strings.CutSuffix(p, "/...")
			if (pkg == prefix || (tree && strings.HasPrefix(pkg, prefix+"/"))) && len(prefix) > bestLen {
				best, bestLen = i, len(prefix)
			}
		}
	}
	return best, best >= 0
}

// moduleRoot finds the directory holding go.mod above the test's.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// imports returns, per package of the module (relative path), the module
// packages its non-test files import.
func imports(t *testing.T, root string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "tools" && filepath.Dir(path) == root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if dep, ok := strings.CutPrefix(p, module+"/"); ok {
				out[pkg][dep] = true
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.SkipDir) {
		t.Fatal(err)
	}
	return out
}

// TestLayering fails on an import that goes the wrong way: from a package
// to one of a higher layer.
func TestLayering(t *testing.T) {
	graph := imports(t, moduleRoot(t))
	if len(graph) < 20 {
		t.Fatalf("found only %d packages; is the module root right?", len(graph))
	}
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		from, ok := layerOf(pkg)
		if !ok {
			t.Errorf("package %s has no layer: add it to the layers of internal/layers (and to docs/ARCHITECTURE.md)", pkg)
			continue
		}
		deps := make([]string, 0, len(graph[pkg]))
		for d := range graph[pkg] {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, dep := range deps {
			for _, iso := range isolated {
				if pkg == iso {
					t.Errorf("%s imports %s: it is the bottom layer and imports nothing of Floe", pkg, dep)
				}
			}
			to, ok := layerOf(dep)
			if ok && to > from {
				t.Errorf("%s (layer %q) imports %s (layer %q): dependencies point down only; move the code, or invert the dependency with an interface declared by %s",
					pkg, layers[from].name, dep, layers[to].name, pkg)
			}
		}
	}
}

func TestLayerOf(t *testing.T) {
	for pkg, want := range map[string]string{
		"lakehouse/objstore":              "leaves",
		"lakehouse/objstore/objstoretest": "leaves",
		"internal/backoff":                "leaves",
		"internal/tools/benchdoc":         "entry points",
		"manifest":                        "manifest",
		"lakehouse/tablestore":            "engine: storage",
		"lakehouse/newthing":              "engine: storage",
		"lakehouse/jobs":                  "engine: jobs",
		"lakehouse/sqlexec":               "engine: sql",
		"lakehouse/node":                  "engine: assembly",
		"livequery":                       "livequery",
		"server/api":                      "server",
		"proto/floe/v1/floev1connect":     "server",
		"cmd/floe":                        "entry points",
		"functions/query":                 "entry points",
	} {
		if i, ok := layerOf(pkg); !ok || layers[i].name != want {
			t.Errorf("layerOf(%s) = %d %v, want %q", pkg, i, ok, want)
		}
	}
}
