/* tests: the reply stream (store/reply.h). The hash value encoding:
 * test_hash_value.c.
 *
 * Replies are read back from bytes stored elsewhere (the dedupe table), so
 * besides round trips the reader is fed every truncation and some garbage,
 * each time in a buffer of exactly its length so that ASan sees any
 * overread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/reply.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"

static uint64_t rng_state;

/* Deterministic (tests/lib), so a failure replays. */
static uint64_t rnd(void)
{
    return test_xorshift64(&rng_state);
}

/* ---- reply stream ------------------------------------------------------- */

static void next_ok(struct keel_reply_reader *rd, struct keel_reply_item *it, char kind)
{
    int rc = keel_reply_next(rd, it);
    if (rc != 0) fail_msg("keel_reply_next: rc %d, want an item '%c'", rc, kind);
    assert_int_equal(it->kind, kind);
}

static void next_str(struct keel_reply_reader *rd, char kind, const void *p, size_t n)
{
    struct keel_reply_item it;
    next_ok(rd, &it, kind);
    assert_int_equal(it.n, n);
    if (n > 0) assert_memory_equal(it.p, p, n);
}

static void next_int(struct keel_reply_reader *rd, char kind, int64_t v)
{
    struct keel_reply_item it;
    next_ok(rd, &it, kind);
    assert_true(it.integer == v);
}

static void next_error(struct keel_reply_reader *rd, int code, const char *msg)
{
    struct keel_reply_item it;
    next_ok(rd, &it, KEEL_REPLY_ERROR);
    assert_int_equal(it.integer, code);
    assert_int_equal(it.n, strlen(msg));
    if (it.n > 0) assert_memory_equal(it.p, msg, it.n);
}

static void next_end(struct keel_reply_reader *rd)
{
    struct keel_reply_item it;
    assert_int_equal(keel_reply_next(rd, &it), KEEL_ENOTFOUND);
}

static const uint8_t binary[] = {'a', 0, 'b', 0, 0, 0xff, '\r', '\n'};

/* One item of every kind, and the extremes of each. */
static void write_all_kinds(struct keel_reply *r)
{
    keel_reply_nil(r);
    keel_reply_status(r, "QUEUED");
    keel_reply_ok(r);
    keel_reply_status(r, "");
    keel_reply_int(r, 0);
    keel_reply_int(r, -1);
    keel_reply_int(r, INT64_MIN);
    keel_reply_int(r, INT64_MAX);
    keel_reply_bulk(r, "", 0);
    keel_reply_bulk(r, NULL, 0);
    keel_reply_bulk(r, binary, sizeof binary);
    keel_reply_error(r, KEEL_EWRONGTYPE, "Operation against a key holding the wrong kind");
    keel_reply_error(r, KEEL_ENOTINT, NULL);
    keel_reply_error(r, KEEL_EOVERFLOW, "");
    keel_reply_array(r, 3);
    keel_reply_int(r, 1);
    keel_reply_nil(r);
    keel_reply_bulk(r, "x", 1);
    keel_reply_array(r, 0);
    keel_reply_array(r, UINT32_MAX);
}

static void read_all_kinds(struct keel_reply_reader *rd)
{
    struct keel_reply_item it;
    next_ok(rd, &it, KEEL_REPLY_NIL);
    next_str(rd, KEEL_REPLY_STATUS, "QUEUED", 6);
    next_str(rd, KEEL_REPLY_STATUS, "OK", 2);
    next_str(rd, KEEL_REPLY_STATUS, "", 0);
    next_int(rd, KEEL_REPLY_INT, 0);
    next_int(rd, KEEL_REPLY_INT, -1);
    next_int(rd, KEEL_REPLY_INT, INT64_MIN);
    next_int(rd, KEEL_REPLY_INT, INT64_MAX);
    next_str(rd, KEEL_REPLY_BULK, "", 0);
    next_str(rd, KEEL_REPLY_BULK, "", 0);
    next_str(rd, KEEL_REPLY_BULK, binary, sizeof binary);
    next_error(rd, KEEL_EWRONGTYPE, "Operation against a key holding the wrong kind");
    next_error(rd, KEEL_ENOTINT, "");
    next_error(rd, KEEL_EOVERFLOW, "");
    next_int(rd, KEEL_REPLY_ARRAY, 3);
    next_int(rd, KEEL_REPLY_INT, 1);
    next_ok(rd, &it, KEEL_REPLY_NIL);
    next_str(rd, KEEL_REPLY_BULK, "x", 1);
    next_int(rd, KEEL_REPLY_ARRAY, 0);
    next_int(rd, KEEL_REPLY_ARRAY, UINT32_MAX);
}

static void test_reply_kinds(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    keel_reply_init(&r);
    write_all_kinds(&r);
    assert_false(r.lost);
    keel_reply_reader_init(&rd, &r);
    read_all_kinds(&rd);
    next_end(&rd);
    next_end(&rd); /* and stays at the end */
    keel_reply_close(&r);
    assert_null(r.buf);
    assert_int_equal(r.len, 0);
}

/* The byte layout reply.h documents. */
static void test_reply_layout(void **state)
{
    static const uint8_t want[] = {
        'n',                                        /* nil */
        '+', 2, 0, 0, 0, 'O', 'K',                  /* status */
        ':', 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* -2 */
        '$', 3, 0, 0, 0, 'a', 0, 'b',               /* bulk */
        '-', 9, 0, 0, 0, 2, 0, 0, 0, 'n', 'o',      /* error 9 "no" */
        '*', 2, 1, 0, 0,                            /* array of 258 */
    };
    struct keel_reply r;
    keel_reply_init(&r);
    keel_reply_nil(&r);
    keel_reply_ok(&r);
    keel_reply_int(&r, -2);
    keel_reply_bulk(&r, "a\0b", 3);
    keel_reply_error(&r, 9, "no");
    keel_reply_array(&r, 258);
    assert_int_equal(r.len, sizeof want);
    assert_memory_equal(r.buf, want, sizeof want);
    keel_reply_close(&r);
}

static void test_reply_empty(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    keel_reply_init(&r);
    keel_reply_reader_init(&rd, &r);
    next_end(&rd);
    keel_reply_close(&r);
    /* Closing twice is harmless: close leaves an empty reply. */
    keel_reply_close(&r);
}

static void test_reply_array_patch(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    keel_reply_init(&r);
    keel_reply_int(&r, 7); /* so the mark is not at offset 0 */
    size_t outer = keel_reply_array_begin(&r);
    assert_int_equal(outer, 9);
    keel_reply_bulk(&r, "a", 1);
    size_t inner = keel_reply_array_begin(&r);
    for (int i = 0; i < 300; i++) keel_reply_int(&r, i); /* forces a realloc */
    keel_reply_array_end(&r, inner, 300);
    size_t empty = keel_reply_array_begin(&r);
    keel_reply_array_end(&r, empty, 0);
    keel_reply_array_end(&r, outer, 3);

    keel_reply_reader_init(&rd, &r);
    next_int(&rd, KEEL_REPLY_INT, 7);
    next_int(&rd, KEEL_REPLY_ARRAY, 3);
    next_str(&rd, KEEL_REPLY_BULK, "a", 1);
    next_int(&rd, KEEL_REPLY_ARRAY, 300);
    for (int i = 0; i < 300; i++) next_int(&rd, KEEL_REPLY_INT, i);
    next_int(&rd, KEEL_REPLY_ARRAY, 0);
    next_end(&rd);

    /* A mark past the end (from before a reset) is ignored, not written. */
    keel_reply_reset(&r);
    keel_reply_nil(&r);
    keel_reply_array_end(&r, outer, 5);
    assert_int_equal(r.len, 1);
    assert_int_equal(r.buf[0], KEEL_REPLY_NIL);
    keel_reply_close(&r);

    /* Nor one past the allocation (ASan would see the write). */
    keel_reply_init(&r);
    keel_reply_nil(&r);
    keel_reply_array_end(&r, r.cap + 100, 5);
    keel_reply_array_end(&r, r.cap - 1, 5);
    assert_int_equal(r.len, 1);
    keel_reply_close(&r);
}

/* Reset keeps the memory: an apply loop must not reallocate every time. */
static void test_reply_reset(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    uint8_t big[1000];
    memset(big, 'z', sizeof big);
    keel_reply_init(&r);
    keel_reply_bulk(&r, big, sizeof big);
    uint8_t *buf = r.buf;
    size_t cap = r.cap;
    assert_true(cap >= sizeof big + 5);

    for (int round = 0; round < 10; round++) {
        keel_reply_reset(&r);
        assert_int_equal(r.len, 0);
        assert_false(r.lost);
        keel_reply_reader_init(&rd, &r);
        next_end(&rd);
        keel_reply_int(&r, round);
        keel_reply_bulk(&r, big, (size_t)round * 50);
        assert_ptr_equal(r.buf, buf);
        assert_int_equal(r.cap, cap);
        keel_reply_reader_init(&rd, &r);
        next_int(&rd, KEEL_REPLY_INT, round);
        next_str(&rd, KEEL_REPLY_BULK, big, (size_t)round * 50);
        next_end(&rd);
    }
    keel_reply_close(&r);
}

/* Many items: the buffer grows and nothing is lost on the way. */
static void test_reply_growth(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    char s[32];
    keel_reply_init(&r);
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "item-%d", i);
        keel_reply_int(&r, (int64_t)i * -1000003);
        keel_reply_bulk(&r, s, strlen(s));
    }
    assert_false(r.lost);
    keel_reply_reader_init(&rd, &r);
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "item-%d", i);
        next_int(&rd, KEEL_REPLY_INT, (int64_t)i * -1000003);
        next_str(&rd, KEEL_REPLY_BULK, s, strlen(s));
    }
    next_end(&rd);
    keel_reply_close(&r);
}

/* raw appends a stream produced earlier (a dedupe hit) after other items. */
static void test_reply_raw(void **state)
{
    struct keel_reply a, b;
    struct keel_reply_reader rd;
    keel_reply_init(&a);
    keel_reply_init(&b);
    write_all_kinds(&a);
    keel_reply_ok(&b);
    keel_reply_raw(&b, a.buf, a.len);
    keel_reply_raw(&b, NULL, 0);
    keel_reply_reader_init(&rd, &b);
    next_str(&rd, KEEL_REPLY_STATUS, "OK", 2);
    read_all_kinds(&rd);
    next_end(&rd);
    keel_reply_close(&a);
    keel_reply_close(&b);
}

/* A reader over bytes[0..n), in a buffer of exactly n bytes. */
struct view
{
    struct keel_reply r;
    struct keel_reply_reader rd;
};

static void view_init(struct view *v, const uint8_t *bytes, size_t n)
{
    memset(v, 0, sizeof *v);
    v->r.buf = malloc(n ? n : 1);
    assert_non_null(v->r.buf);
    if (n > 0) memcpy(v->r.buf, bytes, n);
    v->r.len = v->r.cap = n;
    keel_reply_reader_init(&v->rd, &v->r);
}

static void view_close(struct view *v)
{
    free(v->r.buf);
}

/* Read until the reader stops; returns its last code, *items the count read.
 * Every item read must lie in the buffer; the loop is bounded because each
 * item advances at least one byte. */
static int drain(struct view *v, size_t *items)
{
    struct keel_reply_item it;
    const uint8_t *lo = v->r.buf, *hi = v->r.buf + v->r.len;
    int rc;
    *items = 0;
    for (size_t guard = 0; guard <= v->r.len + 1; guard++) {
        rc = keel_reply_next(&v->rd, &it);
        if (rc != 0) return rc;
        (*items)++;
        if (it.n > 0) {
            assert_true(it.p >= lo && it.p <= hi);
            assert_true(it.n <= (size_t)(hi - it.p));
        }
        assert_true(v->rd.p <= hi);
    }
    fail_msg("reader did not stop");
    return -1;
}

/* Cut a multi-item stream at every length: a cut on an item boundary reads
 * the items before it and then the end; any other cut reads the items before
 * it and then KEEL_ECORRUPT, and stays corrupt. */
static void test_reply_truncation(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    size_t bounds[64], nb = 0;
    keel_reply_init(&r);
    write_all_kinds(&r);
    keel_reply_reader_init(&rd, &r);
    bounds[nb++] = 0;
    while (keel_reply_next(&rd, &it) == 0) {
        assert_true(nb < sizeof bounds / sizeof bounds[0]);
        bounds[nb++] = (size_t)(rd.p - r.buf);
    }
    assert_int_equal(bounds[nb - 1], r.len);

    size_t b = 0;
    for (size_t cut = 0; cut < r.len; cut++) {
        struct view v;
        size_t items;
        while (b + 1 < nb && bounds[b + 1] <= cut) b++;
        view_init(&v, r.buf, cut);
        int rc = drain(&v, &items);
        assert_int_equal(items, b);
        if (bounds[b] == cut) {
            assert_int_equal(rc, KEEL_ENOTFOUND);
        } else {
            assert_int_equal(rc, KEEL_ECORRUPT);
            assert_int_equal(keel_reply_next(&v.rd, &it), KEEL_ECORRUPT);
        }
        view_close(&v);
    }
    keel_reply_close(&r);
}

static void test_reply_garbage(void **state)
{
    struct view v;
    size_t items;
    uint8_t b[16];

    /* Unknown kinds. */
    static const uint8_t kinds[] = {0, 'x', 'Z', '#', 0xff};
    for (size_t i = 0; i < sizeof kinds; i++) {
        memset(b, 0, sizeof b);
        b[0] = kinds[i];
        view_init(&v, b, sizeof b);
        assert_int_equal(drain(&v, &items), KEEL_ECORRUPT);
        assert_int_equal(items, 0);
        view_close(&v);
    }

    /* Lengths past the end, including ones that overflow a 32-bit sum. */
    static const uint32_t lens[] = {12, 16, 0x7fffffff, UINT32_MAX - 4, UINT32_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(b, 'q', sizeof b);
        b[0] = KEEL_REPLY_BULK;
        le32_store(b + 1, lens[i]);
        view_init(&v, b, sizeof b);
        assert_int_equal(drain(&v, &items), KEEL_ECORRUPT);
        view_close(&v);
        b[0] = KEEL_REPLY_STATUS;
        view_init(&v, b, sizeof b);
        assert_int_equal(drain(&v, &items), KEEL_ECORRUPT);
        view_close(&v);
        b[0] = KEEL_REPLY_ERROR;
        le32_store(b + 1, KEEL_EIO);
        le32_store(b + 5, lens[i] - 4);
        view_init(&v, b, sizeof b);
        assert_int_equal(drain(&v, &items), KEEL_ECORRUPT);
        view_close(&v);
    }

    /* A length that fits exactly is fine. */
    b[0] = KEEL_REPLY_BULK;
    le32_store(b + 1, sizeof b - 5);
    view_init(&v, b, sizeof b);
    assert_int_equal(drain(&v, &items), KEEL_ENOTFOUND);
    assert_int_equal(items, 1);
    view_close(&v);

    /* Random bytes, mostly of known kinds: the reader stops in bounds. */
    rng_state = 0x2545f4914f6cdd1dULL;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t r[64];
        static const uint8_t k[] = {'n', '+', ':', '$', '-', '*'};
        size_t n = rnd() % sizeof r;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = rnd();
            if (x % 3 == 0)
                r[i] = k[(x >> 8) % 6]; /* a kind byte */
            else if (x % 3 == 1)
                r[i] = (uint8_t)(x >> 16) % 8; /* a small length byte */
            else
                r[i] = (uint8_t)(x >> 24);
        }
        view_init(&v, r, n);
        int rc = drain(&v, &items);
        assert_true(rc == KEEL_ENOTFOUND || rc == KEEL_ECORRUPT);
        view_close(&v);
    }
}

/* A reply that could not be kept reads back as exactly one
 * KEEL_EREPLYLOST error, whatever was written before or after. */
static void test_reply_lost(void **state)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    keel_reply_init(&r);
    keel_reply_ok(&r);
    keel_reply_int(&r, 5);
#if SIZE_MAX > UINT32_MAX
    /* A bulk whose length does not fit the stream's 32-bit length field: the
     * writer must give up on the reply rather than truncate the length. Its
     * bytes are never read. */
    static const uint8_t one = 1;
    keel_reply_bulk(&r, &one, (size_t)UINT32_MAX + 1);
#else
    r.lost = true;
#endif
    assert_true(r.lost);
    size_t len = r.len;
    keel_reply_nil(&r);
    keel_reply_status(&r, "after");
    keel_reply_bulk(&r, "x", 1);
    keel_reply_error(&r, KEEL_EIO, "x");
    size_t mark = keel_reply_array_begin(&r);
    keel_reply_array_end(&r, mark, 1);
    keel_reply_raw(&r, "n", 1);
    assert_int_equal(r.len, len); /* nothing more is written */

    for (int pass = 0; pass < 2; pass++) { /* every reader sees the same */
        keel_reply_reader_init(&rd, &r);
        assert_int_equal(keel_reply_next(&rd, &it), 0);
        assert_int_equal(it.kind, KEEL_REPLY_ERROR);
        assert_int_equal(it.integer, KEEL_EREPLYLOST);
        next_end(&rd);
        next_end(&rd);
    }

    /* Reset makes the reply usable again. */
    keel_reply_reset(&r);
    assert_false(r.lost);
    keel_reply_ok(&r);
    keel_reply_reader_init(&rd, &r);
    next_str(&rd, KEEL_REPLY_STATUS, "OK", 2);
    next_end(&rd);

    /* Lost with nothing written at all. */
    keel_reply_close(&r);
    keel_reply_init(&r);
    r.lost = true;
    keel_reply_reader_init(&rd, &r);
    next_int(&rd, KEEL_REPLY_ERROR, KEEL_EREPLYLOST);
    next_end(&rd);
    keel_reply_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_kinds),
        cmocka_unit_test(test_reply_layout),
        cmocka_unit_test(test_reply_empty),
        cmocka_unit_test(test_reply_array_patch),
        cmocka_unit_test(test_reply_reset),
        cmocka_unit_test(test_reply_growth),
        cmocka_unit_test(test_reply_raw),
        cmocka_unit_test(test_reply_truncation),
        cmocka_unit_test(test_reply_garbage),
        cmocka_unit_test(test_reply_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
