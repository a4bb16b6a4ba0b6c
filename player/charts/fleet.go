package charts

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"github.com/streamcdn/streamcdn/player"
)

// WriteFleet writes a fleet's files to dir, each whole or not at all:
// fleet.json (the summary table and every session), sessions.csv,
// segments.csv, and the charts qoe_cdf.svg, bitrate.svg and buffer.svg
// (sampled sessions' timelines).
func WriteFleet(dir string, reports []*player.Report, table map[string]*player.ABRSummary, sampled int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(map[string]any{"summary": table, "sessions": reports}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "fleet.json"), append(b, '\n')); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, []*player.Report) error{
		"sessions.csv": player.WriteSessionsCSV, "segments.csv": player.WriteFleetLogCSV,
	} {
		if err := atomicfile.WriteFrom(filepath.Join(dir, name), func(w io.Writer) error { return write(w, reports) }); err != nil {
			return err
		}
	}
	var cdf, rate, buf bytes.Buffer
	if err := QoECDF(&cdf, reports); err != nil {
		return err
	}
	if err := Timelines(&rate, &buf, reports, sampled); err != nil {
		return err
	}
	for name, b := range map[string]*bytes.Buffer{"qoe_cdf.svg": &cdf, "bitrate.svg": &rate, "buffer.svg": &buf} {
		if err := atomicfile.Write(filepath.Join(dir, name), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
