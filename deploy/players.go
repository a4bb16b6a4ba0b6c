package deploy

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/player"
	"golang.org/x/sync/errgroup"
)

// PlayConfig runs a topology's player populations against a running
// deployment.
type PlayConfig struct {
	// State is the deployment's (ReadState, or Deployment.State).
	State *State
	// Topology's Players are run; if nil, the deployment's own. Its
	// regions must be the deployment's.
	Topology *Topology
	// Speed dilates the players' time (player.Config.Speed); if zero, 1.
	Speed float64
	// Duration, when set, plays only each title's first D.
	Duration time.Duration
	// OnRoute, when set, is called when a player's cluster changes; the
	// calls are serialized.
	OnRoute func(Route)
	Logger  *slog.Logger
}

// Session is one player's run.
type Session struct {
	Population int    `json:"population"`
	Region     string `json:"region"`
	Player     int    `json:"player"`
	Client     string `json:"client"`
	Title      string `json:"title"`
	ABR        string `json:"abr"`
	// Flow is dns or steer (Players.Flow).
	Flow string `json:"flow"`
	// Started is when the player began, after its population's stagger.
	Started time.Time `json:"started"`
	// Clusters are the clusters that answered the player, in order.
	Clusters []string       `json:"clusters"`
	Report   *player.Report `json:"report"`
	Err      string         `json:"error,omitempty"`
}

// Route is a player's move to a cluster: its first, or a move after a
// failure.
type Route struct {
	At         time.Time `json:"at"`
	Population int       `json:"population"`
	Region     string    `json:"region"`
	Player     int       `json:"player"`
	Flow       string    `json:"flow"`
	Cluster    string    `json:"cluster"`
}

// Play runs every player of cfg.Topology.Players at once, each from its
// region's client addresses, resolving the provider's video host through
// the deployment's DNS on every new connection, with retries that wait
// for the DNS to move it when a cluster fails. It returns every session;
// the error is the first session's that ended in error.
func Play(ctx context.Context, cfg PlayConfig) ([]*Session, error) {
	t, st := cmp.Or(cfg.Topology, cfg.State.Topology), cfg.State
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	vips := map[string]string{} // cluster address to region
	for i, r := range t.Regions {
		if r.Edge != nil {
			vips[RegionIP(i+1, hostVIP)] = r.Name
		}
	}
	var sessions []*Session
	var g errgroup.Group
	var routeMu sync.Mutex // serializes OnRoute
	for pi, pop := range t.Players {
		_, R := t.Region(pop.Region)
		title := t.TitleOf(pop)
		var trace player.Trace
		traceName := "access network"
		if pop.Trace != "" {
			var err error
			if trace, err = player.LoadTrace(pop.Trace); err != nil {
				return nil, fmt.Errorf("deploy: players[%d].trace: %w", pi, err)
			}
			traceName = pop.Trace
		}
		for k := range pop.Count {
			s := &Session{Population: pi, Region: pop.Region, Player: k, Client: PlayerIP(R, k), Title: title,
				ABR: cmp.Or(pop.ABR, "dynamic"), Flow: cmp.Or(pop.Flow, "dns")}
			sessions = append(sessions, s)
			mpdURL, resolver := st.Plan.VideoURL(title), st.Plan.DNS
			if s.Flow == "steer" { // no DNS: the steering service names the edges by address
				mpdURL, resolver = st.Plan.Steer+"/"+title+"/manifest.mpd", ""
			}
			client := player.NewClient(player.ClientConfig{Resolver: resolver, LocalAddr: net.ParseIP(s.Client)})
			var mu sync.Mutex
			client.Transport = &httpx.ObserveRemote{Next: client.Transport, Seen: func(ip string, _ *http.Response) {
				cl := vips[ip]
				if cl == "" {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if n := len(s.Clusters); n > 0 && s.Clusters[n-1] == cl {
					return
				}
				s.Clusters = append(s.Clusters, cl)
				if cfg.OnRoute != nil {
					routeMu.Lock()
					cfg.OnRoute(Route{At: time.Now(), Population: pi, Region: s.Region, Player: k, Flow: s.Flow, Cluster: cl})
					routeMu.Unlock()
				}
			}}
			delay := time.Duration(k) * pop.Start.D()
			g.Go(func() error {
				defer client.CloseIdleConnections()
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return ctx.Err()
				}
				mu.Lock()
				s.Started = time.Now()
				mu.Unlock()
				r, err := player.Play(ctx, player.Config{URL: mpdURL, ABR: s.ABR, Client: client,
					Trace: trace, TraceName: traceName, Speed: cfg.Speed, Duration: cfg.Duration, MaxBuffer: 12 * time.Second,
					Retries: 6, RetryWait: 500 * time.Millisecond, SessionID: fmt.Sprintf("%s-%d", s.Region, k), Logger: cfg.Logger})
				mu.Lock()
				s.Report = r
				if err != nil {
					s.Err = err.Error()
				}
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("player %d of %s: %w", k, s.Region, err)
				}
				return nil
			})
		}
	}
	return sessions, g.Wait()
}
