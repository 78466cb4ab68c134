/* raft: proposals and the table of those waiting for their entry. */
#include <stddef.h>
#include <string.h>

#include "raft/propose.h"

void keel_proposal_init(struct keel_proposal *p)
{
    memset(p, 0, sizeof *p);
    keel_reply_init(&p->reply);
}

void keel_proposal_close(struct keel_proposal *p)
{
    keel_reply_close(&p->reply);
}

static void unlink_proposal(struct keel_fsm *f, struct keel_proposal *p)
{
    if (p->prev) p->prev->next = p->next;
    else f->head = p->next;
    if (p->next) p->next->prev = p->prev;
    else f->tail = p->prev;
    p->prev = p->next = NULL;
}

struct keel_proposal *propose_waiting(struct keel_fsm *f, uint64_t index)
{
    /* Proposals are appended in index order and leave as they are applied
     * (or all at once when leadership is lost), so the head is the only
     * candidate. */
    struct keel_proposal *p = f->head;
    return p != NULL && p->index == index ? p : NULL;
}

static void deliver(struct keel_deferred *d)
{
    struct keel_proposal *p = (struct keel_proposal *)((char *)d - offsetof(struct keel_proposal, done));
    p->cb(p, p->status);
}

/* Inside raft (a commit, or a step-down failing every pending request):
 * settle the bookkeeping now, call back later. */
static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct keel_proposal *p = req->data;
    struct keel_fsm *f = p->fsm;
    keel_defer_enter(&f->defer);
    unlink_proposal(p->fsm, p);
    p->raft_status = status;
    if (status == 0) p->fsm->stats.proposals_committed++;
    else p->fsm->stats.proposals_failed++;
    if (status == 0 && result != p) {
        /* Applied, but not through this proposal's slot: cannot happen in
         * 0.15 (apply runs just before this callback), but never hand out
         * someone else's reply. */
        keel_reply_reset(&p->reply);
        keel_reply_error(&p->reply, KEEL_EREPLYLOST, NULL);
    }
    p->status = status == 0 ? 0 : KEEL_EUNCERTAIN;
    keel_defer_push(&f->defer, &p->done, deliver);
    keel_defer_leave(&f->defer);
}

int keel_propose(struct keel_fsm *f, struct keel_proposal *p, const uint8_t *cmd, size_t len,
                 keel_proposal_cb cb)
{
    struct raft_buffer buf;
    if (len == 0 || len % 8 != 0) return KEEL_EINVAL;
    buf.base = raft_malloc(len);
    if (buf.base == NULL) return KEEL_ENOMEM;
    memcpy(buf.base, cmd, len);
    buf.len = len;
    p->fsm = f;
    p->cb = cb;
    p->req.data = p;
    keel_reply_reset(&p->reply);
    KEEL_DEFER_OUTSIDE(&f->defer);
    int rc = raft_apply(f->raft, &p->req, &buf, 1, apply_cb);
    if (rc != 0) {
        raft_free(buf.base); /* still ours when raft_apply fails */
        return rc == RAFT_NOTLEADER ? KEEL_ENOTLEADER
               : rc == RAFT_NOMEM   ? KEEL_ENOMEM
               : rc == RAFT_NOSPACE ? KEEL_ENOSPACE
                                    : KEEL_EIO;
    }
    f->stats.proposals++;
    p->index = p->req.index;
    p->prev = f->tail;
    p->next = NULL;
    if (f->tail) f->tail->next = p;
    else f->head = p;
    f->tail = p;
    return 0;
}
