/* tests/cluster: the real state machine replicated over raft's fixture:
 * thousands of mixed commands on 1, 3 and 5 servers; leader changes, kills
 * and revivals; a partitioned server catching up by snapshot install; disk
 * faults. After every scenario all replicas must hold identical state (same
 * digest at the same applied index) and every counter must equal the sum of
 * the increments acknowledged, each applied exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "workload.h"

struct slot
{
    uint8_t *cmd;
    size_t len;
    int counter;
    int64_t delta;
    struct cluster_req *req;
    raft_time since;
    bool busy;
};

typedef void (*chaos_fn)(struct cluster *c, unsigned done, void *arg);

/* Run `total` workload commands with up to `window` in flight, resubmitting
 * the same bytes after a failure or a stall, until each one succeeded. */
static void drive(struct cluster *c, struct workload *w, unsigned total, unsigned window,
                  chaos_fn chaos, void *arg)
{
    struct slot slots[32];
    unsigned issued = 0, done = 0;
    raft_time limit = raft_fixture_time(&c->f) + 3600u * 1000u;
    assert_true(window <= 32);
    memset(slots, 0, sizeof slots);
    while (done < total) {
        raft_time now = raft_fixture_time(&c->f);
        if (now > limit) {
            for (unsigned i = 0; i < c->o.n; i++) {
                struct raft *r = raft_fixture_get(&c->f, i);
                print_message("server %u: state %d term %llu applied %llu last %llu fatal %d %s\n",
                              i, raft_state(r), (unsigned long long)r->current_term,
                              (unsigned long long)raft_last_applied(r),
                              (unsigned long long)raft_last_index(r), c->s[i].fsm.fatal,
                              c->s[i].fsm.errmsg);
            }
            fail_msg("workload stuck: %u of %u done", done, total);
        }
        for (unsigned i = 0; i < window; i++) {
            struct slot *s = &slots[i];
            if (!s->busy && issued < total) {
                struct keel_enc e;
                cluster_enc(c, &e);
                workload_command(w, &e, cluster_now(c));
                s->counter = w->last_counter;
                s->delta = w->last_delta;
                s->cmd = cluster_finish(c, &e, &s->len);
                s->req = NULL;
                s->busy = true;
                issued++;
            }
            if (!s->busy) continue;
            if (s->req != NULL && s->req->done && s->req->status == 0) {
                if (s->counter >= 0) w->counters[s->counter] += s->delta;
                free(s->cmd);
                s->busy = false;
                done++;
                if (chaos != NULL) chaos(c, done, arg);
                continue;
            }
            if (s->req == NULL || s->req->done || now - s->since > 3000) {
                s->req = cluster_submit(c, RAFT_FIXTURE_MAX_SERVERS, s->cmd, s->len);
                s->since = now;
            }
        }
        raft_fixture_step(&c->f);
    }
}

static void check_counters(struct cluster *c, struct workload *w)
{
    for (unsigned i = 0; i < c->o.n; i++) {
        if (!raft_fixture_alive(&c->f, i)) continue;
        for (int k = 0; k < WORKLOAD_COUNTERS; k++) {
            char key[16];
            snprintf(key, sizeof key, "ctr%d", k);
            assert_int_equal(cluster_get_int(c, i, key), w->counters[k]);
        }
    }
}

static void replicate(unsigned n, bool async, unsigned total)
{
    struct cluster c;
    struct workload w;
    struct cluster_opts o = {.n = n, .threshold = 256, .trailing = 256, .async = async};
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    workload_init(&w, 1000 + n);
    drive(&c, &w, total, 8, NULL, NULL);
    cluster_converge(&c, 10000);
    check_counters(&c, &w);
    for (unsigned i = 0; i < n; i++) {
        struct keel_store_stats st;
        keel_store_stats(c.s[i].store, &st);
        assert_true(st.applied >= total);
        assert_true(c.s[i].fsm.stats.snapshots > 0); /* threshold crossed many times */
        assert_int_equal(c.s[i].fsm.stats.snapshot_errors, 0);
    }
    cluster_stop(&c);
}

static void test_replicate_1(void **state)
{
    (void)state;
    replicate(1, false, 2000);
}

static void test_replicate_3(void **state)
{
    (void)state;
    replicate(3, false, 4000);
}

static void test_replicate_3_async_snapshots(void **state)
{
    (void)state;
    replicate(3, true, 4000);
}

static void test_replicate_5(void **state)
{
    (void)state;
    replicate(5, true, 3000);
}

/* Leader changes under load: depose the leader, kill it, kill a follower,
 * revive them, in turn. */
struct turmoil
{
    unsigned every;
    unsigned step;
    unsigned dead;     /* index of a killed server, or n */
    unsigned isolated; /* index of a partitioned server, or n */
};

/* Cut server i off from (or reconnect it to) every other, both ways. */
static void isolate(struct cluster *c, unsigned i, bool cut)
{
    for (unsigned j = 0; j < c->o.n; j++) {
        if (j == i) continue;
        if (cut) {
            raft_fixture_saturate(&c->f, i, j);
            raft_fixture_saturate(&c->f, j, i);
        } else {
            raft_fixture_desaturate(&c->f, i, j);
            raft_fixture_desaturate(&c->f, j, i);
        }
    }
}

static void turmoil_cb(struct cluster *c, unsigned done, void *arg)
{
    struct turmoil *t = arg;
    unsigned n = c->o.n;
    if (done % t->every != 0) return;
    unsigned leader = raft_fixture_leader_index(&c->f);
    switch (t->step++ % 6) {
        case 0:
            if (leader < n) raft_fixture_depose(&c->f);
            break;
        case 1:
            if (leader < n && t->dead == n) {
                raft_fixture_kill(&c->f, leader);
                t->dead = leader;
            }
            break;
        case 2:
            if (t->dead < n) {
                raft_fixture_revive(&c->f, t->dead);
                t->dead = n;
            }
            break;
        case 3:
            if (leader < n && t->dead == n) {
                t->dead = (leader + 1) % n;
                raft_fixture_kill(&c->f, t->dead);
            }
            break;
        case 4:
            /* The leader ends up alone in a minority: it must step down
             * (check-quorum) while the majority elects another. */
            if (t->dead < n) {
                raft_fixture_revive(&c->f, t->dead);
                t->dead = n;
            }
            if (leader < n) {
                isolate(c, leader, true);
                t->isolated = leader;
            }
            break;
        case 5:
            if (t->isolated < n) {
                isolate(c, t->isolated, false);
                t->isolated = n;
            }
            break;
    }
}

static void leader_changes(unsigned n, bool async, uint64_t seed)
{
    struct cluster c;
    struct workload w;
    struct turmoil t = {.every = 150, .dead = n, .isolated = n};
    struct cluster_opts o = {.n = n, .threshold = 200, .trailing = 200, .async = async};
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    workload_init(&w, seed);
    drive(&c, &w, 3000, 8, turmoil_cb, &t);
    if (t.dead < n) raft_fixture_revive(&c.f, t.dead);
    if (t.isolated < n) isolate(&c, t.isolated, false);
    cluster_converge(&c, 30000);
    check_counters(&c, &w);
    assert_true(t.step >= 18);
    /* Leadership really moved: one term per election at least. */
    unsigned leader = cluster_leader(&c, 1000);
    assert_true(raft_fixture_get(&c.f, leader)->current_term >= 8);
    cluster_stop(&c);
}

static void test_leader_changes_3(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) leader_changes(3, seed % 2 == 0, seed);
}

static void test_leader_changes_5_async(void **state)
{
    (void)state;
    for (uint64_t seed = 11; seed <= 12; seed++) leader_changes(5, true, seed);
}

/* A follower cut off while the others commit past several snapshots must
 * catch up by snapshot install, then match byte for byte. */
static void partition_catchup(bool async)
{
    struct cluster c;
    struct workload w;
    struct cluster_opts o = {.n = 3, .threshold = 64, .trailing = 64, .async = async};
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    workload_init(&w, 99);
    drive(&c, &w, 200, 4, NULL, NULL);
    for (unsigned i = 0; i < 2; i++) {
        raft_fixture_saturate(&c.f, i, 2);
        raft_fixture_saturate(&c.f, 2, i);
    }
    drive(&c, &w, 1500, 8, NULL, NULL);
    assert_true(raft_last_applied(raft_fixture_get(&c.f, 2)) < 300);
    for (unsigned i = 0; i < 2; i++) {
        raft_fixture_desaturate(&c.f, i, 2);
        raft_fixture_desaturate(&c.f, 2, i);
    }
    drive(&c, &w, 100, 4, NULL, NULL);
    cluster_converge(&c, 60000);
    assert_true(c.s[2].fsm.stats.restores >= 1);
    check_counters(&c, &w);
    cluster_stop(&c);
}

static void test_partition_snapshot_catchup(void **state)
{
    (void)state;
    partition_catchup(false);
}

static void test_partition_snapshot_catchup_async(void **state)
{
    (void)state;
    partition_catchup(true);
}

/* Disk write failures on the leader and on a follower: clients see clean
 * errors (KEEL_EIO at submission, or an uncertain outcome) and retry; a
 * follower whose write failed stops (raft makes it unavailable: a real node
 * exits and is restarted) and holds a prefix of the others' state. Nothing
 * diverges, nothing applies twice. */
struct faults
{
    unsigned every;
    unsigned count;
    unsigned stopped; /* the follower that went unavailable, or n */
};

static void faults_cb(struct cluster *c, unsigned done, void *arg)
{
    struct faults *f = arg;
    for (unsigned i = 0; i < c->o.n; i++) {
        /* What the node's monitor does: an unavailable node stops. */
        if (raft_fixture_alive(&c->f, i) &&
            raft_state(raft_fixture_get(&c->f, i)) == RAFT_UNAVAILABLE) {
            raft_fixture_kill(&c->f, i);
            f->stopped = i;
        }
    }
    if (done % f->every != 0) return;
    unsigned leader = raft_fixture_leader_index(&c->f);
    if (leader >= c->o.n) return;
    unsigned target = leader;
    if (f->count++ == 10) target = (leader + 1) % c->o.n; /* one follower, once */
    raft_fixture_io_fault(&c->f, target, f->count % 3, 1);
}

static void test_disk_faults(void **state)
{
    struct cluster c;
    struct workload w;
    struct faults fl = {.every = 100, .stopped = 3};
    struct cluster_opts o = {.n = 3, .threshold = 128, .trailing = 128};
    uint64_t applied, digest;
    (void)state;
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    workload_init(&w, 4242);
    drive(&c, &w, 2500, 8, faults_cb, &fl);
    cluster_converge(&c, 30000);
    check_counters(&c, &w);
    assert_true(fl.count >= 20);
    assert_true(fl.stopped < 3);
    unsigned leader = cluster_leader(&c, 1000);
    assert_int_equal(keel_storage_digest(c.s[fl.stopped].storage, &applied, &digest), 0);
    assert_true(applied < keel_storage_applied(c.s[leader].storage));
    assert_int_equal(keel_fsm_fatal(&c.s[fl.stopped].fsm), 0);
    cluster_stop(&c);
}

/* Negative control: the digest comparison must catch a replica whose apply
 * is not deterministic (here: it reads a "local clock" in place of the
 * entry's timestamp), so the scenarios above would fail on divergence. */
static int (*real_apply)(struct raft_fsm *, const struct raft_buffer *, void **);
static int64_t local_clock;

static int clock_reading_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                               void **result)
{
    struct raft_buffer copy = {raft_malloc(buf->len), buf->len};
    memcpy(copy.base, buf->base, buf->len);
    local_clock += 1;
    if (copy.len >= STORE_CMD_HEADER) {
        int64_t ts = local_clock;
        memcpy((uint8_t *)copy.base + 8, &ts, 8); /* little-endian host */
    }
    int rc = real_apply(fsm, &copy, result);
    raft_free(copy.base);
    return rc;
}

static void test_divergence_is_detected(void **state)
{
    struct cluster c;
    struct workload w;
    struct cluster_opts o = {.n = 3};
    (void)state;
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    workload_init(&w, 5);
    drive(&c, &w, 100, 4, NULL, NULL);
    cluster_converge(&c, 10000); /* equal so far */
    real_apply = c.s[2].fsm.fsm.apply;
    c.s[2].fsm.fsm.apply = clock_reading_apply;
    local_clock = CLUSTER_EPOCH_MS + 5000000;
    drive(&c, &w, 100, 4, NULL, NULL);
    unsigned leader = cluster_leader(&c, 5000);
    raft_index target = raft_last_index(raft_fixture_get(&c.f, leader));
    raft_fixture_step_until_applied(&c.f, c.o.n, target, 10000);
    assert_false(cluster_digests_equal(&c));
    c.s[2].fsm.fsm.apply = real_apply;
    cluster_stop(&c);
}

/* And a replica whose LMDB was changed behind raft's back. */
static void test_tampered_replica_is_detected(void **state)
{
    struct cluster c;
    struct workload w;
    struct keel_txn txn;
    struct cluster_opts o = {.n = 3};
    (void)state;
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    workload_init(&w, 6);
    drive(&c, &w, 100, 4, NULL, NULL);
    cluster_converge(&c, 10000);
    assert_int_equal(storage_txn_begin(c.s[1].storage, true, &txn), 0);
    struct keel_record rec = {KEEL_TYPE_STRING, 0, 1, (const uint8_t *)"x", 1};
    assert_int_equal(storage_put(&txn, keel_str("intruder"), &rec, NULL), 0);
    assert_int_equal(storage_txn_commit(&txn), 0);
    assert_false(cluster_digests_equal(&c));
    cluster_stop(&c);
}

/* A proposal's reply reaches the proposer; followers keep none of it. */
static void test_reply_reaches_proposer(void **state)
{
    struct cluster c;
    struct keel_enc e;
    struct keel_reply out;
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    size_t len;
    struct cluster_opts o = {.n = 3};
    (void)state;
    cluster_start(&c, &o);
    cluster_elect(&c, 0);
    keel_reply_init(&out);
    cluster_enc(&c, &e);
    keel_enc_incrby(&e, keel_str("n"), 41);
    uint8_t *cmd = cluster_finish(&c, &e, &len);
    cluster_apply(&c, cmd, len, &out, 10000);
    free(cmd);
    cluster_enc(&c, &e);
    keel_enc_set(&e, keel_str("n"), keel_str("x"), 0, KEEL_SET_GET);
    cmd = cluster_finish(&c, &e, &len);
    cluster_apply(&c, cmd, len, &out, 10000);
    free(cmd);
    keel_reply_reader_init(&rd, &out);
    assert_int_equal(keel_reply_next(&rd, &it), 0);
    assert_int_equal(it.kind, KEEL_REPLY_BULK);
    assert_int_equal(it.n, 2);
    assert_memory_equal(it.p, "41", 2);
    /* Not a leader: refused synchronously, nothing to free. */
    struct keel_proposal p;
    keel_proposal_init(&p);
    cluster_enc(&c, &e);
    keel_enc_noop(&e);
    cmd = cluster_finish(&c, &e, &len);
    assert_int_equal(keel_propose(&c.s[1].fsm, &p, cmd, len, NULL), KEEL_ENOTLEADER);
    assert_int_equal(keel_propose(&c.s[0].fsm, &p, cmd, 12, NULL), KEEL_EINVAL);
    free(cmd);
    keel_proposal_close(&p);
    keel_reply_close(&out);
    cluster_converge(&c, 10000);
    cluster_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_reaches_proposer),
        cmocka_unit_test(test_replicate_1),
        cmocka_unit_test(test_replicate_3),
        cmocka_unit_test(test_replicate_3_async_snapshots),
        cmocka_unit_test(test_replicate_5),
        cmocka_unit_test(test_leader_changes_3),
        cmocka_unit_test(test_leader_changes_5_async),
        cmocka_unit_test(test_partition_snapshot_catchup),
        cmocka_unit_test(test_partition_snapshot_catchup_async),
        cmocka_unit_test(test_disk_faults),
        cmocka_unit_test(test_divergence_is_detected),
        cmocka_unit_test(test_tampered_replica_is_detected),
    };
    return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
