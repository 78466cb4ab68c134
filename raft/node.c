/* raft: wiring one node (storage, store, fsm, raft on libuv), its start,
 * its status, and the monitor that notices role changes. Closing it, and
 * delivering raft's completions: node_close.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/busy.h"
#include "raft/node_internal.h"
#include "raft/transport.h"

__attribute__((format(printf, 2, 3))) static int fail(char *errmsg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, KEEL_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
    return -1;
}

const char *keel_role_name(int role)
{
    switch (role) {
        case KEEL_ROLE_FOLLOWER:
            return "follower";
        case KEEL_ROLE_CANDIDATE:
            return "candidate";
        case KEEL_ROLE_LEADER:
            return "leader";
        default:
            return "unavailable";
    }
}

static int role_of(struct raft *r)
{
    switch (raft_state(r)) {
        case RAFT_FOLLOWER:
            return KEEL_ROLE_FOLLOWER;
        case RAFT_CANDIDATE:
            return KEEL_ROLE_CANDIDATE;
        case RAFT_LEADER:
            return KEEL_ROLE_LEADER;
        default:
            return KEEL_ROLE_UNAVAILABLE;
    }
}

/* The latest configuration raft holds, committed or not: a follower adopts
 * one as soon as it is appended, so that is what it runs on. */
static uint64_t conf_index(const struct raft *r)
{
    return r->configuration_uncommitted_index ? r->configuration_uncommitted_index
                                              : r->configuration_index;
}

static void watch_cluster(struct keel_node *n)
{
    raft_id id;
    const char *addr;
    unsigned what = 0;
    raft_leader(&n->raft, &id, &addr);
    if (id != 0 && (id != n->seen_leader || n->raft.current_term != n->seen_term)) {
        n->seen_leader = id;
        n->seen_term = n->raft.current_term;
        what |= KEEL_CLUSTER_LEADER;
    }
    uint64_t conf = conf_index(&n->raft);
    if (conf != n->seen_conf) {
        n->seen_conf = conf;
        what |= KEEL_CLUSTER_MEMBERS;
    }
    if (what != 0 && n->cluster_cb != NULL) n->cluster_cb(n->cluster_data, what);
}

/* raft 0.15 has no state-change callback: look once per loop turn. */
static void monitor_cb(uv_prepare_t *h)
{
    struct keel_node *n = h->data;
    if (!n->closing) watch_cluster(n);
    int role = role_of(&n->raft);
    if (!n->closing) node_watch_leader(n);
    if (!n->closing) node_watch_disk(n, false);
    if (!n->closing) node_clock_turn(n);
    if (role == n->role || n->closing) return;
    int was = n->role;
    n->role = role;
    n->ready = false;
    node_clock_role(n, was, role); /* before anyone stamps an entry as leader */
    if (was == KEEL_ROLE_LEADER) node_reads_fail(n, KEEL_ENOTLEADER);
    if (role == KEEL_ROLE_LEADER) node_became_leader(n);
    if (n->role_cb != NULL) n->role_cb(n->role_data, role, false);
}

/* A refused raft peer (member TLS): the transport's line to keeld's log. */
static void node_transport_warn(void *data, const char *msg)
{
    struct keel_node *n = data;
    if (n->warn != NULL) n->warn(msg);
}

int keel_node_create(uv_loop_t *loop, const struct keel_node_options *o, struct keel_node **out,
                     char *errmsg)
{
    char raftdir[4200], msg[KEEL_ERRMSG_SIZE];
    struct keel_storage_options so = {.dir = o->dir, .map_size = o->map_size, .quota = o->quota,
                                      .reserve = o->disk_reserve, .boot_id_path = o->boot_id_path};
    struct raft_configuration conf;
    struct keel_node *n;
    int rc;

    *out = NULL;
    n = calloc(1, sizeof *n);
    if (n == NULL) return fail(errmsg, "out of memory"), KEEL_ENOMEM;
    n->loop = loop;
    n->waiting_tail = &n->waiting;
    n->id = o->id;
    n->warn = o->warn;
    snprintf(n->dir, sizeof n->dir, "%s", o->dir);
#ifdef KEEL_TEST_HOOKS
    n->append_delay_ms = o->test_append_delay_ms;
#endif
    if (node_membership_create(n) != 0) {
        free(n);
        return fail(errmsg, "out of memory"), KEEL_ENOMEM;
    }
    rc = keel_storage_open(&so, &n->storage, &n->wiped, msg);
    if (rc != 0) {
        fail(errmsg, "%s", msg);
        node_membership_close(n);
        free(n);
        return rc;
    }
    if ((rc = keel_store_create(n->storage, &n->store)) != 0) {
        fail(errmsg, "store: %s", keel_strerror(rc));
        goto err_storage;
    }
    keel_fsm_init(&n->fsm, n->store, !o->sync_snapshots);
    node_clock_init(n);

    snprintf(raftdir, sizeof raftdir, "%s/raft", o->dir);
    if (mkdir(raftdir, 0700) != 0 && errno != EEXIST) {
        rc = KEEL_EIO;
        fail(errmsg, "mkdir %s: %s", raftdir, strerror(errno));
        goto err_store;
    }
    /* Our transport bounds how long a black-holed connection holds a peer
     * (transport.h): a connect gets one election timeout, unacknowledged
     * data two, and raft retries a failed connect after five heartbeats. */
    unsigned election_ms = o->election_ms ? o->election_ms : 600;
    unsigned heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 60;
    struct keel_transport_options to = {
        .connect_timeout_ms = election_ms,
        .user_timeout_ms = 2 * election_ms < 1000 ? 1000 : 2 * election_ms,
        .routes = o->raft_routes,
        .warn = node_transport_warn,
        .warn_data = n,
    };
    if ((rc = keel_transport_init(&n->transport, loop, &to)) != 0) {
        fail(errmsg, "raft transport: %s", rc == RAFT_INVALID ? "bad --raft-route (want ADDR=VIA,...)"
                                                              : raft_strerror(rc));
        rc = rc == RAFT_INVALID ? KEEL_EINVAL : KEEL_EIO;
        goto err_store;
    }
    if (o->tls_cert_file != NULL && o->tls_cert_file[0] != 0) {
        char why[512];
        if (keel_transport_tls(&n->transport, o->tls_cert_file, o->tls_key_file, o->tls_ca_file, o->id, why,
                               sizeof why) != 0) {
            fail(errmsg, "member TLS: %s", why);
            keel_transport_release(&n->transport);
            rc = KEEL_EINVAL;
            goto err_store;
        }
        n->member_tls = true;
    }
    if ((rc = raft_uv_init(&n->io, loop, raftdir, &n->transport)) != 0) {
        rc = node_raft_failure(n, "raft log", rc, n->io.errmsg, "", errmsg);
        keel_transport_release(&n->transport);
        goto err_store;
    }
    raft_uv_set_connect_retry_delay(&n->io, 5 * heartbeat_ms);
    /* raft 0.15 installs async_work but leaves io.version at 1, and then
     * refuses a version-3 fsm with snapshot_async (fixed upstream in 0.17.1). */
    n->io.version = 2;
    n->uv_truncate = n->io.truncate;
    n->io.truncate = node_truncate;
    n->uv_append = n->io.append;
    n->io.append = node_append;
    n->uv_start = n->io.start;
    n->io.start = node_guard_start;
#ifdef KEEL_TEST_HOOKS
    node_hooks_install(n);
#endif
    if ((rc = raft_init(&n->raft, &n->io, &n->fsm.fsm, o->id, o->address)) != 0) {
        char raftmsg[RAFT_ERRMSG_BUF_SIZE];
        snprintf(raftmsg, sizeof raftmsg, "%s", raft_errmsg(&n->raft));
        rc = node_raft_failure(n, "raft init", rc, raftmsg, "", errmsg);
        raft_uv_close(&n->io);
        keel_transport_release(&n->transport);
        goto err_store;
    }
    n->raft_inited = true;
    keel_fsm_attach(&n->fsm, &n->raft);
    keel_fsm_enable_async(&n->fsm);
    raft_set_election_timeout(&n->raft, election_ms);
    raft_set_heartbeat_timeout(&n->raft, heartbeat_ms);
    if (o->snapshot_threshold) raft_set_snapshot_threshold(&n->raft, o->snapshot_threshold);
    if (o->snapshot_trailing) raft_set_snapshot_trailing(&n->raft, o->snapshot_trailing);
    if (o->install_snapshot_ms) raft_set_install_snapshot_timeout(&n->raft, o->install_snapshot_ms);
    raft_set_pre_vote(&n->raft, true);
    /* raft_assign(voter) comes only once a standby keeps up (membership.c),
     * so raft's own catch-up needs a round or two: bound it to seconds (10
     * rounds of up to 5 s by default) and let the standby do the waiting. */
    raft_set_max_catch_up_rounds(&n->raft, 3);
    raft_set_max_catch_up_round_duration(&n->raft, 2 * election_ms < 1000 ? 1000 : 2 * election_ms);
    uv_prepare_init(loop, &n->monitor);
    n->monitor.data = n;
    node_deliver_init(n);
    *out = n;

    /* Every initial voter bootstraps the same configuration; on a restart
     * raft says RAFT_CANTBOOTSTRAP and the stored one stands. */
    raft_configuration_init(&conf);
    rc = 0;
    for (unsigned i = 0; rc == 0 && i < o->n_peers; i++) {
        rc = raft_configuration_add(&conf, o->peers[i].id, o->peers[i].address, RAFT_VOTER);
    }
    KEEL_DEFER_OUTSIDE(&n->fsm.defer);
    if (rc == 0 && o->n_peers > 0) rc = raft_bootstrap(&n->raft, &conf);
    raft_configuration_close(&conf);
    if (rc != 0 && rc != RAFT_CANTBOOTSTRAP) {
        fail(errmsg, "bootstrap: %s", raft_strerror(rc));
        return KEEL_EIO; /* *out is set: the caller closes it */
    }
    return 0;

err_store:
    keel_fsm_close(&n->fsm);
    keel_store_destroy(n->store);
err_storage:
    keel_storage_close(n->storage, false);
    node_membership_close(n);
    free(n);
    return rc;
}

int keel_node_start(struct keel_node *n, char *errmsg)
{
    KEEL_DEFER_OUTSIDE(&n->fsm.defer);
    const char *busy = keel_busy_begin("loading the raft log and replaying it into LMDB");
    int rc = node_start_raft(n, errmsg);
    keel_busy_end(busy);
    if (rc != 0) return rc;
    if (keel_fsm_fatal(&n->fsm)) return fail(errmsg, "%s", n->fsm.errmsg), n->fsm.fatal;
    uv_prepare_start(&n->monitor, monitor_cb);
    node_membership_start(n);
    return 0;
}

struct keel_store *keel_node_store(struct keel_node *n)
{
    return n->store;
}

struct keel_storage *keel_node_storage(struct keel_node *n)
{
    return n->storage;
}

bool keel_node_wiped(const struct keel_node *n)
{
    return n->wiped;
}

const char *keel_node_start_notes(const struct keel_node *n)
{
    return n->start_notes;
}

int keel_node_fatal(const struct keel_node *n, const char **msg)
{
    if (msg != NULL) *msg = n->fsm.errmsg;
    return n->fsm.fatal;
}

void keel_node_on_role(struct keel_node *n, keel_role_cb cb, void *data)
{
    n->role_cb = cb;
    n->role_data = data;
}

void keel_node_on_apply(struct keel_node *n, keel_apply_cb cb, void *data)
{
    n->fsm.on_apply = cb;
    n->fsm.on_apply_data = data;
}

void keel_node_on_cluster(struct keel_node *n, keel_cluster_cb cb, void *data)
{
    n->cluster_cb = cb;
    n->cluster_data = data;
}

void keel_node_status(struct keel_node *n, struct keel_node_status *st)
{
    struct raft *r = &n->raft;
    raft_id id;
    const char *addr;
    memset(st, 0, sizeof *st);
    st->id = r->id;
    st->role = role_of(r);
    st->term = r->current_term;
    raft_leader(r, &id, &addr);
    st->leader_id = id;
    if (addr != NULL) snprintf(st->leader_address, sizeof st->leader_address, "%s", addr);
    st->commit_index = r->commit_index;
    st->applied_index = raft_last_applied(r);
    st->last_index = raft_last_index(r);
    st->snapshot_index = r->log.snapshot.last_index;
    st->snapshot_at_ms = n->fsm.stats.snapshot_at_ms;
    /* Once raft is closed its configuration is freed (completions delivered
     * after raft_close may still ask for the status). */
    for (unsigned i = 0; !n->raft_closed && i < r->configuration.n && i < KEEL_NODE_MAX_PEERS; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        st->member_ids[i] = s->id;
        st->member_roles[i] = s->role == RAFT_VOTER ? 'v' : s->role == RAFT_STANDBY ? 's' : 'p';
        snprintf(st->member_addrs[i], sizeof st->member_addrs[i], "%s", s->address ? s->address : "");
        st->voters += s->role == RAFT_VOTER;
        st->members++;
    }
    st->leader_ready = st->role == KEEL_ROLE_LEADER && n->ready;
    st->inflight = n->inflight;
}

int keel_parse_peers(const char *text, struct keel_peer *peers, unsigned max, char *errmsg)
{
    unsigned n = 0;
    const char *p = text;
    while (p != NULL && *p != 0) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[96];
        unsigned long long id;
        int used = 0;
        if (n == max || len >= sizeof item) goto bad;
        memcpy(item, p, len);
        item[len] = 0;
        if (sscanf(item, "%llu=%n", &id, &used) != 1 || used == 0 || id == 0) goto bad;
        snprintf(peers[n].address, sizeof peers[n].address, "%s", item + used);
        unsigned a, b, c, d, port;
        char extra;
        if (sscanf(peers[n].address, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &extra) != 5 ||
            a > 255 || b > 255 || c > 255 || d > 255 || port == 0 || port > 65535)
            goto bad;
        for (unsigned i = 0; i < n; i++) {
            if (peers[i].id == id) goto bad;
        }
        peers[n++].id = id;
        p = end ? end + 1 : NULL;
    }
    return (int)n;
bad:
    snprintf(errmsg, KEEL_ERRMSG_SIZE,
             "bad peer list \"%s\": want ID=IPv4:PORT,... with distinct ids > 0", text);
    return -1;
}
