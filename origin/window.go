package origin

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Window is a daily time window, such as the off-peak hours when a CDN
// fills its appliances: from Start to End, both times of day in the
// clock's local zone; past midnight when End is before Start.
type Window struct {
	Start, End time.Duration // since midnight
}

// ParseWindow parses "HH:MM-HH:MM", e.g. 02:00-06:00 or 22:30-04:00.
func ParseWindow(s string) (*Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return nil, fmt.Errorf("window %q: want HH:MM-HH:MM, e.g. 02:00-06:00", s)
	}
	var w Window
	for _, p := range []struct {
		in  string
		dst *time.Duration
	}{{a, &w.Start}, {b, &w.End}} {
		t, err := time.Parse("15:04", strings.TrimSpace(p.in))
		if err != nil {
			return nil, fmt.Errorf("window %q: %q is not a time of day HH:MM", s, p.in)
		}
		*p.dst = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	if w.Start == w.End {
		return nil, fmt.Errorf("window %q is empty", s)
	}
	return &w, nil
}

func sinceMidnight(t time.Time) time.Duration {
	y, m, d := t.Date()
	return t.Sub(time.Date(y, m, d, 0, 0, 0, 0, t.Location()))
}

// Contains reports whether t is inside the window.
func (w *Window) Contains(t time.Time) bool {
	s := sinceMidnight(t)
	if w.Start < w.End {
		return s >= w.Start && s < w.End
	}
	return s >= w.Start || s < w.End
}

// Until is how long from t until the window next opens; 0 inside it.
func (w *Window) Until(t time.Time) time.Duration {
	if w.Contains(t) {
		return 0
	}
	d := w.Start - sinceMidnight(t)
	if d < 0 {
		d += 24 * time.Hour
	}
	return d
}

// Wait blocks until the window is open or ctx ends.
func (w *Window) Wait(ctx context.Context, now func() time.Time) error {
	for {
		d := w.Until(now())
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(min(d, time.Minute)) // re-read the clock: it may jump
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the push window: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (w *Window) String() string {
	f := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return f(w.Start) + "-" + f(w.End)
}
