/* tests: the queue checker (jcheck_queue(), jepsen/checker/check_queue.c),
 * each of its rules on both sides: a good history, lost, duplicate and
 * unexpected values, failed enqueues, and the allowance of one unseen value
 * per uncertain dequeue. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"
#include "tests/lib/testlib.h"
#include "jepsen/tests/checker_fixture.h"

#define ENQ(h, proc, v, outcome, t0, t1) op((h), (proc), JF_ENQUEUE, "q", Q(v), (outcome), NULL, (t0), (t1))
#define DEQ(h, proc, out, outcome, t0, t1) op((h), (proc), JF_DEQUEUE, "q", NULL, (outcome), (out), (t0), (t1))

/* a, b acknowledged; c uncertain; everything dequeued once; then drained. */
static void good(struct jhist *h)
{
    jhist_init(h);
    ENQ(h, 1, "a", JOP_OK, 0, 10);
    ENQ(h, 2, "b", JOP_OK, 5, 15);
    ENQ(h, 3, "c", JOP_INFO, 20, 30);
    DEQ(h, 4, Q("b"), JOP_OK, 12, 40);
    DEQ(h, 5, NULL, JOP_OK, 1, 2); /* an early empty one: not the drain */
    DEQ(h, 5, Q("a"), JOP_OK, 50, 60);
    DEQ(h, 6, Q("c"), JOP_OK, 70, 80);
}

static void test_queue_valid(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    good(&h);
    ENQ(&h, 7, "d", JOP_FAIL, 20, 30);  /* failed: never dequeued, as it must */
    ENQ(&h, 8, "e", JOP_INFO, 20, 30);  /* uncertain: never dequeued, fine */
    ENQ(&h, 9, "f", OPEN, 20, 0);       /* open: fine */
    DEQ(&h, 10, NULL, JOP_FAIL, 25, 26); /* a failed dequeue took nothing */
    DEQ(&h, 6, NULL, JOP_OK, 100, 110); /* the drain */
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_VALID);
    assert_contains(r.report, "6 enqueues, 2 ok, 3 dequeued, 0 lost");
    assert_contains(r.report, "0 unexpected, 0 duplicates, 1 recovered");
    jresult_free(&r);
}

static void test_queue_lost(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    good(&h);
    ENQ(&h, 7, "d", JOP_OK, 20, 30);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "1 lost");
    assert_contains(r.report, "enqueue \"d\" -> ok");
    assert_string_equal(r.bad_key, "q");
    jresult_free(&r);
    /* acknowledged only after the drain began: it may still be queued */
    good(&h);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    ENQ(&h, 7, "d", JOP_OK, 105, 120);
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_UNKNOWN);
    assert_contains(r.report, "1 undrained");
    jresult_free(&r);
    /* no drain: an unseen value is undecided (good()'s only empty dequeue
     * was invoked before d was acknowledged, so it is no drain for d) */
    good(&h);
    ENQ(&h, 7, "d", JOP_OK, 20, 30);
    assert_verdict(JW_QUEUE, &h, JV_UNKNOWN);
    jhist_init(&h); /* no empty dequeue at all, nothing unseen: valid */
    ENQ(&h, 1, "a", JOP_OK, 0, 10);
    DEQ(&h, 2, Q("a"), JOP_OK, 5, 20);
    assert_verdict(JW_QUEUE, &h, JV_VALID);
}

static void test_queue_duplicate(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    good(&h);
    DEQ(&h, 7, Q("a"), JOP_OK, 90, 95);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "1 duplicates");
    assert_contains(r.report, "duplicate (dequeued twice)");
    jresult_free(&r);
}

static void test_queue_unexpected(void **state)
{
    struct jhist h;
    (void)state;
    good(&h); /* never enqueued */
    DEQ(&h, 7, Q("z"), JOP_OK, 90, 95);
    assert_verdict(JW_QUEUE, &h, JV_INVALID);
    good(&h); /* its only enqueue failed definitely */
    ENQ(&h, 7, "d", JOP_FAIL, 20, 30);
    DEQ(&h, 8, Q("d"), JOP_OK, 90, 95);
    assert_verdict(JW_QUEUE, &h, JV_INVALID);
    good(&h); /* enqueued only after the dequeue had returned it */
    DEQ(&h, 8, Q("d"), JOP_OK, 90, 95);
    ENQ(&h, 7, "d", JOP_OK, 100, 105);
    assert_verdict(JW_QUEUE, &h, JV_INVALID);
    good(&h); /* ... but an enqueue concurrent with the dequeue explains it */
    DEQ(&h, 8, Q("d"), JOP_OK, 90, 101);
    ENQ(&h, 7, "d", JOP_OK, 100, 105);
    assert_verdict(JW_QUEUE, &h, JV_VALID);
}

/* Unseen values: allowed up to the number of uncertain dequeues. */
static void test_queue_uncertain_dequeue(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    good(&h);
    ENQ(&h, 7, "d", JOP_OK, 20, 30);
    ENQ(&h, 7, "e", JOP_OK, 31, 35);
    DEQ(&h, 8, NULL, JOP_INFO, 40, 50);
    DEQ(&h, 9, NULL, OPEN, 40, 0);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_VALID);
    assert_contains(r.report, "0 lost, 2 possibly lost by 2 uncertain dequeues");
    jresult_free(&r);
    /* one more unseen than uncertain dequeues: every one of them is lost */
    good(&h);
    ENQ(&h, 7, "d", JOP_OK, 20, 30);
    ENQ(&h, 7, "e", JOP_OK, 31, 35);
    DEQ(&h, 8, NULL, JOP_INFO, 40, 50);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_INVALID);
    assert_contains(r.report, "2 lost, 0 possibly lost by 1 uncertain dequeues");
    assert_contains(r.report, "more than the 1 uncertain dequeues could have taken");
    jresult_free(&r);
    /* an uncertain dequeue does not excuse a duplicate */
    good(&h);
    DEQ(&h, 8, NULL, JOP_INFO, 40, 50);
    DEQ(&h, 7, Q("b"), JOP_OK, 90, 95);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    assert_verdict(JW_QUEUE, &h, JV_INVALID);
}

/* Keys are judged alone: q2's lost value does not hide behind q's
 * uncertain dequeue. */
static void test_queue_keys(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    good(&h);
    DEQ(&h, 8, NULL, JOP_INFO, 40, 50);
    DEQ(&h, 6, NULL, JOP_OK, 100, 110);
    op(&h, 20, JF_ENQUEUE, "q2", Q("x"), JOP_OK, NULL, 0, 10);
    op(&h, 20, JF_DEQUEUE, "q2", NULL, JOP_OK, NULL, 100, 110);
    assert_int_equal(run(JW_QUEUE, &h, NULL, &r), JV_INVALID);
    assert_string_equal(r.bad_key, "q2");
    jresult_free(&r);
}

static void test_queue_malformed(void **state)
{
    struct jhist h;
    struct jresult r;
    (void)state;
    jhist_init(&h);
    op(&h, 1, JF_ADD, "q", Q("a"), JOP_OK, NULL, 0, 10);
    assert_int_equal(jcheck(JW_QUEUE, &h, NULL, &r), KEEL_EMALFORMED);
    assert_contains(r.errmsg, "not a queue operation");
    jresult_free(&r);
    jhist_free(&h);
    jhist_init(&h);
    DEQ(&h, 1, "[\"a\"]", JOP_OK, 0, 10);
    assert_int_equal(jcheck(JW_QUEUE, &h, NULL, &r), KEEL_EMALFORMED);
    assert_contains(r.errmsg, "a dequeue returns a string or null");
    jresult_free(&r);
    jhist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_valid),
        cmocka_unit_test(test_queue_lost),
        cmocka_unit_test(test_queue_duplicate),
        cmocka_unit_test(test_queue_unexpected),
        cmocka_unit_test(test_queue_uncertain_dequeue),
        cmocka_unit_test(test_queue_keys),
        cmocka_unit_test(test_queue_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
