package player

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"
)

// WriteTable writes a fleet's summary (Table): per algorithm, each
// metric's mean, median and 95th percentile.
func WriteTable(w io.Writer, table map[string]*ABRSummary) {
	abrs := make([]string, 0, len(table))
	for k := range table {
		abrs = append(abrs, k)
	}
	sort.Strings(abrs)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "abr\tmetric\tmean\tmedian\tp95\t\n")
	for _, a := range abrs {
		s := table[a]
		for i, n := range FleetMetricNames {
			label := ""
			if i == 0 {
				label = fmt.Sprintf("%s (%d)", a, s.Sessions)
			}
			st := s.Metrics[n]
			fmt.Fprintf(tw, "%s\t%s\t%.4g\t%.4g\t%.4g\t\n", label, n, st.Mean, st.Median, st.P95)
		}
	}
	tw.Flush()
}

// WriteSummary writes the fleet's summary after Run, which took
// elapsed: the table (Table), the sessions' rate and failures, and for a
// real fleet the client's own delays and its memory per player. It
// returns the failed sessions.
func (fleet *Fleet) WriteSummary(stdout io.Writer, table map[string]*ABRSummary, elapsed time.Duration) int {
	WriteTable(stdout, table)
	segs, delayed, failed := 0, 0, 0
	for _, s := range table {
		segs += s.Segments
		delayed += s.DelayedSegments
		failed += s.Failed
	}
	fmt.Fprintf(stdout, "\n%d sessions in %s (%.1f sessions/s), at most %d at once; %d failed\n", len(fleet.Reports), elapsed.Round(time.Millisecond),
		float64(len(fleet.Reports))/elapsed.Seconds(), fleet.Peak(), failed)
	if fleet.cfg.Video == nil {
		fmt.Fprintf(stdout, "segments delayed by the client's CPU (a timer > 50 ms late): %d of %d (%.2f%%)\n", delayed, segs, 100*float64(delayed)/float64(max(segs, 1)))
		if base, peak := fleet.Memory(); peak > base {
			perPlayer := float64(peak-base) / float64(len(fleet.Reports))
			fmt.Fprintf(stdout, "memory: peak heap+stacks %.1f MiB, %.1f KiB per player\n", float64(peak)/(1<<20), perPlayer/1024)
		}
	}
	return failed
}
