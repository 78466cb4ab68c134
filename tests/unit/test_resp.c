/* tests: the RESP request parser (api/resp/resp.h).
 *
 * The parser sees whatever bytes a socket delivered, so every request is fed
 * whole, a byte at a time and in random chunks, and the answer must not depend
 * on how the bytes were split: RESP_MORE with a growing lower bound in *need
 * until the request is complete, then RESP_DONE consuming exactly the request.
 * Inputs the parser reads are copied into buffers of exactly their length so
 * that ASan sees any overread. The fuzz loop: test_resp_fuzz.c; replies:
 * test_resp_reply.c; glob matching: test_resp_glob.c. */
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

/* The text of the protocol error the request gets (the server writes it
 * after "Protocol error: "). */
static void expect_text(const char *lit, const struct resp_limits *lim, const char *want)
{
    struct resp_request req;
    size_t used = 0, need = 0;
    const char *err = NULL;
    resp_request_init(&req);
    assert_int_equal(resp_parse_request((const uint8_t *)lit, strlen(lit), lim, &req, &used, &need, &err),
                     RESP_EPROTO);
    assert_non_null(err);
    assert_string_equal(err, want);
    resp_request_close(&req);
}

/* Redis 7.2's words (networking.c; tests/unit/protocol.tcl). */
static void test_error_texts(void **state)
{
    (void)state;
    expect_text("*3000000000\r\n", &LIM, "invalid multibulk length");
    expect_text("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", &LIM, "expected '$', got 'f'");
    expect_text("*1\r\nfoo\r\n", &LIM, "expected '$', got 'f'");
    expect_text("*1\r\n:1\r\n", &LIM, "expected '$', got ':'");
    expect_text("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", &LIM, "invalid bulk length");
    expect_text("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", &LIM, "invalid bulk length");
    expect_text("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", &LIM, "invalid bulk length");
    expect_text("set \"\"\"test-key\"\"\" test-value\r\n", &LIM, "unbalanced quotes in request");
}

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
        cmocka_unit_test(test_error_texts),
        cmocka_unit_test(test_claimed_count_costs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
