/* raft: the voters' health as the leader sees it, and the checks before a
 * voter is taken away (see membership.h): by what was seen (etcd's
 * --strict-reconfig-check), then by a new entry the voters left must
 * acknowledge now. */
#include <stdio.h>
#include <string.h>

#include "raft/membership_internal.h"

static uint64_t *seen_slot(struct node_membership *mb, uint64_t id)
{
    for (unsigned i = 0; i < KEEL_NODE_MAX_PEERS; i++)
        if (mb->seen_id[i] == id) return &mb->seen_at[i];
    for (unsigned i = 0; i < KEEL_NODE_MAX_PEERS; i++) {
        if (mb->seen_id[i] == 0) {
            mb->seen_id[i] = id;
            mb->seen_at[i] = 0;
            return &mb->seen_at[i];
        }
    }
    return NULL;
}

uint64_t membership_seen_at(struct node_membership *mb, uint64_t id)
{
    for (unsigned i = 0; i < KEEL_NODE_MAX_PEERS; i++)
        if (mb->seen_id[i] == id) return mb->seen_at[i];
    return 0;
}

/* raft resets each peer's recent_recv every election timeout and sets it on
 * every answer; sampled every tick, it says when each one last answered. */
void membership_observe(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    bool leading = raft_state(r) == RAFT_LEADER && r->leader_state.progress != NULL;
    if (leading && !mb->leading) {
        memset(mb->seen_id, 0, sizeof mb->seen_id);
        memset(mb->want_voter, 0, sizeof mb->want_voter);
        mb->leader_since = now;
    }
    mb->leading = leading;
    if (!leading) return;
    for (unsigned i = 0; i < r->configuration.n; i++) {
        uint64_t id = r->configuration.servers[i].id;
        if (id == r->id || !r->leader_state.progress[i].recent_recv) continue;
        uint64_t *at = seen_slot(mb, id);
        if (at != NULL) *at = now;
    }
}

/* Would taking voter id away leave a cluster that still works, by what
 * this leader has seen? */
int membership_check_safe(struct node_membership *mb, uint64_t id, bool force, char *why, size_t size)
{
    struct raft *r = &mb->n->raft;
    uint64_t now = uv_now(mb->n->loop), window = 2 * membership_election_ms(r);
    unsigned voters = 0, healthy = 0, unknown = 0;
    uint64_t other = 0;
    char silent[200] = "";
    size_t off = 0;
    membership_observe(mb, now);
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        if (s->role != RAFT_VOTER || s->id == id) continue;
        voters++;
        other = s->id;
        uint64_t at = membership_seen_at(mb, s->id);
        if (s->id == r->id || (at != 0 && now - at <= window)) healthy++;
        else if (now - mb->leader_since < window) unknown++;
        else if (off < sizeof silent)
            off += (size_t)snprintf(silent + off, sizeof silent - off, " node %llu (silent for %.1f s%s)",
                                    (unsigned long long)s->id, (double)(now - (at ? at : mb->leader_since)) / 1000,
                                    at ? "" : ", since this leader was elected");
    }
    if (voters == 0) {
        say(why, size, "node %llu is the only voter: a cluster needs one", (unsigned long long)id);
        return KEEL_EINVAL;
    }
    if (force) return 0;
    if (voters == 1) {
        say(why, size,
            "taking voter %llu away would leave a single voter (node %llu): one more failure would stop "
            "the cluster and could lose acknowledged writes; add a node first, or add FORCE",
            (unsigned long long)id, (unsigned long long)other);
        return KEEL_EINVAL;
    }
    unsigned need = voters / 2 + 1;
    if (healthy >= need) return 0;
    if (healthy + unknown >= need) {
        say(why, size,
            "this leader was elected %llu ms ago and has not heard from every voter yet: retry in a moment",
            (unsigned long long)(now - mb->leader_since));
        return KEEL_EBUSY;
    }
    say(why, size,
        "taking voter %llu away would leave %u voters of which only %u answer (not answering:%s): the "
        "cluster would lose its quorum; bring them back first, or add FORCE",
        (unsigned long long)id, voters, healthy, silent);
    return KEEL_EINVAL;
}

static void barrier_deliver(struct keel_deferred *d)
{
    MEMBERSHIP_OF(d, barrier_done)->barrier_out = false; /* the request may be reused */
}

/* raft's callback (applied, or failed: either way only the acks count). */
static void barrier_cb(struct raft_barrier *req, int status)
{
    struct node_membership *mb = req->data;
    struct keel_defer *d = &mb->n->fsm.defer;
    (void)status;
    keel_defer_enter(d);
    keel_defer_push(d, &mb->barrier_done, barrier_deliver);
    keel_defer_leave(d);
}

int membership_confirm_begin(struct node_membership *mb, uint64_t now)
{
    if (mb->barrier_out) return -1; /* a previous change's, still out */
    mb->barrier.data = mb;
    KEEL_DEFER_OUTSIDE(&mb->n->fsm.defer);
    int rc = raft_barrier(&mb->n->raft, &mb->barrier, barrier_cb);
    if (rc != 0) return rc;
    mb->barrier_out = mb->confirming = true;
    mb->confirm_index = mb->barrier.index;
    mb->confirm_start = now;
    return 0;
}

/* S_CONFIRM: the health seen so far (check_safe) is sampled and may be old:
 * a voter cut off a moment ago still looks healthy. So a new entry (a
 * barrier) is appended and the change goes on only once enough of the
 * voters left to make a quorum have acknowledged it, which they can only
 * do now; otherwise it is refused after an election timeout. */
void membership_confirm(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    unsigned left = 0, acked = 0;
    char silent[200] = "", why[400];
    size_t off = 0;
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        if (s->role != RAFT_VOTER || s->id == mb->id) continue;
        left++;
        if (s->id == r->id || r->leader_state.progress[i].match_index >= mb->confirm_index) acked++;
        else if (off < sizeof silent)
            off += (size_t)snprintf(silent + off, sizeof silent - off, " node %llu", (unsigned long long)s->id);
    }
    if (acked >= left / 2 + 1) {
        mb->confirming = false;
        mb->step = mb->then;
        membership_start_step(mb, now);
        return;
    }
    /* Give up after an election timeout, or at the deadline: no step would
     * start after it anyway, and the client is waiting for the answer. */
    if (now - mb->confirm_start < membership_election_ms(r) && now < mb->deadline) return;
    say(why, sizeof why,
        "taking voter %llu away would leave %u voters of which only %u acknowledged an entry within %llu ms "
        "(not answering:%s): the cluster would lose its quorum; bring them back first, or add FORCE",
        (unsigned long long)mb->id, left, acked, (unsigned long long)(now - mb->confirm_start), silent);
    membership_finish(mb, KEEL_EINVAL, why);
}
