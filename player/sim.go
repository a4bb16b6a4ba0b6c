package player

import (
	"errors"
	"fmt"
	"math"
)

// network replays a trace with Sabre's model: a request first spends the
// current period's latency (trace time passes, no bits move), then its
// bits move at each period's bandwidth in turn; waiting also advances the
// trace, which loops.
type network struct {
	trace  Trace
	i      int
	toNext float64 // ms left in period i
	// steps counts period changes; past maxSteps the network is
	// exhausted and every loop stops, so that no video and trace can
	// make a session run forever.
	steps     int
	exhausted bool
}

// maxSteps bounds the trace periods one session may walk through: a
// 10-minute session on a trace of 1 s periods walks about a thousand.
const maxSteps = 1_000_000

// ErrExhausted is returned when a session would take more than maxSteps
// trace periods: a trace far too slow (or too finely cut) for the video.
var ErrExhausted = errors.New("simulate: the session outlasted 1,000,000 trace periods; the trace is too slow for this video")

func newNetwork(t Trace) *network { return &network{trace: t, toNext: t[0].DurationMs} }

func (n *network) next() {
	if n.steps++; n.steps > maxSteps {
		n.exhausted = true
	}
	n.i = (n.i + 1) % len(n.trace)
	n.toNext = n.trace[n.i].DurationMs
}

// latency spends units × the current latency and returns the time taken.
func (n *network) latency(units float64) float64 {
	total := 0.0
	for units > 0 && !n.exhausted {
		lat := n.trace[n.i].LatencyMs
		t := units * lat
		if t <= n.toNext {
			total += t
			n.toNext -= t
			return total
		}
		total += n.toNext
		units -= n.toNext / lat
		n.next()
	}
	return total
}

// minimalDownload moves at most size bits, stopping once at least minSize
// bits and minTime ms have gone, and returns the bits and time.
func (n *network) minimalDownload(size, minSize, minTime float64) (bits, time float64) {
	for size > 0 && (minSize > 0 || minTime > 0) && !n.exhausted {
		bw := n.trace[n.i].BandwidthKbps
		var b, t float64
		if bw > 0 {
			minBits := max(minSize, minTime*bw)
			toNext := n.toNext * bw
			switch {
			case size <= minBits && size <= toNext:
				b, t = size, size/bw
				n.toNext -= t
			case minBits <= toNext:
				b, t = minBits, minBits/bw
				minSize, minTime = 0, 0
				n.toNext -= t
			default:
				b, t = toNext, n.toNext
				n.next()
			}
		} else if minSize > 0 || minTime > n.toNext {
			t = n.toNext
			n.next()
		} else {
			t = minTime
			n.toNext -= t
		}
		bits += b
		time += t
		size -= b
		minSize -= b
		minTime -= t
	}
	return bits, time
}

// wait advances the trace by ms.
func (n *network) wait(ms float64) {
	for ms > n.toNext && !n.exhausted {
		ms -= n.toNext
		n.next()
	}
	n.toNext -= ms
}

// Sabre checks abandonment after every 12,000 bits or 50 ms of progress.
const (
	progressBits = 12000
	progressMs   = 50
)

// download fetches size bits, asking abandon (may be nil) as it goes, and
// returns the result (AbandonTo >= 0 if abandoned).
func (n *network) download(size float64, quality int, abandon func(Progress) int) Result {
	r := Result{Quality: quality, AbandonTo: -1}
	r.TTFBMs = n.latency(1)
	r.TimeMs = r.TTFBMs
	for r.Bits < size && !n.exhausted {
		minTime := float64(progressMs)
		if r.Bits == 0 {
			minTime -= r.TTFBMs
		}
		b, t := n.minimalDownload(size-r.Bits, progressBits, minTime)
		r.Bits += b
		r.TimeMs += t
		if r.Bits < size && abandon != nil {
			if to := abandon(Progress{Quality: quality, SizeBits: size, DownloadedBits: r.Bits, TimeMs: r.TimeMs, TTFBMs: r.TTFBMs}); to >= 0 {
				r.AbandonTo = to
				return r
			}
		}
	}
	return r
}

// buffer is the playout buffer in virtual time, with Sabre's accounting.
type buffer struct {
	segMs    float64
	contents []int   // qualities of the whole segments held
	played   float64 // ms of contents[0] already played
	m        *Metrics
	bitrates []float64
	lastQ    int
	// rebufDuring accumulates stall time until the next segment arrives
	// (QoE_lin charges it to that segment).
	rebufDuring float64
}

func (b *buffer) level() float64 { return b.segMs*float64(len(b.contents)) - b.played }

// stall counts ms of stalled playback (rebuffering).
func (b *buffer) stall(ms float64) {
	b.m.rebufferMs += ms
	b.rebufDuring += ms
	b.m.playMs += ms
}

// deplete plays ms of media, stalling when the buffer is empty.
func (b *buffer) deplete(ms float64) {
	m := b.m
	if len(b.contents) == 0 {
		b.stall(ms)
		return
	}
	if b.played > 0 {
		if ms+b.played < b.segMs {
			b.played += ms
			m.playMs += ms
			return
		}
		ms -= b.segMs - b.played
		m.playMs += b.segMs - b.played
		b.contents = b.contents[1:]
		b.played = 0
	}
	for ms > 0 && len(b.contents) > 0 {
		q := b.contents[0]
		m.playedBitrate += b.bitrates[q]
		m.playedUtility += math.Log(b.bitrates[q] / b.bitrates[0])
		if b.lastQ >= 0 && q != b.lastQ {
			m.bitrateChange += math.Abs(b.bitrates[q] - b.bitrates[b.lastQ])
			m.Switches++
		}
		b.lastQ = q
		if ms >= b.segMs {
			b.contents = b.contents[1:]
			m.playMs += b.segMs
			ms -= b.segMs
		} else {
			b.played = ms
			m.playMs += ms
			ms = 0
		}
	}
	if ms > 1e-9 { // not a float's residue
		m.rebufferMs += ms
		b.rebufDuring += ms
		m.playMs += ms
		m.RebufferEvents++
	}
}

// SimConfig is one virtual-time session.
type SimConfig struct {
	Video *Video
	Trace Trace
	ABR   string
	// MaxBufferMs is the buffer capacity; if zero, 25 s.
	MaxBufferMs float64
	// NoAbandon turns abandonment off.
	NoAbandon bool
	// OnSegment, when set, is called after every download, in virtual
	// time (no TTFB or bytes beyond the description's).
	OnSegment func(SegmentLog)
}

// abandonCheck asks abr, as segment next downloads, whether to abandon
// it: the lower quality to fetch instead, or -1 to go on.
func abandonCheck(abr ABR, c *Context, buf *buffer, next int, update func()) func(Progress) int {
	return func(p Progress) int {
		p.Index = next
		update()
		to := abr.Abandon(c, p, max(0, buf.level()-p.TimeMs))
		if to >= p.Quality {
			return -1
		}
		return to
	}
}

// simRow is the log row of segment i's download r at quality q, which
// started at media time at with before ms buffered and left after.
func simRow(v *Video, i, q int, r Result, at, before, after, stallMs float64) SegmentLog {
	row := SegmentLog{AtMs: at, Index: i, Representation: fmt.Sprint(q), BitrateKbps: v.BitratesKbps[q],
		Bytes: int64(r.Bits / 8), TTFBMs: r.TTFBMs, DownloadMs: r.TimeMs - r.TTFBMs, BufferBeforeMs: before,
		BufferAfterMs: after, StallMs: stallMs, Result: "ok"}
	if row.DownloadMs > 0 {
		row.ThroughputKbps = r.Bits / row.DownloadMs
	}
	if r.AbandonTo >= 0 {
		row.Result = "abandoned"
	} else {
		row.BufferAfterMs += v.SegmentMs
	}
	return row
}

// Simulate runs one session in virtual time with Sabre's network and
// buffer model. It is deterministic.
func Simulate(cfg SimConfig) (*Metrics, error) {
	v := cfg.Video
	if v == nil || len(cfg.Trace) == 0 {
		return nil, errors.New("simulate: a video and a trace are required")
	}
	if err := cfg.Trace.validate(); err != nil {
		return nil, err
	}
	maxBuf := cfg.MaxBufferMs
	if maxBuf <= 0 {
		maxBuf = 25000
	}
	if maxBuf < v.SegmentMs {
		return nil, errors.New("simulate: the buffer must hold at least one segment")
	}
	c := &Context{Segments: len(v.SizesBits), SegmentMs: v.SegmentMs, BitratesKbps: v.BitratesKbps, MaxBufferMs: maxBuf,
		Size: func(i, q int) float64 { return v.SizesBits[min(i, len(v.SizesBits)-1)][q] }}
	abr, err := New(cfg.ABR, c)
	if err != nil {
		return nil, err
	}
	m := &Metrics{ABR: cfg.ABR, segMs: v.SegmentMs, bitrates: v.BitratesKbps}
	net := newNetwork(cfg.Trace)
	buf := &buffer{segMs: v.SegmentMs, m: m, bitrates: v.BitratesKbps, lastQ: -1}
	est := NewEstimator(v.SegmentMs)
	update := func() {
		c.BufferMs = buf.level()
		c.ThroughputKbps, c.LatencyMs, c.HasEstimate = est.Throughput, est.Latency, est.Valid
	}

	// The first segment, at the lowest quality; playback starts when it
	// has arrived.
	first := net.download(v.SizesBits[0][0], 0, nil)
	if net.exhausted {
		return nil, ErrExhausted
	}
	m.startupMs = first.TimeMs
	m.playMs += first.TimeMs
	buf.contents = append(buf.contents, 0)
	m.chunk(0, 0)
	dl := first.TimeMs - first.TTFBMs
	if cfg.OnSegment != nil {
		cfg.OnSegment(SegmentLog{Representation: "0", BitrateKbps: v.BitratesKbps[0], Bytes: int64(first.Bits / 8),
			TTFBMs: first.TTFBMs, DownloadMs: dl, ThroughputKbps: first.Bits / dl, BufferAfterMs: v.SegmentMs, Result: "ok"})
	}
	est.Push(dl, first.Bits/dl, first.TTFBMs)
	c.History = append(c.History, first.Bits/dl)

	for next := 1; next < len(v.SizesBits); {
		c.Index = next
		if full := buf.level() + v.SegmentMs - maxBuf; full > 0 {
			buf.deplete(full)
			net.wait(full)
			abr.Delayed(full)
		}
		update()
		q, delay := abr.Choose(c)
		q = min(max(q, 0), len(v.BitratesKbps)-1)
		if delay > 0 {
			buf.deplete(delay)
			net.wait(delay)
		}
		var check func(Progress) int
		if !cfg.NoAbandon {
			check = abandonCheck(abr, c, buf, next, update)
		}
		at, before, stalled := m.playMs, buf.level(), m.rebufferMs
		r := net.download(v.SizesBits[next][q], q, check)
		if net.exhausted {
			return nil, ErrExhausted
		}
		buf.deplete(r.TimeMs)
		if cfg.OnSegment != nil {
			cfg.OnSegment(simRow(v, next, q, r, at, before, buf.level(), m.rebufferMs-stalled))
		}
		if r.AbandonTo < 0 {
			buf.contents = append(buf.contents, q)
			m.chunk(q, buf.rebufDuring)
			buf.rebufDuring = 0
			next++
		} else {
			m.Abandoned++
		}
		update()
		abr.Downloaded(c, r)
		if r.AbandonTo < 0 {
			dl := r.TimeMs - r.TTFBMs
			est.Push(dl, r.Bits/dl, r.TTFBMs)
			c.History = append(c.History, r.Bits/dl)
		}
	}
	buf.deplete(buf.level())
	m.finish()
	return m, nil
}
