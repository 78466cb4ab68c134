/* tests: the image check (storage/image.h): every image Keel writes passes
 * (compact and plain copies, empty and full envs); images with valid
 * checksums and damaged LMDB pages are refused with a reason by the check,
 * by restore and by the repair's reinstall, which leave the env as it was; the caller survives a
 * helper that crashes or hangs; Keel's own invariants are enforced; and a
 * small built-in fuzz loop never gets a damaged image past the checks into
 * a crash. */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "storage/env.h"
#include "storage/image.h"
#include "storage/record.h"
#include "tests/lib/testlib.h"

struct fx
{
    char *dir[2];
    char boot[2][PATH_MAX];
    struct keel_storage_options opts[2];
    struct keel_storage *s[2];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    for (int i = 0; i < 2; i++) {
        f->dir[i] = env_scratch("image", "boot", "44444444-dddd-4ddd-8ddd-dddddddddddd\n",
                                f->boot[i], &f->opts[i]);
        if (f->dir[i] == NULL) return -1;
        env_open_with(&f->opts[i], &f->s[i]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 2; i++) env_remove(f->s[i], f->dir[i]);
    free(f);
    return 0;
}

/* Entries from+1..to: strings and hashes, some expiring, some big enough for
 * overflow pages, every fifth leaving a dedupe entry; then every seventh key
 * deleted again, so a plain copy has pages on its free list. */
static void fill(struct keel_storage *s, uint64_t from, uint64_t to)
{
    static char big[6000];
    memset(big, 'v', sizeof big);
    struct keel_txn txn;
    for (uint64_t i = from + 1; i <= to; i++) {
        char key[32];
        begin(s, true, &txn);
        snprintf(key, sizeof key, "key%06llu", (unsigned long long)i);
        static uint8_t hv[sizeof big + 32];
        size_t vlen = i % 50 == 0 ? sizeof big : 10 + i % 90;
        struct keel_record rec = {KEEL_TYPE_STRING, i % 4 ? 0 : (int64_t)(2000000 + i * 7), i,
                                  (const uint8_t *)big, vlen};
        if (i % 3 == 0) {
            rec.type = KEEL_TYPE_HASH;
            rec.len = hash_value1(hv, "field", rec.val, rec.len);
            rec.val = hv;
        }
        assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
        if (i % 5 == 0) assert_int_equal(storage_dedupe_put(&txn, i % 13, i, (int64_t)i, cstr(key)), 0);
        if (i % 7 == 0) {
            snprintf(key, sizeof key, "key%06llu", (unsigned long long)(i - 3));
            storage_del(&txn, cstr(key));
        }
        assert_int_equal(storage_set_applied(&txn, i), 0);
        commit(&txn);
    }
}

/* A whole image of s: compact (what Keel sends) or a plain copy (its
 * fallback for envs with leaked pages), header included. */
static uint8_t *image_of(struct keel_storage *s, bool compact, size_t *len)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot snap;
    assert_int_equal(keel_storage_snapshot_create(s, &snap, errmsg), 0);
    uint8_t *img;
    if (compact) {
        *len = KEEL_SNAPSHOT_HEADER + snap.data_len;
        img = malloc(*len);
        assert_non_null(img);
        memcpy(img, snap.header, KEEL_SNAPSHOT_HEADER);
        memcpy(img + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    } else {
        int fd = memfd_create("plain", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(mdb_env_copyfd2(s->env, fd, 0), 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        *len = KEEL_SNAPSHOT_HEADER + (size_t)st.st_size;
        img = malloc(*len);
        assert_non_null(img);
        memcpy(img, snap.header, KEEL_SNAPSHOT_HEADER);
        assert_int_equal(pread(fd, img + KEEL_SNAPSHOT_HEADER, (size_t)st.st_size, 0), st.st_size);
        close(fd);
        keel_image_reseal(img, *len);
    }
    keel_snapshot_release(&snap);
    return img;
}

static void expect_ok(const uint8_t *img, size_t len, unsigned flags, struct keel_storage *src)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct keel_image_report rep;
    uint64_t applied, digest;
    int rc = keel_image_check(img, len, flags, &rep, errmsg);
    if (rc != 0) fail_msg("check refused a good image: %d %s", rc, errmsg);
    assert_int_equal(keel_storage_digest(src, &applied, &digest), 0);
    assert_int_equal(rep.applied, applied);
    assert_int_equal(rep.digest, digest);
    struct keel_space sp;
    assert_int_equal(keel_storage_space(src, &sp), 0);
    assert_int_equal(rep.keys, sp.keys);
    assert_int_equal(rep.expires, sp.expires);
    assert_int_equal(rep.info.applied, applied);
}

static void test_accepts_valid_images(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    bool replaced;
    size_t len;

    /* Empty env: compact and plain. */
    for (int compact = 0; compact < 2; compact++) {
        uint8_t *img = image_of(f->s[0], compact, &len);
        expect_ok(img, len, 0, f->s[0]);
        expect_ok(img, len, KEEL_IMAGE_IN_PROCESS, f->s[0]);
        free(img);
    }
    /* Full: thousands of keys, branch pages, overflow pages, expiries,
     * dedupe entries, and (plain copy) a free list. */
    fill(f->s[0], 0, 3000);
    fill(f->s[1], 0, 10);
    for (int compact = 0; compact < 2; compact++) {
        uint8_t *img = image_of(f->s[0], compact, &len);
        expect_ok(img, len, 0, f->s[0]);
        expect_ok(img, len, KEEL_IMAGE_IN_PROCESS, f->s[0]);
        assert_int_equal(keel_storage_restore(f->s[1], img, len, NULL, &replaced, errmsg), 0);
        assert_true(replaced);
        assert_int_equal(digest_of(f->s[1], NULL), digest_of(f->s[0], NULL));
        free(img);
        fill(f->s[0], 3000 + (uint64_t)compact, 3001 + (uint64_t)compact);
    }
}

/* B exactly as before, no leftovers, still writable. */
static void check_intact(struct fx *f, uint64_t digest, uint64_t applied)
{
    uint64_t a;
    assert_int_equal(digest_of(f->s[1], &a), digest);
    assert_int_equal(a, applied);
    assert_false(exists(f->dir[1], "kv.restore"));
    assert_false(exists(f->dir[1], "kv.old"));
}

/* The crashes the fuzzer found before images were checked: each one has
 * valid checksums, is refused with a reason, and restore leaves B as it
 * was. Today's main dies in LMDB on every one of them (SIGFPE, SIGBUS,
 * SIGSEGV) inside keel_storage_restore. */
static void test_crafted_images_refused(void **state)
{
    struct fx *f = *state;
    static const struct { const char *kind, *why; } cases[] = {
        {"psize0", "LMDB meta page 1 has page size 0"},
        {"root-beyond", "the file has"},
        {"garbage-branch", "DB \"data\""},
        {"tiny", "LMDB meta page 0 has page size 0"},
    };
    size_t len, clen;
    fill(f->s[0], 0, 2000);
    uint8_t *good = image_of(f->s[0], true, &len);
    fill(f->s[1], 0, 10);
    uint64_t digest = digest_of(f->s[1], NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char errmsg[KEEL_ERRMSG_SIZE] = "";
        bool replaced = true;
        uint8_t *bad = keel_image_craft(good, len, cases[i].kind, &clen);
        assert_non_null(bad);
        assert_int_equal(keel_snapshot_verify(bad, clen, NULL, errmsg), 0); /* sums are fine */
        int rc = keel_image_check(bad, clen, 0, NULL, errmsg);
        if (rc != KEEL_ECORRUPT || strstr(errmsg, cases[i].why) == NULL)
            fail_msg("%s: check %d \"%s\", want \"%s\"", cases[i].kind, rc, errmsg, cases[i].why);
        assert_int_equal(strncmp(errmsg, "snapshot image: ", 16), 0);
        errmsg[0] = 0;
        rc = keel_storage_restore(f->s[1], bad, clen, NULL, &replaced, errmsg);
        if (rc != KEEL_ECORRUPT || strstr(errmsg, cases[i].why) == NULL)
            fail_msg("%s: restore %d \"%s\"", cases[i].kind, rc, errmsg);
        assert_false(replaced);
        check_intact(f, digest, 10);
        /* The consistency check's repair installs over an env it no longer
         * trusts: the same check. */
        errmsg[0] = 0;
        rc = keel_storage_reinstall(f->s[1], bad, clen, errmsg);
        if (rc != KEEL_ECORRUPT || strstr(errmsg, cases[i].why) == NULL)
            fail_msg("%s: reinstall %d \"%s\"", cases[i].kind, rc, errmsg);
        check_intact(f, digest, 10);
        free(bad);
    }
    /* A report of another image is not taken for this one. */
    struct keel_image_report rep;
    char errmsg[KEEL_ERRMSG_SIZE];
    bool replaced;
    assert_int_equal(keel_image_check(good, len, 0, &rep, errmsg), 0);
    rep.info.checksum ^= 1;
    assert_int_equal(keel_storage_restore(f->s[1], good, len, &rep, &replaced, errmsg), KEEL_EINVAL);
    check_intact(f, digest, 10);
    rep.info.checksum ^= 1;
    assert_int_equal(keel_storage_restore(f->s[1], good, len, &rep, &replaced, errmsg), 0);
    assert_true(replaced);
    assert_int_equal(digest_of(f->s[1], NULL), digest_of(f->s[0], NULL));
    free(good);
}

/* Without Keel's own structure checks the damaged pages reach LMDB, in the
 * helper: it dies, the caller reports it and goes on. */
static void test_helper_isolation(void **state)
{
    struct fx *f = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    size_t len, clen;
    fill(f->s[0], 0, 500);
    uint8_t *good = image_of(f->s[0], true, &len);
    static const struct { const char *kind, *why; } cases[] = {
        {"psize0", "LMDB walk died of SIGFPE"},
        {"tiny", "LMDB walk died of SIGFPE"},
        {"root-beyond", "LMDB walk died of SIGBUS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *bad = keel_image_craft(good, len, cases[i].kind, &clen);
        assert_non_null(bad);
        errmsg[0] = 0;
        int rc = keel_image_check(bad, clen, KEEL_IMAGE_NO_STRUCTURE, NULL, errmsg);
        if (rc != KEEL_ECORRUPT || strstr(errmsg, cases[i].why) == NULL)
            fail_msg("%s: %d \"%s\", want \"%s\"", cases[i].kind, rc, errmsg, cases[i].why);
        free(bad);
    }
#ifdef KEEL_TEST_HOOKS
    /* A helper that crashes or hangs on a good image (test hook). */
    setenv("KEEL_TEST_IMAGE_HELPER", "sigbus", 1);
    assert_int_equal(keel_image_check(good, len, 0, NULL, errmsg), KEEL_ECORRUPT);
    assert_non_null(strstr(errmsg, "LMDB walk died of SIGBUS"));
    setenv("KEEL_TEST_IMAGE_HELPER", "hang", 1);
    setenv("KEEL_TEST_IMAGE_TIMEOUT_MS", "300", 1);
    assert_int_equal(keel_image_check(good, len, 0, NULL, errmsg), KEEL_ECORRUPT);
    assert_non_null(strstr(errmsg, "did not finish in 300 ms"));
    unsetenv("KEEL_TEST_IMAGE_HELPER");
    unsetenv("KEEL_TEST_IMAGE_TIMEOUT_MS");
#endif
    assert_int_equal(keel_image_check(good, len, 0, NULL, errmsg), 0);
    free(good);
}

/* Damage only Keel can see: LMDB is fine with it, the records are not. */
static void test_keel_invariants(void **state)
{
    (void)state;
    static const char *const why[] = {
        "missing from the expiry index",     "names a key that does not exist",
        "is not a record",                   "has a value of 4 bytes",
        "the dedupe table has",              "storage format 5",
        "missing from its timestamp index",  "holds a malformed hash",
    };
    for (int c = 0; c < (int)(sizeof why / sizeof why[0]); c++) {
        char dir_boot[PATH_MAX], errmsg[KEEL_ERRMSG_SIZE] = "";
        struct keel_storage_options o = {0};
        struct keel_storage *s;
        char *dir = env_scratch("image-inv", "boot", "55555555-eeee-4eee-8eee-eeeeeeeeeeee\n",
                                dir_boot, &o);
        assert_non_null(dir);
        env_open_with(&o, &s);
        fill(s, 0, 60);
        MDB_txn *txn;
        assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
        uint8_t kb[64], vb[64];
        MDB_val k = {0, kb}, v = {0, vb};
        switch (c) {
            case 0: /* key000008 expires at 2000000 + 56: drop its index entry */
                be64_store(kb, 2000000 + 8 * 7);
                memcpy(kb + 8, "key000008", 9);
                k.mv_size = 17;
                assert_int_equal(mdb_del(txn, s->exp, &k, NULL), 0);
                break;
            case 1: /* an index entry for a key that does not exist */
                be64_store(kb, 5);
                memcpy(kb + 8, "ghost", 5);
                k.mv_size = 13;
                assert_int_equal(mdb_put(txn, s->exp, &k, &v, 0), 0);
                break;
            case 2: /* a value of an unknown type */
                memcpy(kb, "key000001", 9);
                k.mv_size = 9;
                memset(vb, 7, 30);
                v.mv_size = 30;
                assert_int_equal(mdb_put(txn, s->data, &k, &v, 0), 0);
                break;
            case 3:
                memcpy(kb, "clock", 5);
                k.mv_size = 5;
                v.mv_size = 4;
                assert_int_equal(mdb_put(txn, s->meta, &k, &v, 0), 0);
                break;
            case 4:
                memcpy(kb, "dedupe_count", 12);
                k.mv_size = 12;
                le64_store(vb, 99);
                v.mv_size = 8;
                assert_int_equal(mdb_put(txn, s->meta, &k, &v, 0), 0);
                break;
            case 5:
                memcpy(kb, "format", 6);
                k.mv_size = 6;
                le64_store(vb, 5); /* a format from the future */
                v.mv_size = 8;
                assert_int_equal(mdb_put(txn, s->meta, &k, &v, 0), 0);
                break;
            case 7: { /* a hash of two fields out of order: "b" then "a" */
                uint8_t two[64] = {KEEL_TYPE_HASH};
                size_t off = RECORD_HEADER;
                uint32_t w[] = {2, 1, 1, 1, 1};
                memcpy(two + off, &w[0], 4), off += 4;
                memcpy(two + off, &w[1], 4), off += 4;
                two[off++] = 'b';
                memcpy(two + off, &w[2], 4), off += 4;
                two[off++] = '1';
                memcpy(two + off, &w[3], 4), off += 4;
                two[off++] = 'a';
                memcpy(two + off, &w[4], 4), off += 4;
                two[off++] = '2';
                memcpy(kb, "key000003", 9);
                k.mv_size = 9;
                v = (MDB_val){off, two};
                assert_int_equal(mdb_put(txn, s->data, &k, &v, 0), 0);
                break;
            }
            case 6: { /* a dedupe entry whose timestamp index entry is gone */
                MDB_cursor *cur;
                assert_int_equal(mdb_cursor_open(txn, s->ddts, &cur), 0);
                assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
                assert_int_equal(mdb_cursor_del(cur, 0), 0);
                mdb_cursor_close(cur);
                break;
            }
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        size_t len;
        uint8_t *img = image_of(s, true, &len);
        int rc = keel_image_check(img, len, 0, NULL, errmsg);
        if (rc != KEEL_ECORRUPT || strstr(errmsg, why[c]) == NULL)
            fail_msg("case %d: %d \"%s\", want \"%s\"", c, rc, errmsg, why[c]);
        free(img);
        env_remove(s, dir);
    }
}

static int count_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    (void)key;
    (void)rec;
    (*(uint64_t *)arg)++;
    return 0;
}

/* An accepted image restored into a fresh env: it opens, digests as the
 * check said, every key reads, and it takes a write. */
static void exercise(const uint8_t *img, size_t len, const struct keel_image_report *rep)
{
    char boot[PATH_MAX], errmsg[KEEL_ERRMSG_SIZE];
    struct keel_storage_options o = {0};
    struct keel_storage *s;
    struct keel_txn txn;
    bool replaced;
    uint64_t applied;
    char *dir = env_scratch("image-ex", "boot", "66666666-ffff-4fff-8fff-ffffffffffff\n", boot, &o);
    assert_non_null(dir);
    env_open_with(&o, &s);
    int rc = keel_storage_restore(s, img, len, NULL, &replaced, errmsg);
    if (rc != 0) fail_msg("restore of an accepted image: %d %s", rc, errmsg);
    assert_int_equal(digest_of(s, &applied), rep->digest);
    begin(s, false, &txn);
    uint64_t n = 0;
    assert_int_equal(storage_scan(&txn, (struct keel_slice){NULL, 0}, count_cb, &n), 0);
    storage_txn_abort(&txn);
    assert_int_equal(n, rep->keys);
    begin(s, true, &txn);
    struct keel_record rec = {KEEL_TYPE_STRING, 5, applied + 1, (const uint8_t *)"w", 1};
    assert_int_equal(storage_put(&txn, cstr("written-after"), &rec, NULL), 0);
    assert_int_equal(storage_set_applied(&txn, applied + 1), 0);
    commit(&txn);
    env_remove(s, dir);
}

/* Bytes of a small good image changed at random, thousands of times: every
 * image the checks accept must walk, restore, digest and take a write
 * without crashing (the walk runs in this process, so a crash in LMDB is a
 * crash of the test). The real fuzzing is tests/fuzz/fuzz_restore.c. */
static void test_damage_never_crashes(void **state)
{
    struct fx *f = *state;
    size_t len;
    fill(f->s[0], 0, 300);
    uint8_t *good = image_of(f->s[0], true, &len);
    uint8_t *img = malloc(len);
    assert_non_null(img);
    uint64_t x = 0x2545f4914f6cdd1dull;
    unsigned accepted = 0;
    for (int round = 0; round < 3000; round++) {
        char errmsg[KEEL_ERRMSG_SIZE];
        memcpy(img, good, len);
        int flips = 1 + round % 4;
        for (int j = 0; j < flips; j++) {
            test_xorshift64(&x);
            size_t at = KEEL_SNAPSHOT_HEADER + (x >> 16) % (len - KEEL_SNAPSHOT_HEADER);
            img[at] ^= (uint8_t)(1u << (x & 7));
        }
        keel_image_reseal(img, len);
        struct keel_image_report rep;
        if (keel_image_check(img, len, KEEL_IMAGE_IN_PROCESS, &rep, errmsg) != 0) {
            assert_int_equal(strncmp(errmsg, "snapshot image: ", 16), 0);
            continue;
        }
        if (accepted++ < 25) exercise(img, len, &rep);
    }
    /* Flips inside values and unused page space are harmless: some pass. */
    assert_true(accepted > 0);
    free(img);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepts_valid_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crafted_images_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_helper_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keel_invariants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_never_crashes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
