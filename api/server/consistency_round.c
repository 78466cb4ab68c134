/* api: the consistency check's round on the leader: proposing rounds and
 * verdicts, collecting every member's digest (its own, and followers'
 * KEEL.DIGEST reports), deciding the majority and which members differ.
 * See consistency.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/consistency.h"
#include "api/server/log.h"

static void proposed_cb(void *data, int status, const struct keel_reply *reply)
{
    struct keel_server *srv = data;
    (void)reply;
    srv->cons->proposing = false;
    if (status != 0) log_debug("consistency check: proposal outcome uncertain (leadership moved)");
}

void consistency_propose(struct keel_server *srv, bool verdict, uint64_t index, uint64_t digest)
{
    struct consistency *c = srv->cons;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    keel_enc_init(&e, srv_now(srv), 0, 0);
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
            consistency_mark_damaged(srv, r->index, c->mine_digest, best_digest);
            return;
        }
        consistency_propose(srv, true, r->index, best_digest);
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
    if (c->ncorrupt != before || memcmp(was, c->corrupt, sizeof was) != 0) consistency_update_alarm(srv);
}

void consistency_round_record(struct keel_server *srv, uint64_t id, uint64_t index, uint64_t digest)
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
CMD_DECL_LOCAL(cmd_keel_digest)
{
    char buf[32];
    uint64_t id = strtoull(slot_arg(s, 1, buf, sizeof buf), NULL, 10);
    uint64_t index = strtoull(slot_arg(s, 2, buf, sizeof buf), NULL, 10);
    uint64_t digest = strtoull(slot_arg(s, 3, buf, sizeof buf), NULL, 16);
    if (s->srv->role != KEEL_ROLE_LEADER) {
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "not the leader");
    } else if (id == 0 || index == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "usage: KEEL.DIGEST id index digest");
    } else {
        consistency_round_record(s->srv, id, index, digest);
        resp_ok(&s->out);
    }
    slot_done(s);
}

/* A follower's digest, to the leader through the forwarder (its token). */
void consistency_report(struct keel_server *srv, uint64_t index, uint64_t digest)
{
    char id[24], idx[24], hex[17];
    snprintf(id, sizeof id, "%" PRIu64, srv->cfg.node_id);
    snprintf(idx, sizeof idx, "%" PRIu64, index);
    check_hex16(digest, hex);
    struct keel_slice argv[4] = {keel_str("KEEL.DIGEST"), keel_str(id), keel_str(idx), keel_str(hex)};
    struct slot *s = slot_new(srv, NULL, argv, 4);
    if (s == NULL) return;
    s->cmd = command_lookup(&argv[0]);
    fwd_request(s); /* the reply is nobody's: a lost report only leaves the round short */
}
