package dberr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"
)

// TestCodesListsEveryCode: every Code constant declared in this package
// is in Codes, so mappings checked against Codes cover new codes too.
func TestCodesListsEveryCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "dberr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, name := range vs.Names {
				n++
				lit := vs.Values[0].(*ast.BasicLit).Value
				if !slices.Contains(Codes, Code(lit[1:len(lit)-1])) {
					t.Errorf("code %s is missing from Codes", name.Name)
				}
			}
		}
	}
	if n != len(Codes) {
		t.Errorf("%d codes declared, %d in Codes", n, len(Codes))
	}
}
