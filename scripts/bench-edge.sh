#!/usr/bin/env bash
# Cache-hit benchmark: our edge, nginx proxy_cache, Varnish (malloc) and
# Apache Traffic Server (RAM cache, read-while-writer) in front of the same
# origin, a plain nginx static server as the reference, and the same edge
# served by net/http's server (--http-server net) instead of internal/h1:
# what the lean HTTP/1.1 server is worth), all on
# loopback, warmed, then driven by wrk in the same run, interleaved:
# requests/s and p99 latency for 1 MiB objects, 100 KiB objects and 64 KiB
# ranges of 1 MiB objects (64 objects of each), at 1, 64 and 1,000
# connections (CONNS="1 64 1000"). Each round prints our ratio to each peer
# and the p99s; the end, the medians of the rounds.
# Needs nginx, varnish, trafficserver and wrk (apt-get install nginx-light
# varnish trafficserver wrk; stop the trafficserver service the package
# starts).
# EDGEFLAGS adds flags to both edges' command lines.
# Usage: [CONNS="1 64 1000"] [EDGEFLAGS=...] scripts/bench-edge.sh [SECONDS_PER_RUN] [ROUNDS]   (default 8 2)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wrk.sh
secs=${1:-8} rounds=${2:-2}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn

bench_titles "$work/titles"

O=18900 STATIC=18901 EDGE=18902 NGX=18903 VARN=18904 ATS=18905 EDGENET=18906
conns=${CONNS:-1 64 1000}
ulimit -n "$(ulimit -Hn)" # 1,000 connections a server, and wrk's
"$work/streamcdn" origin --dir "$work/titles" --listen 127.0.0.1:$O --admin 127.0.0.1:18910 --log-level error & pids+=($!)
# shellcheck disable=SC2086 # EDGEFLAGS is a word list
"$work/streamcdn" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$EDGE --admin 127.0.0.1:18911 --mem 1GiB --log-level error ${EDGEFLAGS:-} & pids+=($!)
# shellcheck disable=SC2086
"$work/streamcdn" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$EDGENET --admin 127.0.0.1:18912 --mem 1GiB --log-level error --http-server net ${EDGEFLAGS:-} & pids+=($!)

nginx_conf "$work/nginx" "$(nginx_proxy_cache "$work/nginx/cache" $O $NGX)
  server { listen 127.0.0.1:$STATIC; root $work/titles; }"
nginx_start "$work/nginx"
varnishd -F -j none -n "$work/varnish" -a 127.0.0.1:$VARN -b 127.0.0.1:$O -s malloc,1G -p thread_pool_max=2000 >/dev/null 2>&1 & pids+=($!)

# Apache Traffic Server, as a reverse proxy with a 1 GiB RAM cache in front
# of a 2 GiB cache file, read-while-writer on, from a private config dir.
mkdir -p "$work/ats/etc" "$work/ats/log" "$work/ats/run"
cp -r /etc/trafficserver/. "$work/ats/etc/"
cat > "$work/ats/etc/records.config" <<ATSCONF
CONFIG proxy.config.http.server_ports STRING $ATS:ipv4:ip-in=127.0.0.1
CONFIG proxy.config.log.logfile_dir STRING $work/ats/log
CONFIG proxy.config.local_state_dir STRING $work/ats/run
CONFIG proxy.config.bin_path STRING /usr/bin
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.http.cache.http INT 1
CONFIG proxy.config.cache.ram_cache.size INT 1073741824
CONFIG proxy.config.cache.enable_read_while_writer INT 1
CONFIG proxy.config.http.cache.required_headers INT 0
CONFIG proxy.config.http.keep_alive_no_activity_timeout_in INT 120
CONFIG proxy.config.net.connections_throttle INT 30000
CONFIG proxy.config.log.logging_enabled INT 0
ATSCONF
echo "map / http://127.0.0.1:$O/" > "$work/ats/etc/remap.config"
mkdir -p "$work/ats/cache" # a directory: ATS makes its cache file there
echo "$work/ats/cache 2G" > "$work/ats/etc/storage.config"
printf 'ip_allow:\n  - apply: in\n    ip_addrs: 0/0\n    action: allow\n    methods: ALL\n' > "$work/ats/etc/ip_allow.yaml"
PROXY_CONFIG_CONFIG_DIR="$work/ats/etc" traffic_server >"$work/ats/log/stdout" 2>&1 & pids+=($!)
for _ in $(seq 150); do # ATS lays out its cache file first
  curl -s -o /dev/null "http://127.0.0.1:$ATS/" && break
  sleep 0.2
done

for port in $STATIC $EDGE $NGX $VARN $ATS $EDGENET; do # every server must answer 200 before anything is measured
  wait_ok "$port" || exit 1
done
for port in $STATIC $EDGE $NGX $VARN $ATS $EDGENET; do warm "$port"; done

wrk_lua "$work/obj.lua"
declare -A rps p99
run() { # name port object conns
  local kind=1m rng="" res
  case $3 in 100KiB) kind=100k ;; range64KiB) rng="bytes=65536-131071" ;; esac
  res=$(KIND=$kind RANGE=$rng wrk_run "$work/obj.lua" "http://127.0.0.1:$2" "$4" "$secs")
  read -r "rps[$1,$3,$4]" "p99[$1,$3,$4]" _ <<<"$res"
}
names=(nginx-static streamcdn-edge nginx-proxy_cache varnish ats edge-on-net/http)
ports=($STATIC $EDGE $NGX $VARN $ATS $EDGENET)
peers=(nginx-proxy_cache varnish ats edge-on-net/http)
third=(nginx-proxy_cache varnish ats) # the goal's peers
declare -A ratios # per peer, object and conns: the rounds' ratios
declare -A vsbest p99best # per object and conns: ours / the best of the three, requests/s and p99
for round in $(seq "$rounds"); do
  echo "round $round"
  printf '  %-11s %5s %10s %9s   %s\n' object conns "ours r/s" "p99 ms" "ratio to each peer (their p99 ms)"
  for c in $conns; do
    for obj in 1MiB 100KiB range64KiB; do
      for i in "${!names[@]}"; do run "${names[$i]}" "${ports[$i]}" "$obj" "$c"; done
      line=""
      for p in "${peers[@]}"; do
        r=$(echo "${rps[streamcdn-edge,$obj,$c]} / ${rps[$p,$obj,$c]}" | bc -l)
        ratios[$p,$obj,$c]+="$r "
        line+=$(printf '%s %.2fx (%s)  ' "$p" "$r" "${p99[$p,$obj,$c]}")
      done
      printf '  %-11s %5s %10.0f %9s   %s\n' "$obj" "$c" "${rps[streamcdn-edge,$obj,$c]}" "${p99[streamcdn-edge,$obj,$c]}" "$line"
      best=0 bestp99=""
      for p in "${third[@]}"; do
        if (($(echo "${rps[$p,$obj,$c]} > $best" | bc -l))); then best=${rps[$p,$obj,$c]}; fi
        if [ -z "$bestp99" ] || (($(echo "${p99[$p,$obj,$c]} < $bestp99" | bc -l))); then bestp99=${p99[$p,$obj,$c]}; fi
      done
      vsbest[$obj,$c]+="$(echo "${rps[streamcdn-edge,$obj,$c]} / $best" | bc -l) "
      p99best[$obj,$c]+="$(echo "${p99[streamcdn-edge,$obj,$c]} / $bestp99" | bc -l) "
    done
  done
done

echo
echo "median of $rounds rounds, ours / peer (requests/s):"
printf '  %-11s %5s' object conns; for p in "${peers[@]}"; do printf ' %18s' "$p"; done; printf ' %12s %12s  %s\n' "vs best r/s" "vs best p99" goal
for c in $conns; do
  for obj in 1MiB 100KiB range64KiB; do
    printf '  %-11s %5s' "$obj" "$c"
    for p in "${peers[@]}"; do printf ' %17.2fx' "$(median "${ratios[$p,$obj,$c]}")"; done
    vb=$(median "${vsbest[$obj,$c]}") pb=$(median "${p99best[$obj,$c]}")
    goal=met; (($(echo "$vb < 1 || $pb > 1.25" | bc -l))) && goal="not met"
    printf ' %11.2fx %11.2fx  %s\n' "$vb" "$pb" "$goal"
  done
done
echo "(goal: ahead of the best of nginx, Varnish and ATS in requests/s, with a p99 at most 1.25x the best p99)"
echo "(wrk -t2 -cN, ${secs}s a run, $rounds interleaved rounds, 64 objects of each kind, all hits)"
