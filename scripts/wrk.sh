# Sourced by the cache-hit benchmarks (bench-edge.sh, bench-gofloor.sh):
# one wrk script, one way of running it and reading its figures, one
# median, so that their figures are measured alike.

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

# wrk_run SCRIPT URL CONNS SECONDS prints "requests/s p99-ms" for wrk
# driving URL with SCRIPT over CONNS connections (one thread for one
# connection, else two); it fails if any answer was not 2xx.
wrk_run() {
  local out threads=2
  [ "$3" = 1 ] && threads=1
  out=$(wrk -t"$threads" -c"$3" -d"$4"s --latency -s "$1" "$2" 2>&1)
  if grep -q "Non-2xx" <<<"$out"; then echo "$2 c$3: $(grep Non-2xx <<<"$out")" >&2; return 1; fi
  awk '/Requests\/sec/ {r=$2}
    $1=="99%" {v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v); if(u=="us")v/=1000; if(u=="s")v*=1000; p=v}
    END {printf "%s %.2f\n", r, p}' <<<"$out"
}

# median prints the median of the space-separated numbers in $1.
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
