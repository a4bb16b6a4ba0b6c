#!/usr/bin/env bash
# HTTPS against HTTP cache hits at the edge, in the same run: two edges in
# front of one origin on loopback, one plain and one with --tls-cert
# (an ECDSA P-256 certificate made here), both warmed, then wrk on each,
# interleaved, at 64 connections for 100 KiB and 1 MiB objects. Prints
# requests/s and p99 of each and the TLS version and cipher negotiated.
# Needs wrk and openssl.
# Usage: scripts/bench-tls.sh [SECONDS_PER_RUN] [ROUNDS]   (default 5 2)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5} rounds=${2:-2}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/streamcdn" ./cmd/streamcdn
mkdir -p "$work/titles/bench"
head -c 102400 /dev/urandom > "$work/titles/bench/100k.m4s"
head -c 1048576 /dev/urandom > "$work/titles/bench/1m.m4s"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
O=18940 PLAIN=18941 TLS=18942
"$work/streamcdn" origin --dir "$work/titles" --listen 127.0.0.1:$O --admin 127.0.0.1:18950 --log-level error & pids+=($!)
"$work/streamcdn" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$PLAIN --admin 127.0.0.1:18951 --log-level error & pids+=($!)
"$work/streamcdn" edge --upstream http://127.0.0.1:$O --listen 127.0.0.1:$TLS --admin 127.0.0.1:18952 --log-level error \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" & pids+=($!)
for url in http://127.0.0.1:$PLAIN https://127.0.0.1:$TLS; do
  for _ in $(seq 50); do curl -sk -o /dev/null "$url/bench/1m.m4s" && break; sleep 0.2; done
  for f in 100k 1m; do curl -sk -o /dev/null "$url/bench/$f.m4s"; curl -sk -o /dev/null "$url/bench/$f.m4s"; done
done
echo "TLS: $(curl -skv -o /dev/null https://127.0.0.1:$TLS/bench/100k.m4s 2>&1 | grep -o 'SSL connection using [^ ]* / [^ ]*' | head -1), ALPN: $(curl -skv --http2 -o /dev/null https://127.0.0.1:$TLS/bench/100k.m4s 2>&1 | grep -o 'ALPN: server accepted [^ ]*' | head -1)"
run() { # url -> "rps p99"
  wrk -t2 -c64 -d${secs}s --latency "$1" | awk '/Requests\/sec/ {r=$2} $1=="99%" {p=$2} END {print r, p}'
}
printf '%-6s %-7s %12s %10s\n' round object "requests/s" p99
for round in $(seq "$rounds"); do
  for f in 100k 1m; do
    read -r hr hp <<<"$(run http://127.0.0.1:$PLAIN/bench/$f.m4s)"
    read -r sr sp <<<"$(run https://127.0.0.1:$TLS/bench/$f.m4s)"
    printf '%-6s %-7s %12s %10s  http\n' "$round" "$f" "$hr" "$hp"
    printf '%-6s %-7s %12s %10s  https (%.2fx http)\n' "$round" "$f" "$sr" "$sp" "$(echo "$sr / $hr" | bc -l)"
  done
done
echo "(wrk -t2 -c64, ${secs}s a run, keep-alive: handshakes are amortised; HTTP/1.1 over TLS)"
