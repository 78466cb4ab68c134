/* tests/integration: libkeel's async client (include/keel/async.h) on a
 * libuv loop against real keeld processes: replies and their types in call
 * order, a transaction made of separate calls, 1000 INCRs outstanding at
 * once, the leader SIGKILLed under a window of 32 outstanding INCRs (every
 * call ends, the count is exact: nothing applied twice, nothing lost), an
 * unknown outcome reported as such, no node answering named in the error at
 * the deadline, and close with calls pending (every callback once). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"
#include "keel/async.h"

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* The loop and a ticker that makes UV_RUN_ONCE return often enough for a
 * bounded wait to look at the clock. */
static uv_loop_t loop;
static uv_timer_t ticker;

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

static struct keel_async *open_async(unsigned timeout_ms)
{
    char eps[256], err[KEEL_ERRMSG_SIZE];
    struct keel_async *a;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &ticker);
    uv_timer_start(&ticker, tick_cb, 20, 20);
    kc_endpoints(&cl, eps, sizeof eps);
    struct keel_client_options o = {.endpoints = eps, .timeout_ms = timeout_ms};
    if (keel_async_open(&loop, &o, &a, err, sizeof err) != 0) fail_msg("open: %s", err);
    return a;
}

/* Run the loop until *cond holds, at most ms. */
#define RUN_UNTIL(cond, ms)                                                              \
    do {                                                                             \
        long long end_ = kc_now_ms() + (ms);                                         \
        while (!(cond) && kc_now_ms() < end_) uv_run(&loop, UV_RUN_ONCE);            \
        if (!(cond)) fail_msg("not within %d ms: %s", (int)(ms), #cond);            \
    } while (0)

static bool closed;

static void closed_cb(void *data)
{
    *(bool *)data = true;
}

/* Close the loop: nothing of libkeel may be left on it. */
static void close_loop(void)
{
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void close_all(struct keel_async *a)
{
    closed = false;
    keel_async_close(a, closed_cb, &closed);
    RUN_UNTIL(closed, 5000);
    close_loop();
}

/* One call's end, kept for the test to look at. */
struct result
{
    int calls;             /* how many times the callback ran: must be 1 */
    int status;
    struct keel_value *v;
    char err[KEEL_ERRMSG_SIZE];
    int order;
};

static int ended;

static void keep_cb(struct keel_async *a, int status, struct keel_value *v, const char *err, void *data)
{
    (void)a;
    struct result *r = data;
    r->calls++;
    r->status = status;
    r->v = v;
    r->order = ended++;
    snprintf(r->err, sizeof r->err, "%s", err);
    if (status != 0) assert_null(v);
}

static void test_replies(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    struct keel_async *a = open_async(5000);
    struct result r[12];
    memset(r, 0, sizeof r);
    ended = 0;
    /* all made before the loop runs: pipelined, answered in this order */
    assert_int_equal(keel_async_callv(a, keep_cb, &r[0], "SET", "k", "v", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[1], "GET", "k", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[2], "GET", "absent", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[3], "INCR", "n", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[4], "HSET", "k", "f", "1", NULL), 0);
    const char *argv[] = {"SET", "bin", "a\0b"};
    size_t lens[] = {3, 3, 3};
    assert_int_equal(keel_async_call(a, 3, argv, lens, keep_cb, &r[5]), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[6], "GET", "bin", NULL), 0);
    /* a transaction of separate calls: its replies come with EXEC's */
    assert_int_equal(keel_async_callv(a, keep_cb, &r[7], "MULTI", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[8], "INCR", "n", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[9], "SET", "t", "x", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[10], "EXEC", NULL), 0);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[11], "MGET", "k", "absent", "n", "t", NULL), 0);
    assert_int_equal(ended, 0); /* never from inside keel_async_call */
    assert_int_equal(keel_async_call(a, 0, argv, lens, keep_cb, &r[0]), KEEL_EINVAL);
    RUN_UNTIL(ended == 12, 10000);
    for (int i = 0; i < 12; i++) {
        if (r[i].calls != 1 || r[i].status != 0) fail_msg("call %d: %d calls, status %d: %s", i, r[i].calls, r[i].status, r[i].err);
        assert_int_equal(r[i].order, i);
        assert_string_equal(r[i].err, "");
    }
    assert_int_equal(r[0].v->type, KEEL_VALUE_STATUS);
    assert_string_equal(r[0].v->str, "OK");
    assert_int_equal(r[1].v->type, KEEL_VALUE_STRING);
    assert_string_equal(r[1].v->str, "v");
    assert_int_equal(r[2].v->type, KEEL_VALUE_NIL);
    assert_int_equal(r[3].v->type, KEEL_VALUE_INTEGER);
    assert_int_equal(r[3].v->integer, 1);
    assert_int_equal(r[4].v->type, KEEL_VALUE_ERROR); /* the server's error is a reply */
    assert_non_null(strstr(r[4].v->str, "WRONGTYPE"));
    assert_int_equal(r[6].v->len, 3);
    assert_memory_equal(r[6].v->str, "a\0b", 3);
    assert_string_equal(r[7].v->str, "OK");
    assert_string_equal(r[8].v->str, "QUEUED");
    assert_int_equal(r[10].v->type, KEEL_VALUE_ARRAY);
    assert_int_equal(r[10].v->n, 2);
    assert_int_equal(r[10].v->elements[0]->integer, 2);
    assert_int_equal(r[11].v->n, 4);
    assert_string_equal(r[11].v->elements[2]->str, "2");
    assert_string_equal(r[11].v->elements[3]->str, "x");
    for (int i = 0; i < 12; i++) keel_value_free(r[i].v);
    /* whichever endpoint it started at, it now talks to the leader */
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", cl.nodes[leader].client_port);
    assert_string_equal(keel_async_endpoint(a), want);
    assert_true(keel_async_id(a) > 0);
    close_all(a);
    kc_stop(&cl);
}

/* 1000 INCRs outstanding at once: each answer is the next number. */
#define MANY 1000
static long long many_next;
static int many_bad;

static void many_cb(struct keel_async *a, int status, struct keel_value *v, const char *err, void *data)
{
    (void)a;
    (void)err;
    if (status != 0 || v->type != KEEL_VALUE_INTEGER || v->integer != (long long)(intptr_t)data) many_bad++;
    many_next++;
    keel_value_free(v);
}

static void test_pipelined_1000(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    struct keel_async *a = open_async(10000);
    many_next = many_bad = 0;
    for (intptr_t i = 1; i <= MANY; i++) assert_int_equal(keel_async_callv(a, many_cb, (void *)i, "INCR", "p", NULL), 0);
    RUN_UNTIL(many_next == MANY, 20000);
    assert_int_equal(many_bad, 0);
    struct result r = {0};
    ended = 0;
    assert_int_equal(keel_async_callv(a, keep_cb, &r, "GET", "p", NULL), 0);
    RUN_UNTIL(ended == 1, 5000);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.v->str, "1000");
    keel_value_free(r.v);
    close_all(a);
    kc_stop(&cl);
}

/* A stream of INCRs, WINDOW outstanding, each callback making the next. */
#define WINDOW 32
struct stream
{
    struct keel_async *a;
    bool stop;
    int outstanding;
    long ok, uncertain, failed;
    char last_err[KEEL_ERRMSG_SIZE];
};

static void stream_cb(struct keel_async *a, int status, struct keel_value *v, const char *err, void *data)
{
    struct stream *s = data;
    s->outstanding--;
    if (status == 0 && v->type == KEEL_VALUE_INTEGER) {
        s->ok++;
    } else if (status == KEEL_EUNCERTAIN) {
        s->uncertain++;
    } else {
        s->failed++;
        snprintf(s->last_err, sizeof s->last_err, "%d %s", status, status ? err : v->str);
    }
    keel_value_free(v);
    if (!s->stop && keel_async_callv(a, stream_cb, s, "INCR", "counter", NULL) == 0) s->outstanding++;
}

static void test_leader_killed_during_stream(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    struct stream s = {.a = open_async(15000)}; /* well past an election */
    for (int i = 0; i < WINDOW; i++) {
        assert_int_equal(keel_async_callv(s.a, stream_cb, &s, "INCR", "counter", NULL), 0);
        s.outstanding++;
    }
    for (int round = 0; round < 2; round++) {
        long want = s.ok + 300;
        RUN_UNTIL(s.ok >= want, 20000);
        int leader = kc_leader(&cl, 10000);
        assert_true(leader >= 0);
        kc_signal(&cl, (unsigned)leader, SIGKILL);
        want = s.ok + 300; /* the survivors elected a leader and the client found it */
        RUN_UNTIL(s.ok >= want, 30000);
        kc_start_node(&cl, (unsigned)leader);
    }
    long want = s.ok + 100;
    RUN_UNTIL(s.ok >= want, 20000);
    s.stop = true;
    RUN_UNTIL(s.outstanding == 0, 20000);
    if (s.failed) fail_msg("%ld calls failed, last: %s", s.failed, s.last_err);
    struct result r = {0};
    ended = 0;
    assert_int_equal(keel_async_callv(s.a, keep_cb, &r, "GET", "counter", NULL), 0);
    RUN_UNTIL(ended == 1, 10000);
    assert_int_equal(r.status, 0);
    long counter = atol(r.v->str);
    keel_value_free(r.v);
    print_message("ok %ld, uncertain %ld, counter %ld\n", s.ok, s.uncertain, counter);
    /* every success applied once; an uncertain one at most once */
    assert_true(counter >= s.ok);
    assert_true(counter <= s.ok + s.uncertain);
    close_all(s.a);
    kc_stop(&cl);
}

/* The leader stops answering after it got the write: at the deadline the
 * outcome is unknown and said so, never a failure. */
static void test_unknown_outcome(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    struct keel_async *a = open_async(800);
    struct result r[2];
    memset(r, 0, sizeof r);
    ended = 0;
    assert_int_equal(keel_async_callv(a, keep_cb, &r[0], "SET", "u", "0", NULL), 0);
    RUN_UNTIL(ended == 1, 5000); /* connected to the leader */
    assert_int_equal(r[0].status, 0);
    keel_value_free(r[0].v);
    kc_signal(&cl, (unsigned)leader, SIGSTOP);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[1], "INCR", "u", NULL), 0);
    RUN_UNTIL(ended == 2, 5000);
    assert_int_equal(r[1].status, KEEL_EUNCERTAIN);
    assert_non_null(strstr(r[1].err, "outcome unknown"));
    kc_signal(&cl, (unsigned)leader, SIGCONT);
    close_all(a);
    kc_stop(&cl);
}

/* Nobody answers: a definite failure at the deadline, naming every endpoint. */
static void test_no_node_answers(void **state)
{
    (void)state;
    kc_start(&cl, 2, "");
    char eps[256];
    kc_endpoints(&cl, eps, sizeof eps);
    struct keel_async *a = open_async(300);
    kc_stop(&cl); /* the ports are free again: connections are refused */
    struct result r = {0};
    ended = 0;
    long long t0 = kc_now_ms();
    assert_int_equal(keel_async_callv(a, keep_cb, &r, "SET", "a", "b", NULL), 0);
    RUN_UNTIL(ended == 1, 5000);
    long long took = kc_now_ms() - t0;
    assert_int_equal(r.status, KEEL_ENOTLEADER);
    assert_true(took >= 290 && took < 2000);
    kc_assert_unreachable(r.err, eps);
    close_all(a);
}

static int ended_at_close;

static void count_closed_cb(void *data)
{
    *(bool *)data = true;
    ended_at_close = ended;
}

static void close_cb_closes(struct keel_async *a, int status, struct keel_value *v, const char *err, void *data)
{
    keep_cb(a, status, v, err, data);
    keel_async_close(a, count_closed_cb, &closed);
}

/* Close with calls pending: every callback runs once, before closed_cb. */
static void test_close_with_calls_pending(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    enum { N = 50 };
    static struct result r[N + 1];
    /* 1: not connected yet: nothing was sent, nothing applied */
    struct keel_async *a = open_async(5000);
    memset(r, 0, sizeof r);
    ended = 0;
    closed = false;
    for (int i = 0; i < N; i++) assert_int_equal(keel_async_callv(a, keep_cb, &r[i], "INCR", "c", NULL), 0);
    keel_async_close(a, count_closed_cb, &closed);
    assert_int_equal(ended, 0); /* never from inside keel_async_close */
    RUN_UNTIL(closed, 5000);
    assert_int_equal(ended_at_close, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, KEEL_ESHUTDOWN);
        assert_int_equal(r[i].order, i);
    }
    close_loop();

    /* 2: connected, the writes on the wire: their outcome is unknown */
    a = open_async(5000);
    memset(r, 0, sizeof r);
    ended = 0;
    assert_int_equal(keel_async_callv(a, keep_cb, &r[N], "GET", "c", NULL), 0);
    RUN_UNTIL(ended == 1, 5000);
    assert_int_equal(r[N].status, 0);
    keel_value_free(r[N].v);
    for (int i = 0; i < N; i++) assert_int_equal(keel_async_callv(a, keep_cb, &r[i], "INCR", "c", NULL), 0);
    closed = false;
    keel_async_close(a, count_closed_cb, &closed);
    assert_int_equal(keel_async_callv(a, keep_cb, &r[N], "GET", "c", NULL), KEEL_ESHUTDOWN);
    RUN_UNTIL(closed, 5000);
    assert_int_equal(ended_at_close, N + 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, KEEL_EUNCERTAIN);
        assert_non_null(strstr(r[i].err, "closed"));
    }
    close_loop();

    /* 3: closed from inside the first call's callback */
    a = open_async(5000);
    memset(r, 0, sizeof r);
    ended = 0;
    closed = false;
    assert_int_equal(keel_async_callv(a, close_cb_closes, &r[0], "INCR", "c", NULL), 0);
    for (int i = 1; i < N; i++) assert_int_equal(keel_async_callv(a, keep_cb, &r[i], "INCR", "c", NULL), 0);
    RUN_UNTIL(closed, 5000);
    assert_int_equal(ended_at_close, N);
    assert_int_equal(r[0].status, 0);
    keel_value_free(r[0].v);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].order, i);
        assert_true(r[i].status == 0 || r[i].status == KEEL_EUNCERTAIN);
        if (r[i].status == 0 && i > 0) keel_value_free(r[i].v);
    }
    close_loop();
    kc_stop(&cl);
}

static void test_bad_options(void **state)
{
    (void)state;
    char err[KEEL_ERRMSG_SIZE];
    struct keel_async *a;
    uv_loop_t l;
    assert_int_equal(uv_loop_init(&l), 0);
    struct keel_client_options bad = {.endpoints = "127.0.0.1"};
    assert_int_equal(keel_async_open(&l, &bad, &a, err, sizeof err), KEEL_EINVAL);
    assert_non_null(strstr(err, "want host:port"));
    assert_int_equal(keel_async_open(NULL, NULL, &a, err, sizeof err), KEEL_EINVAL);
    assert_int_equal(uv_loop_close(&l), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a libuv program's duty (see keel/async.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_replies, teardown),
        cmocka_unit_test_teardown(test_pipelined_1000, teardown),
        cmocka_unit_test_teardown(test_leader_killed_during_stream, teardown),
        cmocka_unit_test_teardown(test_unknown_outcome, teardown),
        cmocka_unit_test_teardown(test_no_node_answers, teardown),
        cmocka_unit_test_teardown(test_close_with_calls_pending, teardown),
        cmocka_unit_test_teardown(test_bad_options, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
