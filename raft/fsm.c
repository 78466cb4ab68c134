/* raft: the raft_fsm adaptor: apply, and the adaptor's lifetime. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "raft/fsm.h"
#include "raft/propose.h"

static int apply(struct keel_fsm *f, const struct raft_buffer *buf, void **result)
{
    uint64_t index = raft_last_applied(f->raft) + 1;
    struct keel_proposal *p = propose_waiting(f, index);
    struct keel_reply *reply = p != NULL ? &p->reply : &f->scratch;
    *result = p;
    if (f->fatal) return RAFT_IOERR;
    if (f->journal != NULL) fsm_journal_add(f, index, buf->base, buf->len);
    /* Timed here, around the store: apply itself reads no clock. */
    uint64_t t0 = uv_hrtime();
    int rc = keel_store_apply(f->store, index, buf->base, buf->len, reply);
    keel_hist_observe(&f->stats.apply, uv_hrtime() - t0);
    if (rc != 0) {
        /* Local and unrecoverable (disk, memory): stop applying. raft then
         * marks a follower unavailable; the node's monitor exits so that a
         * supervisor restarts it and replay rebuilds the state. */
        f->fatal = rc;
        snprintf(f->errmsg, sizeof f->errmsg, "fsm: %s", keel_store_errmsg(f->store));
        return RAFT_IOERR;
    }
    const struct keel_events *ev = keel_store_events(f->store);
    if (f->clock != NULL && ev->index != 0)
        keel_clock_observe(f->clock, keel_store_last_ts(f->store), keel_clock_mono_us());
    if (f->on_apply != NULL && ev->index != 0) f->on_apply(f->on_apply_data, ev);
    const struct keel_check_note *note = keel_store_check_note(f->store);
    if (f->on_check != NULL && note->kind != KEEL_CHECK_NONE) f->on_check(f->on_check_data, note);
    return 0;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct keel_fsm *f = fsm->data;
    keel_defer_enter(&f->defer);
    int rc = apply(f, buf, result);
    keel_defer_leave(&f->defer);
    return rc;
}

int keel_fsm_init(struct keel_fsm *f, struct keel_store *store, bool async)
{
    memset(f, 0, sizeof *f);
    keel_defer_init(&f->defer);
    f->store = store;
    f->async = async;
    keel_reply_init(&f->scratch);
    f->snap.fd = -1;
    /* Version 3 even when synchronous: snapshot_async NULL makes raft take
     * the synchronous path, and finalize is called either way. */
    f->fsm.version = 3;
    f->fsm.data = f;
    f->fsm.apply = fsm_apply;
    f->fsm.snapshot = fsm_snapshot;
    f->fsm.restore = fsm_restore;
    f->fsm.snapshot_finalize = fsm_snapshot_finalize;
    f->fsm.snapshot_async = NULL;
    return 0;
}

void keel_fsm_attach(struct keel_fsm *f, struct raft *r)
{
    f->raft = r;
}

void keel_fsm_enable_async(struct keel_fsm *f)
{
    if (f->async) f->fsm.snapshot_async = fsm_snapshot_async;
}

void keel_fsm_close(struct keel_fsm *f)
{
    fsm_journal_free(f);
    keel_snapshot_release(&f->snap);
    keel_reply_close(&f->scratch);
}
