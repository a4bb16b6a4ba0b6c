package report

import (
	"cmp"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
)

// Explained is where the DNS sends a region's clients, and why.
type Explained struct {
	Region  string
	Clients string // the clients' network
	Cluster string // "?" when the DNS could not say
	Why     string
}

// Line is a line of the run's timeline: a scripted event, a player's
// move, an event's outcome.
type Line struct {
	At   time.Duration
	What string
}

// Text writes the text report: where each region's clients were sent
// and why, QoE per player population, each cluster's hit ratio and the
// origin offload, the DNS's answers, and the timeline.
func Text(w io.Writer, r Run) error {
	if len(r.Chain) > 0 {
		fmt.Fprintf(w, "\n== the KingCDN flow: what a client's resolver gets from the DNS (asked from %s before the players started)\n", r.ChainFrom)
		for _, rr := range r.Chain {
			fmt.Fprintf(w, "  %s\n", rr)
		}
	}
	fmt.Fprintln(w, "\n== where each region's clients were sent, and why (the DNS's explanation at the end)")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "region\tclients\tcluster\twhy")
	for _, e := range r.Explained {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Region, e.Clients, e.Cluster, e.Why)
	}
	tw.Flush()

	fmt.Fprintln(w, "\n== QoE per player population")
	populations(w, r)

	fmt.Fprintln(w, "\n== clusters: hit ratio and origin offload")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cluster\thealth\tnodes up\trequests\thits\thit ratio\t")
	for _, c := range r.Snapshot.Regions {
		if !c.Cluster {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%.1f%%\t\n", c.Name, c.Health, c.NodesUp, c.Nodes, c.Requests, c.Hits, 100*c.HitRatio)
	}
	tw.Flush()
	if f := FillOf("", r); f.ClientRequests > 0 {
		fmt.Fprintf(w, "origin: %d requests for %d client requests: origin offload %.1f%% (%d bytes)", f.PlayRequests, f.ClientRequests,
			Offload(f.PlayRequests, f.ClientRequests), f.PlayBytes)
		if f.PushRequests > 0 {
			fmt.Fprintf(w, "; before them, %d requests (%d bytes) for the pushes", f.PushRequests, f.PushBytes)
		}
		fmt.Fprintln(w)
	}
	var answers []string
	for _, a := range r.Snapshot.Answers {
		answers = append(answers, fmt.Sprintf("%s by %s: %d", a.Cluster, a.Reason, a.Count))
	}
	fmt.Fprintf(w, "DNS answers: %s\n", strings.Join(answers, "; "))
	if len(r.Snapshot.SteerAnswers) > 0 {
		var steered []string
		for _, a := range r.Snapshot.SteerAnswers {
			steered = append(steered, fmt.Sprintf("%s first by %s: %d", a.Cluster, a.Reason, a.Count))
		}
		fmt.Fprintf(w, "steering service answers (MPDs and steering manifests): %s\n", strings.Join(steered, "; "))
	}
	writeFailovers(w, r)

	fmt.Fprintf(w, "\n== timeline: events and DNS decisions as the players saw them (wall seconds since the players started; their media plays at speed %g)\n", max(r.Speed, 1))
	for _, l := range r.Timeline {
		fmt.Fprintf(w, "%7.2f s  %s\n", l.At.Seconds(), l.What)
	}
	return nil
}

// Offload is the share of client requests the origin did not see, in
// percent.
func Offload(origin, clients int64) float64 {
	if clients == 0 {
		return 0
	}
	return 100 - 100*float64(origin)/float64(clients)
}

// flowStats are the QoE and cache figures of a set of sessions.
type flowStats struct {
	players, finished, stalls, retries int
	startup, bitrate, rebuffer         float64
	segments, hits                     int // media segments fetched whole, and those the edge had stored
	clusters                           map[string]bool
	title, abr                         string
}

func (f *flowStats) add(s *deploy.Session) {
	f.players++
	f.title, f.abr = s.Title, s.ABR
	if f.clusters == nil {
		f.clusters = map[string]bool{}
	}
	for _, c := range s.Clusters {
		f.clusters[c] = true
	}
	rep := s.Report
	if rep == nil {
		return
	}
	if s.Err == "" {
		f.finished++
	}
	f.startup += rep.StartupS
	f.bitrate += rep.AvgBitrateKbps
	f.stalls += rep.RebufferEvents
	f.rebuffer += rep.RebufferS
	f.retries += len(rep.Errors)
	for _, l := range rep.Log {
		if l.Result == "ok" {
			f.segments++
			if l.Cache == "hit" {
				f.hits++
			}
		}
	}
}

func (f *flowStats) mean(v float64) float64 { return v / float64(max(f.players, 1)) }

// edgeHits is the share of segments the edge answered from its store, in
// percent, as the players' Cache-Status said.
func (f *flowStats) edgeHits() float64 {
	return 100 * float64(f.hits) / float64(max(f.segments, 1))
}

// populations writes a row per player population, then a line per flow.
func populations(w io.Writer, r Run) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "population\tplayers\ttitle\tabr\tclusters\tfinished\tmean startup\tmean bitrate\tstalls\trebuffer\tretries\tedge hits")
	flows := map[string]*flowStats{}
	for pi, p := range r.Topology.Players {
		var f flowStats
		for _, s := range r.Sessions {
			if s.Population == pi {
				f.add(s)
				flow := cmp.Or(s.Flow, "dns")
				if flows[flow] == nil {
					flows[flow] = &flowStats{}
				}
				flows[flow].add(s)
			}
		}
		var cl []string
		for c := range f.clusters {
			cl = append(cl, c)
		}
		sort.Strings(cl)
		name := fmt.Sprintf("%s #%d", p.Region, pi)
		if p.Flow == "steer" {
			name += " (steered)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d/%d\t%.2f s\t%.0f kbit/s\t%d\t%.2f s\t%d\t%.0f%%\n", name, f.players, f.title, f.abr,
			strings.Join(cl, ","), f.finished, f.players, f.mean(f.startup), f.mean(f.bitrate), f.stalls, f.rebuffer, f.retries, f.edgeHits())
	}
	tw.Flush()
	if len(flows) < 2 {
		return
	}
	for _, fl := range []struct{ key, name string }{{"dns", "KingCDN flow (DNS)"}, {"steer", "Netflix flow (steering)"}} {
		if f := flows[fl.key]; f != nil {
			fmt.Fprintf(w, "%-24s %d players, %d finished; mean startup %.2f s, mean bitrate %.0f kbit/s, %d stalls (%.2f s); %.0f%% of %d segments from the edge's store\n",
				fl.name+":", f.players, f.finished, f.mean(f.startup), f.mean(f.bitrate), f.stalls, f.rebuffer, f.edgeHits(), f.segments)
		}
	}
}

// Sessions writes a row per player: its clusters and QoE.
func Sessions(w io.Writer, sessions []*deploy.Session) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "region\tplayer\tfrom\ttitle\tabr\tclusters\tended\tstartup\tbitrate\tswitches\tstalls\trebuffer\terrors")
	for _, s := range sessions {
		r := s.Report
		if r == nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\tnot started: %s\n", s.Region, s.Player, s.Client, s.Title, s.ABR, strings.Join(s.Clusters, "→"), s.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%.2f s\t%.0f kbit/s\t%d\t%d\t%.2f s\t%d\n", s.Region, s.Player, s.Client, s.Title, s.ABR,
			strings.Join(s.Clusters, "→"), r.Ended, r.StartupS, r.AvgBitrateKbps, r.Switches, r.RebufferEvents, r.RebufferS, len(r.Errors))
	}
	tw.Flush()
}

// Fill is what one fill mode cost the origin and gave the players.
type Fill struct {
	Mode string
	// PushRequests and PushBytes are the origin's, for the fill before
	// the players started; PlayRequests and PlayBytes, during play.
	PushRequests, PushBytes int64
	PlayRequests, PlayBytes int64
	// ClientRequests are the clusters' requests during play.
	ClientRequests int64
	// Startup is the players' mean startup delay, Rebuffer their total
	// rebuffering.
	Startup, Rebuffer time.Duration
	Stalls            int
}

// FillOf is what run r, in fill mode mode, cost the origin (r.Filled
// before the players, r.Snapshot less that during play) and gave the
// players.
func FillOf(mode string, r Run) Fill {
	f := Fill{Mode: mode, PushRequests: r.Filled.OriginRequests, PushBytes: r.Filled.OriginBytes,
		PlayRequests: r.Snapshot.OriginRequests - r.Filled.OriginRequests, PlayBytes: r.Snapshot.OriginBytes - r.Filled.OriginBytes}
	for _, c := range r.Snapshot.Regions {
		f.ClientRequests += c.Requests
	}
	var all flowStats
	for _, s := range r.Sessions {
		all.add(s)
	}
	f.Startup = time.Duration(all.mean(all.startup) * float64(time.Second))
	f.Stalls, f.Rebuffer = all.stalls, time.Duration(all.rebuffer*float64(time.Second))
	return f
}

// Compare writes the fill modes side by side.
func Compare(w io.Writer, fills []Fill) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "mode\tpush: origin requests\tpush: origin bytes\tplay: origin requests\tplay: origin bytes\tclient requests\torigin offload\tmean startup\tstalls\trebuffer\t\n")
	for _, f := range fills {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%.2f s\t%d\t%.2f s\t\n", f.Mode, f.PushRequests, f.PushBytes,
			f.PlayRequests, f.PlayBytes, f.ClientRequests, Offload(f.PlayRequests, f.ClientRequests), f.Startup.Seconds(), f.Stalls, f.Rebuffer.Seconds())
	}
	tw.Flush()
}
