package cdndns

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestHealthThresholds: Down failures in a row take a cluster out, Up
// successes bring it back; answers move accordingly and fall back to the
// best cluster, with a short TTL, when all are down.
func TestHealthThresholds(t *testing.T) {
	s := exampleServer(t)
	eu := s.state().clusters[1]
	client := netip.MustParseAddr("127.0.2.10")
	decide := func() Decision { d, _ := s.Decide("a1105.kingcdn.com.", client); return d }
	if d := decide(); d.Cluster != "eu-west" || d.Reason != "geo" {
		t.Fatalf("healthy: %+v", d)
	}
	s.record(HealthConfig{}, eu, false)
	if d := decide(); d.Cluster != "eu-west" {
		t.Errorf("after one failure (down threshold 2): %+v", d)
	}
	s.record(HealthConfig{}, eu, false)
	// Health decided, not geography: the nearest is down.
	if d := decide(); d.Cluster == "eu-west" || d.Reason != "health" || d.Ranking != "geo" || !slices.Equal(d.Down, []string{"eu-west"}) {
		t.Errorf("after two failures: %+v, want the next nearest by health, eu-west down", d)
	}
	// A client whose nearest cluster is up is still answered by geography.
	if d, _ := s.Decide("a1105.kingcdn.com.", netip.MustParseAddr("127.0.1.10")); d.Cluster != "us-east" || d.Reason != "geo" {
		t.Errorf("a us-east client with eu-west down: %+v, want us-east by geo", d)
	}
	s.record(HealthConfig{}, eu, true)
	if d := decide(); d.Cluster == "eu-west" {
		t.Errorf("after one success (up threshold 2): already back, %+v", d)
	}
	s.record(HealthConfig{}, eu, true)
	if d := decide(); d.Cluster != "eu-west" {
		t.Errorf("after two successes: %+v", d)
	}
	for _, c := range s.state().clusters {
		s.record(HealthConfig{}, c, false)
		s.record(HealthConfig{}, c, false)
	}
	if d := decide(); d.Reason != "all-down" || d.TTL > 5 || d.Cluster != "eu-west" {
		t.Errorf("all down: %+v, want the nearest anyway with a short TTL", d)
	}
}

// TestRunHealthChecks drives real HTTP checks against loopback endpoints.
func TestRunHealthChecks(t *testing.T) {
	var failing atomic.Bool
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer hs.Close()
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters[1].HealthURL = hs.URL + "/healthz"
	cfg.Health.Interval = Duration(10 * time.Millisecond)
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.RunHealthChecks(ctx); close(done) }()
	waitFor := func(name string, up bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if s.state().cluster(name).healthy() == up {
				return
			}
		}
		t.Fatalf("%s never became healthy=%v", name, up)
	}
	failing.Store(true)
	waitFor("eu-west", false)
	failing.Store(false)
	waitFor("eu-west", true)

	// A reload changes what is checked: ap-south now has the URL, which
	// fails, and eu-west none.
	next := *cfg
	next.Clusters = append([]Cluster{}, cfg.Clusters...)
	next.Clusters[1].HealthURL, next.Clusters[2].HealthURL = "", hs.URL+"/healthz"
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	waitFor("ap-south", false)
	if !s.state().cluster("eu-west").healthy() {
		t.Error("eu-west, no longer checked, went down")
	}
	cancel()
	<-done
}
