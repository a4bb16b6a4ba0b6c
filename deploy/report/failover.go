package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
)

// Failover is how one flow's players left a cluster that failed.
type Failover struct {
	// Region is the failed cluster's; At is when it failed.
	Region string
	At     time.Duration
	// Flow is the players' (dns: KingCDN's; steer: Netflix's).
	Flow string
	// Players were streaming from the cluster when it failed.
	Players int
	// Moved is, for each player that moved, the time from the failure to
	// its first fetch from another cluster, shortest first.
	Moved []time.Duration
}

// Failovers finds, for every scripted failure and every flow with
// players on the failed cluster, how long each took to fetch elsewhere.
func Failovers(r Run) []Failover {
	type key struct{ pop, player int }
	var out []Failover
	for _, ev := range r.Events {
		if ev.Action != "fail" {
			continue
		}
		byFlow := map[string]*Failover{}
		var flows []string
		// A player's routes are in time order; the last before the
		// failure says where it was.
		last := map[key]deploy.Route{}
		moved := map[key]bool{}
		for _, rt := range r.Routes {
			k, at := key{rt.Population, rt.Player}, rt.At.Sub(r.Start)
			if at <= ev.At {
				last[k] = rt
				continue
			}
			was, ok := last[k]
			if !ok || was.Cluster != ev.Region || moved[k] || rt.Cluster == ev.Region {
				continue
			}
			moved[k] = true
			f := byFlow[rt.Flow]
			if f == nil {
				f = &Failover{Region: ev.Region, At: ev.At, Flow: rt.Flow}
				byFlow[rt.Flow] = f
				flows = append(flows, rt.Flow)
			}
			f.Moved = append(f.Moved, at-ev.At)
		}
		for _, was := range last {
			if was.Cluster != ev.Region {
				continue
			}
			f := byFlow[was.Flow]
			if f == nil {
				f = &Failover{Region: ev.Region, At: ev.At, Flow: was.Flow}
				byFlow[was.Flow] = f
				flows = append(flows, was.Flow)
			}
			f.Players++
		}
		slices.Sort(flows)
		for _, fl := range flows {
			f := byFlow[fl]
			slices.Sort(f.Moved)
			out = append(out, *f)
		}
	}
	return out
}

// Median is the median time to move, or 0 when none moved.
func (f Failover) Median() time.Duration {
	if len(f.Moved) == 0 {
		return 0
	}
	return f.Moved[len(f.Moved)/2]
}

// writeFailovers tells, for each failure, how fast each flow moved its
// players and by what mechanism.
func writeFailovers(w io.Writer, r Run) {
	fs := Failovers(r)
	if len(fs) == 0 {
		return
	}
	fmt.Fprintln(w, "\n== failover: an edge cluster dies; how fast each flow moved its players (wall seconds)")
	region := ""
	for _, f := range fs {
		if f.Region != region {
			region = f.Region
			fmt.Fprintf(w, "%s's cluster failed at %.2f s:\n", f.Region, f.At.Seconds())
		}
		name, how := "KingCDN flow (DNS)", ""
		if t := r.Topology; t != nil {
			bound, interval := t.HealthBound()
			how = fmt.Sprintf("the DNS checks each cluster every %s and takes a dead one out within %s; "+
				"its players resolve again after an error (answer TTL %s)", interval, bound, cmp.Or(t.DNS.TTL.D(), 20*time.Second))
		}
		if f.Flow == "steer" {
			name = "Netflix flow (steering)"
			how = fmt.Sprintf("its players fail over to their next pathway at the first error; the steering manifest (TTL %s) ranks the edges again as the service's probes see the cluster die", r.SteeringTTL)
		}
		if len(f.Moved) == 0 {
			fmt.Fprintf(w, "  %-24s %d of %d players moved\n", name, 0, f.Players)
			continue
		}
		fmt.Fprintf(w, "  %-24s %d of %d players moved in %.2f s (median; %.2f-%.2f s): %s\n", name, len(f.Moved), f.Players,
			f.Median().Seconds(), f.Moved[0].Seconds(), f.Moved[len(f.Moved)-1].Seconds(), how)
	}
}
