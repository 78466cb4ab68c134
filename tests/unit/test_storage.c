/* tests: the storage env: open/close, the keyspace, scans and metadata.
 * The expiry index: test_storage_expiry.c; the dedupe table and the trust
 * rule: test_storage_trust.c; map growth, quota and digest:
 * test_storage_space.c. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>

#include "tests/unit/storage_env_fixture.h"

/* ---- open / close ------------------------------------------------------ */

static void test_open_reopen(void **state)
{
    struct fx *f = *state;
    assert_false(env_open(f, 0));
    assert_true(exists(f->dir[0], "kv/data.mdb"));
    assert_int_equal(keel_storage_applied(f->s[0]), 0);

    put_str(f->s[0], "alpha", "one", 0, 7);
    assert_int_equal(keel_storage_applied(f->s[0]), 7);

    /* The applied index follows only a committed txn. */
    struct keel_txn txn;
    begin(f->s[0], true, &txn);
    assert_int_equal(storage_set_applied(&txn, 9), 0);
    assert_int_equal(keel_storage_applied(f->s[0]), 7);
    storage_txn_abort(&txn);
    assert_int_equal(keel_storage_applied(f->s[0]), 7);
    begin(f->s[0], true, &txn);
    assert_int_equal(put_in(&txn, "beta", "two", 0), 0);
    commit(&txn); /* a txn that does not set it keeps it */
    assert_int_equal(keel_storage_applied(f->s[0]), 7);

    env_close(f, 0, true);
    assert_false(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 7);
    assert_value(f->s[0], "alpha", "one");
    assert_value(f->s[0], "beta", "two");

    put_str(f->s[0], "gamma", "three", 0, 12);
    env_close(f, 0, true);
    assert_false(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 12);
    assert_value(f->s[0], "gamma", "three");
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], errmsg[KEEL_ERRMSG_SIZE];
    struct keel_storage *s = (struct keel_storage *)1;
    struct keel_storage_options o = {0};
    bool wiped = true;

    /* A missing directory. */
    snprintf(path, sizeof path, "%s/missing", f->dir[0]);
    o.dir = path;
    errmsg[0] = 0;
    assert_int_equal(keel_storage_open(&o, &s, &wiped, errmsg), KEEL_EIO);
    assert_null(s);
    assert_false(wiped);
    assert_non_null(strstr(errmsg, path));
    assert_non_null(strstr(errmsg, strerror(ENOENT)));
    assert_false(exists(f->dir[0], "missing"));

    /* A regular file. errno is left dirty on purpose: the message must not
     * report a stale error. */
    snprintf(path, sizeof path, "%s/file", f->dir[0]);
    test_write_text(path, "not a dir\n");
    s = (struct keel_storage *)1;
    errmsg[0] = 0;
    errno = ENOENT;
    assert_int_equal(keel_storage_open(&o, &s, &wiped, errmsg), KEEL_EIO);
    assert_null(s);
    assert_non_null(strstr(errmsg, path));
    assert_non_null(strstr(errmsg, "not a directory"));
    assert_null(strstr(errmsg, strerror(ENOENT)));

    /* No directory at all. */
    o.dir = NULL;
    s = (struct keel_storage *)1;
    errmsg[0] = 0;
    assert_int_not_equal(keel_storage_open(&o, &s, NULL, errmsg), 0);
    assert_null(s);
    assert_true(errmsg[0] != 0);
}

/* ---- keyspace ---------------------------------------------------------- */

static void test_put_get_del(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    struct keel_record rec, got;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];

    static const uint8_t hash[] = {0, 1, 2, 'f', 0, 'v', 0xff, 0};
    static const uint8_t bkey[] = {'h', 0, 'k'}; /* a key with a NUL inside */
    struct keel_slice hkey = {bkey, sizeof bkey};

    begin(s, true, &txn);
    rec = (struct keel_record){KEEL_TYPE_STRING, 1700000000123, 5, (const uint8_t *)"hello", 5};
    assert_int_equal(storage_put(&txn, cstr("str"), &rec, NULL), 0);
    rec = (struct keel_record){KEEL_TYPE_HASH, 0, 6, hash, sizeof hash};
    assert_int_equal(storage_put(&txn, hkey, &rec, NULL), 0);
    rec = (struct keel_record){KEEL_TYPE_STRING, 0, 7, NULL, 0}; /* empty value */
    assert_int_equal(storage_put(&txn, cstr("empty"), &rec, NULL), 0);
    /* Visible inside the write txn. */
    assert_int_equal(storage_get(&txn, cstr("str"), &got), 0);
    assert_int_equal(got.len, 5);
    commit(&txn);

    begin(s, false, &txn);
    assert_int_equal(storage_get(&txn, cstr("str"), &got), 0);
    assert_int_equal(got.type, KEEL_TYPE_STRING);
    assert_int_equal(got.expire_at, 1700000000123);
    assert_int_equal(got.version, 5);
    assert_int_equal(got.len, 5);
    assert_memory_equal(got.val, "hello", 5);
    assert_int_equal(storage_get(&txn, hkey, &got), 0);
    assert_int_equal(got.type, KEEL_TYPE_HASH);
    assert_int_equal(got.expire_at, 0);
    assert_int_equal(got.version, 6);
    assert_int_equal(got.len, sizeof hash);
    assert_memory_equal(got.val, hash, sizeof hash);
    assert_int_equal(storage_get(&txn, cstr("empty"), &got), 0);
    assert_int_equal(got.len, 0);
    assert_int_equal(got.version, 7);
    assert_int_equal(storage_get(&txn, cstr("missing"), &got), KEEL_ENOTFOUND);
    assert_int_equal(storage_get(&txn, cstr("h"), &got), KEEL_ENOTFOUND); /* prefix only */
    storage_txn_abort(&txn);

    /* Replace: type, value, version and expiry all change. */
    begin(s, true, &txn);
    rec = (struct keel_record){KEEL_TYPE_HASH, 0, 9, hash, 3};
    assert_int_equal(storage_put(&txn, cstr("str"), &rec, NULL), 0);
    commit(&txn);
    begin(s, false, &txn);
    assert_int_equal(storage_get(&txn, cstr("str"), &got), 0);
    assert_int_equal(got.type, KEEL_TYPE_HASH);
    assert_int_equal(got.expire_at, 0);
    assert_int_equal(got.version, 9);
    assert_int_equal(got.len, 3);
    assert_memory_equal(got.val, hash, 3);
    storage_txn_abort(&txn);

    /* A large value spills to overflow pages and comes back intact. */
    size_t big = 3u << 20;
    uint8_t *bv = malloc(big);
    assert_non_null(bv);
    for (size_t i = 0; i < big; i++) bv[i] = (uint8_t)(i * 31 + 7);
    begin(s, true, &txn);
    rec = (struct keel_record){KEEL_TYPE_STRING, 0, 10, bv, big};
    assert_int_equal(storage_put(&txn, cstr("big"), &rec, NULL), 0);
    commit(&txn);
    begin(s, false, &txn);
    assert_int_equal(storage_get(&txn, cstr("big"), &got), 0);
    assert_int_equal(got.len, big);
    assert_memory_equal(got.val, bv, big);
    storage_txn_abort(&txn);
    free(bv);

    /* Delete. */
    begin(s, true, &txn);
    assert_int_equal(storage_del(&txn, cstr("str")), 0);
    assert_int_equal(storage_get(&txn, cstr("str"), &got), KEEL_ENOTFOUND);
    assert_int_equal(storage_del(&txn, cstr("str")), KEEL_ENOTFOUND);
    assert_int_equal(storage_del(&txn, cstr("never")), KEEL_ENOTFOUND);
    assert_int_equal(storage_del(&txn, hkey), 0);
    assert_int_equal(storage_del(&txn, cstr("big")), 0);
    commit(&txn);
    assert_absent(s, "str");
    assert_absent(s, "big");
    assert_value(s, "empty", "");

    /* Limits: rejected before anything is written, and the txn stays usable. */
    char key[KEEL_MAX_KEY + 2];
    memset(key, 'k', sizeof key);
    begin(s, true, &txn);
    rec = (struct keel_record){KEEL_TYPE_STRING, 0, 11, (const uint8_t *)"v", 1};
    assert_int_equal(storage_put(&txn, (struct keel_slice){(const uint8_t *)key, 0}, &rec, NULL),
                     KEEL_ETOOBIG);
    assert_true(keel_storage_errmsg(s)[0] != 0);
    assert_int_equal(
        storage_put(&txn, (struct keel_slice){(const uint8_t *)key, KEEL_MAX_KEY + 1}, &rec, NULL),
        KEEL_ETOOBIG);
    assert_int_equal(
        storage_put(&txn, (struct keel_slice){(const uint8_t *)key, KEEL_MAX_KEY}, &rec, NULL), 0);
    rec = (struct keel_record){KEEL_TYPE_STRING, 0, 11, NULL, (size_t)KEEL_MAX_VALUE + 1};
    uint8_t *buf = (uint8_t *)1;
    assert_int_equal(storage_put(&txn, cstr("huge"), &rec, &buf), KEEL_ETOOBIG);
    assert_true(keel_storage_errmsg(s)[0] != 0);
    /* Gets and deletes of impossible keys just find nothing. */
    assert_int_equal(storage_get(&txn, (struct keel_slice){(const uint8_t *)key, 0}, &got),
                     KEEL_ENOTFOUND);
    assert_int_equal(
        storage_get(&txn, (struct keel_slice){(const uint8_t *)key, KEEL_MAX_KEY + 1}, &got),
        KEEL_ENOTFOUND);
    assert_int_equal(storage_del(&txn, (struct keel_slice){(const uint8_t *)key, 0}),
                     KEEL_ENOTFOUND);
    assert_int_equal(put_in(&txn, "after", "ok", 0), 0);
    commit(&txn);
    assert_absent(s, "huge");
    assert_value(s, "after", "ok");
    begin(s, false, &txn);
    assert_int_equal(
        storage_get(&txn, (struct keel_slice){(const uint8_t *)key, KEEL_MAX_KEY}, &got), 0);
    storage_txn_abort(&txn);

    struct keel_space sp;
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.keys, 3); /* empty, after, the longest key */
}

static void test_put_buf(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    struct keel_record got;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];

    begin(s, true, &txn);
    struct keel_record rec = {KEEL_TYPE_HASH, 0, 3, NULL, 10000};
    uint8_t *buf = NULL;
    assert_int_equal(storage_put(&txn, cstr("built"), &rec, &buf), 0);
    assert_non_null(buf);
    for (size_t i = 0; i < rec.len; i++) buf[i] = (uint8_t)(i % 251);
    /* With a value given, buf points at the copy. */
    rec = (struct keel_record){KEEL_TYPE_STRING, 0, 4, (const uint8_t *)"copied", 6};
    buf = NULL;
    assert_int_equal(storage_put(&txn, cstr("given"), &rec, &buf), 0);
    assert_non_null(buf);
    assert_memory_equal(buf, "copied", 6);
    commit(&txn);

    begin(s, false, &txn);
    assert_int_equal(storage_get(&txn, cstr("built"), &got), 0);
    assert_int_equal(got.type, KEEL_TYPE_HASH);
    assert_int_equal(got.version, 3);
    assert_int_equal(got.len, 10000);
    for (size_t i = 0; i < got.len; i++) {
        if (got.val[i] != (uint8_t)(i % 251)) fail_msg("byte %zu differs", i);
    }
    storage_txn_abort(&txn);
    assert_value(s, "given", "copied");
}

/* ---- scan -------------------------------------------------------------- */

struct scan_state
{
    char seen[16][8];
    int n;
    int stop_after; /* 0: never */
};

static int scan_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct scan_state *st = arg;
    if (st->n >= 16 || key.n >= 8) return -1;
    memcpy(st->seen[st->n], key.p, key.n);
    st->seen[st->n][key.n] = 0;
    /* Each value is its key upper-cased. */
    if (rec->len != key.n || rec->type != KEEL_TYPE_STRING) return -2;
    for (size_t i = 0; i < key.n; i++) {
        if (rec->val[i] != (uint8_t)(key.p[i] - 'a' + 'A')) return -3;
    }
    st->n++;
    return st->stop_after != 0 && st->n == st->stop_after ? 42 : 0;
}

static void expect_scan(struct keel_storage *s, const char *start, int stop_after, int want_rc,
                        const char *want)
{
    struct keel_txn txn;
    struct scan_state st = {.stop_after = stop_after};
    char got[128] = "";
    begin(s, false, &txn);
    assert_int_equal(storage_scan(&txn, cstr(start), scan_cb, &st), want_rc);
    storage_txn_abort(&txn);
    for (int i = 0; i < st.n; i++) {
        if (i > 0) strcat(got, ",");
        strcat(got, st.seen[i]);
    }
    assert_string_equal(got, want);
}

static void test_scan(void **state)
{
    struct fx *f = *state;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];
    expect_scan(s, "", 0, 0, "");
    static const char *const keys[] = {"d", "b", "e", "a", "c", "ab"};
    for (size_t i = 0; i < 6; i++) {
        char up[8];
        for (size_t j = 0; j <= strlen(keys[i]); j++) {
            up[j] = keys[i][j] ? (char)(keys[i][j] - 'a' + 'A') : 0;
        }
        put_str(s, keys[i], up, i % 2 ? 100 : 0, 0);
    }
    expect_scan(s, "", 0, 0, "a,ab,b,c,d,e");
    expect_scan(s, "c", 0, 0, "c,d,e");
    expect_scan(s, "bb", 0, 0, "c,d,e");
    expect_scan(s, "aa", 0, 0, "ab,b,c,d,e");
    expect_scan(s, "f", 0, 0, "");
    expect_scan(s, "", 2, 42, "a,ab");
    expect_scan(s, "b", 1, 42, "b");
    expect_scan(s, "b", 4, 42, "b,c,d,e");
    expect_scan(s, "b", 5, 0, "b,c,d,e");
}

/* ---- metadata and dedupe ----------------------------------------------- */

static void test_meta(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    uint64_t v = 99;
    env_open(f, 0);
    begin(f->s[0], true, &txn);
    assert_int_equal(storage_meta_get(&txn, "clock", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(storage_meta_put(&txn, "clock", 1234567890123ull), 0);
    assert_int_equal(storage_meta_put(&txn, "other", UINT64_MAX), 0);
    assert_int_equal(storage_meta_get(&txn, "clock", &v), 0);
    assert_int_equal(v, 1234567890123ull);
    commit(&txn);

    begin(f->s[0], true, &txn);
    assert_int_equal(storage_meta_put(&txn, "clock", 1), 0);
    storage_txn_abort(&txn);

    env_close(f, 0, true);
    env_open(f, 0);
    begin(f->s[0], false, &txn);
    assert_int_equal(storage_meta_get(&txn, "clock", &v), 0);
    assert_int_equal(v, 1234567890123ull);
    assert_int_equal(storage_meta_get(&txn, "other", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(storage_meta_get(&txn, "format", &v), 0);
    assert_int_equal(v, 4);
    storage_txn_abort(&txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_buf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
