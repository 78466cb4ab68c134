/* tests: the MPOP kind of the codec (codec.h; LMPOP ZMPOP and the blocking
 * pops): round trips (the encoding is canonical), alone and in a batch,
 * and every malformed form refused. */
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

static const struct keel_slice keys[3] = {{(const uint8_t *)"a", 1}, {(const uint8_t *)"bb", 2},
                                          {(const uint8_t *)"c", 1}};

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

static void enc_blpop(struct keel_enc *e)
{
    keel_enc_mpop(e, keys, 3, 1, KEEL_MPOP_LEFT);
}
static void enc_zmpop(struct keel_enc *e)
{
    keel_enc_mpop(e, keys + 1, 1, (uint64_t)INT64_MAX, KEEL_MPOP_ZSET);
}

static void test_roundtrips(void **state)
{
    struct store_cmd c;
    (void)state;
    roundtrip(enc_blpop, STORE_CMD_MPOP, KEEL_MPOP_LEFT, &c);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.version, 1);
    /* The keys, in order (c.list points into the entry: decode one kept). */
    struct keel_enc e;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    enc_blpop(&e);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    struct keel_iter it;
    struct keel_slice k;
    keel_iter_init(&it, c.list);
    for (int i = 0; i < 3; i++) {
        assert_true(keel_iter_str(&it, &k));
        assert_true(k.n == keys[i].n && memcmp(k.p, keys[i].p, k.n) == 0);
    }
    assert_false(keel_iter_str(&it, &k));
    free(buf);
    roundtrip(enc_zmpop, STORE_CMD_MPOP, KEEL_MPOP_ZSET, &c);
    assert_int_equal(c.count, 1);
    assert_true(c.version == (uint64_t)INT64_MAX);
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
    /* At least one non-empty key, a count of 1 .. INT64_MAX, flags ZSET and LEFT. */
    b.n = 0; bb_u32(&b, 2); bb_str(&b, "k"); bb_str(&b, "l"); bb_u64(&b, 5);
    for (uint8_t fl = 0; fl < 4; fl++) expect_body(STORE_CMD_MPOP, fl, &b, true);
    expect_body(STORE_CMD_MPOP, 0x04, &b, false);
    expect_body(STORE_CMD_MPOP, 0x80, &b, false);
    b.n = 0; bb_u32(&b, 0); bb_u64(&b, 1);
    expect_body(STORE_CMD_MPOP, 0, &b, false); /* no keys */
    b.n = 0; bb_u32(&b, 1); bb_str(&b, ""); bb_u64(&b, 1);
    expect_body(STORE_CMD_MPOP, 0, &b, false); /* an empty key */
    b.n = 0; bb_u32(&b, 1); bb_str(&b, "k"); bb_u64(&b, 0);
    expect_body(STORE_CMD_MPOP, 0, &b, false); /* count 0 */
    b.n = 0; bb_u32(&b, 1); bb_str(&b, "k"); bb_u64(&b, (uint64_t)INT64_MAX + 1);
    expect_body(STORE_CMD_MPOP, 0, &b, false);
    b.n = 0; bb_u32(&b, 2); bb_str(&b, "k"); bb_u64(&b, 1);
    expect_body(STORE_CMD_MPOP, 0, &b, false); /* one key short */
    b.n = 0; bb_u32(&b, 1); bb_str(&b, "k");
    expect_body(STORE_CMD_MPOP, 0, &b, false); /* no count */
    b.n = 0; bb_u32(&b, 1); bb_str(&b, "k"); bb_u64(&b, 1); bb_u8(&b, 0);
    expect_body(STORE_CMD_MPOP, 0, &b, false); /* trailing bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
