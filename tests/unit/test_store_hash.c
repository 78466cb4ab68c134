/* tests: reads, hashes (HSET/HDEL/HINCRBY, WRONGTYPE, a hash keeps its
 * TTL) and CAS by version and by value in the state machine. */
#include "store_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hincrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_keeps_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_value, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
