package cdndns

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/streamcdn/streamcdn/internal/dnsapi"
	"github.com/streamcdn/streamcdn/internal/geo"
	"github.com/streamcdn/streamcdn/internal/httpx"
)

// Admin returns the handler for the admin listener:
//
//	GET  /healthz
//	GET  /explain?name=a1105.kingcdn.com&client=IP   the decision and its ranking
//	POST /rtt    [{"cluster": "eu-west", "client": "127.0.2.9", "rtt_ms": 12.5}, ...]
//	POST /load   [{"cluster": "eu-west", "load": 850}, ...]
//	POST /drain?cluster=eu-west&on=true
//
// Edges feed /rtt (from their client connections) and /load. All but
// /healthz need "Authorization: Bearer <Options.AdminToken>" (401
// otherwise): /explain shows the clusters' health, load and measured
// RTTs, which are the operator's, not the public's.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /explain", s.auth(http.HandlerFunc(s.handleExplain)))
	mux.Handle("POST "+dnsapi.RTTPath, s.auth(http.HandlerFunc(s.handleRTT)))
	mux.Handle("POST "+dnsapi.LoadPath, s.auth(http.HandlerFunc(s.handleLoad)))
	mux.Handle("POST /drain", s.auth(http.HandlerFunc(s.handleDrain)))
	return mux
}

func (s *Server) auth(next http.Handler) http.Handler {
	return httpx.BearerAuth(s.opts.AdminToken, "streamcdn-dns", next)
}

// Explanation is what /explain and "streamcdn dns explain" print.
type Explanation struct {
	Name     string      `json:"name"`
	Client   string      `json:"client"`
	Location string      `json:"location,omitempty"` // the client's city, when known
	Decision Decision    `json:"decision"`
	Clusters []Candidate `json:"clusters"`
}

// Candidate is one cluster as the policies saw it.
type Candidate struct {
	Name        string   `json:"name"`
	Healthy     bool     `json:"healthy"`
	DistanceKm  *float64 `json:"distance_km,omitempty"`
	RTTMs       *float64 `json:"rtt_ms,omitempty"`
	Utilisation float64  `json:"utilisation"`
}

// Explain returns the decision for a client of name with every
// candidate's health, distance, fresh RTT and utilisation.
func (s *Server) Explain(name string, client netip.Addr) (Explanation, error) {
	st := s.state()
	d, ok := s.decide(st, name, client)
	if !ok {
		return Explanation{}, fmt.Errorf("%s is not a CDN hostname of this server", name)
	}
	e := Explanation{Name: name, Client: client.String(), Decision: d}
	g, located := st.geo.Locate(client)
	if located && g.City != "" {
		e.Location = g.City
	}
	rtts, _, _ := s.rtt.Lookup(client, s.opts.Now(), st.rttAge)
	for _, c := range st.clusters {
		cand := Candidate{Name: c.Name, Healthy: c.healthy()}
		if located {
			km := geo.DistanceKm(g.Lat, g.Lon, c.Lat, c.Lon)
			cand.DistanceKm = &km
		}
		if rtt, ok := rtts[c.Name]; ok {
			ms := float64(rtt) / float64(time.Millisecond)
			cand.RTTMs = &ms
		}
		cand.Utilisation = c.load.Utilisation(s.opts.Now())
		e.Clusters = append(e.Clusters, cand)
	}
	return e, nil
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	client, err := netip.ParseAddr(r.URL.Query().Get("client"))
	if err != nil {
		http.Error(w, "client: want an IP address", http.StatusBadRequest)
		return
	}
	e, err := s.Explain(r.URL.Query().Get("name"), client)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	httpx.WriteJSON(w, e)
}

func (s *Server) handleRTT(w http.ResponseWriter, r *http.Request) {
	// The whole batch is checked before any of it is applied: a bad
	// report refuses them all.
	now, st := s.opts.Now(), s.state()
	reports, err := dnsapi.DecodeRTT(r.Body, func(c string) bool { return st.cluster(c) != nil })
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rep := range reports {
		s.rtt.Add(rep.Client, rep.Cluster, rep.RTT, now, st.rttAge)
	}
	s.changed()
	httpx.WriteJSON(w, dnsapi.Accepted{Accepted: len(reports)})
}

func (s *Server) handleLoad(w http.ResponseWriter, r *http.Request) {
	st, now := s.state(), s.opts.Now()
	reports, err := dnsapi.DecodeLoad(r.Body, func(c string) bool { return st.cluster(c) != nil })
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rep := range reports {
		st.cluster(rep.Cluster).load.Report(rep.Node, rep.Load, now)
	}
	s.changed()
	httpx.WriteJSON(w, dnsapi.Accepted{Accepted: len(reports)})
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	c := s.state().cluster(r.URL.Query().Get("cluster"))
	on := r.URL.Query().Get("on")
	if c == nil || (on != "true" && on != "false") {
		http.Error(w, "want cluster=<known cluster>&on=true|false", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.drained = on == "true"
	c.mu.Unlock()
	s.changed()
	httpx.WriteJSON(w, map[string]any{"cluster": c.Name, "drained": on == "true"})
}
