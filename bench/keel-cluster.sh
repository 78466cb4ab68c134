#!/usr/bin/env bash
# Start, stop or list a three-node Keel cluster for benchmarks (release
# build; clients on 7379-7381; data under $KEEL_BENCH_DATA, wiped at start).
#   bench/keel-cluster.sh start|stop|pids
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keeld=${KEELD:-$top/build/release/bin/keeld}
data=${KEEL_BENCH_DATA:-/tmp/keel-bench-data}
cluster="1=127.0.0.1:7479,2=127.0.0.1:7480,3=127.0.0.1:7481"
case "${1:-}" in
start)
    rm -rf "$data" && mkdir -p "$data"
    for i in 1 2 3; do
        "$keeld" --id "$i" --data-dir "$data/node$i" --raft-addr "127.0.0.1:$((7478 + i))" \
            --client-addr "127.0.0.1:$((7378 + i))" --cluster "$cluster" --log-level warn ${KEEL_BENCH_FLAGS:-} \
            2>>"$data/node$i.log" &
        echo $! >"$data/node$i.pid"
    done
    for _ in $(seq 1 100); do
        for port in 7379 7380 7381; do
            redis-cli -p "$port" ROLE 2>/dev/null | head -1 | grep -q master && exit 0
        done
        sleep 0.1
    done
    echo "no leader" >&2
    exit 1
    ;;
stop)
    for f in "$data"/node*.pid; do kill -TERM "$(cat "$f")" 2>/dev/null || true; done
    for f in "$data"/node*.pid; do
        pid=$(cat "$f")
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    ;;
pids) cat "$data"/node*.pid ;;
*) echo "usage: $0 start|stop|pids" >&2; exit 2 ;;
esac
