#!/usr/bin/env bash
# The state machine must be deterministic: nothing under store/ may read a
# clock or a random source, and only raft/ may include <raft.h>. This lint
# fails the build's tests if either rule is broken.
set -u
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
status=0
clock='\b(time|clock_gettime|gettimeofday|rand|random|srand|srandom|arc4random|getrandom|uv_now|uv_hrtime|uv_update_time)[[:space:]]*\('
if hits=$(grep -nE "$clock" "$top"/store/*.c "$top"/store/*.h); then
    echo "store/ reads a clock or a random source:"; echo "$hits"; status=1
fi
# raft/node.h is raft/'s face without <raft.h>; its other headers include it.
if hits=$(grep -nE '#include[[:space:]]*(<raft(\.h|/)|"raft/(fsm|propose|node_internal|offline_internal|transport)\.h")' "$top"/storage "$top"/store "$top"/api -r 2>/dev/null); then
    echo "only raft/ may include <raft.h>:"; echo "$hits"; status=1
fi
if hits=$(grep -nE '#include[[:space:]]*<lmdb\.h>' "$top"/store "$top"/raft "$top"/api -r 2>/dev/null); then
    echo "only storage/ may include <lmdb.h>:"; echo "$hits"; status=1
fi
[ $status -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $status
