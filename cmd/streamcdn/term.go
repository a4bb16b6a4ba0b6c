package main

import (
	"io"
	"os"
	"time"
)

// isTerminal reports whether w is a terminal, where progress is drawn in
// place; elsewhere (a file, a pipe, CI's log) it is written as plain
// lines, now and then.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// plainEvery is how often progress is written as a plain line when the
// output is not a terminal.
const plainEvery = 5 * time.Second
