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

// liveOutput paces the progress drawn on w: redrawn in place on a
// terminal at most every redraw, elsewhere a plain line at most every
// plainEvery, and always the final state.
type liveOutput struct {
	w      io.Writer
	term   bool
	redraw time.Duration
	last   time.Time
}

func newLiveOutput(w io.Writer, redraw time.Duration) *liveOutput {
	return &liveOutput{w: w, term: isTerminal(w), redraw: redraw, last: time.Now()}
}

// due reports whether to draw now, and if so counts it as drawn.
func (o *liveOutput) due(final bool) bool {
	every := plainEvery
	if o.term {
		every = o.redraw
	}
	if !final && time.Since(o.last) < every {
		return false
	}
	o.last = time.Now()
	return true
}

// lineStart is what starts a line of progress: on a terminal, a return
// to the line's start and an erase of it, so the line is drawn over.
func (o *liveOutput) lineStart() string {
	if o.term {
		return "\r\033[K"
	}
	return ""
}
