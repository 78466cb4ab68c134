/* tests/integration: MULTI/EXEC with reads, PING and ECHO (issue 15 item 4)
 * and the transaction limits (item 5), on the leader and on a follower of a
 * real three-node cluster. Replies are compared exactly as text (+status,
 * -error, :integer, "bulk", (nil), [a,b]); the expected ones are Redis
 * 7.2's (src/multi.c, tests/unit/multi.tcl). A read inside a transaction
 * sees the writes queued before it: it runs inside the EXEC entry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Run script[k][0] on ctx in turn, each reply matching script[k][1]. The
 * commands are split at spaces, so values have none. */
static void run_script(redisContext *ctx, unsigned node, const char *(*script)[2], size_t n)
{
    char got[2048];
    for (size_t k = 0; k < n; k++) {
        redisReply *r = redisCommand(ctx, script[k][0]);
        if (r == NULL) fail_msg("node %u step %zu: %s: no reply", node + 1, k, script[k][0]);
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
        if (!kc_text_matches(got, script[k][1]))
            fail_msg("node %u step %zu: %s\n  want %s\n  got  %s", node + 1, k, script[k][0],
                     script[k][1], got);
    }
}

#define RUN(ctx, node, script) run_script(ctx, node, script, sizeof script / sizeof script[0])

/* Reads see the writes queued before them, at their place in the batch. */
static void test_reads_in_multi(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        const char *script[][2] = {
            {"DEL rm:a rm:h rm:n", "*"},
            {"SET rm:a 1", "+OK"},
            {"MULTI", "+OK"},
            {"GET rm:a", "+QUEUED"},
            {"SET rm:a 2", "+QUEUED"},
            {"GET rm:a", "+QUEUED"},
            {"INCR rm:a", "+QUEUED"},
            {"MGET rm:a rm:none", "+QUEUED"},
            {"EXISTS rm:a rm:none", "+QUEUED"},
            {"STRLEN rm:a", "+QUEUED"},
            {"GETRANGE rm:a 0 0", "+QUEUED"},
            {"TYPE rm:a", "+QUEUED"},
            {"TTL rm:a", "+QUEUED"},
            {"EXPIRE rm:a 100", "+QUEUED"},
            {"TTL rm:a", "+QUEUED"},
            {"HSET rm:h f v g w", "+QUEUED"},
            {"HGETALL rm:h", "+QUEUED"},
            {"HGET rm:h g", "+QUEUED"},
            {"HLEN rm:h", "+QUEUED"},
            {"DEL rm:a", "+QUEUED"},
            {"GET rm:a", "+QUEUED"},
            {"EXEC", "[\"1\",+OK,\"2\",:3,[\"3\",(nil)],:1,:1,\"3\",+string,:-1,:1,:100,:2,"
                     "[\"f\",\"v\",\"g\",\"w\"],\"w\",:2,:1,(nil)]"},
            /* A read-only transaction, and what the writes above left. */
            {"MULTI", "+OK"},
            {"EXISTS rm:a", "+QUEUED"},
            {"HKEYS rm:h", "+QUEUED"},
            {"HVALS rm:h", "+QUEUED"},
            {"EXEC", "[:0,[\"f\",\"g\"],[\"v\",\"w\"]]"},
            /* PING and ECHO queue and answer in the array, as Redis's. */
            {"MULTI", "+OK"},
            {"PING", "+QUEUED"},
            {"PING hello", "+QUEUED"},
            {"ECHO x", "+QUEUED"},
            {"EXEC", "[+PONG,\"hello\",\"x\"]"},
            /* A runtime error in one command does not stop the others,
             * whether apply finds it or the leader encoding EXEC does. */
            {"MULTI", "+OK"},
            {"GET rm:h", "+QUEUED"},
            {"SET rm:n 5", "+QUEUED"},
            {"HGET rm:n f", "+QUEUED"},
            {"INCRBY rm:n abc", "+QUEUED"},
            {"SET rm:n 6 EX 0", "+QUEUED"},
            {"GET rm:n", "+QUEUED"},
            {"EXEC", "[-WRONGTYPE Operation against a key holding the wrong kind of value,+OK,"
                     "-WRONGTYPE Operation against a key holding the wrong kind of value,"
                     "-ERR value is not an integer or out of range,"
                     "-ERR invalid expire time in 'set' command,\"5\"]"},
            /* EXEC with nothing queued. */
            {"MULTI", "+OK"},
            {"EXEC", "[]"},
        };
        RUN(ctx, i, script);
        redisFree(ctx);
    }
}

/* multi.tcl's queueing errors, nesting, DISCARD and WATCH rules. */
static void test_multi_errors(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        const char *script[][2] = {
            {"SET me:foo old", "+OK"},
            {"MULTI", "+OK"},
            {"SET me:foo bar", "+QUEUED"},
            {"NOTACOMMAND", "-ERR unknown command 'NOTACOMMAND', with args beginning with: "},
            {"SET me:foo2 bar2", "+QUEUED"},
            {"EXEC", "-EXECABORT Transaction discarded because of previous errors."},
            {"GET me:foo", "\"old\""},
            {"EXISTS me:foo2", ":0"},
            {"MULTI", "+OK"},
            {"GET", "-ERR wrong number of arguments for 'get' command"},
            {"GET me:foo", "+QUEUED"},
            {"EXEC", "-EXECABORT Transaction discarded because of previous errors."},
            {"EXEC", "-ERR EXEC without MULTI"},
            {"DISCARD", "-ERR DISCARD without MULTI"},
            {"MULTI", "+OK"},
            {"MULTI", "-ERR MULTI calls can not be nested"},
            {"WATCH me:foo", "-ERR WATCH inside MULTI is not allowed"},
            {"GET me:foo", "+QUEUED"},
            {"EXEC", "[\"old\"]"},
            {"MULTI", "+OK"},
            {"SET me:foo new", "+QUEUED"},
            {"DISCARD", "+OK"},
            {"GET me:foo", "\"old\""},
        };
        RUN(ctx, i, script);
        redisFree(ctx);
    }
}

/* INCRBYFLOAT and HINCRBYFLOAT queue: the leader computes them when it
 * encodes EXEC, unless an earlier command of the transaction writes the
 * key (refused: the leader cannot know the value there). */
static void test_floats_in_multi(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        const char *script[][2] = {
            {"DEL mf:a mf:h mf:b", "*"},
            {"SET mf:a 10.5", "+OK"},
            {"MULTI", "+OK"},
            {"INCRBYFLOAT mf:a 0.25", "+QUEUED"},
            {"HINCRBYFLOAT mf:h f 2.5", "+QUEUED"},
            {"GET mf:a", "+QUEUED"},
            {"INCRBYFLOAT mf:b x", "+QUEUED"},
            {"SET mf:b 1", "+QUEUED"},
            {"EXEC", "[\"10.75\",\"2.5\",\"10.75\",-ERR value is not a valid float,+OK]"},
            {"MULTI", "+OK"},
            {"SET mf:a 1", "+QUEUED"},
            {"INCRBYFLOAT mf:a 1", "+QUEUED"},
            {"EXEC", "[+OK,-ERR 'INCRBYFLOAT' of a key an earlier command of the transaction "
                     "writes is not supported by Keel]"},
            {"MULTI", "+OK"},
            {"FLUSHDB", "+QUEUED"},
            {"HINCRBYFLOAT mf:h f 1", "+QUEUED"},
            {"DISCARD", "+OK"},
            {"MULTI", "+OK"},
            {"FLUSHDB", "+QUEUED"},
            {"HINCRBYFLOAT mf:h f 1", "+QUEUED"},
            {"SET mf:a 10.75", "+QUEUED"},
            {"HSET mf:h f 2.5", "+QUEUED"},
            {"EXEC", "[+OK,-ERR 'HINCRBYFLOAT' of a key an earlier command of the transaction "
                     "writes is not supported by Keel,+OK,:1]"},
            {"GET mf:a", "\"10.75\""},
            {"HGET mf:h f", "\"2.5\""},
        };
        RUN(ctx, i, script);
        redisFree(ctx);
    }
}

/* AUTH queues and runs when EXEC does, its reply at its place (Redis
 * queues it too); not at all when a watched key changed. ACL and CONFIG
 * are refused inside MULTI rather than run at once; UNWATCH queues. */
static void test_auth_in_multi(void **state)
{
    (void)state;
    kc_expect(&cluster, (unsigned)leader, true, "ACL SETUSER mu on >pw ~* +@all", "+OK");
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        const char *script[][2] = {
            {"MULTI", "+OK"},
            {"SET ma:k 1", "+QUEUED"},
            {"AUTH mu wrong", "+QUEUED"},
            {"ACL WHOAMI", "-ERR 'acl' inside MULTI is not supported by Keel (writes, reads and the "
                           "connection's own commands are)"},
            {"EXEC", "-EXECABORT Transaction discarded because of previous errors."},
            {"ACL WHOAMI", "\"default\""},
            /* The connection's and the node's own commands queue and run at
             * their places once the batch has applied, as in Redis. */
            {"MULTI", "+OK"},
            {"SET ma:c 1", "+QUEUED"},
            {"CONFIG SET requirepass x", "+QUEUED"},
            {"PUBLISH ma:ch hi", "+QUEUED"},
            {"CLIENT SETNAME txname", "+QUEUED"},
            {"CONFIG SET loglevel bla", "+QUEUED"},
            {"ECHO e", "+QUEUED"},
            {"CONFIG GET loglevel", "+QUEUED"},
            {"EXEC", "[+OK,-ERR CONFIG SET requirepass is a replicated change of the default user: "
                     "Keel does not run it inside MULTI,:0,+OK,-ERR CONFIG SET failed (possibly related "
                     "to argument 'loglevel') - loglevel: want debug, info, warn or error,\"e\",[\"loglevel\",\"*"},
            {"CLIENT GETNAME", "\"txname\""},
            {"MULTI", "+OK"},
            {"SELECT 0", "+QUEUED"},
            {"SELECT 16", "+QUEUED"},
            {"TIME", "+QUEUED"},
            {"EXEC", "[+OK,-ERR DB index is out of range,[\"*"},
            {"MULTI", "+OK"},
            {"HELLO 3", "-ERR 'hello' inside MULTI is not supported*"},
            {"DISCARD", "+OK"},
            {"MULTI", "+OK"},
            {"SET ma:k 1", "+QUEUED"},
            {"AUTH mu wrong", "+QUEUED"},
            {"AUTH mu pw", "+QUEUED"},
            {"UNWATCH", "+QUEUED"},
            {"GET ma:k", "+QUEUED"},
            {"EXEC", "[+OK,-WRONGPASS invalid username-password pair or user is disabled.,+OK,+OK,"
                     "\"1\"]"},
            {"ACL WHOAMI", "\"mu\""},
            {"MULTI", "+OK"},
            {"AUTH nosuch x", "+QUEUED"},
            {"EXEC", "[-WRONGPASS invalid username-password pair or user is disabled.]"},
            {"WATCH ma:k", "+OK"},
            {"MULTI", "+OK"},
            {"AUTH mu pw", "+QUEUED"},
        };
        RUN(ctx, i, script);
        kc_expect(&cluster, node_at(1 - n), true, "SET ma:k changed", "+OK");
        const char *after[][2] = {
            {"EXEC", "(nil)"},
            {"ACL WHOAMI", "\"mu\""},
        };
        RUN(ctx, i, after);
        redisFree(ctx);
    }
}

/* WATCH still decides: a watched key changed by another client makes EXEC
 * nil, and its queued reads do not run. */
static void test_watch_with_reads(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        const char *before[][2] = {
            {"SET mw:k 1", "+OK"},
            {"WATCH mw:k", "+OK"},
            {"MULTI", "+OK"},
            {"GET mw:k", "+QUEUED"},
            {"SET mw:k 2", "+QUEUED"},
        };
        RUN(ctx, i, before);
        kc_expect(&cluster, node_at(1 - n), true, "SET mw:k other", "+OK");
        const char *after[][2] = {
            {"EXEC", "(nil)"},
            {"GET mw:k", "\"other\""},
            {"WATCH mw:k", "+OK"},
            {"MULTI", "+OK"},
            {"GET mw:k", "+QUEUED"},
            {"EXEC", "[\"other\"]"},
        };
        RUN(ctx, i, after);
        redisFree(ctx);
    }
}

/* A RESP3 connection gets RESP3 replies inside the array (HGETALL a map),
 * byte for byte, through a raw socket. */
static void test_resp3_reads(void **state)
{
    (void)state;
    kc_expect(&cluster, (unsigned)leader, true, "DEL m3:h", "*");
    kc_expect(&cluster, (unsigned)leader, true, "HSET m3:h f v", ":1");
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cluster.nodes[i].client_port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        const char *req = "HELLO 3\r\nMULTI\r\nHGETALL m3:h\r\nGET m3:none\r\nEXEC\r\nPING\r\n";
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        const char *want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n+PONG\r\n";
        char got[4096];
        size_t len = 0;
        long long until = kc_now_ms() + 5000;
        /* Read up to the final PONG (after HELLO's map, whose size varies). */
        while (kc_now_ms() < until && (len < 9 || strcmp(got + len - 7, "+PONG\r\n") != 0)) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            ssize_t r = read(fd, got + len, sizeof got - 1 - len);
            if (r <= 0) break;
            len += (size_t)r;
            got[len] = 0;
        }
        close(fd);
        got[len] = 0;
        const char *at = strstr(got, "+OK\r\n+QUEUED");
        if (at == NULL || strcmp(at, want) != 0) fail_msg("node %u: want ...%s\ngot %s", i + 1, want, got);
    }
}

/* Beyond KEEL_MAX_BATCH (10000): a clear refusal, nothing applied. */
static void test_limits(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        redisContext *ctx = kc_connect(&cluster, i);
        assert_non_null(ctx);
        enum { PAIRS = 10001 };
        assert_true(kc_leader(&cluster, 30000) >= 0);
        const char **argv = calloc(1 + 2 * PAIRS, sizeof *argv);
        char(*keys)[16] = calloc(PAIRS, sizeof *keys);
        assert_non_null(argv);
        assert_non_null(keys);
        argv[0] = "MSET";
        for (unsigned k = 0; k < PAIRS; k++) {
            snprintf(keys[k], sizeof keys[k], "ml:%u", k);
            argv[1 + 2 * k] = keys[k];
            argv[2 + 2 * k] = "v";
        }
        redisReply *r = redisCommandArgv(ctx, 1 + 2 * PAIRS, argv, NULL);
        assert_non_null(r);
        char got[256];
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
        /* MSET is one entry however many pairs (Redis's protocol.tcl
         * sends 10,001): all of them are there. */
        assert_string_equal(got, "+OK");
        r = redisCommand(ctx, "MGET ml:0 ml:10000 ml:10001");
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
        assert_string_equal(got, "[\"v\",\"v\",(nil)]");
        /* A transaction of 10001 commands. */
        r = redisCommand(ctx, "MULTI");
        freeReplyObject(r);
        for (unsigned k = 0; k < PAIRS; k++) redisAppendCommand(ctx, "SET %s x", keys[k]);
        for (unsigned k = 0; k < PAIRS; k++) {
            assert_int_equal(redisGetReply(ctx, (void **)&r), REDIS_OK);
            assert_true(kc_is_status(r, "QUEUED"));
            freeReplyObject(r);
        }
        r = redisCommand(ctx, "EXEC");
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
        assert_string_equal(got, "-EXECABORT Transaction discarded: 10001 commands and 0 watched "
                                 "keys, over Keel's limit of 10000 each in one transaction");
        /* An MSET of 6000 pairs and 5000 more SETs: 5001 commands, within
         * the limit (the MSET is one of them), in order (wait for a leader:
         * the big MSET above may have cost the term in the sanitizer
         * build). */
        assert_true(kc_leader(&cluster, 30000) >= 0);
        r = redisCommand(ctx, "MULTI");
        freeReplyObject(r);
        r = redisCommandArgv(ctx, 1 + 2 * 6000, argv, NULL);
        assert_true(kc_is_status(r, "QUEUED"));
        freeReplyObject(r);
        for (unsigned k = 0; k < 5000; k++) redisAppendCommand(ctx, "SET %s y", keys[k]);
        for (unsigned k = 0; k < 5000; k++) {
            assert_int_equal(redisGetReply(ctx, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        r = redisCommand(ctx, "EXEC");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 5001);
        for (size_t k = 0; k < r->elements; k++) assert_true(kc_is_status(r->element[k], "OK"));
        freeReplyObject(r);
        kc_on(ctx, i, "\"y\"", "GET ml:0"); /* the SET after the MSET */
        kc_on(ctx, i, "\"v\"", "GET ml:5999");
        free(argv);
        free(keys);
        redisFree(ctx);
    }
}

/* A real client: redis-py's transactional pipeline with reads inside. */
static void test_redis_py(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        unsigned i = node_at(n);
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import redis\n"
                 "r = redis.Redis(host='127.0.0.1', port=%u)\n"
                 "p = r.pipeline(transaction=True)\n"
                 "p.set('py:k', 'a'); p.get('py:k'); p.append('py:k', 'b'); p.get('py:k'); p.ping()\n"
                 "print(p.execute())\"",
                 cluster.nodes[i].client_port);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char out[256] = "";
        if (fgets(out, sizeof out, f) == NULL) out[0] = 0;
        int st = pclose(f);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        assert_string_equal(out, "[True, b'a', 2, b'ab', True]\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_in_multi),
        cmocka_unit_test(test_multi_errors),
        cmocka_unit_test(test_floats_in_multi),
        cmocka_unit_test(test_watch_with_reads),
        cmocka_unit_test(test_auth_in_multi),
        cmocka_unit_test(test_resp3_reads),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_redis_py),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
