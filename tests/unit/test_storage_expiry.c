/* tests: the storage env's expiry index: keys due at a time, found in
 * order and swept, kept right across overwrites, persists and deletes. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>

#include "tests/unit/storage_env_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expiry_index, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
