/* tests: the storage env's dedupe table, and the trust rule: an env closed
 * cleanly, or crashed in this boot, is trusted; one that crashed in another
 * boot (or an unknown one) is not, and is rebuilt from the raft log. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>

#include "tests/unit/storage_env_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_clean_other_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_crash_same_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_crash_other_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_unknown_boot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
