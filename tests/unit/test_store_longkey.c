/* tests: keys over LMDB's 511-byte limit (up to 64 KiB) through the state
 * machine: SET/GET, expiry and its sweep, RENAME, a hash with a 64 KiB
 * field, FLUSH of more long-key bytes than one flush round holds, and a
 * forced hash collision rejecting its entry instead of stopping the node. */
#include "store_fixture.h"

#include "storage/env.h"
#include "storage/record.h"

/* A NUL-terminated key of n bytes, distinct per tag. */
static char *make_key(size_t n, char tag)
{
    char *k = malloc(n + 1);
    assert_non_null(k);
    for (size_t i = 0; i < n; i++) k[i] = (char)('a' + (i * 11 + (size_t)tag) % 26);
    k[0] = tag;
    k[n] = 0;
    return k;
}

static const struct keel_reply *do_rename(struct fx *f, const char *from, const char *to)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_rename(&e, S(from), S(to), 0);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_flush(struct fx *f)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_flush(&e);
    return apply_enc(f, &e);
}

static void test_long_keys(void **state)
{
    struct fx *f = *state;
    char *big = make_key(KEEL_MAX_KEY, 'b'), *mid = make_key(600, 'm'), *edge = make_key(508, 'e');
    char *field = make_key(KEEL_MAX_KEY, 'f');
    f->ts = 1000;
    EXPECT(do_set(f, big, "v", 0, 0), WANT_OK);
    EXPECT(get(f, big, 1000), WANT_BULK("v"));
    assert_int_equal(version(f, big, 1000), f->index);
    /* A key of 508 bytes with an expiry: its expiry entry goes by hash. */
    EXPECT(do_set(f, edge, "e", 5000, 0), WANT_OK);
    EXPECT(pttl(f, edge, 1000), WANT_INT(4000));
    EXPECT(do_expire(f, big, 3000, 0), WANT_INT(1));
    EXPECT(pttl(f, big, 1000), WANT_INT(2000));
    /* RENAME carries the value and the expiry to another long name. */
    EXPECT(do_rename(f, big, mid), WANT_OK);
    EXPECT(get(f, big, 1000), WANT_NIL);
    EXPECT(get(f, mid, 1000), WANT_BULK("v"));
    EXPECT(pttl(f, mid, 1000), WANT_INT(2000));
    /* A hash under a 64 KiB key with a 64 KiB field. */
    EXPECT(do_hset(f, big, (const char *[]){field, "fv"}, 2), WANT_INT(1));
    EXPECT(hget(f, big, field, 1000), WANT_BULK("fv"));
    /* The sweep expires long keys and replies their full names, in expiry
     * order. */
    struct keel_reply_reader rd;
    f->ts = 6000;
    keel_reply_reader_init(&rd, do_sweep(f, 100));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK(mid));
    RD(&rd, WANT_BULK(edge));
    RD_END(&rd);
    assert_false(stored(f, mid));
    assert_false(stored(f, edge));
    assert_true(stored(f, big));
    /* They survive a reopen. */
    fx_reopen(f);
    EXPECT(hget(f, big, field, 6000), WANT_BULK("fv"));
    free(big);
    free(mid);
    free(edge);
    free(field);
}

static void test_flush_long(void **state)
{
    struct fx *f = *state;
    char *keys[40];
    f->ts = 1000;
    /* 40 x 64 KiB: past the flush's 1 MiB round, around short keys. */
    for (int i = 0; i < 40; i++) {
        keys[i] = make_key(KEEL_MAX_KEY - (size_t)i, (char)('A' + i));
        EXPECT(do_set(f, keys[i], "v", i % 2 ? 900000 : 0, 0), WANT_OK);
    }
    EXPECT(do_set(f, "short", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "\xffkeel:node:1", "127.0.0.1:1", 0, 0), WANT_OK);
    EXPECT(do_flush(f), WANT_OK);
    for (int i = 0; i < 40; i++) {
        assert_false(stored(f, keys[i]));
        free(keys[i]);
    }
    assert_false(stored(f, "short"));
    EXPECT(get(f, "\xffkeel:node:1", 1000), WANT_BULK("127.0.0.1:1"));
    f->ts = 2000000;
    EXPECT(do_sweep(f, 100), WANT_ARRAY(0));
}

static void test_collision_rejects(void **state)
{
    struct fx *f = *state;
    char *a = make_key(1000, 'a'), *b = make_key(1000, 'b');
    struct keel_slice ka = S(a), kb = S(b);
    f->ts = 1000;
    EXPECT(do_set(f, "before", "1", 0, 0), WANT_OK);
    /* Put b's record where a hashes: as if XXH3-128(a) == XXH3-128(b). */
    uint8_t pos[KEEL_KEY_INLINE];
    static uint8_t v[RECORD_HEADER + 1000 + 1];
    struct keel_record rec = {KEEL_TYPE_STRING, 0, 1, (const uint8_t *)"B", 1};
    size_t hn = record_encode_header(&rec, kb, v);
    v[hn] = 'B';
    MDB_txn *txn;
    MDB_val k = {storage_key_pos(ka, pos), pos}, d = {hn + 1, v};
    assert_int_equal(mdb_txn_begin(f->storage->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_put(txn, f->storage->data, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);

    EXPECT(get(f, a, 1000), WANT_NIL);
    uint64_t rejected = stats(f).rejected;
    const struct keel_reply *r = do_set(f, a, "A", 0, 0);
    EXPECT(r, WANT_ERR(KEEL_EEXISTS));
    assert_int_equal(stats(f).rejected, rejected + 1);
    /* The entry was applied as a no-op: the index moved on, nothing else. */
    assert_int_equal(keel_storage_applied(f->storage), f->index);
    EXPECT(get(f, a, 1000), WANT_NIL);
    EXPECT(get(f, "before", 1000), WANT_BULK("1"));
    /* DEL does not touch the holder of the hash: a is absent. */
    EXPECT(do_del(f, (const char *[]){"before", a}, 2), WANT_INT(1));
    EXPECT(do_set(f, "after", "2", 0, 0), WANT_OK);
    EXPECT(get(f, "after", 1000), WANT_BULK("2"));
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collision_rejects, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
