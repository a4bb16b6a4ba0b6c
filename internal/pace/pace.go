// Package pace caps the rate of byte streams: a Limiter shared by any
// number of readers lets through at most its rate, averaged over its
// burst, and a Reader waits on it before each read returns.
package pace

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limiter is a token bucket of bytes: over any span T it lets through at
// most rate×T plus one burst. A nil *Limiter does not limit.
type Limiter struct {
	bytesPerSec float64
	burst       time.Duration

	mu   sync.Mutex
	next time.Time // when the bytes granted so far will have drained
	now  func() time.Time
}

// New returns a Limiter of bitsPerSec, or nil (no limit) when it is 0.
// Bursts are bounded to 50 ms of the rate.
func New(bitsPerSec float64) *Limiter {
	if bitsPerSec <= 0 {
		return nil
	}
	return &Limiter{bytesPerSec: bitsPerSec / 8, burst: 50 * time.Millisecond, now: time.Now}
}

// Wait blocks until n more bytes fit in the rate, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	l.mu.Lock()
	now := l.now()
	if l.next.Before(now.Add(-l.burst)) {
		l.next = now.Add(-l.burst) // idle time earns at most one burst
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.bytesPerSec * float64(time.Second)))
	wait := l.next.Sub(now)
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if err := Sleep(ctx, wait); err != nil {
		l.giveBack(n)
		return err
	}
	return nil
}

// Sleep waits for d, or until ctx ends: then it returns ctx's error, at
// once if ctx has ended already.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// giveBack returns the grant of a Wait that gave up.
func (l *Limiter) giveBack(n int) {
	l.mu.Lock()
	l.next = l.next.Add(-time.Duration(float64(n) / l.bytesPerSec * float64(time.Second)))
	l.mu.Unlock()
}

// Reader returns r with each read paced by l (r itself when l is nil).
// Reads are at most 32 KiB so that pacing stays smooth.
func Reader(ctx context.Context, r io.Reader, l *Limiter) io.Reader {
	if l == nil {
		return r
	}
	return &reader{ctx: ctx, r: r, l: l}
}

type reader struct {
	ctx context.Context
	r   io.Reader
	l   *Limiter
}

func (p *reader) Read(b []byte) (int, error) {
	if len(b) > 32<<10 {
		b = b[:32<<10]
	}
	n, err := p.r.Read(b)
	if werr := p.l.Wait(p.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}

// ParseRate parses a bit rate such as 200Mbit, 1.5Gbit, 800kbit or
// 1000000 (bits per second). "0" and "" mean no limit.
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	mult := 1.0
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			lower, mult = strings.TrimSuffix(lower, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(lower), 64)
	if err != nil || v < 0 || v*mult > 1e13 {
		return 0, fmt.Errorf("rate %q: want bits per second, e.g. 200Mbit, 1Gbit or 800kbit", s)
	}
	return v * mult, nil
}
