// Package report writes a deployment run's report: as text (Text, and
// Compare for fill modes side by side), and as one HTML page of the text
// and SVG charts drawn with gonum/plot of each player's
// bitrate and buffer over the run, of the cluster the DNS sent each
// region's players to over time, and of each cluster's hit ratio, with
// the run's scripted events marked on the time axes.
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Run is what a report is made of. Times are since Start.
type Run struct {
	Topology *deploy.Topology
	Start    time.Time
	// Speed is the players' time dilation: a session's log is in media
	// time, Speed times the wall clock's.
	Speed    float64
	Sessions []*deploy.Session
	Routes   []deploy.Route
	Events   []Event
	Snapshot deploy.Snapshot
	// Filled is the origin's counts once the fill ahead of demand was
	// done, before the first player: what the pushes cost it.
	Filled deploy.Snapshot
	// Explained is, per region, where the DNS sends its clients and why.
	Explained []Explained
	// Timeline is what happened, in words.
	Timeline []Line
	// Chain is what a client's resolver got for the provider's video
	// host before the players started: the CNAME to the CDN and the
	// cluster's address, as records; ChainFrom is the client.
	Chain     []string
	ChainFrom string
	// SteeringTTL is the steering manifests' TTL, when the topology has
	// the steering service.
	SteeringTTL time.Duration
}

// Event is a scripted event, marked on the time charts.
type Event struct {
	At    time.Duration
	Label string
	// Action and Region are the topology event's (fail, restore, push).
	Action, Region string
}

// chart sizes.
const width, height = 9 * vg.Inch, 4 * vg.Inch

// WriteHTML writes the report page to path, whole or not at all.
func WriteHTML(path string, r Run) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return atomicfile.WriteFrom(path, func(w io.Writer) error { return HTML(w, r) })
}

// HTML writes the report page.
func HTML(w io.Writer, r Run) error {
	if r.Speed <= 0 {
		r.Speed = 1
	}
	charts := []struct {
		title string
		draw  func(io.Writer, Run) error
	}{
		{"Bitrate of each segment, every player", bitrateChart},
		{"Playout buffer, every player", bufferChart},
		{"Where each region's players streamed from", routeChart},
		{"Hit ratio per edge cluster", hitChart},
	}
	type figure struct {
		Title string
		SVG   template.HTML
	}
	var figs []figure
	for _, c := range charts {
		var b bytes.Buffer
		if err := c.draw(&b, r); err != nil {
			return fmt.Errorf("report: %s: %w", c.title, err)
		}
		figs = append(figs, figure{c.title, template.HTML(svgBody(b.Bytes()))}) // our own plot's SVG
	}
	var text bytes.Buffer
	if err := Text(&text, r); err != nil {
		return err
	}
	return page.Execute(w, struct {
		Name, Text string
		Figures    []figure
	}{r.Topology.Name, text.String(), figs})
}

// svgBody drops the XML declaration gonum/plot writes before <svg, which
// does not belong inside HTML.
func svgBody(b []byte) []byte {
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		return b[i:]
	}
	return b
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>streamcdn demo report: {{.Name}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:70em}pre{background:#f6f6f6;padding:1em;overflow-x:auto}figure{margin:2em 0}svg{max-width:100%;height:auto}</style>
</head><body>
<h1>streamcdn demo report: {{.Name}}</h1>
{{range .Figures}}<figure><figcaption><h2>{{.Title}}</h2></figcaption>
{{.SVG}}
</figure>
{{end}}<h2>The run, as text</h2>
<pre>{{.Text}}</pre>
</body></html>
`))

// regionIndex gives each region its color, in the topology's order.
func regionIndex(t *deploy.Topology) map[string]int {
	m := map[string]int{}
	for i, r := range t.Regions {
		m[r.Name] = i
	}
	return m
}

// style draws a line of region's players of flow: the region's colour
// on every chart, dashed when the players are steered (the Netflix flow)
// rather than sent by the DNS; it returns their legend entry.
func style(l *plotter.Line, colors map[string]int, region, flow string) string {
	l.Color = plotutil.Color(colors[region])
	if flow == "steer" {
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		return region + " (steered)"
	}
	return region
}

// legendRows is how many entries the charts' legends have: one a region
// and flow with players.
func legendRows(r Run) int {
	seen := map[[2]string]bool{}
	for _, s := range r.Sessions {
		seen[[2]string{s.Region, s.Flow}] = true
	}
	return max(len(seen), 1)
}

// sessionLines draws one line per session of y(segment) against wall
// seconds since the start, colored by region (dashed when steered), one
// legend entry a region and flow; step lines hold each value until the
// next.
func sessionLines(p *plot.Plot, r Run, step bool, y func(*deploy.Session, int) []plotter.XY) error {
	colors := regionIndex(r.Topology)
	inLegend := map[string]bool{}
	for _, s := range r.Sessions {
		if s.Report == nil || s.Started.IsZero() {
			continue
		}
		var pts plotter.XYs
		for i := range s.Report.Log {
			pts = append(pts, y(s, i)...)
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		entry := style(l, colors, s.Region, s.Flow)
		l.Width = vg.Points(1)
		if step {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		if !inLegend[entry] {
			inLegend[entry] = true
			p.Legend.Add(entry, l)
		}
	}
	return nil
}

// wallS is a session's log time as wall seconds since the run's start.
func (r Run) wallS(s *deploy.Session, ms float64) float64 {
	return s.Started.Sub(r.Start).Seconds() + ms/1000/r.Speed
}

func bitrateChart(w io.Writer, r Run) error {
	p := timePlot("Bitrate of each segment", "kbit/s")
	err := sessionLines(p, r, true, func(s *deploy.Session, i int) []plotter.XY {
		l := s.Report.Log[i]
		if l.Result != "ok" {
			return nil
		}
		return []plotter.XY{{X: r.wallS(s, l.AtMs), Y: l.BitrateKbps}}
	})
	if err != nil {
		return err
	}
	return finish(w, p, r)
}

func bufferChart(w io.Writer, r Run) error {
	p := timePlot("Playout buffer", "seconds of media")
	err := sessionLines(p, r, false, func(s *deploy.Session, i int) []plotter.XY {
		l := s.Report.Log[i]
		end := l.AtMs + l.TTFBMs + l.DownloadMs
		return []plotter.XY{{X: r.wallS(s, l.AtMs), Y: l.BufferBeforeMs / 1000}, {X: r.wallS(s, end), Y: l.BufferAfterMs / 1000}}
	})
	if err != nil {
		return err
	}
	return finish(w, p, r)
}

// routeChart draws, per player, the cluster it streamed from over time:
// a step line on the cluster's row, offset a little by region so that
// regions on the same cluster stay apart.
func routeChart(w io.Writer, r Run) error {
	p := timePlot("Where each region's players streamed from (sent by the DNS, or steered)", "edge cluster")
	colors := regionIndex(r.Topology)
	var clusters []string
	row := map[string]float64{}
	for _, reg := range r.Topology.Regions {
		if reg.Edge != nil {
			row[reg.Name] = float64(len(clusters))
			clusters = append(clusters, reg.Name)
		}
	}
	var ticks []plot.Tick
	for i, c := range clusters {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: c})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.5, float64(len(clusters))-0.5
	type key struct {
		region     string
		population int
		player     int
		flow       string
	}
	byPlayer := map[key][]deploy.Route{}
	var keys []key
	for _, rt := range r.Routes {
		k := key{rt.Region, rt.Population, rt.Player, rt.Flow}
		if _, ok := byPlayer[k]; !ok {
			keys = append(keys, k)
		}
		byPlayer[k] = append(byPlayer[k], rt)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].region != keys[j].region {
			return colors[keys[i].region] < colors[keys[j].region]
		}
		if keys[i].population != keys[j].population {
			return keys[i].population < keys[j].population
		}
		return keys[i].player < keys[j].player
	})
	end := r.end()
	n := float64(len(r.Topology.Regions))
	inLegend := map[string]bool{}
	for _, k := range keys {
		off := 0.3 * (float64(colors[k.region]) - (n-1)/2) / max(n, 1)
		var pts plotter.XYs
		for _, rt := range byPlayer[k] {
			y, ok := row[rt.Cluster]
			if !ok {
				continue
			}
			pts = append(pts, plotter.XY{X: rt.At.Sub(r.Start).Seconds(), Y: y + off})
		}
		if len(pts) == 0 {
			continue
		}
		pts = append(pts, plotter.XY{X: end, Y: pts[len(pts)-1].Y})
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.StepStyle = plotter.PostStep
		entry := style(l, colors, k.region, k.flow)
		l.Width = vg.Points(1.5)
		p.Add(l)
		if !inLegend[entry] {
			inLegend[entry] = true
			p.Legend.Add(entry, l)
		}
	}
	return finish(w, p, r)
}

// end is the last moment the report knows of, in seconds.
func (r Run) end() float64 {
	end := 0.0
	for _, s := range r.Sessions {
		if s.Report != nil && len(s.Report.Log) > 0 {
			l := s.Report.Log[len(s.Report.Log)-1]
			end = max(end, r.wallS(s, l.AtMs+l.TTFBMs+l.DownloadMs))
		}
	}
	for _, e := range r.Events {
		end = max(end, e.At.Seconds())
	}
	return end
}

func hitChart(w io.Writer, r Run) error {
	p := plot.New()
	p.Y.Label.Text = "hit ratio (%)"
	p.Y.Min, p.Y.Max = 0, 100
	p.Add(plotter.NewGrid())
	var names []string
	var ratios plotter.Values
	var total int64
	for _, reg := range r.Snapshot.Regions {
		if reg.Cluster {
			names = append(names, fmt.Sprintf("%s (%d req)", reg.Name, reg.Requests))
			ratios = append(ratios, 100*reg.HitRatio)
			total += reg.Requests
		}
	}
	p.Title.Text = "Hit ratio per edge cluster, counted since each edge process started"
	if total > 0 {
		p.Title.Text += fmt.Sprintf("; origin offload %.1f%%", 100-100*float64(r.Snapshot.OriginRequests)/float64(total))
	}
	if len(ratios) > 0 {
		bars, err := plotter.NewBarChart(ratios, vg.Points(40))
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(0)
		p.Add(bars)
		p.NominalX(names...)
		// Room for the first and last labels, centred under their bars.
		p.X.Min, p.X.Max = -0.7, float64(len(ratios))-0.3
	}
	return write(w, p)
}

func timePlot(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "wall-clock seconds since the players started"
	p.Y.Label.Text = ylabel
	p.X.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	return p
}

// finish marks the events on a time plot and writes it.
func finish(w io.Writer, p *plot.Plot, r Run) error {
	if len(r.Events) > 0 {
		lo, hi := p.Y.Min, p.Y.Max
		if hi <= lo {
			hi = lo + 1
		}
		var labels plotter.XYLabels
		for _, e := range r.Events {
			x := e.At.Seconds()
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
			if err != nil {
				return err
			}
			l.Color = plotutil.Color(7)
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: lo})
			labels.Labels = append(labels.Labels, " "+e.Label)
		}
		ls, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for i := range ls.TextStyle {
			// Along the line, reading upwards from the axis.
			ls.TextStyle[i].Rotation = math.Pi / 2
			ls.TextStyle[i].XAlign, ls.TextStyle[i].YAlign = draw.XLeft, draw.YBottom
		}
		p.Add(ls)
	}
	// Headroom above the lines for the legend (a row a region and flow),
	// and on the right for the last event's label.
	p.Y.Max += 0.15 * float64(legendRows(r)) * (p.Y.Max - p.Y.Min)
	p.X.Max = max(p.X.Max, r.end()) * 1.04
	return write(w, p)
}

func write(w io.Writer, p *plot.Plot) error {
	wt, err := p.WriterTo(width, height, "svg")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
