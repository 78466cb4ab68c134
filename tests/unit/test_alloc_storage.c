/* tests: opening the storage (keel_storage_open, storage/env.c) under
 * allocation failure (alloc_fail.h), on each of its three starts: a fresh
 * directory, a cleanly closed env (trusted: its data kept) and an env left
 * open under another boot (untrusted: wiped). At each N the open must fail
 * with KEEL_ENOMEM and a message, set *out to NULL, free what it took
 * (LeakSanitizer, Sanitize build), and leave the directory so that the next
 * open, with nothing failing, succeeds and finds the data it should.
 * Only Keel's own allocations fail: LMDB's are inside liblmdb.so. */
#include <sys/stat.h>

#include "storage_fixture.h"

#include "tests/lib/testlib.h"
#include "unit/alloc_fail.h"

struct open_run
{
    struct keel_storage_options o;
    char boot_a[PATH_MAX];
    char boot_b[PATH_MAX];
    char *dir;
    bool want_wiped;      /* what the open that completes should say */
    uint64_t want_marker; /* the meta "marker" it should find (0: none) */
    struct keel_storage *s;
    bool wiped;
    char errmsg[KEEL_ERRMSG_SIZE];
};

static void put_marker(struct keel_storage *s, uint64_t v)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    assert_int_equal(storage_meta_put(&txn, "marker", v), 0);
    commit(&txn);
}

static uint64_t get_marker(struct keel_storage *s)
{
    struct keel_txn txn;
    uint64_t v = 0;
    begin(s, false, &txn);
    assert_int_equal(storage_meta_get(&txn, "marker", &v), 0);
    storage_txn_abort(&txn);
    return v;
}

static int open_op(void *arg)
{
    struct open_run *r = arg;
    r->s = (struct keel_storage *)&r->s; /* must be overwritten (NULL on error) */
    r->errmsg[0] = 0;
    r->wiped = false;
    return keel_storage_open(&r->o, &r->s, &r->wiped, r->errmsg);
}

/* The open that completes: the right env, then closed as the case needs
 * for the next run (it starts from the same state each time). */
static void check_opened(struct open_run *r, int rc)
{
    if (rc != 0) fail_msg("open with nothing failing: %d %s", rc, r->errmsg);
    assert_non_null(r->s);
    assert_int_equal(r->wiped, r->want_wiped);
    assert_int_equal(get_marker(r->s), r->want_marker);
}

static void open_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct open_run *r = arg;
    if (hit) {
        if (rc != KEEL_ENOMEM) fail_msg("allocation %lu failing: rc %d (%s), want KEEL_ENOMEM", n, rc, r->errmsg);
        assert_null(r->s);
        assert_true(strlen(r->errmsg) > 0);
        /* Usable afterwards: the same start, now with nothing failing. */
        assert_int_equal(open_op(r), 0);
    }
    check_opened(r, hit ? 0 : rc);
}

static void fresh_dir(void **state)
{
    (void)state;
    struct open_run r = {.want_wiped = false, .want_marker = 0};
    r.dir = env_scratch("alloc-storage", "boot-a", "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n", r.boot_a, &r.o);
    assert_non_null(r.dir);
    char sub[PATH_MAX];
    for (unsigned long n = 1;; n++) {
        /* A directory of its own for every N: each open starts fresh. */
        snprintf(sub, sizeof sub, "%s/n%lu", r.dir, n);
        assert_int_equal(mkdir(sub, 0700), 0);
        r.o.dir = sub;
        alloc_fail_arm(n);
        int rc = open_op(&r);
        alloc_fail_disarm();
        bool hit = alloc_fail_hits() > 0;
        open_check(&r, rc, n, hit);
        keel_storage_close(r.s, true);
        if (!hit) {
            printf("alloc_fail_loop: keel_storage_open (fresh): allocation 1..%lu handled\n", n - 1);
            assert_true(n >= 2);
            break;
        }
        assert_true(n < 32);
    }
    test_rmdtemp(r.dir);
}

static void close_clean_cb(void *arg, int rc, unsigned long n, bool hit)
{
    struct open_run *r = arg;
    open_check(r, rc, n, hit);
    keel_storage_close(r->s, true); /* the next run finds it clean again */
}

static void trusted_env(void **state)
{
    (void)state;
    struct open_run r = {.want_wiped = false, .want_marker = 7};
    r.dir = env_scratch("alloc-storage", "boot-a", "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n", r.boot_a, &r.o);
    assert_non_null(r.dir);
    struct keel_storage *s;
    env_open_with(&r.o, &s);
    put_marker(s, 7);
    keel_storage_close(s, true);
    assert_true(alloc_fail_loop("keel_storage_open (clean env)", false, 32, open_op, close_clean_cb, &r) >= 2);
    assert_true(alloc_fail_loop("keel_storage_open (clean env)", true, 32, open_op, close_clean_cb, &r) >= 2);
    test_rmdtemp(r.dir);
}

/* Left open (not clean) under boot a, reopened under boot b: the env is
 * distrusted and wiped; leave it so again after every run. */
static void reset_untrusted(struct open_run *r)
{
    struct keel_storage *s;
    r->o.boot_id_path = r->boot_a;
    env_open_with(&r->o, &s);
    put_marker(s, 9);
    keel_storage_close(s, false);
    r->o.boot_id_path = r->boot_b;
}

static void close_dirty_cb(void *arg, int rc, unsigned long n, bool hit)
{
    struct open_run *r = arg;
    open_check(r, rc, n, hit);
    keel_storage_close(r->s, true);
    reset_untrusted(r);
}

static void untrusted_env(void **state)
{
    (void)state;
    struct open_run r = {.want_wiped = true, .want_marker = 0};
    r.dir = env_scratch("alloc-storage", "boot-a", "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n", r.boot_a, &r.o);
    assert_non_null(r.dir);
    snprintf(r.boot_b, sizeof r.boot_b, "%s/boot-b", r.dir);
    test_write_text(r.boot_b, "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb\n");
    reset_untrusted(&r);
    assert_true(alloc_fail_loop("keel_storage_open (untrusted env)", false, 32, open_op, close_dirty_cb, &r) >= 2);
    test_rmdtemp(r.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_dir),
        cmocka_unit_test(trusted_env),
        cmocka_unit_test(untrusted_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
