#!/usr/bin/env bash
# Cache-hit benchmark: our edge, nginx proxy_cache and Varnish (malloc) in
# front of the same origin, and a plain nginx static server as the
# reference, all on loopback, warmed, then driven by wrk in the same run,
# interleaved: requests/s and p99 latency for 1 MiB objects, 100 KiB
# objects and 64 KiB ranges of 1 MiB objects (64 objects of each).
# Needs nginx, varnish and wrk (apt-get install nginx-light varnish wrk).
# Usage: scripts/bench-edge.sh [SECONDS_PER_RUN] [ROUNDS]   (default 8 2)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8} rounds=${2:-2}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn

mkdir -p "$work/titles/bench/1m" "$work/titles/bench/100k"
for i in $(seq 0 63); do
  head -c 1048576 /dev/urandom > "$work/titles/bench/1m/$i.m4s"
  head -c 102400 /dev/urandom > "$work/titles/bench/100k/$i.m4s"
done

O=18900 STATIC=18901 EDGE=18902 NGX=18903 VARN=18904
"$work/streamcdn" origin --dir "$work/titles" --listen 127.0.0.1:$O --admin 127.0.0.1:18910 --log-level error & pids+=($!)
"$work/streamcdn" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$EDGE --admin 127.0.0.1:18911 --mem 1GiB --log-level error & pids+=($!)

mkdir -p "$work/nginx/cache" "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<NGINX
user root;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush off; keepalive_requests 100000;
  default_type application/octet-stream;
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=bench:64m max_size=2g inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:$O; keepalive 64; }
  server { listen 127.0.0.1:$STATIC; root $work/titles; }
  server {
    listen 127.0.0.1:$NGX;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache bench; proxy_cache_lock on; proxy_cache_valid 200 1h;
    }
  }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' & pids+=($!)
varnishd -F -j none -n "$work/varnish" -a 127.0.0.1:$VARN -b 127.0.0.1:$O -s malloc,1G >/dev/null 2>&1 & pids+=($!)
sleep 2

for port in $STATIC $EDGE $NGX $VARN; do # every server must answer 200 before anything is measured
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/bench/1m/0.m4s")
  [ "$code" = 200 ] || { echo "server on port $port answers $code" >&2; exit 1; }
done
for port in $STATIC $EDGE $NGX $VARN; do # warm: every object twice
  for i in $(seq 0 63); do
    for kind in 1m 100k; do
      curl -s -o /dev/null "http://127.0.0.1:$port/bench/$kind/$i.m4s"
      curl -s -o /dev/null "http://127.0.0.1:$port/bench/$kind/$i.m4s"
    done
  done
done

cat > "$work/obj.lua" <<'LUA'
local kind = os.getenv("KIND")
local range = os.getenv("RANGE")
request = function()
  local path = "/bench/" .. kind .. "/" .. math.random(0, 63) .. ".m4s"
  if range ~= "" then return wrk.format("GET", path, { ["Range"] = range }) end
  return wrk.format("GET", path)
end
LUA

declare -A rps p99
run() { # name port object
  local kind=1m rng=""
  case $3 in 100KiB) kind=100k ;; range64KiB) rng="bytes=65536-131071" ;; esac
  local out
  out=$(KIND=$kind RANGE=$rng wrk -t2 -c64 -d${secs}s --latency -s "$work/obj.lua" "http://127.0.0.1:$2" 2>&1)
  local r l
  if grep -q "Non-2xx" <<<"$out"; then echo "$1 $3: $(grep Non-2xx <<<"$out")" >&2; exit 1; fi
  r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  l=$(awk '$1=="99%" {print $2}' <<<"$out")
  rps[$1,$3]+="$r " p99[$1,$3]+="$l "
}
names=(nginx-static streamcdn-edge nginx-proxy_cache varnish)
ports=($STATIC $EDGE $NGX $VARN)
for round in $(seq "$rounds"); do
  for obj in 1MiB 100KiB range64KiB; do
    for i in "${!names[@]}"; do run "${names[$i]}" "${ports[$i]}" "$obj"; done
  done
done

mean() { awk '{s=0; for (i=1;i<=NF;i++) s+=$i; printf "%.0f", s/NF}' <<<"$1"; }
worst() { tr ' ' '\n' <<<"$1" | grep . | awk '{v=$1; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v); if(u=="us")v/=1000; if(u=="s")v*=1000; if(v>m)m=v} END {printf "%.2fms", m}'; }
printf '\n%-18s %-11s %12s %8s %10s\n' server object "req/s" "x static" "p99 (worst)"
for obj in 1MiB 100KiB range64KiB; do
  base=$(mean "${rps[nginx-static,$obj]}")
  for n in "${names[@]}"; do
    m=$(mean "${rps[$n,$obj]}")
    printf '%-18s %-11s %12s %8.2f %10s\n' "$n" "$obj" "$m" "$(echo "$m / $base" | bc -l)" "$(worst "${p99[$n,$obj]}")"
  done
done
echo "(wrk -t2 -c64, ${secs}s x $rounds interleaved rounds, 64 objects of each kind, all hits)"
