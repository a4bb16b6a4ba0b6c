package deploy

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/promreg"
	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
)

// EnvID is the environment variable that marks every process of a
// deployment with its ID, so that Down finds them even without the
// controller.
const EnvID = "STREAMCDN_DEPLOY_ID"

// StateFile is the name of the state file in a deployment's directory.
const StateFile = "state.json"

// State is what a running deployment writes to Dir/state.json.
type State struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Controller int    `json:"controller_pid"`
	// ControllerStart is the controller's start time in clock ticks
	// since boot (/proc/PID/stat), which tells it from a process that
	// reused its number.
	ControllerStart uint64    `json:"controller_start"`
	Started         time.Time `json:"started"`
	// Status is the controller's status page and /metrics.
	Status     string      `json:"status,omitempty"`
	Topology   *Topology   `json:"topology"`
	Plan       *Plan       `json:"plan"`
	Processes  []Process   `json:"processes"`
	VideoURLs  []string    `json:"video_urls"`
	Regions    []RegionRef `json:"regions"`
	ReadyAfter float64     `json:"ready_after_seconds"`
}

// RegionRef is a region's number and networks, for clients.
type RegionRef struct {
	Name string `json:"name"`
	// Number R: the region's addresses are 127.0.R.0/24.
	Number int `json:"number"`
	// Client is the first address its players use.
	Client string `json:"client"`
}

// Process is a component's process.
type Process struct {
	Component string `json:"component"`
	PID       int    `json:"pid"`
	// State is running, stopped (on purpose) or exited (on its own).
	State string `json:"state"`
	Log   string `json:"log"`
}

// UpConfig says how to bring a plan up.
type UpConfig struct {
	Plan *Plan
	// Binary is the streamcdn executable the components run; if empty,
	// this process's own.
	Binary string
	// Prometheus is the prometheus program, when the plan has one; if
	// empty, "prometheus" on PATH.
	Prometheus string
	// Status is the controller's status address, recorded in the state.
	Status string
	// ReadyTimeout bounds the wait for each component; if zero, 60s.
	ReadyTimeout time.Duration
	Logger       *slog.Logger
	// Registry, when set, gets the controller's metrics.
	Registry prometheus.Registerer
}

// Deployment is a running local deployment, controlled by this process.
type Deployment struct {
	cfg     UpConfig
	plan    *Plan
	id      string
	log     *slog.Logger
	started time.Time
	ready   time.Duration

	up     *prometheus.GaugeVec
	starts *prometheus.CounterVec

	mu       sync.Mutex
	procs    map[string]*proc
	stopping bool // Stop has begun: the state file goes, not rewritten

	stateMu sync.Mutex // serializes writes of the state file
}

type proc struct {
	c       Component
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	stopped bool          // stopped on purpose
	err     error
}

// Up starts every component of cfg.Plan in order (origin, WAN,
// shield, edges, DNS, Prometheus), each once the ones it needs answer,
// and writes the state file. Each process dies with this one (on Linux,
// by the parent-death signal), and carries EnvID. On error, whatever
// was started is stopped.
func Up(ctx context.Context, cfg UpConfig) (_ *Deployment, err error) {
	p := cfg.Plan
	if cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("deploy: %w", err)
		}
	}
	if cfg.Prometheus == "" {
		cfg.Prometheus = "prometheus"
	}
	if p.Prometheus != "" {
		if cfg.Prometheus, err = exec.LookPath(cfg.Prometheus); err != nil {
			return nil, fmt.Errorf("deploy: the plan runs Prometheus: %w (install Debian's prometheus)", err)
		}
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Deployment{cfg: cfg, plan: p, id: rand.Text(), log: cfg.Logger, started: time.Now(), procs: map[string]*proc{},
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "deploy", Name: "component_up",
			Help: "1 while the component's process runs, by component, kind and region."}, []string{"component", "kind", "region"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "deploy", Name: "component_starts_total",
			Help: "Processes started, by component."}, []string{"component"}),
	}
	if err := promreg.Register(cfg.Registry, d.up, d.starts); err != nil {
		return nil, err
	}
	if old, err := ReadState(p.Dir); err == nil && alive(old.Controller, old.ControllerStart) {
		return nil, fmt.Errorf("deploy: %s is already up (controller pid %d); run deploy down first", p.Dir, old.Controller)
	}
	if err := d.prepare(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = d.Stop(context.Background())
		}
	}()
	for _, kinds := range [][]string{{KindOrigin}, {KindWAN}, {KindShield}, {KindEdge}, {KindDNS, KindSteer}, {KindPrometheus}} {
		var batch []*proc
		for _, c := range p.Components {
			if slices.Contains(kinds, c.Kind) {
				pr, err := d.start(c)
				if err != nil {
					return nil, err
				}
				batch = append(batch, pr)
			}
		}
		for _, pr := range batch {
			if err := d.waitReady(ctx, pr); err != nil {
				return nil, err
			}
		}
	}
	d.mu.Lock()
	d.ready = time.Since(d.started)
	d.mu.Unlock()
	if err := d.writeState(); err != nil {
		return nil, err
	}
	return d, nil
}

// prepare writes the token, the generated files and the titles.
func (d *Deployment) prepare(ctx context.Context) error {
	p := d.plan
	for _, dir := range []string{p.Dir, filepath.Join(p.Dir, "logs"), filepath.Join(p.Dir, "titles")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
	}
	if err := ensureToken(filepath.Join(p.Dir, TokenFile)); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	for path, data := range p.Files {
		if err := atomicfile.Write(path, data); err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
	}
	for _, ti := range p.Topology.Origin.Titles {
		if err := d.packageTitle(ctx, ti); err != nil {
			return err
		}
	}
	return nil
}

// ensureToken makes sure path holds an admin token readable by its owner
// only: a new random one, or the one there, its permissions narrowed to
// 0600 if an earlier version left it readable by others.
func ensureToken(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return atomicfile.WriteSecret(path, []byte(rand.Text()+"\n"))
	case err != nil:
		return err
	case fi.Mode().Perm()&0o077 != 0:
		return os.Chmod(path, 0o600)
	}
	return nil
}

// packageTitle puts title ti at Dir/titles/NAME: the built-in sample,
// a packaged directory (linked), or a video file (packaged by ffmpeg).
// A title already there is kept.
func (d *Deployment) packageTitle(ctx context.Context, ti Title) error {
	out := filepath.Join(d.plan.Dir, "titles", ti.Name)
	if _, err := os.Stat(filepath.Join(out, origin.ManifestName)); err == nil {
		return nil
	}
	prof, err := manifest.ParseProfile(cmp.Or(ti.Profile, "live"))
	if err != nil {
		return err
	}
	if ti.Source == "sample" {
		if _, err := origin.Repackage(ctx, origin.RepackageConfig{Source: sample.FS(), Output: out, Profile: prof}); err != nil {
			return fmt.Errorf("deploy: title %s: %w", ti.Name, err)
		}
		return nil
	}
	st, err := os.Stat(ti.Source)
	if err != nil {
		return fmt.Errorf("deploy: title %s: source: %w", ti.Name, err)
	}
	if st.IsDir() {
		src, err := filepath.Abs(ti.Source)
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(src, origin.ManifestName)); err != nil {
			return fmt.Errorf("deploy: title %s: %s is not a packaged title: %w", ti.Name, src, err)
		}
		os.Remove(out)
		return os.Symlink(src, out)
	}
	d.log.Info("packaging", "title", ti.Name, "source", ti.Source)
	if _, err := origin.Package(ctx, origin.PackageConfig{Input: ti.Source, Output: out, Profile: prof}); err != nil {
		return fmt.Errorf("deploy: title %s: %w", ti.Name, err)
	}
	return nil
}

// start runs component c.
func (d *Deployment) start(c Component) (*proc, error) {
	prog := d.cfg.Binary
	if c.Program == "prometheus" {
		prog = d.cfg.Prometheus
	}
	logPath := filepath.Join(d.plan.Dir, "logs", c.Name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	defer lf.Close() // the child has its own descriptor
	cmd := exec.Command(prog, c.Args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), EnvID+"="+d.id)
	cmd.SysProcAttr = sysProcAttr()
	if err := startLocked(cmd); err != nil {
		return nil, fmt.Errorf("deploy: start %s: %w", c.Name, err)
	}
	pr := &proc{c: c, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	d.mu.Lock()
	d.procs[c.Name] = pr
	d.mu.Unlock()
	d.up.WithLabelValues(c.Name, c.Kind, c.Region).Set(1)
	d.starts.WithLabelValues(c.Name).Inc()
	d.log.Info("started", "component", c.Name, "pid", cmd.Process.Pid)
	go func() {
		pr.err = cmd.Wait()
		d.up.WithLabelValues(c.Name, c.Kind, c.Region).Set(0)
		d.mu.Lock()
		stopped := pr.stopped
		d.mu.Unlock()
		if !stopped {
			d.log.Warn("component exited", "component", c.Name, "err", pr.err, "log", logPath)
		}
		if err := d.writeState(); err != nil {
			d.log.Warn("write the state file", "err", err)
		}
		close(pr.done)
	}()
	return pr, nil
}

// waitReady polls the component's ready URL until it answers 200.
func (d *Deployment) waitReady(ctx context.Context, pr *proc) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ReadyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		if code, err := httpx.Probe(ctx, hc, pr.c.Ready); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-pr.done:
			return fmt.Errorf("deploy: %s exited before it was ready (%v); its log: %s\n%s", pr.c.Name, pr.err, pr.logPath, tail(pr.logPath))
		case <-ctx.Done():
			return fmt.Errorf("deploy: %s not ready at %s: %w; its log: %s", pr.c.Name, pr.c.Ready, ctx.Err(), pr.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tail is the end of a log file, for errors.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// Plan is the deployment's plan.
func (d *Deployment) Plan() *Plan { return d.plan }

// ID is the deployment's ID, in each process's EnvID.
func (d *Deployment) ID() string { return d.id }

// ReadyAfter is how long Up took.
func (d *Deployment) ReadyAfter() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready
}

// Kill ends the named components' processes at once (SIGKILL), as a
// crash would; they stay down until Start.
func (d *Deployment) Kill(names ...string) error {
	for _, n := range names {
		d.mu.Lock()
		pr := d.procs[n]
		if pr != nil {
			pr.stopped = true
		}
		d.mu.Unlock()
		if pr == nil {
			return fmt.Errorf("deploy: no component %q", n)
		}
		pr.cmd.Process.Kill()
		<-pr.done
	}
	return nil
}

// Start starts the named components again and waits until they are ready.
func (d *Deployment) Start(ctx context.Context, names ...string) error {
	for _, n := range names {
		c, ok := d.plan.Component(n)
		if !ok {
			return fmt.Errorf("deploy: no component %q", n)
		}
		pr, err := d.start(c)
		if err != nil {
			return err
		}
		if err := d.waitReady(ctx, pr); err != nil {
			return err
		}
	}
	return d.writeState()
}

// Component returns the named component.
func (p *Plan) Component(name string) (Component, bool) {
	for _, c := range p.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// Stop takes the deployment down: SIGTERM to every process in the
// reverse of the start order, a grace period, SIGKILL to what remains;
// then it removes the state file.
func (d *Deployment) Stop(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	var procs []*proc
	for i := len(d.plan.Components) - 1; i >= 0; i-- {
		if pr := d.procs[d.plan.Components[i].Name]; pr != nil {
			pr.stopped = true
			procs = append(procs, pr)
		}
	}
	d.mu.Unlock()
	for _, pr := range procs {
		pr.cmd.Process.Signal(syscall.SIGTERM)
	}
	grace := time.NewTimer(10 * time.Second)
	defer grace.Stop()
	for _, pr := range procs {
		select {
		case <-pr.done:
		case <-grace.C:
			for _, q := range procs {
				q.cmd.Process.Kill()
			}
			<-pr.done
		case <-ctx.Done():
			for _, q := range procs {
				q.cmd.Process.Kill()
			}
			<-pr.done
		}
	}
	for _, pr := range procs {
		<-pr.done
	}
	if err := os.Remove(filepath.Join(d.plan.Dir, StateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// State is the deployment's state, as in its state file.
func (d *Deployment) State() *State {
	t := d.plan.Topology
	start, _ := procStart(os.Getpid())
	st := &State{ID: d.id, Name: t.Name, Controller: os.Getpid(), ControllerStart: start, Started: d.started, Status: d.cfg.Status, Topology: t, Plan: d.plan,
		ReadyAfter: d.ReadyAfter().Seconds()}
	for _, ti := range t.Origin.Titles {
		st.VideoURLs = append(st.VideoURLs, d.plan.VideoURL(ti.Name))
	}
	for i, r := range t.Regions {
		st.Regions = append(st.Regions, RegionRef{Name: r.Name, Number: i + 1, Client: PlayerIP(i+1, 0)})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.plan.Components {
		pr := d.procs[c.Name]
		if pr == nil {
			continue
		}
		s := "running"
		select {
		case <-pr.done:
			s = "exited"
			if pr.stopped {
				s = "stopped"
			}
		default:
		}
		st.Processes = append(st.Processes, Process{Component: c.Name, PID: pr.cmd.Process.Pid, State: s, Log: pr.logPath})
	}
	return st
}

func (d *Deployment) writeState() error {
	d.mu.Lock()
	stopping, ready := d.stopping, d.ready
	d.mu.Unlock()
	if ready == 0 || stopping {
		return nil // not up yet, or going down
	}
	b, err := json.MarshalIndent(d.State(), "", "  ")
	if err != nil {
		return err
	}
	d.stateMu.Lock()
	defer d.stateMu.Unlock()
	return atomicfile.Write(filepath.Join(d.plan.Dir, StateFile), append(b, '\n'))
}

// VideoURL is the URL players open for title: the provider's video host
// on the clusters' port.
func (p *Plan) VideoURL(title string) string {
	return fmt.Sprintf("http://%s:%d/%s/%s", strings.TrimSuffix(p.Topology.DNS.Video, "."), p.EdgePort, title, origin.ManifestName)
}

// ReadState reads dir's state file, its plan joined to its topology.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("deploy: %s: %w", filepath.Join(dir, StateFile), err)
	}
	if st.Topology == nil || st.Plan == nil {
		return nil, fmt.Errorf("deploy: %s: no topology or plan", filepath.Join(dir, StateFile))
	}
	st.Plan.Topology = st.Topology
	return &st, nil
}

// Down takes down the deployment in dir: it asks the controller to stop
// (SIGTERM) and waits for it, then kills any process still carrying the
// deployment's ID — after a crash of the controller too. It returns the
// processes it had to kill.
func Down(ctx context.Context, dir string) ([]int, error) {
	st, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	if alive(st.Controller, st.ControllerStart) {
		syscall.Kill(st.Controller, syscall.SIGTERM)
		for i := 0; i < 300 && alive(st.Controller, st.ControllerStart); i++ { // 30 s
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var killed []int
	for _, pid := range Processes(st.ID) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	os.Remove(filepath.Join(dir, StateFile))
	return killed, nil
}

// Processes lists the processes whose environment carries deployment
// id: the components of a deployment, wherever their controller is.
func Processes(id string) []int {
	mark := []byte(EnvID + "=" + id + "\x00")
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(append(env, 0), mark) && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombie reports whether pid has exited (and waits to be reaped) or
// is gone.
func zombie(pid int) bool {
	f, err := procStat(pid)
	return err != nil || len(f) < 1 || f[0] == "Z" || f[0] == "X"
}

// procStat is /proc/PID/stat's fields after the command name: the
// state is [0], the start time [19].
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// procStart is pid's start time in clock ticks since boot.
func procStart(pid int) (uint64, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether pid runs and started at start: the controller
// that wrote a state file, not a process that reused its number.
func alive(pid int, start uint64) bool {
	if pid <= 0 || zombie(pid) {
		return false
	}
	got, err := procStart(pid)
	return err == nil && got == start
}
