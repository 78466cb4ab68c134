/* tests: the replicated command codec (store/codec.h): round trips of every
 * command, the entry layout, and encoder misuse. Malformed entries:
 * test_codec_malformed.c; batches: test_codec_batch.c; ACL entries:
 * test_codec_acl.c; the byte-flipping fuzz loop: test_codec_fuzz.c. */
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
        cmocka_unit_test(test_samples_roundtrip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_encoder_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
