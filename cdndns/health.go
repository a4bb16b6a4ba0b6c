package cdndns

import (
	"context"
	"net/http"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// RunHealthChecks checks every cluster's HealthURL each interval until
// ctx ends: Down failures in a row take a cluster out of the answers, Up
// successes in a row bring it back. Each round reads the configuration
// anew, so a reload changes the clusters, URLs and timers checked. It
// returns when ctx is done.
func (s *Server) RunHealthChecks(ctx context.Context) {
	for {
		st := s.state()
		h := st.health
		interval, timeout := time.Duration(h.Interval), time.Duration(h.Timeout)
		if interval <= 0 {
			interval = 2 * time.Second
		}
		if timeout <= 0 {
			timeout = time.Second
		}
		client := &http.Client{Transport: s.opts.Transport, Timeout: timeout}
		next := time.Now().Add(interval)
		for _, c := range st.clusters {
			if c.HealthURL != "" {
				s.record(h, c, check(ctx, client, c.HealthURL))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
	}
}

func check(ctx context.Context, client *http.Client, url string) bool {
	code, err := httpx.Probe(ctx, client, url)
	return err == nil && code >= 200 && code < 300
}

// record applies one check result to c's state.
func (s *Server) record(h HealthConfig, c *cluster, ok bool) {
	down, up := h.Down, h.Up
	if down <= 0 {
		down = 2
	}
	if up <= 0 {
		up = 2
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.failures = 0
		if c.passes++; !c.up && c.passes >= up {
			c.up = true
			s.changed()
			s.log.Info("cluster up", "cluster", c.Name)
		}
	} else {
		c.passes = 0
		if c.failures++; c.up && c.failures >= down {
			c.up = false
			s.changed()
			s.log.Warn("cluster down", "cluster", c.Name)
		}
	}
	s.metrics.setUp(c.Name, c.up)
}
