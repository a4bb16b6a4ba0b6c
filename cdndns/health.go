package cdndns

import (
	"context"
	"net/http"
	"time"
)

// RunHealthChecks checks every cluster's HealthURL each interval until
// ctx ends: Down failures in a row take a cluster out of the answers, Up
// successes in a row bring it back. It returns when ctx is done.
func (s *Server) RunHealthChecks(ctx context.Context) {
	interval := time.Duration(s.health.Interval)
	if interval <= 0 {
		interval = 2 * time.Second
	}
	client := &http.Client{Transport: s.opts.Transport, Timeout: time.Duration(s.health.Timeout)}
	if client.Timeout <= 0 {
		client.Timeout = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, c := range s.clusters {
			if c.HealthURL != "" {
				s.record(c, check(ctx, client, c.HealthURL))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func check(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode < 300
}

// record applies one check result to c's state.
func (s *Server) record(c *cluster, ok bool) {
	down, up := s.health.Down, s.health.Up
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
			s.log.Info("cluster up", "cluster", c.Name)
		}
	} else {
		c.passes = 0
		if c.failures++; c.up && c.failures >= down {
			c.up = false
			s.log.Warn("cluster down", "cluster", c.Name)
		}
	}
	s.metrics.setUp(c.Name, c.up)
}
