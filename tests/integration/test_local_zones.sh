#!/usr/bin/env bash
# tests/integration: examples/local-cluster.sh --zones 3 --nodes 5, the
# multi-zone layout on one machine: five nodes come up in zones dc1..dc3,
# cross-zone raft traffic really goes through keel-relay (its route counters
# at exit), a zone-loss drill on it loses no acknowledged write, and Ctrl-C
# (SIGTERM here: a background job ignores SIGINT) stops every process it
# started. Timings are not asserted. Bounded waits only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${KEELD:?}" "${KEELCTL:?}" "${KEEL_RELAY:?}"
DIR=$(mktemp -d /tmp/keel-zones.XXXXXX)
# Ports below the kernel's ephemeral range (where the other tests' ports
# come from), checked unused (nothing accepts on them).
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
    CP=$((10000 + RANDOM % 19000)) RP=$((CP + 100)) busy=""
    for p in $(seq "$CP" $((CP + 4))) $(seq "$RP" $((RP + 4))); do in_use "$p" && busy=1; done
    [ -z "$busy" ] && break
done
script_pid=""
cleanup() {
    if [ -n "$script_pid" ] && kill -0 "$script_pid" 2>/dev/null; then
        kill -TERM "$script_pid"; wait "$script_pid" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    cat "$DIR/out" >&2 || true
    for f in "$DIR"/data/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done
    exit 1
}

KEELD=$KEELD KEEL_RELAY=$KEEL_RELAY DATA=$DIR/data CLIENT_PORT=$CP RAFT_PORT=$RP \
    "$ROOT/examples/local-cluster.sh" --zones 3 --nodes 5 --zone-latency 20 >"$DIR/out" 2>&1 &
script_pid=$!
for _ in $(seq 1 200); do
    grep -q "Keel is up" "$DIR/out" && break
    kill -0 "$script_pid" 2>/dev/null || fail "local-cluster.sh exited"
    sleep 0.1
done
grep -q "Keel is up: 5 nodes in 3 zone(s)" "$DIR/out" || fail "no cluster"
EPS=$(seq -s, "$CP" $((CP + 4)) | sed 's/\([0-9]*\)/127.0.0.1:\1/g')
ok=""
for _ in $(seq 1 100); do
    "$KEELCTL" --endpoints "$EPS" health >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.1
done
[ -n "$ok" ] || fail "not healthy"
# Each node publishes its zone with a proposal of its own once it follows a
# leader: poll (bounded) until all three zones and five reachable nodes show.
complete() {
    for z in dc1 dc2 dc3; do echo "$status" | grep -q "\"zone\": \"$z\"" || return 1; done
    [ "$(echo "$status" | grep -c '"reachable": true')" = 5 ]
}
for _ in $(seq 1 150); do
    status=$("$KEELCTL" --endpoints "$EPS" --json status 2>/dev/null) || status=""
    complete && break
    sleep 0.1
done
for z in dc1 dc2 dc3; do
    echo "$status" | grep -q "\"zone\": \"$z\"" || fail "zone $z missing in status"
done
[ "$(echo "$status" | grep -c '"reachable": true')" = 5 ] || fail "not 5 nodes"
drill=$("$KEELCTL" --endpoints "$EPS" --json drill zone-loss --zone dc3 --duration 3 --settle 10) || fail "drill: $drill"
echo "$drill"
echo "$drill" | grep -q '"rpo_lost": 0' || fail "acknowledged writes lost"
kill -TERM "$script_pid"
wait "$script_pid" || true
script_pid=""
grep -q "stopped; data kept" "$DIR/out" || fail "did not stop cleanly"
routed=$(grep -c "connections, [1-9][0-9]* bytes" "$DIR/data/relay.log" || true)
[ "$routed" -ge 1 ] || fail "no traffic through the relay: $(cat "$DIR/data/relay.log")"
for p in $(pgrep -f "data-dir $DIR/data" || true); do fail "process $p left running"; done
echo "ok: 5 nodes in 3 zones, $routed relay routes carried traffic, zone-loss RPO 0"
