#!/bin/sh
# A cluster CA, member certificates for keeld --tls-cluster yes and the
# TLS port, and client certificates for the TLS port (docs/security.md,
# "Member TLS (raft port)" and "Client TLS (client port)").
#
#   make-certs.sh DIR ID|client:NAME [ID|client:NAME...]
#
# Writes DIR/ca.crt and DIR/ca.key (kept if they exist, so more members can
# be added later) and, for each ID, DIR/member-ID.crt and DIR/member-ID.key:
# an EC P-256 key and a certificate signed by the CA whose subject
# alternative names are URI:keel:member:ID (what keeld checks) and, if
# KEEL_CERT_IP is set (default 127.0.0.1), that IP address.
# For each client:NAME, DIR/client-NAME.crt and DIR/client-NAME.key: a
# certificate for clientAuth only, subject CN=NAME, naming no member.
# KEEL_CERT_DAYS (default 365) sets the validity. Keys are mode 0600.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR ID|client:NAME [ID|client:NAME...]" >&2; exit 2; }
dir=$1
shift
days=${KEEL_CERT_DAYS:-365}
ip=${KEEL_CERT_IP-127.0.0.1}
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.crt" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/CN=keel cluster CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$dir/ca.crt" 2>/dev/null
fi
for id in "$@"; do
    case $id in
    client:*)
        name=${id#client:}
        case $name in ''|*[!A-Za-z0-9._-]*) echo "$0: client name must be [A-Za-z0-9._-]+: $name" >&2; exit 2;; esac
        base="$dir/client-$name"
        cn="$name"
        lines="basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature extendedKeyUsage=clientAuth"
        ;;
    ''|*[!0-9]*|0*) echo "$0: member id must be a positive number: $id" >&2; exit 2;;
    *)
        san="URI:keel:member:$id"
        [ -n "$ip" ] && san="$san,IP:$ip"
        base="$dir/member-$id"
        cn="keel member $id"
        lines="basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
extendedKeyUsage=serverAuth,clientAuth subjectAltName=$san"
        ;;
    esac
    ext="$base.ext"
    printf '%s\n' $lines >"$ext"
    openssl ecparam -name prime256v1 -genkey -noout -out "$base.key"
    openssl req -new -key "$base.key" -subj "/CN=$cn" -out "$base.csr" 2>/dev/null
    openssl x509 -req -in "$base.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -days "$days" -sha256 -extfile "$ext" -out "$base.crt" 2>/dev/null
    rm -f "$base.csr" "$ext"
done
chmod 644 "$dir"/*.crt
