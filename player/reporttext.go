package player

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

// WriteText writes the session's QoE as aligned text.
func (r *Report) WriteText(w io.Writer) {
	if r == nil {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "session\t%s, %s, ended %s\n", r.URL, r.Protocol, r.Ended)
	fmt.Fprintf(tw, "abr\t%s\n", r.ABR)
	fmt.Fprintf(tw, "segments\t%d (%d abandoned), %d bytes\n", r.Segments, r.Abandoned, r.Bytes)
	fmt.Fprintf(tw, "startup\t%.3f s\n", r.StartupS)
	fmt.Fprintf(tw, "rebuffering\t%d stalls, %.2f s, ratio %.4f\n", r.RebufferEvents, r.RebufferS, r.RebufferRatio)
	fmt.Fprintf(tw, "bitrate\t%.0f kbit/s time-average, %d switches, %.0f kbit/s mean change\n", r.AvgBitrateKbps, r.Switches, r.AvgBitrateChange)
	fmt.Fprintf(tw, "QoE\tsabre score %.3f, qoe_lin %.3f\n", r.SabreScore, r.QoELin)
	fmt.Fprintf(tw, "client delays\t%d segments\n", r.DelayedSegments)
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%.2f s segment %d: %s (%s): %s\n", e.AtS, e.Segment, e.Kind, e.Action, e.Error)
	}
	tw.Flush()
}

// WriteFiles writes the report as JSON to jsonPath ("-": stdout) and its
// per-segment log as CSV to logPath, each whole or not at all; an empty
// path writes nothing.
func (r *Report) WriteFiles(jsonPath, logPath string, stdout io.Writer) error {
	if r == nil {
		return nil
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if jsonPath == "-" {
			_, err = stdout.Write(b)
		} else {
			err = atomicfile.Write(jsonPath, b)
		}
		if err != nil {
			return err
		}
	}
	if logPath != "" {
		return atomicfile.WriteFrom(logPath, func(w io.Writer) error { return WriteLogCSV(w, r.Log) })
	}
	return nil
}
