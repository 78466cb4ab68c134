/* tests: sorted sets in the state machine: ZADD (NX XX GT LT CH INCR) and
 * ZREM as apply runs them, the score index under them (order by score then
 * bytes, negative scores, -0, infinities, members too long for an index
 * key), the sub-keys going with the set, the keyspace events, and scores
 * parsed and formatted as Redis 7.2 does (store/score.h). */
#include <lmdb.h>
#include <math.h>

#include "storage/env.h"
#include "store/score.h"
#include "store_fixture.h"

static const struct keel_reply *zadd(struct fx *f, const char *key, unsigned flags, const double *sc,
                                     const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice v[8];
    assert_true(n <= 8);
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(m[i]);
    enc_begin(f, &e);
    keel_enc_zadd(&e, S(key), sc, v, n, flags);
    return apply_enc(f, &e);
}

static const struct keel_reply *zadd1(struct fx *f, const char *key, unsigned flags, double sc,
                                      const char *m)
{
    return zadd(f, key, flags, &sc, &m, 1);
}

static const struct keel_reply *zrem(struct fx *f, const char *key, const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice v[8];
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(m[i]);
    enc_begin(f, &e);
    keel_enc_zrem(&e, S(key), v, n);
    return apply_enc(f, &e);
}

/* The set by score, "m=score,..." ("-" absent, "!" wrong type), in reverse
 * with rev. */
static int join_cb(void *arg, double score, struct keel_slice m)
{
    char *out = arg, t[KEEL_SCORE_MAX + 1];
    size_t n = strlen(out);
    t[keel_score_format(score, t)] = 0;
    snprintf(out + n, 512 - n, "%s%.*s=%s", n ? "," : "", (int)(m.n > 8 ? 8 : m.n), (const char *)m.p, t);
    return 0;
}

static const char *walk(struct fx *f, const char *key, bool rev, char *out)
{
    struct keel_read rd;
    struct keel_coll coll;
    struct keel_zrange all = {-INFINITY, INFINITY, false, false};
    out[0] = 0;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    int rc = keel_read_zset(&rd, S(key), &coll);
    if (rc == KEEL_ENOTFOUND) strcpy(out, "-");
    else if (rc == KEEL_EWRONGTYPE) strcpy(out, "!");
    else assert_int_equal(keel_read_zrange_score(&rd, &coll, &all, rev, 0, -1, join_cb, out), 0);
    keel_read_end(&rd);
    return out;
}

#define ZSET(f, key, want)                                          \
    do {                                                            \
        char buf_[512];                                             \
        assert_string_equal(walk((f), (key), false, buf_), (want)); \
    } while (0)

/* The sub-keys of members and the score index: the rank index's (tags
 * KEEL_TAG_RANK + level) are left out, test_store_zrank checks those. */
static uint64_t subkeys(struct fx *f)
{
    struct keel_txn txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t n = 0;
    struct keel_storage *s = keel_store_storage(f->st);
    assert_int_equal(storage_txn_begin(s, false, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn.mdb, s->members, &c), 0);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        uint8_t tag = ((const uint8_t *)k.mv_data)[8];
        n += !(tag > KEEL_TAG_RANK && tag <= KEEL_TAG_RANK + KEEL_ZRANK_LEVELS);
    }
    mdb_cursor_close(c);
    storage_txn_abort(&txn);
    return n;
}

static void test_zadd_flags(void **state)
{
    struct fx *f = *state;
    static const double abc[] = {1, 2, 3};
    f->ts = 1000;
    EXPECT(zadd(f, "z", 0, abc, LIST("a", "b", "c")), WANT_INT(3));
    EXPECT(zadd1(f, "z", 0, 1, "a"), WANT_INT(0));
    EXPECT(zadd1(f, "z", KEEL_ZADD_CH, 5, "a"), WANT_INT(1));
    EXPECT(zadd1(f, "z", KEEL_ZADD_XX, 9, "x"), WANT_INT(0));
    EXPECT(zadd1(f, "z", KEEL_ZADD_NX | KEEL_ZADD_CH, 9, "a"), WANT_INT(0));
    EXPECT(zadd1(f, "z", KEEL_ZADD_GT | KEEL_ZADD_CH, 4, "a"), WANT_INT(0));
    EXPECT(zadd1(f, "z", KEEL_ZADD_LT | KEEL_ZADD_CH, 4, "a"), WANT_INT(1));
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR, 0.5, "a"), WANT_BULK("4.5"));
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR | KEEL_ZADD_NX, 1, "a"), WANT_NIL);
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR | KEEL_ZADD_LT, 1, "a"), WANT_NIL);
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR, 0, "a"), WANT_BULK("4.5")); /* processed, unchanged */
    EXPECT(zadd1(f, "nokey", KEEL_ZADD_XX | KEEL_ZADD_INCR, 1, "a"), WANT_NIL);
    assert_false(stored(f, "nokey"));
    ZSET(f, "z", "b=2,c=3,a=4.5");
    EXPECT(zadd1(f, "z", 0, INFINITY, "i"), WANT_INT(1));
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR, -INFINITY, "i"), WANT_ERR(KEEL_EINVAL));
    ZSET(f, "z", "b=2,c=3,a=4.5,i=inf");
    EXPECT(do_set(f, "s", "v", 0, 0), WANT_OK);
    EXPECT(zadd1(f, "s", 0, 1, "a"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(zrem(f, "s", LIST("a")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(zrem(f, "z", LIST("a", "x", "b")), WANT_INT(2));
    EXPECT(zrem(f, "nokey", LIST("a")), WANT_INT(0));
    ZSET(f, "z", "c=3,i=inf");
    EXPECT(zrem(f, "z", LIST("c", "i")), WANT_INT(2));
    ZSET(f, "z", "-");
    assert_false(stored(f, "z"));
}

/* The index: numeric order across signs and infinities, -0 as 0, bytes
 * among equal scores, reverse too; a moved score moves its entry. */
static void test_index_order(void **state)
{
    struct fx *f = *state;
    static const double sc[] = {-1, 2.5, -INFINITY, -0.0, 1e-300, -1e300, INFINITY, 0};
    f->ts = 1000;
    EXPECT(zadd(f, "z", 0, sc, LIST("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m0")), WANT_INT(8));
    ZSET(f, "z", "m3=-inf,m6=-1e+300,m1=-1,m0=0,m4=-0,m5=1e-300,m2=2.5,m7=inf");
    char buf[512];
    assert_string_equal(walk(f, "z", true, buf), "m7=inf,m2=2.5,m5=1e-300,m4=-0,m0=0,m1=-1,m6=-1e+300,m3=-inf");
    EXPECT(zadd1(f, "z", 0, 3, "m3"), WANT_INT(0));
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR, -10, "m7"), WANT_BULK("inf"));
    ZSET(f, "z", "m6=-1e+300,m1=-1,m0=0,m4=-0,m5=1e-300,m2=2.5,m3=3,m7=inf");
    assert_int_equal(subkeys(f), 16); /* a member and an index entry each */
}

/* A range: bounds, exclusive ends, offset and limit, as ZRANGEBYSCORE. */
static int count_cb(void *arg, double score, struct keel_slice m)
{
    (void)score;
    (void)m;
    (*(int *)arg)++;
    return 0;
}

static int range_n(struct fx *f, double min, bool minex, double max, bool maxex, bool rev, int64_t off,
                   int64_t lim)
{
    struct keel_read rd;
    struct keel_coll coll;
    struct keel_zrange z = {min, max, minex, maxex};
    int n = 0;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    assert_int_equal(keel_read_zset(&rd, S("r"), &coll), 0);
    assert_int_equal(keel_read_zrange_score(&rd, &coll, &z, rev, off, lim, count_cb, &n), 0);
    keel_read_end(&rd);
    return n;
}

static void test_ranges(void **state)
{
    struct fx *f = *state;
    static const double sc[] = {1, 2, 2, 2, 3};
    f->ts = 1000;
    EXPECT(zadd(f, "r", 0, sc, LIST("a", "b", "c", "d", "e")), WANT_INT(5));
    assert_int_equal(range_n(f, 2, false, 2, false, false, 0, -1), 3);
    assert_int_equal(range_n(f, 2, false, 2, false, true, 0, -1), 3);
    assert_int_equal(range_n(f, 1, true, 3, true, false, 0, -1), 3);
    assert_int_equal(range_n(f, 1, true, 3, true, true, 0, -1), 3);
    assert_int_equal(range_n(f, 1, false, 3, true, true, 1, 2), 2);
    assert_int_equal(range_n(f, 2, true, 2, false, false, 0, -1), 0);
    assert_int_equal(range_n(f, 3, false, 1, false, false, 0, -1), 0);
    assert_int_equal(range_n(f, -INFINITY, false, INFINITY, false, false, 4, -1), 1);
    assert_int_equal(range_n(f, -INFINITY, false, INFINITY, false, false, 5, -1), 0);
    assert_int_equal(range_n(f, -INFINITY, false, INFINITY, false, false, -1, -1), 0);
    assert_int_equal(range_n(f, -INFINITY, false, INFINITY, false, false, 0, 0), 0);
    assert_int_equal(range_n(f, 2.5, false, 100, false, true, 0, -1), 1);
    assert_int_equal(range_n(f, -100, false, 0.5, false, true, 0, -1), 0);
}

/* Sub-keys go with the set whatever removes it; long members index by
 * prefix and hash and still come back whole, in score order. */
static void test_subkeys_and_long(void **state)
{
    struct fx *f = *state;
    static const double sc[] = {3, 1, 2};
    size_t n = 70000;
    char *big = malloc(n + 1), *mid = malloc(601);
    assert_non_null(big);
    assert_non_null(mid);
    fill_value(big, n, 1);
    fill_value(mid, 600, 2);
    f->ts = 1000;
    EXPECT(zadd(f, "z", 0, sc, (const char *const[]){big, mid, "x"}, 3), WANT_INT(3));
    assert_int_equal(subkeys(f), 6);
    char buf[512], want[512];
    snprintf(want, sizeof want, "%.8s=1,x=2,%.8s=3", mid, big);
    ZSET(f, "z", want);
    EXPECT(zadd1(f, "z", KEEL_ZADD_INCR, -2.5, big), WANT_BULK("0.5"));
    snprintf(want, sizeof want, "%.8s=0.5,%.8s=1,x=2", big, mid);
    ZSET(f, "z", want);
    (void)buf;
    EXPECT(zrem(f, "z", (const char *const[]){big}, 1), WANT_INT(1));
    assert_int_equal(subkeys(f), 4);
    EXPECT(do_del(f, LIST("z")), WANT_INT(1));
    assert_int_equal(subkeys(f), 0);
    EXPECT(zadd(f, "z", 0, sc, LIST("a", "b", "c")), WANT_INT(3));
    EXPECT(do_set(f, "z", "v", 0, 0), WANT_OK); /* SET over it */
    assert_int_equal(subkeys(f), 0);
    free(big);
    free(mid);
}

static const char *evs(struct fx *f)
{
    static char buf[512];
    const struct keel_events *ev = keel_store_events(f->st);
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ev->n && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s:%.*s/%c", i ? " " : "",
                              keel_event_name(ev->ev[i].type), (int)ev->ev[i].key.n,
                              (const char *)ev->ev[i].key.p, keel_event_class(ev->ev[i].type));
    return buf;
}

/* Redis's t_zset.c: "zadd" or "zincr" when something changed, "zrem", then
 * "del" once emptied; dbAdd's "new" for a created key. */
static void test_events(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    keel_store_record_events(f->st, true);
    zadd1(f, "z", 0, 1, "a");
    assert_string_equal(evs(f), "new:z/n zadd:z/z");
    zadd1(f, "z", 0, 1, "a");
    assert_string_equal(evs(f), "");
    zadd1(f, "z", KEEL_ZADD_INCR, 1, "a");
    assert_string_equal(evs(f), "zincr:z/z");
    zrem(f, "z", LIST("x"));
    assert_string_equal(evs(f), "");
    zrem(f, "z", LIST("a"));
    assert_string_equal(evs(f), "zrem:z/z del:z/g");
    static const double sc[] = {1, 2, 3};
    zadd(f, "p", 0, sc, LIST("a", "b", "c"));
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_zremrange(&e, S("p"), KEEL_ZREM_POPMIN | KEEL_ZREM_COUNT, 1, 0, 0, 0, S(""), S(""));
    const struct keel_reply *r = apply_enc(f, &e);
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, r);
    RD(&rd, WANT_ARRAY(1)); /* with a count: pairs */
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("a"));
    RD(&rd, WANT_BULK("1"));
    RD_END(&rd);
    assert_string_equal(evs(f), "zpopmin:p/z");
    enc_begin(f, &e);
    keel_enc_zremrange(&e, S("p"), KEEL_ZREM_SCORE, 0, 0, 2, 3, S(""), S(""));
    EXPECT(apply_enc(f, &e), WANT_INT(2));
    assert_string_equal(evs(f), "zremrangebyscore:p/z del:p/g");
    assert_int_equal(subkeys(f), 0);
}

/* Scores as text: Redis 7.2's known outputs (d2string, fpconv_dtoa). */
static void test_score_text(void **state)
{
    static const struct
    {
        double d;
        const char *text;
    } fmt[] = {
        {1.5, "1.5"}, {0.1, "0.1"}, {1e20, "1e+20"}, {INFINITY, "inf"}, {-INFINITY, "-inf"},
        {0.0, "0"}, {-0.0, "-0"}, {3.0, "3"}, {-17, "-17"}, {1e-7, "1e-7"}, {0.000001, "0.000001"},
        {123456.789, "123456.789"}, {0.1 + 0.2, "0.30000000000000004"}, {1e15, "1000000000000000"},
        {4611686018427387904.0, "4611686018427387904"}, {5e18, "5e+18"}, {1e21, "1e+21"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {5e-324, "5e-324"},
        {-2.5e-3, "-0.0025"}, {10000000.5, "10000000.5"}, {1.5e19, "1.5e+19"},
        {6917529027641081856.0, "6917529027641082000"}, {-1.25e-10, "-1.25e-10"},
    };
    char t[KEEL_SCORE_MAX + 1];
    double d;
    bool ex;
    (void)state;
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        t[keel_score_format(fmt[i].d, t)] = 0;
        assert_string_equal(t, fmt[i].text);
    }
    static const char *const good[] = {"1", "-1.5", "inf", "-inf", "+inf", "1e10", "0x10", ".5", "5."};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(keel_score_parse((const uint8_t *)good[i], strlen(good[i]), &d));
    static const char *const bad[] = {"", " 1", "1 ", "nan", "abc", "1e400", "1e-400", "1x", "(1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(keel_score_parse((const uint8_t *)bad[i], strlen(bad[i]), &d));
    /* Range bounds: '(' is exclusive; "" is 0 and overflow infinite, as
     * Redis's plain strtod; NaN refused. */
    assert_true(keel_score_bound((const uint8_t *)"(1.5", 4, &d, &ex));
    assert_true(ex && d == 1.5);
    assert_true(keel_score_bound((const uint8_t *)"", 0, &d, &ex));
    assert_true(!ex && d == 0);
    assert_true(keel_score_bound((const uint8_t *)"1e400", 5, &d, &ex));
    assert_true(isinf(d));
    assert_false(keel_score_bound((const uint8_t *)"(nan", 4, &d, &ex));
    assert_false(keel_score_bound((const uint8_t *)"[1", 2, &d, &ex));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zadd_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subkeys_and_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test(test_score_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
