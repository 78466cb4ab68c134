/* tests/integration: Redis lists on a real three-node cluster, every command
 * run on the leader and on a follower (which forwards writes and reads),
 * replies compared exactly as text: +status, -error, :integer, "bulk",
 * (nil), [a,b] for arrays. The expected replies are Redis 7.2's
 * (src/t_list.c and tests/unit/type/list.tcl). */
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
#define NOTINT "-ERR value is not an integer or out of range"

static void push_pop_on(unsigned i, const char *k)
{
    C(":1", "LPUSH %s:l b", k);
    C(":3", "LPUSH %s:l a z", k); /* each pushed at the head in turn */
    C(":5", "RPUSH %s:l c d", k);
    C("[\"z\",\"a\",\"b\",\"c\",\"d\"]", "LRANGE %s:l 0 -1", k);
    C(":5", "LLEN %s:l", k);
    C(":0", "LLEN %s:nosuch", k);
    C(":0", "LPUSHX %s:nosuch a", k);
    C(":0", "RPUSHX %s:nosuch a", k);
    C(":0", "EXISTS %s:nosuch", k);
    C(":6", "LPUSHX %s:l y", k);
    C(":8", "RPUSHX %s:l e f", k);
    C("+list", "TYPE %s:l", k);
    /* LINDEX */
    C("\"y\"", "LINDEX %s:l 0", k);
    C("\"f\"", "LINDEX %s:l -1", k);
    C("\"b\"", "LINDEX %s:l 3", k);
    C("\"y\"", "LINDEX %s:l -8", k);
    C("(nil)", "LINDEX %s:l 8", k);
    C("(nil)", "LINDEX %s:l -9", k);
    C("(nil)", "LINDEX %s:nosuch 0", k);
    C("(nil)", "LINDEX %s:nosuch x", k); /* no key: the index is not parsed */
    C(NOTINT, "LINDEX %s:l x", k);
    /* LRANGE's clamping, as addListRangeReply. */
    C("[\"y\",\"z\"]", "LRANGE %s:l 0 1", k);
    C("[\"e\",\"f\"]", "LRANGE %s:l -2 100", k);
    C("[\"y\",\"z\",\"a\"]", "LRANGE %s:l -100 2", k);
    C("[]", "LRANGE %s:l 5 2", k);
    C("[]", "LRANGE %s:l 8 10", k);
    C("[]", "LRANGE %s:l 0 -9", k);
    C("[]", "LRANGE %s:nosuch 0 -1", k);
    C(NOTINT, "LRANGE %s:nosuch x 1", k); /* indexes parsed first */
    C(NOTINT, "LRANGE %s:l 0 1.5", k);
    /* LPOP / RPOP: one (bulk), a count (array, RPOP's from the tail in). */
    C("\"y\"", "LPOP %s:l", k);
    C("\"f\"", "RPOP %s:l", k);
    C("[\"z\",\"a\"]", "LPOP %s:l 2", k);
    C("[\"e\",\"d\"]", "RPOP %s:l 2", k);
    C("[]", "LPOP %s:l 0", k);
    C("[\"b\",\"c\"]", "LRANGE %s:l 0 -1", k);
    C("(nil)", "LPOP %s:nosuch", k);
    C("(nil)", "RPOP %s:nosuch 3", k); /* a null array (raw bytes: test_resp_nulls) */
    C("(nil)", "LPOP %s:nosuch 0", k);
    C("-ERR value is out of range, must be positive", "LPOP %s:l -1", k);
    C(NOTINT, "RPOP %s:l x", k);
    C("-ERR wrong number of arguments for 'lpop' command", "LPOP %s:l 1 2", k);
    /* Popping the last items deletes the key. */
    C("[\"c\",\"b\"]", "RPOP %s:l 10", k);
    C(":0", "EXISTS %s:l", k);
    C("+none", "TYPE %s:l", k);
    C(":1", "RPUSH %s:l x", k);
    C("\"x\"", "LPOP %s:l", k);
    C(":0", "EXISTS %s:l", k);
    /* Arity. */
    C("-ERR wrong number of arguments for 'lpush' command", "LPUSH %s:l", k);
    C("-ERR wrong number of arguments for 'rpushx' command", "RPUSHX %s:l", k);
    C("-ERR wrong number of arguments for 'lrange' command", "LRANGE %s:l 0", k);
    C("-ERR wrong number of arguments for 'lindex' command", "LINDEX %s:l", k);
    C("-ERR wrong number of arguments for 'llen' command", "LLEN %s:l x", k);
}

static void test_push_pop(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "p%u", n);
        push_pop_on(node_at(n), k);
    }
}

static void wrongtype_on(unsigned i, const char *k)
{
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "LPUSH %s:str a", k);
    C(WRONGTYPE, "RPUSH %s:str a", k);
    C(WRONGTYPE, "LPUSHX %s:str a", k);
    C(WRONGTYPE, "RPUSHX %s:str a", k);
    C(WRONGTYPE, "LPOP %s:str", k);
    C(WRONGTYPE, "RPOP %s:str 2", k);
    C("-ERR value is out of range, must be positive", "LPOP %s:str -1", k); /* the count first */
    C(WRONGTYPE, "LLEN %s:str", k);
    C(WRONGTYPE, "LINDEX %s:str 0", k);
    C(WRONGTYPE, "LRANGE %s:str 0 -1", k);
    C(":2", "RPUSH %s:l a b", k);
    C(WRONGTYPE, "GET %s:l", k);
    C(WRONGTYPE, "SADD %s:l a", k);
    C(WRONGTYPE, "HGET %s:l f", k);
    C(WRONGTYPE, "APPEND %s:l v", k);
    C("+OK", "SET %s:l v", k); /* SET replaces a list */
    C("\"v\"", "GET %s:l", k);
    C(":2", "DEL %s:l %s:str", k, k);
}

static void test_wrongtype(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "w%u", n);
        wrongtype_on(node_at(n), k);
    }
}

static void keyspace_on(unsigned i, const char *k)
{
    C(":3", "RPUSH %s:l a b c", k);
    C(":1", "EXPIRE %s:l 100", k);
    C(":100", "TTL %s:l", k);
    C(":4", "RPUSH %s:l d", k); /* a write keeps the TTL */
    C(":100", "TTL %s:l", k);
    C("+OK", "RENAME %s:l %s:m", k, k);
    C("[\"a\",\"b\",\"c\",\"d\"]", "LRANGE %s:m 0 -1", k);
    C(":1", "COPY %s:m %s:n", k, k);
    C("\"a\"", "LPOP %s:m", k);
    C(":4", "LLEN %s:n", k); /* the copy is its own */
    C(":5", "LPUSH %s:n z", k);
    C("[\"b\",\"c\",\"d\"]", "LRANGE %s:m 0 -1", k);
    C("[\"z\",\"a\",\"b\",\"c\",\"d\"]", "LRANGE %s:n 0 -1", k);
    C(":1", "SADD %s:s x", k);
    char want[128];
    snprintf(want, sizeof want, "[\"0\",[\"%s:m\",\"%s:n\"]]", k, k);
    C(want, "SCAN 0 MATCH %s:* TYPE list COUNT 1000", k);
    snprintf(want, sizeof want, "[\"0\",[\"%s:s\"]]", k);
    C(want, "SCAN 0 MATCH %s:* TYPE set COUNT 1000", k);
    C("+OK", "RENAME %s:s %s:m", k, k); /* over a list */
    C("+set", "TYPE %s:m", k);
    C(":1", "UNLINK %s:n", k);
    C(":1", "DEL %s:m", k);
    snprintf(want, sizeof want, "KEYS %s:*", k);
    C("[]", "%s", want);
}

static void test_keyspace(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", n);
        keyspace_on(node_at(n), k);
    }
}

/* Raw bytes (hiredis shows both nulls as nil): LPOP with a count on no key
 * answers RESP2's null array, LPOP without one the null bulk; RESP3 '_'.
 * The reply must end in want (HELLO's map comes before it). */
static void raw_nulls(unsigned i, const char *req, const char *want)
{
    char got[512];
    size_t n = 0, wl = strlen(want);
    int fd = kc_tcp_connect(cluster.nodes[i].client_port, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
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
    if (n < wl || memcmp(got + n - wl, want, wl) != 0) fail_msg("node %u: %s: got %s", i + 1, req, got);
}

static void test_resp_nulls(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        raw_nulls(i, "LPOP nosuch 2\r\nRPOP nosuch\r\nLINDEX nosuch 0\r\n", "*-1\r\n$-1\r\n$-1\r\n");
        raw_nulls(i, "HELLO 3\r\nLPOP nosuch 2\r\nRPOP nosuch\r\nPING\r\n", "_\r\n_\r\n+PONG\r\n");
    }
}

static void edit_on(unsigned i, const char *k)
{
    C(":5", "RPUSH %s:l a b c b a", k);
    /* LSET: no such key, then WRONGTYPE, then the index (Redis's order). */
    C("+OK", "LSET %s:l 1 B", k);
    C("+OK", "LSET %s:l -1 A", k);
    C("[\"a\",\"B\",\"c\",\"b\",\"A\"]", "LRANGE %s:l 0 -1", k);
    C("-ERR index out of range", "LSET %s:l 5 x", k);
    C("-ERR index out of range", "LSET %s:l -6 x", k);
    C("-ERR no such key", "LSET %s:nosuch 0 x", k);
    C("-ERR no such key", "LSET %s:nosuch x x", k);
    C(NOTINT, "LSET %s:l x x", k);
    /* LREM: from the head, from the tail, all. */
    C(":5", "RPUSH %s:r x y x z x", k);
    C(":1", "LREM %s:r 1 x", k);
    C("[\"y\",\"x\",\"z\",\"x\"]", "LRANGE %s:r 0 -1", k);
    C(":1", "LREM %s:r -1 x", k);
    C("[\"y\",\"x\",\"z\"]", "LRANGE %s:r 0 -1", k);
    C(":6", "RPUSH %s:r x q x", k);
    C(":3", "LREM %s:r 0 x", k);
    C("[\"y\",\"z\",\"q\"]", "LRANGE %s:r 0 -1", k);
    C(":0", "LREM %s:r 0 nope", k);
    C(":0", "LREM %s:nosuch 0 x", k);
    C(NOTINT, "LREM %s:nosuch x x", k);
    C("\"z\"", "LINDEX %s:r 1", k);
    C(":1", "LREM %s:r 0 y", k);
    C(":2", "LLEN %s:r", k);
    C(":1", "LREM %s:r 5 z", k);
    C(":1", "LREM %s:r -5 q", k);
    C(":0", "EXISTS %s:r", k); /* emptied: gone */
    /* LINSERT */
    C(":3", "RPUSH %s:i a b c", k);
    C(":4", "LINSERT %s:i BEFORE b x", k);
    C(":5", "LINSERT %s:i after c y", k);
    C(":6", "LINSERT %s:i BEFORE a z", k);
    C("[\"z\",\"a\",\"x\",\"b\",\"c\",\"y\"]", "LRANGE %s:i 0 -1", k);
    C("\"y\"", "LINDEX %s:i -1", k);
    C(":-1", "LINSERT %s:i BEFORE nope x", k);
    C(":0", "LINSERT %s:nosuch BEFORE a x", k);
    C("-ERR syntax error", "LINSERT %s:i MIDDLE a x", k);
    C("-ERR syntax error", "LINSERT %s:nosuch MIDDLE a x", k);
    /* LTRIM, as ltrim in list.tcl */
    C("+OK", "LTRIM %s:i 1 -2", k);
    C("[\"a\",\"x\",\"b\",\"c\"]", "LRANGE %s:i 0 -1", k);
    C("+OK", "LTRIM %s:i -3 100", k);
    C("[\"x\",\"b\",\"c\"]", "LRANGE %s:i 0 -1", k);
    C("+OK", "LTRIM %s:i 0 0", k);
    C("[\"x\"]", "LRANGE %s:i 0 -1", k);
    C("+OK", "LTRIM %s:nosuch 0 1", k);
    C(NOTINT, "LTRIM %s:i a 1", k);
    C("+OK", "LTRIM %s:i 5 1", k); /* an empty range: the key goes */
    C(":0", "EXISTS %s:i", k);
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "LSET %s:str 0 x", k);
    C(WRONGTYPE, "LREM %s:str 0 x", k);
    C(WRONGTYPE, "LTRIM %s:str 0 1", k);
    C(WRONGTYPE, "LINSERT %s:str BEFORE a x", k);
    C(WRONGTYPE, "LPOS %s:str a", k);
    C(":2", "DEL %s:l %s:str", k, k);
}

static void test_edit(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "e%u", n);
        edit_on(node_at(n), k);
    }
}

static void lpos_on(unsigned i, const char *k)
{
    /* list.tcl's LPOS cases on a b c 1 2 3 c c */
    C(":8", "RPUSH %s:l a b c 1 2 3 c c", k);
    C(":0", "LPOS %s:l a", k);
    C(":2", "LPOS %s:l c", k);
    C(":6", "LPOS %s:l c RANK 2", k);
    C(":7", "LPOS %s:l c RANK -1", k);
    C(":6", "LPOS %s:l c RANK -2", k);
    C("[:2,:6]", "LPOS %s:l c COUNT 2", k);
    C("[:2,:6,:7]", "LPOS %s:l c COUNT 0", k);
    C("[:6,:7]", "LPOS %s:l c COUNT 0 RANK 2", k);
    C("[:7,:6]", "LPOS %s:l c COUNT 2 RANK -1", k);
    C("[:6,:2]", "LPOS %s:l c COUNT 0 RANK -2", k);
    C("(nil)", "LPOS %s:l c MAXLEN 1", k);
    C("[:2]", "LPOS %s:l c COUNT 0 MAXLEN 3", k);
    C("[:7,:6]", "LPOS %s:l c COUNT 0 RANK -1 MAXLEN 2", k);
    C("(nil)", "LPOS %s:l x", k);
    C("[]", "LPOS %s:l x COUNT 5", k);
    C("(nil)", "LPOS %s:l c RANK 4", k);
    C("(nil)", "LPOS %s:nosuch c", k);
    C("[]", "LPOS %s:nosuch c COUNT 1", k);
    C("-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
      "negative to start from the end of the list", "LPOS %s:l c RANK 0", k);
    C("-ERR COUNT can't be negative", "LPOS %s:l c COUNT -1", k);
    C("-ERR COUNT can't be negative", "LPOS %s:l c COUNT x", k);
    C("-ERR MAXLEN can't be negative", "LPOS %s:l c MAXLEN -1", k);
    C(NOTINT, "LPOS %s:l c RANK x", k);
    C("-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
      "LPOS %s:l c RANK -9223372036854775808", k);
    C("-ERR syntax error", "LPOS %s:l c COUNT", k);
    C("-ERR syntax error", "LPOS %s:nosuch c FOO 1", k); /* options before the key */
    C(":1", "DEL %s:l", k);
}

static void test_lpos(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "o%u", n);
        lpos_on(node_at(n), k);
    }
}

static void move_on(unsigned i, const char *k)
{
    C(":3", "RPUSH %s:a 1 2 3", k);
    C("\"3\"", "RPOPLPUSH %s:a %s:b", k, k);
    C("\"1\"", "LMOVE %s:a %s:b LEFT RIGHT", k, k);
    C("[\"3\",\"1\"]", "LRANGE %s:b 0 -1", k);
    C("\"3\"", "LMOVE %s:b %s:b left right", k, k); /* a rotation */
    C("[\"1\",\"3\"]", "LRANGE %s:b 0 -1", k);
    C("\"2\"", "LMOVE %s:a %s:b RIGHT LEFT", k, k);
    C(":0", "EXISTS %s:a", k); /* emptied: gone */
    C("[\"2\",\"1\",\"3\"]", "LRANGE %s:b 0 -1", k);
    C("(nil)", "LMOVE %s:nosuch %s:b LEFT LEFT", k, k);
    C("(nil)", "RPOPLPUSH %s:nosuch %s:b", k, k);
    C("-ERR syntax error", "LMOVE %s:b %s:c UP LEFT", k, k);
    C("-ERR syntax error", "LMOVE %s:b %s:c LEFT DOWN", k, k);
    C("+OK", "SET %s:str v", k);
    C(WRONGTYPE, "LMOVE %s:b %s:str LEFT LEFT", k, k);
    C(WRONGTYPE, "RPOPLPUSH %s:str %s:b", k, k);
    C("(nil)", "RPOPLPUSH %s:nosuch %s:str", k, k); /* no source wins */
    C("[\"2\",\"1\",\"3\"]", "LRANGE %s:b 0 -1", k); /* nothing moved */
    C(":2", "DEL %s:b %s:str", k, k);
}

static void test_move(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "m%u", n);
        move_on(node_at(n), k);
    }
}

/* List writes inside MULTI, on one connection; long (binary) elements. */
static void test_multi_long(void **state)
{
    (void)state;
    size_t n = 70000;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t j = 0; j < n; j++) big[j] = (char)(j % 251);
    for (unsigned m = 0; m < 2; m++) {
        unsigned i = node_at(m);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        kc_on(ctx, i, "+OK", "MULTI");
        kc_on(ctx, i, "+QUEUED", "RPUSH T%u a b c", m);
        kc_on(ctx, i, "+QUEUED", "LPOP T%u", m);
        kc_on(ctx, i, "+QUEUED", "RPOP T%u 5", m);
        kc_on(ctx, i, "+QUEUED", "LPUSH T%u x", m);
        kc_on(ctx, i, "+QUEUED", "LMOVE T%u U%u LEFT LEFT", m, m);
        kc_on(ctx, i, "+QUEUED", "LPOP T%u 2", m);
        kc_on(ctx, i, "[:3,\"a\",[\"c\",\"b\"],:1,\"x\",(nil)]", "EXEC");
        redisFree(ctx);
        redisReply *r = kc_cmd(&cluster, i, "RPUSH U%u %b", m, big, n);
        assert_non_null(r);
        assert_int_equal(r->integer, 2);
        freeReplyObject(r);
        r = kc_cmd(&cluster, i, "LINDEX U%u -1", m);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(r->len, n);
        assert_memory_equal(r->str, big, n);
        freeReplyObject(r);
        r = kc_cmd(&cluster, i, "LPOS U%u %b", m, big, n);
        assert_non_null(r);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
        C(":1", "DEL U%u", m);
    }
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_pop),
        cmocka_unit_test(test_wrongtype),
        cmocka_unit_test(test_keyspace),
        cmocka_unit_test(test_resp_nulls),
        cmocka_unit_test(test_edit),
        cmocka_unit_test(test_lpos),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_multi_long),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
