package origin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestDemand(t *testing.T) {
	dir := testTree(t)
	os.MkdirAll(filepath.Join(dir, "t3"), 0o755)
	os.WriteFile(filepath.Join(dir, "t3/manifest.mpd"), []byte("<MPD></MPD>"), 0o644)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	s, err := New(Config{Dir: dir, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub := httptest.NewServer(s)
	defer pub.Close()
	adm := httptest.NewServer(s.Admin())
	defer adm.Close()
	fetch := func(paths ...string) {
		for _, p := range paths {
			res, err := http.Get(pub.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
	}
	// Two days ago: t3 was popular.
	fetch("/t3/manifest.mpd", "/t3/manifest.mpd", "/t3/manifest.mpd", "/t3/manifest.mpd")
	clk.Add(48 * time.Hour)
	// Today: t1 is, and requests that fail are not counted.
	fetch("/t1/manifest.mpd", "/t1/360p/1.m4s", "/t1/audio/1.m4s", "/t3/manifest.mpd", "/t1/nothing", "/nothing/x", "/t1/../x")
	titles := func(since string) (int, Demand) {
		res, err := http.Get(adm.URL + "/titles" + since)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var d Demand
		json.NewDecoder(res.Body).Decode(&d)
		return res.StatusCode, d
	}
	tests := []struct {
		since string
		want  []TitleDemand
	}{
		{"", []TitleDemand{
			{Title: "t1", Requests: 3, Plays: 1, BytesServed: 6 + 20 + 11, SizeBytes: 6 + 20 + 11 + 10 + 5, Files: 5},
			{Title: "t3", Requests: 1, Plays: 1, BytesServed: 11, SizeBytes: 11, Files: 1}}},
		{"?since=72h", []TitleDemand{
			{Title: "t3", Requests: 5, Plays: 5, BytesServed: 55, SizeBytes: 11, Files: 1},
			{Title: "t1", Requests: 3, Plays: 1, BytesServed: 37, SizeBytes: 52, Files: 5}}},
	}
	for _, tc := range tests {
		code, d := titles(tc.since)
		if code != 200 {
			t.Fatalf("since %q: %d", tc.since, code)
		}
		if diff := cmp.Diff(tc.want, d.Titles); diff != "" {
			t.Errorf("since %q (-want +got):\n%s", tc.since, diff)
		}
	}
	for _, bad := range []string{"?since=yesterday", "?since=-1h", "?since=200h"} {
		if code, _ := titles(bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
	// Past the retention, old buckets go when the title is next counted.
	clk.Add(demandRetention + time.Minute)
	fetch("/t3/manifest.mpd")
	if _, d := titles("?since=168h"); len(d.Titles) != 1 || d.Titles[0].Requests != 1 {
		t.Errorf("after the retention: %+v", d.Titles)
	}
	s.demand.mu.Lock()
	n := len(s.demand.titles["t3"])
	s.demand.mu.Unlock()
	if n != 1 {
		t.Errorf("t3 keeps %d buckets, want 1", n)
	}
}
