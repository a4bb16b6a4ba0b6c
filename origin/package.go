package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
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
	job, sources, outs := encodeJobs(cfg, ladder, info, work)
	err = job.run(ctx, cfg.Input, progressPrinter(cfg.Progress, info.Duration, info.FPS, time.Now), info.Duration)
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	if err != nil {
		return nil, err
	}
	res.Encode = time.Since(start)
	start = time.Now()
	var mapped releaser
	defer mapped.release()
	for i := range sources {
		if sources[i].t, err = readEncoded(outs[i], &mapped); err != nil {
			return nil, fmt.Errorf("read %s: %w", sources[i].id, err)
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

// encodeJobs returns the ffmpeg job for the ladder and, in the same order
// as its output files, the sources it will produce.
func encodeJobs(cfg PackageConfig, ladder []Rung, info *probeInfo, work string) (encodeJob, []source, []string) {
	var sources []source
	var outs []string
	for _, r := range ladder {
		outs = append(outs, filepath.Join(work, r.Name()+".mp4"))
		sources = append(sources, source{id: r.Name(), target: uint32(r.Bitrate)})
	}
	audioRate := 0
	if info.HasAudio {
		audioRate = cfg.AudioBitrate
		outs = append(outs, filepath.Join(work, "audio.mp4"))
		sources = append(sources, source{id: "audio", target: uint32(cfg.AudioBitrate)})
	}
	job := ladderJob(ladder, cfg.SegmentDuration, info.FPS, cfg.Preset, audioRate, outs)
	return job, sources, outs
}

// progressPrinter returns a report function that prints, whenever the
// fraction done moves by a percent, the percentage, the source frames
// encoded a second (a source of duration at fps), the speed against real
// time and the time left at that pace. Nil w: no output.
func progressPrinter(w io.Writer, duration time.Duration, fps float64, now func() time.Time) func(float64) {
	last, start := -1, now()
	return func(f float64) {
		pct := int(100 * f)
		if pct == last || w == nil {
			return
		}
		last = pct
		elapsed := now().Sub(start).Seconds()
		if elapsed <= 0 || f <= 0 {
			fmt.Fprintf(w, "\rencoding: %3d%%", pct)
			return
		}
		media := f * duration.Seconds()
		eta := time.Duration((1 - f) / f * elapsed * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(w, "\rencoding: %3d%% at %.0f fps (%.1fx real time), ETA %s ", pct, media*fps/elapsed, media/elapsed, eta)
	}
}

func readEncoded(path string, keep *releaser) (*track, error) {
	tracks, err := readEncodedFile(path, keep)
	if err != nil {
		return nil, err
	}
	if len(tracks) != 1 {
		return nil, fmt.Errorf("%d tracks, want 1", len(tracks))
	}
	return tracks[0], nil
}

// readEncodedFile maps a progressive MP4 and reads its tracks, whose
// samples alias the mapping until keep is released.
func readEncodedFile(path string, keep *releaser) ([]*track, error) {
	buf, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	keep.add(release)
	return readProgressive(buf)
}

// releaser collects the release functions of mapped inputs.
type releaser []func()

func (r *releaser) add(f func()) { *r = append(*r, f) }

func (r *releaser) release() {
	for _, f := range *r {
		f()
	}
	*r = nil
}
