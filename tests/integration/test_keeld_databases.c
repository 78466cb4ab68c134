/* tests/integration: databases (SELECT n) on a real three-node cluster,
 * each case run on the leader and through a follower (which forwards with
 * its connection's database): isolation of one key in two databases,
 * DBSIZE/KEYS/SCAN/RANDOMKEY per database, MOVE, COPY DB, SWAPDB, FLUSHDB
 * against FLUSHALL, MULTI with SELECT inside, WATCH per database, CLIENT
 * INFO's db=, RESET, keyspace notifications naming the database (expired
 * ones too), a snapshot and restart keeping database 1, and redis-py with a
 * redis://host:port/1 URL. Replies are Redis 7.2's (src/db.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"
#include "kc_tls.h"

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cl);
    return 0;
}

/* The bulk reply of cmd on c contains text. */
static void has(redisContext *c, const char *cmd, const char *text)
{
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STRING) fail_msg("%s: not a bulk reply", cmd);
    if (strstr(r->str, text) == NULL) fail_msg("%s: no '%s' in %s", cmd, text, r->str);
    freeReplyObject(r);
}

#define OUT_OF_RANGE "-ERR DB index is out of range"
#define NOTINT "-ERR value is not an integer or out of range"

/* Everything on one connection to node i (SELECT is the connection's); p
 * makes the keys of this pass distinct. */
static void databases_on(unsigned i, const char *p)
{
    redisContext *c = kc_raw(&cl, i), *d1 = kc_raw(&cl, i);
    assert_non_null(c);
    assert_non_null(d1);
    /* SELECT's errors, as Redis's selectCommand */
    kc_on(c, i, OUT_OF_RANGE, "SELECT 16");
    kc_on(c, i, OUT_OF_RANGE, "SELECT -1");
    kc_on(c, i, NOTINT, "SELECT x");
    kc_on(c, i, NOTINT, "SELECT 99999999999");
    kc_on(c, i, "[\"databases\",\"16\"]", "CONFIG GET databases");
    /* the same key in two databases */
    kc_on(c, i, "+OK", "SET %s:k zero", p);
    kc_on(c, i, "+OK", "SELECT 1");
    kc_on(c, i, "(nil)", "GET %s:k", p);
    kc_on(c, i, "+OK", "SET %s:k one", p);
    kc_on(c, i, "\"one\"", "GET %s:k", p);
    has(c, "CLIENT INFO", " db=1 ");
    kc_on(d1, i, "+OK", "SELECT 1");
    kc_on(d1, i, "\"one\"", "GET %s:k", p);
    kc_on(c, i, "+OK", "SELECT 0");
    kc_on(c, i, "\"zero\"", "GET %s:k", p);
    /* per-database key listing and counts: database 1 has only this pass's */
    kc_on(d1, i, ":1", "RPUSH %s:l a", p);
    char w[256];
    snprintf(w, sizeof w, "[\"%s:k\",\"%s:l\"]", p, p);
    kc_on(d1, i, w, "KEYS %s:*", p); /* in stored order */
    snprintf(w, sizeof w, "[\"%s:k\"]", p);
    kc_on(c, i, w, "KEYS %s:*", p);
    snprintf(w, sizeof w, "[\"0\",[\"%s:k\",\"%s:l\"]]", p, p);
    kc_on(d1, i, w, "SCAN 0 MATCH %s:* COUNT 1000", p);
    snprintf(w, sizeof w, "[\"0\",[\"%s:l\"]]", p);
    kc_on(d1, i, w, "SCAN 0 MATCH %s:* TYPE list COUNT 1000", p);
    kc_on(c, i, ":0", "EXISTS %s:l", p);
    kc_on(d1, i, ":2", "DBSIZE");
    snprintf(w, sizeof w, "\"%s:*", p);
    kc_on(d1, i, w, "RANDOMKEY");
    /* MOVE (Redis's moveCommand): same database, absent, taken, TTL kept */
    kc_on(d1, i, "-ERR source and destination objects are the same", "MOVE %s:k 1", p);
    kc_on(d1, i, OUT_OF_RANGE, "MOVE %s:k 16", p);
    kc_on(d1, i, NOTINT, "MOVE %s:k x", p);
    kc_on(d1, i, ":0", "MOVE %s:nosuch 0", p);
    kc_on(d1, i, ":0", "MOVE %s:k 0", p); /* database 0 has it */
    kc_on(d1, i, ":1", "EXPIRE %s:l 1000", p);
    kc_on(d1, i, ":1", "MOVE %s:l 2", p);
    kc_on(d1, i, ":0", "EXISTS %s:l", p);
    kc_on(d1, i, "+OK", "SELECT 2");
    kc_on(d1, i, "[\"a\"]", "LRANGE %s:l 0 -1", p);
    kc_on(d1, i, ":1000", "TTL %s:l", p);
    /* COPY ... DB */
    kc_on(d1, i, ":1", "COPY %s:l %s:l DB 3", p, p);
    kc_on(d1, i, "-ERR source and destination objects are the same", "COPY %s:l %s:l DB 2", p, p);
    kc_on(d1, i, OUT_OF_RANGE, "COPY %s:l %s:l DB 16", p, p);
    kc_on(d1, i, "+OK", "SELECT 3");
    kc_on(d1, i, "[\"a\"]", "LRANGE %s:l 0 -1", p);
    /* SWAPDB: 2 and 3 trade their keys; connections stay in their database */
    kc_on(d1, i, "+OK", "SET %s:only3 x", p);
    kc_on(d1, i, "+OK", "SWAPDB 2 3");
    kc_on(d1, i, "(nil)", "GET %s:only3", p); /* now in database 2 */
    kc_on(d1, i, "[\"a\"]", "LRANGE %s:l 0 -1", p);
    kc_on(d1, i, ":1000", "TTL %s:l", p); /* database 2's, swapped in: TTL kept */
    kc_on(d1, i, "+OK", "SELECT 2");
    kc_on(d1, i, "\"x\"", "GET %s:only3", p);
    kc_on(d1, i, "-ERR invalid first DB index", "SWAPDB x 1");
    kc_on(d1, i, "-ERR invalid second DB index", "SWAPDB 1 x");
    kc_on(d1, i, OUT_OF_RANGE, "SWAPDB 1 16");
    /* FLUSHDB empties the connection's database only */
    kc_on(d1, i, "+OK", "SELECT 1");
    kc_on(d1, i, "+OK", "FLUSHDB");
    kc_on(d1, i, ":0", "DBSIZE");
    kc_on(c, i, "\"zero\"", "GET %s:k", p);
    /* MULTI: a SELECT inside changes the database of the commands after it */
    kc_on(c, i, "+OK", "MULTI");
    kc_on(c, i, "+QUEUED", "SET %s:m a", p);
    kc_on(c, i, "+QUEUED", "SELECT 4");
    kc_on(c, i, "+QUEUED", "SET %s:m b", p);
    kc_on(c, i, "+QUEUED", "GET %s:m", p);
    kc_on(c, i, "[+OK,+OK,+OK,\"b\"]", "EXEC");
    kc_on(c, i, "\"b\"", "GET %s:m", p); /* the SELECT stays after EXEC */
    /* queued back in database 0: FLUSHDB and DBSIZE there, not in 4 */
    kc_on(c, i, "+OK", "MULTI");
    kc_on(c, i, "-ERR 'dbsize' inside MULTI in a database other than 0 is not supported by Keel", "DBSIZE");
    kc_on(c, i, "+OK", "DISCARD");
    kc_on(c, i, "+OK", "MULTI");
    kc_on(c, i, "+QUEUED", "SELECT 0");
    kc_on(c, i, "+QUEUED", "SET %s:z0 x", p);
    kc_on(c, i, "+QUEUED", "EXISTS %s:z0", p);
    kc_on(c, i, "+QUEUED", "DBSIZE");
    kc_on(c, i, "+QUEUED", "SELECT 4");
    redisReply *x = redisCommand(c, "EXEC");
    assert_non_null(x);
    assert_int_equal(x->type, REDIS_REPLY_ARRAY);
    assert_int_equal(x->elements, 5);
    assert_int_equal(x->element[2]->integer, 1);
    /* database 0 holds %s:k and %s:m at least; database 4 holds one key */
    if (x->element[3]->integer < 2) fail_msg("DBSIZE in MULTI: %lld", x->element[3]->integer);
    freeReplyObject(x);
    kc_on(c, i, "(nil)", "GET %s:z0", p);
    kc_on(c, i, "\"b\"", "GET %s:m", p);
    kc_on(c, i, "+OK", "SELECT 0");
    kc_on(c, i, "\"a\"", "GET %s:m", p);
    /* WATCH: the key of the database it was watched in */
    kc_on(c, i, "+OK", "SELECT 4");
    kc_on(c, i, "+OK", "WATCH %s:m", p);
    kc_on(d1, i, "+OK", "SELECT 0");
    kc_on(d1, i, "+OK", "SET %s:m other", p); /* database 0's: not the watched one */
    kc_on(c, i, "+OK", "MULTI");
    kc_on(c, i, "+QUEUED", "SET %s:m c", p);
    kc_on(c, i, "[+OK]", "EXEC");
    kc_on(c, i, "+OK", "WATCH %s:m", p);
    kc_on(d1, i, "+OK", "SELECT 4");
    kc_on(d1, i, "+OK", "SET %s:m d", p);
    kc_on(c, i, "+OK", "MULTI");
    kc_on(c, i, "+QUEUED", "SET %s:m e", p);
    kc_on(c, i, "(nil)", "EXEC");
    kc_on(c, i, "\"d\"", "GET %s:m", p);
    /* RESET goes back to database 0 */
    kc_on(c, i, "+RESET", "RESET");
    kc_on(c, i, "\"other\"", "GET %s:m", p);
    /* INFO keyspace lists every non-empty database */
    has(c, "INFO keyspace", "db4:keys=");
    redisFree(c);
    redisFree(d1);
}

/* Database 5 on node i: a key over 511 bytes counts and lists; SCAN with
 * COUNT 1 walks the database across calls; a follower's READONLY read; an
 * ACL key pattern judges the client's name, not the stored one; a reserved
 * name stays refused in any database. */
static void more_on(unsigned i, const char *p, bool follower)
{
    redisContext *c = kc_raw(&cl, i);
    char big[700];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, p, strlen(p));
    kc_on(c, i, "+OK", "SELECT 5");
    kc_on(c, i, "+OK", "FLUSHDB");
    kc_on(c, i, "+OK", "SET %s v", big);
    kc_on(c, i, "+OK", "MSET %s:a 1 %s:b 2 %s:c 3", p, p, p);
    kc_on(c, i, ":4", "DBSIZE");
    kc_on(c, i, "\"v\"", "GET %s", big);
    int seen = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s COUNT 1", cursor);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        seen += (int)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(seen, 4);
    has(c, "INFO keyspace", "db5:keys=4,expires=0");
    /* the sorted-set algebra's numkeys keys are the database's */
    kc_on(c, i, ":1", "ZADD %s:z1 1 a", p);
    kc_on(c, i, ":1", "ZADD %s:z2 2 b", p);
    kc_on(c, i, ":2", "ZUNIONSTORE %s:zu 2 %s:z1 %s:z2", p, p, p);
    kc_on(c, i, "[\"a\",\"b\"]", "ZUNION 2 %s:z1 %s:z2", p, p);
    kc_on(c, i, ":1", "ZINTERCARD 1 %s:z1", p);
    kc_on(c, i, ":2", "ZRANGESTORE %s:zr %s:zu 0 -1", p, p);
    kc_on(c, i, "+OK", "SELECT 0");
    kc_on(c, i, ":0", "EXISTS %s:zu %s:zr %s:z1", p, p, p);
    kc_on(c, i, "[]", "ZUNION 2 %s:z1 %s:z2", p, p);
    kc_on(c, i, "+OK", "SELECT 5");
    if (follower) {
        kc_on(c, i, "+OK", "READONLY");
        kc_on(c, i, "\"1\"", "GET %s:a", p); /* its own replica, database 5 */
        kc_on(c, i, "+OK", "READWRITE");
    }
    kc_on(c, i, "-ERR keys starting with \\xffkeel: are reserved", "GET \xffkeel:\xfe\x01x");
    kc_on(c, i, "+OK", "ACL SETUSER dbu%s on >pw ~%s:* +@all", p, p);
    /* a follower applies the new user a moment after the leader answered */
    bool authed = false;
    for (int t = 0; t < 100 && !authed; t++) {
        redisReply *r = redisCommand(c, "AUTH dbu%s pw", p);
        authed = kc_is_status(r, "OK");
        freeReplyObject(r);
        if (!authed) kc_pause_ms(20);
    }
    assert_true(authed);
    kc_on(c, i, "+OK", "SELECT 5");
    kc_on(c, i, "\"2\"", "GET %s:b", p);
    kc_on(c, i, "-NOPERM*", "GET other");
    kc_on(c, i, "+RESET", "RESET");
    kc_on(c, i, ":1", "ACL DELUSER dbu%s", p);
    redisFree(c);
}

static void test_databases(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    assert_true(leader >= 0);
    databases_on((unsigned)leader, "L");
    databases_on(((unsigned)leader + 1) % 3, "F");
    more_on((unsigned)leader, "L", false);
    more_on(((unsigned)leader + 1) % 3, "F", true);
    /* FLUSHALL empties every database */
    redisContext *c = kc_raw(&cl, (unsigned)leader);
    kc_on(c, (unsigned)leader, "+OK", "FLUSHALL");
    for (int db = 0; db < 5; db++) {
        kc_on(c, (unsigned)leader, "+OK", "SELECT %d", db);
        kc_on(c, (unsigned)leader, ":0", "DBSIZE");
    }
    redisFree(c);
}

static redisReply *next_message(redisContext *sub)
{
    void *reply = NULL;
    assert_int_equal(redisGetReply(sub, &reply), REDIS_OK);
    return reply;
}

/* Keyspace notifications name the database: set, and expired (the sweep)
 * in database 1, subscribed on a follower. */
static void test_notify(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--sweep-interval 50");
    assert_true(leader >= 0);
    unsigned F = ((unsigned)leader + 1) % 3;
    redisContext *sub = kc_raw(&cl, F), *w = kc_raw(&cl, F);
    kc_on(w, F, "+OK", "CONFIG SET notify-keyspace-events KEA");
    redisReply *r = redisCommand(sub, "PSUBSCRIBE __key*@*__:*");
    assert_non_null(r);
    freeReplyObject(r);
    kc_on(w, F, "+OK", "SELECT 1");
    kc_on(w, F, "+OK", "SET nk v PX 200");
    const char *want[][2] = {{"__keyspace@1__:nk", "set"},
                             {"__keyevent@1__:set", "nk"},
                             {"__keyspace@1__:nk", "expire"},
                             {"__keyevent@1__:expire", "nk"},
                             {"__keyspace@1__:nk", "expired"},
                             {"__keyevent@1__:expired", "nk"}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        r = next_message(sub);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 4);
        assert_string_equal(r->element[2]->str, want[k][0]);
        assert_string_equal(r->element[3]->str, want[k][1]);
        freeReplyObject(r);
    }
    redisFree(sub);
    redisFree(w);
}

/* A blocked pop waits on its key in its database: BLPOP in database 1 is
 * not woken by an LPUSH of the same name in database 0, it is by one in
 * database 1; the replies name the key as the client did (BLPOP, LMPOP,
 * BZPOPMIN). On node i (a follower forwards the pop with its database). */
static void blocking_on(unsigned i, const char *p)
{
    redisContext *b = kc_raw(&cl, i), *w = kc_raw(&cl, i);
    kc_on(b, i, "+OK", "SELECT 1");
    assert_int_equal(redisAppendCommand(b, "BLPOP %s:q 10", p), REDIS_OK);
    assert_int_equal(redisBufferWrite(b, &(int){0}), REDIS_OK);
    kc_pause_ms(300);
    kc_on(w, i, ":1", "LPUSH %s:q zero", p); /* database 0: not the one waited on */
    kc_pause_ms(300);
    kc_on(w, i, "+OK", "SELECT 1");
    kc_on(w, i, ":1", "LPUSH %s:q one", p);
    void *reply = NULL;
    assert_int_equal(redisGetReply(b, &reply), REDIS_OK);
    char got[256], want[256];
    kc_reply_text(reply, true, got, sizeof got);
    freeReplyObject(reply);
    snprintf(want, sizeof want, "[\"%s:q\",\"one\"]", p);
    assert_string_equal(got, want);
    kc_on(w, i, "+OK", "SELECT 0");
    kc_on(w, i, "\"zero\"", "LPOP %s:q", p); /* still there */
    /* SWAPDB bringing a list into the waited-on database wakes it, as Redis's */
    kc_on(b, i, "+OK", "SELECT 2");
    assert_int_equal(redisAppendCommand(b, "BLPOP %s:s 10", p), REDIS_OK);
    assert_int_equal(redisBufferWrite(b, &(int){0}), REDIS_OK);
    kc_pause_ms(300);
    kc_on(w, i, "+OK", "SELECT 3");
    kc_on(w, i, ":1", "RPUSH %s:s x", p);
    kc_on(w, i, "+OK", "SWAPDB 2 3");
    reply = NULL;
    assert_int_equal(redisGetReply(b, &reply), REDIS_OK);
    kc_reply_text(reply, true, got, sizeof got);
    freeReplyObject(reply);
    snprintf(want, sizeof want, "[\"%s:s\",\"x\"]", p);
    assert_string_equal(got, want);
    kc_on(w, i, "+OK", "SWAPDB 2 3"); /* back: the other pass finds 2 and 3 as they were */
    kc_on(w, i, "+OK", "SELECT 1");
    kc_on(w, i, ":2", "RPUSH %s:q a b", p);
    snprintf(want, sizeof want, "[\"%s:q\",[\"a\",\"b\"]]", p);
    kc_on(w, i, want, "LMPOP 1 %s:q LEFT COUNT 5", p);
    kc_on(w, i, ":1", "ZADD %s:z 1 m", p);
    snprintf(want, sizeof want, "[\"%s:z\",\"m\",\"1\"]", p);
    kc_on(w, i, want, "BZPOPMIN %s:z 1", p);
    redisFree(b);
    redisFree(w);
}

static void test_blocking(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    assert_true(leader >= 0);
    blocking_on((unsigned)leader, "L");
    blocking_on(((unsigned)leader + 1) % 3, "F");
}

/* Database 1's keys survive a snapshot, a follower catching up by it, and
 * a restart of every node; a redis-py client with /1 in its URL sees them. */
static void test_snapshot_restart_client(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64");
    assert_true(leader >= 0);
    unsigned away = ((unsigned)leader + 1) % 3;
    kc_signal(&cl, away, SIGKILL);
    redisContext *c = kc_raw(&cl, (unsigned)leader);
    kc_on(c, (unsigned)leader, "+OK", "SELECT 1");
    for (int k = 0; k < 200; k++) kc_on(c, (unsigned)leader, "+OK", "SET s:%d %d", k, k);
    kc_on(c, (unsigned)leader, "+OK", "SET session:abc data");
    redisFree(c);
    uint64_t commit = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
    assert_true(kc_info_u64(&cl, (unsigned)leader, "raft", "snapshot_index") > 64);
    kc_start_node(&cl, away);
    for (int t = 0; t < 800 && kc_info_u64(&cl, away, "raft", "applied_index") < commit; t++) kc_pause_ms(50);
    for (unsigned i = 0; i < 3; i++) kc_signal(&cl, i, SIGTERM);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < 3; i++) {
        uint64_t ci = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
        for (int t = 0; t < 400 && kc_info_u64(&cl, i, "raft", "applied_index") < ci; t++) kc_pause_ms(25);
        redisContext *d = kc_raw(&cl, i);
        kc_on(d, i, "+OK", "SELECT 1");
        kc_on(d, i, ":201", "DBSIZE");
        kc_on(d, i, "\"data\"", "GET session:abc");
        kc_on(d, i, "+OK", "SELECT 0");
        kc_on(d, i, "(nil)", "GET session:abc");
        redisFree(d);
    }
    /* redis-py, database 1 by URL, on a follower */
    unsigned F = ((unsigned)leader + 1) % 3;
    char out[4096];
    int rc = kc_sh(60, out, sizeof out,
                   "/usr/bin/python3 -c 'import redis; r = redis.Redis.from_url(\"redis://127.0.0.1:%u/1\"); "
                   "print(r.get(\"session:abc\").decode()); r.set(\"py\", \"1\"); print(r.dbsize()); "
                   "print(redis.Redis.from_url(\"redis://127.0.0.1:%u/0\").get(\"py\"))' 2>&1",
                   cl.nodes[F].client_port, cl.nodes[F].client_port);
    if (rc != 0 || strncmp(out, "data\n202\nNone", 14) != 0) fail_msg("redis-py: rc %d, %s", rc, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_databases, teardown),
        cmocka_unit_test_teardown(test_notify, teardown),
        cmocka_unit_test_teardown(test_blocking, teardown),
        cmocka_unit_test_teardown(test_snapshot_restart_client, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
