/* raft: one Keel node, as the layers above see it: storage, store, fsm and a
 * canonical raft instance on its libuv disk log and TCP transport, behind an
 * API that needs no <raft.h>.
 *
 * Data directory: <dir>/kv (LMDB, see storage/storage.h) and <dir>/raft
 * (raft's segments, snapshots and metadata).
 *
 * Everything runs on the loop thread. keel_node_create() opens it all and
 * bootstraps a pristine node with the initial voters; keel_node_start() loads
 * snapshot and log (restore and replay happen here) and starts ticking;
 * keel_node_close() stops raft, releases the rest and then calls back.
 *
 * Writes: keel_node_write() proposes an encoded command; its callback fires
 * once, after the entry is committed and applied (status 0, with the reply),
 * or with KEEL_EUNCERTAIN when the outcome became unknown (retry with the same
 * client id and sequence). Reads: keel_node_read() calls back with 0 once the
 * local state holds every write committed before the call and this node was
 * still the leader then (a raft barrier, shared by all reads queued while one
 * is in flight); a deposed leader's reads fail, they never see stale data.
 *
 * Callbacks (writes, reads, transfers, membership changes, role changes)
 * never run inside raft, nor from inside the call that started the request:
 * raft's completions are delivered on the loop turn after raft fired them
 * (raft/defer.h), in the order raft fired them, so a callback may call the
 * node again at once. keel_node_close delivers every outstanding one before
 * its own callback. */
#ifndef KEEL_RAFT_NODE_H
#define KEEL_RAFT_NODE_H

#include <uv.h>

#include "raft/hist.h"
#include "store/store.h"

#define KEEL_NODE_MAX_PEERS 16
#define KEEL_NODE_ERRMSG_SIZE 2048

struct keel_peer
{
    uint64_t id;
    char address[64]; /* IPv4 literal "a.b.c.d:port" (raft 0.15 takes no names) */
};

struct keel_node_options
{
    uint64_t id;
    const char *dir;
    const char *address;           /* this node's raft address */
    const struct keel_peer *peers; /* initial voters, this node included */
    unsigned n_peers;
    unsigned election_ms;          /* 0: 600 */
    unsigned heartbeat_ms;         /* 0: 60 */
    unsigned snapshot_threshold;   /* 0: raft's default (1024) */
    unsigned snapshot_trailing;    /* 0: raft's default (2048) */
    unsigned install_snapshot_ms;  /* 0: raft's default (30000) */
    bool sync_snapshots;           /* copy snapshots on the loop, not the pool */
    uint64_t map_size;             /* 0: storage default */
    uint64_t quota;                /* 0: none */
    uint64_t disk_reserve;         /* bytes kept in <dir>/disk-reserve (storage.h); 0: none */
    const char *boot_id_path;      /* tests only */
    const char *raft_routes;       /* "ADDR=VIA,...": see keel_transport_options.routes */
    unsigned test_append_delay_ms; /* test builds: each raft log append blocks this long (a slow disk) */
    /* Member TLS on the raft port (raft/transport.h, docs/security.md): all
     * three set turns it on; the certificate must name this node's id. */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_ca_file;
    /* One line per refused raft peer (rate-limited); NULL: not reported. */
    void (*warn)(const char *msg);
};

enum keel_role {
    KEEL_ROLE_UNAVAILABLE = 0,
    KEEL_ROLE_FOLLOWER = 1,
    KEEL_ROLE_CANDIDATE = 2,
    KEEL_ROLE_LEADER = 3,
};

const char *keel_role_name(int role);

struct keel_node_status
{
    uint64_t id;
    int role;
    uint64_t term;
    uint64_t leader_id;        /* 0: unknown */
    char leader_address[64];   /* raft address of the leader */
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_index;
    uint64_t snapshot_index;
    int64_t snapshot_at_ms;    /* wall clock of the last snapshot taken or installed since start; 0: none */
    unsigned voters;
    unsigned members;
    uint64_t member_ids[KEEL_NODE_MAX_PEERS];
    char member_roles[KEEL_NODE_MAX_PEERS]; /* 'v'oter, 's'tandby, 'p'spare */
    char member_addrs[KEEL_NODE_MAX_PEERS][64]; /* raft addresses */
    bool leader_ready;         /* leader whose first barrier has applied */
    unsigned inflight;         /* writes proposed and not called back */
};

struct keel_node;

/* Errors: a KEEL_* code with a one-line reason in errmsg, a buffer of
 * KEEL_NODE_ERRMSG_SIZE bytes (room for paths and a runbook step).
 * A refusal to start names the file, what is wrong with it and the runbook
 * step (KEEL_ECORRUPT for a damaged raft file, KEEL_ENOSPACE for a full
 * disk). keel_node_start() sets a damaged newest snapshot aside by itself
 * when the older one and the log provably rebuild the same state; see
 * keel_node_start_notes(). */
int keel_node_create(uv_loop_t *loop, const struct keel_node_options *o, struct keel_node **out,
                     char *errmsg);
int keel_node_start(struct keel_node *n, char *errmsg);

typedef void (*keel_node_close_cb)(void *data);
/* Close and free n; cb (may be NULL) runs once everything is released.
 * The node first cuts its raft connections (it takes no more entries),
 * then waits, at most 2 s, for log appends in flight (a raft 0.15
 * close-time bug, see node.c), then raft_close fails pending writes
 * (KEEL_EUNCERTAIN) and waits for raft's disk and pool work; every
 * outstanding callback is delivered before cb. Nothing bounds raft's own
 * wait (a snapshot being written or loaded): the caller bounds the stop
 * (keeld's --shutdown-timeout) and can ask keel_node_close_report why. */
void keel_node_close(struct keel_node *n, keel_node_close_cb cb, void *data);
/* While closing: what the close still waits for, as "; "-separated phrases
 * in buf (empty when nothing is known to hold it). Returns the length. */
size_t keel_node_close_report(struct keel_node *n, char *buf, size_t size);

/* Drills: cut this node off from its raft peers for ms (see
 * keel_transport_isolate in raft/transport.h). */
void keel_node_isolate(struct keel_node *n, unsigned ms);

/* The member channel (raft/transport.h; member TLS only): member-to-member
 * calls on the raft port behind the same mutual TLS. The accepted or dialled
 * stream is an fd (a connected AF_UNIX socket) the callback owns; peer_id is
 * the member id the peer's verified certificate names. Callbacks run from the
 * loop, never from inside these calls. */
bool keel_node_member_tls(struct keel_node *n);
void keel_node_member_accept(struct keel_node *n, void (*cb)(void *data, uint64_t peer_id, int fd), void *data);
/* id 0: whichever member answers. 0 and cb called once (fd < 0: failed), or
 * KEEL_EINVAL (member TLS off, bad address) / KEEL_EIO, cb never called. */
int keel_node_member_dial(struct keel_node *n, uint64_t id, const char *address,
                          void (*cb)(void *data, int status, uint64_t peer_id, int fd), void *data);

struct keel_store *keel_node_store(struct keel_node *n);
struct keel_storage *keel_node_storage(struct keel_node *n);

/* The node's storage as the server reads it (node_storage.c): the server
 * never calls keel_storage_* itself. Loop thread unless said otherwise;
 * see storage/storage.h for what each reports. */
int keel_node_space(struct keel_node *n, struct keel_space *sp);
int keel_node_disk(struct keel_node *n, struct keel_disk *d);
/* KEEL_ENOSPACE (why: keel_node_storage_errmsg) when live data plus
 * incoming bytes would pass the quota; admission control only. */
int keel_node_quota_check(struct keel_node *n, uint64_t incoming);
const char *keel_node_storage_errmsg(struct keel_node *n);
/* A digest of the state: begin on the loop, run on the libuv pool. */
int keel_node_digest_begin(struct keel_node *n, struct keel_digest_job *j);
void keel_node_digest_run(struct keel_digest_job *j);
/* A backup image of the state, made on the libuv pool: pin on the loop
 * (the node then neither swaps nor closes its storage under the copy),
 * then keel_node_copy_run on the pool, once, which makes the image
 * (storage/snapshot.h: keel_storage_snapshot_create's errors) and unpins. */
struct keel_node_copy;
struct keel_node_copy *keel_node_copy_pin(struct keel_node *n);
struct keel_snapshot;
int keel_node_copy_run(struct keel_node_copy *c, struct keel_snapshot *snap, char *errmsg);
bool keel_node_wiped(const struct keel_node *n);
void keel_node_status(struct keel_node *n, struct keel_node_status *st);
/* Non-zero once apply or restore failed fatally: the process must exit. */
int keel_node_fatal(const struct keel_node *n, const char **msg);

/* Called on the loop whenever the role changes, and once more when a new
 * leader's first barrier has applied (ready: leader_ready in the status). */
typedef void (*keel_role_cb)(void *data, int role, bool ready);
void keel_node_on_role(struct keel_node *n, keel_role_cb cb, void *data);

/* Called on the loop after each entry this node applies (leader or
 * follower; not entries skipped on replay), with the keys it changed
 * (store/events.h: recorded only while keel_store_record_events is on).
 * ev is valid during the call only. Runs inside raft's apply: the callback
 * must not call back into the node. NULL cb: none. */
typedef void (*keel_apply_cb)(void *data, const struct keel_events *ev);
void keel_node_on_apply(struct keel_node *n, keel_apply_cb cb, void *data);

/* Called on the loop when this node learns of another leader or term
 * (KEEL_CLUSTER_LEADER, with a known leader only) or of another membership
 * configuration (KEEL_CLUSTER_MEMBERS); keel_node_status has the details.
 * Checked once per loop turn; NULL cb: none. */
enum { KEEL_CLUSTER_LEADER = 1, KEEL_CLUSTER_MEMBERS = 2 };
typedef void (*keel_cluster_cb)(void *data, unsigned what);
void keel_node_on_cluster(struct keel_node *n, keel_cluster_cb cb, void *data);

/* ---- the consistency check and its repair (api/server/consistency.c, repair.c) */

/* Called on the loop after this node applied a HASH CHECK or VERDICT entry
 * (not one skipped on replay), with the store's note (store.h). Runs inside
 * raft's apply: the callback must not call into the node (no proposal, no
 * transfer); it may begin a digest job (keel_storage_digest_begin), which
 * then sees exactly the state the entry left. NULL cb: none. */
typedef void (*keel_check_cb)(void *data, const struct keel_check_note *note);
void keel_node_on_check(struct keel_node *n, keel_check_cb cb, void *data);

/* This replica's state failed the check (or passed it again): while
 * damaged, raft takes no snapshot of it (a restart would restore the damage
 * from it, a leader would send it). A successful repair clears it. */
void keel_node_set_damaged(struct keel_node *n, bool damaged);

/* Repair: replace the state machine with an image of the leader's, keeping
 * the raft log, raft snapshots and term/vote (raft/repair.c says why).
 * begin: from now on every entry applied is kept (up to 256 MiB) so that an
 * image taken after this call can be installed whatever this node applies
 * meanwhile. install (loop thread, outside raft callbacks; on a follower:
 * a leader's replies come from its state, so a damaged leader hands over
 * first; the caller checks): verify the image, swap it in (storage
 * keel_storage_reinstall: written, fsync'd and opened first; blocks the loop
 * meanwhile, as a raft snapshot install does), then apply again the
 * journaled entries the image does not hold. 0 with a summary in errmsg;
 * KEEL_EBUSY (the journal overflowed or raft installed a snapshot meanwhile,
 * an image older than begin: start again), the storage's errors
 * (the env kept as it was), or a fatal code (keel_node_fatal: the node must
 * restart). end: drop the journal (after install, or to give up). */
int keel_node_repair_begin(struct keel_node *n);
int keel_node_repair_install(struct keel_node *n, const void *image, size_t len, char *errmsg);
void keel_node_repair_end(struct keel_node *n);

typedef void (*keel_write_cb)(void *data, int status, const struct keel_reply *reply);
/* Propose cmd (copied). KEEL_ENOTLEADER or KEEL_EINVAL synchronously (no
 * callback); otherwise the callback fires exactly once. */
int keel_node_write(struct keel_node *n, const uint8_t *cmd, size_t len, keel_write_cb cb,
                    void *data);

typedef void (*keel_read_cb)(void *data, int status);
/* Wait until a linearizable read may be served from the local store.
 * KEEL_ENOTLEADER synchronously when not the leader; the callback gets 0, or
 * KEEL_ENOTLEADER when leadership was lost meanwhile. */
int keel_node_read(struct keel_node *n, keel_read_cb cb, void *data);

typedef void (*keel_transfer_cb)(void *data, uint64_t new_leader);
/* Hand leadership to `to` (0: the most up-to-date voter). */
int keel_node_transfer(struct keel_node *n, uint64_t to, keel_transfer_cb cb, void *data);

/* Membership changes: raft/membership.h. Their callback gets 0, or a code
 * and the reason. */
typedef void (*keel_change_cb)(void *data, int status, const char *why);

/* A snapshot from the leader refused by the image check (storage/image.h):
 * it was never persisted nor opened; the node keeps its state and log and
 * keeps serving (stale reads where asked for), and the leader sends a
 * snapshot again after retry_ms. */
struct keel_snapshot_refusal
{
    uint64_t leader_id;
    const char *leader_address;
    uint64_t index;         /* the snapshot's last index and term */
    uint64_t term;
    uint64_t applied;       /* what this node keeps */
    const char *why;        /* "snapshot image: ..." */
    bool repeat;            /* the same image again (reported at most once a minute) */
    unsigned retry_ms;
};
typedef void (*keel_refused_cb)(void *data, const struct keel_snapshot_refusal *r);
/* Called on the loop for each refusal; NULL cb: none. */
void keel_node_on_snapshot_refused(struct keel_node *n, keel_refused_cb cb, void *data);
/* ---- the cluster clock (raft/clock.h) ----------------------------------- */

/* Cluster time, Unix ms: what the leader stamps into entries and what expiry,
 * TTL/PTTL and READONLY reads are judged by. Runs on the monotonic clock,
 * carried across leader changes through the log; the wall clock only slews
 * it on the leader (<= 0.5 ms/s, differences under 1 s). Never goes back on
 * this node. Loop thread. */
int64_t keel_node_now(struct keel_node *n);
/* True until this node has led or synced with a leader since it started. */
bool keel_node_clock_cold(const struct keel_node *n);
/* Syncing a cold follower: _ask as KEEL.CLOCK leaves for the leader gives
 * a mark to pass to _answer with the leader's reply (its keel_node_now);
 * true if the answer came fast enough to make the clock warm. */
int64_t keel_node_clock_ask(struct keel_node *n);
bool keel_node_clock_answer(struct keel_node *n, int64_t leader_ms, int64_t asked);

struct keel_node_clock
{
    int64_t now_ms;    /* keel_node_now */
    int64_t skew_ms;   /* the wall clock minus now, at the last comparison (0 while cold) */
    int64_t slewed_ms; /* total correction the leader's slewing applied here */
    uint64_t steps;    /* times the wall clock went more than 1 s away (ignored) */
    bool stepped;      /* it is that far away now */
    bool warm;
    bool leading;
};
void keel_node_clock(struct keel_node *n, struct keel_node_clock *out);

/* ---- observability (api/server/observe/metrics.c, alarm.c) ------------- */

/* Counters and histograms since the node was created. Loop thread. */
/* What keel_node_start() had to repair or set aside, one warning per line
 * ("" if nothing): a damaged snapshot moved aside, a damaged log segment
 * raft's auto-recovery renamed to corrupt-*. The caller logs it. */
const char *keel_node_start_notes(const struct keel_node *n);

/* Member TLS's context (raft/tls.h), NULL when --tls-cluster is off:
 * borrowed, it lives as long as n. Rotation swaps its material in place. */
struct keel_tls_ctx;
struct keel_tls_ctx *keel_node_tls_ctx(struct keel_node *n);

/* Why member TLS refused a raft connection (index into peer_rejected). */
#define KEEL_NODE_PEER_REJECTS 8
const char *keel_node_peer_reject_name(int reason);

struct keel_node_metrics
{
    uint64_t leader_changes;      /* the known leader became another node */
    uint64_t proposals;           /* accepted by raft */
    uint64_t proposals_committed;
    uint64_t proposals_failed;    /* outcome uncertain (leadership lost, disk) */
    unsigned inflight;
    uint64_t snapshots_taken;
    uint64_t snapshots_installed; /* images received from the leader and restored */
    uint64_t snapshot_errors;
    uint64_t snapshots_refused;   /* images from the leader that failed the image check */
    uint64_t snapshot_bytes;      /* size of the last image taken */
    uint64_t snapshot_ns;         /* duration of the last image taken */
    uint64_t restore_ns;          /* duration of the last install */
    uint64_t repairs;             /* leader images installed by the repair */
    struct keel_hist apply;       /* per entry, around the state machine */
    struct keel_hist append;      /* raft log appends (write + fsync), request to callback */
    unsigned damaged_set_aside;   /* damaged raft files set aside at start */
    uint64_t peer_rejected[KEEL_NODE_PEER_REJECTS]; /* raft connections refused, by keel_node_peer_reject_name */
};
void keel_node_metrics(struct keel_node *n, struct keel_node_metrics *m);

/* One other member as the leader sees it. */
struct keel_peer_progress
{
    uint64_t id;
    char role;            /* 'v'oter, 's'tandby, 'p'spare */
    uint64_t match_index; /* highest entry known replicated there */
    bool recent_recv;     /* heard from within the current election timeout
                           * (raft resets it every election timeout) */
};
/* On the leader, every other member's replication state; 0 elsewhere. */
unsigned keel_node_progress(struct keel_node *n, struct keel_peer_progress *out, unsigned max);

/* Route raft's tracer (core and libuv backend) to emit. raft builds each
 * message only while enabled, so a disabled tracer costs one branch; emit may
 * be called from libuv pool threads. The setting is process-wide (the last
 * call wins for every node). */
typedef void (*keel_trace_fn)(const char *file, int line, const char *msg);
void keel_node_set_tracer(struct keel_node *n, keel_trace_fn emit, bool enabled);

/* Parse "1=127.0.0.1:9001,2=..." into peers; returns how many, or -1 with a
 * reason in errmsg. */
int keel_parse_peers(const char *text, struct keel_peer *peers, unsigned max, char *errmsg);

#endif /* KEEL_RAFT_NODE_H */
