/* tests: the replicated command codec (store/codec.h): round trips, rejection
 * of every kind of malformed entry, a byte-flipping fuzz loop, encoder misuse.
 *
 * Decode runs on replicas against bytes from the raft log, so it must reject
 * anything the leader's encoder would not have produced, and never read past
 * the entry. Malformed inputs are built by encoding a valid command and
 * patching bytes, or by assembling bytes by hand; every decode of a bad input
 * gets a buffer of exactly its length so that ASan sees any overread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/acl.h"
#include "store/codec.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"

#define BODY STORE_CMD_HEADER /* offset of the body in an entry */

/* ---- helpers ------------------------------------------------------------ */

static void assert_slice(struct keel_slice s, const void *p, size_t n)
{
    assert_int_equal(s.n, n);
    if (n > 0) assert_memory_equal(s.p, p, n);
}

#define assert_slice_lit(s, lit) assert_slice((s), (lit), sizeof(lit) - 1)

/* Finish e, which must succeed, and check the framing every entry has. */
static uint8_t *finish_ok(struct keel_enc *e, size_t *len)
{
    uint8_t *buf = NULL;
    int rc = keel_enc_finish(e, &buf, len);
    assert_int_equal(rc, 0);
    assert_non_null(buf);
    keel_enc_close(e);
    assert_true(*len >= STORE_CMD_HEADER);
    assert_int_equal(*len % 8, 0);
    assert_int_equal(buf[0], KEEL_CODEC_MAGIC);
    assert_int_equal(buf[1], KEEL_CODEC_VERSION);
    /* The body length leaves less than 8 bytes of padding. */
    assert_true(le32_load(buf + 4) <= *len - STORE_CMD_HEADER);
    assert_true(*len - STORE_CMD_HEADER - le32_load(buf + 4) < 8);
    return buf;
}

static void decode_ok(const uint8_t *buf, size_t len, struct store_cmd *cmd)
{
    const char *msg = "unset";
    int rc = store_cmd_decode(buf, len, cmd, &msg);
    if (rc != 0) fail_msg("decode failed: rc %d: %s", rc, msg ? msg : "(no reason)");
    assert_null(msg);
}

/* Decode a copy of buf[0..len) in a buffer of exactly len bytes and expect
 * error `want` with a reason (or, for 0, success without one). */
static void expect_rc(const uint8_t *buf, size_t len, int want)
{
    uint8_t *copy = malloc(len ? len : 1);
    struct store_cmd cmd;
    const char *msg = NULL;
    assert_non_null(copy);
    if (len > 0) memcpy(copy, buf, len);
    int rc = store_cmd_decode(copy, len, &cmd, &msg);
    if (rc != want)
        fail_msg("decode of %zu bytes: want rc %d, got %d (%s)", len, want, rc,
                 msg ? msg : "(no reason)");
    if (want != 0) {
        assert_non_null(msg);
        assert_true(msg[0] != 0);
    } else {
        assert_null(msg);
    }
    /* msg is optional. */
    assert_int_equal(store_cmd_decode(copy, len, &cmd, NULL), want);
    free(copy);
}

static void expect_malformed(const uint8_t *buf, size_t len)
{
    expect_rc(buf, len, KEEL_EMALFORMED);
}

static void check_header(const struct store_cmd *c, uint8_t type, uint8_t flags, int64_t ts,
                         uint64_t client, uint64_t seq)
{
    assert_int_equal(c->type, type);
    assert_int_equal(c->flags, flags);
    assert_int_equal(c->ts, ts);
    assert_int_equal(c->client, client);
    assert_int_equal(c->seq, seq);
}

/* A hand-assembled byte string, to build bodies the encoder cannot. */
struct bb
{
    uint8_t b[1024];
    size_t n;
};

static void bb_u8(struct bb *b, uint8_t v)
{
    assert_true(b->n + 1 <= sizeof b->b);
    b->b[b->n++] = v;
}

static void bb_u32(struct bb *b, uint32_t v)
{
    assert_true(b->n + 4 <= sizeof b->b);
    le32_store(b->b + b->n, v);
    b->n += 4;
}

static void bb_u64(struct bb *b, uint64_t v)
{
    assert_true(b->n + 8 <= sizeof b->b);
    le64_store(b->b + b->n, v);
    b->n += 8;
}

static void bb_bytes(struct bb *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->b);
    if (n > 0) memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void bb_str(struct bb *b, const char *s)
{
    bb_u32(b, (uint32_t)strlen(s));
    bb_bytes(b, s, strlen(s));
}

/* A BATCH sub-command: header then the body in sub. */
static void bb_sub(struct bb *b, uint8_t type, uint8_t flags, const struct bb *sub)
{
    bb_u8(b, type);
    bb_u8(b, flags);
    bb_u8(b, 0);
    bb_u8(b, 0);
    bb_u32(b, (uint32_t)sub->n);
    bb_bytes(b, sub->b, sub->n);
}

/* A whole entry: the 32-byte header, body, zero padding to a multiple of 8. */
static uint8_t *frame(uint8_t type, uint8_t flags, const struct bb *body, int64_t ts,
                      uint64_t client, uint64_t seq, size_t *len)
{
    size_t n = STORE_CMD_HEADER + body->n;
    n += (8 - n % 8) % 8;
    uint8_t *buf = calloc(1, n);
    assert_non_null(buf);
    buf[0] = KEEL_CODEC_MAGIC;
    buf[1] = KEEL_CODEC_VERSION;
    buf[2] = type;
    buf[3] = flags;
    le32_store(buf + 4, (uint32_t)body->n);
    le64_store(buf + 8, (uint64_t)ts);
    le64_store(buf + 16, client);
    le64_store(buf + 24, seq);
    if (body->n > 0) memcpy(buf + STORE_CMD_HEADER, body->b, body->n);
    *len = n;
    return buf;
}

/* ---- re-encoding a decoded command ------------------------------------- */

/* Collect the strings of a list (count of them) into a malloc'd array. */
static struct keel_slice *collect(struct keel_slice list, uint32_t count)
{
    struct keel_slice *v = malloc((count ? count : 1) * sizeof *v);
    struct keel_iter it;
    assert_non_null(v);
    keel_iter_init(&it, list);
    for (uint32_t i = 0; i < count; i++) assert_true(keel_iter_str(&it, &v[i]));
    assert_false(keel_iter_str(&it, &(struct keel_slice){NULL, 0}));
    return v;
}

/* Append c to e with the keel_enc_* calls that produced it. */
static void enc_cmd(struct keel_enc *e, const struct store_cmd *c)
{
    struct keel_slice *v;
    struct keel_iter it;
    switch (c->type) {
        case STORE_CMD_NOOP:
            keel_enc_noop(e);
            break;
        case STORE_CMD_SET:
            keel_enc_set(e, c->key, c->value, c->num, c->flags);
            break;
        case STORE_CMD_DEL:
            v = collect(c->list, c->count);
            keel_enc_del(e, v, c->count);
            free(v);
            break;
        case STORE_CMD_INCRBY:
            keel_enc_incrby(e, c->key, c->num);
            break;
        case STORE_CMD_EXPIRE:
            keel_enc_expire(e, c->key, c->num, c->flags);
            break;
        case STORE_CMD_PERSIST:
            keel_enc_persist(e, c->key);
            break;
        case STORE_CMD_HSET:
            v = collect(c->list, 2 * c->count);
            keel_enc_hset(e, c->key, v, c->count);
            free(v);
            break;
        case STORE_CMD_HDEL:
            v = collect(c->list, c->count);
            keel_enc_hdel(e, c->key, v, c->count);
            free(v);
            break;
        case STORE_CMD_HINCRBY:
            keel_enc_hincrby(e, c->key, c->field, c->num);
            break;
        case STORE_CMD_CAS:
            keel_enc_cas(e, c->key, c->flags, c->version, c->expect, c->value, c->num);
            break;
        case STORE_CMD_SWEEP:
            keel_enc_sweep(e, c->num);
            break;
        case STORE_CMD_HASH:
            if (c->flags & KEEL_HASH_CHECK) keel_enc_check(e);
            else if (c->flags & KEEL_HASH_VERDICT) keel_enc_verdict(e, (uint64_t)c->num, c->version);
            else keel_enc_hash(e);
            break;
        case STORE_CMD_APPEND:
            keel_enc_append(e, c->key, c->value);
            break;
        case STORE_CMD_GETDEL:
            keel_enc_getdel(e, c->key);
            break;
        case STORE_CMD_GETEX:
            keel_enc_getex(e, c->key, c->num, c->flags);
            break;
        case STORE_CMD_ACL:
            keel_enc_acl(e, c->key, c->version, c->value, c->flags);
            break;
        case STORE_CMD_BATCH: {
            struct keel_slice key;
            uint64_t version;
            struct store_cmd sub;
            uint32_t n = 0;
            keel_enc_batch_begin(e);
            keel_iter_init(&it, c->watches);
            while (keel_iter_watch(&it, &key, &version)) {
                keel_enc_watch(e, key, version);
                n++;
            }
            assert_int_equal(n, c->nwatch);
            n = 0;
            keel_iter_init(&it, c->list);
            while (store_iter_cmd(&it, c, &sub)) {
                enc_cmd(e, &sub);
                n++;
            }
            assert_int_equal(n, c->count);
            break;
        }
        default:
            fail_msg("decode produced type %d", c->type);
    }
}

/* The encoding is canonical: a decoded command, encoded again, gives back the
 * very same bytes. This catches a decoder that accepts bytes it ignores. */
static void assert_reencodes(const struct store_cmd *c, const uint8_t *buf, size_t len)
{
    struct keel_enc e;
    uint8_t *out;
    size_t n;
    keel_enc_init(&e, c->ts, c->client, c->seq);
    enc_cmd(&e, c);
    out = finish_ok(&e, &n);
    assert_int_equal(n, len);
    assert_memory_equal(out, buf, len);
    free(out);
}

/* ---- sample encodings --------------------------------------------------- */

#define TS 1700000000123LL
#define CLIENT 0x0123456789abcdefULL
#define SEQ 77u

/* Valid encodings of every type, for truncation and fuzzing. */
enum { NSAMPLES = 17 };

static uint8_t *sample(int which, size_t *len)
{
    struct keel_enc e;
    struct keel_slice keys[3] = {LIT("a"), LIT("key:2"), LIT("bin\0key")};
    struct keel_slice pairs[4] = {LIT("f1"), LIT("v1"), LIT("f2"), LIT("")};
    keel_enc_init(&e, TS + which, CLIENT, SEQ + (uint64_t)which);
    switch (which) {
        case 0:
            keel_enc_noop(&e);
            break;
        case 1:
            keel_enc_set(&e, LIT("user:1"), LIT("hello\0world"), 1700000009999LL,
                         KEEL_SET_XX | KEEL_SET_GET);
            break;
        case 2:
            keel_enc_del(&e, keys, 3);
            break;
        case 3:
            keel_enc_incrby(&e, LIT("counter"), INT64_MIN);
            break;
        case 4:
            keel_enc_expire(&e, LIT("k"), 1700000000999LL, KEEL_EXPIRE_XX | KEEL_EXPIRE_GT);
            break;
        case 5:
            keel_enc_persist(&e, LIT("persist-me"));
            break;
        case 6:
            keel_enc_hset(&e, LIT("h"), pairs, 2);
            break;
        case 7:
            keel_enc_hdel(&e, LIT("h"), keys, 3);
            break;
        case 8:
            keel_enc_hincrby(&e, LIT("h"), LIT("n"), -5);
            break;
        case 9:
            keel_enc_cas(&e, LIT("k"), KEEL_CAS_VERSION, 42, LIT(""), LIT("new"), 0);
            break;
        case 10:
            keel_enc_cas(&e, LIT("k"), KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, LIT("old"),
                         LIT(""), 0);
            break;
        case 11:
            keel_enc_cas(&e, LIT("k"), KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, LIT(""),
                         LIT("v"), 1700000005000LL);
            break;
        case 12:
            keel_enc_batch_begin(&e);
            keel_enc_watch(&e, LIT("w1"), 3);
            keel_enc_watch(&e, LIT("w2"), 0);
            keel_enc_set(&e, LIT("s"), LIT("v"), 0, KEEL_SET_NX);
            keel_enc_del(&e, keys, 2);
            keel_enc_hset(&e, LIT("h"), pairs, 2);
            keel_enc_cas(&e, LIT("c"), KEEL_CAS_VERSION | KEEL_CAS_DELETE, 9, LIT(""),
                         LIT(""), 0);
            keel_enc_incrby(&e, LIT("n"), 1);
            break;
        case 13:
            keel_enc_batch_begin(&e);
            keel_enc_expire(&e, LIT("e"), 5, KEEL_EXPIRE_LT);
            break;
        case 14:
            keel_enc_sweep(&e, 128);
            break;
        case 15:
            keel_enc_batch_begin(&e);
            break;
        case 16:
            keel_enc_batch_begin(&e);
            keel_enc_watch(&e, LIT("only-a-watch"), UINT64_MAX);
            break;
        default:
            fail();
    }
    return finish_ok(&e, len);
}

/* ---- round trips -------------------------------------------------------- */

static void test_noop(void **state)
{
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_noop(&e);
    uint8_t *buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER);
    assert_int_equal(buf[2], STORE_CMD_NOOP);
    assert_int_equal(le32_load(buf + 4), 0);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_NOOP, 0, TS, CLIENT, SEQ);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.key.n, 0);
    free(buf);
}

/* The header fields survive at their extremes. */
static void test_header_extremes(void **state)
{
    static const int64_t tss[] = {0, -1, INT64_MIN, INT64_MAX};
    static const uint64_t ids[] = {0, 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof tss / sizeof tss[0]; i++) {
        for (size_t j = 0; j < sizeof ids / sizeof ids[0]; j++) {
            struct keel_enc e;
            struct store_cmd c;
            size_t len;
            keel_enc_init(&e, tss[i], ids[j], ids[(j + 1) % 3]);
            keel_enc_persist(&e, LIT("k"));
            uint8_t *buf = finish_ok(&e, &len);
            decode_ok(buf, len, &c);
            check_header(&c, STORE_CMD_PERSIST, 0, tss[i], ids[j], ids[(j + 1) % 3]);
            free(buf);
        }
    }
}

static void test_set(void **state)
{
    static const unsigned flags[] = {
        0,
        KEEL_SET_NX,
        KEEL_SET_XX,
        KEEL_SET_KEEPTTL,
        KEEL_SET_GET,
        KEEL_SET_NX | KEEL_SET_GET,
        KEEL_SET_XX | KEEL_SET_KEEPTTL | KEEL_SET_GET,
    };
    static const int64_t expiries[] = {0, 1, 1700000000000LL, INT64_MAX};
    static const struct
    {
        const char *p;
        size_t n;
    } values[] = {{"", 0}, {"v", 1}, {"a\0b\0\xff", 5}};
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        for (size_t x = 0; x < sizeof expiries / sizeof expiries[0]; x++) {
            for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
                struct keel_enc e;
                struct store_cmd c;
                size_t len;
                keel_enc_init(&e, TS, CLIENT, SEQ + f);
                keel_enc_set(&e, LIT("user:42"), sl(values[v].p, values[v].n), expiries[x],
                             flags[f]);
                if ((flags[f] & KEEL_SET_KEEPTTL) && expiries[x] != 0) {
                    /* Contradictory, as in Redis: refused at decode. */
                    uint8_t *bad;
                    assert_int_equal(keel_enc_finish(&e, &bad, &len), 0);
                    keel_enc_close(&e);
                    assert_int_equal(store_cmd_decode(bad, len, &c, NULL), KEEL_EMALFORMED);
                    free(bad);
                    continue;
                }
                uint8_t *buf = finish_ok(&e, &len);
                decode_ok(buf, len, &c);
                check_header(&c, STORE_CMD_SET, (uint8_t)flags[f], TS, CLIENT, SEQ + f);
                assert_slice_lit(c.key, "user:42");
                assert_slice(c.value, values[v].p, values[v].n);
                assert_int_equal(c.num, expiries[x]);
                /* Slices point into the entry. */
                assert_true(c.key.p > buf && c.key.p < buf + len);
                assert_reencodes(&c, buf, len);
                free(buf);
            }
        }
    }
}

/* Keys of every length up to the limit, so that each padding size occurs. */
static void test_key_lengths(void **state)
{
    uint8_t key[KEEL_MAX_KEY];
    for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 1; n <= KEEL_MAX_KEY; n++) {
        struct keel_enc e;
        struct store_cmd c;
        size_t len;
        keel_enc_init(&e, TS, CLIENT, n);
        keel_enc_incrby(&e, sl(key, n), (int64_t)n);
        uint8_t *buf = finish_ok(&e, &len);
        assert_int_equal(len, (STORE_CMD_HEADER + 4 + n + 8 + 7) / 8 * 8);
        decode_ok(buf, len, &c);
        assert_slice(c.key, key, n);
        assert_int_equal(c.num, (int64_t)n);
        free(buf);
    }
}

static void test_del(void **state)
{
    struct keel_slice keys[4] = {LIT("a"), LIT("bb"), LIT("c\0c"), LIT("dddd")};
    for (uint32_t n = 1; n <= 4; n++) {
        struct keel_enc e;
        struct store_cmd c;
        struct keel_iter it;
        struct keel_slice s;
        size_t len;
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_del(&e, keys, n);
        uint8_t *buf = finish_ok(&e, &len);
        decode_ok(buf, len, &c);
        check_header(&c, STORE_CMD_DEL, 0, TS, CLIENT, SEQ);
        assert_int_equal(c.count, n);
        keel_iter_init(&it, c.list);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(keel_iter_str(&it, &s));
            assert_slice(s, keys[i].p, keys[i].n);
        }
        assert_false(keel_iter_str(&it, &s));
        assert_false(keel_iter_str(&it, &s)); /* stays at the end */
        assert_reencodes(&c, buf, len);
        free(buf);
    }
}

static void test_incrby(void **state)
{
    static const int64_t deltas[] = {0, 1, -1, 12345, -12345, INT64_MIN, INT64_MIN + 1,
                                     INT64_MAX};
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        struct keel_enc e;
        struct store_cmd c;
        size_t len;
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_incrby(&e, LIT("n"), deltas[i]);
        uint8_t *buf = finish_ok(&e, &len);
        decode_ok(buf, len, &c);
        check_header(&c, STORE_CMD_INCRBY, 0, TS, CLIENT, SEQ);
        assert_slice_lit(c.key, "n");
        assert_true(c.num == deltas[i]);
        assert_reencodes(&c, buf, len);
        free(buf);
    }
}

static void test_expire(void **state)
{
    static const unsigned flags[] = {
        0,
        KEEL_EXPIRE_NX,
        KEEL_EXPIRE_XX,
        KEEL_EXPIRE_GT,
        KEEL_EXPIRE_LT,
        KEEL_EXPIRE_XX | KEEL_EXPIRE_GT,
        KEEL_EXPIRE_XX | KEEL_EXPIRE_LT,
    };
    /* A past or negative expiry is legal: it deletes the key on apply. */
    static const int64_t at[] = {1700000000000LL, 0, -1000, INT64_MAX};
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        for (size_t x = 0; x < sizeof at / sizeof at[0]; x++) {
            struct keel_enc e;
            struct store_cmd c;
            size_t len;
            keel_enc_init(&e, TS, CLIENT, SEQ);
            keel_enc_expire(&e, LIT("session:9"), at[x], flags[f]);
            uint8_t *buf = finish_ok(&e, &len);
            decode_ok(buf, len, &c);
            check_header(&c, STORE_CMD_EXPIRE, (uint8_t)flags[f], TS, CLIENT, SEQ);
            assert_slice_lit(c.key, "session:9");
            assert_true(c.num == at[x]);
            assert_reencodes(&c, buf, len);
            free(buf);
        }
    }
}

static void test_persist(void **state)
{
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_persist(&e, LIT("p"));
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_PERSIST, 0, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "p");
    assert_int_equal(c.num, 0);
    assert_reencodes(&c, buf, len);
    free(buf);
}

/* APPEND, GETDEL and GETEX (added with the RESP commands of the same names). */
static void test_append_getdel_getex(void **state)
{
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    uint8_t *buf;
    (void)state;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_append(&e, LIT("a"), LIT("tail\0"));
    buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_APPEND, 0, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "a");
    assert_slice(c.value, "tail\0", 5);
    assert_reencodes(&c, buf, len);
    free(buf);

    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_getdel(&e, LIT("g"));
    buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_GETDEL, 0, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "g");
    assert_reencodes(&c, buf, len);
    free(buf);

    static const struct { unsigned flags; int64_t at; int rc; } cases[] = {
        {0, 0, 0}, {0, 1700000000000LL, 0}, {KEEL_GETEX_PERSIST, 0, 0},
        {KEEL_GETEX_PERSIST, 5, KEEL_EMALFORMED}, {0, -1, KEEL_EMALFORMED},
        {0x02, 0, KEEL_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_getex(&e, LIT("x"), cases[i].at, cases[i].flags);
        assert_int_equal(keel_enc_finish(&e, &buf, &len), 0);
        keel_enc_close(&e);
        assert_int_equal(store_cmd_decode(buf, len, &c, NULL), cases[i].rc);
        if (cases[i].rc == 0) {
            check_header(&c, STORE_CMD_GETEX, (uint8_t)cases[i].flags, TS, CLIENT, SEQ);
            assert_int_equal(c.num, cases[i].at);
            assert_reencodes(&c, buf, len);
        }
        free(buf);
    }
}

static void test_hset(void **state)
{
    struct keel_slice pairs[6] = {LIT("name"), LIT("ada"), LIT("empty"), LIT(""),
                                  LIT("bin\0f"), LIT("\0\1\2")};
    struct keel_enc e;
    struct store_cmd c;
    struct keel_iter it;
    struct keel_slice f, v;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hset(&e, LIT("doc"), pairs, 3);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HSET, 0, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "doc");
    assert_int_equal(c.count, 3);
    keel_iter_init(&it, c.list);
    for (int i = 0; i < 3; i++) {
        assert_true(keel_iter_str(&it, &f));
        assert_true(keel_iter_str(&it, &v));
        assert_slice(f, pairs[2 * i].p, pairs[2 * i].n);
        assert_slice(v, pairs[2 * i + 1].p, pairs[2 * i + 1].n);
    }
    assert_false(keel_iter_str(&it, &f));
    assert_reencodes(&c, buf, len);
    free(buf);
}

static void test_hdel(void **state)
{
    struct keel_slice fields[2] = {LIT("name"), LIT("")};
    struct keel_enc e;
    struct store_cmd c;
    struct keel_iter it;
    struct keel_slice f;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hdel(&e, LIT("doc"), fields, 2);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HDEL, 0, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "doc");
    assert_int_equal(c.count, 2);
    keel_iter_init(&it, c.list);
    assert_true(keel_iter_str(&it, &f));
    assert_slice_lit(f, "name");
    assert_true(keel_iter_str(&it, &f));
    assert_slice_lit(f, "");
    assert_false(keel_iter_str(&it, &f));
    assert_reencodes(&c, buf, len);
    free(buf);
}

static void test_hincrby(void **state)
{
    static const int64_t deltas[] = {-7, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        struct keel_enc e;
        struct store_cmd c;
        size_t len;
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_hincrby(&e, LIT("doc"), LIT("visits"), deltas[i]);
        uint8_t *buf = finish_ok(&e, &len);
        decode_ok(buf, len, &c);
        check_header(&c, STORE_CMD_HINCRBY, 0, TS, CLIENT, SEQ);
        assert_slice_lit(c.key, "doc");
        assert_slice_lit(c.field, "visits");
        assert_true(c.num == deltas[i]);
        assert_reencodes(&c, buf, len);
        free(buf);
    }
}

static void test_cas(void **state)
{
    static const struct
    {
        unsigned flags;
        uint64_t version;
        const char *expect;
        const char *value;
        int64_t expire_at;
    } cases[] = {
        {KEEL_CAS_VERSION, 17, "", "new", 0},
        {KEEL_CAS_VERSION, 0, "", "first", 1700000001000LL},
        {KEEL_CAS_VERSION, UINT64_MAX, "", "v", INT64_MAX},
        {KEEL_CAS_VERSION | KEEL_CAS_DELETE, 5, "", "", 0},
        {KEEL_CAS_VALUE, 0, "old", "new", 0},
        {KEEL_CAS_VALUE, 0, "", "", 0},
        {KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "created", 1700000002000LL},
        {KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "old", "", 0},
        {KEEL_CAS_VALUE | KEEL_CAS_ABSENT | KEEL_CAS_DELETE, 0, "", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct keel_enc e;
        struct store_cmd c;
        size_t len;
        keel_enc_init(&e, TS, CLIENT, SEQ + i);
        keel_enc_cas(&e, LIT("lock"), cases[i].flags, cases[i].version,
                     keel_str(cases[i].expect), keel_str(cases[i].value), cases[i].expire_at);
        uint8_t *buf = finish_ok(&e, &len);
        decode_ok(buf, len, &c);
        check_header(&c, STORE_CMD_CAS, (uint8_t)cases[i].flags, TS, CLIENT, SEQ + i);
        assert_slice_lit(c.key, "lock");
        assert_int_equal(c.version, cases[i].version);
        assert_slice(c.expect, cases[i].expect, strlen(cases[i].expect));
        assert_slice(c.value, cases[i].value, strlen(cases[i].value));
        assert_int_equal(c.num, cases[i].expire_at);
        assert_reencodes(&c, buf, len);
        free(buf);
    }
}

static void test_sweep(void **state)
{
    static const int64_t max[] = {1, 1000, INT64_MAX};
    for (size_t i = 0; i < sizeof max / sizeof max[0]; i++) {
        struct keel_enc e;
        struct store_cmd c;
        size_t len;
        keel_enc_init(&e, TS, 0, 0);
        keel_enc_sweep(&e, max[i]);
        uint8_t *buf = finish_ok(&e, &len);
        assert_int_equal(len, STORE_CMD_HEADER + 8);
        decode_ok(buf, len, &c);
        check_header(&c, STORE_CMD_SWEEP, 0, TS, 0, 0);
        assert_true(c.num == max[i]);
        assert_reencodes(&c, buf, len);
        free(buf);
    }
}

/* HASH: no body, top level only (a batch refuses it). */
static void test_hash(void **state)
{
    (void)state;
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    uint8_t *buf;
    keel_enc_init(&e, TS, 0, 0);
    keel_enc_hash(&e);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HASH, 0, TS, 0, 0);
    assert_reencodes(&c, buf, len);
    free(buf);
    keel_enc_init(&e, TS, 0, 0);
    keel_enc_batch_begin(&e);
    keel_enc_hash(&e);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), KEEL_EINVAL);
    keel_enc_close(&e);
}

/* HASH CHECK (empty) and VERDICT (index > 0, digest): the consistency
 * check's round and its verdict; both flags at once, a verdict for index 0,
 * a truncated verdict and a check with a body are refused. */
static void test_hash_check(void **state)
{
    (void)state;
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    uint8_t *buf;
    keel_enc_init(&e, TS, 0, 0);
    keel_enc_check(&e);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HASH, KEEL_HASH_CHECK, TS, 0, 0);
    assert_reencodes(&c, buf, len);
    buf[3] = KEEL_HASH_CHECK | KEEL_HASH_VERDICT;
    expect_malformed(buf, len);
    buf[3] = 0x04;
    expect_malformed(buf, len);
    free(buf);

    keel_enc_init(&e, TS, 0, 0);
    keel_enc_verdict(&e, 12345, 0xfedcba9876543210ull);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER + 16);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HASH, KEEL_HASH_VERDICT, TS, 0, 0);
    assert_true(c.num == 12345);
    assert_true(c.version == 0xfedcba9876543210ull);
    assert_reencodes(&c, buf, len);
    /* The same body under CHECK: trailing bytes. */
    buf[3] = KEEL_HASH_CHECK;
    expect_malformed(buf, len);
    /* Truncated: body length 8 (the index only). */
    buf[3] = KEEL_HASH_VERDICT;
    buf[4] = 8;
    expect_malformed(buf, len);
    free(buf);

    keel_enc_init(&e, TS, 0, 0);
    keel_enc_verdict(&e, 0, 1);
    buf = finish_ok(&e, &len);
    expect_malformed(buf, len);
    free(buf);

    keel_enc_init(&e, TS, 0, 0);
    keel_enc_batch_begin(&e);
    keel_enc_verdict(&e, 1, 1);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), KEEL_EINVAL);
    keel_enc_close(&e);
}

/* Sub-commands of every type a batch may hold, with watches. */
static void test_batch(void **state)
{
    struct keel_slice keys[2] = {LIT("d1"), LIT("d2")};
    struct keel_slice pairs[4] = {LIT("f"), LIT("v"), LIT("g"), LIT("w")};
    struct keel_enc e;
    struct store_cmd c, sub;
    struct keel_iter it, li;
    struct keel_slice key, s;
    uint64_t version;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, LIT("w1"), 5);
    keel_enc_watch(&e, LIT("w2"), 0);
    keel_enc_watch(&e, LIT("w3\0bin"), UINT64_MAX);
    keel_enc_set(&e, LIT("k"), LIT("v"), 1700000003000LL, KEEL_SET_NX | KEEL_SET_GET);
    keel_enc_del(&e, keys, 2);
    keel_enc_incrby(&e, LIT("n"), INT64_MIN);
    keel_enc_expire(&e, LIT("k"), 1700000004000LL, KEEL_EXPIRE_GT);
    keel_enc_persist(&e, LIT("k"));
    keel_enc_hset(&e, LIT("h"), pairs, 2);
    keel_enc_hdel(&e, LIT("h"), keys, 1);
    keel_enc_hincrby(&e, LIT("h"), LIT("f"), -3);
    keel_enc_cas(&e, LIT("c"), KEEL_CAS_VALUE, 0, LIT("x"), LIT("y"), 0);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_BATCH, 0, TS, CLIENT, SEQ);
    assert_int_equal(c.nwatch, 3);
    assert_int_equal(c.count, 9);

    keel_iter_init(&it, c.watches);
    assert_true(keel_iter_watch(&it, &key, &version));
    assert_slice_lit(key, "w1");
    assert_int_equal(version, 5);
    assert_true(keel_iter_watch(&it, &key, &version));
    assert_slice_lit(key, "w2");
    assert_int_equal(version, 0);
    assert_true(keel_iter_watch(&it, &key, &version));
    assert_slice_lit(key, "w3\0bin");
    assert_int_equal(version, UINT64_MAX);
    assert_false(keel_iter_watch(&it, &key, &version));

    keel_iter_init(&it, c.list);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_SET, KEEL_SET_NX | KEEL_SET_GET, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "k");
    assert_slice_lit(sub.value, "v");
    assert_int_equal(sub.num, 1700000003000LL);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_DEL, 0, TS, CLIENT, SEQ);
    assert_int_equal(sub.count, 2);
    keel_iter_init(&li, sub.list);
    assert_true(keel_iter_str(&li, &s));
    assert_slice_lit(s, "d1");
    assert_true(keel_iter_str(&li, &s));
    assert_slice_lit(s, "d2");
    assert_false(keel_iter_str(&li, &s));

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_INCRBY, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "n");
    assert_true(sub.num == INT64_MIN);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_EXPIRE, KEEL_EXPIRE_GT, TS, CLIENT, SEQ);
    assert_int_equal(sub.num, 1700000004000LL);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_PERSIST, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "k");

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_HSET, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "h");
    assert_int_equal(sub.count, 2);
    keel_iter_init(&li, sub.list);
    for (int i = 0; i < 4; i++) {
        assert_true(keel_iter_str(&li, &s));
        assert_slice(s, pairs[i].p, pairs[i].n);
    }
    assert_false(keel_iter_str(&li, &s));

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_HDEL, 0, TS, CLIENT, SEQ);
    assert_int_equal(sub.count, 1);
    keel_iter_init(&li, sub.list);
    assert_true(keel_iter_str(&li, &s));
    assert_slice_lit(s, "d1");
    assert_false(keel_iter_str(&li, &s));

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_HINCRBY, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.field, "f");
    assert_true(sub.num == -3);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_CAS, KEEL_CAS_VALUE, TS, CLIENT, SEQ);
    assert_slice_lit(sub.expect, "x");
    assert_slice_lit(sub.value, "y");

    assert_false(store_iter_cmd(&it, &c, &sub));
    assert_reencodes(&c, buf, len);
    free(buf);
}

static void test_batch_no_watches(void **state)
{
    struct keel_enc e;
    struct store_cmd c, sub;
    struct keel_iter it;
    struct keel_slice key;
    uint64_t version;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, LIT("a"), LIT("1"), 0, 0);
    keel_enc_set(&e, LIT("b"), LIT("2"), 0, KEEL_SET_XX);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_BATCH, 0, TS, CLIENT, SEQ);
    assert_int_equal(c.nwatch, 0);
    assert_int_equal(c.watches.n, 0);
    assert_int_equal(c.count, 2);
    keel_iter_init(&it, c.watches);
    assert_false(keel_iter_watch(&it, &key, &version));
    keel_iter_init(&it, c.list);
    assert_true(store_iter_cmd(&it, &c, &sub));
    assert_slice_lit(sub.key, "a");
    assert_true(store_iter_cmd(&it, &c, &sub));
    assert_slice_lit(sub.key, "b");
    assert_int_equal(sub.flags, KEEL_SET_XX);
    assert_false(store_iter_cmd(&it, &c, &sub));
    assert_reencodes(&c, buf, len);
    free(buf);

    /* MULTI / EXEC with nothing queued: an empty batch is legal. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER + 8);
    decode_ok(buf, len, &c);
    assert_int_equal(c.type, STORE_CMD_BATCH);
    assert_int_equal(c.nwatch, 0);
    assert_int_equal(c.count, 0);
    keel_iter_init(&it, c.list);
    assert_false(store_iter_cmd(&it, &c, &sub));
    free(buf);
}

/* Every sample decodes and encodes back to the same bytes. */
static void test_samples_roundtrip(void **state)
{
    for (int i = 0; i < NSAMPLES; i++) {
        struct store_cmd c;
        size_t len;
        uint8_t *buf = sample(i, &len);
        decode_ok(buf, len, &c);
        assert_int_equal(c.ts, TS + i);
        assert_int_equal(c.client, CLIENT);
        assert_int_equal(c.seq, SEQ + (uint64_t)i);
        assert_reencodes(&c, buf, len);
        free(buf);
    }
}

/* The encoder writes exactly the layout codec.h documents. */
static void test_layout(void **state)
{
    struct keel_enc e;
    struct bb body = {.n = 0}, sub = {.n = 0};
    size_t len, want_len;
    uint8_t *buf, *want;

    keel_enc_init(&e, -2, 3, 4);
    keel_enc_set(&e, LIT("key"), LIT("value"), 0x0102030405060708LL, KEEL_SET_KEEPTTL);
    buf = finish_ok(&e, &len);
    bb_str(&body, "key");
    bb_str(&body, "value");
    bb_u64(&body, 0x0102030405060708ULL);
    want = frame(STORE_CMD_SET, KEEL_SET_KEEPTTL, &body, -2, 3, 4, &want_len);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, len);
    free(buf);
    free(want);

    keel_enc_init(&e, 9, 8, 7);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, LIT("w"), 0x1122334455667788ULL);
    keel_enc_incrby(&e, LIT("n"), -1);
    buf = finish_ok(&e, &len);
    body.n = 0;
    bb_u32(&body, 1);
    bb_str(&body, "w");
    bb_u64(&body, 0x1122334455667788ULL);
    bb_u32(&body, 1);
    bb_str(&sub, "n");
    bb_u64(&sub, UINT64_MAX);
    bb_sub(&body, STORE_CMD_INCRBY, 0, &sub);
    want = frame(STORE_CMD_BATCH, 0, &body, 9, 8, 7, &want_len);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, len);
    free(buf);
    free(want);
}

/* ---- malformed entries -------------------------------------------------- */

/* Every strict prefix of a valid entry is rejected. */
static void test_truncation(void **state)
{
    for (int i = 0; i < NSAMPLES; i++) {
        size_t len;
        uint8_t *buf = sample(i, &len);
        for (size_t cut = 0; cut < len; cut++) expect_malformed(buf, cut);
        free(buf);
    }
}

/* A body cut short inside a consistent frame (body length patched, padding
 * redone) gets past the header checks and must fail in the body. */
static void test_truncated_body(void **state)
{
    for (int i = 0; i < NSAMPLES; i++) {
        size_t len;
        uint8_t *buf = sample(i, &len);
        uint32_t body = le32_load(buf + 4);
        for (uint32_t b = 0; b < body; b++) {
            size_t n = (STORE_CMD_HEADER + b + 7) / 8 * 8;
            uint8_t *t = calloc(1, n);
            assert_non_null(t);
            memcpy(t, buf, STORE_CMD_HEADER + b);
            le32_store(t + 4, b);
            expect_malformed(t, n);
            free(t);
        }
        free(buf);
    }
}

static void test_bad_magic_version_type(void **state)
{
    size_t len;
    uint8_t *buf = sample(1, &len);
    uint8_t saved;

    saved = buf[0];
    buf[0] = 'k';
    expect_malformed(buf, len);
    buf[0] = 0;
    expect_malformed(buf, len);
    buf[0] = saved;

    buf[1] = 0;
    expect_rc(buf, len, KEEL_EVERSION);
    buf[1] = KEEL_CODEC_VERSION + 1;
    expect_rc(buf, len, KEEL_EVERSION);
    buf[1] = 0xff;
    expect_rc(buf, len, KEEL_EVERSION);
    buf[1] = KEEL_CODEC_VERSION;

    static const uint8_t bad_types[] = {STORE_CMD__COUNT, STORE_CMD__COUNT + 1, 0x7f, 0xff};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        buf[2] = bad_types[i];
        buf[3] = 0;
        expect_malformed(buf, len);
    }
    free(buf);
}

static void test_unknown_flags(void **state)
{
    for (int i = 0; i < NSAMPLES; i++) {
        size_t len;
        uint8_t *buf = sample(i, &len);
        uint8_t type = buf[2];
        for (unsigned bit = 0; bit < 8; bit++) {
            unsigned known = 0;
            if (type == STORE_CMD_SET)
                known = KEEL_SET_NX | KEEL_SET_XX | KEEL_SET_KEEPTTL | KEEL_SET_GET;
            else if (type == STORE_CMD_EXPIRE)
                known = KEEL_EXPIRE_NX | KEEL_EXPIRE_XX | KEEL_EXPIRE_GT | KEEL_EXPIRE_LT;
            else if (type == STORE_CMD_CAS)
                known = KEEL_CAS_VERSION | KEEL_CAS_VALUE | KEEL_CAS_DELETE | KEEL_CAS_ABSENT;
            if (known & (1u << bit)) continue;
            uint8_t saved = buf[3];
            buf[3] |= (uint8_t)(1u << bit);
            expect_malformed(buf, len);
            buf[3] = saved;
        }
        free(buf);
    }
}

static void test_contradictory_flags(void **state)
{
    static const struct
    {
        uint8_t type;
        unsigned flags;
    } bad[] = {
        {STORE_CMD_SET, KEEL_SET_NX | KEEL_SET_XX},
        {STORE_CMD_SET, KEEL_SET_NX | KEEL_SET_XX | KEEL_SET_GET},
        {STORE_CMD_EXPIRE, KEEL_EXPIRE_GT | KEEL_EXPIRE_LT},
        {STORE_CMD_EXPIRE, KEEL_EXPIRE_NX | KEEL_EXPIRE_XX},
        {STORE_CMD_EXPIRE, KEEL_EXPIRE_NX | KEEL_EXPIRE_GT},
        {STORE_CMD_EXPIRE, KEEL_EXPIRE_NX | KEEL_EXPIRE_LT},
        {STORE_CMD_EXPIRE, KEEL_EXPIRE_XX | KEEL_EXPIRE_GT | KEEL_EXPIRE_LT},
        {STORE_CMD_CAS, 0},
        {STORE_CMD_CAS, KEEL_CAS_DELETE},
        {STORE_CMD_CAS, KEEL_CAS_ABSENT},
        {STORE_CMD_CAS, KEEL_CAS_VERSION | KEEL_CAS_VALUE},
        {STORE_CMD_CAS, KEEL_CAS_VERSION | KEEL_CAS_ABSENT},
        {STORE_CMD_CAS, KEEL_CAS_VERSION | KEEL_CAS_VALUE | KEEL_CAS_DELETE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int in_batch = 0; in_batch < 2; in_batch++) {
            struct keel_enc e;
            size_t len;
            keel_enc_init(&e, TS, CLIENT, SEQ);
            if (in_batch) keel_enc_batch_begin(&e);
            /* The encoder writes flags as given; only decode judges them. */
            switch (bad[i].type) {
                case STORE_CMD_SET:
                    keel_enc_set(&e, LIT("k"), LIT("v"), 0, bad[i].flags);
                    break;
                case STORE_CMD_EXPIRE:
                    keel_enc_expire(&e, LIT("k"), 1, bad[i].flags);
                    break;
                default:
                    keel_enc_cas(&e, LIT("k"), bad[i].flags, 1, LIT(""), LIT("v"), 0);
                    break;
            }
            uint8_t *buf = finish_ok(&e, &len);
            expect_malformed(buf, len);
            free(buf);
        }
    }
}

static void test_padding_and_length(void **state)
{
    size_t len;
    uint8_t *buf = sample(1, &len);
    uint32_t body = le32_load(buf + 4);
    size_t pad = len - STORE_CMD_HEADER - body;
    assert_true(pad > 0); /* the sample was chosen to need padding */

    /* Any non-zero padding byte. */
    for (size_t i = STORE_CMD_HEADER + body; i < len; i++) {
        buf[i] = 1;
        expect_malformed(buf, len);
        buf[i] = 0x80;
        expect_malformed(buf, len);
        buf[i] = 0;
    }

    /* An entry length not a multiple of 8, or with 8 or more bytes of padding. */
    uint8_t *big = calloc(1, len + 16);
    assert_non_null(big);
    memcpy(big, buf, len);
    for (size_t extra = 1; extra <= 16; extra++) expect_malformed(big, len + extra);

    /* The body length field: too large (past the entry, or into the padding),
     * too small (into the body: a truncated body, or one that leaves 8+
     * bytes of padding). */
    static const uint32_t bodies_delta[] = {1, 2, 7, 8, 9, 100};
    for (size_t i = 0; i < sizeof bodies_delta / sizeof bodies_delta[0]; i++) {
        le32_store(big + 4, body + bodies_delta[i]);
        expect_malformed(big, len);
        le32_store(big + 4, body - bodies_delta[i]);
        expect_malformed(big, len);
    }
    le32_store(big + 4, UINT32_MAX);
    expect_malformed(big, len);
    le32_store(big + 4, 0);
    expect_malformed(big, len);
    le32_store(big + 4, body);
    expect_rc(big, len, 0);
    free(big);

    /* A NOOP with a body, and an 8-byte SWEEP with a 16-byte body. */
    struct bb b = {.n = 0};
    bb_u64(&b, 0);
    uint8_t *noop = frame(STORE_CMD_NOOP, 0, &b, TS, 0, 0, &len);
    expect_malformed(noop, len);
    free(noop);
    bb_u64(&b, 1);
    uint8_t *sweep = frame(STORE_CMD_SWEEP, 0, &b, TS, 0, 0, &len);
    expect_malformed(sweep, len);
    free(sweep);
    free(buf);
}

/* An entry over KEEL_MAX_ENTRY is refused before anything is read. */
static void test_entry_too_big(void **state)
{
    size_t len = (size_t)KEEL_MAX_ENTRY + 8;
    uint8_t *buf = calloc(1, len); /* untouched zero pages: cheap */
    struct store_cmd c;
    const char *msg = NULL;
    assert_non_null(buf);
    buf[0] = KEEL_CODEC_MAGIC;
    buf[1] = KEEL_CODEC_VERSION;
    le32_store(buf + 4, (uint32_t)(len - STORE_CMD_HEADER));
    assert_int_equal(store_cmd_decode(buf, len, &c, &msg), KEEL_ETOOBIG);
    assert_non_null(msg);
    free(buf);
}

static void test_trailing_bytes(void **state)
{
    struct bb b = {.n = 0};
    size_t len;
    uint8_t *buf;

    /* SET key, value, expiry, then one more byte inside the body length. */
    bb_str(&b, "k");
    bb_str(&b, "v");
    bb_u64(&b, 0);
    buf = frame(STORE_CMD_SET, 0, &b, TS, 0, 0, &len);
    expect_rc(buf, len, 0);
    free(buf);
    bb_u8(&b, 0);
    buf = frame(STORE_CMD_SET, 0, &b, TS, 0, 0, &len);
    expect_malformed(buf, len);
    free(buf);

    /* PERSIST followed by a whole second key. */
    b.n = 0;
    bb_str(&b, "k");
    bb_str(&b, "k2");
    buf = frame(STORE_CMD_PERSIST, 0, &b, TS, 0, 0, &len);
    expect_malformed(buf, len);
    free(buf);

    /* DEL that says one key but carries two. */
    b.n = 0;
    bb_u32(&b, 1);
    bb_str(&b, "a");
    bb_str(&b, "b");
    buf = frame(STORE_CMD_DEL, 0, &b, TS, 0, 0, &len);
    expect_malformed(buf, len);
    free(buf);

    /* A batch sub-command whose length covers a byte its body does not use. */
    struct bb sub = {.n = 0};
    bb_str(&sub, "k");
    bb_u64(&sub, 1);
    bb_u8(&sub, 0);
    b.n = 0;
    bb_u32(&b, 0);
    bb_u32(&b, 1);
    bb_sub(&b, STORE_CMD_INCRBY, 0, &sub);
    buf = frame(STORE_CMD_BATCH, 0, &b, TS, 0, 0, &len);
    expect_malformed(buf, len);
    free(buf);
}

/* String and count fields over their limits or past the end. */
static void test_oversize_fields(void **state)
{
    struct keel_enc e;
    size_t len;
    uint8_t *buf;

    /* SET "k" "v": key length at BODY, value length at BODY + 5. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_set(&e, LIT("k"), LIT("v"), 0, 0);
    buf = finish_ok(&e, &len);
    assert_int_equal(le32_load(buf + BODY), 1);
    assert_int_equal(le32_load(buf + BODY + 5), 1);
    le32_store(buf + BODY, UINT32_MAX);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, KEEL_MAX_KEY + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, KEEL_MAX_KEY); /* within the limit, past the end */
    expect_malformed(buf, len);
    le32_store(buf + BODY, 0);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 1);
    le32_store(buf + BODY + 5, UINT32_MAX);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 5, KEEL_MAX_VALUE + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 5, KEEL_MAX_VALUE);
    expect_malformed(buf, len);
    le32_store(buf + BODY + 5, 9);
    expect_malformed(buf, len);
    le32_store(buf + BODY + 5, 1);
    expect_rc(buf, len, 0);
    free(buf);

    /* DEL: count at BODY, first key length at BODY + 4. */
    struct keel_slice keys[2] = {LIT("a"), LIT("b")};
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_del(&e, keys, 2);
    buf = finish_ok(&e, &len);
    le32_store(buf + BODY, 0x7fffffff);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, UINT32_MAX);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, KEEL_MAX_ARGS + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, KEEL_MAX_ARGS);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 3);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 0);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 2);
    le32_store(buf + BODY + 4, KEEL_MAX_KEY + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 4, 0);
    expect_malformed(buf, len);
    free(buf);

    /* HSET "h": count at BODY + 5, first field length at BODY + 9. */
    struct keel_slice pairs[2] = {LIT("f"), LIT("v")};
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hset(&e, LIT("h"), pairs, 1);
    buf = finish_ok(&e, &len);
    assert_int_equal(le32_load(buf + BODY + 5), 1);
    le32_store(buf + BODY + 5, 0x7fffffff);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 5, 2);
    expect_malformed(buf, len);
    le32_store(buf + BODY + 5, 0);
    expect_malformed(buf, len);
    le32_store(buf + BODY + 5, 1);
    le32_store(buf + BODY + 9, UINT32_MAX);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 9, 1000);
    expect_malformed(buf, len);
    free(buf);

    /* HDEL with a count over the limit. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hdel(&e, LIT("h"), pairs, 1);
    buf = finish_ok(&e, &len);
    le32_store(buf + BODY + 5, KEEL_MAX_ARGS + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    free(buf);

    /* CAS "k": expected length at BODY + 13, value length after it. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_cas(&e, LIT("k"), KEEL_CAS_VALUE, 0, LIT("x"), LIT("y"), 0);
    buf = finish_ok(&e, &len);
    assert_int_equal(le32_load(buf + BODY + 13), 1);
    le32_store(buf + BODY + 13, UINT32_MAX);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 13, 1);
    le32_store(buf + BODY + 18, 100);
    expect_malformed(buf, len);
    free(buf);

    /* BATCH: watch count at BODY, first watch key length at BODY + 4, command
     * count after the watch. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, LIT("w"), 1);
    keel_enc_persist(&e, LIT("k"));
    buf = finish_ok(&e, &len);
    size_t ncmd = BODY + 4 + 4 + 1 + 8;
    assert_int_equal(le32_load(buf + ncmd), 1);
    le32_store(buf + BODY, KEEL_MAX_BATCH + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, UINT32_MAX);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY, KEEL_MAX_BATCH);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 3);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 0);
    expect_malformed(buf, len);
    le32_store(buf + BODY, 1);
    le32_store(buf + BODY + 4, KEEL_MAX_KEY + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + BODY + 4, 0);
    expect_malformed(buf, len);
    le32_store(buf + BODY + 4, 1);
    le32_store(buf + ncmd, KEEL_MAX_BATCH + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + ncmd, KEEL_MAX_BATCH);
    expect_malformed(buf, len);
    le32_store(buf + ncmd, 2);
    expect_malformed(buf, len);
    le32_store(buf + ncmd, 0);
    expect_malformed(buf, len);
    le32_store(buf + ncmd, 1);
    expect_rc(buf, len, 0);
    free(buf);
}

/* Keys must not be empty wherever a key appears. */
static void test_empty_key(void **state)
{
    struct keel_slice keys[2] = {LIT("a"), LIT("")};
    struct keel_slice pairs[2] = {LIT("f"), LIT("v")};
    for (int which = 0; which < 11; which++) {
        struct keel_enc e;
        size_t len;
        keel_enc_init(&e, TS, CLIENT, SEQ);
        switch (which) {
            case 0:
                keel_enc_set(&e, LIT(""), LIT("v"), 0, 0);
                break;
            case 1:
                keel_enc_del(&e, keys, 2);
                break;
            case 2:
                keel_enc_incrby(&e, LIT(""), 1);
                break;
            case 3:
                keel_enc_expire(&e, LIT(""), 1, 0);
                break;
            case 4:
                keel_enc_persist(&e, LIT(""));
                break;
            case 5:
                keel_enc_hset(&e, LIT(""), pairs, 1);
                break;
            case 6:
                keel_enc_hdel(&e, LIT(""), pairs, 1);
                break;
            case 7:
                keel_enc_hincrby(&e, LIT(""), LIT("f"), 1);
                break;
            case 8:
                keel_enc_cas(&e, LIT(""), KEEL_CAS_VERSION, 1, LIT(""), LIT("v"), 0);
                break;
            case 9:
                keel_enc_batch_begin(&e);
                keel_enc_watch(&e, LIT(""), 1);
                keel_enc_persist(&e, LIT("k"));
                break;
            case 10:
                keel_enc_batch_begin(&e);
                keel_enc_del(&e, keys, 2);
                break;
        }
        uint8_t *buf = finish_ok(&e, &len);
        expect_malformed(buf, len);
        free(buf);
    }
}

static void test_empty_lists(void **state)
{
    struct keel_enc e;
    size_t len;
    uint8_t *buf;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_del(&e, NULL, 0);
    buf = finish_ok(&e, &len);
    expect_malformed(buf, len);
    free(buf);
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hset(&e, LIT("h"), NULL, 0);
    buf = finish_ok(&e, &len);
    expect_malformed(buf, len);
    free(buf);
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hdel(&e, LIT("h"), NULL, 0);
    buf = finish_ok(&e, &len);
    expect_malformed(buf, len);
    free(buf);
}

static void test_negative_numbers(void **state)
{
    static const int64_t bad[] = {-1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct keel_enc e;
        size_t len;
        uint8_t *buf;
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_set(&e, LIT("k"), LIT("v"), bad[i], 0);
        buf = finish_ok(&e, &len);
        expect_malformed(buf, len);
        free(buf);
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_cas(&e, LIT("k"), KEEL_CAS_VERSION, 1, LIT(""), LIT("v"), bad[i]);
        buf = finish_ok(&e, &len);
        expect_malformed(buf, len);
        free(buf);
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_batch_begin(&e);
        keel_enc_set(&e, LIT("k"), LIT("v"), bad[i], 0);
        buf = finish_ok(&e, &len);
        expect_malformed(buf, len);
        free(buf);
    }
    static const int64_t bad_max[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad_max / sizeof bad_max[0]; i++) {
        struct keel_enc e;
        size_t len;
        keel_enc_init(&e, TS, 0, 0);
        keel_enc_sweep(&e, bad_max[i]);
        uint8_t *buf = finish_ok(&e, &len);
        expect_malformed(buf, len);
        free(buf);
    }
}

/* Batch sub-commands: types a batch may not hold, reserved bytes, lengths. */
static void test_batch_subcommands(void **state)
{
    struct keel_enc e;
    size_t len;
    uint8_t *buf;

    /* No watches, one SET "k" "v": watch count at BODY, command count at
     * BODY + 4, the sub-command header at BODY + 8, its body at BODY + 16. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, LIT("k"), LIT("v"), 0, 0);
    buf = finish_ok(&e, &len);
    const size_t sh = BODY + 8;
    assert_int_equal(le32_load(buf + BODY + 4), 1);
    assert_int_equal(buf[sh], STORE_CMD_SET);
    assert_int_equal(le32_load(buf + sh + 4), 18);

    static const uint8_t bad_types[] = {STORE_CMD_NOOP, STORE_CMD_BATCH, STORE_CMD_SWEEP,
                                        STORE_CMD__COUNT, 0xff};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        buf[sh] = bad_types[i];
        expect_malformed(buf, len);
    }
    /* Another valid type whose body does not parse as this one. */
    buf[sh] = STORE_CMD_PERSIST;
    expect_malformed(buf, len);
    buf[sh] = STORE_CMD_SET;

    buf[sh + 1] = 0x10;
    expect_malformed(buf, len);
    buf[sh + 1] = KEEL_SET_NX | KEEL_SET_XX;
    expect_malformed(buf, len);
    buf[sh + 1] = 0;

    buf[sh + 2] = 1;
    expect_malformed(buf, len);
    buf[sh + 2] = 0;
    buf[sh + 3] = 0x80;
    expect_malformed(buf, len);
    buf[sh + 3] = 0;

    static const uint32_t bad_lens[] = {0, 1, 17, 19, 24, 0x7fffffff, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_lens / sizeof bad_lens[0]; i++) {
        le32_store(buf + sh + 4, bad_lens[i]);
        expect_malformed(buf, len);
    }
    le32_store(buf + sh + 4, 18);

    /* Errors inside a sub-command keep their code. */
    le32_store(buf + sh + 8, KEEL_MAX_KEY + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + sh + 8, 1);
    expect_rc(buf, len, 0);
    free(buf);

    /* The encoder lets NOOP and SWEEP into a batch; decode refuses them. */
    for (int which = 0; which < 2; which++) {
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_batch_begin(&e);
        keel_enc_persist(&e, LIT("k"));
        if (which == 0)
            keel_enc_noop(&e);
        else
            keel_enc_sweep(&e, 10);
        uint8_t *out = NULL;
        if (keel_enc_finish(&e, &out, &len) == 0) {
            expect_malformed(out, len);
            free(out);
        }
        keel_enc_close(&e);
    }
}

/* A whole valid batch nested as a sub-command of another. */
static void test_nested_batch(void **state)
{
    struct bb inner = {.n = 0}, sub = {.n = 0}, outer = {.n = 0};
    size_t len;
    uint8_t *buf;

    bb_str(&sub, "k");
    bb_u64(&sub, 1);
    bb_u32(&inner, 0);
    bb_u32(&inner, 1);
    bb_sub(&inner, STORE_CMD_INCRBY, 0, &sub);
    /* The inner batch alone is a valid entry... */
    buf = frame(STORE_CMD_BATCH, 0, &inner, TS, CLIENT, SEQ, &len);
    expect_rc(buf, len, 0);
    free(buf);

    /* ...but not inside another one. */
    bb_u32(&outer, 0);
    bb_u32(&outer, 1);
    bb_sub(&outer, STORE_CMD_BATCH, 0, &inner);
    buf = frame(STORE_CMD_BATCH, 0, &outer, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);

    /* Nor an empty one. */
    inner.n = 0;
    bb_u32(&inner, 0);
    bb_u32(&inner, 0);
    outer.n = 0;
    bb_u32(&outer, 0);
    bb_u32(&outer, 1);
    bb_sub(&outer, STORE_CMD_BATCH, 0, &inner);
    buf = frame(STORE_CMD_BATCH, 0, &outer, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);

    /* Nor a SWEEP. */
    sub.n = 0;
    bb_u64(&sub, 5);
    outer.n = 0;
    bb_u32(&outer, 0);
    bb_u32(&outer, 1);
    bb_sub(&outer, STORE_CMD_SWEEP, 0, &sub);
    buf = frame(STORE_CMD_BATCH, 0, &outer, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);
}

/* ---- fuzz --------------------------------------------------------------- */

static uint64_t rng_state;


/* ---- ACL ------------------------------------------------------------------ */

#define HASH64 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_acl(void **state)
{
    (void)state;
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    const char *rules = "on sanitize-payload #" HASH64 " ~session:* resetchannels -@all +get";
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_acl(&e, LIT("alice"), 42, keel_str(rules), 0);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_ACL, 0, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "alice");
    assert_int_equal(c.version, 42);
    assert_slice(c.value, rules, strlen(rules));
    assert_reencodes(&c, buf, len);
    free(buf);

    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_acl(&e, LIT("bob"), 7, (struct keel_slice){NULL, 0}, KEEL_ACL_DELETE);
    buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_ACL, KEEL_ACL_DELETE, TS, CLIENT, SEQ);
    assert_slice_lit(c.key, "bob");
    assert_int_equal(c.value.n, 0);
    assert_reencodes(&c, buf, len);
    free(buf);

    /* In a batch (DELUSER of several names). */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_acl(&e, LIT("a"), 1, (struct keel_slice){NULL, 0}, KEEL_ACL_DELETE);
    keel_enc_acl(&e, LIT("b"), 2, (struct keel_slice){NULL, 0}, KEEL_ACL_DELETE);
    buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    assert_int_equal(c.count, 2);
    assert_reencodes(&c, buf, len);
    free(buf);
}

/* An ACL body by hand: name, base version, rules. */
static void acl_body(struct bb *b, const char *name, size_t nn, const char *rules, size_t rn)
{
    b->n = 0;
    bb_u32(b, (uint32_t)nn);
    bb_bytes(b, name, nn);
    bb_u64(b, 0);
    bb_u32(b, (uint32_t)rn);
    bb_bytes(b, rules, rn);
}

static void expect_acl(const char *name, size_t nn, const char *rules, uint8_t flags, int want)
{
    struct bb b;
    size_t len;
    acl_body(&b, name, nn, rules, strlen(rules));
    uint8_t *buf = frame(STORE_CMD_ACL, flags, &b, TS, 0, 0, &len);
    expect_rc(buf, len, want);
    free(buf);
}

static void test_acl_malformed(void **state)
{
    (void)state;
    expect_acl("u", 1, "on ~* +@all", 0, 0);
    expect_acl("u", 1, "on #" HASH64, 0, 0);
    /* Cleartext passwords never reach the log: '>' and '<' words. */
    expect_acl("u", 1, "on >secret", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, ">secret on", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on <secret", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on ~a>b", 0, 0); /* '>' inside a pattern is no password */
    /* single spaces between printable words only */
    expect_acl("u", 1, " on", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on ", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on  off", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on\\toff", 0, 0); /* a backslash is printable */
    expect_acl("u", 1, "on\toff", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on\x7f", 0, KEEL_EMALFORMED);
    expect_acl("u", 1, "on ~caf\xc3\xa9", 0, 0); /* UTF-8 patterns */
    expect_acl("u", 1, "", 0, KEEL_EMALFORMED);       /* a user needs rules */
    expect_acl("u", 1, "", KEEL_ACL_DELETE, 0);
    expect_acl("u", 1, "on", KEEL_ACL_DELETE, KEEL_EMALFORMED);
    expect_acl("u", 1, "on", 0x02, KEEL_EMALFORMED); /* unknown flag */
    /* names */
    expect_acl("", 0, "on", 0, KEEL_EMALFORMED);
    expect_acl("a b", 3, "on", 0, KEEL_EMALFORMED);
    expect_acl("a\0b", 3, "on", 0, KEEL_EMALFORMED);
    char big[ACL_MAX_NAME + 2];
    memset(big, 'n', sizeof big);
    expect_acl(big, ACL_MAX_NAME, "on", 0, 0);
    expect_acl(big, ACL_MAX_NAME + 1, "on", 0, KEEL_ETOOBIG);
    /* rules over their limit */
    size_t rn = ACL_MAX_RULES + 1;
    char *rules = malloc(rn + 1);
    assert_non_null(rules);
    memset(rules, 'x', rn);
    rules[rn] = 0;
    /* too big for struct bb: built by hand */
    size_t blen = 4 + 1 + 8 + 4 + rn, len = STORE_CMD_HEADER + blen;
    len += (8 - len % 8) % 8;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    buf[0] = KEEL_CODEC_MAGIC;
    buf[1] = KEEL_CODEC_VERSION;
    buf[2] = STORE_CMD_ACL;
    le32_store(buf + 4, (uint32_t)blen);
    uint8_t *p = buf + STORE_CMD_HEADER;
    le32_store(p, 1);
    p[4] = 'u';
    le32_store(p + 13, (uint32_t)rn);
    memcpy(p + 17, rules, rn);
    expect_rc(buf, len, KEEL_ETOOBIG);
    free(buf);
    free(rules);
}

static uint64_t rnd(void)
{
    return test_xorshift64(&rng_state);
}

static bool slice_within(struct keel_slice s, const uint8_t *lo, const uint8_t *hi)
{
    if (s.n == 0) return true;
    uintptr_t p = (uintptr_t)s.p, l = (uintptr_t)lo, h = (uintptr_t)hi;
    return p >= l && p <= h && s.n <= h - p;
}

/* Walk every list of a decoded command; every slice stays in [lo, hi) and
 * every walk ends after exactly the announced number of items. */
static void walk(const struct store_cmd *c, const uint8_t *lo, const uint8_t *hi)
{
    struct keel_iter it;
    struct keel_slice s;
    uint32_t n;
    assert_true(slice_within(c->key, lo, hi));
    assert_true(slice_within(c->field, lo, hi));
    assert_true(slice_within(c->value, lo, hi));
    assert_true(slice_within(c->expect, lo, hi));
    assert_true(slice_within(c->list, lo, hi));
    assert_true(slice_within(c->watches, lo, hi));
    switch (c->type) {
        case STORE_CMD_DEL:
        case STORE_CMD_HDEL:
        case STORE_CMD_HSET: {
            uint32_t want = c->type == STORE_CMD_HSET ? 2 * c->count : c->count;
            keel_iter_init(&it, c->list);
            for (n = 0; n <= want && keel_iter_str(&it, &s); n++)
                assert_true(slice_within(s, c->list.p, c->list.p + c->list.n));
            assert_int_equal(n, want);
            break;
        }
        case STORE_CMD_BATCH: {
            struct store_cmd sub;
            uint64_t version;
            keel_iter_init(&it, c->watches);
            for (n = 0; n <= c->nwatch && keel_iter_watch(&it, &s, &version); n++) {
                assert_true(slice_within(s, c->watches.p, c->watches.p + c->watches.n));
                assert_true(s.n > 0 && s.n <= KEEL_MAX_KEY);
            }
            assert_int_equal(n, c->nwatch);
            keel_iter_init(&it, c->list);
            for (n = 0; n <= c->count && store_iter_cmd(&it, c, &sub); n++) {
                assert_true(sub.type != STORE_CMD_BATCH && sub.type != STORE_CMD_SWEEP &&
                            sub.type != STORE_CMD_NOOP);
                assert_int_equal(sub.ts, c->ts);
                assert_int_equal(sub.client, c->client);
                assert_int_equal(sub.seq, c->seq);
                walk(&sub, c->list.p, c->list.p + c->list.n);
            }
            assert_int_equal(n, c->count);
            break;
        }
        default:
            break;
    }
}

/* Decode buf[0..len) from an exact-size copy; on success check everything. */
static int fuzz_one(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    struct store_cmd c;
    const char *msg = "unset";
    assert_non_null(copy);
    if (len > 0) memcpy(copy, buf, len);
    int rc = store_cmd_decode(copy, len, &c, &msg);
    if (rc == 0) {
        assert_null(msg);
        assert_true(c.type < STORE_CMD__COUNT);
        walk(&c, copy, copy + len);
        assert_reencodes(&c, copy, len);
    } else {
        if (rc != KEEL_EMALFORMED && rc != KEEL_EVERSION && rc != KEEL_ETOOBIG)
            fail_msg("unexpected rc %d", rc);
        assert_non_null(msg);
    }
    free(copy);
    return rc;
}

/* Values that tend to sit on the edge of a length or count check. */
static uint32_t interesting32(size_t len)
{
    static const uint32_t v[] = {0, 1, 2, 3, 4, 7, 8, 9, 12, 16, KEEL_MAX_KEY, KEEL_MAX_KEY + 1,
                                 KEEL_MAX_BATCH, KEEL_MAX_BATCH + 1, KEEL_MAX_ARGS,
                                 KEEL_MAX_ARGS + 1, 0x7fffffff, 0x80000000u, UINT32_MAX};
    uint64_t r = rnd() % (sizeof v / sizeof v[0] + 4);
    if (r < sizeof v / sizeof v[0]) return v[r];
    return (uint32_t)(len - (r % 4)); /* near the entry length */
}

static void fuzz_mutate(uint8_t *b, size_t *len, size_t cap)
{
    int k = 1 + (int)(rnd() % 4);
    for (int i = 0; i < k; i++) {
        size_t n = *len;
        switch (rnd() % 6) {
            case 0: /* a random byte */
                if (n) b[rnd() % n] = (uint8_t)rnd();
                break;
            case 1: /* one bit */
                if (n) b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 2: /* a length or count field in the body */
                if (n >= BODY + 4) le32_store(b + BODY + rnd() % (n - BODY - 3), interesting32(n));
                break;
            case 3: /* small change to a byte, as to a length's low byte */
                if (n) b[rnd() % n] += (uint8_t)(rnd() % 3) - 1;
                break;
            case 4: /* cut or grow, keeping the frame consistent half of the time */
                if (rnd() % 2) {
                    *len = n ? rnd() % n : 0;
                } else {
                    size_t grow = rnd() % 24;
                    if (n + grow <= cap) {
                        memset(b + n, rnd() % 4 ? 0 : (int)(rnd() & 0xff), grow);
                        *len = n + grow;
                    }
                }
                if (*len >= BODY && rnd() % 2) {
                    *len -= *len % 8;
                    uint32_t body = (uint32_t)(*len - BODY);
                    le32_store(b + 4, body > 7 ? body - (uint32_t)(rnd() % 8) : body);
                }
                break;
            case 5: /* a header byte: type, flags */
                if (n >= 4) b[2 + rnd() % 2] = (uint8_t)(rnd() % 16);
                break;
        }
    }
}

static void test_fuzz(void **state)
{
    enum { ITERATIONS = 200000, CAP = 1024 };
    uint8_t *samples[NSAMPLES];
    size_t lens[NSAMPLES];
    uint8_t b[CAP];
    long accepted = 0, rejected = 0;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < NSAMPLES; i++) {
        samples[i] = sample(i, &lens[i]);
        assert_true(lens[i] <= CAP);
    }
    for (long iter = 0; iter < ITERATIONS; iter++) {
        size_t len;
        if (iter % 8 != 7) {
            /* A valid entry, mutated. */
            int s = (int)(rnd() % NSAMPLES);
            memcpy(b, samples[s], lens[s]);
            len = lens[s];
            fuzz_mutate(b, &len, CAP);
        } else {
            /* Random bytes, mostly behind a plausible header. */
            len = rnd() % 200;
            for (size_t i = 0; i < len; i++) b[i] = (uint8_t)rnd();
            if (len >= BODY && rnd() % 4) {
                len -= len % 8;
                b[0] = KEEL_CODEC_MAGIC;
                b[1] = KEEL_CODEC_VERSION;
                b[2] = (uint8_t)(rnd() % (STORE_CMD__COUNT + 1));
                b[3] = (uint8_t)(rnd() % 4 ? 0 : rnd() % 16);
                le32_store(b + 4, (uint32_t)(len - BODY));
            }
        }
        if (fuzz_one(b, len) == 0)
            accepted++;
        else
            rejected++;
    }
    print_message("fuzz: %ld decoded, %ld rejected\n", accepted, rejected);
    /* The loop must have exercised both outcomes to mean anything. */
    assert_true(accepted > 1000);
    assert_true(rejected > 1000);
    for (int i = 0; i < NSAMPLES; i++) free(samples[i]);
}

/* ---- encoder misuse ----------------------------------------------------- */

static void expect_finish_rc(struct keel_enc *e, int want)
{
    uint8_t dummy = 0;
    uint8_t *buf = &dummy;
    uint8_t *const before = buf;
    size_t len = 12345;
    assert_int_equal(keel_enc_finish(e, &buf, &len), want);
    /* Nothing is handed over on error. */
    assert_ptr_equal(buf, before);
    assert_int_equal(len, 12345);
    keel_enc_close(e);
}

static void test_encoder_misuse(void **state)
{
    struct keel_enc e;

    /* Two top-level commands in one entry. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_set(&e, LIT("a"), LIT("1"), 0, 0);
    keel_enc_set(&e, LIT("b"), LIT("2"), 0, 0);
    expect_finish_rc(&e, KEEL_EINVAL);

    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_noop(&e);
    keel_enc_noop(&e);
    expect_finish_rc(&e, KEEL_EINVAL);

    /* The error is sticky: a later call does not clear it. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_incrby(&e, LIT("a"), 1);
    keel_enc_incrby(&e, LIT("a"), 1);
    keel_enc_incrby(&e, LIT("a"), 1);
    expect_finish_rc(&e, KEEL_EINVAL);

    /* A watch after a sub-command. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, LIT("w"), 1);
    keel_enc_persist(&e, LIT("k"));
    keel_enc_watch(&e, LIT("w2"), 1);
    expect_finish_rc(&e, KEEL_EINVAL);

    /* A watch outside a batch. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_watch(&e, LIT("w"), 1);
    keel_enc_persist(&e, LIT("k"));
    expect_finish_rc(&e, KEEL_EINVAL);

    /* No command at all. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    expect_finish_rc(&e, KEEL_EINVAL);

    /* A batch after a command, and a batch in a batch. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_persist(&e, LIT("k"));
    keel_enc_batch_begin(&e);
    expect_finish_rc(&e, KEEL_EINVAL);

    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_persist(&e, LIT("k"));
    keel_enc_batch_begin(&e);
    expect_finish_rc(&e, KEEL_EINVAL);

    /* Closing an encoder that was never finished frees its buffer (ASan
     * checks for the leak). */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_persist(&e, LIT("k"));
    keel_enc_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noop),
        cmocka_unit_test(test_header_extremes),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_key_lengths),
        cmocka_unit_test(test_del),
        cmocka_unit_test(test_incrby),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_persist),
        cmocka_unit_test(test_append_getdel_getex),
        cmocka_unit_test(test_hset),
        cmocka_unit_test(test_hdel),
        cmocka_unit_test(test_hincrby),
        cmocka_unit_test(test_cas),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_hash_check),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_no_watches),
        cmocka_unit_test(test_samples_roundtrip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_truncated_body),
        cmocka_unit_test(test_bad_magic_version_type),
        cmocka_unit_test(test_unknown_flags),
        cmocka_unit_test(test_contradictory_flags),
        cmocka_unit_test(test_padding_and_length),
        cmocka_unit_test(test_entry_too_big),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_oversize_fields),
        cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_empty_lists),
        cmocka_unit_test(test_negative_numbers),
        cmocka_unit_test(test_batch_subcommands),
        cmocka_unit_test(test_nested_batch),
        cmocka_unit_test(test_acl),
        cmocka_unit_test(test_acl_malformed),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_encoder_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
