#!/usr/bin/env bash
# Runs every test: gofmt, go mod tidy, go vet, golangci-lint, the race-enabled test suite (real ffmpeg,
# xmllint, dash.js and shaka-player in headless Chromium, the cache-tests.fyi
# suite against the edge, when present;
# with CI=true a missing tool fails the tests instead of skipping them),
# then each fuzz target for FUZZTIME (default 40000x: forty thousand
# inputs; a duration such as 10s also works).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=$(cd .. && pwd)/shared

# dash-check and the cache-tests suite run from temporary copies with
# their pinned npm dependencies.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${DASH_CHECK:-}" ] && command -v npm >/dev/null && [ -d "$shared/tools/dash-check" ]; then
  cp -r "$shared/tools/dash-check/." "$tmp/dash-check/"
  (cd "$tmp/dash-check" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  export DASH_CHECK="$tmp/dash-check/dash-check.js"
fi
if [ -z "${CACHE_TESTS:-}" ] && command -v npm >/dev/null; then
  cp -r edge/testdata/cache-tests/. "$tmp/cache-tests/"
  (cd "$tmp/cache-tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  export CACHE_TESTS="$tmp/cache-tests/node_modules/http-cache-tests"
fi

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt -l: $unformatted" >&2
  exit 1
fi
go mod tidy -diff
go vet ./...
# golangci-lint at a pinned version (fetched through the module proxy),
# with .golangci.yml: staticcheck, revive, errcheck, forbidigo and the
# rest of STYLE.md's gate. Zero findings.
go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...
start=$(date +%s)
status=0
go test -race -count=1 -timeout 20m ./... || status=$?
echo "go test -race ./...: $(( $(date +%s) - start )) s"
[ "$status" -eq 0 ] || exit "$status"
# Built with the race detector, h1 reads sockets by ordinary system
# calls (see internal/h1/sockread_race.go); its tests run once more
# without it, so that the raw reads the edge runs with are tested too.
go test -count=1 ./internal/h1

# A count, not a duration: with a duration, Go's fuzzing coordinator
# races its own deadline on a loaded machine and fails the target with
# "context deadline exceeded" and no failing input (seen in CI on
# FuzzParseTrace). 40,000 inputs take 1-30 s a target here.
fuzztime=${FUZZTIME:-40000x}
for target in internal/httpx:FuzzParseRange manifest:FuzzParse manifest:FuzzParseSidx \
    edge:FuzzParseDirectives edge:FuzzParseVary cdndns:FuzzServeDNS cdndns:FuzzServeUDP player:FuzzParseTrace player:FuzzParseVideo \
    player:FuzzCheckSegment internal/pushapi:FuzzParseContentDigest edge:FuzzParseFillRequest edge:FuzzPushUpload deploy:FuzzLoad \
    internal/httpx:FuzzParseDate edge:FuzzObjectFile manifest:FuzzParseSteeringManifest manifest:FuzzParseSteeringQuery \
    internal/dnsapi:FuzzDecode internal/h1:FuzzServe internal/h1:FuzzParseSimple; do
  pkg=${target%%:*} fn=${target#*:}
  # Minimizing a new input grown from a large seed (a whole trace) can
  # take the whole budget; a second of it keeps the fuzzer fuzzing.
  go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "./$pkg"
done
