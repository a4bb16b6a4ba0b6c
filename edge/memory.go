package edge

import (
	"hash/maphash"
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// memory is the memory tier: an LRU of objects bounded by bytes, not by
// count, with TinyLFU admission (Einziger, Friedman, Manes: "TinyLFU: A
// Highly Efficient Cache Admission Policy", ACM ToS 2017): a new object
// that needs evictions is admitted only if it has been asked for more
// often, recently, than the least recently used object it would evict.
// A scan of one-hit objects therefore cannot flush the hot set.
type memory struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, *object]
	bytes    int64
	capacity int64
	sketch   *sketch // nil: plain LRU
	onEvict  func(o *object)
}

func newMemory(capacity int64, admission bool, onEvict func(*object)) *memory {
	m := &memory{capacity: capacity, onEvict: onEvict}
	m.lru, _ = simplelru.NewLRU[string, *object](math.MaxInt32, nil) // the byte budget bounds it
	if admission {
		// Sample enough accesses to see the working set of ~capacity/64KiB objects ten times over.
		m.sketch = newSketch(int(max(capacity/(64<<10), 1024)))
	}
	return m
}

// get returns the object for key, recording the access for admission.
func (m *memory) get(key string) (*object, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sketch != nil {
		m.sketch.add(key)
	}
	return m.lru.Get(key)
}

// put stores o unless it is larger than the whole budget or admission
// refuses it; it reports whether o was stored.
func (m *memory) put(o *object) bool {
	cost := o.cost()
	m.mu.Lock()
	defer m.mu.Unlock()
	if cost > m.capacity {
		return false
	}
	if old, ok := m.lru.Peek(o.key); ok {
		m.lru.Remove(o.key)
		m.bytes -= old.cost()
	} else if m.sketch != nil && m.bytes+cost > m.capacity {
		if _, victim, ok := m.lru.GetOldest(); ok && m.sketch.estimate(o.key) <= m.sketch.estimate(victim.key) {
			return false
		}
	}
	for m.bytes+cost > m.capacity {
		_, victim, ok := m.lru.RemoveOldest()
		if !ok {
			break
		}
		m.bytes -= victim.cost()
		if m.onEvict != nil {
			m.onEvict(victim)
		}
	}
	m.lru.Add(o.key, o)
	m.bytes += cost
	return true
}

// admits reports whether put would store an object of key and cost now,
// without recording an access.
func (m *memory) admits(key string, cost int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cost > m.capacity {
		return false
	}
	if _, ok := m.lru.Peek(key); ok || m.sketch == nil || m.bytes+cost <= m.capacity {
		return true
	}
	_, victim, ok := m.lru.GetOldest()
	return !ok || m.sketch.estimate(key) > m.sketch.estimate(victim.key)
}

// remove drops key; it reports whether it was there.
func (m *memory) remove(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.lru.Peek(key)
	if ok {
		m.lru.Remove(key)
		m.bytes -= o.cost()
	}
	return ok
}

// keys returns the stored keys, for purge by prefix.
func (m *memory) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Keys()
}

func (m *memory) stats() (objects int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len(), m.bytes
}

// sketch is a count-min sketch of 4-bit saturating counters with periodic
// halving ("aging"), TinyLFU's frequency estimate of recent accesses.
type sketch struct {
	rows      [4][]uint8
	mask      uint64
	seed      maphash.Seed
	additions int
	resetAt   int
}

func newSketch(expected int) *sketch {
	width := 1
	for width < expected {
		width <<= 1
	}
	s := &sketch{mask: uint64(width - 1), seed: maphash.MakeSeed(), resetAt: 10 * width}
	for i := range s.rows {
		s.rows[i] = make([]uint8, width)
	}
	return s
}

func (s *sketch) indexes(key string) [4]uint64 {
	h := maphash.String(s.seed, key)
	lo, hi := h, h>>32|h<<32
	var idx [4]uint64
	for i := range idx {
		idx[i] = (lo + uint64(i)*hi) & s.mask
	}
	return idx
}

func (s *sketch) add(key string) {
	for i, j := range s.indexes(key) {
		if s.rows[i][j] < 15 {
			s.rows[i][j]++
		}
	}
	if s.additions++; s.additions >= s.resetAt {
		for i := range s.rows {
			for j := range s.rows[i] {
				s.rows[i][j] >>= 1
			}
		}
		s.additions /= 2
	}
}

func (s *sketch) estimate(key string) uint8 {
	est := uint8(15)
	for i, j := range s.indexes(key) {
		est = min(est, s.rows[i][j])
	}
	return est
}
