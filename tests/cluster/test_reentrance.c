/* tests/cluster: completions that call straight back into raft (issue 12,
 * defect 1). raft 0.15 is not re-entrant: a leader stepping down fails its
 * pending requests from inside convertClearLeader, while raft_state() still
 * says leader and the replication state is already freed, and a proposal
 * made from such a callback crashed libraft. Completions are now delivered
 * outside raft (raft/defer.h), so a callback may propose again at once.
 *
 * On raft's deterministic fixture: a deposed leader's failed proposals each
 * propose again from their callback; a live leader's proposals chain, each
 * proposed from the previous one's callback. On a real node (libuv loop):
 * reads and writes issued from completions, a close with writes pending
 * (every callback exactly once, before the close callback), and the guard
 * that makes a raft call from inside a raft callback abort Debug builds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "uvnode.h"
#include "tests/lib/testlib.h"

/* ---- on the fixture ---------------------------------------------------- */

#define PENDING 8

struct again
{
    struct cluster *c;
    unsigned server;
    struct keel_proposal p;
    int calls;          /* callbacks received */
    int status;
    int order;          /* position among all callbacks */
    int depth;          /* the fsm's "inside raft" depth during the callback */
    int again_rc;       /* what proposing again from the callback returned */
    struct keel_proposal p2;
};

static int callbacks;

static uint8_t *incr_cmd(struct cluster *c, const char *key, size_t *len)
{
    struct keel_enc e;
    cluster_enc(c, &e);
    keel_enc_incrby(&e, keel_str(key), 1);
    return cluster_finish(c, &e, len);
}

static void never_cb(struct keel_proposal *p, int status)
{
    (void)p;
    (void)status;
}

/* What keeld's server does when a failed write unparks a client: propose
 * the client's next write at once, from the callback. */
static void again_cb(struct keel_proposal *p, int status)
{
    struct again *a = p->data;
    struct keel_fsm *f = &a->c->s[a->server].fsm;
    size_t len;
    a->calls++;
    a->status = status;
    a->order = callbacks++;
    a->depth = (int)f->defer.depth;
    uint8_t *cmd = incr_cmd(a->c, "again", &len);
    keel_proposal_init(&a->p2);
    a->again_rc = keel_propose(f, &a->p2, cmd, len, never_cb);
    free(cmd);
}

static void test_deposed_leader_completions_propose_again(void **state)
{
    struct cluster c;
    struct again a[PENDING];
    struct cluster_opts o = {.n = 3};
    (void)state;
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    callbacks = 0;
    for (int i = 0; i < PENDING; i++) {
        size_t len;
        uint8_t *cmd = incr_cmd(&c, "pending", &len);
        a[i] = (struct again){.c = &c, .server = 0, .again_rc = -1};
        keel_proposal_init(&a[i].p);
        a[i].p.data = &a[i];
        assert_int_equal(keel_propose(&c.s[0].fsm, &a[i].p, cmd, len, again_cb), 0);
        free(cmd);
    }
    /* The followers' acknowledgements are dropped until check-quorum
     * deposes the leader: its proposals fail, uncommitted. */
    raft_fixture_depose(&c.f);
    assert_int_not_equal(raft_state(raft_fixture_get(&c.f, 0)), RAFT_LEADER);
    for (int i = 0; i < PENDING; i++) {
        assert_int_equal(a[i].calls, 1);               /* exactly once */
        assert_int_equal(a[i].status, KEEL_EUNCERTAIN);
        assert_int_equal(a[i].order, i);               /* in index order */
        assert_int_equal(a[i].depth, 0);               /* outside raft */
        assert_int_equal(a[i].again_rc, KEEL_ENOTLEADER); /* refused, not a crash */
        keel_proposal_close(&a[i].p);
        keel_proposal_close(&a[i].p2);
    }
    /* The cluster goes on: a new leader commits, the replicas agree. */
    size_t len;
    uint8_t *cmd = incr_cmd(&c, "after", &len);
    cluster_apply(&c, cmd, len, NULL, 20000);
    free(cmd);
    cluster_converge(&c, 20000);
    assert_int_equal(cluster_get_int(&c, 1, "after"), 1);
    cluster_stop(&c);
}

#define CHAIN 50

struct chain
{
    struct cluster *c;
    struct keel_proposal p;
    int proposed;
    int done;
    int failures;
    uint64_t last_index;
    bool in_order;
};

/* Each commit proposes the next write from its callback (the proposal is
 * reused: it is free again once its callback runs). */
static void chain_cb(struct keel_proposal *p, int status)
{
    struct chain *ch = p->data;
    size_t len;
    ch->done++;
    if (status != 0) ch->failures++;
    if (p->index <= ch->last_index) ch->in_order = false;
    ch->last_index = p->index;
    if (ch->proposed == CHAIN) return;
    uint8_t *cmd = incr_cmd(ch->c, "chain", &len);
    unsigned leader = raft_fixture_leader_index(&ch->c->f);
    if (leader < ch->c->o.n && keel_propose(&ch->c->s[leader].fsm, p, cmd, len, chain_cb) == 0)
        ch->proposed++;
    free(cmd);
}

static bool chain_done(struct raft_fixture *f, void *arg)
{
    (void)f;
    struct chain *ch = arg;
    return ch->done == ch->proposed;
}

static void test_completion_proposes_next(void **state)
{
    struct cluster c;
    struct cluster_opts o = {.n = 3};
    struct chain ch = {.in_order = true};
    size_t len;
    (void)state;
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    ch.c = &c;
    keel_proposal_init(&ch.p);
    ch.p.data = &ch;
    uint8_t *cmd = incr_cmd(&c, "chain", &len);
    assert_int_equal(keel_propose(&c.s[0].fsm, &ch.p, cmd, len, chain_cb), 0);
    free(cmd);
    ch.proposed = 1;
    assert_true(raft_fixture_step_until(&c.f, chain_done, &ch, 60000));
    assert_int_equal(ch.proposed, CHAIN);
    assert_int_equal(ch.failures, 0);
    assert_true(ch.in_order);
    cluster_converge(&c, 10000);
    assert_int_equal(cluster_get_int(&c, 2, "chain"), CHAIN);
    keel_proposal_close(&ch.p);
    cluster_stop(&c);
}

/* ---- on a real node ---------------------------------------------------- */

static uint8_t *incr_now(const char *key, uint64_t seq, size_t *len)
{
    struct keel_enc e;
    uint8_t *buf;
    keel_enc_init(&e, (int64_t)time(NULL) * 1000, 5, seq + ((uint64_t)getpid() << 32));
    keel_enc_incrby(&e, keel_str(key), 1);
    assert_int_equal(keel_enc_finish(&e, &buf, len), 0);
    keel_enc_close(&e);
    return buf;
}

static uint64_t next_seq;

#define READS 10

struct reader
{
    struct keel_node *node;
    int reads, writes_proposed, writes_done, failed;
};

static void reader_write_cb(void *data, int status, const struct keel_reply *reply)
{
    struct reader *r = data;
    (void)reply;
    r->writes_done++;
    if (status != 0) r->failed++;
}

/* A read's completion writes and reads again (the next barrier is issued
 * from inside the previous one's completion). */
static void reader_read_cb(void *data, int status)
{
    struct reader *r = data;
    size_t len;
    if (status != 0) {
        r->failed++;
        return;
    }
    if (++r->reads == READS) return;
    uint8_t *cmd = incr_now("read-write", ++next_seq, &len);
    if (keel_node_write(r->node, cmd, len, reader_write_cb, r) == 0) r->writes_proposed++;
    free(cmd);
    if (keel_node_read(r->node, reader_read_cb, r) != 0) r->failed++;
}

static bool reader_done(void *arg)
{
    struct reader *r = arg;
    return r->failed > 0 || (r->reads == READS && r->writes_done == r->writes_proposed);
}

static void run_loop_until(struct uvnode *un, bool (*pred)(void *), void *arg, unsigned max_ms)
{
    uint64_t deadline = uv_hrtime() / 1000000 + max_ms;
    while (!pred(arg) && uv_hrtime() / 1000000 < deadline) uv_run(&un->loop, UV_RUN_ONCE);
}

static void test_node_completions_call_back_in(void **state)
{
    struct uvnode un;
    char *dir = test_mkdtemp("reentrance");
    struct uvnode_opts o = {.dir = dir, .port = uvnode_free_port()};
    struct reader r = {0};
    (void)state;
    uvnode_open(&un, &o);
    r.node = un.node;
    assert_int_equal(keel_node_read(un.node, reader_read_cb, &r), 0);
    run_loop_until(&un, reader_done, &r, 10000);
    assert_int_equal(r.failed, 0);
    assert_int_equal(r.reads, READS);
    assert_int_equal(r.writes_done, READS - 1);
    assert_int_equal(uvnode_get_int(&un, "read-write"), READS - 1);
    uvnode_close(&un);
    test_rmdtemp(dir);
}

#define CLOSE_WRITES 200

struct closing
{
    bool closed;
    int calls[CLOSE_WRITES];
    int status[CLOSE_WRITES];
    bool after_close[CLOSE_WRITES];
    int again_rc[CLOSE_WRITES];
    struct keel_node *node;
};

static struct closing *cur;

static void close_write_cb(void *data, int status, const struct keel_reply *reply)
{
    int i = (int)(intptr_t)data;
    struct keel_node_status st;
    size_t len;
    (void)reply;
    cur->calls[i]++;
    cur->status[i] = status;
    cur->after_close[i] = cur->closed;
    keel_node_status(cur->node, &st); /* raft may be closed: must stay safe */
    uint8_t *cmd = incr_now("closing", ++next_seq, &len);
    cur->again_rc[i] = keel_node_write(cur->node, cmd, len, close_write_cb, data);
    free(cmd);
}

static void closed_cb(void *data)
{
    ((struct closing *)data)->closed = true;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Close with writes in flight: every callback fires once, before the close
 * callback, and a write proposed from one is refused (the node is
 * closing), never proposed into a closing raft. */
static void test_close_delivers_every_write_once(void **state)
{
    struct uvnode un;
    char *dir = test_mkdtemp("reentrance");
    struct uvnode_opts o = {.dir = dir, .port = uvnode_free_port()};
    struct closing *c = calloc(1, sizeof *c);
    (void)state;
    assert_non_null(c);
    cur = c;
    uvnode_open(&un, &o);
    c->node = un.node;
    for (int i = 0; i < CLOSE_WRITES; i++) {
        size_t len;
        uint8_t *cmd = incr_now("closing", ++next_seq, &len);
        assert_int_equal(keel_node_write(un.node, cmd, len, close_write_cb, (void *)(intptr_t)i), 0);
        free(cmd);
    }
    keel_node_close(un.node, closed_cb, c);
    for (int t = 0; t < 100000 && !c->closed; t++) uv_run(&un.loop, UV_RUN_ONCE);
    assert_true(c->closed);
    int committed = 0;
    for (int i = 0; i < CLOSE_WRITES; i++) {
        assert_int_equal(c->calls[i], 1);
        assert_false(c->after_close[i]);
        assert_true(c->status[i] == 0 || c->status[i] == KEEL_EUNCERTAIN);
        assert_int_equal(c->again_rc[i], KEEL_ESHUTDOWN);
        committed += c->status[i] == 0;
    }
    print_message("close: %d writes committed, %d uncertain\n", committed, CLOSE_WRITES - committed);
    uv_run(&un.loop, UV_RUN_DEFAULT);
    uv_walk(&un.loop, walk_close, NULL);
    uv_run(&un.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&un.loop), 0);
    /* Every write acknowledged is there after a restart. */
    uvnode_open(&un, &o);
    int64_t v = uvnode_get_int(&un, "closing");
    assert_true(v >= committed && v <= CLOSE_WRITES);
    uvnode_close(&un);
    free(c);
    test_rmdtemp(dir);
}

#ifndef NDEBUG
/* The on_apply hook runs inside raft's apply: a write from there is the
 * re-entrance the guard exists for. */
static void bad_apply_cb(void *data, const struct keel_events *ev)
{
    size_t len;
    (void)ev;
    uint8_t *cmd = incr_now("bad", ++next_seq, &len);
    keel_node_write(data, cmd, len, NULL, NULL);
    free(cmd);
}

/* A raft call from inside a raft callback aborts a Debug build at once. */
static void test_guard_aborts_raft_call_inside_callback(void **state)
{
    char *dir = test_mkdtemp("reentrance");
    unsigned port = uvnode_free_port();
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct uvnode un;
        struct uvnode_opts o = {.dir = dir, .port = port};
        uvnode_in_child = true;
        uvnode_open(&un, &o);
        keel_store_record_events(un.store, true);
        keel_node_on_apply(un.node, bad_apply_cb, un.node);
        uvnode_incr(&un, "trigger", 1);
        _exit(0); /* not reached if the guard works */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    test_rmdtemp(dir);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("child: want death by SIGABRT (the guard), got %s %d",
                 WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deposed_leader_completions_propose_again),
        cmocka_unit_test(test_completion_proposes_next),
        cmocka_unit_test(test_node_completions_call_back_in),
        cmocka_unit_test(test_close_delivers_every_write_once),
#ifndef NDEBUG
        cmocka_unit_test(test_guard_aborts_raft_call_inside_callback),
#endif
    };
    return cmocka_run_group_tests_name("reentrance", tests, NULL, NULL);
}
