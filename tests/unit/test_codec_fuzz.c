/* tests: a byte-flipping fuzz loop over valid sample entries (store/codec.h):
 * decode either refuses an entry or returns a command whose every slice lies
 * inside the entry, and whatever it accepts re-encodes to the same bytes. */
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

/* ---- fuzz --------------------------------------------------------------- */

static uint64_t rng_state;


static uint64_t rnd(void)
{
    return test_xorshift64(&rng_state);
}

static bool slice_within(struct keel_slice s, const uint8_t *lo, const uint8_t *hi)
{
    if (s.n == 0) return true;
    uintptr_t p = (uintptr_t)s.p, l = (uintptr_t)lo, h = (uintptr_t)hi;
    return p >= l && p <= h && s.n <= h - p;
}

/* Walk every list of a decoded command; every slice stays in [lo, hi) and
 * every walk ends after exactly the announced number of items. */
static void walk(const struct store_cmd *c, const uint8_t *lo, const uint8_t *hi)
{
    struct keel_iter it;
    struct keel_slice s;
    uint32_t n;
    assert_true(slice_within(c->key, lo, hi));
    assert_true(slice_within(c->field, lo, hi));
    assert_true(slice_within(c->value, lo, hi));
    assert_true(slice_within(c->expect, lo, hi));
    assert_true(slice_within(c->list, lo, hi));
    assert_true(slice_within(c->watches, lo, hi));
    switch (c->type) {
        case STORE_CMD_DEL:
        case STORE_CMD_HDEL:
        case STORE_CMD_HSET: {
            uint32_t want = c->type == STORE_CMD_HSET ? 2 * c->count : c->count;
            keel_iter_init(&it, c->list);
            for (n = 0; n <= want && keel_iter_str(&it, &s); n++)
                assert_true(slice_within(s, c->list.p, c->list.p + c->list.n));
            assert_int_equal(n, want);
            break;
        }
        case STORE_CMD_BATCH: {
            struct store_cmd sub;
            uint64_t version;
            keel_iter_init(&it, c->watches);
            for (n = 0; n <= c->nwatch && keel_iter_watch(&it, &s, &version); n++) {
                assert_true(slice_within(s, c->watches.p, c->watches.p + c->watches.n));
                assert_true(s.n > 0 && s.n <= KEEL_MAX_KEY);
            }
            assert_int_equal(n, c->nwatch);
            keel_iter_init(&it, c->list);
            for (n = 0; n <= c->count && store_iter_cmd(&it, c, &sub); n++) {
                assert_true(sub.type != STORE_CMD_BATCH && sub.type != STORE_CMD_SWEEP &&
                            sub.type != STORE_CMD_NOOP);
                assert_int_equal(sub.ts, c->ts);
                assert_int_equal(sub.client, c->client);
                assert_int_equal(sub.seq, c->seq);
                walk(&sub, c->list.p, c->list.p + c->list.n);
            }
            assert_int_equal(n, c->count);
            break;
        }
        default:
            break;
    }
}

/* Decode buf[0..len) from an exact-size copy; on success check everything. */
static int fuzz_one(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    struct store_cmd c;
    const char *msg = "unset";
    assert_non_null(copy);
    if (len > 0) memcpy(copy, buf, len);
    int rc = store_cmd_decode(copy, len, &c, &msg);
    if (rc == 0) {
        assert_null(msg);
        assert_true(c.type < STORE_CMD__COUNT);
        walk(&c, copy, copy + len);
        assert_reencodes(&c, copy, len);
    } else {
        if (rc != KEEL_EMALFORMED && rc != KEEL_EVERSION && rc != KEEL_ETOOBIG)
            fail_msg("unexpected rc %d", rc);
        assert_non_null(msg);
    }
    free(copy);
    return rc;
}

/* Values that tend to sit on the edge of a length or count check. */
static uint32_t interesting32(size_t len)
{
    static const uint32_t v[] = {0, 1, 2, 3, 4, 7, 8, 9, 12, 16, KEEL_MAX_KEY, KEEL_MAX_KEY + 1,
                                 KEEL_MAX_BATCH, KEEL_MAX_BATCH + 1, KEEL_MAX_ARGS,
                                 KEEL_MAX_ARGS + 1, 0x7fffffff, 0x80000000u, UINT32_MAX};
    uint64_t r = rnd() % (sizeof v / sizeof v[0] + 4);
    if (r < sizeof v / sizeof v[0]) return v[r];
    return (uint32_t)(len - (r % 4)); /* near the entry length */
}

static void fuzz_mutate(uint8_t *b, size_t *len, size_t cap)
{
    int k = 1 + (int)(rnd() % 4);
    for (int i = 0; i < k; i++) {
        size_t n = *len;
        switch (rnd() % 6) {
            case 0: /* a random byte */
                if (n) b[rnd() % n] = (uint8_t)rnd();
                break;
            case 1: /* one bit */
                if (n) b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 2: /* a length or count field in the body */
                if (n >= BODY + 4) le32_store(b + BODY + rnd() % (n - BODY - 3), interesting32(n));
                break;
            case 3: /* small change to a byte, as to a length's low byte */
                if (n) b[rnd() % n] += (uint8_t)(rnd() % 3) - 1;
                break;
            case 4: /* cut or grow, keeping the frame consistent half of the time */
                if (rnd() % 2) {
                    *len = n ? rnd() % n : 0;
                } else {
                    size_t grow = rnd() % 24;
                    if (n + grow <= cap) {
                        memset(b + n, rnd() % 4 ? 0 : (int)(rnd() & 0xff), grow);
                        *len = n + grow;
                    }
                }
                if (*len >= BODY && rnd() % 2) {
                    *len -= *len % 8;
                    uint32_t body = (uint32_t)(*len - BODY);
                    le32_store(b + 4, body > 7 ? body - (uint32_t)(rnd() % 8) : body);
                }
                break;
            case 5: /* a header byte: type, flags */
                if (n >= 4) b[2 + rnd() % 2] = (uint8_t)(rnd() % 16);
                break;
        }
    }
}

static void test_fuzz(void **state)
{
    enum { ITERATIONS = 200000, CAP = 1024 };
    uint8_t *samples[NSAMPLES];
    size_t lens[NSAMPLES];
    uint8_t b[CAP];
    long accepted = 0, rejected = 0;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < NSAMPLES; i++) {
        samples[i] = sample(i, &lens[i]);
        assert_true(lens[i] <= CAP);
    }
    for (long iter = 0; iter < ITERATIONS; iter++) {
        size_t len;
        if (iter % 8 != 7) {
            /* A valid entry, mutated. */
            int s = (int)(rnd() % NSAMPLES);
            memcpy(b, samples[s], lens[s]);
            len = lens[s];
            fuzz_mutate(b, &len, CAP);
        } else {
            /* Random bytes, mostly behind a plausible header. */
            len = rnd() % 200;
            for (size_t i = 0; i < len; i++) b[i] = (uint8_t)rnd();
            if (len >= BODY && rnd() % 4) {
                len -= len % 8;
                b[0] = KEEL_CODEC_MAGIC;
                b[1] = KEEL_CODEC_VERSION;
                b[2] = (uint8_t)(rnd() % (STORE_CMD__COUNT + 1));
                b[3] = (uint8_t)(rnd() % 4 ? 0 : rnd() % 16);
                le32_store(b + 4, (uint32_t)(len - BODY));
            }
        }
        if (fuzz_one(b, len) == 0)
            accepted++;
        else
            rejected++;
    }
    print_message("fuzz: %ld decoded, %ld rejected\n", accepted, rejected);
    /* The loop must have exercised both outcomes to mean anything. */
    assert_true(accepted > 1000);
    assert_true(rejected > 1000);
    for (int i = 0; i < NSAMPLES; i++) free(samples[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
