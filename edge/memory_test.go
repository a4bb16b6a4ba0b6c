package edge

import (
	"fmt"
	"net/http"
	"testing"
)

func obj(key string, size int) *object {
	return &object{key: key, status: 200, header: http.Header{}, body: make([]byte, size)}
}

// TestMemoryByteBudget: the tier holds bytes, not entries; the least
// recently used objects go first.
func TestMemoryByteBudget(t *testing.T) {
	m := newMemory(10*(1000+objectOverhead+2), false, nil)
	for i := range 20 {
		m.put(obj(fmt.Sprint(i%10), 1000))
	}
	m.get("0") // 0 is now the most recently used
	m.put(obj("big", 3000))
	n, b := m.stats()
	if b > m.capacity {
		t.Fatalf("%d bytes stored, budget %d", b, m.capacity)
	}
	if _, ok := m.get("0"); !ok {
		t.Error("the most recently used object was evicted")
	}
	if _, ok := m.get("1"); ok {
		t.Error("the least recently used object was kept")
	}
	if _, ok := m.get("big"); !ok || n != 8 {
		t.Errorf("big stored=%v, %d objects, want the 3000-byte object in and 8 objects (3 evicted)", ok, n)
	}
	if m.put(obj("huge", int(m.capacity))) {
		t.Error("an object larger than the budget was stored")
	}
}

// TestAdmissionKeepsHotSet: a scan of one-hit objects does not flush
// objects that are asked for often, with admission; it does without.
func TestAdmissionKeepsHotSet(t *testing.T) {
	for _, admission := range []bool{true, false} {
		m := newMemory(100*(1000+objectOverhead+4), admission, nil)
		for round := range 5 {
			for i := range 50 {
				k := fmt.Sprint("hot", i)
				if _, ok := m.get(k); !ok && round >= 0 {
					m.put(obj(k, 1000))
				}
			}
		}
		for i := range 1000 { // the scan
			k := fmt.Sprint("scan", i)
			m.get(k)
			m.put(obj(k, 1000))
		}
		hot := 0
		for i := range 50 {
			if _, ok := m.lru.Peek(fmt.Sprint("hot", i)); ok {
				hot++
			}
		}
		if admission && hot < 45 {
			t.Errorf("with admission, %d of 50 hot objects survived the scan", hot)
		}
		if !admission && hot > 5 {
			t.Errorf("plain LRU kept %d of 50 hot objects through a scan: the test does not test", hot)
		}
	}
}
