package greenmint_test

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/types/typeutil"
)

// modulePath is this module's path: the printf-like error constructors
// checked are fmt.Errorf and those declared in this module.
const modulePath = "github.com/greenmint/greenmint"

// TestErrorsKeepTheirCause fails where an error value is formatted into an
// error's text instead of kept as its cause: an argument of type error (or
// its Error() string) given to fmt.Errorf with another verb than %w, or
// to any printf-like constructor of this module (greenmint.Errorf and the
// like cannot wrap: the error goes through greenmint.E). It loads and
// type-checks the whole module, so -short skips it.
func TestErrorsKeepTheirCause(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks the whole module")
	}
	pkgs := loadPackages(t, "./...")
	var checked int
	var found []string
	for _, p := range pkgs {
		checked++
		found = append(found, flattenedErrors(p)...)
	}
	if checked < 10 {
		t.Fatalf("checked %d packages: the module did not load", checked)
	}
	for _, f := range found {
		t.Errorf("%s", f)
	}
	if len(found) > 0 {
		t.Log("keep the cause: fmt.Errorf(\"...: %w\", err), or greenmint.E(code, op, err, \"...\") for a coded error")
	}
}

// TestErrorsKeepTheirCauseFindsPlantedWraps runs the check on a package
// with planted mistakes (testdata/errwrap) and on its correct lines.
func TestErrorsKeepTheirCauseFindsPlantedWraps(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks a package")
	}
	pkgs := loadPackages(t, "./testdata/errwrap")
	if len(pkgs) != 1 {
		t.Fatalf("loaded %d packages", len(pkgs))
	}
	var got []string
	for _, f := range flattenedErrors(pkgs[0]) {
		// "testdata/errwrap/bad.go:12: ...": the line must have a "// want".
		got = append(got, f[:strings.Index(f, ": ")])
	}
	want := wantMarkers(t, pkgs[0])
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("findings at %v, want at %v (the lines marked // want)", got, want)
	}
}

func loadPackages(t *testing.T, pattern string) []*packages.Package {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}
	pkgs, err := packages.Load(cfg, pattern)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("%s: %v", p.PkgPath, e)
		}
	}
	return pkgs
}

// wantMarkers returns "file:line" of every line with a "// want" comment.
func wantMarkers(t *testing.T, p *packages.Package) []string {
	t.Helper()
	var want []string
	for _, f := range p.Syntax {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.HasPrefix(c.Text, "// want") {
					want = append(want, position(p, c.Pos()))
				}
			}
		}
	}
	sort.Strings(want)
	return want
}

var errorType = types.Universe.Lookup("error").Type().Underlying().(*types.Interface)

// flattenedErrors returns "file:line: what" for each call in p that
// formats an error value into an error's text.
func flattenedErrors(p *packages.Package) []string {
	var out []string
	for _, f := range p.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn := typeutil.StaticCallee(p.TypesInfo, call)
			if fn == nil {
				return true
			}
			format, canWrap, ok := printfLike(fn)
			if !ok || call.Ellipsis.IsValid() || format >= len(call.Args) {
				return true
			}
			where := position(p, call.Pos())
			name := fn.Name()
			if fn.Pkg() != nil {
				name = fn.Pkg().Name() + "." + name
			}
			verbs, known := formatVerbs(p.TypesInfo, call.Args[format])
			for i, arg := range call.Args[format+1:] {
				what := errorValue(p.TypesInfo, arg)
				if what == "" {
					continue
				}
				verb, ok := verbs[i]
				switch {
				case !known:
					out = append(out, fmt.Sprintf("%s: %s formats %s with a format that is not a constant", where, name, what))
				case canWrap && ok && verb == 'w':
				case canWrap:
					out = append(out, fmt.Sprintf("%s: %s formats %s with %%%c: wrap it with %%w", where, name, what, verb))
				default:
					out = append(out, fmt.Sprintf("%s: %s formats %s into its message: keep it as the cause with greenmint.E", where, name, what))
				}
			}
			return true
		})
	}
	return out
}

// position renders pos as "file:line", the file relative to the module's
// root.
func position(p *packages.Package, pos token.Pos) string {
	at := p.Fset.Position(pos)
	name := at.Filename
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, name); err == nil {
			name = rel
		}
	}
	return name + ":" + strconv.Itoa(at.Line)
}

// printfLike reports whether fn builds an error from a format and its
// arguments: fmt.Errorf, or a function or method of this module whose
// last parameters are (format string, args ...any) and that returns an
// error. It returns the format's index and whether %w wraps.
func printfLike(fn *types.Func) (format int, canWrap, ok bool) {
	if fn.Pkg() == nil {
		return 0, false, false
	}
	if fn.Pkg().Path() == "fmt" {
		return 0, true, fn.Name() == "Errorf"
	}
	if fn.Pkg().Path() != modulePath && !strings.HasPrefix(fn.Pkg().Path(), modulePath+"/") {
		return 0, false, false
	}
	sig := fn.Type().(*types.Signature)
	params := sig.Params()
	if !sig.Variadic() || params.Len() < 2 {
		return 0, false, false
	}
	if b, ok := params.At(params.Len() - 2).Type().(*types.Basic); !ok || b.Kind() != types.String {
		return 0, false, false
	}
	if s, ok := params.At(params.Len() - 1).Type().(*types.Slice); !ok || !types.IsInterface(s.Elem()) || s.Elem().Underlying().(*types.Interface).NumMethods() != 0 {
		return 0, false, false
	}
	for i := range sig.Results().Len() {
		if types.Implements(sig.Results().At(i).Type(), errorType) {
			return params.Len() - 2, false, true
		}
	}
	return 0, false, false
}

// errorValue describes arg when it is an error value or an error's
// Error() text, and returns "" otherwise.
func errorValue(info *types.Info, arg ast.Expr) string {
	tv, ok := info.Types[arg]
	if !ok || tv.Type == nil || tv.IsNil() {
		return ""
	}
	if types.Implements(tv.Type, errorType) {
		return "the error " + types.ExprString(arg)
	}
	if call, ok := arg.(*ast.CallExpr); ok && len(call.Args) == 0 {
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Error" {
			if rt, ok := info.Types[sel.X]; ok && types.Implements(rt.Type, errorType) {
				return "the text of the error " + types.ExprString(sel.X)
			}
		}
	}
	return ""
}

// formatVerbs maps each argument's index (after the format) to the verb
// that formats it. known is false when the format is not a constant.
func formatVerbs(info *types.Info, format ast.Expr) (verbs map[int]rune, known bool) {
	tv, ok := info.Types[format]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return nil, false
	}
	s := constant.StringVal(tv.Value)
	verbs = map[int]rune{}
	arg := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		i++
		for i < len(s) && strings.IndexByte("+-# 0", s[i]) >= 0 {
			i++
		}
		index := func() {
			if i < len(s) && s[i] == '[' {
				if j := strings.IndexByte(s[i:], ']'); j > 0 {
					if n, err := strconv.Atoi(s[i+1 : i+j]); err == nil {
						arg = n - 1
					}
					i += j + 1
				}
			}
		}
		number := func() {
			index()
			if i < len(s) && s[i] == '*' {
				arg++
				i++
				return
			}
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		}
		number() // width
		if i < len(s) && s[i] == '.' {
			i++
			number() // precision
		}
		index()
		if i >= len(s) {
			break
		}
		verb, size := utf8.DecodeRuneInString(s[i:])
		i += size - 1
		if verb == '%' {
			continue
		}
		verbs[arg] = verb
		arg++
	}
	return verbs, true
}
