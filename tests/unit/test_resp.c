/* tests: the RESP request parser, reply scanner and reply writer (api/resp/resp.h)
 * and glob matching (api/resp/resp_glob.h).
 *
 * The parser sees whatever bytes a socket delivered, so every request is fed
 * whole, a byte at a time and in random chunks, and the answer must not depend
 * on how the bytes were split: RESP_MORE with a growing lower bound in *need
 * until the request is complete, then RESP_DONE consuming exactly the request.
 * Inputs the parser reads are copied into buffers of exactly their length so
 * that ASan sees any overread. Random inputs come from a fixed-seed generator:
 * every run sees the same bytes. */
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

/* ---- helpers ------------------------------------------------------------ */

static const struct resp_limits LIM = {
    .max_bulk = 4u << 20,
    .max_args = 1u << 20,
    .max_inline = 64u << 10,
    .max_depth = 8,
};

/* Small limits, so that the tests can cross them cheaply. */
static const struct resp_limits SMALL = {
    .max_bulk = 16,
    .max_args = 8,
    .max_inline = 16,
    .max_depth = 4,
};

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

/* Deterministic (tests/lib), good enough to pick bytes and sizes. */
static uint64_t rng(void)
{
    return test_xorshift64s(&rng_state);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng() % n);
}

/* A copy of p[0..n) in an allocation of exactly n bytes. */
static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n > 0) memcpy(q, p, n);
    return q;
}

static bool inside(const void *p, size_t n, const void *base, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return a >= b && a <= b + len && n <= b + len - a;
}

/* Every argument lies inside the input p[0..n) or the request's own storage. */
static void assert_argv_inside(const struct resp_request *req, const uint8_t *p, size_t n)
{
    for (uint32_t i = 0; i < req->argc; i++) {
        const struct keel_slice *a = &req->argv[i];
        bool ok = inside(a->p, a->n, p, n) || (req->inl != NULL && inside(a->p, a->n, req->inl, req->inl_cap));
        if (!ok) fail_msg("argv[%u] lies outside the input and the request", (unsigned)i);
    }
}

static void assert_args(const struct resp_request *req, const struct keel_slice *args, uint32_t argc)
{
    assert_int_equal(req->argc, argc);
    for (uint32_t i = 0; i < argc; i++) {
        assert_int_equal(req->argv[i].n, args[i].n);
        if (args[i].n > 0) assert_memory_equal(req->argv[i].p, args[i].p, args[i].n);
    }
}

/* A multibulk request for args, built by hand; *len gets its length. */
static uint8_t *multibulk(const struct keel_slice *args, uint32_t argc, size_t *len)
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
static void expect_done(const void *p, size_t n, const struct resp_limits *lim, size_t used,
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
static void expect_eproto(const void *p, size_t n, const struct resp_limits *lim)
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

#define EXPECT_EPROTO(lit, lim) expect_eproto((lit), sizeof(lit) - 1, (lim))

/* Parse p[0..n) from an exact copy; RESP_MORE is expected, *need returned. */
static size_t expect_more(const void *p, size_t n, const struct resp_limits *lim, struct resp_request *req)
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
static void feed_bytewise(const uint8_t *p, size_t len, const struct resp_limits *lim,
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
static void feed_chunks(const uint8_t *p, size_t len, const struct resp_limits *lim,
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
static int first_result(const uint8_t *p, size_t len, const struct resp_limits *lim, size_t bound,
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
static void check_multibulk(const struct keel_slice *args, uint32_t argc, size_t max_chunk)
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

static void test_multibulk_small(void **state)
{
    (void)state;
    rng_seed(1);
    struct keel_slice ping[] = {cstr("PING")};
    check_multibulk(ping, 1, 16);
    struct keel_slice set[] = {cstr("SET"), cstr("key"), cstr("value")};
    check_multibulk(set, 3, 16);
    struct keel_slice empty[] = {cstr("SET"), cstr("key"), sl("", 0)};
    check_multibulk(empty, 3, 16);
    struct keel_slice all_empty[] = {sl("", 0), sl("", 0)};
    check_multibulk(all_empty, 2, 16);
    static const char bin[] = "\r\n\0\r\n$3\r\n*1\r\n\r";
    struct keel_slice binary[] = {cstr("SET"), sl("k\0y", 3), sl(bin, sizeof bin - 1)};
    check_multibulk(binary, 3, 16);
}

static void test_multibulk_big(void **state)
{
    (void)state;
    rng_seed(2);
    size_t n = 1u << 20;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i % 7 == 0 ? '\r' : i % 7 == 1 ? '\n' : rng());
    struct keel_slice args[] = {cstr("SET"), cstr("big"), sl(big, n)};
    check_multibulk(args, 3, 65536);
    free(big);
}

static void test_multibulk_many_args(void **state)
{
    (void)state;
    rng_seed(3);
    enum { ARGC = 300 };
    struct keel_slice args[ARGC];
    uint8_t *bytes = malloc(ARGC * 40);
    assert_non_null(bytes);
    for (size_t i = 0; i < ARGC * 40; i++) bytes[i] = (uint8_t)rng();
    args[0] = cstr("RPUSH");
    for (uint32_t i = 1; i < ARGC; i++) args[i] = sl(bytes + 40 * i, i % 40);
    check_multibulk(args, ARGC, 512);
    free(bytes);
}

static void test_multibulk_empty(void **state)
{
    (void)state;
    expect_done("*0\r\n", 4, &LIM, 4, NULL, 0);
    expect_done("*-1\r\n", 5, &LIM, 5, NULL, 0);
    expect_done("*0\r\n*1\r\n", 8, &LIM, 4, NULL, 0);
    size_t at, used;
    assert_int_equal(first_result((const uint8_t *)"*0\r\n", 4, &LIM, 4, &at, &used), RESP_DONE);
    assert_int_equal(at, 4);
    assert_int_equal(first_result((const uint8_t *)"*-1\r\n", 5, &LIM, 5, &at, &used), RESP_DONE);
    assert_int_equal(at, 5);
}

static void append_multibulk(struct buf *b, const struct keel_slice *args, uint32_t argc)
{
    size_t len;
    uint8_t *p = multibulk(args, argc, &len);
    buf_append(b, p, len);
    free(p);
}

/* Requests back to back in one buffer parse one after another. */
static void test_pipelined(void **state)
{
    (void)state;
    struct keel_slice r1[] = {cstr("PING")};
    struct keel_slice r2[] = {cstr("SET"), cstr("k"), sl("a\r\nb", 4)};
    struct keel_slice r3[] = {cstr("GET"), cstr("k")};
    struct keel_slice r4[] = {cstr("DEL"), cstr("k"), sl("", 0)};
    struct buf b;
    buf_init(&b);
    append_multibulk(&b, r1, 1);
    append_multibulk(&b, r2, 3);
    buf_append(&b, "GET k\r\n", 7);
    buf_append(&b, "*0\r\n", 4);
    buf_append(&b, "\n", 1);
    append_multibulk(&b, r4, 3);
    buf_append(&b, "*2\r\n$3\r\nGET\r\n$1", 15); /* incomplete tail */
    assert_false(b.oom);

    const struct { const struct keel_slice *args; uint32_t argc; } want[] = {
        {r1, 1}, {r2, 3}, {r3, 2}, {NULL, 0}, {NULL, 0}, {r4, 3},
    };
    uint8_t *buf = dup_exact(b.p, b.len);
    struct resp_request req;
    size_t off = 0;
    resp_request_init(&req);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t used = 0, need = 0;
        const char *err = "unset";
        assert_int_equal(resp_parse_request(buf + off, b.len - off, &LIM, &req, &used, &need, &err), RESP_DONE);
        assert_true(used > 0 && used <= b.len - off);
        assert_args(&req, want[i].args, want[i].argc);
        assert_argv_inside(&req, buf + off, used);
        off += used;
    }
    size_t used = 0, need = 0;
    const char *err = "unset";
    assert_int_equal(resp_parse_request(buf + off, b.len - off, &LIM, &req, &used, &need, &err), RESP_MORE);
    assert_int_equal(off + 15, b.len);
    assert_true(need > 15);
    resp_request_close(&req);
    free(buf);
    buf_close(&b);
}

/* ---- inline requests ---------------------------------------------------- */

/* An inline request: parsed whole, parsed with more requests behind it, and
 * fed a byte at a time (DONE exactly when its line is complete). */
static void expect_inline(const char *in, size_t n, const char *const *want, size_t argc)
{
    size_t used = n;
    struct keel_slice args[8];
    assert_true(argc <= 8);
    for (size_t i = 0; i < argc; i++) args[i] = cstr(want[i]);
    expect_done(in, n, &LIM, used, args, (uint32_t)argc);

    char more[256];
    assert_true(n + 20 < sizeof more);
    memcpy(more, in, n);
    memcpy(more + n, "*1\r\n$4\r\nPING\r\n", 14);
    expect_done(more, n + 14, &LIM, used, args, (uint32_t)argc);

    size_t at = 0, u = 0;
    assert_int_equal(first_result((const uint8_t *)in, n, &LIM, used, &at, &u), RESP_DONE);
    assert_int_equal(at, used);
    assert_int_equal(u, used);
}

/* One line, consumed whole, giving the arguments listed. */
#define EXPECT_INLINE(in, ...)                                                       \
    expect_inline((in), sizeof(in) - 1, (const char *const[]){__VA_ARGS__},          \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_inline(void **state)
{
    (void)state;
    EXPECT_INLINE("PING\r\n", "PING");
    EXPECT_INLINE("SET a b\n", "SET", "a", "b");
    EXPECT_INLINE("  SET\t a \t\tb  \r\n", "SET", "a", "b");
    EXPECT_INLINE("SET k \"a\\nb\\t\\x41\\\"\"\r\n", "SET", "k", "a\nb\tA\"");
    EXPECT_INLINE("SET k \"\\r\\a\\b\\\\\\x4a\\x6B\"\r\n", "SET", "k", "\r\a\b\\Jk");
    EXPECT_INLINE("SET k \"\\x4\"\r\n", "SET", "k", "x4");
    EXPECT_INLINE("SET 'it\\'s' x\r\n", "SET", "it's", "x");
    EXPECT_INLINE("SET 'a\\nb' x\r\n", "SET", "a\\nb", "x");
    EXPECT_INLINE("SET \"a b\" 'c d'\r\n", "SET", "a b", "c d");
    EXPECT_INLINE("SET \"\" ''\r\n", "SET", "", "");
    EXPECT_INLINE("SET \"a\"\t'b'\n", "SET", "a", "b");
    EXPECT_INLINE("SET a\"b c\r\n", "SET", "a\"b", "c");

    /* Empty lines parse as no arguments; callers skip them. */
    expect_done("\r\n", 2, &LIM, 2, NULL, 0);
    expect_done("\n", 1, &LIM, 1, NULL, 0);
    expect_done(" \t \r\nPING\r\n", 11, &LIM, 5, NULL, 0);

    EXPECT_EPROTO("SET k \"abc\r\n", &LIM);
    EXPECT_EPROTO("SET k 'abc\r\n", &LIM);
    EXPECT_EPROTO("SET k \"abc\\\"\r\n", &LIM);
    EXPECT_EPROTO("SET k \"abc\"x\r\n", &LIM);
    EXPECT_EPROTO("SET k 'abc'x\r\n", &LIM);
    EXPECT_EPROTO("\"a\"\"b\"\r\n", &LIM);
    EXPECT_EPROTO("a b c d e f g h i\r\n", &SMALL); /* 9 arguments, max 8 */
    expect_done("a b c d e f g h\r\n", 17, &SMALL, 17, (struct keel_slice[]){
        cstr("a"), cstr("b"), cstr("c"), cstr("d"), cstr("e"), cstr("f"), cstr("g"), cstr("h")}, 8);
}

/* A line over max_inline is refused without waiting for its newline, and the
 * verdict on a line does not depend on how its bytes arrive. */
static void test_inline_limit(void **state)
{
    (void)state;
    struct resp_request req;
    char line[64];
    resp_request_init(&req);
    memset(line, 'a', sizeof line);
    assert_int_equal(expect_more(line, SMALL.max_inline, &SMALL, &req), SMALL.max_inline + 1);
    expect_eproto(line, SMALL.max_inline + 1, &SMALL);
    expect_eproto(line, sizeof line, &SMALL);
    resp_request_close(&req);

    /* Lines of 0..max_inline+3 bytes, ended by CRLF or a bare LF. */
    for (size_t l = 0; l <= SMALL.max_inline + 3; l++) {
        for (int crlf = 0; crlf <= 1; crlf++) {
            size_t n = l;
            memset(line, 'a', l);
            if (crlf) line[n++] = '\r';
            line[n++] = '\n';
            struct keel_slice arg = sl(line, l);
            if (l <= SMALL.max_inline) expect_done(line, n, &SMALL, n, &arg, l ? 1 : 0);
            else expect_eproto(line, n, &SMALL);
            size_t at = 0, used = 0;
            int rc = first_result((const uint8_t *)line, n, &SMALL, 0, &at, &used);
            if (rc != (l <= SMALL.max_inline ? RESP_DONE : RESP_EPROTO))
                fail_msg("line of %zu bytes + %s fed bytewise: got %d at %zu", l, crlf ? "CRLF" : "LF", rc, at);
        }
    }
}

/* ---- limits and malformed multibulk ------------------------------------- */

static void test_multibulk_errors(void **state)
{
    (void)state;
    struct resp_request req;
    resp_request_init(&req);

    EXPECT_EPROTO("*9\r\n", &SMALL); /* more arguments than max_args */
    EXPECT_EPROTO("*x\r\n", &LIM);
    EXPECT_EPROTO("*1x\r\n", &LIM);
    EXPECT_EPROTO("*\r\n", &LIM);
    EXPECT_EPROTO("*-\r\n", &LIM);
    EXPECT_EPROTO("*+1\r\n", &LIM);
    EXPECT_EPROTO("* 1\r\n", &LIM);
    EXPECT_EPROTO("*1\r\n$-1\r\n", &LIM);
    EXPECT_EPROTO("*1\r\n$-5\r\n", &LIM);
    EXPECT_EPROTO("*1\r\n$\r\n", &LIM);
    EXPECT_EPROTO("*1\r\n$3x\r\nabc\r\n", &LIM);
    /* A bulk over max_bulk is refused on its header alone. */
    EXPECT_EPROTO("*1\r\n$17\r\n", &SMALL);
    assert_int_equal(expect_more("*1\r\n$16\r\n", 9, &SMALL, &req), 9 + 16 + 2);
    EXPECT_EPROTO("*1\r\n$4294967296\r\n", &SMALL);
    /* Missing '$'. */
    EXPECT_EPROTO("*1\r\n:1\r\n", &LIM);
    EXPECT_EPROTO("*1\r\nPING\r\n", &LIM);
    EXPECT_EPROTO("*2\r\n$3\r\nGET\r\n*1\r\n", &LIM);
    /* The bulk is not followed by CRLF. */
    EXPECT_EPROTO("*1\r\n$3\r\nabcde", &LIM);
    EXPECT_EPROTO("*1\r\n$3\r\nabc\n\r", &LIM);
    EXPECT_EPROTO("*1\r\n$3\r\nabc\rx", &LIM);
    /* Counts too long for any integer, and one that fits 19 digits but not
     * a long long. */
    EXPECT_EPROTO("*99999999999999999999\r\n", &LIM);
    EXPECT_EPROTO("*9999999999999999999\r\n", &LIM);
    EXPECT_EPROTO("*9223372036854775808\r\n", &LIM);
    EXPECT_EPROTO("*1\r\n$99999999999999999999\r\n", &LIM);
    EXPECT_EPROTO("*1\r\n$9999999999999999999\r\n", &LIM);
    struct resp_limits huge = LIM;
    huge.max_args = UINT32_MAX;
    huge.max_bulk = SIZE_MAX;
    EXPECT_EPROTO("*9999999999999999999\r\n", &huge);
    EXPECT_EPROTO("*1\r\n$9999999999999999999\r\n", &huge);

    /* A header line without CRLF is refused past 32 bytes. */
    char hdr[64];
    memset(hdr, '1', sizeof hdr);
    hdr[0] = '*';
    expect_more(hdr, 20, &LIM, &req);
    expect_eproto(hdr, 33, &LIM);
    expect_eproto(hdr, sizeof hdr, &LIM);
    char bulk[64] = "*1\r\n$";
    memset(bulk + 5, '1', sizeof bulk - 5);
    expect_eproto(bulk, sizeof bulk, &LIM);
    resp_request_close(&req);
}

/* A request may claim any number of arguments up to max_args; memory grows
 * with the arguments that actually arrive. */
static void test_claimed_count_costs_nothing(void **state)
{
    (void)state;
    struct resp_request req;
    resp_request_init(&req);
    static const char one[] = "*1000000\r\n$1\r\nx\r\n";
    expect_more(one, sizeof one - 1, &LIM, &req);
    assert_true(req.cap < 1024);
    expect_more("*1000000\r\n", 10, &LIM, &req);
    assert_true(req.cap < 1024);

    struct buf b;
    buf_init(&b);
    buf_append(&b, "*1000000\r\n", 10);
    for (int i = 0; i < 100; i++) buf_append(&b, "$2\r\nab\r\n", 8);
    expect_more(b.p, b.len, &LIM, &req);
    assert_true(req.cap >= 100 && req.cap < 1024);
    buf_close(&b);
    resp_request_close(&req);
}

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

/* ---- scanning replies --------------------------------------------------- */

#define R(s) {(s), sizeof(s) - 1}

static const struct
{
    const char *p;
    size_t n;
} replies[] = {
    R("+OK\r\n"),
    R("+\r\n"),
    R("-ERR bad thing\r\n"),
    R(":42\r\n"),
    R(":-1\r\n"),
    R("$5\r\nhello\r\n"),
    R("$0\r\n\r\n"),
    R("$-1\r\n"),
    R("$6\r\na\r\n\0\r\n\r\n"),
    R("*0\r\n"),
    R("*-1\r\n"),
    R("*2\r\n$1\r\na\r\n:1\r\n"),
    R("*3\r\n*1\r\n+a\r\n*2\r\n:1\r\n$-1\r\n*0\r\n"),
    R("_\r\n"),
    R(",3.14\r\n"),
    R(",inf\r\n"),
    R("#t\r\n"),
    R("#f\r\n"),
    R("%0\r\n"),
    R("%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n"),
    R("~2\r\n+a\r\n+b\r\n"),
    R(">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n"),
    R("|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"),
    R("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n:2\r\n"),
    R("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n"),
    R("=8\r\ntxt:abcd\r\n"),
    R("=4\r\ntxt:\r\n"),
    R("!8\r\nERR oops\r\n"),
    R("(3492890328409238509324850943850943825024385\r\n"),
    R("*3\r\n_\r\n#f\r\n(-1\r\n"),
    R("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"), /* depth 8 */
};

/* A complete reply is measured exactly, with or without bytes behind it, and
 * every proper prefix asks for more. */
static void expect_reply(const void *p, size_t n, const struct resp_limits *lim)
{
    const char *err = "unset";
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = dup_exact(p, k);
        long r = resp_reply_len(copy, k, lim, &err);
        if (r != 0) fail_msg("prefix of %zu/%zu bytes of \"%.*s\": %ld (%s)", k, n, (int)n, (const char *)p, r,
                             err ? err : "");
        assert_null(err);
        free(copy);
    }
    uint8_t *copy = dup_exact(p, n);
    assert_int_equal(resp_reply_len(copy, n, lim, &err), (long)n);
    assert_null(err);
    free(copy);
    uint8_t *more = malloc(n + 7);
    assert_non_null(more);
    memcpy(more, p, n);
    memcpy(more + n, "+next\r\n", 7);
    assert_int_equal(resp_reply_len(more, n + 7, lim, &err), (long)n);
    free(more);
}

static void expect_bad_reply(const void *p, size_t n, const struct resp_limits *lim)
{
    const char *err = NULL;
    uint8_t *copy = dup_exact(p, n);
    long r = resp_reply_len(copy, n, lim, &err);
    if (r != -1) fail_msg("expected -1 for \"%.*s\", got %ld", (int)n, (const char *)p, r);
    assert_non_null(err);
    free(copy);
}

#define EXPECT_BAD_REPLY(lit, lim) expect_bad_reply((lit), sizeof(lit) - 1, (lim))

static void test_reply_len(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) expect_reply(replies[i].p, replies[i].n, &LIM);
}

static void test_reply_len_malformed(void **state)
{
    (void)state;
    EXPECT_BAD_REPLY("?\r\n", &LIM);
    EXPECT_BAD_REPLY("x\r\n", &LIM);
    EXPECT_BAD_REPLY("\r\n", &LIM);
    EXPECT_BAD_REPLY("$abc\r\n", &LIM);
    EXPECT_BAD_REPLY("$\r\n", &LIM);
    EXPECT_BAD_REPLY("$-2\r\n", &LIM);
    EXPECT_BAD_REPLY("$3\r\nabcde\r\n", &LIM);
    EXPECT_BAD_REPLY("!3\r\nabc\n\r", &LIM);
    EXPECT_BAD_REPLY("*-2\r\n", &LIM);
    EXPECT_BAD_REPLY("*a\r\n", &LIM);
    EXPECT_BAD_REPLY("%x\r\n", &LIM);
    EXPECT_BAD_REPLY("*1\r\n?oops\r\n", &LIM);
    EXPECT_BAD_REPLY("*2\r\n:1\r\n$3\r\nabcde\r\n", &LIM);
    EXPECT_BAD_REPLY("|1\r\n+a\r\n+b\r\n$x\r\n", &LIM);
    EXPECT_BAD_REPLY("$17\r\n", &SMALL);
    EXPECT_BAD_REPLY("*9\r\n", &SMALL);
    EXPECT_BAD_REPLY("$99999999999999999999\r\n", &LIM);
    EXPECT_BAD_REPLY("$9999999999999999999\r\n", &LIM);
    EXPECT_BAD_REPLY("*9999999999999999999\r\n", &LIM);

    /* Nesting: up to max_depth (4) levels below the top are fine. */
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 4; i++) buf_append(&b, "*1\r\n", 4);
    buf_append(&b, ":1\r\n", 4);
    expect_reply(b.p, b.len, &SMALL);
    b.len = 0;
    for (int i = 0; i < 5; i++) buf_append(&b, "*1\r\n", 4);
    buf_append(&b, ":1\r\n", 4);
    expect_bad_reply(b.p, b.len, &SMALL);
    b.len = 0;
    for (int i = 0; i < 3; i++) buf_append(&b, "%1\r\n+k\r\n", 8);
    buf_append(&b, "~1\r\n>1\r\n:1\r\n", 12);
    expect_bad_reply(b.p, b.len, &SMALL);
    /* Deep enough to overflow the stack if nothing stopped it. */
    b.len = 0;
    for (int i = 0; i < 200000; i++) buf_append(&b, "*1\r\n", 4);
    expect_bad_reply(b.p, b.len, &LIM);
    buf_close(&b);
}

/* ---- writing replies ---------------------------------------------------- */

#define ASSERT_BUF(b, lit)                                       \
    do {                                                         \
        assert_false((b)->oom);                                  \
        assert_int_equal((b)->len, sizeof(lit) - 1);             \
        assert_memory_equal((b)->p, (lit), sizeof(lit) - 1);     \
        (b)->len = 0;                                            \
    } while (0)

static void test_writer(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);

    resp_simple(&b, "PONG");
    ASSERT_BUF(&b, "+PONG\r\n");
    resp_ok(&b);
    ASSERT_BUF(&b, "+OK\r\n");
    resp_error(&b, "ERR", "unknown command");
    ASSERT_BUF(&b, "-ERR unknown command\r\n");
    resp_error(&b, "NOAUTH", NULL);
    ASSERT_BUF(&b, "-NOAUTH\r\n");
    resp_error(&b, "NOAUTH", "");
    ASSERT_BUF(&b, "-NOAUTH\r\n");
    resp_error(&b, "ERR", "line one\r\nline two\n\r");
    ASSERT_BUF(&b, "-ERR line one  line two  \r\n");
    resp_errorf(&b, "WRONGTYPE", "%s holds %d\r\n", "key", 3);
    ASSERT_BUF(&b, "-WRONGTYPE key holds 3  \r\n");
    resp_errorf(&b, "ERR", "bad '%s'", "a\nb");
    ASSERT_BUF(&b, "-ERR bad 'a b'\r\n");
    resp_int(&b, 0);
    ASSERT_BUF(&b, ":0\r\n");
    resp_int(&b, -42);
    ASSERT_BUF(&b, ":-42\r\n");
    resp_int(&b, INT64_MAX);
    ASSERT_BUF(&b, ":9223372036854775807\r\n");
    resp_int(&b, INT64_MIN);
    ASSERT_BUF(&b, ":-9223372036854775808\r\n");
    resp_bulk(&b, "a\0\r\nb", 5);
    ASSERT_BUF(&b, "$5\r\na\0\r\nb\r\n");
    resp_bulk(&b, NULL, 0);
    ASSERT_BUF(&b, "$0\r\n\r\n");
    resp_bulk_str(&b, "hello");
    ASSERT_BUF(&b, "$5\r\nhello\r\n");
    resp_null(&b, 2);
    ASSERT_BUF(&b, "$-1\r\n");
    resp_null(&b, 3);
    ASSERT_BUF(&b, "_\r\n");
    resp_null_array(&b, 2);
    ASSERT_BUF(&b, "*-1\r\n");
    resp_null_array(&b, 3);
    ASSERT_BUF(&b, "_\r\n");
    resp_array(&b, 0);
    ASSERT_BUF(&b, "*0\r\n");
    resp_array(&b, 12);
    ASSERT_BUF(&b, "*12\r\n");
    resp_map(&b, 2, 2);
    ASSERT_BUF(&b, "*4\r\n");
    resp_map(&b, 3, 2);
    ASSERT_BUF(&b, "%2\r\n");
    resp_set(&b, 2, 3);
    ASSERT_BUF(&b, "*3\r\n");
    resp_set(&b, 3, 3);
    ASSERT_BUF(&b, "~3\r\n");
    resp_verbatim(&b, 2, "hello");
    ASSERT_BUF(&b, "$5\r\nhello\r\n");
    resp_verbatim(&b, 3, "hello");
    ASSERT_BUF(&b, "=9\r\ntxt:hello\r\n");
    resp_verbatim(&b, 3, "");
    ASSERT_BUF(&b, "=4\r\ntxt:\r\n");
    buf_close(&b);
}

/* Messages and bulks far past the first allocation. */
static void test_writer_growth(void **state)
{
    (void)state;
    struct buf b;
    char msg[2000];
    buf_init(&b);
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = 0;
    msg[100] = '\n';
    resp_errorf(&b, "ERR", "%s", msg);
    assert_false(b.oom);
    assert_true(b.len >= 6 && b.len < 600); /* truncated, still one line */
    assert_memory_equal(b.p + b.len - 2, "\r\n", 2);
    assert_null(memchr(b.p, '\n', b.len - 1));
    assert_null(memchr(b.p, '\r', b.len - 2));
    const char *err;
    assert_int_equal(resp_reply_len(b.p, b.len, &LIM, &err), (long)b.len);
    b.len = 0;

    size_t n = 100000;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 31);
    resp_bulk(&b, big, n);
    assert_false(b.oom);
    assert_int_equal(b.len, 9 + n + 2);
    assert_memory_equal(b.p, "$100000\r\n", 9);
    assert_memory_equal(b.p + 9, big, n);
    assert_int_equal(resp_reply_len(b.p, b.len, &LIM, &err), (long)b.len);
    free(big);
    buf_close(&b);
}

/* Write a random reply of at most `depth` levels; returns nothing, the buffer
 * holds it. Error messages carry CR and LF, which must not break framing. */
static void random_reply(struct buf *b, int proto, int depth)
{
    char text[48];
    size_t tn = rng_below(sizeof text);
    for (size_t i = 0; i < tn; i++) text[i] = (char)(rng() % 3 == 0 ? "\r\n"[rng() % 2] : 'a' + (int)rng_below(26));
    text[tn] = 0;
    switch (depth > 0 ? rng() % 14 : rng() % 9) {
        case 0: resp_ok(b); break;
        case 1: resp_simple(b, "QUEUED"); break;
        case 2: resp_error(b, "ERR", text); break;
        case 3: resp_errorf(b, "WRONGTYPE", "%s %d", text, (int)tn); break;
        case 4: resp_int(b, (int64_t)rng()); break;
        case 5: resp_bulk(b, text, tn); break;
        case 6: resp_null(b, proto); break;
        case 7: resp_null_array(b, proto); break;
        case 8: resp_verbatim(b, proto, text); break;
        case 9: case 10: {
            size_t n = rng_below(5);
            resp_array(b, n);
            while (n--) random_reply(b, proto, depth - 1);
            break;
        }
        case 11: case 12: {
            size_t n = rng_below(4);
            resp_map(b, proto, n);
            while (n--) {
                random_reply(b, proto, depth - 1);
                random_reply(b, proto, depth - 1);
            }
            break;
        }
        default: {
            size_t n = rng_below(4);
            resp_set(b, proto, n);
            while (n--) random_reply(b, proto, depth - 1);
            break;
        }
    }
}

/* Whatever the writer produces, the scanner reads back as one reply. */
static void test_writer_scanner_agree(void **state)
{
    (void)state;
    rng_seed(5);
    for (int iter = 0; iter < 2000; iter++) {
        struct buf b;
        int proto = 2 + iter % 2;
        buf_init(&b);
        random_reply(&b, proto, 4);
        assert_false(b.oom);
        if (iter % 50 == 0 && b.len <= 4096) {
            expect_reply(b.p, b.len, &LIM);
        } else {
            const char *err = "unset";
            uint8_t *copy = dup_exact(b.p, b.len);
            long r = resp_reply_len(copy, b.len, &LIM, &err);
            if (r != (long)b.len) fail_msg("proto %d: %ld of %zu bytes (%s)", proto, r, b.len, err ? err : "");
            if (b.len > 1) assert_int_equal(resp_reply_len(copy, b.len - 1, &LIM, &err), 0);
            free(copy);
        }
        buf_close(&b);
    }
}

/* ---- glob --------------------------------------------------------------- */

static bool gm(const char *pattern, const char *s)
{
    return resp_glob_match(pattern, strlen(pattern), (const uint8_t *)s, strlen(s));
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(gm("*", ""));
    assert_true(gm("*", "anything"));
    assert_true(gm("**", "x"));
    assert_true(gm("", ""));
    assert_false(gm("", "a"));
    assert_false(gm("?", ""));
    assert_true(gm("h?llo", "hello"));
    assert_true(gm("h?llo", "hallo"));
    assert_false(gm("h?llo", "hllo"));
    assert_false(gm("??", "a"));
    assert_true(gm("h*llo", "hllo"));
    assert_true(gm("h*llo", "heeeello"));
    assert_false(gm("h*llo", "hellox"));
    assert_true(gm("*a", "ba"));
    assert_true(gm("a*", "ab"));
    assert_true(gm("*b*", "abc"));
    assert_true(gm("a*b*c", "aXbYc"));
    assert_false(gm("a*b*c", "aXcYb"));
    assert_true(gm("user:*:name", "user:42:name"));
    assert_true(gm("h[ae]llo", "hello"));
    assert_true(gm("h[ae]llo", "hallo"));
    assert_false(gm("h[ae]llo", "hillo"));
    assert_true(gm("h[^e]llo", "hallo"));
    assert_false(gm("h[^e]llo", "hello"));
    assert_true(gm("h[a-b]llo", "hallo"));
    assert_true(gm("h[a-b]llo", "hbllo"));
    assert_false(gm("h[a-b]llo", "hcllo"));
    assert_true(gm("[a-z]", "m"));
    assert_false(gm("[a-z]", "M"));
    assert_true(gm("[z-a]", "m")); /* reversed range */
    assert_false(gm("[z-a]", "M"));
    assert_true(gm("[^a-c]x", "dx"));
    assert_false(gm("[^a-c]x", "bx"));
    assert_true(gm("[a-]", "-"));
    assert_true(gm("[\\]]", "]"));
    assert_true(gm("[\\-]", "-"));
    assert_false(gm("[\\-]", "\\"));
    assert_true(gm("[*?]", "*"));
    assert_false(gm("[*?]", "a"));
    assert_true(gm("h\\*llo", "h*llo"));
    assert_false(gm("h\\*llo", "hello"));
    assert_true(gm("h\\?llo", "h?llo"));
    assert_false(gm("h\\?llo", "hello"));
    assert_true(gm("\\[a]", "[a]"));
    assert_false(gm("\\[a]", "a"));
    assert_true(gm("ab\\", "ab\\")); /* a trailing backslash is literal */
    /* An unterminated '[' is an ordinary character. */
    assert_true(gm("[abc", "[abc"));
    assert_false(gm("[abc", "a"));
    assert_true(gm("a[", "a["));
    assert_true(gm("*[", "xx["));
    assert_false(gm("a[", "ab"));
    assert_true(gm("[^", "[^"));

    /* Binary strings: NUL is an ordinary byte on both sides. */
    assert_true(resp_glob_match("a\0*", 3, (const uint8_t *)"a\0bc", 4));
    assert_false(resp_glob_match("a\0*", 3, (const uint8_t *)"a", 1));
    assert_true(resp_glob_match("a?c", 3, (const uint8_t *)"a\0c", 3));
    assert_false(resp_glob_match("a\0b", 3, (const uint8_t *)"a\0c", 3));
    assert_true(resp_glob_match("[\0-\x02]", 5, (const uint8_t *)"\x01", 1));
    assert_true(resp_glob_match("*\xff", 2, (const uint8_t *)"ab\xff", 3));
    assert_false(resp_glob_match("a", 1, (const uint8_t *)"a\0", 2));
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Patterns that take exponential time in a naive backtracking matcher. */
static void test_glob_pathological(void **state)
{
    (void)state;
    size_t n = 10000;
    uint8_t *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'a', n);
    double t0 = seconds();
    static const char p1[] = "a*a*a*a*a*a*a*b";
    assert_false(resp_glob_match(p1, sizeof p1 - 1, s, n));
    static const char p2[] = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b*";
    assert_false(resp_glob_match(p2, sizeof p2 - 1, s, n));
    static const char p3[] = "*[a]*?*[^b]*a*a*a*a*a*a*a*a*a*a*\\b";
    assert_false(resp_glob_match(p3, sizeof p3 - 1, s, n));
    s[n] = 'b';
    assert_true(resp_glob_match(p1, sizeof p1 - 1, s, n + 1));
    double dt = seconds() - t0;
    if (dt > 2.0) fail_msg("pathological patterns took %.2f s", dt);
    free(s);
}

/* A direct recursive statement of the same rules, for small inputs. */
static bool ref_class(const char *p, size_t pl, uint8_t c, size_t *used)
{
    size_t i = 1;
    bool neg = i < pl && p[i] == '^', match = false;
    if (neg) i++;
    while (i < pl && p[i] != ']') {
        if (p[i] == '\\' && i + 1 < pl) {
            match |= (uint8_t)p[i + 1] == c;
            i += 2;
        } else if (i + 2 < pl && p[i + 1] == '-' && p[i + 2] != ']') {
            uint8_t a = (uint8_t)p[i], z = (uint8_t)p[i + 2];
            match |= a <= z ? c >= a && c <= z : c >= z && c <= a;
            i += 3;
        } else {
            match |= (uint8_t)p[i] == c;
            i++;
        }
    }
    *used = i < pl ? i + 1 : 0;
    return neg != match;
}

static bool ref_match(const char *p, size_t pl, const uint8_t *s, size_t sl_)
{
    if (pl == 0) return sl_ == 0;
    if (p[0] == '*') return ref_match(p + 1, pl - 1, s, sl_) || (sl_ > 0 && ref_match(p, pl, s + 1, sl_ - 1));
    if (sl_ == 0) return false;
    if (p[0] == '?') return ref_match(p + 1, pl - 1, s + 1, sl_ - 1);
    if (p[0] == '[') {
        size_t used;
        bool m = ref_class(p, pl, s[0], &used);
        if (used == 0) return s[0] == '[' && ref_match(p + 1, pl - 1, s + 1, sl_ - 1);
        return m && ref_match(p + used, pl - used, s + 1, sl_ - 1);
    }
    if (p[0] == '\\' && pl > 1) return (uint8_t)p[1] == s[0] && ref_match(p + 2, pl - 2, s + 1, sl_ - 1);
    return (uint8_t)p[0] == s[0] && ref_match(p + 1, pl - 1, s + 1, sl_ - 1);
}

static void test_glob_fuzz(void **state)
{
    (void)state;
    static const char pchars[] = "ab*?[]^-\\";
    static const char schars[] = "ab[]-\\*";
    char p[10];
    uint8_t s[10];
    rng_seed(6);
    for (int iter = 0; iter < 200000; iter++) {
        size_t pl = rng_below(sizeof p + 1), n = rng_below(sizeof s + 1);
        for (size_t i = 0; i < pl; i++) p[i] = pchars[rng_below(sizeof pchars - 1)];
        for (size_t i = 0; i < n; i++) s[i] = (uint8_t)schars[rng_below(sizeof schars - 1)];
        char *pc = (char *)dup_exact(p, pl);
        uint8_t *sc = dup_exact(s, n);
        bool got = resp_glob_match(pc, pl, sc, n), want = ref_match(p, pl, s, n);
        if (got != want)
            fail_msg("glob \"%.*s\" on \"%.*s\": %d, want %d", (int)pl, p, (int)n, (const char *)s, got, want);
        free(pc);
        free(sc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_small),
        cmocka_unit_test(test_multibulk_big),
        cmocka_unit_test(test_multibulk_many_args),
        cmocka_unit_test(test_multibulk_empty),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_inline_limit),
        cmocka_unit_test(test_multibulk_errors),
        cmocka_unit_test(test_claimed_count_costs_nothing),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_reply_len),
        cmocka_unit_test(test_reply_len_malformed),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_growth),
        cmocka_unit_test(test_writer_scanner_agree),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_glob_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
