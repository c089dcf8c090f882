#!/usr/bin/env bash
# SCIM provisioning measured with wrk (an independent load generator) beside
# `throng bench --scim`, against one release throng set up as part C sets it up (a SCIM
# directory, a client with an ES256 key granted it, a token from a client assertion):
#   create   POST /Users, a new userName each request (benches/scim-create.lua)
#   fill     the same for FILL seconds, to grow the directory
#   filter   GET /Users?filter=userName eq "…" for random names of those created
#            (benches/scim-filter.lua), beside GET /status
#
#   bash benches/scim.sh
#
# Needs a Rust toolchain, wrk (Debian: apt-get install wrk) and python3. Environment:
#   DURATION     measured time per run (wrk -d)      [4s]
#   CONNECTIONS  keep-alive connections (wrk -t1 -c)  [8]
#   FILL         seconds of creates before filtering  [60]
#   USERS        throng bench --scim's directory size [100000]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
DURATION=${DURATION:-4s}
CONNECTIONS=${CONNECTIONS:-8}
FILL=${FILL:-60}
USERS=${USERS:-100000}
command -v wrk >/dev/null || { echo "benches/scim.sh needs wrk (apt-get install wrk)" >&2; exit 2; }

. "$here/common.sh"
bench_setup scim
start_throng
read -r base token < <("$throng" bench --url "$url" --admin admin:bench-admin --scim-setup)

run() { # script target duration -> "rps p50 p99 non2xx"
    SCIM_TOKEN=$token wrk -t1 -c"$CONNECTIONS" -d"$3" --latency -s "$1" "$2" >"$work/wrk.txt"
    echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
         "$(awk '$1=="50%" {print $2}' "$work/wrk.txt")" "$(awk '$1=="99%" {print $2}' "$work/wrk.txt")" \
         "$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")"
}
count() {
    curl -fs -H "Authorization: Bearer $token" "$url$base/Users?count=0" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["totalResults"])'
}

echo "== wrk -t1 -c$CONNECTIONS" >&2
printf 'wrk.headers["Accept"] = "application/json"\n' >"$work/ceiling.lua"
sleep 5
read -r rps p50 p99 bad < <(SCIM_PREFIX=a run "$here/scim-create.lua" "$url$base/Users" "$DURATION")
printf '%-26s %8.0f req/s  p50 %-8s p99 %-8s non-2xx %s\n' "create" "$rps" "$p50" "$p99" "${bad:-0}"
before=$(count)
SCIM_PREFIX=b run "$here/scim-create.lua" "$url$base/Users" "${FILL}s" >/dev/null
created=$(count)
filled=$((created - before))
sleep 5
read -r rps p50 p99 bad < <(run "$work/ceiling.lua" "$url/status" "$DURATION")
printf '%-26s %8.0f req/s  p50 %-8s p99 %-8s\n' "ceiling GET /status" "$rps" "$p50" "$p99"
sleep 5
read -r rps p50 p99 bad < <(SCIM_USERS=$filled SCIM_BASE=$base run "$here/scim-filter.lua" "$url$base/Users" "$DURATION")
printf '%-26s %8.0f req/s  p50 %-8s p99 %-8s non-2xx %s  (%s users)\n' "filter userName eq" "$rps" "$p50" "$p99" "${bad:-0}" "$created"

echo "== throng bench --scim $USERS" >&2
"$throng" bench --scim "$USERS" --duration "$DURATION" --connections "$CONNECTIONS"
