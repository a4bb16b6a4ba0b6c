package origin

import (
	"strings"
	"testing"
	"time"
)

// TestProgressPrinter: the percentage, frames a second, speed and time
// left, each time the percentage moves, on a clock the test sets.
func TestProgressPrinter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out strings.Builder
	report := progressPrinter(&out, 60*time.Second, 25, func() time.Time { return now })
	for _, tc := range []struct {
		after time.Duration
		f     float64
		want  string // "" for no output
	}{
		{0, 0, "\rencoding:   0%"},
		{5 * time.Second, 0.25, "\rencoding:  25% at 75 fps (3.0x real time), ETA 15s "}, // 15 s of media in 5 s
		{1 * time.Second, 0.251, ""}, // the same percent: nothing
		{4 * time.Second, 0.5, "\rencoding:  50% at 75 fps (3.0x real time), ETA 10s "},
	} {
		now = now.Add(tc.after)
		out.Reset()
		report(tc.f)
		if out.String() != tc.want {
			t.Errorf("at %v done: %q, want %q", tc.f, out.String(), tc.want)
		}
	}
	progressPrinter(nil, time.Minute, 25, time.Now)(0.5) // nil: no output, no panic
}
