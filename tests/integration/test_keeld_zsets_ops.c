/* tests/integration: the sorted-set algebra and the rest of sorted sets
 * part 2 on a real three-node cluster, each command on the leader and on a
 * follower (which forwards): ZUNIONSTORE ZINTERSTORE ZDIFFSTORE (WEIGHTS,
 * AGGREGATE, sets as sources, inf - inf), ZUNION ZINTER ZDIFF (WITHSCORES),
 * ZINTERCARD (LIMIT), ZRANGESTORE, ZLEXCOUNT, ZRANDMEMBER; RESP3 and MULTI.
 * The expected replies are Redis 7.2's (src/t_zset.c,
 * tests/unit/type/zset.tcl). */
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
#define SYNTAX "-ERR syntax error"

static void fill(unsigned i, const char *k)
{
    C(":3", "ZADD %s:a 1 a 2 b 3 c", k);
    C(":3", "ZADD %s:b 1 b 2 c 3 d", k);
    C(":3", "SADD %s:s a d x", k);
    C("+OK", "SET %s:str v", k);
}

/* ZUNIONSTORE ZINTERSTORE ZDIFFSTORE: results, options, overwrite, delete. */
static void store_on(unsigned i, const char *k)
{
    fill(i, k);
    C(":4", "ZUNIONSTORE %s:d 2 %s:a %s:b", k, k, k);
    C("[\"a\",\"1\",\"b\",\"3\",\"d\",\"3\",\"c\",\"5\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":2", "ZINTERSTORE %s:d 2 %s:a %s:b", k, k, k);
    C("[\"b\",\"3\",\"c\",\"5\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":1", "ZDIFFSTORE %s:d 2 %s:a %s:b", k, k, k);
    C("[\"a\",\"1\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":4", "ZUNIONSTORE %s:d 2 %s:a %s:b WEIGHTS 2 3", k, k, k);
    C("[\"a\",\"2\",\"b\",\"7\",\"d\",\"9\",\"c\",\"12\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":4", "ZUNIONSTORE %s:d 2 %s:a %s:b AGGREGATE MIN", k, k, k);
    C("[\"a\",\"1\",\"b\",\"1\",\"c\",\"2\",\"d\",\"3\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":4", "ZUNIONSTORE %s:d 2 %s:a %s:b aggregate max AGGREGATE max", k, k, k);
    C("[\"a\",\"1\",\"b\",\"2\",\"c\",\"3\",\"d\",\"3\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":2", "ZINTERSTORE %s:d 2 %s:a %s:b WEIGHTS 1 -1 AGGREGATE SUM", k, k, k);
    C("[\"b\",\"1\",\"c\",\"1\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":2", "ZINTERSTORE %s:d 2 %s:a %s:b WEIGHTS 1 1 AGGREGATE MAX", k, k, k);
    C("[\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    /* A set's members score 1. */
    C(":5", "ZUNIONSTORE %s:d 2 %s:a %s:s", k, k, k);
    C("[\"d\",\"1\",\"x\",\"1\",\"a\",\"2\",\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":1", "ZINTERSTORE %s:d 2 %s:a %s:s WEIGHTS 1 10", k, k, k);
    C("[\"a\",\"11\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":2", "ZDIFFSTORE %s:d 2 %s:s %s:a", k, k, k);
    C("[\"d\",\"1\",\"x\",\"1\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    /* inf + -inf and 0 * inf: NaN, which Redis turns into 0. */
    C(":1", "ZADD %s:i1 inf x", k);
    C(":1", "ZADD %s:i2 -inf x", k);
    C(":1", "ZUNIONSTORE %s:d 2 %s:i1 %s:i2", k, k, k);
    C("[\"x\",\"0\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":1", "ZINTERSTORE %s:d 2 %s:i1 %s:i2", k, k, k);
    C("[\"x\",\"0\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":1", "ZUNIONSTORE %s:d 1 %s:i1 WEIGHTS 0", k, k);
    C("[\"x\",\"0\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    C(":1", "ZUNIONSTORE %s:d 2 %s:i1 %s:i2 AGGREGATE MAX", k, k, k);
    C("[\"x\",\"inf\"]", "ZRANGE %s:d 0 -1 WITHSCORES", k);
    /* The destination is replaced whatever it held (TTL gone), deleted
     * when the result is empty; it may be a source. */
    C(":1", "EXPIRE %s:d 100", k);
    C(":3", "ZUNIONSTORE %s:d 1 %s:a", k, k);
    C(":-1", "TTL %s:d", k);
    C(":0", "ZINTERSTORE %s:d 2 %s:a %s:nosuch", k, k, k);
    C(":0", "EXISTS %s:d", k);
    C(":0", "ZDIFFSTORE %s:d 2 %s:nosuch %s:a", k, k, k);
    C(":0", "ZUNIONSTORE %s:d 1 %s:nosuch", k, k);
    C(":0", "EXISTS %s:d", k);
    C(":3", "ZUNIONSTORE %s:str 1 %s:a", k, k);
    C("+zset", "TYPE %s:str", k);
    C(":0", "ZDIFFSTORE %s:str 2 %s:a %s:a", k, k, k);
    C(":0", "EXISTS %s:str", k);
    C(":3", "SADD %s:d p q r", k);
    C(":6", "ZUNIONSTORE %s:d 2 %s:d %s:a", k, k, k); /* the set d is a source */
    C("[\"a\",\"p\",\"q\",\"r\",\"b\",\"c\"]", "ZRANGE %s:d 0 -1", k);
    C("+OK", "SET %s:str v", k);
    /* Errors, in Redis's words. */
    C("-ERR at least 1 input key is needed for 'zunionstore' command", "ZUNIONSTORE %s:d 0 %s:a", k, k);
    C("-ERR at least 1 input key is needed for 'zdiffstore' command", "ZDIFFSTORE %s:d -1 %s:a", k, k);
    C("-ERR value is not an integer or out of range", "ZINTERSTORE %s:d x %s:a", k, k);
    C(SYNTAX, "ZUNIONSTORE %s:d 3 %s:a %s:b", k, k, k);
    C(SYNTAX, "ZUNIONSTORE %s:d 2 %s:a %s:b WEIGHTS 1", k, k, k);
    C("-ERR weight value is not a float", "ZUNIONSTORE %s:d 2 %s:a %s:b WEIGHTS 1 x", k, k, k);
    C("-ERR weight value is not a float", "ZUNIONSTORE %s:d 2 %s:a %s:b WEIGHTS 1 nan", k, k, k);
    C(SYNTAX, "ZUNIONSTORE %s:d 2 %s:a %s:b AGGREGATE avg", k, k, k);
    C(SYNTAX, "ZUNIONSTORE %s:d 2 %s:a %s:b AGGREGATE", k, k, k);
    C(SYNTAX, "ZUNIONSTORE %s:d 2 %s:a %s:b WITHSCORES", k, k, k);
    C(SYNTAX, "ZDIFFSTORE %s:d 2 %s:a %s:b WEIGHTS 1 2", k, k, k);
    C(WRONGTYPE, "ZUNIONSTORE %s:d 2 %s:a %s:str", k, k, k);
    C(WRONGTYPE, "ZINTERSTORE %s:d 2 %s:nosuch %s:str", k, k, k);
    C(WRONGTYPE, "ZDIFFSTORE %s:d 2 %s:nosuch %s:str", k, k, k);
    C("[\"a\",\"p\",\"q\",\"r\",\"b\",\"c\"]", "ZRANGE %s:d 0 -1", k); /* untouched */
    C("-ERR wrong number of arguments for 'zunionstore' command", "ZUNIONSTORE %s:d 1", k);
}

/* ZUNION ZINTER ZDIFF ZINTERCARD: the reads. */
static void read_on(unsigned i, const char *k)
{
    fill(i, k);
    C("[\"a\",\"b\",\"d\",\"c\"]", "ZUNION 2 %s:a %s:b", k, k);
    C("[\"a\",\"1\",\"b\",\"3\",\"d\",\"3\",\"c\",\"5\"]", "ZUNION 2 %s:a %s:b WITHSCORES", k, k);
    C("[\"a\",\"3\",\"b\",\"10\",\"d\",\"12\",\"c\",\"17\"]", "ZUNION 2 %s:a %s:b WEIGHTS 3 4 WITHSCORES", k, k);
    C("[\"b\",\"3\",\"c\",\"5\"]", "ZINTER 2 %s:a %s:b WITHSCORES", k, k);
    C("[\"b\",\"1\",\"c\",\"2\"]", "ZINTER 2 %s:a %s:b AGGREGATE MIN WITHSCORES", k, k);
    C("[\"b\",\"c\"]", "ZINTER 2 %s:b %s:a", k, k);
    C("[\"a\"]", "ZDIFF 2 %s:a %s:b", k, k);
    C("[\"d\",\"1\",\"x\",\"1\"]", "ZDIFF 2 %s:s %s:a WITHSCORES", k, k);
    C("[\"a\",\"1\",\"b\",\"2\",\"c\",\"3\"]", "ZDIFF 1 %s:a WITHSCORES", k);
    C("[]", "ZUNION 1 %s:nosuch", k);
    C("[]", "ZINTER 2 %s:a %s:nosuch", k, k);
    C("[]", "ZDIFF 2 %s:nosuch %s:a", k, k);
    C(":2", "ZINTERCARD 2 %s:a %s:b", k, k);
    C(":1", "ZINTERCARD 2 %s:a %s:b LIMIT 1", k, k);
    C(":2", "ZINTERCARD 2 %s:a %s:b LIMIT 0", k, k);
    C(":1", "ZINTERCARD 2 %s:a %s:s", k, k); /* a set as a source */
    C(":0", "ZINTERCARD 2 %s:a %s:nosuch", k, k);
    C("-ERR LIMIT can't be negative", "ZINTERCARD 2 %s:a %s:b LIMIT -1", k, k);
    C("-ERR LIMIT can't be negative", "ZINTERCARD 2 %s:a %s:b LIMIT x", k, k);
    C(SYNTAX, "ZINTERCARD 2 %s:a %s:b WITHSCORES", k, k);
    C(SYNTAX, "ZINTERCARD 2 %s:a %s:b WEIGHTS 1 2", k, k);
    C(SYNTAX, "ZINTERCARD 3 %s:a %s:b", k, k);
    C("-ERR at least 1 input key is needed for 'zintercard' command", "ZINTERCARD 0 %s:a", k);
    C("-ERR at least 1 input key is needed for 'zunion' command", "ZUNION 0 %s:a", k);
    C("-ERR value is not an integer or out of range", "ZINTER x %s:a", k);
    C(SYNTAX, "ZDIFF 1 %s:a WEIGHTS 2", k);
    C(SYNTAX, "ZUNION 2 %s:a %s:b AGGREGATE", k, k);
    C("-ERR weight value is not a float", "ZINTER 1 %s:a WEIGHTS x", k);
    /* A read checks the keys' types before the options, as Redis. */
    C(WRONGTYPE, "ZUNION 1 %s:str WEIGHTS x", k);
    C(WRONGTYPE, "ZINTERCARD 2 %s:nosuch %s:str", k, k);
    C(WRONGTYPE, "ZDIFF 2 %s:a %s:str", k, k);
}

/* ZRANGESTORE in all of ZRANGE's forms; ZLEXCOUNT. */
static void rangestore_on(unsigned i, const char *k)
{
    fill(i, k);
    C(":5", "ZADD %s:l 0 a 0 b 0 c 0 d 0 e", k);
    C(":3", "ZRANGESTORE %s:r %s:a 0 -1", k, k);
    C("[\"a\",\"1\",\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:r 0 -1 WITHSCORES", k);
    C(":2", "ZRANGESTORE %s:r %s:a 1 2", k, k);
    C("[\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:r 0 -1 WITHSCORES", k);
    C(":2", "ZRANGESTORE %s:r %s:a 0 1 REV", k, k);
    C("[\"b\",\"c\"]", "ZRANGE %s:r 0 -1", k);
    C(":2", "ZRANGESTORE %s:r %s:a (1 3 BYSCORE", k, k);
    C("[\"b\",\"c\"]", "ZRANGE %s:r 0 -1", k);
    C(":2", "ZRANGESTORE %s:r %s:a 5 0 BYSCORE REV LIMIT 0 2", k, k);
    C("[\"b\",\"2\",\"c\",\"3\"]", "ZRANGE %s:r 0 -1 WITHSCORES", k);
    C(":1", "ZRANGESTORE %s:r %s:a -inf +inf BYSCORE LIMIT 2 5", k, k);
    C("[\"c\"]", "ZRANGE %s:r 0 -1", k);
    C(":2", "ZRANGESTORE %s:r %s:l [b [c BYLEX", k, k);
    C("[\"b\",\"c\"]", "ZRANGE %s:r 0 -1", k);
    C(":1", "ZRANGESTORE %s:r %s:l + (c BYLEX REV LIMIT 1 2", k, k);
    C("[\"d\"]", "ZRANGE %s:r 0 -1", k);
    C(":0", "ZRANGESTORE %s:r %s:a 5 6", k, k); /* empty: the destination goes */
    C(":0", "EXISTS %s:r", k);
    C(":1", "ZRANGESTORE %s:r %s:a 0 0", k, k);
    C(":0", "ZRANGESTORE %s:r %s:nosuch 0 -1", k, k);
    C(":0", "EXISTS %s:r", k);
    C(":0", "ZRANGESTORE %s:r %s:l [f [g BYLEX", k, k);
    C(":0", "ZRANGESTORE %s:r %s:a 5 6 BYSCORE", k, k);
    C(":3", "ZRANGESTORE %s:str %s:a 0 -1", k, k); /* over a string */
    C("+zset", "TYPE %s:str", k);
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "ZRANGESTORE %s:r %s:str 0 -1", k, k);
    C(WRONGTYPE, "ZRANGESTORE %s:r %s:s 0 -1", k, k); /* a set is no source here */
    C(SYNTAX, "ZRANGESTORE %s:r %s:a 0 -1 WITHSCORES", k, k);
    C("-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
      "ZRANGESTORE %s:r %s:a 0 -1 LIMIT 1 2", k, k);
    C("-ERR min or max is not a float", "ZRANGESTORE %s:r %s:a x 1 BYSCORE", k, k);
    C("-ERR min or max not valid string range item", "ZRANGESTORE %s:r %s:l a b BYLEX", k, k);
    C("-ERR value is not an integer or out of range", "ZRANGESTORE %s:r %s:a x 1", k, k);
    C("-ERR wrong number of arguments for 'zrangestore' command", "ZRANGESTORE %s:r %s:a 0", k, k);
    /* ZLEXCOUNT */
    C(":5", "ZLEXCOUNT %s:l - +", k);
    C(":2", "ZLEXCOUNT %s:l [b (d", k);
    C(":3", "ZLEXCOUNT %s:l (b +", k);
    C(":0", "ZLEXCOUNT %s:l + -", k);
    C(":0", "ZLEXCOUNT %s:nosuch - +", k);
    C("-ERR min or max not valid string range item", "ZLEXCOUNT %s:l a b", k);
    C("-ERR min or max not valid string range item", "ZLEXCOUNT %s:nosuch - b", k);
    C(WRONGTYPE, "ZLEXCOUNT %s:str - +", k);
}

/* Every element of an array reply is one of the three members of k:a. */
static void rand_check(unsigned i, const char *k, const char *args, size_t want, bool distinct)
{
    redisReply *r = kc_cmd(&cluster, i, "ZRANDMEMBER %s:a %s", k, args);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, want);
    int seen[3] = {0, 0, 0};
    for (size_t j = 0; j < r->elements; j++) {
        const redisReply *e = r->element[j];
        assert_int_equal(e->type, REDIS_REPLY_STRING);
        assert_int_equal(e->len, 1);
        assert_true(e->str[0] >= 'a' && e->str[0] <= 'c');
        seen[e->str[0] - 'a']++;
        if (distinct) assert_int_equal(seen[e->str[0] - 'a'], 1);
    }
    freeReplyObject(r);
}

static void rand_on(unsigned i, const char *k)
{
    fill(i, k);
    C("(nil)", "ZRANDMEMBER %s:nosuch", k);
    C("[]", "ZRANDMEMBER %s:nosuch 5", k);
    C("[]", "ZRANDMEMBER %s:nosuch -5 WITHSCORES", k);
    C("[]", "ZRANDMEMBER %s:a 0", k);
    C("[\"a\",\"b\",\"c\"]", "ZRANDMEMBER %s:a 3", k); /* all of it: in order */
    C("[\"a\",\"1\",\"b\",\"2\",\"c\",\"3\"]", "ZRANDMEMBER %s:a 30 WITHSCORES", k);
    rand_check(i, k, "2", 2, true);
    rand_check(i, k, "1", 1, true);
    rand_check(i, k, "-20", 20, false);
    rand_check(i, k, "-1", 1, false);
    redisReply *r = kc_cmd(&cluster, i, "ZRANDMEMBER %s:a", k);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_true(r->len == 1 && r->str[0] >= 'a' && r->str[0] <= 'c');
    freeReplyObject(r);
    r = kc_cmd(&cluster, i, "ZRANDMEMBER %s:a -4 WITHSCORES", k);
    assert_non_null(r);
    assert_int_equal(r->elements, 8);
    for (size_t j = 0; j < 8; j += 2) /* each score is its member's */
        assert_int_equal(r->element[j + 1]->str[0] - '1', r->element[j]->str[0] - 'a');
    freeReplyObject(r);
    C("-ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807",
      "ZRANDMEMBER %s:a -9223372036854775808", k);
    C("-ERR value is out of range*", "ZRANDMEMBER %s:a -9223372036854775808 WITHSCORES", k);
    C("-ERR value is out of range", "ZRANDMEMBER %s:a -9223372036854770000 WITHSCORES", k);
    C("-ERR value is not an integer or out of range", "ZRANDMEMBER %s:a x", k);
    C(SYNTAX, "ZRANDMEMBER %s:a 1 foo", k);
    C(SYNTAX, "ZRANDMEMBER %s:a 1 WITHSCORES x", k);
    C(WRONGTYPE, "ZRANDMEMBER %s:str", k);
    C(WRONGTYPE, "ZRANDMEMBER %s:s 1", k);
}

/* Send req on fd; what comes back (up to want's length, bounded) is want. */
static void exchange(unsigned i, int fd, const char *req, const char *want)
{
    char got[4096];
    size_t n = 0, wl = strlen(want);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    long long deadline = kc_now_ms() + 5000;
    while (kc_now_ms() < deadline && n < sizeof got - 1 && n < wl) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t k = read(fd, got + n, sizeof got - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    got[n] = 0;
    if (strcmp(got, want) == 0) return;
    for (char *c = got; *c; c++)
        if (*c == '\r' || *c == '\n') *c = ' ';
    fail_msg("node %u: RESP3 replies: got %s", i + 1, got);
}

/* RESP3: WITHSCORES gives pairs with double scores; the writes inside
 * MULTI/EXEC (raw bytes: hiredis here speaks RESP2 only). */
static void resp3_on(unsigned i, const char *k)
{
    char req[512];
    int fd = kc_tcp_connect(cluster.nodes[i].client_port, 5);
    assert_true(fd >= 0);
    snprintf(req, sizeof req, "HELLO 3\r\n");
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    usleep(200000);
    char drain[4096];
    assert_true(read(fd, drain, sizeof drain) > 0); /* HELLO's map */
    snprintf(req, sizeof req, "ZADD %s:a 1 a 2.5 b\r\nZADD %s:b 1 b\r\n", k, k);
    exchange(i, fd, req, ":2\r\n:1\r\n");
    snprintf(req, sizeof req, "ZUNION 2 %s:a %s:b WITHSCORES\r\n", k, k);
    exchange(i, fd, req, "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,3.5\r\n");
    snprintf(req, sizeof req, "ZINTER 2 %s:a %s:b\r\n", k, k);
    exchange(i, fd, req, "*1\r\n$1\r\nb\r\n");
    snprintf(req, sizeof req, "ZRANDMEMBER %s:b -2 WITHSCORES\r\n", k);
    exchange(i, fd, req, "*2\r\n*2\r\n$1\r\nb\r\n,1\r\n*2\r\n$1\r\nb\r\n,1\r\n");
    snprintf(req, sizeof req, "MULTI\r\nZUNIONSTORE %s:d 2 %s:a %s:b\r\nZRANGESTORE %s:e %s:d 0 0\r\n"
             "ZRANGE %s:d 0 -1 WITHSCORES\r\nEXEC\r\n", k, k, k, k, k, k);
    exchange(i, fd, req, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:2\r\n:1\r\n"
                         "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,3.5\r\n");
    snprintf(req, sizeof req, "DEL %s:a %s:b %s:d %s:e\r\n", k, k, k, k);
    exchange(i, fd, req, ":4\r\n");
    close(fd);
}

#define ON_BOTH(name, fn, tag)                   \
    static void name(void **state)               \
    {                                            \
        (void)state;                             \
        for (unsigned n = 0; n < 2; n++) {       \
            char k[16];                          \
            snprintf(k, sizeof k, tag "%u", n);  \
            fn(node_at(n), k);                   \
        }                                        \
    }

ON_BOTH(test_store, store_on, "st")
ON_BOTH(test_read, read_on, "rd")
ON_BOTH(test_rangestore, rangestore_on, "rs")
ON_BOTH(test_rand, rand_on, "rn")
ON_BOTH(test_resp3, resp3_on, "r3")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_rangestore),
        cmocka_unit_test(test_rand),
        cmocka_unit_test(test_resp3),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
