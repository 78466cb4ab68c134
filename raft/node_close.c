/* raft: closing a node (the waits raft 0.15 needs before raft_close, the
 * close itself, releasing storage once every completion is delivered, and
 * what a close still waits for), and the loop handles that deliver raft's
 * completions outside raft (raft/defer.h). */
#include <stdio.h>
#include <stdlib.h>

#include "raft/busy.h"
#include "raft/node_internal.h"
#include "raft/transport.h"

/* ---- delivering raft's completions (raft/defer.h) ---------------------- */

static void wake_cb(uv_idle_t *h)
{
    (void)h; /* only there to keep poll from blocking */
}

/* A completion was queued (inside raft): make sure this loop turn does not
 * block in poll before the check handle delivers it. */
static void defer_kick(void *data)
{
    struct keel_node *n = data;
    if (n->handles_open == 3) uv_idle_start(&n->wake, wake_cb);
}

static void node_release(struct keel_node *n);

/* After poll, every loop turn: deliver what raft completed, outside raft. */
static void deliver_cb(uv_check_t *h)
{
    struct keel_node *n = h->data;
    keel_defer_run(&n->fsm.defer);
    uv_idle_stop(&n->wake);
    if (n->raft_closed && keel_defer_empty(&n->fsm.defer)) node_release(n);
}

void node_deliver_init(struct keel_node *n)
{
    uv_check_init(n->loop, &n->deliver);
    n->deliver.data = n;
    uv_idle_init(n->loop, &n->wake);
    n->wake.data = n;
    n->handles_open = 3;
    n->fsm.defer.kick = defer_kick;
    n->fsm.defer.kick_data = n;
    uv_check_start(&n->deliver, deliver_cb);
}

/* ---- closing ----------------------------------------------------------- */

static void handle_closed_cb(uv_handle_t *h)
{
    struct keel_node *n = h->data;
    if (--n->handles_open > 0) return;
    keel_node_close_cb cb = n->close_cb;
    void *data = n->close_data;
    free(n);
    if (cb != NULL) cb(data);
}

/* raft 0.15: the jepsen smoke run once caught (ASan) a pool thread reading
 * raft_uv's struct after close had freed it, on a node stopped half a
 * second after a restart. Reading raft's source, the likely path is a log
 * truncation (a follower dropping entries a new leader overwrote) still
 * running on the pool at close: uvBarrierClose fires the truncation's
 * barrier a second time, which frees the request and lets the close
 * complete under the running work. Not reproduced on demand; a truncation
 * takes milliseconds, so a close that comes right after one waits that
 * long first, which closes the window if that is the path. */
#define TRUNCATE_GRACE_MS 500

int node_truncate(struct raft_io *io, raft_index index)
{
    struct keel_node *n = (struct keel_node *)((char *)io - offsetof(struct keel_node, io));
    n->last_truncate = uv_now(n->loop) | 1; /* never 0 once one happened */
    keel_defer_enter(&n->fsm.defer); /* raft called us */
    int rc = n->uv_truncate(io, index);
    keel_defer_leave(&n->fsm.defer);
    return rc;
}

static void node_raft_close_cb(struct raft *r);

static void close_delay_closed_cb(uv_handle_t *h)
{
    free(h);
}

/* raft 0.15: an append still pending when raft_close runs is cancelled
 * inside it, and the leader's append callback then looks its request up in
 * a registry raft_close has already cleared (a use-after-free that crashed
 * 1 in ~60 shutdowns under write load). So the close first waits, bounded,
 * for the appends in flight to be called back (no new ones come: the
 * server stopped first). */
#define APPENDS_GRACE_MS 2000

static bool close_must_wait(struct keel_node *n)
{
    uint64_t now = uv_now(n->loop);
    if (n->guard != NULL) return true; /* its callback touches n (node_guard.c) */
    if (n->last_truncate != 0 && now - n->last_truncate < TRUNCATE_GRACE_MS) return true;
    return n->appends_inflight > 0 && now - n->close_started < APPENDS_GRACE_MS;
}

static void close_delay_cb(uv_timer_t *t)
{
    struct keel_node *n = t->data;
    if (close_must_wait(n)) {
        uv_timer_start(t, close_delay_cb, 5, 0);
        return;
    }
    uv_close((uv_handle_t *)t, close_delay_closed_cb);
    KEEL_DEFER_OUTSIDE(&n->fsm.defer);
    n->raft_closing = true;
    raft_close(&n->raft, node_raft_close_cb);
}

/* Inside raft (possibly inside raft_close itself): the completions raft_close
 * fired are still queued, and their callbacks may touch the store; release
 * everything on the next loop turn, after they are delivered. */
static void node_raft_close_cb(struct raft *r)
{
    struct keel_node *n = (struct keel_node *)((char *)r - offsetof(struct keel_node, raft));
    keel_defer_enter(&n->fsm.defer);
    n->raft_closed = true;
    defer_kick(n);
    keel_defer_leave(&n->fsm.defer);
}

/* raft is closed and every completion delivered (deliver_cb). */
static void node_release(struct keel_node *n)
{
    if (n->handles_open < 3) return; /* already releasing */
    node_membership_close(n); /* its raft completions are delivered: answers what is left */
    raft_uv_close(&n->io);
    node_appends_release(n);
    keel_transport_release(&n->transport);
    keel_fsm_close(&n->fsm);
    keel_store_destroy(n->store);
    n->store = NULL;
    /* Clean only if apply never hit a fatal error. The sync writes back
     * every page NOSYNC left dirty, and a backup copy still running on the
     * pool holds the env: both can take a while on a big database. */
    const char *busy = keel_busy_begin("syncing and closing LMDB (or waiting for a backup copy holding it)");
    keel_storage_close(n->storage, keel_fsm_fatal(&n->fsm) == 0);
    keel_busy_end(busy);
    n->storage = NULL;
    uv_close((uv_handle_t *)&n->monitor, handle_closed_cb);
    uv_close((uv_handle_t *)&n->deliver, handle_closed_cb);
    uv_close((uv_handle_t *)&n->wake, handle_closed_cb);
}

void keel_node_close(struct keel_node *n, keel_node_close_cb cb, void *data)
{
    n->close_cb = cb;
    n->close_data = data;
    n->closing = true;
    uv_prepare_stop(&n->monitor);
    node_reads_fail(n, KEEL_ESHUTDOWN);
    node_guard_cancel(n);
    /* Pending writes get RAFT_LEADERSHIPLOST from raft_close: uncertain. */
    n->close_started = uv_now(n->loop);
    /* A node that is leaving takes no more raft traffic: a follower under
     * write load is sent new entries all the time, so without this there
     * is nearly always an append in flight and the wait below would run
     * its whole bound on every stop. The peers see this node go away, as
     * they will in a moment anyway. */
    if (n->raft_inited) keel_transport_isolate(&n->transport, 24u * 3600 * 1000);
    if (close_must_wait(n)) {
        uv_timer_t *t = malloc(sizeof *t);
        if (t != NULL && uv_timer_init(n->loop, t) == 0) {
            t->data = n;
            uv_timer_start(t, close_delay_cb, 5, 0);
            return;
        }
        free(t);
    }
    KEEL_DEFER_OUTSIDE(&n->fsm.defer);
    n->raft_closing = true;
    raft_close(&n->raft, node_raft_close_cb);
}

size_t keel_node_close_report(struct keel_node *n, char *buf, size_t size)
{
    size_t len = 0;
    uint64_t now = uv_now(n->loop);
#define SAY(...)                                                                       \
    do {                                                                               \
        if (len < size)                                                                \
            len += (size_t)snprintf(buf + len, size - len, "%s", len ? "; " : "");     \
        if (len < size) len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__); \
    } while (0)
    if (size > 0) buf[0] = 0;
    if (n->transferring) SAY("a leadership transfer");
    if (n->appends_inflight > 0) SAY("%u raft log append(s) in flight", n->appends_inflight);
    if (n->last_truncate != 0 && now - n->last_truncate < TRUNCATE_GRACE_MS)
        SAY("a log truncation %llu ms ago", (unsigned long long)(now - n->last_truncate));
    if (n->fsm.snap_busy) SAY("a snapshot being copied or written");
    if (n->guard != NULL) SAY("the check of a leader's snapshot on the pool");
    if (n->closing && !n->raft_closing) SAY("raft_close not started (waits for the above)");
    if (n->raft_closing && !n->raft_closed)
        SAY("raft closing (its disk writes, snapshot writes or loads and pool work)");
    if (!keel_defer_empty(&n->fsm.defer)) SAY("%u completion(s) to deliver", n->fsm.defer.queued);
    if (n->raft_closed && n->handles_open > 0) SAY("LMDB sync and close, handles closing");
#undef SAY
    return len < size ? len : size - 1;
}
