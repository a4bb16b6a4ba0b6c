package player

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Period is one stretch of a network trace.
type Period struct {
	DurationMs    float64 `json:"duration_ms"`
	BandwidthKbps float64 `json:"bandwidth_kbps"`
	LatencyMs     float64 `json:"latency_ms"`
}

// Trace is a network trace; it loops when it ends.
type Trace []Period

// WithLatency is t with d as the latency of every period that has none
// (Pensieve's traces have none).
func (t Trace) WithLatency(d time.Duration) Trace {
	if d <= 0 || t == nil {
		return t
	}
	out := make(Trace, len(t))
	for i, p := range t {
		if p.LatencyMs == 0 {
			p.LatencyMs = float64(d.Milliseconds())
		}
		out[i] = p
	}
	return out
}

// maxPeriods bounds a trace read from a file.
const maxPeriods = 1 << 20

// ParseTrace reads a trace in either format of ../shared/traces: Sabre's
// JSON array of periods, or Pensieve's cooked text ("<time_s> <Mbps>" per
// line, the bandwidth holding from the previous line's time to this one's;
// latency 0, the caller adds its own).
func ParseTrace(data []byte) (Trace, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		return parseSabreTrace(t)
	}
	return parsePensieveTrace(data)
}

func parseSabreTrace(data []byte) (Trace, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t Trace
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if len(t) > maxPeriods {
		return nil, fmt.Errorf("trace: more than %d periods", maxPeriods)
	}
	return t, t.validate()
}

func parsePensieveTrace(data []byte) (Trace, error) {
	var t Trace
	sc := bufio.NewScanner(bytes.NewReader(data))
	prev := 0.0
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("trace: line %d: want \"<time_s> <Mbps>\"", line)
		}
		ts, err1 := strconv.ParseFloat(f[0], 64)
		mbps, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("trace: line %d: want two numbers", line)
		}
		if line == 1 {
			prev = ts // the first sample starts the clock
			continue
		}
		if ts <= prev {
			return nil, fmt.Errorf("trace: line %d: time %v does not advance past %v", line, ts, prev)
		}
		t = append(t, Period{DurationMs: (ts - prev) * 1000, BandwidthKbps: mbps * 1000})
		prev = ts
		if len(t) > maxPeriods {
			return nil, fmt.Errorf("trace: more than %d periods", maxPeriods)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	return t, t.validate()
}

func (t Trace) validate() error {
	if len(t) == 0 {
		return errors.New("trace: no periods")
	}
	var total, bits float64
	for i, p := range t {
		for _, v := range []float64{p.DurationMs, p.BandwidthKbps, p.LatencyMs} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e12 {
				return fmt.Errorf("trace: period %d: values must be finite, >= 0 and <= 1e12", i)
			}
		}
		total += p.DurationMs
		bits += p.DurationMs * p.BandwidthKbps
	}
	if total <= 0 {
		return errors.New("trace: zero total duration")
	}
	if bits <= 0 {
		return errors.New("trace: no bandwidth in any period: nothing could ever download")
	}
	return nil
}

// LoadTrace reads a trace file.
func LoadTrace(path string) (Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTrace(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Video is a video description in Sabre's format: the ladder and every
// segment's size at every quality.
type Video struct {
	SegmentMs    float64     `json:"segment_duration_ms"`
	BitratesKbps []float64   `json:"bitrates_kbps"`
	SizesBits    [][]float64 `json:"segment_sizes_bits"`
}

// ParseVideo reads a video description.
func ParseVideo(data []byte) (*Video, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v Video
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	if v.SegmentMs <= 0 || math.IsInf(v.SegmentMs, 0) {
		return nil, errors.New("video: segment_duration_ms must be positive")
	}
	if len(v.BitratesKbps) == 0 {
		return nil, errors.New("video: bitrates_kbps is empty")
	}
	for i, b := range v.BitratesKbps {
		if !(b > 0) || math.IsInf(b, 0) || i > 0 && b <= v.BitratesKbps[i-1] {
			return nil, errors.New("video: bitrates_kbps must be positive and ascending")
		}
	}
	if len(v.SizesBits) == 0 {
		return nil, errors.New("video: segment_sizes_bits is empty")
	}
	for i, s := range v.SizesBits {
		if len(s) != len(v.BitratesKbps) {
			return nil, fmt.Errorf("video: segment %d has %d sizes for %d bitrates", i, len(s), len(v.BitratesKbps))
		}
		for _, b := range s {
			if !(b > 0) || math.IsInf(b, 0) {
				return nil, fmt.Errorf("video: segment %d: sizes must be positive", i)
			}
		}
	}
	return &v, nil
}

// LoadVideo reads a video description file.
func LoadVideo(path string) (*Video, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := ParseVideo(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// LoadTraces reads a trace file, or every regular file in a directory, in
// name order; the names are returned with the traces.
func LoadTraces(path string) ([]string, []Trace, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	files := []string{path}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, nil, err
		}
		files = files[:0]
		for _, e := range ents {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s: no traces", path)
	}
	var names []string
	var traces []Trace
	for _, f := range files {
		t, err := LoadTrace(f)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, filepath.Base(f))
		traces = append(traces, t)
	}
	return names, traces, nil
}
