package player

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// steering is a session's Content Steering (ISO/IEC 23009-1
// ContentSteering, DASH-IF Content Steering): the pathways the MPD
// offers, the one in use, and the steering server that ranks them. The
// MPD resolved every segment against its first BaseURL; a segment is
// fetched from the pathway in use instead.
type steering struct {
	server  string // where the next steering manifest is asked for
	base0   string // the first BaseURL
	bases   map[string]string
	order   []string // the pathways, best first
	current string
	nextMs  float64 // session time of the next reload
	failed  map[string]bool
}

// newSteering is the MPD's steering, or nil when it has none or offers
// fewer than two pathways with serviceLocations.
func newSteering(m *manifest.Manifest) *steering {
	if m.Steering == nil || len(m.Pathways) == 0 {
		return nil
	}
	st := &steering{server: m.Steering.Server, base0: m.Pathways[0].BaseURL, bases: map[string]string{}, failed: map[string]bool{}}
	for _, p := range m.Pathways {
		if p.ID != "" && st.bases[p.ID] == "" {
			st.bases[p.ID] = p.BaseURL
			st.order = append(st.order, p.ID)
		}
	}
	if len(st.order) == 0 {
		return nil
	}
	st.current = st.order[0]
	if d := m.Steering.Default; st.bases[d] != "" {
		st.current = d
	}
	return st
}

// notePathway records the pathway in use in the report when it changed.
func (s *session) notePathway() {
	if n := len(s.rep.Pathways); n == 0 || s.rep.Pathways[n-1] != s.steer.current {
		s.rep.Pathways = append(s.rep.Pathways, s.steer.current)
	}
}

// rewrite is u fetched from the pathway in use.
func (st *steering) rewrite(u string) string {
	if st == nil || !strings.HasPrefix(u, st.base0) {
		return u
	}
	return st.bases[st.current] + strings.TrimPrefix(u, st.base0)
}

// use switches to the best pathway the ranking offers that has not
// failed; when all have failed, they are tried again.
func (st *steering) use() {
	for range 2 {
		for _, id := range st.order {
			if !st.failed[id] {
				st.current = id
				return
			}
		}
		clear(st.failed)
	}
}

// failover marks the pathway in use failed and moves to the next.
func (st *steering) failover() (from, to string) {
	from = st.current
	st.failed[from] = true
	st.use()
	return from, st.current
}

// reload asks the steering server for its ranking, reporting the
// pathway in use and the throughput measured, and moves to the best
// pathway it ranks. A server that does not answer, or answers badly,
// leaves the ranking as it was.
func (s *session) reloadSteering(ctx context.Context) {
	st := s.steer
	q := url.Values{}
	if s.started || st.nextMs > 0 {
		q.Set("_DASH_pathway", st.current)
		if s.est != nil && s.est.Valid {
			q.Set("_DASH_throughput", strconv.FormatInt(int64(s.est.Throughput*1000), 10))
		}
	}
	u := st.server
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + q.Encode()
	}
	dm, err := s.fetchSteering(ctx, u)
	ttl := 300.0
	if err != nil {
		s.log.Warn("steering manifest", "url", u, "err", err)
	} else {
		ttl = float64(dm.TTL)
		var order []string
		for _, id := range dm.PathwayPriority {
			if st.bases[id] != "" {
				order = append(order, id)
			}
		}
		for _, id := range st.order { // offered but not ranked: last
			if !slices.Contains(order, id) {
				order = append(order, id)
			}
		}
		st.order = order
		if dm.ReloadURI != "" {
			if ref, err := url.Parse(dm.ReloadURI); err == nil {
				if base, err := url.Parse(st.server); err == nil {
					st.server = base.ResolveReference(ref).String()
				}
			}
		}
		from := st.current
		st.use()
		if st.current != from {
			s.log.Info("steered", "from", from, "to", st.current)
		}
	}
	speed := s.cfg.Speed
	if speed <= 0 {
		speed = 1
	}
	st.nextMs = s.clk.now() + max(ttl, 1)*1000*speed
}

// fetchSteering gets and parses a steering manifest.
func (s *session) fetchSteering(ctx context.Context, u string) (*manifest.SteeringManifest, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("steering: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("steering: GET %s: %s", u, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10+1))
	if err != nil {
		return nil, fmt.Errorf("steering: %w", err)
	}
	return manifest.ParseSteeringManifest(b)
}
