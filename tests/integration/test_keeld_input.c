/* tests/integration: keeld against malformed and hostile input, more
 * clients than the in-flight bound (memory stays bounded), a node joining,
 * -MOVED with --redirect, and bad options refused at start. Every wait is a
 * bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kc.h"

/* The cluster of the running test; the teardown stops it even when the
 * test failed half-way. */
static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* Raw bytes: a protocol error gets an error reply, then the connection closes. */
static void raw_exchange(struct kc *c, unsigned i, const void *req, size_t len, char *out,
                         size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->nodes[i].client_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = recv(fd, out + got, size - 1 - got, 0)) > 0) got += (size_t)n;
    out[got] = 0;
    assert_true(n == 0); /* closed by the server, not a timeout */
    close(fd);
}

static void test_malformed_input(void **state)
{
    char out[4096];
    (void)state;
    kc_start_leader(&cl, 3, "--max-bulk 1048576");
    /* Redis 7.2's texts (networking.c, tests/unit/protocol.tcl), the reply
     * then the close; a bulk without its CRLF is Keel's own refusal. */
    static const char *bad[][2] = {
        {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
        {"*2\r\n$3\r\nGET\r\n$99999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
        {"*2\r\n$3\r\nGET\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"}, /* over --max-bulk */
        {"*2\r\n$3\r\nGET\r\n*1\r\n$1\r\nx\r\n", "-ERR Protocol error: expected '$', got '*'\r\n"}, /* nested */
        {"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
        {"*1\r\n$3\r\nGETxx\r\n", "-ERR Protocol error: bulk string not terminated by CRLF\r\n"},
        {"*99999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
        {"SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        raw_exchange(&cl, k % 3, bad[k][0], strlen(bad[k][0]), out, sizeof out);
        if (strcmp(out, bad[k][1]) != 0) fail_msg("request %zu: got \"%s\", want \"%s\"", k, out, bad[k][1]);
    }
    /* Fuzz: random bytes after a valid prefix; the node must keep serving. */
    unsigned seed = 12345;
    for (int k = 0; k < 200; k++) {
        char buf[256];
        size_t len = 1 + (size_t)(rand_r(&seed) % 255);
        for (size_t b = 0; b < len; b++) buf[b] = (char)(rand_r(&seed) % 256);
        buf[0] = "*$+-:SG"[rand_r(&seed) % 7];
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl.nodes[k % 3].client_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) send(fd, buf, len, MSG_NOSIGNAL);
        close(fd);
    }
    /* A deeply nested or huge request is refused without a big allocation,
     * and everyone else is still served. */
    for (unsigned i = 0; i < 3; i++) {
        redisReply *r = kc_cmd(&cl, i, "PING");
        assert_true(kc_is_status(r, "PONG"));
        freeReplyObject(r);
        r = kc_cmd(&cl, i, "SET after-fuzz %u", i);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    /* A value over the bulk limit: a clear error, the server lives. */
    size_t big = 2u << 20;
    char *val = malloc(big);
    memset(val, 'x', big);
    redisContext *ctx = kc_connect(&cl, 0);
    redisReply *r = redisCommand(ctx, "SET big %b", val, big);
    assert_true(r == NULL || r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    redisFree(ctx);
    free(val);
    r = kc_cmd(&cl, 0, "PING");
    assert_true(kc_is_status(r, "PONG"));
    freeReplyObject(r);
    kc_stop(&cl);
}

/* Many more clients than the in-flight bound, each pipelining writes: all
 * are answered and the leader's memory stays bounded. */
#define CLIENTS 150
#define PIPELINE 100

/* One round: CLIENTS connections each pipeline PIPELINE writes; returns the
 * leader's peak RSS seen while the replies come back. */
static long overload_round(unsigned leader, int round)
{
    redisContext *ctx[CLIENTS];
    char val[1024];
    long peak = 0;
    memset(val, 'v', sizeof val);
    for (int i = 0; i < CLIENTS; i++) {
        ctx[i] = kc_connect(&cl, leader);
        assert_true(ctx[i] != NULL && !ctx[i]->err);
        for (int k = 0; k < PIPELINE; k++)
            redisAppendCommand(ctx[i], "SET o:%d:%d:%d %b", round, i, k, val, sizeof val);
    }
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < PIPELINE; k++) {
            redisReply *r;
            assert_int_equal(redisGetReply(ctx[i], (void **)&r), REDIS_OK);
            assert_true(kc_is_status(r, "OK"));
            freeReplyObject(r);
        }
        long rss = kc_rss_kb(&cl, leader);
        if (rss > peak) peak = rss;
    }
    for (int i = 0; i < CLIENTS; i++) redisFree(ctx[i]);
    return peak;
}

/* Many more clients than the in-flight bound, each pipelining writes: all
 * are answered, the node stops reading them instead of buffering, and its
 * memory stays flat from one round to the next. */
static void test_overload_bounded(void **state)
{
    (void)state;
    /* Small snapshot settings: raft keeps threshold + trailing entries in
     * memory, which is bounded by configuration, not by load; this test
     * measures the load. */
    int leader = kc_start_leader(&cl, 3, "--max-inflight 32 --max-pipeline 64 --snapshot-threshold 1024 "
                     "--snapshot-trailing 1024");
    long rss0 = kc_rss_kb(&cl, (unsigned)leader);
    long peak1 = overload_round((unsigned)leader, 1);
    long peak2 = overload_round((unsigned)leader, 2);
    long peak3 = overload_round((unsigned)leader, 3);
    print_message("leader RSS %ld KiB before; peaks %ld, %ld, %ld KiB over three rounds of "
                  "%d x %d pipelined 1 KiB writes\n", rss0, peak1, peak2, peak3, CLIENTS, PIPELINE);
    redisReply *r = kc_cmd(&cl, (unsigned)leader, "INFO stats");
    const char *p = strstr(r->str, "keel_backpressure_pauses:");
    assert_non_null(p);
    assert_true(atol(p + strlen("keel_backpressure_pauses:")) > 0); /* it did push back */
    freeReplyObject(r);
#ifndef __SANITIZE_ADDRESS__
    /* (ASan's quarantine makes RSS meaningless; the plain build checks it.)
     * Flat: later rounds, writing as much again, need little more memory
     * than the first (LMDB's pages of the new keys account for the rest). */
    assert_true(peak1 - rss0 < 200 * 1024);
    assert_true(peak3 - peak1 < 16 * 1024);
#endif
    kc_stop(&cl);
}

/* A fourth node joins a running cluster through a follower, catches up,
 * votes, serves, and survives a restart without --join mattering again. */
static void test_join(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64");
    for (int k = 0; k < 200; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET j:%d %d", k, k);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    unsigned via = ((unsigned)leader + 1) % 3;
    unsigned added = kc_add_node(&cl, via);
    bool voter = false;
    for (int t = 0; t < 400 && !voter; t++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "INFO raft");
        voter = r != NULL && r->type == REDIS_REPLY_STRING && strstr(r->str, "4:voter") != NULL;
        if (r) freeReplyObject(r);
        if (!voter) kc_pause_ms(50);
    }
    assert_true(voter);
    assert_true(kc_leader(&cl, 10000) >= 0); /* every node, the new one too, knows the leader */
    redisReply *r = kc_cmd(&cl, added, "GET j:199");
    assert_non_null(r);
    assert_string_equal(r->str, "199");
    freeReplyObject(r);
    r = kc_cmd(&cl, added, "SET j:new yes");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    kc_signal(&cl, added, SIGTERM);
    kc_start_node(&cl, added);
    assert_true(kc_leader(&cl, 10000) >= 0);
    r = kc_cmd(&cl, added, "GET j:new");
    assert_non_null(r);
    assert_string_equal(r->str, "yes");
    freeReplyObject(r);
    kc_stop(&cl);
}

/* --redirect: followers answer -MOVED with the leader's address. */
static void test_redirect(void **state)
{
    char want[64];
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--redirect");
    snprintf(want, sizeof want, "MOVED 0 127.0.0.1:%u", cl.nodes[leader].client_port);
    for (unsigned i = 0; i < 3; i++) {
        redisReply *r = kc_cmd(&cl, i, "SET red:%u x", i);
        assert_non_null(r);
        if ((int)i == leader) {
            assert_true(kc_is_status(r, "OK"));
        } else {
            assert_int_equal(r->type, REDIS_REPLY_ERROR);
            assert_string_equal(r->str, want);
        }
        freeReplyObject(r);
    }
    kc_stop(&cl);
}

static void test_bad_options(void **state)
{
    char cmd[1024], out[16384]; /* --help is several KiB */
    (void)state;
    static const char *cases[] = {
        "--id 0 --data-dir /tmp/x --raft-addr 127.0.0.1:1",
        "--id 1 --raft-addr 127.0.0.1:1",
        "--id 1 --data-dir /proc/keel-no --raft-addr 127.0.0.1:1 --cluster 1=127.0.0.1:1",
        "--id 1 --data-dir /tmp/keel-opt --raft-addr localhost:1",
        "--id 1 --data-dir /tmp/keel-opt --raft-addr 127.0.0.1:1 --cluster 2=127.0.0.1:2",
        "--id 1 --data-dir /tmp/keel-opt --raft-addr 127.0.0.1:1 --election-timeout 5",
        "--id 1 --data-dir /tmp/keel-opt --raft-addr 127.0.0.1:1 --bogus 1",
        "--id 1 --data-dir /tmp/keel-opt-new --raft-addr 127.0.0.1:1",
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(cmd, sizeof cmd, "'%s' %s 2>&1; echo \"exit=$?\"", kc_keeld(), cases[k]);
        FILE *p = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        char *nl = strchr(out, '\n');
        if (nl == NULL || strncmp(out, "keeld: ", 7) != 0 || strstr(nl + 1, "exit=0") != NULL ||
            strncmp(nl + 1, "exit=", 5) != 0)
            fail_msg("case %zu (%s): want one line and a non-zero exit, got:\n%s", k, cases[k], out);
    }
    snprintf(cmd, sizeof cmd, "'%s' --help", kc_keeld());
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "--snapshot-threshold"));
    system("rm -rf /tmp/keel-opt /tmp/keel-opt-new");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_malformed_input, teardown),
        cmocka_unit_test_teardown(test_overload_bounded, teardown),
        cmocka_unit_test_teardown(test_join, teardown),
        cmocka_unit_test_teardown(test_redirect, teardown),
        cmocka_unit_test_teardown(test_bad_options, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
