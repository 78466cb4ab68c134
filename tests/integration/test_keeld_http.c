/* tests/integration: keeld's HTTP endpoint and alarms on real clusters:
 * /metrics from every node checked by promtool and seen to move (writes,
 * a leader kill), /health /ready /status, 404/405, and every alarm raised
 * and cleared (NOLEADER, QUORUM_AT_RISK, FOLLOWER_LAG, SLOW_FSYNC, NOSPACE,
 * CORRUPT), with INFO and CONFIG SET loglevel. Conditions are polled within
 * bounds, never slept on. */
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
#include <sys/time.h>
#include <unistd.h>

#include "kc.h"

static unsigned http_port[KC_MAX];

/* A minimal HTTP/1.1 client: one request, the status code returned and the
 * body copied into body (NUL-terminated); -1 if the node did not answer. */
static int http(unsigned i, const char *method, const char *path, char *body, size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port[i])};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method, path);
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
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, size, "%s", b ? b + 4 : "");
    return code;
}

/* The value of one sample line ("name{labels} value") in a scrape, or -1. */
static double sample(const char *text, const char *series)
{
    char key[200];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static double metric(unsigned i, const char *series)
{
    static char body[1 << 20];
    if (http(i, "GET", "/metrics", body, sizeof body) != 200) return -1;
    return sample(body, series);
}

/* Poll until node i's series equals (want_eq) or exceeds (otherwise) v. */
static bool wait_metric(unsigned i, const char *series, double v, bool want_eq, unsigned ms)
{
    for (long long end = kc_now_ms() + ms; kc_now_ms() < end; kc_pause_ms(100)) {
        double got = metric(i, series);
        if (want_eq ? got == v : got > v) return true;
    }
    return false;
}

static bool wait_alarm(unsigned i, const char *name, bool active, unsigned ms)
{
    char series[96];
    snprintf(series, sizeof series, "keel_alarm_active{alarm=\"%s\"}", name);
    return wait_metric(i, series, active ? 1 : 0, true, ms);
}

/* Poll /health until its code is `code` and (if given) the body holds text. */
static bool wait_health(unsigned i, int code, const char *text, unsigned ms)
{
    char body[8192];
    for (long long end = kc_now_ms() + ms; kc_now_ms() < end; kc_pause_ms(100)) {
        if (http(i, "GET", "/health", body, sizeof body) == code && (text == NULL || strstr(body, text))) return true;
    }
    print_message("node %u /health: %s\n", i + 1, body);
    return false;
}

static void promtool_ok(unsigned i)
{
    static char body[1 << 20];
    char path[] = "/tmp/keel-metrics-XXXXXX", cmd[600];
    assert_int_equal(http(i, "GET", "/metrics", body, sizeof body), 200);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    const char *promtool = getenv("PROMTOOL") ? getenv("PROMTOOL") : "promtool";
    snprintf(cmd, sizeof cmd, "'%s' check metrics < '%s' >&2", promtool, path);
    int rc = system(cmd);
    unlink(path);
    if (rc != 0) fail_msg("promtool check metrics failed on node %u's /metrics (rc %d)", i + 1, rc);
}

static void start(struct kc *c, unsigned n, const char *extra)
{
    kc_prepare(c, n, extra);
    for (unsigned i = 0; i < n; i++) {
        http_port[i] = kc_free_port();
        snprintf(c->nodes[i].extra, sizeof c->nodes[i].extra, "--http-addr 127.0.0.1:%u", http_port[i]);
    }
    for (unsigned i = 0; i < n; i++) kc_start_node(c, i);
}

static void cmd_ok(struct kc *c, unsigned i, const char *fmt, const char *arg)
{
    redisReply *r = kc_cmd(c, i, fmt, arg);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("node %u: %s: %s", i + 1, fmt, r->str);
    freeReplyObject(r);
}

/* Writes through one connection, pipelined. */
static void write_many(struct kc *c, unsigned i, unsigned n, const char *prefix)
{
    redisContext *ctx = kc_connect(c, i);
    assert_non_null(ctx);
    for (unsigned k = 0; k < n; k++) redisAppendCommand(ctx, "SET %s%u v%u", prefix, k, k);
    for (unsigned k = 0; k < n; k++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(ctx, (void **)&r), REDIS_OK);
        assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
    redisFree(ctx);
}

static void t_list_metrics(void **state)
{
    char cmd[600], line[512];
    bool term = false, hist = false;
    (void)state;
    snprintf(cmd, sizeof cmd, "'%s' --list-metrics", kc_keeld());
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        term |= strncmp(line, "keel_raft_term ", 15) == 0;
        hist |= strstr(line, "keel_raft_append_duration_seconds") && strstr(line, "histogram");
    }
    assert_int_equal(pclose(f), 0);
    assert_true(term && hist);
}

/* Scrapes, endpoints, metrics that move, QUORUM_AT_RISK and NOLEADER. */
static void t_metrics_health(void **state)
{
    struct kc c;
    char body[8192], series[96];
    (void)state;
    start(&c, 3, "--alarm-noleader-ms 1000");
    int l = kc_leader(&c, 10000);
    assert_true(l >= 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(wait_health(i, 200, "ok", 10000));
        promtool_ok(i);
        assert_int_equal(http(i, "GET", "/ready", body, sizeof body), 200);
        assert_int_equal(http(i, "GET", "/status", body, sizeof body), 200);
        char id[32];
        snprintf(id, sizeof id, "\"id\":%u,", i + 1);
        assert_non_null(strstr(body, id));
        assert_non_null(strstr(body, "\"alarms\":[]"));
    }
    assert_int_equal(http(0, "GET", "/nope", body, sizeof body), 404);
    assert_int_equal(http(0, "POST", "/metrics", body, sizeof body), 405);
    assert_int_equal(http(0, "GET", "/health?format=json", body, sizeof body), 200);
    assert_non_null(strstr(body, "\"health\":\"ok\""));

    /* Writes raise the leader's committed proposals and command counts. */
    double before = metric((unsigned)l, "keel_raft_proposals_committed_total");
    write_many(&c, (unsigned)l, 50, "m");
    assert_true(wait_metric((unsigned)l, "keel_raft_proposals_committed_total", before + 49, false, 5000));
    assert_true(wait_metric((unsigned)l, "keel_command_duration_seconds_count{cmd=\"set\"}", 49, false, 2000));
    promtool_ok((unsigned)l); /* with the per-command histograms and peer gauges */

    /* A refused AUTH is counted (docs/security.md). */
    assert_true(metric(0, "keel_auth_failures_total") == 0);
    redisReply *r = kc_cmd(&c, 0, "AUTH nobody wrong");
    assert_true(kc_is_error(r, "WRONGPASS"));
    freeReplyObject(r);
    assert_true(wait_metric(0, "keel_auth_failures_total", 1, true, 2000));

    /* Killing the leader: the others count a leader change; the new leader
     * has only a bare majority. */
    unsigned a = ((unsigned)l + 1) % 3, b = ((unsigned)l + 2) % 3;
    double ca = metric(a, "keel_raft_leader_changes_total"), cb = metric(b, "keel_raft_leader_changes_total");
    kc_signal(&c, (unsigned)l, SIGKILL);
    int nl = -1;
    for (long long end = kc_now_ms() + 10000; nl < 0 && kc_now_ms() < end; kc_pause_ms(100)) {
        if (metric(a, "keel_raft_is_leader") == 1) nl = (int)a;
        else if (metric(b, "keel_raft_is_leader") == 1) nl = (int)b;
    }
    assert_true(nl >= 0);
    assert_true(wait_metric(a, "keel_raft_leader_changes_total", ca, false, 10000));
    assert_true(wait_metric(b, "keel_raft_leader_changes_total", cb, false, 10000));
    assert_true(wait_alarm((unsigned)nl, "QUORUM_AT_RISK", true, 10000));
    assert_true(wait_health((unsigned)nl, 503, "QUORUM_AT_RISK", 5000));
    kc_start_node(&c, (unsigned)l);
    assert_true(wait_alarm((unsigned)nl, "QUORUM_AT_RISK", false, 15000));

    /* Two of three gone: the survivor has no leader, and says so. */
    unsigned survivor = (unsigned)nl, x = (survivor + 1) % 3, y = (survivor + 2) % 3;
    kc_signal(&c, x, SIGKILL);
    kc_signal(&c, y, SIGKILL);
    assert_true(wait_health(survivor, 503, "NOLEADER", 15000));
    assert_true(wait_health(survivor, 503, "no leader", 1000));
    assert_int_equal(http(survivor, "GET", "/ready", body, sizeof body), 503);
    snprintf(series, sizeof series, "keel_alarm_active{alarm=\"NOLEADER\"}");
    assert_true(metric(survivor, series) == 1);
    kc_start_node(&c, x);
    kc_start_node(&c, y);
    assert_true(wait_alarm(survivor, "NOLEADER", false, 15000));
    assert_true(kc_leader(&c, 10000) >= 0);
    kc_stop(&c);
}

/* A small quota: writes refused with -OOM, reads and DEL served, the alarm
 * everywhere an operator looks, and gone once keys are deleted. */
static void t_nospace(void **state)
{
    struct kc c;
    char val[1025], key[32];
    unsigned n = 0;
    bool refused = false;
    (void)state;
    start(&c, 1, "--quota 262144");
    assert_true(kc_leader(&c, 10000) >= 0);
    memset(val, 'x', 1024);
    val[1024] = 0;
    redisContext *ctx = kc_connect(&c, 0);
    assert_non_null(ctx);
    for (; n < 2000 && !refused; n++) {
        snprintf(key, sizeof key, "fill%u", n);
        redisReply *r = redisCommand(ctx, "SET %s %s", key, val);
        assert_non_null(r);
        if (r->type == REDIS_REPLY_ERROR) {
            assert_true(strncmp(r->str, "OOM", 3) == 0);
            refused = true;
        }
        freeReplyObject(r);
    }
    assert_true(refused);
    redisReply *r = redisCommand(ctx, "GET fill0");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    assert_true(wait_alarm(0, "NOSPACE", true, 5000));
    assert_true(wait_health(0, 503, "NOSPACE", 2000));
    r = redisCommand(ctx, "INFO alarms");
    assert_non_null(strstr(r->str, "keel_alarms:NOSPACE"));
    freeReplyObject(r);
    r = redisCommand(ctx, "SET small x");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_true(strncmp(r->str, "OOM", 3) == 0);
    freeReplyObject(r);
    /* /metrics is published every 250 ms: poll. */
    assert_true(wait_metric(0, "keel_rejected_requests_total{reason=\"nospace\"}", 1, false, 2000));
    /* DEL is always allowed, and winning space back clears the alarm. */
    for (unsigned k = 0; k < n; k++) {
        r = redisCommand(ctx, "DEL fill%u", k);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    assert_true(wait_alarm(0, "NOSPACE", false, 5000));
    assert_true(wait_health(0, 200, "ok", 5000));
    r = redisCommand(ctx, "SET small x");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(ctx);
    kc_stop(&c);
}

/* SLOW_FSYNC (threshold 0), FOLLOWER_LAG (a stopped follower), CORRUPT (by
 * hand), and the log level at run time. */
static void t_lag_fsync_corrupt(void **state)
{
    struct kc c;
    char body[8192];
    (void)state;
    start(&c, 3, "--health-max-lag 50 --alarm-slow-fsync-ms 0");
    int l = kc_leader(&c, 10000);
    assert_true(l >= 0);
    write_many(&c, (unsigned)l, 10, "f");
    assert_true(wait_alarm((unsigned)l, "SLOW_FSYNC", true, 5000));
    /* No appends for a whole window: it clears. */
    assert_true(wait_alarm((unsigned)l, "SLOW_FSYNC", false, 15000));

    unsigned f = ((unsigned)l + 1) % 3;
    kill(c.nodes[f].pid, SIGSTOP);
    write_many(&c, (unsigned)l, 200, "lag");
    assert_true(wait_alarm((unsigned)l, "FOLLOWER_LAG", true, 5000));
    assert_true(wait_health((unsigned)l, 503, "FOLLOWER_LAG", 2000));
    kill(c.nodes[f].pid, SIGCONT);
    assert_true(wait_alarm((unsigned)l, "FOLLOWER_LAG", false, 15000));

    cmd_ok(&c, 0, "KEEL.ALARM RAISE CORRUPT %s", "test: replica digests differ");
    assert_true(wait_health(0, 503, "CORRUPT", 2000));
    assert_int_equal(http(0, "GET", "/health?exclude=CORRUPT,SLOW_FSYNC", body, sizeof body), 200);
    assert_int_equal(http(0, "GET", "/status", body, sizeof body), 200);
    assert_non_null(strstr(body, "\"CORRUPT\"]")); /* last in "alarms" (SLOW_FSYNC may precede it) */
    redisReply *r = kc_cmd(&c, 0, "KEEL.ALARM LIST");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    bool listed = false;
    for (size_t k = 0; k < r->elements; k++)
        listed |= !strcmp(r->element[k]->element[0]->str, "CORRUPT") &&
                  strstr(r->element[k]->element[1]->str, "digests differ") != NULL;
    assert_true(listed);
    freeReplyObject(r);
    cmd_ok(&c, 0, "KEEL.ALARM CLEAR %s", "CORRUPT");
    assert_true(wait_alarm(0, "CORRUPT", false, 2000));
    assert_true(wait_metric(0, "keel_alarms_raised_total{alarm=\"CORRUPT\"}", 1, true, 2000));

    /* CONFIG SET loglevel debug routes raft's tracer to the log. */
    cmd_ok(&c, 0, "CONFIG SET loglevel %s", "debug");
    r = kc_cmd(&c, 0, "CONFIG GET loglevel");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[1]->str, "debug");
    freeReplyObject(r);
    bool traced = false;
    for (long long end = kc_now_ms() + 5000; !traced && kc_now_ms() < end; kc_pause_ms(100)) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "grep -q 'level=debug.*raft: ' '%s'", c.nodes[0].log);
        traced = system(cmd) == 0;
    }
    assert_true(traced);
    cmd_ok(&c, 0, "CONFIG SET loglevel %s", "info");
    r = kc_cmd(&c, 0, "CONFIG SET loglevel %s", "loud");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    kc_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_list_metrics),
        cmocka_unit_test(t_metrics_health),
        cmocka_unit_test(t_nospace),
        cmocka_unit_test(t_lag_fsync_corrupt),
    };
    return cmocka_run_group_tests_name("keeld_http", tests, NULL, NULL);
}
