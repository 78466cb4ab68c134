/* tests: a snapshot taken while the env keeps being written (the image
 * holds one consistent state), a snapshot of a small map, the repair's
 * forced reinstall and the digest computed off the loop. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "common/le.h"
#include "storage/snapshot.h"
#include "tests/lib/testlib.h"
#include "tests/unit/snapshot_fixture.h"

/* ---- snapshot under load ----------------------------------------------- */

struct snap_job
{
    struct keel_storage *s;
    struct keel_snapshot snap;
    int rc;
    char errmsg[KEEL_ERRMSG_SIZE];
    atomic_bool done;
};

static void *snap_thread(void *arg)
{
    struct snap_job *job = arg;
    job->rc = keel_storage_snapshot_create(job->s, &job->snap, job->errmsg);
    atomic_store(&job->done, true);
    return NULL;
}

/* Entry i puts key%08u = "v<i>" and counter = i, deletes key i/2 when i is a
 * multiple of 4, and sets applied = i. Grows the map when it is full. */
static int try_entry(struct keel_storage *s, uint64_t i)
{
    struct keel_txn txn;
    char key[32], val[32];
    begin(s, true, &txn);
    snprintf(key, sizeof key, "key%08llu", (unsigned long long)i);
    snprintf(val, sizeof val, "v%llu", (unsigned long long)i);
    struct keel_record rec = {KEEL_TYPE_STRING, 0, i, (const uint8_t *)val, strlen(val)};
    int rc = storage_put(&txn, cstr(key), &rec, NULL);
    rec.val = (const uint8_t *)val + 1;
    rec.len = strlen(val) - 1;
    if (rc == 0) rc = storage_put(&txn, cstr("counter"), &rec, NULL);
    if (rc == 0 && i % 4 == 0) {
        /* Some churn, so pages are freed and reused under the copy. */
        snprintf(key, sizeof key, "key%08llu", (unsigned long long)(i / 2));
        rc = storage_del(&txn, cstr(key));
    }
    if (rc == 0) rc = storage_set_applied(&txn, i);
    if (rc != 0) {
        storage_txn_abort(&txn);
        return rc;
    }
    return storage_txn_commit(&txn);
}

static void write_entry(struct keel_storage *s, uint64_t i)
{
    int rc;
    while ((rc = try_entry(s, i)) == KEEL_EMAPFULL) {
        rc = storage_grow(s); /* waits for a running snapshot copy */
        if (rc != 0) fail_msg("grow: %d %s", rc, keel_storage_errmsg(s));
    }
    if (rc != 0) fail_msg("entry %llu: %d %s", (unsigned long long)i, rc, keel_storage_errmsg(s));
}

struct check_state
{
    uint64_t applied;
    uint64_t seen;
    int bad;
};

/* Exactly the keys entries 1..applied leave behind, with their values. */
static int check_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct check_state *st = arg;
    char k[32], v[32];
    if (key.n == 7 && memcmp(key.p, "counter", 7) == 0) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)st->applied);
        if (rec->len != strlen(v) || memcmp(rec->val, v, rec->len) != 0) st->bad++;
        st->seen++;
        return 0;
    }
    if (key.n != 11) return 1;
    memcpy(k, key.p, 11);
    k[11] = 0;
    unsigned long long i = strtoull(k + 3, NULL, 10);
    bool deleted = i % 2 == 0 && 2 * i <= st->applied; /* by entry 2i */
    snprintf(v, sizeof v, "v%llu", i);
    if (i == 0 || i > st->applied || deleted || rec->version != i || rec->len != strlen(v) ||
        memcmp(rec->val, v, rec->len) != 0) {
        st->bad++;
    }
    st->seen++;
    return 0;
}

static void test_snapshot_while_writing(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    bool replaced;
    size_t len;

    /* A small map, so grows happen while the copy runs. */
    f->opts[0].map_size = 1u << 20;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];
    uint64_t i = 0;
    while (i < 20000) write_entry(s, ++i);

    struct snap_job *job = calloc(1, sizeof *job);
    assert_non_null(job);
    job->s = s;
    atomic_init(&job->done, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, snap_thread, job), 0);
    uint64_t started = i;
    while (!atomic_load(&job->done)) write_entry(s, ++i);
    /* A few more after the copy finished. */
    for (int n = 0; n < 10; n++) write_entry(s, ++i);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (job->rc != 0) {
        keel_snapshot_release(&job->snap);
        fail_msg("snapshot in a thread: %d %s", job->rc, job->errmsg);
    }
    f->snap = job->snap;
    f->have_snap = true;
    free(job);

    uint64_t at = f->snap.info.applied;
    assert_true(at >= started);
    assert_true(at < i);
    f->image = image_of(&f->snap, &len);
    struct keel_snapshot_info info;
    assert_int_equal(keel_snapshot_verify(f->image, len, &info, errmsg), 0);
    assert_int_equal(info.applied, at);

    env_open(f, 1);
    int rc = restore(f->s[1], f->image, len, &replaced, errmsg);
    if (rc != 0) fail_msg("restore: %d %s", rc, errmsg);
    assert_true(replaced);
    assert_int_equal(keel_storage_applied(f->s[1]), at);

    /* One consistent state: exactly what entries 1..at leave. */
    struct check_state st = {.applied = at};
    struct keel_txn txn;
    assert_int_equal(storage_txn_begin(f->s[1], false, &txn), 0);
    assert_int_equal(storage_scan(&txn, (struct keel_slice){NULL, 0}, check_cb, &st), 0);
    storage_txn_abort(&txn);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.seen, at - at / 4 + 1);
    assert_int_equal(info.keys, st.seen);

    /* Replaying the rest of the entries brings B to A's exact state. */
    for (uint64_t j = at + 1; j <= i; j++) write_entry(f->s[1], j);
    assert_int_equal(digest_of(f->s[1], NULL), digest_of(s, NULL));
}

/* An image of an env grown from a small map, restored into a small map. */
static void test_snapshot_small_map(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    size_t len;
    bool replaced;
    f->opts[0].map_size = 1u << 20;
    f->opts[0].max_map_size = 64u << 20;
    env_open(f, 0);
    struct keel_storage *s = f->s[0];
    uint64_t i = 0;
    while (i < 30000) {
        i++;
        struct keel_txn txn;
        for (;;) {
            char key[32];
            begin(s, true, &txn);
            snprintf(key, sizeof key, "key%08llu", (unsigned long long)i);
            struct keel_record rec = {KEEL_TYPE_STRING, 0, i, (const uint8_t *)key, 11};
            int rc = storage_put(&txn, cstr(key), &rec, NULL);
            if (rc == 0) rc = storage_set_applied(&txn, i);
            if (rc == 0) {
                rc = storage_txn_commit(&txn);
            } else {
                storage_txn_abort(&txn);
            }
            if (rc == 0) break;
            assert_int_equal(rc, KEEL_EMAPFULL);
            assert_int_equal(storage_grow(s), 0);
        }
    }
    snap_create(f, s);
    assert_int_equal(f->snap.info.keys, 30000);
    f->image = image_of(&f->snap, &len);
    f->opts[1].map_size = 1u << 20; /* smaller than the image */
    env_open(f, 1);
    assert_int_equal(restore(f->s[1], f->image, len, &replaced, errmsg), 0);
    assert_true(replaced);
    assert_int_equal(digest_of(f->s[1], NULL), digest_of(s, NULL));
    env_close(f, 1);
    env_open(f, 1);
    assert_int_equal(digest_of(f->s[1], NULL), digest_of(s, NULL));
    /* And the restored env keeps growing. */
    struct keel_txn txn;
    begin(f->s[1], true, &txn);
    static uint8_t big[4u << 20];
    struct keel_record rec = {KEEL_TYPE_STRING, 0, 1, big, sizeof big};
    int rc = storage_put(&txn, cstr("big"), &rec, NULL);
    if (rc == 0) rc = storage_txn_commit(&txn);
    else storage_txn_abort(&txn);
    if (rc == KEEL_EMAPFULL) {
        while (rc == KEEL_EMAPFULL) {
            assert_int_equal(storage_grow(f->s[1]), 0);
            begin(f->s[1], true, &txn);
            rc = storage_put(&txn, cstr("big"), &rec, NULL);
            if (rc == 0) rc = storage_txn_commit(&txn);
            else storage_txn_abort(&txn);
        }
    }
    assert_int_equal(rc, 0);
}

/* ---- repair: forced reinstall, off-loop digest ------------------------- */

static void *digest_thread(void *arg)
{
    keel_storage_digest_run(arg);
    return NULL;
}

/* The automatic repair installs the leader's image over an env that failed
 * the consistency check even when the env claims a later index (restore
 * keeps such an env: it trusts it); the off-loop digest sees the state as of
 * its begin, whatever the loop writes while the pool thread walks. */
static void test_reinstall_and_digest_job(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE], buf[64];
    bool replaced;
    size_t len;

    env_open(f, 0);
    fill(f->s[0], 0, 3000, 300);
    snap_create(f, f->s[0]);
    f->image = image_of(&f->snap, &len);
    uint64_t good = digest_of(f->s[0], NULL);

    /* B: the same history and more, then a value damaged in place. */
    env_open(f, 1);
    struct keel_storage *b = f->s[1];
    fill(b, 0, 3100, 300);
    put_str(b, "key00000043", "damaged", 0);
    assert_int_equal(keel_storage_applied(b), 3100);
    uint64_t bad = digest_of(b, NULL);
    assert_int_equal(restore(b, f->image, len, &replaced, errmsg), 0);
    assert_false(replaced); /* older: a trusted env is kept */
    assert_int_equal(digest_of(b, NULL), bad);
    int rc = keel_storage_reinstall(b, f->image, len, errmsg);
    if (rc != 0) fail_msg("reinstall: %d %s", rc, errmsg);
    assert_int_equal(keel_storage_applied(b), 3000); /* the caller replays 3001.. */
    assert_int_equal(digest_of(b, NULL), good);
    assert_int_equal(get_str(b, "key00000043", buf, sizeof buf), 0);
    assert_string_equal(buf, "value of entry 43");
    assert_false(exists(f->dir[1], "kv.restore"));
    /* A damaged image is refused and B stays as it was. */
    f->image[KEEL_SNAPSHOT_HEADER + 100] ^= 0x20;
    assert_int_equal(keel_storage_reinstall(b, f->image, len, errmsg), KEEL_ECORRUPT);
    assert_non_null(strstr(errmsg, "checksum"));
    assert_int_equal(digest_of(b, NULL), good);

    /* The job's txn is the state at begin; writes meanwhile do not show. */
    struct keel_digest_job job;
    assert_int_equal(keel_storage_digest_begin(b, &job), 0);
    assert_int_equal(job.applied, 3000);
    fill(b, 3000, 3050, 10);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, digest_thread, &job), 0);
    fill(b, 3050, 3100, 10);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(job.rc, 0);
    assert_int_equal(job.digest, good);
    assert_null(job.txn);
    assert_int_not_equal(digest_of(b, NULL), good);
    /* Unpinned: a restore (which waits for pins) goes through. */
    snap_create(f, f->s[0]);
    put_str(f->s[0], "newest", "n", 3200);
    snap_create(f, f->s[0]);
    free(f->image);
    f->image = image_of(&f->snap, &len);
    assert_int_equal(restore(b, f->image, len, &replaced, errmsg), 0);
    assert_true(replaced);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_small_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reinstall_and_digest_job, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
