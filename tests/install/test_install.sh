#!/bin/bash
# libkeel as a user gets it (see CMakeLists.txt beside this): install the
# build tree into a temporary prefix, build examples/hello_keel.c against
# what was installed (pkg-config keel; shared, then static), run it against
# a port nothing listens on (a clean libkeel error, exit 1) and against the
# installed keeld, one node this script starts and stops by pid.
set -u
: "${KEEL_BUILD_DIR:?}" "${KEEL_SOURCE_DIR:?}" "${CMAKE:=cmake}" "${CC:=cc}" "${KEEL_CFLAGS:=}"
mkdir -p "${KEEL_TEST_TMP:-/tmp}"
tmp=$(mktemp -d "${KEEL_TEST_TMP:-/tmp}/install.XXXXXX") || exit 1
prefix="$tmp/prefix"
keeld_pid=""
cleanup() {
    if [ -n "$keeld_pid" ]; then kill -KILL "$keeld_pid" 2>/dev/null; wait "$keeld_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A loopback port nothing is bound to now, below the ephemeral range (as
# tests/integration/kc.c picks them).
free_port() {
    /usr/bin/python3 - <<'PY'
import os, random, socket
r = random.Random(os.getpid())
for _ in range(1000):
    p = r.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()
PY
}

"$CMAKE" --install "$KEEL_BUILD_DIR" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
for f in include/keel/client.h include/keel/async.h include/keel/session.h include/keel/error.h \
         lib/libkeel.so lib/libkeel.a lib/pkgconfig/keel.pc bin/keeld bin/keelctl bin/keelutl; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs keel) || fail "pkg-config keel"
# keel.pc finds its prefix from where it is (${pcfiledir}/../..).
[ "$(realpath "$(pkg-config --variable=includedir keel)")" = "$(realpath "$prefix/include")" ] &&
    [ "$(realpath "$(pkg-config --variable=libdir keel)")" = "$(realpath "$prefix/lib")" ] ||
    fail "pkg-config keel does not point at $prefix: $flags"
src="$KEEL_SOURCE_DIR/examples/hello_keel.c"
# shellcheck disable=SC2086 # flags are words
"$CC" $KEEL_CFLAGS -Wall -Wextra -Werror "$src" $flags -Wl,-rpath,"$prefix/lib" -o "$tmp/hello" ||
    fail "hello_keel does not build against the installed libkeel"
# Its headers came from the prefix, and it runs on the installed libkeel.so.
# shellcheck disable=SC2086
header=$("$CC" $KEEL_CFLAGS -M "$src" $(pkg-config --cflags keel) | tr ' \\' '\n\n' | grep '/keel/client\.h$')
[ "$(realpath "$header")" = "$(realpath "$prefix/include/keel/client.h")" ] ||
    fail "keel/client.h was taken from $header, not $prefix"
so=$(ldd "$tmp/hello" | awk '$1 == "libkeel.so.1" { print $3 }')
[ -n "$so" ] && [ "$(realpath "$so")" = "$(realpath "$prefix/lib/libkeel.so.1")" ] ||
    { ldd "$tmp/hello"; fail "libkeel.so not from $prefix"; }
# Static: libkeel.a and its dependencies from pkg-config --static.
libs=$(pkg-config --static --libs-only-l keel | sed 's/\(^\| \)-lkeel\( \|$\)/ /')
# shellcheck disable=SC2086
"$CC" $KEEL_CFLAGS -Wall -Wextra -Werror "$src" $(pkg-config --cflags keel) "$prefix/lib/libkeel.a" $libs \
    -o "$tmp/hello_static" || fail "hello_keel does not build against the installed libkeel.a"
ldd "$tmp/hello_static" | grep -q libkeel && fail "hello_static still needs libkeel.so"

# Nothing listening: exit 1 and libkeel's reason, naming the endpoint.
port=$(free_port)
[ -n "$port" ] || fail "no free port"
for bin in hello hello_static; do
    "$tmp/$bin" "127.0.0.1:$port" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" = 1 ] || fail "$bin against nothing: exit $rc, want 1: $(cat "$tmp/err")"
    # keel_strerror(KEEL_ENOTLEADER), then libkeel's reason naming the endpoint.
    grep -q "^hello_keel: call: not the leader (no leader .*127.0.0.1:$port Connection refused" "$tmp/err" ||
        fail "$bin against nothing: $(cat "$tmp/err")"
    echo "$bin against nothing: $(cat "$tmp/err")"
done

# A one-node cluster of the installed keeld: both programs write and read.
raft=$(free_port)
client=$(free_port)
[ "$raft" != "$client" ] || client=$((client + 1))
"$prefix/bin/keeld" --id 1 --data-dir "$tmp/n1" --raft-addr "127.0.0.1:$raft" --client-addr "127.0.0.1:$client" \
    --cluster "1=127.0.0.1:$raft" >"$tmp/keeld.log" 2>&1 &
keeld_pid=$!
for bin in hello hello_static; do
    ok=0
    for _ in $(seq 50); do # each try waits up to 2 s for a leader
        if "$tmp/$bin" "127.0.0.1:$client" >"$tmp/out" 2>"$tmp/err"; then ok=1; break; fi
        kill -0 "$keeld_pid" 2>/dev/null || { cat "$tmp/keeld.log"; fail "keeld exited"; }
    done
    [ "$ok" = 1 ] || { cat "$tmp/err" "$tmp/keeld.log"; fail "$bin against keeld"; }
    [ "$(cat "$tmp/out")" = world ] || fail "$bin printed '$(cat "$tmp/out")', want world"
done
kill -TERM "$keeld_pid"
wait "$keeld_pid"
rc=$?
keeld_pid=""
[ "$rc" = 0 ] || { cat "$tmp/keeld.log"; fail "keeld exit $rc after SIGTERM"; }
echo "PASS: libkeel installed, built against and run (shared and static)"
