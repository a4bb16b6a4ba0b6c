// Package progress draws the progress of a long command: lines redrawn
// in place on a terminal, and elsewhere (a file, a pipe, CI's log) plain
// lines now and then, and always the final state.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// PlainEvery is how often progress is written when the output is not a
// terminal.
const PlainEvery = 5 * time.Second

// Lines are named lines of progress, in the order first set.
type Lines struct {
	w      io.Writer
	term   bool
	redraw time.Duration

	mu    sync.Mutex
	last  time.Time
	order []string
	text  map[string]string
	drawn int
}

// New draws on w, on a terminal at most every redraw.
func New(w io.Writer, redraw time.Duration) *Lines {
	return &Lines{w: w, term: IsTerminal(w), redraw: redraw, last: time.Now(), text: map[string]string{}}
}

// Set sets the line called name and draws the lines if it is time to.
func (l *Lines) Set(name, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.text[name]; !ok {
		l.order = append(l.order, name)
	}
	l.text[name] = line
	if l.due(false) {
		l.draw()
	}
}

// Flush draws the lines' final state; the next Set starts new lines.
func (l *Lines) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.order) > 0 && l.due(true) {
		l.draw()
	}
	l.order, l.text, l.drawn = nil, map[string]string{}, 0
}

// due reports whether to draw now, and if so counts it as drawn.
func (l *Lines) due(final bool) bool {
	every := PlainEvery
	if l.term {
		every = l.redraw
	}
	if !final && time.Since(l.last) < every {
		return false
	}
	l.last = time.Now()
	return true
}

// draw moves up over the lines drawn before, on a terminal, and draws
// them again. l.mu held.
func (l *Lines) draw() {
	if l.term && l.drawn > 0 {
		fmt.Fprintf(l.w, "\033[%dA", l.drawn)
	}
	for _, name := range l.order {
		if l.term {
			io.WriteString(l.w, "\r\033[K")
		}
		fmt.Fprintln(l.w, l.text[name])
	}
	l.drawn = len(l.order)
}

// Bar is a bar of width characters, done of total filled.
func Bar(done, total, width int) string {
	n := min(width*done/max(total, 1), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
