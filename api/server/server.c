/* api: the server's lifetime, its listener, and the leader's periodic duties
 * (proposing expiry sweeps, publishing client addresses); idle clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server/auth.h"
#include "api/server/backup/backup.h"
#include "api/server/block.h"
#include "api/server/consistency.h"
#include "api/server/log.h"
#include "api/server/observe/observe.h"
#include "api/server/pubsub/notify.h"
#include "api/server/pubsub/pubsub.h"
#include "api/server/server_internal.h"

#define SWEEP_MAX 1000

static void connection_cb(uv_stream_t *listener, int status)
{
    struct keel_server *srv = listener->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    bool tls = listener == (uv_stream_t *)&srv->tls_listener;
    conn_accept(srv, listener, tls ? srv->cfg.tls : NULL);
}

void srv_unpark(struct keel_server *srv)
{
    if (srv->inflight >= srv->cfg.max_inflight) return;
    for (struct conn *c = srv->conns; c != NULL;) {
        struct conn *next = c->next;
        if (c->parked) conn_resume(c);
        c = next;
    }
}

/* ---- leader duties ----------------------------------------------------- */

static void sweep_cb(void *data, int status, const struct keel_reply *reply)
{
    struct keel_server *srv = data;
    (void)reply;
    srv->sweeping = false;
    if (status != 0) log_debug("expiry sweep: outcome uncertain");
}

/* Propose a SWEEP when keys are due: the leader's clock decides "due", the
 * entry's timestamp makes every replica delete the same keys. */
static void maybe_sweep(struct keel_server *srv)
{
    struct keel_read rd;
    struct keel_slice key;
    if (srv->sweeping || !srv->ready) return;
    int64_t now = srv_now(srv);
    if (keel_read_begin(srv->store, now, &rd) != 0) return;
    int rc = keel_read_expired(&rd, now, &key);
    keel_read_end(&rd);
    if (rc != 0) return;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    keel_enc_init(&e, now, 0, 0);
    keel_enc_sweep(&e, SWEEP_MAX);
    if (keel_enc_finish(&e, &buf, &len) == 0) {
        if (keel_node_write(srv->node, buf, len, sweep_cb, srv) == 0) srv->sweeping = true;
        free(buf);
    }
    keel_enc_close(&e);
}

static void publish_cb(void *data, int status, const struct keel_reply *reply)
{
    struct keel_server *srv = data;
    (void)reply;
    srv->publishing = false;
    if (status == 0) {
        srv->published = true;
        log_info("published client address %s", srv->client_addr);
    }
}

/* A node-table string: true if present ("" and false if not). */
static bool node_table_read(struct keel_server *srv, const char *key, char *out, size_t size)
{
    struct keel_read rd;
    struct keel_record rec;
    out[0] = 0;
    if (keel_read_begin(srv->store, 0, &rd) != 0) return false;
    bool found = keel_read_get(&rd, keel_str(key), &rec) == 0;
    if (found) snprintf(out, size, "%.*s", (int)rec.len, (const char *)rec.val);
    keel_read_end(&rd);
    return found;
}

/* Make sure the replicated node table holds our client address. The leader
 * writes its own; a follower sends KEEL.PUBLISH through the forwarder. */
static void maybe_publish(struct keel_server *srv)
{
    char key[64], zkey[64], addr[64], zone[64];
    if (srv->publishing || srv->published) return;
    syskey_node(srv->cfg.node_id, key, sizeof key);
    syskey_zone(srv->cfg.node_id, zkey, sizeof zkey);
    bool same = node_table_read(srv, key, addr, sizeof addr) &&
                strcmp(addr, srv->client_addr) == 0;
    node_table_read(srv, zkey, zone, sizeof zone);
    same = same && strcmp(zone, srv->zone) == 0;
    if (same) {
        srv->published = true;
        return;
    }
    if (srv->role == KEEL_ROLE_LEADER && srv->ready) {
        struct keel_enc e;
        uint8_t *buf;
        size_t len;
        keel_enc_init(&e, srv_now(srv), 0, 0);
        keel_enc_batch_begin(&e); /* address and zone together */
        keel_enc_set(&e, keel_str(key), keel_str(srv->client_addr), 0, 0);
        keel_enc_set(&e, keel_str(zkey), keel_str(srv->zone), 0, 0);
        if (keel_enc_finish(&e, &buf, &len) == 0) {
            if (keel_node_write(srv->node, buf, len, publish_cb, srv) == 0) srv->publishing = true;
            free(buf);
        }
        keel_enc_close(&e);
    }
    else if (srv->role == KEEL_ROLE_FOLLOWER &&
             uv_now(srv->loop) - srv->publish_sent_at > 2000) {
        /* Through the leader; the next turns see whether it landed. */
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)srv->cfg.node_id);
        struct keel_slice argv[4] = {keel_str("KEEL.PUBLISH"), keel_str(id),
                                     keel_str(srv->client_addr), keel_str(srv->zone)};
        struct slot *s = slot_new(srv, NULL, argv, 4);
        if (s == NULL) return;
        s->cmd = command_lookup(&argv[0]);
        srv->publish_sent_at = uv_now(srv->loop);
        fwd_request(s);
    }
}

/* Placement: with zones labelled, a zone holding a majority of the voters
 * takes the quorum down with it. Checked every few seconds on every node
 * (the node table and the configuration are replicated); said once per
 * change in the log, and always in INFO (keel_zone_majority). */
static void check_zones(struct keel_server *srv)
{
    struct keel_node_status st;
    char zones[KEEL_NODE_MAX_PEERS][64], found[64] = "";
    unsigned count[KEEL_NODE_MAX_PEERS] = {0}, nz = 0;
    uint64_t now = uv_now(srv->loop);
    if (now - srv->zone_checked_at < 5000) return;
    srv->zone_checked_at = now;
    keel_node_status(srv->node, &st);
    for (unsigned i = 0; i < st.members && i < KEEL_NODE_MAX_PEERS; i++) {
        char zone[64];
        if (st.member_roles[i] != 'v') continue;
        srv_member_zone(srv, st.member_ids[i], zone, sizeof zone);
        if (zone[0] == 0) continue; /* unlabelled: no placement to check */
        unsigned z = 0;
        while (z < nz && strcmp(zones[z], zone) != 0) z++;
        if (z == nz) snprintf(zones[nz++], sizeof zones[0], "%s", zone);
        if (++count[z] > st.voters / 2 && st.voters > 1) snprintf(found, sizeof found, "%s", zone);
    }
    if (strcmp(found, srv->zone_majority) != 0) {
        if (found[0])
            log_warn("zone %s holds a majority of the %u voters: losing that zone loses the quorum "
                     "(spread voters over three zones)", found, st.voters);
        else if (srv->zone_majority[0])
            log_info("no zone holds a majority of the voters any more");
        snprintf(srv->zone_majority, sizeof srv->zone_majority, "%s", found);
    }
}

static void timer_cb(uv_timer_t *t)
{
    struct keel_server *srv = t->data;
    const char *msg;
    if (srv->stopping || keel_node_fatal(srv->node, &msg)) return;
    if (srv->role == KEEL_ROLE_LEADER) maybe_sweep(srv);
    srv_cluster_token_ensure(srv);
    maybe_publish(srv);
    srv_clock_sync(srv);
    fwd_expire(srv->fwd);
    fwd_expire(srv->fwd_admin);
    block_tick(srv);
    srv_member_progress_log(srv);
    backup_expire(srv);
    auth_sweep(srv);
    auth_limit_tick(srv);
    backup_schedule_tick(srv);
    consistency_tick(srv);
    check_zones(srv);
    srv_tls_tick(srv);
    if (srv->cfg.idle_timeout_s > 0) {
        uint64_t now = uv_now(srv->loop);
        for (struct conn *c = srv->conns; c != NULL;) {
            struct conn *next = c->next;
            /* Subscribers wait for messages, not idle (Redis spares them too). */
            if (c->head == NULL && pubsub_count(c) == 0 &&
                now - c->last_active > srv->cfg.idle_timeout_s * 1000ull) {
                log_debug("client %llu idle for %us: closing", (unsigned long long)c->id,
                          srv->cfg.idle_timeout_s);
                conn_close(c);
            }
            c = next;
        }
    }
}

static void role_cb(void *data, int role, bool ready)
{
    struct keel_server *srv = data;
    if (role != srv->role) log_info("role: %s", keel_role_name(role));
    srv->role = role;
    srv->ready = role == KEEL_ROLE_LEADER && ready;
    /* Clients blocked here were waiting on the leader's state: nothing was
     * popped for them, so they may retry against the new leader. */
    if (role != KEEL_ROLE_LEADER)
        block_release_all(srv, "leadership changed while the client was blocked: nothing was popped, retry");
    srv->published = false; /* check again under the new leader */
    if (srv->ready) {
        log_info("leader ready: every earlier entry is applied");
        /* Followers need the token and our client address to forward; the
         * token goes first, so a member that knows where we are also knows it. */
        srv_cluster_token_ensure(srv);
        maybe_publish(srv);
    }
    obs_refresh(srv); /* alarms and /health follow a role change at once */
}

/* raft/node_guard.c refused a snapshot before anything of it was stored. */
static void refused_cb(void *data, const struct keel_snapshot_refusal *r)
{
    (void)data;
    log_error("refused %ssnapshot from leader %llu (%s) at index %llu term %llu: %s; not stored, "
              "keeping the local state at index %llu (stale reads still served); the leader "
              "sends a snapshot again in %u ms (docs/recovery.md: a follower refuses the leader's snapshot)",
              r->repeat ? "again the " : "", (unsigned long long)r->leader_id,
              r->leader_address ? r->leader_address : "?", (unsigned long long)r->index,
              (unsigned long long)r->term, r->why, (unsigned long long)r->applied, r->retry_ms);
}

int keel_server_create(uv_loop_t *loop, struct keel_node *node,
                       const struct keel_server_config *cfg, struct keel_server **out,
                       char *errmsg)
{
    /* command_lookup bisects: an entry out of order would be unreachable
     * (it happened). Every test starts a server, so this catches it. */
    for (unsigned i = 1; i < command_count; i++) {
        if (strcasecmp(command_table[i - 1].name, command_table[i].name) >= 0) {
            snprintf(errmsg, KEEL_ERRMSG_SIZE, "command table: '%s' is out of order",
                     command_table[i].name);
            return KEEL_EINVAL;
        }
    }
    struct keel_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "out of memory");
        return KEEL_ENOMEM;
    }
    srv->loop = loop;
    srv->node = node;
    srv->store = keel_node_store(node);
    srv->cfg = *cfg;
    if (srv->cfg.databases == 0) srv->cfg.databases = 16;
    if (srv->cfg.databases > KEEL_MAX_DATABASES) srv->cfg.databases = KEEL_MAX_DATABASES;
    snprintf(srv->client_addr, sizeof srv->client_addr, "%s", cfg->client_addr);
    srv->cfg.client_addr = srv->client_addr;
    snprintf(srv->zone, sizeof srv->zone, "%s", cfg->zone ? cfg->zone : "");
    srv->cfg.zone = srv->zone;
    snprintf(srv->tls_files[0], sizeof srv->tls_files[0], "%s", cfg->tls_cert_file ? cfg->tls_cert_file : "");
    snprintf(srv->tls_files[1], sizeof srv->tls_files[1], "%s", cfg->tls_key_file ? cfg->tls_key_file : "");
    snprintf(srv->tls_files[2], sizeof srv->tls_files[2], "%s", cfg->tls_ca_file ? cfg->tls_ca_file : "");
    if (cfg->tls_options != NULL) srv->tls_client_options = *cfg->tls_options;
    if (cfg->http_cert_pem != NULL && cfg->http_cert_file != NULL) {
        snprintf(srv->http_files[0], sizeof srv->http_files[0], "%s", cfg->http_cert_file);
        snprintf(srv->http_files[1], sizeof srv->http_files[1], "%s", cfg->http_key_file ? cfg->http_key_file : "");
    }
    srv->limits.max_bulk = cfg->max_bulk;
    srv->limits.max_args = cfg->max_args;
    srv->limits.max_inline = 64 * 1024;
    srv->limits.max_depth = 64;
    if (notify_parse_flags(cfg->notify_keyspace_events ? cfg->notify_keyspace_events : "",
                           &srv->notify_flags) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE,
                 "notify-keyspace-events \"%s\": unknown flag (want Redis's letters: Ag$lshzxeKEtmdn)",
                 cfg->notify_keyspace_events);
        free(srv);
        return KEEL_EINVAL;
    }
    srv->notify_index = cfg->notify_keyspace_index;
    srv->cursors = calloc(SCAN_CURSORS, sizeof *srv->cursors);
    srv->fwd = fwd_create(srv, false);
    srv->fwd_admin = fwd_create(srv, true);
    srv->pubsub = pubsub_create();
    if (srv->cursors == NULL || srv->fwd == NULL || srv->fwd_admin == NULL || srv->pubsub == NULL ||
        obs_create(srv) != 0 || consistency_create(srv) != 0 || block_create(srv) != 0) {
        consistency_free(srv);
        obs_free(srv);
        pubsub_destroy(srv->pubsub);
        free(srv->cursors);
        fwd_destroy(srv->fwd);
        fwd_destroy(srv->fwd_admin);
        free(srv);
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "out of memory");
        return KEEL_ENOMEM;
    }
    keel_node_on_role(node, role_cb, srv);
    keel_node_on_snapshot_refused(node, refused_cb, srv);
    /* Like the hooks above, never removed: srv is freed after the node. */
    keel_store_set_reader(srv->store, srv_tx_reader, srv);
    notify_start(srv);
    consistency_start(srv);
    *out = srv;
    return 0;
}

static void listener_closed_cb(uv_handle_t *h);

static int listen_on(struct keel_server *srv, uv_tcp_t *h, const char *ip, unsigned port, char *errmsg)
{
    struct sockaddr_in sa;
    int rc;
    if (uv_ip4_addr(ip, (int)port, &sa) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "client address %s:%u: want IPv4:PORT", ip, port);
        return KEEL_EINVAL;
    }
    uv_tcp_init(srv->loop, h);
    h->data = srv;
    srv->listeners_open++; /* closed by keel_server_quiesce, or here */
    if ((rc = uv_tcp_bind(h, (struct sockaddr *)&sa, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)h, 511, connection_cb)) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "listen on %s:%u: %s", ip, port, uv_strerror(rc));
        uv_close((uv_handle_t *)h, listener_closed_cb);
        return KEEL_EIO;
    }
    return 0;
}

/* A member channel accepted on the raft port (member TLS): a connection
 * whose peer is the member its certificate names. */
static void member_accepted_cb(void *data, uint64_t peer_id, int fd)
{
    conn_adopt_member(data, peer_id, fd);
}

int keel_server_start(struct keel_server *srv, char *errmsg)
{
    char ip[64];
    unsigned port;
    int rc;
    if (sscanf(srv->client_addr, "%63[^:]:%u", ip, &port) != 2 || port > 65535) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "client address %s: want IPv4:PORT", srv->client_addr);
        return KEEL_EINVAL;
    }
    if (port == 0 && srv->cfg.tls_port == 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "client address %s: port 0 turns plaintext off, and there is no TLS port",
                 srv->client_addr);
        return KEEL_EINVAL;
    }
    if (srv->cfg.tls_port != 0 && srv->cfg.tls == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "TLS port %u without a TLS context", srv->cfg.tls_port);
        return KEEL_EINVAL;
    }
    srv->listener_closed = false;
    if (port != 0 && (rc = listen_on(srv, &srv->listener, ip, port, errmsg)) != 0) return rc;
    if (srv->cfg.tls_port != 0 && (rc = listen_on(srv, &srv->tls_listener, ip, srv->cfg.tls_port, errmsg)) != 0) {
        snprintf(errmsg + strlen(errmsg), KEEL_ERRMSG_SIZE - strlen(errmsg), " (--tls-port)");
        return rc;
    }
    uv_timer_init(srv->loop, &srv->timer);
    srv->timer.data = srv;
    uv_timer_start(&srv->timer, timer_cb, srv->cfg.sweep_interval_ms, srv->cfg.sweep_interval_ms);
    if (port != 0) log_info("serving RESP on %s", srv->client_addr);
    if (srv->cfg.tls_port != 0) log_info("serving RESP over TLS on %s:%u", ip, srv->cfg.tls_port);
    if (keel_node_member_tls(srv->node)) {
        keel_node_member_accept(srv->node, member_accepted_cb, srv);
        log_info("member calls (forwarding, joins) on the raft port's member channel, behind member TLS");
    } else if (port == 0) {
        log_warn("plaintext client port off (--client-addr %s) without --tls-cluster: other members cannot "
                 "forward requests to this node while it leads (docs/security.md)", srv->client_addr);
    }
    if ((rc = obs_start(srv, errmsg)) != 0) return rc;
    return 0;
}

static void stopped_cb(uv_handle_t *h)
{
    struct keel_server *srv = h->data;
    if (srv->stop_cb != NULL) srv->stop_cb(srv->stop_data);
}

static void server_destroy(struct keel_server *srv)
{
    block_stop(srv); /* if never stopped */
    backup_release(srv);
    pubsub_destroy(srv->pubsub);
    consistency_free(srv);
    obs_free(srv);
    http_secrets_free(&srv->http_sec); /* after the HTTPS daemon that used it */
    free(srv->cursors);
    if (srv->acl_default != NULL) acl_user_close(srv->acl_default);
    free(srv->acl_default);
    acllog_free(srv);
    auth_limit_free(srv);
    free(srv);
}

/* Not in stopped_cb: writes the server proposed (clients', sweeps, the
 * address publication) still hold srv until the node's close cancels them.
 * Work on the libuv pool holds it too: then the free waits for the last
 * job to report back through srv_pool_done. */
void keel_server_free(struct keel_server *srv)
{
    if (srv == NULL) return;
    if (srv->backup_copying || srv->pool_jobs > 0) {
        srv->free_pending = true;
        return;
    }
    server_destroy(srv);
}

bool srv_pool_done(struct keel_server *srv)
{
    if (!srv->free_pending || srv->backup_copying || srv->pool_jobs > 0) return false;
    server_destroy(srv);
    return true;
}

static void maybe_stopped(struct keel_server *srv)
{
    if (srv->stop_cb != NULL && srv->listener_closed && srv->obs_closed && !srv->timer_closing) {
        srv->timer_closing = true;
        uv_close((uv_handle_t *)&srv->timer, stopped_cb);
    }
}

static void listener_closed_cb(uv_handle_t *h)
{
    struct keel_server *srv = h->data;
    if (--srv->listeners_open > 0) return;
    srv->listener_closed = true;
    maybe_stopped(srv);
}

static void obs_stopped_cb(struct keel_server *srv)
{
    srv->obs_closed = true;
    maybe_stopped(srv);
}

void keel_server_quiesce(struct keel_server *srv)
{
    if (srv->stopping) return;
    srv->stopping = true; /* also stops reading and parsing (conn.c), and obs_refresh */
    keel_node_on_role(srv->node, NULL, NULL);
    keel_node_on_snapshot_refused(srv->node, NULL, NULL);
    keel_node_member_accept(srv->node, NULL, NULL);
    srv_join_stop(srv);
    notify_stop(srv);
    consistency_stop(srv); /* unhooks from the node, cancels a repair */
    uv_timer_stop(&srv->timer);
    /* The listeners that listen (listen_on closed any that failed). */
    if (srv->listeners_open == 0) srv->listener_closed = true;
    uv_tcp_t *ls[2] = {&srv->listener, &srv->tls_listener};
    for (int i = 0; i < 2; i++)
        if (ls[i]->loop != NULL && !uv_is_closing((uv_handle_t *)ls[i]))
            uv_close((uv_handle_t *)ls[i], listener_closed_cb);
    for (struct conn *c = srv->conns; c != NULL; c = c->next) conn_quiesce(c);
}

void keel_server_drain(struct keel_server *srv)
{
    keel_server_quiesce(srv);
    block_release_all(srv, "this node is shutting down"); /* they would never finish */
    if (srv->fwd != NULL) {
        fwd_destroy(srv->fwd); /* answers what was forwarded */
        srv->fwd = NULL;
    }
    if (srv->fwd_admin != NULL) {
        fwd_destroy(srv->fwd_admin);
        srv->fwd_admin = NULL;
    }
    for (struct conn *c = srv->conns; c != NULL;) {
        struct conn *next = c->next;
        c->quit = true; /* closes once its pending replies are written */
        conn_flush(c);
        c = next;
    }
}

unsigned keel_server_clients(const struct keel_server *srv)
{
    return srv->nconns;
}

size_t keel_server_close_report(const struct keel_server *srv, char *buf, size_t size)
{
    size_t len = 0;
    unsigned waiting = 0;
    for (const struct conn *c = srv->conns; c != NULL; c = c->next) waiting += c->pending;
    if (size > 0) buf[0] = 0;
    if (srv->nconns > 0 && len < size)
        len += (size_t)snprintf(buf + len, size - len, "%u client connection(s) with %u request(s) "
                                "still to answer", srv->nconns, waiting);
    if (srv->inflight > 0 && len < size)
        len += (size_t)snprintf(buf + len, size - len, "%s%u client write(s) in raft", len ? "; " : "",
                                srv->inflight);
    if ((srv->backup_copying || srv->pool_jobs > 0) && len < size)
        len += (size_t)snprintf(buf + len, size - len,
                                "%s%u job(s) on the libuv pool (a backup copy or write, a consistency digest)",
                                len ? "; " : "", srv->pool_jobs + srv->backup_copying);
    return len < size ? len : size - 1;
}

void keel_server_stop(struct keel_server *srv, void (*cb)(void *data), void *data)
{
    if (!srv->stopping) keel_server_quiesce(srv);
    srv->stop_cb = cb;
    srv->stop_data = data;
    /* The HTTP thread stops here; it only reads what the loop published. */
    obs_stop(srv, obs_stopped_cb);
    while (srv->conns != NULL) conn_close(srv->conns);
    block_stop(srv);
    if (srv->fwd != NULL) {
        fwd_destroy(srv->fwd);
        srv->fwd = NULL;
    }
    if (srv->fwd_admin != NULL) {
        fwd_destroy(srv->fwd_admin);
        srv->fwd_admin = NULL;
    }
    maybe_stopped(srv);
}

void keel_server_stats(const struct keel_server *srv, struct keel_server_stats *st)
{
    *st = srv->stats;
}
