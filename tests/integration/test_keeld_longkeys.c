/* tests/integration: keys and hash fields of 64 KiB (Keel's KEEL_MAX_KEY;
 * LMDB's own key limit is 511 bytes, storage.h) on a real three-node
 * cluster, on the leader and via a follower (which forwards): strings,
 * expiry, RENAME, SCAN/KEYS/RANDOMKEY returning the full names, a hash with
 * a 64 KiB field, a set, a list and a sorted set under long keys; a key one
 * byte over refused with a clear error; and a follower that was away
 * catching up by snapshot holds them all. */
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

#define MAX_KEY 65536

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* A key of n bytes: prefix, then a pattern salted by tag. malloc'd. */
static char *make(const char *prefix, size_t n, char tag)
{
    char *k = malloc(n + 1);
    assert_non_null(k);
    size_t pn = strlen(prefix);
    for (size_t i = 0; i < n; i++) k[i] = (char)('a' + (i * 13 + (size_t)tag) % 26);
    memcpy(k, prefix, pn < n ? pn : n);
    k[n] = 0;
    return k;
}

static redisReply *cmd(redisContext *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    if (r == NULL) fail_msg("connection error: %s", ctx->errstr);
    return r;
}

static void want_status(redisReply *r, const char *s)
{
    if (!kc_is_status(r, s)) fail_msg("want +%s, got type %d %.200s", s, r->type, r->str ? r->str : "");
    freeReplyObject(r);
}

static void want_int(redisReply *r, long long v)
{
    if (r->type != REDIS_REPLY_INTEGER || r->integer != v)
        fail_msg("want :%lld, got type %d %lld %.200s", v, r->type, r->integer, r->str ? r->str : "");
    freeReplyObject(r);
}

static void want_bulk(redisReply *r, const char *p, size_t n)
{
    if (r->type != REDIS_REPLY_STRING || r->len != n || memcmp(r->str, p, n) != 0)
        fail_msg("want a %zu-byte bulk, got type %d of %zu bytes", n, r->type, r->len);
    freeReplyObject(r);
}

static void want_error(redisReply *r, const char *text)
{
    if (r->type != REDIS_REPLY_ERROR || strcmp(r->str, text) != 0)
        fail_msg("want -%s, got type %d %.200s", text, r->type, r->str ? r->str : "");
    freeReplyObject(r);
}

/* Whether array reply r holds a bulk of exactly (p, n). */
static bool holds(const redisReply *r, const char *p, size_t n)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len == n && memcmp(e->str, p, n) == 0) return true;
    }
    return false;
}

/* SCAN with MATCH to the end: how many keys came, and whether `key` did. */
static size_t scan_all(redisContext *ctx, const char *match, const char *key, size_t kn, bool *found)
{
    char cursor[32] = "0";
    size_t n = 0;
    *found = false;
    do {
        redisReply *r = cmd(ctx, "SCAN %s MATCH %s COUNT 3", cursor, match);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 2);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        n += r->element[1]->elements;
        *found |= holds(r->element[1], key, kn);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

/* Everything on node i; tag keeps the leader's and the follower's keys apart. */
static void long_keys_on(unsigned i, char tag)
{
    redisContext *ctx = kc_connect(&cl, i);
    assert_non_null(ctx);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "lk%c:", tag);
    char *k = make(prefix, MAX_KEY, 'k'), *k2 = make(prefix, MAX_KEY, 'r'), *h = make(prefix, MAX_KEY, 'h');
    char *f = make("field:", MAX_KEY, 'f'), *s = make(prefix, 1000, 's'), *l = make(prefix, 4000, 'l');
    char *z = make(prefix, MAX_KEY, 'z'), *over = make(prefix, MAX_KEY + 1, 'o');
    char *k511 = make(prefix, 511, 'e'), *k505 = make(prefix, 505, 'e');
    char match[32];
    snprintf(match, sizeof match, "%s*", prefix);

    /* Strings, expiry, RENAME. */
    want_status(cmd(ctx, "SET %b v1", k, (size_t)MAX_KEY), "OK");
    want_bulk(cmd(ctx, "GET %b", k, (size_t)MAX_KEY), "v1", 2);
    want_int(cmd(ctx, "STRLEN %b", k, (size_t)MAX_KEY), 2);
    want_int(cmd(ctx, "APPEND %b x", k, (size_t)MAX_KEY), 3);
    want_int(cmd(ctx, "EXPIRE %b 1000", k, (size_t)MAX_KEY), 1);
    redisReply *r = cmd(ctx, "TTL %b", k, (size_t)MAX_KEY);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 990 && r->integer <= 1000);
    freeReplyObject(r);
    want_status(cmd(ctx, "RENAME %b %b", k, (size_t)MAX_KEY, k2, (size_t)MAX_KEY), "OK");
    want_int(cmd(ctx, "EXISTS %b", k, (size_t)MAX_KEY), 0);
    want_bulk(cmd(ctx, "GET %b", k2, (size_t)MAX_KEY), "v1x", 3);
    r = cmd(ctx, "PTTL %b", k2, (size_t)MAX_KEY);
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 990000);
    freeReplyObject(r);
    /* COPY to a long name and to a short one; the source stays. */
    want_int(cmd(ctx, "COPY %b %b", k2, (size_t)MAX_KEY, k, (size_t)MAX_KEY), 1);
    want_bulk(cmd(ctx, "GET %b", k, (size_t)MAX_KEY), "v1x", 3);
    want_int(cmd(ctx, "COPY %b %s", k2, (size_t)MAX_KEY, "lkcopy"), 1);
    want_int(cmd(ctx, "COPY %b %s", k2, (size_t)MAX_KEY, "lkcopy"), 0);
    want_int(cmd(ctx, "DEL %b %s", k, (size_t)MAX_KEY, "lkcopy"), 2);
    want_int(cmd(ctx, "PERSIST %b", k2, (size_t)MAX_KEY), 1);
    want_int(cmd(ctx, "TTL %b", k2, (size_t)MAX_KEY), -1);
    /* Keys of 505 and 511 bytes with an expiry: their expiry index entry
     * is hashed (8 bytes of time + the key would pass LMDB's 511). */
    want_status(cmd(ctx, "SET %b v EX 100", k511, (size_t)511), "OK");
    want_status(cmd(ctx, "SET %b v PX 100000", k505, (size_t)505), "OK");
    want_int(cmd(ctx, "TTL %b", k511, (size_t)511), 100);
    want_int(cmd(ctx, "DEL %b %b", k511, (size_t)511, k505, (size_t)505), 2);

    /* A hash under a 64 KiB key with a 64 KiB field. */
    want_int(cmd(ctx, "HSET %b %b hv %s other", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY, "small"), 2);
    want_bulk(cmd(ctx, "HGET %b %b", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY), "hv", 2);
    want_int(cmd(ctx, "HEXISTS %b %b", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY), 1);
    want_int(cmd(ctx, "HSTRLEN %b %b", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY), 2);
    r = cmd(ctx, "HGETALL %b", h, (size_t)MAX_KEY);
    assert_int_equal(r->elements, 4);
    assert_true(holds(r, f, MAX_KEY));
    freeReplyObject(r);
    r = cmd(ctx, "HKEYS %b", h, (size_t)MAX_KEY);
    assert_int_equal(r->elements, 2);
    assert_true(holds(r, f, MAX_KEY));
    freeReplyObject(r);
    r = cmd(ctx, "HSCAN %b 0", h, (size_t)MAX_KEY);
    assert_int_equal(r->elements, 2);
    assert_true(holds(r->element[1], f, MAX_KEY));
    freeReplyObject(r);
    want_int(cmd(ctx, "HDEL %b %b", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY), 1);
    want_int(cmd(ctx, "HLEN %b", h, (size_t)MAX_KEY), 1);
    want_int(cmd(ctx, "HSET %b %b hv", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY), 1);

    /* Collections under long keys. */
    want_int(cmd(ctx, "SADD %b a b", s, (size_t)1000), 2);
    want_int(cmd(ctx, "SCARD %b", s, (size_t)1000), 2);
    want_int(cmd(ctx, "LPUSH %b a b", l, (size_t)4000), 2);
    r = cmd(ctx, "LRANGE %b 0 -1", l, (size_t)4000);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "b");
    freeReplyObject(r);
    want_int(cmd(ctx, "ZADD %b 1 m 2 n", z, (size_t)MAX_KEY), 2);
    want_bulk(cmd(ctx, "ZSCORE %b n", z, (size_t)MAX_KEY), "2", 1);
    r = cmd(ctx, "ZRANGE %b 0 -1", z, (size_t)MAX_KEY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[1]->str, "n");
    freeReplyObject(r);
    want_status(cmd(ctx, "TYPE %b", z, (size_t)MAX_KEY), "zset");

    /* SCAN and KEYS list the full names (long keys come in hash order). */
    bool found;
    assert_int_equal(scan_all(ctx, match, k2, MAX_KEY, &found), 5);
    assert_true(found);
    scan_all(ctx, match, h, MAX_KEY, &found);
    assert_true(found);
    r = cmd(ctx, "KEYS %s", match);
    assert_int_equal(r->elements, 5);
    assert_true(holds(r, k2, MAX_KEY) && holds(r, h, MAX_KEY) && holds(r, s, 1000) &&
                holds(r, l, 4000) && holds(r, z, MAX_KEY));
    freeReplyObject(r);
    r = cmd(ctx, "SCAN 0 MATCH %s TYPE zset COUNT 100000", match);
    assert_int_equal(r->element[1]->elements, 1);
    assert_true(holds(r->element[1], z, MAX_KEY));
    freeReplyObject(r);

    /* One byte over the limit: a write is refused; a read finds nothing
     * (such a key cannot exist). */
    want_error(cmd(ctx, "SET %b v", over, (size_t)MAX_KEY + 1),
               "ERR key of 65537 bytes is over Keel's limit of 65536");
    want_error(cmd(ctx, "HSET %b f v", over, (size_t)MAX_KEY + 1),
               "ERR key of 65537 bytes is over Keel's limit of 65536");
    r = cmd(ctx, "GET %b", over, (size_t)MAX_KEY + 1);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    want_error(cmd(ctx, "RENAME %b %b", k2, (size_t)MAX_KEY, over, (size_t)MAX_KEY + 1),
               "ERR key of 65537 bytes is over Keel's limit of 65536");

    free(k);
    free(k2);
    free(h);
    free(f);
    free(s);
    free(l);
    free(z);
    free(over);
    free(k511);
    free(k505);
    redisFree(ctx);
}

/* The keys long_keys_on(tag) left, checked on node i (READONLY: its own
 * copy) by name and by content. */
static void check_left(unsigned i, char tag)
{
    redisContext *ctx = kc_connect(&cl, i);
    assert_non_null(ctx);
    freeReplyObject(cmd(ctx, "READONLY"));
    char prefix[16], match[32];
    snprintf(prefix, sizeof prefix, "lk%c:", tag);
    snprintf(match, sizeof match, "%s*", prefix);
    char *k2 = make(prefix, MAX_KEY, 'r'), *h = make(prefix, MAX_KEY, 'h'), *f = make("field:", MAX_KEY, 'f');
    char *z = make(prefix, MAX_KEY, 'z');
    want_bulk(cmd(ctx, "GET %b", k2, (size_t)MAX_KEY), "v1x", 3);
    want_bulk(cmd(ctx, "HGET %b %b", h, (size_t)MAX_KEY, f, (size_t)MAX_KEY), "hv", 2);
    want_bulk(cmd(ctx, "ZSCORE %b m", z, (size_t)MAX_KEY), "1", 1);
    redisReply *r = cmd(ctx, "KEYS %s", match);
    assert_int_equal(r->elements, 5);
    assert_true(holds(r, k2, MAX_KEY) && holds(r, h, MAX_KEY) && holds(r, z, MAX_KEY));
    freeReplyObject(r);
    free(k2);
    free(h);
    free(f);
    free(z);
    redisFree(ctx);
}

static void test_long_keys(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    assert_true(leader >= 0);
    unsigned follower = ((unsigned)leader + 1) % 3;
    long_keys_on((unsigned)leader, 'L');
    long_keys_on(follower, 'F');
    /* RANDOMKEY returns a full name (here the only keys are long ones). */
    redisContext *ctx = kc_connect(&cl, (unsigned)leader);
    /* DBSIZE counts the 10 long keys and not the system keys (the node
     * table), which sort apart from them. */
    want_int(cmd(ctx, "DBSIZE"), 10);
    redisReply *ks = cmd(ctx, "INFO keyspace");
    assert_non_null(strstr(ks->str, "db0:keys=10,expires=0,"));
    freeReplyObject(ks);
    /* MEMORY USAGE: a short key is its name, the 24-byte record header,
     * the value and LMDB's 10 bytes; a long one adds its 23-byte hashed
     * position (the name then lives in the record). */
    char *k511 = make("mem:", 511, 'M'), *k512 = make("mem:", 512, 'M');
    want_status(cmd(ctx, "SET %s v", k511), "OK");
    want_status(cmd(ctx, "SET %s v", k512), "OK");
    want_int(cmd(ctx, "MEMORY USAGE %s", k511), 511 + 24 + 1 + 10);
    want_int(cmd(ctx, "MEMORY USAGE %s", k512), 512 + 24 + 1 + 10 + 23);
    want_int(cmd(ctx, "DEL %s %s", k511, k512), 2);
    free(k511);
    free(k512);
    for (int n = 0; n < 10; n++) {
        redisReply *r = cmd(ctx, "RANDOMKEY");
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_true(r->len == 1000 || r->len == 4000 || r->len == MAX_KEY);
        freeReplyObject(r);
    }
    redisFree(ctx);
    /* Every node holds the same state (the digest check compares them). */
    for (unsigned i = 0; i < 3; i++) {
        uint64_t commit = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
        for (int t = 0; t < 200 && kc_info_u64(&cl, i, "raft", "applied_index") < commit; t++) kc_pause_ms(25);
        check_left(i, 'L');
        check_left(i, 'F');
    }
    kc_stop(&cl);
}

/* A follower away while the others write long keys and pass the snapshot
 * threshold catches up by snapshot (the image check walks long-key records)
 * and holds them; a restarted leader reads them back from its own env. */
static void test_long_keys_snapshot(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64");
    assert_true(leader >= 0);
    unsigned away = ((unsigned)leader + 1) % 3;
    kc_signal(&cl, away, SIGKILL);
    long_keys_on((unsigned)leader, 'L');
    for (int k = 0; k < 300; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET filler:%d %d", k, k);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
    }
    uint64_t commit = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
    assert_true(kc_info_u64(&cl, (unsigned)leader, "raft", "snapshot_index") > 64);
    kc_start_node(&cl, away);
    for (int i = 0; i < 800 && kc_info_u64(&cl, away, "raft", "applied_index") < commit; i++) kc_pause_ms(50);
    assert_true(kc_info_u64(&cl, away, "raft", "applied_index") >= commit);
    assert_true(kc_info_u64(&cl, away, "raft", "snapshot_index") > 0);
    check_left(away, 'L');
    /* Restart every node: each reopens its env (format 3) with the keys. */
    for (unsigned i = 0; i < 3; i++) kc_signal(&cl, i, SIGTERM);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < 3; i++) {
        /* Each node reads its own copy once it has applied what it had. */
        uint64_t c = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
        for (int t = 0; t < 400 && kc_info_u64(&cl, i, "raft", "applied_index") < c; t++) kc_pause_ms(25);
        check_left(i, 'L');
    }
    kc_stop(&cl);
}

/* Keyspace notifications carry a long key's full name, on a follower; WATCH
 * of a long key sees another client's write of it (followers forward). */
static void test_long_keys_notify_watch(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    assert_true(leader >= 0);
    unsigned L = (unsigned)leader, F = (L + 1) % 3;
    char *k = make("nk:", MAX_KEY, 'n');
    redisContext *sub = kc_connect(&cl, F), *w = kc_connect(&cl, F), *other = kc_connect(&cl, L);
    want_status(cmd(w, "CONFIG SET notify-keyspace-events KA"), "OK");
    redisReply *r = cmd(sub, "PSUBSCRIBE __keyspace@0__:nk:*");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    want_status(cmd(other, "SET %b v", k, (size_t)MAX_KEY), "OK");
    void *reply = NULL;
    assert_int_equal(redisGetReply(sub, &reply), REDIS_OK);
    r = reply;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 4);
    assert_string_equal(r->element[0]->str, "pmessage");
    assert_int_equal(r->element[2]->len, 15 + (size_t)MAX_KEY);
    assert_memory_equal(r->element[2]->str, "__keyspace@0__:", 15);
    assert_memory_equal(r->element[2]->str + 15, k, MAX_KEY);
    assert_string_equal(r->element[3]->str, "set");
    freeReplyObject(r);

    /* WATCH on the follower, a write of the key from the leader: EXEC nil. */
    want_status(cmd(w, "WATCH %b", k, (size_t)MAX_KEY), "OK");
    want_status(cmd(other, "SET %b v2", k, (size_t)MAX_KEY), "OK");
    want_status(cmd(w, "MULTI"), "OK");
    want_status(cmd(w, "SET %b mine", k, (size_t)MAX_KEY), "QUEUED");
    r = cmd(w, "EXEC");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* Unchanged since WATCH: EXEC runs. */
    want_status(cmd(w, "WATCH %b", k, (size_t)MAX_KEY), "OK");
    want_status(cmd(w, "MULTI"), "OK");
    want_status(cmd(w, "SET %b mine", k, (size_t)MAX_KEY), "QUEUED");
    r = cmd(w, "EXEC");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    want_bulk(cmd(other, "GET %b", k, (size_t)MAX_KEY), "mine", 4);
    redisFree(sub);
    redisFree(w);
    redisFree(other);
    free(k);
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_long_keys, teardown),
        cmocka_unit_test_teardown(test_long_keys_snapshot, teardown),
        cmocka_unit_test_teardown(test_long_keys_notify_watch, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
