package policy

import (
	"sync"
	"time"
)

// Load is a site's load against its capacity, from the reports of its
// nodes: each node's last report counts for LoadMaxAge, and the site's
// load is their sum. Above the high water mark (85% of capacity) the
// site sheds a growing share of new clients to the next best, and keeps
// shedding until it falls below the low one (75%), so that answers do
// not flap. A Load is safe for concurrent use.
type Load struct {
	mu       sync.Mutex
	capacity float64
	nodes    map[string]nodeLoad // the last load reported by each node
	shedding bool                // above the high water mark, until below the low one
}

// nodeLoad is a node's last load report, in the unit of capacity, and
// when it came.
type nodeLoad struct {
	load float64
	at   time.Time
}

// LoadMaxAge is how long a node's load report counts: a node that stops
// reporting (gone, or cut off) stops adding to its site's load.
const LoadMaxAge = time.Minute

// MaxLoad bounds one report, so that a sum of them stays finite.
const MaxLoad = 1e12

// Load shedding water marks, as utilisation (load / capacity).
const (
	shedHigh = 0.85
	shedLow  = 0.75
)

// NewLoad returns the load of a site of the given capacity; zero or less
// means unknown: the site never sheds.
func NewLoad(capacity float64) *Load {
	return &Load{capacity: capacity}
}

// Carry takes over prev's reports and shedding state, keeping l's
// capacity: a site reconfigured keeps what its nodes said.
func (l *Load) Carry(prev *Load) {
	prev.mu.Lock()
	nodes, shedding := prev.nodes, prev.shedding
	prev.mu.Unlock()
	l.mu.Lock()
	l.nodes, l.shedding = nodes, shedding
	l.mu.Unlock()
}

// Report records a node's load ("" for the site as a whole) at now, and
// forgets the reports older than LoadMaxAge.
func (l *Load) Report(node string, load float64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nodes == nil {
		l.nodes = map[string]nodeLoad{}
	}
	for n, nl := range l.nodes {
		if now.Sub(nl.at) > LoadMaxAge {
			delete(l.nodes, n)
		}
	}
	l.nodes[node] = nodeLoad{load, now}
}

// Utilisation is the site's load (the sum of its nodes' reports of the
// last LoadMaxAge) over its capacity; 0 when the capacity is unknown.
func (l *Load) Utilisation(now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.utilisation(now)
}

func (l *Load) utilisation(now time.Time) float64 {
	if l.capacity <= 0 {
		return 0
	}
	load := 0.0
	for _, nl := range l.nodes {
		if now.Sub(nl.at) <= LoadMaxAge {
			load += nl.load
		}
	}
	return load / l.capacity
}

// Shed is the share of new clients the site passes to the next best
// (Site.Shed): 0 below the high water mark, then growing linearly with
// utilisation to all of them at 100%; once shedding, until below the
// low water mark.
func (l *Load) Shed(now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.capacity <= 0 {
		return 0
	}
	u := l.utilisation(now)
	switch {
	case u >= shedHigh:
		l.shedding = true
	case u < shedLow:
		l.shedding = false
	}
	if !l.shedding {
		return 0
	}
	return min(1, max(0.05, (u-shedLow)/(1-shedLow)))
}
