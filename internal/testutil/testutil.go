// Package testutil holds test helpers that several packages share: gating
// tests on external tools (skipped on a laptop without them, failed in CI),
// validating MPDs against the DASH schema with xmllint, and locating the
// repository's neighbours (../shared).
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where a missing tool
// is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of the named executable, skipping the test
// when it is missing, or failing it in CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not on PATH")
	}
	return p
}

// Missing skips the test, or fails it in CI, because of what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and %s", what)
	}
	t.Skip(what)
}

// SharedDir returns ../shared beside the module root (or $STREAMCDN_SHARED).
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("STREAMCDN_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(shared); err != nil {
				Missing(t, "the shared directory "+shared+" is missing")
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// ValidateMPD validates the MPD file at path against the DASH schema
// (ISO/IEC 23009-1, ../shared/dash-schema) with xmllint, offline.
func ValidateMPD(t testing.TB, path string) {
	t.Helper()
	xmllint := RequireTool(t, "xmllint")
	schema := filepath.Join(SharedDir(t), "dash-schema")
	cmd := exec.Command(xmllint, "--nonet", "--noout", "--schema", filepath.Join(schema, "DASH-MPD.xsd"), path)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+filepath.Join(schema, "catalog.xml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("xmllint: %s does not validate: %v\n%s", path, err, out)
	}
}
