/* tests/integration: Keel's own clients and real Redis clients over TLS
 * with ACL users, on every node of a 3-node cluster (docs/security.md,
 * "Connecting clients"). Every node has a TLS port that wants a client
 * certificate (--tls-auth-clients yes) and the default user has a password.
 * Users: app (~app:* +@read +@write, nothing else) and ops (+@all).
 *
 * - libkeel: TLS + AUTH on every endpoint; app's writes (KEEL.REQ-wrapped)
 *   and reads work, other keys and admin commands are refused (NOPERM); a
 *   wrong password is KEEL_EAUTH after one refused AUTH (no retry loop) and
 *   the message never holds the password; no password gets NOAUTH; no
 *   client certificate fails naming TLS; killing the node the client is on
 *   sends it to another, where it authenticates again (no NOAUTH).
 * - libkeel async, plaintext and TLS: AUTH first on every connection,
 *   NOPERM for what app may not do, KEEL_EAUTH for a wrong password.
 * - keelctl --tls --cacert --cert --key --user, the password from
 *   $KEELCTL_PASSWORD or --password-file: status, member list, set/get,
 *   hashkv, backup save, drill leader-transfer; app is refused member list;
 *   --pass is refused as usage.
 * - redis-cli --tls --user --pass, redis-py and ioredis (npm, pinned in
 *   tests/integration/ioredis) with app and a wrong password on every node.
 * Every wait is a bounded poll; every process is stopped by pid. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keel/async.h"
#include "keel/client.h"
#include "kc.h"
#include "kc_tls.h"

#define ADMIN_PW "admin-secret-1"
#define APP_PW "app-secret-2"
#define OPS_PW "ops-secret-3"

static struct kc cl;
static unsigned tls_port[KC_MAX];
static char dir[600];
static char tls_eps[256]; /* every node's TLS address */

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static int setup(void **state)
{
    (void)state;
    char out[4096];
    kc_prepare(&cl, 3, "");
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    if (kc_sh(120, out, sizeof out, "'%s' '%s' 1 2 3 client:app", env_or("KEEL_MAKE_CERTS", "make-certs.sh"), dir) != 0)
        fail_msg("make-certs.sh: %s", out);
    snprintf(cl.extra, sizeof cl.extra, "--tls-ca-cert-file %s/ca.crt", dir);
    size_t off = 0;
    for (unsigned i = 0; i < 3; i++) {
        tls_port[i] = kc_free_port();
        snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra,
                 "--tls-port %u --tls-cert-file %s/member-%u.crt --tls-key-file %s/member-%u.key", tls_port[i], dir,
                 i + 1, dir, i + 1);
        off += (size_t)snprintf(tls_eps + off, sizeof tls_eps - off, "%s127.0.0.1:%u", i ? "," : "", tls_port[i]);
    }
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    if (leader < 0) fail_msg("no leader within 15 s");
    kc_expect(&cl, (unsigned)leader, true, "ACL SETUSER app on >" APP_PW " ~app:* +@read +@write", "+OK");
    kc_expect(&cl, (unsigned)leader, true, "ACL SETUSER ops on >" OPS_PW " ~* &* +@all", "+OK");
    kc_expect(&cl, (unsigned)leader, true, "CONFIG SET requirepass " ADMIN_PW, "+OK");
    snprintf(cl.auth_pass, sizeof cl.auth_pass, ADMIN_PW);
    /* Committed: every node knows app (a bounded poll). */
    for (unsigned i = 0; i < 3; i++) {
        bool known = false;
        for (int t = 0; t < 100 && !known; t++) {
            redisReply *r = kc_cmd(&cl, i, "ACL GETUSER app");
            known = r && r->type == REDIS_REPLY_ARRAY;
            if (r) freeReplyObject(r);
            if (!known) kc_pause_ms(100);
        }
        if (!known) fail_msg("node %u never learned user app", i + 1);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static struct keel_client_options opts(const char *eps, const char *user, const char *pw, bool cert)
{
    static char ca[700], crt[700], key[700];
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(crt, sizeof crt, "%s/client-app.crt", dir);
    snprintf(key, sizeof key, "%s/client-app.key", dir);
    return (struct keel_client_options){.endpoints = eps, .timeout_ms = 10000, .user = user, .password = pw,
                                        .tls = true, .tls_ca_file = ca, .tls_cert_file = cert ? crt : NULL,
                                        .tls_key_file = cert ? key : NULL};
}

static uint64_t auth_failures(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < 3; i++) n += kc_info_u64(&cl, i, "stats", "acl_access_denied_auth");
    return n;
}

/* One call through a client that must succeed; the reply's text. */
static void call_ok(struct keel_client *c, const char *want_prefix, const char *w0, const char *w1, const char *w2)
{
    char err[KEEL_ERRMSG_SIZE];
    struct keel_value *v = NULL;
    int rc = keel_callv(c, &v, err, sizeof err, w0, w1, w2, NULL);
    if (rc != 0) fail_msg("%s %s: rc %d: %s", w0, w1 ? w1 : "", rc, err);
    char num[32];
    snprintf(num, sizeof num, "%lld", v->integer);
    const char *got = v->type == KEEL_VALUE_INTEGER ? num : v->str ? v->str : "";
    if (strncmp(got, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("%s %s at %s: got '%s', want '%s...'", w0, w1 ? w1 : "", keel_client_endpoint(c), got, want_prefix);
    keel_value_free(v);
}

static void test_libkeel(void **state)
{
    (void)state;
    char err[KEEL_ERRMSG_SIZE], ep[64], key[64];
    struct keel_client *c;
    /* app on each node alone: allowed and denied, through every node. */
    for (unsigned i = 0; i < 3; i++) {
        snprintf(ep, sizeof ep, "127.0.0.1:%u", tls_port[i]);
        struct keel_client_options o = opts(ep, "app", APP_PW, true);
        assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
        snprintf(key, sizeof key, "app:libkeel:%u", i);
        call_ok(c, "OK", "SET", key, "v");
        call_ok(c, "v", "GET", key, NULL);
        snprintf(key, sizeof key, "app:counter:%u", i);
        call_ok(c, "1", "INCR", key, NULL);
        call_ok(c, "NOPERM", "GET", "other", NULL);
        call_ok(c, "NOPERM", "KEEL.MEMBER", "LIST", NULL);
        keel_client_close(c);
    }
    /* A wrong password: KEEL_EAUTH after one refusal, the password nowhere. */
    uint64_t before = auth_failures();
    struct keel_client_options o = opts(tls_eps, "app", "not-the-password", true);
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
    struct keel_value *v = NULL;
    int rc = keel_callv(c, &v, err, sizeof err, "GET", "app:x", NULL);
    if (rc != KEEL_EAUTH) fail_msg("wrong password: rc %d (%s), want KEEL_EAUTH", rc, err);
    if (strstr(err, "WRONGPASS") == NULL || strstr(err, "not-the-password") != NULL) fail_msg("message: %s", err);
    keel_client_close(c);
    assert_int_equal(auth_failures() - before, 1);
    /* No password: the server's NOAUTH, as an answer. */
    o = opts(tls_eps, NULL, NULL, true);
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
    call_ok(c, "NOAUTH", "GET", "app:x", NULL);
    keel_client_close(c);
    /* No client certificate: refused by every node, the reason says TLS. */
    o = opts(tls_eps, "app", APP_PW, false);
    o.timeout_ms = 1500;
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
    rc = keel_callv(c, &v, err, sizeof err, "GET", "app:x", NULL);
    if (rc != KEEL_ENOTLEADER || (strstr(err, "TLS") == NULL && strstr(err, "closed") == NULL))
        fail_msg("no client certificate: rc %d: %s", rc, err);
    keel_client_close(c);
    /* A missing CA file: refused at open. */
    o = opts(tls_eps, "app", APP_PW, true);
    o.tls_ca_file = "/nonexistent/ca.crt";
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), KEEL_EINVAL);
}

/* Kill the node the client is connected to: the next calls go elsewhere,
 * each new connection authenticated (a NOAUTH would be a reply here). */
static void test_libkeel_failover(void **state)
{
    (void)state;
    char err[KEEL_ERRMSG_SIZE], key[64];
    struct keel_client *c;
    struct keel_client_options o = opts(tls_eps, "app", APP_PW, true);
    o.timeout_ms = 20000;
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
    call_ok(c, "OK", "SET", "app:fo:0", "v");
    unsigned victim = 99;
    for (unsigned i = 0; i < 3; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "127.0.0.1:%u", tls_port[i]);
        if (strcmp(ep, keel_client_endpoint(c)) == 0) victim = i;
    }
    assert_true(victim < 3);
    kc_signal(&cl, victim, SIGKILL);
    for (int k = 1; k <= 20; k++) {
        snprintf(key, sizeof key, "app:fo:%d", k);
        call_ok(c, "OK", "SET", key, "v");
    }
    if (strstr(keel_client_endpoint(c), "127.0.0.1:") == NULL) fail_msg("not connected after failover");
    call_ok(c, "v", "GET", "app:fo:20", NULL);
    keel_client_close(c);
    kc_start_node(&cl, victim);
    assert_true(kc_leader(&cl, 15000) >= 0);
}

/* ---- the async client ---------------------------------------------------- */

struct aresult
{
    bool done;
    int status;
    char text[256];
};

static void acb(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg, void *data)
{
    struct aresult *r = data;
    (void)a;
    r->done = true;
    r->status = status;
    snprintf(r->text, sizeof r->text, "%s", status != 0 ? errmsg : reply->str ? reply->str : "");
    keel_value_free(reply);
}

static struct aresult acall(uv_loop_t *loop, struct keel_async *a, const char *w0, const char *w1, const char *w2)
{
    struct aresult r = {0};
    assert_int_equal(keel_async_callv(a, acb, &r, w0, w1, w2, NULL), 0);
    long long end = kc_now_ms() + 20000;
    while (!r.done && kc_now_ms() < end) uv_run(loop, UV_RUN_ONCE);
    if (!r.done) fail_msg("%s %s: no callback within 20 s", w0, w1);
    return r;
}

static void closed_cb(void *data)
{
    *(bool *)data = true;
}

/* app through the async client with options o: allowed, denied, and a
 * wrong password refused (KEEL_EAUTH, the password nowhere). */
static void async_as_app(struct keel_client_options o, const char *key)
{
    char err[KEEL_ERRMSG_SIZE];
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct keel_async *a;
    assert_int_equal(keel_async_open(&loop, &o, &a, err, sizeof err), 0);
    struct aresult r = acall(&loop, a, "SET", key, "v");
    if (r.status != 0 || strcmp(r.text, "OK") != 0) fail_msg("async SET: %d %s", r.status, r.text);
    r = acall(&loop, a, "GET", "other", NULL);
    if (r.status != 0 || strncmp(r.text, "NOPERM", 6) != 0) fail_msg("async GET other: %d %s", r.status, r.text);
    bool closed = false;
    keel_async_close(a, closed_cb, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    o.password = "not-the-password";
    assert_int_equal(keel_async_open(&loop, &o, &a, err, sizeof err), 0);
    r = acall(&loop, a, "GET", key, NULL);
    if (r.status != KEEL_EAUTH || strstr(r.text, "WRONGPASS") == NULL || strstr(r.text, "not-the-password"))
        fail_msg("async wrong password: %d %s", r.status, r.text);
    closed = false;
    keel_async_close(a, closed_cb, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    /* Every handle closed and freed: nothing left on the loop. */
    while (uv_run(&loop, UV_RUN_NOWAIT) != 0) {
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_libkeel_async_auth(void **state)
{
    (void)state;
    char eps[256];
    kc_endpoints(&cl, eps, sizeof eps);
    struct keel_client_options o = {.endpoints = eps, .timeout_ms = 10000, .user = "app", .password = APP_PW};
    async_as_app(o, "app:async"); /* plaintext ports */
    async_as_app(opts(tls_eps, "app", APP_PW, true), "app:async-tls");
    /* A dead endpoint and a live one: a failed TLS dial moves on. */
    char two[128];
    snprintf(two, sizeof two, "127.0.0.1:%u,127.0.0.1:%u", kc_free_port(), tls_port[0]);
    async_as_app(opts(two, "app", APP_PW, true), "app:async-tls2");
}

static int keelctl(char *out, size_t osize, char *err, size_t esize, const char *user, const char *args)
{
    return kc_keelctl(&cl, out, osize, err, esize,
                      "--endpoints %s --tls --cacert %s/ca.crt --cert %s/client-app.crt --key %s/client-app.key "
                      "--user %s %s",
                      tls_eps, dir, dir, dir, user, args);
}

static void test_keelctl(void **state)
{
    (void)state;
    char out[16384], err[4096], args[1024];
    setenv("KEELCTL_PASSWORD", OPS_PW, 1);
    int rc = keelctl(out, sizeof out, err, sizeof err, "ops", "status");
    if (rc != 0 || strstr(out, "leader") == NULL) fail_msg("status: rc %d\n%s\n%s", rc, out, err);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "--json status");
    for (unsigned i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"address\": \"127.0.0.1:%u\"", tls_port[i]);
        if (rc != 0 || strstr(out, want) == NULL) fail_msg("status --json lacks node %u: rc %d\n%s\n%s", i + 1, rc, out, err);
    }
    if (strstr(out, "\"reachable\": false") != NULL) fail_msg("status: a node unreachable over TLS:\n%s", out);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "health");
    if (rc != 0) fail_msg("health: rc %d\n%s\n%s", rc, out, err);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "member list");
    if (rc != 0 || strstr(out, "voter") == NULL) fail_msg("member list: rc %d\n%s\n%s", rc, out, err);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "set k1 v1");
    assert_int_equal(rc, 0);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "get k1");
    if (rc != 0 || strcmp(out, "v1\n") != 0) fail_msg("get: rc %d '%s' %s", rc, out, err);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "hashkv");
    if (rc != 0) fail_msg("hashkv: rc %d\n%s\n%s", rc, out, err);
    snprintf(args, sizeof args, "backup save %s/backup.keel", cl.base);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", args);
    if (rc != 0) fail_msg("backup save: rc %d\n%s\n%s", rc, out, err);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "drill leader-transfer --duration 2 --writers 2");
    if (rc != 0) fail_msg("drill leader-transfer: rc %d\n%s\n%s", rc, out, err);
    /* app may write app:* but not read the membership. */
    setenv("KEELCTL_PASSWORD", APP_PW, 1);
    rc = keelctl(out, sizeof out, err, sizeof err, "app", "set app:k v");
    assert_int_equal(rc, 0);
    rc = keelctl(out, sizeof out, err, sizeof err, "app", "member list");
    if (rc != 1 || strstr(err, "NOPERM") == NULL) fail_msg("app member list: rc %d\n%s\n%s", rc, out, err);
    /* A wrong password: exit 1 at once, the password not echoed. */
    setenv("KEELCTL_PASSWORD", "wrong-pw-x", 1);
    rc = keelctl(out, sizeof out, err, sizeof err, "app", "get app:k");
    if (rc != 1 || strstr(err, "WRONGPASS") == NULL || strstr(err, "wrong-pw-x") != NULL)
        fail_msg("wrong password: rc %d\n%s\n%s", rc, out, err);
    unsetenv("KEELCTL_PASSWORD");
    /* --password-file; REDISCLI_AUTH; --pass refused. */
    char pwfile[700];
    snprintf(pwfile, sizeof pwfile, "%s/ops.pw", cl.base);
    FILE *f = fopen(pwfile, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", OPS_PW);
    fclose(f);
    chmod(pwfile, 0600);
    snprintf(args, sizeof args, "--password-file %s get k1", pwfile);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", args);
    if (rc != 0 || strcmp(out, "v1\n") != 0) fail_msg("--password-file: rc %d '%s' %s", rc, out, err);
    setenv("REDISCLI_AUTH", OPS_PW, 1);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "get k1");
    unsetenv("REDISCLI_AUTH");
    if (rc != 0 || strcmp(out, "v1\n") != 0) fail_msg("REDISCLI_AUTH: rc %d '%s' %s", rc, out, err);
    rc = keelctl(out, sizeof out, err, sizeof err, "ops", "--pass " OPS_PW " get k1");
    if (rc != 2 || strstr(err, "--password-file") == NULL) fail_msg("--pass: rc %d %s", rc, err);
}

/* redis-cli, redis-py and ioredis as app on every node. */
static void test_real_clients(void **state)
{
    (void)state;
    char out[16384], ports[64] = "";
    for (unsigned i = 0; i < 3; i++)
        snprintf(ports + strlen(ports), sizeof ports - strlen(ports), " %u", tls_port[i]);
    const char *cli = env_or("REDIS_CLI", "redis-cli");
    /* After the drills' leader changes, a follower answers -TRYAGAIN until
     * its forwarding connection to the new leader is up: wait for a write
     * through every node (these clients do not retry by themselves). */
    assert_true(kc_leader(&cl, 15000) >= 0);
    for (unsigned i = 0; i < 3; i++) {
        bool ok = false;
        for (int t = 0; t < 150 && !ok; t++) {
            redisReply *r = kc_cmd(&cl, i, "SET warmup v");
            ok = kc_is_status(r, "OK");
            if (r) freeReplyObject(r);
            if (!ok) kc_pause_ms(100);
        }
        if (!ok) fail_msg("node %u: no write through it within 15 s", i + 1);
    }
    for (unsigned i = 0; i < 3; i++) {
        const char *cmds[][2] = {{"SET app:cli:@ v", "OK"},
                                 {"GET app:cli:@", "v"},
                                 {"GET other", "NOPERM*"},
                                 {"KEEL.MEMBER LIST", "NOPERM*"},
                                 {"CONFIG SET loglevel debug", "NOPERM*"}};
        for (size_t k = 0; k < sizeof cmds / sizeof *cmds; k++) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "%s", cmds[k][0]);
            char *at = strchr(cmd, '@');
            if (at) *at = (char)('1' + i); /* a key per node */
            int rc = kc_sh(120, out, sizeof out,
                        "env REDISCLI_AUTH=%s '%s' --tls --cacert %s/ca.crt --cert %s/client-app.crt --key "
                        "%s/client-app.key --user app -h 127.0.0.1 -p %u %s",
                        APP_PW, cli, dir, dir, dir, tls_port[i], cmd);
            if (rc != 0 || !kc_text_matches(out, cmds[k][1]))
                fail_msg("redis-cli on node %u: %s: rc %d '%s', want '%s'", i + 1, cmd, rc, out, cmds[k][1]);
        }
    }
    int rc = kc_sh(120, out, sizeof out, "/usr/bin/python3 '%s' %s %s %s%s", env_or("CLIENTS_PY", "clients_tls_acl.py"), dir,
                "app", APP_PW, ports);
    if (rc != 0) fail_msg("redis-py: rc %d\n%s", rc, out);
    print_message("%s\n", out);
    /* ioredis, installed by npm ci from the pinned lock into the build tree. */
    rc = kc_sh(120, out, sizeof out, "'%s' '%s' %s app %s%s", env_or("IOREDIS_SH", "ioredis_acl.sh"),
            env_or("IOREDIS_DIR", "node"), dir, APP_PW, ports);
    if (rc == 77) {
        print_message("ioredis: SKIPPED (%s)\n", out);
        skip();
    }
    if (rc != 0) fail_msg("ioredis: rc %d\n%s", rc, out);
    print_message("%s\n", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libkeel),
        cmocka_unit_test(test_libkeel_failover),
        cmocka_unit_test(test_libkeel_async_auth),
        cmocka_unit_test(test_keelctl),
        cmocka_unit_test(test_real_clients),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
