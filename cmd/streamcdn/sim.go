package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamcdn/streamcdn/player"
)

// runSim runs ABR algorithms in virtual time on traces:
// streamcdn sim --video FILE --trace FILE|DIR --abr a,b [--max-buffer 25s] [--json].
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	videoPath := fs.String("video", "", "A video description in Sabre's format. Required.")
	tracePath := fs.String("trace", "", "A trace (Sabre JSON or Pensieve text), or a directory of them. Required.")
	abrs := fs.String("abr", "bolae", "ABR algorithms, comma-separated: "+strings.Join(player.Names(), ", ")+".")
	maxBuffer := fs.Duration("max-buffer", 25*time.Second, "The buffer's capacity.")
	asJSON := fs.Bool("json", false, "Print one JSON object: sessions and a summary per ABR.")
	noAbandon := fs.Bool("no-abandon", false, "Never abandon a download.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *videoPath == "" || *tracePath == "" {
		fs.Usage()
		return errors.New("sim: --video and --trace are required")
	}
	video, err := player.LoadVideo(*videoPath)
	if err != nil {
		return err
	}
	names, traces, err := player.LoadTraces(*tracePath)
	if err != nil {
		return err
	}
	start := time.Now()
	var sessions []*player.Metrics
	for _, abr := range strings.Split(*abrs, ",") {
		for i, tr := range traces {
			if err := ctx.Err(); err != nil {
				return err
			}
			m, err := player.Simulate(player.SimConfig{Video: video, Trace: tr, ABR: strings.TrimSpace(abr),
				MaxBufferMs: float64(maxBuffer.Milliseconds()), NoAbandon: *noAbandon})
			if err != nil {
				return fmt.Errorf("sim %s on %s: %w", abr, names[i], err)
			}
			m.Trace = names[i]
			sessions = append(sessions, m)
		}
	}
	elapsed := time.Since(start)
	summary := player.Summarize(sessions)
	fmt.Fprintf(stderr, "%d sessions in %s: %.0f sessions/s\n", len(sessions), elapsed.Round(time.Millisecond), float64(len(sessions))/elapsed.Seconds())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"sessions": sessions, "summary": summary})
	}
	var keys []string
	for k := range summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "abr\tsessions\tbitrate kbit/s\trebuffer ratio\trebuffer s\tswitches\tstartup s\tsabre score\tqoe_lin\t")
	for _, k := range keys {
		s := summary[k]
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.4f\t%.2f\t%.1f\t%.2f\t%.3f\t%.3f\t\n", k, s.Sessions, s.AvgBitrateKbps, s.RebufferRatio, s.RebufferS, s.Switches, s.StartupS, s.SabreScore, s.QoELin)
	}
	return tw.Flush()
}
