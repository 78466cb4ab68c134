/* tests: the codec kinds and flags of issue 15 item 2: HSET's NX flag
 * (HSETNX), RENAME, COPY, FLUSH, SETRANGE, MSETNX, SETFLOAT. Round trips
 * (the encoding is canonical) and every malformed form refused. */
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

/* Encode with fn, decode, check the header, re-encode; in a batch too. */
static uint8_t *roundtrip(void (*fn)(struct keel_enc *), uint8_t type, uint8_t flags,
                          struct store_cmd *c, size_t *len)
{
    struct keel_enc e;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    fn(&e);
    uint8_t *buf = finish_ok(&e, len);
    decode_ok(buf, *len, c);
    assert_int_equal(c->type, STORE_CMD_BATCH);
    assert_reencodes(c, buf, *len);
    free(buf);
    keel_enc_init(&e, TS, CLIENT, SEQ);
    fn(&e);
    buf = finish_ok(&e, len);
    decode_ok(buf, *len, c);
    check_header(c, type, flags, TS, CLIENT, SEQ);
    assert_reencodes(c, buf, *len);
    return buf;
}

static void enc_hsetnx(struct keel_enc *e)
{
    keel_enc_hsetnx(e, LIT("h"), LIT("f"), LIT("v\0v"));
}

static void test_hsetnx(void **state)
{
    struct store_cmd c;
    struct keel_iter it;
    struct keel_slice f, v;
    size_t len;
    uint8_t *buf = roundtrip(enc_hsetnx, STORE_CMD_HSET, KEEL_HSET_NX, &c, &len);
    assert_slice_lit(c.key, "h");
    assert_int_equal(c.count, 1);
    keel_iter_init(&it, c.list);
    assert_true(keel_iter_str(&it, &f) && keel_iter_str(&it, &v));
    assert_slice_lit(f, "f");
    assert_slice_lit(v, "v\0v");
    free(buf);
    /* NX with two pairs is no HSETNX. */
    struct keel_slice pairs[4] = {LIT("a"), LIT("1"), LIT("b"), LIT("2")};
    struct keel_enc e;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_hset(&e, LIT("h"), pairs, 2);
    buf = finish_ok(&e, &len);
    buf[3] = KEEL_HSET_NX;
    expect_malformed(buf, len);
    buf[3] = 0x02; /* an unknown HSET flag */
    expect_malformed(buf, len);
    free(buf);
    (void)state;
}

static void enc_rename(struct keel_enc *e)
{
    keel_enc_rename(e, LIT("from"), LIT("to\0x"), KEEL_RENAME_NX);
}

static void enc_copy(struct keel_enc *e)
{
    keel_enc_copy(e, LIT("a"), LIT("b"), KEEL_COPY_REPLACE);
}

static void enc_flush(struct keel_enc *e)
{
    keel_enc_flush(e);
}

static void enc_setrange(struct keel_enc *e)
{
    keel_enc_setrange(e, LIT("k"), 1234567, LIT("xy"));
}

static void enc_setbit(struct keel_enc *e)
{
    keel_enc_setbit(e, LIT("k"), 4294967295ll, true);
}

static void enc_msetnx(struct keel_enc *e)
{
    struct keel_slice pairs[4] = {LIT("a"), LIT("1"), LIT("b"), LIT("")};
    keel_enc_msetnx(e, pairs, 2);
}

static void enc_setfloat(struct keel_enc *e)
{
    keel_enc_setfloat(e, LIT("h"), LIT("f"), 42, LIT("3.14"), KEEL_SETFLOAT_HASH);
}

static void enc_setfloat_str(struct keel_enc *e)
{
    keel_enc_setfloat(e, LIT("n"), LIT(""), 0, LIT("-0.5"), 0);
}

static void test_roundtrips(void **state)
{
    struct store_cmd c;
    struct keel_iter it;
    struct keel_slice a, b;
    size_t len;
    uint8_t *buf = roundtrip(enc_rename, STORE_CMD_RENAME, KEEL_RENAME_NX, &c, &len);
    assert_slice_lit(c.key, "from");
    assert_slice_lit(c.value, "to\0x");
    free(buf);
    buf = roundtrip(enc_copy, STORE_CMD_COPY, KEEL_COPY_REPLACE, &c, &len);
    assert_slice_lit(c.key, "a");
    assert_slice_lit(c.value, "b");
    free(buf);
    buf = roundtrip(enc_flush, STORE_CMD_FLUSH, 0, &c, &len);
    assert_int_equal(len, STORE_CMD_HEADER);
    free(buf);
    buf = roundtrip(enc_setrange, STORE_CMD_SETRANGE, 0, &c, &len);
    assert_slice_lit(c.key, "k");
    assert_int_equal(c.num, 1234567);
    assert_slice_lit(c.value, "xy");
    free(buf);
    buf = roundtrip(enc_setbit, STORE_CMD_SETBIT, KEEL_SETBIT_ONE, &c, &len);
    assert_slice_lit(c.key, "k");
    assert_int_equal(c.num, 4294967295ll);
    free(buf);
    buf = roundtrip(enc_msetnx, STORE_CMD_MSETNX, 0, &c, &len);
    assert_int_equal(c.count, 2);
    keel_iter_init(&it, c.list);
    assert_true(keel_iter_str(&it, &a) && keel_iter_str(&it, &b));
    assert_slice_lit(a, "a");
    assert_slice_lit(b, "1");
    assert_true(keel_iter_str(&it, &a) && keel_iter_str(&it, &b));
    assert_slice_lit(a, "b");
    assert_slice_lit(b, "");
    assert_false(keel_iter_str(&it, &a));
    free(buf);
    buf = roundtrip(enc_setfloat, STORE_CMD_SETFLOAT, KEEL_SETFLOAT_HASH, &c, &len);
    assert_slice_lit(c.key, "h");
    assert_slice_lit(c.field, "f");
    assert_int_equal(c.version, 42);
    assert_slice_lit(c.value, "3.14");
    free(buf);
    buf = roundtrip(enc_setfloat_str, STORE_CMD_SETFLOAT, 0, &c, &len);
    assert_int_equal(c.field.n, 0);
    assert_slice_lit(c.value, "-0.5");
    free(buf);
    (void)state;
}

/* Hand-built bodies of each new kind: valid ones decode, each malformed
 * one is refused (at top level and, framed as a sub-command, in a batch). */
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
    /* RENAME/COPY: two non-empty keys, no unknown flag. */
    for (int k = 0; k < 2; k++) {
        uint8_t type = k ? STORE_CMD_COPY : STORE_CMD_RENAME;
        b.n = 0; bb_str(&b, "a"); bb_str(&b, "b");
        expect_body(type, 0, &b, true);
        expect_body(type, 0x01, &b, true);
        expect_body(type, 0x02, &b, false);
        b.n = 0; bb_str(&b, "a"); bb_str(&b, "");
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, ""); bb_str(&b, "b");
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, "a");
        expect_body(type, 0, &b, false);
        b.n = 0; bb_str(&b, "a"); bb_str(&b, "b"); bb_u8(&b, 0);
        expect_body(type, 0, &b, false);
    }
    /* FLUSH: empty, no flags. */
    b.n = 0;
    expect_body(STORE_CMD_FLUSH, 0, &b, true);
    expect_body(STORE_CMD_FLUSH, 0x01, &b, false);
    bb_u32(&b, 0);
    expect_body(STORE_CMD_FLUSH, 0, &b, false);
    /* SETRANGE: offset >= 0. */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 0); bb_str(&b, "v");
    expect_body(STORE_CMD_SETRANGE, 0, &b, true);
    expect_body(STORE_CMD_SETRANGE, 0x01, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, (uint64_t)-1); bb_str(&b, "v");
    expect_body(STORE_CMD_SETRANGE, 0, &b, false);
    b.n = 0; bb_str(&b, ""); bb_u64(&b, 0); bb_str(&b, "v");
    expect_body(STORE_CMD_SETRANGE, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 0);
    expect_body(STORE_CMD_SETRANGE, 0, &b, false);
    /* SETBIT: 0 <= offset < 2^32, flag ONE only. */
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 4294967295ull);
    expect_body(STORE_CMD_SETBIT, 0, &b, true);
    expect_body(STORE_CMD_SETBIT, KEEL_SETBIT_ONE, &b, true);
    expect_body(STORE_CMD_SETBIT, 0x02, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, 4294967296ull);
    expect_body(STORE_CMD_SETBIT, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_u64(&b, (uint64_t)-1);
    expect_body(STORE_CMD_SETBIT, 0, &b, false);
    b.n = 0; bb_str(&b, ""); bb_u64(&b, 0);
    expect_body(STORE_CMD_SETBIT, 0, &b, false);
    /* MSETNX: at least one pair, keys non-empty, counts that fit. */
    b.n = 0; bb_u32(&b, 1); bb_str(&b, "k"); bb_str(&b, "v");
    expect_body(STORE_CMD_MSETNX, 0, &b, true);
    expect_body(STORE_CMD_MSETNX, KEEL_MSETNX_ALL, &b, true);
    expect_body(STORE_CMD_MSETNX, 0x02, &b, false);
    b.n = 0; bb_u32(&b, 0);
    expect_body(STORE_CMD_MSETNX, 0, &b, false);
    b.n = 0; bb_u32(&b, 2); bb_str(&b, "k"); bb_str(&b, "v");
    expect_body(STORE_CMD_MSETNX, 0, &b, false);
    b.n = 0; bb_u32(&b, 1); bb_str(&b, ""); bb_str(&b, "v");
    expect_body(STORE_CMD_MSETNX, 0, &b, false);
    b.n = 0; bb_u32(&b, 1); bb_str(&b, "k");
    expect_body(STORE_CMD_MSETNX, 0, &b, false);
    /* SETFLOAT: a non-empty value; a field only with HASH; a bounded value. */
    b.n = 0; bb_str(&b, "k"); bb_str(&b, ""); bb_u64(&b, 7); bb_str(&b, "1.5");
    expect_body(STORE_CMD_SETFLOAT, 0, &b, true);
    expect_body(STORE_CMD_SETFLOAT, KEEL_SETFLOAT_HASH, &b, true);
    expect_body(STORE_CMD_SETFLOAT, 0x02, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_str(&b, "f"); bb_u64(&b, 7); bb_str(&b, "1.5");
    expect_body(STORE_CMD_SETFLOAT, KEEL_SETFLOAT_HASH, &b, true);
    expect_body(STORE_CMD_SETFLOAT, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_str(&b, ""); bb_u64(&b, 7); bb_str(&b, "");
    expect_body(STORE_CMD_SETFLOAT, 0, &b, false);
    b.n = 0; bb_str(&b, ""); bb_str(&b, ""); bb_u64(&b, 7); bb_str(&b, "1");
    expect_body(STORE_CMD_SETFLOAT, 0, &b, false);
    b.n = 0; bb_str(&b, "k"); bb_str(&b, ""); bb_u64(&b, 7);
    expect_body(STORE_CMD_SETFLOAT, 0, &b, false);
}

/* A SETFLOAT value over KEEL_SETFLOAT_MAX is refused as too big. */
static void test_setfloat_too_long(void **state)
{
    static char big[KEEL_SETFLOAT_MAX + 2];
    struct keel_enc e;
    size_t len;
    (void)state;
    memset(big, '1', sizeof big - 1);
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_setfloat(&e, LIT("k"), LIT(""), 0, (struct keel_slice){(uint8_t *)big, KEEL_SETFLOAT_MAX + 1}, 0);
    uint8_t *buf = finish_ok(&e, &len);
    expect_rc(buf, len, KEEL_ETOOBIG);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hsetnx),
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_setfloat_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
