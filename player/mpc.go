package player

import "math"

// MPC is model-predictive control (Yin, Jindal, Sekar, Sinopoli, "A
// Control-Theoretic Approach for Dynamic Adaptive Video Streaming over
// HTTP", SIGCOMM 2015), as in Pensieve's reference: it predicts the
// throughput as the harmonic mean of the last five samples and picks the
// first step of the plan over the next five segments that maximises
// QoE_lin = Σ R/1000 − 4.3·rebuffer_s − Σ|ΔR|/1000 (a ladder of more
// than ten rungs shortens the horizon). RobustMPC divides the
// prediction by 1 + the largest relative prediction error of the last
// five.
type MPC struct {
	robust  bool
	prev    float64 // the last prediction (before the robust discount)
	hasPrev bool
	errors  []float64 // relative errors of past predictions
	last    int
}

const (
	mpcHorizon      = 5
	mpcHistory      = 5
	mpcRebufPenalty = 4.3
	mpcMaxPlans     = 100_000
)

func newMPC(robust bool) *MPC { return &MPC{robust: robust} }

func (m *MPC) predict(c *Context) float64 {
	h := c.History
	if len(h) == 0 {
		if c.HasEstimate {
			return c.ThroughputKbps
		}
		return c.BitratesKbps[0]
	}
	if m.hasPrev { // how wrong the last prediction was about the sample it predicted
		actual := h[len(h)-1]
		m.errors = append(m.errors, math.Abs(m.prev-actual)/actual)
	}
	h = h[max(0, len(h)-mpcHistory):]
	inv := 0.0
	for _, v := range h {
		inv += 1 / v
	}
	pred := float64(len(h)) / inv
	m.prev, m.hasPrev = pred, true
	if m.robust {
		errMax := 0.0
		for _, e := range m.errors[max(0, len(m.errors)-mpcHistory):] {
			errMax = max(errMax, e)
		}
		pred /= 1 + errMax
	}
	return pred
}

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (m *MPC) Choose(c *Context) (int, float64) {
	pred := m.predict(c)
	horizon := min(mpcHorizon, c.Segments-c.Index)
	if horizon <= 0 {
		return m.last, 0
	}
	n := len(c.BitratesKbps)
	// A long ladder shortens the horizon so that a decision weighs at
	// most mpcMaxPlans plans (10 rungs keep all five steps).
	for horizon > 1 && math.Pow(float64(n), float64(horizon)) > mpcMaxPlans {
		horizon--
	}
	top := c.BitratesKbps[n-1] / 1000
	// Sizes once per step and quality.
	dl := make([][]float64, horizon)
	for step := range dl {
		dl[step] = make([]float64, n)
		for q := range n {
			size := c.BitratesKbps[q] * c.SegmentMs
			if c.Size != nil {
				size = c.Size(c.Index+step, q)
			}
			dl[step][q] = size / pred
		}
	}
	best, bestQ := math.Inf(-1), 0
	first := 0
	// Exhaustive search over the plans, pruned by a bound: the rest of a
	// plan can add at most the top bitrate per step (penalties only take
	// away), so a branch that cannot beat the best plan so far is cut.
	// The result is the exhaustive search's.
	var search func(step int, buffer, qoe float64, prev int)
	search = func(step int, buffer, qoe float64, prev int) {
		if step == horizon {
			if qoe > best {
				best, bestQ = qoe, first
			}
			return
		}
		if qoe+float64(horizon-step)*top <= best {
			return
		}
		for q := n - 1; q >= 0; q-- {
			if step == 0 {
				first = q
			}
			t := dl[step][q]
			rebuf := max(0, t-buffer)
			r := c.BitratesKbps[q]
			search(step+1, max(0, buffer-t)+c.SegmentMs, qoe+r/1000-mpcRebufPenalty*rebuf/1000-math.Abs(r-c.BitratesKbps[prev])/1000, q)
		}
	}
	search(0, c.BufferMs, 0, m.last)
	m.last = bestQ
	return bestQ, 0
}

// Delayed implements ABR.
func (m *MPC) Delayed(float64) {}

// Downloaded implements ABR.
func (m *MPC) Downloaded(_ *Context, r Result) { m.last = r.Quality }

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (m *MPC) Abandon(*Context, Progress, float64) int { return -1 }
