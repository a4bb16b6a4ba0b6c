package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/kube"
	"github.com/streamcdn/streamcdn/deploy/scenario"
	"github.com/streamcdn/streamcdn/internal/serve"
)

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "deploy", []command{
		{"up", "start every component of a topology as its own process, each region on 127.0.R.0/24 with emulated WAN links; runs until interrupted or \"deploy down\"", deployUp},
		{"status", "the state of a local deployment and its processes' health", deployStatus},
		{"down", "stop a local deployment; no process is left behind", deployDown},
		{"play", "run the topology's player populations and events against a deployment, and report", deployPlay},
		{"render", "write Kubernetes manifests, one namespace per region", deployRender},
		{"validate", "check a topology file and print its layout", deployValidate},
	}, args, stdout, stderr)
}

// topologyFlags are the flags that name a deployment.
type topologyFlags struct {
	file, dir *string
}

// deployFlags is the flag set of subcommand name, with the flags that
// name a deployment.
func deployFlags(name string, stderr io.Writer) (*flag.FlagSet, topologyFlags) {
	fs := newFlagSet("deploy "+name, stderr)
	return fs, topologyFlags{
		file: fs.String("f", "", "The topology file (YAML or JSON)."),
		dir:  fs.String("dir", "", "The deployment's directory: state, generated configuration, titles, caches, logs. Default: $TMPDIR/streamcdn-NAME."),
	}
}

// load reads the topology (when -f is given) and the directory.
func (tf topologyFlags) load(needFile bool) (*deploy.Topology, string, error) {
	var t *deploy.Topology
	if *tf.file != "" {
		var err error
		if t, err = deploy.LoadFile(*tf.file); err != nil {
			return nil, "", err
		}
	} else if needFile || *tf.dir == "" {
		return nil, "", errors.New("deploy: -f TOPOLOGY is required")
	}
	dir := *tf.dir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "streamcdn-"+t.Name)
	}
	return t, dir, nil
}

// state reads the state of the deployment the flags name.
func (tf topologyFlags) state() (*deploy.State, error) {
	_, dir, err := tf.load(false)
	if err != nil {
		return nil, err
	}
	st, err := deploy.ReadState(dir)
	if err != nil {
		return nil, fmt.Errorf("%w (not up?)", err)
	}
	return st, nil
}

func deployUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, tf := deployFlags("up", stderr)
	prom := fs.Bool("prometheus", false, "Also run Prometheus (Debian's prometheus on PATH) scraping every component.")
	status := fs.String("status", "127.0.0.1:0", "The address of the status page and the controller's /metrics.")
	edgePort := fs.Int("edge-port", 0, "The port of every cluster's address. 0 picks one free on all.")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, dir, err := tf.load(true)
	if err != nil {
		return err
	}
	log, err := serve.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *status)
	if err != nil {
		return fmt.Errorf("status listener: %w", err)
	}
	plan, err := deploy.NewPlan(t, deploy.PlanConfig{Dir: dir, EdgePort: *edgePort, Prometheus: *prom,
		Controller: ln.Addr().String()})
	if err != nil {
		ln.Close()
		return err
	}
	reg := serve.NewRegistry()
	d, err := deploy.Up(ctx, deploy.UpConfig{Plan: plan, Status: "http://" + ln.Addr().String(),
		Logger: log, Registry: reg})
	if err != nil {
		ln.Close()
		return err
	}
	scenario.PrintDeployment(stdout, d.State(), plan)
	fmt.Fprintf(stdout, "\nready in %.2f s. \"streamcdn deploy down --dir %s\" or Ctrl-C stops it.\n", d.ReadyAfter().Seconds(), dir)
	err = d.Serve(ctx, ln, reg)
	fmt.Fprintln(stdout, "deployment stopped")
	return err
}

func deployStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, tf := deployFlags("status", stderr)
	asJSON := fs.Bool("json", false, "Print the state file as JSON.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := tf.state()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "deployment %s: controller pid %d, up since %s, ready after %.2f s\n\n", st.Name, st.Controller,
		st.Started.Format(time.RFC3339), st.ReadyAfter)
	health := deploy.Check(ctx, st)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "component\tpid\tprocess\thealth\tlog")
	down := 0
	for _, h := range health {
		if h.Health != "ok" {
			down++
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", h.Component, h.PID, h.State, h.Health, h.Log)
	}
	tw.Flush()
	if down > 0 {
		return fmt.Errorf("deploy: %d of %d components not healthy", down, len(health))
	}
	return nil
}

func deployDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, tf := deployFlags("down", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := tf.state()
	if err != nil {
		return err
	}
	killed, err := deploy.Down(ctx, st.Plan.Dir)
	if err != nil {
		return err
	}
	if len(killed) > 0 {
		fmt.Fprintf(stdout, "killed %d processes the controller left: %v\n", len(killed), killed)
	}
	if left := deploy.Processes(st.ID); len(left) > 0 {
		return fmt.Errorf("deploy down: processes %v remain", left)
	}
	fmt.Fprintf(stdout, "deployment %s is down\n", st.Name)
	return nil
}

func deployPlay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, tf := deployFlags("play", stderr)
	speed := fs.Float64("speed", 1, "Dilate the players' time: media plays K times faster.")
	duration := fs.Duration("duration", 0, "Play only each title's first D (0: all of it).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := tf.state()
	if err != nil {
		return err
	}
	// The deployment's own players and events, or those of the file given.
	t := st.Topology
	if *tf.file != "" {
		if t, err = deploy.LoadFile(*tf.file); err != nil {
			return err
		}
	}
	return scenario.Play(ctx, scenario.PlayConfig{State: st, Topology: t, Speed: *speed, Duration: *duration, Out: stdout})
}

func deployRender(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("deploy render", stderr)
	file := fs.String("f", "", "The topology file (YAML or JSON). Required.")
	target := fs.String("target", "kubernetes", "What to render for: kubernetes.")
	out := fs.String("out", "", "The directory to write (replaced). Required.")
	image := fs.String("image", kube.DefaultImage, "The container image of streamcdn.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *out == "" {
		fs.Usage()
		return errors.New("deploy render: -f and --out are required")
	}
	if *target != "kubernetes" {
		return fmt.Errorf("deploy render: --target %q: only kubernetes", *target)
	}
	t, err := deploy.LoadFile(*file)
	if err != nil {
		return err
	}
	files, err := kube.Render(t, kube.Config{Image: *image})
	if err != nil {
		return err
	}
	if err := kube.Write(*out, files); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d files to %s: base/ and overlays/<region>/ (kubectl apply -k %s/overlays/<region>)\n\n",
		len(files), *out, *out)
	fmt.Fprint(stdout, kube.Delegation(t))
	return nil
}

func deployValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, tf := deployFlags("validate", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, dir, err := tf.load(true)
	if err != nil {
		return err
	}
	plan, err := deploy.NewPlan(t, deploy.PlanConfig{Dir: dir, EdgePort: 8080,
		Ports: func(string, bool) (int, error) { return 0, nil }})
	if err != nil {
		return err
	}
	plan.WriteLayout(stdout)
	return nil
}
