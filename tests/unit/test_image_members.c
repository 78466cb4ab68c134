/* tests: the image check (storage/image.h) on collections: an image whose
 * "members" database agrees with its collection records is accepted, with
 * the digest of the source; one with an orphan sub-key, a wrong count, a
 * tag of another type, a long member off its hash or an id counter behind
 * an id is refused, saying which; so is a list with an item outside its
 * head..tail positions or a count that does not span them. Also: an env of format 1 (no members DB)
 * an id is refused, saying which; so is a sorted set whose score index
 * lacks an entry or disagrees with a member's score. Also: an env of format 1 (no members DB)
 * opens, is marked format 2 and takes sets. */
#include "storage_fixture.h"

#include <sys/stat.h>

#include "storage/env.h"
#include "storage/image.h"
#include "storage/record.h"
#include "tests/lib/testlib.h"

/* A set at key with the given members, written through the storage API. */
static void put_set(struct keel_storage *s, const char *key, const char *const *m, int n, uint64_t index)
{
    struct keel_txn txn;
    struct keel_coll coll = {0};
    uint8_t payload[KEEL_COLL_SIZE];
    bool added;
    begin(s, true, &txn);
    assert_int_equal(storage_coll_new_id(&txn, &coll.id), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(storage_member_put(&txn, coll.id, KEEL_TAG_MEMBER, cstr(m[i]),
                                            (struct keel_slice){NULL, 0}, &added), 0);
        coll.count += added;
    }
    storage_coll_encode(&coll, payload);
    struct keel_record rec = {KEEL_TYPE_SET, 0, index, payload, sizeof payload};
    assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
    assert_int_equal(storage_set_applied(&txn, index), 0);
    commit(&txn);
}

/* A sorted set at key: members with scores 1, 2, ... and their index. */
static void put_zset(struct keel_storage *s, const char *key, const char *const *m, int n, uint64_t index)
{
    struct keel_txn txn;
    struct keel_coll coll = {0};
    uint8_t payload[KEEL_COLL_SIZE], sb[8];
    begin(s, true, &txn);
    assert_int_equal(storage_coll_new_id(&txn, &coll.id), 0);
    for (int i = 0; i < n; i++) {
        double d = i + 1;
        uint64_t b;
        memcpy(&b, &d, sizeof b);
        le64_store(sb, b);
        assert_int_equal(storage_member_put(&txn, coll.id, KEEL_TAG_MEMBER, cstr(m[i]),
                                            (struct keel_slice){sb, 8}, NULL), 0);
        assert_int_equal(storage_zindex_put(&txn, coll.id, d, cstr(m[i])), 0);
        coll.count++;
    }
    storage_coll_encode(&coll, payload);
    struct keel_record rec = {KEEL_TYPE_ZSET, 0, index, payload, sizeof payload};
    assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
    assert_int_equal(storage_set_applied(&txn, index), 0);
    commit(&txn);
}

static uint8_t *image_of(struct keel_storage *s, size_t *len)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot snap;
    assert_int_equal(keel_storage_snapshot_create(s, &snap, errmsg), 0);
    *len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *img = malloc(*len);
    assert_non_null(img);
    memcpy(img, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(img + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    return img;
}

static struct keel_storage *fresh(char **dir)
{
    char boot[PATH_MAX];
    struct keel_storage_options o = {0};
    struct keel_storage *s;
    *dir = env_scratch("image-members", "boot", "66666666-ffff-4fff-8fff-ffffffffffff\n", boot, &o);
    assert_non_null(*dir);
    env_open_with(&o, &s);
    return s;
}

static char long_member[2000];

static void test_members_checked(void **state)
{
    static const char *const why[] = {
        NULL, /* intact */
        "which no key has", "counts 2 elements", "tagged 2", "not under its hash",
        "not below the id counter",
        /* A lost index entry: the rank index's counts, which still count
         * it, are the first to disagree. */
        "sorted set 3 has a rank count", "names no member of its score",
    };
    (void)state;
    memset(long_member, 'L', sizeof long_member - 1);
    for (int c = 0; c < (int)(sizeof why / sizeof why[0]); c++) {
        char errmsg[KEEL_ERRMSG_SIZE] = "", *dir;
        struct keel_storage *s = fresh(&dir);
        put_set(s, "s1", (const char *[]){"a", "b"}, 2, 1);
        put_set(s, "s2", (const char *[]){"x", long_member}, 2, 2);
        put_zset(s, "z3", (const char *[]){"m", long_member}, 2, 3); /* id 3 */
        MDB_txn *txn;
        uint8_t kb[64];
        MDB_val k = {0, kb}, v = {0, NULL};
        assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
        switch (c) {
            case 1: /* a member of id 99, which no record names */
                be64_store(kb, 99), kb[8] = KEEL_TAG_MEMBER, kb[9] = 'z';
                k.mv_size = 10;
                assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
                break;
            case 2: /* s1 (id 1) loses "b": its count says 2, one is left */
                be64_store(kb, 1), kb[8] = KEEL_TAG_MEMBER, kb[9] = 'b';
                k.mv_size = 10;
                assert_int_equal(mdb_del(txn, s->members, &k, NULL), 0);
                break;
            case 3: /* an extra list item in s1: not a set's tag */
                be64_store(kb, 1), kb[8] = KEEL_TAG_ITEM, kb[9] = 'q';
                k.mv_size = 10;
                assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
                break;
            case 4: { /* s2's long member moved under another hash */
                MDB_cursor *cur;
                MDB_val ck, cv;
                uint8_t nk[25], val[4 + sizeof long_member];
                assert_int_equal(mdb_cursor_open(txn, s->members, &cur), 0);
                be64_store(kb, 2), kb[8] = KEEL_TAG_MEMBER | KEEL_TAG_HASHED;
                ck = (MDB_val){9, kb};
                assert_int_equal(mdb_cursor_get(cur, &ck, &cv, MDB_SET_RANGE), 0);
                assert_int_equal(ck.mv_size, 25);
                memcpy(nk, ck.mv_data, 25);
                memcpy(val, cv.mv_data, cv.mv_size);
                size_t vn = cv.mv_size;
                assert_int_equal(mdb_cursor_del(cur, 0), 0);
                mdb_cursor_close(cur);
                nk[24] ^= 1;
                MDB_val k2 = {25, nk}, v2 = {vn, val};
                assert_int_equal(mdb_put(txn, s->members, &k2, &v2, 0), 0);
                break;
            }
            case 6: /* z3's index loses m's entry (score 1) */
            case 7: /* z3's member m says 5, its index entry 1 */
                be64_store(kb, 3), kb[8] = c == 6 ? KEEL_TAG_INDEX : KEEL_TAG_MEMBER;
                if (c == 6) {
                    be64_store(kb + 9, 0xBFF0000000000000ull); /* sortable(1.0) */
                    kb[17] = 'm';
                    k.mv_size = 18;
                    assert_int_equal(mdb_del(txn, s->members, &k, NULL), 0);
                } else {
                    double five = 5;
                    uint8_t sb[8];
                    uint64_t b;
                    memcpy(&b, &five, sizeof b);
                    le64_store(sb, b);
                    kb[9] = 'm';
                    k.mv_size = 10;
                    v = (MDB_val){8, sb};
                    assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
                }
                break;
            case 5: { /* the id counter set back to 2 (s2 holds id 2) */
                uint8_t vb[8];
                le64_store(vb, 2);
                MDB_val mk = {9, "coll_next"}, mv = {8, vb};
                assert_int_equal(mdb_put(txn, s->meta, &mk, &mv, 0), 0);
                break;
            }
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        size_t len;
        uint8_t *img = image_of(s, &len);
        struct keel_image_report rep;
        int rc = keel_image_check(img, len, 0, &rep, errmsg);
        if (why[c] == NULL) {
            uint64_t applied, digest;
            if (rc != 0) fail_msg("intact image refused: %s", errmsg);
            assert_int_equal(keel_storage_digest(s, &applied, &digest), 0);
            assert_int_equal(rep.digest, digest);
            assert_int_equal(rep.keys, 3);
        } else if (rc != KEEL_ECORRUPT || strstr(errmsg, why[c]) == NULL) {
            fail_msg("case %d: %d \"%s\", want \"%s\"", c, rc, errmsg, why[c]);
        }
        free(img);
        env_remove(s, dir);
    }
}

/* A list at key of n items at positions head.. (be64 sub-keys), its record
 * saying head, tail and count as given (a sound list: tail = head + n - 1,
 * count n). */
static void put_list(struct keel_storage *s, const char *key, int n, uint64_t head, uint64_t tail,
                     uint64_t count, uint64_t index)
{
    struct keel_txn txn;
    struct keel_coll coll = {0, count, {head, tail}};
    uint8_t payload[KEEL_COLL_SIZE], pos[8];
    begin(s, true, &txn);
    assert_int_equal(storage_coll_new_id(&txn, &coll.id), 0);
    for (int i = 0; i < n; i++) {
        be64_store(pos, head + (uint64_t)i);
        assert_int_equal(storage_member_put(&txn, coll.id, KEEL_TAG_ITEM, (struct keel_slice){pos, 8},
                                            cstr("item"), NULL), 0);
    }
    storage_coll_encode(&coll, payload);
    struct keel_record rec = {KEEL_TYPE_LIST, 0, index, payload, sizeof payload};
    assert_int_equal(storage_put(&txn, cstr(key), &rec, NULL), 0);
    assert_int_equal(storage_set_applied(&txn, index), 0);
    commit(&txn);
}

/* The image check on lists: positions inside [head, tail], never hashed,
 * a count that spans them, every item there. */
static void test_lists_checked(void **state)
{
    static const char *const why[] = {
        NULL, "outside its positions", "outside its positions", "between positions",
        "counts 3 elements",
    };
    (void)state;
    for (int c = 0; c < (int)(sizeof why / sizeof why[0]); c++) {
        char errmsg[KEEL_ERRMSG_SIZE] = "", *dir;
        struct keel_storage *s = fresh(&dir);
        uint64_t mid = UINT64_C(1) << 63;
        if (c == 3) put_list(s, "l", 3, mid, mid + 3, 3, 1); /* tail one too far */
        else put_list(s, "l", 3, mid - 1, mid + 1, 3, 1);
        MDB_txn *txn;
        uint8_t kb[32];
        MDB_val k = {17, kb}, v = {1, "x"};
        assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
        be64_store(kb, 1);
        kb[8] = KEEL_TAG_ITEM;
        switch (c) {
            case 1: /* an item past the tail */
                be64_store(kb + 9, mid + 2);
                assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
                break;
            case 2: /* an item under the hashed tag */
                kb[8] = KEEL_TAG_ITEM | KEEL_TAG_HASHED;
                be64_store(kb + 9, mid);
                assert_int_equal(mdb_put(txn, s->members, &k, &v, 0), 0);
                break;
            case 4: /* the middle item gone */
                be64_store(kb + 9, mid);
                assert_int_equal(mdb_del(txn, s->members, &k, NULL), 0);
                break;
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        size_t len;
        uint8_t *img = image_of(s, &len);
        struct keel_image_report rep;
        int rc = keel_image_check(img, len, 0, &rep, errmsg);
        if (why[c] == NULL) {
            if (rc != 0) fail_msg("intact list refused: %s", errmsg);
        } else if (rc != KEEL_ECORRUPT || strstr(errmsg, why[c]) == NULL) {
            fail_msg("case %d: %d \"%s\", want \"%s\"", c, rc, errmsg, why[c]);
        }
        free(img);
        env_remove(s, dir);
    }
}

/* An env written before collections: no members DB, format 1. */
static void test_format1_env_opens(void **state)
{
    char *dir, boot[PATH_MAX], kv[PATH_MAX + 8];
    struct keel_storage_options o = {0};
    struct keel_storage *s;
    struct keel_txn txn;
    uint64_t format;
    (void)state;
    dir = env_scratch("format1", "boot", "77777777-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n", boot, &o);
    assert_non_null(dir);
    snprintf(kv, sizeof kv, "%s/kv", dir);
    assert_int_equal(mkdir(kv, 0700), 0);
    /* Build it with LMDB directly, as a format 1 keeld left it. */
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, kv, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    const char *names[] = {"data", "exp", "dedupe", "dedupe_ts"};
    for (int i = 0; i < 4; i++) assert_int_equal(mdb_dbi_open(t, names[i], MDB_CREATE, &dbi), 0);
    assert_int_equal(mdb_dbi_open(t, "meta", MDB_CREATE, &dbi), 0);
    uint8_t one[8];
    le64_store(one, 1);
    MDB_val k = {6, "format"}, v = {8, one};
    assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    char state_path[PATH_MAX + 16];
    snprintf(state_path, sizeof state_path, "%s/STATE", kv);
    FILE *fp = fopen(state_path, "w");
    assert_non_null(fp);
    fprintf(fp, "clean=1 boot=\n");
    fclose(fp);

    env_open_with(&o, &s);
    begin(s, false, &txn);
    assert_int_equal(storage_meta_get(&txn, "format", &format), 0);
    assert_int_equal(format, 4);
    storage_txn_abort(&txn);
    put_set(s, "s", (const char *[]){"m"}, 1, 1);
    begin(s, false, &txn);
    assert_int_equal(storage_member_get(&txn, 1, KEEL_TAG_MEMBER, cstr("m"), NULL), 0);
    storage_txn_abort(&txn);
    env_remove(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_checked),
        cmocka_unit_test(test_lists_checked),
        cmocka_unit_test(test_format1_env_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
