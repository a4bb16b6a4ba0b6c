package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/examples"
	"github.com/streamcdn/streamcdn/deploy/scenario"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/serve"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	topology := fs.String("topology", "", "The topology file to run; default: the built-in three-region topology (deploy/examples/three-region.yaml).")
	mode := fs.String("mode", "", "Compare how edges are filled: run the topology once per mode, each on fresh caches, every cluster in the mode: pull (fetch on a miss), push (every title pushed before the players start; a miss is 404), hybrid (the most watched title pushed, the others pulled), or all three, and print them side by side. Failures and restores happen as scripted; the topology's own pushes are replaced by the mode's fill.")
	admin := fs.String("admin", "127.0.0.1:9000", "The address of the status page, the report (/report) and the controller's /metrics.")
	speed := fs.Float64("speed", 4, "Dilate the players' time: the 30 s title plays in 30/K s, at K times the traces' bandwidth.")
	duration := fs.Duration("duration", 0, "Stop after this long, and exit 0 only if every player finished without an error. Zero means serve until interrupted.")
	prom := fs.Bool("prometheus", false, "Also run Prometheus (Debian's prometheus) scraping every component.")
	port := fs.Int("port", -1, "The port every edge cluster answers on (the players' video URLs). 0: every listener on a free port, the status page's too (its --admin port is ignored). Unset: the clusters on a free port, the status page on --admin.")
	reportDir := fs.String("report", "", "Where the report is written (report.html, or report-MODE.html per mode: the charts and the text); default: a new directory under the system's temporary directory.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	var modes []string
	switch *mode {
	case "":
	case "all":
		modes = []string{edge.ModePull, edge.ModePush, edge.ModeHybrid}
	default:
		modes = []string{*mode}
	}
	top, err := loadTopology(*topology)
	if err != nil {
		return err
	}
	log, err := serve.NewLogger(stderr, "warn")
	if err != nil {
		return err
	}
	if *port > 65535 || *port < -1 {
		return fmt.Errorf("demo: --port %d: want a port, or 0 for free ones", *port)
	}
	addr := *admin
	if *port == 0 {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("demo: --admin %q: %w", addr, err)
		}
		addr = net.JoinHostPort(host, "0")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo: status listener: %w", err)
	}
	r, err := scenario.New(scenario.Config{Topology: top, Modes: modes, ReportDir: *reportDir, Speed: *speed, EdgePort: max(*port, 0),
		Listener: ln, Prometheus: *prom, Logger: log, Registry: serve.NewRegistry(), Out: stdout})
	if err != nil {
		ln.Close()
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// loadTopology reads the topology file, or the built-in three-region
// one when file is "".
func loadTopology(file string) (*deploy.Topology, error) {
	if file == "" {
		return deploy.Load(examples.ThreeRegion)
	}
	return deploy.LoadFile(file)
}
