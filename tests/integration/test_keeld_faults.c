/* tests/integration: keeld under the faults a cluster lives through: the
 * leader SIGKILLed under concurrent writes, all nodes restarted, a follower
 * away while the others pass the snapshot threshold, a paused (SIGSTOP)
 * leader that must never answer stale, malformed and hostile input, and more
 * clients than the in-flight bound. Every wait is a bounded poll. */
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

/* ---- writers ----------------------------------------------------------- */

#define WRITERS 6
#define MAX_ACKED 200000

struct writer
{
    struct kc *c;
    int id;
    volatile bool *stop;
    int acked;            /* keys w<id>:0 .. w<id>:acked-1 were acknowledged */
    int errors;
    long long last_ok_ms; /* time of the latest acknowledged write */
    pthread_mutex_t *mu;
    long long *first_ok_after_kill;
    long long kill_ms;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    unsigned node = (unsigned)w->id % w->c->n;
    redisContext *ctx = NULL;
    while (!*w->stop) {
        if (ctx == NULL || ctx->err) {
            if (ctx) redisFree(ctx);
            node = (node + 1) % w->c->n;
            ctx = w->c->nodes[node].pid > 0 ? kc_connect(w->c, node) : NULL;
            if (ctx == NULL || ctx->err) {
                kc_pause_ms(20);
                continue;
            }
        }
        /* KEEL.REQ carries a dedupe identity: retrying an uncertain write
         * with the same (client, seq) can never apply it twice. */
        long long sent = kc_now_ms();
        redisReply *r = redisCommand(ctx, "KEEL.REQ %d %d SET w%d:%d v", w->id + 1, w->acked + 1,
                                     w->id, w->acked);
        if (kc_is_status(r, "OK")) {
            long long now = kc_now_ms();
            pthread_mutex_lock(w->mu);
            /* Only a write sent after the kill measures recovery: one sent
             * before may have been acknowledged by the old leader in time. */
            if (w->kill_ms > 0 && *w->first_ok_after_kill == 0 && sent > w->kill_ms)
                *w->first_ok_after_kill = now;
            pthread_mutex_unlock(w->mu);
            w->acked++;
            w->last_ok_ms = now;
        } else {
            w->errors++;
            if (r == NULL) {
                redisFree(ctx);
                ctx = NULL;
            } else {
                kc_pause_ms(10);
            }
        }
        if (r) freeReplyObject(r);
    }
    if (ctx) redisFree(ctx);
    return NULL;
}

/* Every acknowledged key must be readable (linearizably, on the leader). */
static void check_acked(struct kc *c, struct writer *w, int nw)
{
    int leader = kc_leader(c, 10000);
    assert_true(leader >= 0);
    redisContext *ctx = kc_connect(c, (unsigned)leader);
    for (int i = 0; i < nw; i++) {
        for (int k = 0; k < w[i].acked; k++) {
            redisReply *r = redisCommand(ctx, "GET w%d:%d", w[i].id, k);
            if (r == NULL || r->type != REDIS_REPLY_STRING)
                fail_msg("acknowledged write w%d:%d is missing", w[i].id, k);
            freeReplyObject(r);
        }
    }
    redisFree(ctx);
}

static void test_kill_leader_under_writes(void **state)
{
    pthread_t th[WRITERS];
    struct writer w[WRITERS];
    volatile bool stop = false;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    long long first_ok = 0;
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){&cl, i, &stop, 0, 0, 0, &mu, &first_ok, 0};
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    kc_pause_ms(1500);
    pthread_mutex_lock(&mu);
    long long kill_ms = kc_now_ms();
    for (int i = 0; i < WRITERS; i++) w[i].kill_ms = kill_ms;
    pthread_mutex_unlock(&mu);
    kc_signal(&cl, (unsigned)leader, SIGKILL);
    /* Bounded: at most 10 s for writes to resume. */
    for (int i = 0; i < 200 && first_ok == 0; i++) kc_pause_ms(50);
    kc_pause_ms(1000);
    stop = true;
    for (int i = 0; i < WRITERS; i++) pthread_join(th[i], NULL);
    assert_true(first_ok > 0);
    long long rto = first_ok - kill_ms;
    int total = 0;
    for (int i = 0; i < WRITERS; i++) total += w[i].acked;
    print_message("leader killed: first write acknowledged after %lld ms; %d writes acknowledged\n",
                  rto, total);
    /* Default timeouts (election 600 ms): each follower's timer is drawn
     * from [T, 2T); raft 0.15's leader stickiness and a pre-vote lost to a
     * longer log can cost a second draw, so the worst case is about 4T =
     * 2.4 s plus a commit. The distribution is measured by
     * bench/failover_bench; here the promise itself: within 3 s. */
    assert_true(rto <= 3000);
    check_acked(&cl, w, WRITERS);
    /* The old leader comes back as a follower and catches up. */
    kc_start_node(&cl, (unsigned)leader);
    assert_true(kc_leader(&cl, 10000) >= 0);
    kc_stop(&cl);
}

static void test_restart_all(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64");
    for (int k = 0; k < 300; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)k % 3, "SET r:%d %d", k, k);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    redisReply *r = kc_cmd(&cl, 0, "HSET doc a 1 b 2");
    freeReplyObject(r);
    for (unsigned i = 0; i < 3; i++) kc_signal(&cl, i, SIGTERM);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    for (int k = 0; k < 300; k++) {
        r = kc_cmd(&cl, (unsigned)k % 3, "GET r:%d", k);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(atoi(r->str), k);
        freeReplyObject(r);
    }
    r = kc_cmd(&cl, 2, "HGET doc b");
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    kc_stop(&cl);
}

static void test_follower_catches_up_by_snapshot(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64");
    unsigned away = ((unsigned)leader + 1) % 3;
    kc_signal(&cl, away, SIGKILL);
    for (int k = 0; k < 600; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET snap:%d %d", k, k);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    uint64_t commit = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
    assert_true(kc_info_u64(&cl, (unsigned)leader, "raft", "snapshot_index") > 64);
    kc_start_node(&cl, away);
    /* Bounded poll until it has applied what the leader had committed: 40 s,
     * more than --install-snapshot-timeout (10 s), after which raft resends
     * a snapshot that went to the node while it was down. */
    for (int i = 0; i < 800 && kc_info_u64(&cl, away, "raft", "applied_index") < commit; i++) kc_pause_ms(50);
    assert_true(kc_info_u64(&cl, away, "raft", "applied_index") >= commit);
    assert_true(kc_info_u64(&cl, away, "raft", "snapshot_index") > 0);
    /* Its own copy, read locally. */
    redisContext *ctx = kc_connect(&cl, away);
    redisReply *r = redisCommand(ctx, "READONLY");
    freeReplyObject(r);
    for (int k = 0; k < 600; k += 7) {
        r = redisCommand(ctx, "GET snap:%d", k);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(atoi(r->str), k);
        freeReplyObject(r);
    }
    redisFree(ctx);
    kc_stop(&cl);
}

/* Whether node i's raft directory holds a snapshot file. */
static bool has_raft_snapshot(struct kc *c, unsigned i)
{
    char path[700];
    snprintf(path, sizeof path, "%s/raft", c->nodes[i].dir);
    DIR *d = opendir(path);
    bool found = false;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        found |= strncmp(e->d_name, "snapshot-", 9) == 0;
    if (d) closedir(d);
    return found;
}

/* How often node i's log says it refused a snapshot. */
static int refusals_logged(struct kc *c, unsigned i)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(c->nodes[i].log, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) n += strstr(line, "refused snapshot from leader") != NULL;
    if (f) fclose(f);
    return n;
}

/* A real leader sends a follower snapshots whose checksums are right and
 * whose LMDB pages are damaged (keeld's test hook, raft/node_hooks.c), one
 * kind after another. The follower refuses each before anything is stored,
 * says so in its log naming the leader, never crashes, and keeps serving
 * what it has; once the leader sends a good one it installs it. Before the
 * check, raft stored the first one and the follower died in LMDB (SIGFPE
 * for psize0) at the install and at every restart after. */
static void test_follower_refuses_damaged_snapshot(void **state)
{
    (void)state;
#ifndef KEEL_TEST_HOOKS
    skip(); /* keeld's hook that damages outgoing snapshots is not in Release */
#endif
    char hook[700];
    kc_prepare(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64 --install-snapshot-timeout 500");
    snprintf(hook, sizeof hook, "%s/corrupt-snapshots", cl.base);
    setenv("KEEL_TEST_CORRUPT_SNAPSHOTS", hook, 1);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    unsetenv("KEEL_TEST_CORRUPT_SNAPSHOTS");
    int leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    unsigned away = ((unsigned)leader + 1) % 3;
    for (int k = 0; k < 20; k++) freeReplyObject(kc_cmd(&cl, (unsigned)leader, "SET early:%d %d", k, k));
    uint64_t early = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
    for (int i = 0; i < 200 && kc_info_u64(&cl, away, "raft", "applied_index") < early; i++) kc_pause_ms(50);
    kc_signal(&cl, away, SIGTERM);
    for (int k = 0; k < 600; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET snap:%d %d", k, k);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    assert_true(kc_info_u64(&cl, (unsigned)leader, "raft", "snapshot_index") > early + 64);
    assert_false(has_raft_snapshot(&cl, away));

    static const char *const kinds[] = {"psize0", "root-beyond", "garbage-branch", "tiny"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        FILE *f = fopen(hook, "w");
        assert_non_null(f);
        fprintf(f, "%s\n", kinds[k]);
        fclose(f);
        if (k == 0) kc_start_node(&cl, away);
        int before = refusals_logged(&cl, away);
        /* 30 s: the first kind waits for the node to start and for the
         * leader to send it a snapshot, which on a loaded CI machine (the
         * Debug suite runs two tests at once) took longer than 15 s once. */
        for (int i = 0; i < 600 && refusals_logged(&cl, away) == before; i++) kc_pause_ms(50);
        if (refusals_logged(&cl, away) == before) fail_msg("%s: no refusal logged", kinds[k]);
        assert_false(kc_exited(&cl, away));
        assert_false(has_raft_snapshot(&cl, away)); /* never stored */
        /* Still serving what it had, locally. */
        redisContext *ctx = kc_connect(&cl, away);
        freeReplyObject(redisCommand(ctx, "READONLY"));
        redisReply *r = redisCommand(ctx, "GET early:7");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, "7");
        freeReplyObject(r);
        redisFree(ctx);
    }
    assert_true(kc_info_u64(&cl, away, "raft", "applied_index") <
                kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index"));
    char line[4096];
    FILE *lf = fopen(cl.nodes[away].log, "r");
    bool named = false;
    char want[64];
    snprintf(want, sizeof want, "leader %u (127.0.0.1:%u)", cl.nodes[leader].id, cl.nodes[leader].raft_port);
    while (lf != NULL && fgets(line, sizeof line, lf) != NULL)
        named |= strstr(line, want) != NULL && strstr(line, "snapshot image: ") != NULL;
    if (lf) fclose(lf);
    assert_true(named);

    /* The leader sends a good one: installed, and the follower catches up. */
    unlink(hook);
    uint64_t commit = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
    for (int i = 0; i < 400 && kc_info_u64(&cl, away, "raft", "applied_index") < commit; i++) kc_pause_ms(50);
    assert_true(kc_info_u64(&cl, away, "raft", "applied_index") >= commit);
    assert_true(has_raft_snapshot(&cl, away));
    redisContext *ctx = kc_connect(&cl, away);
    freeReplyObject(redisCommand(ctx, "READONLY"));
    for (int k = 0; k < 600; k += 37) {
        redisReply *r = redisCommand(ctx, "GET snap:%d", k);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(atoi(r->str), k);
        freeReplyObject(r);
    }
    redisFree(ctx);
    kc_stop(&cl);
}

/* A leader paused past the election timeout is deposed; resumed, it must
 * not answer a (linearizable) read from its stale state. */
static void test_paused_leader_never_stale(void **state)
{
    (void)state;
    int old = kc_start_leader(&cl, 3, "");
    redisReply *r = kc_cmd(&cl, (unsigned)old, "SET fresh old");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    redisContext *stale = kc_connect(&cl, (unsigned)old); /* connected before the pause */
    kc_signal(&cl, (unsigned)old, SIGSTOP);
    unsigned other = ((unsigned)old + 1) % 3;
    bool written = false;
    for (int i = 0; i < 200 && !written; i++) {
        r = kc_cmd(&cl, other, "SET fresh new");
        written = kc_is_status(r, "OK");
        if (r) freeReplyObject(r);
        if (!written) kc_pause_ms(50);
    }
    assert_true(written);
    kc_signal(&cl, (unsigned)old, SIGCONT);
    /* Read at once, and for a while: "new" or an error, never "old". */
    int answered = 0;
    long long until = kc_now_ms() + 3000;
    while (kc_now_ms() < until) {
        r = redisCommand(stale, "GET fresh");
        if (r == NULL) break;
        if (r->type == REDIS_REPLY_STRING) {
            assert_string_equal(r->str, "new");
            answered++;
        } else {
            assert_int_equal(r->type, REDIS_REPLY_ERROR);
        }
        freeReplyObject(r);
        kc_pause_ms(20);
    }
    redisFree(stale);
    assert_true(answered > 0); /* it rejoined and forwards to the new leader */
    kc_stop(&cl);
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
    static const char *bad[] = {
        "*abc\r\n",
        "*2\r\n$3\r\nGET\r\n$99999999999\r\n",
        "*2\r\n$3\r\nGET\r\n$2000000\r\n", /* over --max-bulk */
        "*2\r\n$3\r\nGET\r\n*1\r\n$1\r\nx\r\n", /* nested */
        "*1\r\n$3\r\nGETxx\r\n",
        "*99999999\r\n",
        "SET \"unbalanced\r\n",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        raw_exchange(&cl, k % 3, bad[k], strlen(bad[k]), out, sizeof out);
        if (strncmp(out, "-ERR Protocol error", 19) != 0 && strncmp(out, "-ERR", 4) != 0)
            fail_msg("request %zu: got \"%s\"", k, out);
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

/* Invalid options and unusable directories: one line, non-zero exit. */
/* SIGTERM while a node is still starting (replaying its log, opening LMDB)
 * is a clean stop too, never death by the default action. Found by the
 * jepsen smoke run, which stops nodes right after restarting them. */
static void test_stop_during_startup(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    for (int k = 0; k < 300; k++) {
        redisReply *r = kc_cmd(&cl, 0, "SET boot:%d %d", k, k);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    static const unsigned delays_ms[] = {60, 100, 150, 250, 400};
    for (size_t d = 0; d < sizeof delays_ms / sizeof *delays_ms; d++) {
        kc_signal(&cl, 2, SIGKILL);
        kc_spawn_node(&cl, 2);
        kc_pause_ms(delays_ms[d]); /* the fault's timing, not a wait for a condition */
        kc_signal(&cl, 2, SIGTERM); /* fails the test unless it exits 0 */
    }
    kc_start_node(&cl, 2);
    assert_true(kc_leader(&cl, 10000) >= 0);
    kc_stop(&cl);
}

/* SIGTERM while writes are in flight on a one-node cluster (no handover
 * first): the node's close cancels them after the server stopped, so their
 * callbacks must not find the server freed (ASan caught that in CI). */
static void test_stop_with_writes_in_flight(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        kc_start_leader(&cl, 1, "");
        redisContext *c = kc_connect(&cl, 0);
        assert_non_null(c);
        for (int k = 0; k < 2000; k++) redisAppendCommand(c, "SET inflight:%d %d", k, k);
        int done = 0;
        while (!done) assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
        void *first = NULL;
        assert_int_equal(redisGetReply(c, &first), REDIS_OK); /* writes are flowing */
        freeReplyObject(first);
        kc_signal(&cl, 0, SIGTERM); /* fails the test unless it exits 0 */
        redisFree(c);
        kc_stop(&cl);
    }
}

static void test_bad_options(void **state)
{
    char cmd[1024], out[1024];
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
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_options, teardown),
        cmocka_unit_test_teardown(test_malformed_input, teardown),
        cmocka_unit_test_teardown(test_restart_all, teardown),
        cmocka_unit_test_teardown(test_follower_catches_up_by_snapshot, teardown),
        cmocka_unit_test_teardown(test_follower_refuses_damaged_snapshot, teardown),
        cmocka_unit_test_teardown(test_paused_leader_never_stale, teardown),
        cmocka_unit_test_teardown(test_kill_leader_under_writes, teardown),
        cmocka_unit_test_teardown(test_overload_bounded, teardown),
        cmocka_unit_test_teardown(test_join, teardown),
        cmocka_unit_test_teardown(test_redirect, teardown),
        cmocka_unit_test_teardown(test_stop_during_startup, teardown),
        cmocka_unit_test_teardown(test_stop_with_writes_in_flight, teardown),
    };
    return cmocka_run_group_tests_name("keeld_faults", tests, NULL, NULL);
}
