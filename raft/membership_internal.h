/* raft: the private shape of the membership module (membership.c,
 * membership_health.c, membership_catchup.c). Loop thread only. */
#ifndef KEEL_RAFT_MEMBERSHIP_INTERNAL_H
#define KEEL_RAFT_MEMBERSHIP_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "raft/membership.h"
#include "raft/node_internal.h"

#define MAX_WAITERS 8

enum step { S_NONE, S_ADD_SPARE, S_TO_STANDBY, S_CATCH_UP, S_TO_VOTER, S_REMOVE, S_DEMOTE, S_CONFIRM };

extern const char *const membership_step_names[];

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
    struct keel_deferred change_done; /* raft's callback, delivered outside raft (raft/defer.h) */
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
    struct keel_deferred barrier_done;
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

static inline uint64_t membership_election_ms(const struct raft *r)
{
    return r->election_timeout;
}

#define MEMBERSHIP_OF(ptr, field) \
    ((struct node_membership *)((char *)(ptr) - offsetof(struct node_membership, field)))

/* why = the reason, formatted (every refusal and failure carries one). */
static inline void say(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void say(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

/* membership.c */
/* The index of member id in the configuration, or -1. */
int membership_index(const struct raft *r, uint64_t id);
/* Answer every waiter with code and why; the change is over. */
void membership_finish(struct node_membership *mb, int code, const char *why);
/* Issue the raft request of the current step (none after the deadline).
 * Outside raft callbacks only (asserted). */
void membership_start_step(struct node_membership *mb, uint64_t now);

/* membership_health.c */
/* While leading: note which members answered since the last call. */
void membership_observe(struct node_membership *mb, uint64_t now);
/* Loop ms member id last answered this leader; 0: never. */
uint64_t membership_seen_at(struct node_membership *mb, uint64_t id);
/* Would taking voter id away leave a working cluster, by what was seen?
 * 0, or KEEL_EINVAL / KEEL_EBUSY (retry) with why. */
int membership_check_safe(struct node_membership *mb, uint64_t id, bool force, char *why, size_t size);
/* S_CONFIRM: append the barrier. 0: appended; -1: a previous barrier is
 * still out (try again next tick); else raft's refusal. */
int membership_confirm_begin(struct node_membership *mb, uint64_t now);
/* S_CONFIRM: go on (start mb->then) once a quorum of the voters left has
 * the barrier, or fail after an election timeout. */
void membership_confirm(struct node_membership *mb, uint64_t now);

/* membership_catchup.c */
void membership_catch_up_begin(struct node_membership *mb, uint64_t now);
void membership_catch_up(struct node_membership *mb, uint64_t now);

#endif /* KEEL_RAFT_MEMBERSHIP_INTERNAL_H */
