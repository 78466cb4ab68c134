/* tests: the codec's ACL entries (store/codec.h): a round trip, and every
 * malformed form refused. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acl),
        cmocka_unit_test(test_acl_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
