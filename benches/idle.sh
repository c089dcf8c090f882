#!/usr/bin/env bash
# Token issuance with and without 1,000 idle keep-alive connections held open, measured with
# wrk (an independent load generator) and with `throng bench --idle`, against one release
# throng, alternating the two conditions round by round so noise hits both alike.
#
#   bash benches/idle.sh
#
# Needs a Rust toolchain, wrk (Debian: apt-get install wrk) and python3. Environment:
#   IDLE         idle connections held open            [1000]
#   ROUNDS       alternations                          [3]
#   DURATION     measured time per run (wrk -d)        [5s]
#   CONNECTIONS  busy keep-alive connections            [8]
# Every load runs for a bounded time; the server and the idle holder stop when the script exits.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
IDLE=${IDLE:-1000}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-8}
command -v wrk >/dev/null || { echo "benches/idle.sh needs wrk (apt-get install wrk)" >&2; exit 2; }

# The server and the holder each need a descriptor per idle connection, and some room.
ulimit -n $((IDLE * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. "$here/common.sh"
bench_setup idle
start_throng

# A service account for the load: its client id and secret, as Basic credentials.
account=$(curl -fs -u admin:bench-admin -H 'Content-Type: application/json' \
    -d '{"displayName":"idle bench","scopes":["APPLICATION"],"expiryDuration":86400}' \
    "$url/rest/service-accounts/latest/service-accounts")
basic=$(python3 -c 'import base64,json,sys; m=json.loads(sys.argv[1])["authMethods"][0]; print(base64.b64encode((m["clientId"] + ":" + m["clientSecret"]).encode()).decode())' "$account")
cat >"$work/issue.lua" <<EOF
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
EOF

# Holds IDLE keep-alive connections open, each after one request, until killed.
cat >"$work/hold.py" <<'EOF'
import signal, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /status HTTP/1.1\r\nHost: bench\r\n\r\n")
    if not s.recv(4096).startswith(b"HTTP/1.1 200"):
        sys.exit("an idle connection was refused")
    held.append(s)
print("holding", len(held), flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
EOF

wrk_issue() {
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/issue.lua" \
        "$url/rest/oauth2/latest/token" >"$work/wrk.txt"
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
    p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
    echo "$rps $p50 $p99"
}

echo "== wrk: issuance, $CONNECTIONS connections, $DURATION per run, $ROUNDS rounds" >&2
declare -a without with
for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 < <(wrk_issue)
    without+=("$rps")
    printf 'round %d  no idle      %10.0f req/s  p50 %-8s p99 %s\n' "$r" "$rps" "$p50" "$p99"
    python3 "$work/hold.py" "$port" "$IDLE" >"$work/hold.out" &
    holder=$!
    for _ in $(seq 600); do grep -q holding "$work/hold.out" 2>/dev/null && break; sleep 0.05; done
    grep -q holding "$work/hold.out" || { echo "the holder could not open $IDLE connections" >&2; exit 1; }
    read -r rps p50 p99 < <(wrk_issue)
    with+=("$rps")
    printf 'round %d  %d idle   %10.0f req/s  p50 %-8s p99 %s\n' "$r" "$IDLE" "$rps" "$p50" "$p99"
    kill "$holder"; wait "$holder" 2>/dev/null || true
done
python3 - "${without[*]}" "${with[*]}" "$IDLE" <<'EOF'
import sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
print(f"wrk: issuance with {sys.argv[3]} idle connections = {sum(b)/sum(a)*100:.1f}% of without "
      f"({sum(b)/len(b):.0f} vs {sum(a)/len(a):.0f} req/s)")
EOF

echo "== throng bench --idle $IDLE (interleaved in one run)" >&2
"$throng" bench --url "$url" --admin admin:bench-admin --scenarios ceiling,issue,validate \
    --idle "$IDLE" --rounds "$ROUNDS" --duration "$DURATION" --connections "$CONNECTIONS"
