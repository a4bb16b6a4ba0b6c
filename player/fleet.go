package player

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// FleetConfig is a fleet of sessions: real ones (Session.URL set) or
// virtual-time ones (Video set).
type FleetConfig struct {
	// Players is the number of sessions; all real ones run at once.
	Players int
	// ABRs are assigned round-robin: player i runs ABRs[i % len(ABRs)]
	// on trace (i / len(ABRs)) % len(Traces), so that each algorithm
	// meets the same traces in the same order.
	ABRs       []string
	Traces     []Trace
	TraceNames []string
	// Session is the template of real sessions; NewClient, when set,
	// gives each its own client (its own connections, as real players).
	Session   Config
	NewClient func() *http.Client
	// Video, when set, runs the fleet in virtual time with Sabre's model
	// (Simulate), on as many goroutines as CPUs.
	Video       *Video
	MaxBufferMs float64
	NoAbandon   bool
	// Stagger spreads real sessions' starts over this wall time.
	Stagger time.Duration
}

// Fleet is a running fleet; Done and Active may be read while it runs.
type Fleet struct {
	cfg     FleetConfig
	done    atomic.Int64
	active  atomic.Int64
	peak    atomic.Int64
	Reports []*Report

	// the process's heap and stacks: before Run, and the most seen while
	// real sessions ran
	memBase, memPeak uint64
}

// NewFleet checks cfg and returns the fleet, not started.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Players <= 0 {
		return nil, errors.New("fleet: players must be > 0")
	}
	if len(cfg.ABRs) == 0 {
		return nil, errors.New("fleet: no ABR")
	}
	if cfg.Video == nil && cfg.Session.URL == "" {
		return nil, errors.New("fleet: a URL or a video description is required")
	}
	if cfg.Video != nil && len(cfg.Traces) == 0 {
		return nil, errors.New("fleet: virtual time needs traces")
	}
	for _, a := range cfg.ABRs {
		if err := Known(a); err != nil {
			return nil, err
		}
	}
	return &Fleet{cfg: cfg, Reports: make([]*Report, cfg.Players)}, nil
}

// Done counts the sessions that ended.
func (f *Fleet) Done() int { return int(f.done.Load()) }

// Active counts the sessions running.
func (f *Fleet) Active() int { return int(f.active.Load()) }

// started counts a session in, raising the peak if it is one.
func (f *Fleet) started() {
	n := f.active.Add(1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
}

// Peak is the most sessions that ran at once.
func (f *Fleet) Peak() int { return int(f.peak.Load()) }

// assignment returns player i's ABR and trace index (-1: no trace).
func (f *Fleet) assignment(i int) (string, int) {
	abr := f.cfg.ABRs[i%len(f.cfg.ABRs)]
	if len(f.cfg.Traces) == 0 {
		return abr, -1
	}
	return abr, (i / len(f.cfg.ABRs)) % len(f.cfg.Traces)
}

func (f *Fleet) traceName(t int) string {
	if t >= 0 && t < len(f.cfg.TraceNames) {
		return f.cfg.TraceNames[t]
	}
	return ""
}

// Memory is the process's heap and stacks before Run and at their peak
// while real sessions ran (sampled twice a second); zero for a fleet in
// virtual time. Read it after Run.
func (f *Fleet) Memory() (base, peak uint64) { return f.memBase, f.memPeak }

// sampleMemory records the peak of heap and stacks every 500 ms until
// stop closes.
func (f *Fleet) sampleMemory(stop <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			f.memPeak = max(f.memPeak, ms.HeapInuse+ms.StackInuse)
		}
	}
}

// Run runs every session and returns when all have ended. A session's
// error is in its report (Ended, Errors); Run fails only when ctx ends.
func (f *Fleet) Run(ctx context.Context) error {
	if f.cfg.Video == nil {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		f.memBase = ms.HeapInuse + ms.StackInuse
		stop, sampled := make(chan struct{}), make(chan struct{})
		go func() { f.sampleMemory(stop); close(sampled) }()
		defer func() { close(stop); <-sampled }()
	}
	workers := f.cfg.Players
	if f.cfg.Video != nil {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, f.cfg.Players) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f.started()
				f.Reports[i] = f.session(ctx, i)
				f.active.Add(-1)
				f.done.Add(1)
			}
		}()
	}
	start := time.Now()
	for i := range f.cfg.Players {
		if f.cfg.Video == nil && f.cfg.Stagger > 0 {
			at := start.Add(f.cfg.Stagger * time.Duration(i) / time.Duration(f.cfg.Players))
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(at)):
			}
		}
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return ctx.Err()
}

func (f *Fleet) session(ctx context.Context, i int) *Report {
	abr, ti := f.assignment(i)
	if f.cfg.Video != nil {
		r := &Report{Errors: []Event{}, Ended: "complete"}
		m, err := Simulate(SimConfig{Video: f.cfg.Video, Trace: f.cfg.Traces[ti], ABR: abr, MaxBufferMs: f.cfg.MaxBufferMs,
			NoAbandon: f.cfg.NoAbandon, OnSegment: func(l SegmentLog) { r.Log = append(r.Log, l) }})
		if err != nil {
			r.Ended = "error"
			r.Errors = append(r.Errors, Event{Segment: -1, Kind: "sim", Error: err.Error(), Action: "end"})
			r.Metrics = Metrics{ABR: abr}
		} else {
			r.Metrics = *m
			r.Segments = len(f.cfg.Video.SizesBits)
		}
		r.Trace = f.traceName(ti)
		return r
	}
	cfg := f.cfg.Session
	cfg.ABR = abr
	cfg.SessionID = fmt.Sprintf("p%d", i)
	if ti >= 0 {
		cfg.Trace, cfg.TraceName = f.cfg.Traces[ti], f.traceName(ti)
	}
	if f.cfg.NewClient != nil {
		cfg.Client = f.cfg.NewClient()
	}
	r, _ := Play(ctx, cfg)
	if f.cfg.NewClient != nil {
		cfg.Client.CloseIdleConnections()
	}
	return r
}

// Stats are the mean, median and 95th percentile of one metric.
type Stats struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
}

// FleetMetricNames are the metrics Table summarises, in order.
var FleetMetricNames = []string{"avg_bitrate_kbps", "rebuffer_ratio", "rebuffer_s", "switches", "startup_s", "sabre_score", "qoe_lin"}

func metricValue(r *Report, name string) float64 {
	switch name {
	case "avg_bitrate_kbps":
		return r.AvgBitrateKbps
	case "rebuffer_ratio":
		return r.RebufferRatio
	case "rebuffer_s":
		return r.RebufferS
	case "switches":
		return float64(r.Switches)
	case "startup_s":
		return r.StartupS
	case "sabre_score":
		return r.SabreScore
	case "qoe_lin":
		return r.QoELin
	}
	return math.NaN()
}

// ABRSummary is one algorithm's sessions summarised.
type ABRSummary struct {
	Sessions int `json:"sessions"`
	// Failed counts sessions that ended with an error; their metrics are
	// left out of the statistics.
	Failed          int              `json:"failed"`
	Segments        int              `json:"segments"`
	DelayedSegments int              `json:"delayed_segments"`
	Metrics         map[string]Stats `json:"metrics"`
}

// Table summarises reports per ABR.
func Table(reports []*Report) map[string]*ABRSummary {
	values := map[string]map[string][]float64{}
	out := map[string]*ABRSummary{}
	for _, r := range reports {
		if r == nil {
			continue
		}
		s := out[r.ABR]
		if s == nil {
			s = &ABRSummary{Metrics: map[string]Stats{}}
			out[r.ABR] = s
			values[r.ABR] = map[string][]float64{}
		}
		s.Sessions++
		s.Segments += r.Segments
		s.DelayedSegments += r.DelayedSegments
		if r.Ended == "error" || r.Ended == "canceled" {
			s.Failed++
			continue
		}
		for _, n := range FleetMetricNames {
			values[r.ABR][n] = append(values[r.ABR][n], metricValue(r, n))
		}
	}
	for abr, s := range out {
		for _, n := range FleetMetricNames {
			s.Metrics[n] = stats(values[abr][n])
		}
	}
	return out
}

func stats(v []float64) Stats {
	if len(v) == 0 {
		return Stats{}
	}
	sort.Float64s(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return Stats{Mean: sum / float64(len(v)), Median: quantile(v, 0.5), P95: quantile(v, 0.95)}
}

// quantile interpolates linearly between the sorted values.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}
