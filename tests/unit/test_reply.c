/* tests: the reply stream (store/reply.h) and the hash value encoding
 * (store/hash.h).
 *
 * Both formats are read back from bytes stored elsewhere (the dedupe table, an
 * LMDB value), so besides round trips the readers are fed every truncation and
 * some garbage, each time in a buffer of exactly its length so that ASan sees
 * any overread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/hash.h"
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
    static const uint8_t kinds[] = {0, 'x', 'N', '#', 0xff};
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

/* ---- hash values -------------------------------------------------------- */

/* The order hash.h documents: bytewise, the shorter first on a tie. */
static int field_cmp(struct keel_slice a, struct keel_slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0) return c;
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

static void assert_sorted(const struct keel_hash *h)
{
    for (uint32_t i = 1; i < h->n; i++)
        assert_true(field_cmp(h->items[i - 1].f, h->items[i].f) < 0);
}

static void assert_slice_eq(struct keel_slice a, struct keel_slice b)
{
    assert_int_equal(a.n, b.n);
    if (a.n > 0) assert_memory_equal(a.p, b.p, a.n);
}

/* Fields chosen to exercise the order: prefixes, the empty field, NUL and
 * 0xff bytes, and numbers whose text order differs from their value order. */
enum { NFIELDS = 40 };
static char field_text[NFIELDS][16];
static struct keel_slice fields[NFIELDS];

static void make_fields(void)
{
    static const struct
    {
        const char *p;
        size_t n;
    } fixed[] = {
        {"", 0}, {"a", 1}, {"ab", 2}, {"abc", 3}, {"a\0", 2}, {"a\0\0", 3},
        {"\xff", 1}, {"\xff\xff", 2}, {"\0", 1}, {"b", 1},
    };
    size_t nf = sizeof fixed / sizeof fixed[0];
    for (size_t i = 0; i < NFIELDS; i++) {
        if (i < nf) {
            memcpy(field_text[i], fixed[i].p, fixed[i].n);
            fields[i] = sl(field_text[i], fixed[i].n);
        } else {
            int n = snprintf(field_text[i], sizeof field_text[i], "f%zu", (i - nf) * 7);
            fields[i] = sl(field_text[i], (size_t)n);
        }
    }
}

static void shuffle(int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void test_hash_put_sorted(void **state)
{
    struct keel_hash h;
    int order[NFIELDS];
    bool added;
    make_fields();
    rng_state = 0xdeadbeefcafef00dULL;
    for (int round = 0; round < 20; round++) {
        hash_init(&h);
        for (int i = 0; i < NFIELDS; i++) order[i] = i;
        shuffle(order, NFIELDS);
        for (int i = 0; i < NFIELDS; i++) {
            struct keel_slice f = fields[order[i]];
            assert_int_equal(hash_put(&h, f, f, &added), 0);
            assert_true(added);
            assert_int_equal(h.n, (uint32_t)i + 1);
            assert_sorted(&h);
        }
        /* Replacing keeps the count and the order, and changes the value. */
        shuffle(order, NFIELDS);
        for (int i = 0; i < NFIELDS; i++) {
            assert_int_equal(hash_put(&h, fields[order[i]], LIT("new"), &added), 0);
            assert_false(added);
            assert_int_equal(h.n, NFIELDS);
            const struct hash_field *hf = hash_find(&h, fields[order[i]]);
            assert_non_null(hf);
            assert_slice_eq(hf->v, LIT("new"));
        }
        assert_sorted(&h);
        hash_close(&h);
    }
}

static void test_hash_find_del(void **state)
{
    struct keel_hash h;
    int order[NFIELDS];
    bool added;
    make_fields();
    rng_state = 0x0123456789abcdefULL;
    hash_init(&h);
    /* Lookups in an empty hash. */
    assert_null(hash_find(&h, LIT("a")));
    assert_false(hash_del(&h, LIT("a")));
    /* Only the even fields go in. */
    for (int i = 0; i < NFIELDS; i += 2)
        assert_int_equal(hash_put(&h, fields[i], fields[i], &added), 0);
    for (int i = 0; i < NFIELDS; i++) {
        const struct hash_field *hf = hash_find(&h, fields[i]);
        if (i % 2 == 0) {
            assert_non_null(hf);
            assert_slice_eq(hf->f, fields[i]);
            assert_slice_eq(hf->v, fields[i]);
        } else {
            assert_null(hf);
            assert_false(hash_del(&h, fields[i]));
        }
    }
    assert_int_equal(h.n, NFIELDS / 2);
    /* Delete all in random order; the rest stays sorted and findable. */
    for (int i = 0; i < NFIELDS; i++) order[i] = i;
    shuffle(order, NFIELDS);
    uint32_t n = h.n;
    for (int i = 0; i < NFIELDS; i++) {
        int k = order[i];
        if (k % 2 != 0) continue;
        assert_true(hash_del(&h, fields[k]));
        assert_int_equal(h.n, --n);
        assert_null(hash_find(&h, fields[k]));
        assert_false(hash_del(&h, fields[k]));
        assert_sorted(&h);
        for (int j = i + 1; j < NFIELDS; j++)
            if (order[j] % 2 == 0) assert_non_null(hash_find(&h, fields[order[j]]));
    }
    assert_int_equal(h.n, 0);
    hash_close(&h);
}

/* Random puts and deletes against a simple model. */
static void test_hash_model(void **state)
{
    struct keel_hash h;
    int present[NFIELDS] = {0}; /* 0 absent, else value index + 1 */
    static const char *values[] = {"", "v1", "value-two", "3"};
    bool added;
    make_fields();
    rng_state = 42;
    hash_init(&h);
    for (int step = 0; step < 20000; step++) {
        int k = (int)(rnd() % NFIELDS);
        if (rnd() % 3) {
            int v = (int)(rnd() % 4);
            assert_int_equal(hash_put(&h, fields[k], cstr(values[v]), &added), 0);
            assert_int_equal(added, present[k] == 0);
            present[k] = v + 1;
        } else {
            assert_int_equal(hash_del(&h, fields[k]), present[k] != 0);
            present[k] = 0;
        }
        if (step % 97 == 0) {
            uint32_t n = 0;
            for (int i = 0; i < NFIELDS; i++) {
                const struct hash_field *hf = hash_find(&h, fields[i]);
                if (present[i] == 0) {
                    assert_null(hf);
                    continue;
                }
                n++;
                assert_non_null(hf);
                assert_slice_eq(hf->v, cstr(values[present[i] - 1]));
            }
            assert_int_equal(h.n, n);
            assert_sorted(&h);
        }
    }
    hash_close(&h);
}

/* Encode h into a malloc'd buffer of exactly its size. */
static uint8_t *encode(const struct keel_hash *h, size_t *len)
{
    *len = hash_encoded_size(h);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    hash_encode(h, buf);
    return buf;
}

static void test_hash_roundtrip(void **state)
{
    struct keel_hash h, d;
    bool added;
    size_t len;
    uint8_t vals[NFIELDS][8];
    make_fields();
    hash_init(&h);
    hash_init(&d);

    /* Empty: just a zero count. */
    uint8_t *buf = encode(&h, &len);
    assert_int_equal(len, 4);
    assert_int_equal(hash_decode(&d, sl(buf, len)), 0);
    assert_int_equal(d.n, 0);
    free(buf);

    for (int i = NFIELDS - 1; i >= 0; i--) {
        for (int j = 0; j < 8; j++) vals[i][j] = (uint8_t)(i * 8 + j);
        assert_int_equal(hash_put(&h, fields[i], sl(vals[i], (size_t)i % 9), &added), 0);
    }
    buf = encode(&h, &len);
    assert_int_equal(hash_decode(&d, sl(buf, len)), 0);
    assert_int_equal(d.n, h.n);
    for (uint32_t i = 0; i < h.n; i++) {
        assert_slice_eq(d.items[i].f, h.items[i].f);
        assert_slice_eq(d.items[i].v, h.items[i].v);
        /* Decoded items point into the value. */
        if (d.items[i].f.n > 0) assert_true(d.items[i].f.p >= buf && d.items[i].f.p < buf + len);
    }
    /* And encode back to the same bytes. */
    size_t len2;
    uint8_t *buf2 = encode(&d, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);

    /* Decoding a smaller hash into d replaces its items. */
    uint8_t one[] = {1, 0, 0, 0, 1, 0, 0, 0, 'k', 2, 0, 0, 0, 'v', 'w'};
    assert_int_equal(hash_decode(&d, sl(one, sizeof one)), 0);
    assert_int_equal(d.n, 1);
    assert_slice_eq(d.items[0].f, LIT("k"));
    assert_slice_eq(d.items[0].v, LIT("vw"));
    /* The hash.h layout, byte for byte. */
    struct keel_hash small;
    hash_init(&small);
    assert_int_equal(hash_put(&small, LIT("k"), LIT("vw"), &added), 0);
    assert_int_equal(hash_encoded_size(&small), sizeof one);
    uint8_t out[sizeof one];
    hash_encode(&small, out);
    assert_memory_equal(out, one, sizeof one);
    hash_close(&small);

    free(buf);
    hash_close(&h);
    hash_close(&d);
}

/* Decode bytes[0..n) from an exact-size copy. */
static int decode_copy(struct keel_hash *h, const uint8_t *bytes, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n > 0) memcpy(copy, bytes, n);
    int rc = hash_decode(h, sl(copy, n));
    free(copy);
    return rc;
}

/* A hand-built value: count, then (field, value) pairs. */
static size_t build(uint8_t *out, uint32_t count, const char *const *strs, int nstr)
{
    size_t n = 4;
    le32_store(out, count);
    for (int i = 0; i < nstr; i++) {
        size_t l = strlen(strs[i]);
        le32_store(out + n, (uint32_t)l);
        memcpy(out + n + 4, strs[i], l);
        n += 4 + l;
    }
    return n;
}

static void test_hash_corrupt(void **state)
{
    struct keel_hash h, d;
    bool added;
    size_t len;
    uint8_t b[256];
    make_fields();
    hash_init(&h);
    hash_init(&d);
    for (int i = 0; i < 12; i++)
        assert_int_equal(hash_put(&h, fields[i], fields[NFIELDS - 1 - i], &added), 0);
    uint8_t *buf = encode(&h, &len);

    /* Every truncation. */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(decode_copy(&d, buf, cut), KEEL_ECORRUPT);
    }
    assert_int_equal(decode_copy(&d, buf, len), 0);

    /* A trailing byte. */
    uint8_t *longer = calloc(1, len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    assert_int_equal(decode_copy(&d, longer, len + 1), KEEL_ECORRUPT);
    free(longer);

    /* Counts that disagree with the items, or are absurd. */
    static const uint32_t counts[] = {0, 11, 13, 1000, 0x7fffffff, UINT32_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        le32_store(buf, counts[i]);
        assert_int_equal(decode_copy(&d, buf, len), KEEL_ECORRUPT);
    }
    le32_store(buf, 12);
    assert_int_equal(decode_copy(&d, buf, len), 0);
    /* A field length past the end. */
    le32_store(buf + 4, UINT32_MAX);
    assert_int_equal(decode_copy(&d, buf, len), KEEL_ECORRUPT);
    le32_store(buf + 4, (uint32_t)len);
    assert_int_equal(decode_copy(&d, buf, len), KEEL_ECORRUPT);
    free(buf);

    /* Order: unsorted, duplicate, prefix after the longer field, and the
     * legal order for contrast. */
    static const char *const unsorted[] = {"b", "1", "a", "2"};
    static const char *const dup[] = {"a", "1", "a", "2"};
    static const char *const prefix_after[] = {"ab", "1", "a", "2"};
    static const char *const empty_after[] = {"a", "1", "", "2"};
    static const char *const sorted[] = {"", "0", "a", "1", "ab", "2", "b", "3"};
    len = build(b, 2, unsorted, 4);
    assert_int_equal(decode_copy(&d, b, len), KEEL_ECORRUPT);
    len = build(b, 2, dup, 4);
    assert_int_equal(decode_copy(&d, b, len), KEEL_ECORRUPT);
    len = build(b, 2, prefix_after, 4);
    assert_int_equal(decode_copy(&d, b, len), KEEL_ECORRUPT);
    len = build(b, 2, empty_after, 4);
    assert_int_equal(decode_copy(&d, b, len), KEEL_ECORRUPT);
    len = build(b, 4, sorted, 8);
    assert_int_equal(decode_copy(&d, b, len), 0);
    assert_int_equal(d.n, 4);
    /* The same with the count one too small or too large. */
    le32_store(b, 3);
    assert_int_equal(decode_copy(&d, b, len), KEEL_ECORRUPT);
    le32_store(b, 5);
    assert_int_equal(decode_copy(&d, b, len), KEEL_ECORRUPT);

    hash_close(&h);
    hash_close(&d);
}

/* Random values, and valid ones with a byte changed, cut or added: decode
 * stops in bounds; what it accepts is sorted and encodes back to the same
 * bytes (the encoding is canonical, so nothing it accepts is ignored). */
static void test_hash_fuzz(void **state)
{
    enum { CAP = 160 };
    static const char alphabet[] = {'a', 'b', 0, (char)0xff};
    struct keel_hash h, g;
    uint8_t b[CAP];
    char text[8][4];
    long accepted = 0, rejected = 0;
    memset(text, 0, sizeof text);
    hash_init(&h);
    hash_init(&g);
    rng_state = 0x5851f42d4c957f2dULL;
    for (int iter = 0; iter < 50000; iter++) {
        size_t n;
        if (iter % 4 == 0) {
            /* Random bytes, small numbers so that lengths often fit. */
            n = rnd() % 64;
            for (size_t i = 0; i < n; i++) {
                uint64_t x = rnd();
                b[i] = x % 2 ? (uint8_t)(x >> 8) % 4 : (uint8_t)(x >> 16);
            }
            if (n >= 4 && rnd() % 2) le32_store(b, (uint32_t)(rnd() % 4));
        } else {
            /* A valid hash of up to 8 short fields over a tiny alphabet. */
            bool added;
            g.n = 0;
            int nf = (int)(rnd() % 9);
            for (int i = 0; i < nf; i++) {
                size_t fl = rnd() % 4;
                for (size_t j = 0; j < fl; j++) text[i][j] = alphabet[rnd() % 4];
                assert_int_equal(hash_put(&g, sl(text[i], fl), sl(text[i], rnd() % 4), &added), 0);
            }
            n = hash_encoded_size(&g);
            assert_true(n <= CAP - 8);
            hash_encode(&g, b);
            switch (rnd() % 4) {
                case 0:
                    break;
                case 1:
                    b[rnd() % n] = (uint8_t)(rnd() % 4 ? rnd() % 8 : rnd());
                    break;
                case 2:
                    n = rnd() % n;
                    break;
                case 3:
                    for (size_t k = rnd() % 8 + 1; k > 0; k--) b[n++] = (uint8_t)(rnd() % 3);
                    break;
            }
        }
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        if (n > 0) memcpy(copy, b, n);
        int rc = hash_decode(&h, sl(copy, n));
        if (rc == 0) {
            accepted++;
            assert_sorted(&h);
            for (uint32_t i = 0; i < h.n; i++) {
                const struct keel_slice *s[2] = {&h.items[i].f, &h.items[i].v};
                for (int j = 0; j < 2; j++)
                    if (s[j]->n > 0)
                        assert_true(s[j]->p >= copy && s[j]->p + s[j]->n <= copy + n);
            }
            size_t len;
            uint8_t *out = encode(&h, &len);
            assert_int_equal(len, n);
            assert_memory_equal(out, copy, n);
            free(out);
        } else {
            rejected++;
            assert_int_equal(rc, KEEL_ECORRUPT);
        }
        free(copy);
    }
    assert_true(accepted > 5000);
    assert_true(rejected > 5000);
    hash_close(&h);
    hash_close(&g);
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
        cmocka_unit_test(test_hash_put_sorted),
        cmocka_unit_test(test_hash_find_del),
        cmocka_unit_test(test_hash_model),
        cmocka_unit_test(test_hash_roundtrip),
        cmocka_unit_test(test_hash_corrupt),
        cmocka_unit_test(test_hash_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
