package scenario

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/examples"
)

func threeRegion(t *testing.T) *deploy.Topology {
	t.Helper()
	top, err := deploy.Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// layout plans top without binding ports.
func layout(t *testing.T, top *deploy.Topology) *deploy.Plan {
	t.Helper()
	plan, err := deploy.NewPlan(top, deploy.PlanConfig{Dir: t.TempDir(), EdgePort: 8080,
		Ports: func(string, bool) (int, error) { return 0, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestForMode: every cluster in the mode; the topology's pushes replaced
// by the mode's fill at 0s; failures and restores kept; the topology
// given unchanged.
func TestForMode(t *testing.T) {
	for _, tc := range []struct {
		mode string
		fill []string // titles pushed at 0s
		err  string
	}{
		{mode: "pull"},
		{mode: "push", fill: []string{"sample", "trailer", "feature"}},
		// Four of eight players watch the sample; the steered ones, the
		// trailer, which the steering service offers only where pushed.
		{mode: "hybrid", fill: []string{"sample", "trailer"}},
		{mode: "fast", err: `mode "fast": want pull, push or hybrid`},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			top := threeRegion(t)
			got, err := ForMode(top, tc.mode)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ForMode = %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got.Regions {
				if r.Edge.Mode != tc.mode {
					t.Errorf("%s: mode %q", r.Name, r.Edge.Mode)
				}
				if top.Regions[i].Edge.Mode != "" {
					t.Errorf("the topology given was changed: %s in %q", r.Name, top.Regions[i].Edge.Mode)
				}
			}
			var fill, rest []string
			for _, e := range got.Events {
				if e.Action == "push" {
					if e.At != 0 || e.Region != "" {
						t.Errorf("push %+v, want at 0s to every region", e)
					}
					fill = append(fill, e.Title)
				} else {
					rest = append(rest, fmt.Sprintf("%s %s at %s", e.Action, e.Region, e.At.D()))
				}
			}
			if !slices.Equal(fill, tc.fill) {
				t.Errorf("fill = %q, want %q", fill, tc.fill)
			}
			if want := []string{"fail eu-west at 3s", "restore eu-west at 7s"}; !slices.Equal(rest, want) {
				t.Errorf("other events = %q, want %q", rest, want)
			}
			if len(top.Events) != 3 || top.Events[0].Title != "trailer" {
				t.Errorf("the topology given was changed: %+v", top.Events)
			}
			// Pull holds nothing ahead of demand: no steering service, its
			// players through the DNS.
			steered := 0
			for _, p := range got.Players {
				if p.Flow == "steer" {
					steered++
				}
			}
			if pull := tc.mode == "pull"; (got.Steering == nil) != pull || (steered == 0) != pull || top.Steering == nil {
				t.Errorf("%s: steering %v, %d steered populations", tc.mode, got.Steering, steered)
			}
		})
	}
}

// TestPrefill: pushes at 0s come before the players, the rest in time
// order, ties in file order.
func TestPrefill(t *testing.T) {
	ev := func(at time.Duration, action, title string) deploy.Event {
		return deploy.Event{At: deploy.Duration(at), Action: action, Title: title, Region: "r"}
	}
	before, during := prefill([]deploy.Event{
		ev(5*time.Second, "fail", ""), ev(0, "push", "a"), ev(0, "fail", ""), ev(time.Second, "push", "b"),
		ev(5*time.Second, "restore", ""), ev(0, "push", "c"),
	})
	if want := []deploy.Event{ev(0, "push", "a"), ev(0, "push", "c")}; !slices.Equal(before, want) {
		t.Errorf("before = %+v, want %+v", before, want)
	}
	if want := []deploy.Event{ev(0, "fail", ""), ev(time.Second, "push", "b"), ev(5*time.Second, "fail", ""),
		ev(5*time.Second, "restore", "")}; !slices.Equal(during, want) {
		t.Errorf("during = %+v, want %+v", during, want)
	}
}

// control records what the events asked of the deployment, when.
type control struct {
	mu    sync.Mutex
	start time.Time
	calls []string
	fail  error
}

func (c *control) record(what string, names []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("%s %s at %s", what, strings.Join(names, ","), time.Since(c.start)))
	return c.fail
}

func (c *control) Kill(names ...string) error { return c.record("kill", names) }

func (c *control) Start(_ context.Context, names ...string) error {
	time.Sleep(200 * time.Millisecond) // the edge's start-up
	return c.record("start", names)
}

// TestEventsOnTime runs the three-region script's failure and restore on
// virtual time: each at its time since the start, on that region's edge
// nodes only, in the timeline with its outcome; a run whose context ends
// stops before its next event.
func TestEventsOnTime(t *testing.T) {
	top := threeRegion(t)
	top.Regions[1].Edge.Nodes = 2
	plan := layout(t, top)
	_, during := prefill(top.Events)
	synctest.Test(t, func(t *testing.T) {
		ctl := &control{start: time.Now()}
		ev := &events{plan: plan, ctl: ctl, tl: &timeline{start: time.Now()}}
		ev.run(t.Context(), during) // the failure and the restore (the push is before)
		want := []string{"kill edge-eu-west-1,edge-eu-west-2 at 3s", "start edge-eu-west-1,edge-eu-west-2 at 7.2s"}
		if !slices.Equal(ctl.calls, want) {
			t.Errorf("calls = %q, want %q", ctl.calls, want)
		}
		_, _, marks, lines := ev.tl.result()
		var got []string
		for _, l := range lines {
			got = append(got, fmt.Sprintf("%s %s", l.At, l.What))
		}
		if want := []string{"3s EVENT eu-west's edge cluster fails (edge-eu-west-1, edge-eu-west-2 killed)",
			"7s EVENT eu-west's edge cluster restarts", "7.2s eu-west's edge cluster is ready again"}; !slices.Equal(got, want) {
			t.Errorf("timeline = %q, want %q", got, want)
		}
		if len(marks) != 2 || marks[0].At != 3*time.Second || marks[1].Label != "eu-west restarts" {
			t.Errorf("marks = %+v", marks)
		}

		// Ended at 5 s: the failure happened, the restore does not.
		ctl = &control{start: time.Now()}
		ev = &events{plan: plan, ctl: ctl, tl: &timeline{start: time.Now()}}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		ev.run(ctx, during)
		if want := []string{"kill edge-eu-west-1,edge-eu-west-2 at 3s"}; !slices.Equal(ctl.calls, want) {
			t.Errorf("calls = %q, want %q", ctl.calls, want)
		}
	})
}

// TestEventFails: a failed event is in the timeline, and the script goes
// on; without a control, a failure is an error, not a panic.
func TestEventFails(t *testing.T) {
	top := threeRegion(t)
	plan := layout(t, top)
	_, during := prefill(top.Events)
	synctest.Test(t, func(t *testing.T) {
		ctl := &control{start: time.Now(), fail: fmt.Errorf("no such process")}
		ev := &events{plan: plan, ctl: ctl, tl: &timeline{start: time.Now()}}
		ev.run(t.Context(), during)
		_, _, _, lines := ev.tl.result()
		if len(lines) != 4 || lines[1].What != "event failed: no such process" || lines[3].What != "event failed: no such process" || len(ctl.calls) != 2 {
			t.Errorf("timeline = %+v, calls %q", lines, ctl.calls)
		}
	})
	ev := &events{plan: plan, tl: &timeline{start: time.Now()}}
	if err := ev.do(t.Context(), during[0]); err == nil || !strings.Contains(err.Error(), "no control") {
		t.Errorf("fail without a control: %v", err)
	}
}

// TestNew: what New refuses.
func TestNew(t *testing.T) {
	top := threeRegion(t)
	noPlayers := *top
	noPlayers.Players = nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no topology", Config{Listener: ln}, "no topology"},
		{"no players", Config{Topology: &noPlayers, Listener: ln}, "no players"},
		{"no listener", Config{Topology: top}, "no status listener"},
		{"speed", Config{Topology: top, Listener: ln, Speed: 1001}, "want 0 < K <= 1000"},
		{"mode", Config{Topology: top, Listener: ln, Modes: []string{"pull", "pushy"}}, `mode "pushy"`},
		{"ok", Config{Topology: top, Listener: ln, Modes: []string{"pull", "push", "hybrid"}}, ""},
	} {
		_, err := New(tc.cfg)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: New = %v, want %q", tc.name, err, tc.err)
		}
	}
}
