/* tests: the set, counter and session checkers (jepsen/checker/check.h),
 * each on both sides of each of its rules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"
#include "tests/lib/testlib.h"
#include "jepsen/tests/checker_fixture.h"

/* ---- set ----------------------------------------------------------------- */

static void test_set_valid(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "s", Q("a"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_ADD, "s", Q("b"), JOP_OK, NULL, 5, 15);
    op(&h, 3, JF_ADD, "s", Q("d"), JOP_INFO, NULL, 20, 30);  /* absent: fine */
    op(&h, 4, JF_ADD, "s", Q("e"), JOP_INFO, NULL, 20, 30);  /* present: recovered */
    op(&h, 5, JF_ADD, "s", Q("f"), JOP_FAIL, NULL, 20, 30);  /* absent, as it must */
    op(&h, 6, JF_ADD, "s", Q("g"), OPEN, NULL, 40, 0);       /* present: fine */
    op(&h, 7, JF_ADD, "s", Q("c"), JOP_OK, NULL, 45, 200);   /* concurrent, absent */
    op(&h, 1, JF_READ, "s", NULL, JOP_OK, "[\"a\"]", 40, 45); /* not the final read */
    op(&h, 1, JF_READ, "s", NULL, JOP_OK, "[\"b\",\"a\",\"e\",\"g\"]", 50, 60);
    assert_int_equal(run(JW_SET, &h, NULL, &r), JV_VALID);
    assert_contains(r.report, "7 adds, 3 ok, 0 lost, 0 unexpected, 2 recovered");
    jresult_free(&r);
}

static void test_set_lost(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "s", Q("a"), JOP_OK, NULL, 0, 10);
    op(&h, 1, JF_ADD, "s", Q("b"), JOP_OK, NULL, 20, 30);
    op(&h, 2, JF_READ, "s", NULL, JOP_OK, "[\"a\"]", 40, 50);
    assert_int_equal(run(JW_SET, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "1 lost");
    assert_contains(r.report, "#3 process 1 add \"b\" -> ok");
    assert_string_equal(r.bad_key, "s");
    jresult_free(&r);
}

static void test_set_unexpected(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "s", Q("a"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_READ, "s", NULL, JOP_OK, "[\"a\",\"z\"]", 40, 50);
    assert_verdict(JW_SET, &h, JV_INVALID);
    /* an element whose only add failed */
    jhist_init(&h);
    op(&h, 1, JF_ADD, "s", Q("a"), JOP_FAIL, NULL, 0, 10);
    op(&h, 2, JF_READ, "s", NULL, JOP_OK, "[\"a\"]", 40, 50);
    assert_verdict(JW_SET, &h, JV_INVALID);
    /* an element added only after the read completed */
    jhist_init(&h);
    op(&h, 2, JF_READ, "s", NULL, JOP_OK, "[\"a\"]", 0, 10);
    op(&h, 1, JF_ADD, "s", Q("a"), JOP_OK, NULL, 20, 30);
    assert_verdict(JW_SET, &h, JV_INVALID);
}

static void test_set_no_read(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "s", Q("a"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_READ, "s", NULL, JOP_INFO, NULL, 40, 50);
    assert_verdict(JW_SET, &h, JV_UNKNOWN);
}

/* ---- counter ------------------------------------------------------------- */

static void counter_case(const char *read, int64_t t0, int64_t t1, enum jverdict want)
{
    struct jhist h;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "c", "1", JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_ADD, "c", "2", JOP_OK, NULL, 5, 15);
    op(&h, 3, JF_ADD, "c", "5", JOP_INFO, NULL, 20, 30);
    op(&h, 4, JF_ADD, "c", "100", JOP_FAIL, NULL, 20, 30);
    op(&h, 5, JF_ADD, "c", "10", JOP_OK, NULL, 100, 200);
    op(&h, 9, JF_READ, "c", NULL, JOP_OK, read, t0, t1);
    assert_verdict(JW_COUNTER, &h, want);
}

static void test_counter(void **state)
{
    (void)state;
    counter_case("3", 50, 60, JV_VALID);   /* the info add not (yet) applied */
    counter_case("8", 50, 60, JV_VALID);   /* ... or applied */
    counter_case("2", 50, 60, JV_INVALID); /* an acknowledged add missing */
    counter_case("9", 50, 60, JV_INVALID); /* more than was ever added */
    counter_case("103", 50, 60, JV_INVALID); /* a failed add counted */
    counter_case("13", 150, 160, JV_VALID);  /* the concurrent add applied */
    counter_case("3", 150, 160, JV_VALID);   /* ... or not */
    counter_case("18", 150, 160, JV_VALID);
    counter_case("13", 300, 310, JV_VALID);  /* final: all ok adds in */
    counter_case("3", 300, 310, JV_INVALID);
    counter_case("null", 0, 1, JV_VALID);    /* absent counter reads as 0 */
}

static void test_counter_negative(void **state)
{
    static const struct
    {
        const char *read;
        enum jverdict want;
    } cases[] = {{"-3", JV_VALID}, {"-1", JV_VALID}, {"-5", JV_VALID},
                 {"-6", JV_INVALID}, {"0", JV_INVALID}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct jhist h;
        jhist_init(&h);
        op(&h, 1, JF_ADD, "c", "-3", JOP_OK, NULL, 0, 10);
        op(&h, 2, JF_ADD, "c", "2", JOP_INFO, NULL, 0, 10);
        op(&h, 3, JF_ADD, "c", "-2", JOP_INFO, NULL, 0, 10);
        op(&h, 9, JF_READ, "c", NULL, JOP_OK, cases[i].read, 20, 30);
        assert_verdict(JW_COUNTER, &h, cases[i].want);
    }
}

static void test_counter_no_read(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "c", "1", JOP_OK, NULL, 0, 10);
    assert_verdict(JW_COUNTER, &h, JV_UNKNOWN);
}

/* ---- session ------------------------------------------------------------- */

static void w_ttl(struct jhist *h, int64_t p, const char *v, int outcome, int64_t t0_ms,
                  int64_t ttl)
{
    op_ttl(h, p, JF_WRITE, "s", v, outcome, NULL, t0_ms * MS, t0_ms * MS + MS, ttl);
}

static void rd(struct jhist *h, int64_t p, const char *v, int64_t t0_ms)
{
    op(h, p, JF_READ, "s", NULL, JOP_OK, v, t0_ms * MS, t0_ms * MS + MS);
}

static void refresh(struct jhist *h, int64_t p, const char *res, int64_t t0_ms, int64_t ttl)
{
    op_ttl(h, p, JF_REFRESH, "s", NULL, JOP_OK, res, t0_ms * MS, t0_ms * MS + MS, ttl);
}

static void test_session_valid(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    rd(&h, 2, Q("v1"), 100);
    rd(&h, 2, NULL, 970);  /* within the 50 ms margin of the expiry: allowed */
    rd(&h, 2, NULL, 2000); /* expired */
    refresh(&h, 3, "false", 2100, 1000); /* a missing key stays missing */
    rd(&h, 2, NULL, 2200);
    w_ttl(&h, 1, Q("v2"), JOP_OK, 3000, 1000); /* a new write may bring it back */
    refresh(&h, 3, "true", 3500, 1000);
    rd(&h, 2, Q("v2"), 4200); /* refreshed: still there */
    w_ttl(&h, 1, Q("v3"), JOP_INFO, 5000, 1000);
    rd(&h, 2, Q("v2"), 5000); /* concurrent with the info write */
    rd(&h, 2, Q("v3"), 5100); /* the info write took effect */
    assert_verdict(JW_SESSION, &h, JV_VALID);
}

static void test_session_vanished(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    rd(&h, 2, NULL, 500);
    assert_int_equal(run(JW_SESSION, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "1 vanished");
    jresult_free(&r);
    /* after a refresh extended the ttl */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    refresh(&h, 3, "true", 900, 1000);
    rd(&h, 2, NULL, 1500);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    /* a refresh that says the key is gone while it cannot be */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    refresh(&h, 3, "false", 500, 1000);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    /* not a violation when a later write set a shorter ttl */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    w_ttl(&h, 4, Q("v2"), JOP_INFO, 100, 100);
    rd(&h, 2, NULL, 500);
    assert_verdict(JW_SESSION, &h, JV_VALID);
}

static void test_session_came_back(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 100);
    rd(&h, 2, NULL, 500);
    rd(&h, 2, Q("v1"), 600);
    assert_int_equal(run(JW_SESSION, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "1 came back");
    jresult_free(&r);
    /* a refresh of a missing key must not resurrect it */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 100);
    rd(&h, 2, NULL, 500);
    refresh(&h, 3, "true", 600, 1000);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    /* a write after the absence explains it */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 100);
    rd(&h, 2, NULL, 500);
    w_ttl(&h, 1, Q("v1"), JOP_INFO, 550, 1000);
    rd(&h, 2, Q("v1"), 600);
    assert_verdict(JW_SESSION, &h, JV_VALID);
}

/* Rule 4: seen past the latest expiry any setter gave it, by more than
 * late_ns + margin_ns (600 + 50 ms by default). */
static void test_session_outlived(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h); /* written [0, 1] ms with ttl 1000: gone by 1001 ms at the latest */
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    rd(&h, 2, Q("v1"), 1600); /* 599 ms late: within the election timeout */
    assert_verdict(JW_SESSION, &h, JV_VALID);
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    rd(&h, 2, Q("v1"), 1700);
    assert_int_equal(run(JW_SESSION, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "1 outlived");
    assert_contains(r.report, "outlived its ttl");
    jresult_free(&r);
    /* a refresh after the write moved the expiry: 1901 at the latest */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    refresh(&h, 3, "true", 900, 1000);
    rd(&h, 2, Q("v1"), 2500);
    assert_verdict(JW_SESSION, &h, JV_VALID);
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    refresh(&h, 3, "true", 900, 1000);
    rd(&h, 2, Q("v1"), 2600);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    /* a refresh that ended before the write began set nothing the write kept */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v0"), JOP_OK, 0, 5000);
    refresh(&h, 3, "true", 100, 5000);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 200, 1000);
    rd(&h, 2, Q("v1"), 2000);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    /* an uncertain refresh may apply up to info_ns after it ended... */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    op_ttl(&h, 3, JF_REFRESH, "s", NULL, JOP_INFO, NULL, 900 * MS, 901 * MS, 1000);
    rd(&h, 2, Q("v1"), 5000);
    assert_verdict(JW_SESSION, &h, JV_VALID);
    /* ...and not later, under that assumption (info_ns 1 s here) */
    struct jbudget b = JBUDGET_DEFAULT;
    b.info_ns = 1000 * MS;
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    op_ttl(&h, 3, JF_REFRESH, "s", NULL, JOP_INFO, NULL, 900 * MS, 901 * MS, 1000);
    rd(&h, 2, Q("v1"), 5000);
    assert_int_equal(run(JW_SESSION, &h, &b, &r), JV_INVALID);
    jresult_free(&r);
    /* no ttl: never outlived; late_ns is the allowance */
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, -1);
    rd(&h, 2, Q("v1"), 100000);
    assert_verdict(JW_SESSION, &h, JV_VALID);
    b = JBUDGET_DEFAULT;
    b.late_ns = 5000 * MS;
    jhist_init(&h);
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    rd(&h, 2, Q("v1"), 1700);
    assert_int_equal(run(JW_SESSION, &h, &b, &r), JV_VALID);
    jresult_free(&r);
}

static void test_session_values(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h); /* never written */
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, 1000);
    rd(&h, 2, Q("zz"), 100);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    jhist_init(&h); /* stale: v2 certainly replaced v1 before the read */
    w_ttl(&h, 1, Q("v1"), JOP_OK, 0, -1);
    w_ttl(&h, 1, Q("v2"), JOP_OK, 10, -1);
    rd(&h, 2, Q("v1"), 20);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
    jhist_init(&h); /* failed writes do not count */
    w_ttl(&h, 1, Q("v1"), JOP_FAIL, 0, 1000);
    rd(&h, 2, Q("v1"), 20);
    assert_verdict(JW_SESSION, &h, JV_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_valid),
        cmocka_unit_test(test_set_lost),
        cmocka_unit_test(test_set_unexpected),
        cmocka_unit_test(test_set_no_read),
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_counter_negative),
        cmocka_unit_test(test_counter_no_read),
        cmocka_unit_test(test_session_valid),
        cmocka_unit_test(test_session_vanished),
        cmocka_unit_test(test_session_came_back),
        cmocka_unit_test(test_session_outlived),
        cmocka_unit_test(test_session_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
