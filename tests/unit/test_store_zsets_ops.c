/* tests: sorted sets part 2 in the state machine: ZSTORE (ZUNIONSTORE
 * ZINTERSTORE ZDIFFSTORE) and ZRANGESTORE as apply runs them, against
 * Redis 7.2's rules (weights, aggregates, sets scoring 1, NaN as 0, the
 * destination replaced or deleted, its events), the algebra compared with a
 * naive one over random sets, and the reads' ZINTERCARD count and LIMIT. */
#include <lmdb.h>
#include <math.h>

#include "storage/env.h"
#include "store/score.h"
#include "store_fixture.h"

static const struct keel_reply *zadd(struct fx *f, const char *key, const double *sc, const char *const *m,
                                     uint32_t n)
{
    struct keel_enc e;
    struct keel_slice v[16];
    assert_true(n <= 16);
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(m[i]);
    enc_begin(f, &e);
    keel_enc_zadd(&e, S(key), sc, v, n, 0);
    return apply_enc(f, &e);
}

static const struct keel_reply *sadd(struct fx *f, const char *key, const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice v[16];
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(m[i]);
    enc_begin(f, &e);
    keel_enc_sadd(&e, S(key), v, n);
    return apply_enc(f, &e);
}

/* ZSTORE flags dst srcs... with weights w (NULL: all 1). */
static const struct keel_reply *zstore(struct fx *f, unsigned flags, const char *dst, const double *w,
                                       const char *const *src, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice v[8];
    double ones[8];
    assert_true(n <= 8);
    for (uint32_t i = 0; i < n; i++) {
        v[i] = keel_str(src[i]);
        ones[i] = 1;
    }
    enc_begin(f, &e);
    keel_enc_zstore(&e, flags, S(dst), v, w != NULL ? w : ones, n);
    return apply_enc(f, &e);
}

static const struct keel_reply *zrangestore(struct fx *f, const char *dst, const char *src, unsigned flags,
                                            int64_t a, int64_t b, double smin, double smax, const char *lmin,
                                            const char *lmax)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_zrangestore(&e, S(dst), S(src), flags, a, b, smin, smax, S(lmin), S(lmax));
    return apply_enc(f, &e);
}

/* The sorted set as "m=score,..." by score ("-" absent, "!" another type). */
static const char *zset(struct fx *f, const char *key, char *out, size_t size)
{
    static const struct keel_zsel all = {.by = KEEL_ZSEL_RANK, .start = 0, .end = -1};
    struct keel_read rd;
    struct keel_coll coll;
    struct keel_zres res;
    out[0] = 0;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    int rc = keel_read_zset(&rd, S(key), &coll);
    if (rc == KEEL_ENOTFOUND) snprintf(out, size, "-");
    else if (rc == KEEL_EWRONGTYPE) snprintf(out, size, "!");
    keel_zres_init(&res);
    if (rc == 0) {
        assert_int_equal(coll.count > 0, 1);
        assert_int_equal(keel_read_zselect(&rd, &coll, &all, &res), 0);
        assert_int_equal(res.ms.n, coll.count); /* the count in step with the index */
    }
    for (size_t i = 0, n = 0; i < res.ms.n; i++) {
        char t[KEEL_SCORE_MAX + 1];
        struct keel_slice m = keel_members_at(&res.ms, i);
        double d;
        t[keel_score_format(res.sc[i], t)] = 0;
        /* the member's own score agrees with its index entry */
        assert_int_equal(keel_read_zscore(&rd, &coll, m, &d), 0);
        assert_true(d == res.sc[i]);
        n += (size_t)snprintf(out + n, size - n, "%s%.*s=%s", i ? "," : "", (int)m.n, (const char *)m.p, t);
    }
    keel_zres_close(&res);
    keel_read_end(&rd);
    return out;
}

#define ZSET(f, key, want)                                           \
    do {                                                             \
        char buf_[1024];                                             \
        assert_string_equal(zset((f), (key), buf_, sizeof buf_), (want)); \
    } while (0)

static uint64_t subkeys(struct fx *f)
{
    struct keel_txn txn;
    MDB_stat st;
    struct keel_storage *s = keel_store_storage(f->st);
    assert_int_equal(storage_txn_begin(s, false, &txn), 0);
    assert_int_equal(mdb_stat(txn.mdb, s->members, &st), 0);
    storage_txn_abort(&txn);
    return st.ms_entries;
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

#define UNION KEEL_SSTORE_UNION
#define INTER KEEL_SSTORE_INTER
#define DIFF KEEL_SSTORE_DIFF

static void fill(struct fx *f)
{
    static const double abc[] = {1, 2, 3};
    EXPECT(zadd(f, "a", abc, LIST("a", "b", "c")), WANT_INT(3));
    EXPECT(zadd(f, "b", abc, LIST("b", "c", "d")), WANT_INT(3));
    EXPECT(sadd(f, "s", LIST("a", "d", "x")), WANT_INT(3));
    EXPECT(do_set(f, "str", "v", 0, 0), WANT_OK);
}

static void test_zstore(void **state)
{
    struct fx *f = *state;
    static const double w23[] = {2, 3}, w1m[] = {1, -1}, w0[] = {0};
    f->ts = 1000;
    fill(f);
    EXPECT(zstore(f, UNION, "d", NULL, LIST("a", "b")), WANT_INT(4));
    ZSET(f, "d", "a=1,b=3,d=3,c=5");
    EXPECT(zstore(f, UNION, "d", w23, LIST("a", "b")), WANT_INT(4));
    ZSET(f, "d", "a=2,b=7,d=9,c=12");
    EXPECT(zstore(f, UNION | KEEL_ZSTORE_MIN, "d", NULL, LIST("a", "b")), WANT_INT(4));
    ZSET(f, "d", "a=1,b=1,c=2,d=3");
    EXPECT(zstore(f, UNION | KEEL_ZSTORE_MAX, "d", NULL, LIST("a", "b")), WANT_INT(4));
    ZSET(f, "d", "a=1,b=2,c=3,d=3");
    EXPECT(zstore(f, INTER, "d", w1m, LIST("a", "b")), WANT_INT(2));
    ZSET(f, "d", "b=1,c=1");
    EXPECT(zstore(f, DIFF, "d", NULL, LIST("a", "b")), WANT_INT(1));
    ZSET(f, "d", "a=1");
    EXPECT(zstore(f, UNION, "d", NULL, LIST("a", "s")), WANT_INT(5));
    ZSET(f, "d", "d=1,x=1,a=2,b=2,c=3");
    EXPECT(zstore(f, DIFF, "d", NULL, LIST("s", "a", "nosuch")), WANT_INT(2));
    ZSET(f, "d", "d=1,x=1");
    /* inf + -inf and 0 * inf are NaN: 0, as Redis. */
    static const double inf[] = {INFINITY}, ninf[] = {-INFINITY};
    zadd(f, "i1", inf, LIST("x"));
    zadd(f, "i2", ninf, LIST("x"));
    EXPECT(zstore(f, UNION, "d", NULL, LIST("i1", "i2")), WANT_INT(1));
    ZSET(f, "d", "x=0");
    EXPECT(zstore(f, INTER, "d", NULL, LIST("i2", "i1")), WANT_INT(1));
    ZSET(f, "d", "x=0");
    EXPECT(zstore(f, UNION, "d", w0, LIST("i1")), WANT_INT(1));
    ZSET(f, "d", "x=0");
    /* The destination: expiry dropped, any type replaced, deleted when the
     * result is empty, a source of its own result; a WRONGTYPE source
     * leaves it as it was. */
    EXPECT(do_expire(f, "d", 5000, 0), WANT_INT(1));
    EXPECT(zstore(f, UNION, "d", NULL, LIST("a")), WANT_INT(3));
    struct keel_read rd;
    struct keel_record rec;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    assert_int_equal(keel_read_get(&rd, S("d"), &rec), 0);
    assert_int_equal(rec.expire_at, 0);
    keel_read_end(&rd);
    EXPECT(zstore(f, UNION, "d", w23, LIST("d", "b")), WANT_INT(4));
    ZSET(f, "d", "a=2,b=7,d=9,c=12");
    EXPECT(zstore(f, INTER, "d", NULL, LIST("a", "str")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(zstore(f, DIFF, "d", NULL, LIST("nosuch", "str")), WANT_ERR(KEEL_EWRONGTYPE));
    ZSET(f, "d", "a=2,b=7,d=9,c=12");
    EXPECT(zstore(f, UNION, "str", NULL, LIST("b")), WANT_INT(3));
    ZSET(f, "str", "b=1,c=2,d=3");
    EXPECT(zstore(f, INTER, "str", NULL, LIST("a", "nosuch")), WANT_INT(0));
    ZSET(f, "str", "-");
    EXPECT(zstore(f, DIFF, "s", NULL, LIST("a", "a")), WANT_INT(0));
    assert_false(stored(f, "s"));
    EXPECT(zstore(f, UNION, "nosuch", NULL, LIST("nosuch2")), WANT_INT(0));
    assert_false(stored(f, "nosuch"));
    /* Nothing orphaned: dropping every key leaves no sub-key. */
    EXPECT(do_del(f, LIST("a", "b", "d", "i1", "i2")), WANT_INT(5));
    assert_int_equal(subkeys(f), 0);
}

static void test_zrangestore(void **state)
{
    struct fx *f = *state;
    static const double zero[] = {0, 0, 0, 0, 0};
    f->ts = 1000;
    fill(f);
    zadd(f, "l", zero, LIST("a", "b", "c", "d", "e"));
    EXPECT(zrangestore(f, "r", "a", KEEL_ZSEL_RANK, 0, -1, 0, 0, "", ""), WANT_INT(3));
    ZSET(f, "r", "a=1,b=2,c=3");
    EXPECT(zrangestore(f, "r", "a", KEEL_ZSEL_RANK | KEEL_ZRS_REV, 0, 1, 0, 0, "", ""), WANT_INT(2));
    ZSET(f, "r", "b=2,c=3");
    EXPECT(zrangestore(f, "r", "a", KEEL_ZSEL_SCORE | KEEL_ZRS_MINEX, 0, -1, 1, 3, "", ""), WANT_INT(2));
    ZSET(f, "r", "b=2,c=3");
    EXPECT(zrangestore(f, "r", "a", KEEL_ZSEL_SCORE | KEEL_ZRS_REV, 1, 1, -INFINITY, INFINITY, "", ""),
           WANT_INT(1));
    ZSET(f, "r", "b=2");
    EXPECT(zrangestore(f, "r", "l", KEEL_ZSEL_LEX, 1, -1, 0, 0, "[b", "(e"), WANT_INT(2));
    ZSET(f, "r", "c=0,d=0");
    EXPECT(zrangestore(f, "r", "l", KEEL_ZSEL_LEX | KEEL_ZRS_REV, 0, 2, 0, 0, "-", "+"), WANT_INT(2));
    ZSET(f, "r", "d=0,e=0");
    EXPECT(zrangestore(f, "r", "a", KEEL_ZSEL_RANK, 5, 6, 0, 0, "", ""), WANT_INT(0));
    ZSET(f, "r", "-");
    EXPECT(zrangestore(f, "str", "nosuch", KEEL_ZSEL_RANK, 0, -1, 0, 0, "", ""), WANT_INT(0));
    assert_false(stored(f, "str"));
    EXPECT(zrangestore(f, "r", "s", KEEL_ZSEL_RANK, 0, -1, 0, 0, "", ""), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(zrangestore(f, "a", "a", KEEL_ZSEL_RANK, 1, 1, 0, 0, "", ""), WANT_INT(1));
    ZSET(f, "a", "b=2");
}

/* Redis's events: dbAdd's "new" for a created destination, the command's
 * own, or "del" when an empty result removes an existing one. */
static void test_events(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    fill(f);
    keel_store_record_events(f->st, true);
    zstore(f, UNION, "d", NULL, LIST("a", "b"));
    assert_string_equal(evs(f), "new:d/n zunionstore:d/z");
    zstore(f, INTER, "d", NULL, LIST("a", "b"));
    assert_string_equal(evs(f), "zinterstore:d/z");
    zstore(f, DIFF, "d", NULL, LIST("a", "b"));
    assert_string_equal(evs(f), "zdiffstore:d/z");
    zstore(f, INTER, "d", NULL, LIST("a", "nosuch"));
    assert_string_equal(evs(f), "del:d/g");
    zstore(f, INTER, "d", NULL, LIST("a", "nosuch"));
    assert_string_equal(evs(f), "");
    zstore(f, INTER, "d", NULL, LIST("str"));
    assert_string_equal(evs(f), "");
    zrangestore(f, "r", "a", KEEL_ZSEL_RANK, 0, 0, 0, 0, "", "");
    assert_string_equal(evs(f), "new:r/n zrangestore:r/z");
    zrangestore(f, "r", "a", KEEL_ZSEL_RANK, 0, 1, 0, 0, "", "");
    assert_string_equal(evs(f), "zrangestore:r/z");
    zrangestore(f, "r", "a", KEEL_ZSEL_RANK, 9, 9, 0, 0, "", "");
    assert_string_equal(evs(f), "del:r/g");
}

/* The naive algebra: members 'a'..'h' in up to 3 sources (each a sorted
 * set, a set, or absent), integral scores so sums are exact in any order. */
struct naive
{
    int kind[3];     /* 0 absent, 1 zset, 2 set */
    bool in[3][8];
    double sc[3][8];
};

struct scored
{
    char m;
    double s;
};

static void naive_result(const struct naive *z, unsigned flags, const double *w, char *out, size_t size)
{
    unsigned op = flags & KEEL_ZSTORE_OP;
    struct scored r[8];
    size_t n = 0;
    for (int m = 0; m < 8; m++) {
        bool keep = op == DIFF ? z->in[0][m] && !z->in[1][m] && !z->in[2][m]
                    : op == INTER ? z->in[0][m] && z->in[1][m] && z->in[2][m]
                                  : z->in[0][m] || z->in[1][m] || z->in[2][m];
        double s = 0;
        bool first = true;
        for (int j = 0; keep && j < (op == DIFF ? 1 : 3); j++) {
            if (!z->in[j][m]) continue;
            double v = z->sc[j][m] * (op == DIFF ? 1 : w[j]);
            if (first) s = v;
            else if (flags & KEEL_ZSTORE_MIN) s = v < s ? v : s;
            else if (flags & KEEL_ZSTORE_MAX) s = v > s ? v : s;
            else s += v;
            first = false;
        }
        if (keep) r[n++] = (struct scored){(char)('a' + m), s};
    }
    for (size_t i = 1; i < n; i++) /* by score, then member */
        for (size_t j = i; j > 0 && (r[j].s < r[j - 1].s || (r[j].s == r[j - 1].s && r[j].m < r[j - 1].m)); j--) {
            struct scored t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    out[0] = n == 0 ? '-' : 0;
    out[1] = 0;
    for (size_t i = 0, k = 0; i < n; i++) {
        char t[KEEL_SCORE_MAX + 1];
        t[keel_score_format(r[i].s, t)] = 0;
        k += (size_t)snprintf(out + k, size - k, "%s%c=%s", i ? "," : "", r[i].m, t);
    }
}

static void test_random_vs_naive(void **state)
{
    struct fx *f = *state;
    static const char *const names[3] = {"r0", "r1", "r2"};
    static const double wset[] = {1, 2, -1, 3, 0.5};
    static const unsigned ops[] = {UNION, INTER, DIFF};
    unsigned seed = 12345;
    f->ts = 1000;
    for (int round = 0; round < 150; round++) {
        struct naive z;
        memset(&z, 0, sizeof z);
        for (int j = 0; j < 3; j++) {
            seed = seed * 1103515245u + 12345u;
            z.kind[j] = (int)((seed >> 16) % 5 == 0 ? 0 : (seed >> 16) % 5 == 1 ? 2 : 1);
            do_del(f, LIST(names[j]));
            for (int m = 0; m < 8 && z.kind[j] != 0; m++) {
                seed = seed * 1103515245u + 12345u;
                if ((seed >> 16) % 2) continue;
                char mem[2] = {(char)('a' + m), 0};
                const char *mp = mem;
                z.in[j][m] = true;
                /* no 0: -0 and 0 compare equal, so MIN/MAX would keep
                 * whichever comes first, and the order of equal-sized
                 * sources is the implementation's */
                int v = (int)((seed >> 20) % 7) - 3;
                z.sc[j][m] = z.kind[j] == 2 ? 1 : (double)(v == 0 ? 4 : v);
                if (z.kind[j] == 2) sadd(f, names[j], &mp, 1);
                else zadd(f, names[j], &z.sc[j][m], &mp, 1);
            }
            if (!stored(f, names[j])) {
                z.kind[j] = 0;
                memset(z.in[j], 0, sizeof z.in[j]);
            }
        }
        seed = seed * 1103515245u + 12345u;
        unsigned flags = ops[(seed >> 16) % 3];
        if (flags != DIFF) flags |= (unsigned[]){0, KEEL_ZSTORE_MIN, KEEL_ZSTORE_MAX}[(seed >> 18) % 3];
        double w[3];
        for (int j = 0; j < 3; j++) w[j] = (flags & 3) == DIFF ? 1 : wset[(seed >> (20 + 2 * j)) % 5];
        char want[256], got[1024];
        naive_result(&z, flags, w, want, sizeof want);
        zstore(f, flags, "dst", w, LIST("r0", "r1", "r2"));
        assert_string_equal(zset(f, "dst", got, sizeof got), want);
        if ((flags & 3) == INTER) { /* ZINTERCARD counts the same, LIMIT stops it */
            struct keel_read rd;
            struct keel_zsrc src[3];
            uint64_t card;
            size_t n = want[0] == '-' ? 0 : 1;
            for (const char *p = want; *p; p++) n += *p == ',';
            assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
            for (int j = 0; j < 3; j++) {
                assert_int_equal(keel_read_zsrc(&rd, S(names[j]), &src[j]), 0);
                src[j].weight = 1;
            }
            assert_int_equal(keel_read_zsetop(&rd, INTER, src, 3, 0, &card, NULL), 0);
            assert_int_equal(card, n);
            assert_int_equal(keel_read_zsetop(&rd, INTER, src, 3, 1, &card, NULL), 0);
            assert_int_equal(card, n > 0 ? 1 : 0);
            keel_read_end(&rd);
        }
    }
}

/* A score (or weight) in full decimal: DBL_MAX's 309 digits and a
 * fraction, as zset.tcl's "zset score double range" sends it. */
static void test_long_score_text(void **state)
{
    char text[400], t[KEEL_SCORE_MAX + 1];
    double d;
    bool ex;
    (void)state;
    int n = snprintf(text, sizeof text, "%.17f", 1.7976931348623157e308);
    assert_true(n > 300);
    assert_true(keel_score_parse((const uint8_t *)text, (size_t)n, &d));
    t[keel_score_format(d, t)] = 0;
    assert_string_equal(t, "1.7976931348623157e+308");
    assert_true(keel_score_bound((const uint8_t *)text, (size_t)n, &d, &ex));
    assert_false(ex);
    text[n - 1] = 'x'; /* still the whole text or nothing */
    assert_false(keel_score_parse((const uint8_t *)text, (size_t)n, &d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zstore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zrangestore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_vs_naive, setup, teardown),
        cmocka_unit_test(test_long_score_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
