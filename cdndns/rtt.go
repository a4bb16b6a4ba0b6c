package cdndns

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/streamcdn/streamcdn/internal/policy"
)

// rttTable holds measured round-trip times per client prefix (/24 for
// IPv4, /48 for IPv6) and cluster, smoothed by an EWMA. Entries older than
// maxAge are ignored (stale RTT data falls back to geography) and aged
// out as new reports come; the table holds at most max prefixes, and
// when full it drops the one updated longest ago. Both are counted.
type rttTable struct {
	mu    sync.RWMutex // read on every answer, written by reports
	byNet *simplelru.LRU[netip.Prefix, *rttNet]
	max   int
	// dropped counts prefixes forgotten: aged out, or pushed out by a
	// full table.
	droppedStale, droppedFull atomic.Uint64
}

// rttNet is one prefix's RTTs by cluster, and when it was last updated.
type rttNet struct {
	byCluster map[string]rttEntry
	updated   time.Time
}

type rttEntry struct {
	ewma    time.Duration
	updated time.Time
}

// rttAlpha weighs a new sample in the EWMA.
const rttAlpha = 0.3

// defaultRTTPrefixes bounds the table when Options.MaxRTTPrefixes is
// zero: about 45 MB of heap.
const defaultRTTPrefixes = 65536

func newRTTTable(max int) *rttTable {
	lru, _ := simplelru.NewLRU[netip.Prefix, *rttNet](max+1, nil) // we evict, and count
	return &rttTable{byNet: lru, max: max}
}

// add folds one measurement into the table.
func (t *rttTable) add(client netip.Addr, clusterName string, rtt time.Duration, now time.Time, maxAge time.Duration) {
	p := policy.ClientPrefix(client)
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
		n = &rttNet{byCluster: map[string]rttEntry{}}
		t.byNet.Add(p, n)
	}
	e, ok := n.byCluster[clusterName]
	if ok && now.Sub(e.updated) <= maxAge {
		e.ewma = time.Duration(rttAlpha*float64(rtt) + (1-rttAlpha)*float64(e.ewma))
	} else {
		e.ewma = rtt
	}
	e.updated = now
	n.byCluster[clusterName] = e
	n.updated = now
}

// lookup returns the fresh RTTs for client's prefix.
func (t *rttTable) lookup(client netip.Addr, now time.Time, maxAge time.Duration) (map[string]time.Duration, netip.Prefix, bool) {
	if !client.IsValid() {
		return nil, netip.Prefix{}, false
	}
	p := policy.ClientPrefix(client)
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out map[string]time.Duration
	n, _ := t.byNet.Peek(p) // Peek does not reorder: safe under the read lock
	if n == nil {
		return nil, p, false
	}
	for name, e := range n.byCluster {
		if now.Sub(e.updated) <= maxAge {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[name] = e.ewma
		}
	}
	return out, p, out != nil
}

// stats returns the number of prefixes and the age of the oldest entry
// (the least recently updated prefix's).
func (t *rttTable) stats(now time.Time) (prefixes int, oldest time.Duration) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if _, n, ok := t.byNet.GetOldest(); ok {
		for _, e := range n.byCluster {
			oldest = max(oldest, now.Sub(e.updated))
		}
	}
	return t.byNet.Len(), oldest
}
