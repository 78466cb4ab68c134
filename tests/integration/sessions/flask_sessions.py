"""tests/integration: Flask-Session (Debian python3-flask-session) with
redis-py, unchanged, storing Flask's sessions in Keel.

    flask_sessions.py PORT...      (one port per node of a running cluster)

For every node N, an app whose SESSION_REDIS is a redis-py client of node N:
  - create: a request sets session values; Flask-Session writes them with
    SETEX under "session:<sid>" (key and TTL checked through redis-py);
  - read: the session cookie, sent to the app of the next node, gives back
    the same values (the write was replicated before it was acknowledged);
  - update: a change through the next node is seen through node N;
  - destroy: session.clear() deletes the key (Flask-Session's DEL);
  - expire: an app with a 1 s lifetime; its key carries that TTL and is
    gone once the TTL has passed (polled, bounded), and a request with the
    old cookie starts an empty session.
Exit 0 when every check passed; prints what failed otherwise."""
import datetime
import sys
import time

import flask
import flask_session
import redis

PORTS = [int(p) for p in sys.argv[1:]]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def make_app(port, lifetime_s=3600):
    app = flask.Flask("keel-flask-%d" % port)
    app.config.update(SECRET_KEY="keel-test", SESSION_TYPE="redis",
                      SESSION_REDIS=redis.Redis(host="127.0.0.1", port=port),
                      PERMANENT_SESSION_LIFETIME=datetime.timedelta(seconds=lifetime_s))
    flask_session.Session(app)

    @app.route("/login/<user>")
    def login(user):
        flask.session["user"] = user
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        return "ok"

    @app.route("/visit")
    def visit():
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        return "%s:%d" % (flask.session.get("user", ""), flask.session["visits"])

    @app.route("/whoami")
    def whoami():
        return "%s:%d" % (flask.session.get("user", ""), flask.session.get("visits", 0))

    @app.route("/logout")
    def logout():
        flask.session.clear()
        return "bye"

    return app


def sid_cookie(resp):
    for header in resp.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "session":
            return rest.split(";")[0]
    return None


def get(app, path, sid=None):
    client = app.test_client(use_cookies=False)
    headers = {"Cookie": "session=" + sid} if sid else {}
    return client.get(path, headers=headers)


apps = [make_app(p) for p in PORTS]
direct = [redis.Redis(host="127.0.0.1", port=p) for p in PORTS]
n = len(PORTS)
for i in range(n):
    j = (i + 1) % n
    user = "user%d" % i
    r = get(apps[i], "/login/" + user)
    sid = sid_cookie(r)
    check(r.status_code == 200 and sid, "node %d: login set no session cookie" % PORTS[i])
    if not sid:
        continue
    key = "session:" + sid
    ttl = direct[i].ttl(key)
    check(3500 < ttl <= 3600, "node %d: TTL of %s is %s, want about 3600" % (PORTS[i], key, ttl))
    check(direct[j].exists(key) == 1, "node %d: %s not there" % (PORTS[j], key))
    r = get(apps[j], "/whoami", sid)
    check(r.get_data(as_text=True) == user + ":1",
          "node %d read %r, want %r" % (PORTS[j], r.get_data(as_text=True), user + ":1"))
    r = get(apps[j], "/visit", sid)
    check(r.get_data(as_text=True) == user + ":2", "update through node %d: %r" % (PORTS[j], r.get_data(as_text=True)))
    r = get(apps[i], "/whoami", sid)
    check(r.get_data(as_text=True) == user + ":2", "node %d after the update: %r" % (PORTS[i], r.get_data(as_text=True)))
    get(apps[j], "/logout", sid)
    check(direct[i].exists(key) == 0, "node %d: %s still there after logout" % (PORTS[i], key))
    r = get(apps[i], "/whoami", sid)
    check(r.get_data(as_text=True) == ":0", "node %d after logout: %r" % (PORTS[i], r.get_data(as_text=True)))

    short = make_app(PORTS[i], lifetime_s=1)
    r = get(short, "/login/brief")
    sid = sid_cookie(r)
    key = "session:" + sid
    ttl = direct[j].pttl(key)
    check(0 < ttl <= 1000, "node %d: PTTL of the 1 s session is %s" % (PORTS[j], ttl))
    deadline = time.monotonic() + 10
    while direct[j].exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(direct[j].exists(key) == 0, "node %d: the 1 s session outlived 10 s" % PORTS[j])
    r = get(make_app(PORTS[j]), "/whoami", sid)
    check(r.get_data(as_text=True) == ":0", "expired session read back as %r" % r.get_data(as_text=True))

print("flask-session: %d nodes, %d failures" % (n, len(failures)))
sys.exit(1 if failures else 0)
