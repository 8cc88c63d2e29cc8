package envconf

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOneOwnerPerVariable: every SECAUDIT_ variable is read by exactly one
// non-test package of the module (its owner, which resolves it with its one
// parser), so no two packages can resolve one setting differently. It scans
// the non-test .go files of the whole tree for references to this package's
// names (envconf.SampleRate), to constants other packages define as one of
// them (instrumentation.EnvStrictRoutes), and for string literals naming a
// variable.
func TestOneOwnerPerVariable(t *testing.T) {
	owners := variableOwners(t, filepath.Join("..", ".."))
	for _, name := range known {
		// secaudit doctor reads every variable to report on it, with the
		// owners' parsers and constructors (ReadFrom); it configures nothing.
		pkgs := slices.DeleteFunc(owners[name], func(dir string) bool { return dir == inspector })
		switch len(pkgs) {
		case 1:
			t.Logf("%-36s %s", name, pkgs[0])
		case 0:
			t.Errorf("%s is read by no package", name)
		default:
			t.Errorf("%s is read by %d packages, want one owner: %s", name, len(pkgs), strings.Join(pkgs, ", "))
		}
	}
}

// inspector is the package that reads every variable to report on it
// (secaudit doctor), never to configure anything.
const inspector = "cmd/secaudit"

// variableOwners maps each SECAUDIT_ name to the directories (packages,
// relative to root) of the non-test files that refer to it, sorted.
func variableOwners(t *testing.T, root string) map[string][]string {
	t.Helper()
	const module = "github.com/secaudit/secaudit"
	consts := map[string]string{} // Go name in this package → variable name
	self, err := parser.ParseFile(token.NewFileSet(), "envconf.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(self, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, id := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "SECAUDIT_") {
							consts[id.Name] = v
						}
					}
				}
			}
		}
		return true
	})
	if len(consts) < len(known) {
		t.Fatalf("found %d SECAUDIT_ constants in envconf.go, want at least %d", len(consts), len(known))
	}
	selfDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// Parse every non-test file outside this package.
	type file struct {
		dir, importPath string
		f               *ast.File
	}
	var files []file
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if base := d.Name(); path != root && (base == "testdata" || base == "vendor" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.Dir(path)
		if abs, _ := filepath.Abs(dir); abs == selfDir {
			return nil // the names' definitions
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, dir)
		rel = filepath.ToSlash(rel)
		ip := module
		if rel != "." {
			ip += "/" + rel
		}
		files = append(files, file{rel, ip, f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// names maps "import/path.Name" to the variable it names: this
	// package's constants, and the exported constants other packages
	// define as one of them (instrumentation.EnvStrictRoutes).
	names := map[string]string{}
	for name, v := range consts {
		names[module+"/internal/envconf."+name] = v
	}
	imports := func(f *ast.File) map[string]string { // local name → import path
		m := map[string]string{}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			local := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			m[local] = p
		}
		return m
	}
	named := func(imps map[string]string, e ast.Expr) (string, bool) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return "", false
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok || imps[id.Name] == "" {
			return "", false
		}
		v, ok := names[imps[id.Name]+"."+sel.Sel.Name]
		return v, ok
	}
	for _, fl := range files {
		imps := imports(fl.f)
		for _, decl := range fl.f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i < len(vs.Values) && id.IsExported() {
							if v, ok := named(imps, vs.Values[i]); ok {
								names[fl.importPath+"."+id.Name] = v
							}
						}
					}
				}
			}
		}
	}
	owners := map[string][]string{}
	add := func(name, dir string) {
		if !slices.Contains(owners[name], dir) {
			owners[name] = append(owners[name], dir)
		}
	}
	for _, fl := range files {
		imps := imports(fl.f)
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if v, ok := named(imps, n); ok {
					add(v, fl.dir)
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if v, err := strconv.Unquote(n.Value); err == nil && slices.Contains(known, v) {
						add(v, fl.dir)
					}
				}
			}
			return true
		})
	}
	for _, dirs := range owners {
		slices.Sort(dirs)
	}
	return owners
}
