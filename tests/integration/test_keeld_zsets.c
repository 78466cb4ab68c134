/* tests/integration: Redis sorted sets on a real three-node cluster, every
 * command run on the leader and on a follower (which forwards writes and
 * reads), replies compared exactly as text: +status, -error, :integer,
 * "bulk", (nil), [a,b] for arrays. The expected replies are Redis 7.2's
 * (src/t_zset.c, tests/unit/type/zset.tcl; scores as util.c d2string). */
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

#define C(want, ...)                                         \
    do {                                                     \
        char cmd_[512];                                      \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);            \
        kc_expect(&cluster, i, true, cmd_, want);            \
    } while (0)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value"

static void add_on(unsigned i, const char *k)
{
    C(":3", "ZADD %s:z 1 a 2 b 3 c", k);
    C(":0", "ZADD %s:z 1 a", k);
    C(":1", "ZADD %s:z CH 5 a", k);
    C(":0", "ZADD %s:z XX 10 nosuch", k);
    C(":0", "ZADD %s:z NX 100 a", k);
    C(":1", "ZADD %s:z NX 100 d", k);
    C("\"5\"", "ZSCORE %s:z a", k);
    C(":0", "ZADD %s:z GT CH 4 a", k);
    C(":1", "ZADD %s:z GT CH 6 a", k);
    C(":0", "ZADD %s:z LT CH 7 a", k);
    C(":1", "ZADD %s:z XX LT CH 0.5 a", k);
    C(":1", "ZADD %s:z GT 1 e", k); /* GT and LT only hold back updates */
    C("\"0.5\"", "ZSCORE %s:z a", k);
    C(":5", "ZCARD %s:z", k);
    C(":0", "ZCARD %s:nosuch", k);
    C("(nil)", "ZSCORE %s:z nosuch", k);
    C("(nil)", "ZSCORE %s:nosuch a", k);
    C("[\"0.5\",(nil),\"2\"]", "ZMSCORE %s:z a nosuch b", k);
    C("[(nil),(nil)]", "ZMSCORE %s:nosuch a b", k);
    /* INCR and ZINCRBY */
    C("\"2\"", "ZADD %s:z INCR 1.5 a", k);
    C("(nil)", "ZADD %s:z NX INCR 1 a", k);
    C("(nil)", "ZADD %s:z XX INCR 1 nosuch", k);
    C("(nil)", "ZADD %s:z GT INCR -1 a", k);
    C("\"2.1\"", "ZINCRBY %s:z 0.1 b", k);
    C("\"-3\"", "ZINCRBY %s:n -3 x", k);
    C(":1", "EXISTS %s:n", k);
    C(":1", "ZADD %s:z inf i", k);
    C("-ERR resulting score is not a number (NaN)", "ZINCRBY %s:z -inf i", k);
    C("\"inf\"", "ZSCORE %s:z i", k);
    /* Argument errors, in Redis's order. */
    C("-ERR wrong number of arguments for 'zadd' command", "ZADD %s:z 1", k);
    C("-ERR syntax error", "ZADD %s:z 1 a 2", k);
    C("-ERR syntax error", "ZADD %s:z NX XX", k);
    C("-ERR XX and NX options at the same time are not compatible", "ZADD %s:z NX XX 1 a", k);
    C("-ERR GT, LT, and/or NX options at the same time are not compatible", "ZADD %s:z GT LT 1 a", k);
    C("-ERR GT, LT, and/or NX options at the same time are not compatible", "ZADD %s:z NX GT 1 a", k);
    C("-ERR INCR option supports a single increment-element pair", "ZADD %s:z INCR 1 a 2 b", k);
    C("-ERR value is not a valid float", "ZADD %s:z abc a", k);
    C("-ERR value is not a valid float", "ZADD %s:z nan a", k);
    C("-ERR value is not a valid float", "ZADD %s:z 1 a x b", k);
    C("-ERR value is not a valid float", "ZINCRBY %s:z 1e400 a", k);
    C("-ERR wrong number of arguments for 'zincrby' command", "ZINCRBY %s:z 1", k);
    C(":6", "ZCARD %s:z", k); /* no error changed anything */
    /* ZREM; emptied sets vanish */
    C(":2", "ZREM %s:z a nosuch b", k);
    C(":0", "ZREM %s:nosuch a", k);
    C(":4", "ZCARD %s:z", k);
    C("+zset", "TYPE %s:z", k);
    C(":4", "ZREM %s:z c d e i", k);
    C(":0", "EXISTS %s:z", k);
    /* WRONGTYPE */
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "ZADD %s:str 1 a", k);
    C(WRONGTYPE, "ZINCRBY %s:str 1 a", k);
    C(WRONGTYPE, "ZREM %s:str a", k);
    C(WRONGTYPE, "ZSCORE %s:str a", k);
    C(WRONGTYPE, "ZMSCORE %s:str a", k);
    C(WRONGTYPE, "ZCARD %s:str", k);
    C(WRONGTYPE, "ZCOUNT %s:str 0 1", k);
    C(WRONGTYPE, "ZRANGEBYSCORE %s:str 0 1", k);
    C(":1", "SADD %s:set a", k);
    C(WRONGTYPE, "ZADD %s:set 1 a", k);
    C(WRONGTYPE, "SADD %s:n a", k);
    C(":3", "DEL %s:str %s:set %s:n", k, k, k);
}

static void test_add(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "a%u", n);
        add_on(node_at(n), k);
    }
}

/* Scores as Redis 7.2 formats them (d2string: integers, then fpconv). */
static void format_on(unsigned i, const char *k)
{
    C(":12", "ZADD %s:f 1.5 a 0.1 b 1e20 c 3.0 d 1e-7 e 123456.789 f 1e300 g 0.000001 h "
             "1e15 i 5e18 j -2.5e-3 k 10000000.5 l", k);
    C("[\"1.5\",\"0.1\",\"1e+20\",\"3\",\"1e-7\",\"123456.789\",\"1e+300\",\"0.000001\","
      "\"1000000000000000\",\"5e+18\",\"-0.0025\",\"10000000.5\"]",
      "ZMSCORE %s:f a b c d e f g h i j k l", k);
    C("\"0.30000000000000004\"", "ZINCRBY %s:f 0.2 b", k);
    C("\"-inf\"", "ZINCRBY %s:f -inf m", k);
    C(":1", "DEL %s:f", k);
}

static void test_format(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "f%u", n);
        format_on(node_at(n), k);
    }
}

static void range_on(unsigned i, const char *k)
{
    C(":7", "ZADD %s:r -inf ninf 1 a 2 b 2 bb 2 ba 3 c inf pinf", k);
    C(":7", "ZCOUNT %s:r -inf +inf", k);
    C(":4", "ZCOUNT %s:r 1 2", k);
    C(":3", "ZCOUNT %s:r (1 2", k);
    C(":3", "ZCOUNT %s:r (1 (3", k);
    C(":0", "ZCOUNT %s:r 3 1", k);
    C(":0", "ZCOUNT %s:r (2 2", k);
    C(":0", "ZCOUNT %s:nosuch 0 1", k);
    C("-ERR min or max is not a float", "ZCOUNT %s:r a 1", k);
    C("-ERR min or max is not a float", "ZCOUNT %s:r 1 nan", k);
    C("[\"a\",\"b\",\"ba\",\"bb\"]", "ZRANGEBYSCORE %s:r 1 2", k);
    C("[\"ninf\",\"a\",\"b\",\"ba\",\"bb\",\"c\",\"pinf\"]", "ZRANGEBYSCORE %s:r -inf inf", k);
    C("[\"b\",\"ba\",\"bb\",\"c\"]", "ZRANGEBYSCORE %s:r (1 3", k);
    C("[\"b\",\"2\",\"ba\",\"2\"]", "ZRANGEBYSCORE %s:r (1 (3 WITHSCORES LIMIT 0 2", k);
    C("[\"ba\",\"bb\"]", "ZRANGEBYSCORE %s:r (1 (3 LIMIT 1 -1", k);
    C("[]", "ZRANGEBYSCORE %s:r (1 (3 LIMIT -1 5", k);
    C("[]", "ZRANGEBYSCORE %s:r (1 (3 LIMIT 0 0", k);
    C("[]", "ZRANGEBYSCORE %s:r -inf inf LIMIT 7 1", k);
    C("[]", "ZRANGEBYSCORE %s:nosuch -inf inf", k);
    C("[\"pinf\",\"inf\",\"c\",\"3\"]", "ZREVRANGEBYSCORE %s:r +inf 3 WITHSCORES", k);
    C("[\"bb\",\"ba\",\"b\"]", "ZREVRANGEBYSCORE %s:r (3 (1", k);
    C("[\"ba\",\"b\",\"a\"]", "ZREVRANGEBYSCORE %s:r 2 -inf LIMIT 1 3", k);
    C("[\"a\",\"ninf\"]", "ZREVRANGEBYSCORE %s:r (2 -inf", k);
    C("[\"ninf\",\"-inf\"]", "ZREVRANGEBYSCORE %s:r (1 -inf withscores", k);
    C("[]", "ZREVRANGEBYSCORE %s:r 1 2", k);
    C("-ERR syntax error", "ZRANGEBYSCORE %s:r 1 2 LIMIT 1", k);
    C("-ERR syntax error", "ZRANGEBYSCORE %s:r 1 2 FOO", k);
    C("-ERR value is not an integer or out of range", "ZRANGEBYSCORE %s:r 1 2 LIMIT x 1", k);
    C("-ERR min or max is not a float", "ZREVRANGEBYSCORE %s:r 1 x", k);
    C(":1", "DEL %s:r", k);
}

static void test_range(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "r%u", n);
        range_on(node_at(n), k);
    }
}

/* ZRANGE in all its forms, ZREVRANGE, Z[REV]RANGEBYLEX, ZRANK, ZREVRANK. */
static void range2_on(unsigned i, const char *k)
{
    C(":5", "ZADD %s:q 1 a 2 b 3 c 4 d 5 e", k);
    C("[\"a\",\"b\",\"c\",\"d\",\"e\"]", "ZRANGE %s:q 0 -1", k);
    C("[\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:q 1 2 WITHSCORES", k);
    C("[\"d\",\"e\"]", "ZRANGE %s:q -2 -1", k);
    C("[]", "ZRANGE %s:q 3 1", k);
    C("[]", "ZRANGE %s:q 10 20", k);
    C("[\"a\",\"b\"]", "ZRANGE %s:q -100 1", k);
    C("[\"d\",\"e\"]", "ZRANGE %s:q 3 100", k);
    C("[\"e\",\"d\",\"c\",\"b\",\"a\"]", "ZRANGE %s:q 0 -1 REV", k);
    C("[\"e\",\"5\",\"d\",\"4\"]", "ZREVRANGE %s:q 0 1 WITHSCORES", k);
    C("[\"b\",\"a\"]", "ZREVRANGE %s:q -2 -1", k);
    C("[\"b\",\"c\"]", "ZRANGE %s:q (1 3 BYSCORE", k);
    C("[\"c\",\"b\"]", "ZRANGE %s:q 3 (1 BYSCORE REV", k);
    C("[\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:q -inf +inf BYSCORE LIMIT 1 2 WITHSCORES", k);
    C("[\"a\",\"b\",\"c\",\"d\",\"e\"]", "ZRANGE %s:q 0 -1 LIMIT 0 -1", k); /* Redis's quirk */
    C("-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
      "ZRANGE %s:q 0 -1 LIMIT 0 1", k);
    C("-ERR syntax error, WITHSCORES not supported in combination with BYLEX", "ZRANGE %s:q [a [c BYLEX WITHSCORES", k);
    C("-ERR syntax error", "ZRANGE %s:q 0 -1 FOO", k);
    C("-ERR syntax error", "ZRANGE %s:q 0 -1 BYSCORE BYLEX", k);
    C("-ERR syntax error", "ZRANGE %s:q 0 -1 REV REV", k);
    C("-ERR syntax error", "ZREVRANGE %s:q 0 -1 REV", k);
    C("-ERR syntax error", "ZRANGEBYSCORE %s:q 0 1 REV", k);
    C("-ERR value is not an integer or out of range", "ZRANGE %s:q x 1", k);
    C("-ERR min or max is not a float", "ZRANGE %s:q x 1 BYSCORE", k);
    C("[]", "ZRANGE %s:nosuch 0 -1", k);
    C(":5", "ZADD %s:l 0 a 0 b 0 c 0 d 0 e", k);
    C("[\"a\",\"b\",\"c\",\"d\",\"e\"]", "ZRANGEBYLEX %s:l - +", k);
    C("[\"b\",\"c\"]", "ZRANGEBYLEX %s:l [b (d", k);
    C("[\"d\",\"e\"]", "ZRANGEBYLEX %s:l (b + LIMIT 1 2", k);
    C("[\"e\",\"d\",\"c\",\"b\",\"a\"]", "ZREVRANGEBYLEX %s:l + -", k);
    C("[\"c\",\"b\"]", "ZREVRANGEBYLEX %s:l (d [b", k);
    C("[\"e\",\"d\",\"c\"]", "ZRANGE %s:l + [c BYLEX REV", k);
    C("[]", "ZRANGE %s:l [c + BYLEX REV", k);
    C("[]", "ZRANGEBYLEX %s:l + -", k);
    C("[]", "ZRANGEBYLEX %s:l - + LIMIT -1 1", k);
    C("[]", "ZRANGEBYLEX %s:l - + LIMIT 0 0", k);
    C("-ERR min or max not valid string range item", "ZRANGEBYLEX %s:l b d", k);
    C("-ERR min or max not valid string range item", "ZRANGEBYLEX %s:l [b \"\"", k);
    C(":2", "ZRANK %s:q c", k);
    C(":2", "ZREVRANK %s:q c", k);
    C(":0", "ZRANK %s:q a", k);
    C(":4", "ZREVRANK %s:q a", k);
    C("(nil)", "ZRANK %s:q nosuch", k);
    C("(nil)", "ZRANK %s:nosuch a", k);
    C("[:2,\"3\"]", "ZRANK %s:q c WITHSCORE", k);
    C("[:0,\"5\"]", "ZREVRANK %s:q e withscore", k);
    C("(nil)", "ZRANK %s:q nosuch WITHSCORE", k);
    C("-ERR syntax error", "ZRANK %s:q c FOO", k);
    C("-ERR wrong number of arguments for 'zrank' command", "ZRANK %s:q c WITHSCORE x", k);
    C("[\"0\",[\"a\",\"1\",\"b\",\"2\",\"c\",\"3\",\"d\",\"4\",\"e\",\"5\"]]", "ZSCAN %s:q 0", k);
    C("[\"0\",[\"d\",\"4\"]]", "ZSCAN %s:q 0 MATCH d* COUNT 1", k);
    C("[\"0\",[]]", "ZSCAN %s:nosuch 0 BADOPT", k);
    C("-ERR invalid cursor", "ZSCAN %s:q x", k);
    C("-ERR syntax error", "ZSCAN %s:q 0 COUNT 0", k);
    C("-ERR syntax error", "ZSCAN %s:q 0 MATCH", k);
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "ZSCAN %s:str 0", k);
    C(WRONGTYPE, "ZRANK %s:str a", k);
    C(WRONGTYPE, "ZRANGE %s:str 0 -1", k);
    C(WRONGTYPE, "ZRANGEBYLEX %s:str - +", k);
    C(":3", "DEL %s:q %s:l %s:str", k, k, k);
}

/* ZPOPMIN ZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX. */
static void pop_on(unsigned i, const char *k)
{
    C(":5", "ZADD %s:p 1 a 2 b 3 c 4 d 5 e", k);
    C("[\"a\",\"1\"]", "ZPOPMIN %s:p", k);
    C("[\"e\",\"5\"]", "ZPOPMAX %s:p", k);
    C("[\"b\",\"2\",\"c\",\"3\"]", "ZPOPMIN %s:p 2", k);
    C("[]", "ZPOPMIN %s:p 0", k);
    C("-ERR value is out of range, must be positive", "ZPOPMIN %s:p -1", k);
    C("-ERR value is not an integer or out of range", "ZPOPMIN %s:p x", k);
    C("-ERR syntax error", "ZPOPMIN %s:p 1 2", k);
    C("[\"d\",\"4\"]", "ZPOPMAX %s:p 10", k);
    C(":0", "EXISTS %s:p", k);
    C("[]", "ZPOPMIN %s:p", k);
    C("[]", "ZPOPMAX %s:nosuch 3", k);
    C(":5", "ZADD %s:r 1 a 2 b 3 c 4 d 5 e", k);
    C(":2", "ZREMRANGEBYRANK %s:r 0 1", k);
    C(":1", "ZREMRANGEBYRANK %s:r -1 -1", k);
    C(":0", "ZREMRANGEBYRANK %s:r 5 10", k);
    C("[\"c\",\"d\"]", "ZRANGE %s:r 0 -1", k);
    C(":1", "ZREMRANGEBYSCORE %s:r (3 +inf", k);
    C("-ERR min or max is not a float", "ZREMRANGEBYSCORE %s:r x 1", k);
    C("-ERR value is not an integer or out of range", "ZREMRANGEBYRANK %s:r x 1", k);
    C(":1", "ZREMRANGEBYSCORE %s:r 3 3", k);
    C(":0", "EXISTS %s:r", k);
    C(":4", "ZADD %s:x 0 a 0 b 0 c 0 d", k);
    C(":2", "ZREMRANGEBYLEX %s:x [b (d", k);
    C("[\"a\",\"d\"]", "ZRANGE %s:x 0 -1", k);
    C("-ERR min or max not valid string range item", "ZREMRANGEBYLEX %s:x a b", k);
    C(":0", "ZREMRANGEBYLEX %s:x + -", k);
    C(":2", "ZREMRANGEBYLEX %s:x - +", k);
    C(":0", "EXISTS %s:x", k);
    C(":0", "ZREMRANGEBYSCORE %s:nosuch 0 1", k);
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "ZPOPMIN %s:str", k);
    C(WRONGTYPE, "ZREMRANGEBYRANK %s:str 0 1", k);
    C(WRONGTYPE, "ZREMRANGEBYLEX %s:str - +", k);
    C(":1", "DEL %s:str", k);
}

static void test_pop(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "p%u", n);
        pop_on(node_at(n), k);
    }
}

static void test_range2(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "q%u", n);
        range2_on(node_at(n), k);
    }
}

/* The keyspace sees a sorted set like any key; long members; MULTI. */
static void keyspace_on(unsigned i, unsigned m)
{
    char want[128];
    C(":2", "ZADD k%u:z 1 a 2 b", m);
    C(":1", "EXPIRE k%u:z 100", m);
    C(":1", "ZADD k%u:z 3 c", m); /* a write keeps the TTL */
    C(":100", "TTL k%u:z", m);
    C("+OK", "RENAME k%u:z k%u:t", m, m);
    C(":1", "COPY k%u:t k%u:u", m, m);
    C(":1", "ZREM k%u:t a", m);
    C("[\"a\",\"b\",\"c\"]", "ZRANGEBYSCORE k%u:u -inf inf", m); /* the copy is its own */
    C("[\"b\",\"c\"]", "ZRANGEBYSCORE k%u:t -inf inf", m);
    snprintf(want, sizeof want, "[\"0\",[\"k%u:t\",\"k%u:u\"]]", m, m);
    C(want, "SCAN 0 MATCH k%u:* TYPE zset COUNT 1000", m);
    C("[\"0\",[]]", "SCAN 0 MATCH k%u:* TYPE set COUNT 1000", m);
    redisContext *ctx = kc_connect(&cluster, i);
    assert_non_null(ctx);
    kc_on(ctx, i, "+OK", "MULTI");
    kc_on(ctx, i, "+QUEUED", "ZADD k%u:t 5 x", m);
    kc_on(ctx, i, "+QUEUED", "ZINCRBY k%u:t 1.25 x", m);
    kc_on(ctx, i, "+QUEUED", "ZREM k%u:t b", m);
    kc_on(ctx, i, "+QUEUED", "ZPOPMAX k%u:t 1", m);
    kc_on(ctx, i, "+QUEUED", "ZADD k%u:t 6.25 x", m);
    kc_on(ctx, i, "[:1,\"6.25\",:1,[\"x\",\"6.25\"],:1]", "EXEC");
    redisFree(ctx);
    C("[\"c\",\"3\",\"x\",\"6.25\"]", "ZRANGEBYSCORE k%u:t -inf inf WITHSCORES", m);
    C(":2", "DEL k%u:t k%u:u", m, m);
}

static void long_on(unsigned i, unsigned m)
{
    size_t n = 70000;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t j = 0; j < n; j++) big[j] = (char)('a' + j % 26);
    redisReply *r = kc_cmd(&cluster, i, "ZADD L%u 2 %b 1 %b 3 x", m, big, n, big, (size_t)600);
    assert_non_null(r);
    assert_int_equal(r->integer, 3);
    freeReplyObject(r);
    r = kc_cmd(&cluster, i, "ZSCORE L%u %b", m, big, n);
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    r = kc_cmd(&cluster, i, "ZRANGEBYSCORE L%u 1 2", m);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_int_equal(r->element[0]->len, 600);
    assert_int_equal(r->element[1]->len, n);
    assert_memory_equal(r->element[1]->str, big, n);
    freeReplyObject(r);
    r = kc_cmd(&cluster, i, "ZINCRBY L%u 5 %b", m, big, n);
    assert_string_equal(r->str, "7");
    freeReplyObject(r);
    r = kc_cmd(&cluster, i, "ZREVRANGEBYSCORE L%u +inf 3 WITHSCORES", m);
    assert_int_equal(r->elements, 4);
    assert_int_equal(r->element[0]->len, n);
    assert_string_equal(r->element[1]->str, "7");
    assert_string_equal(r->element[2]->str, "x");
    freeReplyObject(r);
    r = kc_cmd(&cluster, i, "ZREM L%u %b", m, big, n);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    C(":2", "ZCOUNT L%u -inf inf", m);
    C(":1", "DEL L%u", m);
    free(big);
}

/* Send req on fd and read until the bytes end with `tail` (bounded). */
static size_t exchange(int fd, const char *req, const char *tail, char *got, size_t cap)
{
    size_t n = 0, tl = strlen(tail);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    long long deadline = kc_now_ms() + 5000;
    while (kc_now_ms() < deadline && n < cap - 1 && (n < tl || memcmp(got + n - tl, tail, tl) != 0)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t k = read(fd, got + n, cap - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    got[n] = 0;
    return n;
}

static void resp3_expect(unsigned i, char *got, const char *want)
{
    if (strstr(got, want) != NULL) return;
    for (char *c = got; *c; c++)
        if (*c == '\r' || *c == '\n') *c = ' ';
    fail_msg("node %u: RESP3 zset replies: got %s", i + 1, got);
}

/* RESP3: scores are doubles, WITHSCORES pairs (raw bytes: hiredis here
 * speaks RESP2 only). Reads and writes are not mixed in one pipeline:
 * Keel may evaluate a pipelined read after a write queued behind it. */
static void resp3_on(unsigned i, unsigned m)
{
    char req[256], got[4096];
    int fd = kc_tcp_connect(cluster.nodes[i].client_port, 5);
    assert_true(fd >= 0);
    snprintf(req, sizeof req, "HELLO 3\r\nZINCRBY R%u 1.5 a\r\nZADD R%u INCR 1 a\r\nZADD R%u 3 b\r\n", m, m, m);
    exchange(fd, req, ",2.5\r\n:1\r\n", got, sizeof got);
    resp3_expect(i, got, "*0\r\n,1.5\r\n,2.5\r\n:1\r\n");
    snprintf(req, sizeof req, "ZRANGEBYSCORE R%u -inf inf WITHSCORES\r\nZMSCORE R%u a c\r\n", m, m);
    exchange(fd, req, "_\r\n", got, sizeof got);
    resp3_expect(i, got, "*2\r\n*2\r\n$1\r\na\r\n,2.5\r\n*2\r\n$1\r\nb\r\n,3\r\n*2\r\n,2.5\r\n_\r\n");
    snprintf(req, sizeof req, "ZSCORE R%u b\r\n", m);
    exchange(fd, req, "\r\n", got, sizeof got);
    resp3_expect(i, got, ",3\r\n");
    snprintf(req, sizeof req, "DEL R%u\r\n", m);
    exchange(fd, req, "\r\n", got, sizeof got);
    resp3_expect(i, got, ":1\r\n");
    snprintf(req, sizeof req, "ZADD P%u 1 a 2 b 3 c\r\nZPOPMIN P%u\r\nZPOPMAX P%u 2\r\n", m, m, m);
    exchange(fd, req, ",2\r\n", got, sizeof got);
    resp3_expect(i, got, ":3\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    /* The same shapes inside MULTI/EXEC. */
    snprintf(req, sizeof req, "ZADD P%u 7 z\r\nMULTI\r\nZPOPMAX P%u 1\r\nZINCRBY P%u 1 y\r\nEXEC\r\nDEL P%u\r\n", m, m,
             m, m);
    exchange(fd, req, ",1\r\n:1\r\n", got, sizeof got);
    resp3_expect(i, got, ":1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*1\r\n*2\r\n$1\r\nz\r\n,7\r\n,1\r\n:1\r\n");
    close(fd);
}

static void test_keyspace_long_multi(void **state)
{
    (void)state;
    for (unsigned m = 0; m < 2; m++) {
        keyspace_on(node_at(m), m);
        long_on(node_at(m), m);
        resp3_on(node_at(m), m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_range2),
        cmocka_unit_test(test_pop),
        cmocka_unit_test(test_keyspace_long_multi),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
