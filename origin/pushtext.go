package origin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/streamcdn/streamcdn/internal/progress"
)

// WriteText writes the push's summary, a row per edge.
func (r *PushReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s: %d objects\n", r.MPD, r.Objects)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "edge\tpushed\tskipped\tfailed\tleft\tbytes\ttime\tthroughput\t\n")
	for _, e := range r.Edges {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f s\t%s\t\n", e.Edge, e.Pushed, e.Skipped, e.Failed, e.Left, e.Bytes,
			e.Seconds, throughput(e.Bytes, e.Seconds))
	}
	tw.Flush()
	for _, e := range r.Edges {
		for _, f := range e.Failures {
			fmt.Fprintf(w, "  failed on %s: %s: %s\n", e.Edge, f.URL, f.Error)
		}
	}
	if r.WindowClosed {
		fmt.Fprintln(w, "  the window closed: run it again in the next window to send what is left")
	}
}

// throughput is bytes over secs in Mbit/s, or "-".
func throughput(bytes int64, secs float64) string {
	if secs <= 0 || bytes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f Mbit/s", float64(bytes)*8/secs/1e6)
}

// WriteText writes the most requested titles and what each edge gets.
func (r *PopularReport) WriteText(w io.Writer) {
	fmt.Fprintln(w, "most requested titles:")
	for i, t := range r.Titles {
		fmt.Fprintf(w, "  %d. %s: %d requests, %d plays, %d bytes\n", i+1, t.Title, t.Requests, t.Plays, t.SizeBytes)
	}
	for _, p := range r.Plans {
		fmt.Fprintf(w, "edge %s: %d bytes free; pushing %s (%d bytes)", p.Edge, p.FreeBytes, strings.Join(p.Titles, ", "), p.PlannedBytes)
		if len(p.DoNotFit) > 0 {
			fmt.Fprintf(w, "; do not fit: %s", strings.Join(p.DoNotFit, ", "))
		}
		fmt.Fprintln(w)
	}
}

// Line is the edge's progress on one line, with a bar.
func (p EdgeProgress) Line() string {
	return fmt.Sprintf("%s %s %d/%d objects, %d failed, %.1f MB, %s", p.Edge, progress.Bar(p.Done(), p.Objects, 30),
		p.Done(), p.Objects, p.Failed, float64(p.Bytes)/1e6, throughput(p.Bytes, p.Seconds))
}
