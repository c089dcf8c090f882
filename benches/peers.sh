#!/usr/bin/env bash
# Side by side: throng against oidc-provider and oauth2-mock-server (npm), all on loopback, in
# one run, under the same load from `throng bench`, printed as one table with the ratios.
#
#   bash benches/peers.sh
#
# Needs a Rust toolchain, Node.js and npm (the npm packages are pinned in
# benches/peers/package.json and installed into benches/peers/node_modules). Environment:
#   DURATION     measured time per scenario        [5s]
#   WARMUP       unmeasured time before each       [1s]
#   CONNECTIONS  keep-alive connections            [8]
#   ROUNDS       rounds per server, added up       [1]
# Every load runs for a bounded time; every peer is stopped when the script exits.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
peers="$here/peers"
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-8}
ROUNDS=${ROUNDS:-1}
CLIENT_ID=bench-client
CLIENT_SECRET=bench-secret-0123456789abcdef0123456789abcdef

work=$(mktemp -d "${TMPDIR:-/tmp}/throng-peers.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building throng (release)" >&2
(cd "$root" && cargo build --release --quiet)
throng="$root/target/release/throng"

echo "== installing the peers from npm" >&2
if [[ -f "$peers/package-lock.json" ]]; then
    (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error) >&2
else
    (cd "$peers" && npm install --no-audit --no-fund --loglevel=error) >&2
fi

# A free loopback port: the kernel picks one, node reports it and lets it go.
free_port() {
    node -e 'const s = require("net").createServer();
             s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# start_peer NAME SCRIPT PORT ARGS...: starts it in the background and waits (at most 30 s)
# until it answers HTTP on the port.
start_peer() {
    local name=$1 script=$2 port=$3
    shift 3
    (cd "$peers" && exec node "$script" "$port" "$@") >"$work/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local deadline=$((SECONDS + 30))
    until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited before answering:" >&2
            cat "$work/$name.log" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "$name did not answer on 127.0.0.1:$port within 30 s:" >&2
            cat "$work/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "== $name: $(grep -m1 'listening on' "$work/$name.log" || echo "listening on http://127.0.0.1:$port") (pid $pid)" >&2
}

stop_peer() {
    local pid=${pids[-1]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'pids[-1]'
}

load=(--tsv --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" --rounds "$ROUNDS")
tsv="$work/rows.tsv"
: >"$tsv"
failed=()

# throng first, on its own temp data directory (the bench starts and stops it).
echo "== throng: ceiling, issue" >&2
if ! "$throng" bench --scenarios ceiling,issue --name throng "${load[@]}" >>"$tsv"; then
    failed+=(throng)
fi

# peer NAME SCRIPT ARGS...: one peer, started just for its run and stopped after it, so the
# others run on a quiet machine.
peer() {
    local name=$1 script=$2
    shift 2
    local port
    port=$(free_port)
    if ! start_peer "$name" "$script" "$port" "$@"; then
        failed+=("$name")
        return 0
    fi
    echo "== $name: issue" >&2
    if ! "$throng" bench --scenarios issue --name "$name" --url "http://127.0.0.1:$port" \
        --client "$CLIENT_ID:$CLIENT_SECRET" --token-path /token "${load[@]}" >>"$tsv"; then
        echo "$name: the bench failed; its log:" >&2
        cat "$work/$name.log" >&2
        failed+=("$name")
    fi
    stop_peer
}

peer oidc-provider oidc-provider.mjs "$CLIENT_ID" "$CLIENT_SECRET"
peer oauth2-mock-server oauth2-mock-server.mjs

# One table. TSV columns: name, scenario, req/s, p50, p90, p99, max (ms), errors.
echo >&2
echo "$DURATION per scenario after $WARMUP warm-up, $CONNECTIONS keep-alive connections, $ROUNDS round(s), $(nproc) CPUs, load generator on the same machine"
echo
awk -F'\t' -v failed="${failed[*]:-}" '
    { name[NR] = $1; scen[NR] = $2; rps[NR] = $3; p50[NR] = $4; p99[NR] = $6; err[NR] = $8
      if ($1 == "throng" && $2 == "issue") base = $3
      if ($1 == "throng" && $2 == "ceiling") ceiling = $3 }
    END {
        printf "%-20s %-9s %10s %9s %9s %7s %15s\n", "server", "scenario", "tokens/s", "p50 ms", "p99 ms", "errors", "throng ÷ this"
        for (i = 1; i <= NR; i++) {
            ratio = ""
            if (scen[i] == "issue" && base != "" && rps[i] > 0) ratio = sprintf("%.1f×", base / rps[i])
            if (scen[i] == "ceiling") ratio = "(GET /status)"
            printf "%-20s %-9s %10d %9.3f %9.3f %7d %15s\n", name[i], scen[i], rps[i], p50[i], p99[i], err[i], ratio
        }
        n = split(failed, f, " ")
        for (i = 1; i <= n; i++) printf "%-20s %-9s %10s\n", f[i], "issue", "FAILED"
        if (base != "" && ceiling > 0) printf "\nthrong issue = %.0f%% of its own ceiling\n", 100 * base / ceiling
    }' "$tsv"

if ((${#failed[@]})); then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
