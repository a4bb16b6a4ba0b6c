#!/usr/bin/env bash
# DNS benchmark, side by side in one run: dnsperf on loopback against our
# server and against gdnsd (geoip plugin with a nets map, scripts/gdnsd/),
# the same geo + ECS question (a1105.kingcdn.com A with ECS 127.0.2.0/24),
# each answering region eu-west's cluster. Reports queries/s and queries
# per server CPU-second (the server's utime+stime from /proc).
# Needs dnsperf and gdnsd (apt-get install dnsperf gdnsd; stop the gdnsd
# service the package starts).
# With PERF=1, perf record samples each server during its rounds and the
# script prints samples per thousand queries and the share of them in the
# sendmmsg and recvmmsg system calls and in user space, and perf stat
# counts the recvmmsg, sendmmsg and epoll_pwait calls per thousand
# queries (needs perf: apt-get install linux-perf).
# dnsperf offers up to 500,000 queries/s (more than either answers); QPS=N
# offers N instead, to compare the two at one load. The script ends with
# the medians of the rounds.
# Usage: [PERF=1] [QPS=N] scripts/bench-dns.sh [SECONDS] [ROUNDS]   (default 10 s, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
"$work/streamcdn" dns --config cdndns/examples/kingcdn.yaml --listen 127.0.0.1:18953 --admin 127.0.0.1:18954 --log-level error &
ours=$!
pids+=("$ours")
cp -r scripts/gdnsd "$work/gdnsd"
gdnsd -c "$work/gdnsd" start >"$work/gdnsd.log" 2>&1 &
theirs=$!
pids+=("$theirs")
for port in 18953 18955; do
  for _ in $(seq 50); do
    dig +time=1 +tries=1 -p "$port" @127.0.0.1 +subnet=127.0.2.0/24 a1105.kingcdn.com +short | grep -q '^127.0.2.1$' && break
    sleep 0.2
  done
  dig +time=1 +tries=1 -p "$port" @127.0.0.1 +subnet=127.0.2.0/24 a1105.kingcdn.com +short | grep -q '^127.0.2.1$' ||
    { echo "server on port $port does not answer 127.0.2.1" >&2; cat "$work/gdnsd.log" >&2; exit 1; }
done
printf 'a1105.kingcdn.com A\n' > "$work/queries"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
run() { # name pid port
  local t0 t1 out qps completed cpu
  local rec=""
  if [[ ${PERF:-} == 1 ]]; then
    perf record -q -F 2000 -g -p "$2" -o "$work/perf.data" -- sleep "$secs" 2>/dev/null &
    rec=$!
    perf stat -x, -o "$work/perf.stat" -p "$2" \
      -e syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_epoll_pwait -- sleep "$secs" 2>/dev/null &
    rec="$rec $!"
  fi
  t0=$(ticks "$2")
  out=$(dnsperf -s 127.0.0.1 -p "$3" -d "$work/queries" -l "$secs" -c 8 -Q "${QPS:-500000}" -E 8:000118007f0002)
  t1=$(ticks "$2")
  qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
  completed=$(awk '/Queries completed/ {print $3}' <<<"$out")
  cpu=$(echo "($t1 - $t0) / $(getconf CLK_TCK)" | bc -l)
  grep -q "NOERROR" <<<"$out" || { echo "$1: answers were not NOERROR" >&2; echo "$out" >&2; exit 1; }
  local per
  per=$(echo "$completed / $cpu" | bc -l)
  printf '%s %s %s\n' "$1" "$qps" "$per" >>"$work/figures"
  printf '%-14s %9.0f queries/s  %9.0f queries per server CPU-second  (%.2f CPU-s, %s queries, latency %s s)\n' \
    "$1" "$qps" "$per" "$cpu" "$completed" "$(awk '/Average Latency/ {print $4}' <<<"$out")"
  if [[ -n $rec ]]; then
    wait $rec
    local samples calls
    samples=$(perf report -i "$work/perf.data" --stdio --no-children --sort pid -n -g none 2>/dev/null | awk '!/^#/ && NF {s += $2} END {print s}')
    calls=$(perf report -i "$work/perf.data" --stdio --children --sort symbol -g none 2>/dev/null |
      awk '/__x64_sys_sendmmsg/ {s = $1} /__x64_sys_recvmmsg/ {r = $1} END {print "sendmmsg " s ", recvmmsg " r}')
    calls+=", user space $(perf report -i "$work/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
      awk '!/^#/ && NF && !/kernel/ {u += $1} END {printf "%.1f%%", u}')"
    printf '%-14s perf: %.1f samples per thousand queries (%s samples); %s\n' "" "$(echo "$samples * 1000 / $completed" | bc -l)" "$samples" "$calls"
    printf '%-14s system calls per thousand queries: %s\n' "" "$(awk -F, -v q="$completed" \
      '$3 ~ /sys_enter_/ {sub(/.*sys_enter_/, "", $3); printf "%s%s %.1f", sep, $3, $1 * 1000 / q; sep = ", "}' "$work/perf.stat")"
  fi
}
for r in $(seq "$rounds"); do
  echo "round $r"
  run "streamcdn dns" "$ours" 18953
  run "gdnsd" "$theirs" 18955
done
# The medians over the rounds: one round's figures swing by a tenth or
# more on a small machine, as dnsperf and the server share its cores.
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for name in "streamcdn dns" gdnsd; do
  printf '%-14s median of %d rounds: %9.0f queries/s  %9.0f queries per server CPU-second\n' "$name" "$rounds" \
    "$(grep "^$name [0-9]" "$work/figures" | awk '{print $(NF-1)}' | median)" \
    "$(grep "^$name [0-9]" "$work/figures" | awk '{print $NF}' | median)"
done
ratio=$(paste <(grep '^streamcdn dns ' "$work/figures" | awk '{print $NF}') <(grep '^gdnsd ' "$work/figures" | awk '{print $NF}') |
  awk '{print $1 / $2}' | median)
printf 'per CPU-second, streamcdn / gdnsd: median of the rounds %.2f\n' "$ratio"
