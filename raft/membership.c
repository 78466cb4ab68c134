/* raft: membership changes on the leader (see membership.h): the steps of a
 * change, driven by a timer; the voters' health for the safety checks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/membership.h"
#include "raft/node_internal.h"

#define TICK_MS 50
#define MAX_WAITERS 8
#define DEFAULT_TIMEOUT_MS 30000
/* A node being caught up that has not answered for this long is taken for
 * not running (raft's own default limit for one catch-up round). */
#define UNRESPONSIVE_MS 5000
/* raft 0.15 src/progress.h: PROGRESS__SNAPSHOT, a snapshot is being sent */
#define PROGRESS_SNAPSHOT 2

enum step { S_NONE, S_ADD_SPARE, S_TO_STANDBY, S_CATCH_UP, S_TO_VOTER, S_REMOVE, S_DEMOTE, S_CONFIRM };

static const char *const step_names[] = {"", "adding it as a spare", "making it a standby",
                                         "catching it up", "making it a voter", "removing it",
                                         "making it a standby", "checking the other voters answer"};

struct waiter
{
    keel_change_cb cb;
    void *data;
};

struct node_membership
{
    struct keel_node *n;
    uv_timer_t timer;  /* every TICK_MS from keel_node_start; kicked for the next step */
    bool timer_on;
    /* voters' health, while leader: when each member last answered */
    bool leading;
    uint64_t leader_since;
    uint64_t seen_id[KEEL_NODE_MAX_PEERS];
    uint64_t seen_at[KEEL_NODE_MAX_PEERS];
    /* the change running */
    bool active;
    int op;
    uint64_t id;
    char address[64];
    bool voter;
    int step;
    struct raft_change change;
    bool raft_out;     /* a raft request is out, its callback not yet come */
    bool raft_back;    /* it came with raft_status, not yet acted on */
    int raft_status;
    uint64_t started;
    uint64_t deadline;
    /* catching up (S_CATCH_UP): raft's catch-up rounds, on a standby */
    uint64_t round_target;
    uint64_t round_start;
    uint64_t fast_since; /* every round fast since; 0: the last one was slow */
    uint64_t prev_last;  /* the leader's last index at the previous tick */
    uint64_t cu_start;
    uint64_t cu_match0;
    uint64_t cu_last0;
    unsigned attempts; /* promotions raft refused as too slow */
    /* S_CONFIRM: before taking a voter away, a barrier entry that the
     * voters left must acknowledge (see confirm()) */
    int then;            /* the step after it: S_REMOVE or S_DEMOTE */
    struct raft_barrier barrier;
    bool barrier_out;    /* its callback has not come yet */
    bool confirming;     /* the barrier is appended: watching the acks */
    uint64_t confirm_index;
    uint64_t confirm_start;
    struct waiter waiters[MAX_WAITERS];
    unsigned nwaiters;
    /* Standbys a voter add left behind (it ran out of time): they keep
     * replicating, and their --join (or a retry) makes them voters. In
     * memory only: after a leader change a join leaves them standbys. */
    uint64_t want_voter[KEEL_NODE_MAX_PEERS];
};

uint64_t keel_mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void say(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

static int server_index(const struct raft *r, uint64_t id)
{
    for (unsigned i = 0; i < r->configuration.n; i++)
        if (r->configuration.servers[i].id == id) return (int)i;
    return -1;
}

static const char *role_name(const struct raft *r, uint64_t id)
{
    int i = server_index(r, id);
    if (i < 0) return "not a member";
    int role = r->configuration.servers[i].role;
    return role == RAFT_VOTER ? "a voter" : role == RAFT_STANDBY ? "a standby" : "a spare";
}

static uint64_t election_ms(const struct raft *r)
{
    return r->election_timeout;
}

/* ---- health ------------------------------------------------------------ */

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

static uint64_t seen_at(struct node_membership *mb, uint64_t id)
{
    for (unsigned i = 0; i < KEEL_NODE_MAX_PEERS; i++)
        if (mb->seen_id[i] == id) return mb->seen_at[i];
    return 0;
}

/* raft resets each peer's recent_recv every election timeout and sets it on
 * every answer; sampled every tick, it says when each one last answered. */
static void observe(struct node_membership *mb, uint64_t now)
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

/* Would taking voter id away leave a cluster that still works? */
static int check_safe(struct node_membership *mb, uint64_t id, bool force, char *why, size_t size)
{
    struct raft *r = &mb->n->raft;
    uint64_t now = uv_now(mb->n->loop), window = 2 * election_ms(r);
    unsigned voters = 0, healthy = 0, unknown = 0;
    uint64_t other = 0;
    char silent[200] = "";
    size_t off = 0;
    observe(mb, now);
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        if (s->role != RAFT_VOTER || s->id == id) continue;
        voters++;
        other = s->id;
        uint64_t at = seen_at(mb, s->id);
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
        say(why, size, "this leader was elected %llu ms ago and has not heard from every voter yet: retry in a moment",
            (unsigned long long)(now - mb->leader_since));
        return KEEL_EBUSY;
    }
    say(why, size,
        "taking voter %llu away would leave %u voters of which only %u answer (not answering:%s): the "
        "cluster would lose its quorum; bring them back first, or add FORCE",
        (unsigned long long)id, voters, healthy, silent);
    return KEEL_EINVAL;
}

/* ---- finishing --------------------------------------------------------- */

static void tick_cb(uv_timer_t *t);

/* Drive the change on the next loop turn (never from inside raft). */
static void kick(struct node_membership *mb)
{
    uv_timer_start(&mb->timer, tick_cb, 0, TICK_MS);
}

static void want_voter_set(struct node_membership *mb, uint64_t id, bool want)
{
    for (unsigned i = 0; i < KEEL_NODE_MAX_PEERS; i++)
        if (mb->want_voter[i] == id) mb->want_voter[i] = 0;
    for (unsigned i = 0; want && i < KEEL_NODE_MAX_PEERS; i++) {
        if (mb->want_voter[i] == 0) {
            mb->want_voter[i] = id;
            return;
        }
    }
}

static void finish(struct node_membership *mb, int code, const char *why)
{
    struct raft *r = &mb->n->raft;
    struct waiter w[MAX_WAITERS];
    unsigned nw = mb->nwaiters;
    char text[600];
    int i = server_index(r, mb->id);
    bool standby = i >= 0 && r->configuration.servers[i].role == RAFT_STANDBY;
    /* A voter add that ran out of time leaves a standby that replicates on:
     * a retry (or its --join) promotes it once it keeps up. */
    want_voter_set(mb, mb->id, code != 0 && mb->op != KEEL_MEMBER_REMOVE && mb->voter && standby);
    if (code != 0 && code != KEEL_ESHUTDOWN && raft_state(r) == RAFT_LEADER)
        snprintf(text, sizeof text, "%s; node %llu is %s%s", why, (unsigned long long)mb->id, role_name(r, mb->id),
                 mb->voter && standby ? " (it replicates on without a vote: retry the add, or PROMOTE it, once "
                                        "it keeps up; or REMOVE it)"
                                      : "");
    else
        snprintf(text, sizeof text, "%s", why);
    memcpy(w, mb->waiters, sizeof w);
    /* Reset first: a callback may start the next change. */
    mb->active = false;
    mb->nwaiters = 0;
    mb->step = S_NONE;
    for (unsigned k = 0; k < nw; k++) w[k].cb(w[k].data, code, text);
}

/* ---- the steps --------------------------------------------------------- */

/* raft's callback: only note the outcome (raft 0.15 is not re-entrant). */
static void change_cb(struct raft_change *req, int status)
{
    struct node_membership *mb = req->data;
    mb->raft_out = false;
    mb->raft_back = true;
    mb->raft_status = status;
    if (!mb->n->closing) kick(mb);
}

static void catch_up_begin(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    int i = server_index(r, mb->id);
    mb->step = S_CATCH_UP;
    mb->cu_start = mb->round_start = now;
    mb->fast_since = 0;
    mb->prev_last = 0;
    mb->round_target = raft_last_index(r);
    mb->cu_last0 = mb->round_target;
    /* leader_state is a union member: valid only while leading */
    bool leading = raft_state(r) == RAFT_LEADER && r->leader_state.progress != NULL;
    mb->cu_match0 = i >= 0 && leading ? r->leader_state.progress[i].match_index : 0;
}

static void start_step(struct node_membership *mb, uint64_t now);

/* raft's callback: only note it (the request may be reused after). */
static void barrier_cb(struct raft_barrier *req, int status)
{
    struct node_membership *mb = req->data;
    (void)status;
    mb->barrier_out = false;
}

/* S_CONFIRM: the health seen so far (check_safe) is sampled and may be old:
 * a voter cut off a moment ago still looks healthy. So a new entry (a
 * barrier) is appended and the change goes on only once enough of the
 * voters left to make a quorum have acknowledged it, which they can only
 * do now; otherwise it is refused after an election timeout. */
static void confirm(struct node_membership *mb, uint64_t now)
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
        start_step(mb, now);
        return;
    }
    if (now - mb->confirm_start < election_ms(r)) return;
    say(why, sizeof why,
        "taking voter %llu away would leave %u voters of which only %u acknowledged an entry within %llu ms "
        "(not answering:%s): the cluster would lose its quorum; bring them back first, or add FORCE",
        (unsigned long long)mb->id, left, acked, (unsigned long long)election_ms(r), silent);
    finish(mb, KEEL_EINVAL, why);
}

/* Issue the raft request of the current step. */
static void start_step(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    char why[200];
    if (now >= mb->deadline) {
        say(why, sizeof why, "the deadline passed before %s (after %.1f s)", step_names[mb->step],
            (double)(now - mb->started) / 1000);
        finish(mb, KEEL_EBUSY, why);
        return;
    }
    mb->change.data = mb;
    int rc = RAFT_INVALID;
    if (mb->step == S_CONFIRM) {
        if (mb->barrier_out) return; /* a previous change's, still out: next tick */
        mb->barrier.data = mb;
        rc = raft_barrier(r, &mb->barrier, barrier_cb);
        if (rc == 0) {
            mb->barrier_out = mb->confirming = true;
            mb->confirm_index = mb->barrier.index;
            mb->confirm_start = now;
            return;
        }
    }
    switch (mb->step) {
        case S_ADD_SPARE: rc = raft_add(r, &mb->change, mb->id, mb->address, change_cb); break;
        case S_TO_STANDBY:
        case S_DEMOTE: rc = raft_assign(r, &mb->change, mb->id, RAFT_STANDBY, change_cb); break;
        case S_TO_VOTER: rc = raft_assign(r, &mb->change, mb->id, RAFT_VOTER, change_cb); break;
        case S_REMOVE: rc = raft_remove(r, &mb->change, mb->id, change_cb); break;
    }
    if (rc == 0) {
        mb->raft_out = true;
        return;
    }
    mb->raft_back = true; /* refused at once: handled like a callback */
    mb->raft_status = rc;
}

/* The raft request of the current step came back with status. */
static void step_done(struct node_membership *mb, int status, uint64_t now)
{
    char why[400];
    const char *step = step_names[mb->step];
    if (status == 0) {
        switch (mb->step) {
            case S_ADD_SPARE: mb->step = S_TO_STANDBY; return;
            case S_TO_STANDBY:
                if (mb->voter) catch_up_begin(mb, now);
                else finish(mb, 0, "");
                return;
            default: finish(mb, 0, ""); return;
        }
    }
    if (status == RAFT_NOTLEADER || status == RAFT_LEADERSHIPLOST) {
        say(why, sizeof why, "leadership was lost while %s: the change may or may not have happened",
            step);
        finish(mb, KEEL_ENOTLEADER, why);
        return;
    }
    if (mb->step == S_TO_VOTER && status == RAFT_NOCONNECTION && now < mb->deadline) {
        /* raft's own catch-up round found it too slow after all: back to
         * the standby's. */
        mb->attempts++;
        catch_up_begin(mb, now);
        return;
    }
    say(why, sizeof why, "%s failed: %s", step, raft_strerror(status));
    finish(mb, KEEL_EBUSY, why);
}

/* Why a standby has not caught up by now. */
static void slow_reason(struct node_membership *mb, uint64_t now, char *why, size_t size)
{
    struct raft *r = &mb->n->raft;
    int i = server_index(r, mb->id);
    const struct raft_progress *p =
        i >= 0 && raft_state(r) == RAFT_LEADER && r->leader_state.progress ? &r->leader_state.progress[i] : NULL;
    uint64_t m = p ? p->match_index : 0, last = raft_last_index(r), at = seen_at(mb, mb->id);
    double t = (double)(now - mb->cu_start) / 1000, total = (double)(now - mb->started) / 1000;
    if (t < 0.001) t = 0.001;
    if (at == 0 || at < mb->cu_start) {
        say(why, size,
            "node %llu has not answered in %.1f s (is it running? start it with keeld --join: it "
            "joins as a voter by itself)",
            (unsigned long long)mb->id, t);
    } else if (p != NULL && p->state == PROGRESS_SNAPSHOT) {
        say(why, size,
            "node %llu was still receiving a snapshot (of index %llu) after %.1f s: a large database or a "
            "slow link or disk; retry with a longer TIMEOUT",
            (unsigned long long)mb->id, (unsigned long long)p->snapshot_index, total);
    } else {
        say(why, size,
            "node %llu at index %llu of %llu after %.1f s: it replicated %.0f entries/s while the log grew "
            "%.0f/s, and did not stay within %llu ms of the leader (its disk is slow, see SLOW_FSYNC on "
            "node %llu, or its machine overloaded)",
            (unsigned long long)mb->id, (unsigned long long)m, (unsigned long long)last, total,
            (double)(m > mb->cu_match0 ? m - mb->cu_match0 : 0) / t,
            (double)(last > mb->cu_last0 ? last - mb->cu_last0 : 0) / t,
            (unsigned long long)(election_ms(r) / 2), (unsigned long long)mb->id);
    }
}

/* How long a standby must keep up before it is made a voter. */
static uint64_t stable_ms(const struct raft *r)
{
    return election_ms(r) < 1000 ? 1000 : election_ms(r);
}

/* S_CATCH_UP: raft's catch-up rounds (thesis 4.2.1), on a standby that
 * counts for nothing. A round ends when the node has every entry the log
 * had when the round began; a round that ends within half an election
 * timeout is fast. Only a node whose rounds have all been fast for
 * stable_ms is made a voter: one fast round proves little (a node with a
 * slow disk is quick right after the first big batch, and falls behind as
 * the entries it cannot keep up with pile up), and raft_assign's own round
 * must then end at once. A node that has the whole log while no writes
 * come (for a tick) goes at once: there is nothing to keep up with. */
static void catch_up(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    int i = server_index(r, mb->id);
    char why[400];
    if (i < 0 || r->configuration.servers[i].role != RAFT_STANDBY) {
        say(why, sizeof why, "node %llu stopped being a standby while being caught up", (unsigned long long)mb->id);
        finish(mb, KEEL_EBUSY, why);
        return;
    }
    const struct raft_progress *p = &r->leader_state.progress[i];
    uint64_t last = raft_last_index(r), fast = election_ms(r) / 2;
    /* Idle log, all of it there: nothing to keep up with. */
    bool idle = p->match_index >= last && last == mb->prev_last;
    mb->prev_last = last;
    if (p->match_index >= mb->round_target) {
        if (now - mb->round_start > fast) mb->fast_since = 0;
        else if (mb->fast_since == 0) mb->fast_since = now;
        if (idle || (mb->fast_since != 0 && now - mb->fast_since >= stable_ms(r))) {
            mb->step = S_TO_VOTER;
            start_step(mb, now);
            return;
        }
        mb->round_target = last;
        mb->round_start = now;
    } else if (now - mb->round_start > fast) {
        mb->fast_since = 0;
    mb->prev_last = 0; /* this round is slow, whenever it ends */
    }
    uint64_t at = seen_at(mb, mb->id);
    bool silent = now - (at > mb->cu_start ? at : mb->cu_start) >= UNRESPONSIVE_MS && p->state != PROGRESS_SNAPSHOT;
    if (now >= mb->deadline || silent) {
        slow_reason(mb, now, why, sizeof why);
        finish(mb, KEEL_EBUSY, why);
    }
}

static void drive(struct node_membership *mb, uint64_t now)
{
    if (!mb->active || mb->raft_out) return;
    if (mb->raft_back) {
        mb->raft_back = false;
        step_done(mb, mb->raft_status, now);
        if (!mb->active || mb->raft_out || mb->raft_back) return;
    }
    if (raft_state(&mb->n->raft) != RAFT_LEADER) {
        char why[200];
        say(why, sizeof why, "leadership was lost while %s: the change may or may not have happened",
            step_names[mb->step]);
        finish(mb, KEEL_ENOTLEADER, why);
        return;
    }
    if (mb->step == S_CATCH_UP) catch_up(mb, now);
    else if (mb->step == S_CONFIRM && mb->confirming) confirm(mb, now);
    else start_step(mb, now);
}

static void tick_cb(uv_timer_t *t)
{
    struct node_membership *mb = t->data;
    if (mb->n->closing) return;
    uint64_t now = uv_now(mb->n->loop);
    observe(mb, now);
    /* A change may loop here a few times in one turn (a step refused at
     * once is acted on at once), never inside a raft callback. */
    for (int i = 0; i < 4 && mb->active && !mb->raft_out; i++) {
        int step = mb->step;
        bool back = mb->raft_back;
        drive(mb, now);
        if (mb->step == step && mb->raft_back == back) break;
    }
}

/* ---- requests ---------------------------------------------------------- */

static void describe(struct node_membership *mb, uint64_t now, char *buf, size_t size)
{
    struct raft *r = &mb->n->raft;
    size_t off = (size_t)snprintf(buf, size, "%s node %llu%s: %s", mb->op == KEEL_MEMBER_REMOVE ? "remove" : "make",
                                  (unsigned long long)mb->id,
                                  mb->op == KEEL_MEMBER_REMOVE ? "" : mb->voter ? " a voter" : " a standby",
                                  step_names[mb->step]);
    int i = server_index(r, mb->id);
    if (mb->step == S_CATCH_UP && i >= 0 && raft_state(r) == RAFT_LEADER && r->leader_state.progress != NULL &&
        off < size)
        off += (size_t)snprintf(buf + off, size - off, ", at index %llu of %llu",
                                (unsigned long long)r->leader_state.progress[i].match_index,
                                (unsigned long long)raft_last_index(r));
    if (off < size)
        snprintf(buf + off, size - off, ", %.1f s in, %.1f s left", (double)(now - mb->started) / 1000,
                 now < mb->deadline ? (double)(mb->deadline - now) / 1000 : 0.0);
}

void keel_node_member_status(struct keel_node *n, char *buf, size_t size)
{
    struct node_membership *mb = n->membership;
    buf[0] = 0;
    if (mb != NULL && mb->active) describe(mb, uv_now(n->loop), buf, size);
}

bool keel_node_member_wants_voter(struct keel_node *n, uint64_t id)
{
    struct node_membership *mb = n->membership;
    if (mb == NULL) return false;
    if (mb->active) return mb->id == id && mb->voter && mb->op != KEEL_MEMBER_REMOVE;
    for (unsigned i = 0; i < KEEL_NODE_MAX_PEERS; i++)
        if (mb->want_voter[i] == id) return true;
    return false;
}

/* Does req ask for what the change running will leave? */
static bool same_change(const struct node_membership *mb, const struct keel_member_req *req)
{
    if (req->id != mb->id || (req->op == KEEL_MEMBER_REMOVE) != (mb->op == KEEL_MEMBER_REMOVE)) return false;
    if (req->op == KEEL_MEMBER_REMOVE) return true;
    return req->voter == mb->voter && (req->op != KEEL_MEMBER_ADD || strcmp(req->address, mb->address) == 0 ||
                                       mb->op != KEEL_MEMBER_ADD);
}

int keel_node_member_change(struct keel_node *n, const struct keel_member_req *req,
                            keel_change_cb cb, void *data, char *why, size_t size)
{
    struct node_membership *mb = n->membership;
    struct raft *r = &n->raft;
    uint64_t now = uv_now(n->loop);
    why[0] = 0;
    if (n->closing || mb == NULL) return say(why, size, "shutting down"), KEEL_ESHUTDOWN;
    if (raft_state(r) != RAFT_LEADER) return say(why, size, "not the leader"), KEEL_ENOTLEADER;
    if (mb->active) {
        if (same_change(mb, req) && mb->nwaiters < MAX_WAITERS) {
            /* A retry of the change running: the same outcome, once. */
            mb->waiters[mb->nwaiters++] = (struct waiter){cb, data};
            return 0;
        }
        char what[300];
        describe(mb, now, what, sizeof what);
        return say(why, size, "another membership change is running (%s)", what), KEEL_EBUSY;
    }
    if (r->transfer != NULL) return say(why, size, "a leadership transfer is running"), KEEL_EBUSY;
    if (r->configuration_uncommitted_index != 0 || r->leader_state.promotee_id != 0)
        return say(why, size, "the previous configuration change has not committed yet"), KEEL_EBUSY;
    int i = server_index(r, req->id);
    int role = i >= 0 ? r->configuration.servers[i].role : -1;
    int step = S_NONE, rc;
    switch (req->op) {
        case KEEL_MEMBER_ADD:
            if (req->address == NULL || strlen(req->address) >= sizeof mb->address)
                return say(why, size, "no raft address"), KEEL_EINVAL;
            for (unsigned k = 0; k < r->configuration.n; k++) {
                const struct raft_server *s = &r->configuration.servers[k];
                if (s->id == req->id && strcmp(s->address, req->address) != 0)
                    return say(why, size, "id %llu is already a member at %s: remove it first",
                               (unsigned long long)req->id, s->address), KEEL_EEXISTS;
                if (s->id != req->id && strcmp(s->address, req->address) == 0)
                    return say(why, size, "address %s belongs to node %llu", req->address,
                               (unsigned long long)s->id), KEEL_EEXISTS;
            }
            /* A member at that address is given the role. */
            /* fall through */
        case KEEL_MEMBER_ASSIGN:
            if (req->op == KEEL_MEMBER_ASSIGN && i < 0)
                return say(why, size, "no member with id %llu", (unsigned long long)req->id), KEEL_ENOTFOUND;
            if (role == (req->voter ? RAFT_VOTER : RAFT_STANDBY))
                return say(why, size, "node %llu is already %s", (unsigned long long)req->id,
                           role_name(r, req->id)), KEEL_EINVAL;
            if (role == RAFT_VOTER && (rc = check_safe(mb, req->id, req->force, why, size)) != 0) return rc;
            step = role < 0 ? S_ADD_SPARE : role == RAFT_SPARE ? S_TO_STANDBY
                   : role == RAFT_VOTER                        ? S_DEMOTE
                                                               : S_CATCH_UP;
            break;
        case KEEL_MEMBER_REMOVE:
            if (i < 0) return say(why, size, "no member with id %llu", (unsigned long long)req->id), KEEL_ENOTFOUND;
            if (role == RAFT_VOTER && (rc = check_safe(mb, req->id, req->force, why, size)) != 0) return rc;
            step = S_REMOVE;
            break;
        default:
            return say(why, size, "unknown membership change"), KEEL_EINVAL;
    }
    mb->active = true;
    mb->op = req->op;
    mb->id = req->id;
    snprintf(mb->address, sizeof mb->address, "%s", i >= 0 ? r->configuration.servers[i].address : req->address);
    mb->voter = req->voter;
    mb->raft_out = mb->raft_back = false;
    mb->attempts = 0;
    mb->started = now;
    /* Deadlines are on the monotonic clock; the steps run on loop time. */
    uint64_t mono = keel_mono_ms(), left = DEFAULT_TIMEOUT_MS;
    if (req->deadline_ms != 0) left = req->deadline_ms > mono ? req->deadline_ms - mono : 0;
    mb->deadline = now + left;
    mb->waiters[0] = (struct waiter){cb, data};
    mb->nwaiters = 1;
    mb->confirming = false;
    if (step == S_CATCH_UP) catch_up_begin(mb, now);
    if ((step == S_REMOVE || step == S_DEMOTE) && role == RAFT_VOTER && !req->force) {
        mb->then = step; /* what check_safe saw, confirmed now */
        step = S_CONFIRM;
    }
    mb->step = step;
    kick(mb);
    return 0;
}

/* ---- life -------------------------------------------------------------- */

int node_membership_create(struct keel_node *n)
{
    struct node_membership *mb = calloc(1, sizeof *mb);
    if (mb == NULL) return KEEL_ENOMEM;
    mb->n = n;
    n->membership = mb;
    return 0;
}

void node_membership_start(struct keel_node *n)
{
    struct node_membership *mb = n->membership;
    uv_timer_init(n->loop, &mb->timer);
    mb->timer.data = mb;
    mb->timer_on = true;
    uv_timer_start(&mb->timer, tick_cb, TICK_MS, TICK_MS);
}

static void membership_close_cb(uv_handle_t *h)
{
    free(h->data);
}

void node_membership_close(struct keel_node *n)
{
    struct node_membership *mb = n->membership;
    if (mb == NULL) return;
    n->membership = NULL;
    if (mb->active) finish(mb, KEEL_ESHUTDOWN, "the node is shutting down: the change may or may not have happened");
    if (mb->timer_on) uv_close((uv_handle_t *)&mb->timer, membership_close_cb);
    else free(mb);
}
