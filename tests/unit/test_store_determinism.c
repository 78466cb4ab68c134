/* tests: determinism across replicas: random entry streams (every command,
 * its flags, clock steps, retries, malformed entries) applied to independent
 * stores give byte-identical replies and the same digest at every index. */
#include "store_fixture.h"
#include "tests/lib/testlib.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
