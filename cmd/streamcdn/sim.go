package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/player"
	"github.com/streamcdn/streamcdn/player/sample"
)

// runSim runs ABR algorithms in virtual time on traces:
// streamcdn sim --video FILE --trace FILE|DIR --abr a,b [--max-buffer 25s] [--json].
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", stderr)
	videoPath := fs.String("video", "", "A video description in Sabre's format (default: the built-in "+sample.VideoName+").")
	tracePath := fs.String("trace", "", "A trace (Sabre JSON or Pensieve text), or a directory of them (default: the built-in "+sample.TracesName+").")
	abrs := fs.String("abr", "bolae", "ABR algorithms, comma-separated: "+strings.Join(player.Names(), ", ")+".")
	maxBuffer := fs.Duration("max-buffer", 25*time.Second, "The buffer's capacity.")
	asJSON := fs.Bool("json", false, "Print one JSON object: sessions and a summary per ABR.")
	noAbandon := fs.Bool("no-abandon", false, "Never abandon a download.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	video, err := sample.LoadVideo(*videoPath)
	if err != nil {
		return err
	}
	names, traces, err := sample.LoadTraces(*tracePath)
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
	return player.WriteSummary(stdout, summary)
}
