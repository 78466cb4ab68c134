/* tests: expiry in the state machine: EXPIRE/PERSIST, expiry by the log's
 * time (the entry's timestamp, never a clock read in apply), a clock that
 * never goes back, and SWEEP entries. */
#include "store_fixture.h"

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
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_entry_ts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_clock_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
