/* raft: what a node tells its observers: counters and histograms, each
 * peer's replication progress on the leader, raft's tracer, and the timing
 * of raft_uv's log appends. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft/node_internal.h"

#define NODE_OF(field, ptr) \
    ((struct keel_node *)((char *)(ptr) - offsetof(struct keel_node, field)))

/* ---- append timing ----------------------------------------------------- */

/* raft 0.15's tracer only carries text, so the append (write + fsync) time
 * comes from wrapping io->append: raft_uv keeps the callback it is given in
 * req->cb and calls it once the batch is durable. req->data is raft's, and
 * the callback gets only req, so each append in flight is remembered in a
 * list (a handful at a time) that maps req back to its node and start time.
 * One list for the process, under a mutex: tests run several nodes, each on
 * the loop of its own thread. */
struct node_append
{
    struct keel_node *node;
    struct raft_io_append *req;
    raft_io_append_cb cb;
    uint64_t started;
    struct node_append *next;
};

static uv_mutex_t appends_lock;
static uv_once_t appends_once = UV_ONCE_INIT;
static struct node_append *appends;

static void appends_init(void)
{
    uv_mutex_init(&appends_lock);
}

static struct node_append *take_append(struct raft_io_append *req)
{
    struct node_append *a = NULL;
    uv_mutex_lock(&appends_lock);
    for (struct node_append **pp = &appends; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->req == req) {
            a = *pp;
            *pp = a->next;
            break;
        }
    }
    uv_mutex_unlock(&appends_lock);
    return a;
}

/* ---- free disk space ---------------------------------------------------- */

/* Every 100 ms (or now): give raft and LMDB the disk reserve before raft
 * needs a segment file that would no longer fit, and take it back once the
 * disk has room again (storage.h). */
void node_watch_disk(struct keel_node *n, bool now)
{
    uint64_t t = uv_now(n->loop);
    if (!now && t - n->disk_checked < 100) return;
    n->disk_checked = t;
    if (n->storage != NULL) keel_storage_reserve_tend(n->storage);
}

/* raft_uv calls this, and it hands over to raft's own callback: whatever
 * raft does from there (commit, apply, step down) runs inside raft. */
static void append_cb(struct raft_io_append *req, int status)
{
    struct node_append *a = take_append(req);
    if (a == NULL) return; /* cannot happen: every append we passed on is listed */
    struct keel_node *n = a->node;
    raft_io_append_cb cb = a->cb;
    if (status == 0) keel_hist_observe(&n->append_hist, uv_hrtime() - a->started);
    /* A failed write: if the disk filled, the reserve gives the next ones
     * room at once instead of at the next look. */
    else if (status != RAFT_CANCELED) node_watch_disk(n, true);
    n->appends_inflight--;
    free(a);
    req->cb = cb;
    keel_defer_enter(&n->fsm.defer);
    cb(req, status);
    keel_defer_leave(&n->fsm.defer);
}

static int append(struct keel_node *n, struct raft_io *io, struct raft_io_append *req,
                  const struct raft_entry entries[], unsigned n_entries, raft_io_append_cb cb)
{
#ifdef KEEL_TEST_HOOKS
    if (n->append_delay_ms > 0) {
        /* A disk that takes this long per append, as the loop sees it: the
         * node falls behind a leader that appends more often than that. */
        struct timespec ts = {n->append_delay_ms / 1000, (long)(n->append_delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
#endif
    struct node_append *a = malloc(sizeof *a);
    if (a == NULL) return n->uv_append(io, req, entries, n_entries, cb); /* untimed */
    uv_once(&appends_once, appends_init);
    *a = (struct node_append){.node = n, .req = req, .cb = cb, .started = uv_hrtime()};
    uv_mutex_lock(&appends_lock);
    a->next = appends;
    appends = a;
    uv_mutex_unlock(&appends_lock);
    int rc = n->uv_append(io, req, entries, n_entries, append_cb);
    if (rc != 0) free(take_append(req)); /* no callback will come */
    else n->appends_inflight++;
    return rc;
}

int node_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                unsigned n_entries, raft_io_append_cb cb)
{
    struct keel_node *n = NODE_OF(io, io);
    keel_defer_enter(&n->fsm.defer); /* raft called us */
    int rc = append(n, io, req, entries, n_entries, cb);
    keel_defer_leave(&n->fsm.defer);
    return rc;
}

/* After raft_close: drop records of appends whose callback never came. */
void node_appends_release(struct keel_node *n)
{
    uv_once(&appends_once, appends_init);
    uv_mutex_lock(&appends_lock);
    for (struct node_append **pp = &appends; *pp != NULL;) {
        struct node_append *a = *pp;
        if (a->node == n) {
            *pp = a->next;
            free(a);
        } else {
            pp = &a->next;
        }
    }
    uv_mutex_unlock(&appends_lock);
}

/* ---- leader changes ---------------------------------------------------- */

/* Once per loop turn (the role monitor): a follower that stays a follower
 * while another node takes over never sees its role change, so leader
 * changes are counted from the leader id, not from role callbacks. */
void node_watch_leader(struct keel_node *n)
{
    raft_id id;
    const char *addr;
    raft_leader(&n->raft, &id, &addr);
    if (id == 0 || id == n->last_leader) return;
    if (n->last_leader != 0) n->leader_changes++;
    n->last_leader = id;
}

/* ---- accessors --------------------------------------------------------- */

void keel_node_metrics(struct keel_node *n, struct keel_node_metrics *m)
{
    const struct keel_fsm_stats *fs = &n->fsm.stats;
    memset(m, 0, sizeof *m);
    m->leader_changes = n->leader_changes;
    m->proposals = fs->proposals;
    m->proposals_committed = fs->proposals_committed;
    m->proposals_failed = fs->proposals_failed;
    m->inflight = n->inflight;
    m->snapshots_taken = fs->snapshots;
    m->snapshots_installed = fs->restores;
    m->snapshot_errors = fs->snapshot_errors;
    m->snapshots_refused = n->snapshots_refused;
    keel_transport_rejections(&n->transport, m->peer_rejected);
    m->snapshot_bytes = fs->snapshot_bytes;
    m->snapshot_ns = fs->snapshot_ns;
    m->restore_ns = fs->restore_ns;
    m->repairs = fs->repairs;
    m->apply = fs->apply;
    m->append = n->append_hist;
    m->damaged_set_aside = n->damaged_set_aside;
}

unsigned keel_node_progress(struct keel_node *n, struct keel_peer_progress *out, unsigned max)
{
    struct raft *r = &n->raft;
    unsigned k = 0;
    if (raft_state(r) != RAFT_LEADER || r->leader_state.progress == NULL) return 0;
    /* progress[i] belongs to configuration.servers[i] (raft 0.15). */
    for (unsigned i = 0; i < r->configuration.n && k < max; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        if (s->id == r->id) continue;
        out[k].id = s->id;
        out[k].role = s->role == RAFT_VOTER ? 'v' : s->role == RAFT_STANDBY ? 's' : 'p';
        out[k].match_index = r->leader_state.progress[i].match_index;
        out[k].recent_recv = r->leader_state.progress[i].recent_recv;
        k++;
    }
    return k;
}

/* ---- tracer ------------------------------------------------------------ */

/* One tracer for the process, never freed: raft's libuv backend keeps a
 * pointer to it, and in 0.15 pool work can outlive raft_close (see
 * TRUNCATE_GRACE_MS in node.c), so it must not live inside the node. */
static keel_trace_fn trace_fn;

static void trace_emit(struct raft_tracer *t, const char *file, int line, const char *msg)
{
    (void)t;
    keel_trace_fn fn = trace_fn;
    if (fn != NULL) fn(file, line, msg);
}

static struct raft_tracer tracer = {.impl = NULL, .enabled = false, .emit = trace_emit};

void keel_node_set_tracer(struct keel_node *n, keel_trace_fn emit, bool enabled)
{
    trace_fn = emit;
    tracer.enabled = enabled && emit != NULL;
    n->raft.tracer = &tracer;
    raft_uv_set_tracer(&n->io, &tracer);
}

_Static_assert(KEEL_NODE_PEER_REJECTS == KEEL_PEER_REJECT_COUNT, "node.h's count follows transport.h's");

const char *keel_node_peer_reject_name(int reason)
{
    return keel_peer_reject_name(reason);
}

struct keel_tls_ctx *keel_node_tls_ctx(struct keel_node *n)
{
    return keel_transport_tls_ctx(&n->transport);
}
