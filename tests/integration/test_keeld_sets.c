/* tests/integration: Redis sets on a real three-node cluster, every command
 * run on the leader and on a follower (which forwards writes and reads),
 * replies compared exactly as text: +status, -error, :integer, "bulk",
 * (nil), [a,b] for arrays. The expected replies are Redis 7.2's (src/t_set.c
 * and tests/unit/type/set.tcl). Keel lists a set's short members in byte
 * order, so whole-set replies are compared as they are. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <unistd.h>

#include "kc.h"
#include "kc_tls.h"

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

/* C(want, fmt, ...): run the formatted command on node i, compare its reply. */
#define C(want, ...)                                         \
    do {                                                     \
        char cmd_[512];                                      \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);            \
        kc_expect(&cluster, i, true, cmd_, want);            \
    } while (0)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value"

static void basics_on(unsigned i, const char *k)
{
    C(":3", "SADD %s:s b a c", k);
    C(":0", "SADD %s:s a", k);
    C(":1", "SADD %s:s a d", k);
    C("[\"a\",\"b\",\"c\",\"d\"]", "SMEMBERS %s:s", k);
    C(":4", "SCARD %s:s", k);
    C(":1", "SISMEMBER %s:s a", k);
    C(":0", "SISMEMBER %s:s z", k);
    C(":0", "SISMEMBER %s:nosuch a", k);
    C("[:1,:0,:1]", "SMISMEMBER %s:s a z d", k);
    C("[:0,:0]", "SMISMEMBER %s:nosuch a b", k);
    C(":2", "SREM %s:s a z d", k);
    C(":0", "SREM %s:nosuch a", k);
    C("[\"b\",\"c\"]", "SMEMBERS %s:s", k);
    C("[]", "SMEMBERS %s:nosuch", k);
    C(":0", "SCARD %s:nosuch", k);
    C("+set", "TYPE %s:s", k);
    /* Emptied by SREM: the key vanishes. */
    C(":2", "SREM %s:s b c", k);
    C(":0", "EXISTS %s:s", k);
    C("+none", "TYPE %s:s", k);
    /* WRONGTYPE both ways. */
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "SADD %s:str a", k);
    C(WRONGTYPE, "SREM %s:str a", k);
    C(WRONGTYPE, "SISMEMBER %s:str a", k);
    C(WRONGTYPE, "SMISMEMBER %s:str a", k);
    C(WRONGTYPE, "SMEMBERS %s:str", k);
    C(WRONGTYPE, "SCARD %s:str", k);
    C(WRONGTYPE, "SPOP %s:str", k);
    C(WRONGTYPE, "SRANDMEMBER %s:str", k);
    C(WRONGTYPE, "SSCAN %s:str 0", k);
    C(":1", "SADD %s:s x", k);
    C(WRONGTYPE, "GET %s:s", k);
    C(WRONGTYPE, "HGET %s:s f", k);
    C(WRONGTYPE, "INCR %s:s", k);
    C(WRONGTYPE, "APPEND %s:s v", k);
    C("+OK", "SET %s:s v", k); /* SET replaces a set */
    C("\"v\"", "GET %s:s", k);
    /* Arity. */
    C("-ERR wrong number of arguments for 'sadd' command", "SADD %s:s", k);
    C("-ERR wrong number of arguments for 'srem' command", "SREM %s:s", k);
    C("-ERR wrong number of arguments for 'smismember' command", "SMISMEMBER %s:s", k);
    C("-ERR wrong number of arguments for 'smove' command", "SMOVE %s:a %s:b", k, k);
    C(":2", "DEL %s:s %s:str", k, k);
}

static void test_basics(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "b%u", n);
        basics_on(node_at(n), k);
    }
}

static void pop_move_on(unsigned i, const char *k)
{
    /* SMOVE */
    C(":2", "SADD %s:a 1 2", k);
    C(":1", "SMOVE %s:a %s:b 1", k, k);
    C(":0", "SMOVE %s:a %s:b nope", k, k);
    C(":0", "SMOVE %s:nosuch %s:b 1", k, k);
    C("+OK", "SET %s:str v", k);
    C(":0", "SMOVE %s:nosuch %s:str 1", k, k); /* a missing source wins */
    C(WRONGTYPE, "SMOVE %s:a %s:str 2", k, k);
    C(WRONGTYPE, "SMOVE %s:str %s:a 2", k, k);
    C(":1", "SMOVE %s:a %s:a 2", k, k);
    C(":0", "SMOVE %s:a %s:a 9", k, k);
    C(":1", "SMOVE %s:a %s:b 2", k, k);
    C(":0", "EXISTS %s:a", k);
    C("[\"1\",\"2\"]", "SMEMBERS %s:b", k);
    /* SPOP: one (bulk), a count (array), all of it (the key goes). */
    C("(nil)", "SPOP %s:nosuch", k);
    C("[]", "SPOP %s:nosuch 3", k);
    C(":3", "SADD %s:p x y z", k);
    C("[]", "SPOP %s:p 0", k);
    C(":3", "SCARD %s:p", k);
    C("-ERR value is out of range, must be positive", "SPOP %s:p -1", k);
    C("-ERR value is not an integer or out of range", "SPOP %s:p x", k);
    C("-ERR syntax error", "SPOP %s:p 1 2", k);
    redisReply *r = kc_cmd(&cluster, i, "SPOP %s:p", k);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_true(strchr("xyz", r->str[0]) != NULL && r->len == 1);
    char popped = r->str[0];
    freeReplyObject(r);
    C(":0", "SISMEMBER %s:p %c", k, popped);
    C(":2", "SCARD %s:p", k);
    r = kc_cmd(&cluster, i, "SPOP %s:p 5", k);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_true(r->element[0]->str[0] != r->element[1]->str[0]);
    assert_true(r->element[0]->str[0] != popped && r->element[1]->str[0] != popped);
    freeReplyObject(r);
    C(":0", "EXISTS %s:p", k);
    /* SRANDMEMBER: nothing changes; a negative count may repeat. */
    C("(nil)", "SRANDMEMBER %s:nosuch", k);
    C("[]", "SRANDMEMBER %s:nosuch 5", k);
    C(":1", "SREM %s:b 2", k);
    C("\"1\"", "SRANDMEMBER %s:b", k);
    C("[\"1\"]", "SRANDMEMBER %s:b 5", k);
    C("[\"1\",\"1\",\"1\"]", "SRANDMEMBER %s:b -3", k);
    C("[]", "SRANDMEMBER %s:b 0", k);
    C("-ERR value is not an integer or out of range", "SRANDMEMBER %s:b x", k);
    C("-ERR syntax error", "SRANDMEMBER %s:b 1 2", k);
    C(":1", "SCARD %s:b", k);
    C(":2", "DEL %s:b %s:str", k, k);
}

static void test_pop_move(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "p%u", n);
        pop_move_on(node_at(n), k);
    }
}

static void algebra_on(unsigned i, const char *k)
{
    C(":3", "SADD %s:x a b c", k);
    C(":2", "SADD %s:y c d", k);
    C("+OK", "SET %s:str v", k);
    C("[\"c\"]", "SINTER %s:x %s:y", k, k);
    C("[]", "SINTER %s:x %s:nosuch", k, k);
    C("[\"a\",\"b\",\"c\",\"d\"]", "SUNION %s:x %s:y %s:nosuch", k, k, k);
    C("[\"a\",\"b\"]", "SDIFF %s:x %s:y", k, k);
    C("[]", "SDIFF %s:nosuch %s:x", k, k);
    C(WRONGTYPE, "SINTER %s:x %s:str", k, k);
    C(WRONGTYPE, "SUNION %s:str", k);
    C(WRONGTYPE, "SDIFF %s:x %s:str", k, k);
    /* SINTERCARD and its errors, in Redis's order. */
    C(":1", "SINTERCARD 2 %s:x %s:y", k, k);
    C(":3", "SINTERCARD 1 %s:x", k);
    C(":2", "SINTERCARD 1 %s:x LIMIT 2", k);
    C(":3", "SINTERCARD 1 %s:x LIMIT 0", k);
    C(":0", "SINTERCARD 2 %s:x %s:nosuch", k, k);
    C("-ERR numkeys should be greater than 0", "SINTERCARD 0 %s:x", k);
    C("-ERR numkeys should be greater than 0", "SINTERCARD x %s:x", k); /* Redis words both alike */
    C("-ERR Number of keys can't be greater than number of args", "SINTERCARD 3 %s:x %s:y", k, k);
    C("-ERR LIMIT can't be negative", "SINTERCARD 1 %s:x LIMIT -1", k);
    C("-ERR LIMIT can't be negative", "SINTERCARD 1 %s:x LIMIT a", k);
    C("-ERR syntax error", "SINTERCARD 1 %s:x LIMIT", k);
    C("-ERR syntax error", "SINTERCARD 1 %s:x FOO 1", k);
    C(WRONGTYPE, "SINTERCARD 1 %s:str", k);
    /* The *STORE forms: the result replaces the destination (TTL gone). */
    C(":1", "SINTERSTORE %s:d %s:x %s:y", k, k, k);
    C("[\"c\"]", "SMEMBERS %s:d", k);
    C(":1", "EXPIRE %s:d 100", k);
    C(":4", "SUNIONSTORE %s:d %s:x %s:y", k, k, k);
    C(":-1", "TTL %s:d", k);
    C(":2", "SDIFFSTORE %s:d %s:x %s:y", k, k, k);
    C("[\"a\",\"b\"]", "SMEMBERS %s:d", k);
    C(":1", "SDIFFSTORE %s:x %s:x %s:d", k, k, k); /* the destination a source */
    C("[\"c\"]", "SMEMBERS %s:x", k);
    C(":0", "SINTERSTORE %s:d %s:x %s:nosuch", k, k, k); /* empty: deleted */
    C(":0", "EXISTS %s:d", k);
    C(":2", "SUNIONSTORE %s:str %s:y", k, k); /* over a string */
    C("+set", "TYPE %s:str", k);
    C(WRONGTYPE, "SUNIONSTORE %s:d %s:x %s:z %s:s", k, k, k, k) ;
    C(":3", "DEL %s:x %s:y %s:str", k, k, k);
}

static void test_algebra(void **state)
{
    (void)state;
    /* A WRONGTYPE source for the last SUNIONSTORE above. */
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "a%u", n);
        unsigned i = node_at(n);
        C("+OK", "SET %s:s str", k);
        algebra_on(i, k);
        C(":1", "DEL %s:s", k);
    }
}

static void scan_on(unsigned i, const char *k)
{
    C(":4", "SADD %s:s a1 a2 b1 b2", k);
    C("[\"0\",[\"a1\",\"a2\",\"b1\",\"b2\"]]", "SSCAN %s:s 0", k);
    C("[\"0\",[\"a1\",\"a2\"]]", "SSCAN %s:s 0 MATCH a* COUNT 1", k);
    C("[\"0\",[]]", "SSCAN %s:nosuch 0", k);
    C("[\"0\",[]]", "SSCAN %s:nosuch 0 BADOPT", k); /* absent: no option parsed */
    C("-ERR invalid cursor", "SSCAN %s:s x", k);
    C("-ERR syntax error", "SSCAN %s:s 0 COUNT 0", k);
    C("-ERR syntax error", "SSCAN %s:s 0 MATCH", k);
    /* The keyspace sees a set like any key. */
    C(":1", "EXISTS %s:s", k);
    C(":1", "EXPIRE %s:s 100", k);
    C(":100", "TTL %s:s", k);
    C(":1", "SADD %s:s c1", k); /* a write keeps the TTL */
    C(":100", "TTL %s:s", k);
    C("+OK", "RENAME %s:s %s:t", k, k);
    C("[\"a1\",\"a2\",\"b1\",\"b2\",\"c1\"]", "SMEMBERS %s:t", k);
    C(":1", "COPY %s:t %s:u", k, k);
    C(":1", "SREM %s:t a1", k);
    C(":5", "SCARD %s:u", k); /* the copy is its own */
    char want[128];
    snprintf(want, sizeof want, "[\"0\",[\"%s:t\",\"%s:u\"]]", k, k);
    C(want, "SCAN 0 MATCH %s:* TYPE set COUNT 1000", k);
    C("[\"0\",[]]", "SCAN 0 MATCH %s:* TYPE hash COUNT 1000", k);
    snprintf(want, sizeof want, "[\"%s:t\",\"%s:u\"]", k, k);
    C(want, "KEYS %s:*", k);
    C(":1", "UNLINK %s:t", k);
    C(":1", "DEL %s:u", k);
    C("[]", "KEYS %s:*", k);
}

static void test_scan_keyspace(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", n);
        scan_on(node_at(n), k);
    }
}

/* RESP3 (hiredis here speaks RESP2 only: raw bytes): SPOP with a count and
 * SMEMBERS answer the set type, as Redis does. N<m> holds "b", O<m> too. */
static void resp3_sets(unsigned i, unsigned m)
{
    char req[128], got[4096], want[] = "~1\r\n$1\r\nb\r\n~1\r\n$1\r\nb\r\n";
    size_t n = 0, wl = strlen(want);
    int fd = kc_tcp_connect(cluster.nodes[i].client_port, 5);
    assert_true(fd >= 0);
    int len = snprintf(req, sizeof req, "HELLO 3\r\nSPOP N%u 5\r\nSMEMBERS O%u\r\n", m, m);
    assert_int_equal(write(fd, req, (size_t)len), len);
    long long deadline = kc_now_ms() + 5000;
    while (kc_now_ms() < deadline && n < sizeof got - 1 && (n < wl || memcmp(got + n - wl, want, wl) != 0)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t k = read(fd, got + n, sizeof got - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    got[n] = 0;
    if (n < wl || memcmp(got + n - wl, want, wl) != 0) fail_msg("node %u: RESP3 set replies: got %s", i + 1, got);
}

/* Members too long to be an LMDB key (and binary ones), MULTI/EXEC. */
static void test_long_and_multi(void **state)
{
    (void)state;
    size_t n = 70000;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t j = 0; j < n; j++) big[j] = (char)('a' + j % 26);
    for (unsigned m = 0; m < 2; m++) {
        unsigned i = node_at(m);
        redisReply *r = kc_cmd(&cluster, i, "SADD L%u %b %b x", m, big, n, big, (size_t)600);
        assert_non_null(r);
        assert_int_equal(r->integer, 3);
        freeReplyObject(r);
        r = kc_cmd(&cluster, i, "SISMEMBER L%u %b", m, big, n);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
        big[n - 1] ^= 1;
        r = kc_cmd(&cluster, i, "SISMEMBER L%u %b", m, big, n);
        assert_int_equal(r->integer, 0);
        freeReplyObject(r);
        big[n - 1] ^= 1;
        r = kc_cmd(&cluster, i, "SMEMBERS L%u", m);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 3);
        size_t total = 0;
        for (size_t j = 0; j < r->elements; j++) total += r->element[j]->len;
        assert_int_equal(total, n + 600 + 1);
        freeReplyObject(r);
        r = kc_cmd(&cluster, i, "SREM L%u %b", m, big, n);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
        /* One connection: MULTI ... EXEC. */
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        kc_on(ctx, i, "+OK", "MULTI");
        kc_on(ctx, i, "+QUEUED", "SADD M%u a b", m);
        kc_on(ctx, i, "+QUEUED", "SREM M%u a", m);
        kc_on(ctx, i, "+QUEUED", "SMOVE M%u N%u b", m, m);
        kc_on(ctx, i, "+QUEUED", "SUNIONSTORE O%u N%u", m, m);
        kc_on(ctx, i, "[:2,:1,:1,:1]", "EXEC");
        /* SPOP is picked on the leader against the set's version when EXEC
         * is encoded: one whose set an earlier command of the transaction
         * writes is an error in the array (the rest runs), as INCRBYFLOAT's. */
        kc_on(ctx, i, "+OK", "MULTI");
        kc_on(ctx, i, "+QUEUED", "SPOP N%u", m);
        kc_on(ctx, i, "+QUEUED", "SADD N%u x", m);
        kc_on(ctx, i, "+QUEUED", "SPOP N%u 5", m);
        kc_on(ctx, i, "+QUEUED", "SCARD N%u", m);
        kc_on(ctx, i, "[\"b\",:1,-ERR 'SPOP' of a key an earlier command of the transaction writes is "
                      "not supported by Keel,:1]", "EXEC");
        kc_on(ctx, i, "+OK", "MULTI");
        kc_on(ctx, i, "+QUEUED", "SPOP N%u", m);
        kc_on(ctx, i, "+QUEUED", "EXISTS N%u", m);
        kc_on(ctx, i, "[\"x\",:0]", "EXEC");
        kc_on(ctx, i, ":1", "SADD N%u b", m); /* as resp3_sets wants it */
        redisFree(ctx);
        resp3_sets(i, m);
        C(":2", "DEL O%u L%u", m, m);
    }
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_pop_move),
        cmocka_unit_test(test_algebra),
        cmocka_unit_test(test_scan_keyspace),
        cmocka_unit_test(test_long_and_multi),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
