/* tests: the codec's batches (store/codec.h): hashes and checks inside
 * them, watches, sub-command counts, and refusal of nested batches. */
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

/* HASH: no body, top level only (a batch refuses it). */
static void test_hash(void **state)
{
    (void)state;
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    uint8_t *buf;
    keel_enc_init(&e, TS, 0, 0);
    keel_enc_hash(&e);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HASH, 0, TS, 0, 0);
    assert_reencodes(&c, buf, len);
    free(buf);
    keel_enc_init(&e, TS, 0, 0);
    keel_enc_batch_begin(&e);
    keel_enc_hash(&e);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), KEEL_EINVAL);
    keel_enc_close(&e);
}

/* HASH CHECK (empty) and VERDICT (index > 0, digest): the consistency
 * check's round and its verdict; both flags at once, a verdict for index 0,
 * a truncated verdict and a check with a body are refused. */
static void test_hash_check(void **state)
{
    (void)state;
    struct keel_enc e;
    struct store_cmd c;
    size_t len;
    uint8_t *buf;
    keel_enc_init(&e, TS, 0, 0);
    keel_enc_check(&e);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HASH, KEEL_HASH_CHECK, TS, 0, 0);
    assert_reencodes(&c, buf, len);
    buf[3] = KEEL_HASH_CHECK | KEEL_HASH_VERDICT;
    expect_malformed(buf, len);
    buf[3] = 0x04;
    expect_malformed(buf, len);
    free(buf);

    keel_enc_init(&e, TS, 0, 0);
    keel_enc_verdict(&e, 12345, 0xfedcba9876543210ull);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER + 16);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_HASH, KEEL_HASH_VERDICT, TS, 0, 0);
    assert_true(c.num == 12345);
    assert_true(c.version == 0xfedcba9876543210ull);
    assert_reencodes(&c, buf, len);
    /* The same body under CHECK: trailing bytes. */
    buf[3] = KEEL_HASH_CHECK;
    expect_malformed(buf, len);
    /* Truncated: body length 8 (the index only). */
    buf[3] = KEEL_HASH_VERDICT;
    buf[4] = 8;
    expect_malformed(buf, len);
    free(buf);

    keel_enc_init(&e, TS, 0, 0);
    keel_enc_verdict(&e, 0, 1);
    buf = finish_ok(&e, &len);
    expect_malformed(buf, len);
    free(buf);

    keel_enc_init(&e, TS, 0, 0);
    keel_enc_batch_begin(&e);
    keel_enc_verdict(&e, 1, 1);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), KEEL_EINVAL);
    keel_enc_close(&e);
}

/* Sub-commands of every type a batch may hold, with watches. */
static void test_batch(void **state)
{
    struct keel_slice keys[2] = {LIT("d1"), LIT("d2")};
    struct keel_slice pairs[4] = {LIT("f"), LIT("v"), LIT("g"), LIT("w")};
    struct keel_enc e;
    struct store_cmd c, sub;
    struct keel_iter it, li;
    struct keel_slice key, s;
    uint64_t version;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, LIT("w1"), 5);
    keel_enc_watch(&e, LIT("w2"), 0);
    keel_enc_watch(&e, LIT("w3\0bin"), UINT64_MAX);
    keel_enc_set(&e, LIT("k"), LIT("v"), 1700000003000LL, KEEL_SET_NX | KEEL_SET_GET);
    keel_enc_del(&e, keys, 2);
    keel_enc_incrby(&e, LIT("n"), INT64_MIN);
    keel_enc_expire(&e, LIT("k"), 1700000004000LL, KEEL_EXPIRE_GT);
    keel_enc_persist(&e, LIT("k"));
    keel_enc_hset(&e, LIT("h"), pairs, 2);
    keel_enc_hdel(&e, LIT("h"), keys, 1);
    keel_enc_hincrby(&e, LIT("h"), LIT("f"), -3);
    keel_enc_cas(&e, LIT("c"), KEEL_CAS_VALUE, 0, LIT("x"), LIT("y"), 0);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_BATCH, 0, TS, CLIENT, SEQ);
    assert_int_equal(c.nwatch, 3);
    assert_int_equal(c.count, 9);

    keel_iter_init(&it, c.watches);
    assert_true(keel_iter_watch(&it, &key, &version));
    assert_slice_lit(key, "w1");
    assert_int_equal(version, 5);
    assert_true(keel_iter_watch(&it, &key, &version));
    assert_slice_lit(key, "w2");
    assert_int_equal(version, 0);
    assert_true(keel_iter_watch(&it, &key, &version));
    assert_slice_lit(key, "w3\0bin");
    assert_int_equal(version, UINT64_MAX);
    assert_false(keel_iter_watch(&it, &key, &version));

    keel_iter_init(&it, c.list);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_SET, KEEL_SET_NX | KEEL_SET_GET, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "k");
    assert_slice_lit(sub.value, "v");
    assert_int_equal(sub.num, 1700000003000LL);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_DEL, 0, TS, CLIENT, SEQ);
    assert_int_equal(sub.count, 2);
    keel_iter_init(&li, sub.list);
    assert_true(keel_iter_str(&li, &s));
    assert_slice_lit(s, "d1");
    assert_true(keel_iter_str(&li, &s));
    assert_slice_lit(s, "d2");
    assert_false(keel_iter_str(&li, &s));

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_INCRBY, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "n");
    assert_true(sub.num == INT64_MIN);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_EXPIRE, KEEL_EXPIRE_GT, TS, CLIENT, SEQ);
    assert_int_equal(sub.num, 1700000004000LL);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_PERSIST, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "k");

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_HSET, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.key, "h");
    assert_int_equal(sub.count, 2);
    keel_iter_init(&li, sub.list);
    for (int i = 0; i < 4; i++) {
        assert_true(keel_iter_str(&li, &s));
        assert_slice(s, pairs[i].p, pairs[i].n);
    }
    assert_false(keel_iter_str(&li, &s));

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_HDEL, 0, TS, CLIENT, SEQ);
    assert_int_equal(sub.count, 1);
    keel_iter_init(&li, sub.list);
    assert_true(keel_iter_str(&li, &s));
    assert_slice_lit(s, "d1");
    assert_false(keel_iter_str(&li, &s));

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_HINCRBY, 0, TS, CLIENT, SEQ);
    assert_slice_lit(sub.field, "f");
    assert_true(sub.num == -3);

    assert_true(store_iter_cmd(&it, &c, &sub));
    check_header(&sub, STORE_CMD_CAS, KEEL_CAS_VALUE, TS, CLIENT, SEQ);
    assert_slice_lit(sub.expect, "x");
    assert_slice_lit(sub.value, "y");

    assert_false(store_iter_cmd(&it, &c, &sub));
    assert_reencodes(&c, buf, len);
    free(buf);
}

static void test_batch_no_watches(void **state)
{
    struct keel_enc e;
    struct store_cmd c, sub;
    struct keel_iter it;
    struct keel_slice key;
    uint64_t version;
    size_t len;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, LIT("a"), LIT("1"), 0, 0);
    keel_enc_set(&e, LIT("b"), LIT("2"), 0, KEEL_SET_XX);
    uint8_t *buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    check_header(&c, STORE_CMD_BATCH, 0, TS, CLIENT, SEQ);
    assert_int_equal(c.nwatch, 0);
    assert_int_equal(c.watches.n, 0);
    assert_int_equal(c.count, 2);
    keel_iter_init(&it, c.watches);
    assert_false(keel_iter_watch(&it, &key, &version));
    keel_iter_init(&it, c.list);
    assert_true(store_iter_cmd(&it, &c, &sub));
    assert_slice_lit(sub.key, "a");
    assert_true(store_iter_cmd(&it, &c, &sub));
    assert_slice_lit(sub.key, "b");
    assert_int_equal(sub.flags, KEEL_SET_XX);
    assert_false(store_iter_cmd(&it, &c, &sub));
    assert_reencodes(&c, buf, len);
    free(buf);

    /* MULTI / EXEC with nothing queued: an empty batch is legal. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    buf = finish_ok(&e, &len);
    assert_int_equal(len, STORE_CMD_HEADER + 8);
    decode_ok(buf, len, &c);
    assert_int_equal(c.type, STORE_CMD_BATCH);
    assert_int_equal(c.nwatch, 0);
    assert_int_equal(c.count, 0);
    keel_iter_init(&it, c.list);
    assert_false(store_iter_cmd(&it, &c, &sub));
    free(buf);
}

/* Batch sub-commands: types a batch may not hold, reserved bytes, lengths. */
static void test_batch_subcommands(void **state)
{
    struct keel_enc e;
    size_t len;
    uint8_t *buf;

    /* No watches, one SET "k" "v": watch count at BODY, command count at
     * BODY + 4, the sub-command header at BODY + 8, its body at BODY + 16. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, LIT("k"), LIT("v"), 0, 0);
    buf = finish_ok(&e, &len);
    const size_t sh = BODY + 8;
    assert_int_equal(le32_load(buf + BODY + 4), 1);
    assert_int_equal(buf[sh], STORE_CMD_SET);
    assert_int_equal(le32_load(buf + sh + 4), 18);

    static const uint8_t bad_types[] = {STORE_CMD_NOOP, STORE_CMD_BATCH, STORE_CMD_SWEEP,
                                        STORE_CMD__COUNT, 0xff};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        buf[sh] = bad_types[i];
        expect_malformed(buf, len);
    }
    /* Another valid type whose body does not parse as this one. */
    buf[sh] = STORE_CMD_PERSIST;
    expect_malformed(buf, len);
    buf[sh] = STORE_CMD_SET;

    buf[sh + 1] = 0x10;
    expect_malformed(buf, len);
    buf[sh + 1] = KEEL_SET_NX | KEEL_SET_XX;
    expect_malformed(buf, len);
    buf[sh + 1] = 0;

    buf[sh + 2] = 1;
    expect_malformed(buf, len);
    buf[sh + 2] = 0;
    buf[sh + 3] = 0x80;
    expect_malformed(buf, len);
    buf[sh + 3] = 0;

    static const uint32_t bad_lens[] = {0, 1, 17, 19, 24, 0x7fffffff, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_lens / sizeof bad_lens[0]; i++) {
        le32_store(buf + sh + 4, bad_lens[i]);
        expect_malformed(buf, len);
    }
    le32_store(buf + sh + 4, 18);

    /* Errors inside a sub-command keep their code. */
    le32_store(buf + sh + 8, KEEL_MAX_KEY + 1);
    expect_rc(buf, len, KEEL_ETOOBIG);
    le32_store(buf + sh + 8, 1);
    expect_rc(buf, len, 0);
    free(buf);

    /* The encoder lets NOOP and SWEEP into a batch; decode refuses them. */
    for (int which = 0; which < 2; which++) {
        keel_enc_init(&e, TS, CLIENT, SEQ);
        keel_enc_batch_begin(&e);
        keel_enc_persist(&e, LIT("k"));
        if (which == 0)
            keel_enc_noop(&e);
        else
            keel_enc_sweep(&e, 10);
        uint8_t *out = NULL;
        if (keel_enc_finish(&e, &out, &len) == 0) {
            expect_malformed(out, len);
            free(out);
        }
        keel_enc_close(&e);
    }
}

/* READ: a read command's argv, only inside a batch, flag RESP3 only; the
 * encoder refuses it at top level and decode refuses it there too. */
static void test_read(void **state)
{
    (void)state;
    struct keel_enc e;
    struct store_cmd c, sub;
    struct keel_iter it;
    size_t len;
    uint8_t *buf;
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, LIT("k"), LIT("v"), 0, 0);
    keel_enc_read(&e, (struct keel_slice[]){LIT("GET"), LIT("k")}, 2, KEEL_READ_RESP3);
    buf = finish_ok(&e, &len);
    decode_ok(buf, len, &c);
    assert_int_equal(c.count, 2);
    keel_iter_init(&it, c.list);
    assert_true(store_iter_cmd(&it, &c, &sub));
    assert_true(store_iter_cmd(&it, &c, &sub));
    assert_int_equal(sub.type, STORE_CMD_READ);
    assert_int_equal(sub.flags, KEEL_READ_RESP3);
    assert_int_equal(sub.count, 2);
    struct keel_slice *args = collect(sub.list, sub.count);
    assert_slice_lit(args[0], "GET");
    assert_slice_lit(args[1], "k");
    free(args);
    assert_false(store_iter_cmd(&it, &c, &sub));
    assert_reencodes(&c, buf, len);
    /* The READ sub-command: header at BODY + 8 + 8 + 18 (after the SET). */
    const size_t sh = BODY + 8 + 8 + 18;
    assert_int_equal(buf[sh], STORE_CMD_READ);
    buf[sh + 1] = 0x02; /* an unknown flag */
    expect_malformed(buf, len);
    buf[sh + 1] = 0;
    expect_rc(buf, len, 0);
    le32_store(buf + sh + 8, 0); /* no arguments: body has trailing bytes, or none */
    expect_malformed(buf, len);
    le32_store(buf + sh + 8, 3); /* more arguments than there are */
    expect_malformed(buf, len);
    free(buf);

    /* At top level: the encoder refuses it, and so does decode. */
    keel_enc_init(&e, TS, CLIENT, SEQ);
    keel_enc_read(&e, (struct keel_slice[]){LIT("PING")}, 1, 0);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), KEEL_EINVAL);
    keel_enc_close(&e);
    struct bb body = {.n = 0};
    bb_u32(&body, 1);
    bb_str(&body, "PING");
    buf = frame(STORE_CMD_READ, 0, &body, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);
}

/* A batch holds at most KEEL_MAX_BATCH commands and watches: the encoder
 * stops at one more with KEEL_ETOOBIG instead of making an entry every
 * replica would reject. */
static void test_batch_limit(void **state)
{
    (void)state;
    struct keel_enc e;
    size_t len;
    uint8_t *buf;
    for (int watches = 0; watches < 2; watches++) {
        for (uint32_t n = KEEL_MAX_BATCH; n <= KEEL_MAX_BATCH + 1; n++) {
            keel_enc_init(&e, TS, CLIENT, SEQ);
            keel_enc_batch_begin(&e);
            for (uint32_t i = 0; i < n; i++) {
                if (watches) keel_enc_watch(&e, LIT("k"), i);
                else keel_enc_persist(&e, LIT("k"));
            }
            if (watches) keel_enc_persist(&e, LIT("k"));
            if (n == KEEL_MAX_BATCH) {
                buf = finish_ok(&e, &len);
                expect_rc(buf, len, 0);
                free(buf);
            } else {
                assert_int_equal(keel_enc_finish(&e, &buf, &len), KEEL_ETOOBIG);
                keel_enc_close(&e);
            }
        }
    }
}

/* A whole valid batch nested as a sub-command of another. */
static void test_nested_batch(void **state)
{
    struct bb inner = {.n = 0}, sub = {.n = 0}, outer = {.n = 0};
    size_t len;
    uint8_t *buf;

    bb_str(&sub, "k");
    bb_u64(&sub, 1);
    bb_u32(&inner, 0);
    bb_u32(&inner, 1);
    bb_sub(&inner, STORE_CMD_INCRBY, 0, &sub);
    /* The inner batch alone is a valid entry... */
    buf = frame(STORE_CMD_BATCH, 0, &inner, TS, CLIENT, SEQ, &len);
    expect_rc(buf, len, 0);
    free(buf);

    /* ...but not inside another one. */
    bb_u32(&outer, 0);
    bb_u32(&outer, 1);
    bb_sub(&outer, STORE_CMD_BATCH, 0, &inner);
    buf = frame(STORE_CMD_BATCH, 0, &outer, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);

    /* Nor an empty one. */
    inner.n = 0;
    bb_u32(&inner, 0);
    bb_u32(&inner, 0);
    outer.n = 0;
    bb_u32(&outer, 0);
    bb_u32(&outer, 1);
    bb_sub(&outer, STORE_CMD_BATCH, 0, &inner);
    buf = frame(STORE_CMD_BATCH, 0, &outer, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);

    /* Nor a SWEEP. */
    sub.n = 0;
    bb_u64(&sub, 5);
    outer.n = 0;
    bb_u32(&outer, 0);
    bb_u32(&outer, 1);
    bb_sub(&outer, STORE_CMD_SWEEP, 0, &sub);
    buf = frame(STORE_CMD_BATCH, 0, &outer, TS, CLIENT, SEQ, &len);
    expect_malformed(buf, len);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_hash_check),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_no_watches),
        cmocka_unit_test(test_batch_subcommands),
        cmocka_unit_test(test_nested_batch),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_batch_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
