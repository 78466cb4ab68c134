/* tests: snapshot images of the env: create, verify, write to a file, restore,
 * rejection of damaged images, recovery of an interrupted restore, and a
 * snapshot taken while the env keeps being written; the repair's forced
 * reinstall and the off-loop digest. */
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

#define NENV 3

/* Up to NENV envs, each in its own scratch dir, plus images to free. */
struct fx
{
    char *dir[NENV];
    char boot[NENV][PATH_MAX];
    struct keel_storage_options opts[NENV];
    struct keel_storage *s[NENV];
    struct keel_snapshot snap;
    bool have_snap;
    uint8_t *image;
    uint8_t *image2;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    for (int i = 0; i < NENV; i++) {
        f->dir[i] = env_scratch("snapshot", "boot", "33333333-cccc-4ccc-8ccc-cccccccccccc\n",
                                f->boot[i], &f->opts[i]);
        if (f->dir[i] == NULL) return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->have_snap) keel_snapshot_release(&f->snap);
    free(f->image);
    free(f->image2);
    for (int i = 0; i < NENV; i++) env_remove(f->s[i], f->dir[i]);
    free(f);
    return 0;
}

static bool env_open(struct fx *f, int i)
{
    return env_open_with(&f->opts[i], &f->s[i]);
}

static void env_close(struct fx *f, int i)
{
    keel_storage_close(f->s[i], true);
    f->s[i] = NULL;
}

/* Entries from+1..to, `per_txn` to a txn, the applied index following. Every
 * entry writes a key; some expire, some leave a dedupe entry. */
static void fill(struct keel_storage *s, uint64_t from, uint64_t to, uint64_t per_txn)
{
    struct keel_txn txn;
    for (uint64_t i = from + 1; i <= to;) {
        begin(s, true, &txn);
        for (uint64_t n = 0; n < per_txn && i <= to; n++, i++) {
            char key[32], val[64];
            uint8_t hv[96];
            snprintf(key, sizeof key, "key%08llu", (unsigned long long)i);
            snprintf(val, sizeof val, "value of entry %llu", (unsigned long long)i);
            struct keel_record rec = {KEEL_TYPE_STRING, i % 7 ? 0 : (int64_t)(1000000 + i), i,
                                      (const uint8_t *)val, strlen(val)};
            if (i % 3 == 0) {
                rec.type = KEEL_TYPE_HASH;
                rec.len = hash_value1(hv, "f", rec.val, rec.len);
                rec.val = hv;
            }
            assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
            if (i % 5 == 0) {
                assert_int_equal(storage_dedupe_put(&txn, i % 11, i, (int64_t)i, cstr(val)), 0);
            }
            assert_int_equal(storage_set_applied(&txn, i), 0);
        }
        commit(&txn);
    }
}

static void put_str(struct keel_storage *s, const char *key, const char *val, uint64_t applied)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    struct keel_record rec = {KEEL_TYPE_STRING, 0, applied, (const uint8_t *)val, strlen(val)};
    assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
    if (applied != 0) assert_int_equal(storage_set_applied(&txn, applied), 0);
    commit(&txn);
}

static int get_str(struct keel_storage *s, const char *key, char *out, size_t size)
{
    struct keel_txn txn;
    struct keel_record rec;
    assert_int_equal(storage_txn_begin(s, false, &txn), 0);
    int rc = storage_get(&txn, cstr(key), &rec);
    if (rc == 0) {
        assert_true(rec.len < size);
        memcpy(out, rec.val, rec.len);
        out[rec.len] = 0;
    }
    storage_txn_abort(&txn);
    return rc;
}

static uint64_t key_count(struct keel_storage *s)
{
    struct keel_space sp;
    assert_int_equal(keel_storage_space(s, &sp), 0);
    return sp.keys;
}

static void snap_create(struct fx *f, struct keel_storage *s)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    if (f->have_snap) keel_snapshot_release(&f->snap);
    f->have_snap = false;
    int rc = keel_storage_snapshot_create(s, &f->snap, errmsg);
    if (rc != 0) fail_msg("snapshot: %d %s", rc, errmsg);
    f->have_snap = true;
}

/* Header and data in one malloc'd buffer, as raft hands it to restore. */
static uint8_t *image_of(const struct keel_snapshot *snap, size_t *len)
{
    *len = KEEL_SNAPSHOT_HEADER + snap->data_len;
    uint8_t *p = malloc(*len + 8192); /* room for tests that append */
    assert_non_null(p);
    memcpy(p, snap->header, KEEL_SNAPSHOT_HEADER);
    memcpy(p + KEEL_SNAPSHOT_HEADER, snap->data, snap->data_len);
    return p;
}

/* Make the header checksum (bytes 56..63) match bytes 0..55 again. */
static void reseal(uint8_t *image)
{
    le64_store(image + 56, XXH3_64bits(image, 56));
}

static int restore(struct keel_storage *s, const uint8_t *image, size_t len, bool *replaced,
                   char *errmsg)
{
    errmsg[0] = 0;
    *replaced = true;
    return keel_storage_restore(s, image, len, NULL, replaced, errmsg);
}

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

/* B must be exactly as it was (digest), must not have kept a kv.restore,
 * and must still take writes. Updates *digest after the write. */
static void check_b_intact(struct fx *f, uint64_t *digest, uint64_t *applied, int round)
{
    struct keel_storage *b = f->s[1];
    uint64_t a;
    assert_int_equal(digest_of(b, &a), *digest);
    assert_int_equal(a, *applied);
    assert_int_equal(keel_storage_applied(b), *applied);
    assert_false(exists(f->dir[1], "kv.restore"));
    assert_false(exists(f->dir[1], "kv.old"));
    char key[32];
    snprintf(key, sizeof key, "probe%04d", round);
    put_str(b, key, "p", *applied + 1);
    (*applied)++;
    *digest = digest_of(b, NULL);
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
        cmocka_unit_test_setup_teardown(test_create_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_not_an_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_small_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reinstall_and_digest_job, setup, teardown),
    };
    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
