// Package policy chooses where a client is served from, the one way both
// of the CDN's front doors do it: the DNS (cdndns) answering with a
// cluster, and the steering service ranking the edges that hold a title.
// Healthy sites first; among them, the lowest fresh measured RTT for the
// client's network, else the nearest, else the configured order; then a
// loaded site sheds a share of its clients to the next best.
package policy

import (
	"hash/fnv"
	"net/netip"
	"sort"
	"time"

	"github.com/streamcdn/streamcdn/internal/geo"
)

// Site is a place that can serve a client: a DNS cluster, or an edge.
type Site struct {
	Name     string
	Lat, Lon float64
	// Healthy reports whether the site is up and not drained.
	Healthy func() bool
	// Shed, when set, is the share (0 to 1) of new clients the site
	// passes on to the next best: its load above the high water mark.
	// It is asked of the best site only.
	Shed func() float64
}

// Locator places clients (geo.Locator).
type Locator interface {
	Locate(netip.Addr) (geo.Place, bool)
}

// Client is what is known of a client.
type Client struct {
	Addr netip.Addr
	// RTTs are the fresh measured round trips from the client's network
	// RTTPrefix to sites, by name; nil when none is fresh.
	RTTs      map[string]time.Duration
	RTTPrefix netip.Prefix
	// Locator places the client; it is asked only when no RTT decides.
	// Nil: the client is not located.
	Locator Locator
}

// Reasons a decision gives.
const (
	ReasonRTT     = "rtt"      // the lowest fresh measured RTT
	ReasonGeo     = "geo"      // the nearest healthy site
	ReasonDefault = "default"  // the client is not located: the first healthy site
	ReasonHealth  = "health"   // the site RTT or geography would pick is down: the next best (Ranking says by what)
	ReasonLoad    = "load"     // the best site sheds this client to the next best
	ReasonAllDown = "all-down" // no site is healthy: the best anyway
)

// Decision is a choice and why.
type Decision struct {
	// Site is the chosen site's index in the sites given.
	Site int
	// Reason is the deciding policy (the Reason constants).
	Reason string
	// Ranking is how the candidates were ranked: rtt, geo or default.
	Ranking string
	// Down are the sites left out as unhealthy.
	Down []string
	// Ranked are the candidates' names, best first.
	Ranked []string
	// Scope is the length of the client prefix the decision holds for
	// (the ECS scope of a DNS answer).
	Scope uint8
	// Place is where the client was located, when Located.
	Place   geo.Place
	Located bool
}

// Choose picks the site for c among sites, which must not be empty.
func Choose(sites []Site, c Client) Decision {
	var d Decision
	candidates := make([]int, 0, len(sites))
	for i, s := range sites {
		if s.Healthy() {
			candidates = append(candidates, i)
		} else {
			d.Down = append(d.Down, s.Name)
		}
	}
	if len(candidates) == 0 {
		d.Reason = ReasonAllDown
		for i := range sites {
			candidates = append(candidates, i)
		}
	}
	ranked := d.rank(sites, candidates, c)
	if d.Reason == "" {
		d.Reason = d.Ranking
		// Had every site been up, would the client have gone elsewhere?
		// Then health, not the ranking, decided.
		if len(d.Down) > 0 && d.Ranking != ReasonDefault {
			all := make([]int, len(sites))
			for i := range all {
				all[i] = i
			}
			var ignored Decision
			if ignored.rank(sites, all, c)[0] != ranked[0] {
				d.Reason = ReasonHealth
			}
		}
	}
	for _, i := range ranked {
		d.Ranked = append(d.Ranked, sites[i].Name)
	}
	d.Site = ranked[0]
	if best := sites[d.Site]; len(ranked) > 1 && d.Reason != ReasonAllDown && c.Addr.IsValid() && best.Shed != nil {
		if share := best.Shed(); share > 0 {
			// The share is drawn per client /24 (/48), so the decision
			// now holds for that prefix only.
			p := ClientPrefix(c.Addr)
			d.Scope = max(d.Scope, uint8(p.Bits()))
			if shed(p, share) {
				d.Site, d.Reason = ranked[1], ReasonLoad
			}
		}
	}
	return d
}

// rank orders candidates best first and sets d's Ranking, Scope and
// Place: those with a fresh RTT by RTT, ahead of the others (the closest
// site is not always the fastest); without one, by distance; an unknown
// client keeps the given order.
func (d *Decision) rank(sites []Site, candidates []int, c Client) []int {
	ranked := append([]int(nil), candidates...)
	if len(c.RTTs) > 0 {
		var measured, rest []int
		for _, i := range ranked {
			if _, ok := c.RTTs[sites[i].Name]; ok {
				measured = append(measured, i)
			} else {
				rest = append(rest, i)
			}
		}
		if len(measured) > 0 {
			sort.SliceStable(measured, func(a, b int) bool {
				return c.RTTs[sites[measured[a]].Name] < c.RTTs[sites[measured[b]].Name]
			})
			d.Ranking, d.Scope = ReasonRTT, uint8(c.RTTPrefix.Bits())
			return append(measured, rest...)
		}
	}
	if c.Locator != nil {
		d.Place, d.Located = c.Locator.Locate(c.Addr)
	}
	if !d.Located {
		d.Ranking, d.Scope = ReasonDefault, uint8(max(0, d.Place.Prefix.Bits()))
		return ranked
	}
	km := make(map[int]float64, len(ranked)) // each distance once, not per comparison
	for _, i := range ranked {
		km[i] = geo.DistanceKm(d.Place.Lat, d.Place.Lon, sites[i].Lat, sites[i].Lon)
	}
	sort.SliceStable(ranked, func(a, b int) bool { return km[ranked[a]] < km[ranked[b]] })
	d.Ranking, d.Scope = ReasonGeo, uint8(d.Place.Prefix.Bits())
	return ranked
}

// ClientPrefix is the network a client's measurements and load
// shedding are kept for: its /24, or /48 for IPv6.
func ClientPrefix(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p
}

// shed decides, the same way every time for a client prefix, whether it
// falls in the shed share: the prefix is hashed, so a resolver's cached
// answer and a fresh one agree.
func shed(p netip.Prefix, share float64) bool {
	h := fnv.New32a()
	b, _ := p.MarshalBinary()
	h.Write(b)
	return float64(h.Sum32()%1000) < share*1000
}
