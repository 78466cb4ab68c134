/* tests: the set kinds of the codec (SADD SREM SPOP SMOVE SSTORE, and the
 * sorted sets' ZADD ZREM, codec.h):
 * round trips (the encoding is canonical), alone and in a batch, and every
 * malformed form refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"
#include "tests/unit/codec_fixture.h"

static const struct keel_slice two[2] = {{(const uint8_t *)"m1", 2}, {(const uint8_t *)"", 0}};

/* Encode with fn, decode, check the header, re-encode; in a batch too. */
static void roundtrip(void (*fn)(struct keel_enc *), uint8_t type, uint8_t flags, struct store_cmd *c)
{
    struct keel_enc e;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    fn(&e);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, c);
    assert_int_equal(c->type, STORE_CMD_BATCH);
    assert_reencodes(c, buf, len);
    free(buf);
    keel_enc_init(&e, TS, CLIENT, SEQ);
    fn(&e);
    buf = finish_ok(&e, &len);
    decode_ok(buf, len, c);
    check_header(c, type, flags, TS, CLIENT, SEQ);
    assert_reencodes(c, buf, len);
    free(buf); /* c's slices pointed into it: checked above */
}

static void enc_sadd(struct keel_enc *e)
{
    keel_enc_sadd(e, LIT("s"), two, 2);
}
static void enc_srem(struct keel_enc *e)
{
    keel_enc_srem(e, LIT("s"), two, 1);
}
static void enc_spop(struct keel_enc *e)
{
    keel_enc_spop(e, LIT("s"), 77, two, 2, 0);
}
static void enc_spop_one(struct keel_enc *e)
{
    keel_enc_spop(e, LIT("s"), 0, NULL, 0, KEEL_SPOP_ONE);
}
static void enc_smove(struct keel_enc *e)
{
    keel_enc_smove(e, LIT("a"), LIT("b"), LIT("m"));
}
static void enc_sstore(struct keel_enc *e)
{
    struct keel_slice keys[2] = {LIT("x"), LIT("y")};
    keel_enc_sstore(e, KEEL_SSTORE_DIFF, LIT("d"), keys, 2);
}

static const double scores[2] = {-1.5, 1e300};
static void enc_zadd(struct keel_enc *e)
{
    keel_enc_zadd(e, LIT("z"), scores, two, 2, KEEL_ZADD_XX | KEEL_ZADD_GT | KEEL_ZADD_CH);
}
static void enc_zincr(struct keel_enc *e)
{
    keel_enc_zadd(e, LIT("z"), scores, two, 1, KEEL_ZADD_INCR);
}
static void enc_zrem(struct keel_enc *e)
{
    keel_enc_zrem(e, LIT("z"), two, 2);
}

static void enc_zpop(struct keel_enc *e)
{
    keel_enc_zremrange(e, LIT("z"), KEEL_ZREM_POPMAX | KEEL_ZREM_COUNT, 3, 0, 0, 0, LIT(""), LIT(""));
}
static void enc_zrank(struct keel_enc *e)
{
    keel_enc_zremrange(e, LIT("z"), KEEL_ZREM_RANK, -3, -1, 0, 0, LIT(""), LIT(""));
}
static void enc_zscore(struct keel_enc *e)
{
    keel_enc_zremrange(e, LIT("z"), KEEL_ZREM_SCORE | KEEL_ZREM_MINEX, 0, 0, -1.5, 1.0 / 0.0, LIT(""), LIT(""));
}
static void enc_zlex(struct keel_enc *e)
{
    keel_enc_zremrange(e, LIT("z"), KEEL_ZREM_LEX, 0, 0, 0, 0, LIT("[a"), LIT("+"));
}

static void test_roundtrips(void **state)
{
    struct store_cmd c;
    (void)state;
    roundtrip(enc_sadd, STORE_CMD_SADD, 0, &c);
    assert_int_equal(c.count, 2);
    roundtrip(enc_srem, STORE_CMD_SREM, 0, &c);
    assert_int_equal(c.count, 1);
    roundtrip(enc_spop, STORE_CMD_SPOP, 0, &c);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.version, 77);
    roundtrip(enc_spop_one, STORE_CMD_SPOP, KEEL_SPOP_ONE, &c);
    assert_int_equal(c.count, 0);
    roundtrip(enc_smove, STORE_CMD_SMOVE, 0, &c);
    roundtrip(enc_sstore, STORE_CMD_SSTORE, KEEL_SSTORE_DIFF, &c);
    assert_int_equal(c.count, 2);
    roundtrip(enc_zadd, STORE_CMD_ZADD, KEEL_ZADD_XX | KEEL_ZADD_GT | KEEL_ZADD_CH, &c);
    assert_int_equal(c.count, 2);
    roundtrip(enc_zincr, STORE_CMD_ZADD, KEEL_ZADD_INCR, &c);
    assert_int_equal(c.count, 1);
    roundtrip(enc_zrem, STORE_CMD_ZREM, 0, &c);
    assert_int_equal(c.count, 2);
    roundtrip(enc_zpop, STORE_CMD_ZREMRANGE, KEEL_ZREM_POPMAX | KEEL_ZREM_COUNT, &c);
    assert_int_equal(c.num, 3);
    roundtrip(enc_zrank, STORE_CMD_ZREMRANGE, KEEL_ZREM_RANK, &c);
    assert_int_equal(c.num, -3);
    assert_int_equal((int64_t)c.version, -1);
    roundtrip(enc_zscore, STORE_CMD_ZREMRANGE, KEEL_ZREM_SCORE | KEEL_ZREM_MINEX, &c);
    roundtrip(enc_zlex, STORE_CMD_ZREMRANGE, KEEL_ZREM_LEX, &c);
}

static void expect_body(uint8_t type, uint8_t flags, const struct bb *body, bool ok)
{
    size_t len;
    uint8_t *buf = frame(type, flags, body, TS, 0, 0, &len);
    struct bb batch = {{0}, 0};
    if (ok) expect_rc(buf, len, 0);
    else expect_malformed(buf, len);
    free(buf);
    bb_u32(&batch, 0);
    bb_u32(&batch, 1);
    bb_sub(&batch, type, flags, body);
    buf = frame(STORE_CMD_BATCH, 0, &batch, TS, 0, 0, &len);
    if (ok) expect_rc(buf, len, 0);
    else expect_malformed(buf, len);
    free(buf);
}

static void test_malformed(void **state)
{
    struct bb b;
    (void)state;
    /* SADD/SREM: a key, at least one member, no flags. */
    for (uint8_t type = STORE_CMD_SADD; type <= STORE_CMD_SREM; type++) {
        b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_str(&b, "m");
        expect_body(type, 0, &b, true);
        expect_body(type, 0x01, &b, false);
        b.n = 0; bb_str(&b, "k"); bb_u32(&b, 0);
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, ""); bb_u32(&b, 1); bb_str(&b, "m");
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, "k"); bb_u32(&b, 2); bb_str(&b, "m");
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_str(&b, "m"); bb_u8(&b, 0);
        expect_body(type, 0, &b, false);
    }
    /* SPOP: a base version; ONE with at most one member; none may be 0. */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 5); bb_u32(&b, 0);
    expect_body(STORE_CMD_SPOP, 0, &b, true);
    expect_body(STORE_CMD_SPOP, KEEL_SPOP_ONE, &b, true);
    expect_body(STORE_CMD_SPOP, 0x02, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 5); bb_u32(&b, 2); bb_str(&b, "a"); bb_str(&b, "b");
    expect_body(STORE_CMD_SPOP, 0, &b, true);
    expect_body(STORE_CMD_SPOP, KEEL_SPOP_ONE, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 0);
    expect_body(STORE_CMD_SPOP, 0, &b, false);
    /* SMOVE: two non-empty keys and a member. */
    b.n = 0; bb_str(&b, "a"); bb_str(&b, "b"); bb_str(&b, "");
    expect_body(STORE_CMD_SMOVE, 0, &b, true);
    expect_body(STORE_CMD_SMOVE, 0x01, &b, false);
    b.n = 0; bb_str(&b, "a"); bb_str(&b, ""); bb_str(&b, "m");
    expect_body(STORE_CMD_SMOVE, 0, &b, false);
    b.n = 0; bb_str(&b, "a"); bb_str(&b, "b");
    expect_body(STORE_CMD_SMOVE, 0, &b, false);
    /* SSTORE: an operation (1..3), non-empty source keys, at least one. */
    b.n = 0; bb_str(&b, "d"); bb_u32(&b, 1); bb_str(&b, "x");
    for (uint8_t op = 1; op <= 3; op++) expect_body(STORE_CMD_SSTORE, op, &b, true);
    expect_body(STORE_CMD_SSTORE, 0, &b, false);
    expect_body(STORE_CMD_SSTORE, 0x04, &b, false);
    b.n = 0; bb_str(&b, "d"); bb_u32(&b, 1); bb_str(&b, "");
    expect_body(STORE_CMD_SSTORE, 1, &b, false);
    b.n = 0; bb_str(&b, "d"); bb_u32(&b, 0);
    expect_body(STORE_CMD_SSTORE, 1, &b, false);
}

/* A ZADD body: n pairs of (score bits, member). */
static void zadd_body(struct bb *b, uint32_t n, uint64_t bits)
{
    b->n = 0;
    bb_str(b, "k");
    bb_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        bb_u32(b, 8);
        bb_u64(b, bits);
        bb_str(b, "m");
    }
}

/* ZADD: 8-byte scores, never NaN; flags as Redis allows them; INCR with
 * exactly one pair. ZREM: as SREM. */
static void test_malformed_zsets(void **state)
{
    struct bb b;
    (void)state;
    zadd_body(&b, 2, 0x3FF0000000000000ull); /* 1.0 */
    expect_body(STORE_CMD_ZADD, 0, &b, true);
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_XX | KEEL_ZADD_LT | KEEL_ZADD_CH, &b, true);
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_NX | KEEL_ZADD_CH, &b, true);
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_NX | KEEL_ZADD_XX, &b, false);
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_NX | KEEL_ZADD_GT, &b, false);
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_GT | KEEL_ZADD_LT, &b, false);
    expect_body(STORE_CMD_ZADD, 0x40, &b, false);
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_INCR, &b, false); /* two pairs */
    zadd_body(&b, 1, 0x7FF0000000000000ull); /* inf is a score */
    expect_body(STORE_CMD_ZADD, KEEL_ZADD_INCR, &b, true);
    zadd_body(&b, 1, 0x7FF8000000000000ull); /* NaN is not */
    expect_body(STORE_CMD_ZADD, 0, &b, false);
    zadd_body(&b, 0, 0);
    expect_body(STORE_CMD_ZADD, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_str(&b, "1234567"); bb_str(&b, "m");
    expect_body(STORE_CMD_ZADD, 0, &b, false); /* a 7-byte score */
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_u32(&b, 8); bb_u64(&b, 0);
    expect_body(STORE_CMD_ZADD, 0, &b, false); /* no member */
    /* ZREMRANGE: an operation, its flags, its arguments. */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 2);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_POPMIN, &b, true);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_POPMAX | KEEL_ZREM_COUNT, &b, true);
    expect_body(STORE_CMD_ZREMRANGE, 0, &b, false);
    expect_body(STORE_CMD_ZREMRANGE, 6, &b, false);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_POPMIN | KEEL_ZREM_MINEX, &b, false);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_RANK, &b, false); /* one index short */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, (uint64_t)-1);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_POPMIN, &b, false); /* a negative count */
    b.n = 0; bb_str(&b, "k"); bb_str(&b, "[a"); bb_str(&b, "-");
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_LEX, &b, true);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_SCORE, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_str(&b, "a"); bb_str(&b, "-");
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_LEX, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 8); bb_u64(&b, 0); bb_u32(&b, 8); bb_u64(&b, 0x7FF8000000000000ull);
    expect_body(STORE_CMD_ZREMRANGE, KEEL_ZREM_SCORE | KEEL_ZREM_MAXEX, &b, false); /* NaN */
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_str(&b, "m");
    expect_body(STORE_CMD_ZREM, 0, &b, true);
    expect_body(STORE_CMD_ZREM, 0x01, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 0);
    expect_body(STORE_CMD_ZREM, 0, &b, false);
}

/* A member over KEEL_MAX_MEMBER is refused as too big. */
static void test_member_too_long(void **state)
{
    struct keel_enc e;
    size_t len;
    (void)state;
    uint8_t *big = calloc(1, KEEL_MAX_MEMBER + 1);
    assert_non_null(big);
    struct keel_slice m = {big, KEEL_MAX_MEMBER + 1};
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_sadd(&e, LIT("k"), &m, 1);
    uint8_t *buf = finish_ok(&e, &len);
    expect_rc(buf, len, KEEL_ETOOBIG);
    free(buf);
    m.n = KEEL_MAX_MEMBER; /* the limit itself is fine */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_smove(&e, LIT("a"), LIT("b"), m);
    buf = finish_ok(&e, &len);
    expect_rc(buf, len, 0);
    free(buf);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_zsets),
        cmocka_unit_test(test_member_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
