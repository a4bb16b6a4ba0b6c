package origin

import (
	"context"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	at := func(hhmm string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", "2026-05-01 "+hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		window string
		now    string
		inside bool
		until  time.Duration
	}{
		{"02:00-06:00", "03:30", true, 0},
		{"02:00-06:00", "02:00", true, 0},
		{"02:00-06:00", "06:00", false, 20 * time.Hour},
		{"02:00-06:00", "01:15", false, 45 * time.Minute},
		{"22:30-04:00", "23:00", true, 0},
		{"22:30-04:00", "03:59", true, 0},
		{"22:30-04:00", "12:00", false, 10*time.Hour + 30*time.Minute},
	}
	for _, tc := range tests {
		w, err := ParseWindow(tc.window)
		if err != nil {
			t.Fatal(err)
		}
		now := at(tc.now)
		if got := w.Contains(now); got != tc.inside {
			t.Errorf("%s at %s: inside %v, want %v", tc.window, tc.now, got, tc.inside)
		}
		if got := w.Until(now); got != tc.until {
			t.Errorf("%s at %s: opens in %v, want %v", tc.window, tc.now, got, tc.until)
		}
		if w.String() != tc.window {
			t.Errorf("String() = %q, want %q", w.String(), tc.window)
		}
	}
	for _, bad := range []string{"", "02:00", "2-6", "02:00-02:00", "25:00-03:00", "02:00-06:61"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted it", bad)
		}
	}
	// Outside the window, Wait waits until ctx ends.
	w, _ := ParseWindow("02:00-06:00")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := w.Wait(ctx, func() time.Time { return at("12:00") }); err == nil {
		t.Error("Wait returned outside the window")
	}
	if err := w.Wait(context.Background(), func() time.Time { return at("03:00") }); err != nil {
		t.Errorf("Wait inside the window: %v", err)
	}
}
