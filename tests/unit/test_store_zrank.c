/* tests: the rank index of sorted sets (storage/zrank.c, storage.h) against
 * a naive sorted array: random ZADDs, score changes and ZREMs through apply
 * (ties, -0, +-inf, members too long for an index key), every rank and the
 * entry at every rank compared after each step; the image check passing
 * after each batch and refusing a forged count; a format-3 env's sets
 * getting their rank index at open; and, at the storage level, sets large
 * enough for the upper levels. */
#include <lmdb.h>
#include <math.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/image.h"
#include "storage/snapshot.h"
#include "store_fixture.h"

/* ---- the naive model: entries sorted by their index key suffix ---------- */

struct ent
{
    uint8_t key[8 + KEEL_ZINDEX_INLINE]; /* storage.h's index key, less its prefix */
    size_t kn;
    int m;       /* the member's number */
    double sc;
};

#define NM 64 /* distinct members */
static char *members[NM];
static size_t mlen[NM];

static uint64_t sortable(double d)
{
    uint64_t b;
    if (d == 0) d = 0;
    memcpy(&b, &d, sizeof b);
    return b >> 63 ? ~b : b | (1ull << 63);
}

static void ent_of(struct ent *e, int m, double sc)
{
    struct keel_slice s = {(const uint8_t *)members[m], mlen[m]};
    e->m = m;
    e->sc = sc;
    be64_store(e->key, sortable(sc));
    if (s.n <= KEEL_ZINDEX_INLINE) {
        memcpy(e->key + 8, s.p, s.n);
        e->kn = 8 + s.n;
        return;
    }
    XXH128_hash_t h = XXH3_128bits(s.p, s.n);
    memcpy(e->key + 8, s.p, KEEL_ZINDEX_PREFIX);
    be64_store(e->key + 8 + KEEL_ZINDEX_PREFIX, h.high64);
    be64_store(e->key + 16 + KEEL_ZINDEX_PREFIX, h.low64);
    e->kn = 8 + KEEL_ZINDEX_INLINE;
}

static int ent_cmp(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->kn < y->kn ? x->kn : y->kn);
    return c != 0 ? c : x->kn < y->kn ? -1 : x->kn > y->kn;
}

static void make_members(void)
{
    for (int i = 0; i < NM; i++) {
        /* Short ones; some of 600 and 1500 bytes sharing a long prefix
         * (hash order among them); one empty. All distinct. */
        size_t n = i == 0 ? 0 : i % 9 == 0 ? 600 : i % 13 == 0 ? 1500 : 1 + (size_t)(i % 5);
        members[i] = malloc(n + 1);
        assert_non_null(members[i]);
        for (size_t j = 0; j < n; j++)
            members[i][j] = n > 100 ? (j + 1 == n ? (char)('0' + i) : 'a') : (char)('a' + (i + 3 * (int)j) % 26);
        members[i][n] = 0;
        mlen[i] = n;
    }
}

static void free_members(void)
{
    for (int i = 0; i < NM; i++) free(members[i]);
}

static const double scores[] = {0, -0.0, 1, 1, 2, -1, 1.5, INFINITY, -INFINITY, 1e300, -1e-300};

/* ---- apply ------------------------------------------------------------ */

static void zadd(struct fx *f, int m, double sc)
{
    struct keel_enc e;
    struct keel_slice v = {(const uint8_t *)members[m], mlen[m]};
    enc_begin(f, &e);
    keel_enc_zadd(&e, S("z"), &sc, &v, 1, 0);
    const struct keel_reply *r = apply_enc(f, &e);
    assert_true(r->len > 0 && r->buf[0] == ':');
}

static void zrem(struct fx *f, int m)
{
    struct keel_enc e;
    struct keel_slice v = {(const uint8_t *)members[m], mlen[m]};
    enc_begin(f, &e);
    keel_enc_zrem(&e, S("z"), &v, 1);
    const struct keel_reply *r = apply_enc(f, &e);
    assert_true(r->len > 0 && r->buf[0] == ':');
}

/* ---- checks ------------------------------------------------------------ */

struct first
{
    struct keel_slice m;
    bool seen;
};

static int first_cb(void *arg, double score, struct keel_slice m)
{
    struct first *f = arg;
    (void)score;
    f->m = m;
    f->seen = true;
    return 1;
}

/* Every rank, the entry at every rank (both ways), and the counts below
 * every score of the pool, against model[0..n). */
static void check_model(struct keel_storage *s, uint64_t id, const struct ent *model, size_t n)
{
    struct keel_txn txn;
    assert_int_equal(storage_txn_begin(s, false, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = UINT64_MAX;
        struct keel_slice m = {(const uint8_t *)members[model[i].m], mlen[model[i].m]};
        assert_int_equal(storage_zindex_rank(&txn, id, model[i].sc, m, &r), 0);
        if (r != i) fail_msg("member %d: rank %llu, want %zu of %zu", model[i].m, (unsigned long long)r, i, n);
        for (int rev = 0; rev < 2; rev++) {
            struct first fr = {{NULL, 0}, false};
            assert_int_equal(storage_zindex_walk_rank(&txn, id, i, rev, first_cb, &fr), 1);
            assert_true(fr.seen);
            if (fr.m.n != m.n || (m.n > 0 && memcmp(fr.m.p, m.p, m.n) != 0))
                fail_msg("the entry at rank %zu (rev %d) is not member %d (%zu bytes): %zu bytes %.20s", i, rev, model[i].m, m.n, fr.m.n, (const char *)fr.m.p);
        }
    }
    struct first none = {{NULL, 0}, false};
    assert_int_equal(storage_zindex_walk_rank(&txn, id, n, false, first_cb, &none), 0);
    assert_false(none.seen);
    for (size_t j = 0; j < sizeof scores / sizeof scores[0]; j++) {
        uint64_t lt = 0, le = 0, got;
        for (size_t i = 0; i < n; i++) {
            lt += model[i].sc < scores[j];
            le += model[i].sc <= scores[j];
        }
        assert_int_equal(storage_zindex_below(&txn, id, scores[j], false, &got), 0);
        assert_int_equal(got, lt);
        assert_int_equal(storage_zindex_below(&txn, id, scores[j], true, &got), 0);
        assert_int_equal(got, le);
    }
    storage_txn_abort(&txn);
}

static int image_check(struct keel_storage *s, char *errmsg)
{
    struct keel_snapshot snap;
    assert_int_equal(keel_storage_snapshot_create(s, &snap, errmsg), 0);
    size_t len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *img = malloc(len);
    assert_non_null(img);
    memcpy(img, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(img + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    int rc = keel_image_check(img, len, 0, NULL, errmsg);
    free(img);
    return rc;
}

static uint64_t zset_id(struct fx *f)
{
    struct keel_read rd;
    struct keel_coll coll;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    int rc = keel_read_zset(&rd, S("z"), &coll);
    keel_read_end(&rd);
    return rc == 0 ? coll.id : 0;
}

/* Random steps through apply, each checked against the model. */
static void test_random_against_model(void **state)
{
    struct fx *f = *state;
    struct ent model[NM];
    size_t n = 0;
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_storage *s = keel_store_storage(f->st);
    srand(7);
    f->ts = 1000;
    for (int step = 0; step < 1200; step++) {
        int m = rand() % NM;
        size_t at = n;
        for (size_t i = 0; i < n; i++)
            if (model[i].m == m) at = i;
        if (at < n && rand() % 3 == 0) { /* remove */
            zrem(f, m);
            model[at] = model[--n];
        } else { /* add or move */
            double sc = scores[rand() % (sizeof scores / sizeof scores[0])];
            zadd(f, m, sc);
            if (at == n) n++;
            ent_of(&model[at], m, sc);
        }
        qsort(model, n, sizeof *model, ent_cmp);
        uint64_t id = zset_id(f);
        if (step % 100 == 99 && image_check(s, errmsg) != 0) fail_msg("step %d: image refused: %s", step, errmsg);
        if (n > 0) check_model(s, id, model, n);
    }
}

/* A forged count or a missing tower is refused by the image check. */
static void test_image_refuses_forged_rank(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_storage *s = keel_store_storage(f->st);
    f->ts = 1000;
    for (int m = 0; m < NM; m++) zadd(f, m, scores[m % 11]);
    assert_int_equal(image_check(s, errmsg), 0);
    uint64_t id = zset_id(f);
    for (int c = 0; c < 2; c++) {
        MDB_txn *txn;
        uint8_t kb[9], vb[8];
        be64_store(kb, id);
        kb[8] = KEEL_TAG_RANK + 1;
        MDB_val k = {9, kb}, v;
        assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_get(txn, s->members, &k, &v), 0);
        uint64_t was = le64_load(v.mv_data);
        if (c == 0) { /* level 1's head counts one more */
            le64_store(vb, was + 1);
            v = (MDB_val){8, vb};
            assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
        } else { /* level 8's head gone */
            kb[8] = KEEL_TAG_RANK + KEEL_ZRANK_LEVELS;
            assert_int_equal(mdb_del(txn, s->members, &k, NULL), 0);
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        assert_int_equal(image_check(s, errmsg), KEEL_ECORRUPT);
        assert_non_null(strstr(errmsg, c == 0 ? "rank count" : "lacks rank towers at level 8"));
        if (c == 0) { /* put it back */
            le64_store(vb, was);
            k = (MDB_val){9, kb};
            v = (MDB_val){8, vb};
            assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
            assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
            assert_int_equal(mdb_txn_commit(txn), 0);
            assert_int_equal(image_check(s, errmsg), 0);
        }
    }
}

/* An env of format 3 (sorted sets without rank sub-keys) gets them at open. */
static void test_format3_env_built_at_open(void **state)
{
    struct fx *f = *state;
    struct ent model[NM];
    char errmsg[KEEL_ERRMSG_SIZE];
    f->ts = 1000;
    for (int m = 0; m < NM; m++) {
        zadd(f, m, scores[m % 11]);
        ent_of(&model[m], m, scores[m % 11]);
    }
    qsort(model, NM, sizeof *model, ent_cmp);
    struct keel_storage *s = keel_store_storage(f->st);
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint8_t vb[8];
    size_t dropped = 0;
    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, s->members, &c), 0);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        uint8_t tag = ((const uint8_t *)k.mv_data)[8];
        if (tag > KEEL_TAG_RANK && tag <= KEEL_TAG_RANK + KEEL_ZRANK_LEVELS) {
            assert_int_equal(mdb_cursor_del(c, 0), 0);
            dropped++;
        }
    }
    mdb_cursor_close(c);
    le64_store(vb, 3);
    k = (MDB_val){6, "format"};
    v = (MDB_val){8, vb};
    assert_int_equal(mdb_put(txn, s->meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_true(dropped >= KEEL_ZRANK_LEVELS);
    fx_reopen(f);
    s = keel_store_storage(f->st);
    check_model(s, zset_id(f), model, NM);
    if (image_check(s, errmsg) != 0) fail_msg("image refused: %s", errmsg);
}

/* Storage-level: 30000 entries in one txn (the upper levels get towers),
 * then half removed; sampled ranks against the model. */
static void test_large_levels(void **state)
{
    struct fx *f = *state;
    struct keel_storage *s = keel_store_storage(f->st);
    struct keel_txn txn;
    enum { N = 30000 };
    char buf[16];
    static uint64_t order[N]; /* member i's score is i % 1000, members "%08d": order = (score, i) */
    assert_int_equal(storage_txn_begin(s, true, &txn), 0);
    for (int i = 0; i < N; i++) {
        int j = (int)(((uint64_t)i * 7919) % N); /* a shuffled insert order */
        snprintf(buf, sizeof buf, "%08d", j);
        assert_int_equal(storage_zindex_put(&txn, 999, j % 1000, keel_str(buf)), 0);
    }
    for (int i = 0; i < N; i++) order[i] = (uint64_t)(i % 1000) * N + (uint64_t)i;
    /* rank of j = #{i: (i%1000, i) < (j%1000, j)} */
    for (int t = 0; t < 3; t++) {
        for (int j = t; j < N; j += 997) {
            uint64_t r, want = 0, key = (uint64_t)(j % 1000) * N + (uint64_t)j;
            bool alive = t == 0 || j % 2 == 1;
            if (!alive) continue;
            for (int i = 0; i < N; i++) want += (t == 0 || i % 2 == 1) && order[i] < key;
            snprintf(buf, sizeof buf, "%08d", j);
            assert_int_equal(storage_zindex_rank(&txn, 999, j % 1000, keel_str(buf), &r), 0);
            assert_int_equal(r, want);
            struct first fr = {{NULL, 0}, false};
            assert_int_equal(storage_zindex_walk_rank(&txn, 999, want, false, first_cb, &fr), 1);
            assert_true(fr.m.n == 8 && memcmp(fr.m.p, buf, 8) == 0);
        }
        if (t == 0)
            for (int i = 0; i < N; i += 2) {
                snprintf(buf, sizeof buf, "%08d", i);
                assert_int_equal(storage_zindex_del(&txn, 999, i % 1000, keel_str(buf)), 0);
            }
    }
    storage_txn_abort(&txn);
}

int main(void)
{
    make_members();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_refuses_forged_rank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format3_env_built_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_levels, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free_members();
    return rc;
}
