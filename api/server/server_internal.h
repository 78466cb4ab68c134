/* api: the private shapes of the RESP server, shared by the api sources. */
#ifndef KEEL_API_SERVER_INTERNAL_H
#define KEEL_API_SERVER_INTERNAL_H

#include "api/resp/resp.h"
#include "api/server/server.h"
#include "api/server/syskey.h"
#include "api/server/observe/http.h"
#include "raft/tls.h"
#include "store/store.h"

struct conn;
struct slot;
struct keel_server;

/* ---- commands ---------------------------------------------------------- */

enum {
    CMD_LOCAL = 1 << 0,   /* answered by this node itself */
    CMD_READ = 1 << 1,    /* reads the keyspace: linearizable unless READONLY */
    CMD_WRITE = 1 << 2,   /* proposed through raft on the leader */
    CMD_NOMULTI = 1 << 3, /* not queued by MULTI: runs at once */
    CMD_INTERNAL = 1 << 4, /* only inside a forwarded request (KEEL.FWD) or made by keeld */
    CMD_PUBSUB = 1 << 5,   /* allowed in RESP2 subscribed mode (cmd_pubsub.c) */
    CMD_TOKEN = 1 << 6,    /* authenticated by the cluster token, not a user (auth.h) */
    CMD_SERIAL = 1 << 7,   /* a write computed from the leader's state (INCRBYFLOAT):
                            * one at a time node-wide, so a pipeline's commands
                            * build on each other's results (dispatch.c) */
    CMD_TXCONN = 1 << 8,   /* queued by MULTI, run on the connection once EXEC's
                            * batch has applied, at its place (srv_tx_splice):
                            * its handler must answer before it returns */
    CMD_BLOCKING = 1 << 9  /* a blocking pop (BLPOP ...): may wait on the leader
                            * for a key (block.c); holds its connection until
                            * answered, as Redis's blocked client does */
};

struct command
{
    const char *name;
    int arity; /* Redis style: n exact, -n at least n (the name counts) */
    unsigned flags;
    /* CMD_LOCAL */
    void (*local)(struct slot *s);
    /* CMD_READ: answer from rd into s->out; return a storage error or 0.
     * Any command with one may be queued in MULTI: EXEC's batch runs it at
     * its place (srv_tx_reader), with s->conn NULL. */
    int (*read)(struct slot *s, struct keel_read *rd);
    /* CMD_WRITE: append the command(s) to e and return how many were
     * appended, or -1 after writing an error reply into s->out. */
    int (*encode)(struct slot *s, struct keel_enc *e);
    /* CMD_WRITE: turn the `nsub` reply items at rd into RESP (NULL: one
     * item, converted as it is). */
    void (*reply)(struct slot *s, struct keel_reply_reader *rd, unsigned nsub);
    int first_key, last_key, key_step;
};

/* The store's reader (keel_store_set_reader, cmd_tx.c): a read, PING or
 * ECHO queued in MULTI, run by apply inside EXEC's batch. arg: the server. */
void srv_tx_reader(void *arg, struct keel_read *rd, const struct keel_slice *argv, uint32_t argc,
                   int proto, struct keel_reply *reply);
const struct command *command_lookup(const struct keel_slice *name);
/* What cmd does to its key at argv[at] (ACL_KEY_READ/WRITE of store/acl.h;
 * 0: only looks at it), for ACL key patterns. */
uint8_t command_key_acl(const struct command *cmd, const struct keel_slice *argv, uint32_t argc,
                        uint32_t at);
extern const struct command command_table[];
extern const unsigned command_count;

/* ---- slots: one request, from parse to reply --------------------------- */

enum { CONN_REPLY_ON = 0, CONN_REPLY_OFF, CONN_REPLY_SKIP };

struct slot
{
    struct keel_server *srv;
    struct conn *conn;        /* NULL once the connection is gone (orphan) */
    struct slot *next;        /* the connection's reply FIFO */
    struct slot *fwd_next;    /* the forwarder's FIFO */
    const struct command *cmd;
    uint32_t argc;
    struct keel_slice *argv;  /* owned copy (argbuf) */
    uint8_t *argbuf;
    struct buf out;
    int proto;                /* 2 or 3, for this request */
    bool done;
    bool forwarded_in;        /* came from another node: never forward again */
    bool readonly;            /* stale local reads allowed */
    bool sent;                /* forwarded request written to the leader */
    bool watching;            /* KEEL.VERSIONS run for WATCH: keep, reply +OK */
    bool push;                /* pub/sub messages queued in order (pubsub.c), no request */
    bool internal;            /* made by this node (slot_new without a connection) */
    bool acl_retried;         /* an ACL SETUSER/DELUSER rebuilt once after BUSY (cmd_acl.c) */
    bool redo;                /* the reply hook asked for the write to be encoded again */
    uint8_t float_redos;      /* INCRBYFLOAT/HINCRBYFLOAT rebuilt after BUSY (cmd_float.c) */
    bool serial_held;         /* this CMD_SERIAL write is the one in flight */
    bool in_tx;               /* a CMD_TXCONN command run by EXEC (srv_tx_splice) */
    uint8_t db;               /* the database it runs in (db.h): its connection's, or KEEL.FWD's */
    bool db_keyed;            /* its keys are already db's stored names (srv_db_rewrite) */
    /* Per-connection order (conn.c, srv_slot_placed): `ordered`: counted in
     * its connection's unplaced until its place among the connection's
     * effects is fixed; `plain_read`: a read that other reads may pass. */
    bool ordered;
    bool plain_read;
    struct slot *serial_next; /* the CMD_SERIAL queue */
    /* A blocking pop (CMD_BLOCKING, block.c). Its encoder (cmd_block.c)
     * arms it at the first attempt: block_until, and the keys it waits on
     * (argv[block_key0 ...], block_nkeys of them); its
     * reply hook sets block_wait when the pop found nothing, and
     * write_done_cb then hands it to block_wait() instead of answering. */
    struct block_waiter *waiter; /* parked (or its pop in flight again); owned by block.c */
    uint64_t block_until;     /* keel_mono_ms() at which it times out; 0: never */
    uint32_t block_key0;
    uint32_t block_nkeys;
    bool block_armed;
    bool block_zset;          /* waits for sorted sets (else lists) */
    bool block_wait;
    bool block_timed_out;     /* timed out while its pop was in flight */
    bool block_null_bulk;     /* its timeout answers a null bulk (BLMOVE), else a null array */
    struct forwarder *own_fwd; /* forwarded blocking pop: its own connection (forward.c) */
    unsigned *subs;           /* KEEL.TX: sub-commands per queued command */
    /* EXEC: the CMD_TXCONN commands it runs on the connection once the
     * batch has applied, their replies at their places among tx_total */
    struct conn_queued *tx_conn;
    unsigned ntx_conn;
    uint32_t tx_total;
    uint64_t client;          /* dedupe identity (KEEL.REQ), 0: none */
    uint64_t seq;
    int64_t now;              /* the leader's clock when dispatched */
    uint64_t started_ns;      /* uv_hrtime() when read from the client; 0: internal */
    bool silent;              /* CLIENT REPLY OFF/SKIP: its reply is not written */
    bool executed;            /* passed dispatch's checks and ran (or was forwarded):
                               * INFO commandstats' calls, else rejected_calls */
    /* keel_mono_ms() by which it must be answered (forward.c); forwarded in:
     * after which it must not start. 0: none */
    uint64_t deadline_ms;
    /* A forwarded request's reply is relayed as it is unless this hook
     * wants to look at it (WATCH on a follower; an internal request's
     * answer, KEEL.CLOCK, gets it without a connection). */
    void (*on_forward_reply)(struct slot *s, const uint8_t *p, size_t n);
    /* An internal request that wants its answer (image_fetch.c): called with
     * the reply in out (the leader's, or why it was not forwarded) when it
     * is done, just before it is freed. internal_data: the caller's. */
    void (*on_internal_done)(struct slot *s);
    void *internal_data;
};

/* c may be NULL: an internal request whose reply nobody reads. */
struct slot *slot_new(struct keel_server *srv, struct conn *c, const struct keel_slice *argv,
                      uint32_t argc);
void slot_free(struct slot *s);
/* The reply in s->out is complete: release it to the connection in order. */
void slot_done(struct slot *s);
/* s's place among its connection's effects is fixed (its write proposed in
 * order, or it finished): the connection's next commands may run. */
void srv_slot_placed(struct slot *s);
/* The same in two steps, for a caller that may lose s meanwhile: uncount s,
 * returning its connection if that was held for it (else NULL), and later
 * conn_order_resume() it. */
struct conn *srv_slot_place(struct slot *s);
/* Whether a proposed write is placed at once (dispatch.c). */
bool placed_when_proposed(const struct slot *s);
/* Argument i as a NUL-terminated copy in buf (truncated to size). */
const char *slot_arg(const struct slot *s, uint32_t i, char *buf, size_t size);
bool slot_arg_is(const struct slot *s, uint32_t i, const char *word);

/* ---- connections ------------------------------------------------------- */

struct conn_watch
{
    uint8_t *key;
    size_t len;
    uint64_t version;
};

struct conn_queued
{
    const struct command *cmd;
    uint32_t argc;
    struct keel_slice *argv;
    uint8_t *argbuf;
    uint32_t at; /* EXEC's CMD_TXCONN ones: the place in the transaction */
};

struct conn
{
    union {
        uv_tcp_t tcp;   /* a client (the plaintext or TLS port) */
        uv_pipe_t pipe; /* a member channel (member_id != 0): the raft port's bridge */
    };
    uint64_t member_id;  /* the member id its certificate names; 0: a client */
    struct keel_server *srv;
    struct conn *prev;
    struct conn *next;
    uint64_t id;
    char name[128];
    char peer[64];
    struct sockaddr_storage peer_addr; /* for protected mode (protected.h) */
    int proto;
    uint8_t db;            /* SELECT's database (db.h) */
    uint8_t multi_db;      /* in MULTI: the database the queued SELECTs chose so far */
    bool readonly;
    bool reading;
    bool closing;
    bool quit;             /* close after the pending replies are written */
    bool parked;           /* waiting for the node's in-flight writes to drain */
    /* Per-connection order: a command whose effect is not yet placed (a
     * read waiting for its barrier or forwarded, a write not yet proposed)
     * holds the parsing of the next ones, which could otherwise overtake
     * it; reads may pass reads. Member channels are never held: the member
     * keeps its own clients' order. */
    unsigned unplaced;          /* commands whose place is not fixed */
    unsigned unplaced_nonread;  /* of which not plain reads */
    bool order_held;            /* parsing stopped for them */
    bool processing;            /* inside process(): do not re-enter */
    uint8_t *in;
    size_t in_len;
    size_t in_cap;
    size_t need;           /* bytes the parser needs before trying again */
    struct resp_request req;
    struct slot *head;
    struct slot *tail;
    unsigned pending;
    size_t out_bytes;      /* reply bytes queued or being written */
    uv_write_t wreq;
    struct buf wbuf;  /* being written */
    bool writing;
    uint64_t last_active;
    uint64_t commands;
    /* MULTI/EXEC */
    uint8_t reply_mode;    /* CLIENT REPLY: CONN_REPLY_ON, _OFF, or _SKIP the next command's */
    bool in_multi;
    bool multi_error;
    struct conn_queued *queue;
    unsigned nqueued;
    unsigned queue_cap;      /* grown by doubling: a MULTI may queue thousands */
    struct conn_watch *watches;
    unsigned nwatches;
    /* pub/sub (pubsub.c) */
    struct conn_pubsub *ps;  /* subscriptions; NULL: none yet */
    size_t push_bytes;       /* message bytes queued in push slots, not yet in wbuf */
    /* the TLS port (conn_tls.c); NULL: plaintext. It owns tcp.data. */
    struct conn_tls *tls;
    bool tls_handshaking;    /* counted in srv->tls_handshaking */
    /* who (auth.c) */
    struct acl_user *user;   /* the user AUTH chose; NULL: default */
    bool auth_init;          /* authed decided (at the first command) */
    uint64_t acl_seen;       /* the users' generation user was loaded at (auth.c) */
    bool authed;
    bool counted;            /* in its user's connection count (auth_limit.c) */
    bool member;             /* a member forwarding here (KEEL.FWD's token was right) */
    uint64_t accepted_at;    /* loop ms */
};

/* A client is waiting on listener; tls: the TLS port's context, NULL for plaintext. */
void conn_accept(struct keel_server *srv, uv_stream_t *listener, struct keel_tls_ctx *tls);
/* A member channel the raft transport accepted (keel_node_member_accept):
 * fd, now ours, carries a member's calls; peer_id is the member id its
 * verified certificate names. Not counted against --max-clients. */
void conn_adopt_member(struct keel_server *srv, uint64_t peer_id, int fd);
void conn_close(struct conn *c);
void conn_flush(struct conn *c);
/* Resume reading (and parsing what is buffered) if the limits allow. */
void conn_resume(struct conn *c);
void conn_reset_multi(struct conn *c);
/* The server is stopping: read nothing more (keel_server_quiesce). */
void conn_quiesce(struct conn *c);
void conn_unwatch(struct conn *c);
/* What held c's parsing is placed (srv_slot_place): run what it buffered
 * meanwhile, then read on. */
void conn_order_resume(struct conn *c);

/* ---- the server -------------------------------------------------------- */

struct forwarder;
struct block;
struct pubsub;
struct consistency;

#define SCAN_CURSORS 1024

/* Where a SCAN resumes: the position (storage.h) of the next key, not its
 * name, so a cursor is at most KEEL_KEY_INLINE bytes whatever the keys'
 * length (a 64 KiB key resumes from its 23-byte hashed position). */
struct scan_cursor
{
    uint64_t id;
    uint64_t used;   /* LRU stamp */
    size_t len;
    uint8_t key[KEEL_KEY_INLINE];
};

#define KEEL_TUNING_SLOTS 16

struct keel_server
{
    uv_loop_t *loop;
    struct keel_node *node;
    struct keel_store *store;
    struct keel_server_config cfg;
    struct resp_limits limits;
    char client_addr[64];
    char zone[64];             /* ours (--zone), published with the address */
    char zone_majority[64];    /* a zone holding a majority of voters, or "" */
    uint64_t zone_checked_at;  /* loop ms */
    uv_tcp_t listener;         /* plaintext, unless the client port is 0 */
    uv_tcp_t tls_listener;     /* --tls-port (client_tls.c) */
    unsigned listeners_open;
    uv_timer_t timer;          /* sweeps, publication, idle clients */
    struct conn *conns;
    unsigned nconns;
    uint64_t next_conn_id;
    unsigned inflight;         /* writes proposed by this server */
    struct slot *serial_head;  /* CMD_SERIAL writes waiting for the one in flight */
    struct slot *serial_tail;
    bool serial_busy;          /* a CMD_SERIAL write is in flight */
    bool serial_draining;
    bool sweeping;
    bool publishing;
    uint64_t publish_sent_at;  /* loop ms of the last KEEL.PUBLISH sent */
    uint64_t clock_asked_at;   /* loop ms of the last KEEL.CLOCK sent (clock_sync.c) */
    bool published;            /* our client address is in the replicated state */
    bool disk_publishing;      /* our disk state is being written (space.c) */
    uint64_t disk_sent_at;     /* loop ms of the last KEEL.DISK sent */
    char token[40];            /* the forwarding token, once applied here (token.c) */
    bool token_proposing;
    bool stopping;
    int role;
    bool ready;
    struct forwarder *fwd;       /* writes and reads */
    struct forwarder *fwd_admin; /* membership changes and transfers: they may take long */
    struct scan_cursor *cursors;
    uint64_t cursor_clock;
    struct keel_server_stats stats;
    void (*stop_cb)(void *data);
    void *stop_data;
    struct backup *backup;     /* KEEL.SNAPSHOT: the image being streamed (backup/backup_image.c) */
    bool backup_copying;       /* its copy runs on the pool: free the server after it */
    bool free_pending;
    unsigned pool_jobs;        /* other work on the pool that holds srv (backup.c) */
    bool backup_sched_running;
    uint64_t backup_sched_at;  /* loop ms of the last scheduled backup */
    struct pubsub *pubsub;     /* subscriptions (pubsub.c) */
    struct block *block;       /* blocked clients (block.c) */
    unsigned notify_flags;     /* notify-keyspace-events (notify.h) */
    bool notify_index;         /* notify-keyspace-index: "#<index>" after payloads */
    struct obs *obs;           /* metrics, alarms, HTTP (api/server/observe/observe.h) */
    struct consistency *cons;  /* the consistency check and repair (api/server/consistency.h) */
    struct joiner *joiner;     /* --join on the member channel (join.c); NULL: none */
    bool listener_closed;      /* stopping (keel_server_quiesce, keel_server_stop) */
    bool obs_closed;
    bool timer_closing;
    uint64_t member_logged_at; /* loop ms: a running membership change last logged */
    /* client_tls.c */
    unsigned tls_handshaking;  /* TLS connections still in their handshake */
    uint64_t tls_checked_at;   /* loop ms of the last handshake-timeout sweep */
    uint64_t tls_logged_at[KEEL_CLIENT_TLS_REJECTS];
    uint64_t tls_unlogged[KEEL_CLIENT_TLS_REJECTS];
    uint64_t protected_logged_at; /* loop ms: a protected-mode refusal last logged (auth.c) */
    uint64_t protected_unlogged;
    /* tls_rotate.c */
    char tls_files[3][1024];   /* cert, key, CA now in use */
    struct keel_tls_options tls_client_options;
    uint64_t tls_reloads[2];   /* TLS_RELOAD_OK, TLS_RELOAD_ERROR */
    char http_files[2][1024];  /* HTTPS certificate and key files ("": not HTTPS) */
    struct http_secrets http_sec; /* the HTTPS pair loaded by the last reload (owned) */
    struct acl_user *acl_default; /* the default user as applied here (auth.c), or NULL */
    uint64_t acl_default_seen;    /* keel_store_acl_changes when it was read */
    struct acllog *acl_log;       /* ACL LOG: this node's denials (acl_log.c) */
    uint64_t acl_gen_extra;       /* user changes seen by the sweep, not applied here (auth.c) */
    uint64_t acl_version_seen;    /* keel_store_acl_version at the last sweep */
    uint64_t acl_swept;           /* the generation the last sweep checked connections at */
    struct auth_limits *auth_limits; /* connections per user (auth_limit.c) */
    /* Redis's encoding thresholds as CONFIG SET them: kept, no effect
     * (commands/config_tuning.c); tuning_set[i] false: Redis's default. */
    long long tuning[KEEL_TUNING_SLOTS];
    bool tuning_set[KEEL_TUNING_SLOTS];
};

/* dispatch.c */
void srv_dispatch(struct slot *s);
void srv_dispatch_write(struct slot *s);
void srv_dispatch_read(struct slot *s);
/* Generic conversion of one reply item (arrays recursively) to RESP. */
void srv_reply_to_resp(struct buf *b, int proto, struct keel_reply_reader *rd);
/* Error replies take their word from the one table (include/keel/error.h):
 * "-WORD msg", where WORD is keel_errword(code). srv_reply_error uses the
 * table's message when msg is NULL or empty; srv_reply_errorf never does. Only
 * Redis's own words with no Keel code (MOVED, EXECABORT, NOPROTO) are
 * written with resp_error directly, and so are ACL's NOAUTH, WRONGPASS and
 * NOPERM (auth.c). */
void srv_reply_error(struct buf *b, int code, const char *msg);
void srv_reply_errorf(struct buf *b, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Cluster time, Unix ms (keel_node_now): entry stamps, expiry, TTLs. */
int64_t srv_now(struct keel_server *srv);
/* The wall clock, for what an operator reads (uptime, ages, file times);
 * never for stamps or expiry. */
int64_t srv_wall_ms(void);
/* Wake connections parked on the in-flight bound. */
void srv_unpark(struct keel_server *srv);

/* forward_conn.c: a forwarder, the internal connection to the leader */
struct forwarder *fwd_create(struct keel_server *srv, bool admin);
void fwd_destroy(struct forwarder *f);
/* Answer the requests whose deadline passed (the server's timer). */
void fwd_expire(struct forwarder *f);
/* forward.c: what goes to the leader, and the answers to its clients */
/* Send s to the leader; or answer -TRYAGAIN/-MOVED. s->deadline_ms, if 0,
 * becomes its start plus --forward-timeout (--member-timeout for a
 * membership change). */
void fwd_request(struct slot *s);
/* The preamble of a command that runs only on the leader: fills st; if this
 * node does not lead, hands s to fwd_request() (which answers it) and returns
 * true, and the command must return without touching s. */
bool fwd_unless_leader(struct slot *s, struct keel_node_status *st);
/* The leader's client address, if known: 0 and addr filled. */
int srv_leader_client_addr(struct keel_server *srv, char *addr, size_t size);
/* A member's client address from the replicated node table (KEEL.PUBLISH):
 * 0 and addr filled, or KEEL_ENOTFOUND. */
int srv_member_client_addr(struct keel_server *srv, uint64_t id, char *addr, size_t size);
/* A member's zone label (--zone), published beside its client address: 0
 * and zone filled, or KEEL_ENOTFOUND (zone ""). */
int srv_member_zone(struct keel_server *srv, uint64_t id, char *zone, size_t size);

/* token.c: the cluster's forwarding token (why: see there). */
/* 0 and the token; KEEL_ENOTFOUND before the first leader's proposal applied. */
int srv_cluster_token(struct keel_server *srv, char *buf, size_t size);
bool srv_cluster_token_ok(struct keel_server *srv, struct keel_slice given);
/* May s, a member call (KEEL.FWD, KEEL.FWDSYNC), run? On a member channel
 * if its certificate's member is in the configuration; on a client
 * connection only without member TLS and with the cluster token in argument
 * arg. false with why filled. */
bool srv_member_call_ok(struct slot *s, uint32_t arg, char *why, size_t size);
/* On the ready leader: propose a token if the cluster has none. */
void srv_cluster_token_ensure(struct keel_server *srv);

/* client_tls.c: the TLS port's connections. */
/* A TLS connection ended (conn.c, before closing it): if its handshake had
 * not completed, that is a refusal, counted and logged (rate-limited). */
void srv_tls_ended(struct conn *c);
/* Its handshake completed, or it closes without one. */
void srv_tls_handshaken(struct conn *c);
/* The server's timer: close connections whose handshake takes too long. */
void srv_tls_tick(struct keel_server *srv);

/* join.c: stop joining (keel_server_quiesce). */
void srv_join_stop(struct keel_server *srv);

/* clock_sync.c: on a follower whose clock is cold, ask the leader's. */
void srv_clock_sync(struct keel_server *srv);
/* cmd_member.c: log the membership change running, every few seconds. */
void srv_member_progress_log(struct keel_server *srv);

/* server.c: a job on the libuv pool that held srv (pool_jobs, or the
 * backup copy) has ended and its count is already down. The server is the
 * one to free itself: if keel_server_free came meanwhile and nothing else
 * holds srv, it is freed now and true returned (srv is gone); else false. */
bool srv_pool_done(struct keel_server *srv);

/* space.c: publish whether this node's disk is full (when that changed);
 * on the leader, whether a replica that `reachable` says is up published
 * that its disk is full (true, with why). */
void srv_space_publish(struct keel_server *srv, bool full);
bool srv_space_replica_full(struct keel_server *srv, bool (*reachable)(struct keel_server *, uint64_t),
                            char *why, size_t size);

/* cmd_*.c: handlers referenced by the table */
#define CMD_DECL_LOCAL(n) void n(struct slot *s)
#define CMD_DECL_READ(n) int n(struct slot *s, struct keel_read *rd)
#define CMD_DECL_ENCODE(n) int n(struct slot *s, struct keel_enc *e)
#define CMD_DECL_REPLY(n) void n(struct slot *s, struct keel_reply_reader *rd, unsigned nsub)

/* Helpers for handlers. */
bool srv_arg_int(struct slot *s, uint32_t i, long long *v);       /* writes the error */
bool srv_check_key(struct slot *s, struct keel_slice key);        /* writes the error */
void srv_syntax_error(struct slot *s);

#endif /* KEEL_API_SERVER_INTERNAL_H */
