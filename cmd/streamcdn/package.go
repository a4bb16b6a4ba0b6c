package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
)

func runPackage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("package", stderr)
	input := fs.String("i", "", "The input video file. Any format ffmpeg reads.")
	output := fs.String("o", "", "The title's output directory; DIR/manifest.mpd and the segments are written below it. Required.")
	ladder := fs.String("ladder", "360p:400k,540p:1200k,720p:3000k,1080p:6000k", "The video ladder, HEIGHTp:BITRATE,... Rungs taller than the input are dropped.")
	segment := fs.Duration("segment", 4*time.Second, "The target segment duration.")
	profile := fs.String("profile", "live", "The DASH profile: live (SegmentTemplate + SegmentTimeline) or ondemand (one file per representation + sidx).")
	title := fs.String("title", "", "The title written in the MPD. Defaults to the output directory's name.")
	preset := fs.String("preset", "veryfast", "The x264 preset.")
	audioRate := fs.String("audio-bitrate", "128k", "The AAC bit rate.")
	renditions := fs.String("renditions", "", "Comma-separated MP4 files already encoded (H.264/AAC, keyframes aligned) to segment without transcoding, instead of -i.")
	useSample := fs.Bool("sample", false, "Write the built-in sample title instead of packaging -i (no ffmpeg needed).")
	force := fs.Bool("force", false, "Replace the output directory if it exists.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prof, err := manifest.ParseProfile(*profile)
	if err != nil {
		return err
	}
	sources := 0
	for _, given := range []bool{*input != "", *renditions != "", *useSample} {
		if given {
			sources++
		}
	}
	if *output == "" || sources != 1 {
		fs.Usage()
		return errors.New("package: give -o and exactly one of -i, --renditions or --sample")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// Interrupted, the packagers leave nothing behind: say so.
	interrupted := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("package: interrupted; the encodes and the staging directory were removed, nothing was written at %s: %w", *output, err)
		}
		return err
	}
	if *useSample {
		p, err := origin.Repackage(ctx, origin.RepackageConfig{
			Source: sample.FS(), Output: *output, Profile: prof, Title: *title, Force: *force,
		})
		if err != nil {
			return interrupted(err)
		}
		origin.WriteSummary(stdout, *output, p, 0, 0)
		return nil
	}
	if *renditions != "" {
		start := time.Now()
		p, err := origin.Segment(ctx, origin.SegmentConfig{
			Inputs: strings.Split(*renditions, ","), Output: *output, SegmentDuration: *segment,
			Profile: prof, Title: *title, Force: *force,
		})
		if err != nil {
			return interrupted(err)
		}
		origin.WriteSummary(stdout, *output, p, 0, time.Since(start))
		return nil
	}
	rungs, err := origin.ParseLadder(*ladder)
	if err != nil {
		return err
	}
	abr, err := origin.ParseBitrate(*audioRate)
	if err != nil {
		return fmt.Errorf("audio bit rate: %w", err)
	}
	res, err := origin.Package(ctx, origin.PackageConfig{
		Input: *input, Output: *output, Ladder: rungs, SegmentDuration: *segment, Profile: prof, AudioBitrate: abr,
		Title: *title, Preset: *preset, Force: *force, Progress: stderr, Logger: logger,
	})
	if err != nil {
		return interrupted(err)
	}
	origin.WriteSummary(stdout, res.Dir, res.Presentation, res.Encode, res.Segment)
	return nil
}
