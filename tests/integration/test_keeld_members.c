/* tests/integration: membership on a real cluster through KEEL.MEMBER: the
 * list every node gives, a standby added ahead of its start, caught up
 * without a vote, promoted and removed; a follower and then the leader
 * removed and added back while writes go on, nothing acknowledged lost; and
 * the answers to bad requests. Every wait is a bounded poll. */
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

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* Node i's view of member id: its role ("voter", ...), or "" if absent;
 * *leader set from the fifth field. */
static const char *role_of(unsigned i, unsigned id, int *leader, char *raft, char *client)
{
    static char role[16];
    role[0] = 0;
    redisReply *r = kc_cmd(&cl, i, "KEEL.MEMBER LIST");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t m = 0; m < r->elements; m++) {
        redisReply *e = r->element[m];
        assert_int_equal(e->type, REDIS_REPLY_ARRAY);
        assert_int_equal(e->elements, 6);
        if ((unsigned)e->element[0]->integer != id) continue;
        snprintf(role, sizeof role, "%s", e->element[3]->str);
        if (leader) *leader = (int)e->element[4]->integer;
        if (raft) strcpy(raft, e->element[1]->str);
        if (client) strcpy(client, e->element[2]->str);
    }
    freeReplyObject(r);
    return role;
}

static size_t members_seen(unsigned i)
{
    redisReply *r = kc_cmd(&cl, i, "KEEL.MEMBER LIST");
    assert_non_null(r);
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    freeReplyObject(r);
    return n;
}

/* Wait (bounded) until node i sees member id with role ("" = absent). */
static bool wait_role(unsigned i, unsigned id, const char *want)
{
    for (int t = 0; t < 300; t++) {
        if (strcmp(role_of(i, id, NULL, NULL, NULL), want) == 0) return true;
        kc_pause_ms(50);
    }
    return false;
}

static void set_ok(unsigned i, const char *key, const char *val)
{
    redisReply *r = kc_cmd(&cl, i, "SET %s %s", key, val);
    if (!kc_is_status(r, "OK")) fail_msg("SET %s on node %u: %s", key, i + 1, r ? r->str : "no reply");
    freeReplyObject(r);
}

static void get_is(unsigned i, const char *key, const char *val)
{
    redisReply *r = kc_cmd(&cl, i, "GET %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, val);
    freeReplyObject(r);
}

/* Every node lists the three voters with their raft and client addresses,
 * and agrees which one leads. */
static void test_list(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    set_ok((unsigned)leader, "warm", "1"); /* the node table is written by then */
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(members_seen(i), 3);
        for (unsigned id = 1; id <= 3; id++) {
            char raft[64] = "", client[64] = "", want[64];
            int lead = -1;
            bool ok = false;
            /* a follower may not have applied the node table yet */
            for (int t = 0; t < 100 && !ok; t++) {
                assert_string_equal(role_of(i, id, &lead, raft, client), "voter");
                snprintf(want, sizeof want, "127.0.0.1:%u", cl.nodes[id - 1].client_port);
                ok = strcmp(client, want) == 0;
                if (!ok) kc_pause_ms(50);
            }
            assert_true(ok);
            snprintf(want, sizeof want, "127.0.0.1:%u", cl.nodes[id - 1].raft_port);
            assert_string_equal(raft, want);
            assert_int_equal(lead, (int)id == leader + 1);
        }
    }
    kc_stop(&cl);
}

/* An operator adds node 4 as a standby before it runs (through a follower,
 * which forwards); started with --join it keeps that role, receives the log
 * but does not vote; promoted it votes; removed it is gone. Each change is
 * idempotent. */
static void test_standby_promote_remove(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    unsigned via = ((unsigned)leader + 1) % 3;
    for (int k = 0; k < 50; k++) {
        char key[16];
        snprintf(key, sizeof key, "m:%d", k);
        set_ok((unsigned)leader, key, key);
    }
    unsigned four = kc_prepare_node(&cl, via);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", cl.nodes[four].raft_port);
    redisReply *r = kc_cmd(&cl, via, "KEEL.MEMBER ADD 4 %s STANDBY", addr);
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    r = kc_cmd(&cl, via, "KEEL.MEMBER ADD 4 %s STANDBY", addr); /* again: already so */
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    r = kc_cmd(&cl, (unsigned)leader, "KEEL.MEMBER ADD 4 127.0.0.1:1 STANDBY");
    assert_true(kc_is_error(r, "ERR id 4 is already a member at"));
    freeReplyObject(r);
    assert_true(wait_role((unsigned)leader, 4, "standby"));
    assert_int_equal(kc_info_u64(&cl, (unsigned)leader, "raft", "voters"), 3);

    kc_start_node(&cl, four); /* --join: already a standby, stays one */
    set_ok((unsigned)leader, "m:last", "yes");
    uint64_t commit = kc_info_u64(&cl, (unsigned)leader, "raft", "commit_index");
    bool caught = false;
    for (int t = 0; t < 200 && !caught; t++) {
        caught = kc_info_u64(&cl, four, "raft", "applied_index") >= commit;
        if (!caught) kc_pause_ms(50);
    }
    assert_true(caught);
    assert_string_equal(role_of((unsigned)leader, 4, NULL, NULL, NULL), "standby");

    r = kc_cmd(&cl, via, "KEEL.MEMBER PROMOTE 4");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    assert_true(wait_role((unsigned)leader, 4, "voter"));
    assert_int_equal(kc_info_u64(&cl, (unsigned)leader, "raft", "voters"), 4);
    get_is(four, "m:last", "yes");

    r = kc_cmd(&cl, (unsigned)leader, "KEEL.MEMBER REMOVE 4");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    assert_true(wait_role((unsigned)leader, 4, ""));
    r = kc_cmd(&cl, (unsigned)leader, "KEEL.MEMBER REMOVE 4"); /* again: already so */
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    r = kc_cmd(&cl, (unsigned)leader, "KEEL.MEMBER PROMOTE 4");
    assert_true(kc_is_error(r, "ERR no member with id 4"));
    freeReplyObject(r);
    kc_signal(&cl, four, SIGTERM);
    set_ok((unsigned)leader, "m:after", "3 voters");
    kc_stop(&cl);
}

/* Remove a follower and the leader in turn, each stopped meanwhile and
 * added back with its old data; writes go on throughout and every one
 * acknowledged is on every node at the end. */
static void test_remove_and_add_back(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    set_ok((unsigned)leader, "r:0", "before");
    for (int round = 0; round < 2; round++) {
        /* round 0: a follower; round 1: the leader itself */
        unsigned victim = round == 0 ? ((unsigned)leader + 1) % 3 : (unsigned)leader;
        unsigned other = (victim + 1) % 3;
        redisReply *r = kc_cmd(&cl, other, "KEEL.MEMBER REMOVE %u", victim + 1);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
        kc_signal(&cl, victim, SIGTERM);
        leader = kc_leader(&cl, 10000);
        assert_true(leader >= 0 && (unsigned)leader != victim);
        assert_int_equal(kc_info_u64(&cl, (unsigned)leader, "raft", "voters"), 2);
        char key[16];
        snprintf(key, sizeof key, "r:%d", round + 1);
        set_ok(other, key, "while removed"); /* two voters: both must ack */

        kc_start_node(&cl, victim); /* its old config still lists itself */
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%u", cl.nodes[victim].raft_port);
        r = kc_cmd(&cl, other, "KEEL.MEMBER ADD %u %s", victim + 1, addr);
        assert_true(kc_is_status(r, "OK"));
        freeReplyObject(r);
        assert_true(wait_role((unsigned)leader, victim + 1, "voter"));
        leader = kc_leader(&cl, 10000);
        assert_true(leader >= 0);
        assert_int_equal(kc_info_u64(&cl, (unsigned)leader, "raft", "voters"), 3);
    }
    set_ok((unsigned)leader, "r:end", "3 voters");
    for (unsigned i = 0; i < 3; i++) {
        get_is(i, "r:0", "before");
        get_is(i, "r:1", "while removed");
        get_is(i, "r:2", "while removed");
        get_is(i, "r:end", "3 voters");
    }
    kc_stop(&cl);
}

static void test_bad_requests(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    static const char *const bad[] = {
        "KEEL.MEMBER FOO", "KEEL.MEMBER ADD 4", "KEEL.MEMBER ADD 0 127.0.0.1:1",
        "KEEL.MEMBER ADD x 127.0.0.1:1", "KEEL.MEMBER ADD 4 127.0.0.1:1 VOTER",
        "KEEL.MEMBER REMOVE", "KEEL.MEMBER PROMOTE 1 2", "KEEL.MEMBER LIST x",
    };
    for (unsigned i = 0; i < 3; i++) {
        for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
            redisReply *r = kc_cmd(&cl, i, bad[b]);
            if (!kc_is_error(r, "ERR usage: KEEL.MEMBER"))
                fail_msg("%s on node %u: %s", bad[b], i + 1, r ? r->str : "no reply");
            freeReplyObject(r);
        }
        redisReply *r = kc_cmd(&cl, i, "KEEL.MEMBER");
        assert_true(kc_is_error(r, "ERR wrong number of arguments"));
        freeReplyObject(r);
        r = kc_cmd(&cl, i, "KEEL.MEMBER ADD 9 not-an-address");
        assert_true(kc_is_error(r, "ERR 'not-an-address' is no raft address"));
        freeReplyObject(r);
        r = kc_cmd(&cl, i, "KEEL.MEMBER ADD 9 127.0.0.1:99999");
        assert_true(kc_is_error(r, "ERR '127.0.0.1:99999' is no raft address"));
        freeReplyObject(r);
        r = kc_cmd(&cl, i, "KEEL.MEMBER PROMOTE 9");
        assert_true(kc_is_error(r, "ERR no member with id 9"));
        freeReplyObject(r);
        /* an address another member holds */
        r = kc_cmd(&cl, i, "KEEL.MEMBER ADD 9 127.0.0.1:%u", cl.nodes[0].raft_port);
        assert_true(kc_is_error(r, "ERR id 9 or its address is already in use"));
        freeReplyObject(r);
        assert_int_equal(members_seen(i), 3);
    }
    kc_stop(&cl);
}

/* KEEL.TRANSFER through a follower hands leadership to the chosen voter. */
static void test_transfer(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    unsigned to = ((unsigned)leader + 2) % 3, via = ((unsigned)leader + 1) % 3;
    redisReply *r = kc_cmd(&cl, via, "KEEL.TRANSFER %u", to + 1);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_INTEGER) fail_msg("KEEL.TRANSFER: %s", r->str ? r->str : "?");
    assert_int_equal(r->integer, to + 1);
    freeReplyObject(r);
    assert_int_equal(kc_leader(&cl, 10000), (int)to);
    r = kc_cmd(&cl, to, "KEEL.TRANSFER 9");
    assert_true(kc_is_error(r, "ERR 9 is not a voter"));
    freeReplyObject(r);
    set_ok(to, "after", "transfer");
    kc_stop(&cl);
}

/* A KEEL.TRANSFER while another one runs is answered -BUSY, the error
 * table's word for KEEL_EBUSY: the leader is busy, ask it again. It used to
 * be -TRYAGAIN, which tells a client that this node has no leader and sends
 * it to another node. The target is stopped so that the first transfer
 * stays running (until its election timeout) while the second arrives; the
 * two are sent on two connections at once, so either may be the second. */
static void test_transfer_busy(void **state)
{
    (void)state;
    kc_start(&cl, 3, "--election-timeout 3000 --heartbeat-timeout 100");
    int leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    unsigned to = ((unsigned)leader + 1) % 3;
    kc_signal(&cl, to, SIGSTOP);
    redisContext *a = kc_connect(&cl, (unsigned)leader), *b = kc_connect(&cl, (unsigned)leader);
    assert_true(a != NULL && !a->err && b != NULL && !b->err);
    assert_int_equal(redisAppendCommand(a, "KEEL.TRANSFER %u", to + 1), REDIS_OK);
    assert_int_equal(redisAppendCommand(b, "KEEL.TRANSFER %u", to + 1), REDIS_OK);
    int done = 0;
    while (!done) {
        assert_int_equal(redisBufferWrite(a, &done), REDIS_OK);
    }
    done = 0;
    while (!done) {
        assert_int_equal(redisBufferWrite(b, &done), REDIS_OK);
    }
    redisReply *ra = NULL, *rb = NULL;
    assert_int_equal(redisGetReply(a, (void **)&ra), REDIS_OK);
    assert_int_equal(redisGetReply(b, (void **)&rb), REDIS_OK);
    redisReply *busy = ra->type == REDIS_REPLY_ERROR && strstr(ra->str, "already running") ? ra : rb;
    if (busy->type != REDIS_REPLY_ERROR || strstr(busy->str, "already running") == NULL)
        fail_msg("no transfer was refused as already running: %s / %s", ra->str ? ra->str : "?",
                 rb->str ? rb->str : "?");
    assert_string_equal(busy->str, "BUSY a leadership transfer is already running");
    freeReplyObject(ra);
    freeReplyObject(rb);
    redisFree(a);
    redisFree(b);
    kc_signal(&cl, to, SIGCONT);
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_list, teardown),
        cmocka_unit_test_teardown(test_standby_promote_remove, teardown),
        cmocka_unit_test_teardown(test_remove_and_add_back, teardown),
        cmocka_unit_test_teardown(test_bad_requests, teardown),
        cmocka_unit_test_teardown(test_transfer, teardown),
        cmocka_unit_test_teardown(test_transfer_busy, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
