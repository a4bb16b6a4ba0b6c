// Package steer is the CDN's control plane in the Netflix style (Kurose
// & Ross §2.6.4): it knows which edges hold which titles completely and
// which are healthy, and tells each player which edges to use, best
// first, without DNS. It speaks MPEG-DASH Content Steering: a title's
// MPD from it has one BaseURL per chosen edge (an address, by its
// serviceLocation) and a ContentSteering element pointing back at it;
// the steering manifest (DCSM) it serves ranks the edges again on every
// reload, as health changes. The choice among the edges that hold a
// title is internal/policy's, the DNS's own.
package steer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/dnsapi"
	"github.com/streamcdn/streamcdn/internal/geo"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/metricnames"
	"github.com/streamcdn/streamcdn/internal/policy"
	"github.com/streamcdn/streamcdn/internal/promreg"
	"github.com/streamcdn/streamcdn/internal/pushapi"
	"github.com/streamcdn/streamcdn/manifest"
)

// Edge is an edge the service may send players to.
type Edge struct {
	// Name is the edge's pathway (serviceLocation): letters, digits,
	// '-', '_' and '.'.
	Name string `json:"name"`
	// URL is its public base URL, e.g. http://127.0.2.1:8080/.
	URL string `json:"url"`
	// Admin is its admin base URL: /healthz and /push/objects.
	Admin string  `json:"admin"`
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	// Capacity is what the edge can serve, in Mbit/s, against which its
	// nodes' load reports are weighed; zero: it never sheds.
	Capacity float64 `json:"capacity,omitempty"`
}

// Config is a steering service.
type Config struct {
	// Origin is the origin's base URL: a title's MPD is at
	// Origin/TITLE/manifest.mpd.
	Origin string `json:"origin"`
	Edges  []Edge `json:"edges"`
	// Pathways is how many edges an MPD offers; if zero, 3.
	Pathways int `json:"pathways,omitempty"`
	// Geo places client networks (an operator's own prefixes), ahead of
	// GeoDB, as the DNS's configuration does.
	Geo []geo.Net `json:"geo,omitempty"`
	// GeoDB is the path of a MaxMind-format city database; "": clients
	// outside Geo are not located, and the configured order decides.
	GeoDB string `json:"geo_db,omitempty"`
	// RTTMaxAge is how long an RTT an edge measured stays fresh; if
	// zero, 5m.
	RTTMaxAge time.Duration `json:"-"`
	// MaxRTTPrefixes bounds the RTT table; if zero,
	// policy.DefaultRTTPrefixes.
	MaxRTTPrefixes int `json:"-"`
	// TTL is the steering manifest's; if zero, 10s.
	TTL time.Duration `json:"-"`
	// Probe is how often the edges' health and holdings are read; if
	// zero, 1s.
	Probe time.Duration `json:"-"`
	// Token is the bearer token of the edges' holdings API, and of the
	// service's own admin writes.
	Token     string                `json:"-"`
	Transport http.RoundTripper     `json:"-"`
	Logger    *slog.Logger          `json:"-"`
	Registry  prometheus.Registerer `json:"-"`
}

// Server is a steering service.
type Server struct {
	cfg     Config
	loc     *geo.Locator
	log     *slog.Logger
	hc      *http.Client
	mu      sync.Mutex
	state   map[string]*edgeState // by edge name
	mpds    map[string]cachedMPD  // by title
	lastAsk map[netip.Addr]time.Time
	probed  time.Time // the last probe asked for by a request
	rtt     *policy.RTTTable
	metrics *metrics
}

type edgeState struct {
	healthy bool
	drained bool
	holds   map[string]bool // titles held completely
	load    *policy.Load    // its nodes' reports
}

type cachedMPD struct {
	body []byte
	at   time.Time
}

// New checks cfg.
func New(cfg Config) (*Server, error) {
	if u, err := url.Parse(cfg.Origin); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("steer: origin %q: want an absolute URL", cfg.Origin)
	}
	if len(cfg.Edges) == 0 {
		return nil, errors.New("steer: no edges")
	}
	seen := map[string]bool{}
	for i, e := range cfg.Edges {
		if err := manifest.CheckPathway(e.Name); err != nil {
			return nil, fmt.Errorf("steer: edges[%d]: %w", i, err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("steer: edges[%d]: %q twice", i, e.Name)
		}
		seen[e.Name] = true
		for _, u := range []string{e.URL, e.Admin} {
			if pu, err := url.Parse(u); err != nil || !pu.IsAbs() {
				return nil, fmt.Errorf("steer: edges[%d] (%s): %q: want an absolute URL", i, e.Name, u)
			}
		}
		cfg.Edges[i].URL = strings.TrimSuffix(e.URL, "/") + "/"
		cfg.Edges[i].Admin = strings.TrimSuffix(e.Admin, "/")
	}
	places, err := geo.Places(cfg.Geo)
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	var db []byte
	if cfg.GeoDB != "" {
		if db, err = os.ReadFile(cfg.GeoDB); err != nil {
			return nil, fmt.Errorf("steer: geo_db: %w", err)
		}
	}
	loc, err := geo.New(places, db)
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	cfg.Origin = strings.TrimSuffix(cfg.Origin, "/") + "/"
	cfg.Pathways = cmp.Or(cfg.Pathways, 3)
	cfg.TTL = cmp.Or(cfg.TTL, 10*time.Second)
	cfg.Probe = cmp.Or(cfg.Probe, time.Second)
	cfg.RTTMaxAge = cmp.Or(cfg.RTTMaxAge, 5*time.Minute)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, loc: loc, log: cfg.Logger.With("component", "steer"), hc: &http.Client{Transport: cfg.Transport, Timeout: 5 * time.Second},
		state: map[string]*edgeState{}, mpds: map[string]cachedMPD{}, lastAsk: map[netip.Addr]time.Time{}, metrics: m,
		rtt: policy.NewRTTTable(cmp.Or(cfg.MaxRTTPrefixes, policy.DefaultRTTPrefixes))}
	for _, e := range cfg.Edges {
		s.state[e.Name] = &edgeState{holds: map[string]bool{}, load: policy.NewLoad(e.Capacity)}
	}
	return s, nil
}

// Run reads every edge's health and holdings every Probe until ctx
// ends.
func (s *Server) Run(ctx context.Context) {
	for {
		s.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.Probe):
		}
	}
}

// Probe reads every edge's health and holdings once.
func (s *Server) Probe(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range s.cfg.Edges {
		wg.Go(func() {
			healthy := false
			if code, err := httpx.Probe(ctx, s.hc, e.Admin+"/healthz"); err == nil && code == http.StatusOK {
				healthy = true
			}
			// What an edge that does not answer holds stays as last read:
			// its pinned area outlives the process.
			var holds map[string]bool
			if healthy {
				var h pushapi.Holdings
				if err := httpx.DoJSON(ctx, s.hc, http.MethodGet, e.Admin+"/push/objects", s.cfg.Token, nil, &h); err != nil {
					s.log.Warn("holdings", "edge", e.Name, "err", err)
				} else {
					// A push sends the MPD last: an edge holding a title's
					// MPD holds the title whole.
					holds = map[string]bool{}
					for _, o := range h.Objects {
						if t, ok := strings.CutSuffix(strings.TrimPrefix(o.URL, "/"), "/"+manifestName); ok && !strings.Contains(t, "/") {
							holds[t] = true
						}
					}
				}
			}
			s.mu.Lock()
			st := s.state[e.Name]
			if st.healthy != healthy {
				s.log.Info("edge health", "edge", e.Name, "healthy", healthy)
			}
			st.healthy = healthy
			if holds != nil {
				st.holds = holds
			}
			s.mu.Unlock()
			s.metrics.healthy.WithLabelValues(e.Name).Set(b2f(healthy))
		})
	}
	wg.Wait()
}

const manifestName = "manifest.mpd"

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Decision is where a client of a title is sent, and why.
type Decision struct {
	Title string `json:"title"`
	// Holders are the edges that hold the title, healthy or not.
	Holders []string `json:"holders"`
	// Pathways are the edges offered, best first.
	Pathways []string `json:"pathways"`
	// Reason is the policy that put the first first (internal/policy).
	Reason  string   `json:"reason"`
	Ranking string   `json:"ranking"`
	Down    []string `json:"down,omitempty"`
	// Location is where the client was placed, when it was.
	Location string `json:"location,omitempty"`
	// RTTMs are the fresh RTTs the edges measured to the client's
	// network; Utilisation the holders' load over capacity, when known.
	// Only Explain fills them.
	RTTMs       map[string]float64 `json:"rtt_ms,omitempty"`
	Utilisation map[string]float64 `json:"utilisation,omitempty"`
}

// errNoEdge is a title no healthy edge holds.
var errNoEdge = errors.New("no healthy edge holds the title")

// decideFresh is Decide, after reading the edges again when no healthy
// edge holds the title (a push may have just ended), at most four times
// a second.
func (s *Server) decideFresh(ctx context.Context, title string, client netip.Addr) (Decision, error) {
	d, err := s.Decide(title, client)
	if !errors.Is(err, errNoEdge) {
		return d, err
	}
	s.mu.Lock()
	due := time.Since(s.probed) >= 250*time.Millisecond
	if due {
		s.probed = time.Now()
	}
	s.mu.Unlock()
	if !due {
		return d, err
	}
	s.Probe(ctx)
	return s.Decide(title, client)
}

// Decide ranks, for a client, the edges that hold title: by health,
// then the RTT the edges measured to the client's network when fresh,
// else distance; a loaded first edge sheds a share of clients to the
// next (internal/policy).
func (s *Server) Decide(title string, client netip.Addr) (Decision, error) {
	d, _, err := s.decide(title, client, time.Now())
	return d, err
}

// decide is Decide, with the RTTs the decision weighed.
func (s *Server) decide(title string, client netip.Addr, now time.Time) (Decision, map[string]time.Duration, error) {
	d := Decision{Title: title}
	var sites []policy.Site
	s.mu.Lock()
	for _, e := range s.cfg.Edges {
		st := s.state[e.Name]
		if st.holds[title] {
			d.Holders = append(d.Holders, e.Name)
			up, load := st.healthy && !st.drained, st.load
			sites = append(sites, policy.Site{Name: e.Name, Lat: e.Lat, Lon: e.Lon, Healthy: func() bool { return up },
				Shed: func() float64 { return load.Shed(now) }})
		}
	}
	s.mu.Unlock()
	if len(sites) == 0 {
		return d, nil, errNoEdge
	}
	pc := policy.Client{Addr: client, Locator: s.loc}
	if rtts, prefix, ok := s.rtt.Lookup(client, now, s.cfg.RTTMaxAge); ok {
		pc.RTTs, pc.RTTPrefix = rtts, prefix
	}
	pd := policy.Choose(sites, pc)
	if pd.Reason == policy.ReasonAllDown {
		return d, pc.RTTs, errNoEdge
	}
	d.Reason, d.Ranking, d.Down = pd.Reason, pd.Ranking, pd.Down
	if pd.Located {
		d.Location = pd.Place.City
	}
	d.Pathways = append(d.Pathways, sites[pd.Site].Name)
	for _, n := range pd.Ranked {
		if n != d.Pathways[0] && len(d.Pathways) < s.cfg.Pathways {
			d.Pathways = append(d.Pathways, n)
		}
	}
	return d, pc.RTTs, nil
}

// Explain is Decide with what the decision weighed: the fresh RTTs the
// edges measured to the client's network, and the holders' utilisation.
// Its error is Decide's; the explanation comes with it.
func (s *Server) Explain(title string, client netip.Addr) (Decision, error) {
	now := time.Now()
	d, rtts, err := s.decide(title, client, now)
	for name, rtt := range rtts {
		if d.RTTMs == nil {
			d.RTTMs = map[string]float64{}
		}
		d.RTTMs[name] = float64(rtt) / float64(time.Millisecond)
	}
	for _, name := range d.Holders {
		if u := s.state[name].load.Utilisation(now); u > 0 { // the map never changes; Load locks itself
			if d.Utilisation == nil {
				d.Utilisation = map[string]float64{}
			}
			d.Utilisation[name] = u
		}
	}
	return d, err
}

// ServeHTTP answers players: GET /TITLE/manifest.mpd, the title's MPD
// steered for the client, and GET /dcsm/TITLE, its steering manifest.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case strings.HasPrefix(p, "dcsm/"):
		s.serveDCSM(w, r, strings.TrimPrefix(p, "dcsm/"))
	case strings.HasSuffix(p, "/"+manifestName):
		s.serveMPD(w, r, strings.TrimSuffix(p, "/"+manifestName))
	default:
		http.Error(w, "not found: ask for /TITLE/manifest.mpd", http.StatusNotFound)
	}
}

// validTitle is a title name as the origin's: one path segment.
func validTitle(t string) bool {
	return t != "" && len(t) <= 128 && !strings.ContainsAny(t, "/\\?#%") && t != "." && t != ".."
}

// clientOf is the requesting client's address.
func clientOf(r *http.Request) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return a, fmt.Errorf("client address %q: %w", r.RemoteAddr, err)
	}
	return a.Unmap(), nil
}

func (s *Server) serveMPD(w http.ResponseWriter, r *http.Request, title string) {
	if !validTitle(title) {
		s.refuse(w, "mpd", http.StatusBadRequest, fmt.Sprintf("title %q: want one path segment", title))
		return
	}
	client, err := clientOf(r)
	if err != nil {
		s.refuse(w, "mpd", http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.decideFresh(r.Context(), title, client)
	if err != nil {
		s.refuse(w, "mpd", http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", title, err))
		return
	}
	mpd, code, err := s.titleMPD(r.Context(), title, d.Pathways)
	if err != nil {
		s.refuse(w, "mpd", code, fmt.Sprintf("%s: %v", title, err))
		return
	}
	var pathways []manifest.Pathway
	for _, n := range d.Pathways {
		pathways = append(pathways, manifest.Pathway{ID: n, BaseURL: s.edge(n).URL + title + "/"})
	}
	out, err := manifest.Steer(mpd, manifest.Steering{Pathways: pathways, QueryBeforeStart: true,
		Server: s.self(r) + "/dcsm/" + url.PathEscape(title)})
	if err != nil {
		s.refuse(w, "mpd", http.StatusBadGateway, fmt.Sprintf("%s: its MPD: %v", title, err))
		return
	}
	s.metrics.answers.WithLabelValues("mpd", d.Pathways[0], d.Reason).Inc()
	w.Header().Set("Content-Type", "application/dash+xml")
	w.Header().Set("Cache-Control", "no-store") // each client its own
	w.Write(out)
}

func (s *Server) serveDCSM(w http.ResponseWriter, r *http.Request, title string) {
	if !validTitle(title) {
		s.refuse(w, "dcsm", http.StatusBadRequest, fmt.Sprintf("title %q: want one path segment", title))
		return
	}
	q, err := manifest.ParseSteeringQuery(r.URL.Query())
	if err != nil {
		s.refuse(w, "dcsm", http.StatusBadRequest, err.Error())
		return
	}
	client, err := clientOf(r)
	if err != nil {
		s.refuse(w, "dcsm", http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.decideFresh(r.Context(), title, client)
	if err != nil {
		s.refuse(w, "dcsm", http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", title, err))
		return
	}
	if wait := s.tooSoon(client); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+1)))
		s.refuse(w, "dcsm", http.StatusTooManyRequests, fmt.Sprintf("asked again within a quarter of the TTL (%s)", s.cfg.TTL))
		return
	}
	dm := &manifest.SteeringManifest{Version: 1, TTL: int(s.cfg.TTL / time.Second), PathwayPriority: d.Pathways}
	b, err := dm.Marshal()
	if err != nil {
		s.refuse(w, "dcsm", http.StatusInternalServerError, err.Error())
		return
	}
	if q.Pathway != "" && q.Pathway != d.Pathways[0] {
		s.log.Info("steering away", "client", client, "title", title, "from", q.Pathway, "to", d.Pathways[0], "reason", d.Reason)
	}
	s.metrics.answers.WithLabelValues("dcsm", d.Pathways[0], d.Reason).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// tooSoon is how long client must wait before it may ask again: a
// quarter of the TTL between reloads.
func (s *Server) tooSoon(client netip.Addr) time.Duration {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lastAsk) > 1<<16 { // bounded: forget everyone rather than grow
		clear(s.lastAsk)
	}
	if last, ok := s.lastAsk[client]; ok && now.Sub(last) < s.cfg.TTL/4 {
		return s.cfg.TTL/4 - now.Sub(last)
	}
	s.lastAsk[client] = now
	return 0
}

// refuse answers a bad or unanswerable request with its reason.
func (s *Server) refuse(w http.ResponseWriter, what string, code int, reason string) {
	s.metrics.refused.WithLabelValues(what, fmt.Sprint(code)).Inc()
	http.Error(w, reason, code)
}

// self is the service's base URL as the client reached it.
func (s *Server) self(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) edge(name string) Edge {
	for _, e := range s.cfg.Edges {
		if e.Name == name {
			return e
		}
	}
	return Edge{}
}

// mpdMaxAge is how long an origin MPD is reused.
const mpdMaxAge = 10 * time.Second

// titleMPD is title's MPD, cached mpdMaxAge: from the first of the
// holders that answers (each holds the title whole, its MPD too, so the
// origin is not asked while people watch), else from the origin. On
// error, the status code to answer with.
func (s *Server) titleMPD(ctx context.Context, title string, holders []string) ([]byte, int, error) {
	s.mu.Lock()
	c, ok := s.mpds[title]
	s.mu.Unlock()
	if ok && time.Since(c.at) < mpdMaxAge {
		return c.body, 0, nil
	}
	for _, h := range holders {
		if body, _, err := s.fetchMPD(ctx, s.edge(h).URL, title); err == nil {
			s.keepMPD(title, body)
			return body, 0, nil
		} else if ctx.Err() != nil {
			return nil, http.StatusServiceUnavailable, err
		}
	}
	body, code, err := s.fetchMPD(ctx, s.cfg.Origin, title)
	if err != nil {
		return nil, code, fmt.Errorf("origin: %w", err)
	}
	s.keepMPD(title, body)
	return body, 0, nil
}

func (s *Server) keepMPD(title string, body []byte) {
	s.mu.Lock()
	s.mpds[title] = cachedMPD{body, time.Now()}
	s.mu.Unlock()
}

// fetchMPD gets base/TITLE/manifest.mpd.
func (s *Server) fetchMPD(ctx context.Context, base, title string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+url.PathEscape(title)+"/"+manifestName, nil)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, http.StatusNotFound, errors.New("no such title")
	}
	if res.StatusCode != http.StatusOK {
		return nil, http.StatusBadGateway, errors.New(res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	return body, 0, nil
}

// Admin serves GET /healthz; with the token, GET /explain?title=&client=
// (the decision for a client, as the DNS's explain, and what it
// weighed; no pathways when no healthy edge holds the title), POST
// /drain?edge=&on=true|false (take an edge out of the rankings, or put it
// back), and the edges' reports as the DNS takes them (internal/dnsapi):
// POST /rtt, the RTTs they measured to their clients' networks, and POST
// /load, their egress in Mbit/s.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /explain", httpx.BearerAuth(s.cfg.Token, "streamcdn-steer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, err := netip.ParseAddr(r.URL.Query().Get("client"))
		if err != nil {
			http.Error(w, "client: "+err.Error(), http.StatusBadRequest)
			return
		}
		// The answer to the question is the decision, also when no
		// healthy edge holds the title (its pathways are then empty).
		d, _ := s.Explain(r.URL.Query().Get("title"), client)
		httpx.WriteJSON(w, d)
	})))
	known := func(name string) bool { _, ok := s.state[name]; return ok } // the names never change
	// A batch of reports is checked whole (dnsapi), then applied whole.
	reports := func(kind string, apply func(body io.Reader, now time.Time) (int, error)) http.Handler {
		return httpx.BearerAuth(s.cfg.Token, "streamcdn-steer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := apply(r.Body, time.Now())
			if err != nil {
				s.metrics.reports.WithLabelValues(kind, "refused").Inc()
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.metrics.reports.WithLabelValues(kind, "ok").Inc()
			httpx.WriteJSON(w, dnsapi.Accepted{Accepted: n})
		}))
	}
	mux.Handle("POST "+dnsapi.RTTPath, reports("rtt", func(body io.Reader, now time.Time) (int, error) {
		rs, err := dnsapi.DecodeRTT(body, known)
		for _, rep := range rs {
			s.rtt.Add(rep.Client, rep.Cluster, rep.RTT, now, s.cfg.RTTMaxAge)
		}
		return len(rs), err
	}))
	mux.Handle("POST "+dnsapi.LoadPath, reports("load", func(body io.Reader, now time.Time) (int, error) {
		ls, err := dnsapi.DecodeLoad(body, known)
		for _, rep := range ls {
			s.state[rep.Cluster].load.Report(rep.Node, rep.Load, now) // Load locks itself
		}
		return len(ls), err
	}))
	mux.Handle("POST /drain", httpx.BearerAuth(s.cfg.Token, "streamcdn-steer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, on := r.URL.Query().Get("edge"), r.URL.Query().Get("on")
		s.mu.Lock()
		st := s.state[name]
		if st != nil {
			st.drained = on == "true"
		}
		s.mu.Unlock()
		if st == nil || (on != "true" && on != "false") {
			http.Error(w, "want edge=NAME (a configured edge) and on=true|false", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	return mux
}

// metrics are the service's.
type metrics struct {
	answers *prometheus.CounterVec
	refused *prometheus.CounterVec
	healthy *prometheus.GaugeVec
	reports *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricnames.SteerAnswers,
			Help: "Steered MPDs and steering manifests served, by kind (mpd, dcsm), the first edge and the deciding policy."}, []string{metricnames.Kind, metricnames.Edge, metricnames.Reason}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "steer", Name: "refused_total",
			Help: "Requests refused, by kind and status code."}, []string{"kind", "code"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "steer", Name: "edge_healthy",
			Help: "1 while the edge answers its health check."}, []string{"edge"}),
	}
	m.reports = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "steer", Name: "edge_reports_total",
		Help: "Edge report batches received, by kind (rtt, load) and result (ok, refused)."}, []string{"kind", "result"})
	if err := promreg.Register(reg, m.answers, m.refused, m.healthy, m.reports); err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	return m, nil
}

// LoadConfigFile reads a steering service's configuration (origin,
// edges, pathways) from a YAML or JSON file, strictly (LoadConfig); a
// relative geo_db is taken from the file's directory. New checks the
// values.
func LoadConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	c, err := LoadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.GeoDB != "" && !filepath.IsAbs(c.GeoDB) {
		c.GeoDB = filepath.Join(filepath.Dir(path), c.GeoDB)
	}
	return c, nil
}

// LoadConfig decodes a YAML or JSON configuration strictly: an unknown
// field is an error naming it and its line.
func LoadConfig(data []byte) (*Config, error) {
	var c Config
	if err := conf.Decode(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
