/* api: the metric table and its Prometheus rendering. See metrics.h.
 *
 * Every metric is one line of METRICS below: scalars name the expression
 * that reads them (S), the others the function that writes their samples
 * (F). The names follow Prometheus conventions (units in the name, _total on
 * counters), which `promtool check metrics` enforces in the tests. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/server/consistency.h"
#include "common/buf.h"
#include "api/server/observe/metrics.h"
#include "api/server/observe/observe.h"
#include "api/server/server_internal.h"
#include "api/server/tls_rotate.h"

/* What one rendering reads, gathered once so that all samples agree. */
struct mctx
{
    struct keel_server *srv;
    struct keel_node_status st;
    struct keel_node_metrics nm;
    struct keel_store_stats ss;
    struct keel_space sp;
    struct keel_node_clock ck;
    struct keel_peer_progress peers[OBS_MAX_PEERS];
    unsigned npeers;
    double disk_free;
    struct keel_disk disk;
};

static void hist(struct buf *b, const char *name, const char *labels, const struct keel_hist *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (unsigned i = 0; i < KEEL_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, (double)keel_hist_bounds_ns[i] / 1e9,
            (unsigned long long)cum);
    }
    buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)h->count);
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    buf_printf(b, "%s_sum%s%s%s %.9f\n", name, open, labels, close, (double)h->sum_ns / 1e9);
    buf_printf(b, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)h->count);
}

/* ---- samples of the non-scalar metrics --------------------------------- */

static void f_info(const struct mctx *m, struct buf *b, const char *name)
{
    buf_printf(b, "%s{version=\"" "0.1.0" "\",node_id=\"%llu\"} 1\n", name, (unsigned long long)m->st.id);
}

static void f_apply(const struct mctx *m, struct buf *b, const char *name)
{
    hist(b, name, "", &m->nm.apply);
}

static void f_append(const struct mctx *m, struct buf *b, const char *name)
{
    hist(b, name, "", &m->nm.append);
}

static void f_peer_match(const struct mctx *m, struct buf *b, const char *name)
{
    for (unsigned i = 0; i < m->npeers; i++)
        buf_printf(b, "%s{peer=\"%llu\"} %llu\n", name, (unsigned long long)m->peers[i].id,
            (unsigned long long)m->peers[i].match_index);
}

static void f_peer_lag(const struct mctx *m, struct buf *b, const char *name)
{
    for (unsigned i = 0; i < m->npeers; i++) {
        uint64_t mi = m->peers[i].match_index;
        buf_printf(b, "%s{peer=\"%llu\"} %llu\n", name, (unsigned long long)m->peers[i].id,
            (unsigned long long)(m->st.last_index > mi ? m->st.last_index - mi : 0));
    }
}

static void f_cmd_latency(const struct mctx *m, struct buf *b, const char *name)
{
    char labels[64];
    for (unsigned i = 0; i < command_count; i++) {
        const struct keel_hist *h = &m->srv->obs->cmd_latency[i];
        if (h->count == 0) continue; /* a series appears with its first use */
        snprintf(labels, sizeof labels, "cmd=\"%s\"", command_table[i].name);
        hist(b, name, labels, h);
    }
}

static void f_rejected(const struct mctx *m, struct buf *b, const char *name)
{
    static const char *labels[] = {
#define REJECT_LABEL(e, label, word) label,
        REJECT_REASONS(REJECT_LABEL)
#undef REJECT_LABEL
    };
    const uint64_t *r = m->srv->obs->rejected;
    for (int i = 0; i < REJECT_COUNT; i++) {
        uint64_t v = r[i];
        if (i == REJECT_PROTOCOL) v = m->srv->stats.protocol_errors;
        if (i == REJECT_MAXCLIENTS) v = m->srv->stats.rejected_maxclients;
        if (i == REJECT_USER_LIMIT) v = m->srv->stats.rejected_user_limit;
        buf_printf(b, "%s{reason=\"%s\"} %llu\n", name, labels[i], (unsigned long long)v);
    }
}

static void f_peer_rejected(const struct mctx *m, struct buf *b, const char *name)
{
    for (int i = 0; i < KEEL_NODE_PEER_REJECTS; i++)
        buf_printf(b, "%s{reason=\"%s\"} %llu\n", name, keel_node_peer_reject_name(i),
            (unsigned long long)m->nm.peer_rejected[i]);
}

static void f_http_unauthorized(const struct mctx *m, struct buf *b, const char *name)
{
    for (int i = 0; i < HTTP_UNAUTH_COUNT; i++)
        buf_printf(b, "%s{reason=\"%s\"} %llu\n", name, http_unauth_names[i],
            (unsigned long long)http_unauthorized(m->srv->obs->http, i));
}

static void f_client_tls_rejected(const struct mctx *m, struct buf *b, const char *name)
{
    for (int i = 0; i < KEEL_CLIENT_TLS_REJECTS; i++)
        buf_printf(b, "%s{reason=\"%s\"} %llu\n", name, keel_client_tls_reject_name(i),
                   (unsigned long long)m->srv->stats.tls_rejected[i]);
}

static void f_tls_reloads(const struct mctx *m, struct buf *b, const char *name)
{
    buf_printf(b, "%s{result=\"ok\"} %llu\n", name, (unsigned long long)m->srv->tls_reloads[TLS_RELOAD_OK]);
    buf_printf(b, "%s{result=\"error\"} %llu\n", name, (unsigned long long)m->srv->tls_reloads[TLS_RELOAD_ERROR]);
}

static void f_tls_expiry(const struct mctx *m, struct buf *b, const char *name)
{
    struct tls_rotate_expiry x;
    tls_rotate_expiry(m->srv, &x);
    const struct {
        int64_t t;
        const char *labels;
    } all[] = {{x.member_own, "context=\"member\",cert=\"own\""}, {x.member_ca, "context=\"member\",cert=\"ca\""},
               {x.client_own, "context=\"client\",cert=\"own\""}, {x.client_ca, "context=\"client\",cert=\"ca\""}};
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < 4; i++) {
        if (all[i].t != 0) buf_printf(b, "%s{%s} %lld\n", name, all[i].labels, (long long)(all[i].t - now));
    }
}

static void f_alarm_active(const struct mctx *m, struct buf *b, const char *name)
{
    for (int i = 0; i < ALARM_COUNT; i++)
        buf_printf(b, "%s{alarm=\"%s\"} %d\n", name, alarm_name(i), m->srv->obs->alarms[i].active);
}

static void f_alarm_raised(const struct mctx *m, struct buf *b, const char *name)
{
    for (int i = 0; i < ALARM_COUNT; i++)
        buf_printf(b, "%s{alarm=\"%s\"} %llu\n", name, alarm_name(i), (unsigned long long)m->srv->obs->alarms[i].raised);
}

static void f_replica_corrupt(const struct mctx *m, struct buf *b, const char *name)
{
    const struct consistency *c = m->srv->cons;
    for (unsigned i = 0; i < c->ncorrupt; i++)
        buf_printf(b, "%s{peer=\"%llu\"} 1\n", name, (unsigned long long)c->corrupt[i]);
}

static void f_backpressure(const struct mctx *m, struct buf *b, const char *name)
{
    buf_printf(b, "%s{kind=\"client_output\"} %llu\n", name, (unsigned long long)m->srv->stats.reads_paused);
    buf_printf(b, "%s{kind=\"inflight\"} %llu\n", name, (unsigned long long)m->srv->stats.rejected_busy);
}

/* ---- the table --------------------------------------------------------- */

#define METRICS(S, F)                                                                                          \
    F(keel_build_info, gauge, "Always 1; labels carry the version and node id.", f_info)                       \
    S(keel_start_time_seconds, gauge, "Unix time the process started.", m->srv->obs->started_ms / 1000.0)      \
    S(keel_raft_term, gauge, "Current raft term.", m->st.term)                                                 \
    S(keel_raft_role, gauge, "Raft role: 0 unavailable, 1 follower, 2 candidate, 3 leader.", m->st.role)       \
    S(keel_raft_is_leader, gauge, "1 on the leader, else 0.", m->st.role == KEEL_ROLE_LEADER)                  \
    S(keel_raft_leader_id, gauge, "Id of the leader this node knows (0: none).", m->st.leader_id)               \
    S(keel_raft_commit_index, gauge, "Highest log index known committed.", m->st.commit_index)                  \
    S(keel_raft_applied_index, gauge, "Highest log index applied to the state machine.", m->st.applied_index)   \
    S(keel_raft_last_index, gauge, "Highest log index in this node's log.", m->st.last_index)                   \
    S(keel_raft_voters, gauge, "Voters in the configuration.", m->st.voters)                                   \
    S(keel_raft_members, gauge, "Members (voters, standbys, spares) in the configuration.", m->st.members)      \
    S(keel_raft_damaged_files_set_aside, gauge,                                                                 \
      "Damaged raft files (snapshots, log segments) set aside when this process started; see its log.",        \
      m->nm.damaged_set_aside)                                                                                 \
    S(keel_raft_leader_changes_total, counter, "Times the leader this node knows became another node.",        \
      m->nm.leader_changes)                                                                                    \
    S(keel_raft_proposals_submitted_total, counter, "Writes proposed to raft by this node.", m->nm.proposals)   \
    S(keel_raft_proposals_committed_total, counter, "Proposals committed and applied.",                       \
      m->nm.proposals_committed)                                                                               \
    S(keel_raft_proposals_failed_total, counter, "Proposals whose outcome became uncertain.",                  \
      m->nm.proposals_failed)                                                                                  \
    S(keel_raft_proposals_inflight, gauge, "Proposals not yet committed or failed.", m->nm.inflight)           \
    F(keel_raft_apply_duration_seconds, histogram, "Time to apply one entry to the state machine.", f_apply)   \
    F(keel_raft_append_duration_seconds, histogram, "Time for raft log appends to be written and synced.",     \
      f_append)                                                                                                \
    F(keel_raft_peer_match_index, gauge, "Leader only: highest index known replicated on each peer.",         \
      f_peer_match)                                                                                            \
    F(keel_raft_peer_lag_entries, gauge, "Leader only: entries each peer is behind the leader's log.",        \
      f_peer_lag)                                                                                              \
    F(keel_raft_peer_rejected_total, counter,                                                                  \
      "Raft connections refused by member TLS before raft saw them, by reason.", f_peer_rejected)              \
    S(keel_snapshots_taken_total, counter, "Snapshots taken by this node.", m->nm.snapshots_taken)             \
    S(keel_snapshots_installed_total, counter, "Snapshots received and installed.", m->nm.snapshots_installed) \
    S(keel_snapshot_errors_total, counter, "Snapshots that failed.", m->nm.snapshot_errors)                    \
    S(keel_snapshots_refused_total, counter, "Snapshots from the leader refused by the image check.",          \
      m->nm.snapshots_refused)                                                                                 \
    S(keel_snapshot_last_duration_seconds, gauge, "Duration of the last snapshot taken.",                      \
      m->nm.snapshot_ns / 1e9)                                                                                 \
    S(keel_snapshot_install_last_duration_seconds, gauge, "Duration of the last snapshot install.",            \
      m->nm.restore_ns / 1e9)                                                                                  \
    S(keel_snapshot_last_size_bytes, gauge, "Size of the last snapshot taken.", m->nm.snapshot_bytes)          \
    S(keel_raft_snapshot_index, gauge, "Last index covered by the newest snapshot.", m->st.snapshot_index)     \
    S(keel_lmdb_live_bytes, gauge, "Pages in use by LMDB's trees, in bytes (what --quota limits).",           \
      m->sp.live_bytes)                                                                                        \
    S(keel_lmdb_file_bytes, gauge, "High-water mark of the LMDB data file.", m->sp.file_bytes)                  \
    S(keel_lmdb_map_size_bytes, gauge, "LMDB map size.", m->sp.map_size)                                       \
    S(keel_quota_bytes, gauge, "Live data quota (0: none).", m->sp.quota)                                      \
    S(keel_disk_free_bytes, gauge, "Free bytes on the data directory's file system.", m->disk_free)            \
    S(keel_disk_reserve_bytes, gauge, "Bytes of the disk reserve allocated now (0 once released).",           \
      m->disk.reserve_held)                                                                                    \
    S(keel_disk_reserve_releases_total, counter, "Times the disk reserve was released because the disk filled.", \
      m->disk.reserve_releases)                                                                                \
    S(keel_keys, gauge, "Keys stored (system keys included).", m->sp.keys)                                     \
    S(keel_keys_with_expiry, gauge, "Keys with an expiry.", m->sp.expires)                                     \
    S(keel_clock_skew_seconds, gauge, "This node's wall clock minus the cluster clock (0 until synced).",     \
      m->ck.skew_ms / 1e3)                                                                                     \
    S(keel_clock_steps_total, counter, "Times the wall clock went over 1 s from the cluster clock (ignored).",\
      m->ck.steps)                                                                                             \
    S(keel_expired_keys_total, counter, "Keys deleted by expiry sweeps.", m->ss.expired)                        \
    S(keel_store_entries_applied_total, counter, "Entries applied by the state machine.", m->ss.applied)       \
    S(keel_store_deduped_total, counter, "Retried writes answered from the dedupe table.", m->ss.deduped)      \
    S(keel_commands_processed_total, counter, "Client commands read.", m->srv->stats.commands)                  \
    F(keel_command_duration_seconds, histogram, "Time from reading a command to its reply, by command.",      \
      f_cmd_latency)                                                                                           \
    S(keel_connected_clients, gauge, "Client connections open.", m->srv->nconns)                               \
    S(keel_connections_received_total, counter, "Client connections accepted.",                                \
      m->srv->stats.connections_total)                                                                         \
    S(keel_client_tls_handshakes_total, counter, "TLS handshakes completed on the client TLS port.",          \
      m->srv->stats.tls_handshakes)                                                                            \
    F(keel_client_tls_rejected_total, counter,                                                                 \
      "Clients refused on the TLS port before their handshake completed, by reason.", f_client_tls_rejected)   \
    F(keel_tls_reloads_total, counter, "TLS certificate reloads (SIGHUP, CONFIG SET), by result.", f_tls_reloads) \
    F(keel_tls_cert_expiry_seconds, gauge,                                                                     \
      "Seconds until the earliest notAfter of the certificates presented (own) or trusted (ca), by context.",  \
      f_tls_expiry)                                                                                            \
    S(keel_net_input_bytes_total, counter, "Bytes read from clients.", m->srv->stats.bytes_in)                 \
    S(keel_net_output_bytes_total, counter, "Bytes written to clients.", m->srv->stats.bytes_out)              \
    S(keel_forwarded_requests_total, counter, "Requests forwarded to the leader.", m->srv->stats.forwarded)     \
    S(keel_protected_denied_total, counter,                                                                    \
      "Clients refused by protected mode (not on loopback while the default user has no password).",          \
      m->srv->stats.protected_denied)                                                                          \
    S(keel_auth_failures_total, counter, "AUTH and HELLO AUTH refused (wrong password, unknown or disabled user).", \
      m->srv->stats.auth_failures)                                                                             \
    F(keel_backpressure_events_total, counter,                                                                 \
      "Times clients stopped being read: unsent replies or pipeline (client_output), writes in raft (inflight).", \
      f_backpressure)                                                                                          \
    F(keel_rejected_requests_total, counter, "Requests refused, by reason.", f_rejected)                      \
    S(keel_consistency_checks_total, counter, "Consistency check digests this replica took.",                  \
      m->srv->cons->walks)                                                                                     \
    S(keel_consistency_digest_last_duration_seconds, gauge, "Time the last digest walk took (on the pool).",    \
      m->srv->cons->last_walk_ns / 1e9)                                                                        \
    S(keel_consistency_mismatches_total, counter, "Times this replica's digest differed from the majority's.",  \
      m->srv->cons->mismatches)                                                                                \
    S(keel_consistency_damaged, gauge, "1 while this replica's state is known to differ (local reads refused).",\
      m->srv->cons->damaged)                                                                                   \
    S(keel_consistency_repairs_total, counter, "Leader images installed over this replica's damaged state.",   \
      m->srv->cons->repairs)                                                                                   \
    S(keel_consistency_repair_failures_total, counter, "Repair attempts that failed (retried).",               \
      m->srv->cons->repair_failures)                                                                           \
    F(keel_consistency_replica_corrupt, gauge,                                                                 \
      "Leader only: 1 for each replica whose digest differed from the majority at the last check.",           \
      f_replica_corrupt)                                                                                       \
    F(keel_http_unauthorized_total, counter,                                                                   \
      "HTTP requests for /metrics or /status refused for a missing or wrong bearer token, by reason.",         \
      f_http_unauthorized)                                                                                     \
    F(keel_alarm_active, gauge, "1 while the alarm is raised.", f_alarm_active)                                \
    F(keel_alarms_raised_total, counter, "Times each alarm was raised.", f_alarm_raised)

typedef double (*metric_value_fn)(const struct mctx *m);
typedef void (*metric_samples_fn)(const struct mctx *m, struct buf *b, const char *name);

struct metric
{
    const char *name;
    const char *type;
    const char *help;
    metric_value_fn value;     /* scalars */
    metric_samples_fn samples; /* labelled series and histograms */
};

#define DEF_VALUE(name, type, help, expr) \
    static double v_##name(const struct mctx *m) { return (double)(expr); }
#define DEF_NONE(name, type, help, fn)
METRICS(DEF_VALUE, DEF_NONE)

static const struct metric metrics[] = {
#define ROW_S(name, type, help, expr) {#name, #type, help, v_##name, NULL},
#define ROW_F(name, type, help, fn) {#name, #type, help, NULL, fn},
    METRICS(ROW_S, ROW_F)
};

#define N_METRICS (sizeof metrics / sizeof metrics[0])

void metrics_list(FILE *f)
{
    for (size_t i = 0; i < N_METRICS; i++)
        fprintf(f, "%-46s %-9s %s\n", metrics[i].name, metrics[i].type, metrics[i].help);
}

char *metrics_render(struct keel_server *srv, size_t *len)
{
    struct mctx m = {.srv = srv};
    struct buf b = {0};
    keel_node_status(srv->node, &m.st);
    keel_node_metrics(srv->node, &m.nm);
    keel_node_clock(srv->node, &m.ck);
    keel_store_stats(srv->store, &m.ss);
    keel_node_space(srv->node, &m.sp);
    m.npeers = keel_node_progress(srv->node, m.peers, OBS_MAX_PEERS);
    if (keel_node_disk(srv->node, &m.disk) == 0) m.disk_free = (double)m.disk.free_bytes;
    for (size_t i = 0; i < N_METRICS; i++) {
        const struct metric *d = &metrics[i];
        buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
        if (d->value) buf_printf(&b, "%s %.15g\n", d->name, d->value(&m));
        else d->samples(&m, &b, d->name);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.len;
    return (char *)b.p;
}
