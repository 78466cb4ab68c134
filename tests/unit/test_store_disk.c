/* tests: the store on a disk that fills up (a tmpfs of its own, so the
 * test needs root, as CI runs): apply survives ENOSPC by releasing the disk
 * reserve, reports a full disk as ENOSPC (never LMDB's "I/O error"), a
 * storage opens on a disk with no free block, and the reserve comes back
 * once the disk has room. */
#include "store_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"
#include "tests/lib/testlib.h"

#define FS_SIZE "64m"
#define RESERVE (4u << 20)
#define BIG (256u * 1024)

static char *mnt; /* the tmpfs, mounted per test */

static int mount_setup(void **state)
{
    (void)state;
    mnt = test_mkdtemp("test_store_disk");
    assert_non_null(mnt);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=" FS_SIZE ",mode=0700") != 0) {
        print_message("cannot mount a tmpfs on %s (%s): this test needs root\n", mnt, strerror(errno));
        rmdir(mnt);
        free(mnt);
        mnt = NULL;
    }
    return 0;
}

static int mount_teardown(void **state)
{
    (void)state;
    if (mnt == NULL) return 0;
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    free(mnt);
    mnt = NULL;
    return 0;
}

static void open_fx(struct fx *f)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_storage_options o = {.dir = mnt, .reserve = RESERVE};
    memset(f, 0, sizeof *f);
    int rc = keel_storage_open(&o, &f->storage, NULL, errmsg);
    if (rc != 0) fail_msg("keel_storage_open: %s", errmsg);
    assert_int_equal(keel_store_create(f->storage, &f->st), 0);
    keel_reply_init(&f->reply);
    keel_reply_init(&f->read);
}

static void close_fx(struct fx *f)
{
    keel_store_destroy(f->st);
    keel_storage_close(f->storage, true);
    keel_reply_close(&f->reply);
    keel_reply_close(&f->read);
}

/* Take every free block of the tmpfs with file `name`, then give `leave`
 * bytes back. */
static void fill_disk_leaving(const char *name, off_t leave)
{
    static char chunk[1 << 16];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", mnt, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    memset(chunk, 'f', sizeof chunk);
    for (size_t n = sizeof chunk; n >= 4096; n /= 2) {
        while (write(fd, chunk, n) == (ssize_t)n) {
        }
    }
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(st.st_size > leave);
    assert_int_equal(ftruncate(fd, st.st_size - leave), 0);
    close(fd);
}

static void fill_disk(const char *name)
{
    fill_disk_leaving(name, 0);
}

static void unfill_disk(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", mnt, name);
    assert_int_equal(unlink(path), 0);
}

static char *big_value(char c)
{
    char *v = malloc(BIG + 1);
    assert_non_null(v);
    memset(v, c, BIG);
    v[BIG] = 0;
    return v;
}

static void test_apply_survives_full_disk(void **state)
{
    struct fx f;
    struct keel_disk d;
    (void)state;
    if (mnt == NULL) skip();
    open_fx(&f);
    assert_int_equal(keel_storage_disk(f.storage, &d), 0);
    assert_int_equal(d.reserve_held, RESERVE);
    f.ts = 1000;
    char *v = big_value('a');
    EXPECT(do_set(&f, "before", v, 0, 0), WANT_OK);

    /* Another process takes the rest of the disk: the next apply needs new
     * pages at the end of data.mdb, gets ENOSPC (or EIO for a short write),
     * releases the reserve and goes through. */
    fill_disk("filler1");
    EXPECT(do_set(&f, "during", v, 0, 0), WANT_OK);
    assert_int_equal(stats(&f).disk_reclaims, 1);
    assert_int_equal(keel_storage_disk(f.storage, &d), 0);
    assert_int_equal(d.reserve_held, 0);
    assert_int_equal(d.reserve_releases, 1);

    /* The disk fills again with nothing left to give: a clean ENOSPC, said
     * as such, and nothing half-applied. 64 KiB are left free, so LMDB's
     * pwrite comes back short, which LMDB reports as EIO. */
    fill_disk_leaving("filler2", 64 * 1024);
    uint64_t applied = keel_storage_applied(f.storage);
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    enc_begin(&f, &e);
    keel_enc_set(&e, S("after"), S(v), 0, 0);
    enc_take(&e, &buf, &len);
    int rc = keel_store_apply(f.st, applied + 1, buf, len, &f.reply);
    free(buf);
    assert_int_equal(rc, KEEL_ENOSPACE);
    const char *msg = keel_store_errmsg(f.st);
    print_message("apply on a full disk: %s\n", msg);
    assert_non_null(strstr(msg, "No space left on device"));
    assert_non_null(strstr(msg, "short write"));
    assert_int_equal(keel_storage_applied(f.storage), applied);
    EXPECT(get(&f, "before", 1000), WANT_BULKN(v, BIG));
    EXPECT(get(&f, "during", 1000), WANT_BULKN(v, BIG));

    /* Space comes back: the reserve is allocated again. */
    unfill_disk("filler2");
    unfill_disk("filler1");
    assert_int_equal(keel_storage_reserve_tend(f.storage), 1);
    assert_int_equal(keel_storage_disk(f.storage, &d), 0);
    assert_int_equal(d.reserve_held, RESERVE);
    free(v);
    close_fx(&f);
}

/* A node stopped on a full disk opens again: the trust-rule STATE file is
 * rewritten in place when STATE.tmp gets no block, and reads work. */
static void test_open_on_full_disk(void **state)
{
    struct fx f;
    struct keel_disk d;
    (void)state;
    if (mnt == NULL) skip();
    open_fx(&f);
    f.ts = 1000;
    EXPECT(do_set(&f, "k", "v", 0, 0), WANT_OK);
    uint64_t applied = keel_storage_applied(f.storage);
    close_fx(&f);
    char reserve[PATH_MAX];
    snprintf(reserve, sizeof reserve, "%s/%s", mnt, KEEL_RESERVE_FILE);
    assert_int_equal(access(reserve, F_OK), 0);
    fill_disk("filler");

    /* The reserve is given back at open (the disk is full), so start-up has
     * room to write; it stays released until the disk has space. */
    open_fx(&f);
    assert_int_equal(keel_storage_applied(f.storage), applied);
    assert_int_equal(keel_storage_disk(f.storage, &d), 0);
    assert_int_equal(d.reserve_held, 0);
    EXPECT(get(&f, "k", 1000), WANT_BULK("v"));
    close_fx(&f);

    /* No reserve left to give and no free block at all: STATE is rewritten
     * in place. */
    fill_disk("filler");
    open_fx(&f);
    EXPECT(get(&f, "k", 1000), WANT_BULK("v"));
    close_fx(&f);
    unfill_disk("filler");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_survives_full_disk, mount_setup, mount_teardown),
        cmocka_unit_test_setup_teardown(test_open_on_full_disk, mount_setup, mount_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
