#!/usr/bin/env bash
# How far Go goes here without a cache: scripts/gofloor's seven ways of
# serving 64 bodies (a goroutine per connection with one writev, two
# writes or a split first write, or the header then sendfile(2) from a
# memfd, the header with MSG_MORE or alone; an epoll loop per core with
# one writev or split writes) beside
# nginx's static server on the same files, driven by wrk with the same
# script as scripts/bench-edge.sh (scripts/wrk.sh) at 1, 64 and 1,000
# connections, interleaved. Prints requests/s and p99 per round, then each
# mode's median ratio to nginx and each server's CPU time per request
# (user+system from /proc over the run). MODES picks some of the modes.
# Needs nginx and wrk (apt-get install nginx-light wrk).
# Usage: [CONNS="1 64 1000"] [SIZE=102400] [MODES="writev sendfile"] scripts/bench-gofloor.sh [SECONDS_PER_RUN] [ROUNDS]   (default 5 2)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wrk.sh
secs=${1:-5} rounds=${2:-2} size=${SIZE:-102400}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/gofloor" ./scripts/gofloor
mkdir -p "$work/titles/bench/100k"
for i in $(seq 0 63); do head -c "$size" /dev/urandom > "$work/titles/bench/100k/$i.m4s"; done
ulimit -n "$(ulimit -Hn)"
read -ra modes <<<"${MODES:-writev write2 split epoll epoll-split sendfile sendfile-alone}"
NGX=18970 port=18971
declare -A ports gpid
for m in "${modes[@]}"; do
  ports[$m]=$port
  "$work/gofloor" -mode "$m" -listen "127.0.0.1:$port" -size "$size" & pids+=($!)
  gpid[$m]=$!
  port=$((port + 1))
done
nginx_conf "$work/nginx" "  server { listen 127.0.0.1:$NGX; root $work/titles; }"
nginx_start "$work/nginx"
gpid[nginx]=$!
for p in $NGX "${ports[@]}"; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/bench/100k/0.m4s" && break; sleep 0.1; done
done
wrk_lua "$work/obj.lua"
declare -A rps p99 ratios cpu cpus
run() { # name port conns
  local res a b
  a=$(ticks "${gpid[$1]}")
  res=$(KIND=100k wrk_run "$work/obj.lua" "http://127.0.0.1:$2" "$3" "$secs")
  b=$(ticks "${gpid[$1]}")
  read -r "rps[$1,$3]" "p99[$1,$3]" _ <<<"$res"
  cpu[$1,$3]=$(us_per_request "$a" "$b" "${rps[$1,$3]}" "$secs")
  cpus[$1,$3]+="${cpu[$1,$3]} "
}
conns=${CONNS:-1 64 1000}
for round in $(seq "$rounds"); do
  echo "round $round (requests/s, p99 ms, CPU µs a request; ratio to nginx static)"
  for c in $conns; do
    run nginx $NGX "$c"
    for m in "${modes[@]}"; do run "$m" "${ports[$m]}" "$c"; done
    line=$(printf 'c%-5s nginx %7.0f (%s, %.1f)' "$c" "${rps[nginx,$c]}" "${p99[nginx,$c]}" "${cpu[nginx,$c]}")
    for m in "${modes[@]}"; do
      r=$(echo "${rps[$m,$c]} / ${rps[nginx,$c]}" | bc -l)
      ratios[$m,$c]+="$r "
      line+=$(printf '  %s %.2fx (%s, %.1f)' "$m" "$r" "${p99[$m,$c]}" "${cpu[$m,$c]}")
    done
    echo "  $line"
  done
done
echo
echo "median of $rounds rounds, Go / nginx static (requests/s), $size-byte bodies:"
printf '  %-6s' conns; for m in "${modes[@]}"; do printf ' %12s' "$m"; done; echo
for c in $conns; do
  printf '  %-6s' "$c"
  for m in "${modes[@]}"; do printf ' %11.2fx' "$(median "${ratios[$m,$c]}")"; done
  echo
done
echo "median CPU µs a request:"
printf '  %-6s %12s' conns nginx; for m in "${modes[@]}"; do printf ' %12s' "$m"; done; echo
for c in $conns; do
  printf '  %-6s %12.1f' "$c" "$(median "${cpus[nginx,$c]}")"
  for m in "${modes[@]}"; do printf ' %12.1f' "$(median "${cpus[$m,$c]}")"; done
  echo
done
