package vrrp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependencyBoundary checks that the package holding the pure machine
// pulls in no socket-level code: not package net (and the network stack
// behind it), golang.org/x/net (also as the standard library's vendored
// copy), x/sys or the mdlayher packages (issue: "go list -deps of the
// package that holds the machine must not include golang.org/x/net, the
// mdlayher packages or syscall-level networking"). syscall itself comes
// with fmt and os and is allowed.
func TestDependencyBoundary(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH: cannot list dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{"golang.org/x/net", "golang.org/x/sys", "github.com/mdlayher/", "github.com/vishvananda/"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), deps)
	}
	for _, dep := range deps {
		if dep == "net" || strings.HasPrefix(dep, "net/") && dep != "net/netip" {
			t.Errorf("package vrrp depends on %s", dep)
		}
		for _, f := range forbidden {
			if strings.HasPrefix(strings.TrimPrefix(dep, "vendor/"), f) {
				t.Errorf("package vrrp depends on %s", dep)
			}
		}
	}
}

// TestMachinePurity checks the source files of the machine, of the
// RawRouter and of the heap it uses: no clock reads, sleeps, timers,
// goroutines, locks or I/O packages. They are driven by the time their
// caller passes in (DESIGN.md, "The pure machine" and "The runtime").
func TestMachinePurity(t *testing.T) {
	files, err := filepath.Glob("machine*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "types.go", "rawrouter.go", "hooks.go", "../internal/dheap/dheap.go")
	bannedImports := map[string]bool{"sync": true, "sync/atomic": true, "net": true, "os": true, "syscall": true, "math/rand": true, "math/rand/v2": true, "log": true, "log/slog": true}
	bannedTime := map[string]bool{"Now": true, "Sleep": true, "After": true, "AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true, "Since": true, "Until": true}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		n++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if bannedImports[p] {
				t.Errorf("%s imports %q", name, p)
			}
		}
		ast.Inspect(f, func(node ast.Node) bool {
			switch x := node.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement at %v", name, fset.Position(x.Pos()))
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "time" && bannedTime[x.Sel.Name] {
					t.Errorf("%s: time.%s at %v", name, x.Sel.Name, fset.Position(x.Pos()))
				}
			}
			return true
		})
	}
	if n < 5 {
		t.Fatalf("found %d machine source files; the test is looking in the wrong place", n)
	}
}
