package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/serve"
)

// TokenFile is the name of the admin token's file in a deployment's
// directory: the bearer token of every edge's push API, the DNS's admin
// API and the controller's control API.
const TokenFile = "admin-token"

// Token reads the deployment's admin token.
func (p *Plan) Token() (string, error) {
	t, err := serve.AdminToken(filepath.Join(p.Dir, TokenFile))
	if err != nil {
		return "", fmt.Errorf("deploy: admin %w", err)
	}
	return t, nil
}

// Control is what a scenario's events act on: a deployment's processes.
// A *Deployment is one, in the controller's own process; a *Remote is
// one from any other.
type Control interface {
	// Kill ends the named components' processes at once, as a crash.
	Kill(names ...string) error
	// Start starts them again and returns once they are ready.
	Start(ctx context.Context, names ...string) error
}

// ControlRequest is the body of the control API's POST /control/kill
// and /control/start.
type ControlRequest struct {
	Components []string `json:"components"`
}

// ControlHandler serves the control API of d, behind its admin token:
// POST /control/kill and /control/start with a ControlRequest. The
// controller serves it beside the status page, so that "deploy play"
// in another process carries out the topology's failures and restores.
func ControlHandler(d *Deployment) (http.Handler, error) {
	token, err := d.plan.Token()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	act := func(do func(context.Context, []string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req ControlRequest
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil || len(req.Components) == 0 {
				http.Error(w, fmt.Sprintf("want {\"components\": [NAME, ...]}: %v", err), http.StatusBadRequest)
				return
			}
			if err := do(r.Context(), req.Components); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.Handle("POST /control/kill", act(func(_ context.Context, names []string) error { return d.Kill(names...) }))
	mux.Handle("POST /control/start", act(func(ctx context.Context, names []string) error { return d.Start(ctx, names...) }))
	return httpx.BearerAuth(token, "streamcdn-deploy", mux), nil
}

// Remote is a deployment seen from outside its controller: its control
// API and its status, at the addresses its state file gives.
type Remote struct {
	status, token string
	hc            *http.Client
}

// NewRemote is the deployment st describes.
func NewRemote(st *State) (*Remote, error) {
	if st.Status == "" {
		return nil, fmt.Errorf("deploy: %s: the controller serves no status address", st.Name)
	}
	token, err := st.Plan.Token()
	if err != nil {
		return nil, err
	}
	return &Remote{status: st.Status, token: token, hc: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// Kill asks the controller to kill the named components.
func (r *Remote) Kill(names ...string) error {
	return r.control(context.Background(), "kill", names)
}

// Start asks the controller to start the named components, and returns
// once they are ready.
func (r *Remote) Start(ctx context.Context, names ...string) error {
	return r.control(ctx, "start", names)
}

func (r *Remote) control(ctx context.Context, action string, names []string) error {
	err := httpx.DoJSON(ctx, r.hc, http.MethodPost, r.status+"/control/"+action, r.token, ControlRequest{Components: names}, nil)
	if err != nil {
		return fmt.Errorf("deploy: %s %s: %w", action, strings.Join(names, ", "), err)
	}
	return nil
}

// Snapshot is the controller's status now.
func (r *Remote) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	if err := httpx.DoJSON(ctx, r.hc, http.MethodGet, r.status+"/status.json", "", nil, &s); err != nil {
		return s, fmt.Errorf("deploy: status: %w", err)
	}
	return s, nil
}

// Serve serves the controller's page on ln until ctx ends, then stops
// the deployment: the status page (Watcher), /metrics from reg and the
// control API (ControlHandler).
func (d *Deployment) Serve(ctx context.Context, ln net.Listener, reg *prometheus.Registry) error {
	ctl, err := ControlHandler(d)
	if err != nil {
		ln.Close()
		return err
	}
	mux := serve.AdminMux(reg, NewWatcher(d).Handler())
	mux.Handle("/control/", ctl)
	err = serve.All(ctx, d.log, serve.Listener{Name: "status", Ln: ln, Handler: mux})
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if serr := d.Stop(sctx); serr != nil && err == nil {
		err = serr
	}
	return err
}
