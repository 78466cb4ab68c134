#!/usr/bin/env bash
# One row per data type at CLIENTS connections (issue 15's benchmark rows):
# SET, SADD, LPUSH, RPOP, ZADD (and ZPOPMIN) with redis-benchmark (Debian's
# redis-tools) against Keel's leader (bench/keel-cluster.sh: three release
# nodes on this machine) and, same run, against one Redis 7 with
# appendfsync always (the durable setting closest to Keel's promise).
# redis-benchmark's own keys: SADD and ZADD add random members (-r) to one
# set or sorted set, LPUSH and RPOP push to and pop from one list, SET writes
# random keys. Prints a Markdown table (requests per second, p50 and p99 ms).
# Run it on a quiet machine (no build or test beside it).
#   CLIENTS=64 REQUESTS=50000 bench/types.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${KEELD:-}" ] || make -C "$top" release >/dev/null
clients=${CLIENTS:-64} requests=${REQUESTS:-50000}
tests=set,sadd,lpush,rpop,zadd,zpopmin
data=${KEEL_BENCH_DATA:-/tmp/keel-bench-data}
export KEEL_BENCH_DATA=$data
redis_port=${REDIS_PORT:-7399}
leader_port() {
    for i in 1 2 3; do
        redis-cli -p $((7378 + i)) ROLE 2>/dev/null | head -1 | grep -q master && { echo $((7378 + i)); return; }
    done
    echo 0
}
# "NAME rps p50 p99" per test from redis-benchmark --csv
measure() {
    redis-benchmark -p "$1" -t "$tests" -c "$clients" -n "$requests" -d 256 -r 10000 --csv 2>/dev/null |
        awk -F, '{ gsub(/"/, "") } NR > 1 { printf "%s %s %s %s\n", $1, $2, $5, $7 }'
}
"$top/bench/keel-cluster.sh" start 2>/dev/null
trap '"$top/bench/keel-cluster.sh" stop >/dev/null 2>&1 || true' EXIT
port=0
for _ in $(seq 1 100); do port=$(leader_port); [ "$port" != 0 ] && break; sleep 0.1; done
[ "$port" != 0 ] || { echo "no leader" >&2; exit 1; }
keel=$(measure "$port")
"$top/bench/keel-cluster.sh" stop
rdir=$(mktemp -d)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$rdir" --appendonly yes --appendfsync always \
    --save '' --daemonize yes --pidfile "$rdir/redis.pid" --logfile "$rdir/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$redis_port" PING >/dev/null 2>&1 && break; sleep 0.1; done
redis=$(measure "$redis_port")
kill "$(cat "$rdir/redis.pid")"
rm -rf "$rdir"
echo "| command ($clients clients) | Keel req/s | Keel p50 / p99 ms | Redis (fsync always) req/s | Redis p50 / p99 ms | Keel / Redis |"
echo "|---|---|---|---|---|---|"
while read -r name rps p50 p99; do
    set -- $(echo "$redis" | awk -v n="$name" '$1 == n { print $2, $3, $4 }')
    awk -v n="$name" -v a="$rps" -v b="$p50" -v c="$p99" -v d="${1:-0}" -v e="${2:-0}" -v f="${3:-0}" \
        'BEGIN { printf "| %s | %d | %s / %s | %d | %s / %s | %.2fx |\n", n, a, b, c, d, e, f, d > 0 ? a / d : 0 }'
done <<<"$keel"
