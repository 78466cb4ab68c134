/* tests: keys longer than LMDB's 511-byte key limit (storage.h): stored at
 * a hashed position with the name in the record, found, expired, scanned,
 * renamed and copied by their names; a forced hash collision refused. The
 * image check of long-key records: test_image_longkey.c. */
#include "storage_fixture.h"

#include "storage/env.h"
#include "storage/image.h"
#include "storage/record.h"

struct fx
{
    char *dir;
    char boot[PATH_MAX];
    struct keel_storage_options opts;
    struct keel_storage *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    f->dir = env_scratch("longkey", "boot", "77777777-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n", f->boot,
                         &f->opts);
    if (f->dir == NULL) return -1;
    env_open_with(&f->opts, &f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    env_remove(f->s, f->dir);
    free(f);
    return 0;
}

/* A key of n bytes: tag, then a pattern, so keys of one length differ. */
static struct keel_slice long_key(uint8_t *buf, size_t n, char tag)
{
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)('a' + (i * 7 + (size_t)tag) % 26);
    buf[0] = (uint8_t)tag;
    return (struct keel_slice){buf, n};
}

static int put(struct keel_storage *s, struct keel_slice key, const char *val, int64_t exp)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    struct keel_record rec = {KEEL_TYPE_STRING, exp, 1, (const uint8_t *)val, strlen(val)};
    int rc = storage_put(&txn, key, &rec, NULL);
    if (rc == 0) commit(&txn);
    else storage_txn_abort(&txn);
    return rc;
}

static int get(struct keel_storage *s, struct keel_slice key, char *out, size_t size, int64_t *exp)
{
    struct keel_txn txn;
    struct keel_record rec;
    begin(s, false, &txn);
    int rc = storage_get(&txn, key, &rec);
    if (rc == 0) {
        snprintf(out, size, "%.*s", (int)rec.len, (const char *)rec.val);
        if (exp != NULL) *exp = rec.expire_at;
    }
    storage_txn_abort(&txn);
    return rc;
}

static int del(struct keel_storage *s, struct keel_slice key)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    int rc = storage_del(&txn, key);
    if (rc == 0) commit(&txn);
    else storage_txn_abort(&txn);
    return rc;
}

static void test_put_get_del(void **state)
{
    struct fx *f = *state;
    static uint8_t a[KEEL_MAX_KEY + 1], b[KEEL_MAX_KEY];
    char out[64];
    int64_t exp;
    /* Lengths around the inline limit and the expiry index's (503), up to
     * the limit; each with an expiry, which a 504..511-byte key could not
     * have before (8 + key over LMDB's 511). */
    static const size_t lens[] = {1, 503, 504, 511, 512, 600, 4096, KEEL_MAX_KEY};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct keel_slice k = long_key(a, lens[i], 'k');
        char val[32];
        snprintf(val, sizeof val, "v%zu", lens[i]);
        assert_int_equal(put(f->s, k, val, 5000 + (int64_t)i), 0);
        assert_int_equal(get(f->s, k, out, sizeof out, &exp), 0);
        assert_string_equal(out, val);
        assert_int_equal(exp, 5000 + (int64_t)i);
    }
    /* A long key differing only in its last byte is another key. */
    struct keel_slice k = long_key(a, KEEL_MAX_KEY, 'k');
    struct keel_slice k2 = long_key(b, KEEL_MAX_KEY, 'k');
    b[KEEL_MAX_KEY - 1] ^= 1;
    assert_int_equal(get(f->s, k2, out, sizeof out, NULL), KEEL_ENOTFOUND);
    assert_int_equal(put(f->s, k2, "other", 0), 0);
    assert_int_equal(get(f->s, k, out, sizeof out, NULL), 0);
    assert_string_equal(out, "v65536");
    assert_int_equal(get(f->s, k2, out, sizeof out, NULL), 0);
    assert_string_equal(out, "other");
    /* Over the limit: refused, and never found. */
    struct keel_slice over = long_key(a, KEEL_MAX_KEY + 1, 'k');
    assert_int_equal(put(f->s, over, "x", 0), KEEL_ETOOBIG);
    assert_int_equal(get(f->s, over, out, sizeof out, NULL), KEEL_ENOTFOUND);
    /* A short key shaped like a long key's position is reserved. */
    uint8_t pos[KEEL_KEY_INLINE];
    struct keel_slice pk = {pos, storage_key_pos(k, pos)};
    assert_int_equal(pk.n, KEEL_LONGKEY_POS);
    assert_int_equal(put(f->s, pk, "x", 0), KEEL_EINVAL);
    assert_int_equal(get(f->s, pk, out, sizeof out, NULL), KEEL_ENOTFOUND);
    /* Replace, then delete: the record and its expiry entry go. */
    assert_int_equal(put(f->s, k, "again", 9000), 0);
    assert_int_equal(get(f->s, k, out, sizeof out, &exp), 0);
    assert_int_equal(exp, 9000);
    assert_int_equal(del(f->s, k), 0);
    assert_int_equal(del(f->s, k), KEEL_ENOTFOUND);
    assert_int_equal(get(f->s, k, out, sizeof out, NULL), KEEL_ENOTFOUND);
    assert_int_equal(get(f->s, k2, out, sizeof out, NULL), 0);
    /* They survive a restart. */
    keel_storage_close(f->s, true);
    env_open_with(&f->opts, &f->s);
    k = long_key(a, 4096, 'k');
    assert_int_equal(get(f->s, k, out, sizeof out, &exp), 0);
    assert_string_equal(out, "v4096");
    struct keel_space sp;
    assert_int_equal(keel_storage_space(f->s, &sp), 0);
    assert_int_equal(sp.keys, 8); /* 7 of lens[] (65536 deleted) and k2 */
    assert_int_equal(sp.expires, 7);
}

static void test_expiry(void **state)
{
    struct fx *f = *state;
    static uint8_t a[KEEL_MAX_KEY], b[600], c[505];
    struct keel_txn txn;
    struct keel_slice key;
    int64_t when;
    assert_int_equal(put(f->s, long_key(a, KEEL_MAX_KEY, 'a'), "a", 300), 0);
    assert_int_equal(put(f->s, long_key(b, sizeof b, 'b'), "b", 100), 0);
    assert_int_equal(put(f->s, long_key(c, sizeof c, 'c'), "c", 200), 0);
    assert_int_equal(put(f->s, cstr("short"), "s", 250), 0);
    /* In expiry order, by their full names. */
    const struct keel_slice want[] = {{b, sizeof b}, {c, sizeof c}, {(const uint8_t *)"short", 5},
                                      {a, KEEL_MAX_KEY}};
    const int64_t at[] = {100, 200, 250, 300};
    for (int i = 0; i < 4; i++) {
        begin(f->s, true, &txn);
        assert_int_equal(storage_expired_first(&txn, 1000, &key, &when), 0);
        assert_int_equal(when, at[i]);
        assert_int_equal(key.n, want[i].n);
        assert_memory_equal(key.p, want[i].p, key.n);
        /* Deleting by the name it gave (pointing into the map) works. */
        assert_int_equal(storage_del(&txn, key), 0);
        commit(&txn);
    }
    begin(f->s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, 1000, &key, &when), KEEL_ENOTFOUND);
    storage_txn_abort(&txn);
    /* An expiry changed or dropped moves its entry. */
    assert_int_equal(put(f->s, long_key(a, KEEL_MAX_KEY, 'a'), "a", 50), 0);
    assert_int_equal(put(f->s, long_key(a, KEEL_MAX_KEY, 'a'), "a", 60), 0);
    begin(f->s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, 1000, &key, &when), 0);
    assert_int_equal(when, 60);
    assert_int_equal(key.n, KEEL_MAX_KEY);
    storage_txn_abort(&txn);
    assert_int_equal(put(f->s, long_key(a, KEEL_MAX_KEY, 'a'), "a", 0), 0);
    begin(f->s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, 1000, &key, &when), KEEL_ENOTFOUND);
    storage_txn_abort(&txn);
}

struct seen
{
    size_t n;
    size_t lens[16];
    uint8_t first[16];
    uint8_t pos[16][KEEL_KEY_INLINE];
    size_t posn[16];
};

static int seen_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct seen *s = arg;
    (void)rec;
    assert_true(s->n < 16);
    s->lens[s->n] = key.n;
    s->first[s->n] = key.p[0];
    s->posn[s->n] = storage_key_pos(key, s->pos[s->n]);
    s->n++;
    return 0;
}

static void test_scan(void **state)
{
    struct fx *f = *state;
    static uint8_t a[KEEL_MAX_KEY];
    struct keel_txn txn;
    assert_int_equal(put(f->s, cstr("m"), "1", 0), 0);
    assert_int_equal(put(f->s, long_key(a, 700, 'x'), "2", 0), 0);
    assert_int_equal(put(f->s, long_key(a, KEEL_MAX_KEY, 'y'), "3", 0), 0);
    assert_int_equal(put(f->s, long_key(a, 511, 'z'), "4", 0), 0);
    struct seen all = {0};
    begin(f->s, false, &txn);
    assert_int_equal(storage_scan(&txn, (struct keel_slice){NULL, 0}, seen_cb, &all), 0);
    assert_int_equal(all.n, 4);
    /* Short keys in byte order, then long keys (under "\xffkeel:") by hash,
     * each by its full name. */
    assert_int_equal(all.lens[0], 1);
    assert_int_equal(all.lens[1], 511);
    assert_true((all.lens[2] == 700 && all.first[2] == 'x' && all.lens[3] == KEEL_MAX_KEY) ||
                (all.lens[3] == 700 && all.first[3] == 'x' && all.lens[2] == KEEL_MAX_KEY));
    /* Resuming from a long key's position (what SCAN's cursor keeps), or
     * from its name, starts at that key. */
    for (int by_name = 0; by_name < 2; by_name++) {
        struct seen from = {0};
        struct keel_slice start = {all.pos[2], all.posn[2]};
        if (by_name) start = all.lens[2] == 700 ? long_key(a, 700, 'x') : long_key(a, KEEL_MAX_KEY, 'y');
        assert_int_equal(storage_scan(&txn, start, seen_cb, &from), 0);
        assert_int_equal(from.n, 2);
        assert_int_equal(from.lens[0], all.lens[2]);
        assert_int_equal(from.lens[1], all.lens[3]);
    }
    storage_txn_abort(&txn);
}

static void test_move_copy(void **state)
{
    struct fx *f = *state;
    static uint8_t a[KEEL_MAX_KEY], b[KEEL_MAX_KEY];
    struct keel_slice la = long_key(a, KEEL_MAX_KEY, 'a'), lb = long_key(b, 1000, 'b');
    struct keel_txn txn;
    char out[64];
    int64_t exp;
    assert_int_equal(put(f->s, la, "va", 777), 0);
    /* long -> long, long -> short, short -> long, expiry kept */
    begin(f->s, true, &txn);
    assert_int_equal(storage_move(&txn, la, lb, 5), 0);
    assert_int_equal(storage_move(&txn, lb, cstr("s"), 6), 0);
    assert_int_equal(storage_copy(&txn, cstr("s"), la, 7), 0);
    commit(&txn);
    assert_int_equal(get(f->s, lb, out, sizeof out, NULL), KEEL_ENOTFOUND);
    assert_int_equal(get(f->s, cstr("s"), out, sizeof out, &exp), 0);
    assert_string_equal(out, "va");
    assert_int_equal(exp, 777);
    assert_int_equal(get(f->s, la, out, sizeof out, &exp), 0);
    assert_int_equal(exp, 777);
    /* A set under a long key: its elements follow it through a move. */
    uint8_t val[KEEL_COLL_SIZE];
    struct keel_coll coll = {0, 1, {0, 0}};
    begin(f->s, true, &txn);
    assert_int_equal(storage_coll_new_id(&txn, &coll.id), 0);
    storage_coll_encode(&coll, val);
    assert_int_equal(storage_member_put(&txn, coll.id, KEEL_TAG_MEMBER, cstr("m"), cstr(""), NULL), 0);
    struct keel_record rec = {KEEL_TYPE_SET, 0, 8, val, sizeof val};
    assert_int_equal(storage_put(&txn, lb, &rec, NULL), 0);
    assert_int_equal(storage_move(&txn, lb, la, 9), 0);
    assert_int_equal(storage_get(&txn, la, &rec), 0);
    assert_int_equal(rec.type, KEEL_TYPE_SET);
    assert_int_equal(storage_member_get(&txn, coll.id, KEEL_TAG_MEMBER, cstr("m"), NULL), 0);
    /* Deleting it frees its elements. */
    assert_int_equal(storage_del(&txn, la), 0);
    assert_int_equal(storage_member_get(&txn, coll.id, KEEL_TAG_MEMBER, cstr("m"), NULL), KEEL_ENOTFOUND);
    commit(&txn);
}

/* Write a long-key record for `name` straight into "data" at `at`'s
 * position: what the env would hold if name's hash were at's. */
static void forge(struct keel_storage *s, struct keel_slice at, struct keel_slice name, uint8_t flags)
{
    uint8_t pos[KEEL_KEY_INLINE];
    static uint8_t v[RECORD_HEADER + KEEL_MAX_KEY + 8];
    struct keel_record rec = {KEEL_TYPE_STRING, 0, 3, (const uint8_t *)"forged", 6};
    size_t hn = record_encode_header(&rec, name, v);
    v[1] = flags;
    memcpy(v + hn, rec.val, rec.len);
    MDB_txn *txn;
    MDB_val k = {storage_key_pos(at, pos), pos}, d = {hn + rec.len, v};
    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_put(txn, s->data, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_collision(void **state)
{
    struct fx *f = *state;
    static uint8_t a[2000], b[2000];
    struct keel_slice ka = long_key(a, sizeof a, 'a'), kb = long_key(b, sizeof b, 'b');
    char out[64];
    /* kb sits where ka hashes: as if their 128-bit hashes were equal. */
    forge(f->s, ka, kb, RECORD_LONGNAME);
    assert_int_equal(get(f->s, ka, out, sizeof out, NULL), KEEL_ENOTFOUND);
    assert_int_equal(del(f->s, ka), KEEL_ENOTFOUND);
    assert_int_equal(put(f->s, ka, "mine", 0), KEEL_EEXISTS);
    assert_non_null(strstr(keel_storage_errmsg(f->s), "share a 128-bit hash"));
    struct keel_txn txn;
    begin(f->s, true, &txn);
    assert_int_equal(storage_copy(&txn, cstr("nothing"), ka, 1), KEEL_ENOTFOUND);
    storage_txn_abort(&txn);
    /* The holder is kb by name wherever keys are listed by name. */
    struct seen all = {0};
    begin(f->s, false, &txn);
    assert_int_equal(storage_scan(&txn, (struct keel_slice){NULL, 0}, seen_cb, &all), 0);
    storage_txn_abort(&txn);
    assert_int_equal(all.n, 1);
    assert_int_equal(all.lens[0], sizeof b);
    assert_int_equal(all.first[0], 'b');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collision, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
