// Package streamcdn_test holds repository-wide checks: every package has
// one package doc, and library packages do not import each other across
// the boundaries DESIGN.md draws.
package streamcdn_test

import (
	"go/parser"
	"go/token"
	"io/fs"
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
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			docs := 0
			for _, f := range pkg.Files {
				if f.Doc != nil {
					docs++
				}
			}
			if docs != 1 {
				t.Errorf("package %s in %s has %d package comments, want 1", name, path, docs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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
