/* api: the periodic consistency check across replicas, and the automatic
 * repair of a replica that fails it (etcd's corruption check, Consul's log
 * verification; docs/recovery.md "Silent corruption").
 *
 * Every --consistency-check-interval the leader proposes a HASH CHECK entry
 * (store/codec.h). Each replica, leader included, digests the state that
 * entry leaves (storage digest: every tree, every byte) on the libuv pool,
 * from a read txn begun inside apply, so the loop never walks the store.
 * Followers report their digest to the leader as KEEL.DIGEST, an internal
 * command that only travels inside KEEL.FWD with the cluster's forwarding
 * token (a client cannot send it). Once a majority of the voters, the leader
 * included, agree on one digest, the leader proposes it as a HASH VERDICT
 * entry; every replica compares its own digest for that index with it, and
 * the outcome is local only: apply is the same either way.
 *
 * A replica in the minority is damaged: it logs the index and both digests
 * at error, raises CORRUPT (alarm, __keel__:events, metrics), refuses reads
 * from its own state (READONLY: -CORRUPT; as leader every read and write:
 * -TRYAGAIN) and marks its env so raft snapshots none of it. A damaged
 * leader hands leadership over first. A damaged follower repairs itself
 * (repair.c): the leader's image (KEEL.SNAPSHOT BEGIN/READ/END) installed
 * over its env, the raft log and term/vote untouched. The alarm clears once
 * a later check agrees. The leader's own view names the replicas the last
 * verdict found different (INFO keel_check_corrupt_members, its CORRUPT
 * reason, /metrics keel_consistency_replica_corrupt).
 *
 * Everything on the loop thread, but the digest walk. */
#ifndef KEEL_API_CONSISTENCY_H
#define KEEL_API_CONSISTENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "api/server/server_internal.h"

#define CHECK_MAX_MEMBERS 16

struct repair;

/* The leader's collection of one round's digests. */
struct check_round
{
    uint64_t index;                     /* the CHECK entry's index; 0: none */
    unsigned n;
    uint64_t ids[CHECK_MAX_MEMBERS];
    uint64_t digests[CHECK_MAX_MEMBERS];
    bool decided;                       /* majority found (verdict proposed or not) */
    uint64_t majority;
};

struct consistency
{
    struct keel_server *srv;
    uint64_t last_round_ms;     /* loop ms the leader last proposed a round */
    bool proposing;             /* a CHECK or VERDICT of ours in flight */
    unsigned jobs;              /* digest walks on the pool */
    /* this replica's digest of the last round it walked, and the last verdict */
    uint64_t mine_index, mine_digest;
    uint64_t verdict_index, verdict_digest;
    uint64_t compared_index;    /* the last index compared (once each) */
    uint64_t last_walk_ns;
    /* this replica's state */
    bool damaged;               /* differs from the majority: not served, repairing */
    bool unverified;            /* repaired: trusted again, not yet confirmed by a check */
    uint64_t bad_index, bad_mine, bad_majority;
    char why[200];              /* the CORRUPT reason while damaged or unverified */
    uint64_t transfer_at;       /* loop ms of the last handover attempt (damaged leader) */
    bool transferring;
    /* the leader's view: members whose digest differed from the majority */
    struct check_round round;
    unsigned ncorrupt;
    uint64_t corrupt[CHECK_MAX_MEMBERS];
    uint64_t corrupt_index;
    /* counters (INFO, /metrics) */
    uint64_t rounds;            /* rounds proposed by this node as leader */
    uint64_t walks;             /* digests taken here */
    uint64_t mismatches;        /* times this replica was found to differ */
    uint64_t repairs;
    uint64_t repair_failures;
    struct repair *repair;      /* the repair under way (repair.c), or NULL */
    uint64_t repair_next_ms;    /* loop ms of the next attempt */
    unsigned repair_backoff_ms;
};

/* Allocate srv->cons (KEEL_ENOMEM) / hook into the node / unhook (and end a
 * repair under way) / free. */
int consistency_create(struct keel_server *srv);
void consistency_start(struct keel_server *srv);
void consistency_stop(struct keel_server *srv);
void consistency_free(struct keel_server *srv);
/* The server's timer: propose rounds, hand over or repair when damaged. */
void consistency_tick(struct keel_server *srv);
/* Before answering s from this node's state: true, with the error written
 * into s->out, if the state is known bad (see above). */
bool consistency_refuses(struct slot *s);
/* This replica's state is known bad (reads refused). */
bool consistency_damaged(const struct keel_server *srv);
/* INFO's "# Consistency" section. */
void consistency_info(struct keel_server *srv, struct buf *b);

/* ---- shared by consistency*.c and repair.c ---- */

static inline void check_hex16(uint64_t d, char out[17])
{
    static const char x[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, d >>= 4) out[i] = x[d & 15];
    out[16] = 0;
}

/* consistency.c: this replica differs from the majority at index; the
 * CORRUPT alarm brought in line with this replica's state and (leader) the
 * members found different. */
void consistency_mark_damaged(struct keel_server *srv, uint64_t index, uint64_t mine, uint64_t majority);
void consistency_update_alarm(struct keel_server *srv);
/* consistency_round.c: propose a round (verdict false) or a verdict; a
 * member's digest for the round at index (the leader); send this
 * follower's digest to the leader. */
void consistency_propose(struct keel_server *srv, bool verdict, uint64_t index, uint64_t digest);
void consistency_round_record(struct keel_server *srv, uint64_t id, uint64_t index, uint64_t digest);
void consistency_report(struct keel_server *srv, uint64_t index, uint64_t digest);

/* repair.c: called from the tick while damaged; cancel on stop. */
void srv_repair_tick(struct keel_server *srv);
void srv_repair_cancel(struct keel_server *srv);
/* consistency.c, for repair.c: the install succeeded (summary) or failed. */
void consistency_repaired(struct keel_server *srv, const char *summary);
void consistency_repair_failed(struct keel_server *srv, const char *why);

#endif /* KEEL_API_CONSISTENCY_H */
