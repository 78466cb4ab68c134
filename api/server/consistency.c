/* api: the periodic consistency check on every replica: the digest walk on
 * the pool, the comparison with the verdict, this replica's state and the
 * CORRUPT alarm, the leader's handover when it is the damaged one, and what
 * a damaged replica refuses. The leader's side of a round is in
 * consistency_round.c. See consistency.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/consistency.h"
#include "api/server/log.h"
#include "api/server/observe/alarm.h"
#include "api/server/pubsub/notify.h"

#define HANDOVER_RETRY_MS 1000

/* One digest walk on the pool. */
struct walk
{
    uv_work_t work;
    struct keel_server *srv;
    struct keel_digest_job job;
    uint64_t index;
    uint64_t started_ns;
};

/* ---- this replica's state and the CORRUPT alarm ------------------------ */

static void event(struct keel_server *srv, const char *verdict, uint64_t index, uint64_t mine,
                  uint64_t majority)
{
    char json[300], a[17], b[17];
    check_hex16(mine, a);
    check_hex16(majority, b);
    snprintf(json, sizeof json,
             "{\"event\":\"consistency\",\"verdict\":\"%s\",\"check_index\":%" PRIu64
             ",\"digest\":\"%s\",\"majority\":\"%s\"}",
             verdict, index, a, b);
    notify_keel_event(srv, json);
}

/* CORRUPT says this replica's trouble first, else (leader) the replicas the
 * last verdict found different; it clears when neither holds. Called on
 * every change of either, so a check that agrees clears what an operator
 * (or keelctl hashkv) raised too. */
void consistency_update_alarm(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    char why[200];
    if (c->damaged || c->unverified) {
        alarm_raise(srv, ALARM_CORRUPT, c->why);
        return;
    }
    if (c->ncorrupt == 0) {
        alarm_clear(srv, ALARM_CORRUPT);
        return;
    }
    size_t off = (size_t)snprintf(why, sizeof why, "at index %" PRIu64 " replica(s)", c->corrupt_index);
    for (unsigned i = 0; i < c->ncorrupt && off < sizeof why; i++)
        off += (size_t)snprintf(why + off, sizeof why - off, " n%" PRIu64, c->corrupt[i]);
    if (off < sizeof why)
        snprintf(why + off, sizeof why - off, " differ from the majority (the consistency check; they repair themselves)");
    alarm_raise(srv, ALARM_CORRUPT, why);
}

void consistency_mark_damaged(struct keel_server *srv, uint64_t index, uint64_t mine, uint64_t majority)
{
    struct consistency *c = srv->cons;
    char a[17], b[17];
    check_hex16(mine, a);
    check_hex16(majority, b);
    bool was = c->damaged;
    c->damaged = true;
    c->unverified = false;
    c->bad_index = index;
    c->bad_mine = mine;
    c->bad_majority = majority;
    snprintf(c->why, sizeof c->why,
             "this replica's state differs from the majority at index %" PRIu64 " (digest %s, majority %s): "
             "local reads refused, repairing from the leader",
             index, a, b);
    keel_node_set_damaged(srv->node, true);
    if (!was) {
        c->mismatches++;
        c->repair_next_ms = 0;
        c->repair_backoff_ms = 0;
        log_error("consistency check at index %" PRIu64 ": this replica's digest %s differs from the "
                  "majority's %s: its data is damaged. Reads from its state are refused until the leader's "
                  "image is installed (automatic; manual steps in docs/recovery.md)",
                  index, a, b);
        event(srv, "differs", index, mine, majority);
    }
    consistency_update_alarm(srv);
}

static void agreed(struct keel_server *srv, uint64_t index, uint64_t digest)
{
    struct consistency *c = srv->cons;
    char hex[17];
    check_hex16(digest, hex);
    if (c->damaged) {
        /* Equal digests are equal states: whatever was damaged has been
         * overwritten since. Nothing left to repair. */
        log_warn("consistency check at index %" PRIu64 ": this replica agrees again (digest %s): the damaged "
                 "data was overwritten; repair called off",
                 index, hex);
        srv_repair_cancel(srv);
        keel_node_set_damaged(srv->node, false);
        c->damaged = false;
    } else if (c->unverified) {
        log_info("consistency check at index %" PRIu64 ": this replica agrees with the majority (digest %s): "
                 "the repair is confirmed",
                 index, hex);
    } else {
        log_debug("consistency check at index %" PRIu64 ": agrees (digest %s)", index, hex);
    }
    if (c->unverified) event(srv, "agrees", index, digest, digest);
    c->unverified = false;
    c->why[0] = 0;
    consistency_update_alarm(srv);
}

/* Once this replica's digest and the verdict are both known for one index. */
static void compare(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    if (c->mine_index == 0 || c->mine_index != c->verdict_index || c->compared_index == c->mine_index) return;
    c->compared_index = c->mine_index;
    if (c->mine_digest == c->verdict_digest) agreed(srv, c->mine_index, c->mine_digest);
    else consistency_mark_damaged(srv, c->mine_index, c->mine_digest, c->verdict_digest);
}

void consistency_repaired(struct keel_server *srv, const char *summary)
{
    struct consistency *c = srv->cons;
    c->damaged = false;
    c->unverified = true;
    c->repairs++;
    c->repair_backoff_ms = 0;
    snprintf(c->why, sizeof c->why,
             "repaired from the leader's image after differing at index %" PRIu64 "; confirmed at the next check",
             c->bad_index);
    log_warn("repair: the leader's image is installed (%s); local reads are served again", summary);
    event(srv, "repaired", c->bad_index, c->bad_mine, c->bad_majority);
    consistency_update_alarm(srv);
}

void consistency_repair_failed(struct keel_server *srv, const char *why)
{
    struct consistency *c = srv->cons;
    unsigned ms = c->repair_backoff_ms ? 2 * c->repair_backoff_ms : 1000;
    if (ms > 30000) ms = 30000;
    c->repair_backoff_ms = ms;
    c->repair_next_ms = uv_now(srv->loop) + ms;
    c->repair_failures++;
    log_error("repair failed: %s. This replica stays CORRUPT and refuses local reads; next attempt in %u ms "
              "(manual repair: docs/recovery.md)",
              why, ms);
}

/* ---- every replica: the digest walk ------------------------------------ */

static void walk_work(uv_work_t *req)
{
    struct walk *w = req->data;
    keel_node_digest_run(&w->job);
}

static void walk_done(uv_work_t *req, int status)
{
    struct walk *w = req->data;
    struct keel_server *srv = w->srv;
    struct consistency *c = srv->cons;
    (void)status;
    srv->pool_jobs--;
    c->jobs--;
    if (srv->free_pending) {
        free(w);
        srv_pool_done(srv); /* frees srv if this was the last job */
        return;
    }
    if (srv->stopping) {
        free(w);
        return;
    }
    if (w->job.rc != 0) {
        log_warn("consistency check at index %" PRIu64 ": digest failed: %s", w->index, w->job.errmsg);
        free(w);
        return;
    }
    char hex[17];
    check_hex16(w->job.digest, hex);
    c->walks++;
    c->last_walk_ns = uv_hrtime() - w->started_ns;
    c->mine_index = w->index;
    c->mine_digest = w->job.digest;
    log_debug("consistency check at index %" PRIu64 ": digest %s in %.1f ms", w->index, hex,
              (double)c->last_walk_ns / 1e6);
    if (srv->role == KEEL_ROLE_LEADER) consistency_round_record(srv, srv->cfg.node_id, w->index, w->job.digest);
    else consistency_report(srv, w->index, w->job.digest);
    compare(srv);
    free(w);
}

/* Inside raft's apply, right after the entry committed: the read txn begun
 * here sees exactly the state the CHECK entry left. No raft call here. */
static void check_cb(void *data, const struct keel_check_note *note)
{
    struct keel_server *srv = data;
    struct consistency *c = srv->cons;
    if (note->kind == KEEL_CHECK_VERDICT) {
        c->verdict_index = note->index;
        c->verdict_digest = note->digest;
        compare(srv);
        return;
    }
    if (c->jobs > 0) {
        log_debug("consistency check at index %" PRIu64 ": the previous digest still runs; skipped", note->index);
        return;
    }
    struct walk *w = calloc(1, sizeof *w);
    if (w == NULL) return;
    int rc = keel_node_digest_begin(srv->node, &w->job);
    if (rc != 0) {
        log_warn("consistency check at index %" PRIu64 ": %s", note->index,
                 keel_node_storage_errmsg(srv->node));
        free(w);
        return;
    }
    w->srv = srv;
    w->index = note->index;
    w->started_ns = uv_hrtime();
    w->work.data = w;
    c->jobs++;
    srv->pool_jobs++;
    uv_queue_work(srv->loop, &w->work, walk_work, walk_done);
}

/* ---- lifetime and the timer -------------------------------------------- */

int consistency_create(struct keel_server *srv)
{
    srv->cons = calloc(1, sizeof *srv->cons);
    if (srv->cons == NULL) return KEEL_ENOMEM;
    srv->cons->srv = srv;
    return 0;
}

void consistency_start(struct keel_server *srv)
{
    keel_node_on_check(srv->node, check_cb, srv);
}

void consistency_stop(struct keel_server *srv)
{
    keel_node_on_check(srv->node, NULL, NULL);
    srv_repair_cancel(srv);
}

void consistency_free(struct keel_server *srv)
{
    free(srv->cons);
    srv->cons = NULL;
}

static void handover_cb(void *data, uint64_t new_leader)
{
    struct keel_server *srv = data;
    srv->cons->transferring = false;
    if (new_leader != 0 && new_leader != srv->cfg.node_id)
        log_warn("consistency check: leadership handed to n%" PRIu64 "; repairing this replica as a follower",
                 new_leader);
}

static void hand_over(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    uint64_t now = uv_now(srv->loop);
    if (c->transferring || (c->transfer_at != 0 && now - c->transfer_at < HANDOVER_RETRY_MS)) return;
    c->transfer_at = now;
    int rc = keel_node_transfer(srv->node, 0, handover_cb, srv);
    if (rc == 0) {
        c->transferring = true;
        log_warn("consistency check: this leader's state is damaged: handing leadership over first");
    } else {
        log_warn("consistency check: this leader's state is damaged but leadership cannot be handed over "
                 "(%s); refusing reads and writes meanwhile",
                 keel_strerror(rc));
    }
}

void consistency_tick(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    uint64_t now = uv_now(srv->loop);
    if (srv->role != KEEL_ROLE_LEADER) {
        c->last_round_ms = 0;
        memset(&c->round, 0, sizeof c->round);
        if (c->ncorrupt > 0) {
            c->ncorrupt = 0; /* the leader's view: the next leader's check says */
            consistency_update_alarm(srv);
        }
    }
    if (c->damaged) {
        if (srv->role == KEEL_ROLE_LEADER) hand_over(srv);
        else if (srv->role == KEEL_ROLE_FOLLOWER) srv_repair_tick(srv);
        return;
    }
    uint64_t every = (uint64_t)srv->cfg.check_interval_s * 1000;
    if (every == 0 || srv->role != KEEL_ROLE_LEADER || !srv->ready || c->proposing || c->jobs > 0) return;
    if (c->last_round_ms == 0) c->last_round_ms = now; /* the first round one interval after leading */
    if (now - c->last_round_ms < every) return;
    c->last_round_ms = now;
    c->rounds++;
    consistency_propose(srv, false, 0, 0);
}

/* ---- what a damaged replica refuses ------------------------------------ */

bool consistency_damaged(const struct keel_server *srv)
{
    return srv->cons != NULL && srv->cons->damaged;
}

bool consistency_refuses(struct slot *s)
{
    struct consistency *c = s->srv->cons;
    char a[17], b[17];
    if (c == NULL || !c->damaged) return false;
    check_hex16(c->bad_mine, a);
    check_hex16(c->bad_majority, b);
    if (s->srv->role == KEEL_ROLE_LEADER)
        srv_reply_errorf(&s->out, KEEL_ENOTLEADER,
                         "this node's data failed the consistency check at index %" PRIu64 ": it is handing "
                         "leadership over; retry",
                         c->bad_index);
    else
        srv_reply_errorf(&s->out, KEEL_ECORRUPT,
                         "this replica's data failed the consistency check at index %" PRIu64 " (digest %s, "
                         "majority %s) and is being repaired from the leader; read without READONLY or from "
                         "another node",
                         c->bad_index, a, b);
    return true;
}

/* ---- INFO -------------------------------------------------------------- */

void consistency_info(struct keel_server *srv, struct buf *b)
{
    struct consistency *c = srv->cons;
    char list[200] = "", a[17] = "", v[17] = "";
    size_t off = 0;
    for (unsigned i = 0; i < c->ncorrupt && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%" PRIu64, i ? "," : "", c->corrupt[i]);
    if (c->mine_index) check_hex16(c->mine_digest, a);
    if (c->verdict_index) check_hex16(c->verdict_digest, v);
    const char *state = c->damaged ? (c->repair ? "repairing" : "damaged") : c->unverified ? "repaired" : "ok";
    srv_info_line(b, "# Consistency");
    srv_info_line(b, "keel_check_interval_s:%u", srv->cfg.check_interval_s);
    srv_info_line(b, "keel_check_state:%s", state);
    srv_info_line(b, "keel_check_index:%" PRIu64, c->mine_index);
    srv_info_line(b, "keel_check_digest:%s", a);
    srv_info_line(b, "keel_check_verdict_index:%" PRIu64, c->verdict_index);
    srv_info_line(b, "keel_check_verdict_digest:%s", v);
    srv_info_line(b, "keel_check_last_digest_ms:%.1f", (double)c->last_walk_ns / 1e6);
    srv_info_line(b, "keel_check_rounds_proposed:%" PRIu64, c->rounds);
    srv_info_line(b, "keel_check_digests:%" PRIu64, c->walks);
    srv_info_line(b, "keel_check_mismatches:%" PRIu64, c->mismatches);
    srv_info_line(b, "keel_check_repairs:%" PRIu64, c->repairs);
    srv_info_line(b, "keel_check_repair_failures:%" PRIu64, c->repair_failures);
    srv_info_line(b, "keel_check_corrupt_members:%s", list);
}
