// Package streamcdn_test holds repository-wide checks: every package has
// one package doc, and library packages do not import each other across
// the boundaries DESIGN.md draws.
package streamcdn_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs fails when a directory of Go code has no package comment
// or more than one (tailscale's pkgdoc_test).
func TestPackageDocs(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
			return filepath.SkipDir
		}
		docs, err := packageComments(path)
		if err != nil {
			return err
		}
		for name, n := range docs {
			if n != 1 {
				t.Errorf("package %s in %s has %d package comments, want 1", name, path, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// packageComments counts the package comments of each package in dir's
// non-test Go files, whatever their build tags.
func packageComments(dir string) (map[string]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	docs := map[string]int{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if _, seen := docs[f.Name.Name]; !seen {
			docs[f.Name.Name] = 0
		}
		if f.Doc != nil {
			docs[f.Name.Name]++
		}
	}
	return docs, nil
}

// TestImportBoundaries keeps components talking over HTTP and DNS only:
// the edge does not import the origin, the DNS neither, the manifest
// package does no HTTP, and no library package imports the binary.
func TestImportBoundaries(t *testing.T) {
	const mod = "github.com/streamcdn/streamcdn/"
	forbidden := map[string][]string{
		"./manifest": {mod + "origin", mod + "edge", "net/http"},
		"./origin":   {mod + "edge", mod + "cdndns", mod + "cmd/streamcdn"},
		"./edge":     {mod + "origin", mod + "cdndns", mod + "cmd/streamcdn"},
		"./cdndns":   {mod + "origin", mod + "edge", mod + "cmd/streamcdn"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range bad {
			for _, d := range deps {
				if d == b {
					t.Errorf("%s imports %s", pkg, b)
				}
			}
		}
	}
}
