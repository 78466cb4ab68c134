/* tests: the sorted-set kinds of the codec added with sorted sets part 2,
 * ZSTORE (ZINTERSTORE ZUNIONSTORE ZDIFFSTORE) and ZRANGESTORE (codec.h):
 * round trips (the encoding is canonical), alone and in a batch, and every
 * malformed form refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"
#include "tests/unit/codec_fixture.h"

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

static const struct keel_slice keys[3] = {{(const uint8_t *)"x", 1}, {(const uint8_t *)"y", 1}, {(const uint8_t *)"d", 1}};
static const double weights[3] = {2.5, -INFINITY, 0};

static void enc_zunion(struct keel_enc *e)
{
    keel_enc_zstore(e, KEEL_SSTORE_UNION | KEEL_ZSTORE_MAX, LIT("d"), keys, weights, 3);
}
static void enc_zinter(struct keel_enc *e)
{
    keel_enc_zstore(e, KEEL_SSTORE_INTER, LIT("d"), keys, weights, 1);
}
static void enc_zrs_rank(struct keel_enc *e)
{
    keel_enc_zrangestore(e, LIT("d"), LIT("s"), KEEL_ZRS_REV, -3, -1, 0, 0, LIT("ignored"), LIT(""));
}
static void enc_zrs_score(struct keel_enc *e)
{
    keel_enc_zrangestore(e, LIT("d"), LIT("s"), 1 | KEEL_ZRS_MINEX | KEEL_ZRS_REV, 2, -1, -INFINITY, 1.5, LIT(""),
                         LIT(""));
}
static void enc_zrs_lex(struct keel_enc *e)
{
    keel_enc_zrangestore(e, LIT("d"), LIT("s"), 2, 0, 10, 0, 0, LIT("[a"), LIT("+"));
}

static void test_roundtrips(void **state)
{
    struct store_cmd c;
    (void)state;
    roundtrip(enc_zunion, STORE_CMD_ZSTORE, KEEL_SSTORE_UNION | KEEL_ZSTORE_MAX, &c);
    assert_int_equal(c.count, 3);
    assert_slice(c.key, "d", 1);
    roundtrip(enc_zinter, STORE_CMD_ZSTORE, KEEL_SSTORE_INTER, &c);
    assert_int_equal(c.count, 1);
    roundtrip(enc_zrs_rank, STORE_CMD_ZRANGESTORE, KEEL_ZRS_REV, &c);
    assert_int_equal(c.num, -3);
    assert_int_equal((int64_t)c.version, -1);
    assert_int_equal(c.field.n, 0); /* a rank range carries no bounds */
    assert_slice(c.value, "s", 1);
    roundtrip(enc_zrs_score, STORE_CMD_ZRANGESTORE, 1 | KEEL_ZRS_MINEX | KEEL_ZRS_REV, &c);
    assert_int_equal(c.field.n, 8);
    roundtrip(enc_zrs_lex, STORE_CMD_ZRANGESTORE, 2, &c);
    assert_slice(c.field, "[a", 2);
    assert_int_equal(c.version, 10);
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

/* A ZSTORE body: n sources, each with a weight of these bits. */
static void zstore_body(struct bb *b, const char *dst, uint32_t n, const char *src, uint64_t bits)
{
    b->n = 0;
    bb_str(b, dst);
    bb_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        bb_str(b, src);
        bb_u32(b, 8);
        bb_u64(b, bits);
    }
}

/* ZSTORE: an operation (1..3), at most one aggregate, a destination, at
 * least one non-empty source, 8-byte weights that are not NaN. */
static void test_malformed_zstore(void **state)
{
    struct bb b;
    (void)state;
    zstore_body(&b, "d", 2, "x", 0x3FF0000000000000ull); /* 1.0 */
    for (uint8_t op = 1; op <= 3; op++) {
        expect_body(STORE_CMD_ZSTORE, op, &b, true);
        expect_body(STORE_CMD_ZSTORE, op | KEEL_ZSTORE_MIN, &b, true);
        expect_body(STORE_CMD_ZSTORE, op | KEEL_ZSTORE_MAX, &b, true);
        expect_body(STORE_CMD_ZSTORE, op | KEEL_ZSTORE_MIN | KEEL_ZSTORE_MAX, &b, false);
        expect_body(STORE_CMD_ZSTORE, op | 0x10, &b, false);
    }
    expect_body(STORE_CMD_ZSTORE, 0, &b, false);
    expect_body(STORE_CMD_ZSTORE, KEEL_ZSTORE_MIN, &b, false);
    zstore_body(&b, "d", 1, "x", 0xFFF0000000000000ull); /* -inf is a weight */
    expect_body(STORE_CMD_ZSTORE, 2, &b, true);
    zstore_body(&b, "d", 1, "x", 0x7FF8000000000000ull); /* NaN is not */
    expect_body(STORE_CMD_ZSTORE, 2, &b, false);
    zstore_body(&b, "d", 0, "x", 0);
    expect_body(STORE_CMD_ZSTORE, 2, &b, false);
    zstore_body(&b, "", 1, "x", 0);
    expect_body(STORE_CMD_ZSTORE, 2, &b, false);
    zstore_body(&b, "d", 1, "", 0);
    expect_body(STORE_CMD_ZSTORE, 2, &b, false);
    zstore_body(&b, "d", 2, "x", 0);
    b.n -= 12; /* the last weight cut off */
    expect_body(STORE_CMD_ZSTORE, 2, &b, false);
    b.n = 0; bb_str(&b, "d"); bb_u32(&b, 1); bb_str(&b, "x"); bb_str(&b, "1234567");
    expect_body(STORE_CMD_ZSTORE, 2, &b, false); /* a 7-byte weight */
}

static void zrs_body(struct bb *b, const char *dst, const char *src, uint64_t a, uint64_t c)
{
    b->n = 0;
    bb_str(b, dst);
    bb_str(b, src);
    bb_u64(b, a);
    bb_u64(b, c);
}

/* ZRANGESTORE: BY 0..2, REV any, MINEX/MAXEX for BY SCORE only; RANK with
 * empty bounds, SCORE with two 8-byte non-NaN ones, LEX with lex items. */
static void test_malformed_zrangestore(void **state)
{
    struct bb b;
    (void)state;
    zrs_body(&b, "d", "s", 0, (uint64_t)-1);
    bb_str(&b, "");
    bb_str(&b, "");
    expect_body(STORE_CMD_ZRANGESTORE, 0, &b, true);
    expect_body(STORE_CMD_ZRANGESTORE, KEEL_ZRS_REV, &b, true);
    expect_body(STORE_CMD_ZRANGESTORE, KEEL_ZRS_MINEX, &b, false);
    expect_body(STORE_CMD_ZRANGESTORE, 1, &b, false); /* SCORE without scores */
    expect_body(STORE_CMD_ZRANGESTORE, 2, &b, false); /* LEX without items */
    expect_body(STORE_CMD_ZRANGESTORE, 3, &b, false);
    expect_body(STORE_CMD_ZRANGESTORE, 0x20, &b, false);
    zrs_body(&b, "d", "s", 0, 0);
    bb_str(&b, "x");
    bb_str(&b, "");
    expect_body(STORE_CMD_ZRANGESTORE, 0, &b, false); /* RANK with a bound */
    zrs_body(&b, "d", "s", 0, 0);
    bb_u32(&b, 8); bb_u64(&b, 0xFFF0000000000000ull);
    bb_u32(&b, 8); bb_u64(&b, 0);
    expect_body(STORE_CMD_ZRANGESTORE, 1 | KEEL_ZRS_MINEX | KEEL_ZRS_MAXEX | KEEL_ZRS_REV, &b, true);
    expect_body(STORE_CMD_ZRANGESTORE, 2, &b, false);
    zrs_body(&b, "d", "s", 0, 0);
    bb_u32(&b, 8); bb_u64(&b, 0x7FF8000000000000ull);
    bb_u32(&b, 8); bb_u64(&b, 0);
    expect_body(STORE_CMD_ZRANGESTORE, 1, &b, false); /* NaN */
    zrs_body(&b, "d", "s", 0, 0);
    bb_str(&b, "(a");
    bb_str(&b, "-");
    expect_body(STORE_CMD_ZRANGESTORE, 2, &b, true);
    expect_body(STORE_CMD_ZRANGESTORE, 2 | KEEL_ZRS_MAXEX, &b, false);
    zrs_body(&b, "d", "s", 0, 0);
    bb_str(&b, "a");
    bb_str(&b, "+");
    expect_body(STORE_CMD_ZRANGESTORE, 2, &b, false);
    zrs_body(&b, "d", "", 0, 0);
    bb_str(&b, "");
    bb_str(&b, "");
    expect_body(STORE_CMD_ZRANGESTORE, 0, &b, false); /* an empty source key */
    zrs_body(&b, "d", "s", 0, 0);
    bb_str(&b, "");
    expect_body(STORE_CMD_ZRANGESTORE, 0, &b, false); /* truncated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_malformed_zstore),
        cmocka_unit_test(test_malformed_zrangestore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
