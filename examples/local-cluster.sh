#!/usr/bin/env bash
# A local three-node Keel cluster on 127.0.0.1: clients on 7379-7381, raft on
# 7479-7481, data under ./data/nodeN. Ctrl-C stops all three cleanly; running
# it again finds the data again.
set -euo pipefail
keeld=${KEELD:-build/release/api/keeld}
data=${DATA:-data}
cluster="1=127.0.0.1:7479,2=127.0.0.1:7480,3=127.0.0.1:7481"
pids=()

stop() {
    trap - INT TERM
    echo
    echo "stopping the cluster..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "stopped; data kept in $data/"
    exit 0
}
trap stop INT TERM

mkdir -p "$data"
for i in 1 2 3; do
    "$keeld" --id "$i" --data-dir "$data/node$i" \
        --raft-addr "127.0.0.1:$((7478 + i))" --client-addr "127.0.0.1:$((7378 + i))" \
        --cluster "$cluster" 2>>"$data/node$i.log" &
    pids+=($!)
done

# Bounded wait for a leader.
for _ in $(seq 1 100); do
    for port in 7379 7380 7381; do
        if redis-cli -p "$port" ROLE 2>/dev/null | head -1 | grep -q master; then
            echo "Keel is up: three nodes, leader on 127.0.0.1:$port"
            echo "  endpoints: 127.0.0.1:7379 127.0.0.1:7380 127.0.0.1:7381 (any node serves)"
            echo "  logs:      $data/node{1,2,3}.log"
            echo "  try:       redis-cli -p 7379 SET hello world && redis-cli -p 7381 GET hello"
            echo "Ctrl-C stops the cluster."
            wait
            exit 0
        fi
    done
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "a node exited; see $data/node*.log" >&2; stop; }
    done
    sleep 0.1
done
echo "no leader after 10 s; see $data/node*.log" >&2
stop
