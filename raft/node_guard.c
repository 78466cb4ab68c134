/* raft: a snapshot from the leader is checked before raft sees it.
 *
 * Why not in snapshot_put or restore: raft 0.15's follower
 * (src/replication.c, replicationInstallSnapshot) resets its in-memory log
 * to the snapshot's index (logRestore) *before* it asks the io to persist
 * the snapshot, and undoes nothing when the put or the restore fails
 * (installSnapshotCb only frees the data and answers "rejected"). The
 * leader's next InstallSnapshot for that index is then a no-op ("have more
 * recent snapshot"): the follower answers that it has it, the leader sends
 * the entries after it, and replicationApply stalls for good on entries
 * the log no longer holds, while the state machine still holds the old
 * state. A failed restore is worse: the snapshot is on disk and every log
 * segment deleted, so each restart fails again. So a bad image must never
 * reach raft at all.
 *
 * raft_io.start is wrapped (as append and truncate are, node.c) so that
 * every message passes here first. An InstallSnapshot raft would act on is
 * held while keel_image_check (storage/image.h) runs on the libuv pool; a
 * good image then goes to raft as if it had just arrived (raft takes any
 * delay: the term and index checks it runs on arrival run then), and
 * fsm_restore skips checking those same bytes again. A bad one is dropped as
 * if lost: the follower keeps its log and state, keeps serving stale reads,
 * and the leader sends a snapshot again after install_snapshot_timeout.
 * One check runs at a time: an InstallSnapshot arriving meanwhile is dropped
 * (the leader retries), and an image already refused is refused again at
 * once by its header, without a second walk. Loop thread, but the check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/node_internal.h"
#include "storage/image.h"

/* Repeated refusals of one image are reported at most this often. */
#define REFUSED_REPORT_MS 60000

struct node_guard
{
    uv_work_t work;
    struct keel_node *n;
    struct raft_message msg; /* held: its data and configuration are ours */
    char *address;
    int rc;
    struct keel_image_report rep;
    char errmsg[KEEL_ERRMSG_SIZE];
};

static void drop(struct raft_message *m)
{
    raft_configuration_close(&m->install_snapshot.conf);
    raft_free(m->install_snapshot.data.base);
    m->install_snapshot.data.base = NULL;
}

/* Whether raft would read the image at all; if not, it may pass at once
 * (recvInstallSnapshot: a stale term is rejected, an index at or below the
 * local snapshot is a no-op). */
static bool raft_would_install(const struct keel_node *n, const struct raft_install_snapshot *a)
{
    return a->term >= n->raft.current_term && a->last_index > n->raft.log.snapshot.last_index;
}

/* The header fields that identify an image: its data checksum and length. */
static bool same_image(const struct keel_node *n, const struct raft_buffer *b)
{
    if (b->len < KEEL_SNAPSHOT_HEADER || n->refused.len != b->len) return false;
    return memcmp(n->refused.header, b->base, KEEL_SNAPSHOT_HEADER) == 0;
}

static void report(struct keel_node *n, const struct raft_message *m, const char *why, bool repeat)
{
    uint64_t now = uv_now(n->loop);
    if (repeat && now - n->refused.reported_ms < REFUSED_REPORT_MS) return;
    n->refused.reported_ms = now;
    if (n->refused_cb == NULL) return;
    struct keel_snapshot_refusal r = {
        .leader_id = m->server_id,
        .leader_address = m->server_address,
        .index = m->install_snapshot.last_index,
        .term = m->install_snapshot.last_term,
        .applied = raft_last_applied(&n->raft),
        .why = why,
        .repeat = repeat,
        .retry_ms = n->raft.install_snapshot_timeout,
    };
    n->refused_cb(n->refused_data, &r);
}

static void guard_work_cb(uv_work_t *w)
{
    struct node_guard *g = w->data;
    const struct raft_buffer *b = &g->msg.install_snapshot.data;
    g->rc = keel_image_check(b->base, b->len, 0, &g->rep, g->errmsg);
}

static void guard_done_cb(uv_work_t *w, int status)
{
    struct node_guard *g = w->data;
    struct keel_node *n = g->n;
    n->guard = NULL;
    if (status != 0 || n->closing || raft_state(&n->raft) == RAFT_UNAVAILABLE) {
        drop(&g->msg);
    } else if (g->rc == 0) {
        n->fsm.checked.base = g->msg.install_snapshot.data.base;
        n->fsm.checked.len = g->msg.install_snapshot.data.len;
        n->fsm.checked.rep = g->rep;
        keel_defer_enter(&n->fsm.defer); /* what raft does with it runs inside raft */
        n->raft_recv(&n->io, &g->msg); /* raft owns data and configuration now */
        keel_defer_leave(&n->fsm.defer);
    } else {
        n->snapshots_refused++;
        const struct raft_buffer *b = &g->msg.install_snapshot.data;
        /* Remembered only when the image itself is bad: a check that could
         * not run (no memory, no helper) is tried again on the next send. */
        if ((g->rc == KEEL_ECORRUPT || g->rc == KEEL_EVERSION) && b->len >= KEEL_SNAPSHOT_HEADER) {
            memcpy(n->refused.header, b->base, KEEL_SNAPSHOT_HEADER);
            n->refused.len = b->len;
            snprintf(n->refused.why, sizeof n->refused.why, "%s", g->errmsg);
        }
        report(n, &g->msg, g->errmsg, false);
        drop(&g->msg);
    }
    free(g->address);
    free(g);
}

static void guard_recv(struct keel_node *n, struct raft_io *io, struct raft_message *m);

/* raft_uv calls this for every message, and it hands over to raft: inside
 * raft either way (raft/defer.h). */
static void guard_recv_cb(struct raft_io *io, struct raft_message *m)
{
    struct keel_node *n = (struct keel_node *)((char *)io - offsetof(struct keel_node, io));
    keel_defer_enter(&n->fsm.defer);
    guard_recv(n, io, m);
    keel_defer_leave(&n->fsm.defer);
}

static void guard_recv(struct keel_node *n, struct raft_io *io, struct raft_message *m)
{
    if (m->type != RAFT_IO_INSTALL_SNAPSHOT || !raft_would_install(n, &m->install_snapshot)) {
        n->raft_recv(io, m);
        return;
    }
    if (same_image(n, &m->install_snapshot.data)) {
        n->snapshots_refused++;
        report(n, m, n->refused.why, true);
        drop(m);
        return;
    }
    struct node_guard *g = n->guard == NULL && !n->closing ? calloc(1, sizeof *g) : NULL;
    char *address = g != NULL ? strdup(m->server_address) : NULL;
    if (address == NULL) {
        /* A check is running (or no memory): as if lost, the leader resends. */
        free(g);
        drop(m);
        return;
    }
    g->n = n;
    g->msg = *m;
    g->msg.server_address = g->address = address;
    g->work.data = g;
    if (uv_queue_work(n->loop, &g->work, guard_work_cb, guard_done_cb) != 0) {
        drop(&g->msg);
        free(address);
        free(g);
        return;
    }
    n->guard = g;
}

int node_guard_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct keel_node *n = (struct keel_node *)((char *)io - offsetof(struct keel_node, io));
    n->raft_recv = recv;
    return n->uv_start(io, msecs, tick, guard_recv_cb);
}

void node_guard_cancel(struct keel_node *n)
{
    /* Not started yet: its callback comes with UV_ECANCELED. Running: the
     * close waits for it (close_must_wait), bounded by the check's timeout. */
    if (n->guard != NULL) uv_cancel((uv_req_t *)&n->guard->work);
}

void keel_node_on_snapshot_refused(struct keel_node *n, keel_refused_cb cb, void *data)
{
    n->refused_cb = cb;
    n->refused_data = data;
}
