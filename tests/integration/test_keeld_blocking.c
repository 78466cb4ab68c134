/* tests/integration: the blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH
 * BLMPOP BZPOPMIN BZPOPMAX BZMPOP) and LMPOP ZMPOP on a real three-node
 * cluster, on the leader and through a follower (which forwards them), as
 * Redis 7.2 answers them (src/t_list.c, t_zset.c, blocked.c;
 * tests/unit/type/list.tcl and zset.tcl). A client is known to be blocked
 * when its node's INFO blocked_clients says so (bounded polling); no
 * assertion rests on a fixed sleep. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

static struct kc cluster;
static int leader;

static int setup(void **state)
{
    (void)state;
    leader = kc_start_leader(&cluster, 3, "");
    return leader < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

/* The leader, then a follower. */
static unsigned node_at(unsigned k)
{
    return k == 0 ? (unsigned)leader : ((unsigned)leader + 1) % 3;
}

/* Another node than i, for the writes that serve a blocked client. */
static unsigned other(unsigned i)
{
    return (i + 2) % 3;
}

#define C(want, ...)                                         \
    do {                                                     \
        char cmd_[512];                                      \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);            \
        kc_expect(&cluster, i, true, cmd_, want);            \
    } while (0)

/* K(want, cmd, k): every "%u" of both is k (the keys of the k-th pass). */
static void subst(char *out, size_t size, const char *in, unsigned k)
{
    size_t n = 0;
    for (; *in != 0 && n + 12 < size; in++) {
        if (in[0] == '%' && in[1] == 'u') {
            n += (size_t)snprintf(out + n, size - n, "%u", k);
            in++;
        } else {
            out[n++] = *in;
        }
    }
    out[n] = 0;
}

static void k_expect(unsigned i, const char *want, const char *cmd, unsigned k)
{
    char w[256], c[256];
    subst(w, sizeof w, want, k);
    subst(c, sizeof c, cmd, k);
    kc_expect(&cluster, i, true, c, w);
}
#define K(want, cmd, k) k_expect(i, want, cmd, k)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value"

/* Send a command on ctx without reading its reply. */
static void send_cmd(redisContext *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    assert_int_equal(redisvAppendCommand(ctx, fmt, ap), REDIS_OK);
    va_end(ap);
    int done = 0;
    while (!done) assert_int_equal(redisBufferWrite(ctx, &done), REDIS_OK);
}

/* The next reply on ctx (within its 5 s timeout) as text. */
static void expect_reply(redisContext *ctx, const char *want)
{
    void *rp = NULL;
    char got[512];
    assert_int_equal(redisGetReply(ctx, &rp), REDIS_OK);
    assert_non_null(rp);
    kc_reply_text(rp, true, got, sizeof got);
    if (!kc_text_matches(got, want)) fail_msg("got %s, want %s", got, want);
    freeReplyObject(rp);
}

/* Wait (bounded) until node i reports n blocked clients. */
static void wait_blocked(unsigned i, uint64_t n)
{
    uint64_t got = 0;
    for (int t = 0; t < 200; t++) {
        if ((got = kc_info_u64(&cluster, i, "clients", "blocked_clients")) == n) return;
        kc_pause_ms(25);
    }
    fail_msg("node %u: blocked_clients never became %llu (%llu)", i, (unsigned long long)n, (unsigned long long)got);
}

/* BLPOP served by an LPUSH from another connection (and node). */
static void test_served(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        redisContext *c1 = kc_connect(&cluster, i);
        assert_non_null(c1);
        send_cmd(c1, "BLPOP bl%u:a bl%u:b 0", k, k);
        wait_blocked(i, 1);
        k_expect(other(i), ":1", "LPUSH bl%u:b x", k);
        char want[64];
        snprintf(want, sizeof want, "[\"bl%u:b\",\"x\"]", k);
        expect_reply(c1, want);
        wait_blocked(i, 0);
        C(":0", "EXISTS bl%u:b", k);
        /* Served at once when a key has items: the first existing key. */
        C(":2", "RPUSH bl%u:b y z", k);
        K("[\"bl%u:b\",\"y\"]", "BLPOP bl%u:a bl%u:b 0", k);
        K("[\"bl%u:b\",\"z\"]", "BRPOP bl%u:a bl%u:b 1", k);
        /* BRPOP blocked, served by RPUSH: from the tail. */
        send_cmd(c1, "BRPOP bl%u:c 5", k);
        wait_blocked(i, 1);
        k_expect(other(i), ":3", "RPUSH bl%u:c 1 2 3", k);
        snprintf(want, sizeof want, "[\"bl%u:c\",\"3\"]", k);
        expect_reply(c1, want);
        C("[\"1\",\"2\"]", "LRANGE bl%u:c 0 -1", k);
        redisFree(c1);
    }
}

/* Two clients blocked on one key are served in the order they blocked. */
static void test_fifo(void **state)
{
    (void)state;
    unsigned i = (unsigned)leader;
    redisContext *c1 = kc_connect(&cluster, i), *c2 = kc_connect(&cluster, i);
    send_cmd(c1, "BLPOP fifo 0");
    wait_blocked(i, 1);
    send_cmd(c2, "BLPOP fifo 0");
    wait_blocked(i, 2);
    C(":1", "RPUSH fifo first");
    expect_reply(c1, "[\"fifo\",\"first\"]");
    wait_blocked(i, 1); /* the second waits on: the list is empty again */
    C(":1", "RPUSH fifo second");
    expect_reply(c2, "[\"fifo\",\"second\"]");
    /* Both at once: one item each, in order. */
    send_cmd(c1, "BLPOP fifo2 0");
    wait_blocked(i, 1);
    send_cmd(c2, "BLPOP fifo2 0");
    wait_blocked(i, 2);
    C(":2", "RPUSH fifo2 a b");
    expect_reply(c1, "[\"fifo2\",\"a\"]");
    expect_reply(c2, "[\"fifo2\",\"b\"]");
    C(":0", "EXISTS fifo2");
    /* Fairness while pipelining (list.tcl): a push and a blocking pop sent
     * together by another client serve the waiting client first. */
    send_cmd(c1, "BLPOP fair 0");
    wait_blocked(i, 1);
    send_cmd(c2, "RPUSH fair 1");
    send_cmd(c2, "BLPOP fair 0");
    expect_reply(c1, "[\"fair\",\"1\"]");
    expect_reply(c2, ":1");
    wait_blocked(i, 1);
    C(":1", "RPUSH fair 2");
    expect_reply(c2, "[\"fair\",\"2\"]");
    wait_blocked(i, 0);
    redisFree(c1);
    redisFree(c2);
}

/* Timeouts answer the null array (BLMOVE: nil), the timeout's errors. */
static void test_timeout(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        long long t0 = kc_now_ms();
        C("(nil)", "BLPOP to%u 0.2", k);
        long long took = kc_now_ms() - t0;
        assert_true(took >= 150);
        assert_true(took < 4000);
        C("(nil)", "BRPOP to%u to%u:b 0.1", k, k);
        C("(nil)", "BZPOPMIN to%u:z 0.1", k);
        C("(nil)", "BZPOPMAX to%u:z 0.1", k);
        C("(nil)", "BLMOVE to%u to%u:d LEFT RIGHT 0.1", k, k);
        C("(nil)", "BRPOPLPUSH to%u to%u:d 0.1", k, k);
        C("(nil)", "BLMPOP 0.1 2 to%u to%u:b LEFT", k, k);
        C("(nil)", "BZMPOP 0.1 1 to%u:z MIN COUNT 3", k);
        C(":0", "EXISTS to%u:d", k);
        C("-ERR timeout is not a float or out of range", "BLPOP to%u abc", k);
        C("-ERR timeout is not a float or out of range", "BLPOP to%u 1x", k);
        C("-ERR timeout is negative", "BLPOP to%u -1", k);
        C("-ERR timeout is negative", "BZPOPMIN to%u -0.5e1", k);
        C("-ERR timeout is out of range", "BLPOP to%u inf", k);
        C("-ERR timeout is out of range", "BLMOVE to%u x LEFT LEFT 1e300", k);
        C("-ERR syntax error", "BLMOVE to%u x UP LEFT abc", k); /* the sides first */
        C("-ERR wrong number of arguments for 'blpop' command", "BLPOP to%u", k);
        C("-ERR numkeys should be greater than 0", "BLMPOP abc 0 x%u LEFT", k);
        C("-ERR timeout is not a float or out of range", "BLMPOP abc 1 x%u LEFT", k);
    }
}

static void test_wrongtype(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        C("+OK", "SET wt%u:s v", k);
        C(WRONGTYPE, "BLPOP wt%u:s 0", k);
        C(WRONGTYPE, "BLPOP wt%u:none wt%u:s 0", k, k); /* the first existing key */
        C(WRONGTYPE, "BZPOPMIN wt%u:s 0", k);
        C(":1", "RPUSH wt%u:l a", k);
        C(WRONGTYPE, "BZPOPMAX wt%u:l 0", k);
        C(WRONGTYPE, "BLMOVE wt%u:l wt%u:s LEFT LEFT 0", k, k); /* destination's type */
        C("[\"a\"]", "LRANGE wt%u:l 0 -1", k);
        C(WRONGTYPE, "LMPOP 2 wt%u:s wt%u:l LEFT", k, k);
    }
}

/* A blocked client whose key becomes another type waits on (Redis's rule);
 * served once its key holds a list. */
static void test_type_change(void **state)
{
    (void)state;
    unsigned i = (unsigned)leader;
    redisContext *c1 = kc_connect(&cluster, i);
    send_cmd(c1, "BLPOP tc 0");
    wait_blocked(i, 1);
    C("+OK", "SET tc str");
    C(":1", "DEL tc");
    C(":1", "LPUSH tc v");
    expect_reply(c1, "[\"tc\",\"v\"]");
    redisFree(c1);
}

static void test_blmove(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        redisContext *c1 = kc_connect(&cluster, i);
        send_cmd(c1, "BLMOVE mv%u:src mv%u:dst RIGHT LEFT 0", k, k);
        wait_blocked(i, 1);
        k_expect(other(i), ":2", "RPUSH mv%u:src a b", k);
        expect_reply(c1, "\"b\"");
        C("[\"b\"]", "LRANGE mv%u:dst 0 -1", k);
        C("[\"a\"]", "LRANGE mv%u:src 0 -1", k);
        C("\"a\"", "BRPOPLPUSH mv%u:src mv%u:dst 0", k, k);
        C("[\"a\",\"b\"]", "LRANGE mv%u:dst 0 -1", k);
        /* Blocked, then its destination became a string: WRONGTYPE, and
         * the item stays in the source (list.tcl's "with wrong destination
         * type"). */
        send_cmd(c1, "BRPOPLPUSH mv%u:src2 mv%u:str 0", k, k);
        wait_blocked(i, 1);
        C("+OK", "SET mv%u:str x", k);
        C(":1", "RPUSH mv%u:src2 z", k);
        expect_reply(c1, WRONGTYPE);
        C("[\"z\"]", "LRANGE mv%u:src2 0 -1", k);
        redisFree(c1);
    }
}

static void test_zsets(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        redisContext *c1 = kc_connect(&cluster, i);
        send_cmd(c1, "BZPOPMIN bz%u 0", k);
        wait_blocked(i, 1);
        k_expect(other(i), ":3", "ZADD bz%u 2 b 1 a 3 c", k);
        char want[64];
        snprintf(want, sizeof want, "[\"bz%u\",\"a\",\"1\"]", k);
        expect_reply(c1, want);
        K("[\"bz%u\",\"c\",\"3\"]", "BZPOPMAX bz%u:none bz%u 0", k);
        K("[\"bz%u\",[[\"b\",\"2\"]]]", "BZMPOP 0 1 bz%u MIN COUNT 5", k);
        C(":0", "EXISTS bz%u", k);
        send_cmd(c1, "BZMPOP 0 2 bz%u:x bz%u MAX COUNT 2", k, k);
        wait_blocked(i, 1);
        k_expect(other(i), ":3", "ZADD bz%u 1.5 p 2.5 q 0 r", k);
        snprintf(want, sizeof want, "[\"bz%u\",[[\"q\",\"2.5\"],[\"p\",\"1.5\"]]]", k);
        expect_reply(c1, want);
        K("[\"bz%u\",[[\"r\",\"0\"]]]", "ZMPOP 1 bz%u MIN", k);
        C("(nil)", "ZMPOP 1 bz%u MIN", k);
        redisFree(c1);
    }
}

/* LMPOP and BLMPOP's arguments, as lmpopGenericCommand parses them. */
static void test_lmpop(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        C(":4", "RPUSH lm%u:b 1 2 3 4", k);
        K("[\"lm%u:b\",[\"1\",\"2\"]]", "LMPOP 2 lm%u:a lm%u:b LEFT COUNT 2", k);
        K("[\"lm%u:b\",[\"4\",\"3\"]]", "LMPOP 2 lm%u:a lm%u:b RIGHT COUNT 10", k);
        C("(nil)", "LMPOP 2 lm%u:a lm%u:b RIGHT", k, k);
        C("-ERR numkeys should be greater than 0", "LMPOP 0 lm%u LEFT", k);
        C("-ERR numkeys should be greater than 0", "LMPOP x lm%u LEFT", k);
        C("-ERR syntax error", "LMPOP 2 lm%u LEFT", k);
        C("-ERR syntax error", "LMPOP 1 lm%u MIDDLE", k);
        C("-ERR count should be greater than 0", "LMPOP 1 lm%u LEFT COUNT 0", k);
        C("-ERR syntax error", "LMPOP 1 lm%u LEFT COUNT 1 COUNT 2", k);
        C("-ERR syntax error", "LMPOP 1 lm%u LEFT COUNT", k);
        C("-ERR syntax error", "ZMPOP 1 lm%u LEFT", k);
        redisContext *c1 = kc_connect(&cluster, i);
        send_cmd(c1, "BLMPOP 0 2 lm%u:c lm%u:d RIGHT COUNT 2", k, k);
        wait_blocked(i, 1);
        k_expect(other(i), ":3", "RPUSH lm%u:d a b c", k);
        char want[64];
        snprintf(want, sizeof want, "[\"lm%u:d\",[\"c\",\"b\"]]", k);
        expect_reply(c1, want);
        redisFree(c1);
    }
}

/* Inside MULTI a blocking pop never blocks: the null array, at once. */
static void test_multi(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        redisContext *c1 = kc_connect(&cluster, i);
        kc_on(c1, i, "+OK", "MULTI");
        kc_on(c1, i, "+QUEUED", "BLPOP mx%u 0", k);
        kc_on(c1, i, "+QUEUED", "RPUSH mx%u a", k);
        kc_on(c1, i, "+QUEUED", "BRPOP mx%u 0", k);
        kc_on(c1, i, "+QUEUED", "BZPOPMIN mx%u:z 0", k);
        kc_on(c1, i, "+QUEUED", "BLMOVE mx%u mx%u LEFT LEFT 0", k, k);
        char want[128];
        snprintf(want, sizeof want, "[(nil),:1,[\"mx%u\",\"a\"],(nil),(nil)]", k);
        kc_on(c1, i, want, "EXEC");
        redisFree(c1);
    }
}

/* A blocked client that goes away leaves no waiter: the next push stays. */
static void test_disconnect(void **state)
{
    (void)state;
    unsigned i = (unsigned)leader;
    redisContext *c1 = kc_connect(&cluster, i);
    send_cmd(c1, "BLPOP gone 0");
    wait_blocked(i, 1);
    redisFree(c1);
    wait_blocked(i, 0);
    C(":1", "RPUSH gone a");
    C("[\"a\"]", "LRANGE gone 0 -1");
    /* Through a follower: its connection to the leader goes with it. */
    unsigned f = node_at(1);
    c1 = kc_connect(&cluster, f);
    send_cmd(c1, "BLPOP gone2 0");
    wait_blocked(f, 1);
    redisFree(c1);
    wait_blocked(f, 0);
}

/* A connection's commands after a blocking one wait for it. */
static void test_pipeline(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 2; k++) {
        unsigned i = node_at(k);
        redisContext *c1 = kc_connect(&cluster, i);
        send_cmd(c1, "BLPOP pl%u 0", k);
        send_cmd(c1, "RPUSH pl%u:after x", k);
        wait_blocked(i, 1);
        C(":0", "EXISTS pl%u:after", k);
        k_expect(other(i), ":1", "RPUSH pl%u v", k);
        char want[64];
        snprintf(want, sizeof want, "[\"pl%u\",\"v\"]", k);
        expect_reply(c1, want);
        expect_reply(c1, ":1");
        C(":1", "EXISTS pl%u:after", k);
        redisFree(c1);
    }
}

static void test_unblock(void **state)
{
    (void)state;
    unsigned i = (unsigned)leader;
    redisContext *c1 = kc_connect(&cluster, i);
    redisReply *r = redisCommand(c1, "CLIENT ID");
    assert_non_null(r);
    long long id = r->integer;
    freeReplyObject(r);
    send_cmd(c1, "BLPOP ub 0");
    wait_blocked(i, 1);
    C(":1", "CLIENT UNBLOCK %lld", id);
    expect_reply(c1, "(nil)");
    C(":0", "CLIENT UNBLOCK %lld", id);
    send_cmd(c1, "BZPOPMIN ub 0");
    wait_blocked(i, 1);
    C("-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR", "CLIENT UNBLOCK %lld NOW", id);
    C(":1", "CLIENT UNBLOCK %lld ERROR", id);
    expect_reply(c1, "-UNBLOCKED client unblocked via CLIENT UNBLOCK");
    redisFree(c1);
}

/* ACL key patterns see the keys after numkeys (LMPOP ...) and BLPOP's. */
static void test_acl_keys(void **state)
{
    (void)state;
    unsigned i = (unsigned)leader;
    C("+OK", "ACL SETUSER blk on >blk-pw ~ok* +@all");
    for (unsigned k = 0; k < 2; k++) {
        redisContext *c1 = kc_connect(&cluster, node_at(k));
        kc_on(c1, node_at(k), "+OK", "AUTH blk blk-pw");
        kc_on(c1, node_at(k), "-NOPERM No permissions to access a key", "LMPOP 2 ok:a no LEFT");
        kc_on(c1, node_at(k), "-NOPERM No permissions to access a key", "BZMPOP 0 1 no MIN");
        kc_on(c1, node_at(k), "-NOPERM No permissions to access a key", "BLPOP ok:a no 0");
        kc_on(c1, node_at(k), "(nil)", "LMPOP 2 ok:a ok:b LEFT COUNT 2");
        kc_on(c1, node_at(k), "(nil)", "BLMPOP 0.01 1 ok:a RIGHT");
        redisFree(c1);
    }
    C(":1", "ACL DELUSER blk");
}

/* Leadership moves while clients wait: nothing was popped for them, so
 * they are told to retry (-TRYAGAIN), on the leader and through a
 * follower; the new leader blocks them again. Last: the leader changes. */
static void test_stepdown(void **state)
{
    (void)state;
    unsigned l = (unsigned)leader, f = node_at(1), to = (l + 2) % 3;
    redisContext *c1 = kc_connect(&cluster, l), *c2 = kc_connect(&cluster, f);
    send_cmd(c1, "BLPOP sd 0");
    wait_blocked(l, 1);
    send_cmd(c2, "BLPOP sd 0");
    wait_blocked(f, 1);
    redisReply *r = kc_cmd(&cluster, l, "KEEL.TRANSFER %u", to + 1);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_INTEGER || r->integer != to + 1) fail_msg("KEEL.TRANSFER: %s", r->str ? r->str : "?");
    freeReplyObject(r);
    expect_reply(c1, "-TRYAGAIN leadership changed while the client was blocked*");
    expect_reply(c2, "-TRYAGAIN leadership changed while the client was blocked*");
    wait_blocked(l, 0);
    wait_blocked(f, 0);
    leader = kc_leader(&cluster, 10000);
    assert_int_equal(leader, (int)to);
    unsigned i = (unsigned)leader;
    send_cmd(c1, "BLPOP sd 0"); /* l follows now: forwarded */
    wait_blocked(l, 1);
    C(":1", "RPUSH sd again");
    expect_reply(c1, "[\"sd\",\"again\"]");
    redisFree(c1);
    redisFree(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_served),     cmocka_unit_test(test_fifo),   cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_wrongtype),  cmocka_unit_test(test_type_change), cmocka_unit_test(test_blmove),
        cmocka_unit_test(test_zsets),      cmocka_unit_test(test_lmpop),  cmocka_unit_test(test_multi),
        cmocka_unit_test(test_disconnect), cmocka_unit_test(test_pipeline), cmocka_unit_test(test_unblock),
        cmocka_unit_test(test_acl_keys),   cmocka_unit_test(test_stepdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
