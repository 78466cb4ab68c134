/* raft: membership changes on the leader (see membership.h): the requests,
 * the steps of a change, driven by a timer, and their outcome. The voters'
 * health and the safety checks: membership_health.c; catching a new voter
 * up: membership_catchup.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/membership_internal.h"

#define TICK_MS 50
#define DEFAULT_TIMEOUT_MS 30000

const char *const membership_step_names[] = {"", "adding it as a spare", "making it a standby",
                                             "catching it up", "making it a voter", "removing it",
                                             "making it a standby", "checking the other voters answer"};

uint64_t keel_mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

int membership_index(const struct raft *r, uint64_t id)
{
    for (unsigned i = 0; i < r->configuration.n; i++)
        if (r->configuration.servers[i].id == id) return (int)i;
    return -1;
}

static const char *role_name(const struct raft *r, uint64_t id)
{
    int i = membership_index(r, id);
    if (i < 0) return "not a member";
    int role = r->configuration.servers[i].role;
    return role == RAFT_VOTER ? "a voter" : role == RAFT_STANDBY ? "a standby" : "a spare";
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

void membership_finish(struct node_membership *mb, int code, const char *why)
{
    struct raft *r = &mb->n->raft;
    struct waiter w[MAX_WAITERS];
    unsigned nw = mb->nwaiters;
    char text[600];
    /* Closing: raft_close has freed its configuration, ask it nothing. */
    bool alive = !mb->n->closing;
    int i = alive ? membership_index(r, mb->id) : -1;
    bool standby = i >= 0 && r->configuration.servers[i].role == RAFT_STANDBY;
    /* A voter add that ran out of time leaves a standby that replicates on:
     * a retry (or its --join) promotes it once it keeps up. */
    want_voter_set(mb, mb->id, code != 0 && mb->op != KEEL_MEMBER_REMOVE && mb->voter && standby);
    if (alive && code != 0 && code != KEEL_ESHUTDOWN && raft_state(r) == RAFT_LEADER)
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

static void drive_now(struct node_membership *mb);

/* Delivered on the next loop turn, outside raft: act on the outcome. */
static void change_deliver(struct keel_deferred *d)
{
    struct node_membership *mb = MEMBERSHIP_OF(d, change_done);
    mb->raft_out = false;
    mb->raft_back = true;
    if (!mb->n->closing) drive_now(mb); /* else node_membership_close answers */
}

/* raft's callback: only note the outcome and queue it (raft/defer.h: raft
 * 0.15 is not re-entrant, and the next step calls raft). */
static void change_cb(struct raft_change *req, int status)
{
    struct node_membership *mb = req->data;
    struct keel_defer *d = &mb->n->fsm.defer;
    keel_defer_enter(d);
    mb->raft_status = status;
    keel_defer_push(d, &mb->change_done, change_deliver);
    keel_defer_leave(d);
}

/* Issue the raft request of the current step. */
void membership_start_step(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    char why[200];
    if (now >= mb->deadline) {
        say(why, sizeof why, "the deadline passed before %s (after %.1f s)", membership_step_names[mb->step],
            (double)(now - mb->started) / 1000);
        membership_finish(mb, KEEL_EBUSY, why);
        return;
    }
    mb->change.data = mb;
    int rc = RAFT_INVALID;
    KEEL_DEFER_OUTSIDE(&mb->n->fsm.defer);
    if (mb->step == S_CONFIRM && (rc = membership_confirm_begin(mb, now)) <= 0) return;
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
    const char *step = membership_step_names[mb->step];
    if (status == 0) {
        switch (mb->step) {
            case S_ADD_SPARE: mb->step = S_TO_STANDBY; return;
            case S_TO_STANDBY:
                if (mb->voter) membership_catch_up_begin(mb, now);
                else membership_finish(mb, 0, "");
                return;
            default: membership_finish(mb, 0, ""); return;
        }
    }
    if (status == RAFT_NOTLEADER || status == RAFT_LEADERSHIPLOST) {
        say(why, sizeof why, "leadership was lost while %s: the change may or may not have happened",
            step);
        membership_finish(mb, KEEL_ENOTLEADER, why);
        return;
    }
    if (mb->step == S_TO_VOTER && status == RAFT_NOCONNECTION && now < mb->deadline) {
        /* raft's own catch-up round found it too slow after all: back to
         * the standby's. */
        mb->attempts++;
        membership_catch_up_begin(mb, now);
        return;
    }
    say(why, sizeof why, "%s failed: %s", step, raft_strerror(status));
    membership_finish(mb, KEEL_EBUSY, why);
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
            membership_step_names[mb->step]);
        membership_finish(mb, KEEL_ENOTLEADER, why);
        return;
    }
    if (mb->step == S_CATCH_UP) membership_catch_up(mb, now);
    else if (mb->step == S_CONFIRM && mb->confirming) membership_confirm(mb, now);
    else membership_start_step(mb, now);
}

static void drive_now(struct node_membership *mb)
{
    uint64_t now = uv_now(mb->n->loop);
    membership_observe(mb, now);
    /* A change may loop here a few times in one turn (a step refused at
     * once is acted on at once), never inside a raft callback. */
    for (int i = 0; i < 4 && mb->active && !mb->raft_out; i++) {
        int step = mb->step;
        bool back = mb->raft_back;
        drive(mb, now);
        if (mb->step == step && mb->raft_back == back) break;
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct node_membership *mb = t->data;
    if (!mb->n->closing) drive_now(mb);
}

/* ---- requests ---------------------------------------------------------- */

static void describe(struct node_membership *mb, uint64_t now, char *buf, size_t size)
{
    struct raft *r = &mb->n->raft;
    bool remove = mb->op == KEEL_MEMBER_REMOVE;
    size_t off = (size_t)snprintf(buf, size, "%s node %llu%s: %s", remove ? "remove" : "make",
                                  (unsigned long long)mb->id,
                                  mb->op == KEEL_MEMBER_REMOVE ? "" : mb->voter ? " a voter" : " a standby",
                                  membership_step_names[mb->step]);
    int i = membership_index(r, mb->id);
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
    if (mb != NULL && mb->active && !n->closing) describe(mb, uv_now(n->loop), buf, size);
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
    int i = membership_index(r, req->id);
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
            rc = role == RAFT_VOTER ? membership_check_safe(mb, req->id, req->force, why, size) : 0;
            if (rc != 0) return rc;
            step = role < 0 ? S_ADD_SPARE : role == RAFT_SPARE ? S_TO_STANDBY
                   : role == RAFT_VOTER                        ? S_DEMOTE
                                                               : S_CATCH_UP;
            break;
        case KEEL_MEMBER_REMOVE:
            if (i < 0)
                return say(why, size, "no member with id %llu", (unsigned long long)req->id), KEEL_ENOTFOUND;
            rc = role == RAFT_VOTER ? membership_check_safe(mb, req->id, req->force, why, size) : 0;
            if (rc != 0) return rc;
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
    if (step == S_CATCH_UP) membership_catch_up_begin(mb, now);
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
    if (mb->active)
        membership_finish(mb, KEEL_ESHUTDOWN, "the node is shutting down: the change may or may not have happened");
    if (mb->timer_on) uv_close((uv_handle_t *)&mb->timer, membership_close_cb);
    else free(mb);
}
