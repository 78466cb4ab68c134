/* tests: the hash value encoding (store/hash.h): sorted fields, find and
 * delete against a model, round trips, and every truncation, corruption and
 * random mutation of a stored value refused (an LMDB value is read back in a
 * buffer of exactly its length, so that ASan sees any overread). */
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
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"

static uint64_t rng_state;

/* Deterministic (tests/lib), so a failure replays. */
static uint64_t rnd(void)
{
    return test_xorshift64(&rng_state);
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
        cmocka_unit_test(test_hash_put_sorted),
        cmocka_unit_test(test_hash_find_del),
        cmocka_unit_test(test_hash_model),
        cmocka_unit_test(test_hash_roundtrip),
        cmocka_unit_test(test_hash_corrupt),
        cmocka_unit_test(test_hash_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
