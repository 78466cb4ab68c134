#!/usr/bin/env bash
# Run units of Redis's own test suite (redis/redis, tag 7.2.x: its tests/
# folder and tclsh) against a Keel cluster, and count per unit the tests that
# passed, failed and were skipped. Not part of CI: CI cannot download the
# suite, and the suite is not ours to copy into this repository.
#
#   tests/compat/redis-suite.sh [options] REDIS_SRC [UNIT...]
#
# REDIS_SRC is a checkout of redis/redis at 7.2.x (the folder holding
# tests/test_helper.tcl), e.g.
#   git clone -b 7.2.6 --depth 1 https://github.com/redis/redis /tmp/redis-7.2.6
# UNITs default to the ones issue 15 names (type/string ... info-command).
#
# Options:
#   --keeld PATH     keeld to run (default build/release/bin/keeld, else build/debug)
#   --node leader|follower   which node the suite talks to (default leader)
#   --out FILE       write the per-unit table (markdown) to FILE as well
#   --verbose        show the suite's own output
#
# What is adapted, in a scratch copy of the suite (never the tests' assertions):
#   - the harness's `r function flush` before each server block is wrapped in
#     `catch`: Keel has no scripting (FUNCTION), which would otherwise abort
#     every unit before its first test;
#   - a server block's config overrides (encoding thresholds such as
#     hash-max-ziplist-entries, `save`) that Keel refuses are reported and
#     skipped instead of aborting the unit: they tune Redis's memory layout,
#     which Keel does not have, and tests that check their effect look at
#     OBJECT ENCODING, which --ignore-encoding turns off;
#   - tests tagged with subsystems Keel deliberately lacks are skipped by tag:
#     needs:debug (DEBUG), needs:repl (replication internals),
#     needs:config-maxmemory (memory tuning), needs:pfdebug, needs:save
#     (RDB), needs:local-process, needs:latency; external:skip is skipped by
#     the suite itself against any external server;
#   - --singledb (no SELECT 9) and --ignore-encoding/--ignore-digest
#     (OBJECT ENCODING and DEBUG DIGEST).
# Everything else runs, and fails if Keel answers differently from Redis.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
keeld="" node=leader out="" verbose=0
while [ $# -gt 0 ]; do
    case "$1" in
        --keeld) keeld=$2; shift 2 ;;
        --node) node=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --verbose) verbose=1; shift ;;
        -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [options] REDIS_SRC [UNIT...]" >&2; exit 2; }
src=$(cd "$1" && pwd); shift
[ -f "$src/tests/test_helper.tcl" ] || { echo "$src: no tests/test_helper.tcl (want a redis/redis checkout)" >&2; exit 2; }
units=("$@")
[ ${#units[@]} -gt 0 ] || units=(type/string type/incr type/hash type/list type/set type/zset expire keyspace multi
                                pubsub scan protocol info-command)
command -v tclsh8.6 >/dev/null || { echo "needs tclsh8.6 (apt-get install tcl8.6)" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "needs redis-cli (apt-get install redis-tools)" >&2; exit 2; }
if [ -z "$keeld" ]; then
    for k in "$root/build/release/bin/keeld" "$root/build/debug/bin/keeld"; do
        [ -x "$k" ] && { keeld=$k; break; }
    done
fi
[ -x "$keeld" ] || { echo "no keeld: build it (make release) or pass --keeld" >&2; exit 2; }

work=$(mktemp -d /tmp/keel-redis-suite.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The scratch copy of the suite and its one harness change.
cp -r "$src/tests" "$work/suite-tests"
mkdir -p "$work/suite" && mv "$work/suite-tests" "$work/suite/tests"
[ -d "$src/src" ] && ln -s "$src/src" "$work/suite/src"
/usr/bin/python3 - "$work/suite/tests/support/server.tcl" <<'PY' || exit 2
import sys
p = sys.argv[1]
s = open(p).read()
changes = [
    ("    r function flush\n", "    catch {r function flush}\n"),
    ("        dict set saved_config $param [lindex [r config get $param] 1]\n        r config set $param $val\n",
     "        set keel_old [lindex [r config get $param] 1]\n"
     "        if {[catch {r config set $param $val} keel_err]} {\n"
     "            puts \"\\[keel-harness\\]: override $param $val not applied: $keel_err\"\n"
     "            continue\n"
     "        }\n"
     "        dict set saved_config $param $keel_old\n"),
]
for old, new in changes:
    if s.count(old) != 1:
        sys.exit("the suite's harness has changed: cannot adapt %r" % old.strip()[:40])
    s = s.replace(old, new)
open(p, "w").write(s)
PY

# A three-node cluster on loopback ports picked from the pid, so two runs
# on one machine do not collide.
base=$((20000 + ($$ % 2000) * 8))
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}$i=127.0.0.1:$((base + 3 + i))"; done
for i in 1 2 3; do
    "$keeld" --id $i --data-dir "$work/n$i" --raft-addr "127.0.0.1:$((base + 3 + i))" \
        --client-addr "127.0.0.1:$((base + i))" --cluster "$cluster" 2>"$work/n$i.log" &
    pids+=($!)
done
port=""
for _ in $(seq 1 200); do
    for i in 1 2 3; do
        role=$(redis-cli -p $((base + i)) ROLE 2>/dev/null | head -1 || true)
        if [ "$node" = leader ] && [ "$role" = master ]; then port=$((base + i)); fi
        if [ "$node" = follower ] && [ "$role" = slave ]; then port=$((base + i)); fi
    done
    [ -n "$port" ] && redis-cli -p "$port" SET keel:suite:probe 1 2>/dev/null | grep -q OK && break
    port=""
    sleep 0.1
done
[ -n "$port" ] || { echo "the cluster did not elect a leader; logs in $work" >&2; cat "$work"/n*.log >&2; exit 1; }
redis-cli -p "$port" DEL keel:suite:probe >/dev/null
echo "Keel: $keeld, three nodes, the suite talks to the $node on port $port"

skip_tags="-needs:debug -needs:repl -needs:config-maxmemory -needs:pfdebug -needs:save -needs:local-process -needs:latency"
table="| unit | passed | failed | skipped | stopped early by |
|---|---|---|---|---|"
total_ok=0 total_err=0 total_skip=0
failures=""
for u in "${units[@]}"; do
    log="$work/$(echo "$u" | tr / _).log"
    (cd "$work/suite" && timeout 900 tclsh8.6 tests/test_helper.tcl --host 127.0.0.1 --port "$port" --singledb \
        --ignore-encoding --ignore-digest --durable --tags "$skip_tags" --single "unit/$u" >"$log" 2>&1) || true
    sed -i 's/\x1b\[[0-9;]*m//g' "$log" # the suite colours its output on a terminal
    [ "$verbose" = 1 ] && cat "$log"
    # A line per test: [ok] / [err] / [skip] / [ignore]; an [exception]
    # ends the unit's remaining tests, and counts as one failure.
    ok=$(grep -c '^\[ok\]:' "$log" || true)
    err=$(grep -cE '^\[(err|exception)\]:' "$log" || true)
    skip=$(grep -cE '^\[(skip|ignore)\]:' "$log" || true)
    if ! grep -q "All tests passed\|tests failed\|\[ok\]" "$log"; then err=$((err + 1)); fi
    total_ok=$((total_ok + ok)) total_err=$((total_err + err)) total_skip=$((total_skip + skip))
    stopped=$(grep -a -m1 '^\[exception\]:' "$log" | sed 's/^\[exception\]: //; s/|/\\|/g' | cut -c1-120 || true)
    table+="
| $u | $ok | $err | $skip | ${stopped:--} |"
    printf '%-16s passed %4d  failed %4d  skipped %4d\n' "$u" "$ok" "$err" "$skip"
    failures+=$(grep -aE '^\[(err|exception)\]:' "$log" | sed "s|^|$u |" || true)$'\n'
done
table+="
| **total** | $total_ok | $total_err | $total_skip | |"
echo
echo "$table"
echo
echo "Failed tests:"
echo "$failures" | sed '/^$/d'
if [ -n "$out" ]; then
    { echo "$table"; echo; echo "Failed tests:"; echo; echo "$failures" | sed '/^$/d; s/^/- /'; } >"$out"
fi
