#!/usr/bin/python3
"""tests/integration: redis-py (Debian's python3-redis) against a Keel cluster
whose default user has a password, with ACL users (run by test_keeld_acl).

Usage: redis_py_acl.py DEFAULT_PASSWORD ALICE_PASSWORD PORT...
Exits 0 when every check passed; otherwise prints the failed one and exits 1.
"""
import sys

import redis


def main():
    default_pw, alice_pw, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    for port in ports:
        where = f"port {port}"
        # No credentials: the first command is refused.
        try:
            redis.Redis(port=port).get("session:1")
            raise SystemExit(f"{where}: GET without AUTH was allowed")
        except redis.exceptions.AuthenticationError as e:
            assert "Authentication required" in str(e), f"{where}: {e}"
        # A wrong password.
        try:
            redis.Redis(port=port, username="alice", password="wrong").ping()
            raise SystemExit(f"{where}: a wrong password was accepted")
        except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
            # redis-py 4.3 raises WRONGPASS as a ResponseError, as against Redis itself
            assert "WRONGPASS invalid username-password pair" in str(e) or \
                "invalid username-password pair" in str(e), f"{where}: {e}"
        # The default user (redis-py sends AUTH password).
        r = redis.Redis(port=port, password=default_pw, decode_responses=True)
        assert r.acl_whoami() == "default", where
        r.set(f"py:{port}", "v")  # forwarded on a follower
        assert r.get(f"py:{port}") == "v", where
        # alice: ~session:* +@read, over RESP2 and RESP3-capable HELLO paths alike.
        a = redis.Redis(port=port, username="alice", password=alice_pw, decode_responses=True)
        assert a.get("session:1") == "s1", where
        for bad, why in ((lambda: a.get("other"), "No permissions to access a key"),
                         (lambda: a.set("session:1", "x"), "has no permissions to run the 'set' command")):
            try:
                bad()
                raise SystemExit(f"{where}: alice was allowed what she must not do ({why})")
            except redis.exceptions.NoPermissionError as e:
                assert why in str(e), f"{where}: {e}"
    print("redis-py: ok on", len(ports), "nodes")


if __name__ == "__main__":
    main()
