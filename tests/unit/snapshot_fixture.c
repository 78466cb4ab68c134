/* tests: the snapshot tests' shared fixture (snapshot_fixture.h). */
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

int setup(void **state)
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

int teardown(void **state)
{
    struct fx *f = *state;
    if (f->have_snap) keel_snapshot_release(&f->snap);
    free(f->image);
    free(f->image2);
    for (int i = 0; i < NENV; i++) env_remove(f->s[i], f->dir[i]);
    free(f);
    return 0;
}

bool env_open(struct fx *f, int i)
{
    return env_open_with(&f->opts[i], &f->s[i]);
}

void env_close(struct fx *f, int i)
{
    keel_storage_close(f->s[i], true);
    f->s[i] = NULL;
}

/* Entries from+1..to, `per_txn` to a txn, the applied index following. Every
 * entry writes a key; some expire, some leave a dedupe entry. */
void fill(struct keel_storage *s, uint64_t from, uint64_t to, uint64_t per_txn)
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

void put_str(struct keel_storage *s, const char *key, const char *val, uint64_t applied)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    struct keel_record rec = {KEEL_TYPE_STRING, 0, applied, (const uint8_t *)val, strlen(val)};
    assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
    if (applied != 0) assert_int_equal(storage_set_applied(&txn, applied), 0);
    commit(&txn);
}

int get_str(struct keel_storage *s, const char *key, char *out, size_t size)
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

uint64_t key_count(struct keel_storage *s)
{
    struct keel_space sp;
    assert_int_equal(keel_storage_space(s, &sp), 0);
    return sp.keys;
}

void snap_create(struct fx *f, struct keel_storage *s)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    if (f->have_snap) keel_snapshot_release(&f->snap);
    f->have_snap = false;
    int rc = keel_storage_snapshot_create(s, &f->snap, errmsg);
    if (rc != 0) fail_msg("snapshot: %d %s", rc, errmsg);
    f->have_snap = true;
}

/* Header and data in one malloc'd buffer, as raft hands it to restore. */
uint8_t *image_of(const struct keel_snapshot *snap, size_t *len)
{
    *len = KEEL_SNAPSHOT_HEADER + snap->data_len;
    uint8_t *p = malloc(*len + 8192); /* room for tests that append */
    assert_non_null(p);
    memcpy(p, snap->header, KEEL_SNAPSHOT_HEADER);
    memcpy(p + KEEL_SNAPSHOT_HEADER, snap->data, snap->data_len);
    return p;
}

/* Make the header checksum (bytes 56..63) match bytes 0..55 again. */
void reseal(uint8_t *image)
{
    le64_store(image + 56, XXH3_64bits(image, 56));
}

int restore(struct keel_storage *s, const uint8_t *image, size_t len, bool *replaced,
                   char *errmsg)
{
    errmsg[0] = 0;
    *replaced = true;
    return keel_storage_restore(s, image, len, NULL, replaced, errmsg);
}


/* B must be exactly as it was (digest), must not have kept a kv.restore,
 * and must still take writes. Updates *digest after the write. */
void check_b_intact(struct fx *f, uint64_t *digest, uint64_t *applied, int round)
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
