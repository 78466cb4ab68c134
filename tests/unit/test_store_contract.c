/* tests: the state machine's apply contract: skipped and malformed entries,
 * dedupe, restart, determinism across replicas, map growth and statistics.
 * Command semantics are in test_store_commands.c. */
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

/* ---- dedupe ------------------------------------------------------------ */

static void test_dedupe(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    f->ts = 1000;
    f->client = 7;
    f->seq = 1;
    enc_begin(f, &e);
    keel_enc_incrby(&e, S("c"), 5);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_INT(5));
    struct keel_reply first;
    keel_reply_init(&first);
    keel_reply_raw(&first, f->reply.buf, f->reply.len);
    uint64_t v = f->index;
    /* The same entry again, at the next index: applied once, same reply. */
    apply_raw(f, buf, len);
    free(buf);
    assert_int_equal(f->reply.len, first.len);
    assert_memory_equal(f->reply.buf, first.buf, first.len);
    EXPECT(get(f, "c", 1000), WANT_BULK("5"));
    assert_int_equal(version(f, "c", 1000), v);
    assert_int_equal(stats(f).deduped, 1);
    assert_int_equal(keel_storage_applied(f->storage), f->index);
    /* A different command under the same (client, seq) too (a retry is
     * answered from the table, whatever it says). */
    f->ts = 1500;
    EXPECT(do_set(f, "c", "zzz", 0, 0), WANT_INT(5));
    EXPECT(do_incrby(f, "other", 1), WANT_INT(5));
    assert_false(stored(f, "other"));
    EXPECT(get(f, "c", 1000), WANT_BULK("5"));
    assert_int_equal(stats(f).deduped, 3);
    keel_reply_close(&first);

    /* Another seq, another client: applied. */
    f->seq = 2;
    EXPECT(do_incrby(f, "c", 5), WANT_INT(10));
    f->client = 8;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 5), WANT_INT(15));
    EXPECT(do_incrby(f, "c", 5), WANT_INT(15));
    assert_int_equal(dedupe_count(f), 3);
    /* Client 0: no dedupe at all. */
    f->client = 0;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 5), WANT_INT(20));
    EXPECT(do_incrby(f, "c", 5), WANT_INT(25));
    assert_int_equal(dedupe_count(f), 3);
    assert_int_equal(stats(f).deduped, 4);

    /* Error replies are remembered too: the retry does not re-run. */
    f->client = 7;
    f->seq = 3;
    EXPECT(do_set(f, "s", "abc", 0, 0), WANT_OK);
    f->seq = 4;
    EXPECT(do_incrby(f, "s", 1), WANT_ERR(KEEL_ENOTINT));
    f->client = 0;
    EXPECT(do_set(f, "s", "1", 0, 0), WANT_OK);
    f->client = 7;
    EXPECT(do_incrby(f, "s", 1), WANT_ERR(KEEL_ENOTINT));
    EXPECT(get(f, "s", 1000), WANT_BULK("1"));

    /* And array replies (batches, sweeps). */
    f->seq = 5;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_incrby(&e, S("b"), 1);
    keel_enc_incrby(&e, S("b"), 1);
    enc_take(&e, &buf, &len);
    for (int i = 0; i < 2; i++) {
        struct keel_reply_reader rd;
        keel_reply_reader_init(&rd, apply_raw(f, buf, len));
        RD(&rd, WANT_ARRAY(2));
        RD(&rd, WANT_INT(1));
        RD(&rd, WANT_INT(2));
        RD_END(&rd);
    }
    free(buf);
    EXPECT(get(f, "b", 1000), WANT_BULK("2"));
}

static void test_dedupe_expiry(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    f->client = 7;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    for (f->seq = 2; f->seq <= 10; f->seq++) EXPECT(do_noop(f), WANT_OK);
    assert_int_equal(dedupe_count(f), 10);
    /* Still remembered exactly KEEL_DEDUPE_TTL_MS later. */
    f->seq = 1;
    f->ts = 1000 + KEEL_DEDUPE_TTL_MS;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    assert_int_equal(dedupe_count(f), 10);
    /* One ms later the entries are stale: each apply evicts at most
     * KEEL_DEDUPE_EVICT_BUDGET of them, oldest first. */
    f->client = 0;
    f->ts = 1000 + KEEL_DEDUPE_TTL_MS + 1;
    uint64_t n = 10;
    while (n > 0) {
        EXPECT(do_noop(f), WANT_OK);
        uint64_t want = n > KEEL_DEDUPE_EVICT_BUDGET ? n - KEEL_DEDUPE_EVICT_BUDGET : 0;
        assert_int_equal(dedupe_count(f), want);
        n = want;
    }
    /* The same (client, seq) now applies again. */
    f->client = 7;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(2));
    EXPECT(do_incrby(f, "c", 1), WANT_INT(2));
    assert_int_equal(dedupe_count(f), 1);
    /* Log time, not the entry's: a retry carrying an old timestamp after the
     * clock moved on is not found either. */
    f->seq = 2;
    f->ts = 5000000;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(3));
    f->ts = 5000000 + KEEL_DEDUPE_TTL_MS + 1;
    f->client = 0;
    EXPECT(do_noop(f), WANT_OK);
    f->client = 7;
    f->ts = 5000000;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(4));
}

/* A reply too big to remember: the retry is still not applied again, and
 * hears that the outcome was lost. */
static void test_dedupe_big_reply(void **state)
{
    struct fx *f = *state;
    enum { BIG = KEEL_DEDUPE_MAX_REPLY + 100 };
    char *big = malloc(BIG + 1);
    assert_non_null(big);
    fill_value(big, BIG, 3);
    f->ts = 1000;
    EXPECT(do_set(f, "k", big, 0, 0), WANT_OK);
    f->client = 7;
    f->seq = 1;
    EXPECT(do_set(f, "k", "small", 0, KEEL_SET_GET), WANT_BULKN(big, BIG));
    uint64_t v = f->index;
    EXPECT(do_set(f, "k", "other", 0, KEEL_SET_GET), WANT_ERR(KEEL_EREPLYLOST));
    EXPECT(get(f, "k", 1000), WANT_BULK("small"));
    assert_int_equal(version(f, "k", 1000), v);
    /* A reply just under the limit is kept whole. */
    f->seq = 2;
    f->client = 0;
    big[KEEL_DEDUPE_MAX_REPLY - 5] = 0; /* bulk item: 5 bytes + value */
    EXPECT(do_set(f, "j", big, 0, 0), WANT_OK);
    f->client = 7;
    EXPECT(do_set(f, "j", "x", 0, KEEL_SET_GET), WANT_BULK(big));
    EXPECT(do_set(f, "j", "y", 0, KEEL_SET_GET), WANT_BULK(big));
    EXPECT(get(f, "j", 1000), WANT_BULK("x"));
    free(big);
}

/* The eviction bound at a small scale, on the storage calls apply uses. */
static void test_dedupe_bound(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    struct keel_slice r;
    const struct keel_slice reply = {(const uint8_t *)"reply", 5};
    assert_int_equal(storage_txn_begin(f->storage, true, &txn), 0);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(storage_dedupe_put(&txn, 1, i, 100 + (int64_t)i, reply), 0);
    assert_int_equal(storage_dedupe_put(&txn, 1, 0, 500, reply), KEEL_EEXISTS);
    assert_int_equal(storage_dedupe_count(&txn), 20);
    /* Over max_entries: the oldest go, `budget` at a time. */
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 4), 0);
    assert_int_equal(storage_dedupe_count(&txn), 16);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(storage_dedupe_get(&txn, 1, i, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 1, 4, &r), 0);
    assert_int_equal(r.n, 5);
    assert_memory_equal(r.p, "reply", 5);
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 4), 0);
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 100), 0);
    assert_int_equal(storage_dedupe_count(&txn), 8);
    assert_int_equal(storage_dedupe_get(&txn, 1, 11, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 1, 12, &r), 0);
    /* At the bound and young: nothing goes. */
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 4), 0);
    assert_int_equal(storage_dedupe_count(&txn), 8);
    /* By age: stamped before older_than. */
    assert_int_equal(storage_dedupe_evict(&txn, 115, 8, 100), 0);
    assert_int_equal(storage_dedupe_count(&txn), 5);
    assert_int_equal(storage_dedupe_get(&txn, 1, 14, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 1, 15, &r), 0);
    storage_txn_abort(&txn);

    /* Through apply: the count never exceeds KEEL_DEDUPE_MAX + 1, and equals
     * the number of distinct young (client, seq) below it. */
    f->ts = 1000;
    for (uint64_t i = 1; i <= 50; i++) {
        f->client = 1 + i % 3;
        f->seq = i;
        EXPECT(do_noop(f), WANT_OK);
        assert_int_equal(dedupe_count(f), i);
    }
}

/* The real bound: fill the table past KEEL_DEDUPE_MAX through apply (about
 * 2 s in a Debug build), all at one timestamp so only the bound evicts. */
static void test_dedupe_bound_full(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    f->client = 1;
    for (uint64_t i = 1; i <= KEEL_DEDUPE_MAX + 100; i++) {
        f->seq = i;
        EXPECT(do_noop(f), WANT_OK);
        if (i % 4096 == 0 || i > KEEL_DEDUPE_MAX - 2) {
            uint64_t want = i <= KEEL_DEDUPE_MAX + 1 ? i : KEEL_DEDUPE_MAX + 1;
            if (dedupe_count(f) != want) fail_msg("after %" PRIu64 " entries", i);
        }
    }
    /* 99 were pushed out, oldest first. A hit evicts without adding one. */
    f->seq = KEEL_DEDUPE_MAX + 100;
    EXPECT(do_incrby(f, "c", 1), WANT_OK);
    assert_int_equal(dedupe_count(f), KEEL_DEDUPE_MAX);
    f->seq = 101;
    EXPECT(do_incrby(f, "c", 1), WANT_OK);
    assert_int_equal(dedupe_count(f), KEEL_DEDUPE_MAX);
    f->seq = 99;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    assert_int_equal(dedupe_count(f), KEEL_DEDUPE_MAX + 1);
    f->seq = 100;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(2));
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

/* ---- determinism ------------------------------------------------------- */

#define GEN_NKEYS 24
#define GEN_VBUF 4096

struct gen
{
    uint64_t rng;
    int64_t clock; /* the leader's clock */
    int64_t ts;    /* timestamp of the entry being generated */
    uint64_t next_seq[5];
    uint64_t used_client[64];
    uint64_t used_seq[64];
    unsigned nused;
    uint8_t vbuf[8][GEN_VBUF];
};

static const char *const gen_keys[GEN_NKEYS] = {
    "k0",  "k1",  "k2",  "k3",  "k4",  "k5",  "k6",  "k7",  "k8",  "k9",  "k10", "k11",
    "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23"};
static const char *const gen_fields[] = {"a", "b", "c", "dd", "e"};
static const char *const gen_vals[] = {"0", "1", "-1", "42", "abc", "",
                                       "9223372036854775807", "-9223372036854775808",
                                       " 7", "07"};

static uint64_t below(struct gen *g, uint64_t n)
{
    return test_xorshift64s(&g->rng) % n;
}

static bool chance(struct gen *g, unsigned pct)
{
    return below(g, 100) < pct;
}

#define PICK(g, arr) (arr)[below((g), sizeof(arr) / sizeof((arr)[0]))]

static struct keel_slice gen_value(struct gen *g, unsigned slot)
{
    if (chance(g, 70)) return S(PICK(g, gen_vals));
    size_t n = chance(g, 25) ? below(g, GEN_VBUF) : below(g, 64);
    for (size_t i = 0; i < n; i++) g->vbuf[slot][i] = (uint8_t)test_xorshift64s(&g->rng);
    return (struct keel_slice){g->vbuf[slot], n};
}

static int64_t gen_expire(struct gen *g)
{
    if (chance(g, 50)) return 0;
    int64_t at = g->ts + (int64_t)below(g, 600) - 100;
    return at < 1 ? 1 : at;
}

static uint64_t gen_version(struct gen *g, struct fx *a, struct keel_slice key)
{
    uint64_t v = 0;
    if (chance(g, 70)) {
        assert_int_equal(keel_store_version(a->st, key, g->ts, &v), 0);
        return v;
    }
    return chance(g, 50) ? 0 : below(g, a->index + 2);
}

/* One command of `type` (SET..CAS) into e. */
static void gen_cmd(struct gen *g, struct keel_enc *e, struct fx *a, unsigned type)
{
    static const unsigned expire_flags[] = {
        0, KEEL_EXPIRE_NX, KEEL_EXPIRE_XX, KEEL_EXPIRE_GT, KEEL_EXPIRE_LT,
        KEEL_EXPIRE_XX | KEEL_EXPIRE_GT, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT,
    };
    static const int64_t deltas[] = {INT64_MAX, INT64_MIN, 1000000007, -3};
    struct keel_slice key = S(PICK(g, gen_keys)), items[8];
    unsigned flags = 0, n;
    switch (type) {
        case STORE_CMD_SET:
            flags = (unsigned[]){0, KEEL_SET_NX, KEEL_SET_XX}[below(g, 3)];
            if (chance(g, 20)) flags |= KEEL_SET_KEEPTTL;
            if (chance(g, 30)) flags |= KEEL_SET_GET;
            keel_enc_set(e, key, gen_value(g, 0), gen_expire(g), flags);
            break;
        case STORE_CMD_DEL:
            n = 1 + (unsigned)below(g, 4);
            for (unsigned i = 0; i < n; i++) items[i] = S(PICK(g, gen_keys));
            keel_enc_del(e, items, n);
            break;
        case STORE_CMD_INCRBY:
            keel_enc_incrby(e, key,
                            chance(g, 10) ? PICK(g, deltas) : (int64_t)below(g, 21) - 10);
            break;
        case STORE_CMD_EXPIRE:
            keel_enc_expire(e, key,
                            chance(g, 20) ? g->ts - (int64_t)below(g, 200)
                                          : g->ts + (int64_t)below(g, 800),
                            PICK(g, expire_flags));
            break;
        case STORE_CMD_PERSIST:
            keel_enc_persist(e, key);
            break;
        case STORE_CMD_HSET:
            n = 1 + (unsigned)below(g, 3);
            for (unsigned i = 0; i < n; i++) {
                items[2 * i] = S(PICK(g, gen_fields));
                items[2 * i + 1] = gen_value(g, i);
            }
            keel_enc_hset(e, key, items, n);
            break;
        case STORE_CMD_HDEL:
            n = 1 + (unsigned)below(g, 3);
            for (unsigned i = 0; i < n; i++) items[i] = S(PICK(g, gen_fields));
            keel_enc_hdel(e, key, items, n);
            break;
        case STORE_CMD_HINCRBY:
            keel_enc_hincrby(e, key, S(PICK(g, gen_fields)),
                             chance(g, 10) ? PICK(g, deltas) : (int64_t)below(g, 21) - 10);
            break;
        case STORE_CMD_CAS: {
            uint64_t version = 0;
            struct keel_slice expect = {NULL, 0};
            if (chance(g, 50)) {
                flags = KEEL_CAS_VERSION;
                version = gen_version(g, a, key);
            } else {
                flags = KEEL_CAS_VALUE;
                if (chance(g, 25)) flags |= KEEL_CAS_ABSENT;
                else expect = gen_value(g, 1);
            }
            if (chance(g, 20)) flags |= KEEL_CAS_DELETE;
            keel_enc_cas(e, key, flags, version, expect, gen_value(g, 2), gen_expire(g));
            break;
        }
        default:
            fail_msg("gen_cmd: type %u", type);
    }
}

/* One random entry (malloc'd into *buf). */
static size_t gen_entry(struct gen *g, struct fx *a, uint8_t **buf)
{
    struct keel_enc e;
    size_t len;
    /* The leader clock moves on; some entries carry an older timestamp (a
     * former leader with a slow clock). */
    g->clock += (int64_t)below(g, 60);
    g->ts = chance(g, 10) ? g->clock - (int64_t)below(g, 3000) : g->clock;
    uint64_t client = 0, seq = 0;
    if (chance(g, 10) && g->nused > 0) {
        unsigned i = (unsigned)below(g, g->nused);
        client = g->used_client[i];
        seq = g->used_seq[i];
    } else if (chance(g, 60)) {
        client = 1 + below(g, 4);
        seq = ++g->next_seq[client];
        unsigned i = g->nused < 64 ? g->nused++ : (unsigned)below(g, 64);
        g->used_client[i] = client;
        g->used_seq[i] = seq;
    }
    keel_enc_init(&e, g->ts, client, seq);
    unsigned pick = (unsigned)below(g, 100);
    if (pick < 10) {
        keel_enc_batch_begin(&e);
        unsigned nw = (unsigned)below(g, 3), nc = 1 + (unsigned)below(g, 4);
        for (unsigned i = 0; i < nw; i++) {
            struct keel_slice key = S(PICK(g, gen_keys));
            keel_enc_watch(&e, key, gen_version(g, a, key));
        }
        for (unsigned i = 0; i < nc; i++)
            gen_cmd(g, &e, a, STORE_CMD_SET + (unsigned)below(g, STORE_CMD_CAS));
    } else if (pick < 18) {
        keel_enc_sweep(&e, 1 + (int64_t)below(g, 8));
    } else if (pick < 20) {
        keel_enc_noop(&e);
    } else {
        gen_cmd(g, &e, a, STORE_CMD_SET + (unsigned)below(g, STORE_CMD_CAS));
    }
    enc_take(&e, buf, &len);
    if (chance(g, 3)) {
        /* Junk, sometimes behind a valid magic and version. */
        len = 8 * (1 + below(g, 10));
        uint8_t *junk = realloc(*buf, len);
        assert_non_null(junk);
        for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)test_xorshift64s(&g->rng);
        if (chance(g, 50)) {
            junk[0] = KEEL_CODEC_MAGIC;
            junk[1] = KEEL_CODEC_VERSION;
            junk[2] = (uint8_t)below(g, STORE_CMD__COUNT + 1);
        }
        *buf = junk;
    } else if (chance(g, 3)) {
        /* One byte patched: usually rejected, sometimes still valid. Not in
         * the timestamp, which would stay valid and move the logical clock
         * far ahead for good (expiring everything the workload sets). */
        size_t at = below(g, len - 8);
        (*buf)[at < 8 ? at : at + 8] ^= (uint8_t)(1 + below(g, 255));
    }
    return len;
}

/* Apply one entry to every replica at `index`; their replies must be equal. */
static void apply_all(struct fx *const *fx, unsigned n, uint64_t index, const uint8_t *buf,
                      size_t len)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = keel_store_apply(fx[i]->st, index, buf, len, &fx[i]->reply);
        if (rc != 0)
            fail_msg("replica %u, apply %" PRIu64 ": %s", i, index, keel_store_errmsg(fx[i]->st));
        if (i == 0) continue;
        const struct keel_reply *r0 = &fx[0]->reply, *r = &fx[i]->reply;
        if (r->len != r0->len || (r->len > 0 && memcmp(r->buf, r0->buf, r->len) != 0))
            fail_msg("replica %u: reply differs at index %" PRIu64, i, index);
    }
    reply_items(&fx[0]->reply);
}

/* Replicas A (large map), B (tiny map: it grows, re-applying entries after
 * rollbacks) and C (restarted every 500 entries) apply the same random log
 * and must end byte-identical. */
static void test_determinism(void **state)
{
    (void)state;
    struct fx a, b, c;
    struct fx *const all[] = {&a, &b, &c};
    struct gen *g = calloc(1, sizeof *g);
    uint8_t *buf, *prev = NULL;
    size_t len, prev_len = 0;
    uint64_t index = 0, digest[3], applied[3];
    assert_non_null(g);
    g->rng = 0x6b65656c2d746573ull; /* fixed seed */
    g->clock = g->ts = 100000;
    fx_init(&a, "test_store_a", 0);
    fx_init(&b, "test_store_b", 64 * 1024);
    fx_init(&c, "test_store_c", 0);
    for (int i = 0; i < 2000; i++) {
        if (prev != NULL && chance(g, 4)) {
            /* A retried proposal: the very same bytes at a later index. */
            apply_all(all, 3, ++index, prev, prev_len);
        } else if (chance(g, 2)) {
            /* A replayed entry: skipped. */
            apply_all(all, 3, index - below(g, index + 1), prev ? prev : (const uint8_t *)"",
                      prev ? prev_len : 0);
        } else {
            a.index = index;
            len = gen_entry(g, &a, &buf);
            apply_all(all, 3, ++index, buf, len);
            free(prev);
            prev = buf;
            prev_len = len;
        }
        if (i % 500 == 499) fx_reopen(&c);
    }
    free(prev);
    /* A HASH entry: every replica digests the same state at the same index. */
    uint64_t hash_at[3], hash[3];
    struct keel_enc he;
    keel_enc_init(&he, g->ts, 0, 0);
    keel_enc_hash(&he);
    assert_int_equal(keel_enc_finish(&he, &buf, &len), 0);
    apply_all(all, 3, ++index, buf, len);
    free(buf);
    for (unsigned i = 0; i < 3; i++) keel_store_last_hash(all[i]->st, &hash_at[i], &hash[i]);
    assert_int_equal(hash_at[0], index);
    assert_int_equal(hash_at[1], index);
    assert_int_equal(hash_at[2], index);
    assert_int_equal(hash[0], hash[1]);
    assert_int_equal(hash[0], hash[2]);
    assert_int_not_equal(hash[0], 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(keel_storage_digest(all[i]->storage, &applied[i], &digest[i]), 0);
        assert_int_equal(applied[i], index);
    }
    /* A consistency-check round and its verdict: noted for the node, and
     * the state moves exactly as a NOOP would move it. */
    keel_enc_init(&he, g->ts, 0, 0);
    keel_enc_check(&he);
    assert_int_equal(keel_enc_finish(&he, &buf, &len), 0);
    apply_all(all, 3, ++index, buf, len);
    free(buf);
    for (unsigned i = 0; i < 3; i++) {
        const struct keel_check_note *n = keel_store_check_note(all[i]->st);
        assert_int_equal(n->kind, KEEL_CHECK_ROUND);
        assert_int_equal(n->index, index);
    }
    keel_enc_init(&he, g->ts, 0, 0);
    keel_enc_verdict(&he, index, 0x1234);
    assert_int_equal(keel_enc_finish(&he, &buf, &len), 0);
    apply_all(all, 3, ++index, buf, len);
    free(buf);
    for (unsigned i = 0; i < 3; i++) {
        const struct keel_check_note *n = keel_store_check_note(all[i]->st);
        assert_int_equal(n->kind, KEEL_CHECK_VERDICT);
        assert_int_equal(n->index, index - 1);
        assert_int_equal(n->digest, 0x1234);
    }
    uint64_t before[3];
    for (unsigned i = 0; i < 3; i++) before[i] = digest[i];
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(keel_storage_digest(all[i]->storage, &applied[i], &digest[i]), 0);
        assert_int_equal(applied[i], index);
    }
    assert_int_equal(digest[0], digest[1]);
    assert_int_equal(digest[0], digest[2]);
    assert_int_not_equal(digest[0], before[0]); /* the applied index moved */
    /* A NOOP leaves no note; a replayed round is skipped and leaves none. */
    keel_enc_init(&he, g->ts, 0, 0);
    keel_enc_noop(&he);
    assert_int_equal(keel_enc_finish(&he, &buf, &len), 0);
    apply_all(all, 3, ++index, buf, len);
    free(buf);
    assert_int_equal(keel_store_check_note(a.st)->kind, KEEL_CHECK_NONE);
    keel_enc_init(&he, g->ts, 0, 0);
    keel_enc_check(&he);
    assert_int_equal(keel_enc_finish(&he, &buf, &len), 0);
    apply_all(all, 3, index - 1, buf, len);
    free(buf);
    assert_int_equal(keel_store_check_note(a.st)->kind, KEEL_CHECK_NONE);
    assert_int_equal(digest[0], digest[1]);
    assert_int_equal(digest[0], digest[2]);
    struct keel_store_stats sa = stats(&a), sb = stats(&b);
    assert_int_equal(sa.applied, sb.applied);
    assert_int_equal(sa.skipped, sb.skipped);
    assert_int_equal(sa.rejected, sb.rejected);
    assert_int_equal(sa.deduped, sb.deduped);
    assert_int_equal(sa.expired, sb.expired);
    /* The workload did exercise what it is meant to. */
    assert_true(sa.skipped > 0);
    assert_true(sa.rejected > 0);
    assert_true(sa.deduped > 0);
    assert_true(sa.expired > 0);
    assert_true(sb.map_grows > 0);
    assert_int_equal(sa.map_grows, 0);
    /* Same reads on all. */
    for (unsigned k = 0; k < GEN_NKEYS; k++) {
        for (int j = 0; j < 2; j++) {
            int64_t now = g->clock + j * 300;
            for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(keel_store_get(all[i]->st, S(gen_keys[k]), now, &all[i]->read), 0);
                assert_int_equal(all[i]->read.len, a.read.len);
                assert_memory_equal(all[i]->read.buf, a.read.buf, a.read.len);
            }
            for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(keel_store_hgetall(all[i]->st, S(gen_keys[k]), now, &all[i]->read),
                                 0);
                assert_int_equal(all[i]->read.len, a.read.len);
                assert_memory_equal(all[i]->read.buf, a.read.buf, a.read.len);
            }
        }
    }
    fx_fini(&a);
    fx_fini(&b);
    fx_fini(&c);
    free(g);
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
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_big_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_bound_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test_setup_teardown(test_map_growth, setup_small_map, teardown),
        cmocka_unit_test(test_stats_across_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
