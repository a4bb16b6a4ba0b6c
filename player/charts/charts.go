// Package charts draws a fleet's reports as SVG charts with gonum/plot:
// the CDF of QoE per ABR algorithm, and bitrate and buffer over time for a
// sample of sessions.
package charts

import (
	"fmt"
	"io"
	"sort"

	"github.com/streamcdn/streamcdn/player"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// size is every chart's size.
const width, height = 8 * vg.Inch, 4.5 * vg.Inch

// QoECDF writes the empirical CDF of each ABR's sessions' QoE_lin, the
// failed sessions left out.
func QoECDF(w io.Writer, reports []*player.Report) error {
	byABR := map[string][]float64{}
	for _, r := range reports {
		if r != nil && r.Ended != "error" && r.Ended != "canceled" {
			byABR[r.ABR] = append(byABR[r.ABR], r.QoELin)
		}
	}
	p := plot.New()
	p.Title.Text = "QoE_lin per session, CDF by ABR"
	p.X.Label.Text = "QoE_lin (mean per segment)"
	p.Y.Label.Text = "fraction of sessions"
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, abr := range sortedKeys(byABR) {
		v := byABR[abr]
		sort.Float64s(v)
		pts := make(plotter.XYs, 0, len(v)+1)
		for j, x := range v {
			if j == 0 {
				pts = append(pts, plotter.XY{X: x, Y: 0})
			}
			pts = append(pts, plotter.XY{X: x, Y: float64(j+1) / float64(len(v))})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("charts: %w", err)
		}
		l.StepStyle = plotter.PostStep
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%d)", abr, len(v)), l)
	}
	return write(w, p)
}

// Timelines writes two charts of up to n sessions, each a line: the
// bitrate of each segment fetched against session time, and the buffer
// level before and after each.
func Timelines(bitrate, buffer io.Writer, reports []*player.Report, n int) error {
	pb, pf := plot.New(), plot.New()
	pb.Title.Text, pf.Title.Text = "Bitrate of each segment", "Buffer level"
	pb.X.Label.Text, pf.X.Label.Text = "session time (s)", "session time (s)"
	pb.Y.Label.Text, pf.Y.Label.Text = "kbit/s", "seconds of media"
	pb.Legend.Top, pf.Legend.Top = true, true
	pb.Add(plotter.NewGrid())
	pf.Add(plotter.NewGrid())
	for i, r := range sample(reports, n) {
		var rate, buf plotter.XYs
		for _, s := range r.Log {
			if s.Result != "ok" {
				continue
			}
			t := s.AtMs / 1000
			rate = append(rate, plotter.XY{X: t, Y: s.BitrateKbps})
			end := (s.AtMs + s.TTFBMs + s.DownloadMs) / 1000
			buf = append(buf, plotter.XY{X: t, Y: s.BufferBeforeMs / 1000}, plotter.XY{X: end, Y: s.BufferAfterMs / 1000})
		}
		if len(rate) == 0 {
			continue
		}
		name := r.ABR
		if r.Trace != "" {
			name += " / " + r.Trace
		}
		for _, c := range []struct {
			p    *plot.Plot
			pts  plotter.XYs
			step bool
		}{{pb, rate, true}, {pf, buf, false}} {
			l, err := plotter.NewLine(c.pts)
			if err != nil {
				return fmt.Errorf("charts: %w", err)
			}
			if c.step {
				l.StepStyle = plotter.PostStep
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(1.2)
			c.p.Add(l)
			c.p.Legend.Add(name, l)
		}
	}
	if err := write(bitrate, pb); err != nil {
		return err
	}
	return write(buffer, pf)
}

// sample picks up to n sessions that have a log, one per ABR in turn, so
// that every algorithm is shown.
func sample(reports []*player.Report, n int) []*player.Report {
	byABR := map[string][]*player.Report{}
	for _, r := range reports {
		if r != nil && len(r.Log) > 0 {
			byABR[r.ABR] = append(byABR[r.ABR], r)
		}
	}
	keys := sortedKeys(byABR)
	var out []*player.Report
	for round := 0; len(out) < n; round++ {
		added := false
		for _, k := range keys {
			if round < len(byABR[k]) && len(out) < n {
				out = append(out, byABR[k][round])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func write(w io.Writer, p *plot.Plot) error {
	wt, err := p.WriterTo(width, height, "svg")
	if err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}
