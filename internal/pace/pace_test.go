package pace

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"200Mbit", 200e6, true}, {"1.5Gbit", 1.5e9, true}, {"800kbit", 800e3, true}, {"64 kbit", 64e3, true},
		{"1000000", 1e6, true}, {"0", 0, true}, {"", 0, true}, {"200MBIT", 200e6, true},
		{"fast", 0, false}, {"-1Mbit", 0, false}, {"1e20", 0, false}, {"Mbit", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestLimiterAccounting checks, on a fake clock, that the limiter lets
// through one burst and no more: a Wait that would have to sleep fails at
// once on a cancelled context (and gives its grant back), one that need
// not returns nil.
func TestLimiterAccounting(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(8e6) // 1 MB/s: a 50 ms burst is 50 kB
	l.now = func() time.Time { return now }
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	steps := []struct {
		advance time.Duration
		n       int
		waits   bool
	}{
		{0, 50_000, false},                    // the first burst is free
		{0, 1, true},                          // nothing left
		{10 * time.Millisecond, 9_000, false}, // 10 ms earn 10 kB
		{0, 2_000, true},
		{time.Hour, 50_000, false}, // idle time earns one burst, no more
		{0, 1, true},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if err := l.Wait(cancelled, st.n); (err != nil) != st.waits {
			t.Fatalf("step %d: Wait(%d) = %v, want waiting %v", i, st.n, err, st.waits)
		}
	}
	var nilL *Limiter
	if err := nilL.Wait(cancelled, 1<<30); err != nil {
		t.Error(err)
	}
	if New(0) != nil {
		t.Error("New(0) limits")
	}
}

func TestReaderCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, bytes.NewReader(make([]byte, 1<<20)), New(8000)) // 1 kB/s: 1 MB would take 17 minutes
	cancel()
	if _, err := io.Copy(io.Discard, r); err == nil {
		t.Error("a cancelled paced read ran to the end")
	}
}

func TestSleep(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	soon, cancelSoon := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelSoon()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"no wait", context.Background(), 0, nil},
		{"a negative wait", context.Background(), -time.Second, nil},
		{"a short wait", context.Background(), time.Millisecond, nil},
		{"ctx ended before", ended, time.Hour, context.Canceled},
		{"ctx ended before, no wait", ended, 0, context.Canceled},
		{"ctx ends during", soon, time.Hour, context.DeadlineExceeded},
	} {
		if err := Sleep(tc.ctx, tc.d); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
