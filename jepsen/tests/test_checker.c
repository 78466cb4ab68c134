/* tests: the register checker (jepsen/checker/check.h): hand-written
 * histories it must reject (stale read, lost write, double cas, never-written
 * value, a failed write observed) and accept (concurrency either way, info
 * writes early, late or never, fail ops, cas chains, many keys), and the
 * budget giving up on a pathological history. Set, counter and session
 * models: test_checker_models.c; the history formats:
 * test_checker_format.c; random histories and an oracle:
 * test_checker_random.c. Set JEPSEN_TEST_VERBOSE=1 to see every report. */
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

/* ---- register: rejected -------------------------------------------------- */

static void test_reg_stale_read(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k1", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 1, JF_WRITE, "k1", Q("v2"), JOP_OK, NULL, 20, 30);
    op(&h, 2, JF_READ, "k1", NULL, JOP_OK, Q("v1"), 40, 50);
    assert_int_equal(run(JW_REGISTER, &h, NULL, &r), JV_INVALID);
    assert_string_equal(r.bad_key, "k1");
    assert_int_equal(r.bad_keys, 1);
    assert_int_equal(r.ops_checked, 3);
    /* the stuck read, with the value the register held, and the trail */
    assert_contains(r.report, "#5 process 2 read -> ok \"v1\"  [invoke 40, ok 50]");
    assert_contains(r.report, "leaving the register holding \"v2\"");
    assert_contains(r.report, "#3 process 1 write \"v2\" -> ok");
    jresult_free(&r);
}

static void test_reg_lost_write(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k1", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_READ, "k1", NULL, JOP_OK, NULL, 20, 30);
    assert_verdict(JW_REGISTER, &h, JV_INVALID);
}

static void test_reg_double_cas(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v0"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_CAS, "k", "[\"v0\",\"a\"]", JOP_OK, NULL, 20, 40);
    op(&h, 3, JF_CAS, "k", "[\"v0\",\"b\"]", JOP_OK, NULL, 25, 35);
    assert_verdict(JW_REGISTER, &h, JV_INVALID);
}

static void test_reg_never_written(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_READ, "k", NULL, JOP_OK, Q("v9"), 20, 30);
    assert_int_equal(run(JW_REGISTER, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "read returned \"v9\", which no write or cas to the key wrote");
    jresult_free(&r);
    /* ... and a cas expecting a value nobody wrote */
    jhist_init(&h);
    op(&h, 2, JF_CAS, "k", "[\"v9\",\"a\"]", JOP_OK, NULL, 20, 30);
    assert_verdict(JW_REGISTER, &h, JV_INVALID);
}

/* A read may not see a write invoked after it completed. */
static void test_reg_read_from_future(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 2, JF_READ, "k", NULL, JOP_OK, Q("v1"), 0, 10);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 20, 30);
    assert_verdict(JW_REGISTER, &h, JV_INVALID);
}

/* fail means it did not happen: a read that sees it is a violation. */
static void test_reg_failed_write_seen(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 1, JF_WRITE, "k", Q("v2"), JOP_FAIL, NULL, 20, 30);
    op(&h, 2, JF_READ, "k", NULL, JOP_OK, Q("v2"), 40, 50);
    assert_verdict(JW_REGISTER, &h, JV_INVALID);
}

/* An info write may be late, but cannot take effect twice. */
static void test_reg_info_once(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_WRITE, "k", Q("v2"), JOP_INFO, NULL, 20, 30);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v2"), 100, 110);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v1"), 120, 130);
    assert_verdict(JW_REGISTER, &h, JV_INVALID);
}

/* ---- register: accepted -------------------------------------------------- */

static void test_reg_concurrent_read(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        struct jhist h;
        jhist_init(&h);
        op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
        op(&h, 1, JF_WRITE, "k", Q("v2"), JOP_OK, NULL, 20, 40);
        op(&h, 2, JF_READ, "k", NULL, JOP_OK, i ? Q("v2") : Q("v1"), 25, 35);
        assert_verdict(JW_REGISTER, &h, JV_VALID);
    }
    /* Intervals that only touch count as concurrent. */
    {
        struct jhist h;
        jhist_init(&h);
        op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
        op(&h, 2, JF_READ, "k", NULL, JOP_OK, NULL, 10, 20);
        assert_verdict(JW_REGISTER, &h, JV_VALID);
    }
}

static void test_reg_info_later(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_WRITE, "k", Q("v2"), JOP_INFO, NULL, 20, 30);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v1"), 50, 60);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v2"), 100, 110);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v2"), 120, 130);
    assert_verdict(JW_REGISTER, &h, JV_VALID);
    /* the same with the invoke left open at the end of the history */
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_WRITE, "k", Q("v2"), OPEN, NULL, 20, 0);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v1"), 50, 60);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v2"), 100, 110);
    assert_verdict(JW_REGISTER, &h, JV_VALID);
}

static void test_reg_info_never(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 2, JF_WRITE, "k", Q("v2"), JOP_INFO, NULL, 20, 30);
    op(&h, 2 + 100, JF_CAS, "k", "[\"v1\",\"v3\"]", JOP_INFO, NULL, 20, 30);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v1"), 100, 110);
    op(&h, 4, JF_DEL, "k", NULL, JOP_INFO, NULL, 105, 130);
    op(&h, 3, JF_READ, "k", NULL, JOP_OK, Q("v1"), 200, 210);
    assert_verdict(JW_REGISTER, &h, JV_VALID);
}

static void test_reg_fail_ignored(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("v1"), JOP_OK, NULL, 0, 10);
    op(&h, 1, JF_WRITE, "k", Q("v2"), JOP_FAIL, NULL, 20, 30);
    op(&h, 1, JF_CAS, "k", "[\"v2\",\"v3\"]", JOP_FAIL, NULL, 40, 50);
    op(&h, 1, JF_DEL, "k", NULL, JOP_FAIL, NULL, 60, 70);
    op(&h, 2, JF_READ, "k", NULL, JOP_FAIL, NULL, 60, 70);
    op(&h, 2, JF_READ, "k", NULL, JOP_OK, Q("v1"), 80, 90);
    assert_verdict(JW_REGISTER, &h, JV_VALID);
}

static void test_reg_cas_chain(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_CAS, "k", "[null,\"v0\"]", JOP_OK, NULL, 0, 10);
    op(&h, 1, JF_CAS, "k", "[\"v0\",\"v1\"]", JOP_OK, NULL, 20, 30);
    op(&h, 2, JF_CAS, "k", "[\"v1\",\"v2\"]", JOP_OK, NULL, 25, 45);
    op(&h, 3, JF_CAS, "k", "[\"v0\",\"v3\"]", JOP_FAIL, NULL, 26, 46);
    op(&h, 1, JF_READ, "k", NULL, JOP_OK, Q("v2"), 50, 60);
    op(&h, 1, JF_DEL, "k", NULL, JOP_OK, NULL, 70, 80);
    op(&h, 2, JF_READ, "k", NULL, JOP_OK, NULL, 90, 100);
    op(&h, 2, JF_CAS, "k", "[null,\"v4\"]", JOP_OK, NULL, 110, 120);
    op(&h, 1, JF_READ, "k", NULL, JOP_OK, Q("v4"), 130, 140);
    assert_verdict(JW_REGISTER, &h, JV_VALID);
}

/* Each key is judged alone; one bad key makes the history invalid. */
static void test_reg_many_keys(void **state)
{
    static const char *keys[] = {"a", "b", "c", "d", "e"};
    struct jresult r;
    struct jhist h;
    (void)state;
    for (int bad = 0; bad < 2; bad++) {
        jhist_init(&h);
        for (int i = 0; i < 5; i++) {
            int64_t t = i; /* interleaved in time across keys */
            op(&h, 10 * i + 1, JF_WRITE, keys[i], Q("x"), JOP_OK, NULL, t, t + 50);
            op(&h, 10 * i + 2, JF_WRITE, keys[i], Q("y"), JOP_OK, NULL, t + 5, t + 55);
            op(&h, 10 * i + 3, JF_READ, keys[i], NULL, JOP_OK, Q("x"), t + 60, t + 70);
            /* once x was read after both writes, y is gone for good */
            op(&h, 10 * i + 3, JF_READ, keys[i], NULL, JOP_OK,
               bad && i == 3 ? Q("y") : Q("x"), t + 80, t + 90);
        }
        assert_int_equal(run(JW_REGISTER, &h, NULL, &r), bad ? JV_INVALID : JV_VALID);
        assert_int_equal(r.keys, 5);
        assert_int_equal(r.bad_keys, bad);
        if (bad) assert_string_equal(r.bad_key, "d");
        jresult_free(&r);
    }
}

/* 40 concurrent info writes, each observed, then reads that no order
 * explains: the search space is 2^40; the budget must end it. */
static void test_reg_budget(void **state)
{
    struct jbudget tiny[2] = {{0, 20000, 0, 0, 0}, {0.05, 0, 0, 0, 0}};
    char v[16];
    (void)state;
    for (int b = 0; b < 2; b++) {
        struct jresult r;
        struct jhist h;
        double t0 = (double)clock() / CLOCKS_PER_SEC;
        jhist_init(&h);
        for (int i = 0; i < 40; i++) {
            snprintf(v, sizeof v, "\"v%d\"", i);
            op(&h, i, JF_WRITE, "k", v, JOP_INFO, NULL, i, 1000);
        }
        for (int i = 0; i <= 40; i++) {
            snprintf(v, sizeof v, "\"v%d\"", i % 40);
            op(&h, 100, JF_READ, "k", NULL, JOP_OK, v, 2000 + 10 * i, 2005 + 10 * i);
        }
        assert_int_equal(run(JW_REGISTER, &h, &tiny[b], &r), JV_UNKNOWN);
        assert_string_equal(r.bad_key, "k");
        assert_int_equal(r.unknown_keys, 1);
        assert_contains(r.report, "undecided");
        assert_true((double)clock() / CLOCKS_PER_SEC - t0 < 5.0);
        jresult_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reg_stale_read),
        cmocka_unit_test(test_reg_lost_write),
        cmocka_unit_test(test_reg_double_cas),
        cmocka_unit_test(test_reg_never_written),
        cmocka_unit_test(test_reg_read_from_future),
        cmocka_unit_test(test_reg_failed_write_seen),
        cmocka_unit_test(test_reg_info_once),
        cmocka_unit_test(test_reg_concurrent_read),
        cmocka_unit_test(test_reg_info_later),
        cmocka_unit_test(test_reg_info_never),
        cmocka_unit_test(test_reg_fail_ignored),
        cmocka_unit_test(test_reg_cas_chain),
        cmocka_unit_test(test_reg_many_keys),
        cmocka_unit_test(test_reg_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
