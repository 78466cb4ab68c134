/* tests: the state machine (store/), command by command: SET, DEL, INCRBY,
 * APPEND/GETDEL/GETEX. Expiry: test_store_expiry.c; reads, hashes and CAS:
 * test_store_hash.c; BATCH: test_store_batch.c; the apply contract:
 * test_store_contract.c. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
