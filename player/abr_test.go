package player

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ladder is the Pensieve test video's: 300 … 4300 kbit/s, 4 s segments.
func ladderContext(bufferMs float64) *Context {
	return &Context{Segments: 48, SegmentMs: 4000, BitratesKbps: []float64{300, 750, 1200, 1850, 2850, 4300},
		MaxBufferMs: 60000, BufferMs: bufferMs}
}

// TestBBARateMap: BBA-0's map (SIGCOMM 2014, Fig. 5 / Algorithm 1) with
// a 60 s buffer: reservoir 22.5 s, cushion 30 s; R_min up to the
// reservoir, R_max past the cushion, linear between, and a rate moves
// only when f(B) crosses the next rate.
func TestBBARateMap(t *testing.T) {
	c := ladderContext(0)
	b := newBBA(c)
	if b.reservoir != 22500 || b.cushion != 30000 {
		t.Fatalf("reservoir %v cushion %v", b.reservoir, b.cushion)
	}
	for _, tc := range []struct{ buffer, f float64 }{{0, 300}, {22500, 300}, {37500, 2300}, {52500, 4300}, {60000, 4300}} {
		if got := b.rateMap(c, tc.buffer); math.Abs(got-tc.f) > 1e-9 {
			t.Errorf("f(%v) = %v, want %v", tc.buffer, got, tc.f)
		}
	}
	steps := []struct {
		buffer float64
		prev   int
		want   int
	}{
		{10000, 3, 0}, // in the reservoir: R_min
		{55000, 0, 5}, // past the cushion: R_max
		{37500, 0, 3}, // f = 2300 ≥ Rate+ (750): the highest rate below f, 1850
		{37500, 3, 3}, // f = 2300 between Rate− (1200) and Rate+ (2850): stay
		{27000, 3, 2}, // f = 900 ≤ Rate− (1200): the lowest rate above f, 1200
		{45000, 4, 4}, // f = 3300 between Rate− (1850) and Rate+ (4300): stay
	}
	for _, tc := range steps {
		b.prev = tc.prev
		c.BufferMs = tc.buffer
		if q, _ := b.Choose(c); q != tc.want {
			t.Errorf("buffer %v from %d: chose %d, want %d", tc.buffer, tc.prev, q, tc.want)
		}
	}
}

// TestBOLAChoices: BOLA's objective (V·(υ+γp) − Q)/S with V set for a
// 25 s buffer picks the lowest rung on an empty buffer and the top one
// once the buffer passes the top rung's threshold; in between it follows
// the thresholds V·(γp + (S_m υ_{m−1} − S_{m−1} υ_m)/(S_m − S_{m−1})).
func TestBOLAChoices(t *testing.T) {
	c := &Context{Segments: 100, SegmentMs: 3000, BitratesKbps: []float64{1000, 2000, 4000}, MaxBufferMs: 25000,
		ThroughputKbps: 1e9, HasEstimate: true, Index: 50}
	b := newBola(c)
	// V = (25000 − 3000) / (ln 4 + 5)
	v := 22000 / (math.Log(4) + 5)
	if math.Abs(b.vp-v) > 1e-9 {
		t.Fatalf("V = %v, want %v", b.vp, v)
	}
	threshold := func(m int) float64 { // switch point from m−1 to m
		s, sp := c.BitratesKbps[m], c.BitratesKbps[m-1]
		u, up := b.util[m], b.util[m-1]
		return v * (bolaGP + (s*up-sp*u)/(s-sp))
	}
	for _, tc := range []struct {
		level float64
		want  int
	}{{0, 0}, {threshold(1) - 1, 0}, {threshold(1) + 1, 1}, {threshold(2) - 1, 1}, {threshold(2) + 1, 2}, {25000, 2}} {
		if got := b.fromBuffer(c, tc.level); got != tc.want {
			t.Errorf("buffer %.0f ms: quality %d, want %d", tc.level, got, tc.want)
		}
	}
	// With little throughput, an upswitch is held to one rung above what
	// the throughput sustains.
	c.BufferMs, c.ThroughputKbps = 25000, 1000
	b.last = 0
	if q, _ := b.Choose(c); q != 1 {
		t.Errorf("upswitch with 1000 kbit/s: %d, want 1", q)
	}
}

// TestThroughputRule: 0.9 × the estimate, less the latency's share.
func TestThroughputRule(t *testing.T) {
	for _, tc := range []struct {
		tput, latency float64
		want          int
	}{{1000, 0, 1}, {1400, 0, 2}, {1400, 500, 1}, {5000, 0, 5}, {100, 0, 0}} {
		c := ladderContext(60000)
		c.ThroughputKbps, c.LatencyMs, c.HasEstimate = tc.tput, tc.latency, true
		r := newThroughputRule()
		if q, _ := r.Choose(c); q != tc.want {
			t.Errorf("tput %v latency %v: %d, want %d", tc.tput, tc.latency, q, tc.want)
		}
	}
}

// TestMPCPlans: with a steady 2000 kbit/s history and a full buffer, MPC
// picks the highest rate the prediction sustains without stalling; with
// an empty buffer it does not pick a rate whose download would stall.
func TestMPCPlans(t *testing.T) {
	c := ladderContext(20000)
	c.History = []float64{2000, 2000, 2000, 2000, 2000}
	m := newMPC(false)
	m.last = 3
	if q, _ := m.Choose(c); q != 3 && q != 4 {
		t.Errorf("20 s buffer at 2000 kbit/s from 1850: %d, want 1850 or 2850", q)
	}
	c.BufferMs = 0
	m = newMPC(true)
	if q, _ := m.Choose(c); c.BitratesKbps[q] > 300 {
		t.Errorf("empty buffer: %d (%v kbit/s), want the lowest", q, c.BitratesKbps[q])
	}
}

// TestMPCPruningIsExhaustive: the bounded search picks a plan whose
// QoE equals the best of all plans, found by plain enumeration, on
// random buffers, histories and ladders.
func TestMPCPruningIsExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 2 + rng.IntN(5)
		rates := make([]float64, n)
		r := 200.0
		for i := range rates {
			r += 100 + rng.Float64()*1500
			rates[i] = r
		}
		c := &Context{Segments: 40, Index: rng.IntN(40), SegmentMs: 4000, BitratesKbps: rates, MaxBufferMs: 60000,
			BufferMs: rng.Float64() * 30000}
		for range 1 + rng.IntN(6) {
			c.History = append(c.History, 100+rng.Float64()*5000)
		}
		m := newMPC(trial%2 == 1)
		m.last = rng.IntN(n)
		prev := m.last
		// The prediction Choose will use, from a twin with the same state.
		twin := *m
		pred := twin.predict(c)
		q, _ := m.Choose(c)

		horizon := min(mpcHorizon, c.Segments-c.Index)
		qoe := func(plan []int) float64 {
			buffer, total, p := c.BufferMs, 0.0, prev
			for _, q := range plan {
				dl := rates[q] * c.SegmentMs / pred
				total += rates[q]/1000 - mpcRebufPenalty*max(0, dl-buffer)/1000 - math.Abs(rates[q]-rates[p])/1000
				buffer = max(0, buffer-dl) + c.SegmentMs
				p = q
			}
			return total
		}
		best, bestFirst := math.Inf(-1), map[int]bool{}
		plan := make([]int, horizon)
		var all func(step int)
		all = func(step int) {
			if step == horizon {
				v := qoe(plan)
				switch {
				case v > best+1e-9:
					best, bestFirst = v, map[int]bool{plan[0]: true}
				case v > best-1e-9:
					bestFirst[plan[0]] = true
				}
				return
			}
			for q := range n {
				plan[step] = q
				all(step + 1)
			}
		}
		all(0)
		if !bestFirst[q] {
			t.Fatalf("trial %d: chose %d; the best plans start with %v (QoE %.4f)", trial, q, bestFirst, best)
		}
	}
}
