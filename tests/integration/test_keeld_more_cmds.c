/* tests/integration: the Redis commands of issue 15 item 2 (the missing
 * commands of the types Keel has), one test per family, each run on the
 * leader and on a follower of a real three-node cluster (a follower forwards
 * writes and reads), replies compared exactly as text: +status, -error,
 * :integer, "bulk", (nil), [a,b] for arrays. The expected replies are
 * Redis 7.2's (src/t_string.c, t_hash.c, db.c, expire.c and its
 * tests/unit/type/string.tcl, hash.tcl, keyspace.tcl, expire.tcl). */
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

/* C(want, fmt, ...): run the formatted command on node i, compare its reply. */
#define C(want, ...)                                         \
    do {                                                     \
        char cmd_[512];                                      \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);            \
        kc_expect(&cluster, i, true, cmd_, want);            \
    } while (0)

static void strings_on(unsigned i, const char *k)
{
    /* SETEX / PSETEX: SET with EX / PX */
    C("+OK", "SETEX %s:ex 100 v", k);
    C("\"v\"", "GET %s:ex", k);
    C(":100", "TTL %s:ex", k);
    C("-ERR invalid expire time in 'setex' command", "SETEX %s:ex 0 v", k);
    C("-ERR invalid expire time in 'setex' command", "SETEX %s:ex -10 v", k);
    C("-ERR value is not an integer or out of range", "SETEX %s:ex 1.5 v", k);
    C("-ERR wrong number of arguments for 'setex' command", "SETEX %s:ex 10", k);
    C("+OK", "PSETEX %s:px 100000 w", k);
    C(":100", "TTL %s:px", k);
    C("\"w\"", "GET %s:px", k);
    C("-ERR invalid expire time in 'psetex' command", "PSETEX %s:px 0 v", k);
    /* SETNX: 1 set, 0 not; an expired key counts as absent */
    C(":1", "SETNX %s:nx a", k);
    C(":0", "SETNX %s:nx b", k);
    C("\"a\"", "GET %s:nx", k);
    C(":1", "HSET %s:h f v", k);
    C(":0", "SETNX %s:h x", k); /* any type blocks it */
    /* GETSET: the old value (nil if none), the TTL dropped */
    C("(nil)", "GETSET %s:gs 1", k);
    C("\"1\"", "GETSET %s:gs 2", k);
    C(":1", "EXPIRE %s:gs 100", k);
    C("\"2\"", "GETSET %s:gs 3", k);
    C(":-1", "TTL %s:gs", k);
    C("-WRONGTYPE Operation against a key holding the wrong kind of value", "GETSET %s:h x", k);
    /* GETRANGE: negative indexes from the end, clamped; "" when empty */
    C("+OK", "SET %s:r Hello,World", k);
    C("\"Hello\"", "GETRANGE %s:r 0 4", k);
    C("\"Hello,World\"", "GETRANGE %s:r 0 -1", k);
    C("\"orld\"", "GETRANGE %s:r -4 -1", k);
    C("\"\"", "GETRANGE %s:r 5 3", k);
    C("\"\"", "GETRANGE %s:r -1 -5", k);
    C("\"Hello,World\"", "GETRANGE %s:r -100 100", k);
    C("\"d\"", "GETRANGE %s:r 10 100", k);
    C("\"\"", "GETRANGE %s:r 11 100", k);
    C("\"H\"", "GETRANGE %s:r 0 -100", k);
    C("\"\"", "GETRANGE %s:none 0 -1", k);
    C("-ERR value is not an integer or out of range", "GETRANGE %s:r a 1", k);
    C("-WRONGTYPE*", "GETRANGE %s:h 0 -1", k);
    /* SETRANGE: zero-padded, the TTL kept, Keel's value limit (64 MiB) */
    C(":3", "SETRANGE %s:sr 0 foo", k);
    C(":3", "SETRANGE %s:sr 1 b", k);
    C("\"fbo\"", "GET %s:sr", k);
    C(":1", "EXPIRE %s:sr 100", k);
    C(":6", "SETRANGE %s:sr 5 x", k);
    C(":6", "STRLEN %s:sr", k);
    C(":100", "TTL %s:sr", k);
    C("\"x\"", "GETRANGE %s:sr -1 -1", k);
    C("-ERR offset is out of range", "SETRANGE %s:sr -1 x", k);
    C("-ERR value is not an integer or out of range", "SETRANGE %s:sr a x", k);
    C("-ERR string exceeds maximum allowed size*", "SETRANGE %s:sr 67108864 x", k);
    C("-ERR string exceeds maximum allowed size*", "SETRANGE %s:sr2 67108863 xy", k);
    C(":0", "EXISTS %s:sr2", k);
    C("-WRONGTYPE*", "SETRANGE %s:h 0 x", k);
    /* MSETNX: all or nothing */
    C(":1", "MSETNX %s:m1 1 %s:m2 2", k, k);
    C(":0", "MSETNX %s:m3 3 %s:m2 x", k, k);
    C(":0", "EXISTS %s:m3", k);
    C("\"2\"", "GET %s:m2", k);
    C(":1", "MSETNX %s:m4 a %s:m4 b", k, k);
    C("\"b\"", "GET %s:m4", k);
    C(":0", "MSETNX %s:h x", k);
    C("-ERR wrong number of arguments for 'msetnx' command", "MSETNX %s:m5 1 %s:m6", k, k);
    C("-ERR wrong number of arguments for 'msetnx' command", "MSETNX %s:m5", k);
    /* INCRBYFLOAT: Redis's parsing, formatting and refusals */
    C("\"1\"", "INCRBYFLOAT %s:f 1", k);
    C("\"1.25\"", "INCRBYFLOAT %s:f 0.25", k);
    C("\"1.25\"", "GET %s:f", k);
    C("+OK", "SET %s:f 10.5", k);
    C("\"10.6\"", "INCRBYFLOAT %s:f 0.1", k);
    C("+OK", "SET %s:f 5.0e3", k);
    C("\"5200\"", "INCRBYFLOAT %s:f 2.0e2", k);
    C("+OK", "SET %s:f 17179869184", k);
    C("\"17179869185.5\"", "INCRBYFLOAT %s:f 1.5", k);
    C("\"0\"", "INCRBYFLOAT %s:f -17179869185.5", k);
    C("\"-0.5\"", "INCRBYFLOAT %s:f -0.5", k);
    C(":1", "EXPIRE %s:f 100", k);
    C("\"0\"", "INCRBYFLOAT %s:f 0.5", k);
    C(":100", "TTL %s:f", k); /* the TTL stays */
    C("-ERR increment would produce NaN or Infinity", "INCRBYFLOAT %s:f +inf", k);
    C("-ERR value is not a valid float", "INCRBYFLOAT %s:f 1e4933", k); /* overflows */
    C("+OK", "SET %s:big 1.1e4932", k);
    C("-ERR increment would produce NaN or Infinity", "INCRBYFLOAT %s:big 1e4932", k);
    C("-ERR value is not a valid float", "INCRBYFLOAT %s:f abc", k);
    C("-ERR value is not a valid float", "INCRBYFLOAT %s:f nan", k);
    C("+OK", "SET %s:f abc", k);
    C("-ERR value is not a valid float", "INCRBYFLOAT %s:f 1", k);
    C("-WRONGTYPE*", "INCRBYFLOAT %s:h 1", k);
    C("\"3.5\"", "INCRBYFLOAT %s:f2 3.5", k);
    C("+OK", "SET %s:nul 1", k); /* "1", a NUL, "2": no float */
    C(":3", "SETRANGE %s:nul 2 2", k);
    C("-ERR value is not a valid float", "INCRBYFLOAT %s:nul 1", k);
}

static void test_strings(void **state)
{
    (void)state;
    char k[16];
    for (unsigned n = 0; n < 2; n++) {
        snprintf(k, sizeof k, "s%u", n);
        strings_on(node_at(n), k);
    }
}

/* SETBIT GETBIT SUBSTR LCS (string.tcl's cases and Redis's LCS example). */
static void bits_on(unsigned i, const char *k)
{
    C(":0", "SETBIT %s:b 1 1", k);
    C(":1", "SETBIT %s:b 1 0", k);
    C(":0", "SETBIT %s:b 17 1", k);
    C(":3", "STRLEN %s:b", k);
    C(":1", "GETBIT %s:b 17", k);
    C(":0", "GETBIT %s:b 100", k);
    C(":0", "GETBIT %s:none 0", k);
    C("+OK", "SET %s:b2 1", k); /* '1' is 0x31: bits 2, 3, 7 */
    C(":1", "GETBIT %s:b2 2", k);
    C(":0", "GETBIT %s:b2 4", k);
    C(":0", "SETBIT %s:b2 6 1", k);
    C("\"3\"", "GET %s:b2", k);
    C("-ERR bit offset is not an integer or out of range", "SETBIT %s:b -1 1", k);
    C("-ERR bit offset is not an integer or out of range", "SETBIT %s:b 4294967296 1", k);
    C("-ERR bit offset is not an integer or out of range", "GETBIT %s:b x", k);
    C("-ERR bit is not an integer or out of range", "SETBIT %s:b 0 2", k);
    C("-ERR bit is not an integer or out of range", "SETBIT %s:b 0 -1", k);
    C(":1", "HSET %s:h f v", k);
    C("-WRONGTYPE*", "SETBIT %s:h 0 1", k);
    C("-WRONGTYPE*", "GETBIT %s:h 0", k);
    C("+OK", "SET %s:s foobar", k);
    C("\"oba\"", "SUBSTR %s:s 2 4", k);
    C("\"ar\"", "SUBSTR %s:s -2 -1", k);
    C("+OK", "MSET %s:l1 ohmytext %s:l2 mynewtext", k, k);
    C("\"mytext\"", "LCS %s:l1 %s:l2", k, k);
    C(":6", "LCS %s:l1 %s:l2 LEN", k, k);
    C("[\"matches\",[[[:4,:7],[:5,:8]],[[:2,:3],[:0,:1]]],\"len\",:6]", "LCS %s:l1 %s:l2 IDX", k, k);
    C("[\"matches\",[[[:4,:7],[:5,:8],:4]],\"len\",:6]", "LCS %s:l1 %s:l2 IDX MINMATCHLEN 4 WITHMATCHLEN", k, k);
    C("\"\"", "LCS %s:l1 %s:none", k, k);
    C("-ERR If you want both the length and indexes, please just use IDX.", "LCS %s:l1 %s:l2 LEN IDX", k, k);
    C("-ERR syntax error", "LCS %s:l1 %s:l2 MINMATCHLEN", k, k);
    C("-ERR The specified keys must contain string values", "LCS %s:l1 %s:h", k, k);
}

static void test_bits_lcs(void **state)
{
    (void)state;
    char k[16];
    for (unsigned n = 0; n < 2; n++) {
        snprintf(k, sizeof k, "b%u", n);
        bits_on(node_at(n), k);
    }
}

/* The reply of cmd on node i, as text (kc_reply_text, bulks quoted). */
static void reply_of(unsigned i, const char *cmd, char *got, size_t size)
{
    redisReply *r = kc_cmd(&cluster, i, cmd);
    if (r == NULL) fail_msg("node %u: %s: no reply", i + 1, cmd);
    kc_reply_text(r, true, got, size);
    freeReplyObject(r);
}

/* Whether got is one of the |-separated alternatives in any. */
static bool one_of(const char *got, const char *any)
{
    size_t n = strlen(got);
    for (const char *p = any; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, got, n) == 0) return true;
        p += len + (p[len] == '|');
    }
    return false;
}

/* Every element of an array reply (as text, "[a,b]") is one of any;
 * returns how many there were. */
static unsigned all_of(const char *got, const char *any)
{
    char buf[4096], *save = NULL;
    unsigned n = 0;
    size_t len = strlen(got);
    if (len < 2 || got[0] != '[' || got[len - 1] != ']') fail_msg("not an array: %s", got);
    snprintf(buf, sizeof buf, "%.*s", (int)(len - 2), got + 1);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), n++)
        if (!one_of(t, any)) fail_msg("%s: element %s unexpected", got, t);
    return n;
}

static void hashes_on(unsigned i, const char *k)
{
    char cmd[256], got[4096];
    C(":3", "HSET %s:h a 1 b 22 c 333", k);
    C("+OK", "SET %s:s x", k);
    /* HSETNX: only a new field */
    C(":0", "HSETNX %s:h a 9", k);
    C("\"1\"", "HGET %s:h a", k);
    C(":1", "HSETNX %s:h2 x 1", k);
    C(":1", "HSETNX %s:h2 y 2", k);
    C(":0", "HSETNX %s:h2 y 3", k);
    C("[\"x\",\"1\",\"y\",\"2\"]", "HGETALL %s:h2", k);
    C("-WRONGTYPE*", "HSETNX %s:s a 1", k);
    C("-ERR wrong number of arguments for 'hsetnx' command", "HSETNX %s:h2 a", k);
    /* HKEYS HVALS HSTRLEN */
    C("[\"a\",\"b\",\"c\"]", "HKEYS %s:h", k);
    C("[\"1\",\"22\",\"333\"]", "HVALS %s:h", k);
    C("[]", "HKEYS %s:none", k);
    C("[]", "HVALS %s:none", k);
    C("-WRONGTYPE*", "HKEYS %s:s", k);
    C("-WRONGTYPE*", "HVALS %s:s", k);
    C(":3", "HSTRLEN %s:h c", k);
    C(":0", "HSTRLEN %s:h zz", k);
    C(":0", "HSTRLEN %s:none a", k);
    C("-WRONGTYPE*", "HSTRLEN %s:s a", k);
    /* HRANDFIELD: chosen by the node that answers */
    snprintf(cmd, sizeof cmd, "HRANDFIELD %s:h", k);
    reply_of(i, cmd, got, sizeof got);
    if (!one_of(got, "\"a\"|\"b\"|\"c\"")) fail_msg("%s: %s", cmd, got);
    C("[]", "HRANDFIELD %s:h 0", k);
    snprintf(cmd, sizeof cmd, "HRANDFIELD %s:h 5", k);
    reply_of(i, cmd, got, sizeof got);
    assert_int_equal(all_of(got, "\"a\"|\"b\"|\"c\""), 3);
    assert_true(strstr(got, "\"a\"") && strstr(got, "\"b\"") && strstr(got, "\"c\""));
    snprintf(cmd, sizeof cmd, "HRANDFIELD %s:h 2", k);
    reply_of(i, cmd, got, sizeof got);
    assert_int_equal(all_of(got, "\"a\"|\"b\"|\"c\""), 2);
    snprintf(cmd, sizeof cmd, "HRANDFIELD %s:h -7", k);
    reply_of(i, cmd, got, sizeof got);
    assert_int_equal(all_of(got, "\"a\"|\"b\"|\"c\""), 7);
    snprintf(cmd, sizeof cmd, "HRANDFIELD %s:h 5 WITHVALUES", k);
    reply_of(i, cmd, got, sizeof got);
    assert_int_equal(all_of(got, "\"a\"|\"b\"|\"c\"|\"1\"|\"22\"|\"333\""), 6);
    assert_non_null(strstr(got, "\"b\",\"22\""));
    snprintf(cmd, sizeof cmd, "HRANDFIELD %s:h -3 WITHVALUES", k);
    reply_of(i, cmd, got, sizeof got);
    assert_int_equal(all_of(got, "\"a\"|\"b\"|\"c\"|\"1\"|\"22\"|\"333\""), 6);
    C("(nil)", "HRANDFIELD %s:none", k);
    C("[]", "HRANDFIELD %s:none 3", k);
    C("[]", "HRANDFIELD %s:none -3 WITHVALUES", k);
    C("-ERR syntax error", "HRANDFIELD %s:h 1 x", k);
    C("-ERR syntax error", "HRANDFIELD %s:h 1 WITHVALUES x", k);
    C("-ERR value is not an integer or out of range", "HRANDFIELD %s:h x", k);
    C("-ERR value is out of range", "HRANDFIELD %s:h -9223372036854770000 WITHVALUES", k);
    C("-ERR value is out of range*", "HRANDFIELD %s:h -9223372036854775808", k);
    C("-WRONGTYPE*", "HRANDFIELD %s:s", k);
    /* HSCAN: the whole (small) hash at once, cursor 0 */
    C("[\"0\",[\"a\",\"1\",\"b\",\"22\",\"c\",\"333\"]]", "HSCAN %s:h 0", k);
    C("[\"0\",[\"b\",\"22\"]]", "HSCAN %s:h 0 MATCH b* COUNT 1", k);
    C("[\"0\",[]]", "HSCAN %s:none 0", k);
    C("[\"0\",[]]", "HSCAN %s:none 0 BAD", k);
    C("-ERR invalid cursor", "HSCAN %s:h x", k);
    C("-ERR syntax error", "HSCAN %s:h 0 COUNT 0", k);
    C("-ERR syntax error", "HSCAN %s:h 0 NOPE 1", k);
    C("-ERR syntax error", "HSCAN %s:h 0 MATCH", k);
    C("-WRONGTYPE*", "HSCAN %s:s 0", k);
    /* HINCRBYFLOAT: the increment checked first, then the field */
    C("\"1.5\"", "HINCRBYFLOAT %s:hf x 1.5", k);
    C("\"3\"", "HINCRBYFLOAT %s:hf x 1.5", k);
    C("\"10.6\"", "HINCRBYFLOAT %s:h a 9.6", k);
    C("\"10.6\"", "HGET %s:h a", k);
    C("-ERR value is NaN or Infinity", "HINCRBYFLOAT %s:hf x inf", k);
    C("-ERR value is not a valid float", "HINCRBYFLOAT %s:hf x y", k);
    C(":1", "HSET %s:hf s abc", k);
    C("-ERR hash value is not a float", "HINCRBYFLOAT %s:hf s 1", k);
    C(":1", "HSET %s:hf big 1.1e4932", k);
    C("-ERR increment would produce NaN or Infinity", "HINCRBYFLOAT %s:hf big 1e4932", k);
    C("-WRONGTYPE*", "HINCRBYFLOAT %s:s a 1", k);
    C("-ERR value is NaN or Infinity", "HINCRBYFLOAT %s:s a -inf", k);
}

static void test_hashes(void **state)
{
    (void)state;
    char k[16];
    for (unsigned n = 0; n < 2; n++) {
        snprintf(k, sizeof k, "h%u", n);
        hashes_on(node_at(n), k);
    }
}

static void keyspace_on(unsigned i, const char *k)
{
    char cmd[256], got[4096];
    /* EXPIRETIME PEXPIRETIME: absolute times, -1 none, -2 absent */
    C("+OK", "SET %s:t v", k);
    C(":-1", "EXPIRETIME %s:t", k);
    C(":-1", "PEXPIRETIME %s:t", k);
    C(":-2", "EXPIRETIME %s:none", k);
    C(":-2", "PEXPIRETIME %s:none", k);
    C(":1", "EXPIREAT %s:t 4102444800", k);
    C(":4102444800", "EXPIRETIME %s:t", k);
    C(":4102444800000", "PEXPIRETIME %s:t", k);
    C(":1", "PEXPIREAT %s:t 4102444800499", k);
    C(":4102444800", "EXPIRETIME %s:t", k);
    C(":1", "PEXPIREAT %s:t 4102444800500", k);
    C(":4102444801", "EXPIRETIME %s:t", k);
    /* TOUCH: how many exist, duplicates counted */
    C(":1", "HSET %s:h f v", k);
    C(":3", "TOUCH %s:t %s:h %s:none %s:t", k, k, k, k);
    C(":0", "TOUCH %s:none", k);
    /* RANDOMKEY: some key (there are keys) */
    reply_of(i, "RANDOMKEY", got, sizeof got);
    if (got[0] != '"') fail_msg("RANDOMKEY: %s", got);
    C("-ERR wrong number of arguments for 'randomkey' command", "RANDOMKEY x");
    /* TIME: [seconds, microseconds] of the cluster clock */
    reply_of(i, "TIME", got, sizeof got);
    unsigned long long sec, usec;
    if (sscanf(got, "[\"%llu\",\"%llu\"]", &sec, &usec) != 2 || sec < 1700000000ull || usec >= 1000000)
        fail_msg("TIME: %s", got);
    C("-ERR wrong number of arguments for 'time' command", "TIME x");
    (void)cmd;
    /* RENAME / RENAMENX: the record moves whole */
    C("-ERR no such key", "RENAME %s:none %s:x", k, k);
    C("-ERR no such key", "RENAMENX %s:none %s:none", k, k);
    C("+OK", "SET %s:a 1", k);
    C(":1", "EXPIRE %s:a 100", k);
    C("+OK", "RENAME %s:a %s:b", k, k);
    C("(nil)", "GET %s:a", k);
    C("\"1\"", "GET %s:b", k);
    C(":100", "TTL %s:b", k);
    C("+OK", "RENAME %s:b %s:b", k, k);
    C(":0", "RENAMENX %s:b %s:b", k, k);
    C("+OK", "SET %s:c 2", k);
    C(":0", "RENAMENX %s:b %s:c", k, k);
    C("+OK", "RENAME %s:b %s:c", k, k);
    C("\"1\"", "GET %s:c", k);
    C(":1", "RENAMENX %s:c %s:d", k, k);
    C("+OK", "RENAME %s:h %s:hh", k, k);
    C("\"v\"", "HGET %s:hh f", k);
    C("-ERR wrong number of arguments for 'rename' command", "RENAME %s:hh", k);
    /* COPY [DB 0] [REPLACE] */
    C(":1", "COPY %s:d %s:e", k, k);
    C("\"1\"", "GET %s:e", k);
    C(":0", "COPY %s:hh %s:e", k, k);
    C(":1", "COPY %s:hh %s:e REPLACE", k, k);
    C("\"v\"", "HGET %s:e f", k);
    C(":0", "HSET %s:e f changed", k);
    C("\"v\"", "HGET %s:hh f", k); /* a copy, not a link */
    C(":0", "COPY %s:none %s:e", k, k);
    C(":1", "COPY %s:d %s:e DB 0 REPLACE", k, k);
    C("-ERR source and destination objects are the same", "COPY %s:d %s:d", k, k);
    C("-ERR DB index is out of range", "COPY %s:d %s:e DB 16", k, k);
    C(":1", "COPY %s:d %s:d DB 1", k, k); /* another database: not the same object */
    C(":0", "COPY %s:d %s:d DB 1", k, k);
    C("-ERR value is not an integer or out of range", "COPY %s:d %s:e DB x", k, k);
    C("-ERR syntax error", "COPY %s:d %s:e BAD", k, k);
    C("-ERR syntax error", "COPY %s:d %s:e DB", k, k);
}

static void test_keyspace(void **state)
{
    (void)state;
    char k[16];
    for (unsigned n = 0; n < 2; n++) {
        snprintf(k, sizeof k, "k%u", n);
        keyspace_on(node_at(n), k);
    }
}

/* Inside MULTI: each new write queues and answers in the EXEC array as it
 * would alone (SETNX's 1/0 and INCRBYFLOAT included). */
static void test_multi(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        redisContext *ctx = kc_connect(&cluster, node_at(n));
        char got[1024];
        const char *script[][2] = {
            {"SET mx:a 1", "+OK"},
            {"MULTI", "+OK"},
            {"SETNX mx:a 2", "+QUEUED"},
            {"SETNX mx:b 2", "+QUEUED"},
            {"GETSET mx:b 3", "+QUEUED"},
            {"SETEX mx:c 100 x", "+QUEUED"},
            {"RENAME mx:c mx:d", "+QUEUED"},
            {"RENAMENX mx:a mx:d", "+QUEUED"},
            {"COPY mx:a mx:e", "+QUEUED"},
            {"MSETNX mx:f 1 mx:g 2", "+QUEUED"},
            {"SETRANGE mx:f 1 z", "+QUEUED"},
            {"HSETNX mx:h f v", "+QUEUED"},
            {"EXEC", "[:0,:1,\"2\",+OK,+OK,:0,:1,:1,:2,:1]"},
            {"MULTI", "+OK"},
            {"FLUSHDB", "+QUEUED"},
            {"EXEC", "[+OK]"},
            {"DBSIZE", ":0"},
            {"MULTI", "+OK"},
            {"INCRBYFLOAT mx:n 1.5", "+QUEUED"},
            {"EXEC", "[\"1.5\"]"},
        };
        assert_non_null(ctx);
        for (size_t k = 0; k < sizeof script / sizeof script[0]; k++) {
            redisReply *r = redisCommand(ctx, script[k][0]);
            assert_non_null(r);
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
            bool ok = kc_text_matches(got, script[k][1]);
            const char *star = strchr(script[k][1], '*');
            if (!ok && star != NULL && star[1] != 0) { /* "prefix*middle*": both parts */
                char pre[256], mid[256];
                snprintf(pre, sizeof pre, "%.*s", (int)(star - script[k][1]), script[k][1]);
                snprintf(mid, sizeof mid, "%.*s", (int)strcspn(star + 1, "*"), star + 1);
                ok = strncmp(got, pre, strlen(pre)) == 0 && strstr(got, mid) != NULL;
            }
            if (!ok) fail_msg("node %u step %zu: %s\n  want %s\n  got  %s", node_at(n) + 1, k,
                              script[k][0], script[k][1], got);
        }
        redisFree(ctx);
    }
}

/* ACL key patterns judge RENAME's and COPY's keys each by its role. */
static void test_acl_keys(void **state)
{
    (void)state;
    unsigned i = node_at(0);
    char got[512];
    C("+OK", "ACL SETUSER cp15 on >pw ~dst* %%%%R~src* +@all"); /* %% twice: snprintf, then hiredis */
    C("+OK", "SET src:a 1");
    C("+OK", "SET dst:z 1");
    const char *script[][2] = {
        {"COPY src:a dst:a", ":1"},
        {"GET dst:a", "\"1\""},
        {"RENAME src:a dst:b", "-NOPERM*"},
        {"RENAME dst:a dst:b", "+OK"},
        {"COPY dst:b src:c", "-NOPERM*"},
        {"RENAME dst:b dst:z", "+OK"},
    };
    for (unsigned n = 0; n < 2; n++) {
        redisContext *ctx = kc_connect(&cluster, node_at(n));
        assert_non_null(ctx);
        redisReply *r = redisCommand(ctx, "AUTH cp15 pw");
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
        for (size_t k = 0; k < sizeof script / sizeof script[0]; k++) {
            r = redisCommand(ctx, script[k][0]);
            assert_non_null(r);
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
            if (!kc_text_matches(got, script[k][1]))
                fail_msg("node %u: %s\n  want %s\n  got  %s", node_at(n) + 1, script[k][0], script[k][1], got);
        }
        redisFree(ctx);
        C(":1", "DEL dst:z");
        C("+OK", "SET src:a 1");
    }
}

/* Pipelined INCRBYFLOAT and HINCRBYFLOAT on one key from the leader and a
 * follower at once: each result is computed on the leader after a barrier
 * (so after its pipelined predecessors applied), and one that raced another
 * client's write is rebuilt; every increment counts exactly once. */
static void test_float_pipelines(void **state)
{
    (void)state;
    enum { N = 150 };
    redisContext *ctx[2];
    char got[256];
    for (unsigned n = 0; n < 2; n++) {
        ctx[n] = kc_connect(&cluster, node_at(n));
        assert_non_null(ctx[n]);
        for (unsigned k = 0; k < N; k++) {
            redisAppendCommand(ctx[n], "INCRBYFLOAT fp:n 0.5");
            redisAppendCommand(ctx[n], "HINCRBYFLOAT fp:h f 0.25");
        }
    }
    for (unsigned k = 0; k < 2 * N; k++) {
        for (unsigned n = 0; n < 2; n++) {
            redisReply *r = NULL;
            if (redisGetReply(ctx[n], (void **)&r) != REDIS_OK || r == NULL)
                fail_msg("node %u: no reply to pipelined command %u", node_at(n) + 1, k);
            if (r->type != REDIS_REPLY_STRING) {
                kc_reply_text(r, true, got, sizeof got);
                fail_msg("node %u: pipelined command %u: %s", node_at(n) + 1, k, got);
            }
            freeReplyObject(r);
        }
    }
    for (unsigned n = 0; n < 2; n++) redisFree(ctx[n]);
    unsigned i = node_at(1);
    C("\"150\"", "GET fp:n");
    C("\"75\"", "HGET fp:h f");
}

/* FLUSHDB / FLUSHALL: every key goes, the system keys stay (an ACL user,
 * the forwarding token: a follower still forwards afterwards). */
static void test_flush(void **state)
{
    (void)state;
    unsigned i = node_at(1);
    char got[256];
    C("+OK", "ACL SETUSER u15 on >pw15 ~* +@all");
    C("+OK", "SET fl:a 1");
    C("-ERR syntax error", "FLUSHDB BAD");
    C("-ERR syntax error", "FLUSHALL ASYNC SYNC");
    C("+OK", "FLUSHDB ASYNC");
    C(":0", "DBSIZE");
    C("(nil)", "RANDOMKEY");
    C("(nil)", "GET fl:a");
    C("+OK", "SET fl:b 2"); /* forwarded: the token survived */
    C("+OK", "FLUSHALL");
    C(":0", "DBSIZE");
    i = node_at(0);
    C(":0", "DBSIZE");
    C("+OK", "FLUSHALL SYNC");
    C("+OK", "FLUSHDB");
    C("+OK", "SET fl:c 3");
    C("\"fl:c\"", "RANDOMKEY");
    for (unsigned n = 0; n < 3; n++) {
        redisContext *ctx = kc_connect(&cluster, n);
        assert_non_null(ctx);
        redisReply *r = redisCommand(ctx, "AUTH u15 pw15");
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
        r = redisCommand(ctx, "GET fl:c");
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
        assert_string_equal(got, "\"3\"");
        redisFree(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_bits_lcs),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_keyspace),
        cmocka_unit_test(test_multi),
        cmocka_unit_test(test_acl_keys),
        cmocka_unit_test(test_float_pipelines),
        cmocka_unit_test(test_flush),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
