package origin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// SegmentConfig configures Segment.
type SegmentConfig struct {
	// Inputs are progressive MP4 files already encoded (H.264 and AAC),
	// whose video renditions have keyframes at the same times. Each track
	// of each file becomes a representation named after the file (and the
	// track's kind when a file has several). Required.
	Inputs []string
	// Output, SegmentDuration (if zero, 4s), Profile (if empty, live),
	// Title and Force are as in PackageConfig.
	Output          string
	SegmentDuration time.Duration
	Profile         manifest.Profile
	Title           string
	Force           bool
}

// Segment cuts already-encoded renditions into a title without
// transcoding: the packaging step of Package alone. @bandwidth is the
// measured peak, there being no nominal rate.
func Segment(ctx context.Context, cfg SegmentConfig) (*manifest.Presentation, error) {
	if len(cfg.Inputs) == 0 || cfg.Output == "" {
		return nil, errors.New("segment: inputs and output are required")
	}
	if cfg.SegmentDuration == 0 {
		cfg.SegmentDuration = 4 * time.Second
	}
	if cfg.Profile == "" {
		cfg.Profile = manifest.ProfileLive
	}
	if cfg.Title == "" {
		cfg.Title = filepath.Base(cfg.Output)
	}
	if err := checkOutput(cfg.Output, cfg.Force); err != nil {
		return nil, err
	}
	var sources []source
	var mapped releaser
	defer mapped.release()
	for _, in := range cfg.Inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tracks, err := readInput(in, &mapped)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", in, err)
		}
		name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		for _, t := range tracks {
			id := name
			if len(tracks) > 1 {
				id = name + "-" + t.kind
			}
			sources = append(sources, source{id: id, t: t})
		}
	}
	return writeTitle(titleSpec{
		dir: cfg.Output, title: cfg.Title, profile: cfg.Profile, segDur: cfg.SegmentDuration, force: cfg.Force,
	}, sources)
}

func readInput(path string, keep *releaser) ([]*track, error) {
	if err := checkInput(path); err != nil {
		return nil, err
	}
	t, err := readEncodedFile(path, keep)
	if err != nil {
		return nil, err
	}
	if len(t) == 0 {
		return nil, errors.New("no H.264 or AAC track")
	}
	return t, nil
}
