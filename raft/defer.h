/* raft: completions that raft hands to Keel, delivered outside raft's stack.
 *
 * raft 0.15 is not re-entrant. It fires request callbacks from deep inside
 * its own state changes: a leader stepping down fails every pending apply
 * and barrier from convertClearLeader while raft_state() still says leader
 * and the replication state is already freed, so a raft_apply made from
 * such a callback dereferences freed state (issue 12: SIGSEGV when a failed
 * write unparked a client whose next write was proposed at once). The rule
 * in raft/ is therefore: no raft call ever runs inside a raft callback.
 *
 * Every completion raft hands over (a proposal's apply_cb, barrier_cb,
 * transfer_cb, change_cb, the close callback) records what it learned and
 * queues an item here; keel_defer_run() later delivers the items in the
 * order raft fired them, each exactly once, from outside raft: on a node,
 * from a uv_check handle on the next loop turn (raft/node.c, which keeps a
 * uv_idle handle active while the queue is not empty, so that the loop
 * does not block in poll meanwhile); on raft's in-memory fixture, from the
 * test harness between steps. A delivery may call raft; completions that
 * raft fires synchronously from such a call (raft_close failing pending
 * requests) are queued behind and delivered by the same run.
 *
 * The guard: every callback Keel registers with raft (fsm apply, snapshot
 * and restore, request callbacks, the io wrappers, the close callback)
 * brackets its body with keel_defer_enter()/keel_defer_leave(), and every
 * place raft/ calls into raft asserts KEEL_DEFER_OUTSIDE(): a future
 * violation aborts Debug and Sanitize builds at the call, not somewhere in
 * libraft later.
 *
 * Loop thread only (snapshot_async, on the pool, never touches it). */
#ifndef KEEL_RAFT_DEFER_H
#define KEEL_RAFT_DEFER_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

struct keel_deferred;
typedef void (*keel_deliver_fn)(struct keel_deferred *item);

/* Embedded in whatever a completion must reach (a proposal, the node's
 * barrier, a membership change); the deliver function finds its container. */
struct keel_deferred
{
    keel_deliver_fn deliver;
    struct keel_deferred *next;
    bool queued;
};

struct keel_defer
{
    struct keel_deferred *head, *tail;
    unsigned queued;     /* items waiting */
    unsigned depth;      /* > 0: inside a callback raft made */
    bool running;        /* keel_defer_run is delivering */
    /* Called when an item is queued (the node wakes its loop); may be NULL. */
    void (*kick)(void *data);
    void *kick_data;
};

void keel_defer_init(struct keel_defer *d);

/* Queue item for delivery. Not twice before it is delivered. */
void keel_defer_push(struct keel_defer *d, struct keel_deferred *item, keel_deliver_fn deliver);

/* Deliver every queued item, oldest first, including those queued while
 * delivering; returns how many. Never inside a raft callback (asserted);
 * a nested call (from a delivery) returns 0 and leaves the work to the
 * outer one. */
unsigned keel_defer_run(struct keel_defer *d);

static inline bool keel_defer_empty(const struct keel_defer *d)
{
    return d->head == NULL;
}

/* Bracket the body of every callback raft makes into Keel. */
static inline void keel_defer_enter(struct keel_defer *d)
{
    d->depth++;
}

static inline void keel_defer_leave(struct keel_defer *d)
{
    assert(d->depth > 0);
    d->depth--;
}

/* Before every raft call raft/ makes (raft_apply, raft_barrier,
 * raft_transfer, raft_add/assign/remove, raft_start, raft_close). */
#define KEEL_DEFER_OUTSIDE(d)                                                                \
    assert((d)->depth == 0 &&                                                                \
           "raft called from inside a raft callback (raft 0.15 is not re-entrant): defer it " \
           "with keel_defer_push (raft/defer.h)")

#endif /* KEEL_RAFT_DEFER_H */
