// Package sample ships a small set of the Sabre simulator's inputs with
// the binary, so that `streamcdn sim` and `streamcdn bench` run in a
// plain clone: the Big Buck Bunny video description (bbb.json: 199
// segments of 3 s, 230 to 6000 kb/s) and five of its HSDPA (3G) network
// traces. They are Sabre's files as published, under its BSD-2-Clause
// licence (sabre/LICENSE). Comparisons with published results use the
// full sets, which the tests read from the shared traces directory.
package sample

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/streamcdn/streamcdn/player"
)

//go:embed sabre/LICENSE sabre/bbb.json sabre/3G
var files embed.FS

// VideoName and TracesName say where the defaults come from, for reports.
const (
	VideoName  = "sabre/bbb.json (built in)"
	TracesName = "sabre/3G, 5 traces (built in)"
)

// Video returns the built-in video description.
func Video() (*player.Video, error) {
	data, err := files.ReadFile("sabre/bbb.json")
	if err != nil {
		return nil, fmt.Errorf("sample video: %w", err)
	}
	return player.ParseVideo(data)
}

// Traces returns the built-in traces and their names, in name order.
func Traces() ([]string, []player.Trace, error) {
	entries, err := fs.ReadDir(files, "sabre/3G")
	if err != nil {
		return nil, nil, fmt.Errorf("sample traces: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var names []string
	var traces []player.Trace
	for _, e := range entries {
		data, err := files.ReadFile(path.Join("sabre/3G", e.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("sample traces: %w", err)
		}
		t, err := player.ParseTrace(data)
		if err != nil {
			return nil, nil, fmt.Errorf("sample trace %s: %w", e.Name(), err)
		}
		names, traces = append(names, e.Name()), append(traces, t)
	}
	return names, traces, nil
}

// License returns the licence of the built-in files.
func License() string {
	data, _ := files.ReadFile("sabre/LICENSE")
	return string(data)
}

// LoadVideo reads the video description at path, or returns the
// built-in one when path is empty.
func LoadVideo(path string) (*player.Video, error) {
	if path == "" {
		return Video()
	}
	return player.LoadVideo(path)
}

// LoadTraces reads the trace or directory of traces at path, or returns
// the built-in ones when path is empty.
func LoadTraces(path string) ([]string, []player.Trace, error) {
	if path == "" {
		return Traces()
	}
	return player.LoadTraces(path)
}
