package greenmint_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageAndExportedNameIsDocumented walks the module: every
// package has a doc comment, and every exported function, method of an
// exported type, type, constant and variable has a doc comment, its own or
// its group's (see undocumented).
func TestEveryPackageAndExportedNameIsDocumented(t *testing.T) {
	pkgDoc := map[string]bool{}
	err := filepath.Walk(".", func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && (strings.HasPrefix(info.Name(), ".") && p != "." || info.Name() == "testdata" || info.Name() == "bin") {
			return filepath.SkipDir
		}
		if info.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		fs := token.NewFileSet()
		f, err := parser.ParseFile(fs, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(p)
		if _, ok := pkgDoc[dir]; !ok {
			pkgDoc[dir] = false
		}
		if f.Doc != nil {
			pkgDoc[dir] = true
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() || d.Doc != nil || !exportedReceiver(d) {
					continue
				}
				t.Errorf("%s: %s has no doc comment", fs.Position(d.Pos()), d.Name.Name)
			case *ast.GenDecl:
				for _, name := range undocumented(d) {
					t.Errorf("%s: %s %s has no doc comment (on it or on its group)", fs.Position(name.Pos()), d.Tok, name.Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, ok := range pkgDoc {
		if !ok {
			t.Errorf("package in %s has no package doc comment", dir)
		}
	}
}

// undocumented returns the exported names a type, const or var
// declaration leaves without a doc comment. As Go's doc conventions have
// it, a comment on a grouped declaration documents every name in the
// group; otherwise each spec needs its own doc comment (a trailing line
// comment is not a doc comment).
func undocumented(d *ast.GenDecl) []*ast.Ident {
	if d.Doc != nil {
		return nil
	}
	var out []*ast.Ident
	for _, sp := range d.Specs {
		switch sp := sp.(type) {
		case *ast.TypeSpec:
			if sp.Name.IsExported() && sp.Doc == nil {
				out = append(out, sp.Name)
			}
		case *ast.ValueSpec:
			if sp.Doc != nil {
				continue
			}
			for _, n := range sp.Names {
				if n.IsExported() {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

func exportedReceiver(d *ast.FuncDecl) bool {
	if d.Recv == nil {
		return true
	}
	t := d.Recv.List[0].Type
	if st, ok := t.(*ast.StarExpr); ok {
		t = st.X
	}
	id, ok := t.(*ast.Ident)
	return !ok || id.IsExported()
}
