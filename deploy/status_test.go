package deploy

import "testing"

// TestEdgeCounts: an edge node's requests and hits add up across its
// restarts; while it is down, what it counted stays.
func TestEdgeCounts(t *testing.T) {
	var e edgeCounts
	for i, step := range []struct {
		cur  *[2]int64 // nil: the node is down
		want [2]int64
	}{
		{&[2]int64{10, 4}, [2]int64{10, 4}},
		{&[2]int64{25, 9}, [2]int64{25, 9}},
		{nil, [2]int64{25, 9}},              // killed
		{&[2]int64{0, 0}, [2]int64{25, 9}},  // restarted, counting from zero
		{&[2]int64{7, 7}, [2]int64{32, 16}}, // serving again
		{&[2]int64{3, 1}, [2]int64{35, 17}}, // restarted again, between scrapes
		{&[2]int64{3, 1}, [2]int64{35, 17}}, // no new requests
	} {
		if got := e.total(step.cur); got != step.want {
			t.Errorf("step %d: total %v, want %v", i, got, step.want)
		}
	}
}
