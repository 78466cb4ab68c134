/* raft: proposing commands and getting their replies back, on the leader.
 *
 * The commit contract: a proposal's callback fires once, on the loop thread,
 * after the entry is committed by a majority and applied locally (status 0,
 * reply in p->reply), or when its outcome became unknown (KEEL_EUNCERTAIN:
 * leadership was lost or the local disk write failed; the entry may still
 * commit under the next leader, so a retry must carry the same client id and
 * sequence for the dedupe table to catch it).
 *
 * The callback never runs inside raft (raft/defer.h): raft's completion is
 * queued and delivered from outside raft's stack (the node's loop turn, or
 * the fixture harness's keel_defer_run), in the order raft completed the
 * proposals (index order), so it may propose again at once. */
#ifndef KEEL_RAFT_PROPOSE_H
#define KEEL_RAFT_PROPOSE_H

#include "raft/fsm.h"

typedef void (*keel_proposal_cb)(struct keel_proposal *p, int status);

struct keel_proposal
{
    void *data;                /* the caller's */
    struct keel_reply reply;   /* valid in the callback when status is 0 */
    int raft_status;           /* raft's status code, for logs */
    uint64_t index;            /* the entry's index, once proposed */
    /* private */
    struct raft_apply req;
    struct keel_deferred done; /* the completion, queued on fsm->defer */
    int status;                /* for the callback */
    keel_proposal_cb cb;
    struct keel_fsm *fsm;
    struct keel_proposal *prev;
    struct keel_proposal *next;
};

/* Initialise p once; it may then be proposed many times (one at a time). */
void keel_proposal_init(struct keel_proposal *p);
/* Free p's reply buffer. Not while proposed. */
void keel_proposal_close(struct keel_proposal *p);

/* Propose the encoded command (copied; the caller keeps cmd). Returns 0 and
 * the callback fires later; or, with the callback never called: KEEL_ENOTLEADER
 * (not the leader, or a transfer is running), KEEL_EINVAL (length not a
 * multiple of 8), KEEL_ENOMEM, KEEL_EIO. */
int keel_propose(struct keel_fsm *f, struct keel_proposal *p, const uint8_t *cmd, size_t len,
                 keel_proposal_cb cb);

/* Internal to raft/: the proposal waiting for `index`, or NULL. */
struct keel_proposal *propose_waiting(struct keel_fsm *f, uint64_t index);

#endif /* KEEL_RAFT_PROPOSE_H */
