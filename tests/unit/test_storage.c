/* tests: the storage env: open/close and the trust rule, the keyspace and its
 * expiry index, scans, metadata, the dedupe table, map growth, quota, digest. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>

#define NENV 2

/* Up to NENV envs, each in its own scratch dir, with two boot id files. */
struct fx
{
    char *dir[NENV];
    char boot_a[NENV][PATH_MAX];
    char boot_b[NENV][PATH_MAX];
    struct keel_storage_options opts[NENV];
    struct keel_storage *s[NENV];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    for (int i = 0; i < NENV; i++) {
        f->dir[i] = env_scratch("storage", "boot-a", "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n",
                                f->boot_a[i], &f->opts[i]);
        if (f->dir[i] == NULL) return -1;
        snprintf(f->boot_b[i], PATH_MAX, "%s/boot-b", f->dir[i]);
        test_write_text(f->boot_b[i], "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb\n");
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < NENV; i++) env_remove(f->s[i], f->dir[i]);
    free(f);
    return 0;
}

/* Open env i with its current options; returns whether it was wiped. */
static bool env_open(struct fx *f, int i)
{
    bool wiped = env_open_with(&f->opts[i], &f->s[i]);
    assert_non_null(f->s[i]);
    return wiped;
}

static void env_close(struct fx *f, int i, bool clean)
{
    keel_storage_close(f->s[i], clean);
    f->s[i] = NULL;
}

static int put_in(struct keel_txn *txn, const char *key, const char *val, int64_t expire_at)
{
    struct keel_record rec = {KEEL_TYPE_STRING, expire_at, 1, (const uint8_t *)val, strlen(val)};
    return storage_put(txn, cstr(key), &rec, NULL);
}

/* Put one string key in its own txn, optionally moving the applied index. */
static void put_str(struct keel_storage *s, const char *key, const char *val, int64_t expire_at,
                    uint64_t applied)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    assert_int_equal(put_in(&txn, key, val, expire_at), 0);
    if (applied != 0) assert_int_equal(storage_set_applied(&txn, applied), 0);
    commit(&txn);
}

static void del_key(struct keel_storage *s, const char *key)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    assert_int_equal(storage_del(&txn, cstr(key)), 0);
    commit(&txn);
}

/* The string value of key, or KEEL_ENOTFOUND. */
static int get_str(struct keel_storage *s, const char *key, char *out, size_t size,
                   struct keel_record *rec_out)
{
    struct keel_txn txn;
    struct keel_record rec;
    begin(s, false, &txn);
    int rc = storage_get(&txn, cstr(key), &rec);
    if (rc == 0) {
        assert_true(rec.len < size);
        memcpy(out, rec.val, rec.len);
        out[rec.len] = 0;
        if (rec_out != NULL) {
            *rec_out = rec;
            rec_out->val = NULL;
        }
    }
    storage_txn_abort(&txn);
    return rc;
}

static void assert_value(struct keel_storage *s, const char *key, const char *want)
{
    char buf[256];
    int rc = get_str(s, key, buf, sizeof buf, NULL);
    if (rc != 0) fail_msg("get %s: %d", key, rc);
    assert_string_equal(buf, want);
}

static void assert_absent(struct keel_storage *s, const char *key)
{
    char buf[256];
    assert_int_equal(get_str(s, key, buf, sizeof buf, NULL), KEEL_ENOTFOUND);
}

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

/* ---- expiry index ------------------------------------------------------ */

/* Pop expired keys up to `at`, checking they come in the order `want`
 * (NULL-terminated), each deleted with the slice expired_first returned. In
 * one txn or one txn per key. */
static void sweep(struct keel_storage *s, int64_t at, const char *const *want,
                  const int64_t *want_exp, bool one_txn)
{
    struct keel_txn txn;
    struct keel_slice key;
    int64_t exp;
    size_t i = 0;
    if (one_txn) begin(s, true, &txn);
    for (;; i++) {
        if (!one_txn) begin(s, true, &txn);
        int rc = storage_expired_first(&txn, at, &key, &exp);
        if (want[i] == NULL) {
            assert_int_equal(rc, KEEL_ENOTFOUND);
            if (!one_txn) storage_txn_abort(&txn);
            break;
        }
        if (rc != 0) fail_msg("expired_first #%zu: %d, want %s", i, rc, want[i]);
        if (key.n != strlen(want[i]) || memcmp(key.p, want[i], key.n) != 0) {
            fail_msg("expired #%zu is %.*s, want %s", i, (int)key.n, (const char *)key.p, want[i]);
        }
        assert_int_equal(exp, want_exp[i]);
        rc = storage_del(&txn, key);
        if (rc != 0) {
            fail_msg("del expired #%zu (%s): %d %s", i, want[i], rc, keel_storage_errmsg(s));
        }
        if (!one_txn) commit(&txn);
    }
    if (one_txn) commit(&txn);
    for (size_t j = 0; j < i; j++) assert_absent(s, want[j]);
}

static void put_expiring(struct keel_storage *s, bool one_txn)
{
    static const char *const keys[] = {"k1", "k2", "k3", "k4", "k5", "k0"};
    static const int64_t exps[] = {300, 100, 200, 100, 0, 250};
    struct keel_txn txn;
    if (one_txn) begin(s, true, &txn);
    for (size_t i = 0; i < 6; i++) {
        if (!one_txn) begin(s, true, &txn);
        assert_int_equal(put_in(&txn, keys[i], keys[i], exps[i]), 0);
        if (!one_txn) commit(&txn);
    }
    if (one_txn) commit(&txn);
}

static void test_expiry_index(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    struct keel_slice key;
    int64_t exp;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];
    static const char *const order[] = {"k2", "k4", "k3", "k0", "k1", NULL};
    static const int64_t order_exp[] = {100, 100, 200, 250, 300};
    static const char *const early[] = {"k2", "k4", NULL};
    static const char *const none[] = {NULL};

    /* Nothing is due before the first expiry. */
    put_expiring(s, false);
    begin(s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, 99, &key, &exp), KEEL_ENOTFOUND);
    assert_int_equal(storage_expired_first(&txn, 100, &key, &exp), 0);
    assert_int_equal(exp, 100);
    assert_int_equal(key.n, 2);
    assert_memory_equal(key.p, "k2", 2);
    storage_txn_abort(&txn);

    /* Up to a cut-off, then everything; k5 (no expiry) never shows. */
    sweep(s, 150, early, order_exp, false);
    sweep(s, INT64_MAX, order + 2, order_exp + 2, false);
    assert_value(s, "k5", "k5");
    del_key(s, "k5");

    /* The way the store sweeps: many deletions in one txn (the index page is
     * dirty, so slices into it move as it changes). */
    put_expiring(s, false);
    sweep(s, INT64_MAX, order, order_exp, true);
    del_key(s, "k5");
    put_expiring(s, true);
    sweep(s, INT64_MAX, order, order_exp, true);
    assert_value(s, "k5", "k5");
    del_key(s, "k5");

    /* Puts and the sweep in the same txn. */
    begin(s, true, &txn);
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof k, "m%02d", i);
        assert_int_equal(put_in(&txn, k, k, 1000 + (39 - i) / 2), 0);
    }
    for (int i = 0; i < 40; i++) {
        /* Expiry 1000 + (39-i)/2: ties broken by key, so m38,m39,m36,m37,... */
        int want = 38 - 2 * (i / 2) + i % 2;
        char k[16];
        snprintf(k, sizeof k, "m%02d", want);
        assert_int_equal(storage_expired_first(&txn, INT64_MAX, &key, &exp), 0);
        if (key.n != 3 || memcmp(key.p, k, 3) != 0) {
            fail_msg("#%d is %.*s, want %s", i, (int)key.n, (const char *)key.p, k);
        }
        assert_int_equal(exp, 1000 + (39 - want) / 2);
        assert_int_equal(storage_del(&txn, key), 0);
    }
    assert_int_equal(storage_expired_first(&txn, INT64_MAX, &key, &exp), KEEL_ENOTFOUND);
    commit(&txn);
    struct keel_space sp;
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.keys, 0);

    /* Changing a key's expiry moves its entry; 0 removes it. */
    put_str(s, "a", "1", 500, 0);
    put_str(s, "b", "2", 400, 0);
    static const char *const b_a[] = {"b", "a", NULL};
    static const int64_t b_a_exp[] = {400, 500};
    begin(s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, INT64_MAX, &key, &exp), 0);
    assert_int_equal(exp, 400);
    storage_txn_abort(&txn);
    put_str(s, "a", "1", 50, 0); /* earlier */
    begin(s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, INT64_MAX, &key, &exp), 0);
    assert_int_equal(exp, 50);
    assert_memory_equal(key.p, "a", 1);
    assert_int_equal(storage_expired_first(&txn, 49, &key, &exp), KEEL_ENOTFOUND);
    storage_txn_abort(&txn);
    put_str(s, "a", "1x", 50, 0); /* same expiry, new value: one entry still */
    put_str(s, "a", "1", 500, 0); /* later again */
    put_str(s, "b", "2", 0, 0);   /* no expiry any more */
    static const char *const a_only[] = {"a", NULL};
    static const int64_t a_only_exp[] = {500};
    begin(s, false, &txn);
    assert_int_equal(storage_expired_first(&txn, 499, &key, &exp), KEEL_ENOTFOUND);
    storage_txn_abort(&txn);
    sweep(s, INT64_MAX, a_only, a_only_exp, false);
    assert_value(s, "b", "2");
    put_str(s, "b", "2", 400, 0);
    put_str(s, "a", "1", 500, 0);
    /* Deleting a key takes its entry with it. */
    del_key(s, "b");
    sweep(s, INT64_MAX, a_only, a_only_exp, false);
    sweep(s, INT64_MAX, none, NULL, false);

    /* The index survives a reopen. */
    put_str(s, "b", "2", 400, 0);
    put_str(s, "a", "1", 500, 0);
    env_close(f, 0, true);
    env_open(f, 0);
    sweep(f->s[0], INT64_MAX, b_a, b_a_exp, false);
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
    assert_int_equal(v, 1);
    storage_txn_abort(&txn);
}

static void dd_put(struct keel_txn *txn, uint64_t client, uint64_t seq, int64_t ts)
{
    char reply[32];
    snprintf(reply, sizeof reply, "r%llu.%llu", (unsigned long long)client,
             (unsigned long long)seq);
    assert_int_equal(storage_dedupe_put(txn, client, seq, ts, cstr(reply)), 0);
}

static bool dd_has(struct keel_txn *txn, uint64_t client, uint64_t seq)
{
    struct keel_slice r;
    char want[32];
    int rc = storage_dedupe_get(txn, client, seq, &r);
    if (rc == KEEL_ENOTFOUND) return false;
    assert_int_equal(rc, 0);
    snprintf(want, sizeof want, "r%llu.%llu", (unsigned long long)client,
             (unsigned long long)seq);
    assert_int_equal(r.n, strlen(want));
    assert_memory_equal(r.p, want, r.n);
    return true;
}

static void test_dedupe(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    struct keel_slice r;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];

    begin(s, true, &txn);
    assert_int_equal(storage_dedupe_count(&txn), 0);
    assert_int_equal(storage_dedupe_get(&txn, 1, 1, &r), KEEL_ENOTFOUND);
    dd_put(&txn, 1, 1, 100);
    dd_put(&txn, 2, 1, 50);
    dd_put(&txn, 1, 2, 150);
    dd_put(&txn, 3, 9, 50);
    dd_put(&txn, 2, 2, 200);
    assert_int_equal(storage_dedupe_put(&txn, 7, 7, 10, (struct keel_slice){NULL, 0}), 0);
    assert_int_equal(storage_dedupe_get(&txn, 7, 7, &r), 0);
    assert_int_equal(r.n, 0);
    /* A duplicate keeps the first reply and the count. */
    assert_int_equal(storage_dedupe_put(&txn, 1, 1, 999, cstr("other")), KEEL_EEXISTS);
    assert_true(dd_has(&txn, 1, 1));
    assert_int_equal(storage_dedupe_count(&txn), 6);
    assert_int_equal(storage_dedupe_get(&txn, 1, 3, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 3, 1, &r), KEEL_ENOTFOUND);
    commit(&txn);

    /* Survives a reopen; the duplicate is still refused. */
    env_close(f, 0, true);
    env_open(f, 0);
    s = f->s[0];
    begin(s, true, &txn);
    assert_int_equal(storage_dedupe_count(&txn), 6);
    assert_int_equal(storage_dedupe_put(&txn, 2, 2, 1, cstr("x")), KEEL_EEXISTS);
    assert_true(dd_has(&txn, 2, 2));
    assert_true(dd_has(&txn, 3, 9));

    /* Index order is (ts, client, seq): (7,7,10) (2,1,50) (3,9,50) (1,1,100)
     * (1,2,150) (2,2,200). By age first, within the budget. */
    assert_int_equal(storage_dedupe_evict(&txn, 100, 1000, 0), 0);
    assert_int_equal(storage_dedupe_count(&txn), 6);
    assert_int_equal(storage_dedupe_evict(&txn, 100, 1000, 2), 0);
    assert_int_equal(storage_dedupe_count(&txn), 4);
    assert_int_equal(storage_dedupe_get(&txn, 7, 7, &r), KEEL_ENOTFOUND);
    assert_false(dd_has(&txn, 2, 1));
    assert_true(dd_has(&txn, 3, 9));
    assert_int_equal(storage_dedupe_evict(&txn, 100, 1000, 10), 0);
    assert_int_equal(storage_dedupe_count(&txn), 3);
    assert_false(dd_has(&txn, 3, 9));
    assert_true(dd_has(&txn, 1, 1)); /* stamped at 100: not older than 100 */
    commit(&txn);

    /* By count: beyond max_entries, oldest first, within the budget. */
    begin(s, true, &txn);
    assert_int_equal(storage_dedupe_evict(&txn, 0, 1, 1), 0);
    assert_int_equal(storage_dedupe_count(&txn), 2);
    assert_false(dd_has(&txn, 1, 1));
    assert_true(dd_has(&txn, 1, 2));
    assert_int_equal(storage_dedupe_evict(&txn, 0, 1, 10), 0);
    assert_int_equal(storage_dedupe_count(&txn), 1);
    assert_false(dd_has(&txn, 1, 2));
    assert_true(dd_has(&txn, 2, 2));
    assert_int_equal(storage_dedupe_evict(&txn, 0, 1, 10), 0); /* at the limit */
    assert_int_equal(storage_dedupe_count(&txn), 1);
    /* An evicted entry may be stored again. */
    dd_put(&txn, 1, 1, 300);
    assert_int_equal(storage_dedupe_count(&txn), 2);
    commit(&txn);

    /* Both at once, and everything. */
    begin(s, true, &txn);
    for (uint64_t i = 0; i < 50; i++) dd_put(&txn, 9, i, 400 + (int64_t)(i / 10));
    assert_int_equal(storage_dedupe_count(&txn), 52);
    /* Older than 300 goes (2,2,200); then beyond 45 entries. */
    assert_int_equal(storage_dedupe_evict(&txn, 300, 45, 1000), 0);
    assert_int_equal(storage_dedupe_count(&txn), 45);
    assert_false(dd_has(&txn, 2, 2));
    assert_false(dd_has(&txn, 1, 1));
    for (uint64_t i = 0; i < 50; i++) assert_int_equal(dd_has(&txn, 9, i), i >= 5);
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MAX, 0, 1000), 0);
    assert_int_equal(storage_dedupe_count(&txn), 0);
    for (uint64_t i = 0; i < 50; i++) assert_false(dd_has(&txn, 9, i));
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MAX, 0, 1000), 0);
    commit(&txn);
}

/* ---- trust rule -------------------------------------------------------- */

static void test_trust_clean_other_boot(void **state)
{
    struct fx *f = *state;
    env_open(f, 0);
    put_str(f->s[0], "k", "v", 0, 3);
    env_close(f, 0, true);
    /* Rebooted after a clean shutdown: trusted. */
    f->opts[0].boot_id_path = f->boot_b[0];
    assert_false(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 3);
    assert_value(f->s[0], "k", "v");
    /* And an open env is marked unclean again: a power loss now must wipe. */
    put_str(f->s[0], "k2", "v2", 0, 4);
    env_close(f, 0, false);
    f->opts[0].boot_id_path = f->boot_a[0];
    assert_true(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 0);
    assert_absent(f->s[0], "k");
}

static void test_trust_crash_same_boot(void **state)
{
    struct fx *f = *state;
    env_open(f, 0);
    put_str(f->s[0], "k", "v", 0, 3);
    put_str(f->s[0], "k2", "v2", 500, 4);
    env_close(f, 0, false); /* a process crash: nothing synced or marked */
    assert_false(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 4);
    assert_value(f->s[0], "k", "v");
    assert_value(f->s[0], "k2", "v2");
    /* Twice in a row. */
    put_str(f->s[0], "k3", "v3", 0, 5);
    env_close(f, 0, false);
    assert_false(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 5);
    assert_value(f->s[0], "k3", "v3");
}

static void test_trust_crash_other_boot(void **state)
{
    struct fx *f = *state;
    env_open(f, 0);
    put_str(f->s[0], "k", "v", 100, 3);
    struct keel_txn txn;
    begin(f->s[0], true, &txn);
    dd_put(&txn, 1, 1, 5);
    assert_int_equal(storage_meta_put(&txn, "clock", 77), 0);
    commit(&txn);
    env_close(f, 0, false);
    /* Unclean and a reboot since: possibly torn, so wiped. */
    f->opts[0].boot_id_path = f->boot_b[0];
    assert_true(env_open(f, 0));
    struct keel_storage *s = f->s[0];
    assert_int_equal(keel_storage_applied(s), 0);
    assert_absent(s, "k");
    struct keel_space sp;
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.keys, 0);
    begin(s, false, &txn);
    uint64_t v = 1;
    struct keel_slice key;
    int64_t exp;
    assert_int_equal(storage_meta_get(&txn, "clock", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(storage_meta_get(&txn, "applied", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(storage_dedupe_count(&txn), 0);
    assert_int_equal(storage_expired_first(&txn, INT64_MAX, &key, &exp), KEEL_ENOTFOUND);
    storage_txn_abort(&txn);
    /* The wiped env is a working one. */
    put_str(s, "new", "n", 0, 1);
    env_close(f, 0, true);
    assert_false(env_open(f, 0));
    assert_value(f->s[0], "new", "n");
    assert_int_equal(keel_storage_applied(f->s[0]), 1);
}

/* Without a readable boot id the rule still holds: a clean close is trusted,
 * an unclean one cannot be shown to be from this boot. */
static void test_trust_unknown_boot(void **state)
{
    struct fx *f = *state;
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/no-boot-id", f->dir[0]);
    f->opts[0].boot_id_path = missing;
    env_open(f, 0);
    put_str(f->s[0], "k", "v", 0, 3);
    env_close(f, 0, true);
    assert_false(env_open(f, 0));
    assert_int_equal(keel_storage_applied(f->s[0]), 3);
    assert_value(f->s[0], "k", "v");
    env_close(f, 0, true);
    f->opts[0].boot_id_path = f->boot_a[0]; /* known again */
    assert_false(env_open(f, 0));
    assert_value(f->s[0], "k", "v");
    env_close(f, 0, false);
    f->opts[0].boot_id_path = missing;
    assert_true(env_open(f, 0));
    assert_absent(f->s[0], "k");
    put_str(f->s[0], "k2", "v2", 0, 1);
    env_close(f, 0, false);
    assert_true(env_open(f, 0));
    assert_absent(f->s[0], "k2");
}

/* ---- map growth and quota ---------------------------------------------- */

/* Write keys [from, to) of `vlen` bytes each, `per_txn` to a txn, growing the
 * map on KEEL_EMAPFULL. Returns 0, or KEEL_ENOSPACE once the map cannot grow
 * (the last batch is then not stored); *grows counts successful grows. */
static int write_growing(struct keel_storage *s, int from, int to, size_t vlen, int per_txn,
                         int *grows)
{
    uint8_t *val = malloc(vlen);
    assert_non_null(val);
    for (int i = from; i < to;) {
        int n = to - i < per_txn ? to - i : per_txn;
        struct keel_txn txn;
        int rc;
        begin(s, true, &txn);
        rc = 0;
        for (int j = 0; j < n && rc == 0; j++) {
            char key[32];
            snprintf(key, sizeof key, "key%08d", i + j);
            memset(val, 'a' + (i + j) % 26, vlen);
            struct keel_record rec = {KEEL_TYPE_STRING, 0, (uint64_t)(i + j), val, vlen};
            rc = storage_put(&txn, cstr(key), &rec, NULL);
        }
        if (rc == 0) rc = storage_set_applied(&txn, (uint64_t)(i + n));
        if (rc == 0) {
            rc = storage_txn_commit(&txn); /* the txn is gone either way */
        } else {
            storage_txn_abort(&txn);
        }
        if (rc == 0) {
            i += n;
            continue;
        }
        if (rc != KEEL_EMAPFULL) fail_msg("write: %d %s", rc, keel_storage_errmsg(s));
        storage_txn_abort(&txn); /* harmless after a failed commit */
        rc = storage_grow(s);
        if (rc == KEEL_ENOSPACE) {
            free(val);
            return rc;
        }
        if (rc != 0) fail_msg("grow: %d %s", rc, keel_storage_errmsg(s));
        (*grows)++;
    }
    free(val);
    return 0;
}

static void check_keys(struct keel_storage *s, int from, int to, size_t vlen)
{
    struct keel_txn txn;
    struct keel_record rec;
    begin(s, false, &txn);
    for (int i = from; i < to; i++) {
        char key[32];
        snprintf(key, sizeof key, "key%08d", i);
        int rc = storage_get(&txn, cstr(key), &rec);
        if (rc != 0) fail_msg("get %s: %d", key, rc);
        assert_int_equal(rec.len, vlen);
        assert_int_equal(rec.version, i);
        if (rec.val[0] != 'a' + i % 26 || rec.val[vlen - 1] != 'a' + i % 26) {
            fail_msg("%s has the wrong value", key);
        }
    }
    storage_txn_abort(&txn);
}

static void test_map_growth(void **state)
{
    struct fx *f = *state;
    struct keel_space sp;
    int grows = 0;
    f->opts[0].map_size = 1u << 20;
    f->opts[0].max_map_size = 16u << 20;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.map_size, 1u << 20);

    /* About 4 MiB through a 1 MiB map. */
    assert_int_equal(write_growing(s, 0, 4000, 1000, 100, &grows), 0);
    assert_true(grows >= 2);
    check_keys(s, 0, 4000, 1000);
    assert_int_equal(keel_storage_applied(s), 4000);
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.keys, 4000);
    assert_true(sp.map_size > (1u << 20));
    assert_true(sp.map_size <= (16u << 20));
    assert_true(sp.file_bytes <= sp.map_size);

    /* A single txn bigger than the map: put or commit reports it. */
    assert_int_equal(write_growing(s, 4000, 6000, 1000, 2000, &grows), 0);
    check_keys(s, 0, 6000, 1000);

    /* Until the limit: then storage_grow refuses. */
    int rc = write_growing(s, 6000, 40000, 1000, 500, &grows);
    assert_int_equal(rc, KEEL_ENOSPACE);
    assert_true(keel_storage_errmsg(s)[0] != 0);
    assert_int_equal(storage_grow(s), KEEL_ENOSPACE);
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.map_size, 16u << 20);
    uint64_t applied = keel_storage_applied(s);
    assert_true(applied > 6000 && applied < 40000);
    check_keys(s, 0, (int)applied, 1000);
    assert_int_equal(sp.keys, applied);

    /* Reopened with a smaller configured map, the file's size wins; with a
     * higher limit the env grows again. */
    env_close(f, 0, true);
    f->opts[0].max_map_size = 64u << 20;
    env_open(f, 0);
    s = f->s[0];
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_true(sp.map_size >= sp.file_bytes);
    assert_true(sp.map_size >= (8u << 20));
    assert_int_equal(sp.keys, applied);
    assert_int_equal(keel_storage_applied(s), applied);
    check_keys(s, 0, (int)applied, 1000);
    grows = 0;
    assert_int_equal(write_growing(s, (int)applied, (int)applied + 4000, 1000, 500, &grows), 0);
    assert_true(grows >= 1);
    check_keys(s, 0, (int)applied + 4000, 1000);
}

static void test_quota(void **state)
{
    struct fx *f = *state;
    struct keel_space sp;
    int grows = 0;
    f->opts[0].quota = 2u << 20;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];

    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.quota, 2u << 20);
    assert_int_equal(sp.keys, 0);
    assert_true(sp.live_bytes > 0);
    assert_true(sp.live_bytes <= sp.file_bytes);
    assert_true(sp.file_bytes <= sp.map_size);
    assert_int_equal(keel_storage_quota_check(s, 0), 0);
    assert_int_equal(keel_storage_quota_check(s, 1u << 20), 0);
    assert_int_equal(keel_storage_quota_check(s, 3u << 20), KEEL_ENOSPACE); /* incoming counts */

    assert_int_equal(write_growing(s, 0, 500, 1000, 100, &grows), 0);
    assert_int_equal(keel_storage_quota_check(s, 0), 0);
    assert_int_equal(write_growing(s, 500, 3000, 1000, 100, &grows), 0);
    assert_int_equal(grows, 0);
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.keys, 3000);
    assert_true(sp.live_bytes > sp.quota);
    assert_true(sp.live_bytes >= 3000u * 1000);
    assert_true(sp.live_bytes <= sp.file_bytes);
    assert_true(sp.file_bytes <= sp.map_size);
    uint64_t full = sp.live_bytes;
    char *errbefore = strdup(keel_storage_errmsg(s));
    assert_int_equal(keel_storage_quota_check(s, 0), KEEL_ENOSPACE);
    assert_true(keel_storage_errmsg(s)[0] != 0);
    assert_string_not_equal(keel_storage_errmsg(s), errbefore);
    free(errbefore);

    /* Delete most keys: live data drops, the file does not shrink. */
    struct keel_txn txn;
    begin(s, true, &txn);
    for (int i = 100; i < 3000; i++) {
        char key[32];
        snprintf(key, sizeof key, "key%08d", i);
        assert_int_equal(storage_del(&txn, cstr(key)), 0);
    }
    commit(&txn);
    assert_int_equal(keel_storage_space(s, &sp), 0);
    assert_int_equal(sp.keys, 100);
    assert_true(sp.live_bytes < full / 4);
    assert_true(sp.live_bytes <= sp.file_bytes);
    assert_true(sp.file_bytes <= sp.map_size);
    assert_int_equal(keel_storage_quota_check(s, 0), 0);
    check_keys(s, 0, 100, 1000);

    /* No quota: never refused. */
    env_close(f, 0, true);
    f->opts[0].quota = 0;
    env_open(f, 0);
    assert_int_equal(keel_storage_quota_check(f->s[0], UINT64_MAX / 2), 0);
    assert_int_equal(keel_storage_space(f->s[0], &sp), 0);
    assert_int_equal(sp.quota, 0);
    assert_int_equal(sp.keys, 100);
}

/* ---- digest ------------------------------------------------------------ */

static void same_ops(struct keel_storage *s)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    assert_int_equal(put_in(&txn, "a", "1", 0), 0);
    assert_int_equal(put_in(&txn, "b", "2", 1000), 0);
    struct keel_record rec = {KEEL_TYPE_HASH, 2000, 3, (const uint8_t *)"f\0v", 3};
    assert_int_equal(storage_put(&txn, cstr("h"), &rec, NULL), 0);
    assert_int_equal(storage_set_applied(&txn, 3), 0);
    commit(&txn);
    begin(s, true, &txn);
    dd_put(&txn, 5, 1, 100);
    dd_put(&txn, 5, 2, 110);
    assert_int_equal(storage_meta_put(&txn, "clock", 110), 0);
    assert_int_equal(storage_del(&txn, cstr("a")), 0);
    assert_int_equal(put_in(&txn, "b", "22", 900), 0);
    assert_int_equal(storage_set_applied(&txn, 4), 0);
    commit(&txn);
}

static void test_digest(void **state)
{
    struct fx *f = *state;
    uint64_t a0, a1, d0, d1;
    env_open(f, 0);
    env_open(f, 1);
    /* Two fresh envs agree. */
    assert_int_equal(digest_of(f->s[0], &a0), digest_of(f->s[1], &a1));
    assert_int_equal(a0, 0);

    same_ops(f->s[0]);
    same_ops(f->s[1]);
    d0 = digest_of(f->s[0], &a0);
    d1 = digest_of(f->s[1], &a1);
    assert_int_equal(d0, d1);
    assert_int_equal(a0, 4);
    assert_int_equal(a1, 4);
    /* Stable: a read changes nothing; a reopen changes nothing. */
    assert_int_equal(digest_of(f->s[0], NULL), d0);
    env_close(f, 0, true);
    env_open(f, 0);
    assert_int_equal(digest_of(f->s[0], NULL), d0);

    /* One extra put, then the same put on the other side. */
    put_str(f->s[1], "x", "y", 0, 0);
    assert_int_not_equal(digest_of(f->s[1], NULL), d0);
    put_str(f->s[0], "x", "y", 0, 0);
    d0 = digest_of(f->s[0], NULL);
    assert_int_equal(digest_of(f->s[1], NULL), d0);

    /* Only the applied index differs. */
    struct keel_txn txn;
    begin(f->s[1], true, &txn);
    assert_int_equal(storage_set_applied(&txn, 5), 0);
    commit(&txn);
    d1 = digest_of(f->s[1], &a1);
    assert_int_equal(a1, 5);
    assert_int_not_equal(d1, d0);
    begin(f->s[0], true, &txn);
    assert_int_equal(storage_set_applied(&txn, 5), 0);
    commit(&txn);
    assert_int_equal(digest_of(f->s[0], &a0), d1);
    assert_int_equal(a0, 5);

    /* Each kind of replicated state counts: expiry, version, dedupe, meta. */
    uint64_t base = d1;
    put_str(f->s[0], "x", "y", 77, 0); /* expiry only */
    assert_int_not_equal(digest_of(f->s[0], NULL), base);
    put_str(f->s[0], "x", "y", 0, 0);
    assert_int_equal(digest_of(f->s[0], NULL), base);
    begin(f->s[0], true, &txn);
    struct keel_record rec = {KEEL_TYPE_STRING, 0, 2, (const uint8_t *)"y", 1}; /* version */
    assert_int_equal(storage_put(&txn, cstr("x"), &rec, NULL), 0);
    commit(&txn);
    assert_int_not_equal(digest_of(f->s[0], NULL), base);
    put_str(f->s[0], "x", "y", 0, 0);
    assert_int_equal(digest_of(f->s[0], NULL), base);
    begin(f->s[0], true, &txn);
    dd_put(&txn, 6, 1, 120);
    commit(&txn);
    assert_int_not_equal(digest_of(f->s[0], NULL), base);
    begin(f->s[1], true, &txn);
    dd_put(&txn, 6, 1, 120);
    commit(&txn);
    assert_int_equal(digest_of(f->s[0], NULL), digest_of(f->s[1], NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_buf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_clean_other_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_crash_same_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_crash_other_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_unknown_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
    };
    return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
