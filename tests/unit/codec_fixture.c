/* tests: the codec tests' shared helpers (codec_fixture.h). */
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
#include "tests/unit/codec_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

void assert_slice(struct keel_slice s, const void *p, size_t n)
{
    assert_int_equal(s.n, n);
    if (n > 0) assert_memory_equal(s.p, p, n);
}

/* Finish e, which must succeed, and check the framing every entry has. */
uint8_t *finish_ok(struct keel_enc *e, size_t *len)
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

void decode_ok(const uint8_t *buf, size_t len, struct store_cmd *cmd)
{
    const char *msg = "unset";
    int rc = store_cmd_decode(buf, len, cmd, &msg);
    if (rc != 0) fail_msg("decode failed: rc %d: %s", rc, msg ? msg : "(no reason)");
    assert_null(msg);
}

/* Decode a copy of buf[0..len) in a buffer of exactly len bytes and expect
 * error `want` with a reason (or, for 0, success without one). */
void expect_rc(const uint8_t *buf, size_t len, int want)
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

void expect_malformed(const uint8_t *buf, size_t len)
{
    expect_rc(buf, len, KEEL_EMALFORMED);
}

void check_header(const struct store_cmd *c, uint8_t type, uint8_t flags, int64_t ts,
                  uint64_t client, uint64_t seq)
{
    assert_int_equal(c->type, type);
    assert_int_equal(c->flags, flags);
    assert_int_equal(c->ts, ts);
    assert_int_equal(c->client, client);
    assert_int_equal(c->seq, seq);
}

void bb_u8(struct bb *b, uint8_t v)
{
    assert_true(b->n + 1 <= sizeof b->b);
    b->b[b->n++] = v;
}

void bb_u32(struct bb *b, uint32_t v)
{
    assert_true(b->n + 4 <= sizeof b->b);
    le32_store(b->b + b->n, v);
    b->n += 4;
}

void bb_u64(struct bb *b, uint64_t v)
{
    assert_true(b->n + 8 <= sizeof b->b);
    le64_store(b->b + b->n, v);
    b->n += 8;
}

void bb_bytes(struct bb *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->b);
    if (n > 0) memcpy(b->b + b->n, p, n);
    b->n += n;
}

void bb_str(struct bb *b, const char *s)
{
    bb_u32(b, (uint32_t)strlen(s));
    bb_bytes(b, s, strlen(s));
}

/* A BATCH sub-command: header then the body in sub. */
void bb_sub(struct bb *b, uint8_t type, uint8_t flags, const struct bb *sub)
{
    bb_u8(b, type);
    bb_u8(b, flags);
    bb_u8(b, 0);
    bb_u8(b, 0);
    bb_u32(b, (uint32_t)sub->n);
    bb_bytes(b, sub->b, sub->n);
}

/* A whole entry: the 32-byte header, body, zero padding to a multiple of 8. */
uint8_t *frame(uint8_t type, uint8_t flags, const struct bb *body, int64_t ts,
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
struct keel_slice *collect(struct keel_slice list, uint32_t count)
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
void enc_cmd(struct keel_enc *e, const struct store_cmd *c)
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
            if (c->flags & KEEL_HSET_NX) keel_enc_hsetnx(e, c->key, v[0], v[1]);
            else keel_enc_hset(e, c->key, v, c->count);
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
        case STORE_CMD_RENAME:
            keel_enc_rename(e, c->key, c->value, c->flags);
            break;
        case STORE_CMD_COPY:
            keel_enc_copy(e, c->key, c->value, c->flags);
            break;
        case STORE_CMD_FLUSH:
            keel_enc_flush(e);
            break;
        case STORE_CMD_SETRANGE:
            keel_enc_setrange(e, c->key, c->num, c->value);
            break;
        case STORE_CMD_SETBIT:
            keel_enc_setbit(e, c->key, c->num, c->flags & KEEL_SETBIT_ONE);
            break;
        case STORE_CMD_MSETNX:
            v = collect(c->list, 2 * c->count);
            if (c->flags & KEEL_MSETNX_ALL) keel_enc_mset(e, v, c->count);
            else keel_enc_msetnx(e, v, c->count);
            free(v);
            break;
        case STORE_CMD_SETFLOAT:
            keel_enc_setfloat(e, c->key, c->field, c->version, c->value, c->flags);
            break;
        case STORE_CMD_SADD:
        case STORE_CMD_SREM:
        case STORE_CMD_SSTORE:
            v = collect(c->list, c->count);
            if (c->type == STORE_CMD_SADD) keel_enc_sadd(e, c->key, v, c->count);
            else if (c->type == STORE_CMD_SREM) keel_enc_srem(e, c->key, v, c->count);
            else keel_enc_sstore(e, c->flags, c->key, v, c->count);
            free(v);
            break;
        case STORE_CMD_SPOP:
            v = collect(c->list, c->count);
            keel_enc_spop(e, c->key, c->version, v, c->count, c->flags);
            free(v);
            break;
        case STORE_CMD_SMOVE:
            keel_enc_smove(e, c->key, c->value, c->field);
            break;
        case STORE_CMD_READ:
            v = collect(c->list, c->count);
            keel_enc_read(e, v, c->count, c->flags);
            free(v);
            break;
        case STORE_CMD_LPUSH:
            v = collect(c->list, c->count);
            keel_enc_lpush(e, c->key, v, c->count, c->flags);
            free(v);
            break;
        case STORE_CMD_LPOP:
            keel_enc_lpop(e, c->key, c->version, c->flags);
            break;
        case STORE_CMD_LSET:
            keel_enc_lset(e, c->key, c->field, c->value);
            break;
        case STORE_CMD_LREM:
            keel_enc_lrem(e, c->key, c->num, c->value);
            break;
        case STORE_CMD_LTRIM:
            keel_enc_ltrim(e, c->key, c->num, (int64_t)c->version);
            break;
        case STORE_CMD_LINSERT:
            keel_enc_linsert(e, c->key, c->field, c->value, c->flags);
            break;
        case STORE_CMD_LMOVE:
            keel_enc_lmove(e, c->key, c->value, c->flags);
            break;
        case STORE_CMD_MPOP:
            v = collect(c->list, c->count);
            keel_enc_mpop(e, v, c->count, c->version, c->flags);
            free(v);
            break;
        case STORE_CMD_ZREMRANGE: {
            double d[2] = {0, 0};
            if ((c->flags & KEEL_ZREM_OP) == KEEL_ZREM_SCORE) {
                uint64_t b0 = le64_load(c->field.p), b1 = le64_load(c->value.p);
                memcpy(&d[0], &b0, 8);
                memcpy(&d[1], &b1, 8);
            }
            keel_enc_zremrange(e, c->key, c->flags, c->num, (int64_t)c->version, d[0], d[1], c->field, c->value);
            break;
        }
        case STORE_CMD_ZREM:
            v = collect(c->list, c->count);
            keel_enc_zrem(e, c->key, v, c->count);
            free(v);
            break;
        case STORE_CMD_ZSTORE: {
            /* pairs of (source key, 8-byte weight) */
            v = collect(c->list, 2 * c->count);
            double *w = calloc(c->count, sizeof *w);
            struct keel_slice *k = calloc(c->count, sizeof *k);
            assert_non_null(w);
            assert_non_null(k);
            for (uint32_t i = 0; i < c->count; i++) {
                uint64_t b = le64_load(v[2 * i + 1].p);
                memcpy(&w[i], &b, sizeof b);
                k[i] = v[2 * i];
            }
            keel_enc_zstore(e, c->flags, c->key, k, w, c->count);
            free(w);
            free(k);
            free(v);
            break;
        }
        case STORE_CMD_ZRANGESTORE: {
            double d[2] = {0, 0};
            if ((c->flags & KEEL_ZRS_BY) == 1) {
                uint64_t b0 = le64_load(c->field.p), b1 = le64_load(c->expect.p);
                memcpy(&d[0], &b0, 8);
                memcpy(&d[1], &b1, 8);
            }
            keel_enc_zrangestore(e, c->key, c->value, c->flags, c->num, (int64_t)c->version, d[0], d[1], c->field,
                                 c->expect);
            break;
        }
        case STORE_CMD_ZADD: {
            /* pairs of (8-byte score, member) */
            v = collect(c->list, 2 * c->count);
            double *sc = calloc(c->count, sizeof *sc);
            struct keel_slice *m = calloc(c->count, sizeof *m);
            assert_non_null(sc);
            assert_non_null(m);
            for (uint32_t i = 0; i < c->count; i++) {
                uint64_t b = le64_load(v[2 * i].p);
                memcpy(&sc[i], &b, sizeof b);
                m[i] = v[2 * i + 1];
            }
            keel_enc_zadd(e, c->key, sc, m, c->count, c->flags);
            free(sc);
            free(m);
            free(v);
            break;
        }
        case STORE_CMD_FLUSHDB:
            keel_enc_flushdb(e, c->num);
            break;
        case STORE_CMD_SWAPDB:
            keel_enc_swapdb(e, c->num, (int64_t)c->version);
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
void assert_reencodes(const struct store_cmd *c, const uint8_t *buf, size_t len)
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

/* Valid encodings of every type, for truncation and fuzzing. */
uint8_t *sample(int which, size_t *len)
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
