package policy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// RTTTable holds measured round-trip times per client prefix (/24 for
// IPv4, /48 for IPv6) and site, smoothed by an EWMA: what the edges
// measure on their client connections, for Client.RTTs. Entries older than
// maxAge are ignored (stale RTT data falls back to geography) and aged
// out as new reports come; the table holds at most max prefixes, and
// when full it drops the one updated longest ago. Both are counted.
type RTTTable struct {
	mu    sync.RWMutex // read on every answer, written by reports
	byNet *simplelru.LRU[netip.Prefix, *rttNet]
	max   int
	// dropped counts prefixes forgotten: aged out, or pushed out by a
	// full table.
	droppedStale, droppedFull atomic.Uint64
}

// rttNet is one prefix's RTTs by site, and when it was last updated.
type rttNet struct {
	bySite  map[string]rttEntry
	updated time.Time
}

type rttEntry struct {
	ewma    time.Duration
	updated time.Time
}

// rttAlpha weighs a new sample in the EWMA.
const rttAlpha = 0.3

// DefaultRTTPrefixes is a bound for the table: about 45 MB of heap.
const DefaultRTTPrefixes = 65536

// NewRTTTable returns a table of at most max prefixes.
func NewRTTTable(max int) *RTTTable {
	lru, _ := simplelru.NewLRU[netip.Prefix, *rttNet](max+1, nil) // we evict, and count
	return &RTTTable{byNet: lru, max: max}
}

// Add folds one measurement of client's network to a site into the
// table at now; entries older than maxAge are stale.
func (t *RTTTable) Add(client netip.Addr, site string, rtt time.Duration, now time.Time, maxAge time.Duration) {
	p := ClientPrefix(client)
	t.mu.Lock()
	defer t.mu.Unlock()
	// Prefixes not updated for maxAge hold nothing fresh: forget them,
	// least recently updated first.
	for {
		k, n, ok := t.byNet.GetOldest()
		if !ok || now.Sub(n.updated) <= maxAge {
			break
		}
		t.byNet.Remove(k)
		t.droppedStale.Add(1)
	}
	n, ok := t.byNet.Get(p)
	if !ok {
		if t.byNet.Len() >= t.max {
			t.byNet.RemoveOldest()
			t.droppedFull.Add(1)
		}
		n = &rttNet{bySite: map[string]rttEntry{}}
		t.byNet.Add(p, n)
	}
	e, ok := n.bySite[site]
	if ok && now.Sub(e.updated) <= maxAge {
		e.ewma = time.Duration(rttAlpha*float64(rtt) + (1-rttAlpha)*float64(e.ewma))
	} else {
		e.ewma = rtt
	}
	e.updated = now
	n.bySite[site] = e
	n.updated = now
}

// Lookup returns the fresh RTTs by site for client's prefix, the
// prefix, and whether there are any.
func (t *RTTTable) Lookup(client netip.Addr, now time.Time, maxAge time.Duration) (map[string]time.Duration, netip.Prefix, bool) {
	if !client.IsValid() {
		return nil, netip.Prefix{}, false
	}
	p := ClientPrefix(client)
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out map[string]time.Duration
	n, _ := t.byNet.Peek(p) // Peek does not reorder: safe under the read lock
	if n == nil {
		return nil, p, false
	}
	for name, e := range n.bySite {
		if now.Sub(e.updated) <= maxAge {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[name] = e.ewma
		}
	}
	return out, p, out != nil
}

// Stats returns the number of prefixes and the age of the oldest entry
// (the least recently updated prefix's).
func (t *RTTTable) Stats(now time.Time) (prefixes int, oldest time.Duration) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if _, n, ok := t.byNet.GetOldest(); ok {
		for _, e := range n.bySite {
			oldest = max(oldest, now.Sub(e.updated))
		}
	}
	return t.byNet.Len(), oldest
}

// Dropped returns how many prefixes were forgotten: aged out (stale),
// and pushed out of a full table.
func (t *RTTTable) Dropped() (stale, full uint64) {
	return t.droppedStale.Load(), t.droppedFull.Load()
}
