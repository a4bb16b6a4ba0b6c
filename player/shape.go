package player

import (
	"context"
	"io"
	"sort"
	"time"

	"github.com/streamcdn/streamcdn/internal/pace"
)

// clock is a session's time: wall time since the start, dilated by the
// speed, in milliseconds. With speed K, media plays K times faster and
// the trace runs K times faster at K times the bandwidth, so every
// decision is the one a speed-1 session would make.
type clock struct {
	start time.Time
	speed float64
	// late counts sleeps that woke more than lateWall after their
	// deadline: time the client's own CPU took from the session.
	late     int
	lateWall time.Duration
}

func newClock(speed float64) *clock {
	if speed <= 0 {
		speed = 1
	}
	return &clock{start: time.Now(), speed: speed, lateWall: 50 * time.Millisecond}
}

func (c *clock) now() float64 {
	return float64(time.Since(c.start)) / float64(time.Millisecond) * c.speed
}

// wall turns session milliseconds into a wall-clock duration.
func (c *clock) wall(ms float64) time.Duration {
	return time.Duration(ms / c.speed * float64(time.Millisecond))
}

// sleepUntil sleeps until session time t, noting a late wake-up.
func (c *clock) sleepUntil(ctx context.Context, t float64) error {
	deadline := c.start.Add(c.wall(t))
	if err := pace.Sleep(ctx, time.Until(deadline)); err != nil {
		return err
	}
	// Late is late whether the timer fired late or the session came to
	// sleep after its deadline had passed.
	if time.Since(deadline) > c.lateWall {
		c.late++
	}
	return ctx.Err()
}

// link is a trace replayed in session time: the period in force at any
// moment, looping, and when a transfer of some bits that starts at a
// moment ends.
type link struct {
	trace Trace
	ends  []float64 // cumulative period ends, ms
	total float64
}

func newLink(t Trace) *link {
	l := &link{trace: t}
	for _, p := range t {
		l.total += p.DurationMs
		l.ends = append(l.ends, l.total)
	}
	return l
}

// at returns the period in force at session time t and the time left in
// it.
func (l *link) at(t float64) (int, float64) {
	loops := int64(t / l.total)
	off := t - float64(loops)*l.total
	i := sort.SearchFloat64s(l.ends, off)
	for i < len(l.ends) && l.ends[i] <= off {
		i++
	}
	if i == len(l.ends) {
		i = 0
		off = 0
	}
	return i, l.ends[i] - off
}

// latency is the request latency at t.
func (l *link) latency(t float64) float64 {
	i, _ := l.at(t)
	return l.trace[i].LatencyMs
}

// bandwidth is the bandwidth at t, kbit/s.
func (l *link) bandwidth(t float64) float64 {
	i, _ := l.at(t)
	return l.trace[i].BandwidthKbps
}

// transfer returns when bits that start moving at t have all moved, each
// period carrying its bandwidth's share. It gives up (returning what it
// reached) after maxSteps periods.
func (l *link) transfer(t, bits float64) float64 {
	i, left := l.at(t)
	for steps := 0; bits > 0 && steps < maxSteps; steps++ {
		bw := l.trace[i].BandwidthKbps // bits per ms
		if bw > 0 && bits <= bw*left {
			return t + bits/bw
		}
		bits -= bw * left
		t += left
		i = (i + 1) % len(l.trace)
		left = l.trace[i].DurationMs
	}
	return t
}

// shapedBody reads a response body at the link's rate: after each read
// it sleeps until the bits read would have moved over the trace, starting
// no earlier than the previous read's end (idle time advances the trace,
// as in Sabre).
type shapedBody struct {
	ctx    context.Context
	r      io.Reader
	link   *link
	clk    *clock
	cursor float64
	first  float64 // session time the first bytes were read, or 0
	read   bool
}

// shapeChunk bounds one read so that a read's transfer is short next to
// a trace period: about 20 ms at the current bandwidth.
func (s *shapedBody) shapeChunk(p []byte) []byte {
	bw := s.link.bandwidth(s.clk.now())
	n := int(bw * 20 / 8) // bytes in 20 ms
	n = min(max(n, 1500), 64<<10)
	if len(p) > n {
		return p[:n]
	}
	return p
}

// blockedRead is how long a read must take to count as waiting for the
// network rather than taking bytes already received.
const blockedRead = 2 * time.Millisecond

func (s *shapedBody) Read(p []byte) (int, error) {
	called := time.Now()
	n, err := s.r.Read(s.shapeChunk(p))
	if n > 0 {
		// The emulated link stays busy while the bytes are there to be
		// read: a read that found them waiting continues the previous
		// transfer, even if this goroutine woke late, so that the
		// client's own delays are caught up rather than charged to the
		// link. A read that waited on the network starts anew (idle time
		// advances the trace).
		start := s.cursor
		if !s.read || time.Since(called) > blockedRead {
			start = max(s.cursor, s.clk.now())
		}
		if !s.read {
			s.read, s.first = true, s.clk.now()
		}
		s.cursor = s.link.transfer(start, float64(8*n))
		if serr := s.clk.sleepUntil(s.ctx, s.cursor); serr != nil && err == nil {
			err = serr
		}
	}
	return n, err
}
