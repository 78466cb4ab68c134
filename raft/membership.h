/* raft: membership changes on the leader, one at a time, each finished or
 * failed with a reason by a deadline.
 *
 * raft 0.15 promotes a new voter only after its own catch-up rounds, which a
 * node that is slower than the log grows (a slow disk, a loaded machine)
 * never finishes: the add then hangs for minutes and fails with "no
 * connection". Here a voter is added in steps: as a spare (raft_add), then a
 * standby (replicated, snapshot first if it is behind the leader's log
 * start, never counted for quorum), then, once it has kept up with the
 * log for a while (every catch-up round within half an election timeout
 * for a second or more), a voter (raft_assign, whose own round then ends
 * at once). A step never starts
 * after the deadline; an add that runs out of time fails with what the node
 * was doing ("node 3 at index 1200 of 5400 after 30 s: ...") and leaves it
 * a standby that goes on replicating, so a retry (or the node's --join)
 * finds it further along and promotes it once it keeps up.
 *
 * Removing (or demoting) a voter is refused, unless forced, when it would
 * leave a single voter, or fewer voters answering than a quorum of those
 * left (etcd's --strict-reconfig-check).
 *
 * No raft call is made inside a raft callback (raft 0.15 is not
 * re-entrant): a request only queues the change for this module's timer,
 * and raft's change and barrier callbacks only record their outcome and
 * queue a completion (raft/defer.h) that takes the next step on the next
 * loop turn. Loop thread only. */
#ifndef KEEL_RAFT_MEMBERSHIP_H
#define KEEL_RAFT_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/node.h"

enum keel_member_op {
    KEEL_MEMBER_ADD = 1,    /* add id at address as a voter or standby */
    KEEL_MEMBER_REMOVE = 2, /* remove id */
    KEEL_MEMBER_ASSIGN = 3, /* give member id the voter or standby role */
};

struct keel_member_req
{
    int op;              /* enum keel_member_op */
    uint64_t id;
    const char *address; /* ADD: raft address (copied) */
    bool voter;          /* ADD, ASSIGN: voter, else standby */
    bool force;          /* REMOVE, ASSIGN standby: skip the quorum safety checks */
    uint64_t deadline_ms; /* keel_mono_ms() after which no step starts; 0: 30 s from now */
};

/* Milliseconds on the monotonic clock (uv_hrtime), the time base of every
 * deadline here and of forwarded requests' deadlines. */
uint64_t keel_mono_ms(void);

/* Start a change. Returns 0 and cb fires once, later, with 0 or a code and
 * the reason: KEEL_ENOTLEADER (leadership was lost: the change may or may
 * not have happened), KEEL_EBUSY (it failed; why says how, and what role
 * the member is left with), KEEL_ESHUTDOWN (closing: uncertain too), or
 * KEEL_EINVAL (the voters left did not acknowledge a new entry: taking the
 * voter away was refused). A request equal to the change running (a retry
 * of an uncertain one) waits for it and gets the same outcome.
 * Otherwise, with cb never called and why filled: KEEL_ENOTLEADER,
 * KEEL_EBUSY (another change or a transfer is running, or this leader has
 * not heard from every voter yet: retry), KEEL_EEXISTS (id or address
 * taken), KEEL_ENOTFOUND (no such member), KEEL_EINVAL (refused as unsafe
 * without force, or a role the member already has), KEEL_ESHUTDOWN,
 * KEEL_ENOMEM. */
int keel_node_member_change(struct keel_node *n, const struct keel_member_req *req,
                            keel_change_cb cb, void *data, char *why, size_t size);

/* The change running, if any, in a line ("add node 3 as voter: standby,
 * catching up: at index 1200 of 5400, 12 s left"); "" when none. */
void keel_node_member_status(struct keel_node *n, char *buf, size_t size);
/* Is a change to make id a voter running, or did one leave it a standby
 * (out of time)? (KEEL.JOIN then makes it a voter, where a standby an
 * operator made stays one.) */
bool keel_node_member_wants_voter(struct keel_node *n, uint64_t id);

#endif /* KEEL_RAFT_MEMBERSHIP_H */
