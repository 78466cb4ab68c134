/* tests/integration: keyspace notifications exactly as Redis 7.2 sends them,
 * on a one-node cluster: the keyspace-events part of Redis's
 * tests/unit/pubsub.tcl ported (sets, zsets, streams and eviction aside),
 * then every write command Keel has, event by event against Redis's
 * notifyKeyspaceEvent calls (t_string.c, t_hash.c, t_list.c, db.c,
 * expire.c): "new" before a created key's own event, rename_from/rename_to,
 * copy_to, del for an emptied hash or list, expired lazily and from the sweep, nothing for FLUSHDB;
 * and Keel's notify-keyspace-index, which appends "#<raft index>". A command
 * that must send nothing is followed by a marker publication, which must be
 * the next message. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

static struct kc cl;

static int setup(void **state)
{
    (void)state;
    kc_start(&cl, 1, "--sweep-interval 50");
    return kc_leader(&cl, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cl);
    return 0;
}

static void run(const char *cmd, const char *want)
{
    kc_expect(&cl, 0, false, cmd, want);
}

/* A subscriber to every channel (PSUBSCRIBE *), as Redis's tests use,
 * after CLIENT REPLY <reply> unless that is NULL: the confirmation and the
 * messages come whatever it says. */
static redisContext *subscriber_after(const char *reply)
{
    redisContext *sub = kc_connect(&cl, 0);
    if (reply != NULL) {
        assert_int_equal(redisAppendCommand(sub, "CLIENT REPLY %s", reply), REDIS_OK);
        if (strcmp(reply, "ON") == 0) {
            void *ok = NULL;
            assert_int_equal(redisGetReply(sub, &ok), REDIS_OK);
            assert_true(kc_is_status(ok, "OK"));
            freeReplyObject(ok);
        }
    }
    redisReply *r = redisCommand(sub, "PSUBSCRIBE *");
    assert_non_null(r);
    assert_true(r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->integer == 1);
    freeReplyObject(r);
    return sub;
}

static redisContext *subscriber(void)
{
    return subscriber_after(NULL);
}

/* The next message as Redis's test client prints it: "pmessage * ch msg". */
static const char *next_text(redisContext *sub)
{
    static char text[1024];
    void *v = NULL;
    if (redisGetReply(sub, &v) != REDIS_OK || v == NULL) fail_msg("no message: %s", sub->errstr);
    redisReply *r = v;
    size_t n = 0;
    text[0] = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && n < sizeof text; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%.*s", i ? " " : "", (int)r->element[i]->len,
                              r->element[i]->str);
    freeReplyObject(r);
    return text;
}

static void expect_text(redisContext *sub, const char *want)
{
    const char *got = next_text(sub);
    if (strcmp(got, want) != 0) fail_msg("want \"%s\"\n  got  \"%s\"", want, got);
}

/* The keyspace messages of "event:key event:key ..." in that order. */
static void expect_ks(redisContext *sub, const char *events)
{
    char list[512], want[600];
    snprintf(list, sizeof list, "%s", events);
    for (char *save = NULL, *t = strtok_r(list, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(t, ':');
        *colon = 0;
        snprintf(want, sizeof want, "pmessage * __keyspace@0__:%s %s", colon + 1, t);
        expect_text(sub, want);
    }
}

/* Nothing more is sent before a marker published now. */
static void expect_quiet(redisContext *sub)
{
    static unsigned n;
    char cmd[64], want[96];
    n++;
    snprintf(cmd, sizeof cmd, "PUBLISH marker m%u", n);
    run(cmd, ":1");
    snprintf(want, sizeof want, "pmessage * marker m%u", n);
    expect_text(sub, want);
}

static void flags(const char *set)
{
    redisReply *r = kc_cmd(&cl, 0, "CONFIG SET notify-keyspace-events %s", set);
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
}

/* ---- Redis's pubsub.tcl, keyspace events -------------------------------- */

static void test_redis_suite(void **state)
{
    (void)state;
    /* we receive keyspace notifications / keyevent notifications / both */
    flags("KA");
    redisContext *sub = subscriber_after("OFF"); /* works even if replies are silenced */
    run("SET foo bar", "+OK");
    expect_text(sub, "pmessage * __keyspace@0__:foo set");
    redisFree(sub);
    flags("EA");
    sub = subscriber_after("SKIP");
    run("SET foo bar", "+OK");
    expect_text(sub, "pmessage * __keyevent@0__:set foo");
    redisFree(sub);
    flags("KEA");
    sub = subscriber_after("ON");
    run("SET foo bar", "+OK");
    expect_text(sub, "pmessage * __keyspace@0__:foo set");
    expect_text(sub, "pmessage * __keyevent@0__:set foo");
    redisFree(sub);

    /* we are able to mask events (hashes here: Keel has no lists) */
    flags("KEh");
    run("DEL myhash", ":*");
    sub = subscriber();
    run("SET foo bar", "+OK");
    run("HSET myhash a 1", ":1");
    expect_text(sub, "pmessage * __keyspace@0__:myhash hset");
    expect_text(sub, "pmessage * __keyevent@0__:hset myhash");
    redisFree(sub);

    /* general events test */
    flags("KEg");
    sub = subscriber();
    run("SET foo bar", "+OK");
    run("EXPIRE foo 1", ":1");
    run("DEL foo", ":1");
    expect_text(sub, "pmessage * __keyspace@0__:foo expire");
    expect_text(sub, "pmessage * __keyevent@0__:expire foo");
    expect_text(sub, "pmessage * __keyspace@0__:foo del");
    expect_text(sub, "pmessage * __keyevent@0__:del foo");
    redisFree(sub);

    /* hash events test */
    flags("Kh");
    run("DEL myhash", ":1");
    sub = subscriber();
    run("HMSET myhash yes 1 no 0", "+OK");
    run("HINCRBY myhash yes 10", ":11");
    expect_text(sub, "pmessage * __keyspace@0__:myhash hset");
    expect_text(sub, "pmessage * __keyspace@0__:myhash hincrby");
    redisFree(sub);

    /* expired events (triggered expire, then background expire) */
    flags("Ex");
    run("DEL foo", ":0");
    sub = subscriber();
    run("PSETEX foo 100 1", "+OK");
    bool gone = false;
    for (int t = 0; t < 50 && !gone; t++) {
        redisReply *r = kc_cmd(&cl, 0, "EXISTS foo");
        gone = r != NULL && r->integer == 0;
        if (r) freeReplyObject(r);
        if (!gone) kc_pause_ms(100);
    }
    assert_true(gone);
    expect_text(sub, "pmessage * __keyevent@0__:expired foo");
    redisFree(sub);
    run("DEL foo", ":0");
    sub = subscriber();
    run("PSETEX foo 100 1", "+OK");
    expect_text(sub, "pmessage * __keyevent@0__:expired foo");
    redisFree(sub);

    /* test CONFIG GET/SET of event flags */
    flags("gKE");
    run("CONFIG GET notify-keyspace-events", "[notify-keyspace-events,gKE]");
    flags("$lshzxeKE");
    run("CONFIG GET notify-keyspace-events", "[notify-keyspace-events,$lshzxeKE]");
    flags("KA");
    run("CONFIG GET notify-keyspace-events", "[notify-keyspace-events,AK]");
    flags("EA");
    run("CONFIG GET notify-keyspace-events", "[notify-keyspace-events,AE]");
    /* and Redis's order and quirks beyond them: n written only without A */
    flags("mnKtd");
    run("CONFIG GET notify-keyspace-events", "[notify-keyspace-events,tdnKm]");
    flags("KEAn");
    run("CONFIG GET notify-keyspace-events", "[notify-keyspace-events,AKE]");

    /* new key test */
    flags("En");
    run("DEL foo bar", ":*");
    sub = subscriber();
    run("SET foo bar", "+OK");
    run("SET foo baz", "+OK"); /* a second SET of foo: no "new" */
    run("SET bar bar", "+OK");
    expect_text(sub, "pmessage * __keyevent@0__:new foo");
    expect_text(sub, "pmessage * __keyevent@0__:new bar");
    redisFree(sub);
    /* 'A' does not include 'n' */
    flags("EA");
    run("DEL foo", ":1");
    sub = subscriber();
    run("SET foo bar", "+OK");
    expect_text(sub, "pmessage * __keyevent@0__:set foo");
    expect_quiet(sub);
    redisFree(sub);
    flags("");
}

/* CLIENT REPLY as Redis's: OFF and SKIP unanswered, SKIP drops the next
 * reply only, ON answers OK; a bad mode is a syntax error; RESET ends OFF. */
static void test_client_reply(void **state)
{
    (void)state;
    redisContext *c = kc_connect(&cl, 0);
    const char *cmds[] = {"CLIENT REPLY SKIP", "ECHO dropped", "ECHO one", "CLIENT REPLY OFF",
                          "ECHO gone", "CLIENT REPLY SKIP", "ECHO gone-too", "CLIENT REPLY ON", "ECHO two",
                          "CLIENT REPLY MAYBE", "CLIENT REPLY OFF", "ECHO gone-three", "RESET", "ECHO three"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        assert_int_equal(redisAppendCommand(c, cmds[i]), REDIS_OK);
    /* RESET turns replies back on, its own included. */
    const char *want[] = {"one", "+OK", "two", "-ERR syntax error", "+RESET", "three"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        void *v = NULL;
        char got[128];
        assert_int_equal(redisGetReply(c, &v), REDIS_OK);
        kc_reply_text(v, false, got, sizeof got);
        freeReplyObject(v);
        assert_string_equal(got, want[i]);
    }
    redisFree(c);
}

/* ---- command by command ------------------------------------------------- */

static void test_strings(void **state)
{
    (void)state;
    run("FLUSHDB", "+OK");
    flags("KAn");
    redisContext *sub = subscriber();
    run("SET k v EX 100", "+OK");
    expect_ks(sub, "new:k set:k expire:k");
    run("SET k v2 GET", "v");
    expect_ks(sub, "set:k");
    run("SET k v3 KEEPTTL", "+OK");
    expect_ks(sub, "set:k");
    run("SET k v4 NX", "(nil)");
    run("SETNX k x", ":0");
    expect_quiet(sub);
    run("SETEX s 100 v", "+OK");
    expect_ks(sub, "new:s set:s expire:s");
    run("PSETEX s 100000 v", "+OK");
    expect_ks(sub, "set:s expire:s");
    run("GETSET k w", "v3");
    expect_ks(sub, "set:k");
    /* An absolute time already past: Redis sets it, then finds it expired. */
    run("SET past v EXAT 1", "+OK");
    expect_ks(sub, "new:past set:past expire:past expired:past");
    run("GETEX k EX 100", "w");
    expect_ks(sub, "expire:k");
    run("GETEX k PERSIST", "w");
    expect_ks(sub, "persist:k");
    run("GETEX k PERSIST", "w");
    run("GETEX k", "w");
    expect_quiet(sub);
    run("GETEX k PXAT 1", "w");
    expect_ks(sub, "del:k");
    run("SET g 1", "+OK");
    run("GETDEL g", "1");
    run("GETDEL g", "(nil)");
    expect_ks(sub, "new:g set:g del:g");
    run("MSET a 1 b 2", "+OK");
    expect_ks(sub, "new:a set:a new:b set:b");
    run("MSETNX c 1 a 2", ":0");
    expect_quiet(sub);
    run("MSETNX c 1 d 2 c 3", ":1");
    expect_ks(sub, "new:c set:c new:d set:d set:c");
    run("SETRANGE sr 2 x", ":3");
    const char *empty[][2] = {{"sr", ":3"}, {"none", ":0"}}; /* nothing set: no event */
    for (size_t i = 0; i < 2; i++) {
        char got[64];
        redisReply *r = kc_cmd(&cl, 0, "SETRANGE %s 0 %s", empty[i][0], "");
        assert_non_null(r);
        kc_reply_text(r, false, got, sizeof got);
        freeReplyObject(r);
        assert_string_equal(got, empty[i][1]);
    }
    run("SETRANGE sr 0 y", ":3");
    expect_ks(sub, "new:sr setrange:sr setrange:sr");
    run("INCR i", ":1");
    run("DECRBY i 3", ":-2");
    expect_ks(sub, "new:i incrby:i incrby:i");
    run("INCR s", "-ERR value is not an integer or out of range");
    expect_quiet(sub);
    run("INCRBYFLOAT f 1.5", "1.5");
    run("INCRBYFLOAT f 1", "2.5");
    expect_ks(sub, "new:f incrbyfloat:f incrbyfloat:f");
    run("APPEND ap x", ":1");
    run("APPEND ap y", ":2");
    expect_ks(sub, "new:ap append:ap append:ap");
    run("FLUSHDB", "+OK");
    expect_quiet(sub);
    redisFree(sub);
    flags("");
}

static void test_hashes_and_keyspace(void **state)
{
    (void)state;
    run("FLUSHDB", "+OK");
    flags("KAn");
    redisContext *sub = subscriber();
    run("HSET h a 1", ":1");
    run("HSET h b 2", ":1");
    expect_ks(sub, "new:h hset:h hset:h");
    run("HSETNX h a 9", ":0");
    run("HDEL h zz", ":0");
    run("HDEL nosuch a", ":0");
    expect_quiet(sub);
    run("HSETNX h2 a 1", ":1");
    expect_ks(sub, "new:h2 hset:h2");
    run("HINCRBY h3 n 2", ":2");
    run("HINCRBYFLOAT h3 f 1.5", "1.5");
    expect_ks(sub, "new:h3 hincrby:h3 hincrbyfloat:h3");
    run("HDEL h a", ":1");
    expect_ks(sub, "hdel:h");
    run("HDEL h b zz", ":1"); /* emptied: the key goes */
    expect_ks(sub, "hdel:h del:h");

    /* Sets: "new" when SADD, SMOVE or a STORE creates the key. */
    run("SADD s a b", ":2");
    run("SADD s a c", ":1");
    run("SADD s a", ":0");
    expect_ks(sub, "new:s sadd:s sadd:s");
    run("SMOVE s t a", ":1");
    run("SMOVE s t b", ":1");
    expect_ks(sub, "srem:s new:t sadd:t srem:s sadd:t");
    run("SUNIONSTORE u s t", ":3");
    run("SINTERSTORE u s t", ":0");
    expect_ks(sub, "new:u sunionstore:u del:u");
    run("DEL s t", ":2");
    expect_ks(sub, "del:s del:t");

    run("SET k v", "+OK");
    expect_ks(sub, "new:k set:k");
    run("EXPIRE k 100", ":1");
    run("PEXPIRE k 100000", ":1");
    run("EXPIREAT k 4102444800", ":1");
    run("PEXPIREAT k 4102444800000", ":1");
    run("EXPIRE k 100 NX", ":0");
    expect_ks(sub, "expire:k expire:k expire:k expire:k");
    run("PERSIST k", ":1");
    run("PERSIST k", ":0");
    expect_ks(sub, "persist:k");
    run("EXPIRE nosuch 100", ":0");
    expect_quiet(sub);
    run("EXPIRE k -1", ":1");
    expect_ks(sub, "del:k");

    run("SET a 1", "+OK");
    run("SET b 2", "+OK");
    expect_ks(sub, "new:a set:a new:b set:b");
    run("RENAME a r", "+OK");
    expect_ks(sub, "new:r rename_from:a rename_to:r");
    run("RENAME r r", "+OK");
    run("RENAMENX b r", ":0");
    run("RENAME nosuch x", "-ERR no such key");
    expect_quiet(sub);
    run("RENAME b r", "+OK"); /* over a taken key: "new" all the same */
    expect_ks(sub, "new:r rename_from:b rename_to:r");
    run("COPY r cp", ":1");
    run("COPY r cp", ":0");
    run("COPY r cp REPLACE", ":1");
    expect_ks(sub, "new:cp copy_to:cp new:cp copy_to:cp");
    run("DEL r nosuch", ":1");
    run("UNLINK cp", ":1");
    expect_ks(sub, "del:r del:cp");

    /* Lazily expired: a write that finds the key says "expired" first. */
    run("SET lazy v PX 1", "+OK");
    expect_ks(sub, "new:lazy set:lazy expire:lazy");
    kc_pause_ms(5);
    redisReply *r = kc_cmd(&cl, 0, "SET lazy w");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    /* Unless the sweep came first: "expired" either way, then a new key. */
    expect_ks(sub, "expired:lazy new:lazy set:lazy");

    /* MULTI/EXEC: the same events as the commands one by one. */
    redisContext *w = kc_connect(&cl, 0);
    const char *cmds[] = {"MULTI", "SET m1 1", "INCR m1", "HSET m2 f v", "EXEC"};
    for (size_t i = 0; i < 5; i++) {
        r = redisCommand(w, cmds[i]);
        assert_non_null(r);
        freeReplyObject(r);
    }
    redisFree(w);
    expect_ks(sub, "new:m1 set:m1 incrby:m1 new:m2 hset:m2");
    redisFree(sub);
    flags("");
}

/* ---- Keel's notify-keyspace-index -------------------------------------- */

static void test_index_flag(void **state)
{
    (void)state;
    run("CONFIG GET notify-keyspace-index", "[notify-keyspace-index,no]");
    run("CONFIG SET notify-keyspace-index maybe",
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-index') - argument must be "
        "'yes' or 'no'");
    flags("KE$");
    run("CONFIG SET notify-keyspace-index yes", "+OK");
    run("CONFIG GET notify-keyspace-index", "[notify-keyspace-index,yes]");
    redisContext *sub = subscriber();
    run("SET ix v", "+OK");
    unsigned long long applied = kc_info_u64(&cl, 0, "raft", "applied_index");
    char want[128];
    const char *got = next_text(sub);
    unsigned long long idx = 0;
    if (sscanf(got, "pmessage * __keyspace@0__:ix set#%llu", &idx) != 1 || idx == 0 || idx > applied)
        fail_msg("with the index: %s (applied %llu)", got, applied);
    snprintf(want, sizeof want, "pmessage * __keyevent@0__:set ix#%llu", idx);
    expect_text(sub, want);
    run("CONFIG SET notify-keyspace-index no", "+OK");
    run("SET ix w", "+OK");
    expect_text(sub, "pmessage * __keyspace@0__:ix set");
    expect_text(sub, "pmessage * __keyevent@0__:set ix");
    redisFree(sub);
    flags("");
}

/* pubsub.tcl's list cases, then every list write against t_list.c's
 * notifyKeyspaceEvent calls. */
static void test_lists(void **state)
{
    (void)state;
    run("FLUSHDB", "+OK");
    flags("KEl"); /* "we are able to mask events" */
    redisContext *sub = subscriber();
    run("SET foo bar", "+OK");
    run("LPUSH mylist a", ":1");
    expect_text(sub, "pmessage * __keyspace@0__:mylist lpush");
    expect_text(sub, "pmessage * __keyevent@0__:lpush mylist");
    run("RPUSH mylist a", ":2"); /* "list events test" */
    run("RPOP mylist", "a");
    expect_text(sub, "pmessage * __keyspace@0__:mylist rpush");
    expect_text(sub, "pmessage * __keyevent@0__:rpush mylist");
    expect_text(sub, "pmessage * __keyspace@0__:mylist rpop");
    expect_text(sub, "pmessage * __keyevent@0__:rpop mylist");
    redisFree(sub);
    run("FLUSHDB", "+OK");
    flags("KAn");
    sub = subscriber();
    run("RPUSH l a b c a", ":4");
    run("LPUSHX l z", ":5");
    run("LPUSHX nosuch z", ":0");
    expect_ks(sub, "new:l rpush:l lpush:l");
    run("LSET l 0 y", "+OK");
    run("LINSERT l BEFORE c x", ":6");
    run("LINSERT l BEFORE nope x", ":-1");
    run("LREM l 0 a", ":2");
    run("LREM l 0 nope", ":0");
    expect_ks(sub, "lset:l linsert:l lrem:l");
    run("LTRIM l 0 -1", "+OK");
    run("LPOP l 0", "[]");
    run("LPOP l", "y");
    expect_ks(sub, "ltrim:l lpop:l");
    run("LMOVE l m RIGHT LEFT", "c");
    expect_ks(sub, "new:m lpush:m rpop:l");
    run("RPOPLPUSH l m", "x");
    expect_ks(sub, "lpush:m rpop:l");
    run("LPOP l 3", "[b]");
    expect_ks(sub, "lpop:l del:l");
    run("LTRIM m 5 1", "+OK");
    expect_ks(sub, "ltrim:m del:m");
    run("LSET nosuch 0 x", "-ERR no such key");
    run("LPOP nosuch", "(nil)");
    run("LMOVE nosuch m LEFT LEFT", "(nil)");
    expect_quiet(sub);
    redisFree(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_suite),
        cmocka_unit_test(test_client_reply),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_hashes_and_keyspace),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_index_flag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
