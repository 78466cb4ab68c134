/* raft: the adaptor between canonical raft's struct raft_fsm and a keel_store.
 *
 * Apply: raft 0.15 gives apply no index; inside apply it is
 * raft_last_applied(r) + 1 (replicationApply advances last_applied only after
 * apply returns). The store skips indexes it already holds, so replays after a
 * restart or snapshot install apply nothing twice.
 *
 * Replies: a reply is written into the buffer of the local proposal waiting
 * for that index (see propose.h), or into the adaptor's scratch reply when no
 * one here waits (followers, replays). So nothing is heap-allocated per entry
 * and nothing leaks on followers, where raft drops apply's result.
 *
 * Snapshots are LMDB images (storage/snapshot.h), sent as two buffers (header,
 * data) that stay valid until snapshot_finalize. With async snapshots the copy
 * runs on the libuv pool (raft_fsm version 3); raft 0.15's uv backend needs
 * io.version = 2 for that, and both it and the fixture refuse a version-3 fsm
 * whose snapshot_async is set at init: call keel_fsm_enable_async() after
 * raft_init()/raft_fixture_grow().
 *
 * Re-entrance: apply, snapshot, finalize and restore run inside raft; they
 * (and the on_apply hook they call) must not call raft or anything that
 * does (raft/defer.h, asserted in Debug builds). The adaptor also carries
 * the node's queue of deferred completions, because proposals (propose.h)
 * reach their node only through it.
 *
 * Threading: the loop thread, but for snapshot_async on a pool thread. */
#ifndef KEEL_RAFT_FSM_H
#define KEEL_RAFT_FSM_H

#include <raft.h>

#include "raft/clock.h"
#include "raft/defer.h"
#include "raft/hist.h"
#include "storage/image.h"
#include "store/store.h"

struct keel_proposal;

struct keel_fsm_stats
{
    uint64_t snapshots;      /* images taken */
    uint64_t snapshot_bytes; /* size of the last image */
    uint64_t restores;       /* images installed over the env */
    uint64_t restores_kept;  /* images not newer than the env: kept the env */
    uint64_t snapshot_errors;
    int64_t snapshot_at_ms;  /* wall clock of the last image taken or installed; 0: none yet */
    uint64_t snapshot_ns;    /* how long the last image took, start to finalize */
    uint64_t restore_ns;     /* how long the last install took */
    /* proposals (propose.c): submitted counts those raft accepted */
    uint64_t proposals;
    uint64_t proposals_committed;
    uint64_t proposals_failed; /* refused by raft_apply, or outcome uncertain */
    uint64_t repairs;        /* leader images installed by the repair (repair.c) */
    struct keel_hist apply;  /* time inside keel_store_apply, per entry */
};

struct keel_fsm
{
    struct raft_fsm fsm;        /* give &fsm to raft_init / raft_fixture_grow */
    struct raft *raft;          /* set by keel_fsm_attach() */
    struct keel_store *store;   /* not owned */
    struct keel_reply scratch;
    struct keel_proposal *head; /* waiting proposals, in index order */
    struct keel_proposal *tail;
    struct keel_snapshot snap;  /* the image being taken */
    bool snap_busy;
    uint64_t snap_started;      /* uv_hrtime() when the image began */
    bool async;
    int fatal;                  /* first fatal error: the node must restart */
    struct keel_fsm_stats stats;
    /* The image the node's guard checked and handed to raft (node_guard.c):
     * restore skips checking those same bytes again. */
    struct
    {
        const void *base;
        size_t len;
        struct keel_image_report rep;
    } checked;
    /* Completions to deliver outside raft, and the "inside raft" depth
     * (raft/defer.h): the node drains it each loop turn, the fixture
     * harness between steps. */
    struct keel_defer defer;
    /* Called after each entry applied here (not a skipped replay), with
     * the store's events for it (keel_node_on_apply). Inside raft's apply:
     * it must not call raft, directly or through the node. */
    void (*on_apply)(void *data, const struct keel_events *ev);
    void *on_apply_data;
    /* Called after a HASH CHECK or VERDICT entry applied here
     * (keel_node_on_check). */
    void (*on_check)(void *data, const struct keel_check_note *note);
    void *on_check_data;
    /* The env failed the consistency check: no raft snapshot of it. */
    bool damaged;
    /* Repair (raft/repair.c): every entry applied while it runs. */
    struct fsm_journal *journal;
    /* The node's clock (raft/clock.h), moved on by every entry applied and
     * every image restored. NULL: none (tests). */
    struct keel_clock *clock;
    char errmsg[KEEL_ERRMSG_SIZE];
};

/* Prepare f over store (which must outlive f). async: copy snapshots on the
 * libuv pool. Errors: none yet; returns 0. */
int keel_fsm_init(struct keel_fsm *f, struct keel_store *store, bool async);
/* Tell f which raft it serves, after raft_init (or raft_fixture_grow). */
void keel_fsm_attach(struct keel_fsm *f, struct raft *r);
/* Turn on pool snapshots if init asked for them (see the note above). */
void keel_fsm_enable_async(struct keel_fsm *f);
/* Release f. Call after raft_close's callback (or raft_fixture_close). */
void keel_fsm_close(struct keel_fsm *f);

/* A fatal apply/restore error, or 0: the node must then stop and restart. */
static inline int keel_fsm_fatal(const struct keel_fsm *f)
{
    return f->fatal;
}

/* Internal to raft/: the repair's journal (repair.c): remember entry
 * `index` if a repair is running. */
void fsm_journal_add(struct keel_fsm *f, uint64_t index, const void *buf, size_t len);
void fsm_journal_free(struct keel_fsm *f);
/* The journal no longer covers every entry since the repair began (raft
 * installed a snapshot meanwhile): the repair must start again. */
void fsm_journal_break(struct keel_fsm *f, const char *why);

/* Internal to raft/: snapshot callbacks (fsm_snapshot.c). */
int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs);
int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs);
int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs);
int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf);

#endif /* KEEL_RAFT_FSM_H */
