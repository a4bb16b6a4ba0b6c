package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
)

const demoTitle = "sample"

// demoRegions are the emulated regions: each edge listens on its own
// loopback address, 127.0.R.1.
var demoRegions = []string{"us-east", "eu-west", "ap-south"}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 8080, "The base port: origin on 127.0.0.1:PORT, shield on PORT+1, region R's edge on 127.0.R.1:PORT. 0 picks free ports.")
	admin := fs.String("admin", "127.0.0.1:9080", "The address of /metrics for every component.")
	profile := fs.String("profile", "live", "The DASH profile to serve the sample in: live or ondemand.")
	viewers := fs.Int("viewers", 2, "Viewers per region, each fetching the whole title through its region's edge.")
	duration := fs.Duration("duration", 0, "Stop after this long. Zero means run until interrupted.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prof, err := manifest.ParseProfile(*profile)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, "warn")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "streamcdn-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := origin.Repackage(ctx, origin.RepackageConfig{
		Source: sample.FS(), Output: filepath.Join(dir, demoTitle), Profile: prof,
	}); err != nil {
		return fmt.Errorf("write sample: %w", err)
	}
	st, err := startStack(log, dir, *port, *admin)
	if err != nil {
		return err
	}
	defer st.close()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	served := make(chan error, 1)
	go func() { served <- serveAll(ctx, log, st.listeners...) }()

	fmt.Fprintf(stdout, "streamcdn demo: the built-in sample (%s profile), origin -> shield -> edges in %d regions.\n\n", prof, len(demoRegions))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  origin\thttp://%s/%s/%s\n", st.originAddr, demoTitle, origin.ManifestName)
	fmt.Fprintf(tw, "  shield\thttp://%s/%s/%s\n", st.shieldAddr, demoTitle, origin.ManifestName)
	for _, e := range st.edges {
		fmt.Fprintf(tw, "  edge %s\t%s\n", e.region, e.mpdURL)
	}
	fmt.Fprintf(tw, "  metrics\thttp://%s/metrics\n", st.adminAddr)
	tw.Flush()
	fmt.Fprintf(stdout, "\nWatch it with:  ffplay %s\n\n", st.edges[0].mpdURL)

	if err := st.runViewers(ctx, *viewers); err != nil && ctx.Err() == nil {
		return err
	}
	st.report(stdout)
	fmt.Fprintln(stdout, "\nStill serving; Ctrl-C stops the demo.")
	start := time.Now()
	err = <-served
	fmt.Fprintf(stdout, "demo stopped after %s\n", time.Since(start).Round(time.Second))
	return err
}

// stack is the demo's running CDN.
type stack struct {
	originAddr, shieldAddr, adminAddr string
	originRequests                    atomic.Int64
	origin                            *origin.Server
	shield                            *edge.Server
	edges                             []*demoEdge
	listeners                         []listener
}

type demoEdge struct {
	region, mpdURL string
	srv            *edge.Server
	requests, hits atomic.Int64
	bytes          atomic.Int64
}

func startStack(log *slog.Logger, dir string, port int, adminAddr string) (st *stack, err error) {
	st = &stack{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	reg := newRegistry()
	if st.origin, err = origin.New(origin.Config{Dir: dir, Logger: log,
		Registry: prometheus.WrapRegistererWith(prometheus.Labels{"node": "origin"}, reg)}); err != nil {
		return nil, err
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.originRequests.Add(1)
		st.origin.ServeHTTP(w, r)
	})
	if st.originAddr, err = st.listen("origin", "127.0.0.1", port, counted); err != nil {
		return nil, err
	}
	if st.shield, err = edge.New(edge.Config{Upstream: "http://" + st.originAddr, Name: "shield", Logger: log,
		Registry: prometheus.WrapRegistererWith(prometheus.Labels{"node": "shield"}, reg)}); err != nil {
		return nil, err
	}
	if st.shieldAddr, err = st.listen("shield", "127.0.0.1", nextPort(port, 1), st.shield); err != nil {
		return nil, err
	}
	for i, region := range demoRegions {
		e := &demoEdge{region: region}
		if e.srv, err = edge.New(edge.Config{Upstream: "http://" + st.shieldAddr, Name: "edge-" + region, Region: region,
			Logger: log, Registry: prometheus.WrapRegistererWith(prometheus.Labels{"node": "edge-" + region}, reg)}); err != nil {
			return nil, err
		}
		addr, err := st.listen("edge-"+region, fmt.Sprintf("127.0.%d.1", i+1), port, e.srv)
		if err != nil {
			return nil, err
		}
		e.mpdURL = fmt.Sprintf("http://%s/%s/%s", addr, demoTitle, origin.ManifestName)
		st.edges = append(st.edges, e)
	}
	st.adminAddr, err = st.listen("admin", "", 0, adminMux(reg, nil), adminAddr)
	return st, err
}

func nextPort(port, n int) int {
	if port == 0 {
		return 0
	}
	return port + n
}

// listen binds host:port (or addr when given) and adds it to the stack.
func (st *stack) listen(name, host string, port int, h http.Handler, addr ...string) (string, error) {
	a := fmt.Sprintf("%s:%d", host, port)
	if len(addr) > 0 {
		a = addr[0]
	}
	l, err := listen(name, a, h)
	if err != nil {
		return "", err
	}
	st.listeners = append(st.listeners, l)
	return l.ln.Addr().String(), nil
}

func (st *stack) close() {
	for _, l := range st.listeners {
		l.ln.Close()
	}
	for _, e := range st.edges {
		e.srv.Close()
	}
	if st.shield != nil {
		st.shield.Close()
	}
	if st.origin != nil {
		st.origin.Close()
	}
}

// runViewers has each region's viewers, one after the other, fetch the
// MPD and every segment of the title through their region's edge.
func (st *stack) runViewers(ctx context.Context, viewers int) error {
	client := &http.Client{Timeout: 30 * time.Second}
	for _, e := range st.edges {
		for range viewers {
			if err := e.view(ctx, client); err != nil {
				return fmt.Errorf("viewer in %s: %w", e.region, err)
			}
		}
	}
	return nil
}

func (e *demoEdge) view(ctx context.Context, client *http.Client) error {
	body, err := e.fetch(ctx, client, e.mpdURL, nil)
	if err != nil {
		return err
	}
	m, err := manifest.Parse(body, e.mpdURL)
	if err != nil {
		return err
	}
	for _, t := range m.Tracks {
		if t.Index != nil {
			idx, err := e.fetch(ctx, client, t.Index.URL, t.Index.Range)
			if err != nil {
				return err
			}
			if err := t.ExpandIndex(idx); err != nil {
				return err
			}
		}
		if t.Init != nil {
			if _, err := e.fetch(ctx, client, t.Init.URL, t.Init.Range); err != nil {
				return err
			}
		}
		for _, s := range t.Segments {
			if _, err := e.fetch(ctx, client, s.URL, s.Range); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *demoEdge) fetch(ctx context.Context, client *http.Client, url string, br *manifest.ByteRange) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if br != nil {
		req.Header.Set("Range", br.Header())
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	e.requests.Add(1)
	e.bytes.Add(int64(len(b)))
	if cs := res.Header.Get("Cache-Status"); strings.Contains(cs, "; hit") {
		e.hits.Add(1)
	}
	return b, nil
}

// report prints each edge's hit ratio and the origin offload.
func (st *stack) report(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "region\tedge\trequests\thits\thit ratio\tbytes served\t")
	var total int64
	for _, e := range st.edges {
		req, hits := e.requests.Load(), e.hits.Load()
		total += req
		fmt.Fprintf(tw, "%s\tedge-%s\t%d\t%d\t%.1f%%\t%d\t\n", e.region, e.region, req, hits, pct(hits, req), e.bytes.Load())
	}
	tw.Flush()
	o := st.originRequests.Load()
	fmt.Fprintf(w, "\norigin: %d requests for %d client requests: origin offload %.1f%%\n", o, total, 100-pct(o, total))
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
