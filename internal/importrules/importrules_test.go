package importrules_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

const module = "github.com/realtimekit/realtime"

// graph maps each package of the module (by path relative to the module
// root, "." for the root) to the module packages it imports, outside
// tests.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	g := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module (chaos)
			}
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		var deps []string
		for _, imp := range pkg.Imports {
			if imp == module {
				deps = append(deps, ".")
			} else if p, ok := strings.CutPrefix(imp, module+"/"); ok {
				deps = append(deps, p)
			}
		}
		g[rel] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(g) < 10 {
		t.Fatalf("found only %d packages: %v", len(g), g)
	}
	return g
}

// closure returns every module package pkg imports, directly or not.
func closure(g map[string][]string, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range g[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func underAny(pkg string, dirs ...string) bool {
	return slices.ContainsFunc(dirs, func(d string) bool { return under(pkg, d) })
}

// isRig reports whether pkg is a test rig: bench/, internal/bench/ and the
// like, wherever it lives.
func isRig(pkg string) bool {
	return slices.Contains(strings.Split(pkg, "/"), "bench")
}

// public reports whether pkg is part of what users import.
func public(pkg string) bool {
	return !underAny(pkg, "internal", "cmd", "examples", "integration") && !isRig(pkg)
}

// The layers, lowest first: a package may import its own layer and lower
// ones, never a higher one.
var layers = [][]string{
	{"codec"},
	{"transport"},
	{"fallback", "reconnect", "store"},
	{"internal/engine"},
	{"."},
}

func layerOf(pkg string) int {
	for i, dirs := range layers {
		for _, d := range dirs {
			if d == "." && pkg == "." || d != "." && under(pkg, d) {
				return i
			}
		}
	}
	return -1
}

func TestImportRules(t *testing.T) {
	g := graph(t)
	for pkg := range g {
		deps := closure(g, pkg)
		for _, d := range deps {
			// Lower layers never import higher ones.
			if lp, ld := layerOf(pkg), layerOf(d); lp >= 0 && ld > lp {
				t.Errorf("%s imports %s: a lower layer imports a higher one", pkg, d)
			}
			// Transports and codecs know nothing of client or server.
			if underAny(pkg, "codec", "transport") && (d == "." || underAny(d, "fallback", "reconnect", "internal/engine", "internal/session", "internal/server", "server", "mock")) {
				t.Errorf("%s imports %s: transports and codecs import nothing of the client or server", pkg, d)
			}
			// The engine never reaches back into the façade.
			if under(pkg, "internal/engine") && d == "." {
				t.Errorf("%s imports the root package", pkg)
			}
			// The server side knows nothing of the client.
			if underAny(pkg, "internal/server", "server", "internal/serverhooks") && (d == "." || underAny(d, "internal/engine", "internal/session", "fallback", "reconnect")) {
				t.Errorf("%s imports %s: the server imports nothing of the client", pkg, d)
			}
			// Nothing public imports a test rig.
			if public(pkg) && isRig(d) {
				t.Errorf("public package %s imports the rig %s", pkg, d)
			}
		}
	}
}

// The rules see what they are meant to see: a graph that breaks each one
// is caught.
func TestImportRulesCatchViolations(t *testing.T) {
	g := map[string][]string{
		"codec":           {"transport"},
		"transport/sse":   {"codec"},
		"internal/engine": {"."},
		".":               {"internal/engine", "bench"},
	}
	if !slices.Contains(closure(g, "codec"), "transport") {
		t.Fatal("closure misses a direct import")
	}
	if !slices.Contains(closure(g, "transport/sse"), "transport") {
		t.Fatal("closure misses an indirect import")
	}
	if layerOf("codec") >= layerOf("transport/sse") || layerOf("internal/engine") >= layerOf(".") {
		t.Fatal("layers out of order")
	}
	if !public(".") || public("internal/server") || public("bench") || public("internal/bench") || !isRig("internal/bench") {
		t.Fatal("public/rig classification wrong")
	}
}
