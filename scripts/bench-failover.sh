#!/usr/bin/env bash
# Failover benchmark: how fast each of §2.6's flows moves its players off
# an edge cluster that dies. Runs the demo (a topology as processes on
# loopback; default: the built-in three-region topology, where eu-west's
# cluster is killed at 3 s under two DNS players and two steered ones)
# RUNS times and prints, per run and flow, the median and range of the
# players' times from the kill to their first fetch elsewhere (wall
# seconds), then the median over the runs. The mechanism each flow waits
# on is the topology's: the DNS's health checks (interval, failures to
# go down) and answer TTL; the steering manifest's TTL and the players'
# own failover.
# Usage: [TOPOLOGY=FILE] [SPEED=4] scripts/bench-failover.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5} speed=${SPEED:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
topology=()
if [ -n "${TOPOLOGY:-}" ]; then topology=(--topology "$TOPOLOGY"); fi

printf '%-4s  %-32s  %-32s\n' run "KingCDN flow (DNS)" "Netflix flow (steering)"
for i in $(seq 1 "$runs"); do
  # 15 s covers the players (about 9 s at speed 4) and the restore at 7 s.
  "$work/streamcdn" demo "${topology[@]}" --duration 15s --speed "$speed" --admin 127.0.0.1:0 \
    --report "$work/report-$i" > "$work/run-$i.txt" 2> "$work/run-$i.err" || {
    echo "run $i failed:"; tail -20 "$work/run-$i.txt" "$work/run-$i.err"; exit 1; }
  dns=$(sed -n 's/^  KingCDN flow (DNS) *\([0-9]* of [0-9]*\) players moved in \([0-9.]*\) s (median; \([0-9.-]*\) s).*/\2 (\3, \1)/p' "$work/run-$i.txt" | head -1)
  steer=$(sed -n 's/^  Netflix flow (steering) *\([0-9]* of [0-9]*\) players moved in \([0-9.]*\) s (median; \([0-9.-]*\) s).*/\2 (\3, \1)/p' "$work/run-$i.txt" | head -1)
  printf '%-4s  %-32s  %-32s\n' "$i" "${dns:-none moved}" "${steer:-none moved}"
  echo "${dns%% *} ${steer%% *}" >> "$work/medians"
done
median() { sort -n | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else print v[int((NR+1)/2)]}'; }
echo
echo "median of $runs runs (seconds from the kill to the players' first fetch elsewhere):"
echo "  KingCDN flow (DNS):      $(awk '{print $1}' "$work/medians" | grep -v '^$' | median) s"
echo "  Netflix flow (steering): $(awk '{print $2}' "$work/medians" | grep -v '^$' | median) s"
echo "settings (the topology's; from the last run's report):"
sed -n 's/^  KingCDN flow (DNS) *[^:]*: /  DNS: /p; s/^  Netflix flow (steering) *[^:]*: /  steering: /p' "$work/run-$runs.txt" | head -2
