package deploy

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/metricnames"
	"github.com/streamcdn/streamcdn/internal/pace"
)

// Snapshot is the deployment as the status page shows it: each region's
// cluster with its health, load and hit ratio, the DNS's answers, and
// every process.
type Snapshot struct {
	Name    string         `json:"name"`
	At      time.Time      `json:"at"`
	Regions []RegionStatus `json:"regions"`
	// Answers are the DNS's answers so far, by cluster and the policy
	// that decided them.
	Answers []Answers `json:"answers"`
	// SteerAnswers are the steering service's, by the edge it put first
	// (as Cluster) and why, MPDs and steering manifests together.
	SteerAnswers []Answers `json:"steer_answers,omitempty"`
	Components   []Process `json:"components"`
	// OriginRequests is the origin's request count: what the CDN did
	// not absorb.
	OriginRequests int64 `json:"origin_requests"`
	// OriginBytes is the body bytes the origin sent.
	OriginBytes int64 `json:"origin_bytes"`
}

// RegionStatus is a region on the map.
type RegionStatus struct {
	Name string  `json:"name"`
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
	// Cluster is false for a region with clients only.
	Cluster bool `json:"cluster"`
	// Health is up or down (the cluster's WAN proxy has a healthy node
	// or not), or "" without a cluster.
	Health     string  `json:"health,omitempty"`
	NodesUp    int     `json:"nodes_up"`
	Nodes      int     `json:"nodes"`
	Requests   int64   `json:"requests"`
	Hits       int64   `json:"hits"`
	HitRatio   float64 `json:"hit_ratio"`
	EgressMbps float64 `json:"egress_mbps"`
	// Load is egress over capacity, when the capacity is set.
	Load float64 `json:"load,omitempty"`
	// DNSUp is the DNS's own view of the cluster's health.
	DNSUp bool `json:"dns_up"`
}

// Answers counts the DNS's answers with one cluster for one reason.
type Answers struct {
	Cluster string `json:"cluster"`
	Reason  string `json:"reason"`
	Count   int64  `json:"count"`
}

// Watcher polls a deployment's components for its status page.
type Watcher struct {
	d      *Deployment
	hc     *http.Client
	pollMu sync.Mutex // one poll at a time
	mu     sync.Mutex // guards the fields below
	snap   Snapshot
	bytes  map[string]float64 // egress bytes by region, last poll
	polled time.Time
	// counted are each edge node's requests and hits across its
	// restarts: a process that starts again counts from zero.
	counted map[string]*edgeCounts
}

// edgeCounts are an edge node's counters: as last scraped, and what its
// earlier processes had counted.
type edgeCounts struct{ last, before [2]int64 }

// total adds what the node's process counts now, cur (nil: not
// running), to what it counted before.
func (e *edgeCounts) total(cur *[2]int64) [2]int64 {
	if cur != nil {
		if cur[0] < e.last[0] { // a new process: its predecessor's counts are before
			e.before[0] += e.last[0]
			e.before[1] += e.last[1]
		}
		e.last = *cur
	}
	return [2]int64{e.before[0] + e.last[0], e.before[1] + e.last[1]}
}

// NewWatcher watches d.
func NewWatcher(d *Deployment) *Watcher {
	return &Watcher{d: d, hc: &http.Client{Timeout: time.Second}, bytes: map[string]float64{}, counted: map[string]*edgeCounts{}}
}

// Current is a snapshot at most maxAge old: the last one, or one taken
// now. The components are scraped only while someone looks.
func (w *Watcher) Current(ctx context.Context, maxAge time.Duration) Snapshot {
	w.pollMu.Lock()
	defer w.pollMu.Unlock()
	w.mu.Lock()
	snap, fresh := w.snap, time.Since(w.polled) < maxAge
	w.mu.Unlock()
	if fresh {
		return snap
	}
	return w.poll(ctx)
}

// Poll takes a snapshot now. Egress rates are over the time since the
// previous one.
func (w *Watcher) Poll(ctx context.Context) Snapshot {
	w.pollMu.Lock()
	defer w.pollMu.Unlock()
	return w.poll(ctx)
}

func (w *Watcher) poll(ctx context.Context) Snapshot {
	p := w.d.plan
	now := time.Now()
	st := w.d.State()
	snap := Snapshot{Name: p.Topology.Name, At: now, Components: st.Processes}
	running := map[string]bool{}
	for _, pr := range st.Processes {
		running[pr.Component] = pr.State == "running"
	}
	dnsUp := map[string]bool{}
	if c, ok := p.Component("dns"); ok {
		fams := w.scrape(ctx, "http://"+c.Admin+"/metrics")
		for _, m := range metricsOf(fams, metricnames.DNSAnswers) {
			snap.Answers = append(snap.Answers, Answers{Cluster: label(m, metricnames.Cluster), Reason: label(m, metricnames.Reason), Count: int64(m.GetCounter().GetValue())})
		}
		for _, m := range metricsOf(fams, metricnames.DNSClusterUp) {
			dnsUp[label(m, metricnames.Cluster)] = m.GetGauge().GetValue() == 1
		}
	}
	if c, ok := p.Component("steer"); ok {
		fams := w.scrape(ctx, "http://"+c.Admin+"/metrics")
		counts := map[[2]string]int64{}
		for _, m := range metricsOf(fams, metricnames.SteerAnswers) {
			counts[[2]string{label(m, metricnames.Edge), label(m, metricnames.Reason)}] += int64(m.GetCounter().GetValue())
		}
		for k, n := range counts {
			snap.SteerAnswers = append(snap.SteerAnswers, Answers{Cluster: k[0], Reason: k[1], Count: n})
		}
		slices.SortFunc(snap.SteerAnswers, func(a, b Answers) int {
			return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Reason, b.Reason))
		})
	}
	if c, ok := p.Component("origin"); ok {
		fams := w.scrape(ctx, "http://"+c.Admin+"/metrics")
		for _, m := range metricsOf(fams, metricnames.OriginRequests) {
			snap.OriginRequests += int64(m.GetCounter().GetValue())
		}
		for _, m := range metricsOf(fams, metricnames.OriginBodyBytes) {
			snap.OriginBytes += int64(m.GetCounter().GetValue())
		}
	}
	w.mu.Lock()
	elapsed := now.Sub(w.polled).Seconds()
	w.mu.Unlock()
	newBytes := map[string]float64{}
	for _, r := range p.Topology.Regions {
		rs := RegionStatus{Name: r.Name, Lat: r.Lat, Lon: r.Lon, Cluster: r.Edge != nil, DNSUp: dnsUp[r.Name]}
		if r.Edge == nil {
			snap.Regions = append(snap.Regions, rs)
			continue
		}
		rs.Health = "down"
		if c, ok := p.Component("wan-" + r.Name); ok && w.up(ctx, "http://"+c.Admin+"/health/cluster") {
			rs.Health = "up"
		}
		var egress float64
		for _, c := range p.Components {
			if c.Kind != KindEdge || c.Region != r.Name {
				continue
			}
			rs.Nodes++
			var cur *[2]int64 // requests and hits of the running process
			if running[c.Name] {
				rs.NodesUp++
				cur = new([2]int64)
				fams := w.scrape(ctx, "http://"+c.Admin+"/metrics")
				for _, m := range metricsOf(fams, metricnames.EdgeRequests) {
					n := int64(m.GetCounter().GetValue())
					cur[0] += n
					if cs := label(m, metricnames.Cache); cs == metricnames.CacheHit || cs == metricnames.CachePinned || cs == metricnames.CacheRevalidated {
						cur[1] += n
					}
				}
				for _, m := range metricsOf(fams, metricnames.EdgeBodyBytes) {
					egress += m.GetCounter().GetValue()
				}
			}
			w.mu.Lock()
			ec := w.counted[c.Name]
			if ec == nil {
				ec = &edgeCounts{}
				w.counted[c.Name] = ec
			}
			tot := ec.total(cur)
			w.mu.Unlock()
			rs.Requests += tot[0]
			rs.Hits += tot[1]
		}
		newBytes[r.Name] = egress
		if rs.Requests > 0 {
			rs.HitRatio = float64(rs.Hits) / float64(rs.Requests)
		}
		w.mu.Lock()
		if prev, ok := w.bytes[r.Name]; ok && elapsed > 0 && egress >= prev {
			rs.EgressMbps = (egress - prev) * 8 / elapsed / 1e6
		}
		w.mu.Unlock()
		if capacity, _ := pace.ParseRate(r.Edge.Capacity); capacity > 0 {
			rs.Load = rs.EgressMbps * 1e6 / capacity
		}
		snap.Regions = append(snap.Regions, rs)
	}
	w.mu.Lock()
	w.bytes, w.polled, w.snap = newBytes, now, snap
	w.mu.Unlock()
	return snap
}

// up reports whether url answers 200.
func (w *Watcher) up(ctx context.Context, url string) bool {
	code, err := httpx.Probe(ctx, w.hc, url)
	return err == nil && code == http.StatusOK
}

// scrape reads a /metrics page; a component that does not answer has
// no metrics.
func (w *Watcher) scrape(ctx context.Context, url string) map[string]*dto.MetricFamily {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil
	}
	return fams
}

func metricsOf(fams map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if f := fams[name]; f != nil {
		return f.GetMetric()
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

//go:embed status.html
var statusHTML string

// Handler serves the status page at / and its data at /status.json.
func (w *Watcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(rw, strings.ReplaceAll(statusHTML, "{{NAME}}", htmlEscape(w.d.plan.Topology.Name)))
	})
	mux.HandleFunc("GET /status.json", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(rw).Encode(w.Current(r.Context(), time.Second))
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		io.WriteString(rw, "ok\n")
	})
	return mux
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
