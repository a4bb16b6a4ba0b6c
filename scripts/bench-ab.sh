#!/usr/bin/env bash
# A/B of two builds of the edge on cache hits: the edge built from git
# revision REV (A) and from the working tree, or revision BREV if set
# (B), with nginx proxy_cache
# beside them as the reference, in front of the same origin, warmed,
# driven by wrk with scripts/bench-edge.sh's script (scripts/wrk.sh),
# interleaved. Prints per round each server's requests/s, latency
# percentiles (p50, p90, p99, from wrk --latency) and CPU time per
# request (the server's user+system time from /proc over the
# run, divided by the requests wrk counted), then each row's medians.
# With wrk on the same cores, requests/s depends on how the cores are
# shared; CPU per request is what a build costs whatever the sharing.
# Needs nginx and wrk (apt-get install nginx-light wrk).
# AFLAGS and BFLAGS add flags to A's and B's edge command lines: with
# REV and BREV the same revision, an A/B of a flag's values, e.g.
# BREV=HEAD BFLAGS="--notsent-lowat off" scripts/bench-ab.sh HEAD.
# Usage: [ROWS="100KiB:1 100KiB:64 ..."] [BREV=REV2] [AFLAGS=...] [BFLAGS=...] scripts/bench-ab.sh REV [SECONDS_PER_RUN] [ROUNDS]   (default 4 2)
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
# shellcheck disable=SC2086 # AFLAGS and BFLAGS are word lists
"$work/edge-a" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$A --admin 127.0.0.1:18926 --mem 1GiB --log-level error ${AFLAGS:-} & pids+=($!)
apid=$!
# shellcheck disable=SC2086
"$work/edge-b" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$B --admin 127.0.0.1:18927 --mem 1GiB --log-level error ${BFLAGS:-} & pids+=($!)
bpid=$!
nginx_conf "$work/nginx" "$(nginx_proxy_cache "$work/nginx/cache" $O $NGX)"
nginx_start "$work/nginx"
npid=$!
for port in $A $B $NGX; do # every server must answer 200, then is warmed
  wait_ok "$port" || exit 1
  warm "$port"
done
wrk_lua "$work/obj.lua"

declare -A rps p99 p50 p90 cpu
run() { # name pid port row
  local obj=${4%:*} c=${4#*:} kind=1m rng="" a b res r p q50 q90
  case $obj in 100KiB) kind=100k ;; range64KiB) rng="bytes=65536-131071" ;; esac
  a=$(ticks "$2")
  res=$(KIND=$kind RANGE=$rng wrk_run "$work/obj.lua" "http://127.0.0.1:$3" "$c" "$secs")
  b=$(ticks "$2")
  read -r r p q50 _ q90 <<<"$res"
  rps[$1,$4]+="$r " p99[$1,$4]+="$p " p50[$1,$4]+="$q50 " p90[$1,$4]+="$q90 "
  cpu[$1,$4]+="$(us_per_request "$a" "$b" "$r" "$secs") "
  printf '  %-11s %5s  %-6s %9.0f r/s  p50/p90/p99 %7.2f %7.2f %8.2f ms  cpu %7.1f µs/request\n' "$obj" "$c" "$1" "$r" "$q50" "$q90" "$p" \
    "$(us_per_request "$a" "$b" "$r" "$secs")"
}
for round in $(seq "$rounds"); do
  echo "round $round (A: $rev ${AFLAGS:-}, B: ${BREV:-the working tree} ${BFLAGS:-})"
  for row in $rows; do
    run A "$apid" $A "$row"
    run B "$bpid" $B "$row"
    run nginx "$npid" $NGX "$row"
  done
done
echo
echo "medians of $rounds rounds: requests/s, p99 ms, CPU µs a request; B / A in requests/s and CPU"
echo "(second line of each row: each server's median p50 and p90, ms)"
for row in $rows; do
  line=""
  for s in A B nginx; do
    line+=$(printf '  %s %7.0f %7.2f %6.1f' "$s" "$(median "${rps[$s,$row]}")" "$(median "${p99[$s,$row]}")" "$(median "${cpu[$s,$row]}")")
  done
  printf '  %-18s%s   B/A %.2fx r/s, %.2fx cpu\n' "$row" "$line" \
    "$(echo "$(median "${rps[B,$row]}") / $(median "${rps[A,$row]}")" | bc -l)" \
    "$(echo "$(median "${cpu[B,$row]}") / $(median "${cpu[A,$row]}")" | bc -l)"
  line=""
  for s in A B nginx; do
    line+=$(printf '  %s p50 %7.2f p90 %7.2f' "$s" "$(median "${p50[$s,$row]}")" "$(median "${p90[$s,$row]}")")
  done
  printf '  %-18s%s\n' "" "$line"
done
