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

// TestLimiterAccounting checks, on a fake clock, that grants advance the
// limiter by size/rate and that idle time earns one burst at most.
func TestLimiterAccounting(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(8e6) // 1 MB/s
	l.now = func() time.Time { return now }
	ctx := context.Background()
	if err := l.Wait(ctx, 50_000); err != nil { // 50 ms of the rate: the burst, no wait
		t.Fatal(err)
	}
	if got := l.next.Sub(now); got != 0 {
		t.Errorf("after one burst, next is %v from now, want 0", got)
	}
	now = now.Add(time.Hour) // idle
	l.Wait(ctx, 1)
	if got := l.next.Sub(now); got < -50*time.Millisecond || got > -49*time.Millisecond {
		t.Errorf("after an idle hour, next is %v from now, want about -50ms", got)
	}
	var nilL *Limiter
	if err := nilL.Wait(ctx, 1<<30); err != nil {
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
