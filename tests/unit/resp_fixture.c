/* tests: the RESP tests' shared helpers (resp_fixture.h). */
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

/* ---- helpers ------------------------------------------------------------ */

const struct resp_limits LIM = {
    .max_bulk = 4u << 20,
    .max_args = 1u << 20,
    .max_inline = 64u << 10,
    .max_depth = 8,
};

/* Small limits, so that the tests can cross them cheaply. */
const struct resp_limits SMALL = {
    .max_bulk = 16,
    .max_args = 8,
    .max_inline = 16,
    .max_depth = 4,
};

uint64_t rng_state;

void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

/* Deterministic (tests/lib), good enough to pick bytes and sizes. */
uint64_t rng(void)
{
    return test_xorshift64s(&rng_state);
}

size_t rng_below(size_t n)
{
    return (size_t)(rng() % n);
}

/* A copy of p[0..n) in an allocation of exactly n bytes. */
uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n > 0) memcpy(q, p, n);
    return q;
}

bool inside(const void *p, size_t n, const void *base, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return a >= b && a <= b + len && n <= b + len - a;
}

/* Every argument lies inside the input p[0..n) or the request's own storage. */
void assert_argv_inside(const struct resp_request *req, const uint8_t *p, size_t n)
{
    for (uint32_t i = 0; i < req->argc; i++) {
        const struct keel_slice *a = &req->argv[i];
        bool ok = inside(a->p, a->n, p, n) || (req->inl != NULL && inside(a->p, a->n, req->inl, req->inl_cap));
        if (!ok) fail_msg("argv[%u] lies outside the input and the request", (unsigned)i);
    }
}

void assert_args(const struct resp_request *req, const struct keel_slice *args, uint32_t argc)
{
    assert_int_equal(req->argc, argc);
    for (uint32_t i = 0; i < argc; i++) {
        assert_int_equal(req->argv[i].n, args[i].n);
        if (args[i].n > 0) assert_memory_equal(req->argv[i].p, args[i].p, args[i].n);
    }
}

/* A multibulk request for args, built by hand; *len gets its length. */
uint8_t *multibulk(const struct keel_slice *args, uint32_t argc, size_t *len)
{
    struct buf b;
    char hdr[32];
    buf_init(&b);
    buf_append(&b, hdr, (size_t)snprintf(hdr, sizeof hdr, "*%u\r\n", (unsigned)argc));
    for (uint32_t i = 0; i < argc; i++) {
        buf_append(&b, hdr, (size_t)snprintf(hdr, sizeof hdr, "$%zu\r\n", args[i].n));
        buf_append(&b, args[i].p, args[i].n);
        buf_append(&b, "\r\n", 2);
    }
    assert_false(b.oom);
    *len = b.len;
    return b.p;
}

/* Parse p[0..n) from an exact copy; DONE is expected, using `used` bytes. */
void expect_done(const void *p, size_t n, const struct resp_limits *lim, size_t used,
                        const struct keel_slice *args, uint32_t argc)
{
    struct resp_request req;
    size_t u = 0, need = 0;
    const char *err = "unset";
    uint8_t *copy = dup_exact(p, n);
    resp_request_init(&req);
    int rc = resp_parse_request(copy, n, lim, &req, &u, &need, &err);
    assert_int_equal(rc, RESP_DONE);
    assert_null(err);
    assert_int_equal(u, used);
    assert_args(&req, args, argc);
    assert_argv_inside(&req, copy, n);
    resp_request_close(&req);
    free(copy);
}

/* Parse p[0..n) from an exact copy; RESP_EPROTO with a reason is expected. */
void expect_eproto(const void *p, size_t n, const struct resp_limits *lim)
{
    struct resp_request req;
    size_t used = 0, need = 0;
    const char *err = NULL;
    uint8_t *copy = dup_exact(p, n);
    resp_request_init(&req);
    int rc = resp_parse_request(copy, n, lim, &req, &used, &need, &err);
    if (rc != RESP_EPROTO) fail_msg("expected RESP_EPROTO for \"%.*s\", got %d", (int)n, (const char *)p, rc);
    assert_non_null(err);
    resp_request_close(&req);
    free(copy);
}


/* Parse p[0..n) from an exact copy; RESP_MORE is expected, *need returned. */
size_t expect_more(const void *p, size_t n, const struct resp_limits *lim, struct resp_request *req)
{
    size_t used = 0, need = 0;
    const char *err = "unset";
    uint8_t *copy = dup_exact(p, n);
    int rc = resp_parse_request(copy, n, lim, req, &used, &need, &err);
    if (rc != RESP_MORE) fail_msg("expected RESP_MORE for \"%.*s\", got %d", (int)n, (const char *)p, rc);
    assert_null(err);
    assert_true(need > n);
    free(copy);
    return need;
}

/* Feed the request p[0..len) one byte more at a time: RESP_MORE with
 * n < *need <= len for every proper prefix, then RESP_DONE. Prefixes up to
 * `exact` bytes are parsed from exact copies, longer ones in place. */
void feed_bytewise(const uint8_t *p, size_t len, const struct resp_limits *lim,
                          const struct keel_slice *args, uint32_t argc, size_t exact)
{
    struct resp_request req;
    resp_request_init(&req);
    for (size_t n = 0; n < len; n++) {
        size_t used = 0, need = 0;
        const char *err = "unset";
        uint8_t *copy = n <= exact ? dup_exact(p, n) : NULL;
        int rc = resp_parse_request(copy ? copy : p, n, lim, &req, &used, &need, &err);
        if (rc != RESP_MORE) fail_msg("prefix of %zu/%zu bytes: got %d, want RESP_MORE", n, len, rc);
        if (need <= n || need > len) fail_msg("prefix of %zu/%zu bytes: need %zu", n, len, need);
        assert_null(err);
        free(copy);
    }
    size_t used = 0, need = 0;
    const char *err = "unset";
    assert_int_equal(resp_parse_request(p, len, lim, &req, &used, &need, &err), RESP_DONE);
    assert_int_equal(used, len);
    assert_args(&req, args, argc);
    assert_argv_inside(&req, p, len);
    resp_request_close(&req);
}

/* Feed p[0..len) in random chunks of 1..max bytes, as a socket would. */
void feed_chunks(const uint8_t *p, size_t len, const struct resp_limits *lim,
                        const struct keel_slice *args, uint32_t argc, size_t max)
{
    struct resp_request req;
    size_t n = 0;
    resp_request_init(&req);
    for (;;) {
        n += 1 + rng_below(max);
        if (n > len) n = len;
        size_t used = 0, need = 0;
        const char *err = "unset";
        int rc = resp_parse_request(p, n, lim, &req, &used, &need, &err);
        if (n == len) {
            assert_int_equal(rc, RESP_DONE);
            assert_int_equal(used, len);
            break;
        }
        if (rc != RESP_MORE) fail_msg("chunked prefix of %zu/%zu bytes: got %d", n, len, rc);
        assert_true(need > n && need <= len);
    }
    assert_args(&req, args, argc);
    assert_argv_inside(&req, p, len);
    resp_request_close(&req);
}

/* Feed p[0..len) a byte at a time, each prefix from an exact copy, until the
 * parser says something other than RESP_MORE: that result, at which length
 * (*at), and its *used. Returns RESP_MORE if it never did. Checks *need on
 * the way, and that it never exceeds `bound` (0: unchecked). */
int first_result(const uint8_t *p, size_t len, const struct resp_limits *lim, size_t bound,
                        size_t *at, size_t *used)
{
    struct resp_request req;
    int rc = RESP_MORE;
    resp_request_init(&req);
    for (size_t n = 0; n <= len && rc == RESP_MORE; n++) {
        size_t need = 0;
        const char *err = NULL;
        uint8_t *copy = dup_exact(p, n);
        rc = resp_parse_request(copy, n, lim, &req, used, &need, &err);
        if (rc == RESP_MORE) {
            if (need <= n) fail_msg("need %zu with %zu bytes", need, n);
            if (bound != 0 && need > bound) fail_msg("need %zu beyond the request's %zu bytes", need, bound);
        } else if (rc == RESP_DONE) {
            assert_argv_inside(&req, copy, n);
        } else {
            assert_non_null(err);
        }
        *at = n;
        free(copy);
    }
    resp_request_close(&req);
    return rc;
}

/* ---- multibulk requests ------------------------------------------------- */

/* One request through every way of feeding it. */
void check_multibulk(const struct keel_slice *args, uint32_t argc, size_t max_chunk)
{
    size_t len;
    uint8_t *p = multibulk(args, argc, &len);
    expect_done(p, len, &LIM, len, args, argc);
    feed_bytewise(p, len, &LIM, args, argc, len <= 16384 ? len : 256);
    feed_chunks(p, len, &LIM, args, argc, 7);
    feed_chunks(p, len, &LIM, args, argc, 64);
    feed_chunks(p, len, &LIM, args, argc, max_chunk);
    free(p);
}
