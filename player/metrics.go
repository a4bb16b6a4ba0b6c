package player

import "math"

// Metrics are a session's QoE figures, with Sabre's definitions: with P =
// startup + stalls + played time and N = P / segment duration, the
// time-average bitrate is Σ nominal bitrate of played segments / N, the
// rebuffer ratio stall time / P (startup excluded from the stalls), the
// time-average bitrate change Σ|b_i − b_{i−1}| / N, and the score
// (Σ ln(b_i/b_0) − 5 · stall_ms / segment_ms) / N. QoE_lin is Pensieve's
// and MPC's: the mean over segments 1.. of R/1000 − 4.3 · rebuffer_s −
// |R − R_prev|/1000, R in kbit/s, each segment charged the stall before it
// arrived.
type Metrics struct {
	ABR   string `json:"abr"`
	Trace string `json:"trace,omitempty"`

	AvgBitrateKbps   float64 `json:"avg_bitrate_kbps"`
	RebufferRatio    float64 `json:"rebuffer_ratio"`
	RebufferS        float64 `json:"rebuffer_s"`
	RebufferEvents   int     `json:"rebuffer_events"`
	Switches         int     `json:"switches"`
	AvgBitrateChange float64 `json:"avg_bitrate_change_kbps"`
	StartupS         float64 `json:"startup_s"`
	SabreScore       float64 `json:"sabre_score"`
	QoELin           float64 `json:"qoe_lin"`
	Abandoned        int     `json:"abandoned"`
	PlayS            float64 `json:"play_s"`

	rebufferMs    float64
	startupMs     float64
	segMs         float64
	bitrates      []float64
	playMs        float64
	playedBitrate float64
	playedUtility float64
	bitrateChange float64
	qoeSum        float64
	qoeN          int
	prevKbps      float64
	chunks        int
}

// chunk records a downloaded segment for QoE_lin.
func (m *Metrics) chunk(q int, rebufMs float64) {
	r := m.bitrates[q]
	if m.chunks > 0 {
		m.qoeSum += r/1000 - 4.3*rebufMs/1000 - math.Abs(r-m.prevKbps)/1000
		m.qoeN++
	}
	m.prevKbps = r
	m.chunks++
}

func (m *Metrics) finish() {
	n := m.playMs / m.segMs
	if n <= 0 {
		return
	}
	m.AvgBitrateKbps = m.playedBitrate / n
	m.RebufferRatio = m.rebufferMs / m.playMs
	m.RebufferS = m.rebufferMs / 1000
	m.AvgBitrateChange = m.bitrateChange / n
	m.SabreScore = (m.playedUtility - bolaGP*m.rebufferMs/m.segMs) / n
	m.StartupS = m.startupMs / 1000
	m.PlayS = m.playMs / 1000
	if m.qoeN > 0 {
		m.QoELin = m.qoeSum / float64(m.qoeN)
	}
}
