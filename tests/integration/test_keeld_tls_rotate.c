/* tests/integration: certificate rotation without a restart (SIGHUP and
 * CONFIG SET tls-cert-file|tls-key-file|tls-ca-cert-file) and the
 * CERT_EXPIRY alarm, on a 3-node cluster with member TLS (--tls-cluster
 * yes) and a client TLS port, while a writer runs (docs/security.md,
 * "Rotating certificates").
 *
 * 1. New certificates from the same CA, valid 3 days, copied over the files
 *    and SIGHUP to every node: reloads counted, the TLS port presents the
 *    new certificate, CERT_EXPIRY raised (metric, INFO, /health).
 * 2. A CA rollover by CONFIG SET: the CA bundle old+new on every node, then
 *    each node's certificate from the new CA, then the new CA alone.
 *    CERT_EXPIRY cleared; redis-cli --tls with only the new CA connects.
 * 3. Bad files in CONFIG SET are refused with the reason, counted, and the
 *    node keeps serving with what it had.
 * 4. Each follower is cut off from raft (KEEL.DRILL ISOLATE) so that every
 *    raft connection is dialled again with the new material: it catches up
 *    and no peer is refused.
 * The writer's acknowledged writes are all read back from every node, and
 * no write failed while certificates rotated (phases 1-3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"
#include "kc_tls.h"

static struct kc cl;
static unsigned tls_port[KC_MAX], http_port[KC_MAX];
static char dir_a[600], dir_a2[600], dir_b[600];

#define MAX_WRITES 200000
static atomic_bool writer_stop;
static atomic_uint writer_failures; /* writes not acknowledged */
static atomic_uint writer_done;     /* writes attempted */
static unsigned char acked[MAX_WRITES];

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[4096], out[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (kc_sh(30, out, sizeof out, "%s", cmd) != 0) fail_msg("%s failed:\n%s", cmd, out);
}

/* GET path from node i's HTTP endpoint: the body (with the status line first). */
static void http_get(unsigned i, const char *path, char *body, size_t size)
{
    char req[256];
    body[0] = 0;
    int fd = kc_tcp_connect(http_port[i], 10);
    if (fd < 0) return;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return;
    }
    size_t got = 0;
    ssize_t r;
    while (got < size - 1 && (r = read(fd, body + got, size - 1 - got)) > 0) got += (size_t)r;
    close(fd);
    body[got] = 0;
}

/* A sample of node i's /metrics; LLONG_MIN if absent. */
static long long metric(unsigned i, const char *sample)
{
    static char body[262144];
    char want[200];
    http_get(i, "/metrics", body, sizeof body);
    snprintf(want, sizeof want, "\n%s ", sample);
    const char *p = strstr(body, want);
    return p ? strtoll(p + strlen(want), NULL, 10) : -(1LL << 62);
}

/* /metrics is published every 250 ms: wait up to 10 s for sample == v. */
static void metric_becomes(unsigned i, const char *sample, long long v)
{
    long long got = 0;
    for (int t = 0; t < 200; t++) {
        if ((got = metric(i, sample)) == v) return;
        kc_pause_ms(50);
    }
    fail_msg("node %u: %s is %lld, want %lld", i + 1, sample, got, v);
}

static bool has_alarm(unsigned i)
{
    char list[256];
    kc_info(&cl, i, "alarms", "keel_alarms", list, sizeof list);
    return strstr(list, "CERT_EXPIRY") != NULL;
}

static void alarm_becomes(unsigned i, bool on)
{
    for (int t = 0; t < 200; t++) {
        if (has_alarm(i) == on) return;
        kc_pause_ms(50);
    }
    fail_msg("node %u: CERT_EXPIRY %s", i + 1, on ? "not raised" : "not cleared");
}

/* The notAfter of the certificate node i's TLS port presents now (a new
 * handshake), and of a file. */
static void presented_enddate(unsigned i, char *out, size_t size)
{
    kc_sh(30, out, size, "echo | openssl s_client -connect 127.0.0.1:%u 2>/dev/null | openssl x509 -noout -enddate",
       tls_port[i]);
}

static void file_enddate(const char *file, char *out, size_t size)
{
    kc_sh(30, out, size, "openssl x509 -noout -enddate -in '%s'", file);
}

static void *writer_main(void *arg)
{
    (void)arg;
    redisContext *ctx[3] = {NULL, NULL, NULL};
    for (unsigned k = 0; k < MAX_WRITES && !atomic_load(&writer_stop); k++) {
        unsigned i = k % 3;
        if (ctx[i] == NULL) {
            struct timeval tv = {5, 0};
            ctx[i] = redisConnectWithTimeout("127.0.0.1", (int)cl.nodes[i].client_port, tv);
            if (ctx[i] != NULL && ctx[i]->err == 0) redisSetTimeout(ctx[i], tv);
        }
        redisReply *r = ctx[i] && ctx[i]->err == 0 ? redisCommand(ctx[i], "SET rot:%u v%u", k, k) : NULL;
        if (r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) acked[k] = 1;
        else atomic_fetch_add(&writer_failures, 1);
        if (r == NULL && ctx[i] != NULL) {
            redisFree(ctx[i]);
            ctx[i] = NULL;
        }
        freeReplyObject(r);
        atomic_store(&writer_done, k + 1);
    }
    for (unsigned i = 0; i < 3; i++) {
        if (ctx[i]) redisFree(ctx[i]);
    }
    return NULL;
}

/* The writer has done n more writes: it is running through this step. */
static void writer_progresses(unsigned n)
{
    unsigned from = atomic_load(&writer_done);
    for (int t = 0; t < 600 && atomic_load(&writer_done) < from + n; t++) kc_pause_ms(50);
    if (atomic_load(&writer_done) < from + n) fail_msg("the writer is stuck at %u writes", atomic_load(&writer_done));
}

static redisReply *config_set(unsigned i, const char *a1, const char *v1, const char *a2, const char *v2)
{
    if (a2 == NULL) return kc_cmd(&cl, i, "CONFIG SET %s %s", a1, v1);
    return kc_cmd(&cl, i, "CONFIG SET %s %s %s %s", a1, v1, a2, v2);
}

static void expect_ok(unsigned i, redisReply *r, const char *what)
{
    if (!kc_is_status(r, "OK")) {
        char t[1024];
        kc_reply_text(r, false, t, sizeof t);
        fail_msg("node %u: %s: %s", i + 1, what, t);
    }
    freeReplyObject(r);
}

static void test_rotation_under_load(void **state)
{
    char out[4096], want[512], file[700], sample[200];
    (void)state;
    kc_prepare(&cl, 3, "");
    snprintf(dir_a, sizeof dir_a, "%s/a", cl.base);
    snprintf(dir_a2, sizeof dir_a2, "%s/a2", cl.base);
    snprintf(dir_b, sizeof dir_b, "%s/b", cl.base);
    run("'%s' '%s' 1 2 3", kc_make_certs(), dir_a);
    /* The same CA, short-lived member certificates. */
    run("mkdir -p '%s' && cp '%s/ca.crt' '%s/ca.key' '%s/' && KEEL_CERT_DAYS=3 '%s' '%s' 1 2 3", dir_a2, dir_a, dir_a,
        dir_a2, kc_make_certs(), dir_a2);
    /* Another CA: the rollover's new one. */
    run("'%s' '%s' 1 2 3 && cat '%s/ca.crt' '%s/ca.crt' > '%s/bundle.crt'", kc_make_certs(), dir_b, dir_a, dir_b, dir_b);
    snprintf(cl.extra, sizeof cl.extra, "--tls-cluster yes --tls-ca-cert-file %s/ca.crt --tls-auth-clients no --enable-drills",
             dir_a);
    for (unsigned i = 0; i < 3; i++) {
        tls_port[i] = kc_free_port();
        http_port[i] = kc_free_port();
        snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra,
                 "--http-addr 127.0.0.1:%u --tls-port %u --tls-cert-file %s/member-%u.crt --tls-key-file %s/member-%u.key",
                 http_port[i], tls_port[i], dir_a, i + 1, dir_a, i + 1);
    }
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < 3; i++) assert_false(has_alarm(i));
    /* A client that trusts only the new CA is refused before the rollover. */
    int rc = kc_sh(30, out, sizeof out, "'%s' --tls --cacert '%s/ca.crt' -h 127.0.0.1 -p %u PING", kc_redis_cli(), dir_b, tls_port[0]);
    if (rc == 0 && strcmp(out, "PONG") == 0) fail_msg("a client trusting only the new CA got PONG before the rollover");

    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, writer_main, NULL), 0);
    writer_progresses(200);

    /* 1. Same CA, 3-day certificates, in place, SIGHUP. */
    for (unsigned i = 0; i < 3; i++) {
        run("cp '%s/member-%u.crt' '%s/member-%u.crt' && cp '%s/member-%u.key' '%s/member-%u.key'", dir_a2, i + 1,
            dir_a, i + 1, dir_a2, i + 1, dir_a, i + 1);
        kc_signal(&cl, i, SIGHUP);
        metric_becomes(i, "keel_tls_reloads_total{result=\"ok\"}", 1);
        alarm_becomes(i, true);
        presented_enddate(i, out, sizeof out);
        snprintf(file, sizeof file, "%s/member-%u.crt", dir_a2, i + 1);
        file_enddate(file, want, sizeof want);
        if (strcmp(out, want) != 0) fail_msg("node %u presents %s after SIGHUP, want %s", i + 1, out, want);
        long long left = metric(i, "keel_tls_cert_expiry_seconds{context=\"member\",cert=\"own\"}");
        assert_true(left > 2 * 86400 && left <= 3 * 86400);
        left = metric(i, "keel_tls_cert_expiry_seconds{context=\"client\",cert=\"own\"}");
        assert_true(left > 2 * 86400 && left <= 3 * 86400);
        writer_progresses(100);
    }
    http_get(0, "/health", out, sizeof out);
    if (strstr(out, "503") == NULL || strstr(out, "CERT_EXPIRY") == NULL) fail_msg("/health with CERT_EXPIRY:\n%s", out);
    kc_info(&cl, 0, "alarms", "alarm_CERT_EXPIRY", out, sizeof out);
    if (strstr(out, "member certificate") == NULL || strstr(out, "expires") == NULL) fail_msg("alarm reason: %s", out);

    /* 2. CA rollover by CONFIG SET: bundle, new certificates, new CA alone. */
    snprintf(file, sizeof file, "%s/bundle.crt", dir_b);
    for (unsigned i = 0; i < 3; i++) expect_ok(i, config_set(i, "tls-ca-cert-file", file, NULL, NULL), "the bundle");
    writer_progresses(100);
    for (unsigned i = 0; i < 3; i++) {
        char crt[700], key[700];
        snprintf(crt, sizeof crt, "%s/member-%u.crt", dir_b, i + 1);
        snprintf(key, sizeof key, "%s/member-%u.key", dir_b, i + 1);
        expect_ok(i, config_set(i, "tls-cert-file", crt, "tls-key-file", key), "the new CA's certificate");
        alarm_becomes(i, false);
        writer_progresses(100);
    }
    snprintf(file, sizeof file, "%s/ca.crt", dir_b);
    for (unsigned i = 0; i < 3; i++) {
        expect_ok(i, config_set(i, "tls-ca-cert-file", file, NULL, NULL), "the new CA alone");
        metric_becomes(i, "keel_tls_reloads_total{result=\"ok\"}", 4);
        redisReply *r = kc_cmd(&cl, i, "CONFIG GET tls-*");
        kc_reply_text(r, false, out, sizeof out);
        freeReplyObject(r);
        if (strstr(out, file) == NULL || strstr(out, "/b/member-") == NULL) fail_msg("CONFIG GET tls-*: %s", out);
        rc = kc_sh(30, out, sizeof out, "'%s' --tls --cacert '%s/ca.crt' -h 127.0.0.1 -p %u PING", kc_redis_cli(), dir_b,
                tls_port[i]);
        if (rc != 0 || strcmp(out, "PONG") != 0) fail_msg("node %u: redis-cli --tls with the new CA: %s", i + 1, out);
    }
    writer_progresses(100);

    /* 3. Bad files: refused with the reason, counted; the node serves on. */
    char crt_b1[700], key_b2[700], crt_a1[700];
    snprintf(crt_b1, sizeof crt_b1, "%s/member-1.crt", dir_b);
    snprintf(key_b2, sizeof key_b2, "%s/member-2.key", dir_b);
    snprintf(crt_a1, sizeof crt_a1, "%s/member-1.crt", dir_a);
    struct
    {
        const char *a1, *v1, *a2, *v2, *want;
    } bad[] = {
        {"tls-cert-file", "/nonexistent/x.crt", NULL, NULL, "--tls-cert-file /nonexistent/x.crt"},
        {"tls-key-file", key_b2, NULL, NULL, "does not match"},
        /* the old CA's certificate against the new CA alone */
        {"tls-cert-file", crt_a1, "tls-key-file", key_b2, "does not match"},
        {"tls-cert-file", crt_b1, "tls-ca-cert-file", "/nonexistent/ca.crt", "--tls-ca-cert-file /nonexistent"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        redisReply *r = config_set(0, bad[k].a1, bad[k].v1, bad[k].a2, bad[k].v2);
        kc_reply_text(r, false, out, sizeof out);
        freeReplyObject(r);
        if (!kc_text_matches(out, "-ERR CONFIG SET failed (possibly related to argument '*") ||
            strstr(out, bad[k].want) == NULL || strstr(out, "the certificates in use stay") == NULL)
            fail_msg("bad case %zu: %s", k, out);
    }
    /* Node 2's certificate on node 1: it does not name member 1. */
    char crt_b2[700];
    snprintf(crt_b2, sizeof crt_b2, "%s/member-2.crt", dir_b);
    redisReply *r = config_set(0, "tls-cert-file", crt_b2, "tls-key-file", key_b2);
    kc_reply_text(r, false, out, sizeof out);
    freeReplyObject(r);
    if (strstr(out, "names member 2, not this node's --id 1") == NULL) fail_msg("another member's certificate: %s", out);
    metric_becomes(0, "keel_tls_reloads_total{result=\"error\"}", 5);
    metric_becomes(0, "keel_tls_reloads_total{result=\"ok\"}", 4);
    redisReply *g = kc_cmd(&cl, 0, "CONFIG GET tls-cert-file");
    kc_reply_text(g, false, out, sizeof out);
    freeReplyObject(g);
    if (strstr(out, crt_b1) == NULL) fail_msg("after refusals, CONFIG GET tls-cert-file: %s", out);
    rc = kc_sh(30, out, sizeof out, "'%s' --tls --cacert '%s/ca.crt' -h 127.0.0.1 -p %u PING", kc_redis_cli(), dir_b, tls_port[0]);
    if (rc != 0 || strcmp(out, "PONG") != 0) fail_msg("node 1 after refused reloads: %s", out);
    writer_progresses(100);
    unsigned failed_while_rotating = atomic_load(&writer_failures);

    /* 4. Every raft connection dialled again, with the new material only. */
    leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < 3; i++) {
        if ((int)i == leader) continue;
        r = kc_cmd(&cl, i, "KEEL.DRILL ISOLATE 1500");
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
        kc_pause_ms(1600); /* the drill's own length, then raft redials */
        uint64_t target = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
        bool caught_up = false;
        for (int t = 0; t < 300 && !caught_up; t++) {
            caught_up = kc_info_u64(&cl, i, "raft", "applied_index") >= target;
            if (!caught_up) kc_pause_ms(50);
        }
        if (!caught_up) fail_msg("node %u did not catch up after its raft connections were redialled", i + 1);
        writer_progresses(100);
    }
    for (unsigned i = 0; i < 3; i++) {
        static const char *reasons[] = {"no_cert", "bad_cert", "no_member_id", "id_mismatch", "handshake"};
        for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++) {
            snprintf(sample, sizeof sample, "keel_raft_peer_rejected_total{reason=\"%s\"}", reasons[k]);
            long long v = metric(i, sample);
            if (v != 0) fail_msg("node %u refused raft peers (%s): %lld", i + 1, reasons[k], v);
        }
    }
    atomic_store(&writer_stop, true);
    pthread_join(w, NULL);
    if (failed_while_rotating != 0)
        fail_msg("%u writes failed while the certificates rotated (before any drill)", failed_while_rotating);

    /* Every acknowledged write is on every node. */
    unsigned n = atomic_load(&writer_done), nacked = 0;
    for (unsigned i = 0; i < 3; i++) {
        redisContext *c = kc_connect_within(&cl, i, 20000);
        assert_non_null(c);
        for (unsigned k = 0; k < n; k++) {
            if (acked[k]) redisAppendCommand(c, "GET rot:%u", k);
        }
        for (unsigned k = 0; k < n; k++) {
            if (!acked[k]) continue;
            if (i == 0) nacked++;
            redisReply *v = NULL;
            if (redisGetReply(c, (void **)&v) != REDIS_OK || v == NULL) fail_msg("node %u: GET rot:%u: no reply", i + 1, k);
            char expect[32];
            snprintf(expect, sizeof expect, "v%u", k);
            if (v->type != REDIS_REPLY_STRING || strcmp(v->str, expect) != 0)
                fail_msg("node %u: acknowledged write rot:%u lost", i + 1, k);
            freeReplyObject(v);
        }
        redisFree(c);
    }
    print_message("%u writes, %u acknowledged and read back from every node; %u failed (all during the drills)\n", n,
                  nacked, atomic_load(&writer_failures));
    assert_true(nacked >= 1000);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rotation_under_load, teardown),
    };
    return cmocka_run_group_tests_name("keeld_tls_rotate", tests, NULL, NULL);
}
