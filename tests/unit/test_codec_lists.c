/* tests: the list kinds of the codec (LPUSH LPOP LSET LREM LTRIM LINSERT
 * LMOVE, codec.h): round trips
 * (the encoding is canonical), alone and in a batch, and every malformed
 * form refused. */
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

static const struct keel_slice two[2] = {{(const uint8_t *)"e1", 2}, {(const uint8_t *)"", 0}};

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
    free(buf);
}

static void enc_lpush(struct keel_enc *e)
{
    keel_enc_lpush(e, LIT("l"), two, 2, KEEL_LIST_LEFT);
}
static void enc_rpushx(struct keel_enc *e)
{
    keel_enc_lpush(e, LIT("l"), two, 1, KEEL_LPUSH_EXISTS);
}
static void enc_lpop(struct keel_enc *e)
{
    keel_enc_lpop(e, LIT("l"), 1, KEEL_LIST_LEFT);
}
static void enc_rpop_count(struct keel_enc *e)
{
    keel_enc_lpop(e, LIT("l"), 0, KEEL_LPOP_COUNT);
}

static void enc_lset(struct keel_enc *e)
{
    keel_enc_lset(e, LIT("l"), LIT("-1"), LIT("v"));
}
static void enc_lrem(struct keel_enc *e)
{
    keel_enc_lrem(e, LIT("l"), INT64_MIN, LIT("v"));
}
static void enc_ltrim(struct keel_enc *e)
{
    keel_enc_ltrim(e, LIT("l"), -3, INT64_MAX);
}
static void enc_linsert(struct keel_enc *e)
{
    keel_enc_linsert(e, LIT("l"), LIT("p"), LIT(""), KEEL_LINSERT_BEFORE);
}
static void enc_lmove(struct keel_enc *e)
{
    keel_enc_lmove(e, LIT("a"), LIT("b"), KEEL_LIST_LEFT | KEEL_LMOVE_TO_LEFT);
}

static void test_roundtrips(void **state)
{
    struct store_cmd c;
    (void)state;
    roundtrip(enc_lset, STORE_CMD_LSET, 0, &c);
    assert_int_equal(c.field.n, 2);
    roundtrip(enc_lrem, STORE_CMD_LREM, 0, &c);
    assert_true(c.num == INT64_MIN);
    roundtrip(enc_ltrim, STORE_CMD_LTRIM, 0, &c);
    assert_int_equal(c.num, -3);
    assert_true((int64_t)c.version == INT64_MAX);
    roundtrip(enc_linsert, STORE_CMD_LINSERT, KEEL_LINSERT_BEFORE, &c);
    assert_int_equal(c.value.n, 0);
    roundtrip(enc_lmove, STORE_CMD_LMOVE, KEEL_LIST_LEFT | KEEL_LMOVE_TO_LEFT, &c);
    roundtrip(enc_lpush, STORE_CMD_LPUSH, KEEL_LIST_LEFT, &c);
    assert_int_equal(c.count, 2);
    roundtrip(enc_rpushx, STORE_CMD_LPUSH, KEEL_LPUSH_EXISTS, &c);
    assert_int_equal(c.count, 1);
    roundtrip(enc_lpop, STORE_CMD_LPOP, KEEL_LIST_LEFT, &c);
    assert_int_equal(c.version, 1);
    roundtrip(enc_rpop_count, STORE_CMD_LPOP, KEEL_LPOP_COUNT, &c);
    assert_int_equal(c.version, 0);
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
    /* LPUSH: a key, at least one element, flags LEFT and EXISTS only. */
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_str(&b, "e");
    for (uint8_t fl = 0; fl < 4; fl++) expect_body(STORE_CMD_LPUSH, fl, &b, true);
    expect_body(STORE_CMD_LPUSH, 0x04, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 0);
    expect_body(STORE_CMD_LPUSH, 0, &b, false);
    b.n = 0; bb_str(&b, ""); bb_u32(&b, 1); bb_str(&b, "e");
    expect_body(STORE_CMD_LPUSH, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 2); bb_str(&b, "e");
    expect_body(STORE_CMD_LPUSH, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u32(&b, 1); bb_str(&b, "e"); bb_u8(&b, 0);
    expect_body(STORE_CMD_LPUSH, 0, &b, false);
    /* LPOP: a key and a count; 1 without COUNT, at most INT64_MAX. */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 1);
    for (uint8_t fl = 0; fl < 4; fl++) expect_body(STORE_CMD_LPOP, fl, &b, true);
    expect_body(STORE_CMD_LPOP, 0x04, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 0);
    expect_body(STORE_CMD_LPOP, KEEL_LPOP_COUNT, &b, true);
    expect_body(STORE_CMD_LPOP, KEEL_LIST_LEFT, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, (uint64_t)INT64_MAX);
    expect_body(STORE_CMD_LPOP, KEEL_LPOP_COUNT, &b, true);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, (uint64_t)INT64_MAX + 1);
    expect_body(STORE_CMD_LPOP, KEEL_LPOP_COUNT, &b, false);
    b.n = 0; bb_str(&b, ""); bb_u64(&b, 1);
    expect_body(STORE_CMD_LPOP, 0, &b, false);
    b.n = 0; bb_str(&b, "k");
    expect_body(STORE_CMD_LPOP, 0, &b, false);
    /* LSET and LINSERT: a key and two strings; only LINSERT has a flag. */
    for (uint8_t type = STORE_CMD_LSET; type <= STORE_CMD_LINSERT; type += STORE_CMD_LINSERT - STORE_CMD_LSET) {
        b.n = 0; bb_str(&b, "k"); bb_str(&b, "1"); bb_str(&b, "");
        expect_body(type, 0, &b, true);
        expect_body(type, 0x01, &b, type == STORE_CMD_LINSERT);
        expect_body(type, 0x02, &b, false);
        b.n = 0; bb_str(&b, ""); bb_str(&b, "1"); bb_str(&b, "v");
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, "k"); bb_str(&b, "1");
        expect_body(type, 0, &b, false);
    }
    /* LREM: key, i64, element; LTRIM: key, two i64; no flags. */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 3); bb_str(&b, "v");
    expect_body(STORE_CMD_LREM, 0, &b, true);
    expect_body(STORE_CMD_LREM, 0x01, &b, false);
    expect_body(STORE_CMD_LTRIM, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 3); bb_u64(&b, 4);
    expect_body(STORE_CMD_LTRIM, 0, &b, true);
    expect_body(STORE_CMD_LTRIM, 0x01, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 3);
    expect_body(STORE_CMD_LTRIM, 0, &b, false);
    expect_body(STORE_CMD_LREM, 0, &b, false);
    /* LMOVE: two non-empty keys, flags LEFT and TO_LEFT. */
    b.n = 0; bb_str(&b, "a"); bb_str(&b, "b");
    for (uint8_t fl = 0; fl < 4; fl++) expect_body(STORE_CMD_LMOVE, fl, &b, true);
    expect_body(STORE_CMD_LMOVE, 0x04, &b, false);
    b.n = 0; bb_str(&b, "a"); bb_str(&b, "");
    expect_body(STORE_CMD_LMOVE, 0, &b, false);
    b.n = 0; bb_str(&b, "a");
    expect_body(STORE_CMD_LMOVE, 0, &b, false);
}

/* An element over KEEL_MAX_MEMBER is refused as too big; the limit is fine. */
static void test_element_too_long(void **state)
{
    struct keel_enc e;
    size_t len;
    (void)state;
    uint8_t *big = calloc(1, KEEL_MAX_MEMBER + 1);
    assert_non_null(big);
    struct keel_slice m = {big, KEEL_MAX_MEMBER + 1};
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_lpush(&e, LIT("k"), &m, 1, 0);
    uint8_t *buf = finish_ok(&e, &len);
    expect_rc(buf, len, KEEL_ETOOBIG);
    free(buf);
    m.n = KEEL_MAX_MEMBER;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_lpush(&e, LIT("k"), &m, 1, 0);
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
        cmocka_unit_test(test_element_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
