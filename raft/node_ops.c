/* raft: a node's writes, linearizable reads and leadership transfer
 * (membership changes: membership.c).
 *
 * Every raft callback here only records its outcome and queues a completion
 * (raft/defer.h); the completion runs on the next loop turn, outside raft,
 * and only there may the layers above be called back or raft be called
 * again (the next barrier). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "raft/node_internal.h"

#define CONTAINER(ptr, type, field) ((type *)((char *)(ptr) - offsetof(type, field)))

/* ---- writes ------------------------------------------------------------ */

struct node_write
{
    struct keel_proposal p;
    struct keel_node *n;
    keel_write_cb cb;
    void *data;
};

static void write_cb(struct keel_proposal *p, int status)
{
    struct node_write *w = p->data;
    w->n->inflight--;
    w->cb(w->data, status, status == 0 ? &p->reply : NULL);
    keel_proposal_close(&w->p);
    free(w);
}

int keel_node_write(struct keel_node *n, const uint8_t *cmd, size_t len, keel_write_cb cb,
                    void *data)
{
    if (n->closing) return KEEL_ESHUTDOWN;
    struct node_write *w = malloc(sizeof *w);
    if (w == NULL) return KEEL_ENOMEM;
    keel_proposal_init(&w->p);
    w->p.data = w;
    w->n = n;
    w->cb = cb;
    w->data = data;
    int rc = keel_propose(&n->fsm, &w->p, cmd, len, write_cb);
    if (rc != 0) {
        keel_proposal_close(&w->p);
        free(w);
        return rc;
    }
    n->inflight++;
    return 0;
}

/* ---- linearizable reads ------------------------------------------------ */

static void barrier_cb(struct raft_barrier *req, int status);

/* Cover everything waiting with a new barrier, if none is in flight. */
static void issue_barrier(struct keel_node *n)
{
    if (n->barrier_busy || n->waiting == NULL || n->closing) return;
    n->covered = n->waiting;
    n->waiting = NULL;
    n->waiting_tail = &n->waiting;
    n->barrier.data = n;
    KEEL_DEFER_OUTSIDE(&n->fsm.defer);
    int rc = raft_barrier(&n->raft, &n->barrier, barrier_cb);
    if (rc != 0) {
        node_reads_fail(n, KEEL_ENOTLEADER);
        return;
    }
    n->barrier_busy = true;
}

static void answer(struct node_read *list, int status)
{
    while (list != NULL) {
        struct node_read *r = list;
        list = r->next;
        r->cb(r->data, status);
        free(r);
    }
}

static void barrier_deliver(struct keel_deferred *d)
{
    struct keel_node *n = CONTAINER(d, struct keel_node, barrier_done);
    struct node_read *done = n->covered;
    bool ok = n->barrier_status == 0;
    n->covered = NULL;
    n->barrier_busy = false;
    /* The store only moved forward since the barrier applied: answering
     * now is as linearizable as answering then. */
    answer(done, n->barrier_status);
    /* Reads that came after this barrier was issued need one of their own;
     * if this node leads now (even in a later term than the failed
     * barrier's), they get it. */
    if (ok || raft_state(&n->raft) == RAFT_LEADER) {
        issue_barrier(n);
    } else {
        answer(n->waiting, KEEL_ENOTLEADER);
        n->waiting = NULL;
        n->waiting_tail = &n->waiting;
    }
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct keel_node *n = req->data;
    keel_defer_enter(&n->fsm.defer);
    /* Applied in this leader's term: everything committed before any of
     * these reads arrived is in the store now. (During a step-down raft
     * fails the barrier while raft_state still says leader: status tells.) */
    n->barrier_status = status == 0 && raft_state(&n->raft) == RAFT_LEADER ? 0 : KEEL_ENOTLEADER;
    keel_defer_push(&n->fsm.defer, &n->barrier_done, barrier_deliver);
    keel_defer_leave(&n->fsm.defer);
}

void node_reads_fail(struct keel_node *n, int status)
{
    /* The barrier in flight (if any) still completes; its list is detached
     * here so that each read is answered exactly once. */
    answer(n->covered, status);
    n->covered = NULL;
    answer(n->waiting, status);
    n->waiting = NULL;
    n->waiting_tail = &n->waiting;
}

static void ready_cb(void *data, int status)
{
    struct keel_node *n = data;
    if (status != 0 || n->role != KEEL_ROLE_LEADER) return;
    n->ready = true;
    if (n->role_cb != NULL) n->role_cb(n->role_data, KEEL_ROLE_LEADER, true);
}

void node_became_leader(struct keel_node *n)
{
    /* raft 0.15 appends no entry of the new term on election: a barrier
     * does, and once it applies every earlier entry is committed. */
    keel_node_read(n, ready_cb, n);
}

int keel_node_read(struct keel_node *n, keel_read_cb cb, void *data)
{
    if (n->closing) return KEEL_ESHUTDOWN;
    if (raft_state(&n->raft) != RAFT_LEADER) return KEEL_ENOTLEADER;
    struct node_read *r = malloc(sizeof *r);
    if (r == NULL) return KEEL_ENOMEM;
    r->cb = cb;
    r->data = data;
    r->next = NULL;
    *n->waiting_tail = r;
    n->waiting_tail = &r->next;
    issue_barrier(n);
    return 0;
}

/* ---- leadership transfer ----------------------------------------------- */

static void transfer_deliver(struct keel_deferred *d)
{
    struct keel_node *n = CONTAINER(d, struct keel_node, transfer_done);
    raft_id id;
    const char *addr;
    raft_leader(&n->raft, &id, &addr);
    keel_transfer_cb cb = n->transfer_cb;
    n->transfer_cb = NULL; /* the slot is free again */
    n->transferring = false;
    if (cb != NULL) cb(n->transfer_data, id);
}

/* Inside raft: the new leader was seen, the transfer timed out, or raft_close
 * cancelled it. The leader is looked up when the completion runs. */
static void transfer_cb(struct raft_transfer *req)
{
    struct keel_node *n = req->data;
    keel_defer_enter(&n->fsm.defer);
    keel_defer_push(&n->fsm.defer, &n->transfer_done, transfer_deliver);
    keel_defer_leave(&n->fsm.defer);
}

int keel_node_transfer(struct keel_node *n, uint64_t to, keel_transfer_cb cb, void *data)
{
    if (n->transferring) return KEEL_EBUSY; /* one raft_transfer request at a time */
    if (n->closing) return KEEL_ESHUTDOWN;
    n->transfer.data = n;
    KEEL_DEFER_OUTSIDE(&n->fsm.defer);
    int rc = raft_transfer(&n->raft, &n->transfer, to, transfer_cb);
    if (rc == RAFT_NOTLEADER) return KEEL_ENOTLEADER;
    if (rc == RAFT_NOTFOUND || rc == RAFT_BADID) return KEEL_ENOTFOUND;
    if (rc != 0) return KEEL_EBUSY;
    n->transferring = true;
    n->transfer_cb = cb;
    n->transfer_data = data;
    return 0;
}

void keel_node_isolate(struct keel_node *n, unsigned ms)
{
    keel_transport_isolate(&n->transport, ms);
}

bool keel_node_member_tls(struct keel_node *n)
{
    return n->member_tls;
}

void keel_node_member_accept(struct keel_node *n, void (*cb)(void *data, uint64_t peer_id, int fd), void *data)
{
    keel_transport_member_accept(&n->transport, cb, data);
}

int keel_node_member_dial(struct keel_node *n, uint64_t id, const char *address,
                          void (*cb)(void *data, int status, uint64_t peer_id, int fd), void *data)
{
    if (!n->member_tls) return KEEL_EINVAL;
    int rc = keel_transport_member_dial(&n->transport, id, address, cb, data);
    return rc == 0 ? 0 : rc == RAFT_NOCONNECTION || rc == RAFT_INVALID ? KEEL_EINVAL : KEEL_EIO;
}
