/* tests: restoring a snapshot image over a directory that is not an env,
 * and recovering a restore interrupted at each of its steps. */
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

/* Images with every checksum right whose data is not what the header says. */
static void test_restore_not_an_env(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot_info info;
    bool replaced;
    size_t len;

    env_open(f, 0);
    fill(f->s[0], 0, 1000, 500);
    snap_create(f, f->s[0]);
    f->image = image_of(&f->snap, &len);
    env_open(f, 1);
    fill(f->s[1], 0, 10, 10);
    uint64_t applied = 10;
    uint64_t digest = digest_of(f->s[1], NULL);

    /* Random bytes, sealed. */
    size_t dlen = 64 * 1024;
    f->image2 = malloc(KEEL_SNAPSHOT_HEADER + dlen);
    assert_non_null(f->image2);
    uint8_t *img = f->image2;
    memcpy(img, f->image, KEEL_SNAPSHOT_HEADER);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < dlen; i++) {
        test_xorshift64(&x);
        img[KEEL_SNAPSHOT_HEADER + i] = (uint8_t)x;
    }
    le64_store(img + 24, dlen);
    le64_store(img + 32, XXH3_64bits(img + KEEL_SNAPSHOT_HEADER, dlen));
    reseal(img);
    assert_int_equal(keel_snapshot_verify(img, KEEL_SNAPSHOT_HEADER + dlen, &info, errmsg), 0);
    assert_int_equal(info.applied, 1000);
    errmsg[0] = 0;
    int rc = restore(f->s[1], img, KEEL_SNAPSHOT_HEADER + dlen, &replaced, errmsg);
    assert_int_not_equal(rc, 0);
    assert_false(replaced);
    assert_true(errmsg[0] != 0);
    check_b_intact(f, &digest, &applied, 0);

    /* Zeros: not an env either. */
    memset(img + KEEL_SNAPSHOT_HEADER, 0, dlen);
    le64_store(img + 32, XXH3_64bits(img + KEEL_SNAPSHOT_HEADER, dlen));
    reseal(img);
    rc = restore(f->s[1], img, KEEL_SNAPSHOT_HEADER + dlen, &replaced, errmsg);
    assert_int_not_equal(rc, 0);
    assert_false(replaced);
    assert_true(errmsg[0] != 0);
    check_b_intact(f, &digest, &applied, 1);

    /* A real env whose header claims another applied index. */
    uint8_t *lie = f->image;
    le64_store(lie + 16, 1500);
    reseal(lie);
    assert_int_equal(keel_snapshot_verify(lie, len, &info, errmsg), 0);
    rc = restore(f->s[1], lie, len, &replaced, errmsg);
    assert_int_equal(rc, KEEL_ECORRUPT);
    assert_false(replaced);
    assert_true(errmsg[0] != 0);
    check_b_intact(f, &digest, &applied, 2);
    le64_store(lie + 16, 1000);
    reseal(lie);
    assert_int_equal(restore(f->s[1], lie, len, &replaced, errmsg), 0);
    assert_true(replaced);
    assert_int_equal(keel_storage_applied(f->s[1]), 1000);
}

/* ---- interrupted restore ----------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    close(in);
    assert_int_equal(close(out), 0);
}

/* What restore leaves in <dir>/kv.restore before the swap: the image's env,
 * marked clean. Here: a copy of env `from`'s files (closed). */
static void stage_restore(struct fx *f, int from, int into)
{
    char src[PATH_MAX + 32], dst[PATH_MAX + 32];
    snprintf(dst, sizeof dst, "%s/kv.restore", f->dir[into]);
    assert_int_equal(mkdir(dst, 0700), 0);
    snprintf(src, sizeof src, "%s/kv/data.mdb", f->dir[from]);
    snprintf(dst, sizeof dst, "%s/kv.restore/data.mdb", f->dir[into]);
    copy_file(src, dst);
    snprintf(src, sizeof src, "%s/kv/STATE", f->dir[from]);
    snprintf(dst, sizeof dst, "%s/kv.restore/STATE", f->dir[into]);
    copy_file(src, dst);
}

static void rename_in(const char *dir, const char *from, const char *to)
{
    char a[PATH_MAX + 32], b[PATH_MAX + 32];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    assert_int_equal(rename(a, b), 0);
}

static void test_interrupted_restore(void **state)
{
    struct fx *f = *state;
    char buf[64];

    /* A: the image's contents. B: the env being replaced. */
    env_open(f, 0);
    fill(f->s[0], 0, 800, 200);
    uint64_t da = digest_of(f->s[0], NULL);
    env_close(f, 0);
    env_open(f, 1);
    fill(f->s[1], 0, 300, 100);
    put_str(f->s[1], "only-b", "b", 301);
    uint64_t db = digest_of(f->s[1], NULL);
    env_close(f, 1);

    /* Crash after kv -> kv.old, before kv.restore -> kv. */
    stage_restore(f, 0, 1);
    rename_in(f->dir[1], "kv", "kv.old");
    assert_false(env_open(f, 1));
    assert_int_equal(keel_storage_applied(f->s[1]), 800);
    assert_int_equal(digest_of(f->s[1], NULL), da);
    assert_int_not_equal(da, db);
    assert_int_equal(get_str(f->s[1], "only-b", buf, sizeof buf), KEEL_ENOTFOUND);
    assert_false(exists(f->dir[1], "kv.restore"));
    assert_false(exists(f->dir[1], "kv.old"));
    assert_true(exists(f->dir[1], "kv/data.mdb"));
    put_str(f->s[1], "later", "l", 801);
    env_close(f, 1);
    env_open(f, 1);
    assert_int_equal(keel_storage_applied(f->s[1]), 801);
    uint64_t db2 = digest_of(f->s[1], NULL);
    env_close(f, 1);

    /* Crash while kv.restore was still being written: kv is kept. */
    stage_restore(f, 0, 1);
    assert_false(env_open(f, 1));
    assert_int_equal(digest_of(f->s[1], NULL), db2);
    assert_int_equal(get_str(f->s[1], "later", buf, sizeof buf), 0);
    assert_false(exists(f->dir[1], "kv.restore"));
    env_close(f, 1);

    /* A half-written kv.restore (not an env at all) beside kv: removed. */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/kv.restore", f->dir[1]);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/kv.restore/data.mdb", f->dir[1]);
    test_write_text(path, "partial");
    env_open(f, 1);
    assert_int_equal(digest_of(f->s[1], NULL), db2);
    assert_false(exists(f->dir[1], "kv.restore"));
    env_close(f, 1);

    /* Crash after the swap, before kv.old was removed: kv kept, kv.old gone. */
    snprintf(path, sizeof path, "%s/kv.old", f->dir[1]);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/kv.old/data.mdb", f->dir[1]);
    test_write_text(path, "old env");
    env_open(f, 1);
    assert_int_equal(digest_of(f->s[1], NULL), db2);
    assert_false(exists(f->dir[1], "kv.old"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_not_an_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_restore, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
