package cdndns

import (
	"net/netip"
	"sync"
	"time"
)

// rttTable holds measured round-trip times per client prefix (/24 for
// IPv4, /48 for IPv6) and cluster, smoothed by an EWMA. Entries older than
// maxAge are ignored: stale RTT data falls back to geography.
type rttTable struct {
	mu    sync.RWMutex // read on every answer, written by reports
	byNet map[netip.Prefix]map[string]rttEntry
}

type rttEntry struct {
	ewma    time.Duration
	updated time.Time
}

// rttAlpha weighs a new sample in the EWMA.
const rttAlpha = 0.3

func newRTTTable() *rttTable {
	return &rttTable{byNet: map[netip.Prefix]map[string]rttEntry{}}
}

// clientPrefix is the prefix RTT is kept for.
func clientPrefix(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p
}

// add folds one measurement into the table.
func (t *rttTable) add(client netip.Addr, clusterName string, rtt time.Duration, now time.Time, maxAge time.Duration) {
	p := clientPrefix(client)
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byNet[p]
	if m == nil {
		m = map[string]rttEntry{}
		t.byNet[p] = m
	}
	e, ok := m[clusterName]
	if ok && now.Sub(e.updated) <= maxAge {
		e.ewma = time.Duration(rttAlpha*float64(rtt) + (1-rttAlpha)*float64(e.ewma))
	} else {
		e.ewma = rtt
	}
	e.updated = now
	m[clusterName] = e
}

// lookup returns the fresh RTTs for client's prefix.
func (t *rttTable) lookup(client netip.Addr, now time.Time, maxAge time.Duration) (map[string]time.Duration, netip.Prefix, bool) {
	if !client.IsValid() {
		return nil, netip.Prefix{}, false
	}
	p := clientPrefix(client)
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out map[string]time.Duration
	for name, e := range t.byNet[p] {
		if now.Sub(e.updated) <= maxAge {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[name] = e.ewma
		}
	}
	return out, p, out != nil
}

// stats returns the number of prefixes and the age of the oldest entry.
func (t *rttTable) stats(now time.Time) (prefixes int, oldest time.Duration) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.byNet {
		for _, e := range m {
			oldest = max(oldest, now.Sub(e.updated))
		}
	}
	return len(t.byNet), oldest
}
