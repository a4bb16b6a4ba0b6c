#!/usr/bin/env bash
# Push benchmark on loopback. TITLES copies of the built-in sample (4.3 MB
# each, 65 objects) on one origin are pushed, in one `streamcdn push
# --popular` run, into the pinned area of one edge (on this machine's
# disk, fsync per object):
#   1. with no rate cap: fill throughput in GB per minute, beside `cp -r`
#      of the same files plus `sync` into the same filesystem (the disk's
#      own ceiling for these files);
#   2. with --rate caps (RATES, default 50Mbit 100Mbit 200Mbit: below the
#      uncapped rate, so that the cap binds): the rate reached against the
#      cap, from the bytes the push reports and the command's wall time
#      (its start-up and demand query included, so slightly understated);
# then 3. runs `streamcdn demo --mode all`: origin requests and bytes for
# the built-in topology's 6 players in pull, push and hybrid modes, side
# by side.
# Usage: scripts/bench-push.sh   (TITLES=20 RATES="50Mbit 100Mbit 200Mbit")
set -euo pipefail
cd "$(dirname "$0")/.."
titles=${TITLES:-20}
rates=${RATES:-50Mbit 100Mbit 200Mbit}
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
bin=$work/streamcdn
"$bin" package -sample -o "$work/titles/t1" >/dev/null
for i in $(seq 2 "$titles"); do cp -r "$work/titles/t1" "$work/titles/t$i"; done
bytes=$(find "$work/titles" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
echo "== $titles titles, $bytes bytes"
export STREAMCDN_ADMIN_TOKEN=bench-token
"$bin" origin --dir "$work/titles" --listen 127.0.0.1:18960 --admin 127.0.0.1:18961 --log-level error & pids+=($!)
sleep 0.5
for i in $(seq 1 "$titles"); do curl -s -o /dev/null http://127.0.0.1:18960/t$i/manifest.mpd; done # demand: one play each

run_edge() { # $1: name, $2: admin port
  "$bin" edge --upstream http://127.0.0.1:18960 --listen 127.0.0.1:0 --admin 127.0.0.1:"$2" \
    --pinned "$work/pinned-$1" --pinned-size 10GiB --mode push --log-level error & pids+=($!)
  sleep 0.5
}
push_all() { # $1: admin port, then push flags
  local port=$1; shift
  local start end
  start=$(date +%s.%N)
  "$bin" push --popular "$titles" --since 1h --origin-admin http://127.0.0.1:18961 --origin http://127.0.0.1:18960 \
    --edge http://127.0.0.1:"$port" --no-progress "$@" > "$work/push.out"
  end=$(date +%s.%N)
  # Body bytes the edge received: the sum of the summaries' bytes column.
  pushed=$(awk '$1 ~ /^http:/ && NF >= 8 {s += $6} END {print s + 0}' "$work/push.out")
  echo "$start $end $pushed"
}

run_edge nocap 18970
read -r s e pushed < <(push_all 18970)
[ "$pushed" = "$bytes" ] || echo "  pushed $pushed bytes, the titles hold $bytes"
echo "push, no cap: $(awk -v b="$pushed" -v s="$s" -v e="$e" 'BEGIN{printf "%.2f s, %.2f GB/min (%.0f Mbit/s)", e-s, b/(e-s)*60/1e9, b*8/(e-s)/1e6}')"
grep -c ' 65 .* 0 .* 0 .* 0 ' "$work/push.out" | sed 's/^/  titles complete: /'

s=$(date +%s.%N); cp -r "$work/titles" "$work/cp-copy"; sync; e=$(date +%s.%N)
echo "cp -r + sync, same files: $(awk -v b="$bytes" -v s="$s" -v e="$e" 'BEGIN{printf "%.2f s, %.2f GB/min (%.0f Mbit/s)", e-s, b/(e-s)*60/1e9, b*8/(e-s)/1e6}')"

port=18971
for rate in $rates; do
  run_edge "cap$port" $port
  read -r s e pushed < <(push_all $port --rate "$rate")
  cap=$(awk -v r="$rate" 'BEGIN{ v=r; sub(/[A-Za-z]+$/,"",v); u=tolower(r); m=1; if (u ~ /gbit$/) m=1e9; else if (u ~ /mbit$/) m=1e6; else if (u ~ /kbit$/) m=1e3; print v*m }')
  echo "push, --rate $rate: $(awk -v b="$pushed" -v s="$s" -v e="$e" -v c="$cap" 'BEGIN{r=b*8/(e-s); printf "%.2f s, %.1f Mbit/s: %.1f%% of the cap", e-s, r/1e6, 100*r/c}')"
  port=$((port+1))
done

echo "== demo --mode all (6 players, speed 4)"
"$bin" demo --mode all --admin 127.0.0.1:0 --duration 180s | sed -n '/== modes compared/,/^$/p'
