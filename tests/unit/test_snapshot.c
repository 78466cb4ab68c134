/* tests: snapshot images of the env: create, verify, write to a file,
 * restore, and rejection of damaged images. Restores into what is not an env
 * and interrupted restores: test_snapshot_restore.c; snapshots while the env
 * is written, small maps, the repair's reinstall and the off-loop digest:
 * test_snapshot_live.c. */
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

/* ---- create, verify, write --------------------------------------------- */

static void test_create_verify(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot_info info;
    size_t len;

    /* An empty env makes a valid image too. */
    env_open(f, 0);
    snap_create(f, f->s[0]);
    assert_int_equal(f->snap.info.applied, 0);
    assert_int_equal(f->snap.info.keys, 0);
    f->image = image_of(&f->snap, &len);
    assert_int_equal(keel_snapshot_verify(f->image, len, &info, errmsg), 0);
    free(f->image);
    f->image = NULL;

    fill(f->s[0], 0, 5000, 250);
    assert_int_equal(keel_storage_applied(f->s[0]), 5000);
    snap_create(f, f->s[0]);
    struct keel_snapshot *snap = &f->snap;
    assert_int_equal(snap->info.version, KEEL_SNAPSHOT_VERSION);
    assert_int_equal(snap->info.applied, 5000);
    assert_int_equal(snap->info.keys, 5000);
    assert_int_equal(snap->info.keys, key_count(f->s[0]));
    assert_int_equal(snap->info.data_len, snap->data_len);
    assert_true(snap->data_len > 0);
    assert_non_null(snap->data);
    assert_true(snap->fd > 0);

    /* The header, field by field. */
    const uint8_t *h = snap->header;
    assert_memory_equal(h, KEEL_SNAPSHOT_MAGIC, 8);
    assert_int_equal(le32_load(h + 8), 1);
    assert_int_equal(le32_load(h + 12), 64);
    assert_int_equal(le64_load(h + 16), 5000);
    assert_int_equal(le64_load(h + 24), snap->data_len);
    assert_int_equal(le64_load(h + 32), XXH3_64bits(snap->data, snap->data_len));
    assert_int_equal(le64_load(h + 40), 5000);
    assert_int_equal(le64_load(h + 48), 0);
    assert_int_equal(le64_load(h + 56), XXH3_64bits(h, 56));

    f->image = image_of(snap, &len);
    memset(&info, 0xee, sizeof info);
    errmsg[0] = 0;
    assert_int_equal(keel_snapshot_verify(f->image, len, &info, errmsg), 0);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.applied, 5000);
    assert_int_equal(info.keys, 5000);
    assert_int_equal(info.data_len, snap->data_len);
    assert_int_equal(info.checksum, snap->info.checksum);
    assert_int_equal(keel_snapshot_verify(f->image, len, NULL, errmsg), 0);

    /* To a backup file and back. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/backup.snap", f->dir[1]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(keel_snapshot_write_fd(snap, fd, errmsg), 0);
    assert_int_equal(close(fd), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, len);
    f->image2 = malloc(len);
    assert_non_null(f->image2);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, f->image2 + got, len - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fd);
    assert_memory_equal(f->image2, f->image, len);
    assert_int_equal(keel_snapshot_verify(f->image2, len, &info, errmsg), 0);
    assert_int_equal(info.applied, 5000);

    /* Writing to a bad fd fails with a message. */
    errmsg[0] = 0;
    assert_int_not_equal(keel_snapshot_write_fd(snap, -1, errmsg), 0);
    assert_true(errmsg[0] != 0);

    /* The env is unchanged by a snapshot and a later one sees new writes. */
    assert_int_equal(key_count(f->s[0]), 5000);
    put_str(f->s[0], "extra", "x", 5001);
    snap_create(f, f->s[0]);
    assert_int_equal(f->snap.info.applied, 5001);
    assert_int_equal(f->snap.info.keys, 5001);
}

/* ---- restore ----------------------------------------------------------- */

static void test_restore_roundtrip(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE], buf[128];
    bool replaced;
    size_t len;
    uint64_t aa, ab;

    env_open(f, 0);
    fill(f->s[0], 0, 3000, 300);
    snap_create(f, f->s[0]);
    f->image = image_of(&f->snap, &len);
    uint64_t da = digest_of(f->s[0], &aa);
    assert_int_equal(aa, 3000);

    env_open(f, 1);
    struct keel_storage *b = f->s[1];
    assert_int_equal(keel_storage_applied(b), 0);
    assert_int_not_equal(digest_of(b, NULL), da);
    int rc = restore(b, f->image, len, &replaced, errmsg);
    if (rc != 0) fail_msg("restore: %d %s", rc, errmsg);
    assert_true(replaced);
    assert_int_equal(keel_storage_applied(b), 3000);
    assert_int_equal(digest_of(b, &ab), da);
    assert_int_equal(ab, 3000);
    assert_int_equal(key_count(b), 3000);
    assert_int_equal(get_str(b, "key00001234", buf, sizeof buf), 0);
    assert_string_equal(buf, "value of entry 1234");
    assert_false(exists(f->dir[1], "kv.restore"));
    assert_false(exists(f->dir[1], "kv.old"));
    /* The restored env is the live one: writable and durable. */
    put_str(b, "after", "restore", 3001);
    assert_int_equal(keel_storage_applied(b), 3001);
    uint64_t db = digest_of(b, NULL);
    env_close(f, 1);
    assert_false(env_open(f, 1));
    b = f->s[1];
    assert_int_equal(keel_storage_applied(b), 3001);
    assert_int_equal(digest_of(b, NULL), db);
    assert_int_equal(get_str(b, "after", buf, sizeof buf), 0);

    /* Not newer than what B holds: kept as it is. */
    rc = restore(b, f->image, len, &replaced, errmsg);
    assert_int_equal(rc, 0);
    assert_false(replaced);
    assert_int_equal(digest_of(b, &ab), db);
    assert_int_equal(ab, 3001);
    assert_false(exists(f->dir[1], "kv.restore"));

    /* Equal index: kept too. A and B at 3001 with different contents prove
     * B was not replaced. */
    put_str(f->s[0], "other", "a", 3001);
    snap_create(f, f->s[0]);
    free(f->image);
    f->image = image_of(&f->snap, &len);
    assert_int_equal(restore(b, f->image, len, &replaced, errmsg), 0);
    assert_false(replaced);
    assert_int_equal(digest_of(b, NULL), db);

    /* Newer: replaced, and what B alone had is gone. */
    put_str(f->s[0], "newer", "n", 3002);
    snap_create(f, f->s[0]);
    free(f->image);
    f->image = image_of(&f->snap, &len);
    assert_int_equal(restore(b, f->image, len, &replaced, errmsg), 0);
    assert_true(replaced);
    assert_int_equal(digest_of(b, NULL), digest_of(f->s[0], NULL));
    assert_int_equal(get_str(b, "after", buf, sizeof buf), KEEL_ENOTFOUND);
    assert_int_equal(get_str(b, "newer", buf, sizeof buf), 0);
    assert_int_equal(keel_storage_applied(b), 3002);

    /* A restored env is trusted across an unclean close in this boot. */
    keel_storage_close(b, false);
    f->s[1] = NULL;
    assert_false(env_open(f, 1));
    assert_int_equal(keel_storage_applied(f->s[1]), 3002);
    assert_int_equal(digest_of(f->s[1], NULL), digest_of(f->s[0], NULL));
}

/* One damaged image: refused by verify and by restore, with the expected code
 * (0: any), and never loaded. */
static void expect_rejected(struct fx *f, const uint8_t *image, size_t len, int want,
                            uint64_t *digest, uint64_t *applied, const char *what, int round)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot_info info;
    bool replaced;
    errmsg[0] = 0;
    int rc = keel_snapshot_verify(image, len, &info, errmsg);
    if (rc == 0) fail_msg("%s: verify accepted it", what);
    if (want != 0 && rc != want) fail_msg("%s: verify %d, want %d (%s)", what, rc, want, errmsg);
    if (errmsg[0] == 0) fail_msg("%s: verify gave no message", what);
    rc = restore(f->s[1], image, len, &replaced, errmsg);
    if (rc == 0) fail_msg("%s: restore accepted it", what);
    if (want != 0 && rc != want) fail_msg("%s: restore %d, want %d (%s)", what, rc, want, errmsg);
    if (errmsg[0] == 0) fail_msg("%s: restore gave no message", what);
    assert_false(replaced);
    check_b_intact(f, digest, applied, round);
}

static void test_corrupt_images(void **state)
{
    struct fx *f = *state;
    size_t len;
    int round = 0;

    env_open(f, 0);
    fill(f->s[0], 0, 2000, 500);
    snap_create(f, f->s[0]);
    f->image = image_of(&f->snap, &len);
    const uint8_t *good = f->image;
    f->image2 = malloc(len + 8192);
    assert_non_null(f->image2);
    uint8_t *bad = f->image2;

    env_open(f, 1);
    fill(f->s[1], 0, 10, 5);
    uint64_t applied = 10;
    uint64_t digest = digest_of(f->s[1], NULL);

    /* Truncated. */
    size_t cuts[] = {0, 1, 63, 64, 65, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu", cuts[i]);
        memcpy(bad, good, len);
        expect_rejected(f, bad, cuts[i], KEEL_ECORRUPT, &digest, &applied, what, round++);
    }

    /* Each header byte altered, one at a time. */
    for (size_t i = 0; i < KEEL_SNAPSHOT_HEADER; i++) {
        char what[64];
        snprintf(what, sizeof what, "header byte %zu flipped", i);
        memcpy(bad, good, len);
        bad[i] ^= 0x5a;
        expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, what, round++);
        bad[i] ^= 0x5a ^ 0x01; /* a single bit too */
        expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, what, round++);
    }

    /* Data bytes altered: first, middle, last. */
    size_t at[] = {KEEL_SNAPSHOT_HEADER, KEEL_SNAPSHOT_HEADER + 4096 + 17, len / 2, len - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "data byte %zu flipped", at[i]);
        memcpy(bad, good, len);
        bad[at[i]] ^= 0x80;
        expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, what, round++);
    }

    /* Trailing bytes. */
    memcpy(bad, good, len);
    memset(bad + len, 0, 8192);
    expect_rejected(f, bad, len + 1, KEEL_ECORRUPT, &digest, &applied, "1 trailing byte",
                    round++);
    expect_rejected(f, bad, len + 4096, KEEL_ECORRUPT, &digest, &applied, "a trailing page",
                    round++);

    /* Wrong magic, even with a valid header checksum. */
    memcpy(bad, good, len);
    memcpy(bad, "KEELSNAQ", 8);
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "wrong magic", round++);
    memcpy(bad, "SQLite f", 8);
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "foreign magic", round++);

    /* A newer format version, properly sealed: KEEL_EVERSION. */
    memcpy(bad, good, len);
    bad[8] = 2;
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_EVERSION, &digest, &applied, "version 2", round++);
    memcpy(bad, good, len);
    bad[8] = 0;
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_EVERSION, &digest, &applied, "version 0", round++);
    memcpy(bad, good, len);
    bad[11] = 1; /* version 1 + 2^24 */
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_EVERSION, &digest, &applied, "version 2^24+1", round++);

    /* Sealed headers with a wrong header size or data length. */
    memcpy(bad, good, len);
    bad[12] = 65;
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "header size 65", round++);
    memcpy(bad, good, len);
    bad[13] = 1;
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "header size 320", round++);
    memcpy(bad, good, len);
    le64_store(bad + 24, le64_load(good + 24) - 4096);
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "data length short",
                    round++);
    expect_rejected(f, bad, len - 4096, KEEL_ECORRUPT, &digest, &applied,
                    "consistently truncated", round++);
    memcpy(bad, good, len);
    le64_store(bad + 24, UINT64_MAX);
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "data length huge", round++);
    /* A sealed header with a wrong data checksum. */
    memcpy(bad, good, len);
    le64_store(bad + 32, le64_load(good + 32) + 1);
    reseal(bad);
    expect_rejected(f, bad, len, KEEL_ECORRUPT, &digest, &applied, "data checksum", round++);

    /* After all that, the good image still restores. */
    char errmsg[KEEL_ERRMSG_SIZE];
    bool replaced;
    assert_int_equal(restore(f->s[1], good, len, &replaced, errmsg), 0);
    assert_true(replaced);
    assert_int_equal(digest_of(f->s[1], NULL), digest_of(f->s[0], NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_images, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
