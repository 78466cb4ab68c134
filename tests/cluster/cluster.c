/* tests/cluster: the fixture-driven cluster harness. See cluster.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "tests/lib/testlib.h"

void cluster_deliver(struct cluster *c)
{
    for (unsigned i = 0; i < c->o.n; i++) keel_defer_run(&c->s[i].fsm.defer);
}

/* After every fixture event, outside raft: what a node's loop does on its
 * next turn (raft/defer.h). */
static void deliver_hook(struct raft_fixture *f, struct raft_fixture_event *event)
{
    (void)event;
    cluster_deliver((struct cluster *)((char *)f - offsetof(struct cluster, f)));
}

void cluster_start(struct cluster *c, const struct cluster_opts *o)
{
    struct raft_configuration conf;
    char errmsg[KEEL_ERRMSG_SIZE];
    memset(c, 0, sizeof *c); /* raft_fixture_initialize leaves f.n unset in 0.15 */
    c->o = *o;
    if (c->o.voters == 0) c->o.voters = o->n;
    assert_int_equal(raft_fixture_initialize(&c->f), 0);
    for (unsigned i = 0; i < o->n; i++) {
        struct cluster_server *s = &c->s[i];
        struct keel_storage_options so = {0};
        s->dir = test_mkdtemp("cluster");
        assert_non_null(s->dir);
        so.dir = s->dir;
        so.map_size = 64u << 20;
        int rc = keel_storage_open(&so, &s->storage, NULL, errmsg);
        if (rc != 0) fail_msg("open storage: %s", errmsg);
        assert_int_equal(keel_store_create(s->storage, &s->store), 0);
        keel_fsm_init(&s->fsm, s->store, o->async);
        assert_int_equal(raft_fixture_grow(&c->f, &s->fsm.fsm), 0);
        struct raft *r = raft_fixture_get(&c->f, i);
        keel_fsm_attach(&s->fsm, r);
        keel_fsm_enable_async(&s->fsm); /* after grow: see raft/fsm.h */
        if (o->threshold) raft_set_snapshot_threshold(r, o->threshold);
        if (o->trailing) raft_set_snapshot_trailing(r, o->trailing);
    }
    assert_int_equal(raft_fixture_configuration(&c->f, c->o.voters, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&c->f, &conf), 0);
    raft_configuration_close(&conf);
    raft_fixture_hook(&c->f, deliver_hook);
    assert_int_equal(raft_fixture_start(&c->f), 0);
}

void cluster_stop(struct cluster *c)
{
    raft_fixture_close(&c->f); /* fails pending requests: their callbacks are queued */
    cluster_deliver(c);
    for (unsigned i = 0; i < c->o.n; i++) {
        struct cluster_server *s = &c->s[i];
        keel_fsm_close(&s->fsm);
        keel_store_destroy(s->store);
        keel_storage_close(s->storage, true);
        test_rmdtemp(s->dir);
    }
    while (c->reqs != NULL) {
        struct cluster_req *r = c->reqs;
        c->reqs = r->next_alloc;
        keel_proposal_close(&r->p);
        free(r);
    }
}

int64_t cluster_now(struct cluster *c)
{
    return CLUSTER_EPOCH_MS + (int64_t)raft_fixture_time(&c->f);
}

void cluster_elect(struct cluster *c, unsigned i)
{
    if (c->o.voters == 1) {
        assert_int_equal(cluster_leader(c, 5000), 0);
        return;
    }
    raft_fixture_elect(&c->f, i);
}

unsigned cluster_leader(struct cluster *c, unsigned max_ms)
{
    unsigned n = raft_fixture_n(&c->f);
    if (raft_fixture_leader_index(&c->f) == n) raft_fixture_step_until_has_leader(&c->f, max_ms);
    return raft_fixture_leader_index(&c->f);
}

static void req_cb(struct keel_proposal *p, int status)
{
    struct cluster_req *r = p->data;
    r->done = true;
    r->status = status;
}

struct cluster_req *cluster_submit(struct cluster *c, unsigned i, const uint8_t *cmd, size_t len)
{
    unsigned n = raft_fixture_n(&c->f);
    if (i >= n) i = raft_fixture_leader_index(&c->f);
    if (i >= n) return NULL;
    struct cluster_req *r = calloc(1, sizeof *r);
    assert_non_null(r);
    keel_proposal_init(&r->p);
    r->p.data = r;
    r->next_alloc = c->reqs;
    c->reqs = r;
    if (keel_propose(&c->s[i].fsm, &r->p, cmd, len, req_cb) != 0) return NULL;
    return r;
}

static bool req_done(struct raft_fixture *f, void *arg)
{
    (void)f;
    return ((struct cluster_req *)arg)->done;
}

bool cluster_wait(struct cluster *c, struct cluster_req *r, unsigned max_ms)
{
    return r->done || raft_fixture_step_until(&c->f, req_done, r, max_ms);
}

void cluster_apply(struct cluster *c, const uint8_t *cmd, size_t len, struct keel_reply *out,
                   unsigned max_ms)
{
    raft_time deadline = raft_fixture_time(&c->f) + max_ms;
    while (raft_fixture_time(&c->f) < deadline) {
        unsigned leader = cluster_leader(c, 3000);
        struct cluster_req *r = leader < raft_fixture_n(&c->f)
                                    ? cluster_submit(c, leader, cmd, len)
                                    : NULL;
        if (r == NULL) {
            raft_fixture_step_until_elapsed(&c->f, 100);
            continue;
        }
        if (cluster_wait(c, r, 5000) && r->status == 0) {
            if (out != NULL) {
                keel_reply_reset(out);
                keel_reply_raw(out, r->p.reply.buf, r->p.reply.len);
            }
            return;
        }
        /* Uncertain or stuck behind a dead leader: retry the same bytes. */
    }
    fail_msg("command not applied within %u ms of simulated time", max_ms);
}

static bool all_applied(struct raft_fixture *f, void *arg)
{
    raft_index target = *(raft_index *)arg;
    for (unsigned i = 0; i < raft_fixture_n(f); i++) {
        if (raft_fixture_alive(f, i) && raft_last_applied(raft_fixture_get(f, i)) < target)
            return false;
    }
    return true;
}

bool cluster_digests_equal(struct cluster *c)
{
    uint64_t applied0 = 0, digest0 = 0;
    bool first = true;
    for (unsigned i = 0; i < c->o.n; i++) {
        uint64_t applied, digest;
        if (!raft_fixture_alive(&c->f, i)) continue;
        assert_int_equal(keel_storage_digest(c->s[i].storage, &applied, &digest), 0);
        if (first) {
            applied0 = applied;
            digest0 = digest;
            first = false;
        } else if (applied != applied0 || digest != digest0) {
            print_message("server %u: applied %llu digest %016llx, server 0..: %llu %016llx\n", i,
                          (unsigned long long)applied, (unsigned long long)digest,
                          (unsigned long long)applied0, (unsigned long long)digest0);
            return false;
        }
    }
    return true;
}

void cluster_converge(struct cluster *c, unsigned max_ms)
{
    unsigned leader = cluster_leader(c, 5000);
    assert_true(leader < c->o.n);
    /* Everything the leader holds must commit and apply everywhere alive. */
    raft_index target = raft_last_index(raft_fixture_get(&c->f, leader));
    assert_true(raft_fixture_step_until(&c->f, all_applied, &target, max_ms));
    for (unsigned i = 0; i < c->o.n; i++) {
        assert_int_equal(keel_fsm_fatal(&c->s[i].fsm), 0);
    }
    assert_true(cluster_digests_equal(c));
}

void cluster_enc(struct cluster *c, struct keel_enc *e)
{
    keel_enc_init(e, cluster_now(c), CLUSTER_CLIENT, ++c->seq);
}

uint8_t *cluster_finish(struct cluster *c, struct keel_enc *e, size_t *len)
{
    uint8_t *buf;
    (void)c;
    assert_int_equal(keel_enc_finish(e, &buf, len), 0);
    keel_enc_close(e);
    return buf;
}

int64_t cluster_get_int(struct cluster *c, unsigned i, const char *key)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    int64_t v = 0;
    keel_reply_init(&r);
    assert_int_equal(keel_store_get(c->s[i].store, keel_str(key), cluster_now(c), &r), 0);
    keel_reply_reader_init(&rd, &r);
    assert_int_equal(keel_reply_next(&rd, &it), 0);
    if (it.kind == KEEL_REPLY_BULK) {
        char buf[32];
        assert_true(it.n < sizeof buf);
        memcpy(buf, it.p, it.n);
        buf[it.n] = 0;
        v = strtoll(buf, NULL, 10);
    } else {
        assert_int_equal(it.kind, KEEL_REPLY_NIL);
    }
    keel_reply_close(&r);
    return v;
}
