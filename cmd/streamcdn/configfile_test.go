package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestComponentConfigFiles: edge and origin take --config, and refuse a
// broken one before they listen.
func TestComponentConfigFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("upstream: http://127.0.0.1:1\nlisten: 127.0.0.1:0\ncapacty: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"edge", "origin"} {
		err := run(t.Context(), []string{cmd, "--config", bad}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "capacty (line 3): unknown field") {
			t.Errorf("%s --config with an unknown field: %v", cmd, err)
		}
	}
}
