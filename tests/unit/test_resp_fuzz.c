/* tests: the RESP request parser against random bytes and mutated seeds
 * (api/resp/resp.h), from a fixed-seed generator: every run sees the same
 * bytes, and the answer never depends on how they were split. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/resp/resp.h"
#include "api/resp/resp_glob.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"
#include "tests/unit/resp_fixture.h"

/* ---- fuzz --------------------------------------------------------------- */

static const char *const seeds[] = {
    "*1\r\n$4\r\nPING\r\n",
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n",
    "*2\r\n$0\r\n\r\n$2\r\n\r\n\r\n",
    "*0\r\n",
    "*-1\r\n",
    "PING\r\n",
    "SET k \"a\\x41\\n\" 'it\\'s'\r\n",
    "  GET\tk \n",
    "\r\n",
    "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
};

static const char alphabet[] = "*$\r\n0123456789-+:\"'\\x \tab";

static uint8_t random_byte(void)
{
    return rng() % 4 == 0 ? (uint8_t)rng() : (uint8_t)alphabet[rng_below(sizeof alphabet - 1)];
}

/* A random input of at most max bytes: noise, or a mutated valid request. */
static size_t fuzz_input(uint8_t *p, size_t max)
{
    size_t n;
    if (rng() % 4 == 0) {
        n = rng_below(64);
        for (size_t i = 0; i < n; i++) p[i] = random_byte();
        return n;
    }
    const char *s = seeds[rng_below(sizeof seeds / sizeof seeds[0])];
    n = strlen(s);
    memcpy(p, s, n);
    for (int m = (int)(1 + rng_below(4)); m > 0; m--) {
        size_t at = n ? rng_below(n) : 0;
        switch (rng() % 5) {
            case 0: /* replace */
                if (n) p[at] = random_byte();
                break;
            case 1: /* insert */
                if (n < max) {
                    memmove(p + at + 1, p + at, n - at);
                    p[at] = random_byte();
                    n++;
                }
                break;
            case 2: /* delete */
                if (n) {
                    memmove(p + at, p + at + 1, n - at - 1);
                    n--;
                }
                break;
            case 3: /* truncate */
                n = at;
                break;
            default: /* duplicate a span */
                if (n) {
                    size_t len = 1 + rng_below(n - at);
                    if (n + len <= max) {
                        memmove(p + at + len, p + at, n - at);
                        n += len;
                    }
                }
                break;
        }
    }
    return n;
}

/* Parse everything in p[0..n) as a pipeline: no crash, DONE always makes
 * progress and stays inside the input. */
static void fuzz_pipeline(const uint8_t *p, size_t n, const struct resp_limits *lim, struct resp_request *req)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0, need = 0;
        const char *err = NULL;
        int rc = resp_parse_request(p + off, n - off, lim, req, &used, &need, &err);
        if (rc == RESP_MORE) {
            assert_true(need > n - off);
            return;
        }
        if (rc != RESP_DONE) {
            assert_int_equal(rc, RESP_EPROTO);
            assert_non_null(err);
            return;
        }
        assert_null(err);
        assert_true(used >= 1 && used <= n - off);
        assert_argv_inside(req, p + off, n - off);
        off += used;
    }
}

/* The first request in p[0..n) gets the same verdict whole and bytewise. */
static void fuzz_consistency(const uint8_t *p, size_t n, const struct resp_limits *lim, struct resp_request *req)
{
    size_t used = 0, need = 0, at = 0, u = 0;
    const char *err = NULL;
    int whole = resp_parse_request(p, n, lim, req, &used, &need, &err);
    int rc = first_result(p, n, lim, whole == RESP_DONE ? used : 0, &at, &u);
    if (rc != whole) fail_msg("whole: %d, bytewise: %d at %zu of \"%.*s\"", whole, rc, at, (int)n, (const char *)p);
    if (whole == RESP_DONE && (at != used || u != used))
        fail_msg("whole: done at %zu, bytewise: done at %zu of \"%.*s\"", used, at, (int)n, (const char *)p);
}

static void test_fuzz(void **state)
{
    (void)state;
    enum { MAX = 512 };
    uint8_t buf[MAX];
    struct resp_limits lim = {.max_bulk = 8, .max_args = 4, .max_inline = 24, .max_depth = 3};
    struct resp_request req;
    resp_request_init(&req);
    rng_seed(4);
    for (int iter = 0; iter < 100000; iter++) {
        size_t n = fuzz_input(buf, MAX);
        uint8_t *p = dup_exact(buf, n);
        const struct resp_limits *l = iter % 2 ? &lim : &LIM;
        fuzz_pipeline(p, n, l, &req);
        if (iter % 16 == 0 && n <= 160) fuzz_consistency(p, n, l, &req);
        const char *err = NULL;
        long r = resp_reply_len(p, n, l, &err);
        assert_true(r >= -1 && r <= (long)n);
        if (r < 0) assert_non_null(err);
        else assert_null(err);
        free(p);
    }
    resp_request_close(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
