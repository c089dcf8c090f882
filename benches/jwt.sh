#!/usr/bin/env bash
# private_key_jwt issuance against the HTTP ceiling, measured with wrk (an independent load
# generator) and with `throng bench`, against one release throng:
#   ceiling    GET /status
#   jwt-rs256  POST /rest/oauth2/latest/token with a fresh RS256 client assertion each time
#   jwt-es256  the same with ES256
# Every assertion is single-use, so each wrk run gets its own file of token requests, signed
# before it (`throng bench --jwt-out`) and sent in turn by benches/jwt.lua; a run that used
# them all up would replay them and get 401s, which fail the script. The rows alternate round
# by round; the table gives each row's median and its median share of the ceiling.
#
#   bash benches/jwt.sh
#
# Needs a Rust toolchain, wrk (Debian: apt-get install wrk) and python3. Environment:
#   ROUNDS       rounds                                         [3]
#   DURATION     measured time per run (wrk -d)                 [2s]
#   CONNECTIONS  keep-alive connections (wrk -t1 -c)            [8]
#   POOL         assertions signed per run; must outlast it     [120000]
#   DURABILITY   the server's --replay-durability (os or disk)  [os]
#   REST         idle time before each run                      [8s]
# The rest matters on our VMs: after a run of issuance the next run's ceiling measured up to
# a third lower for several seconds (the server itself idle), which would flatter the ratio.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-2s}
CONNECTIONS=${CONNECTIONS:-8}
POOL=${POOL:-120000}
DURABILITY=${DURABILITY:-os}
REST=${REST:-8s}
command -v wrk >/dev/null || { echo "benches/jwt.sh needs wrk (apt-get install wrk)" >&2; exit 2; }

. "$here/common.sh"
bench_setup jwt
# Every assertion of the run is remembered for its lifetime (5 min): room for all of them.
start_throng --replay-durability "$DURABILITY" --max-live-assertions 5000000

run() { # scenario -> "rps p50 p99"
    local script=() target="$url/status"
    if [ "$1" != ceiling ]; then
        echo "   signing $POOL assertions for $1 (not timed)" >&2
        account=$("$throng" bench --url "$url" --admin admin:bench-admin --scenarios "$1" \
            --jwt-pool "$POOL" --jwt-out "$work/forms.txt")
        script=(-s "$here/jwt.lua")
        target="$url/rest/oauth2/latest/token"
    fi
    sleep "${REST%s}"
    FORMS="$work/forms.txt" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "${script[@]}" \
        "$target" >"$work/wrk.txt"
    # The account holds the repository's public test key (RS256): archive it.
    [ "$1" = ceiling ] || curl -fs -o /dev/null -u admin:bench-admin -X DELETE \
        "$url/rest/service-accounts/latest/service-accounts/$account"
    if grep -q 'Non-2xx' "$work/wrk.txt"; then
        echo "$1: non-2xx answers (too few assertions for the run? raise POOL)" >&2
        cat "$work/wrk.txt" >&2; exit 1
    fi
    echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
         "$(awk '$1=="50%" {print $2}' "$work/wrk.txt")" "$(awk '$1=="99%" {print $2}' "$work/wrk.txt")"
}

echo "== wrk -t1 -c$CONNECTIONS: $ROUNDS rounds of ceiling, jwt-rs256, jwt-es256; $DURATION each; replay durability $DURABILITY" >&2
: >"$work/rows"
for r in $(seq "$ROUNDS"); do
    for s in ceiling jwt-rs256 jwt-es256; do
        read -r rps p50 p99 < <(run "$s")
        printf 'round %d  %-10s %10.0f req/s  p50 %-8s p99 %s\n' "$r" "$s" "$rps" "$p50" "$p99" >&2
        echo "$r $s $rps $p50 $p99" >>"$work/rows"
    done
done
python3 - "$work/rows" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    r, s, rps, p50, p99 = line.split()
    by.setdefault(s, {})[int(r)] = (float(rps), p50, p99)
print(f"{'wrk':<11}{'req/s (median)':>16}{'share of ceiling':>18}   p50 / p99 (median round)")
for s in ("ceiling", "jwt-rs256", "jwt-es256"):
    rounds = by[s]
    med = statistics.median(v[0] for v in rounds.values())
    share = statistics.median(rounds[r][0] / by["ceiling"][r][0] for r in rounds)
    mid = min(rounds.values(), key=lambda v: abs(v[0] - med))
    print(f"{s:<11}{med:>16,.0f}{share * 100:>17.1f}%   {mid[1]} / {mid[2]}")
PY

echo "== throng bench (interleaved rounds)" >&2
"$throng" bench --url "$url" --admin admin:bench-admin --scenarios ceiling,jwt-rs256,jwt-es256 \
    --rounds "$ROUNDS" --duration "$DURATION" --warmup 200ms --connections "$CONNECTIONS" \
    --jwt-pool "$POOL" --rest "$REST"
echo
echo "live assertions remembered against replay at the end: see $work/data/replay.journal"
ls -l "$work/data/replay.journal" | awk '{print "replay journal: " $5 " bytes"}'
