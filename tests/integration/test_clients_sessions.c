/* tests/integration: the session libraries services use, unchanged, on a
 * three-node Keel cluster (issue 15: "Real libraries unchanged"):
 * - Flask-Session (Debian python3-flask-session) with redis-py: its SETEX,
 *   GET and DEL, a session created through one node and read, updated and
 *   destroyed through the next, a 1 s session expiring
 *   (sessions/flask_sessions.py);
 * - express-session with connect-redis 7 over ioredis (npm, pinned in
 *   sessions/package-lock.json, installed into the build tree): the same,
 *   over real HTTP, plus the store's all/ids/length/clear (SCAN + MGET,
 *   sessions/express_sessions.js).
 * Every node serves its own app's client: a follower forwards the writes,
 * so both roles are covered. The cluster's replicas must then agree
 * (keelctl hashkv: every node's digest at one index is the leader's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"
#include "kc_tls.h"

static struct kc cl;
static char ports[64];

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static int setup(void **state)
{
    (void)state;
    if (kc_start_leader(&cl, 3, "") < 0) return -1;
    size_t n = 0;
    for (unsigned i = 0; i < 3; i++) n += (size_t)snprintf(ports + n, sizeof ports - n, " %u", cl.nodes[i].client_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cl);
    return 0;
}

/* Every node holds the same state once the last write has applied. */
static void replicas_agree(void)
{
    char out[8192], err[512];
    int rc = kc_keelctl(&cl, out, sizeof out, err, sizeof err, "hashkv");
    unsigned ok = 0;
    for (const char *p = out; (p = strstr(p, "  ok\n")) != NULL; p++) ok++;
    if (rc != 0 || ok != 3) fail_msg("keelctl hashkv: rc %d, %u of 3 ok\n%s%s", rc, ok, out, err);
}

static void test_flask_session(void **state)
{
    (void)state;
    char out[16384];
    int rc = kc_sh(180, out, sizeof out, "/usr/bin/python3 '%s'%s", env_or("FLASK_SESSIONS_PY", "flask_sessions.py"),
                   ports);
    print_message("%s\n", out);
    if (rc != 0) fail_msg("Flask-Session: rc %d", rc);
    replicas_agree();
}

static void test_express_session(void **state)
{
    (void)state;
    char out[16384];
    int rc = kc_sh(400, out, sizeof out, "'%s' '%s'%s", env_or("EXPRESS_SH", "run_express.sh"),
                   env_or("SESSIONS_NODE_DIR", "sessions-node"), ports);
    print_message("%s\n", out);
    if (rc == 77) skip();
    if (rc != 0) fail_msg("express-session: rc %d", rc);
    replicas_agree();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flask_session),
        cmocka_unit_test(test_express_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
