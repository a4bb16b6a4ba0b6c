#!/usr/bin/env bash
# Real-HTTP fleet benchmark: one origin serving the built-in sample on
# loopback, and fleets of N concurrent players at --speed 1 (Sabre's 4G
# traces, four ABRs, a 6 s buffer so that every session paces its requests
# over the whole 30 s title, starts spread over 10 s). For each N it prints
# the fleet's summary lines: the most sessions at once, the segments
# delayed by the client's own CPU, memory per player, each ABR's rebuffer
# time, and the CPU time of the fleet and of the origin.
# Usage: scripts/bench-fleet.sh [N ...]   (default 1000 2000)
# (The fleet opens a connection per player: mind ulimit -n.)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 2000)
traces=${TRACES:-../shared/traces/sabre/4G}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
"$work/streamcdn" package -sample -o "$work/titles/sample" >/dev/null
"$work/streamcdn" origin --dir "$work/titles" --listen 127.0.0.1:18950 --admin 127.0.0.1:18951 --log-level error & pids+=($!)
sleep 0.5
for n in "${counts[@]}"; do
  before=$(awk '{print $14+$15}' /proc/"${pids[0]}"/stat)
  echo "== $n players"
  /usr/bin/time -o "$work/time" -f "fleet CPU: %U s user + %S s system, max RSS %M KiB" \
    "$work/streamcdn" bench --url http://127.0.0.1:18950/sample/manifest.mpd --traces "$traces" --players "$n" \
      --abr bola,bolae,dynamic,throughput --max-buffer 6s --stagger 10s --no-progress |
    grep -E 'abr|rebuffer_s|sessions in|delayed|memory'
  cat "$work/time"
  after=$(awk '{print $14+$15}' /proc/"${pids[0]}"/stat)
  echo "origin CPU: $(( (after - before) / $(getconf CLK_TCK) )) s"
done
