/* api: alarm state, transitions and the automatic evaluation. See alarm.h. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/server/log.h"
#include "api/server/observe/alarm.h"
#include "api/server/tls_rotate.h"
#include "api/server/observe/observe.h"
#include "api/server/pubsub/notify.h"
#include "api/server/server_internal.h"

/* Alarms are published on __keel__:events (notify.c) with every other
 * cluster event; a function pointer so alarm.c needs no pub/sub. */
void (*alarm_hook)(struct keel_server *srv, const char *json) = notify_keel_event;

/* A peer counts as reachable if raft's recent_recv flag was seen set this
 * recently. raft resets the flag every election timeout and a live peer sets
 * it again within a heartbeat, so a single sample can miss a live peer; a
 * window of several samples cannot. */
#define PEER_SEEN_MS 1500

static const char *names[] = {
#define ALARM_NAME(name, help) #name,
    ALARMS(ALARM_NAME)
#undef ALARM_NAME
};
static const char *helps[] = {
#define ALARM_HELP(name, help) help,
    ALARMS(ALARM_HELP)
#undef ALARM_HELP
};

const char *alarm_name(int id)
{
    return id >= 0 && id < ALARM_COUNT ? names[id] : "?";
}

const char *alarm_help(int id)
{
    return id >= 0 && id < ALARM_COUNT ? helps[id] : "?";
}

int alarm_lookup(const char *name)
{
    for (int i = 0; i < ALARM_COUNT; i++) {
        if (strcasecmp(name, names[i]) == 0) return i;
    }
    return -1;
}

const struct alarm *alarm_get(const struct keel_server *srv, int id)
{
    return &srv->obs->alarms[id];
}

void alarm_list(const struct keel_server *srv, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < ALARM_COUNT && off < size; i++) {
        if (srv->obs->alarms[i].active)
            off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? "," : "", names[i]);
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void notify(struct keel_server *srv, int id)
{
    const struct alarm *a = &srv->obs->alarms[id];
    if (alarm_hook == NULL) return;
    json_t *ev = json_pack("{s:s, s:I, s:s, s:b, s:s, s:I}", "event", "alarm", "node",
                           (json_int_t)srv->cfg.node_id, "alarm", names[id], "active", a->active,
                           "reason", a->reason, "since_ms", (json_int_t)a->since_ms);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    if (text != NULL) alarm_hook(srv, text);
    free(text);
    json_decref(ev);
}

void alarm_raise(struct keel_server *srv, int id, const char *reason)
{
    struct alarm *a = &srv->obs->alarms[id];
    snprintf(a->reason, sizeof a->reason, "%s", reason);
    if (a->active) return; /* a new reason for a standing alarm: no transition */
    a->active = true;
    a->since_ms = wall_ms();
    a->raised++;
    log_warn("alarm raised: %s: %s", names[id], a->reason);
    notify(srv, id);
}

void alarm_clear(struct keel_server *srv, int id)
{
    struct alarm *a = &srv->obs->alarms[id];
    if (!a->active) return;
    a->active = false;
    log_info("alarm cleared: %s (was: %s)", names[id], a->reason);
    notify(srv, id);
    a->reason[0] = 0;
}

static void set(struct keel_server *srv, int id, bool on, const char *reason)
{
    if (on) alarm_raise(srv, id, reason);
    else alarm_clear(srv, id);
}

/* ---- the automatic alarms ---------------------------------------------- */

static void eval_noleader(struct keel_server *srv, const struct keel_node_status *st, uint64_t now)
{
    struct obs *o = srv->obs;
    char why[200];
    if (st->leader_id != 0 || o->leader_seen_ms == 0) o->leader_seen_ms = now;
    uint64_t without = now - o->leader_seen_ms;
    snprintf(why, sizeof why, "no leader known for %llu ms (this node: %s, term %llu)",
             (unsigned long long)without, keel_role_name(st->role), (unsigned long long)st->term);
    set(srv, ALARM_NOLEADER, st->leader_id == 0 && without > srv->cfg.alarm_noleader_ms, why);
}

static uint64_t *peer_seen(struct obs *o, uint64_t id, uint64_t now)
{
    int free_slot = -1;
    for (int i = 0; i < OBS_MAX_PEERS; i++) {
        if (o->peers[i].id == id) return &o->peers[i].seen_ms;
        if (o->peers[i].id == 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) return NULL;
    o->peers[free_slot].id = id;
    o->peers[free_slot].seen_ms = now; /* a new peer gets the benefit of the doubt */
    return &o->peers[free_slot].seen_ms;
}

/* Leader only: QUORUM_AT_RISK from who answers, FOLLOWER_LAG from how far
 * each replica's match index trails the log. */
static void eval_replication(struct keel_server *srv, const struct keel_node_status *st, uint64_t now)
{
    struct obs *o = srv->obs;
    struct keel_peer_progress p[OBS_MAX_PEERS];
    char unreachable[160] = "", lagging[200] = "";
    size_t uo = 0, lo = 0;
    unsigned n = st->role == KEEL_ROLE_LEADER ? keel_node_progress(srv->node, p, OBS_MAX_PEERS) : 0;
    if (st->role != KEEL_ROLE_LEADER) memset(o->peers, 0, sizeof o->peers);
    unsigned reachable = 1; /* this node */
    for (unsigned i = 0; i < n; i++) {
        uint64_t *seen = peer_seen(o, p[i].id, now);
        if (seen != NULL && p[i].recent_recv) *seen = now;
        bool up = seen == NULL || now - *seen < PEER_SEEN_MS;
        if (p[i].role == 'v' && up) reachable++;
        if (p[i].role == 'v' && !up && uo < sizeof unreachable)
            uo += (size_t)snprintf(unreachable + uo, sizeof unreachable - uo, " n%llu", (unsigned long long)p[i].id);
        uint64_t lag = st->last_index > p[i].match_index ? st->last_index - p[i].match_index : 0;
        if (p[i].role != 'p' && lag > srv->cfg.health_max_lag && lo < sizeof lagging)
            lo += (size_t)snprintf(lagging + lo, sizeof lagging - lo, "%sn%llu is %llu entries behind",
                                   lo ? ", " : "", (unsigned long long)p[i].id, (unsigned long long)lag);
    }
    char why[200];
    snprintf(why, sizeof why, "%u of %u voters reachable, one more loss stops writes (unreachable:%s)",
             reachable, st->voters, unreachable);
    set(srv, ALARM_QUORUM_AT_RISK, n > 0 && st->voters >= 3 && reachable <= st->voters / 2 + 1, why);

    uint64_t self = st->commit_index > st->applied_index ? st->commit_index - st->applied_index : 0;
    if (self > srv->cfg.health_max_lag && lo < sizeof lagging)
        lo += (size_t)snprintf(lagging + lo, sizeof lagging - lo, "%sthis node has applied %llu entries less than committed",
                               lo ? ", " : "", (unsigned long long)self);
    set(srv, ALARM_FOLLOWER_LAG, lo > 0, lagging);
}

/* p99 of the appends in the window: the upper bound of the bucket that holds
 * it (the histogram's resolution), so a threshold of 0 fires on any append. */
static void eval_fsync(struct keel_server *srv, const struct keel_hist *now_h)
{
    struct obs *o = srv->obs;
    struct keel_hist *old = &o->fsync_ring[o->fsync_pos];
    uint64_t n = now_h->count - old->count, want = (n * 99 + 99) / 100, cum = 0;
    uint64_t p99 = 0;
    for (unsigned i = 0; i <= KEEL_HIST_BUCKETS && n > 0; i++) {
        cum += now_h->counts[i] - old->counts[i];
        if (cum >= want) {
            p99 = i < KEEL_HIST_BUCKETS ? keel_hist_bounds_ns[i] : 2 * keel_hist_bounds_ns[KEEL_HIST_BUCKETS - 1];
            break;
        }
    }
    *old = *now_h;
    o->fsync_pos = (o->fsync_pos + 1) % OBS_FSYNC_WINDOW;
    char why[200];
    snprintf(why, sizeof why, "raft log append p99 up to %.1f ms over %llu appends in the last %u s (threshold %u ms)",
             (double)p99 / 1e6, (unsigned long long)n, OBS_FSYNC_WINDOW * OBS_REFRESH_MS / 1000,
             srv->cfg.alarm_slow_fsync_ms);
    set(srv, ALARM_SLOW_FSYNC, n > 0 && p99 > (uint64_t)srv->cfg.alarm_slow_fsync_ms * 1000000, why);
}

/* The disk reserve's transitions, said once each in the log. */
static void log_reserve(struct keel_server *srv, const struct keel_disk *d)
{
    struct obs *o = srv->obs;
    bool held = d->reserve_held > 0;
    if (d->reserve_size == 0) return;
    if (d->reserve_releases != o->reserve_releases || (o->reserve_logged && o->reserve_held && !held)) {
        log_warn("disk full: released the %llu-byte disk reserve %s/%s (%llu bytes free now) so that "
                 "committed entries still apply, deletes still work and raft can allocate its log; "
                 "writes are refused until %llu bytes are free again",
                 (unsigned long long)d->reserve_size, srv->cfg.data_dir ? srv->cfg.data_dir : ".",
                 KEEL_RESERVE_FILE, (unsigned long long)d->free_bytes, (unsigned long long)d->refill_at);
    } else if (!o->reserve_logged && !held) {
        log_warn("disk reserve %s/%s not allocated: %llu bytes free, it needs %llu; writes are refused "
                 "until then", srv->cfg.data_dir ? srv->cfg.data_dir : ".", KEEL_RESERVE_FILE,
                 (unsigned long long)d->free_bytes, (unsigned long long)d->refill_at);
    } else if (o->reserve_logged && !o->reserve_held && held) {
        log_info("disk reserve %s/%s allocated again (%llu bytes; %llu bytes free)",
                 srv->cfg.data_dir ? srv->cfg.data_dir : ".", KEEL_RESERVE_FILE,
                 (unsigned long long)d->reserve_size, (unsigned long long)d->free_bytes);
    }
    o->reserve_releases = d->reserve_releases;
    o->reserve_held = held;
    o->reserve_logged = true;
}

/* NOSPACE stands for the disk when free space is under max(--min-free-disk,
 * KEEL_DISK_FLOOR) or the disk reserve is not in place (released when the
 * disk filled, or never allocated for lack of room): that way writes stop
 * well before the disk is full whatever the option says. It stands for the
 * quota at 95% of it (or from a refused write past 90%) and clears under
 * 90%: the gap keeps one delete from flapping it. */
static bool peer_reachable(struct keel_server *srv, uint64_t id)
{
    struct obs *o = srv->obs;
    uint64_t now = uv_now(srv->loop);
    for (int i = 0; i < OBS_MAX_PEERS; i++) {
        if (o->peers[i].id == id) return now - o->peers[i].seen_ms < PEER_SEEN_MS;
    }
    return false;
}

static void eval_space(struct keel_server *srv, const struct keel_node_status *st)
{
    struct obs *o = srv->obs;
    struct keel_space sp;
    struct keel_disk d;
    char why[200] = "", replica[200] = "";
    bool on = srv->obs->alarms[ALARM_NOSPACE].active;
    bool refused = o->nospace_refused;
    o->nospace_refused = false;
    if (keel_node_space(srv->node, &sp) != 0) return;
    uint64_t floor = srv->cfg.min_free_disk > KEEL_DISK_FLOOR ? srv->cfg.min_free_disk : KEEL_DISK_FLOOR;
    bool disk_known = keel_node_disk(srv->node, &d) == 0;
    if (disk_known) log_reserve(srv, &d);
    bool disk_low = disk_known && d.free_bytes < floor;
    bool no_reserve = disk_known && d.reserve_size > 0 && d.reserve_held == 0;
    bool over = false, under = true;
    if (sp.quota > 0) {
        over = sp.live_bytes >= sp.quota / 100 * 95 || (refused && sp.live_bytes >= sp.quota / 100 * 90);
        under = sp.live_bytes < sp.quota / 100 * 90;
    }
    /* Every replica applies every write: the leader also stops for a
     * replica whose disk is full (space.c). */
    srv_space_publish(srv, no_reserve || disk_low);
    bool replica_full = st->role == KEEL_ROLE_LEADER &&
                        srv_space_replica_full(srv, peer_reachable, replica, sizeof replica);
    if (no_reserve) {
        snprintf(why, sizeof why, "disk full: %llu bytes free, the disk reserve is released until %llu are free",
                 (unsigned long long)d.free_bytes, (unsigned long long)d.refill_at);
    } else if (disk_low) {
        snprintf(why, sizeof why, "disk nearly full: %llu bytes free, under %llu (--min-free-disk, at least %llu)",
                 (unsigned long long)d.free_bytes, (unsigned long long)floor,
                 (unsigned long long)KEEL_DISK_FLOOR);
    } else if (replica_full) {
        snprintf(why, sizeof why, "%s", replica);
    } else {
        snprintf(why, sizeof why, "live data %llu bytes of the %llu-byte quota", (unsigned long long)sp.live_bytes,
                 (unsigned long long)sp.quota);
    }
    o->nospace_disk = no_reserve || disk_low || replica_full;
    set(srv, ALARM_NOSPACE, o->nospace_disk || over || (on && !under), why);
}

/* The wall clock stepped (NTP, a VM resume) or drifted past what slewing
 * corrects: expiry does not follow it (raft/clock.h), but absolute times an
 * operator compares (EXPIREAT, logs) are off by the skew. */
static void eval_clock(struct keel_server *srv)
{
    struct keel_node_clock c;
    char why[200];
    keel_node_clock(srv->node, &c);
    snprintf(why, sizeof why,
             "wall clock %+lld ms from the cluster clock (%s): not followed; expiry runs on the monotonic clock",
             (long long)c.skew_ms, c.leading ? "this node leads" : "as this node tracks the leader");
    set(srv, ALARM_CLOCK_SKEW, c.stepped, why);
}

void alarms_evaluate(struct keel_server *srv)
{
    struct keel_node_status st;
    struct keel_node_metrics m;
    uint64_t now = uv_now(srv->loop);
    keel_node_status(srv->node, &st);
    keel_node_metrics(srv->node, &m);
    eval_noleader(srv, &st, now);
    eval_replication(srv, &st, now);
    eval_fsync(srv, &m.append);
    eval_space(srv, &st);
    eval_clock(srv);
    tls_rotate_eval(srv);
}

/* ---- admission --------------------------------------------------------- */

/* Commands that only remove data, and the nodes' own bookkeeping. */
static bool frees_space(const struct command *cmd)
{
    static const char *ok[] = {"del", "unlink", "getdel", "hdel", "keel.hashkv", "keel.publish", "keel.disk"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (strcmp(cmd->name, ok[i]) == 0) return true;
    }
    return false;
}

/* What frees space for the cause at hand. Deleting keys lowers the live
 * data the quota counts, but never returns disk space: LMDB reuses freed
 * pages for later writes and keeps its file as large as it ever was. */
#define ADVICE_QUOTA "DEL keys (or let them expire) or raise --quota"
#define ADVICE_DISK                                                                               \
    "DEL/UNLINK still work but do not shrink LMDB's file (freed pages are reused by later "       \
    "writes); free disk by adding space or removing other files; raft's log shrinks at its next " \
    "snapshot, LMDB's file only when the node is rebuilt from one (docs/recovery.md)"

bool alarm_refuses_write(struct slot *s, size_t len)
{
    struct keel_server *srv = s->srv;
    const struct alarm *a = &srv->obs->alarms[ALARM_NOSPACE];
    struct keel_disk d;
    if (frees_space(s->cmd)) return false;
    /* The disk is looked at once per loop millisecond (a statvfs), not only
     * every 250 ms: at thousands of writes a second the alarm alone would
     * let the disk fill past the floor, or miss a reserve just released. */
    uint64_t floor = srv->cfg.min_free_disk > KEEL_DISK_FLOOR ? srv->cfg.min_free_disk : KEEL_DISK_FLOOR;
    struct obs *o = srv->obs;
    if (!a->active && o->disk_looked_ms != uv_now(srv->loop)) {
        o->disk_looked_ms = uv_now(srv->loop);
        if (keel_node_disk(srv->node, &d) == 0 &&
            (d.free_bytes < floor || (d.reserve_size > 0 && d.reserve_held == 0)))
            obs_refresh(srv);
    }
    if (a->active) {
        srv_reply_errorf(&s->out, KEEL_ENOSPACE, "command not allowed while the NOSPACE alarm is active (%s); %s", a->reason,
                         srv->obs->nospace_disk ? ADVICE_DISK : ADVICE_QUOTA);
        return true;
    }
    if (keel_node_quota_check(srv->node, len) == KEEL_ENOSPACE) {
        srv->obs->nospace_refused = true;
        srv_reply_errorf(&s->out, KEEL_ENOSPACE, "%s", keel_node_storage_errmsg(srv->node));
        return true;
    }
    return false;
}
