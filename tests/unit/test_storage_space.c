/* tests: the storage env's space: the map grows as data does, the quota
 * refuses writes past it (deletes still pass), and the digest covers exactly
 * the state. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>

#include "tests/unit/storage_env_fixture.h"

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
        cmocka_unit_test_setup_teardown(test_map_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
