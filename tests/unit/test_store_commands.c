/* tests: the state machine (store/), command by command: SET, DEL, INCRBY,
 * EXPIRE/PERSIST, expiry by log time, reads, hashes, CAS, BATCH and SWEEP.
 * The apply contract is in test_store_contract.c. */
#include "store_fixture.h"

/* ---- SET --------------------------------------------------------------- */

static void test_set_plain(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(get(f, "k", 1000), WANT_NIL);
    EXPECT(do_set(f, "k", "v1", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("v1"));
    assert_int_equal(version(f, "k", 1000), f->index);
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    EXPECT(do_set(f, "k", "", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK(""));
    EXPECT(do_set(f, "k", "v2", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("v2"));
    assert_int_equal(version(f, "k", 1000), f->index);
    assert_int_equal(version(f, "other", 1000), 0);
}

static void test_set_nx_xx(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v1", 0, KEEL_SET_NX), WANT_OK);
    uint64_t v1 = f->index;
    EXPECT(do_set(f, "k", "v2", 0, KEEL_SET_NX), WANT_NIL);
    EXPECT(get(f, "k", 1000), WANT_BULK("v1"));
    assert_int_equal(version(f, "k", 1000), v1);

    EXPECT(do_set(f, "m", "v", 0, KEEL_SET_XX), WANT_NIL);
    EXPECT(get(f, "m", 1000), WANT_NIL);
    assert_false(stored(f, "m"));

    EXPECT(do_set(f, "k", "v3", 0, KEEL_SET_XX), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("v3"));
    assert_int_equal(version(f, "k", 1000), f->index);

    /* NX on an expired key: the key is absent, so NX sets. */
    EXPECT(do_set(f, "e", "old", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_set(f, "e", "new", 0, KEEL_SET_NX), WANT_OK);
    EXPECT(get(f, "e", 1500), WANT_BULK("new"));
    EXPECT(pttl(f, "e", 1500), WANT_INT(-1));
    /* XX on an expired key: absent, so nothing. */
    EXPECT(do_set(f, "x", "old", 1600, 0), WANT_OK);
    f->ts = 1600;
    EXPECT(do_set(f, "x", "new", 0, KEEL_SET_XX), WANT_NIL);
    EXPECT(get(f, "x", 0), WANT_NIL);
}

static void test_set_get(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v1", 0, KEEL_SET_GET), WANT_NIL);
    EXPECT(get(f, "k", 1000), WANT_BULK("v1"));
    EXPECT(do_set(f, "k", "v2", 0, KEEL_SET_GET), WANT_BULK("v1"));
    EXPECT(get(f, "k", 1000), WANT_BULK("v2"));
    assert_int_equal(version(f, "k", 1000), f->index);

    /* NX GET on an existing key: the old value, nothing set (Redis 7). */
    uint64_t v = f->index;
    EXPECT(do_set(f, "k", "v3", 0, KEEL_SET_NX | KEEL_SET_GET), WANT_BULK("v2"));
    EXPECT(get(f, "k", 1000), WANT_BULK("v2"));
    assert_int_equal(version(f, "k", 1000), v);
    /* XX GET on a missing key: nil, nothing set. */
    EXPECT(do_set(f, "m", "v", 0, KEEL_SET_XX | KEEL_SET_GET), WANT_NIL);
    assert_false(stored(f, "m"));
    /* XX GET on an existing key: old value, set. */
    EXPECT(do_set(f, "k", "v4", 0, KEEL_SET_XX | KEEL_SET_GET), WANT_BULK("v2"));
    EXPECT(get(f, "k", 1000), WANT_BULK("v4"));
    /* NX GET on a missing key: nil, set. */
    EXPECT(do_set(f, "n", "v", 0, KEEL_SET_NX | KEEL_SET_GET), WANT_NIL);
    EXPECT(get(f, "n", 1000), WANT_BULK("v"));
}

static void test_set_get_wrongtype(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    uint64_t v = f->index;
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET | KEEL_SET_NX), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET | KEEL_SET_XX), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "h", 1000), v);
    /* Without GET, SET replaces a key of any type, as in Redis. */
    EXPECT(do_set(f, "h", "x", 0, 0), WANT_OK);
    EXPECT(get(f, "h", 1000), WANT_BULK("x"));
    EXPECT(hget(f, "h", "f", 1000), WANT_ERR(KEEL_EWRONGTYPE));
}

static void test_set_ttl(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    /* expire_at is absolute. */
    EXPECT(do_set(f, "k", "v1", 5000, 0), WANT_OK);
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    EXPECT(pttl(f, "k", 2500), WANT_INT(2500));
    EXPECT(get(f, "k", 4999), WANT_BULK("v1"));
    EXPECT(get(f, "k", 5000), WANT_NIL);

    /* KEEPTTL keeps the old expiry. */
    f->ts = 2000;
    EXPECT(do_set(f, "k", "v2", 0, KEEL_SET_KEEPTTL), WANT_OK);
    EXPECT(get(f, "k", 2000), WANT_BULK("v2"));
    EXPECT(pttl(f, "k", 2000), WANT_INT(3000));
    assert_int_equal(version(f, "k", 2000), f->index);
    /* KEEPTTL on a key without TTL, or a missing key: none. */
    EXPECT(do_set(f, "p", "v", 0, KEEL_SET_KEEPTTL), WANT_OK);
    EXPECT(pttl(f, "p", 2000), WANT_INT(-1));
    EXPECT(do_set(f, "p", "v", 0, KEEL_SET_KEEPTTL), WANT_OK);
    EXPECT(pttl(f, "p", 2000), WANT_INT(-1));

    /* A plain SET clears the TTL. */
    EXPECT(do_set(f, "k", "v3", 0, 0), WANT_OK);
    EXPECT(pttl(f, "k", 2000), WANT_INT(-1));
    EXPECT(get(f, "k", 999999), WANT_BULK("v3"));

    /* A SET with a new expiry replaces the old one. */
    EXPECT(do_set(f, "k", "v4", 6000, 0), WANT_OK);
    EXPECT(do_set(f, "k", "v5", 9000, 0), WANT_OK);
    EXPECT(pttl(f, "k", 2000), WANT_INT(7000));
    EXPECT(do_set(f, "k", "v6", 4000, 0), WANT_OK);
    EXPECT(pttl(f, "k", 2000), WANT_INT(2000));
    assert_false(stored(f, "zz"));
}

static void test_set_expired_at_once(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    /* Expiry at the entry's own timestamp: set and gone at once. */
    EXPECT(do_set(f, "new", "v", 1000, 0), WANT_OK);
    assert_false(stored(f, "new"));
    EXPECT(get(f, "new", 0), WANT_NIL);
    /* Overwriting an existing key with an expiry in the past deletes it. */
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "k", "v2", 500, 0), WANT_OK);
    assert_false(stored(f, "k"));
    assert_int_equal(version(f, "k", 0), 0);
    /* With GET, the old value still comes back. */
    EXPECT(do_set(f, "g", "old", 0, 0), WANT_OK);
    EXPECT(do_set(f, "g", "new", 1, KEEL_SET_GET), WANT_BULK("old"));
    assert_false(stored(f, "g"));
    /* The same applies to a hash overwritten by a past-expiry SET. */
    EXPECT(do_hset(f, "h", LIST("a", "1")), WANT_INT(1));
    EXPECT(do_set(f, "h", "v", 999, 0), WANT_OK);
    assert_false(stored(f, "h"));
    /* An expiry one ms ahead survives. */
    EXPECT(do_set(f, "s", "v", 1001, 0), WANT_OK);
    EXPECT(get(f, "s", 1000), WANT_BULK("v"));
    EXPECT(pttl(f, "s", 1000), WANT_INT(1));
}

static void test_set_versions(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "1", 0, 0), WANT_OK);
    uint64_t va = f->index;
    EXPECT(do_set(f, "b", "1", 0, 0), WANT_OK);
    uint64_t vb = f->index;
    EXPECT(do_noop(f), WANT_OK);
    EXPECT(do_set(f, "c", "1", 0, 0), WANT_OK);
    assert_int_equal(version(f, "a", 1000), va);
    assert_int_equal(version(f, "b", 1000), vb);
    assert_int_equal(version(f, "c", 1000), f->index);
    /* Every kind of change moves the version to its index. */
    EXPECT(do_incrby(f, "a", 1), WANT_INT(2));
    assert_int_equal(version(f, "a", 1000), f->index);
    EXPECT(do_expire(f, "a", 90000, 0), WANT_INT(1));
    assert_int_equal(version(f, "a", 1000), f->index);
    EXPECT(do_persist(f, "a"), WANT_INT(1));
    assert_int_equal(version(f, "a", 1000), f->index);
    /* Commands that change nothing leave it. */
    uint64_t v = f->index;
    EXPECT(do_persist(f, "a"), WANT_INT(0));
    EXPECT(do_expire(f, "a", 90000, KEEL_EXPIRE_XX), WANT_INT(0));
    EXPECT(do_set(f, "a", "x", 0, KEEL_SET_NX), WANT_NIL);
    EXPECT(do_del(f, LIST("zz")), WANT_INT(0));
    assert_int_equal(version(f, "a", 1000), v);
}

/* ---- DEL --------------------------------------------------------------- */

static void test_del(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "1", 0, 0), WANT_OK);
    EXPECT(do_set(f, "b", "2", 0, 0), WANT_OK);
    EXPECT(do_set(f, "c", "3", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "d", "4", 0, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));

    EXPECT(do_del(f, LIST("a", "a", "b", "missing", "h", "a")), WANT_INT(3));
    assert_false(stored(f, "a"));
    assert_false(stored(f, "b"));
    assert_false(stored(f, "h"));
    EXPECT(get(f, "d", 1000), WANT_BULK("4"));
    EXPECT(do_del(f, LIST("a")), WANT_INT(0));

    /* An expired key counts 0 (and is gone afterwards). */
    f->ts = 2000;
    assert_true(stored(f, "c"));
    EXPECT(do_del(f, LIST("c", "d")), WANT_INT(1));
    assert_false(stored(f, "c"));
    assert_false(stored(f, "d"));
}

/* ---- INCRBY ------------------------------------------------------------ */

static void test_incrby(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_incrby(f, "n", 5), WANT_INT(5));
    EXPECT(get(f, "n", 1000), WANT_BULK("5"));
    EXPECT(do_incrby(f, "n", -7), WANT_INT(-2));
    EXPECT(get(f, "n", 1000), WANT_BULK("-2"));
    EXPECT(do_incrby(f, "n", 2), WANT_INT(0));
    EXPECT(get(f, "n", 1000), WANT_BULK("0"));
    assert_int_equal(version(f, "n", 1000), f->index);
    EXPECT(pttl(f, "n", 1000), WANT_INT(-1));

    /* Not an integer: error, value and version unchanged. */
    EXPECT(do_set(f, "s", "abc", 0, 0), WANT_OK);
    uint64_t v = f->index;
    EXPECT(do_incrby(f, "s", 1), WANT_ERR(KEEL_ENOTINT));
    EXPECT(get(f, "s", 1000), WANT_BULK("abc"));
    assert_int_equal(version(f, "s", 1000), v);

    /* A hash: WRONGTYPE, unchanged. */
    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    v = f->index;
    EXPECT(do_incrby(f, "h", 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("1"));
    assert_int_equal(version(f, "h", 1000), v);

    /* Overflow both ways: error, unchanged. */
    EXPECT(do_set(f, "max", "9223372036854775807", 0, 0), WANT_OK);
    v = f->index;
    EXPECT(do_incrby(f, "max", 1), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(do_incrby(f, "max", INT64_MAX), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(get(f, "max", 1000), WANT_BULK("9223372036854775807"));
    assert_int_equal(version(f, "max", 1000), v);
    EXPECT(do_incrby(f, "max", 0), WANT_INT(INT64_MAX));
    EXPECT(do_incrby(f, "max", INT64_MIN), WANT_INT(-1));
    EXPECT(do_set(f, "min", "-9223372036854775808", 0, 0), WANT_OK);
    EXPECT(do_incrby(f, "min", -1), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(do_incrby(f, "min", INT64_MIN), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(get(f, "min", 1000), WANT_BULK("-9223372036854775808"));
    EXPECT(do_incrby(f, "min", INT64_MAX), WANT_INT(-1));
    EXPECT(do_incrby(f, "fresh", INT64_MIN), WANT_INT(INT64_MIN));
    EXPECT(get(f, "fresh", 1000), WANT_BULK("-9223372036854775808"));

    /* INCRBY keeps the key's TTL. */
    EXPECT(do_set(f, "t", "1", 9000, 0), WANT_OK);
    EXPECT(do_incrby(f, "t", 1), WANT_INT(2));
    EXPECT(pttl(f, "t", 1000), WANT_INT(8000));
    EXPECT(get(f, "t", 8999), WANT_BULK("2"));
    EXPECT(get(f, "t", 9000), WANT_NIL);
}

/* APPEND, GETDEL, GETEX. */
static void test_append_getdel_getex(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    f->ts = 1000;
    enc_begin(f, &e);
    keel_enc_append(&e, S("a"), S("hello"));
    EXPECT(apply_enc(f, &e), WANT_INT(5));
    EXPECT(do_expire(f, "a", 5000, 0), WANT_INT(1));
    enc_begin(f, &e);
    keel_enc_append(&e, S("a"), S(" world"));
    EXPECT(apply_enc(f, &e), WANT_INT(11));
    EXPECT(get(f, "a", 1000), WANT_BULK("hello world"));
    EXPECT(pttl(f, "a", 1000), WANT_INT(4000)); /* APPEND keeps the TTL */
    assert_int_equal(version(f, "a", 1000), f->index);
    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    enc_begin(f, &e);
    keel_enc_append(&e, S("h"), S("x"));
    EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_EWRONGTYPE));

    /* GETEX: set, persist, or expire at once. */
    enc_begin(f, &e);
    keel_enc_getex(&e, S("a"), 9000, 0);
    EXPECT(apply_enc(f, &e), WANT_BULK("hello world"));
    EXPECT(pttl(f, "a", 1000), WANT_INT(8000));
    enc_begin(f, &e);
    keel_enc_getex(&e, S("a"), 0, KEEL_GETEX_PERSIST);
    EXPECT(apply_enc(f, &e), WANT_BULK("hello world"));
    EXPECT(pttl(f, "a", 1000), WANT_INT(-1));
    enc_begin(f, &e);
    keel_enc_getex(&e, S("missing"), 9000, 0);
    EXPECT(apply_enc(f, &e), WANT_NIL);
    enc_begin(f, &e);
    keel_enc_getex(&e, S("h"), 9000, 0);
    EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_EWRONGTYPE));
    enc_begin(f, &e);
    keel_enc_getex(&e, S("a"), 500, 0); /* in the past: gone */
    EXPECT(apply_enc(f, &e), WANT_BULK("hello world"));
    assert_false(stored(f, "a"));

    /* GETDEL */
    EXPECT(do_set(f, "g", "v", 0, 0), WANT_OK);
    enc_begin(f, &e);
    keel_enc_getdel(&e, S("g"));
    EXPECT(apply_enc(f, &e), WANT_BULK("v"));
    assert_false(stored(f, "g"));
    enc_begin(f, &e);
    keel_enc_getdel(&e, S("g"));
    EXPECT(apply_enc(f, &e), WANT_NIL);
    enc_begin(f, &e);
    keel_enc_getdel(&e, S("h"));
    EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_EWRONGTYPE));
    assert_true(stored(f, "h"));
}

static void test_incrby_parse(void **state)
{
    struct fx *f = *state;
    /* Redis string2ll rules: no spaces, sign only '-', no leading zeros, no
     * "-0", within int64. */
    static const char *const bad[] = {
        " 1", "1 ", "01", "+1", "1a", "", "-", "-0", "00", "--1", "1.0", "0x10", "1e3",
        "9223372036854775808", "-9223372036854775809", "99999999999999999999",
        "18446744073709551616", "123456789012345678901", "\t1", "1\n",
    };
    static const struct { const char *s; int64_t next; } good[] = {
        {"0", 1}, {"-1", 0}, {"10", 11}, {"9223372036854775806", INT64_MAX},
        {"-9223372036854775808", INT64_MIN + 1}, {"-10", -9}, {"1234567890", 1234567891},
    };
    char key[32];
    f->ts = 1000;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(key, sizeof key, "bad%zu", i);
        EXPECT(do_set(f, key, bad[i], 0, 0), WANT_OK);
        struct keel_reply_reader rd;
        struct keel_reply_item it;
        keel_reply_reader_init(&rd, do_incrby(f, key, 1));
        assert_int_equal(keel_reply_next(&rd, &it), 0);
        if (it.kind != KEEL_REPLY_ERROR || it.integer != KEEL_ENOTINT)
            fail_msg("INCRBY accepted \"%s\"", bad[i]);
        EXPECT(get(f, key, 1000), WANT_BULK(bad[i]));
        /* HINCRBY follows the same rules. */
        EXPECT(do_hset(f, "h", LIST("f", bad[i])), WANT_INT(i == 0));
        EXPECT(do_hincrby(f, "h", "f", 1), WANT_ERR(KEEL_ENOTINT));
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(key, sizeof key, "good%zu", i);
        EXPECT(do_set(f, key, good[i].s, 0, 0), WANT_OK);
        EXPECT(do_incrby(f, key, 1), WANT_INT(good[i].next));
        EXPECT(do_hset(f, "h", LIST("f", good[i].s)), WANT_INT(0));
        EXPECT(do_hincrby(f, "h", "f", 1), WANT_INT(good[i].next));
    }
}

/* ---- EXPIRE / PERSIST -------------------------------------------------- */

static void test_expire(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_expire(f, "missing", 5000, 0), WANT_INT(0));
    EXPECT(do_expire(f, "missing", 500, 0), WANT_INT(0));
    assert_false(stored(f, "missing"));

    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    /* No TTL counts as infinite (Redis 7). */
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_XX), WANT_INT(0));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_LT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    assert_int_equal(version(f, "k", 1000), f->index);
    EXPECT(do_expire(f, "k", 6000, KEEL_EXPIRE_NX), WANT_INT(0));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    /* GT: strictly greater. */
    EXPECT(do_expire(f, "k", 4000, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 6000, KEEL_EXPIRE_GT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(5000));
    /* LT: strictly less. */
    EXPECT(do_expire(f, "k", 7000, KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 6000, KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 3000, KEEL_EXPIRE_LT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(2000));
    /* XX with a TTL, and XX combined with GT / LT. */
    EXPECT(do_expire(f, "k", 8000, KEEL_EXPIRE_XX), WANT_INT(1));
    EXPECT(do_expire(f, "k", 9000, KEEL_EXPIRE_XX | KEEL_EXPIRE_GT), WANT_INT(1));
    EXPECT(do_expire(f, "k", 9500, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 8500, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(7500));
    /* Plain EXPIRE can shorten or lengthen. */
    EXPECT(do_expire(f, "k", 20000, 0), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(19000));
    EXPECT(get(f, "k", 19999), WANT_BULK("v"));

    /* PERSIST: 1 only when a TTL was removed. */
    EXPECT(do_persist(f, "k"), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    assert_int_equal(version(f, "k", 1000), f->index);
    EXPECT(do_persist(f, "k"), WANT_INT(0));
    EXPECT(do_persist(f, "missing"), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("v"));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_NX), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));

    /* A flag that fails beats an expiry in the past: nothing happens. */
    EXPECT(do_expire(f, "k", 500, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 500, KEEL_EXPIRE_NX), WANT_INT(0));
    assert_true(stored(f, "k"));
    /* In the past (or now): the key is deleted, reply 1. */
    EXPECT(do_expire(f, "k", 500, 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    EXPECT(do_set(f, "k2", "v", 0, 0), WANT_OK);
    EXPECT(do_expire(f, "k2", 1000, 0), WANT_INT(1));
    assert_false(stored(f, "k2"));
    EXPECT(do_set(f, "k3", "v", 0, 0), WANT_OK);
    EXPECT(do_expire(f, "k3", -5, KEEL_EXPIRE_LT), WANT_INT(1));
    assert_false(stored(f, "k3"));

    /* EXPIRE and PERSIST work on hashes and keep their content. */
    EXPECT(do_hset(f, "h", LIST("a", "1")), WANT_INT(1));
    EXPECT(do_expire(f, "h", 3000, 0), WANT_INT(1));
    EXPECT(hget(f, "h", "a", 2999), WANT_BULK("1"));
    EXPECT(hget(f, "h", "a", 3000), WANT_NIL);
    EXPECT(do_persist(f, "h"), WANT_INT(1));
    EXPECT(hget(f, "h", "a", 99999), WANT_BULK("1"));

    /* PERSIST / EXPIRE on an expired key: 0, as if absent. */
    EXPECT(do_set(f, "e", "v", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_persist(f, "e"), WANT_INT(0));
    EXPECT(do_expire(f, "e", 9000, 0), WANT_INT(0));
    EXPECT(get(f, "e", 0), WANT_NIL);
}

/* ---- expiry by log time ------------------------------------------------ */

static void test_expiry_entry_ts(void **state)
{
    struct fx *f = *state;
    f->ts = 500;
    EXPECT(do_set(f, "k", "5", 1000, 0), WANT_OK);
    EXPECT(do_set(f, "j", "5", 1000, 0), WANT_OK);
    /* Visible to an entry at 999, whatever any clock says. */
    f->ts = 999;
    EXPECT(do_incrby(f, "k", 1), WANT_INT(6));
    EXPECT(pttl(f, "k", 999), WANT_INT(1));
    /* Absent for an entry at 1000: INCRBY starts over, without a TTL. */
    f->ts = 1000;
    EXPECT(do_incrby(f, "k", 1), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    EXPECT(do_set(f, "j", "x", 0, KEEL_SET_GET), WANT_NIL);
}

static void test_expiry_clock_monotonic(void **state)
{
    struct fx *f = *state;
    f->ts = 100;
    EXPECT(do_set(f, "a", "1", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "b", "x", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "c", "x", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "d", "x", 2000, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    EXPECT(do_expire(f, "h", 2000, 0), WANT_INT(1));
    f->ts = 5000;
    EXPECT(do_noop(f), WANT_OK);
    /* A later entry carrying an older timestamp (a leader with a slow clock)
     * still sees them expired: the clock is the max of timestamps seen. */
    f->ts = 100;
    EXPECT(do_incrby(f, "a", 1), WANT_INT(1));
    EXPECT(do_set(f, "b", "y", 0, KEEL_SET_NX | KEEL_SET_GET), WANT_NIL);
    EXPECT(do_expire(f, "c", 9000, 0), WANT_INT(0));
    EXPECT(do_hincrby(f, "h", "f", 1), WANT_INT(1));
    EXPECT(do_del(f, LIST("d")), WANT_INT(0));
    /* Expiries at or before the clock are past, whatever the entry says. */
    EXPECT(do_set(f, "e", "v", 3000, 0), WANT_OK);
    assert_false(stored(f, "e"));
    EXPECT(do_set(f, "e", "v", 5000, 0), WANT_OK);
    assert_false(stored(f, "e"));
    EXPECT(do_set(f, "e", "v", 5001, 0), WANT_OK);
    assert_true(stored(f, "e"));
    /* And a sweep at ts 100 uses the clock too. */
    EXPECT(do_set(f, "s", "v", 0, 0), WANT_OK);
    EXPECT(do_expire(f, "s", 5001, 0), WANT_INT(1));
    f->ts = 5001;
    EXPECT(do_noop(f), WANT_OK);
    f->ts = 100;
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, do_sweep(f, 10));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("e"));
    RD(&rd, WANT_BULK("s"));
    RD_END(&rd);
}

/* ---- reads ------------------------------------------------------------- */

static void test_reads(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(do_set(f, "s", "v", 3000, 0), WANT_OK);
    uint64_t vs = f->index;
    EXPECT(do_set(f, "p", "x", 0, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("b", "2", "a", "1")), WANT_INT(2));
    EXPECT(do_expire(f, "h", 3000, 0), WANT_INT(1));
    uint64_t vh = f->index;

    EXPECT(get(f, "s", 2999), WANT_BULK("v"));
    EXPECT(get(f, "s", 3000), WANT_NIL);
    EXPECT(get(f, "missing", 0), WANT_NIL);
    EXPECT(pttl(f, "s", 1000), WANT_INT(2000));
    EXPECT(pttl(f, "s", 2999), WANT_INT(1));
    EXPECT(pttl(f, "s", 3000), WANT_INT(-2));
    EXPECT(pttl(f, "p", 1000), WANT_INT(-1));
    EXPECT(pttl(f, "p", INT64_MAX), WANT_INT(-1));
    EXPECT(pttl(f, "missing", 1000), WANT_INT(-2));
    /* A reader whose clock is behind the entries reads at the replicated
     * logical clock (1000 here) instead. */
    EXPECT(pttl(f, "s", 0), WANT_INT(2000));

    EXPECT(hget(f, "h", "a", 2999), WANT_BULK("1"));
    EXPECT(hget(f, "h", "zz", 2999), WANT_NIL);
    EXPECT(hget(f, "h", "a", 3000), WANT_NIL);
    EXPECT(hget(f, "missing", "a", 0), WANT_NIL);
    keel_reply_reader_init(&rd, hgetall(f, "h", 2999));
    RD(&rd, WANT_ARRAY(4));
    RD(&rd, WANT_BULK("a"));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_BULK("2"));
    RD_END(&rd);
    EXPECT(hgetall(f, "h", 3000), WANT_ARRAY(0));
    EXPECT(hgetall(f, "missing", 0), WANT_ARRAY(0));

    assert_int_equal(version(f, "s", 2999), vs);
    assert_int_equal(version(f, "s", 3000), 0);
    assert_int_equal(version(f, "h", 2999), vh);
    assert_int_equal(version(f, "h", 3000), 0);
    assert_int_equal(version(f, "missing", 0), 0);

    /* Wrong types. */
    EXPECT(get(f, "h", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "s", "a", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hgetall(f, "p", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    /* A hidden (expired) key of the wrong type is just absent. */
    EXPECT(hget(f, "s", "a", 3000), WANT_NIL);
    EXPECT(get(f, "h", 3000), WANT_NIL);
    /* PTTL of a hash. */
    EXPECT(pttl(f, "h", 1000), WANT_INT(2000));
}

/* ---- hashes ------------------------------------------------------------ */

static void test_hash(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(do_hset(f, "h", LIST("a", "1", "b", "2")), WANT_INT(2));
    assert_int_equal(version(f, "h", 1000), f->index);
    EXPECT(do_hset(f, "h", LIST("b", "3", "c", "4")), WANT_INT(1));
    EXPECT(hget(f, "h", "b", 1000), WANT_BULK("3"));
    /* The same field twice in one HSET: one new field, the last value wins. */
    EXPECT(do_hset(f, "h", LIST("d", "5", "d", "6")), WANT_INT(1));
    EXPECT(hget(f, "h", "d", 1000), WANT_BULK("6"));
    EXPECT(do_hset(f, "h", LIST("a", "x", "a", "y")), WANT_INT(0));
    EXPECT(hget(f, "h", "a", 1000), WANT_BULK("y"));
    /* Field order: bytewise, shorter first on a tie. */
    EXPECT(do_hset(f, "h", LIST("zeta", "z", "al", "l", "alpha", "p", "", "e")), WANT_INT(4));
    keel_reply_reader_init(&rd, hgetall(f, "h", 1000));
    RD(&rd, WANT_ARRAY(16));
    static const char *const order[] = {"", "e", "a", "y", "al", "l", "alpha", "p",
                                        "b", "3", "c", "4", "d", "6", "zeta", "z"};
    for (size_t i = 0; i < 16; i++) RD(&rd, WANT_BULK(order[i]));
    RD_END(&rd);

    /* HDEL counts removed fields; a field named twice counts once. */
    uint64_t v = f->index;
    EXPECT(do_hdel(f, "h", LIST("nope")), WANT_INT(0));
    assert_int_equal(version(f, "h", 1000), v);
    EXPECT(do_hdel(f, "h", LIST("a", "zz", "a", "b")), WANT_INT(2));
    assert_int_equal(version(f, "h", 1000), f->index);
    EXPECT(hget(f, "h", "a", 1000), WANT_NIL);
    EXPECT(hget(f, "h", "c", 1000), WANT_BULK("4"));
    EXPECT(do_hdel(f, "missing", LIST("a")), WANT_INT(0));
    assert_false(stored(f, "missing"));
    /* Deleting the last field deletes the key. */
    EXPECT(do_hdel(f, "h", LIST("", "al", "alpha", "c", "d")), WANT_INT(5));
    assert_true(stored(f, "h"));
    EXPECT(do_hdel(f, "h", LIST("zeta", "zeta")), WANT_INT(1));
    assert_false(stored(f, "h"));
    EXPECT(hgetall(f, "h", 1000), WANT_ARRAY(0));
    EXPECT(pttl(f, "h", 1000), WANT_INT(-2));
    /* ... so the name is free for a string. */
    EXPECT(do_incrby(f, "h", 1), WANT_INT(1));
}

static void test_hincrby(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hincrby(f, "h", "x", 5), WANT_INT(5));
    EXPECT(hget(f, "h", "x", 1000), WANT_BULK("5"));
    assert_int_equal(version(f, "h", 1000), f->index);
    EXPECT(do_hincrby(f, "h", "y", -3), WANT_INT(-3));
    EXPECT(do_hincrby(f, "h", "x", 2), WANT_INT(7));
    EXPECT(hget(f, "h", "y", 1000), WANT_BULK("-3"));

    EXPECT(do_hset(f, "h", LIST("s", "abc", "m", "9223372036854775807")), WANT_INT(2));
    uint64_t v = f->index;
    EXPECT(do_hincrby(f, "h", "s", 1), WANT_ERR(KEEL_ENOTINT));
    EXPECT(hget(f, "h", "s", 1000), WANT_BULK("abc"));
    EXPECT(do_hincrby(f, "h", "m", 1), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(hget(f, "h", "m", 1000), WANT_BULK("9223372036854775807"));
    EXPECT(do_hincrby(f, "h", "y", INT64_MIN), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(hget(f, "h", "y", 1000), WANT_BULK("-3"));
    assert_int_equal(version(f, "h", 1000), v);
    /* HINCRBY by 0 on a missing key creates the field. */
    EXPECT(do_hincrby(f, "new", "f", 0), WANT_INT(0));
    EXPECT(hget(f, "new", "f", 1000), WANT_BULK("0"));
}

static void test_hash_wrongtype(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "s", "v", 0, 0), WANT_OK);
    uint64_t v = f->index;
    EXPECT(do_hset(f, "s", LIST("f", "v")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_hdel(f, "s", LIST("f")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_hincrby(f, "s", "f", 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(get(f, "s", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "s", 1000), v);

    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    v = f->index;
    EXPECT(do_incrby(f, "h", 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE, 0, "1", "x", 0), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("1"));
    assert_int_equal(version(f, "h", 1000), v);

    /* An expired string no longer blocks hash commands. */
    EXPECT(do_set(f, "e", "v", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_hset(f, "e", LIST("f", "v")), WANT_INT(1));
    EXPECT(pttl(f, "e", 1500), WANT_INT(-1));
    EXPECT(do_set(f, "e2", "v", 1600, 0), WANT_OK);
    f->ts = 1600;
    EXPECT(do_hincrby(f, "e2", "f", 3), WANT_INT(3));
    EXPECT(pttl(f, "e2", 1600), WANT_INT(-1));
}

static void test_hash_keeps_ttl(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hset(f, "h", LIST("a", "1", "b", "2")), WANT_INT(2));
    EXPECT(do_expire(f, "h", 9000, 0), WANT_INT(1));
    EXPECT(do_hset(f, "h", LIST("c", "3")), WANT_INT(1));
    EXPECT(pttl(f, "h", 1000), WANT_INT(8000));
    EXPECT(do_hincrby(f, "h", "a", 1), WANT_INT(2));
    EXPECT(pttl(f, "h", 1000), WANT_INT(8000));
    EXPECT(do_hdel(f, "h", LIST("b")), WANT_INT(1));
    EXPECT(pttl(f, "h", 1000), WANT_INT(8000));
    /* An expired hash is a new one: no TTL, old fields gone. */
    f->ts = 9000;
    EXPECT(do_hset(f, "h", LIST("z", "1")), WANT_INT(1));
    EXPECT(pttl(f, "h", 9000), WANT_INT(-1));
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, hgetall(f, "h", 9000));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("z"));
    RD(&rd, WANT_BULK("1"));
    RD_END(&rd);
    /* HDEL on an expired hash: 0. */
    EXPECT(do_expire(f, "h", 9500, 0), WANT_INT(1));
    f->ts = 9500;
    EXPECT(do_hdel(f, "h", LIST("z")), WANT_INT(0));
    EXPECT(hgetall(f, "h", 9500), WANT_ARRAY(0));
}

/* ---- CAS --------------------------------------------------------------- */

static void test_cas_version(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    /* Version 0: the key must be absent. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, 0, "", "a", 0), WANT_INT(1));
    uint64_t v1 = f->index;
    EXPECT(get(f, "k", 1000), WANT_BULK("a"));
    assert_int_equal(version(f, "k", 1000), v1);
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, 0, "", "b", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("a"));
    /* The current version matches. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v1, "", "b", 0), WANT_INT(1));
    uint64_t v2 = f->index;
    EXPECT(get(f, "k", 1000), WANT_BULK("b"));
    assert_int_equal(version(f, "k", 1000), v2);
    /* A stale one does not. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v1, "", "c", 0), WANT_INT(0));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v2 + 100, "", "c", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("b"));
    assert_int_equal(version(f, "k", 1000), v2);
    /* With an expiry; then without, which clears it. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v2, "", "d", 5000), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, f->index, "", "e", 0), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    /* DELETE. */
    uint64_t v3 = version(f, "k", 1000);
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION | KEEL_CAS_DELETE, v2, "", "", 0), WANT_INT(0));
    assert_true(stored(f, "k"));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION | KEEL_CAS_DELETE, v3, "", "", 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    /* Deleting an absent key "at version 0" matches, and changes nothing. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION | KEEL_CAS_DELETE, 0, "", "", 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    /* An expiry already past: matches, and the key is gone. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, 0, "", "x", 0), WANT_INT(1));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, f->index, "", "y", 1000), WANT_INT(1));
    assert_false(stored(f, "k"));
    /* An expired key has version 0. */
    EXPECT(do_set(f, "e", "v", 1500, 0), WANT_OK);
    uint64_t ve = f->index;
    f->ts = 1500;
    EXPECT(do_cas(f, "e", KEEL_CAS_VERSION, ve, "", "w", 0), WANT_INT(0));
    EXPECT(do_cas(f, "e", KEEL_CAS_VERSION, 0, "", "w", 0), WANT_INT(1));
    EXPECT(get(f, "e", 1500), WANT_BULK("w"));
    /* Version mode does not look at the type: it replaces a hash. */
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_cas(f, "h", KEEL_CAS_VERSION, f->index, "", "s", 0), WANT_INT(1));
    EXPECT(get(f, "h", 1500), WANT_BULK("s"));
}

static void test_cas_value(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "x", 0, 0), WANT_OK);
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "x", "y", 0), WANT_INT(1));
    EXPECT(get(f, "k", 1000), WANT_BULK("y"));
    assert_int_equal(version(f, "k", 1000), f->index);
    uint64_t v = f->index;
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "x", "z", 0), WANT_INT(0));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "yy", "z", 0), WANT_INT(0));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "", "z", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("y"));
    assert_int_equal(version(f, "k", 1000), v);
    /* ABSENT: the key must not exist. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "w", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("y"));
    EXPECT(do_cas(f, "n", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "w", 7000), WANT_INT(1));
    EXPECT(get(f, "n", 1000), WANT_BULK("w"));
    EXPECT(pttl(f, "n", 1000), WANT_INT(6000));
    /* An absent key matches no expected value, not even "". */
    EXPECT(do_cas(f, "m", KEEL_CAS_VALUE, 0, "", "w", 0), WANT_INT(0));
    assert_false(stored(f, "m"));
    /* The empty value matches "". */
    EXPECT(do_set(f, "e", "", 0, 0), WANT_OK);
    EXPECT(do_cas(f, "e", KEEL_CAS_VALUE, 0, "", "q", 0), WANT_INT(1));
    EXPECT(get(f, "e", 1000), WANT_BULK("q"));
    /* DELETE. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "x", "", 0), WANT_INT(0));
    assert_true(stored(f, "k"));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "y", "", 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_ABSENT | KEEL_CAS_DELETE, 0, "", "", 0),
           WANT_INT(1));
    assert_false(stored(f, "k"));
    /* A hash: WRONGTYPE in value mode; with ABSENT it simply exists. */
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    v = f->index;
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE, 0, "v", "s", 0), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "v", "", 0),
           WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "s", 0), WANT_INT(0));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "h", 1000), v);
    /* An expired key is absent. */
    EXPECT(do_set(f, "t", "old", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_cas(f, "t", KEEL_CAS_VALUE, 0, "old", "new", 0), WANT_INT(0));
    EXPECT(do_cas(f, "t", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "new", 0), WANT_INT(1));
    EXPECT(get(f, "t", 1500), WANT_BULK("new"));
}

/* ---- BATCH ------------------------------------------------------------- */

static void test_batch(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "1", 0, 0), WANT_OK);
    uint64_t va = f->index;
    EXPECT(do_set(f, "b", "2", 0, 0), WANT_OK);
    uint64_t vb = f->index;

    /* Current versions: one reply per sub-command, all applied. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("a"), va);
    keel_enc_watch(&e, S("b"), vb);
    keel_enc_watch(&e, S("c"), 0);
    keel_enc_set(&e, S("a"), S("10"), 0, KEEL_SET_GET);
    keel_enc_incrby(&e, S("b"), 5);
    keel_enc_hset(&e, S("h"), (struct keel_slice[]){S("f"), S("v")}, 1);
    keel_enc_del(&e, (struct keel_slice[]){S("c")}, 1);
    keel_enc_expire(&e, S("b"), 9000, 0);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(5));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_INT(7));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_INT(0));
    RD(&rd, WANT_INT(1));
    RD_END(&rd);
    uint64_t vbatch = f->index;
    EXPECT(get(f, "a", 1000), WANT_BULK("10"));
    EXPECT(get(f, "b", 1000), WANT_BULK("7"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(8000));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "a", 1000), vbatch);
    assert_int_equal(version(f, "b", 1000), vbatch);
    assert_int_equal(version(f, "h", 1000), vbatch);

    /* A stale watch: nil, and nothing applied. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("b"), vbatch);
    keel_enc_watch(&e, S("a"), va);
    keel_enc_set(&e, S("z"), S("1"), 0, 0);
    keel_enc_set(&e, S("a"), S("x"), 0, 0);
    keel_enc_incrby(&e, S("b"), 1);
    EXPECT(apply_enc(f, &e), WANT_NIL);
    assert_false(stored(f, "z"));
    EXPECT(get(f, "a", 1000), WANT_BULK("10"));
    EXPECT(get(f, "b", 1000), WANT_BULK("7"));
    assert_int_equal(version(f, "a", 1000), vbatch);

    /* Version 0 on a missing key passes, and fails once the key exists. */
    for (int i = 0; i < 2; i++) {
        enc_begin(f, &e);
        keel_enc_batch_begin(&e);
        keel_enc_watch(&e, S("z"), 0);
        keel_enc_incrby(&e, S("z"), 1);
        if (i == 0) {
            keel_reply_reader_init(&rd, apply_enc(f, &e));
            RD(&rd, WANT_ARRAY(1));
            RD(&rd, WANT_INT(1));
            RD_END(&rd);
        } else {
            EXPECT(apply_enc(f, &e), WANT_NIL);
        }
    }
    EXPECT(get(f, "z", 1000), WANT_BULK("1"));

    /* A batch without watches always runs. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_persist(&e, S("b"));
    keel_enc_cas(&e, S("a"), KEEL_CAS_VALUE, 0, S("10"), S("11"), 0);
    keel_enc_hincrby(&e, S("h"), S("n"), 2);
    keel_enc_hdel(&e, S("h"), (struct keel_slice[]){S("f")}, 1);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(4));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_INT(2));
    RD(&rd, WANT_INT(1));
    RD_END(&rd);
    EXPECT(get(f, "a", 1000), WANT_BULK("11"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(-1));

    /* Sub-commands see each other's effects in order. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, S("q"), S("5"), 0, 0);
    keel_enc_incrby(&e, S("q"), 1);
    keel_enc_set(&e, S("q"), S("x"), 0, KEEL_SET_GET);
    keel_enc_del(&e, (struct keel_slice[]){S("q")}, 1);
    keel_enc_set(&e, S("q"), S("y"), 0, KEEL_SET_XX | KEEL_SET_GET);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(5));
    RD(&rd, WANT_OK);
    RD(&rd, WANT_INT(6));
    RD(&rd, WANT_BULK("6"));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_NIL);
    RD_END(&rd);
    assert_false(stored(f, "q"));
}

static void test_batch_sub_errors(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "s", "abc", 0, 0), WANT_OK);
    uint64_t vs = f->index;
    /* Errors are items of the array; the other sub-commands still apply. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("s"), vs);
    keel_enc_incrby(&e, S("s"), 1);
    keel_enc_set(&e, S("t"), S("1"), 0, 0);
    keel_enc_hset(&e, S("s"), (struct keel_slice[]){S("f"), S("v")}, 1);
    keel_enc_incrby(&e, S("u"), 2);
    keel_enc_incrby(&e, S("t"), INT64_MAX);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(5));
    RD(&rd, WANT_ERR(KEEL_ENOTINT));
    RD(&rd, WANT_OK);
    RD(&rd, WANT_ERR(KEEL_EWRONGTYPE));
    RD(&rd, WANT_INT(2));
    RD(&rd, WANT_ERR(KEEL_EOVERFLOW));
    RD_END(&rd);
    EXPECT(get(f, "s", 1000), WANT_BULK("abc"));
    assert_int_equal(version(f, "s", 1000), vs);
    EXPECT(get(f, "t", 1000), WANT_BULK("1"));
    EXPECT(get(f, "u", 1000), WANT_BULK("2"));
}

static void test_batch_watch_expired(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v", 2000, 0), WANT_OK);
    uint64_t v = f->index;
    /* Once the watched key expires its version is 0: EXEC aborts (Redis 7). */
    f->ts = 2000;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("k"), v);
    keel_enc_set(&e, S("x"), S("1"), 0, 0);
    EXPECT(apply_enc(f, &e), WANT_NIL);
    assert_false(stored(f, "x"));
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("k"), 0);
    keel_enc_set(&e, S("x"), S("1"), 0, 0);
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_OK);
    RD_END(&rd);
}

/* ---- SWEEP ------------------------------------------------------------- */

static void test_sweep(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 10;
    EXPECT(do_set(f, "a", "v", 100, 0), WANT_OK);
    EXPECT(do_set(f, "b", "v", 100, 0), WANT_OK);
    EXPECT(do_set(f, "c", "v", 50, 0), WANT_OK);
    EXPECT(do_set(f, "d", "v", 200, 0), WANT_OK);
    EXPECT(do_set(f, "e", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "f", "v", 300, 0), WANT_OK);
    EXPECT(do_hset(f, "g", LIST("x", "y")), WANT_INT(1));
    EXPECT(do_expire(f, "g", 150, 0), WANT_INT(1));
    uint64_t vd = version(f, "d", 0);

    /* Nothing is due yet. */
    EXPECT(do_sweep(f, 10), WANT_ARRAY(0));
    f->ts = 150;
    keel_reply_reader_init(&rd, do_sweep(f, 2));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("c"));
    RD(&rd, WANT_BULK("a"));
    RD_END(&rd);
    assert_int_equal(stats(f).expired, 2);
    assert_false(stored(f, "c"));
    assert_false(stored(f, "a"));
    assert_true(stored(f, "b"));
    /* A second sweep continues; expire_at == ts is due. */
    keel_reply_reader_init(&rd, do_sweep(f, 10));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_BULK("g"));
    RD_END(&rd);
    assert_int_equal(stats(f).expired, 4);
    EXPECT(do_sweep(f, 10), WANT_ARRAY(0));
    assert_int_equal(stats(f).expired, 4);
    assert_true(stored(f, "d"));
    assert_true(stored(f, "e"));
    assert_true(stored(f, "f"));
    assert_int_equal(version(f, "d", 0), vd);
    f->ts = 200;
    keel_reply_reader_init(&rd, do_sweep(f, 1));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("d"));
    RD_END(&rd);
    assert_int_equal(stats(f).expired, 5);
    /* A key whose TTL was removed or pushed back is not swept. */
    EXPECT(do_persist(f, "f"), WANT_INT(1));
    f->ts = 1000;
    EXPECT(do_sweep(f, 10), WANT_ARRAY(0));
    assert_true(stored(f, "f"));
    assert_true(stored(f, "e"));
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t nx = strlen(x), ny = strlen(y), n = nx < ny ? nx : ny;
    int c = memcmp(x, y, n);
    return c != 0 ? c : nx < ny ? -1 : nx > ny;
}

/* One sweep over many keys of various lengths and expiries: the keys come back
 * in (expiry, key) order and every one of them is gone. */
static void test_sweep_many(void **state)
{
    struct fx *f = *state;
    enum { N = 300, GROUPS = 3 };
    static char keys[N][64];
    const char *order[N];
    struct keel_reply_reader rd;
    f->ts = 10;
    /* Group g expires at 100 + g; within a group, key order. */
    const char *groups[GROUPS][N];
    size_t ng[GROUPS] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        int g = (i * 7) % GROUPS;
        snprintf(keys[i], sizeof keys[i], "key-%d-%.*s", (i * 37) % 1000, (i * 13) % 40,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        EXPECT(do_set(f, keys[i], keys[i], 100 + g, 0), WANT_OK);
        groups[g][ng[g]++] = keys[i];
    }
    size_t n = 0;
    for (int g = 0; g < GROUPS; g++) {
        qsort(groups[g], ng[g], sizeof(const char *), cmp_str);
        for (size_t i = 0; i < ng[g]; i++) order[n++] = groups[g][i];
    }
    assert_int_equal(n, N);
    EXPECT(do_set(f, "stay", "v", 0, 0), WANT_OK);
    f->ts = 200;
    keel_reply_reader_init(&rd, do_sweep(f, 1000));
    RD(&rd, WANT_ARRAY(N));
    for (size_t i = 0; i < N; i++) RD(&rd, WANT_BULK(order[i]));
    RD_END(&rd);
    for (size_t i = 0; i < N; i++) assert_false(stored(f, keys[i]));
    assert_true(stored(f, "stay"));
    assert_int_equal(stats(f).expired, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_nx_xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_expired_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_getdel_getex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrby_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_entry_ts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_clock_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hincrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_keeps_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_sub_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_watch_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
