/* tests: the state machine's apply contract: skipped and malformed entries,
 * restart, map growth and statistics. The dedupe table:
 * test_store_dedupe.c; determinism across replicas:
 * test_store_determinism.c; command semantics: test_store_commands.c. */
#include "store_fixture.h"
#include "tests/lib/testlib.h"

/* ---- apply contract ---------------------------------------------------- */

static void test_apply_skip(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "j", "v", 0, 0), WANT_OK);
    uint64_t applied = keel_storage_applied(f->storage);
    assert_int_equal(applied, 2);

    enc_begin(f, &e);
    keel_enc_set(&e, S("k"), S("other"), 0, 0);
    enc_take(&e, &buf, &len);
    for (uint64_t idx = 0; idx <= applied; idx++) {
        assert_int_equal(keel_store_apply(f->st, idx, buf, len, &f->reply), 0);
        EXPECT(&f->reply, WANT_ERR(KEEL_EEXISTS));
    }
    free(buf);
    assert_int_equal(keel_storage_applied(f->storage), applied);
    EXPECT(get(f, "k", 1000), WANT_BULK("v"));
    struct keel_store_stats s = stats(f);
    assert_int_equal(s.skipped, applied + 1);
    assert_int_equal(s.applied, applied);
    /* Indexes may jump forward (entries of other types in between). */
    f->index += 10;
    EXPECT(do_set(f, "k", "w", 0, 0), WANT_OK);
    assert_int_equal(keel_storage_applied(f->storage), applied + 11);
    assert_int_equal(version(f, "k", 1000), applied + 11);
}

/* Apply a malformed entry: error reply with `code`, index advances, nothing
 * else changes. */
static void apply_rejected(struct fx *f, const void *buf, size_t len, int code)
{
    uint64_t digest_before, digest_after, applied;
    struct keel_store_stats before = stats(f);
    uint64_t v = version(f, "k", 0);
    assert_int_equal(keel_storage_digest(f->storage, &applied, &digest_before), 0);
    apply_raw(f, buf, len);
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    keel_reply_reader_init(&rd, &f->reply);
    assert_int_equal(keel_reply_next(&rd, &it), 0);
    assert_int_equal(it.kind, KEEL_REPLY_ERROR);
    if (code != 0) assert_int_equal(it.integer, code);
    RD_END(&rd);
    struct keel_store_stats after = stats(f);
    assert_int_equal(after.rejected, before.rejected + 1);
    assert_int_equal(after.applied, before.applied + 1);
    EXPECT(get(f, "k", 0), WANT_BULK("v"));
    assert_int_equal(version(f, "k", 0), v);
    assert_int_equal(dedupe_count(f), 0);
    /* The applied index moved (and is part of the digest). */
    assert_int_equal(keel_storage_digest(f->storage, &applied, &digest_after), 0);
    assert_int_equal(applied, f->index);
    assert_int_not_equal(digest_before, digest_after);
}

static void test_apply_malformed(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    uint8_t *buf, junk[64];
    size_t len;
    uint64_t rng = 42;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);

    /* Random bytes. */
    for (int i = 0; i < 8; i++) {
        for (size_t j = 0; j < sizeof junk; j++) junk[j] = (uint8_t)test_xorshift64s(&rng);
        apply_rejected(f, junk, 40, 0);
    }
    /* Random bytes behind a valid magic and version. */
    for (int i = 0; i < 8; i++) {
        for (size_t j = 0; j < sizeof junk; j++) junk[j] = (uint8_t)test_xorshift64s(&rng);
        junk[0] = KEEL_CODEC_MAGIC;
        junk[1] = KEEL_CODEC_VERSION;
        apply_rejected(f, junk, 40, 0);
    }
    apply_rejected(f, junk, 0, KEEL_EMALFORMED);
    apply_rejected(f, junk, 8, KEEL_EMALFORMED);

    /* A valid encoding with one byte patched. Layout of this SET: header
     * (32), key len (4) "k", value len (4) "evil", expire_at (8), pad. */
    f->client = 9;
    f->seq = 1;
    enc_begin(f, &e);
    keel_enc_set(&e, S("k"), S("evil"), 0, 0);
    enc_take(&e, &buf, &len);
    assert_int_equal(len, 56);
    struct { size_t off; uint8_t val; int code; } patches[] = {
        {0, 'X', KEEL_EMALFORMED},          /* magic */
        {1, 2, KEEL_EVERSION},              /* codec version */
        {2, 0xEE, KEEL_EMALFORMED},         /* command type */
        {2, STORE_CMD__COUNT, KEEL_EMALFORMED},
        {3, KEEL_SET_NX | KEEL_SET_XX, KEEL_EMALFORMED}, /* contradictory flags */
        {3, 0x80, KEEL_EMALFORMED},         /* unknown flag */
        {4, 40, KEEL_EMALFORMED},           /* body length */
        {4, 8, KEEL_EMALFORMED},
        {32, 200, KEEL_EMALFORMED},         /* key length past the end */
        {35, 0x10, KEEL_ETOOBIG},           /* key length over the limit */
        {32, 0, KEEL_EMALFORMED},           /* empty key */
        {37, 0xFF, KEEL_EMALFORMED},        /* value length */
        {52, 0x80, KEEL_EMALFORMED},        /* expire_at negative */
        {53, 1, KEEL_EMALFORMED},           /* non-zero padding */
        {55, 1, KEEL_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        uint8_t copy[56];
        memcpy(copy, buf, len);
        copy[patches[i].off] = patches[i].val;
        apply_rejected(f, copy, len, patches[i].code);
    }
    /* Truncated, or with extra bytes. */
    apply_rejected(f, buf, len - 8, KEEL_EMALFORMED);
    uint8_t longer[64] = {0};
    memcpy(longer, buf, len);
    apply_rejected(f, longer, 64, KEEL_EMALFORMED);
    apply_rejected(f, buf, len - 1, KEEL_EMALFORMED);

    /* The untouched entry still applies, and (client, seq) was not taken by
     * the rejected ones. */
    EXPECT(apply_raw(f, buf, len), WANT_OK);
    EXPECT(get(f, "k", 0), WANT_BULK("evil"));
    assert_int_equal(version(f, "k", 0), f->index);
    free(buf);

    /* A malformed BATCH sub-command rejects the whole entry. */
    f->client = 0;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, S("k"), S("a"), 0, 0);
    keel_enc_set(&e, S("k"), S("b"), 0, KEEL_SET_NX | KEEL_SET_XX);
    enc_take(&e, &buf, &len);
    apply_raw(f, buf, len);
    free(buf);
    EXPECT(&f->reply, WANT_ERR(KEEL_EMALFORMED));
    EXPECT(get(f, "k", 0), WANT_BULK("evil"));
}

/* ---- restart ----------------------------------------------------------- */

/* The applied index, the logical clock and the dedupe table live in the
 * storage, so they survive a restart. */
static void test_reopen(void **state)
{
    struct fx *f = *state;
    f->ts = 100;
    EXPECT(do_set(f, "e", "1", 2000, 0), WANT_OK);
    f->client = 3;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    f->client = 0;
    f->ts = 5000;
    EXPECT(do_noop(f), WANT_OK);
    uint64_t applied = f->index, d1, d2, i1, i2;
    assert_int_equal(keel_storage_digest(f->storage, &i1, &d1), 0);
    fx_reopen(f);
    assert_int_equal(keel_storage_applied(f->storage), applied);
    assert_int_equal(keel_storage_digest(f->storage, &i2, &d2), 0);
    assert_int_equal(i1, i2);
    assert_int_equal(d1, d2);
    /* Replayed entries are skipped. */
    f->client = 3;
    f->seq = 1;
    f->ts = 100;
    assert_int_equal(keel_store_apply(f->st, applied, "", 0, &f->reply), 0);
    EXPECT(&f->reply, WANT_ERR(KEEL_EEXISTS));
    f->index = applied;
    /* The retry is still known; the clock still says 5000. */
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    f->client = 0;
    EXPECT(do_incrby(f, "e", 1), WANT_INT(1));
    EXPECT(do_set(f, "x", "v", 4000, 0), WANT_OK);
    assert_false(stored(f, "x"));
}

/* ---- map growth -------------------------------------------------------- */

static void test_map_growth(void **state)
{
    struct fx *f = *state;
    enum { N = 300, VAL = 4096 };
    static char val[VAL + 1];
    char key[32];
    f->ts = 1000;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key%04d", i);
        fill_value(val, VAL, i);
        EXPECT(do_set(f, key, val, 0, 0), WANT_OK);
        assert_int_equal(version(f, key, 1000), f->index);
    }
    struct keel_store_stats s = stats(f);
    assert_true(s.map_grows >= 3);
    assert_int_equal(s.applied, N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key%04d", i);
        fill_value(val, VAL, i);
        EXPECT(get(f, key, 1000), WANT_BULKN(val, VAL));
    }
    /* A large hash rewritten entry after entry keeps its content. */
    for (int i = 0; i < 40; i++) {
        char field[16];
        snprintf(field, sizeof field, "f%02d", i);
        fill_value(val, VAL, i);
        EXPECT(do_hset(f, "doc", LIST(field, val)), WANT_INT(1));
    }
    fill_value(val, VAL, 39);
    EXPECT(hget(f, "doc", "f39", 1000), WANT_BULKN(val, VAL));
    fill_value(val, VAL, 0);
    EXPECT(hget(f, "doc", "f00", 1000), WANT_BULKN(val, VAL));
}

/* The store's statistics count each entry once, even when a full map made it
 * roll back and apply again. A sweep is made to run into a nearly full map:
 * its deletions and its remembered reply need fresh pages. Several fill
 * levels, since which write hits the end of the map depends on LMDB's page
 * accounting. */
static void test_stats_across_grows(void **state)
{
    (void)state;
    enum { N = 60, VAL = 1000 };
    static char val[VAL + 1];
    char key[160];
    unsigned sweeps_grown = 0;
    fill_value(val, VAL, 1);
    for (unsigned trial = 0; trial < 24; trial++) {
        struct fx one, *f = &one;
        struct keel_space sp;
        fx_init(f, "test_store_grow", 256 * 1024);
        f->ts = 10;
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "e%03d-%0120d", i, i);
            EXPECT(do_set(f, key, val, 11, 0), WANT_OK);
        }
        /* Fill with keys that stay until trial + 1 pages are left past the
         * end of the data file. */
        for (int i = 0;; i++) {
            assert_true(i < 10000);
            assert_int_equal(keel_storage_space(f->storage, &sp), 0);
            if (sp.map_size - sp.file_bytes <= (trial + 1) * 4096ull) break;
            snprintf(key, sizeof key, "p%06d", i);
            EXPECT(do_set(f, key, val, 0, 0), WANT_OK);
        }
        uint64_t grows = stats(f).map_grows;
        f->ts = 12;
        f->client = 5;
        f->seq = 1;
        struct keel_reply_reader rd;
        struct keel_reply_item it;
        keel_reply_reader_init(&rd, do_sweep(f, 1000));
        assert_int_equal(keel_reply_next(&rd, &it), 0);
        assert_int_equal(it.kind, KEEL_REPLY_ARRAY);
        assert_int_equal(it.integer, N);
        if (stats(f).map_grows > grows) sweeps_grown++;
        assert_int_equal(stats(f).expired, N);
        assert_int_equal(stats(f).applied, f->index);
        /* And a retry answered from the table counts once as well. */
        keel_reply_reader_init(&rd, do_sweep(f, 1000));
        RD(&rd, WANT_ARRAY(N));
        assert_int_equal(stats(f).deduped, 1);
        assert_int_equal(stats(f).expired, N);
        fx_fini(f);
    }
    print_message("sweeps that grew the map: %u of 24\n", sweeps_grown);
    assert_true(sweeps_grown > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, setup_small_map, teardown),
        cmocka_unit_test(test_stats_across_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
