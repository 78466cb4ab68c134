/* tests/integration: pub/sub and notifications on a real three-node
 * cluster: SUBSCRIBE/PSUBSCRIBE replies in RESP2 (hiredis) and RESP3 (a raw
 * socket: hiredis 0.14 has no push frames), node-local PUBLISH counts, a
 * flooded subscriber that does not read is closed while the node stays
 * healthy; keyspace notifications of committed writes seen on a follower,
 * each carrying the raft index (notify-keyspace-index yes; Redis's default
 * payloads: test_keeld_notify_compat.c); __keel__:events for a leader change and for
 * membership changes. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kc.h"

static struct kc cl;

static int setup(void **state)
{
    (void)state;
    kc_start(&cl, 3, "--max-output 65536 --sweep-interval 50");
    return kc_leader(&cl, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cl);
    return 0;
}

/* The next reply on ctx, as text (bulk strings bare); fails on a timeout. */
static const char *next(redisContext *ctx)
{
    static char text[8192];
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK || r == NULL) fail_msg("no reply: %s", ctx->errstr);
    kc_reply_text(r, false, text, sizeof text);
    freeReplyObject(r);
    return text;
}

static void send_cmd(redisContext *ctx, const char *cmd)
{
    assert_int_equal(redisAppendCommand(ctx, cmd), REDIS_OK);
}

static void expect_next(redisContext *ctx, const char *want)
{
    const char *got = next(ctx);
    if (!kc_text_matches(got, want)) fail_msg("want %s\n  got  %s", want, got);
}

static void run(unsigned i, const char *cmd, const char *want)
{
    kc_expect(&cl, i, false, cmd, want);
}

/* ---- a raw RESP3 reader ------------------------------------------------ */

struct raw
{
    int fd;
    char buf[1 << 16];
    size_t len;
};

static int raw_connect(unsigned i)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl.nodes[i].client_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void raw_send(struct raw *r, const char *s)
{
    assert_int_equal(write(r->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void raw_line(struct raw *r, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - r->buf) + 1;
            snprintf(line, size, "%.*s", (int)(n - 2), r->buf);
            memmove(r->buf, r->buf + n, r->len - n);
            r->len -= n;
            return;
        }
        ssize_t got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (got <= 0) fail_msg("raw read: connection closed or timed out");
        r->len += (size_t)got;
    }
}

/* One frame as text: >[a,b,:1] for pushes, [..] arrays, {k,v} maps, _ null. */
static void raw_frame(struct raw *r, char *out, size_t size)
{
    char line[1024];
    raw_line(r, line, sizeof line);
    long n = strtol(line + 1, NULL, 10);
    switch (line[0]) {
        case '$': {
            char data[1024];
            raw_line(r, data, sizeof data); /* test payloads hold no CRLF */
            snprintf(out, size, "%s", data);
            return;
        }
        case '>': case '*': case '%': {
            long items = line[0] == '%' ? 2 * n : n;
            size_t k = (size_t)snprintf(out, size, "%s", line[0] == '>' ? ">[" : line[0] == '%' ? "{" : "[");
            for (long i = 0; i < items && k < size; i++) {
                if (i) k += (size_t)snprintf(out + k, size - k, ",");
                raw_frame(r, out + k, size - k);
                k = strlen(out);
            }
            snprintf(out + k, size - k, "%s", line[0] == '%' ? "}" : "]");
            return;
        }
        default:
            snprintf(out, size, "%s", line);
    }
}

static void raw_expect(struct raw *r, const char *want)
{
    char got[4096];
    raw_frame(r, got, sizeof got);
    if (strcmp(got, want) != 0) fail_msg("RESP3: want %s\n  got  %s", want, got);
}

/* ---- pub/sub ------------------------------------------------------------ */

static void test_pubsub_resp2(void **state)
{
    (void)state;
    redisContext *sub = kc_connect(&cl, 0);
    send_cmd(sub, "SUBSCRIBE a b");
    expect_next(sub, "[subscribe,a,:1]");
    expect_next(sub, "[subscribe,b,:2]");
    send_cmd(sub, "PSUBSCRIBE n*");
    expect_next(sub, "[psubscribe,n*,:3]");
    send_cmd(sub, "GET x");
    expect_next(sub, "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                     "QUIT / RESET are allowed in this context");
    send_cmd(sub, "PING");
    expect_next(sub, "[pong,]");
    send_cmd(sub, "PING hi");
    expect_next(sub, "[pong,hi]");

    run(1, "PUBLISH a hello", ":0"); /* node-local: the subscriber is on node 1 */
    run(0, "PUBLISH a hello", ":1");
    run(0, "PUBLISH nx m", ":1");
    run(0, "PUBLISH zz m", ":0");
    run(0, "PUBLISH b", "-ERR wrong number of arguments for 'publish' command");
    expect_next(sub, "[message,a,hello]");
    expect_next(sub, "[pmessage,n*,nx,m]");
    run(0, "PUBSUB NUMSUB a b c", "[a,:1,b,:1,c,:0]");
    run(0, "PUBSUB CHANNELS a*", "[a]");
    run(0, "PUBSUB NUMPAT", ":1");
    run(1, "PUBSUB NUMSUB a", "[a,:0]");

    send_cmd(sub, "UNSUBSCRIBE a");
    expect_next(sub, "[unsubscribe,a,:2]");
    send_cmd(sub, "UNSUBSCRIBE");
    expect_next(sub, "[unsubscribe,b,:1]");
    send_cmd(sub, "UNSUBSCRIBE");
    expect_next(sub, "[unsubscribe,(nil),:1]");
    send_cmd(sub, "PUNSUBSCRIBE");
    expect_next(sub, "[punsubscribe,n*,:0]");
    send_cmd(sub, "GET x"); /* out of subscribed mode */
    expect_next(sub, "(nil)");
    run(0, "PUBLISH a hello", ":0");
    run(0, "PUBSUB CHANNELS", "[]");
    run(0, "PUBSUB NUMPAT", ":0");

    /* RESET leaves subscribed mode too; a closed subscriber is forgotten. */
    send_cmd(sub, "SUBSCRIBE a");
    expect_next(sub, "[subscribe,a,:1]");
    send_cmd(sub, "RESET");
    expect_next(sub, "+RESET");
    run(0, "PUBLISH a x", ":0");
    send_cmd(sub, "SUBSCRIBE a");
    expect_next(sub, "[subscribe,a,:1]");
    redisFree(sub);
    for (int t = 0; t < 100; t++) {
        redisReply *r = kc_cmd(&cl, 0, "PUBLISH a x");
        long long n = r ? r->integer : -1;
        if (r) freeReplyObject(r);
        if (n == 0) return;
        kc_pause_ms(20);
    }
    fail_msg("a closed subscriber still receives");
}

static void test_pubsub_resp3(void **state)
{
    (void)state;
    struct raw r = {.fd = raw_connect(2)};
    char hello[4096];
    raw_send(&r, "HELLO 3\r\n");
    raw_frame(&r, hello, sizeof hello);
    assert_non_null(strstr(hello, "proto,:3"));
    raw_send(&r, "SUBSCRIBE c\r\n");
    raw_expect(&r, ">[subscribe,c,:1]");
    raw_send(&r, "PSUBSCRIBE c*\r\n");
    raw_expect(&r, ">[psubscribe,c*,:2]");
    raw_send(&r, "GET nothing-here\r\n"); /* RESP3 allows any command */
    raw_expect(&r, "_");
    run(2, "PUBLISH c m", ":2");
    raw_expect(&r, ">[message,c,m]");
    raw_expect(&r, ">[pmessage,c*,c,m]");
    raw_send(&r, "UNSUBSCRIBE\r\n");
    raw_expect(&r, ">[unsubscribe,c,:1]");
    raw_send(&r, "PUNSUBSCRIBE nope\r\n");
    raw_expect(&r, ">[punsubscribe,nope,:1]");
    raw_send(&r, "PUNSUBSCRIBE\r\n");
    raw_expect(&r, ">[punsubscribe,c*,:0]");
    raw_send(&r, "UNSUBSCRIBE\r\n");
    raw_expect(&r, ">[unsubscribe,_,:0]");
    close(r.fd);
}

static bool log_has(unsigned i, const char *text)
{
    FILE *f = fopen(cl.nodes[i].log, "r");
    char line[2048];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

/* A subscriber that never reads is closed once the messages it owes pass
 * --max-output; the node keeps serving and does not grow. */
static void test_slow_subscriber(void **state)
{
    (void)state;
    struct raw r = {.fd = raw_connect(1)};
    int small = 4096;
    setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    raw_send(&r, "SUBSCRIBE flood\r\n");
    raw_expect(&r, "[subscribe,flood,:1]");
    long rss_before = kc_rss_kb(&cl, 1);
    redisContext *pub = kc_connect(&cl, 1);
    char *payload = malloc(32768 + 1);
    memset(payload, 'p', 32768);
    payload[32768] = 0;
    int sent = 0;
    long long got = 1;
    for (; sent < 4000 && got != 0; sent++) {
        redisReply *rep = redisCommand(pub, "PUBLISH flood %s", payload);
        assert_non_null(rep);
        got = rep->integer;
        freeReplyObject(rep);
    }
    free(payload);
    redisFree(pub);
    if (got != 0) fail_msg("the subscriber was never closed (%d messages)", sent);
    run(1, "PING", "+PONG");
    run(1, "SET after-flood yes", "+OK");
    run(1, "GET after-flood", "yes");
    run(1, "PUBSUB NUMSUB flood", "[flood,:0]");
    assert_true(log_has(1, "over --max-output"));
    long rss_after = kc_rss_kb(&cl, 1);
    if (rss_before > 0 && rss_after > rss_before + 64 * 1024)
        fail_msg("RSS grew from %ld to %ld KiB", rss_before, rss_after);
    close(r.fd);
}

/* ---- keyspace notifications -------------------------------------------- */

struct msg
{
    char channel[256];
    char payload[256];
    unsigned long long index; /* after the last '#' of the payload */
};

/* The next message on sub (pmessage or message), parsed. */
static void next_msg(redisContext *sub, struct msg *m)
{
    void *v = NULL;
    if (redisGetReply(sub, &v) != REDIS_OK || v == NULL) fail_msg("no message: %s", sub->errstr);
    redisReply *r = v;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t k = r->elements == 4 ? 2 : 1;
    snprintf(m->channel, sizeof m->channel, "%.*s", (int)r->element[k]->len, r->element[k]->str);
    snprintf(m->payload, sizeof m->payload, "%.*s", (int)r->element[k + 1]->len, r->element[k + 1]->str);
    const char *hash = strrchr(m->payload, '#');
    m->index = hash ? strtoull(hash + 1, NULL, 10) : 0;
    freeReplyObject(r);
}

/* The two messages of one event on one key: keyspace, then keyevent; both
 * with the same index, which is returned. */
static unsigned long long expect_event(redisContext *sub, const char *event, const char *key)
{
    struct msg a, b;
    char want[256];
    next_msg(sub, &a);
    next_msg(sub, &b);
    snprintf(want, sizeof want, "__keyspace@0__:%s", key);
    if (strcmp(a.channel, want) != 0) fail_msg("want channel %s, got %s (%s)", want, a.channel, a.payload);
    snprintf(want, sizeof want, "%s#%llu", event, a.index);
    if (strcmp(a.payload, want) != 0 || a.index == 0) fail_msg("want payload %s, got %s", want, a.payload);
    snprintf(want, sizeof want, "__keyevent@0__:%s", event);
    if (strcmp(b.channel, want) != 0) fail_msg("want channel %s, got %s", want, b.channel);
    snprintf(want, sizeof want, "%s#%llu", key, a.index);
    if (strcmp(b.payload, want) != 0) fail_msg("want payload %s, got %s", want, b.payload);
    return a.index;
}

static void test_keyspace_on_follower(void **state)
{
    (void)state;
    int leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    unsigned L = (unsigned)leader, F = (L + 1) % 3;
    redisContext *sub = kc_connect(&cl, F);
    send_cmd(sub, "PSUBSCRIBE __key*@0__:*");
    expect_next(sub, "[psubscribe,__key*@0__:*,:1]");
    send_cmd(sub, "SUBSCRIBE marker");
    expect_next(sub, "[subscribe,marker,:2]");

    /* Off by default: a write applied on F gives nothing before the marker. */
    run(F, "CONFIG GET notify-keyspace-events", "[notify-keyspace-events,]");
    run(L, "SET before on", "+OK");
    redisContext *ro = kc_connect(&cl, F);
    redisReply *r = redisCommand(ro, "READONLY");
    freeReplyObject(r);
    bool seen = false;
    for (int t = 0; t < 200 && !seen; t++) {
        r = redisCommand(ro, "GET before");
        seen = r != NULL && r->type == REDIS_REPLY_STRING;
        if (r) freeReplyObject(r);
        if (!seen) kc_pause_ms(20);
    }
    redisFree(ro);
    assert_true(seen);
    run(F, "PUBLISH marker 1", ":1");
    expect_next(sub, "[message,marker,1]");

    run(F, "CONFIG SET notify-keyspace-events KEQ",
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid "
        "event class character. Use 'Ag$lshzxeKEtmdn'.");
    run(F, "CONFIG SET notify-keyspace-events KEA", "+OK");
    run(F, "CONFIG GET notify-keyspace-events", "[notify-keyspace-events,AKE]");
    run(F, "CONFIG SET notify-keyspace-index yes", "+OK");
    run(F, "CONFIG GET notify*", "[notify-keyspace-events,AKE,notify-keyspace-index,yes]");

    run(L, "SET k v", "+OK");
    unsigned long long i1 = expect_event(sub, "set", "k");
    run(L, "HSET h f v", ":1");
    unsigned long long i2 = expect_event(sub, "hset", "h");
    run(L, "INCRBY n 3", ":3");
    unsigned long long i3 = expect_event(sub, "incrby", "n");
    run(L, "EXPIRE k 100", ":1");
    unsigned long long i4 = expect_event(sub, "expire", "k");
    run(L, "DEL k h", ":2");
    unsigned long long i5 = expect_event(sub, "del", "k");
    assert_int_equal(expect_event(sub, "del", "h"), i5);
    assert_true(i1 < i2 && i2 < i3 && i3 < i4 && i4 < i5);

    /* MULTI/EXEC: one entry, so every event carries the same index. */
    redisContext *w = kc_connect(&cl, L);
    send_cmd(w, "MULTI");
    send_cmd(w, "SET m1 1");
    send_cmd(w, "INCRBY m2 2");
    send_cmd(w, "HSET m3 f v");
    send_cmd(w, "EXEC");
    expect_next(w, "+OK");
    expect_next(w, "+QUEUED");
    expect_next(w, "+QUEUED");
    expect_next(w, "+QUEUED");
    expect_next(w, "[+OK,:2,:1]");
    redisFree(w);
    unsigned long long m = expect_event(sub, "set", "m1");
    assert_true(m > i5);
    assert_int_equal(expect_event(sub, "incrby", "m2"), m);
    assert_int_equal(expect_event(sub, "hset", "m3"), m);

    /* The leader's sweep deletes a key set with PX 200: "expired". */
    run(L, "SET short v PX 200", "+OK");
    unsigned long long s = expect_event(sub, "set", "short");
    assert_int_equal(expect_event(sub, "expire", "short"), s);
    long long deadline = kc_now_ms() + 10000;
    struct msg a;
    do {
        next_msg(sub, &a); /* each read waits at most 5 s */
    } while (strcmp(a.channel, "__keyspace@0__:short") != 0 && kc_now_ms() < deadline);
    assert_string_equal(a.channel, "__keyspace@0__:short");
    assert_true(strncmp(a.payload, "expired#", 8) == 0 && a.index > s);

    /* Off again: nothing more arrives before the marker. */
    r = kc_cmd(&cl, F, "CONFIG SET notify-keyspace-events %s", "");
    assert_true(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    next_msg(sub, &a); /* the keyevent half of "expired" */
    assert_string_equal(a.channel, "__keyevent@0__:expired");
    run(L, "SET k2 v", "+OK");
    seen = false;
    for (int t = 0; t < 200 && !seen; t++) {
        r = kc_cmd(&cl, F, "INFO raft");
        redisReply *lr = kc_cmd(&cl, L, "INFO raft");
        const char *fa = r ? strstr(r->str, "applied_index:") : NULL;
        const char *la = lr ? strstr(lr->str, "applied_index:") : NULL;
        seen = fa && la && strtoull(fa + 14, NULL, 10) >= strtoull(la + 14, NULL, 10);
        if (r) freeReplyObject(r);
        if (lr) freeReplyObject(lr);
        if (!seen) kc_pause_ms(20);
    }
    run(F, "PUBLISH marker 2", ":1");
    expect_next(sub, "[message,marker,2]");
    redisFree(sub);
}

/* ---- __keel__:events ---------------------------------------------------- */

/* Read __keel__:events until a payload holds every one of the texts. */
static void wait_keel_event(redisContext *sub, char *out, size_t size, const char *a, const char *b)
{
    long long deadline = kc_now_ms() + 15000;
    struct msg m;
    while (kc_now_ms() < deadline) {
        next_msg(sub, &m);
        if (strcmp(m.channel, "__keel__:events") != 0) continue;
        if (strstr(m.payload, "\"index\":") == NULL || strstr(m.payload, "\"node\":") == NULL)
            fail_msg("no index or node: %s", m.payload);
        if (strstr(m.payload, a) && (b == NULL || strstr(m.payload, b))) {
            snprintf(out, size, "%s", m.payload);
            return;
        }
    }
    fail_msg("no __keel__:events message with %s %s", a, b ? b : "");
}

static unsigned count(const char *s, const char *sub)
{
    unsigned n = 0;
    for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub)) n++;
    return n;
}

static void test_keel_events(void **state)
{
    (void)state;
    int leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    unsigned L = (unsigned)leader, F = (L + 1) % 3;
    redisContext *sub = kc_connect(&cl, F);
    send_cmd(sub, "SUBSCRIBE __keel__:events");
    expect_next(sub, "[subscribe,__keel__:events,:1]");

    kc_signal(&cl, L, SIGKILL);
    char json[4096], want[64];
    wait_keel_event(sub, json, sizeof json, "\"event\":\"leader\"", NULL);
    unsigned id = 0;
    const char *p = strstr(json, "\"leader\":");
    while (p != NULL && sscanf(p, "\"leader\":%u", &id) != 1) p = strstr(p + 1, "\"leader\":");
    if (id == 0 || id == L + 1) fail_msg("want a new leader: %s", json);
    leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0 && (unsigned)leader != L);

    run((unsigned)leader, "PING", "+PONG");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "KEEL.MEMBER REMOVE %u", L + 1);
    run(F, cmd, "+OK");
    wait_keel_event(sub, json, sizeof json, "\"event\":\"members\"", NULL);
    snprintf(want, sizeof want, "{\"id\":%u,", L + 1);
    if (count(json, "{\"id\":") != 2 || strstr(json, want)) fail_msg("after remove: %s", json);

    kc_start_node(&cl, L);
    snprintf(cmd, sizeof cmd, "KEEL.MEMBER ADD %u 127.0.0.1:%u", L + 1, cl.nodes[L].raft_port);
    run(F, cmd, "+OK");
    snprintf(want, sizeof want, "{\"id\":%u,\"role\":\"voter\"", L + 1);
    wait_keel_event(sub, json, sizeof json, "\"event\":\"members\"", want);
    assert_int_equal(count(json, "{\"id\":"), 3);

    /* Alarms are published there too, raised and cleared. */
    run(F, "KEEL.ALARM RAISE CORRUPT drill-test", "+OK");
    wait_keel_event(sub, json, sizeof json, "\"alarm\":\"CORRUPT\"", "\"active\":true");
    run(F, "KEEL.ALARM CLEAR CORRUPT", "+OK");
    wait_keel_event(sub, json, sizeof json, "\"alarm\":\"CORRUPT\"", "\"active\":false");

    /* Keel's own publication goes out whatever notify-keyspace-events says. */
    run(F, "CONFIG GET notify-keyspace-events", "[notify-keyspace-events,]");
    redisFree(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pubsub_resp2),
        cmocka_unit_test(test_pubsub_resp3),
        cmocka_unit_test(test_slow_subscriber),
        cmocka_unit_test(test_keyspace_on_follower),
        cmocka_unit_test(test_keel_events), /* last: it kills the leader */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
