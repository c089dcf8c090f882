# Shared by the shell benchmarks (source it after setting `root`): a work directory removed on
# exit with every process started, a release build, and a throng started on a free loopback
# port. Every process the scripts start goes into `pids`, and is stopped when they exit.

# bench_setup NAME: makes $work and installs the cleanup.
bench_setup() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/throng-$1.XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}

# start_throng [ARGS…]: builds release throng ($throng), starts it with admin password
# bench-admin and ARGS on a free port ($port, $url), data in $work/data, log in
# $work/server.log; waits until it answers.
start_throng() {
    echo "== building throng (release)" >&2
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    throng="$root/target/release/throng"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    url="http://127.0.0.1:$port"
    THRONG_ADMIN_PASSWORD=bench-admin "$throng" serve --listen "127.0.0.1:$port" --data "$work/data" \
        "$@" 2>"$work/server.log" &
    pids+=($!)
    local _
    for _ in $(seq 200); do
        curl -fs -o /dev/null "$url/status" && return 0
        sleep 0.05
    done
    echo "throng did not answer on $url; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
}
