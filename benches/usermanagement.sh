#!/usr/bin/env bash
# Authenticated usermanagement reads against the HTTP ceiling, measured with wrk (an
# independent load generator) and with `throng bench`, against one release throng:
#   ceiling   GET /status
#   bearer    GET /rest/usermanagement/1/user?username=admin with a service account's token
#   basic     the same read by an application with HTTP Basic (Jira's and python-crowd's way)
#   link      the same read by an application that authenticates with an incoming application
#             link: a bearer token of the link's client (Crowd 7.0's directory sync over OAuth)
# The three alternate round by round, so noise on a small machine hits all alike; the table
# gives each row's median and its median share of the ceiling (per round, then the median).
#
#   bash benches/usermanagement.sh
#
# Needs a Rust toolchain, wrk (Debian: apt-get install wrk) and python3. Environment:
#   ROUNDS       rounds                                [5]
#   DURATION     measured time per run (wrk -d)        [5s]
#   CONNECTIONS  keep-alive connections (wrk -t1 -c)   [8]
# Every load runs for a bounded time; the server stops when the script exits.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-8}
command -v wrk >/dev/null || { echo "benches/usermanagement.sh needs wrk (apt-get install wrk)" >&2; exit 2; }

. "$here/common.sh"
bench_setup um
start_throng

# A service account's token, and an application allowed from loopback.
account=$(curl -fs -u admin:bench-admin -H 'Content-Type: application/json' \
    -d '{"displayName":"um bench","scopes":["APPLICATION"],"expiryDuration":86400}' \
    "$url/rest/service-accounts/latest/service-accounts")
token=$(python3 - "$account" "$url" <<'PY'
import base64, json, sys, urllib.request
m = json.loads(sys.argv[1])["authMethods"][0]
basic = base64.b64encode((m["clientId"] + ":" + m["clientSecret"]).encode()).decode()
req = urllib.request.Request(sys.argv[2] + "/rest/oauth2/latest/token",
                             data=b"grant_type=client_credentials",
                             headers={"Authorization": "Basic " + basic})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)
curl -fs -o /dev/null -u admin:bench-admin -H 'Content-Type: application/json' \
    -d '{"name":"bench-app","type":"JIRA","active":true,"password":{"value":"bench-app-pw"},
         "directory-mappings":[{"directory-id":1,"authenticate-all":true}],
         "remote-addresses":[{"value":"127.0.0.1"}]}' \
    "$url/rest/appmanagement/1/application"
basic=$(printf 'bench-app:bench-app-pw' | base64)
# An incoming application link, an application that authenticates with it, and its token.
link=$(curl -fs -u admin:bench-admin -H 'Content-Type: application/json' \
    -d '{"name":"bench-link","direction":"INCOMING","redirectUrl":"http://127.0.0.1"}' \
    "$url/rest/admin/1.0/application-links")
curl -fs -o /dev/null -u admin:bench-admin -H 'Content-Type: application/json' \
    -d '{"name":"bench-link-app","type":"JIRA","active":true,"application-link":"bench-link",
         "directory-mappings":[{"directory-id":1,"authenticate-all":true}],
         "remote-addresses":[{"value":"127.0.0.1"}]}' \
    "$url/rest/appmanagement/1/application"
link_token=$(python3 - "$link" "$url" <<'PY'
import base64, json, sys, urllib.request
c = json.loads(sys.argv[1])["oauthClient"]
basic = base64.b64encode((c["clientId"] + ":" + c["clientSecret"]).encode()).decode()
req = urllib.request.Request(sys.argv[2] + "/rest/oauth2/latest/token",
                             data=b"grant_type=client_credentials",
                             headers={"Authorization": "Basic " + basic})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)
printf 'wrk.headers["Authorization"] = "Bearer %s"\nwrk.headers["Accept"] = "application/json"\n' \
    "$token" >"$work/bearer.lua"
printf 'wrk.headers["Authorization"] = "Basic %s"\nwrk.headers["Accept"] = "application/json"\n' \
    "$basic" >"$work/basic.lua"
printf 'wrk.headers["Authorization"] = "Bearer %s"\nwrk.headers["Accept"] = "application/json"\n' \
    "$link_token" >"$work/link.lua"
printf 'wrk.headers["Accept"] = "application/json"\n' >"$work/ceiling.lua"
user="$url/rest/usermanagement/1/user?username=admin"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$user")" = 200 ] ||
    { echo "the bearer read failed" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -u bench-app:bench-app-pw "$user")" = 200 ] ||
    { echo "the Basic read failed" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $link_token" "$user")" = 200 ] ||
    { echo "the application link's read failed" >&2; exit 1; }

run() { # script url -> "rps p50 p99"
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/$1.lua" "$2" >"$work/wrk.txt"
    if grep -q 'Non-2xx' "$work/wrk.txt"; then
        echo "$1: non-2xx answers" >&2; cat "$work/wrk.txt" >&2; exit 1
    fi
    echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
         "$(awk '$1=="50%" {print $2}' "$work/wrk.txt")" "$(awk '$1=="99%" {print $2}' "$work/wrk.txt")"
}

echo "== wrk -t1 -c$CONNECTIONS: $ROUNDS rounds of ceiling, bearer, basic, link; $DURATION each" >&2
: >"$work/rows"
for r in $(seq "$ROUNDS"); do
    for s in ceiling bearer basic link; do
        target=$user
        [ "$s" = ceiling ] && target="$url/status"
        read -r rps p50 p99 < <(run "$s" "$target")
        printf 'round %d  %-8s %10.0f req/s  p50 %-8s p99 %s\n' "$r" "$s" "$rps" "$p50" "$p99" >&2
        echo "$r $s $rps $p50 $p99" >>"$work/rows"
    done
done
python3 - "$work/rows" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    r, s, rps, p50, p99 = line.split()
    by.setdefault(s, {})[int(r)] = (float(rps), p50, p99)
print(f"{'wrk':<10}{'req/s (median)':>16}{'share of ceiling':>18}   p50 / p99 (median round)")
for s in ("ceiling", "bearer", "basic", "link"):
    rounds = by[s]
    med = statistics.median(v[0] for v in rounds.values())
    share = statistics.median(rounds[r][0] / by["ceiling"][r][0] for r in rounds)
    mid = min(rounds.values(), key=lambda v: abs(v[0] - med))
    print(f"{s:<10}{med:>16,.0f}{share * 100:>17.1f}%   {mid[1]} / {mid[2]}")
PY

echo "== throng bench (interleaved rounds)" >&2
"$throng" bench --url "$url" --admin admin:bench-admin --scenarios ceiling,validate,app-read \
    --rounds "$ROUNDS" --duration "$DURATION" --connections "$CONNECTIONS"
