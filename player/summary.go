package player

// Summary holds the means of a set of sessions' metrics.
type Summary struct {
	Sessions       int     `json:"sessions"`
	AvgBitrateKbps float64 `json:"avg_bitrate_kbps"`
	RebufferRatio  float64 `json:"rebuffer_ratio"`
	RebufferS      float64 `json:"rebuffer_s"`
	Switches       float64 `json:"switches"`
	StartupS       float64 `json:"startup_s"`
	SabreScore     float64 `json:"sabre_score"`
	QoELin         float64 `json:"qoe_lin"`
}

// Summarize averages sessions per ABR.
func Summarize(sessions []*Metrics) map[string]Summary {
	out := map[string]Summary{}
	for _, m := range sessions {
		s := out[m.ABR]
		s.Sessions++
		s.AvgBitrateKbps += m.AvgBitrateKbps
		s.RebufferRatio += m.RebufferRatio
		s.RebufferS += m.RebufferS
		s.Switches += float64(m.Switches)
		s.StartupS += m.StartupS
		s.SabreScore += m.SabreScore
		s.QoELin += m.QoELin
		out[m.ABR] = s
	}
	for k, s := range out {
		n := float64(s.Sessions)
		s.AvgBitrateKbps /= n
		s.RebufferRatio /= n
		s.RebufferS /= n
		s.Switches /= n
		s.StartupS /= n
		s.SabreScore /= n
		s.QoELin /= n
		out[k] = s
	}
	return out
}
