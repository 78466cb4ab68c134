#!/bin/sh
# bench: RTO of leader crashes, measured with the product's own drill.
#
#   bench/drill_rto.sh [ROUNDS] [KEELD FLAGS...]
#
# Starts three keeld (release build) on 127.0.0.1 with --enable-drills, runs
# `keelctl drill leader-crash` ROUNDS times (default 20), restarting the
# crashed node after each round as a supervisor would, and prints each
# round's time to a new leader and RTO, then median and worst. Everything it
# starts is stopped by pid on exit.
set -eu
ROUNDS=${1:-20}
[ $# -gt 0 ] && shift
FLAGS="$*"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEELD=${KEELD:-$ROOT/build/release/bin/keeld}
KEELCTL=${KEELCTL:-$ROOT/build/release/bin/keelctl}
DIR=$(mktemp -d /tmp/keel-drill-rto.XXXXXX)
BASE=${BASE_PORT:-27100}
CLUSTER="1=127.0.0.1:$((BASE + 11)),2=127.0.0.1:$((BASE + 12)),3=127.0.0.1:$((BASE + 13))"
EPS="127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 3))"
PIDS=""

start() {
    "$KEELD" --id "$1" --data-dir "$DIR/n$1" --raft-addr "127.0.0.1:$((BASE + 10 + $1))" \
        --client-addr "127.0.0.1:$((BASE + $1))" --cluster "$CLUSTER" --enable-drills $FLAGS \
        >>"$DIR/n$1.log" 2>&1 &
    eval "PID$1=$!"
}
stop_all() {
    for i in 1 2 3; do
        eval "p=\${PID$i:-}"
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap stop_all EXIT INT TERM

for i in 1 2 3; do start "$i"; done
# A bounded wait for a healthy cluster.
healthy() {
    n=0
    until "$KEELCTL" --endpoints "$EPS" health >/dev/null 2>&1; do
        n=$((n + 1)); [ $n -gt 200 ] && { echo "cluster not healthy" >&2; exit 1; }
        sleep 0.1
    done
}
healthy
: >"$DIR/results"
r=1
while [ $r -le "$ROUNDS" ]; do
    out=$("$KEELCTL" --endpoints "$EPS" --json drill leader-crash --duration 2 --settle 10 || true)
    leader=$(echo "$out" | sed -n 's/.*"time_to_leader_ms": \([0-9-]*\).*/\1/p')
    rto=$(echo "$out" | sed -n 's/.*"rto_ms": \([0-9-]*\).*/\1/p')
    lost=$(echo "$out" | sed -n 's/.*"rpo_lost": \([0-9-]*\).*/\1/p')
    echo "round $r: new leader ${leader} ms, RTO ${rto} ms, lost ${lost}"
    echo "$rto $leader $lost" >>"$DIR/results"
    for i in 1 2 3; do
        eval "p=\$PID$i"
        kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; start "$i"; }
    done
    healthy
    r=$((r + 1))
done
sort -n "$DIR/results" | awk '{ rto[NR] = $1; lost += $3 } END {
    printf "rounds %d: RTO median %d ms, worst %d ms, best %d ms; acknowledged writes lost: %d\n",
        NR, rto[int((NR + 1) / 2)], rto[NR], rto[1], lost }'
