#!/bin/sh
# tests/integration: install the pinned express-session + connect-redis +
# ioredis (package-lock.json beside this script) with npm ci into NODE_DIR
# (in the build tree), then run express_sessions.js with the ports.
#
#   run_express.sh NODE_DIR PORT...
#
# Exit 77 (skip) when node or the npm registry is unavailable outside CI;
# under CI=true that is a failure (exit 1): CI must run it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$1
shift
missing() {
    if [ "${CI:-}" = true ]; then echo "express-session: $1 (CI=true: a failure, not a skip)"; exit 1; fi
    echo "express-session: $1"; exit 77
}
command -v node >/dev/null 2>&1 || missing "no node (Debian package nodejs)"
command -v npm >/dev/null 2>&1 || missing "no npm (Debian package npm)"
mkdir -p "$node_dir"
if ! cmp -s "$here/package-lock.json" "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules/connect-redis" ]; then
    cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
    (cd "$node_dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
        missing "npm ci failed (offline?): $(tail -n 3 "$node_dir/npm.log")"
fi
NODE_PATH="$node_dir/node_modules" exec node "$here/express_sessions.js" "$@"
