package player

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

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

// LoadTraces reads a trace file, or every regular file in a directory, in
// name order; the names are returned with the traces.
func LoadTraces(path string) ([]string, []Trace, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	files := []string{path}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, nil, err
		}
		files = files[:0]
		for _, e := range ents {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s: no traces", path)
	}
	var names []string
	var traces []Trace
	for _, f := range files {
		t, err := LoadTrace(f)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, filepath.Base(f))
		traces = append(traces, t)
	}
	return names, traces, nil
}
