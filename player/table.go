package player

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
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
