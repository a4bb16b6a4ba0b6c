#!/usr/bin/env bash
# DNS benchmark: dnsperf on loopback against our server, one geo + ECS
# name (a1105.kingcdn.com with ECS 127.0.2.0/24), reporting queries/s and
# queries per server CPU-second (the server's utime+stime from /proc).
# Needs dnsperf (apt-get install dnsperf). gdnsd side by side: to come.
# Usage: scripts/bench-dns.sh [SECONDS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
"$work/streamcdn" dns --config cdndns/examples/kingcdn.json --listen 127.0.0.1:18953 --admin 127.0.0.1:18954 --log-level error &
pid=$!
sleep 1
printf 'a1105.kingcdn.com A\n' > "$work/queries"
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
t0=$(ticks)
out=$(dnsperf -s 127.0.0.1 -p 18953 -d "$work/queries" -l "$secs" -c 8 -Q 500000 -E 8:000100187f0002)
t1=$(ticks)
qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
completed=$(awk '/Queries completed/ {print $3}' <<<"$out")
cpu=$(echo "($t1 - $t0) / $(getconf CLK_TCK)" | bc -l)
grep -E "Queries (sent|completed)|Response codes|Average Latency" <<<"$out"
printf 'streamcdn dns: %.0f queries/s, %.0f queries per server CPU-second (%.2f CPU-s for %s queries)\n' \
  "$qps" "$(echo "$completed / $cpu" | bc -l)" "$cpu" "$completed"
