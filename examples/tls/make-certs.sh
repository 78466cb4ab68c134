#!/bin/sh
# A cluster CA and member certificates for keeld --tls-cluster yes
# (docs/security.md, "Member TLS (raft port)").
#
#   make-certs.sh DIR ID [ID...]
#
# Writes DIR/ca.crt and DIR/ca.key (kept if they exist, so more members can
# be added later) and, for each ID, DIR/member-ID.crt and DIR/member-ID.key:
# an EC P-256 key and a certificate signed by the CA whose subject
# alternative names are URI:keel:member:ID (what keeld checks) and, if
# KEEL_CERT_IP is set (default 127.0.0.1), that IP address.
# KEEL_CERT_DAYS (default 365) sets the validity. Keys are mode 0600.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR ID [ID...]" >&2; exit 2; }
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
    case $id in ''|*[!0-9]*|0*) echo "$0: member id must be a positive number: $id" >&2; exit 2;; esac
    san="URI:keel:member:$id"
    [ -n "$ip" ] && san="$san,IP:$ip"
    ext="$dir/member-$id.ext"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$san" >"$ext"
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/member-$id.key"
    openssl req -new -key "$dir/member-$id.key" -subj "/CN=keel member $id" -out "$dir/member-$id.csr" 2>/dev/null
    openssl x509 -req -in "$dir/member-$id.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -days "$days" -sha256 -extfile "$ext" -out "$dir/member-$id.crt" 2>/dev/null
    rm -f "$dir/member-$id.csr" "$ext"
done
chmod 644 "$dir"/*.crt
