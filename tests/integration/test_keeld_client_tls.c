/* tests/integration: TLS on the client port (keeld --tls-port, Redis's
 * option names; docs/security.md, "Client TLS"). Certificates come from
 * examples/tls/make-certs.sh in the test's scratch dir, clients are the real
 * ones: redis-cli --tls (Debian's redis-tools), redis-py (python3-redis)
 * and, for the long pipeline, OpenSSL driven here on a non-blocking socket.
 *
 * - A 3-node cluster with a TLS port on every node: a SET through a
 *   follower's TLS port (forwarded) is read back through every node's;
 *   redis-py works; INFO lists the TLS listener.
 * - --tls-auth-clients yes: no certificate, another CA's certificate and a
 *   plaintext client are refused, and counted by reason.
 * - 10,000 SETs of 1 KiB and 10,000 GETs pipelined through one TLS
 *   connection with --max-output and --max-pipeline at their floors: every
 *   reply comes back, in order, while the connection is paused and resumed
 *   (partial TLS records, plaintext left inside the session).
 * - --tls-auth-clients optional and --client-addr port 0: no certificate is
 *   accepted, nothing listens in plaintext, a client that never handshakes
 *   is closed after the bound.
 * - keeld refuses to start with a one-line reason on bad TLS options.
 * Every wait is a bounded poll; every process is stopped by pid. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
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
static char dir[600];  /* certificates: the cluster CA and its certificates */
static char odir[600]; /* another CA and a client certificate from it */

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* Run a shell command (bounded by timeout(1)); its stdout and stderr in out,
 * trailing newlines cut. Returns its exit status. */
/* redis-cli --tls on port with the given certificate flags and command. */
static int cli_tls(char *out, size_t size, unsigned port, const char *auth, const char *cmd)
{
    return kc_sh(30, out, size, "'%s' --tls --cacert '%s/ca.crt' %s -h 127.0.0.1 -p %u %s", kc_redis_cli(), dir, auth, port,
              cmd);
}

static char client_auth[1400]; /* --cert/--key of the cluster CA's client certificate */

static long rejected(unsigned i, const char *reason)
{
    char s[128];
    snprintf(s, sizeof s, "keel_client_tls_rejected_total{reason=\"%s\"}", reason);
    return kc_metric(http_port[i], s);
}

/* /metrics is published every 250 ms: wait up to 10 s for a sample to reach v. */
static bool metric_reaches(unsigned i, const char *sample, long v)
{
    for (int t = 0; t < 200; t++) {
        if (kc_metric(http_port[i], sample) >= v) return true;
        kc_pause_ms(50);
    }
    return false;
}

static bool rejected_reaches(unsigned i, const char *reason, long v)
{
    char s[128];
    snprintf(s, sizeof s, "keel_client_tls_rejected_total{reason=\"%s\"}", reason);
    return metric_reaches(i, s, v);
}

static bool log_has(unsigned i, const char *text)
{
    char buf[8192];
    FILE *f = fopen(cl.nodes[i].log, "r");
    if (f == NULL) return false;
    bool found = false;
    while (!found && fgets(buf, sizeof buf, f)) found = strstr(buf, text) != NULL;
    fclose(f);
    return found;
}

/* n nodes, each with a TLS port and HTTP; extra: more flags for all. */
static void prepare(unsigned n, const char *extra)
{
    kc_prepare(&cl, n, "");
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    snprintf(odir, sizeof odir, "%s/other", cl.base);
    kc_certs(dir, "1 2 3 client:app");
    kc_certs(odir, "client:intruder");
    snprintf(client_auth, sizeof client_auth, "--cert '%s/client-app.crt' --key '%s/client-app.key'", dir, dir);
    snprintf(cl.extra, sizeof cl.extra, "--tls-ca-cert-file %s/ca.crt %s", dir, extra);
    for (unsigned i = 0; i < n; i++) {
        tls_port[i] = kc_free_port();
        http_port[i] = kc_free_port();
        snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra,
                 "--http-addr 127.0.0.1:%u --tls-port %u --tls-cert-file %s/member-%u.crt --tls-key-file %s/member-%u.key",
                 http_port[i], tls_port[i], dir, i + 1, dir, i + 1);
    }
}

/* ---- a 3-node cluster, redis-cli and redis-py ---------------------------- */

static void test_cluster_tls_clients(void **state)
{
    char out[4096];
    (void)state;
    prepare(3, "");
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    if (leader < 0) fail_msg("no leader within 15 s");
    unsigned f = ((unsigned)leader + 1) % 3;
    /* Through a follower's TLS port: forwarded to the leader (once the
     * follower knows where the leader is: -TRYAGAIN until then). */
    int rc = -1;
    for (int t = 0; t < 100 && (rc != 0 || strcmp(out, "OK") != 0); t++) {
        if (t > 0) kc_pause_ms(100);
        rc = cli_tls(out, sizeof out, tls_port[f], client_auth, "SET greeting hello");
    }
    if (rc != 0 || strcmp(out, "OK") != 0) fail_msg("SET through node %u's TLS port: rc %d, '%s'", f + 1, rc, out);
    for (unsigned i = 0; i < 3; i++) {
        rc = cli_tls(out, sizeof out, tls_port[i], client_auth, "GET greeting");
        if (rc != 0 || strcmp(out, "hello") != 0) fail_msg("GET on node %u over TLS: rc %d, '%s'", i + 1, rc, out);
    }
    /* The plaintext port still serves (both on at once). */
    kc_expect(&cl, f, true, "GET greeting", "\"hello\"");
    /* INFO lists both listeners, as Redis 7.2 does. */
    rc = cli_tls(out, sizeof out, tls_port[f], client_auth, "INFO server");
    char want[128];
    snprintf(want, sizeof want, "listener2:name=tls,bind=127.0.0.1,port=%u", tls_port[f]);
    if (rc != 0 || strstr(out, want) == NULL || strstr(out, "listener0:name=tcp,bind=127.0.0.1") == NULL)
        fail_msg("INFO server over TLS lacks the listener lines (%s):\n%s", want, out);
    assert_true(metric_reaches(f, "keel_client_tls_handshakes_total", 3));

    /* redis-py, with Redis's TLS parameters, on a follower and the leader. */
    unsigned targets[2] = {f, (unsigned)leader};
    for (int k = 0; k < 2; k++) {
        unsigned i = targets[k];
        rc = kc_sh(30, out, sizeof out,
                "/usr/bin/python3 -c \"import redis; r = redis.Redis(host='127.0.0.1', port=%u, ssl=True, "
                "ssl_ca_certs='%s/ca.crt', ssl_certfile='%s/client-app.crt', ssl_keyfile='%s/client-app.key', "
                "socket_timeout=10); r.set('py%d', 'v%d'); print(r.get('py%d').decode(), r.get('greeting').decode())\"",
                tls_port[i], dir, dir, dir, k, k, k);
        char expect[32];
        snprintf(expect, sizeof expect, "v%d hello", k);
        if (rc != 0 || strcmp(out, expect) != 0) fail_msg("redis-py on node %u: rc %d, '%s'", i + 1, rc, out);
    }

    /* --tls-auth-clients yes (the default): refused without a certificate,
     * with another CA's, and in plaintext; counted by reason, logged. */
    long no_cert = rejected(f, "no_cert"), bad_cert = rejected(f, "bad_cert"), hs = rejected(f, "handshake");
    assert_true(no_cert >= 0 && bad_cert >= 0 && hs >= 0); /* the metric is there */
    rc = cli_tls(out, sizeof out, tls_port[f], "", "PING");
    if (rc == 0 && strcmp(out, "PONG") == 0) fail_msg("a client without a certificate got PONG");
    assert_true(rejected_reaches(f, "no_cert", no_cert + 1));
    char other[1400];
    snprintf(other, sizeof other, "--cert '%s/client-intruder.crt' --key '%s/client-intruder.key'", odir, odir);
    rc = cli_tls(out, sizeof out, tls_port[f], other, "PING");
    if (rc == 0 && strcmp(out, "PONG") == 0) fail_msg("a client with another CA's certificate got PONG");
    assert_true(rejected_reaches(f, "bad_cert", bad_cert + 1));
    rc = kc_sh(30, out, sizeof out, "'%s' -h 127.0.0.1 -p %u PING", kc_redis_cli(), tls_port[f]);
    if (strcmp(out, "PONG") == 0) fail_msg("a plaintext client got PONG from the TLS port");
    assert_true(rejected_reaches(f, "handshake", hs + 1));
    assert_true(log_has(f, "refused on the TLS port (no_cert)"));
    assert_true(log_has(f, "refused on the TLS port (bad_cert)"));
    /* TLS against the plaintext port fails too: the port speaks RESP only
     * (redis-cli waits for a ServerHello that never comes: 5 s). */
    rc = kc_sh(30, out, sizeof out, "timeout 5 '%s' --tls --cacert '%s/ca.crt' %s -h 127.0.0.1 -p %u PING", kc_redis_cli(), dir,
            client_auth, cl.nodes[f].client_port);
    if (strcmp(out, "PONG") == 0) fail_msg("redis-cli --tls got PONG from the plaintext port");
}

/* ---- a long pipeline through one TLS connection ------------------------- */

#define PIPE_N 10000
#define VAL_LEN 1024

static void value_of(int i, char *v)
{
    int n = snprintf(v, VAL_LEN + 1, "v%05d-", i);
    memset(v + n, 'a' + i % 26, (size_t)(VAL_LEN - n));
    v[VAL_LEN] = 0;
}

struct pipe_state
{
    char *rb;
    size_t rlen, rcap;
    int replies; /* parsed so far, in order */
};

/* Parse whole replies at the head of ps->rb; fail on a wrong one. */
static void parse_replies(struct pipe_state *ps)
{
    size_t pos = 0;
    char v[VAL_LEN + 1];
    for (;;) {
        char *nl = memchr(ps->rb + pos, '\n', ps->rlen - pos);
        if (nl == NULL) break;
        size_t line = (size_t)(nl - (ps->rb + pos)) + 1;
        int i = ps->replies;
        if (i < PIPE_N) {
            if (line != 5 || memcmp(ps->rb + pos, "+OK\r\n", 5) != 0)
                fail_msg("reply %d (SET): '%.*s'", i, (int)(line > 80 ? 80 : line), ps->rb + pos);
            pos += line;
        } else {
            long len = ps->rb[pos] == '$' ? strtol(ps->rb + pos + 1, NULL, 10) : -2;
            if (len != VAL_LEN) fail_msg("reply %d (GET): '%.*s'", i, (int)(line > 80 ? 80 : line), ps->rb + pos);
            if (ps->rlen - pos < line + VAL_LEN + 2) break;
            value_of(i - PIPE_N, v);
            if (memcmp(ps->rb + pos + line, v, VAL_LEN) != 0)
                fail_msg("reply %d: GET k%d answered '%.12s...', want '%.12s...' (out of order?)", i, i - PIPE_N,
                         ps->rb + pos + line, v);
            pos += line + VAL_LEN + 2;
        }
        ps->replies++;
    }
    memmove(ps->rb, ps->rb + pos, ps->rlen - pos);
    ps->rlen -= pos;
}

/* Write the whole pipeline while reading replies (never blocking on
 * either), as a client that keeps reading must: the server stops reading
 * us whenever its unsent replies or pending commands pass their bounds. */
static void run_pipeline(unsigned port)
{
    char path[700];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, path, NULL), 1);
    snprintf(path, sizeof path, "%s/client-app.crt", dir);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, path), 1);
    snprintf(path, sizeof path, "%s/client-app.key", dir);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int fd = kc_tcp_connect(port, 20);
    assert_true(fd >= 0);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) fail_msg("TLS handshake with port %u failed", port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    size_t cap = (size_t)PIPE_N * (VAL_LEN + 64) * 2, len = 0;
    char *out = malloc(cap), v[VAL_LEN + 1];
    assert_non_null(out);
    for (int i = 0; i < PIPE_N; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", i);
        value_of(i, v);
        len += (size_t)snprintf(out + len, cap - len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, key,
                                VAL_LEN, v);
    }
    for (int i = 0; i < PIPE_N; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", i);
        len += (size_t)snprintf(out + len, cap - len, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
    }
    struct pipe_state ps = {.rcap = 1 << 20};
    ps.rb = malloc(ps.rcap);
    assert_non_null(ps.rb);
    size_t sent = 0;
    long long deadline = kc_now_ms() + 180000;
    while (ps.replies < 2 * PIPE_N) {
        if (kc_now_ms() > deadline)
            fail_msg("pipeline: %d of %d replies and %zu of %zu bytes sent after 180 s", ps.replies, 2 * PIPE_N,
                     sent, len);
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0)};
        poll(&pfd, 1, 200);
        for (;;) {
            if (ps.rcap - ps.rlen < 65536) {
                ps.rcap *= 2;
                ps.rb = realloc(ps.rb, ps.rcap);
                assert_non_null(ps.rb);
            }
            int n = SSL_read(ssl, ps.rb + ps.rlen, (int)(ps.rcap - ps.rlen));
            if (n > 0) {
                ps.rlen += (size_t)n;
                parse_replies(&ps);
                continue;
            }
            int e = SSL_get_error(ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
            fail_msg("pipeline: the connection ended after %d replies (SSL error %d)", ps.replies, e);
        }
        while (sent < len) {
            size_t m = len - sent < 16384 ? len - sent : 16384;
            int n = SSL_write(ssl, out + sent, (int)m);
            if (n > 0) {
                sent += (size_t)n;
                continue;
            }
            int e = SSL_get_error(ssl, n);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
            fail_msg("pipeline: writing failed after %zu bytes (SSL error %d)", sent, e);
        }
    }
    assert_int_equal(ps.rlen, 0);
    free(ps.rb);
    free(out);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}

static void test_pipeline_backpressure(void **state)
{
    (void)state;
    /* The floors: a connection stops being read after 64 KiB of unsent
     * replies or 64 pending commands, many times over in this pipeline. */
    prepare(1, "--max-output 65536 --max-pipeline 64");
    kc_start_node(&cl, 0);
    assert_true(kc_leader(&cl, 15000) == 0);
    uint64_t paused = kc_info_u64(&cl, 0, "stats", "keel_backpressure_pauses");
    run_pipeline(tls_port[0]);
    assert_true(kc_info_u64(&cl, 0, "stats", "keel_backpressure_pauses") > paused);
    kc_expect(&cl, 0, true, "STRLEN k9999", ":1024");
}

/* ---- optional client certificates, no plaintext port --------------------- */

static void test_optional_no_plaintext(void **state)
{
    char out[4096];
    (void)state;
    prepare(1, "--tls-auth-clients optional --client-addr 127.0.0.1:0");
    kc_spawn_node(&cl, 0); /* kc_start_node waits for the plaintext port */
    int rc = -1;
    for (int t = 0; t < 300 && (rc != 0 || strcmp(out, "OK") != 0); t++) {
        if (t > 0) kc_pause_ms(50);
        rc = cli_tls(out, sizeof out, tls_port[0], "", "SET opt yes");
    }
    if (rc != 0 || strcmp(out, "OK") != 0) fail_msg("SET without a client certificate (optional): rc %d, '%s'", rc, out);
    rc = cli_tls(out, sizeof out, tls_port[0], client_auth, "GET opt");
    if (rc != 0 || strcmp(out, "yes") != 0) fail_msg("GET with a client certificate: rc %d, '%s'", rc, out);
    /* A certificate that is presented must still verify. */
    char other[1400];
    snprintf(other, sizeof other, "--cert '%s/client-intruder.crt' --key '%s/client-intruder.key'", odir, odir);
    rc = cli_tls(out, sizeof out, tls_port[0], other, "GET opt");
    if (strcmp(out, "yes") == 0) fail_msg("another CA's certificate was accepted with optional");
    assert_true(rejected_reaches(0, "bad_cert", 1));
    /* Port 0: no plaintext listener, and INFO says so as Redis does. */
    int fd = kc_tcp_connect(cl.nodes[0].client_port, 20);
    if (fd >= 0) {
        close(fd);
        fail_msg("something listens on the plaintext client port %u", cl.nodes[0].client_port);
    }
    rc = cli_tls(out, sizeof out, tls_port[0], "", "INFO server");
    const char *tcp_port = strstr(out, "tcp_port:"); /* Redis 7.2's: the TLS port when port is 0 */
    if (tcp_port == NULL || strtoul(tcp_port + 9, NULL, 10) != tls_port[0] || strstr(out, "listener0:") != NULL ||
        strstr(out, "listener2:name=tls") == NULL)
        fail_msg("INFO server with plaintext off:\n%s", out);
    assert_true(log_has(0, "plaintext client port off"));
    /* A client that connects and never starts its handshake is closed after
     * the bound, and counted. */
    fd = kc_tcp_connect(tls_port[0], 20);
    assert_true(fd >= 0);
    long long t0 = kc_now_ms();
    char b;
    ssize_t r = read(fd, &b, 1); /* SO_RCVTIMEO: 20 s */
    long long waited = kc_now_ms() - t0;
    close(fd);
    if (r != 0) fail_msg("a silent client was not closed (read %zd after %lld ms)", r, waited);
    assert_true(waited >= 9000);
    assert_true(rejected_reaches(0, "timeout", 1));
}

/* ---- refusals at start ---------------------------------------------------- */

static void test_client_tls_options(void **state)
{
    char cmd[4096], out[2048];
    (void)state;
    kc_prepare(&cl, 1, "");
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    kc_certs(dir, "1");
    struct
    {
        const char *args, *want;
    } cases[] = {
        {"--tls-port P", "--tls-port needs --tls-cert-file and --tls-key-file"},
        {"--tls-port P --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key",
         "--tls-auth-clients yes needs --tls-ca-cert-file"},
        {"--tls-port P --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key --tls-auth-clients optional",
         "--tls-auth-clients optional needs --tls-ca-cert-file"},
        {"--tls-port P --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key --tls-auth-clients maybe",
         "--tls-auth-clients maybe: want yes, no or optional"},
        {"--client-addr 127.0.0.1:0", "there is no --tls-port"},
        {"--tls-port P --tls-cert-file D/member-1.crt --tls-key-file D/nope.key --tls-auth-clients no",
         "--tls-port: --tls-key-file"},
        {"--tls-port P --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key --tls-ca-cert-file D/ca.crt "
         "--tls-protocols TLSv1.1",
         "--tls-protocols: TLSv1.1 is not offered"},
        {"--tls-port P --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key --tls-ca-cert-file D/ca.crt "
         "--tls-ciphers NOPE",
         "--tls-ciphers NOPE"},
    };
    unsigned port = kc_free_port();
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char args[2048] = "";
        for (const char *p = cases[k].args; *p; p++) {
            if (*p == 'D' && p[1] == '/') strncat(args, dir, sizeof args - strlen(args) - 1);
            else if (*p == 'P' && (p[1] == 0 || p[1] == ' ')) {
                char num[16];
                snprintf(num, sizeof num, "%u", port);
                strncat(args, num, sizeof args - strlen(args) - 1);
            } else strncat(args, p, 1);
        }
        snprintf(cmd, sizeof cmd,
                 "'%s' --id 1 --data-dir %s/n --raft-addr 127.0.0.1:%u --client-addr 127.0.0.1:%u "
                 "--cluster 1=127.0.0.1:%u %s",
                 kc_keeld(), cl.base, cl.nodes[0].raft_port, cl.nodes[0].client_port, cl.nodes[0].raft_port, args);
        int rc = kc_sh(30, out, sizeof out, "%s", cmd);
        if (rc == 0 || strstr(out, cases[k].want) == NULL || strchr(out, '\n') != NULL)
            fail_msg("case %zu: want a one-line refusal saying '%s', got (rc %d):\n%s", k, cases[k].want, rc, out);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_tls_options, teardown),
        cmocka_unit_test_teardown(test_cluster_tls_clients, teardown),
        cmocka_unit_test_teardown(test_pipeline_backpressure, teardown),
        cmocka_unit_test_teardown(test_optional_no_plaintext, teardown),
    };
    return cmocka_run_group_tests_name("keeld_client_tls", tests, NULL, NULL);
}
