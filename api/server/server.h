/* api: the RESP server of one node, on the node's libuv loop.
 *
 * Any node serves every command. On the leader, writes are proposed through
 * raft and answered once committed and applied; reads wait for a raft barrier
 * (linearizable) unless the connection said READONLY. A follower forwards
 * writes and linearizable reads to the leader over one internal connection
 * and relays the replies in order (or, with `redirect`, answers -MOVED).
 * Replies on a connection always come back in request order (pipelining).
 *
 * Back-pressure: a connection stops being read while it has max_pipeline
 * commands pending or max_output reply bytes unsent, and while the node has
 * max_inflight proposals outstanding; requests over the size limits get an
 * error and the connection is closed. */
#ifndef KEEL_API_SERVER_H
#define KEEL_API_SERVER_H

#include <uv.h>

#include "raft/node.h"

struct keel_tls_ctx;
struct keel_tls_options;

/* Why the TLS port refused a client (keel_client_tls_rejected_total{reason}). */
enum {
    KEEL_CLIENT_TLS_NO_CERT,   /* sent no certificate, and --tls-auth-clients is yes */
    KEEL_CLIENT_TLS_BAD_CERT,  /* its certificate did not verify (another CA, expired, ...) */
    KEEL_CLIENT_TLS_HANDSHAKE, /* not TLS, no protocol or cipher in common, or closed mid-handshake */
    KEEL_CLIENT_TLS_TIMEOUT,   /* no completed handshake within KEEL_CLIENT_TLS_HANDSHAKE_MS */
    KEEL_CLIENT_TLS_REJECTS
};
#define KEEL_CLIENT_TLS_HANDSHAKE_MS 10000
const char *keel_client_tls_reject_name(int reason);

struct keel_server_config
{
    uint64_t node_id;
    const char *client_addr;  /* "ip:port" to listen on; port 0: no plaintext port */
    /* The TLS port (Redis's --tls-port), on client_addr's host; 0: none.
     * tls: its context (raft/tls.h), borrowed: it must outlive the server. */
    unsigned tls_port;
    struct keel_tls_ctx *tls;
    unsigned databases;       /* SELECT 0 .. databases-1 (db.h); 0: 16 */
    unsigned max_clients;
    unsigned max_clients_per_user; /* 0: max_clients (auth_limit.c) */
    unsigned auth_timeout_s;  /* close a connection not authenticated by then; 0: never */
    unsigned max_pipeline;    /* commands pending per connection before it stops being read */
    size_t max_output;        /* unsent reply bytes per connection before it stops being read */
    size_t max_bulk;          /* longest bulk string in a request */
    unsigned max_args;        /* most arguments in a request */
    unsigned max_inflight;    /* proposals outstanding node-wide */
    unsigned idle_timeout_s;  /* 0: never */
    bool redirect;            /* -MOVED instead of forwarding */
    unsigned forward_timeout_ms; /* a forwarded request's deadline (forward.c); 0: 5000 */
    unsigned member_timeout_ms;  /* a membership change's, without TIMEOUT; 0: 30000 */
    bool unsafe_local_reads;  /* test hook: every read local and maybe stale */
    unsigned sweep_interval_ms;
    bool enable_drills;       /* KEEL.DRILL allowed */
    const char *zone;         /* failure-domain label, "" none */
    const char *backup_dir;   /* scheduled backups (backup.c), "" or NULL: off */
    unsigned backup_interval_s;
    unsigned backup_keep;
    const char *notify_keyspace_events; /* Redis's flag letters; NULL or "": off */
    bool notify_keyspace_index;         /* "#<raft index>" after each payload (notify.h) */
    /* observability (api/server/observe/observe.h, api/server/observe/alarm.h) */
    const char *http_addr;        /* "ip:port" for /metrics /health /ready /status; NULL or "": off */
    unsigned http_max_conns;      /* 0: 64 */
    const char *http_cert_pem;    /* with http_key_pem (PEM text): HTTPS only; NULL: plain HTTP */
    const char *http_key_pem;
    const char *http_token;       /* bearer token for /metrics and /status; NULL: none. The
                                   * three strings must outlive the server. */
    const char *data_dir;         /* for the free-disk check; NULL: none */
    const char *aclfile;          /* ACL SAVE/LOAD's file (acl_file.c); NULL or "": none */
    uint64_t health_max_lag;      /* entries behind before /health fails and FOLLOWER_LAG */
    unsigned alarm_noleader_ms;   /* NOLEADER after this long without a leader */
    unsigned alarm_slow_fsync_ms; /* SLOW_FSYNC when append p99 is above this */
    uint64_t min_free_disk;       /* NOSPACE when the data dir's disk has less free (never
                                   * under KEEL_DISK_FLOOR, storage.h) */
    unsigned check_interval_s;    /* consistency check rounds (api/server/consistency.h); 0: off */
    /* Certificate rotation (tls_rotate.h): the files the TLS contexts (tls,
     * and the node's member TLS) were loaded from, and tls's other options
     * (copied; their strings must outlive the server). */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_ca_file;
    const struct keel_tls_options *tls_options; /* NULL unless tls */
    unsigned tls_expiry_warn_days;              /* CERT_EXPIRY within this many days */
    bool protected_mode;                        /* --protected-mode (protected.h) */
    /* HTTPS (http_cert_pem): the files its certificate and key came from,
     * re-read by a reload; follows_tls: they are tls_cert_file/tls_key_file,
     * so CONFIG SET of those moves them too. */
    const char *http_cert_file;
    const char *http_key_file;
    bool http_follows_tls;
};

struct keel_server_stats
{
    uint64_t connections;
    uint64_t connections_total;
    uint64_t commands;
    uint64_t forwarded;
    uint64_t forwarded_expired; /* forwarded to this leader after their deadline: refused */
    uint64_t rejected_busy;
    uint64_t protocol_errors;
    uint64_t reads_paused;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t rejected_maxclients;
    uint64_t rejected_user_limit;     /* refused at accept or AUTH: the user holds its limit */
    uint64_t evicted_unauthenticated; /* closed to make room for a newer one (auth_limit.c) */
    uint64_t auth_timeouts;           /* closed unauthenticated after auth_timeout_s */
    uint64_t protected_denied; /* -DENIED by protected mode (protected.h) */
    uint64_t tls_handshakes;                          /* completed on the TLS port */
    uint64_t tls_rejected[KEEL_CLIENT_TLS_REJECTS];   /* refused there, by reason */
    uint64_t auth_failures; /* AUTH/HELLO AUTH refused (INFO acl_access_denied_auth) */
    uint64_t denied_cmd;    /* ACL denials (INFO acl_access_denied_cmd/key/channel) */
    uint64_t denied_key;
    uint64_t denied_channel;
    uint64_t keyspace_hits;   /* read commands' key lookups (INFO keyspace_hits/misses) */
    uint64_t keyspace_misses;
};

struct keel_server;

int keel_server_create(uv_loop_t *loop, struct keel_node *node,
                       const struct keel_server_config *cfg, struct keel_server **out,
                       char *errmsg);
/* Listen. Errors: KEEL_EIO with errmsg (address in use, bad address). */
int keel_server_start(struct keel_server *s, char *errmsg);
/* Stopping, in three steps (keeld: api/keeld/keeld_stop.c):
 *
 * keel_server_quiesce: take no more work. The listener closes, no client
 * is read or parsed any further, the leader's periodic duties stop and the
 * server unhooks from the node. Requests already running finish and their
 * replies are written. Idempotent.
 *
 * keel_server_drain: after the leader handed over. Forwarded requests are
 * answered (-UNCERTAIN for writes, -TRYAGAIN for reads: the leader may or
 * may not have them), and every connection closes by itself once its last
 * pending reply is written. Writes this node proposed get their replies
 * when the node closes (-UNCERTAIN unless they committed): close the node
 * now, then wait for keel_server_clients() to reach 0 (bounded).
 *
 * keel_server_stop: close whatever is still open (connections, HTTP, the
 * timers), then call cb. It does not touch the node, which may be closed
 * and gone by then: quiesce while the node lives. Free with
 * keel_server_free(s) after both the node's close and cb. */
/* --join under member TLS (join.c): ask, on the member channel of the
 * member at seed_raft_addr (its raft address; any member), to be added as
 * raft_addr, once a second until it answers +OK. KEEL_EINVAL (errmsg,
 * KEEL_ERRMSG_SIZE) without member TLS: keeld then joins through a client
 * port with libkeel. After keel_server_start. */
int keel_server_join(struct keel_server *s, const char *seed_raft_addr, const char *raft_addr, char *errmsg);
void keel_server_quiesce(struct keel_server *s);
void keel_server_drain(struct keel_server *s);
unsigned keel_server_clients(const struct keel_server *s);
/* What the server still holds while stopping ("; "-separated phrases in
 * buf, "" when nothing); returns the length. */
size_t keel_server_close_report(const struct keel_server *s, char *buf, size_t size);
void keel_server_stop(struct keel_server *s, void (*cb)(void *data), void *data);
void keel_server_free(struct keel_server *s);
void keel_server_stats(const struct keel_server *s, struct keel_server_stats *st);

/* Reload the TLS certificate, key and CA from their files (SIGHUP): see
 * api/server/tls_rotate.h. 0, or -1 with the reason in err (logged too). */
int keel_server_tls_reload(struct keel_server *srv, const char *why, char *err, size_t errsize);

#endif /* KEEL_API_SERVER_H */
