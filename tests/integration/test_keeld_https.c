/* tests/integration: the HTTP endpoint's protection (docs/security.md,
 * "HTTPS and the metrics token"). With --http-tls yes the endpoint speaks
 * HTTPS only: curl with the CA gets /metrics, plain HTTP and curl without
 * the CA get nothing, the member certificate is reused unless
 * --http-tls-cert-file names another. With --http-token-file, /metrics and
 * /status answer 401 (WWW-Authenticate: Bearer) without the right token,
 * and 200 with it; /health and /ready stay open and /health withholds its
 * reasons; refusals are counted (keel_http_unauthorized_total) and logged at
 * most once per 10 s; the token is never in the log, the command line or
 * the environment. Bad options and files stop keeld with one line before it
 * creates its data directory. Certificates come from
 * examples/tls/make-certs.sh in the test's scratch dir; every wait is a
 * bounded poll; every process is stopped by pid (kc_stop fails the test if
 * a node does not exit 0, which a sanitizer report prevents). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"
#include "kc_tls.h"

/* 64 hex digits, as `openssl rand -hex 32` makes them. */
#define TOKEN "3f1c9a7e5b2d4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"

static struct kc cl;
static unsigned http_port;
static char dir[600];  /* <base>/tls: the cluster CA and member certificates */

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap + 1);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    b[n] = 0;
    if (len) *len = n;
    return b;
}

/* One node (id 1) started with flags; a CA and certificates for ids 1 and 2
 * in <base>/tls (D/ in flags), another CA with 7 in <base>/web, the token in
 * <base>/token (B/ in flags is <base>/). */
static void start_one(const char *flags)
{
    kc_prepare(&cl, 1, "");
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    kc_certs(dir, "1 2");
    char web[700];
    snprintf(web, sizeof web, "%s/web", cl.base); /* another CA and certificate, for --http-tls-cert-file */
    kc_certs(web, "7");
    http_port = kc_free_port();
    char tok[700];
    snprintf(tok, sizeof tok, "%s/token", cl.base);
    write_file(tok, TOKEN "\n", 0600);
    snprintf(tok, sizeof tok, "%s/token-open", cl.base); /* the same token, readable by all */
    write_file(tok, TOKEN "\n", 0644);
    char args[1024] = "";
    for (const char *p = flags; *p; p++) { /* D/ is the certificates' dir, B/ the base */
        if ((*p == 'D' || *p == 'B') && p[1] == '/') strncat(args, *p == 'D' ? dir : cl.base, sizeof args - strlen(args) - 1);
        else strncat(args, p, 1);
    }
    snprintf(cl.nodes[0].extra, sizeof cl.nodes[0].extra, "--http-addr 127.0.0.1:%u %s", http_port, args);
    kc_start_node(&cl, 0);
}

/* curl: the HTTP code (body in body), or -(curl's exit code) if it got no
 * answer. cacert and hdrfile may be NULL. */
static int curl(const char *scheme, const char *path, const char *cacert, const char *hdrfile, char *body,
                size_t size)
{
    char out[700], cmd[2400], code[16] = "";
    snprintf(out, sizeof out, "%s/curl.out", cl.base);
    unlink(out);
    snprintf(cmd, sizeof cmd, "curl -sS --max-time 5 -o '%s' -w '%%{http_code}' %s%s%s %s%s%s %s://127.0.0.1:%u%s 2>&1",
             out, cacert ? "--cacert '" : "", cacert ? cacert : "", cacert ? "'" : "", hdrfile ? "-H @'" : "",
             hdrfile ? hdrfile : "", hdrfile ? "'" : "", scheme, http_port, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char msg[512] = "";
    size_t n = fread(msg, 1, sizeof msg - 1, p);
    msg[n] = 0;
    int st = pclose(p);
    if (!WIFEXITED(st)) fail_msg("curl did not exit: %s", cmd);
    if (WEXITSTATUS(st) != 0) return -WEXITSTATUS(st);
    snprintf(code, sizeof code, "%s", msg);
    char *b = read_all(out, NULL);
    snprintf(body, size, "%s", b ? b : "");
    free(b);
    return atoi(code);
}

/* Plain HTTP/1.1: one request with an optional Authorization value; the
 * status code, the response head in head and the body in body; -1 if the
 * answer was not HTTP. */
static int http(const char *method, const char *path, const char *auth, char *head, size_t hsize, char *body,
                size_t bsize)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sConnection: close\r\n\r\n", method,
                     path, auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    static char buf[1 << 20];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0) got += (size_t)r;
    close(fd);
    buf[got] = 0;
    int code = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1) return -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (b) *b = 0;
    snprintf(head, hsize, "%s", buf);
    snprintf(body, bsize, "%s", b ? b + 4 : "");
    return code;
}

static int get(const char *path, const char *auth, char *body, size_t size)
{
    char head[4096];
    return http("GET", path, auth, head, sizeof head, body, size);
}

/* The value of one sample line ("name{labels} value") in a scrape, or -1. */
static double sample(const char *text, const char *series)
{
    char key[200];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Poll (plain HTTP, with the token) until series equals v. */
static bool wait_sample(const char *series, double v, unsigned ms)
{
    static char body[1 << 20];
    double got = -1;
    for (long long end = kc_now_ms() + ms; kc_now_ms() < end; kc_pause_ms(100)) {
        if (get("/metrics", "Bearer " TOKEN, body, sizeof body) == 200 && (got = sample(body, series)) == v) return true;
    }
    print_message("%s: %g, want %g\n", series, got, v);
    return false;
}

static bool wait_code(const char *path, const char *auth, int code, char *body, size_t size, unsigned ms)
{
    for (long long end = kc_now_ms() + ms; kc_now_ms() < end; kc_pause_ms(100)) {
        if (get(path, auth, body, size) == code) return true;
    }
    print_message("%s: want %d, last body: %s\n", path, code, body);
    return false;
}

/* Lines of node 0's log holding text. */
static int log_count(const char *text)
{
    char *b = read_all(cl.nodes[0].log, NULL);
    int n = 0;
    for (const char *p = b; p && (p = strstr(p, text)) != NULL; p++) n++;
    free(b);
    return n;
}

static bool file_has(const char *path, const char *text)
{
    size_t len = 0;
    char *b = read_all(path, &len);
    bool found = false;
    for (size_t i = 0; b && i + strlen(text) <= len && !found; i++) found = memcmp(b + i, text, strlen(text)) == 0;
    free(b);
    return found;
}

/* The cipher `openssl s_client -<version>` settled on with the node ("(NONE)": refused). */
static void negotiated(const char *version, char *cipher, size_t size)
{
    char cmd[1200], line[512];
    snprintf(cmd, sizeof cmd,
             "echo | timeout 10 openssl s_client -connect 127.0.0.1:%u -%s -CAfile '%s/ca.crt' -cipher DEFAULT:@SECLEVEL=0 2>&1",
             http_port, version, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    snprintf(cipher, size, "%s", "?");
    while (fgets(line, sizeof line, p)) {
        const char *c = strstr(line, "Cipher is ");
        if (c && strncmp(line, "New, ", 5) == 0) snprintf(cipher, size, "%s", c + 10);
    }
    pclose(p);
}

/* ---- the tests ----------------------------------------------------------- */

/* HTTPS with the member certificate (no --tls-cluster needed) and a token:
 * Prometheus's way in (scheme https, the CA, credentials_file). */
static void test_https(void **state)
{
    static char body[1 << 20];
    char ca[700], hdr[700], other[700];
    (void)state;
    start_one("--http-tls yes --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key --http-token-file B/token");
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(hdr, sizeof hdr, "%s/auth-header", cl.base);
    write_file(hdr, "Authorization: Bearer " TOKEN "\n", 0600);
    int code = -1;
    for (long long end = kc_now_ms() + 10000; kc_now_ms() < end && code != 200; kc_pause_ms(100))
        code = curl("https", "/metrics", ca, hdr, body, sizeof body);
    assert_int_equal(code, 200);
    assert_true(sample(body, "keel_raft_term") >= 1);
    assert_true(log_count("serving HTTPS (/metrics /health /ready /status) on 127.0.0.1:") == 1);
    assert_int_equal(log_count("readable by group or others"), 0);
    /* The token is still asked over HTTPS; the probes are open. */
    assert_int_equal(curl("https", "/metrics", ca, NULL, body, sizeof body), 401);
    assert_int_equal(curl("https", "/status", ca, hdr, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"id\":1,"));
    code = -1;
    for (long long end = kc_now_ms() + 10000; kc_now_ms() < end && code != 200; kc_pause_ms(100))
        code = curl("https", "/health", ca, NULL, body, sizeof body);
    assert_int_equal(code, 200);
    assert_int_equal(curl("https", "/ready", ca, NULL, body, sizeof body), 200);
    /* TLS 1.2 and 1.3 only. */
    char cipher[128];
    negotiated("tls1_1", cipher, sizeof cipher);
    assert_string_equal(cipher, "(NONE)\n");
    negotiated("tls1_2", cipher, sizeof cipher);
    assert_string_not_equal(cipher, "(NONE)\n");
    assert_string_not_equal(cipher, "?");
    /* Plain HTTP to the HTTPS port gets no HTTP answer. */
    assert_int_equal(get("/health", NULL, body, sizeof body), -1);
    assert_true(curl("http", "/health", NULL, NULL, body, sizeof body) < 0);
    /* Without the CA the certificate does not verify (curl: 60). */
    assert_int_equal(curl("https", "/health", NULL, NULL, body, sizeof body), -60);
    /* Another CA's bundle does not verify it either. */
    snprintf(other, sizeof other, "%s/other", cl.base);
    kc_certs(other, "1");
    snprintf(other, sizeof other, "%s/other/ca.crt", cl.base);
    assert_int_equal(curl("https", "/health", other, NULL, body, sizeof body), -60);
}

/* --http-tls-cert-file/--http-tls-key-file: another certificate than the
 * member's (here from another CA): its CA verifies it, the cluster's not.
 * The token comes from a file others can read: a warning. */
static void test_https_own_cert(void **state)
{
    static char body[1 << 20];
    char ca[700], web[700], hdr[700];
    (void)state;
    start_one("--http-tls yes --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key "
              "--http-tls-cert-file B/web/member-7.crt --http-tls-key-file B/web/member-7.key --http-token-file B/token-open");
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(web, sizeof web, "%s/web/ca.crt", cl.base);
    snprintf(hdr, sizeof hdr, "%s/auth-header", cl.base);
    write_file(hdr, "Authorization: Bearer " TOKEN "\n", 0600);
    int code = -1;
    for (long long end = kc_now_ms() + 10000; kc_now_ms() < end && code != 200; kc_pause_ms(100))
        code = curl("https", "/metrics", web, hdr, body, sizeof body);
    assert_int_equal(code, 200);
    assert_true(sample(body, "keel_raft_term") >= 1);
    assert_int_equal(curl("https", "/metrics", ca, hdr, body, sizeof body), -60);
    /* A token file others can read works, with a warning at start. */
    assert_int_equal(log_count("token-open is readable by group or others (mode 644): chmod 600 it"), 1);
}

/* Rotation (docs/security.md, "Rotating certificates"): CONFIG SET
 * tls-cert-file on a node whose HTTPS uses the member certificate moves
 * the endpoint to the new one (a new daemon takes the listening socket
 * over); a key that does not match is refused and the endpoint keeps its
 * certificate; SIGHUP re-reads the files in place. */
static void test_https_reload(void **state)
{
    static char body[1 << 20];
    char ca[700], nca[700], crt[700], key[700], cmd[2400];
    (void)state;
    start_one("--http-tls yes --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key");
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    int code = -1;
    for (long long end = kc_now_ms() + 10000; kc_now_ms() < end && code != 200; kc_pause_ms(100))
        code = curl("https", "/health", ca, NULL, body, sizeof body);
    assert_int_equal(code, 200);
    char nd[700];
    snprintf(nd, sizeof nd, "%s/new", cl.base); /* another CA, so that which one serves is plain */
    kc_certs(nd, "1 2");
    snprintf(nca, sizeof nca, "%s/ca.crt", nd);
    assert_int_equal(curl("https", "/health", nca, NULL, body, sizeof body), -60);
    snprintf(crt, sizeof crt, "%s/member-1.crt", nd);
    snprintf(key, sizeof key, "%s/member-2.key", nd);
    redisReply *r = kc_cmd(&cl, 0, "CONFIG SET tls-cert-file %s tls-key-file %s", crt, key);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ERROR || strstr(r->str, "HTTPS: --tls-key-file") == NULL ||
        strstr(r->str, "does not match") == NULL)
        fail_msg("a key that does not match: %s", r->str ? r->str : "?");
    freeReplyObject(r);
    assert_int_equal(curl("https", "/health", ca, NULL, body, sizeof body), 200);
    snprintf(key, sizeof key, "%s/member-1.key", nd);
    r = kc_cmd(&cl, 0, "CONFIG SET tls-cert-file %s tls-key-file %s", crt, key);
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    assert_int_equal(curl("https", "/health", nca, NULL, body, sizeof body), 200);
    assert_int_equal(curl("https", "/health", ca, NULL, body, sizeof body), -60);
    assert_true(log_count("TLS reloaded (CONFIG SET): HTTPS") == 1);
    /* SIGHUP: the same paths, new contents (the first CA's certificate again). */
    snprintf(cmd, sizeof cmd, "cp '%s/member-1.crt' '%s' && cp '%s/member-1.key' '%s'", dir, crt, dir, key);
    assert_int_equal(system(cmd), 0);
    kc_signal(&cl, 0, SIGHUP);
    code = -1;
    for (long long end = kc_now_ms() + 10000; kc_now_ms() < end && code != 200; kc_pause_ms(100))
        code = curl("https", "/health", ca, NULL, body, sizeof body);
    assert_int_equal(code, 200);
    assert_int_equal(curl("https", "/health", nca, NULL, body, sizeof body), -60);
    assert_true(log_count("TLS reloaded (SIGHUP): HTTPS") == 1);
}

/* The token on plain HTTP, request by request. */
static void test_token(void **state)
{
    static char body[1 << 20];
    char head[4096];
    (void)state;
    start_one("--http-token-file B/token");
    assert_true(wait_code("/metrics", "Bearer " TOKEN, 200, body, sizeof body, 10000));
    assert_true(sample(body, "keel_raft_term") >= 1);
    assert_true(sample(body, "keel_http_unauthorized_total{reason=\"missing\"}") == 0);

    /* Refused: no header, another scheme, a wrong token of the same length,
     * the token without its last character, the token and one more. */
    char wrong[] = "Bearer " TOKEN, shorter[] = "Bearer " TOKEN, longer[] = "Bearer " TOKEN "0";
    wrong[sizeof wrong - 2] ^= 1;
    shorter[sizeof shorter - 2] = 0;
    struct
    {
        const char *path, *auth;
        int missing;
    } refused[] = {
        {"/metrics", NULL, 1},        {"/status", NULL, 1},         {"/metrics", "Basic a2VlbDprZWVs", 1},
        {"/metrics", "Bearer", 1},    {"/metrics", wrong, 0},       {"/status", wrong, 0},
        {"/metrics", shorter, 0},     {"/metrics", longer, 0},
    };
    unsigned missing = 0, invalid = 0;
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        int code = http("GET", refused[k].path, refused[k].auth, head, sizeof head, body, sizeof body);
        if (code != 401) fail_msg("case %zu (%s, %s): %d, want 401", k, refused[k].path, refused[k].auth, code);
        assert_non_null(strstr(head, refused[k].missing ? "WWW-Authenticate: Bearer realm=\"keel\"\r"
                                                        : "WWW-Authenticate: Bearer realm=\"keel\", error=\"invalid_token\""));
        assert_null(strstr(body, "keel_"));
        assert_null(strstr(body, "\"id\""));
        if (refused[k].missing) missing++;
        else invalid++;
    }
    /* HEAD is asked for the token too. */
    assert_int_equal(http("HEAD", "/metrics", NULL, head, sizeof head, body, sizeof body), 401);
    missing++;
    /* Accepted: the token, with the scheme in any case. */
    assert_int_equal(get("/status", "Bearer " TOKEN, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"id\":1,"));
    assert_int_equal(get("/metrics", "bearer " TOKEN, body, sizeof body), 200);
    assert_true(sample(body, "keel_raft_term") >= 1);

    /* The probes stay open (a wrong token changes nothing there, and is
     * not counted). */
    assert_true(wait_code("/health", NULL, 200, body, sizeof body, 10000));
    assert_string_equal(body, "ok\n");
    assert_int_equal(get("/ready", NULL, body, sizeof body), 200);
    assert_string_equal(body, "ready\n");
    assert_int_equal(get("/health", wrong, body, sizeof body), 200);

    /* Every refusal counted, by reason; nothing else. */
    char series[96];
    snprintf(series, sizeof series, "keel_http_unauthorized_total{reason=\"%s\"}", "missing");
    assert_true(wait_sample(series, missing, 5000));
    snprintf(series, sizeof series, "keel_http_unauthorized_total{reason=\"%s\"}", "invalid");
    assert_true(wait_sample(series, invalid, 5000));

    /* An unhealthy node: /health says so to anyone, its reasons only with the token. */
    redisReply *r = kc_cmd(&cl, 0, "KEEL.ALARM RAISE CORRUPT %s", "secret-detail-7f3a at n2");
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    assert_true(wait_code("/health", NULL, 503, body, sizeof body, 5000));
    assert_null(strstr(body, "secret-detail"));
    assert_null(strstr(body, "CORRUPT"));
    assert_non_null(strstr(body, "withheld"));
    assert_int_equal(get("/health?format=json", NULL, body, sizeof body), 503);
    assert_null(strstr(body, "secret-detail"));
    assert_non_null(strstr(body, "\"health\":\"unhealthy\""));
    assert_int_equal(get("/health", wrong, body, sizeof body), 503);
    assert_null(strstr(body, "secret-detail"));
    assert_int_equal(get("/health", "Bearer " TOKEN, body, sizeof body), 503);
    assert_non_null(strstr(body, "alarm CORRUPT: secret-detail-7f3a at n2"));
    /* ?exclude still works for a probe without the token. */
    assert_int_equal(get("/health?exclude=CORRUPT", NULL, body, sizeof body), 200);

    /* Logged once per 10 s, with the count of the rest; never a token. */
    assert_int_equal(log_count("refused: "), 1);
    assert_int_equal(log_count("http: GET /metrics from 127.0.0.1 refused: no bearer token"), 1);
    kc_pause_ms(10200);
    assert_int_equal(get("/metrics", wrong, body, sizeof body), 401); /* logged: the token it sent is not */
    char more[96];
    snprintf(more, sizeof more, "refused: wrong bearer token (and %u more since the last report)", missing + invalid - 1);
    assert_int_equal(log_count("refused: "), 2);
    assert_int_equal(log_count(more), 1);
    assert_int_equal(log_count(TOKEN), 0);
    assert_int_equal(log_count(wrong + 7), 0);
    assert_int_equal(log_count(shorter + 7), 0);

    /* Not on the command line (what ps shows) nor in the environment. */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)cl.nodes[0].pid);
    assert_true(file_has(path, "--http-token-file"));
    assert_false(file_has(path, TOKEN));
    assert_false(file_has(path, shorter + 7));
    snprintf(path, sizeof path, "/proc/%d/environ", (int)cl.nodes[0].pid);
    assert_false(file_has(path, shorter + 7));
}

/* Bad options and files: one line, a non-zero exit, and no data directory
 * made (the files are read before anything else happens). */
static void test_options(void **state)
{
    char cmd[3000], out[1024], base[600];
    (void)state;
    kc_prepare(&cl, 1, "");
    snprintf(base, sizeof base, "%s", cl.base);
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    kc_certs(dir, "1 2");
    char p[700];
    snprintf(p, sizeof p, "%s/short", base);
    write_file(p, "tooshort\n", 0600);
    snprintf(p, sizeof p, "%s/spaced", base);
    write_file(p, "0123456789 abcdef0123\n", 0600);
    snprintf(p, sizeof p, "%s/token", base);
    write_file(p, TOKEN "\n", 0600);
    struct
    {
        const char *args, *want;
    } cases[] = {
        {"--http-tls yes", "--http-tls yes needs --http-addr"},
        {"--http-token-file B/token", "--http-token-file needs --http-addr"},
        {"--http-addr A --http-tls yes", "--http-tls yes needs --http-tls-cert-file and --http-tls-key-file"},
        {"--http-addr A --http-tls yes --tls-cert-file D/member-1.crt", "--http-tls yes needs"},
        {"--http-addr A --http-tls-cert-file D/member-1.crt --http-tls-key-file D/member-1.key", "need --http-tls yes"},
        {"--http-addr A --http-tls yes --http-tls-cert-file D/member-1.crt", "go together"},
        {"--http-addr A --http-tls yes --http-tls-cert-file D/nope.crt --http-tls-key-file D/member-1.key",
         "--http-tls-cert-file D/nope.crt: No such file or directory"},
        {"--http-addr A --http-tls yes --tls-cert-file D/member-1.crt --tls-key-file D/nope.key",
         "--tls-key-file D/nope.key: No such file or directory"},
        {"--http-addr A --http-tls yes --http-tls-cert-file D/member-1.crt --http-tls-key-file D/member-2.key",
         "--http-tls-key-file D/member-2.key does not match the certificate in --http-tls-cert-file D/member-1.crt"},
        {"--http-addr A --http-tls yes --http-tls-cert-file D/member-1.key --http-tls-key-file D/member-1.key",
         "no PEM certificate"},
        {"--http-addr A --http-tls yes --http-tls-cert-file D/member-1.crt --http-tls-key-file D/member-1.crt",
         "no unencrypted PEM private key"},
        {"--http-addr A --http-token-file B/nope", "--http-token-file B/nope: No such file or directory"},
        {"--http-addr A --http-token-file B/short", "shorter than 16 characters"},
        {"--http-addr A --http-token-file B/spaced", "visible ASCII"},
        {"--http-addr A --http-token-file D", "not a regular file"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char args[1024] = "", want[1024] = "";
        for (int w = 0; w < 2; w++) {
            const char *from = w ? cases[k].want : cases[k].args;
            char *to = w ? want : args;
            for (const char *q = from; *q; q++) {
                if (*q == 'D' && q[1] == '/') strncat(to, dir, 1023 - strlen(to));
                else if (*q == 'D' && q[1] == 0) strncat(to, dir, 1023 - strlen(to));
                else if (*q == 'B' && q[1] == '/') strncat(to, base, 1023 - strlen(to));
                else if (*q == 'A' && (q[1] == ' ' || q[1] == 0) && q > from && q[-1] == ' ') {
                    char a[32];
                    snprintf(a, sizeof a, "127.0.0.1:%u", kc_free_port());
                    strncat(to, a, 1023 - strlen(to));
                } else strncat(to, q, 1);
            }
        }
        snprintf(cmd, sizeof cmd, "'%s' --id 1 --data-dir %s/n --raft-addr 127.0.0.1:%u --cluster 1=127.0.0.1:%u %s 2>&1",
                 kc_keeld(), base, cl.nodes[0].raft_port, cl.nodes[0].raft_port, args);
        FILE *f = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        int rc = pclose(f);
        if (rc == 0 || strstr(out, want) == NULL)
            fail_msg("case %zu: want a refusal saying '%s', got (rc %d):\n%s", k, want, rc, out);
        if (strchr(out, '\n') != out + n - 1) fail_msg("case %zu: want one line, got:\n%s", k, out);
        snprintf(p, sizeof p, "%s/n", base);
        if (access(p, F_OK) == 0) fail_msg("case %zu: keeld made its data directory before refusing", k);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_options, teardown),
        cmocka_unit_test_teardown(test_token, teardown),
        cmocka_unit_test_teardown(test_https, teardown),
        cmocka_unit_test_teardown(test_https_own_cert, teardown),
        cmocka_unit_test_teardown(test_https_reload, teardown),
    };
    return cmocka_run_group_tests_name("keeld_https", tests, NULL, NULL);
}
