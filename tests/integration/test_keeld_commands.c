/* tests/integration: every RESP command keeld serves, through hiredis on
 * each node of a real three-node cluster (writes and reads on followers are
 * forwarded), and through redis-cli. Replies are compared as text:
 * +status, -error, :integer, "bulk", (nil), [a,b] for arrays. */
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

/* Run cmd (space-separated) on node i and compare its reply as text, bulk
 * strings quoted. An expected reply that ends in '*' matches any reply with
 * that prefix. */
static void check(unsigned i, const char *cmd, const char *want)
{
    kc_expect(&cluster, i, true, cmd, want);
}

static int setup(void **state)
{
    (void)state;
    kc_start(&cluster, 3, "");
    return kc_leader(&cluster, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

static void strings_on(unsigned i)
{
    char k[32];
    snprintf(k, sizeof k, "s%u", i);
    check(i, "PING", "+PONG");
    check(i, "ECHO hello", "\"hello\"");
    check(i, "SELECT 0", "+OK");
    check(i, "SELECT 1", "+OK");
    check(i, "SELECT 16", "-ERR DB index is out of range");
    char cmd[256];
#define C(want, ...)                               \
    do {                                           \
        snprintf(cmd, sizeof cmd, __VA_ARGS__);    \
        check(i, cmd, want);                       \
    } while (0)
    C("+OK", "SET %s v1", k);
    C("\"v1\"", "GET %s", k);
    C("(nil)", "SET %s v2 NX", k);
    C("+OK", "SET %s v2 XX", k);
    C("\"v2\"", "SET %s v3 GET", k);
    C("(nil)", "SET %s:new x XX", k);
    C("-ERR syntax error", "SET %s v NX XX", k);
    C("-ERR invalid expire time in 'set' command", "SET %s v EX 0", k);
    C("+OK", "SET %s v4 EX 100", k);
    C(":100", "TTL %s", k);
    C("+OK", "SET %s v5 KEEPTTL", k);
    C(":100", "TTL %s", k);
    C("+OK", "SET %s v6 PX 100000", k);
    C(":100", "TTL %s", k);
    C(":1", "PERSIST %s", k);
    C(":-1", "TTL %s", k);
    C(":-2", "TTL %s:none", k);
    C(":1", "EXPIRE %s 50", k);
    C(":0", "EXPIRE %s 10 GT", k);
    C(":1", "PEXPIRE %s 60000", k);
    C(":60", "TTL %s", k);
    C(":1", "EXPIREAT %s 4102444800", k);
    C(":1", "PERSIST %s", k);
    C("\"v6\"", "GETEX %s EX 30", k);
    C(":30", "TTL %s", k);
    C("\"v6\"", "GETEX %s PERSIST", k);
    C(":-1", "TTL %s", k);
    C(":4", "APPEND %s:a abcd", k);
    C(":6", "APPEND %s:a ef", k);
    C(":6", "STRLEN %s:a", k);
    C("\"abcdef\"", "GETDEL %s:a", k);
    C("(nil)", "GET %s:a", k);
    C(":1", "INCR %s:n", k);
    C(":11", "INCRBY %s:n 10", k);
    C(":10", "DECR %s:n", k);
    C(":3", "DECRBY %s:n 7", k);
    C("-ERR value is not an integer or out of range", "INCRBY %s:n x", k);
    C("-ERR value is not an integer or out of range", "INCRBY %s:n 01", k); /* Redis's string2ll */
    C("-ERR value is not an integer or out of range", "EXPIRE %s -0", k);
    C("-ERR value is not an integer or out of range", "INCR %s", k);
    C("+OK", "MSET %s:m1 a %s:m2 b", k, k);
    C("[\"a\",\"b\",(nil)]", "MGET %s:m1 %s:m2 %s:m3", k, k, k);
    C(":2", "EXISTS %s:m1 %s:m2 %s:m3", k, k, k);
    C(":2", "DEL %s:m1 %s:m2 %s:m3", k, k, k);
    C(":1", "UNLINK %s:n", k);
    C("+string", "TYPE %s", k);
    C("+none", "TYPE %s:zzz", k);
    C(":1", "EXPIRE %s -1", k); /* in the past: deleted */
    C("(nil)", "GET %s", k);
    C("-ERR wrong number of arguments for 'get' command", "GET");
    C("-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ", "NOSUCH a b");
#undef C
}

static void test_strings_each_node(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 3; i++) strings_on(i);
}

static void test_hashes_each_node(void **state)
{
    (void)state;
    char cmd[256];
    for (unsigned i = 0; i < 3; i++) {
#define C(want, ...)                               \
    do {                                           \
        snprintf(cmd, sizeof cmd, __VA_ARGS__);    \
        check(i, cmd, want);                       \
    } while (0)
        C(":2", "HSET sess:%u user ada role admin", i);
        C(":0", "HSET sess:%u user bob", i);
        C("\"bob\"", "HGET sess:%u user", i);
        C("[\"bob\",(nil)]", "HMGET sess:%u user nope", i);
        C("[\"role\",\"admin\",\"user\",\"bob\"]", "HGETALL sess:%u", i);
        C(":1", "HEXISTS sess:%u role", i);
        C(":0", "HEXISTS sess:%u zz", i);
        C(":2", "HLEN sess:%u", i);
        C(":5", "HINCRBY sess:%u hits 5", i);
        C("-ERR hash value is not an integer", "HINCRBY sess:%u user 1", i);
        C(":1", "HDEL sess:%u role nope", i);
        C("+OK", "HMSET sess:%u a 1 b 2", i);
        C("+hash", "TYPE sess:%u", i);
        C("-WRONGTYPE Operation against a key holding the wrong kind of value", "GET sess:%u", i);
        C("-WRONGTYPE*", "INCR sess:%u", i);
        C("+OK", "SET str:%u x", i);
        C("-WRONGTYPE*", "HSET str:%u f v", i);
        C(":1", "EXPIRE sess:%u 100", i);
        C(":1", "HSET sess:%u more yes", i);
        C(":100", "TTL sess:%u", i); /* a session document keeps its TTL */
#undef C
    }
}

static void test_transactions(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 3; i++) {
        redisContext *ctx = kc_connect(&cluster, i);
        redisReply *r;
        char got[1024];
        const char *script[][2] = {
            {"SET tx:a 1", "+OK"},
            {"WATCH tx:a", "+OK"},
            {"MULTI", "+OK"},
            {"INCR tx:a", "+QUEUED"},
            {"SET tx:b x", "+QUEUED"},
            {"MSET tx:c 1 tx:d 2", "+QUEUED"},
            {"EXEC", "[:2,+OK,+OK]"},
            {"WATCH tx:a", "+OK"},
            {"MULTI", "+OK"},
            {"INCR tx:a", "+QUEUED"},
            {"EXEC", "[:3]"},
            {"MULTI", "+OK"},
            {"GET tx:a", "+QUEUED"},
            {"ACL WHOAMI", "-ERR 'acl' inside MULTI is not supported*"},
            {"EXEC", "-EXECABORT*"},
            {"MULTI", "+OK"},
            {"INCR tx:b", "+QUEUED"},
            {"INCR tx:a", "+QUEUED"},
            {"EXEC", "[-ERR value is not an integer or out of range,:4]"},
            {"DISCARD", "-ERR DISCARD without MULTI"},
            {"EXEC", "-ERR EXEC without MULTI"},
            {"MULTI", "+OK"},
            {"MULTI", "-ERR MULTI calls can not be nested"},
            {"DISCARD", "+OK"},
        };
        assert_non_null(ctx);
        for (size_t k = 0; k < sizeof script / sizeof script[0]; k++) {
            r = redisCommand(ctx, script[k][0]);
            assert_non_null(r);
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
            if (!kc_text_matches(got, script[k][1])) fail_msg("node %u step %zu: %s\n  want %s\n  got  %s", i + 1, k,
                              script[k][0], script[k][1], got);
        }
        /* WATCH sees a change made by another client: EXEC aborts (nil). */
        r = redisCommand(ctx, "WATCH tx:w");
        freeReplyObject(r);
        check((i + 1) % 3, "SET tx:w changed", "+OK");
        r = redisCommand(ctx, "MULTI");
        freeReplyObject(r);
        r = redisCommand(ctx, "SET tx:w mine");
        freeReplyObject(r);
        r = redisCommand(ctx, "EXEC");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        freeReplyObject(r);
        check(i, "GET tx:w", "\"changed\"");
        redisFree(ctx);
    }
}

static void test_server_commands(void **state)
{
    (void)state;
    int leader = kc_leader(&cluster, 5000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < 3; i++) {
        redisReply *r = kc_cmd(&cluster, i, "ROLE");
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_string_equal(r->element[0]->str, (int)i == leader ? "master" : "slave");
        freeReplyObject(r);
        r = kc_cmd(&cluster, i, "INFO raft");
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        char want[64];
        snprintf(want, sizeof want, "leader_id:%d", leader + 1);
        assert_non_null(strstr(r->str, want));
        snprintf(want, sizeof want, "leader_client_addr:127.0.0.1:%u", cluster.nodes[leader].client_port);
        assert_non_null(strstr(r->str, want));
        assert_non_null(strstr(r->str, "members:1:voter,2:voter,3:voter"));
        assert_non_null(strstr(r->str, (int)i == leader ? "role:leader" : "role:follower"));
        freeReplyObject(r);
        check(i, "CLIENT SETNAME tester", "+OK");
        check(i, "CLIENT GETNAME", "(nil)"); /* a fresh connection per check */
        check(i, "COMMAND COUNT", ":*");
        check(i, "HELLO 2", "[\"server\",\"keel\",*");
        check(i, "HELLO 4", "-NOPROTO unsupported protocol version");
        check(i, "DBSIZE", ":*");
        check(i, "READONLY", "+OK");
        /* The plumbing is not for clients: reserved keys are refused, and
         * KEEL.FWD (which runs with a member's privileges) wants the
         * cluster's token, which no client can read. */
        redisReply *r2 = kc_cmd(&cluster, i, "SET %b v", "\xffkeel:probe", (size_t)11);
        assert_int_equal(r2->type, REDIS_REPLY_ERROR);
        freeReplyObject(r2);
        r2 = kc_cmd(&cluster, i, "GET %b", "\xffkeel:fwd-token", (size_t)15);
        assert_int_equal(r2->type, REDIS_REPLY_ERROR);
        freeReplyObject(r2);
        r2 = kc_cmd(&cluster, i, "KEEL.FWD guess 2 0 0 SET %b v", "\xffkeel:probe", (size_t)11);
        assert_int_equal(r2->type, REDIS_REPLY_ERROR);
        assert_non_null(strstr(r2->str, "cluster's own nodes"));
        freeReplyObject(r2);
        check(i, "KEEL.FWD 2 0 0 GET x", "-ERR*");
        check(i, "KEEL.PUBLISH 9 127.0.0.1:1", "-ERR unknown command*");
    }
    /* SCAN walks every key exactly once, in pages. */
    for (int k = 0; k < 25; k++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "SET scan:%02d x", k);
        check(0, cmd, "+OK");
    }
    redisContext *ctx = kc_connect(&cluster, 1);
    char cursor[64] = "0";
    int seen = 0, pages = 0;
    do {
        redisReply *r = redisCommand(ctx, "SCAN %s MATCH scan:* COUNT 7", cursor);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        seen += (int)r->element[1]->elements;
        freeReplyObject(r);
        pages++;
    } while (strcmp(cursor, "0") != 0 && pages < 100);
    redisFree(ctx);
    assert_int_equal(seen, 25);
    check(2, "KEYS scan:1*", "[\"scan:10\",\"scan:11\",\"scan:12\",\"scan:13\",\"scan:14\","
                             "\"scan:15\",\"scan:16\",\"scan:17\",\"scan:18\",\"scan:19\"]");
}

/* DBSIZE of node i's own replica: counts keys stored, expired or not. */
static long long local_dbsize(unsigned i)
{
    redisContext *ctx = kc_connect(&cluster, i);
    redisReply *r = redisCommand(ctx, "READONLY");
    freeReplyObject(r);
    r = redisCommand(ctx, "DBSIZE");
    long long n = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    redisFree(ctx);
    return n;
}

/* Expired keys are never returned, and the leader's sweep deletes them from
 * every replica (DBSIZE counts stored keys, expired ones included). */
static void test_expiry_sweep(void **state)
{
    (void)state;
    check(0, "SET exp:base v", "+OK");
    /* Wait until all three replicas hold the same number of keys (a write
     * acknowledged through one node may still be on its way to another). */
    long long before = -1;
    for (int t = 0; t < 400; t++) {
        long long a = local_dbsize(0), b = local_dbsize(1), c = local_dbsize(2);
        if (a == b && b == c && a > 0) {
            before = a;
            break;
        }
        kc_pause_ms(50);
    }
    assert_true(before > 0);
    check(0, "SET exp:a v PX 1500", "+OK");
    check(1, "HSET exp:h f v", ":1");
    check(2, "PEXPIRE exp:h 1500", ":1");
    check(1, "GET exp:a", "\"v\"");
    bool swept = false;
    for (int t = 0; t < 400 && !swept; t++) { /* up to 20 s: CI machines are slow under ASan */
        swept = local_dbsize(0) == before && local_dbsize(1) == before && local_dbsize(2) == before;
        if (!swept) kc_pause_ms(50);
    }
    assert_true(swept);
    check(1, "GET exp:a", "(nil)");
    check(2, "HGETALL exp:h", "[]");
}

/* A large value (5 MiB: read in place, replicated, forwarded) round-trips. */
static void test_large_value(void **state)
{
    size_t len = 5u << 20;
    char *val = malloc(len);
    (void)state;
    for (size_t i = 0; i < len; i++) val[i] = (char)('a' + i % 23);
    redisContext *ctx = kc_connect(&cluster, 1);
    redisReply *r = redisCommand(ctx, "SET big %b", val, len);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(ctx);
    for (unsigned i = 0; i < 3; i++) {
        ctx = kc_connect(&cluster, i);
        r = redisCommand(ctx, "GET big");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(r->len, len);
        assert_memory_equal(r->str, val, len);
        freeReplyObject(r);
        redisFree(ctx);
    }
    free(val);
}

/* The same through redis-cli, RESP2 and RESP3, with inline input. */
static void test_redis_cli(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    for (unsigned i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd,
                 "printf 'SET cli:%u hello\\nGET cli:%u\\nHSET h:%u f v\\nHGETALL h:%u\\nINCR c:%u\\n' | "
                 "redis-cli -p %u 2>&1",
                 i, i, i, i, i, cluster.nodes[i].client_port);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        assert_int_equal(pclose(p), 0);
        assert_string_equal(out, "OK\nhello\n1\nf\nv\n1\n");
        snprintf(cmd, sizeof cmd, "redis-cli -3 -p %u HGETALL h:%u 2>&1", cluster.nodes[i].client_port, i);
        p = popen(cmd, "r");
        n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        assert_string_equal(out, "f v\n"); /* a RESP3 map, as redis-cli prints one raw */
    }
}

/* A connection's commands take effect in the order it sent them, pipelined
 * or not, as on Redis: a read waiting for its barrier (or forwarded to the
 * leader) is not overtaken by the write sent after it. Each round pipelines
 * a write, a read, a write and a read, on the leader and on a follower. */
static void test_pipeline_order(void **state)
{
    (void)state;
    int leader = kc_leader(&cluster, 10000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < 3; i++) {
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        for (unsigned round = 0; round < 200; round++) {
            char key[32];
            snprintf(key, sizeof key, "po:%u:%u", i, round);
            redisAppendCommand(ctx, "SET %s v%u", key, round);
            redisAppendCommand(ctx, "GET %s", key);
            redisAppendCommand(ctx, "DEL %s", key);
            redisAppendCommand(ctx, "GET %s", key);
            redisAppendCommand(ctx, "INCRBYFLOAT %s:f 1.5", key);
            redisAppendCommand(ctx, "GET %s:f", key);
            redisAppendCommand(ctx, "SET %s:f 7", key);
            const char *want[] = {"+OK", NULL, ":1", "(nil)", "\"1.5\"", "\"1.5\"", "+OK"};
            char v[32];
            snprintf(v, sizeof v, "\"v%u\"", round);
            want[1] = v;
            for (unsigned k = 0; k < 7; k++) {
                redisReply *r = NULL;
                assert_int_equal(redisGetReply(ctx, (void **)&r), REDIS_OK);
                char got[128];
                kc_reply_text(r, true, got, sizeof got);
                if (strcmp(got, want[k]) != 0)
                    fail_msg("node %u round %u reply %u: %s, wanted %s", i, round, k, got, want[k]);
                freeReplyObject(r);
            }
        }
        redisFree(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_each_node),
        cmocka_unit_test(test_hashes_each_node),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_server_commands),
        cmocka_unit_test(test_redis_cli),
        cmocka_unit_test(test_expiry_sweep),
        cmocka_unit_test(test_large_value),
        cmocka_unit_test(test_pipeline_order),
    };
    return cmocka_run_group_tests_name("keeld_commands", tests, setup, teardown);
}
