/* tests: the image check (storage/image.h) on long keys (storage.h): an
 * image holding them passes with the right digest and counts, forged
 * long-key records and expiry entries are refused with their reason, and an
 * env or image of format 2 still opens. */
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

static uint8_t *image_of(struct keel_storage *s, size_t *len)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot snap;
    assert_int_equal(keel_storage_snapshot_create(s, &snap, errmsg), 0);
    *len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *img = malloc(*len);
    assert_non_null(img);
    memcpy(img, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(img + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    return img;
}

static void test_image_accepts(void **state)
{
    struct fx *f = *state;
    static uint8_t a[KEEL_MAX_KEY];
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct keel_image_report rep;
    uint64_t applied, digest;
    assert_int_equal(put(f->s, long_key(a, KEEL_MAX_KEY, 'a'), "a", 100), 0);
    assert_int_equal(put(f->s, long_key(a, 507, 'b'), "b", 200), 0);
    assert_int_equal(put(f->s, long_key(a, 900, 'c'), "c", 0), 0);
    assert_int_equal(put(f->s, cstr("short"), "s", 300), 0);
    size_t len;
    uint8_t *img = image_of(f->s, &len);
    int rc = keel_image_check(img, len, 0, &rep, errmsg);
    if (rc != 0) fail_msg("refused: %s", errmsg);
    assert_int_equal(keel_storage_digest(f->s, &applied, &digest), 0);
    assert_int_equal(rep.digest, digest);
    assert_int_equal(rep.keys, 4);
    assert_int_equal(rep.expires, 3);
    free(img);
}

/* Databases' keys (storage.h's KEEL_DB_PREFIX), short and long, pass and
 * count; a name under the prefix that names no database's key (SWAPDB's
 * byte 0, or no name after the database) is refused. */
static void test_image_databases(void **state)
{
    struct fx *f = *state;
    static uint8_t a[900];
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct keel_image_report rep;
    assert_int_equal(put(f->s, cstr(KEEL_DB_PREFIX "\x01k"), "1", 100), 0);
    struct keel_slice la = long_key(a, sizeof a, 'd');
    memcpy(a, KEEL_DB_PREFIX "\x02", KEEL_DB_KEY_OVERHEAD);
    assert_int_equal(put(f->s, la, "2", 0), 0);
    assert_int_equal(put(f->s, cstr("k"), "0", 0), 0);
    size_t len;
    uint8_t *img = image_of(f->s, &len);
    int rc = keel_image_check(img, len, 0, &rep, errmsg);
    if (rc != 0) fail_msg("refused: %s", errmsg);
    assert_int_equal(rep.keys, 3);
    free(img);
    static const char *const bad[] = {KEEL_DB_PREFIX "\x05", KEEL_DB_PREFIX "x"};
    for (size_t i = 0; i < 3; i++) {
        uint8_t name[16];
        size_t n;
        if (i < 2) {
            n = strlen(bad[i]);
            memcpy(name, bad[i], n);
        } else { /* SWAPDB's namespace, byte 0 */
            memcpy(name, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN);
            name[KEEL_DB_PREFIX_LEN] = 0;
            name[KEEL_DB_PREFIX_LEN + 1] = 'k';
            n = KEEL_DB_PREFIX_LEN + 2;
        }
        assert_int_equal(put(f->s, (struct keel_slice){name, n}, "x", 0), 0);
        img = image_of(f->s, &len);
        errmsg[0] = 0;
        assert_int_equal(keel_image_check(img, len, 0, &rep, errmsg), KEEL_ECORRUPT);
        assert_non_null(strstr(errmsg, "names no database's key"));
        free(img);
        struct keel_txn txn;
        begin(f->s, true, &txn);
        assert_int_equal(storage_del(&txn, (struct keel_slice){name, n}), 0);
        commit(&txn);
    }
}

/* An env and an image of format 2 (no long keys) still open and pass; the
 * env is marked 3 on open. */
static void test_format2_opens(void **state)
{
    struct fx *f = *state;
    char out[16], errmsg[KEEL_ERRMSG_SIZE] = "";
    uint64_t format;
    assert_int_equal(put(f->s, cstr("old"), "v", 100), 0);
    MDB_txn *txn;
    uint8_t v8[8];
    le64_store(v8, 2);
    MDB_val k = {6, (void *)"format"}, v = {8, v8};
    assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_put(txn, f->s->meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    size_t len;
    uint8_t *img = image_of(f->s, &len);
    int rc = keel_image_check(img, len, 0, NULL, errmsg);
    if (rc != 0) fail_msg("a format 2 image refused: %s", errmsg);
    free(img);
    keel_storage_close(f->s, true);
    env_open_with(&f->opts, &f->s);
    struct keel_txn t;
    begin(f->s, false, &t);
    assert_int_equal(storage_meta_get(&t, "format", &format), 0);
    storage_txn_abort(&t);
    assert_int_equal(format, 4);
    assert_int_equal(get(f->s, cstr("old"), out, sizeof out, NULL), 0);
    assert_string_equal(out, "v");
}

/* Each forgery, LMDB-valid, must be refused with its reason. */
static void test_image_refuses_forged(void **state)
{
    struct fx *f0 = *state;
    static uint8_t a[3000], b[3000];
    static const char *const why[] = {
        "not at its name's hash",       /* a long key's record under another name's hash */
        "not at its name's hash",       /* a long-name record under a short key */
        "not at its name's hash",       /* a plain record under the long keys' prefix */
        "not at its key's hash",        /* an expiry entry not at its named key's hash */
        "names another key",            /* a long key's expiry entry naming another key */
        "has no long keys",             /* a long key in a format 2 image */
        "is not a record",              /* a long name's length past the record */
    };
    (void)f0;
    for (int c = 0; c < (int)(sizeof why / sizeof why[0]); c++) {
        struct fx fx, *f = &fx;
        char errmsg[KEEL_ERRMSG_SIZE] = "";
        memset(f, 0, sizeof *f);
        f->dir = env_scratch("longkey-img", "boot", "77777777-aaaa-4aaa-8aaa-aaaaaaaaaaab\n",
                             f->boot, &f->opts);
        assert_non_null(f->dir);
        env_open_with(&f->opts, &f->s);
        struct keel_slice ka = long_key(a, sizeof a, 'a'), kb = long_key(b, sizeof b, 'b');
        assert_int_equal(put(f->s, ka, "a", 100), 0);
        assert_int_equal(put(f->s, cstr("plain"), "p", 0), 0);
        MDB_txn *txn;
        uint8_t kbuf[600], vbuf[64];
        MDB_val k = {0, kbuf}, v = {0, vbuf};
        switch (c) {
            case 0:
                forge(f->s, kb, ka, RECORD_LONGNAME);
                break;
            case 1: { /* "plain" claiming a long name */
                static uint8_t rv[RECORD_HEADER + 3000];
                struct keel_record rec = {KEEL_TYPE_STRING, 0, 1, NULL, 0};
                size_t hn = record_encode_header(&rec, ka, rv);
                assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
                k.mv_size = 5;
                memcpy(kbuf, "plain", 5);
                MDB_val d = {hn, rv};
                assert_int_equal(mdb_put(txn, f->s->data, &k, &d, 0), 0);
                assert_int_equal(mdb_txn_commit(txn), 0);
                break;
            }
            case 2: { /* a short key starting with the prefix, plain record */
                uint8_t rv[RECORD_HEADER] = {KEEL_TYPE_STRING};
                assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
                memcpy(kbuf, KEEL_LONGKEY_PREFIX "zz", KEEL_LONGKEY_PREFIX_LEN + 2);
                k.mv_size = KEEL_LONGKEY_PREFIX_LEN + 2;
                MDB_val d = {sizeof rv, rv};
                assert_int_equal(mdb_put(txn, f->s->data, &k, &d, 0), 0);
                assert_int_equal(mdb_txn_commit(txn), 0);
                break;
            }
            case 3:
            case 4: {
                /* 3: an extra entry at kb's hash naming ka; 4: ka's own
                 * entry (at ka's hash) naming kb. */
                bool named;
                size_t n = record_expkey(c == 3 ? kb : ka, 100, kbuf, &named);
                assert_true(named);
                struct keel_slice name = c == 3 ? ka : kb;
                assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
                k.mv_size = n;
                MDB_val d = {name.n, (void *)name.p};
                assert_int_equal(mdb_put(txn, f->s->exp, &k, &d, 0), 0);
                assert_int_equal(mdb_txn_commit(txn), 0);
                break;
            }
            case 5:
                assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
                memcpy(kbuf, "format", 6);
                k.mv_size = 6;
                le64_store(vbuf, 2);
                v.mv_size = 8;
                assert_int_equal(mdb_put(txn, f->s->meta, &k, &v, 0), 0);
                assert_int_equal(mdb_txn_commit(txn), 0);
                break;
            case 6: { /* ka's record with name_len one byte past its end */
                uint8_t pos[KEEL_KEY_INLINE];
                static uint8_t rv[RECORD_HEADER + 3000];
                struct keel_record rec = {KEEL_TYPE_STRING, 0, 1, NULL, 0};
                size_t hn = record_encode_header(&rec, ka, rv);
                le32_store(rv + 4, (uint32_t)ka.n + 1);
                assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), 0);
                k = (MDB_val){storage_key_pos(ka, pos), pos};
                MDB_val d = {hn, rv};
                assert_int_equal(mdb_put(txn, f->s->data, &k, &d, 0), 0);
                assert_int_equal(mdb_txn_commit(txn), 0);
                break;
            }
        }
        size_t len;
        uint8_t *img = image_of(f->s, &len);
        int rc = keel_image_check(img, len, 0, NULL, errmsg);
        if (rc != KEEL_ECORRUPT || strstr(errmsg, why[c]) == NULL)
            fail_msg("case %d: %d \"%s\", want \"%s\"", c, rc, errmsg, why[c]);
        free(img);
        env_remove(f->s, f->dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_image_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_databases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format2_opens, setup, teardown),
        cmocka_unit_test(test_image_refuses_forged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
