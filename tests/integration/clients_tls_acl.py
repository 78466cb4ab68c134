#!/usr/bin/python3
"""tests/integration: redis-py (Debian's python3-redis) over TLS as an ACL
user on every node (run by test_clients_tls_acl).

Usage: clients_tls_acl.py CERT_DIR USER PASSWORD PORT...
CERT_DIR holds ca.crt and client-app.{crt,key} (examples/tls/make-certs.sh).
The user may read and write ~app:* and nothing else. Exits 0 when every
check passed; otherwise prints the failed one and exits 1.
"""
import sys

import redis


def client(d, port, user, password):
    return redis.Redis(host="127.0.0.1", port=port, username=user, password=password, ssl=True,
                       ssl_ca_certs=f"{d}/ca.crt", ssl_certfile=f"{d}/client-app.crt",
                       ssl_keyfile=f"{d}/client-app.key", socket_timeout=10, decode_responses=True)


def main():
    d, user, password, ports = sys.argv[1], sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4:]]
    for port in ports:
        where = f"redis-py, port {port}"
        try:
            client(d, port, user, "wrong").ping()
            raise SystemExit(f"{where}: a wrong password was accepted")
        except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
            assert "invalid username-password pair" in str(e), f"{where}: {e}"
        r = client(d, port, user, password)
        assert r.set(f"app:py:{port}", "v") is True, where  # forwarded on a follower
        assert r.get(f"app:py:{port}") == "v", where
        assert r.incr("app:py:counter") >= 1, where
        for bad, why in ((lambda: r.get("other"), "No permissions to access a key"),
                         (lambda: r.execute_command("KEEL.MEMBER", "LIST"), "has no permissions to run"),
                         (lambda: r.config_set("loglevel", "debug"), "has no permissions to run")):
            try:
                bad()
                raise SystemExit(f"{where}: {user} was allowed what it must not do ({why})")
            except redis.exceptions.NoPermissionError as e:
                assert why in str(e), f"{where}: {e}"
    print("redis-py over TLS as", user, ": ok on", len(ports), "nodes")


if __name__ == "__main__":
    main()
