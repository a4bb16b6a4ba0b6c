package player

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Context is what an ABR algorithm sees when it decides: the ladder, the
// buffer and the throughput estimate.
type Context struct {
	Index        int       // the segment to fetch next
	Segments     int       // the title's segment count
	SegmentMs    float64   // segment duration
	BitratesKbps []float64 // the ladder, ascending
	BufferMs     float64   // media in the buffer
	MaxBufferMs  float64   // the buffer's capacity
	// ThroughputKbps and LatencyMs are the estimates from past downloads;
	// HasEstimate is false before the first one.
	ThroughputKbps, LatencyMs float64
	HasEstimate               bool
	// Size returns a segment's size in bits at a quality; MPC looks ahead
	// with it.
	Size func(index, quality int) float64
	// History holds past downloads' throughput samples, oldest first (MPC
	// uses the last five and their prediction errors).
	History []float64
}

// Progress is a download in flight, as abandonment rules see it.
type Progress struct {
	Index, Quality int
	SizeBits       float64
	DownloadedBits float64
	TimeMs         float64 // since the request
	TTFBMs         float64
}

// Result is a finished (or abandoned) download.
type Result struct {
	Quality   int
	AbandonTo int // -1 unless the download was abandoned
	TimeMs    float64
	TTFBMs    float64
	Bits      float64
}

// ABR chooses the quality of each segment.
type ABR interface {
	// Choose returns the next segment's quality and how long to wait
	// before requesting it.
	Choose(c *Context) (quality int, delayMs float64)
	// Delayed reports a wait the player made because the buffer was full.
	Delayed(ms float64)
	// Downloaded reports a download's end; c holds the buffer after it.
	Downloaded(c *Context, r Result)
	// Abandon says whether to drop a download in flight for a lower
	// quality, given the buffer level now; -1 keeps it.
	Abandon(c *Context, p Progress, bufferMs float64) int
}

// Names lists the algorithms New knows.
func Names() []string {
	var n []string
	for k := range algorithms {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

var algorithms = map[string]func(c *Context) ABR{
	"throughput":  func(c *Context) ABR { return newThroughputRule() },
	"bola":        func(c *Context) ABR { return newBola(c) },
	"bolae":       func(c *Context) ABR { return newBolaE(c) },
	"dynamic":     func(c *Context) ABR { return newDynamic(c) },
	"dynamicdash": func(c *Context) ABR { return newDynamicDash(c) },
	"bba":         func(c *Context) ABR { return newBBA(c) },
	"mpc":         func(c *Context) ABR { return newMPC(false) },
	"robustmpc":   func(c *Context) ABR { return newMPC(true) },
}

// Known returns an error naming the known algorithms unless name is one.
func Known(name string) error {
	if _, ok := algorithms[strings.ToLower(name)]; !ok {
		return fmt.Errorf("unknown ABR %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return nil
}

// New returns the named algorithm for a session described by c (ladder,
// segment duration and buffer capacity).
func New(name string, c *Context) (ABR, error) {
	if err := Known(name); err != nil {
		return nil, err
	}
	return algorithms[strings.ToLower(name)](c), nil
}

// qualityFromThroughput is the highest quality whose segment, after the
// latency, downloads within a segment duration at tput.
func qualityFromThroughput(c *Context, tput float64) int {
	p := c.SegmentMs
	q := 0
	for q+1 < len(c.BitratesKbps) && c.LatencyMs+p*c.BitratesKbps[q+1]/tput <= p {
		q++
	}
	return q
}

// utilities are ln(bitrate / lowest bitrate) + offset.
func utilities(bitrates []float64, offset float64) []float64 {
	u := make([]float64, len(bitrates))
	for i, b := range bitrates {
		u[i] = math.Log(b/bitrates[0]) + offset
	}
	return u
}

// ThroughputRule picks the highest bitrate below 0.9 × the throughput
// estimate, as dash.js's ThroughputRule, with dash.js's insufficient
// buffer rule and abandonment when a download would take over 1.8 segment
// durations (Sabre's "throughput").
type ThroughputRule struct {
	ibrSafety float64
}

const (
	tputSafety        = 0.9
	ibrSafetyMin      = 0.5
	ibrSafetyInit     = 0.9
	abandonMultiplier = 1.8
	abandonGraceMs    = 500
)

func newThroughputRule() *ThroughputRule { return &ThroughputRule{ibrSafety: ibrSafetyInit} }

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (t *ThroughputRule) Choose(c *Context) (int, float64) {
	q := qualityFromThroughput(c, c.ThroughputKbps*tputSafety)
	q = insufficientBuffer(c, q, &t.ibrSafety)
	return q, 0
}

// insufficientBuffer lowers q until its segment fits in what the buffer
// can download safely before it runs dry; the safety factor tightens from
// 0.9 to 0.5 over the first decisions.
func insufficientBuffer(c *Context, q int, safety *float64) int {
	safe := *safety * (c.BufferMs - c.LatencyMs) * c.ThroughputKbps
	*safety = max(*safety*ibrSafetyInit, ibrSafetyMin)
	for i := 0; i < q; i++ {
		if c.BitratesKbps[i+1]*c.SegmentMs > safe {
			return i
		}
	}
	return q
}

// Delayed implements ABR.
func (t *ThroughputRule) Delayed(float64) {}

// Downloaded implements ABR.
func (t *ThroughputRule) Downloaded(*Context, Result) {}

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (t *ThroughputRule) Abandon(c *Context, p Progress, _ float64) int {
	dl := p.TimeMs - p.TTFBMs
	if p.TimeMs < abandonGraceMs || dl <= 0 {
		return -1
	}
	tput := p.DownloadedBits / dl
	left := p.SizeBits - p.DownloadedBits
	if p.TimeMs+left/tput <= abandonMultiplier*c.SegmentMs {
		return -1
	}
	q := qualityFromThroughput(c, tput*tputSafety)
	if q >= p.Quality || p.SizeBits*c.BitratesKbps[q]/c.BitratesKbps[p.Quality] >= left {
		return -1
	}
	return q
}
