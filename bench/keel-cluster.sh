#!/usr/bin/env bash
# Start, stop or list a three-node Keel cluster for benchmarks (release
# build; clients on 7379-7381; data under $KEEL_BENCH_DATA, wiped at start).
#   bench/keel-cluster.sh start|stop|pids
# KEEL_BENCH_SECURE=1: TLS on the raft port (--tls-cluster yes) and a TLS
# client port on 7389-7391 (client certificates optional), certificates in
# $KEEL_BENCH_DATA/tls (examples/tls/make-certs.sh), and an ACL user bench
# (password $KEEL_BENCH_PASSWORD, default bench-pw) with ~* +@read +@write
# -@dangerous. The plaintext ports stay open without a password: the shared
# load generator (../shared/bench) speaks neither TLS nor AUTH.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keeld=${KEELD:-$top/build/release/bin/keeld}
data=${KEEL_BENCH_DATA:-/tmp/keel-bench-data}
cluster="1=127.0.0.1:7479,2=127.0.0.1:7480,3=127.0.0.1:7481"
secure=${KEEL_BENCH_SECURE:-0}
password=${KEEL_BENCH_PASSWORD:-bench-pw}
case "${1:-}" in
start)
    rm -rf "$data" && mkdir -p "$data"
    [ "$secure" = 1 ] && KEEL_CERT_IP=127.0.0.1 "$top/examples/tls/make-certs.sh" "$data/tls" 1 2 3 client:bench
    for i in 1 2 3; do
        tls=()
        [ "$secure" = 1 ] && tls=(--tls-cluster yes --tls-port $((7388 + i)) --tls-cert-file "$data/tls/member-$i.crt"
                                  --tls-key-file "$data/tls/member-$i.key" --tls-ca-cert-file "$data/tls/ca.crt"
                                  --tls-auth-clients optional)
        "$keeld" --id "$i" --data-dir "$data/node$i" --raft-addr "127.0.0.1:$((7478 + i))" \
            --client-addr "127.0.0.1:$((7378 + i))" --cluster "$cluster" --log-level warn "${tls[@]}" \
            ${KEEL_BENCH_FLAGS:-} 2>>"$data/node$i.log" &
        echo $! >"$data/node$i.pid"
    done
    for _ in $(seq 1 100); do
        for port in 7379 7380 7381; do
            if redis-cli -p "$port" ROLE 2>/dev/null | head -1 | grep -q master; then
                [ "$secure" = 1 ] || exit 0
                redis-cli -p "$port" ACL SETUSER bench on ">$password" '~*' '+@read' '+@write' '-@dangerous' >/dev/null
                echo "TLS + ACL: REDISCLI_AUTH=... redis-cli --tls --cacert $data/tls/ca.crt --user bench -p 7389" >&2
                exit 0
            fi
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
