package player

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// WriteSummary writes a row per ABR algorithm of Summarize's summary.
func WriteSummary(w io.Writer, summary map[string]Summary) error {
	var keys []string
	for k := range summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "abr\tsessions\tbitrate kbit/s\trebuffer ratio\trebuffer s\tswitches\tstartup s\tsabre score\tqoe_lin\t")
	for _, k := range keys {
		s := summary[k]
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.4f\t%.2f\t%.1f\t%.2f\t%.3f\t%.3f\t\n", k, s.Sessions, s.AvgBitrateKbps, s.RebufferRatio, s.RebufferS, s.Switches, s.StartupS, s.SabreScore, s.QoELin)
	}
	return tw.Flush()
}
