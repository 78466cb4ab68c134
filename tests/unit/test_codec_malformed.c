/* tests: the codec refuses every kind of malformed entry (store/codec.h).
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
#include "tests/unit/codec_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
