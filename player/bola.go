package player

import "math"

// Bola is BOLA (Spiteri, Urgaonkar, Sitaraman, "BOLA: Near-Optimal Bitrate
// Adaptation for Online Videos", INFOCOM 2016): each decision maximises
// (V·(υ_m + γp) − Q) / S_m over the ladder, with utilities υ_m =
// ln(S_m/S_1), buffer level Q and V set so that the top quality is chosen
// at a full buffer. As in Sabre's "bola": the buffer target shrinks near
// the start and end of the title, an upswitch is capped one step above
// what the throughput sustains, and a download is abandoned when a lower
// quality scores better.
type Bola struct {
	util     []float64
	gp       float64
	bufferMs float64
	vp       float64
	last     int
}

// bolaGP is γp in seconds of buffer (Sabre's default 5).
const bolaGP = 5

func newBola(c *Context) *Bola {
	b := &Bola{util: utilities(c.BitratesKbps, 0), gp: bolaGP, bufferMs: c.MaxBufferMs}
	b.vp = (b.bufferMs - c.SegmentMs) / (b.util[len(b.util)-1] + b.gp)
	return b
}

func (b *Bola) fromBuffer(c *Context, level float64) int {
	return bolaQuality(c.BitratesKbps, b.util, b.vp, b.gp, level)
}

// bolaQuality maximises BOLA's objective (V·(υ_m + γp) − Q) / S_m.
func bolaQuality(bitrates, util []float64, vp, gp, level float64) int {
	q, best := 0, math.Inf(-1)
	for i, r := range bitrates {
		if s := (vp*(util[i]+gp) - level) / r; s > best {
			q, best = i, s
		}
	}
	return q
}

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (b *Bola) Choose(c *Context) (int, float64) {
	t := float64(min(c.Index, c.Segments-c.Index))
	t = max(t/2, 3) * c.SegmentMs
	b.vp = (min(b.bufferMs, t) - c.SegmentMs) / (b.util[len(b.util)-1] + b.gp)
	q := b.fromBuffer(c, c.BufferMs)
	if q > b.last {
		qt := qualityFromThroughput(c, c.ThroughputKbps)
		switch {
		case q <= qt:
		case b.last > qt:
			q = b.last
		default:
			q = qt + 1
		}
	}
	b.last = q
	return q, 0
}

// Delayed implements ABR.
func (b *Bola) Delayed(float64) {}

// Downloaded implements ABR.
func (b *Bola) Downloaded(*Context, Result) {}

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (b *Bola) Abandon(c *Context, p Progress, bufferMs float64) int {
	remain := p.SizeBits - p.DownloadedBits
	if p.DownloadedBits <= 0 || remain <= 0 {
		return -1
	}
	score := (b.vp*(b.gp+b.util[p.Quality]) - bufferMs) / remain
	if score < 0 {
		return -1
	}
	to := -1
	for q := 0; q < p.Quality; q++ {
		size := p.SizeBits * c.BitratesKbps[q] / c.BitratesKbps[p.Quality]
		s := (b.vp*(b.gp+b.util[q]) - bufferMs) / size
		if size < remain && s > score {
			score, to = s, q
		}
	}
	if to >= 0 {
		b.last = to
	}
	return to
}

// BolaE is BOLA-E (Spiteri, Sitaraman, Sparacio, "From Theory to Practice:
// Improving Bitrate Adaptation in the DASH Reference Player", ACM TOMM
// 2019), the BOLA of dash.js: it starts from the throughput rule and a
// placeholder buffer that lets BOLA pick that quality at once, keeps the
// placeholder through waits, guards low buffers with the insufficient
// buffer rule, and abandons with the latency taken into account.
type BolaE struct {
	util        []float64
	gp, vp      float64
	steady      bool
	placeholder float64
	last        int
	ibrSafety   float64
}

const (
	bolaEMinBufferMs      = 10000
	bolaEMinBufferPerStep = 2000
)

func newBolaE(c *Context) *BolaE {
	b := &BolaE{util: utilities(c.BitratesKbps, 1)}
	buffer := max(bolaEMinBufferMs+bolaEMinBufferPerStep*float64(len(c.BitratesKbps)), c.MaxBufferMs)
	b.gp = (b.util[len(b.util)-1] - 1) / (buffer/bolaEMinBufferMs - 1)
	b.vp = bolaEMinBufferMs / b.gp
	return b
}

func (b *BolaE) fromBuffer(c *Context, level float64) int {
	return bolaQuality(c.BitratesKbps, b.util, b.vp, b.gp, level)
}

// minBuffer is the lowest buffer level at which BOLA prefers quality q
// to every lower one.
func (b *BolaE) minBuffer(c *Context, q int) float64 {
	level := 0.0
	for i := 0; i < q; i++ {
		if b.util[i] < b.util[q] {
			br, bi := c.BitratesKbps[q], c.BitratesKbps[i]
			level = max(level, b.vp*(b.gp+(br*b.util[i]-bi*b.util[q])/(br-bi)))
		}
	}
	return level
}

func (b *BolaE) maxBuffer(q int) float64 { return b.vp * (b.util[q] + b.gp) }

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (b *BolaE) Choose(c *Context) (int, float64) {
	level := c.BufferMs
	if !b.steady {
		if !c.HasEstimate {
			return b.last, 0
		}
		b.steady = true
		b.ibrSafety = ibrSafetyInit
		q := qualityFromThroughput(c, c.ThroughputKbps)
		b.placeholder = max(0, b.minBuffer(c, q)-level)
		return q, 0
	}
	q := b.fromBuffer(c, level+b.placeholder)
	qt := qualityFromThroughput(c, c.ThroughputKbps)
	if q > b.last && q > qt {
		q = max(b.last, qt) + 1
	}
	delay := level + b.placeholder - b.maxBuffer(q)
	if delay > 0 {
		if delay <= b.placeholder {
			b.placeholder -= delay
			delay = 0
		} else {
			delay -= b.placeholder
			b.placeholder = 0
		}
	} else {
		delay = 0
	}
	if q == len(c.BitratesKbps)-1 {
		delay = 0
	}
	if lowered := insufficientBuffer(c, q, &b.ibrSafety); lowered < q {
		q, delay = lowered, 0
		b.placeholder = min(max(0, b.minBuffer(c, q)-level), b.placeholder)
	}
	return q, delay
}

// Delayed implements ABR.
func (b *BolaE) Delayed(ms float64) { b.placeholder += ms }

// Downloaded implements ABR.
func (b *BolaE) Downloaded(c *Context, r Result) {
	b.last = r.Quality
	level := c.BufferMs
	if r.AbandonTo < 0 {
		was := level + r.TimeMs
		b.placeholder = min(b.placeholder, max(0, b.maxBuffer(r.Quality)-was))
		if level > 0 {
			b.placeholder = max(b.placeholder, b.minBuffer(c, r.Quality)-was)
		}
		return
	}
	want := float64(bolaEMinBufferMs)
	if r.AbandonTo > 0 {
		want = b.minBuffer(c, r.AbandonTo)
	}
	b.placeholder = min(b.placeholder, max(0, want-level))
}

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (b *BolaE) Abandon(c *Context, p Progress, bufferMs float64) int {
	remain := p.SizeBits - p.DownloadedBits
	if p.DownloadedBits <= 0 || remain <= 0 {
		return -1
	}
	bl := max(0, bufferMs+b.placeholder-p.TTFBMs)
	tp := p.DownloadedBits / (p.TimeMs - p.TTFBMs)
	sz := remain - p.TTFBMs*tp
	if sz <= 0 {
		return -1
	}
	score := (b.vp*(b.gp+b.util[p.Quality]) - bl) / sz
	to := -1
	for q := 0; q < p.Quality; q++ {
		size := p.SizeBits * c.BitratesKbps[q] / c.BitratesKbps[p.Quality]
		if s := (b.vp*(b.gp+b.util[q]) - bl) / size; size < sz && s > score {
			score, to = s, q
		}
	}
	return to
}

// Dynamic is dash.js's DYNAMIC strategy as Sabre models it: BOLA while
// the buffer is above 10 s and BOLA asks for at least what the throughput
// rule would, the throughput rule below; abandonment by the throughput
// rule.
type Dynamic struct {
	bola   *Bola
	tput   *ThroughputRule
	isBola bool
}

const dynamicLowBufferMs = 10000

func newDynamic(c *Context) *Dynamic { return &Dynamic{bola: newBola(c), tput: newThroughputRule()} }

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (d *Dynamic) Choose(c *Context) (int, float64) {
	bq, bd := d.bola.Choose(c)
	tq, td := d.tput.Choose(c)
	if d.isBola {
		if c.BufferMs < dynamicLowBufferMs && bq < tq {
			d.isBola = false
		}
	} else if c.BufferMs > dynamicLowBufferMs && bq >= tq {
		d.isBola = true
	}
	if d.isBola {
		return bq, bd
	}
	return tq, td
}

// Delayed implements ABR.
func (d *Dynamic) Delayed(ms float64) { d.bola.Delayed(ms); d.tput.Delayed(ms) }

// Downloaded implements ABR.
func (d *Dynamic) Downloaded(c *Context, r Result) { d.bola.Downloaded(c, r); d.tput.Downloaded(c, r) }

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (d *Dynamic) Abandon(c *Context, p Progress, bufferMs float64) int {
	return d.tput.Abandon(c, p, bufferMs)
}

// DynamicDash switches between BOLA-E above 10 s of buffer and the
// throughput rule below 5 s (Sabre's "dynamicdash").
type DynamicDash struct {
	bola   *BolaE
	tput   *ThroughputRule
	isBola bool
}

func newDynamicDash(c *Context) *DynamicDash {
	return &DynamicDash{bola: newBolaE(c), tput: newThroughputRule()}
}

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (d *DynamicDash) Choose(c *Context) (int, float64) {
	if d.isBola && c.BufferMs < 5000 {
		d.isBola = false
	} else if !d.isBola && c.BufferMs > 10000 {
		d.isBola = true
	}
	if d.isBola {
		return d.bola.Choose(c)
	}
	return d.tput.Choose(c)
}

// Delayed implements ABR.
func (d *DynamicDash) Delayed(ms float64) { d.bola.Delayed(ms); d.tput.Delayed(ms) }

// Downloaded implements ABR.
func (d *DynamicDash) Downloaded(c *Context, r Result) {
	d.bola.Downloaded(c, r)
	d.tput.Downloaded(c, r)
}

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (d *DynamicDash) Abandon(c *Context, p Progress, bufferMs float64) int {
	if d.isBola {
		return d.bola.Abandon(c, p, bufferMs)
	}
	return d.tput.Abandon(c, p, bufferMs)
}
