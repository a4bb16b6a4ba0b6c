#!/usr/bin/env bash
# Packaging benchmark: ours against ffmpeg's own dash muxer on the same
# 60 s 1080p input and the same 3-rung ladder, side by side in one run.
#   1. total time to package (transcode + segment), ours vs one ffmpeg
#      command that encodes the ladder and muxes DASH;
#   2. segmenting only, from already-encoded renditions, ours
#      (streamcdn package --renditions) vs ffmpeg -c copy -f dash.
# Usage: scripts/bench-package.sh [RUNS]   (default 3; medians are printed)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn

seg=4 fps=30 gop=120 preset=veryfast
ladder="360p:400k,720p:3000k,1080p:6000k"
echo "making the 60 s 1080p30 input..."
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=$fps" \
  -f lavfi -i "sine=frequency=1000:sample_rate=48000" -t 60 \
  -c:v libx264 -preset ultrafast -crf 18 -c:a aac -b:a 192k "$work/in.mp4"

x264() { # rate height: the same encoder settings our packager uses
  echo "-c:v libx264 -preset $preset -profile:v high -b:v $1 -maxrate $1 -bufsize $(($1 * seg)) \
    -g $gop -keyint_min $gop -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*$seg) -x264-params open-gop=0"
}

ours_full() {
  rm -rf "$work/ours"
  "$work/streamcdn" package -i "$work/in.mp4" -o "$work/ours" --ladder "$ladder" --segment ${seg}s --preset $preset >/dev/null 2>&1
}
ffmpeg_full() {
  rm -rf "$work/ff" && mkdir -p "$work/ff"
  ffmpeg -hide_banner -loglevel error -y -i "$work/in.mp4" \
    -filter_complex "[0:v]split=3[a][b][c];[a]scale=-2:360,format=yuv420p[v0];[b]scale=-2:720,format=yuv420p[v1];[c]scale=-2:1080,format=yuv420p[v2]" \
    -map "[v0]" -map "[v1]" -map "[v2]" -map 0:a:0 \
    -c:v libx264 -preset $preset -profile:v high -g $gop -keyint_min $gop -sc_threshold 0 \
    -force_key_frames "expr:gte(t,n_forced*$seg)" -x264-params open-gop=0 \
    -b:v:0 400000 -maxrate:v:0 400000 -bufsize:v:0 1600000 \
    -b:v:1 3000000 -maxrate:v:1 3000000 -bufsize:v:1 12000000 \
    -b:v:2 6000000 -maxrate:v:2 6000000 -bufsize:v:2 24000000 \
    -c:a aac -b:a 128k -ac 2 -ar 48000 \
    -f dash -seg_duration $seg -use_template 1 -use_timeline 1 -adaptation_sets "id=0,streams=v id=1,streams=a" \
    "$work/ff/manifest.mpd"
}

echo "encoding the renditions once, for the segmenting-only runs..."
for r in 360:400000 720:3000000 1080:6000000; do
  h=${r%%:*} b=${r#*:}
  ffmpeg -hide_banner -loglevel error -y -i "$work/in.mp4" -map 0:v:0 -an -vf "scale=-2:$h,format=yuv420p" $(x264 $b) "$work/${h}p.mp4"
done
ffmpeg -hide_banner -loglevel error -y -i "$work/in.mp4" -map 0:a:0 -vn -c:a aac -b:a 128k -ac 2 -ar 48000 "$work/audio.mp4"

ours_seg() {
  rm -rf "$work/oseg"
  "$work/streamcdn" package --renditions "$work/360p.mp4,$work/720p.mp4,$work/1080p.mp4,$work/audio.mp4" -o "$work/oseg" --segment ${seg}s >/dev/null
}
ffmpeg_seg() {
  rm -rf "$work/fseg" && mkdir -p "$work/fseg"
  ffmpeg -hide_banner -loglevel error -y -i "$work/360p.mp4" -i "$work/720p.mp4" -i "$work/1080p.mp4" -i "$work/audio.mp4" \
    -map 0 -map 1 -map 2 -map 3 -c copy -f dash -seg_duration $seg -use_template 1 -use_timeline 1 \
    -adaptation_sets "id=0,streams=v id=1,streams=a" "$work/fseg/manifest.mpd"
}

seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A t
for name in ours_full ffmpeg_full ours_seg ffmpeg_seg; do t[$name]=""; done
for i in $(seq "$runs"); do # interleaved, so background load hits both alike
  for name in ours_full ffmpeg_full ours_seg ffmpeg_seg; do
    t[$name]+="$(seconds $name)"$'\n'
  done
done
of=$(printf '%s' "${t[ours_full]}" | median) ff=$(printf '%s' "${t[ffmpeg_full]}" | median)
os=$(printf '%s' "${t[ours_seg]}" | median) fs=$(printf '%s' "${t[ffmpeg_seg]}" | median)
printf '\n%-44s %10s %10s %8s\n' "60 s 1080p30, ladder $ladder, ${seg}s segments" "streamcdn" "ffmpeg" "ratio"
printf '%-44s %9.2fs %9.2fs %7.2fx\n' "package (transcode + segment), median of $runs" "$of" "$ff" "$(echo "$of / $ff" | bc -l)"
printf '%-44s %9.3fs %9.3fs %7.2fx\n' "segment only (-c copy), median of $runs" "$os" "$fs" "$(echo "$os / $fs" | bc -l)"
