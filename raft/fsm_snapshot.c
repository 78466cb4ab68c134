/* raft: taking snapshots (LMDB images) and restoring from them. */
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <uv.h>

#include "raft/busy.h"
#include "raft/fsm.h"

/* Hand the image to raft as two buffers that point into f->snap: they stay
 * valid until finalize, so raft never owns them. */
static int fill_bufs(struct keel_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    *bufs = raft_malloc(2 * sizeof **bufs);
    if (*bufs == NULL) return RAFT_NOMEM;
    (*bufs)[0].base = f->snap.header;
    (*bufs)[0].len = KEEL_SNAPSHOT_HEADER;
    (*bufs)[1].base = f->snap.data;
    (*bufs)[1].len = f->snap.data_len;
    *n_bufs = 2;
    return 0;
}

static int take(struct keel_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    int rc = keel_storage_snapshot_create(keel_store_storage(f->store), &f->snap, errmsg);
    if (rc != 0) {
        /* Reported through stats; raft retries at the next threshold. */
        snprintf(f->errmsg, sizeof f->errmsg, "fsm: snapshot: %s", errmsg);
        return RAFT_IOERR;
    }
    return fill_bufs(f, bufs, n_bufs);
}

static int snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct keel_fsm *f = fsm->data;
    /* A damaged env (it failed the consistency check) is not made a raft
     * snapshot: a restart would restore the damage, a leader would send it.
     * Skipped until the repair installed the leader's image. */
    if (f->snap_busy || f->fatal || f->damaged) return RAFT_BUSY;
    *bufs = NULL;
    *n_bufs = 0;
    f->snap_started = uv_hrtime();
    if (fsm->snapshot_async != NULL) {
        f->snap_busy = true; /* the copy happens in fsm_snapshot_async */
        return 0;
    }
    const char *busy = keel_busy_begin("copying a snapshot on the event loop (--sync-snapshots)");
    int rc = take(f, bufs, n_bufs);
    keel_busy_end(busy);
    if (rc != 0) {
        f->stats.snapshot_errors++;
        keel_snapshot_release(&f->snap);
        /* Not RAFT_BUSY: raft would retry at once. An error skips this round;
         * on a follower it would make the node unavailable, so report busy
         * and count the error instead. */
        return RAFT_BUSY;
    }
    f->snap_busy = true;
    return 0;
}

int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    /* On a libuv pool thread: touches only f->snap and the storage's
     * thread-safe copy path. */
    return take(fsm->data, bufs, n_bufs);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct keel_fsm *f = fsm->data;
    if (*bufs != NULL) {
        f->stats.snapshots++;
        f->stats.snapshot_bytes = f->snap.data_len + KEEL_SNAPSHOT_HEADER;
        f->stats.snapshot_at_ms = wall_ms(); /* for operators (snapshot age), never for state */
        f->stats.snapshot_ns = uv_hrtime() - f->snap_started;
        raft_free(*bufs);
    } else if (fsm->snapshot_async != NULL) {
        f->stats.snapshot_errors++;
    }
    *bufs = NULL;
    *n_bufs = 0;
    keel_snapshot_release(&f->snap);
    f->snap_busy = false;
    return 0;
}

/* Restore runs synchronously on the loop in raft 0.15 (at raft_start for the
 * local snapshot, and after an install). The image check (storage/image.h)
 * it needs costs about a full read of the image on top of the write: at
 * start that delays the node's start; an installed image was checked on the
 * pool before raft saw it (node_guard.c), so only the write is left here.
 * A refused image leaves the env as it was and fails the restore: at start
 * keel_node_start reports it; after an install the guard makes that
 * impossible short of a bug (raft would then drop the snapshot). */
static int restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct keel_fsm *f = fsm->data;
    char errmsg[KEEL_ERRMSG_SIZE];
    bool replaced;
    uint64_t t0 = uv_hrtime();
    /* raft's last applied jumps to the snapshot's index: entries it skips
     * are not journaled, so a repair under way cannot replay past them. */
    fsm_journal_break(f, "raft installed a snapshot during the transfer");
    const struct keel_image_report *checked = NULL;
    if (f->checked.base == buf->base && f->checked.len == buf->len && buf->base != NULL)
        checked = &f->checked.rep;
    const char *busy = keel_busy_begin("installing a snapshot image into LMDB");
    int rc = keel_storage_restore(keel_store_storage(f->store), buf->base, buf->len, checked,
                                  &replaced, errmsg);
    keel_busy_end(busy);
    f->checked.base = NULL;
    if (rc != 0) {
        snprintf(f->errmsg, sizeof f->errmsg, "fsm: restore: %s", errmsg);
        if (rc == KEEL_EFATAL) f->fatal = rc;
        return rc == KEEL_ECORRUPT || rc == KEEL_EVERSION ? RAFT_CORRUPT : RAFT_IOERR;
    }
    f->stats.snapshot_at_ms = wall_ms();
    f->stats.restore_ns = uv_hrtime() - t0;
    if (replaced) f->stats.restores++;
    else f->stats.restores_kept++;
    raft_free(buf->base); /* ours on success */
    int64_t clock;
    if (f->clock != NULL && keel_store_clock(f->store, &clock) == 0)
        keel_clock_observe(f->clock, clock, keel_clock_mono_us());
    return 0;
}

/* What raft calls, on the loop: inside raft, so bracketed (raft/defer.h). */

int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct keel_fsm *f = fsm->data;
    keel_defer_enter(&f->defer);
    int rc = snapshot(fsm, bufs, n_bufs);
    keel_defer_leave(&f->defer);
    return rc;
}

int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct keel_fsm *f = fsm->data;
    keel_defer_enter(&f->defer);
    int rc = snapshot_finalize(fsm, bufs, n_bufs);
    keel_defer_leave(&f->defer);
    return rc;
}

int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct keel_fsm *f = fsm->data;
    keel_defer_enter(&f->defer);
    int rc = restore(fsm, buf);
    keel_defer_leave(&f->defer);
    return rc;
}
