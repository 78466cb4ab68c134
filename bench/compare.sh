#!/usr/bin/env bash
# Keel side by side with etcd 3.4 (three nodes) and Redis 7 (appendfsync
# always), same load generator, one run: writes and linearizable reads of
# 256-byte values, 1/16/64/256 writers, 16/64 readers. Uses the shared harness
# in ../shared/bench (it installs what it needs from Debian). Results land in
# $BENCH_WORK/results/<stamp>/ (table.md); docs/bench.md records them.
# KEEL_BENCH_SECURE=1: the Keel cluster with TLS between members (and a TLS
# client port, unused here: the shared load generator speaks neither TLS nor
# AUTH, so it measures the raft port's TLS; bench/tls_cost.sh measures the
# client port's with redis-benchmark --tls).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
make -C "$top" release >/dev/null
export CUSTOM_NAME=keel CUSTOM_ADDRS=127.0.0.1:7379,127.0.0.1:7380,127.0.0.1:7381 CUSTOM_TARGET=leader
export CUSTOM_START="$top/bench/keel-cluster.sh start" CUSTOM_STOP="$top/bench/keel-cluster.sh stop"
export CUSTOM_PIDS_CMD="$top/bench/keel-cluster.sh pids"
export SYSTEMS=${SYSTEMS:-"disk etcd-grpc redis-fsync custom"}
exec "${SHARED_BENCH:-$top/../shared/bench}/compare" "$@"
