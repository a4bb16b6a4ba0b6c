#!/usr/bin/env bash
# Memory benchmark: the peak resident memory (VmHWM) of our edge against
# its --mem budget, with Varnish (-s malloc) given the same budget as the
# reference, in the same run, on loopback:
#   (a) replay: a Zipf(0.8) request stream over a catalogue ten times the
#       memory budget (1 MiB objects), memory tier only;
#   (b) slow readers: 1,000 clients with 4 KiB receive windows that read
#       4 KiB every half second from 32 MiB objects, the edge with a disk
#       tier (large objects live there).
# Each server is a fresh process per phase; "idle" is its resident memory
# after start-up and one request, the fixed overhead the budget does not
# cover. Needs varnish, wrk and python3 (apt-get install varnish wrk).
# Usage: scripts/bench-edge-memory.sh [BUDGET_MIB] [SECONDS]   (default 64 20)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-64} secs=${2:-20}
ulimit -n "$(ulimit -Hn)" # 1,000 slow readers need their descriptors
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn

objects=$((mib * 10)) # 1 MiB each: ten times the budget
mkdir -p "$work/titles/bench/zipf" "$work/titles/bench/large"
head -c 1048576 /dev/urandom > "$work/one"
for i in $(seq 0 $((objects - 1))); do cp "$work/one" "$work/titles/bench/zipf/$i.m4s"; done
for i in $(seq 0 7); do head -c $((32 << 20)) /dev/urandom > "$work/titles/bench/large/$i.m4s"; done

O=18950 EDGE=18951 VARN=18952
"$work/streamcdn" origin --dir "$work/titles" --listen 127.0.0.1:$O --admin 127.0.0.1:18960 --log-level error & pids+=($!)
sleep 1

kb() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$1/bench/zipf/0.m4s" && return; sleep 0.1; done; echo "port $1 did not answer" >&2; exit 1; }

# start_servers PHASE: our edge (with a disk tier for phase b) and Varnish.
start_servers() {
  local disk=()
  if [ "$1" = b ]; then disk=(--disk "$work/disk-$1" --disk-size 4GiB); fi
  "$work/streamcdn" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$EDGE --admin 127.0.0.1:18961 \
    --mem ${mib}MiB "${disk[@]}" --log-level error & edge_pid=$!; pids+=($edge_pid)
  varnishd -F -j none -n "$work/varnish-$1" -a 127.0.0.1:$VARN -b 127.0.0.1:$O -s malloc,${mib}M \
    -p thread_pool_max=2000 >/dev/null 2>&1 & varn_mgr=$!; pids+=($varn_mgr)
  wait_up $EDGE; wait_up $VARN
  varn_pid=$(pgrep -P "$varn_mgr" | head -1) # the cache process, not the manager
  idle_edge=$(kb $edge_pid VmRSS) idle_varn=$(kb "$varn_pid" VmRSS)
}
stop_servers() { kill $edge_pid $varn_mgr 2>/dev/null || true; wait $edge_pid $varn_mgr 2>/dev/null || true; }

report() { # phase name pid idle_kb
  local peak; peak=$(kb "$3" VmHWM)
  awk -v ph="$1" -v n="$2" -v b=$((mib * 1024)) -v idle="$4" -v peak="$peak" 'BEGIN {
    printf "%-3s %-9s %8.0f %9.0f %9.0f %8.2fx %14.2fx\n", ph, n, b/1024, idle/1024, peak/1024, peak/b, (peak-idle)/b }'
}

cat > "$work/zipf.lua" <<LUA
local n, s = $objects, 0.8
local cdf, total = {}, 0
for i = 1, n do total = total + 1 / i ^ s; cdf[i] = total end
for i = 1, n do cdf[i] = cdf[i] / total end
math.randomseed(1)
request = function()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do local mid = math.floor((lo + hi) / 2); if cdf[mid] < u then lo = mid + 1 else hi = mid end end
  return wrk.format("GET", "/bench/zipf/" .. (lo - 1) .. ".m4s")
end
LUA

cat > "$work/slow.py" <<'PY'
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
conns = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /bench/large/%d.m4s HTTP/1.1\r\nHost: bench\r\n\r\n" % (i % 8))
    s.setblocking(False)
    conns.append(s)
got, end = 0, time.time() + secs
while time.time() < end:
    for s in conns:
        try:
            got += len(s.recv(4096))
        except BlockingIOError:
            pass
    time.sleep(0.5)
print("slow readers: %d connections, %.1f MiB read in %.0f s" % (n, got / 2**20, secs))
PY

echo "phase (a): Zipf(0.8) replay over $objects objects of 1 MiB (${mib}0 MiB), ${secs} s, 32 connections"
start_servers a
for port in $EDGE $VARN; do wrk -t2 -c32 -d${secs}s -s "$work/zipf.lua" "http://127.0.0.1:$port" | grep -E 'Requests/sec'; done
printf "%-3s %-9s %8s %9s %9s %9s %15s\n" "" server "budget" "idle MiB" "peak MiB" "peak/bud" "(peak-idle)/bud"
report a streamcdn $edge_pid "$idle_edge"
report a varnish "$varn_pid" "$idle_varn"
stop_servers

echo "phase (b): 1,000 slow readers of 32 MiB objects, ${secs} s"
start_servers b
for port in $EDGE $VARN; do
  for i in $(seq 0 7); do curl -s -o /dev/null "http://127.0.0.1:$port/bench/large/$i.m4s"; done # stored first
  python3 "$work/slow.py" $port 1000 "$secs"
done
report b streamcdn $edge_pid "$idle_edge"
report b varnish "$varn_pid" "$idle_varn"
stop_servers
