/* tests/integration: membership changes under faults (issue 12, defect 5).
 *
 * - A remove forwarded by a follower while the leader is paused (SIGSTOP)
 *   reaches the leader after its deadline: the follower answers -UNCERTAIN
 *   at the deadline, the leader refuses the late request unexecuted, and
 *   the membership stays as it was.
 * - Adding a node that cannot keep up (a slow disk, --test-slow-append-ms,
 *   while writes go on) ends by its TIMEOUT with a reason naming the node
 *   and how far it got; it stays a standby and, once the writes stop, joins
 *   as a voter by itself.
 * - A leader stopped while such an add runs exits cleanly.
 * - With one follower cut off from raft traffic (KEEL.DRILL ISOLATE, a
 *   partition of that node), removing the other follower is refused (the
 *   cluster would lose its quorum), at once (the voters left must answer a
 *   new entry) and once the leader knows, removing the cut-off one works, taking
 *   the next voter away (one would be left) is refused; after the heal the
 *   node is added back (the same add sent twice at once: both +OK) and all
 *   three are voters again with every write on every node.
 * Every wait is a bounded poll. */
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

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static const char *text(redisReply *r)
{
    return r == NULL ? "(no reply)" : r->str ? r->str : "(not a string)";
}

/* Node i's view of member id's role ("voter", ...; "" if absent). */
static const char *role_of(unsigned i, unsigned id)
{
    static char role[16];
    role[0] = 0;
    redisReply *r = kc_cmd(&cl, i, "KEEL.MEMBER LIST");
    for (size_t m = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && m < r->elements; m++) {
        redisReply *e = r->element[m];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 4 && (unsigned)e->element[0]->integer == id)
            snprintf(role, sizeof role, "%s", e->element[3]->str);
    }
    if (r) freeReplyObject(r);
    return role;
}

static bool wait_role(unsigned i, unsigned id, const char *want, unsigned ms)
{
    long long end = kc_now_ms() + ms;
    do {
        if (strcmp(role_of(i, id), want) == 0) return true;
        kc_pause_ms(50);
    } while (kc_now_ms() < end);
    return false;
}

static long long info_ll(unsigned i, const char *section, const char *field)
{
    redisReply *r = kc_cmd(&cl, i, "INFO %s", section);
    long long v = -1;
    char key[80];
    snprintf(key, sizeof key, "%s:", field);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    if (p) v = atoll(p + strlen(key));
    if (r) freeReplyObject(r);
    return v;
}

static bool info_has(unsigned i, const char *section, const char *needle)
{
    redisReply *r = kc_cmd(&cl, i, "INFO %s", section);
    bool has = r && r->type == REDIS_REPLY_STRING && strstr(r->str, needle) != NULL;
    if (r) freeReplyObject(r);
    return has;
}

static void set_ok(unsigned i, const char *key, const char *val)
{
    redisReply *r = kc_cmd(&cl, i, "SET %s %s", key, val);
    if (!kc_is_status(r, "OK")) fail_msg("SET %s on node %u: %s", key, i + 1, text(r));
    freeReplyObject(r);
}

/* 1. A forwarded remove held up past its deadline never takes effect. */
static void test_late_forwarded_remove_not_executed(void **state)
{
    (void)state;
    /* A long election timeout: the paused leader is still the leader when
     * it runs again, and would execute what it finds if nothing stopped it. */
    kc_start(&cl, 3, "--election-timeout 5000 --heartbeat-timeout 200 --forward-timeout 1000");
    int leader = kc_leader(&cl, 30000);
    assert_true(leader >= 0);
    unsigned L = (unsigned)leader, F = (L + 1) % 3, V = (L + 2) % 3;
    /* Both forwarding connections up and their clocks known. */
    redisReply *r = kc_cmd(&cl, F, "SET warm 1");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    r = kc_cmd(&cl, F, "KEEL.MEMBER PROMOTE %u", L + 1); /* already a voter: +OK from the leader */
    if (!kc_is_status(r, "OK")) fail_msg("warm-up through node %u: %s", F + 1, text(r));
    freeReplyObject(r);
    long long expired0 = info_ll(L, "stats", "keel_forwarded_expired");
    assert_true(expired0 >= 0);

    kc_signal(&cl, L, SIGSTOP);
    long long t0 = kc_now_ms();
    r = kc_cmd_within(&cl, F, 10000, "KEEL.MEMBER REMOVE %u", V + 1);
    long long took = kc_now_ms() - t0;
    /* Answered at the deadline (1 s, plus the grace for the leader's own
     * answer), not whenever the leader wakes up. */
    if (r == NULL || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "UNCERTAIN", 9) != 0 || took > 5000)
        fail_msg("remove through node %u with the leader paused: after %lld ms: %s", F + 1, took, text(r));
    freeReplyObject(r);
    while (kc_now_ms() - t0 < 2500) kc_pause_ms(50); /* well past the deadline on any clock */
    kc_signal(&cl, L, SIGCONT);

    /* The leader reads the request now, refuses it, and stays the leader. */
    long long expired = expired0;
    for (int t = 0; t < 100 && expired <= expired0; t++) {
        kc_pause_ms(50);
        expired = info_ll(L, "stats", "keel_forwarded_expired");
    }
    if (expired <= expired0) fail_msg("the leader never refused the late remove (keel_forwarded_expired %lld)", expired);
    assert_int_equal(kc_leader(&cl, 10000), (int)L);
    assert_string_equal(role_of(L, V + 1), "voter");
    assert_int_equal(info_ll(L, "raft", "voters"), 3);
    /* A fresh remove goes through: the path works, the old one was late. */
    r = kc_cmd(&cl, F, "KEEL.MEMBER REMOVE %u", V + 1);
    if (!kc_is_status(r, "OK")) fail_msg("remove in time: %s", text(r));
    freeReplyObject(r);
    assert_true(wait_role(L, V + 1, "", 5000));
    kc_stop(&cl);
}

struct writer
{
    volatile bool stop;
    unsigned node;
    unsigned writes;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    redisContext *c = kc_connect(&cl, w->node);
    for (unsigned i = 0; !w->stop && c != NULL && !c->err; i++) {
        redisReply *r = redisCommand(c, "SET w:%u %u", i % 1000, i);
        if (r) freeReplyObject(r);
        w->writes++;
        kc_pause_ms(2);
    }
    if (c) redisFree(c);
    return NULL;
}

/* 2. An add of a node that cannot keep up (its disk takes 10 ms per append
 * while the leader appends every few ms) ends by its TIMEOUT, saying how
 * far the node got; the node stays a standby that replicates on, and once
 * the writes stop its own --join makes it a voter. */
static void test_add_of_slow_node_is_bounded(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--member-timeout 6000");
    unsigned L = (unsigned)leader;
    struct writer writer = {.node = L};
    pthread_t wt;
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &writer), 0);
    unsigned four = kc_prepare_node(&cl, L);
    snprintf(cl.nodes[four].extra, sizeof cl.nodes[four].extra, "--test-slow-append-ms 10");
    kc_start_node(&cl, four); /* --join: it asks to be added itself, with the same bound */

    long long t0 = kc_now_ms();
    redisReply *r = kc_cmd_within(&cl, L, 60000, "KEEL.MEMBER ADD 4 127.0.0.1:%u TIMEOUT 6000", cl.nodes[four].raft_port);
    long long took = kc_now_ms() - t0;
    char why[800];
    snprintf(why, sizeof why, "%s", text(r));
    freeReplyObject(r);
    unsigned writes = writer.writes;
    writer.stop = true;
    pthread_join(wt, NULL);
    print_message("add of a slow node: %lld ms, %u writes meanwhile: %s\n", took, writes, why);
    /* Bounded: the TIMEOUT, plus a step already under way. */
    if (took > 12000) fail_msg("the add took %lld ms (TIMEOUT 6000): %s", took, why);
    if (!strstr(why, "membership change failed: node 4 at index") || !strstr(why, "entries/s") ||
        !strstr(why, "a standby"))
        fail_msg("no clear reason: %s", why);
    assert_string_equal(role_of(L, 4), "standby");
    assert_int_equal(info_ll(L, "raft", "voters"), 3);
    /* It replicated on; with the writes stopped it catches up and its
     * --join (retried every second) makes it a voter. */
    if (!wait_role(L, 4, "voter", 90000)) fail_msg("node 4 is %s, not a voter", role_of(L, 4));
    set_ok(L, "after", "4 voters");
    assert_int_equal(info_ll(L, "raft", "voters"), 4);
    kc_stop(&cl);
}

/* 2b. A leader stopped while an add is catching a node up stops cleanly
 * (the change answered as uncertain; under ASan, the answer must not read
 * raft's configuration, which raft_close has freed). */
static void test_stop_during_add(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    unsigned L = (unsigned)leader;
    struct writer writer = {.node = L};
    pthread_t wt;
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &writer), 0);
    unsigned four = kc_prepare_node(&cl, L);
    snprintf(cl.nodes[four].extra, sizeof cl.nodes[four].extra, "--test-slow-append-ms 10");
    kc_start_node(&cl, four); /* its --join starts the add */
    bool running = false;
    for (int t = 0; t < 200 && !running; t++) {
        running = info_has(L, "raft", "member_change:make node 4 a voter");
        if (!running) kc_pause_ms(25);
    }
    writer.stop = true;
    pthread_join(wt, NULL);
    if (!running) fail_msg("no add of node 4 seen running on the leader");
    kc_signal(&cl, L, SIGTERM); /* must exit 0 */
    kc_stop(&cl);
}

/* 3. Remove and add under a partition of one node: refused when unsafe,
 * restored after the heal. */
static void test_membership_under_partition(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--enable-drills");
    unsigned L = (unsigned)leader, A = (L + 1) % 3, B = (L + 2) % 3;
    set_ok(L, "before", "1");
    redisReply *r = kc_cmd(&cl, A, "KEEL.DRILL ISOLATE 6000");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    long long healed_at = kc_now_ms() + 6000;
    /* At once, while A still looks healthy to the leader: removing B would
     * leave the leader and the cut-off A. The voters left must acknowledge
     * a new entry first, and A cannot. */
    r = kc_cmd(&cl, B, "KEEL.MEMBER REMOVE %u", B + 1);
    if (r == NULL || r->type != REDIS_REPLY_ERROR || !strstr(r->str, "lose its quorum") || !strstr(r->str, "FORCE"))
        fail_msg("remove of node %u just after node %u was cut off: %s", B + 1, A + 1, text(r));
    freeReplyObject(r);
    assert_string_equal(role_of(L, B + 1), "voter");
    /* The leader notices (QUORUM_AT_RISK: A has not answered for 1.5 s). */
    bool seen = false;
    for (int t = 0; t < 100 && !seen; t++) {
        seen = info_has(L, "alarms", "QUORUM_AT_RISK");
        if (!seen) kc_pause_ms(50);
    }
    assert_true(seen);

    /* Removing B would leave the leader and the cut-off A: no quorum. */
    r = kc_cmd(&cl, B, "KEEL.MEMBER REMOVE %u", B + 1);
    if (r == NULL || r->type != REDIS_REPLY_ERROR || !strstr(r->str, "lose its quorum") || !strstr(r->str, "FORCE"))
        fail_msg("remove of node %u with node %u cut off: %s", B + 1, A + 1, text(r));
    freeReplyObject(r);
    assert_string_equal(role_of(L, B + 1), "voter");

    /* Removing A itself is safe; a retry of it is +OK too. */
    for (int k = 0; k < 2; k++) {
        r = kc_cmd(&cl, B, "KEEL.MEMBER REMOVE %u", A + 1);
        if (!kc_is_status(r, "OK")) fail_msg("remove of the cut-off node %u (try %d): %s", A + 1, k + 1, text(r));
        freeReplyObject(r);
    }
    assert_int_equal(info_ll(L, "raft", "voters"), 2);
    set_ok(B, "two", "2");

    /* One voter would be left: refused unless forced. */
    r = kc_cmd(&cl, L, "KEEL.MEMBER REMOVE %u", B + 1);
    if (r == NULL || r->type != REDIS_REPLY_ERROR || !strstr(r->str, "single voter"))
        fail_msg("remove down to one voter: %s", text(r));
    freeReplyObject(r);
    assert_int_equal(info_ll(L, "raft", "voters"), 2);

    /* After the heal, add A back: the same add twice at once (a retry of
     * an uncertain one) gives +OK twice. */
    while (kc_now_ms() < healed_at + 500) kc_pause_ms(50);
    redisContext *c1 = kc_connect(&cl, B), *c2 = kc_connect(&cl, L);
    struct timeval tv = {30, 0};
    redisSetTimeout(c1, tv);
    redisSetTimeout(c2, tv);
    redisAppendCommand(c1, "KEEL.MEMBER ADD %u 127.0.0.1:%u TIMEOUT 20000", A + 1, cl.nodes[A].raft_port);
    redisAppendCommand(c2, "KEEL.MEMBER ADD %u 127.0.0.1:%u TIMEOUT 20000", A + 1, cl.nodes[A].raft_port);
    redisReply *r1 = NULL, *r2 = NULL;
    redisGetReply(c1, (void **)&r1);
    redisGetReply(c2, (void **)&r2);
    if (!kc_is_status(r1, "OK") || !kc_is_status(r2, "OK"))
        fail_msg("add back: %s / %s", text(r1), text(r2));
    freeReplyObject(r1);
    freeReplyObject(r2);
    redisFree(c1);
    redisFree(c2);
    for (unsigned i = 0; i < 3; i++)
        if (!wait_role(i, A + 1, "voter", 10000)) fail_msg("node %u sees node %u as %s", i + 1, A + 1, role_of(i, A + 1));
    assert_int_equal(info_ll(L, "raft", "voters"), 3);
    set_ok(L, "after", "3");
    for (unsigned i = 0; i < 3; i++) {
        bool ok = false;
        for (int t = 0; t < 100 && !ok; t++) {
            r = kc_cmd(&cl, i, "MGET before two after");
            ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->str &&
                 r->element[1]->str && r->element[2]->str;
            if (r) freeReplyObject(r);
            if (!ok) kc_pause_ms(50);
        }
        if (!ok) fail_msg("node %u lacks a write", i + 1);
    }
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_late_forwarded_remove_not_executed, teardown),
        cmocka_unit_test_teardown(test_add_of_slow_node_is_bounded, teardown),
        cmocka_unit_test_teardown(test_stop_during_add, teardown),
        cmocka_unit_test_teardown(test_membership_under_partition, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
