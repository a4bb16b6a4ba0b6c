#!/usr/bin/env bash
# Deployment benchmark on loopback, on this machine:
#   1. time from `deploy up` to every component ready, for the examples
#      (three-region, world), RUNS times each: the controller's own figure
#      ("ready in", packaging the built-in sample included) and the wall
#      time from starting the command to its state file;
#   2. the demo (`demo --duration 40s`): when every player had finished;
#   3. scale: generated topologies of REGIONS x NODES edges x PLAYERS per
#      region (SIZES, default "3x1x2 10x2x4 20x2x5"), each `deploy up`,
#      then `deploy play` at speed 1 over the first 10 s of the title:
#      processes, time to ready, and the players' QoE (finished, mean
#      startup, stalls, rebuffering, retries). QoE that holds as the size
#      grows is QoE the machine itself does not spoil.
# Usage: scripts/bench-deploy.sh   (RUNS=3 SIZES="3x1x2 10x2x4 20x2x5")
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
sizes=${SIZES:-3x1x2 10x2x4 20x2x5}
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
cleanup() {
  for d in "$work"/dep-*; do [ -f "$d/state.json" ] && "$bin" deploy down --dir "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
bin=$work/streamcdn

# up starts `deploy up` on topology $1 in directory $2, waits for its
# state file, and prints "controller-ready-seconds wall-seconds".
up() {
  local start end
  start=$(date +%s.%N)
  "$bin" deploy up -f "$1" --dir "$2" --log-level warn >"$2.log" 2>&1 &
  for _ in $(seq 600); do [ -f "$2/state.json" ] && break; sleep 0.05; done
  [ -f "$2/state.json" ] || { echo "deploy up did not come up:" >&2; cat "$2.log" >&2; exit 1; }
  end=$(date +%s.%N)
  printf '%s %.2f\n' "$(sed -n 's/^ready in \([0-9.]*\) s.*/\1/p' "$2.log")" "$(echo "$end - $start" | bc)"
}

echo "== 1. deploy up to all components ready ($runs runs each)"
for ex in three-region world; do
  for i in $(seq "$runs"); do
    d=$work/dep-$ex-$i
    read -r ready wall < <(up "deploy/examples/$ex.yaml" "$d")
    procs=$(grep -c '"component"' "$d/state.json")
    echo "$ex run $i: $procs processes, ready in $ready s (controller), $wall s (wall, from the command's start)"
    "$bin" deploy down --dir "$d" >/dev/null
  done
done

echo
echo "== 2. demo --duration 40s (built-in three-region topology, speed 4)"
start=$(date +%s.%N)
"$bin" demo --duration 40s --admin 127.0.0.1:0 2>/dev/null | grep -E 'up in|every player finished'
printf 'demo command wall time: %.1f s (it serves until --duration)\n' "$(echo "$(date +%s.%N) - $start" | bc)"

echo
echo "== 3. scale: regions x edge nodes x players per region, players at speed 1 over 10 s of media"
printf '%-10s %9s %8s %8s %9s %12s %7s %9s %8s\n' size processes ready players finished mean-startup stalls rebuffer retries
for size in $sizes; do
  IFS=x read -r nr nn np <<<"$size"
  topo=$work/scale-$size.yaml
  {
    echo "name: scale"
    echo "regions:"
    for r in $(seq "$nr"); do
      # Spread over the globe: latitudes -50..50, longitudes -170..170.
      lat=$(( (r * 37) % 100 - 50 )); lon=$(( (r * 71) % 340 - 170 ))
      echo "  - {name: r$r, lat: $lat, lon: $lon, edge: {nodes: $nn, memory: 64MiB, capacity: 1Gbit}, clients: {rtt: 10ms, bandwidth: 50Mbit}}"
    done
    echo "origin: {region: r1, titles: [{name: sample, source: sample}]}"
    echo "shield: {region: r1, memory: 128MiB}"
    echo "dns: {provider: netcinema.com, cdn: kingcdn.com, video: video.netcinema.com, host: a1105.kingcdn.com}"
    echo "players:"
    for r in $(seq "$nr"); do echo "  - {region: r$r, count: $np, abr: dynamic, start: 200ms}"; done
  } >"$topo"
  d=$work/dep-scale-$size
  read -r ready _ < <(up "$topo" "$d")
  procs=$(grep -c '"component"' "$d/state.json")
  "$bin" deploy play -f "$topo" --dir "$d" --duration 10s >"$d.play" 2>&1 || true
  # The rows per player come first, up to the first empty line; then the
  # report.
  awk -v size="$size" -v procs="$procs" -v ready="$ready" 'NF == 0 { exit } NR > 1 && NF >= 16 {
      n++; if ($7 == "duration" || $7 == "complete") ok++; st += $8; stalls += $13; reb += $14; retries += $16 }
    END { printf "%-10s %9d %7.2fs %8d %9d %11.2fs %7d %8.2fs %8d\n", size, procs, ready, n, ok, st / n, stalls, reb, retries }' "$d.play"
  "$bin" deploy down --dir "$d" >/dev/null
done
