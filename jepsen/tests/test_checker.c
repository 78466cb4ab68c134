/* tests: the Jepsen history format and checkers (jepsen/checker/history.h, check.h).
 *
 * Hand-written histories the register checker must reject (stale read, lost
 * write, double cas, never-written value, a failed write observed) and
 * accept (concurrency either way, info writes early, late or never, fail
 * ops, cas chains, many keys); the budget giving up on a pathological
 * history; set, counter and session cases on both sides of each rule; JSON
 * Lines round trips, EDN text and malformed input; and randomized histories
 * from a simulated linearizable register that must pass, then fail once a
 * read is corrupted. Set JEPSEN_TEST_VERBOSE=1 to see every report. */
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

#define Q(s) "\"" s "\"" /* a JSON string literal */
#define OPEN (-1)        /* an op that never completes */
#define MS 1000000LL     /* ns */

/* ---- building histories ------------------------------------------------- */

static void event(struct jhist *h, int64_t proc, enum jop_type t, enum jop_f f, const char *key,
                  const char *value, int64_t ttl_ms, int64_t time)
{
    struct jop op = {proc, t, f, (char *)key, (char *)value, ttl_ms, time, NULL};
    assert_int_equal(jhist_add(h, &op), 0);
}

/* One operation: its invoke at t0 and, unless OPEN, its completion at t1.
 * `in` is the invoke's value; `out` the completion's for reads and
 * refreshes (others repeat `in`, as Jepsen does). A process's operations
 * must be added in its order; different processes may interleave freely,
 * since the checkers order by time. */
static void op_ttl(struct jhist *h, int64_t proc, enum jop_f f, const char *key, const char *in,
                   int outcome, const char *out, int64_t t0, int64_t t1, int64_t ttl)
{
    bool result = f == JF_READ || f == JF_REFRESH;
    event(h, proc, JOP_INVOKE, f, key, f == JF_READ ? NULL : in, ttl, t0);
    if (outcome != OPEN)
        event(h, proc, (enum jop_type)outcome, f, key, result ? out : in, ttl, t1);
}

static void op(struct jhist *h, int64_t proc, enum jop_f f, const char *key, const char *in,
               int outcome, const char *out, int64_t t0, int64_t t1)
{
    op_ttl(h, proc, f, key, in, outcome, out, t0, t1, -1);
}

static bool verbose(void)
{
    const char *v = getenv("JEPSEN_TEST_VERBOSE");
    return v != NULL && v[0] == '1';
}

/* Check h with budget b (NULL: default), keep the result in *r, free h. */
static enum jverdict run(enum jworkload w, struct jhist *h, const struct jbudget *b,
                         struct jresult *r)
{
    int rv = jcheck(w, h, b, r);
    if (rv != 0) fail_msg("jcheck: %d: %s", rv, r->errmsg);
    assert_non_null(r->report);
    if (verbose()) print_message("%s: %s\n", jverdict_name(r->verdict), r->report);
    jhist_free(h);
    return r->verdict;
}

/* Check, free everything, return the verdict. */
static enum jverdict verdict(enum jworkload w, struct jhist *h)
{
    struct jresult r;
    enum jverdict v = run(w, h, NULL, &r);
    jresult_free(&r);
    return v;
}

#define assert_verdict(w, h, want) assert_string_equal(jverdict_name(verdict((w), (h))), \
                                                       jverdict_name(want))

static void assert_contains(const char *s, const char *part)
{
    if (s == NULL || strstr(s, part) == NULL)
        fail_msg("expected \"%s\" in:\n%s", part, s ? s : "(null)");
}

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

/* ---- the format ---------------------------------------------------------- */

/* A history touching every field and value shape. */
static void sample(struct jhist *h)
{
    struct jop ops[] = {
        {3, JOP_INVOKE, JF_WRITE, "k1", Q("v7"), -1, 123456789, NULL},
        {3, JOP_OK, JF_WRITE, "k1", Q("v7"), -1, 123456999, NULL},
        {4, JOP_INVOKE, JF_CAS, "k1", "[null,\"a\"]", -1, 200000000, NULL},
        {4, JOP_INFO, JF_CAS, "k1", "[null,\"a\"]", -1, 300000000, "timeout"},
        {5, JOP_INVOKE, JF_READ, "k\"2", NULL, -1, 400000000, NULL},
        {5, JOP_FAIL, JF_READ, "k\"2", NULL, -1, 400000001, "-TRYAGAIN not\nleader"},
        {6, JOP_INVOKE, JF_WRITE, "s", Q("caf\xc3\xa9"), 1500, 5, NULL},
        {6, JOP_OK, JF_REFRESH, "s", "true", 1500, 6, NULL},
        {7, JOP_INVOKE, JF_READ, "set", NULL, -1, 7, NULL},
        {7, JOP_OK, JF_READ, "set", "[\"a\",\"b\"]", -1, 8, NULL},
        {8, JOP_INVOKE, JF_ADD, "c", "-12", -1, 9, NULL},
        {8, JOP_OK, JF_ADD, "c", "-12", -1, 10, NULL},
        {9, JOP_INVOKE, JF_DEL, "k1", NULL, -1, 11, NULL},
        {9, JOP_OK, JF_DEL, "k1", "{\"b\":1.5,\"a\":false}", -1, 12, NULL},
    };
    jhist_init(h);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        assert_int_equal(jhist_add(h, &ops[i]), 0);
    }
}

static char *to_text(const struct jhist *h, int (*write)(const struct jhist *, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(write(h, f), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void assert_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
    } else {
        assert_string_equal(a, b);
    }
}

static void test_jsonl_roundtrip(void **state)
{
    static const char first_line[] = "{\"process\": 3, \"type\": \"invoke\", \"f\": \"write\", "
                                     "\"key\": \"k1\", \"value\": \"v7\", \"time\": 123456789}\n";
    struct jhist h, back;
    char *text, *again, errmsg[KEEL_ERRMSG_SIZE];
    FILE *f;
    (void)state;
    sample(&h);
    text = to_text(&h, jhist_write_jsonl);
    /* the field order of the format, one event per line */
    assert_int_equal(strncmp(text, first_line, strlen(first_line)), 0);
    assert_contains(text, "\"value\": \"café\", \"ttl_ms\": 1500, \"time\": 5}");
    assert_contains(text, "\"time\": 300000000, \"error\": \"timeout\"}");
    f = fmemopen(text, strlen(text), "r");
    jhist_init(&back);
    assert_int_equal(jhist_read_jsonl(&back, f, errmsg, sizeof errmsg), 0);
    fclose(f);
    assert_int_equal(back.n, h.n);
    for (size_t i = 0; i < h.n; i++) {
        const struct jop *a = &h.ops[i], *b = &back.ops[i];
        assert_true(a->process == b->process && a->time == b->time && a->ttl_ms == b->ttl_ms);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->f, b->f);
        assert_same_str(a->key, b->key);
        assert_same_str(a->error, b->error);
        if (i != 13) assert_same_str(a->value, b->value);
    }
    /* an object value comes back canonical: compact, keys sorted */
    assert_string_equal(back.ops[13].value, "{\"a\":false,\"b\":1.5}");
    /* a second round trip is byte for byte the first */
    again = to_text(&back, jhist_write_jsonl);
    jhist_free(&back);
    f = fmemopen(again, strlen(again), "r");
    assert_int_equal(jhist_read_jsonl(&back, f, errmsg, sizeof errmsg), 0);
    fclose(f);
    {
        char *third = to_text(&back, jhist_write_jsonl);
        assert_string_equal(third, again);
        free(third);
    }
    free(text);
    free(again);
    jhist_free(&back);
    jhist_free(&h);
}

static void assert_text(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_values(void **state)
{
    static const char *const elems[] = {"b", "a"};
    char *a, *b;
    (void)state;
    assert_text(jval_str("a\"b"), "\"a\\\"b\"");
    assert_text(jval_str(NULL), "null");
    assert_text(jval_cas(NULL, "x"), "[null,\"x\"]");
    assert_text(jval_int(-5), "-5");
    assert_text(jval_bool(true), "true");
    assert_text(jval_str_array(elems, 2), "[\"b\",\"a\"]");
    assert_int_equal(jval_canon(" { \"b\" :1, \"a\" : [ 1 , 2 ] } ", &a), 0);
    assert_text(a, "{\"a\":[1,2],\"b\":1}");
    assert_int_equal(jval_canon("null", &a), 0);
    assert_null(a);
    assert_int_equal(jval_canon("nope", &a), KEEL_EINVAL);
    assert_int_equal(jval_cas_split("[ null, \"v1\" ]", &a, &b), 0);
    assert_null(a);
    assert_text(b, "\"v1\"");
    assert_int_equal(jval_cas_split("[\"v0\"]", &a, &b), KEEL_EINVAL);
    assert_true(a == NULL && b == NULL);
}

static void test_edn(void **state)
{
    static const char want[] =
        "{:process 3, :type :invoke, :f :write, :value [\"k1\" \"v7\"], :time 123456789}\n"
        "{:process 3, :type :ok, :f :write, :value [\"k1\" \"v7\"], :time 123456999}\n"
        "{:process 4, :type :invoke, :f :cas, :value [\"k1\" [nil \"a\"]], :time 200000000}\n"
        "{:process 4, :type :info, :f :cas, :value [\"k1\" [nil \"a\"]], :time 300000000, "
        ":error \"timeout\"}\n"
        "{:process 5, :type :invoke, :f :read, :value [\"k\\\"2\" nil], :time 400000000}\n"
        "{:process 5, :type :fail, :f :read, :value [\"k\\\"2\" nil], :time 400000001, "
        ":error \"-TRYAGAIN not\\nleader\"}\n"
        "{:process 6, :type :invoke, :f :write, :value [\"s\" \"caf\xc3\xa9\"], :ttl-ms 1500, "
        ":time 5}\n"
        "{:process 6, :type :ok, :f :refresh, :value [\"s\" true], :ttl-ms 1500, :time 6}\n"
        "{:process 7, :type :invoke, :f :read, :value [\"set\" nil], :time 7}\n"
        "{:process 7, :type :ok, :f :read, :value [\"set\" [\"a\" \"b\"]], :time 8}\n"
        "{:process 8, :type :invoke, :f :add, :value [\"c\" -12], :time 9}\n"
        "{:process 8, :type :ok, :f :add, :value [\"c\" -12], :time 10}\n"
        "{:process 9, :type :invoke, :f :del, :value [\"k1\" nil], :time 11}\n"
        "{:process 9, :type :ok, :f :del, :value [\"k1\" {\"b\" 1.5, \"a\" false}], "
        ":time 12}\n";
    struct jhist h;
    char *text;
    (void)state;
    sample(&h);
    text = to_text(&h, jhist_write_edn);
    assert_string_equal(text, want);
    free(text);
    jhist_free(&h);
}

static void read_bad(const char *text, const char *want)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct jhist h;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    jhist_init(&h);
    assert_int_equal(jhist_read_jsonl(&h, f, errmsg, sizeof errmsg), KEEL_EMALFORMED);
    assert_contains(errmsg, want);
    fclose(f);
    jhist_free(&h);
}

static void test_jsonl_malformed(void **state)
{
    static const char good[] =
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"k\", \"value\": "
        "null, \"time\": 1}\n";
    char buf[512];
    (void)state;
    snprintf(buf, sizeof buf, "%s\n%s{\"process\": 1, \"type\": \"ok\"", good, good);
    read_bad(buf, "line 4: '}' expected"); /* blank line 2 still counts */
    snprintf(buf, sizeof buf, "%s[1, 2]\n", good);
    read_bad(buf, "line 2: not a JSON object");
    read_bad("{\"process\": \"1\", \"type\": \"invoke\", \"f\": \"read\", \"time\": 1}\n",
             "line 1: \"process\" is not an integer");
    read_bad("{\"process\": 1, \"type\": \"done\", \"f\": \"read\", \"time\": 1}\n",
             "line 1: unknown type \"done\"");
    read_bad("{\"process\": 1, \"type\": \"ok\", \"f\": \"scan\", \"time\": 1}\n",
             "line 1: unknown f \"scan\"");
    read_bad("{\"process\": 1, \"type\": \"ok\", \"f\": \"read\"}\n", "line 1: missing \"time\"");
    read_bad("{\"process\": 1, \"process\": 2, \"type\": \"ok\", \"f\": \"read\", \"time\": 1}\n",
             "line 1: ");
}

/* Pairing rules, reported by every checker as KEEL_EMALFORMED. */
static void pair_bad(struct jhist *h, enum jworkload w, const char *want)
{
    struct jresult r;
    assert_int_equal(jcheck(w, h, NULL, &r), KEEL_EMALFORMED);
    assert_int_equal(r.verdict, JV_UNKNOWN);
    assert_contains(r.errmsg, want);
    jresult_free(&r);
    jhist_free(h);
}

static void test_pairing_malformed(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    event(&h, 1, JOP_OK, JF_READ, "k", NULL, -1, 5);
    pair_bad(&h, JW_REGISTER, "event 1 (process 1): ok with no open invoke");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 5);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 6);
    pair_bad(&h, JW_SET, "event 2 (process 1): invoke while the op invoked is open at event 1");
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("a"), JOP_INFO, NULL, 0, 1);
    op(&h, 1, JF_WRITE, "k", Q("b"), JOP_OK, NULL, 2, 3);
    pair_bad(&h, JW_REGISTER, "event 3 (process 1): invoke while crashed by the info at event 2");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 5);
    event(&h, 1, JOP_OK, JF_WRITE, "k", NULL, -1, 6);
    pair_bad(&h, JW_COUNTER, "its f differs");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 5);
    event(&h, 1, JOP_OK, JF_READ, "k", NULL, -1, 4);
    pair_bad(&h, JW_SESSION, "its time is before");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, NULL, NULL, -1, 5);
    pair_bad(&h, JW_REGISTER, "invoke without a key");
    jhist_init(&h); /* value shapes and workload operations */
    op(&h, 1, JF_CAS, "k", Q("x"), JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_REGISTER, "event 1: cas value is not [expected, new]");
    jhist_init(&h);
    op(&h, 1, JF_ADD, "k", Q("x"), JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_REGISTER, "event 1: f \"add\" is not a register operation");
    jhist_init(&h);
    op(&h, 1, JF_ADD, "k", Q("x"), JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_COUNTER, "event 1: delta not an integer");
    jhist_init(&h);
    op(&h, 1, JF_ADD, "k", "3", JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_SET, "event 1: a set element must be a string");
    jhist_init(&h);
    op(&h, 1, JF_REFRESH, "k", NULL, JOP_OK, "true", 0, 1);
    pair_bad(&h, JW_SESSION, "event 1: a refresh needs ttl_ms");
}

/* ---- randomized: a simulated linearizable register ----------------------- */

static uint64_t rng_state = 88172645463325252ull;

/* Deterministic (tests/lib), so a failure replays. */
static uint64_t rnd(void)
{
    return test_xorshift64(&rng_state);
}

static int64_t below(int64_t n)
{
    return (int64_t)(rnd() % (uint64_t)n);
}

struct gop
{
    int64_t proc, t0, t1, at; /* at: the moment it takes effect */
    enum jop_f f;
    int key, outcome;
    bool effect;
    char val[24];   /* write and cas: the value written */
    char exp[24];   /* cas: the value expected, "" for absent */
    char out[24];   /* read: the value read, "" for absent */
    size_t done_ev; /* its completion's event index */
};

struct gen
{
    struct gop *ops;
    size_t n;
};

static int gop_at_cmp(const void *a, const void *b)
{
    const struct gop *const *x = a, *const *y = b;
    if ((*x)->at != (*y)->at) return (*x)->at < (*y)->at ? -1 : 1;
    return *x < *y ? -1 : *x > *y;
}

/* Run the ops against one register per key, in the order they take effect,
 * filling in reads and turning cas with a false precondition into fails. */
static void gen_apply(struct gen *g, int nkeys)
{
    struct gop **order = malloc(g->n * sizeof *order);
    const char **reg = calloc((size_t)nkeys, sizeof *reg);
    assert_non_null(order);
    assert_non_null(reg);
    for (size_t i = 0; i < g->n; i++) order[i] = &g->ops[i];
    qsort(order, g->n, sizeof *order, gop_at_cmp);
    for (size_t i = 0; i < g->n; i++) {
        struct gop *o = order[i];
        const char **r = &reg[o->key];
        if (!o->effect) continue;
        if (o->f == JF_READ) {
            snprintf(o->out, sizeof o->out, "%s", *r ? *r : "");
        } else if (o->f == JF_WRITE) {
            *r = o->val;
        } else if (o->f == JF_DEL) {
            *r = NULL;
        } else if (strcmp(*r ? *r : "", o->exp) == 0) {
            *r = o->val;
        } else {
            o->effect = false;
            if (o->outcome == JOP_OK) o->outcome = JOP_FAIL; /* WATCH saw a change */
        }
    }
    free(order);
    free(reg);
}

struct gev
{
    int64_t t;
    size_t op;
    int done;
};

static int gev_cmp(const void *a, const void *b)
{
    const struct gev *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->op != y->op) return x->op < y->op ? -1 : 1;
    return x->done - y->done;
}

/* The value text of an event of o (NULL for null). */
static const char *gen_value(const struct gop *o, bool done, char *buf, size_t size)
{
    switch (o->f) {
    case JF_READ:
        if (!done || o->outcome != JOP_OK || o->out[0] == 0) return NULL;
        snprintf(buf, size, "\"%s\"", o->out);
        return buf;
    case JF_WRITE:
        snprintf(buf, size, "\"%s\"", o->val);
        return buf;
    case JF_CAS:
        if (o->exp[0] == 0) {
            snprintf(buf, size, "[null,\"%s\"]", o->val);
        } else {
            snprintf(buf, size, "[\"%s\",\"%s\"]", o->exp, o->val);
        }
        return buf;
    default:
        return NULL;
    }
}

/* Simulate nkeys registers, per_key_ops ops each, by nproc processes per key
 * (per_key, as Jepsen's independent does) or shared by all keys. Every op
 * takes effect at a random moment of its interval (info ops: maybe later, or
 * not at all); values written are unique. */
static void gen_register(struct jhist *h, struct gen *g, int nkeys, int per_key_ops, int nproc,
                         bool per_key, int info_permille)
{
    int nlanes = per_key ? nkeys * nproc : nproc;
    int64_t *lane_free = calloc((size_t)nlanes, sizeof *lane_free);
    int64_t *lane_proc = calloc((size_t)nlanes, sizeof *lane_proc);
    int64_t next_proc = nlanes;
    const char **recent = calloc((size_t)nkeys, sizeof *recent);
    struct gev *evs;
    size_t nev = 0;
    char buf[64], key[16];
    g->n = (size_t)nkeys * (size_t)per_key_ops;
    g->ops = calloc(g->n, sizeof *g->ops);
    evs = calloc(2 * g->n, sizeof *evs);
    assert_true(lane_free && lane_proc && recent && g->ops && evs);
    for (int l = 0; l < nlanes; l++) lane_proc[l] = l;
    for (size_t i = 0; i < g->n; i++) {
        struct gop *o = &g->ops[i];
        int lane, kind = (int)below(10);
        o->key = per_key ? (int)(i % (size_t)nkeys) : (int)below(nkeys);
        lane = per_key ? o->key * nproc + (int)below(nproc) : (int)below(nproc);
        o->t0 = lane_free[lane] + 1000 * (1 + below(20));
        o->t1 = o->t0 + 1000 * (1 + below(100));
        lane_free[lane] = o->t1;
        o->proc = lane_proc[lane];
        o->f = kind < 4 ? JF_READ : kind < 7 ? JF_WRITE : kind < 9 ? JF_CAS : JF_DEL;
        o->outcome = below(1000) < info_permille ? JOP_INFO : below(100) < 3 ? JOP_FAIL : JOP_OK;
        o->effect = o->outcome == JOP_OK || (o->outcome == JOP_INFO && below(2));
        o->at = o->t0 + below(o->t1 - o->t0 + 1 + (o->outcome == JOP_INFO ? 200000 : 0));
        if (o->f == JF_WRITE || o->f == JF_CAS) {
            snprintf(o->val, sizeof o->val, "%c%zu", o->f == JF_WRITE ? 'w' : 'c', i);
            if (o->f == JF_CAS && recent[o->key] != NULL && below(4) > 0)
                snprintf(o->exp, sizeof o->exp, "%s", recent[o->key]);
            recent[o->key] = o->val;
        }
        if (o->outcome == JOP_INFO) lane_proc[lane] = next_proc++;
        evs[nev++] = (struct gev){o->t0, i, 0};
        evs[nev++] = (struct gev){o->t1, i, 1};
    }
    gen_apply(g, nkeys);
    qsort(evs, nev, sizeof *evs, gev_cmp);
    jhist_init(h);
    for (size_t i = 0; i < nev; i++) {
        struct gop *o = &g->ops[evs[i].op];
        snprintf(key, sizeof key, "k%d", o->key);
        if (evs[i].done) o->done_ev = h->n;
        event(h, o->proc, evs[i].done ? (enum jop_type)o->outcome : JOP_INVOKE, o->f, key,
              gen_value(o, evs[i].done, buf, sizeof buf), -1, evs[i].t);
    }
    free(lane_free);
    free(lane_proc);
    free(recent);
    free(evs);
}

static void set_value(struct jhist *h, size_t ev, const char *v)
{
    free(h->ops[ev].value);
    h->ops[ev].value = strdup(v);
}

/* A stale value for read r: a write certainly overwritten before r began. */
static const struct gop *stale_for(const struct gen *g, const struct gop *r)
{
    for (size_t x = 0; x < g->n; x++) {
        const struct gop *w = &g->ops[x];
        if (w->f != JF_WRITE || w->outcome != JOP_OK || w->key != r->key || w->t1 >= r->t0 ||
            strcmp(w->val, r->out) == 0)
            continue;
        for (size_t y = 0; y < g->n; y++) {
            const struct gop *o = &g->ops[y];
            if (o->key == r->key && o->outcome == JOP_OK && o->f != JF_READ &&
                o->t0 > w->t1 && o->t1 < r->t0)
                return w;
        }
    }
    return NULL;
}

/* A copy of h, so that one generated history can be corrupted twice. */
static void copy_hist(struct jhist *dst, const struct jhist *src)
{
    jhist_init(dst);
    for (size_t e = 0; e < src->n; e++) assert_int_equal(jhist_add(dst, &src->ops[e]), 0);
}

static void test_random_histories(void **state)
{
    int stale_runs = 0;
    (void)state;
    for (int seed = 1; seed <= 60; seed++) {
        struct jhist h, copy;
        struct gen g;
        const struct gop *r = NULL, *w;
        size_t nreads = 0, pick;
        rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)seed;
        gen_register(&h, &g, 1 + seed % 3, 40 + (int)below(80), 2 + (int)below(5), true, 50);
        copy_hist(&copy, &h);
        if (verdict(JW_REGISTER, &copy) != JV_VALID)
            fail_msg("seed %d: a linearizable history was rejected", seed);
        for (size_t i = 0; i < g.n; i++) {
            nreads += g.ops[i].f == JF_READ && g.ops[i].outcome == JOP_OK;
        }
        assert_true(nreads > 0);
        pick = (size_t)below((int64_t)nreads);
        for (size_t i = 0; r == NULL; i++) {
            if (g.ops[i].f == JF_READ && g.ops[i].outcome == JOP_OK && pick-- == 0) r = &g.ops[i];
        }
        if ((w = stale_for(&g, r)) != NULL) { /* a value certainly overwritten before it */
            char v[32];
            snprintf(v, sizeof v, "\"%s\"", w->val);
            copy_hist(&copy, &h);
            set_value(&copy, r->done_ev, v);
            if (verdict(JW_REGISTER, &copy) != JV_INVALID)
                fail_msg("seed %d: a stale read of %s was accepted", seed, v);
            stale_runs++;
        }
        set_value(&h, r->done_ev, "\"never-written\"");
        if (verdict(JW_REGISTER, &h) != JV_INVALID)
            fail_msg("seed %d: a read of a value never written was accepted", seed);
        free(g.ops);
    }
    print_message("random: 60 histories valid, 60 corrupted rejected, %d stale rejected\n",
                  stale_runs);
    assert_true(stale_runs > 10);
}

/* ---- randomized: against a brute-force oracle ---------------------------- */

/* A tiny register op for the oracle: values are 0 (absent) and 1..3. */
struct bop
{
    enum jop_f f;
    int outcome, a, b; /* read: a is the value read; write: a; cas: a -> b */
    int64_t t0, t1;    /* t1 INT64_MAX when info */
};

/* Can the ops not yet placed (bit clear in `done`) follow, from value v? */
static bool oracle_dfs(const struct bop *o, int n, unsigned done, unsigned use, int v)
{
    if ((done & use) == use) return true;
    for (int i = 0; i < n; i++) {
        bool ready = true;
        int next = v;
        if (!(use >> i & 1) || (done >> i & 1)) continue;
        /* every op that completed before i was invoked must be placed */
        for (int j = 0; j < n && ready; j++) {
            if ((use >> j & 1) && !(done >> j & 1) && j != i && o[j].t1 < o[i].t0) ready = false;
        }
        if (!ready) continue;
        switch (o[i].f) {
        case JF_READ:
            if (o[i].a != v) continue;
            break;
        case JF_WRITE:
            next = o[i].a;
            break;
        case JF_DEL:
            next = 0;
            break;
        default:
            if (o[i].a == v) {
                next = o[i].b;
            } else if (o[i].outcome == JOP_OK) {
                continue;
            }
        }
        if (oracle_dfs(o, n, done | 1u << i, use, next)) return true;
    }
    return false;
}

/* Linearizable iff some subset of the info ops, with every ok op, has a
 * legal order respecting real time. */
static bool oracle(const struct bop *o, int n)
{
    unsigned must = 0, info = 0;
    for (int i = 0; i < n; i++) {
        if (o[i].outcome == JOP_OK) must |= 1u << i;
        if (o[i].outcome == JOP_INFO && o[i].f != JF_READ) info |= 1u << i;
    }
    for (unsigned sub = info;; sub = (sub - 1) & info) {
        if (oracle_dfs(o, n, 0, must | sub, 0)) return true;
        if (sub == 0) return false;
    }
}

static void bop_value(const struct bop *o, bool done, char *buf, size_t size, const char **v)
{
    static const char *const names[] = {"null", "\"a\"", "\"b\"", "\"c\""};
    *v = NULL;
    if (o->f == JF_READ && done && o->outcome == JOP_OK && o->a != 0) *v = names[o->a];
    if (o->f == JF_WRITE) *v = names[o->a];
    if (o->f == JF_CAS) {
        snprintf(buf, size, "[%s,%s]", names[o->a], names[o->b]);
        *v = buf;
    }
}

static void test_random_oracle(void **state)
{
    int seen[2] = {0, 0};
    (void)state;
    rng_state = 4242;
    for (int round = 0; round < 3000; round++) {
        struct bop o[9];
        int n = 2 + (int)below(8), nproc = 1 + (int)below(4);
        int64_t free_at[4] = {0, 0, 0, 0}, pid[4] = {0, 1, 2, 3}, next_pid = 4;
        struct jhist h;
        char buf[32];
        const char *v;
        bool want;
        jhist_init(&h);
        for (int i = 0; i < n; i++) {
            int p = (int)below(nproc), kind = (int)below(10), r = (int)below(10);
            struct bop *x = &o[i];
            x->f = kind < 4 ? JF_READ : kind < 7 ? JF_WRITE : kind < 9 ? JF_CAS : JF_DEL;
            x->outcome = r < 7 ? JOP_OK : r < 9 ? JOP_INFO : JOP_FAIL;
            x->a = (int)below(4);
            x->b = 1 + (int)below(3);
            if (x->f == JF_WRITE) x->a = 1 + (int)below(3);
            x->t0 = free_at[p] + below(6);
            x->t1 = x->t0 + below(8);
            free_at[p] = x->t1 + 1;
            bop_value(x, false, buf, sizeof buf, &v);
            event(&h, pid[p], JOP_INVOKE, x->f, "k", v, -1, x->t0);
            bop_value(x, true, buf, sizeof buf, &v);
            event(&h, pid[p], (enum jop_type)x->outcome, x->f, "k", v, -1, x->t1);
            if (x->outcome == JOP_INFO) {
                x->t1 = INT64_MAX;
                pid[p] = next_pid++;
            }
        }
        want = oracle(o, n);
        seen[want]++;
        if (verdict(JW_REGISTER, &h) != (want ? JV_VALID : JV_INVALID))
            fail_msg("round %d: the oracle says %s", round, want ? "valid" : "invalid");
    }
    print_message("oracle: %d valid and %d invalid random histories agreed\n", seen[1], seen[0]);
    assert_true(seen[0] > 300 && seen[1] > 300);
}

/* 20 keys x 2000 ops, 10 processes: timing only, printed. */
static void perf_case(bool per_key, int info_permille)
{
    struct jhist h;
    struct jresult r;
    struct gen g;
    struct timespec a, b;
    const char *dump = getenv("JEPSEN_TEST_DUMP");
    rng_state = 12345;
    gen_register(&h, &g, 20, 2000, 10, per_key, info_permille);
    if (dump != NULL && dump[0] != 0) {
        char path[512];
        FILE *f;
        snprintf(path, sizeof path, "%s-%s-%d.jsonl", dump, per_key ? "perkey" : "shared",
                 info_permille);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(jhist_write_jsonl(&h, f), 0);
        fclose(f);
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(run(JW_REGISTER, &h, NULL, &r), JV_VALID);
    clock_gettime(CLOCK_MONOTONIC, &b);
    print_message("perf: 20 keys x 2000 ops, 10 processes %s, %.1f%% info: %.3f s\n  %.*s\n",
                  per_key ? "per key" : "shared by all keys", info_permille / 10.0,
                  (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
                  (int)strcspn(r.report, "\n"), r.report);
    jresult_free(&r);
    free(g.ops);
}

static void test_perf(void **state)
{
    (void)state;
    perf_case(false, 10);
    perf_case(true, 10);
    perf_case(true, 50);
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
        cmocka_unit_test(test_jsonl_roundtrip),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_edn),
        cmocka_unit_test(test_jsonl_malformed),
        cmocka_unit_test(test_pairing_malformed),
        cmocka_unit_test(test_random_histories),
        cmocka_unit_test(test_random_oracle),
        cmocka_unit_test(test_perf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
