# Sourced by the cache-hit benchmarks (bench-edge.sh, bench-gofloor.sh,
# bench-ab.sh): one wrk script, one way of running it and reading its
# figures, one median, so that their figures are measured alike; and the
# objects, nginx's configuration and the warming they share.

# wrk_lua writes to $1 the wrk script both benchmarks drive servers with:
# GET /bench/$KIND/N.m4s for a random N of 0..63, with Range: $RANGE if
# that is set.
wrk_lua() {
  cat > "$1" <<'LUA'
local kind = os.getenv("KIND")
local range = os.getenv("RANGE") or ""
request = function()
  local path = "/bench/" .. kind .. "/" .. math.random(0, 63) .. ".m4s"
  if range ~= "" then return wrk.format("GET", path, { ["Range"] = range }) end
  return wrk.format("GET", path)
end
LUA
}

# wrk_run SCRIPT URL CONNS SECONDS prints "requests/s p99 p50 p75 p90"
# (latencies in ms) for wrk
# driving URL with SCRIPT over CONNS connections (one thread for one
# connection, else two); it fails if any answer was not 2xx.
wrk_run() {
  local out threads=2
  [ "$3" = 1 ] && threads=1
  out=$(wrk -t"$threads" -c"$3" -d"$4"s --latency -s "$1" "$2" 2>&1)
  if grep -q "Non-2xx" <<<"$out"; then echo "$2 c$3: $(grep Non-2xx <<<"$out")" >&2; return 1; fi
  awk '/Requests\/sec/ {r=$2}
    $1 ~ /^(50|75|90|99)%$/ {v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v); if(u=="us")v/=1000; if(u=="s")v*=1000; p[$1]=v}
    END {printf "%s %.2f %.2f %.2f %.2f\n", r, p["99%"], p["50%"], p["75%"], p["90%"]}' <<<"$out"
}

# median prints the median of the space-separated numbers in $1.
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# bench_titles DIR writes the 64 objects of each kind the benchmarks
# request: DIR/bench/1m/N.m4s (1 MiB) and DIR/bench/100k/N.m4s (100 KiB),
# random bytes.
bench_titles() {
  mkdir -p "$1/bench/1m" "$1/bench/100k"
  for i in $(seq 0 63); do
    head -c 1048576 /dev/urandom > "$1/bench/1m/$i.m4s"
    head -c 102400 /dev/urandom > "$1/bench/100k/$i.m4s"
  done
}

# nginx_conf DIR HTTP writes DIR/nginx.conf for the benchmarks' nginx
# (every worker, sendfile, no access log, keep-alive for a whole run,
# pid and error log under DIR) with HTTP, its upstreams, caches and
# servers, inside the http block; nginx_start DIR starts it in the
# foreground, in the background, and adds it to pids.
nginx_conf() {
  mkdir -p "$1/logs"
  cat > "$1/nginx.conf" <<NGINX
user root;
worker_processes auto;
pid $1/nginx.pid;
error_log $1/logs/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush off; keepalive_requests 100000;
  default_type application/octet-stream;
$2
}
NGINX
}
# nginx_proxy_cache CACHE ORIGIN PORT makes the directory CACHE and
# prints the http-block lines of the benchmarks' nginx proxy_cache on
# PORT in front of the origin on port ORIGIN: cache lock on, keep-alive
# upstream, 200s kept an hour.
nginx_proxy_cache() {
  mkdir -p "$1"
  cat <<NGINX
  proxy_cache_path $1 levels=1:2 keys_zone=bench:64m max_size=2g inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:$2; keepalive 64; }
  server {
    listen 127.0.0.1:$3;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache bench; proxy_cache_lock on; proxy_cache_valid 200 1h;
    }
  }
NGINX
}
nginx_start() {
  nginx -c "$1/nginx.conf" -p "$1" -g 'daemon off;' & pids+=($!)
}

# wait_ok PORT waits (20 s at most) until the server on PORT answers
# /bench/1m/0.m4s with 200, and fails if it does not.
wait_ok() {
  local code=000
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/bench/1m/0.m4s" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.2
  done
  echo "server on port $1 answers $code" >&2
  return 1
}

# warm PORT requests every object of each kind twice from the server on
# PORT, so that a cache holds them all.
warm() {
  for i in $(seq 0 63); do
    for kind in 1m 100k; do
      curl -s -o /dev/null "http://127.0.0.1:$1/bench/$kind/$i.m4s"
      curl -s -o /dev/null "http://127.0.0.1:$1/bench/$kind/$i.m4s"
    done
  done
}

# ticks PID prints the CPU time, in clock ticks, of process PID and its
# children (nginx: the workers under the master); us_per_request A B RPS
# SECONDS turns two readings of it around a run into CPU µs a request.
ticks() {
  local t=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
us_per_request() { echo "($2 - $1) * 1000000 / $(getconf CLK_TCK) / ($3 * $4)" | bc -l; }
