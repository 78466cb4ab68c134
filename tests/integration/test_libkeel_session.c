/* tests/integration: libkeel's pipelines and session helpers
 * (include/keel/session.h), and the server commands under them
 * (KEEL.VERSIONS, KEEL.WATCHV), against a real three-node cluster. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"
#include "keel/session.h"

static struct kc cl;
static char err[KEEL_ERRMSG_SIZE];

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static struct keel_client *start(void)
{
    char eps[256];
    struct keel_client *c;
    kc_start_leader(&cl, 3, "");
    snprintf(eps, sizeof eps, "127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u", cl.nodes[0].client_port,
             cl.nodes[1].client_port, cl.nodes[2].client_port);
    struct keel_client_options o = {.endpoints = eps, .timeout_ms = 5000};
    assert_int_equal(keel_client_open(&o, &c, err, sizeof err), 0);
    return c;
}

#define OK(call)                                                        \
    do {                                                                \
        int rc_ = (call);                                               \
        if (rc_ != 0) fail_msg("%s: %s (%d)", #call, err, rc_);         \
    } while (0)

static const char *field(const struct keel_session *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->fields[i], name) == 0) return s->values[i];
    return NULL;
}

static void test_session_lifecycle(void **state)
{
    (void)state;
    struct keel_client *c = start();
    struct keel_session *s;
    bool found, swapped;
    const char *f[] = {"user", "step"}, *v[] = {"alice", "1"};
    OK(keel_session_put(c, "sess:1", 2, f, v, NULL, 60000, err, sizeof err));
    OK(keel_session_get(c, "sess:1", &s, err, sizeof err));
    assert_true(s->found);
    assert_int_equal(s->n, 2);
    assert_string_equal(field(s, "user"), "alice");
    assert_string_equal(field(s, "step"), "1");
    assert_true(s->ttl_ms > 0 && s->ttl_ms <= 60000);
    assert_true(s->version > 0);
    uint64_t v1 = s->version;
    keel_session_free(s);

    OK(keel_session_cas(c, "sess:1", v1, "step", "2", 1, &swapped, err, sizeof err));
    assert_true(swapped);
    OK(keel_session_cas(c, "sess:1", v1, "step", "3", 1, &swapped, err, sizeof err));
    assert_false(swapped); /* the version moved on: nothing written */
    OK(keel_session_get(c, "sess:1", &s, err, sizeof err));
    assert_string_equal(field(s, "step"), "2");
    assert_true(s->version > v1);
    assert_true(s->ttl_ms > 0); /* a field change keeps the TTL */
    keel_session_free(s);

    OK(keel_session_refresh(c, "sess:1", 120000, &found, err, sizeof err));
    assert_true(found);
    OK(keel_session_get(c, "sess:1", &s, err, sizeof err));
    assert_true(s->ttl_ms > 60000);
    keel_session_free(s);

    /* put replaces the whole document */
    const char *f2[] = {"user"}, *v2[] = {"bob"};
    OK(keel_session_put(c, "sess:1", 1, f2, v2, NULL, 0, err, sizeof err));
    OK(keel_session_get(c, "sess:1", &s, err, sizeof err));
    assert_int_equal(s->n, 1);
    assert_string_equal(field(s, "user"), "bob");
    assert_int_equal(s->ttl_ms, -1);
    keel_session_free(s);

    OK(keel_session_delete(c, "sess:1", &found, err, sizeof err));
    assert_true(found);
    OK(keel_session_get(c, "sess:1", &s, err, sizeof err));
    assert_false(s->found);
    assert_int_equal(s->version, 0);
    keel_session_free(s);
    OK(keel_session_delete(c, "sess:1", &found, err, sizeof err));
    assert_false(found);
    OK(keel_session_refresh(c, "sess:1", 1000, &found, err, sizeof err));
    assert_false(found);

    /* version 0: create only if absent */
    OK(keel_session_cas(c, "sess:2", 0, "user", "carol", 5, &swapped, err, sizeof err));
    assert_true(swapped);
    OK(keel_session_cas(c, "sess:2", 0, "user", "dave", 4, &swapped, err, sizeof err));
    assert_false(swapped);

    /* a short TTL runs out */
    OK(keel_session_put(c, "sess:3", 1, f2, v2, NULL, 200, err, sizeof err));
    bool gone = false;
    for (int t = 0; t < 100 && !gone; t++) {
        OK(keel_session_get(c, "sess:3", &s, err, sizeof err));
        gone = !s->found;
        keel_session_free(s);
        if (!gone) kc_pause_ms(20);
    }
    assert_true(gone);
    keel_client_close(c);
    kc_stop(&cl);
}

static void test_pipeline(void **state)
{
    (void)state;
    struct keel_client *c = start();
    const char *a1[] = {"SET", "p", "1"}, *a2[] = {"INCR", "p"}, *a3[] = {"GET", "p"};
    size_t l1[] = {3, 1, 1}, l2[] = {4, 1}, l3[] = {3, 1};
    struct keel_cmd cmds[3] = {{3, a1, l1}, {2, a2, l2}, {2, a3, l3}};
    struct keel_value *r[3];
    OK(keel_pipeline(c, 3, cmds, r, err, sizeof err));
    assert_string_equal(r[0]->str, "OK");
    assert_int_equal(r[1]->integer, 2);
    assert_string_equal(r[2]->str, "2");
    for (int i = 0; i < 3; i++) keel_value_free(r[i]);
    /* a transaction */
    const char *m[] = {"MULTI"}, *e[] = {"EXEC"}, *i1[] = {"INCR", "p"};
    size_t lm[] = {5}, le[] = {4}, li[] = {4, 1};
    struct keel_cmd tx[4] = {{1, m, lm}, {2, i1, li}, {2, i1, li}, {1, e, le}};
    struct keel_value *t[4];
    OK(keel_pipeline(c, 4, tx, t, err, sizeof err));
    assert_string_equal(t[1]->str, "QUEUED");
    assert_int_equal(t[3]->type, KEEL_VALUE_ARRAY);
    assert_int_equal(t[3]->elements[1]->integer, 4);
    for (int i = 0; i < 4; i++) keel_value_free(t[i]);
    assert_int_equal(keel_pipeline(c, 0, tx, t, err, sizeof err), KEEL_EINVAL);
    keel_client_close(c);
    kc_stop(&cl);
}

/* The server side, through a follower and the leader alike. */
static void test_versions_and_watchv(void **state)
{
    (void)state;
    struct keel_client *c = start();
    keel_client_close(c);
    for (unsigned i = 0; i < 3; i++) {
        redisContext *x = kc_connect(&cl, i);
        redisReply *r = redisCommand(x, "KEEL.VERSIONS w%u", i);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->element[0]->integer, 0);
        freeReplyObject(r);
        freeReplyObject(redisCommand(x, "SET w%u a", i));
        r = redisCommand(x, "KEEL.VERSIONS w%u", i);
        long long v = r->element[0]->integer;
        assert_true(v > 0);
        freeReplyObject(r);
        /* the right version: EXEC runs */
        freeReplyObject(redisCommand(x, "KEEL.WATCHV w%u %lld", i, v));
        freeReplyObject(redisCommand(x, "MULTI"));
        freeReplyObject(redisCommand(x, "SET w%u b", i));
        r = redisCommand(x, "EXEC");
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        freeReplyObject(r);
        /* the old one: EXEC refuses (nil) */
        freeReplyObject(redisCommand(x, "KEEL.WATCHV w%u %lld", i, v));
        freeReplyObject(redisCommand(x, "MULTI"));
        freeReplyObject(redisCommand(x, "SET w%u c", i));
        r = redisCommand(x, "EXEC");
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        freeReplyObject(r);
        r = redisCommand(x, "GET w%u", i);
        assert_string_equal(r->str, "b");
        freeReplyObject(r);
        r = redisCommand(x, "KEEL.WATCHV w%u", i);
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
        r = redisCommand(x, "KEEL.WATCHV w%u x", i);
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
        freeReplyObject(redisCommand(x, "MULTI"));
        r = redisCommand(x, "KEEL.WATCHV w%u 1", i);
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
        freeReplyObject(redisCommand(x, "DISCARD"));
        redisFree(x);
    }
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_session_lifecycle, teardown),
        cmocka_unit_test_teardown(test_pipeline, teardown),
        cmocka_unit_test_teardown(test_versions_and_watchv, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
