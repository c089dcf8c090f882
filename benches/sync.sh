#!/usr/bin/env bash
# Directory sync over OAuth 2.0 between two throngs on loopback: `throng bench --sync`'s table
# (B's full and incremental syncs of A's directory, B's peak RSS), then the same pair of
# servers measured from outside with curl, so the figures rest on more than throng's own
# client: a full sync, and an incremental one after 100 users are added on A.
#
#   bash benches/sync.sh            USERS (10000) and ROUNDS (5) in the environment
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/benches/common.sh"
bench_setup sync
USERS=${USERS:-10000}
ROUNDS=${ROUNDS:-5}

echo "== building throng (release)" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
hold="$work/hold"
"$root/target/release/throng" bench --sync "$USERS" --rounds "$ROUNDS" --hold "$hold" &
pids+=($!)
while [ ! -s "$hold" ]; do
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "throng bench --sync failed" >&2; exit 1; }
    sleep 0.1
done
read -r A B DIR B_PID < "$hold"
PW=bench-admin-password
sync_call() { # sync_call MODE → seconds, as curl measures the call
    curl -sS -o "$work/sync.json" -w '%{time_total}' -u "admin:$PW" -X POST \
        "$B/rest/admin/1.0/directory/detailed/$DIR/synchronize?wait=true&mode=$1"
    grep -q '"state":"SUCCEEDED"' "$work/sync.json" || { cat "$work/sync.json" >&2; exit 1; }
}

full=$(sync_call full)
curl -sS -o /dev/null -u "admin:$PW" -H 'Content-Type: application/json' \
    -d '{"name":"curl-bench","type":"GENERIC_APPLICATION","active":true,"password":{"value":"curl-bench-pw"},
         "directory-mappings":[{"directory-id":1,"authenticate-all":true,"allowed-operations":["CREATE_USER"]}],
         "remote-addresses":[{"value":"127.0.0.1"}]}' "$A/rest/appmanagement/1/application"
for i in $(seq 100); do
    curl -sS -o /dev/null -u curl-bench:curl-bench-pw -H 'Content-Type: application/json' \
        -d "{\"name\":\"curl-$i\",\"active\":true,\"password\":{\"value\":\"curl-password\"}}" \
        "$A/rest/usermanagement/1/user"
done
incremental=$(sync_call auto)
grep -q '"mode":"INCREMENTAL"' "$work/sync.json" || { cat "$work/sync.json" >&2; exit 1; }
rss=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$B_PID/status")
rm -f "$hold"
wait "${pids[-1]}" || true

echo
echo "curl, on the same pair:"
printf '%-44s %10s %10s\n' "measurement" "result" "target"
printf '%-44s %8.2f s %10s\n' "full sync (nothing to change)" "$full" ""
printf '%-44s %7.0f ms %10s\n' "incremental after 100 users added" "$(awk "BEGIN {print $incremental * 1000}")" "≤ 1 s"
printf '%-44s %6s MiB %10s\n' "B (syncing side) peak RSS, whole run" "$rss" "≤ 128 MiB"
