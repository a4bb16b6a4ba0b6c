#!/usr/bin/env bash
# Regenerates the built-in sample title (internal/sample/title) with ffmpeg
# and our own packager: 30 s of a moving test pattern with a clock and a
# frame counter, a 1 kHz tone that beeps every second, three rungs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=30,drawtext=fontfile=$font:text='%{pts\:hms}  frame %{frame_num}':x=16:y=16:fontsize=26:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6" \
  -f lavfi -i "sine=frequency=1000:sample_rate=48000:beep_factor=4" \
  -t 30 -c:v libx264 -preset veryfast -crf 16 -c:a aac -b:a 192k "$work/mezzanine.mp4"
go run ./cmd/streamcdn package -i "$work/mezzanine.mp4" -o internal/sample/title --force \
  --ladder 180p:150k,270p:300k,360p:600k --segment 2s --audio-bitrate 64k --title "streamcdn sample"
du -sh internal/sample/title
