/* tests: the RESP reply scanner and writer (api/resp/resp.h): every reply
 * type scanned whole and refused when malformed, the writer's output, its
 * growth, and scanner and writer agreeing on random replies. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_len),
        cmocka_unit_test(test_reply_len_malformed),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_growth),
        cmocka_unit_test(test_writer_scanner_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
