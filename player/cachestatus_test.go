package player

import (
	"net/http"
	"testing"
)

func TestCacheOf(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{"edge-eu-west-1; hit; ttl=59"}, "hit"},
		{[]string{"edge-eu-west-1; hit; detail=pinned"}, "hit"},
		{[]string{"edge-eu-west-1; fwd=miss; stored"}, "miss"},
		{[]string{"shield; hit, edge-eu-west-1; fwd=miss; stored"}, "miss"},      // the nearest cache is the last
		{[]string{"shield; fwd=miss", "edge-eu-west-1; hit; ttl=3"}, "hit"},      // two field lines
		{[]string{"edge-eu-west-1; fwd=stale; fwd-status=304; stored"}, "stale"}, // revalidated
		{[]string{"edge-eu-west-1"}, ""},
	} {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add("Cache-Status", v)
		}
		if got := cacheOf(h); got != tc.want {
			t.Errorf("cacheOf(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}
