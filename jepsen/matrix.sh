#!/usr/bin/env bash
# jepsen/matrix.sh: every nemesis x workload, each run for TIME seconds, JOBS
# runs at a time, results under OUT (one directory per run) and a Markdown
# table in OUT/table.md (docs/jepsen.md records it).
#   TIME=600 JOBS=4 NODES=3 [SECURE=1] jepsen/matrix.sh OUT [NEMESIS...]
# SECURE=1: every run with --secure (TLS on the raft and client ports, the
# workload as an ACL user), and the table says so.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: matrix.sh OUT [NEMESIS...]}
shift
nemeses=${*:-partition-halves partition-leader partition-one partition-ring bridge kill pause latency}
workloads=${WORKLOADS:-register set counter session queue}
time=${TIME:-600} jobs=${JOBS:-4} nodes=${NODES:-3}
secure=()
[ "${SECURE:-0}" = 1 ] && secure=(--secure)
mkdir -p "$out"
make -C "$top" build >/dev/null
runs=()
for n in $nemeses; do for w in $workloads; do runs+=("$w:$n"); done; done
i=0
for r in "${runs[@]}"; do
    w=${r%%:*} n=${r#*:}
    ( "$top/jepsen/run" --workload "$w" --nemesis "$n" --time "$time" --nodes "$nodes" \
        --seed $((1000 + i)) "${secure[@]}" --out "$out/$w-$n" >"$out/$w-$n.stdout" 2>&1
      echo "$w $n exit $?" >>"$out/exits.txt" ) &
    i=$((i + 1))
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
done
wait
{
    [ "${SECURE:-0}" = 1 ] && echo "TLS on the raft and client ports; the workload as ACL user jepsen (--secure)." && echo
    echo "| workload | nemesis | verdict | ops | ok | fail | info | lost acked | faults | RTO median / worst (ms) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for r in "${runs[@]}"; do
        w=${r%%:*} n=${r#*:} f="$out/$w-$n/result.json"
        [ -f "$f" ] || { echo "| $w | $n | no result | | | | | | | |"; continue; }
        get() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" "$f"; }
        rto=$(sed -n 's/.*"rto_ms": \[\([^]]*\)\].*/\1/p' "$f" | tr -d ' ' | tr ',' '\n' | sort -n)
        cnt=$(echo "$rto" | grep -c .)
        med=$( [ "$cnt" -gt 0 ] && echo "$rto" | sed -n "$((cnt / 2 + 1))p" || echo -)
        worst=$( [ "$cnt" -gt 0 ] && echo "$rto" | tail -1 || echo -)
        v=$(get valid); [ "$v" = true ] && v=valid; [ "$v" = false ] && v="**invalid**"
        echo "| $w | $n | $v | $(get ops) | $(get ok) | $(get fail) | $(get info) | $(get lost_acked_writes) | $(get faults) | $med / $worst |"
    done
} >"$out/table.md"
cat "$out/table.md"
