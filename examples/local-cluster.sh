#!/usr/bin/env bash
# A local Keel cluster on 127.0.0.1: three nodes by default, clients on
# 7379.., raft on 7479.., data under ./data/nodeN. Ctrl-C stops every node
# cleanly; running it again finds the data again.
#
#   examples/local-cluster.sh [--nodes N] [--zones Z] [--zone-latency MS] [--secure]
#
# With --secure (make run ARGS=--secure), the cluster is locked down as it
# would be on a real network (docs/security.md): a throwaway CA and
# certificates (examples/tls/make-certs.sh, under $DATA/secure/tls), member
# TLS on the raft port, a TLS client port on 7579.. (TLS_PORT) that asks for
# a client certificate, and an ACL user `admin` whose generated password is
# in $DATA/secure/admin.pass (mode 0600; never on a command line: it goes to
# redis-cli through stdin and REDISCLI_AUTH); the default user is turned off.
#
# With --zones, node i is in zone dc((i-1) % Z + 1) (--zone), and raft
# traffic between zones goes through keel-relay (the jepsen suite's delaying
# relay: this kernel has no netem), which holds it MS each way (default 20):
# a multi-zone layout on one machine, e.g. --zones 3 --nodes 5, on which
# keelctl drill zone-loss can be tried. Intra-zone traffic is direct.
# Nodes start with --enable-drills. Environment: KEELD, KEEL_RELAY, DATA,
# CLIENT_PORT, RAFT_PORT, TLS_PORT (first ports).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keeld=${KEELD:-build/release/bin/keeld}
relay_bin=${KEEL_RELAY:-build/release/jepsen/keel-relay}
data=${DATA:-data}
client_base=${CLIENT_PORT:-7379}
raft_base=${RAFT_PORT:-7479}
tls_base=${TLS_PORT:-7579}
nodes=3 zones=1 latency=20 secure=0
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        --zones) zones=$2; shift 2 ;;
        --zone-latency) latency=$2; shift 2 ;;
        --secure) secure=1; shift ;;
        *) echo "usage: $0 [--nodes N] [--zones Z] [--zone-latency MS] [--secure]" >&2; exit 2 ;;
    esac
done
if [ "$nodes" -lt 1 ] || [ "$nodes" -gt 9 ] || [ "$zones" -lt 1 ] || [ "$zones" -gt "$nodes" ]; then
    echo "want 1..9 nodes and 1..nodes zones" >&2
    exit 2
fi
pids=()
relay_pid=""

stop() {
    trap - INT TERM
    echo
    echo "stopping the cluster..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$relay_pid" ]; then kill -TERM "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
    echo "stopped; data kept in $data/"
    exit 0
}
trap stop INT TERM

mkdir -p "$data"
sec="$data/secure"
if [ "$secure" = 1 ]; then
    command -v openssl >/dev/null || { echo "--secure needs the openssl command (apt-get install openssl)" >&2; exit 2; }
    if [ ! -f "$sec/tls/ca.crt" ]; then
        echo "making a throwaway CA and certificates in $sec/tls"
        "$here/tls/make-certs.sh" "$sec/tls" $(seq 1 "$nodes") client:admin
    fi
    if [ ! -s "$sec/admin.pass" ]; then
        (umask 077 && openssl rand -hex 24 >"$sec/admin.pass")
    fi
    chmod 600 "$sec/admin.pass"
fi
# redis-cli to node $1's TLS port as admin (as default if $2 is "default"):
# the password goes through the environment, not the command line.
tls_cli() {
    local port=$((tls_base + $1 - 1)) user=$2
    shift 2
    if [ "$user" = default ]; then
        redis-cli --tls --cacert "$sec/tls/ca.crt" --cert "$sec/tls/client-admin.crt" --key "$sec/tls/client-admin.key" \
            -p "$port" "$@"
    else
        REDISCLI_AUTH="$(cat "$sec/admin.pass")" redis-cli --no-auth-warning --tls --cacert "$sec/tls/ca.crt" \
            --cert "$sec/tls/client-admin.crt" --key "$sec/tls/client-admin.key" --user admin -p "$port" "$@"
    fi
}
role_of() {
    if [ "$secure" = 1 ]; then
        tls_cli "$1" admin ROLE 2>&1 | head -1 | grep -q master && return 0
        tls_cli "$1" default ROLE 2>&1 | head -1 | grep -q master
    else
        redis-cli -p "$((client_base + $1 - 1))" ROLE 2>/dev/null | head -1 | grep -q master
    fi
}
cluster="" endpoints=""
declare -A via
for i in $(seq 1 "$nodes"); do
    cluster="$cluster${cluster:+,}$i=127.0.0.1:$((raft_base + i - 1))"
    endpoints="$endpoints${endpoints:+,}127.0.0.1:$((client_base + i - 1))"
done
zone_of() { echo "dc$(( ($1 - 1) % zones + 1 ))"; }

if [ "$zones" -gt 1 ] && [ "$latency" -gt 0 ]; then
    dsts=()
    for i in $(seq 1 "$nodes"); do dsts+=("127.0.0.1:$((raft_base + i - 1))"); done
    "$relay_bin" --delay "$latency" "${dsts[@]}" >"$data/relay.map" 2>>"$data/relay.log" &
    relay_pid=$!
    for _ in $(seq 1 100); do
        [ "$(wc -l <"$data/relay.map")" -ge "$nodes" ] && break
        kill -0 "$relay_pid" 2>/dev/null || { echo "keel-relay exited; see $data/relay.log" >&2; exit 1; }
        sleep 0.05
    done
    while read -r dst port; do via[$dst]="127.0.0.1:$port"; done <"$data/relay.map"
fi

for i in $(seq 1 "$nodes"); do
    routes=""
    for j in $(seq 1 "$nodes"); do
        dst="127.0.0.1:$((raft_base + j - 1))"
        if [ "$j" != "$i" ] && [ "$(zone_of "$j")" != "$(zone_of "$i")" ] && [ -n "${via[$dst]:-}" ]; then
            routes="$routes${routes:+,}$dst=${via[$dst]}"
        fi
    done
    extra=(--enable-drills)
    [ "$zones" -gt 1 ] && extra+=(--zone "$(zone_of "$i")")
    [ -n "$routes" ] && extra+=(--raft-route "$routes")
    if [ "$secure" = 1 ]; then
        extra+=(--tls-cluster yes --tls-port "$((tls_base + i - 1))" --tls-ca-cert-file "$sec/tls/ca.crt"
                --tls-cert-file "$sec/tls/member-$i.crt" --tls-key-file "$sec/tls/member-$i.key")
    fi
    "$keeld" --id "$i" --data-dir "$data/node$i" \
        --raft-addr "127.0.0.1:$((raft_base + i - 1))" --client-addr "127.0.0.1:$((client_base + i - 1))" \
        --cluster "$cluster" "${extra[@]}" 2>>"$data/node$i.log" &
    pids+=($!)
done

# Bounded wait for a leader.
for _ in $(seq 1 150); do
    for i in $(seq 1 "$nodes"); do
        port=$((client_base + i - 1))
        if role_of "$i"; then
            if [ "$secure" = 1 ] && ! tls_cli "$i" admin ACL WHOAMI 2>&1 | grep -qx admin; then
                # First start: the admin user (its password from stdin: -x),
                # then the open default user off. Replicated: once is enough.
                printf '>%s' "$(cat "$sec/admin.pass")" |
                    tls_cli "$i" default -x ACL SETUSER admin on '~*' '&*' '+@all' | grep -q OK ||
                    { echo "could not create the admin user; see $data/node*.log" >&2; stop; }
                tls_cli "$i" admin ACL SETUSER default off | grep -q OK ||
                    { echo "could not turn the default user off" >&2; stop; }
            fi
            echo "Keel is up: $nodes nodes in $zones zone(s), leader on 127.0.0.1:$port"
            [ "$zones" -gt 1 ] && echo "  zones:     dc1..dc$zones, ${latency} ms each way between zones (keel-relay)"
            echo "  endpoints: $endpoints (any node serves)"
            echo "  logs:      $data/node*.log"
            if [ "$secure" = 1 ]; then
                echo "  secure:    member TLS, TLS clients on 127.0.0.1:$tls_base.. with a client certificate, user admin"
                echo "  try:       REDISCLI_AUTH=\"\$(cat $sec/admin.pass)\" redis-cli --tls --cacert $sec/tls/ca.crt --cert $sec/tls/client-admin.crt --key $sec/tls/client-admin.key --user admin -p $tls_base SET hello world"
            else
                echo "  try:       redis-cli -p $client_base SET hello world && redis-cli -p $((client_base + 1)) GET hello"
                echo "             keelctl --endpoints $endpoints status"
            fi
            echo "Ctrl-C stops the cluster."
            wait "${pids[@]}"
            stop
        fi
    done
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "a node exited; see $data/node*.log" >&2; stop; }
    done
    sleep 0.1
done
echo "no leader after 15 s; see $data/node*.log" >&2
stop
