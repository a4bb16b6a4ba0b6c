#!/usr/bin/env bash
# A/B of two builds of the edge on cache hits: the edge built from git
# revision REV (A) and from the working tree, or revision BREV if set
# (B), with nginx proxy_cache
# beside them as the reference, in front of the same origin, warmed,
# driven by wrk with scripts/bench-edge.sh's script (scripts/wrk.sh),
# interleaved. Prints per round each server's requests/s, p99 and CPU
# time per request (the server's user+system time from /proc over the
# run, divided by the requests wrk counted), then each row's medians.
# With wrk on the same cores, requests/s depends on how the cores are
# shared; CPU per request is what a build costs whatever the sharing.
# Needs nginx and wrk (apt-get install nginx-light wrk).
# Usage: [ROWS="100KiB:1 100KiB:64 ..."] [BREV=REV2] scripts/bench-ab.sh REV [SECONDS_PER_RUN] [ROUNDS]   (default 4 2)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wrk.sh
rev=${1:?usage: scripts/bench-ab.sh REV [SECONDS] [ROUNDS]} secs=${2:-4} rounds=${3:-2}
rows=${ROWS:-100KiB:1 100KiB:64 100KiB:1000 range64KiB:1 range64KiB:64 range64KiB:1000 1MiB:1 1MiB:64 1MiB:1000}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  git worktree remove --force "$work/a-src" 2>/dev/null || true
  git worktree remove --force "$work/b-src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
git worktree add -q --detach "$work/a-src" "$rev"
(cd "$work/a-src" && go build -o "$work/edge-a" ./cmd/streamcdn)
bsrc=.
if [ -n "${BREV:-}" ]; then
  git worktree add -q --detach "$work/b-src" "$BREV"
  bsrc=$work/b-src
fi
(cd "$bsrc" && go build -o "$work/edge-b" ./cmd/streamcdn)

bench_titles "$work/titles"
O=18920 A=18921 B=18922 NGX=18923
ulimit -n "$(ulimit -Hn)"
"$work/edge-b" origin --dir "$work/titles" --listen 127.0.0.1:$O --admin 127.0.0.1:18925 --log-level error & pids+=($!)
"$work/edge-a" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$A --admin 127.0.0.1:18926 --mem 1GiB --log-level error & pids+=($!)
apid=$!
"$work/edge-b" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$B --admin 127.0.0.1:18927 --mem 1GiB --log-level error & pids+=($!)
bpid=$!
nginx_conf "$work/nginx" "$(nginx_proxy_cache "$work/nginx/cache" $O $NGX)"
nginx_start "$work/nginx"
npid=$!
for port in $A $B $NGX; do # every server must answer 200, then is warmed
  wait_ok "$port" || exit 1
  warm "$port"
done
wrk_lua "$work/obj.lua"

declare -A rps p99 cpu
run() { # name pid port row
  local obj=${4%:*} c=${4#*:} kind=1m rng="" a b res r p
  case $obj in 100KiB) kind=100k ;; range64KiB) rng="bytes=65536-131071" ;; esac
  a=$(ticks "$2")
  res=$(KIND=$kind RANGE=$rng wrk_run "$work/obj.lua" "http://127.0.0.1:$3" "$c" "$secs")
  b=$(ticks "$2")
  read -r r p <<<"$res"
  rps[$1,$4]+="$r " p99[$1,$4]+="$p "
  cpu[$1,$4]+="$(us_per_request "$a" "$b" "$r" "$secs") "
  printf '  %-11s %5s  %-6s %9.0f r/s  p99 %8.2f ms  cpu %7.1f µs/request\n' "$obj" "$c" "$1" "$r" "$p" \
    "$(us_per_request "$a" "$b" "$r" "$secs")"
}
for round in $(seq "$rounds"); do
  echo "round $round (A: $rev, B: ${BREV:-the working tree})"
  for row in $rows; do
    run A "$apid" $A "$row"
    run B "$bpid" $B "$row"
    run nginx "$npid" $NGX "$row"
  done
done
echo
echo "medians of $rounds rounds: requests/s, p99 ms, CPU µs a request; B / A in requests/s and CPU"
for row in $rows; do
  line=""
  for s in A B nginx; do
    line+=$(printf '  %s %7.0f %7.2f %6.1f' "$s" "$(median "${rps[$s,$row]}")" "$(median "${p99[$s,$row]}")" "$(median "${cpu[$s,$row]}")")
  done
  printf '  %-18s%s   B/A %.2fx r/s, %.2fx cpu\n' "$row" "$line" \
    "$(echo "$(median "${rps[B,$row]}") / $(median "${rps[A,$row]}")" | bc -l)" \
    "$(echo "$(median "${cpu[B,$row]}") / $(median "${cpu[A,$row]}")" | bc -l)"
done
