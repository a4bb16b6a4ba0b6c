package origin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ErrNoFFmpeg means ffmpeg or ffprobe is not on PATH.
var ErrNoFFmpeg = errors.New("ffmpeg not found on PATH (apt-get install ffmpeg)")

// probeInfo is what packaging needs to know about an input.
type probeInfo struct {
	Duration      time.Duration
	Width, Height int
	FPS           float64
	HasAudio      bool
}

// probe runs ffprobe on input. An input ffprobe cannot read, or one with
// no video stream, is an error.
func probe(ctx context.Context, input string) (*probeInfo, error) {
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", "--", input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s is not a media file ffprobe can read: %s", input, lastLine(stderr.String(), err))
	}
	var out struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			CodecType    string `json:"codec_type"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			AvgFrameRate string `json:"avg_frame_rate"`
			Disposition  struct {
				AttachedPic int `json:"attached_pic"`
			} `json:"disposition"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("ffprobe output: %w", err)
	}
	info := &probeInfo{}
	for _, s := range out.Streams {
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && info.Height == 0:
			info.Width, info.Height, info.FPS = s.Width, s.Height, parseRate(s.AvgFrameRate)
		case s.CodecType == "audio":
			info.HasAudio = true
		}
	}
	if info.Height == 0 {
		return nil, fmt.Errorf("%s has no video stream", input)
	}
	secs, err := strconv.ParseFloat(out.Format.Duration, 64)
	if err != nil || secs <= 0 {
		return nil, fmt.Errorf("%s has no duration", input)
	}
	info.Duration = time.Duration(secs * float64(time.Second))
	if info.FPS <= 0 || info.FPS > 240 {
		info.FPS = 30
	}
	return info, nil
}

func parseRate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	num, err1 := strconv.ParseFloat(n, 64)
	den, err2 := strconv.ParseFloat(d, 64)
	if !ok || err1 != nil || err2 != nil || den == 0 {
		return 0
	}
	return num / den
}

// encodeJob is one ffmpeg run: its output options and files.
type encodeJob struct {
	name string
	args []string // everything after the input: filters, maps, codecs, outputs
}

// ladderJob encodes every rung and the audio in one ffmpeg process: the
// input is decoded once and a split filter feeds each rung's scaler and
// x264 encoder, which run in parallel on their own threads. Each rung is
// H.264 High with closed GOPs, a keyframe forced at every segment boundary
// and scene-cut keyframes off, so that every rung has IDR frames at the
// same times, and VBV capped at the rung's rate over one segment, which
// keeps the peak rate near the nominal one. Audio is stereo AAC-LC at
// 48 kHz. outs[i] is the file of rung i, and the audio's last when
// audioRate > 0.
func ladderJob(ladder []Rung, segDur time.Duration, fps float64, preset string, audioRate int, outs []string) encodeJob {
	seg := segDur.Seconds()
	gop := strconv.Itoa(max(1, int(fps*seg+0.5)))
	graph := fmt.Sprintf("[0:v]split=%d", len(ladder))
	for i := range ladder {
		graph += fmt.Sprintf("[s%d]", i)
	}
	for i, r := range ladder {
		graph += fmt.Sprintf(";[s%d]scale=-2:%d,format=yuv420p[v%d]", i, r.Height, i)
	}
	args := []string{"-filter_complex", graph}
	for i, r := range ladder {
		rate := strconv.Itoa(r.Bitrate)
		args = append(args, "-map", fmt.Sprintf("[v%d]", i),
			"-c:v", "libx264", "-preset", preset, "-profile:v", "high",
			"-b:v", rate, "-maxrate", rate, "-bufsize", strconv.Itoa(int(float64(r.Bitrate)*seg)),
			"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
			"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%g)", seg),
			"-x264-params", "open-gop=0", "-f", "mp4", outs[i])
	}
	if audioRate > 0 {
		args = append(args, "-map", "0:a:0", "-c:a", "aac", "-b:a", strconv.Itoa(audioRate),
			"-ac", "2", "-ar", "48000", "-f", "mp4", outs[len(ladder)])
	}
	return encodeJob{name: "ladder", args: args}
}

// run runs ffmpeg for job, reporting progress (0..1) through report.
func (j encodeJob) run(ctx context.Context, input string, report func(float64), total time.Duration) error {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return ErrNoFFmpeg
	}
	args := append([]string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
		"-progress", "pipe:1", "-i", input}, j.args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	readProgress(stdout, report, total)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ffmpeg %s: %s", j.name, lastLine(stderr.String(), err))
	}
	report(1)
	return nil
}

// readProgress parses ffmpeg's -progress key=value stream.
func readProgress(r io.Reader, report func(float64), total time.Duration) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		if k != "out_time_us" && k != "out_time_ms" { // both are microseconds
			continue
		}
		if us, err := strconv.ParseInt(v, 10, 64); err == nil && total > 0 {
			report(min(1, float64(us)*float64(time.Microsecond)/float64(total)))
		}
	}
}

func lastLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return err.Error()
	}
	return s
}
