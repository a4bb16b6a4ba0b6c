package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// ProcessHealth is a component's process as seen now.
type ProcessHealth struct {
	Process
	// Health is ok, down (its readiness probe got no answer) or the
	// status text of the probe's answer.
	Health string
}

// Check probes every process of the deployment st describes. A process
// the state file says is running but that no longer carries the
// deployment's ID is "exited": the state file may lag a death.
func Check(ctx context.Context, st *State) []ProcessHealth {
	hc := &http.Client{Timeout: time.Second}
	live := map[int]bool{}
	for _, pid := range Processes(st.ID) {
		live[pid] = true
	}
	var out []ProcessHealth
	for _, p := range st.Processes {
		c, _ := st.Plan.Component(p.Component)
		h := ProcessHealth{Process: p, Health: "down"}
		if code, err := httpx.Probe(ctx, hc, c.Ready); err == nil {
			h.Health = "ok"
			if code != http.StatusOK {
				h.Health = http.StatusText(code)
			}
		}
		if h.State == "running" && !live[p.PID] {
			h.State = "exited"
		}
		out = append(out, h)
	}
	return out
}

// WriteLayout writes the plan's size and each region's addresses.
func (p *Plan) WriteLayout(w io.Writer) {
	t := p.Topology
	nodes := 0
	for _, c := range p.Components {
		if c.Kind == KindEdge {
			nodes++
		}
	}
	fmt.Fprintf(w, "%s: valid. %d regions, %d edge nodes, %d processes, %d players, %d titles\n", t.Name,
		len(t.Regions), nodes, len(p.Components), t.PlayerCount(), len(t.Origin.Titles))
	for i, r := range t.Regions {
		cl := "clients only"
		if r.Edge != nil {
			cl = fmt.Sprintf("cluster 127.0.%d.1, %d nodes, mode %s", i+1, r.Edge.Nodes, r.Edge.EdgeMode())
		}
		fmt.Fprintf(w, "  %-10s 127.0.%d.0/24  %s\n", r.Name, i+1, cl)
	}
}
