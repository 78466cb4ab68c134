/* api: the periodic consistency check: rounds, digests on the pool, the
 * leader's collection and verdict, each replica's comparison, and what a
 * damaged replica refuses. See consistency.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alarm.h"
#include "api/commands.h"
#include "api/consistency.h"
#include "api/log.h"
#include "api/notify.h"

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

static void hex16(uint64_t d, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, d);
}

/* ---- this replica's state and the CORRUPT alarm ------------------------ */

static void event(struct keel_server *srv, const char *verdict, uint64_t index, uint64_t mine,
                  uint64_t majority)
{
    char json[300], a[17], b[17];
    hex16(mine, a);
    hex16(majority, b);
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
static void update_alarm(struct keel_server *srv)
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

static void mark_damaged(struct keel_server *srv, uint64_t index, uint64_t mine, uint64_t majority)
{
    struct consistency *c = srv->cons;
    char a[17], b[17];
    hex16(mine, a);
    hex16(majority, b);
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
    update_alarm(srv);
}

static void agreed(struct keel_server *srv, uint64_t index, uint64_t digest)
{
    struct consistency *c = srv->cons;
    char hex[17];
    hex16(digest, hex);
    if (c->damaged) {
        /* Equal digests are equal states: whatever was damaged has been
         * overwritten since. Nothing left to repair. */
        log_warn("consistency check at index %" PRIu64 ": this replica agrees again (digest %s): the damaged "
                 "data was overwritten; repair called off",
                 index, hex);
        repair_cancel(srv);
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
    update_alarm(srv);
}

/* Once this replica's digest and the verdict are both known for one index. */
static void compare(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    if (c->mine_index == 0 || c->mine_index != c->verdict_index || c->compared_index == c->mine_index) return;
    c->compared_index = c->mine_index;
    if (c->mine_digest == c->verdict_digest) agreed(srv, c->mine_index, c->mine_digest);
    else mark_damaged(srv, c->mine_index, c->mine_digest, c->verdict_digest);
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
    update_alarm(srv);
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

/* ---- the leader: collecting a round ------------------------------------ */

static void proposed_cb(void *data, int status, const struct keel_reply *reply)
{
    struct keel_server *srv = data;
    (void)reply;
    srv->cons->proposing = false;
    if (status != 0) log_debug("consistency check: proposal outcome uncertain (leadership moved)");
}

static void propose(struct keel_server *srv, bool verdict, uint64_t index, uint64_t digest)
{
    struct consistency *c = srv->cons;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    keel_enc_init(&e, server_now_ms(), 0, 0);
    if (verdict) keel_enc_verdict(&e, index, digest);
    else keel_enc_check(&e);
    if (keel_enc_finish(&e, &buf, &len) == 0) {
        if (keel_node_write(srv->node, buf, len, proposed_cb, srv) == 0) c->proposing = true;
        free(buf);
    }
    keel_enc_close(&e);
}

static bool is_voter(const struct keel_node_status *st, uint64_t id)
{
    for (unsigned i = 0; i < st->members && i < KEEL_NODE_MAX_PEERS; i++) {
        if (st->member_ids[i] == id) return st->member_roles[i] == 'v';
    }
    return false;
}

static void set_corrupt(struct consistency *c, uint64_t id, bool bad)
{
    for (unsigned i = 0; i < c->ncorrupt; i++) {
        if (c->corrupt[i] != id) continue;
        if (!bad) c->corrupt[i] = c->corrupt[--c->ncorrupt];
        return;
    }
    if (bad && c->ncorrupt < CHECK_MAX_MEMBERS) c->corrupt[c->ncorrupt++] = id;
}

/* A majority of the voters (this leader included) on one digest decides
 * the round; each member's digest then says whether it is corrupt. */
static void evaluate(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    struct check_round *r = &c->round;
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    unsigned best = 0, voters_in = 0;
    uint64_t best_digest = 0;
    for (unsigned i = 0; i < r->n; i++) {
        if (!is_voter(&st, r->ids[i])) continue;
        voters_in++;
        unsigned same = 0;
        for (unsigned j = 0; j < r->n; j++) same += is_voter(&st, r->ids[j]) && r->digests[j] == r->digests[i];
        if (same > best) best = same, best_digest = r->digests[i];
    }
    if (!r->decided && best >= st.voters / 2 + 1) {
        r->decided = true;
        r->majority = best_digest;
        if (c->mine_index == r->index && c->mine_digest != best_digest) {
            /* This leader is in the minority: it proposes nothing more and
             * hands over (tick) before it is repaired as a follower. */
            mark_damaged(srv, r->index, c->mine_digest, best_digest);
            return;
        }
        propose(srv, true, r->index, best_digest);
    } else if (!r->decided && voters_in == st.voters && st.voters > 1) {
        log_warn("consistency check at index %" PRIu64 ": the voters' digests differ and no majority agrees: "
                 "no replica can be repaired automatically; compare them with keelctl hashkv (docs/recovery.md)",
                 r->index);
        r->decided = true; /* said once per round */
        return;
    }
    if (!r->decided || r->majority == 0) return;
    unsigned before = c->ncorrupt;
    uint64_t was[CHECK_MAX_MEMBERS];
    memcpy(was, c->corrupt, sizeof was);
    for (unsigned i = 0; i < r->n; i++) {
        if (r->ids[i] == srv->cfg.node_id) continue; /* ourselves: mark_damaged */
        set_corrupt(c, r->ids[i], r->digests[i] != r->majority);
    }
    c->corrupt_index = r->index;
    if (c->ncorrupt != before || memcmp(was, c->corrupt, sizeof was) != 0) update_alarm(srv);
}

static void round_record(struct keel_server *srv, uint64_t id, uint64_t index, uint64_t digest)
{
    struct check_round *r = &srv->cons->round;
    if (index < r->index) return; /* an old round's */
    if (index > r->index) {
        memset(r, 0, sizeof *r);
        r->index = index;
    }
    unsigned i = 0;
    while (i < r->n && r->ids[i] != id) i++;
    if (i == r->n) {
        if (r->n == CHECK_MAX_MEMBERS) return;
        r->n++;
    }
    r->ids[i] = id;
    r->digests[i] = digest;
    evaluate(srv);
}

/* KEEL.DIGEST id index digest-hex: a member's digest of the round at index,
 * sent to the leader inside KEEL.FWD (CMD_INTERNAL: never from a client). */
DECL_LOCAL(cmd_keel_digest)
{
    char buf[32];
    uint64_t id = strtoull(slot_arg(s, 1, buf, sizeof buf), NULL, 10);
    uint64_t index = strtoull(slot_arg(s, 2, buf, sizeof buf), NULL, 10);
    uint64_t digest = strtoull(slot_arg(s, 3, buf, sizeof buf), NULL, 16);
    if (s->srv->role != KEEL_ROLE_LEADER) {
        resp_error(&s->out, "TRYAGAIN", "not the leader");
    } else if (id == 0 || index == 0) {
        resp_error(&s->out, "ERR", "usage: KEEL.DIGEST id index digest");
    } else {
        round_record(s->srv, id, index, digest);
        resp_ok(&s->out);
    }
    slot_done(s);
}

/* A follower's digest, to the leader through the forwarder (its token). */
static void report(struct keel_server *srv, uint64_t index, uint64_t digest)
{
    char id[24], idx[24], hex[17];
    snprintf(id, sizeof id, "%" PRIu64, srv->cfg.node_id);
    snprintf(idx, sizeof idx, "%" PRIu64, index);
    hex16(digest, hex);
    struct keel_slice argv[4] = {keel_str("KEEL.DIGEST"), keel_str(id), keel_str(idx), keel_str(hex)};
    struct slot *s = slot_new(srv, NULL, argv, 4);
    if (s == NULL) return;
    s->cmd = command_lookup(&argv[0]);
    forward(s); /* the reply is nobody's: a lost report only leaves the round short */
}

/* ---- every replica: the digest walk ------------------------------------ */

static void walk_work(uv_work_t *req)
{
    struct walk *w = req->data;
    keel_storage_digest_run(&w->job);
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
        keel_server_free(srv); /* stopped meanwhile */
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
    hex16(w->job.digest, hex);
    c->walks++;
    c->last_walk_ns = uv_hrtime() - w->started_ns;
    c->mine_index = w->index;
    c->mine_digest = w->job.digest;
    log_debug("consistency check at index %" PRIu64 ": digest %s in %.1f ms", w->index, hex,
              (double)c->last_walk_ns / 1e6);
    if (srv->role == KEEL_ROLE_LEADER) round_record(srv, srv->cfg.node_id, w->index, w->job.digest);
    else report(srv, w->index, w->job.digest);
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
    int rc = keel_storage_digest_begin(keel_node_storage(srv->node), &w->job);
    if (rc != 0) {
        log_warn("consistency check at index %" PRIu64 ": %s", note->index,
                 keel_storage_errmsg(keel_node_storage(srv->node)));
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
    repair_cancel(srv);
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
            update_alarm(srv);
        }
    }
    if (c->damaged) {
        if (srv->role == KEEL_ROLE_LEADER) hand_over(srv);
        else if (srv->role == KEEL_ROLE_FOLLOWER) repair_tick(srv);
        return;
    }
    uint64_t every = (uint64_t)srv->cfg.check_interval_s * 1000;
    if (every == 0 || srv->role != KEEL_ROLE_LEADER || !srv->ready || c->proposing || c->jobs > 0) return;
    if (c->last_round_ms == 0) c->last_round_ms = now; /* the first round one interval after leading */
    if (now - c->last_round_ms < every) return;
    c->last_round_ms = now;
    c->rounds++;
    propose(srv, false, 0, 0);
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
    hex16(c->bad_mine, a);
    hex16(c->bad_majority, b);
    if (s->srv->role == KEEL_ROLE_LEADER)
        resp_errorf(&s->out, "TRYAGAIN",
                    "this node's data failed the consistency check at index %" PRIu64 ": it is handing "
                    "leadership over; retry",
                    c->bad_index);
    else
        resp_errorf(&s->out, "CORRUPT",
                    "this replica's data failed the consistency check at index %" PRIu64 " (digest %s, "
                    "majority %s) and is being repaired from the leader; read without READONLY or from "
                    "another node",
                    c->bad_index, a, b);
    return true;
}

/* ---- INFO -------------------------------------------------------------- */

void info_consistency(struct keel_server *srv, struct resp_buf *b)
{
    struct consistency *c = srv->cons;
    char line[300], list[200] = "", a[17] = "", v[17] = "";
    size_t off = 0;
    for (unsigned i = 0; i < c->ncorrupt && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%" PRIu64, i ? "," : "", c->corrupt[i]);
    if (c->mine_index) hex16(c->mine_digest, a);
    if (c->verdict_index) hex16(c->verdict_digest, v);
    const char *state = c->damaged ? (c->repair ? "repairing" : "damaged") : c->unverified ? "repaired" : "ok";
#define INFO_LINE(...)                                          \
    do {                                                        \
        int n_ = snprintf(line, sizeof line, __VA_ARGS__);      \
        resp_buf_raw(b, line, (size_t)(n_ < (int)sizeof line ? n_ : (int)sizeof line - 1)); \
        resp_buf_raw(b, "\r\n", 2);                             \
    } while (0)
    INFO_LINE("# Consistency");
    INFO_LINE("keel_check_interval_s:%u", srv->cfg.check_interval_s);
    INFO_LINE("keel_check_state:%s", state);
    INFO_LINE("keel_check_index:%" PRIu64, c->mine_index);
    INFO_LINE("keel_check_digest:%s", a);
    INFO_LINE("keel_check_verdict_index:%" PRIu64, c->verdict_index);
    INFO_LINE("keel_check_verdict_digest:%s", v);
    INFO_LINE("keel_check_last_digest_ms:%.1f", (double)c->last_walk_ns / 1e6);
    INFO_LINE("keel_check_rounds_proposed:%" PRIu64, c->rounds);
    INFO_LINE("keel_check_digests:%" PRIu64, c->walks);
    INFO_LINE("keel_check_mismatches:%" PRIu64, c->mismatches);
    INFO_LINE("keel_check_repairs:%" PRIu64, c->repairs);
    INFO_LINE("keel_check_repair_failures:%" PRIu64, c->repair_failures);
    INFO_LINE("keel_check_corrupt_members:%s", list);
#undef INFO_LINE
    resp_buf_raw(b, "\r\n", 2);
}
