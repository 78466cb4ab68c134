#!/usr/bin/env bash
# What TLS costs Keel's throughput, same machine, same run: a three-node
# cluster (bench/keel-cluster.sh) without TLS, then with TLS between members
# and on the client port (KEEL_BENCH_SECURE=1, clients as ACL user bench),
# each loaded with redis-benchmark (Debian's redis-tools, which speaks TLS
# and AUTH) on the leader: SET and GET of 256-byte values from CLIENTS
# connections. Prints a Markdown table (requests per second, p50 latency).
#   CLIENTS=64 REQUESTS=100000 bench/tls_cost.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${KEELD:-}" ] || make -C "$top" release >/dev/null
clients=${CLIENTS:-64} requests=${REQUESTS:-100000}
data=${KEEL_BENCH_DATA:-/tmp/keel-bench-data}
export KEEL_BENCH_DATA=$data KEEL_BENCH_PASSWORD=${KEEL_BENCH_PASSWORD:-bench-pw}
leader_index() { # the cluster's leader: 1, 2 or 3
    for i in 1 2 3; do
        redis-cli -p $((7378 + i)) ROLE 2>/dev/null | head -1 | grep -q master && { echo "$i"; return; }
    done
    echo 0
}
# "SET rps p50 GET rps p50" from redis-benchmark --csv
measure() {
    redis-benchmark "$@" -t set,get -c "$clients" -n "$requests" -d 256 -r 100000 --csv 2>/dev/null |
        awk -F, '{ gsub(/"/, "") } $1 == "SET" || $1 == "GET" { printf "%s %s %s ", $1, $2, $5 }'
}
rows=()
for mode in off on; do
    KEEL_BENCH_SECURE=$([ $mode = on ] && echo 1 || echo 0) "$top/bench/keel-cluster.sh" start 2>/dev/null
    i=$(leader_index)
    [ "$i" != 0 ] || { "$top/bench/keel-cluster.sh" stop; echo "no leader" >&2; exit 1; }
    if [ $mode = off ]; then
        r=$(measure -p $((7378 + i)))
    else
        r=$(REDISCLI_AUTH=$KEEL_BENCH_PASSWORD measure --tls --cacert "$data/tls/ca.crt" --user bench \
            -a "$KEEL_BENCH_PASSWORD" -p $((7388 + i)))
    fi
    "$top/bench/keel-cluster.sh" stop
    rows+=("$mode $r")
done
echo "| TLS (raft + client ports) | SET req/s | SET p50 ms | GET req/s | GET p50 ms |"
echo "|---|---|---|---|---|"
for row in "${rows[@]}"; do
    set -- $row
    echo "| $1 | $3 | $4 | $6 | $7 |"
done
set -- ${rows[0]}; off_set=$3 off_get=$6
set -- ${rows[1]}; on_set=$3 on_get=$6
awk -v a="$off_set" -v b="$on_set" -v c="$off_get" -v d="$on_get" \
    'BEGIN { printf "TLS costs %.1f%% of SET and %.1f%% of GET throughput at '"$clients"' clients\n", (1 - b / a) * 100, (1 - d / c) * 100 }'
