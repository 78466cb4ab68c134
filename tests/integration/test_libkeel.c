/* tests/integration: libkeel (include/keel/client.h) against real keeld
 * processes: replies and their types, the leader preferred, the list of
 * exactly-once writes matching the server's, the leader SIGKILLed during a
 * stream of INCRs from several clients (every call succeeds, the count is
 * exact: nothing applied twice, nothing lost), an outcome that stays unknown
 * reported as such, and errors that name every endpoint. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"
#include "keel/client.h"

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static struct keel_client *open_client(unsigned timeout_ms)
{
    char eps[256], err[KEEL_ERRMSG_SIZE];
    struct keel_client *c;
    kc_endpoints(&cl, eps, sizeof eps);
    struct keel_client_options o = {.endpoints = eps, .timeout_ms = timeout_ms};
    if (keel_client_open(&o, &c, err, sizeof err) != 0) fail_msg("open: %s", err);
    return c;
}

/* Run a command that must succeed; the reply is the caller's. */
#define CALL(c, ...)                                                                  \
    ({                                                                                \
        struct keel_value *v_;                                                        \
        char e_[KEEL_ERRMSG_SIZE];                                                    \
        int rc_ = keel_callv((c), &v_, e_, sizeof e_, __VA_ARGS__, NULL);             \
        if (rc_ != 0) fail_msg("%s: %s (%d)", #__VA_ARGS__, e_, rc_);                 \
        v_;                                                                           \
    })

static void test_replies(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    struct keel_client *c = open_client(5000);
    struct keel_value *v = CALL(c, "SET", "k", "v");
    assert_int_equal(v->type, KEEL_VALUE_STATUS);
    assert_string_equal(v->str, "OK");
    keel_value_free(v);
    /* whichever endpoint it started at, it now talks to the leader */
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", cl.nodes[leader].client_port);
    assert_string_equal(keel_client_endpoint(c), want);
    v = CALL(c, "GET", "k");
    assert_int_equal(v->type, KEEL_VALUE_STRING);
    assert_int_equal(v->len, 1);
    assert_string_equal(v->str, "v");
    keel_value_free(v);
    v = CALL(c, "GET", "absent");
    assert_int_equal(v->type, KEEL_VALUE_NIL);
    keel_value_free(v);
    v = CALL(c, "INCR", "n");
    assert_int_equal(v->type, KEEL_VALUE_INTEGER);
    assert_int_equal(v->integer, 1);
    keel_value_free(v);
    v = CALL(c, "MGET", "k", "absent", "n");
    assert_int_equal(v->type, KEEL_VALUE_ARRAY);
    assert_int_equal(v->n, 3);
    assert_string_equal(v->elements[0]->str, "v");
    assert_int_equal(v->elements[1]->type, KEEL_VALUE_NIL);
    assert_string_equal(v->elements[2]->str, "1");
    keel_value_free(v);
    v = CALL(c, "HSET", "k", "f", "1"); /* the server's error is a reply */
    assert_int_equal(v->type, KEEL_VALUE_ERROR);
    assert_non_null(strstr(v->str, "WRONGTYPE"));
    keel_value_free(v);
    /* binary-safe arguments */
    const char *argv[] = {"SET", "bin", "a\0b"};
    size_t lens[] = {3, 3, 3};
    char err[KEEL_ERRMSG_SIZE];
    assert_int_equal(keel_call(c, 3, argv, lens, &v, err, sizeof err), 0);
    keel_value_free(v);
    v = CALL(c, "GET", "bin");
    assert_int_equal(v->len, 3);
    assert_memory_equal(v->str, "a\0b", 3);
    keel_value_free(v);
    assert_int_equal(keel_call(c, 0, argv, lens, &v, err, sizeof err), KEEL_EINVAL);
    keel_client_close(c);
    kc_stop(&cl);
}

/* libkeel's exactly-once list is keeld's list of data writes. */
static void test_write_list_matches_server(void **state)
{
    (void)state;
    kc_start(&cl, 1, "");
    redisReply *r = kc_cmd(&cl, 0, "COMMAND");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    unsigned writes = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        const char *name = e->element[0]->str;
        bool write = false;
        for (size_t f = 0; f < e->element[2]->elements; f++) write |= strcmp(e->element[2]->element[f]->str, "write") == 0;
        if (strncmp(name, "keel.", 5) == 0) continue; /* the nodes' own plumbing */
        if (write != keel_is_write(name, strlen(name))) fail_msg("%s: server write=%d, libkeel=%d", name, write, !write);
        writes += write;
    }
    freeReplyObject(r);
    assert_true(writes >= 20);
    assert_true(keel_is_write("SeT", 3));
    assert_false(keel_is_write("GET", 3));
    kc_stop(&cl);
}

#define THREADS 4

struct writer
{
    struct keel_client *c;
    volatile bool *stop;
    long done, failed;
    char last_err[KEEL_ERRMSG_SIZE];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    while (!*w->stop) {
        struct keel_value *v;
        char err[KEEL_ERRMSG_SIZE];
        int rc = keel_callv(w->c, &v, err, sizeof err, "INCR", "counter", NULL);
        if (rc == 0 && v->type == KEEL_VALUE_INTEGER) {
            w->done++;
        } else {
            w->failed++;
            snprintf(w->last_err, sizeof w->last_err, "%s", rc ? err : v->str);
        }
        if (rc == 0) keel_value_free(v);
    }
    return NULL;
}

static long total_done(struct writer *w)
{
    long n = 0;
    for (int i = 0; i < THREADS; i++) n += w[i].done;
    return n;
}

static void wait_progress(struct writer *w, long more)
{
    long want = total_done(w) + more;
    for (int t = 0; t < 500 && total_done(w) < want; t++) kc_pause_ms(20);
    assert_true(total_done(w) >= want);
}

static void test_leader_killed_during_writes(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    volatile bool stop = false;
    struct writer w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = open_client(15000); /* well past an election */
        w[i].stop = &stop;
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    for (int round = 0; round < 2; round++) {
        wait_progress(w, 300);
        int leader = kc_leader(&cl, 10000);
        assert_true(leader >= 0);
        kc_signal(&cl, (unsigned)leader, SIGKILL);
        wait_progress(w, 300); /* the survivors elected a leader and the clients found it */
        kc_start_node(&cl, (unsigned)leader);
    }
    wait_progress(w, 100);
    stop = true;
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    long done = 0;
    for (int i = 0; i < THREADS; i++) {
        if (w[i].failed) fail_msg("writer %d: %ld calls failed, last: %s", i, w[i].failed, w[i].last_err);
        done += w[i].done;
    }
    struct keel_value *v = CALL(w[0].c, "GET", "counter");
    assert_int_equal(v->type, KEEL_VALUE_STRING);
    assert_int_equal(atol(v->str), done); /* none twice, none lost */
    keel_value_free(v);
    for (int i = 0; i < THREADS; i++) keel_client_close(w[i].c);
    kc_stop(&cl);
}

/* The leader stops answering after it got the write: at the deadline the
 * outcome is unknown and said so, never a failure. */
static void test_unknown_outcome(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    struct keel_client *c = open_client(800);
    keel_value_free(CALL(c, "SET", "u", "0")); /* connected to the leader */
    kc_signal(&cl, (unsigned)leader, SIGSTOP);
    struct keel_value *v;
    char err[KEEL_ERRMSG_SIZE];
    int rc = keel_callv(c, &v, err, sizeof err, "INCR", "u", NULL);
    assert_int_equal(rc, KEEL_EUNCERTAIN);
    assert_non_null(strstr(err, "outcome unknown"));
    kc_signal(&cl, (unsigned)leader, SIGCONT);
    keel_client_close(c);
    kc_stop(&cl);
}

/* Nobody answers: a definite failure that names every endpoint. */
static void test_no_node_answers(void **state)
{
    (void)state;
    kc_start(&cl, 2, "");
    char eps[256], err[KEEL_ERRMSG_SIZE];
    kc_endpoints(&cl, eps, sizeof eps);
    kc_stop(&cl); /* the ports are free again: connections are refused */
    struct keel_client *c;
    struct keel_client_options o = {.endpoints = eps, .timeout_ms = 300};
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
    struct keel_value *v;
    assert_int_equal(keel_callv(c, &v, err, sizeof err, "SET", "a", "b", NULL), KEEL_ENOTLEADER);
    kc_assert_unreachable(err, eps);
    keel_client_close(c);
}

static void test_endpoint_options(void **state)
{
    (void)state;
    char err[KEEL_ERRMSG_SIZE], eps[256];
    struct keel_client *c;
    struct keel_client_options bad = {.endpoints = "127.0.0.1"};
    assert_int_equal(keel_client_open(&bad, &c, err, sizeof err), KEEL_EINVAL);
    assert_non_null(strstr(err, "want host:port"));
    bad.endpoints = " , ";
    assert_int_equal(keel_client_open(&bad, &c, err, sizeof err), KEEL_EINVAL);
    kc_start(&cl, 1, "");
    kc_endpoints(&cl, eps, sizeof eps);
    setenv("KEEL_ENDPOINTS", eps, 1);
    assert_int_equal(keel_client_open(NULL, &c, err, sizeof err), 0);
    keel_value_free(CALL(c, "SET", "env", "yes"));
    assert_true(keel_client_id(c) > 0);
    /* More words than keel_callv takes: refused, not cut short. */
    struct keel_value *v = NULL;
#define W8 "k", "k", "k", "k", "k", "k", "k", "k"
    assert_int_equal(keel_callv(c, &v, err, sizeof err, "DEL", W8, W8, W8, W8, W8, W8, W8, W8, NULL), KEEL_EINVAL);
#undef W8
    assert_null(v);
    assert_non_null(strstr(err, "at most 64 words"));
    keel_client_close(c);
    unsetenv("KEEL_ENDPOINTS");
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_replies, teardown),
        cmocka_unit_test_teardown(test_write_list_matches_server, teardown),
        cmocka_unit_test_teardown(test_leader_killed_during_writes, teardown),
        cmocka_unit_test_teardown(test_unknown_outcome, teardown),
        cmocka_unit_test_teardown(test_no_node_answers, teardown),
        cmocka_unit_test_teardown(test_endpoint_options, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
