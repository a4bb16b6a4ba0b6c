package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
	"golang.org/x/sync/errgroup"
)

// PackageConfig configures Package.
type PackageConfig struct {
	// Input is the video file to package. Required.
	Input string
	// Output is the title's own directory: Output/manifest.mpd and the
	// segments below it. It must not exist unless Force is set. Required.
	Output string
	// Ladder lists the video rungs. If nil, defaults to DefaultLadder.
	// Rungs taller than the input are dropped.
	Ladder []Rung
	// SegmentDuration is the target segment length. If zero, defaults to 4s.
	SegmentDuration time.Duration
	// Profile is the DASH profile to write. If empty, defaults to live.
	Profile manifest.Profile
	// Title is the MPD's title. If empty, defaults to Output's base name.
	Title string
	// AudioBitrate is the AAC bit rate. If zero, defaults to 128 kbit/s.
	AudioBitrate int
	// Preset is the x264 preset. If empty, defaults to veryfast.
	Preset string
	// Force replaces an existing Output.
	Force bool
	// Progress receives a line of percent done as encoding goes. Nil: none.
	Progress io.Writer
	// Logger logs dropped rungs and timings. Nil: discard.
	Logger *slog.Logger
}

// Result describes a packaged title.
type Result struct {
	Dir          string
	Presentation *manifest.Presentation
	// Dropped lists the rungs taller than the input.
	Dropped []Rung
	// Encode and Segment are the wall times of the two stages.
	Encode, Segment time.Duration
}

// Package transcodes cfg.Input into the ladder with ffmpeg, cuts the
// renditions into aligned CMAF segments and writes the title with its MPD.
// The title is staged beside Output and renamed into place only when
// complete; on any error nothing is left at Output.
func Package(ctx context.Context, cfg PackageConfig) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := checkInput(cfg.Input); err != nil {
		return nil, err
	}
	if err := checkOutput(cfg.Output, cfg.Force); err != nil {
		return nil, err
	}
	info, err := probe(ctx, cfg.Input)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var ladder []Rung
	for _, r := range cfg.Ladder {
		if r.Height > info.Height {
			cfg.Logger.Info("rung dropped: taller than the input", "rung", r.Name(), "input_height", info.Height)
			res.Dropped = append(res.Dropped, r)
			continue
		}
		ladder = append(ladder, r)
	}
	if len(ladder) == 0 {
		return nil, fmt.Errorf("every rung is taller than the input (%dx%d)", info.Width, info.Height)
	}
	work, err := os.MkdirTemp("", "streamcdn-encode-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	start := time.Now()
	jobs, sources := encodeJobs(cfg, ladder, info, work)
	if err := runJobs(ctx, cfg.Input, jobs, info.Duration, cfg.Progress); err != nil {
		return nil, err
	}
	res.Encode = time.Since(start)
	start = time.Now()
	for i := range sources {
		if sources[i].t, err = readEncoded(jobs[i].out); err != nil {
			return nil, fmt.Errorf("read %s: %w", jobs[i].name, err)
		}
	}
	p, err := writeTitle(titleSpec{
		dir: cfg.Output, title: cfg.Title, profile: cfg.Profile, segDur: cfg.SegmentDuration, force: cfg.Force,
	}, sources)
	if err != nil {
		return nil, err
	}
	res.Segment = time.Since(start)
	res.Dir, res.Presentation = cfg.Output, p
	return res, nil
}

func (cfg *PackageConfig) defaults() error {
	if cfg.Input == "" || cfg.Output == "" {
		return errors.New("package: input and output are required")
	}
	if cfg.Ladder == nil {
		cfg.Ladder = DefaultLadder
	}
	if cfg.SegmentDuration == 0 {
		cfg.SegmentDuration = 4 * time.Second
	}
	if cfg.SegmentDuration < 500*time.Millisecond || cfg.SegmentDuration > 30*time.Second {
		return fmt.Errorf("segment duration %v: want 0.5s to 30s", cfg.SegmentDuration)
	}
	if cfg.Profile == "" {
		cfg.Profile = manifest.ProfileLive
	}
	if _, err := manifest.ParseProfile(string(cfg.Profile)); err != nil {
		return err
	}
	if cfg.Title == "" {
		cfg.Title = filepath.Base(cfg.Output)
	}
	if cfg.AudioBitrate == 0 {
		cfg.AudioBitrate = 128_000
	}
	if cfg.Preset == "" {
		cfg.Preset = "veryfast"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func checkInput(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("input: %w", err)
	case fi.IsDir():
		return fmt.Errorf("input %s is a directory", path)
	case fi.Size() == 0:
		return fmt.Errorf("input %s is empty", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	return f.Close()
}

func checkOutput(dir string, force bool) error {
	if _, err := os.Stat(dir); err == nil && !force {
		return fmt.Errorf("output %s exists (use force to replace it)", dir)
	}
	return nil
}

// source is one track to package with its name and nominal rate.
type source struct {
	id     string
	target uint32
	t      *track
}

func encodeJobs(cfg PackageConfig, ladder []Rung, info *probeInfo, work string) ([]encodeJob, []source) {
	var jobs []encodeJob
	var sources []source
	for _, r := range ladder {
		jobs = append(jobs, encodeJob{
			name: r.Name(), out: filepath.Join(work, r.Name()+".mp4"),
			args: videoArgs(r, cfg.SegmentDuration, info.FPS, cfg.Preset),
		})
		sources = append(sources, source{id: r.Name(), target: uint32(r.Bitrate)})
	}
	if info.HasAudio {
		jobs = append(jobs, encodeJob{name: "audio", out: filepath.Join(work, "audio.mp4"), args: audioArgs(cfg.AudioBitrate)})
		sources = append(sources, source{id: "audio", target: uint32(cfg.AudioBitrate)})
	}
	return jobs, sources
}

// runJobs runs the encodes, GOMAXPROCS at a time, printing the mean
// progress of all jobs when it moves by a percent.
func runJobs(ctx context.Context, input string, jobs []encodeJob, total time.Duration, progress io.Writer) error {
	var mu sync.Mutex
	done := make([]float64, len(jobs))
	last := -1
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, j := range jobs {
		report := func(f float64) {
			mu.Lock()
			defer mu.Unlock()
			done[i] = f
			var sum float64
			for _, d := range done {
				sum += d
			}
			if pct := int(100 * sum / float64(len(done))); pct != last && progress != nil {
				last = pct
				fmt.Fprintf(progress, "\rencoding: %3d%%", pct)
			}
		}
		g.Go(func() error { return j.run(ctx, input, report, total) })
	}
	err := g.Wait()
	if progress != nil {
		fmt.Fprintln(progress)
	}
	return err
}

func readEncoded(path string) (*track, error) {
	tracks, err := readEncodedFile(path)
	if err != nil {
		return nil, err
	}
	if len(tracks) != 1 {
		return nil, fmt.Errorf("%d tracks, want 1", len(tracks))
	}
	return tracks[0], nil
}

// readEncodedFile reads every track of a progressive MP4 into memory.
func readEncodedFile(path string) ([]*track, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return readProgressive(buf)
}
