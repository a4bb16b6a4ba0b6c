package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIsTerminal: a file or a buffer is not a terminal.
func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&bytes.Buffer{}) || IsTerminal(io.Discard) {
		t.Error("a file, a buffer or io.Discard taken for a terminal")
	}
}

// TestPlainLines: off a terminal, lines are written at most every
// PlainEvery, and always on Flush, plain (no cursor movements); the
// lines after a Flush are new ones.
func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	l := New(&out, 0)
	l.Set("e1", "e1 "+Bar(1, 3, 6))
	l.Set("e2", "e2 "+Bar(0, 3, 6))
	if out.Len() != 0 {
		t.Errorf("drawn at once, off a terminal: %q", out.String())
	}
	l.last = l.last.Add(-PlainEvery)
	l.Set("e1", "e1 "+Bar(2, 3, 6))
	l.Set("e1", "e1 "+Bar(3, 3, 6)) // not due again yet
	if want := "e1 [####..]\ne2 [......]\n"; out.String() != want {
		t.Errorf("after PlainEvery: %q, want %q", out.String(), want)
	}
	l.Flush()
	l.Set("t2", "t2 "+Bar(9, 3, 6)) // more done than total: a full bar
	l.Flush()
	want := "e1 [####..]\ne2 [......]\ne1 [######]\ne2 [......]\nt2 [######]\n"
	if out.String() != want || strings.ContainsAny(out.String(), "\r\033") {
		t.Errorf("lines = %q, want %q", out.String(), want)
	}
}
