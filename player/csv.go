package player

import (
	"fmt"
	"io"
	"strings"
)

// logHeader is the per-segment log's columns.
const logHeader = "at_ms,index,representation,bitrate_kbps,bytes,ttfb_ms,download_ms,throughput_kbps,buffer_before_ms,buffer_after_ms,stall_ms,result"

func (l SegmentLog) csv() string {
	return fmt.Sprintf("%.0f,%d,%s,%.0f,%d,%.1f,%.1f,%.0f,%.0f,%.0f,%.0f,%s", l.AtMs, l.Index, csvField(l.Representation),
		l.BitrateKbps, l.Bytes, l.TTFBMs, l.DownloadMs, l.ThroughputKbps, l.BufferBeforeMs, l.BufferAfterMs, l.StallMs, l.Result)
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// WriteLogCSV writes a session's per-segment log as CSV, with a header.
func WriteLogCSV(w io.Writer, rows []SegmentLog) error {
	if _, err := fmt.Fprintln(w, logHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintln(w, r.csv()); err != nil {
			return err
		}
	}
	return nil
}

// WriteFleetLogCSV writes every session's log as one CSV, each row led by
// its session's index.
func WriteFleetLogCSV(w io.Writer, reports []*Report) error {
	if _, err := fmt.Fprintln(w, "session,"+logHeader); err != nil {
		return err
	}
	for i, r := range reports {
		if r == nil {
			continue
		}
		for _, s := range r.Log {
			if _, err := fmt.Fprintf(w, "%d,%s\n", i, s.csv()); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteSessionsCSV writes a row per session: what it played and its QoE.
func WriteSessionsCSV(w io.Writer, reports []*Report) error {
	if _, err := fmt.Fprintln(w, "session,abr,trace,ended,segments,bytes,avg_bitrate_kbps,rebuffer_ratio,rebuffer_s,rebuffer_events,switches,startup_s,sabre_score,qoe_lin,abandoned,delayed_segments,errors"); err != nil {
		return err
	}
	for i, r := range reports {
		if r == nil {
			continue
		}
		if _, err := fmt.Fprintf(w, "%d,%s,%s,%s,%d,%d,%.1f,%.5f,%.3f,%d,%d,%.3f,%.4f,%.4f,%d,%d,%d\n", i, csvField(r.ABR), csvField(r.Trace), r.Ended,
			r.Segments, r.Bytes, r.AvgBitrateKbps, r.RebufferRatio, r.RebufferS, r.RebufferEvents, r.Switches, r.StartupS, r.SabreScore,
			r.QoELin, r.Abandoned, r.DelayedSegments, len(r.Errors)); err != nil {
			return err
		}
	}
	return nil
}
