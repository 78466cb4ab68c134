/* raft: the private shape of a keel_node, shared by raft/node*.c (and by
 * tests that need to reach inside). */
#ifndef KEEL_RAFT_NODE_INTERNAL_H
#define KEEL_RAFT_NODE_INTERNAL_H

#include <limits.h>
#include <raft.h>
#include <raft/uv.h>

#include "raft/clock.h"
#include "raft/fsm.h"
#include "raft/node.h"
#include "raft/propose.h"
#include "raft/transport.h"

struct node_read
{
    keel_read_cb cb;
    void *data;
    struct node_read *next;
};

struct keel_node
{
    uv_loop_t *loop;
    struct raft_uv_transport transport;
    void (*warn)(const char *msg);  /* keel_node_options.warn */
    bool member_tls;                /* member TLS on: the member channel exists */
    struct raft_io io;
    /* raft_uv's truncate, wrapped to time the last truncation (node.c) */
    int (*uv_truncate)(struct raft_io *io, raft_index index);
    uint64_t last_truncate;     /* loop ms; 0: none */
    unsigned appends_inflight;  /* appends raft_uv has not called back (node_metrics.c) */
    unsigned append_delay_ms;   /* test hook: a slow disk (node_metrics.c) */
    uint64_t close_started;     /* loop ms keel_node_close was called */
    /* raft_uv's append, wrapped to time each one (node_metrics.c) */
    int (*uv_append)(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);
    struct node_append *appends; /* appends in flight, oldest first */
    /* raft_uv's start, wrapped so that snapshots from the leader are checked
     * before raft sees them (node_guard.c); raft's receive callback */
    int (*uv_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                    raft_io_recv_cb recv);
    raft_io_recv_cb raft_recv;
    struct node_guard *guard;   /* the InstallSnapshot being checked, or NULL */
    struct
    {
        uint8_t header[KEEL_SNAPSHOT_HEADER]; /* of the last image refused */
        size_t len;
        uint64_t reported_ms;
        char why[KEEL_ERRMSG_SIZE];
    } refused;
    uint64_t snapshots_refused;
    keel_refused_cb refused_cb;
    void *refused_data;
#ifdef KEEL_TEST_HOOKS
    /* raft_uv's send, wrapped to corrupt outgoing snapshots (node_hooks.c) */
    int (*uv_send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                   raft_io_send_cb cb);
#endif
    struct keel_hist append_hist;
    uint64_t leader_changes;
    uint64_t last_leader;       /* the last non-zero leader id seen */
    struct raft raft;
    struct keel_storage *storage;
    struct keel_store *store;
    struct keel_fsm fsm;
    uv_prepare_t monitor;       /* polls raft_state each loop turn */
    /* Deliver raft's completions on the next loop turn (raft/defer.h): the
     * check handle drains fsm.defer after poll; the idle handle is active
     * while anything is queued, so that poll does not block meanwhile. */
    uv_check_t deliver;
    uv_idle_t wake;
    unsigned handles_open;      /* monitor, deliver, wake: closed last */
    bool raft_closing;          /* raft_close was called */
    bool raft_closed;           /* raft_close's callback came: release on the next turn */
    int role;
    bool ready;
    bool wiped;
    bool raft_inited;
    bool closing;
    unsigned inflight;
    /* Linearizable reads: those covered by the barrier in flight, and those
     * that arrived after it was issued (they need the next one). */
    struct raft_barrier barrier;
    bool barrier_busy;         /* from raft_barrier until its completion is delivered */
    struct keel_deferred barrier_done;
    int barrier_status;        /* 0: applied while leader, else KEEL_ENOTLEADER */
    struct node_read *covered;
    struct node_read *waiting;
    struct node_read **waiting_tail;
    struct raft_transfer transfer;
    keel_transfer_cb transfer_cb;
    void *transfer_data;
    bool transferring;         /* from raft_transfer until its completion is delivered */
    struct keel_deferred transfer_done;
    keel_role_cb role_cb;
    void *role_data;
    keel_cluster_cb cluster_cb;
    void *cluster_data;
    uint64_t seen_leader;      /* the leader and term last reported to cluster_cb */
    uint64_t seen_term;
    uint64_t seen_conf;        /* raft's configuration index last reported */
    uint64_t disk_checked;     /* loop ms of the last look at free disk space */
    uint64_t id;               /* this node's raft id */
    char dir[PATH_MAX];        /* the data directory */
    unsigned damaged_set_aside; /* raft files set aside at start (node_start.c) */
    char start_notes[2048];    /* what start repaired or set aside, a line each */
    struct keel_clock clock;   /* cluster time (node_clock.c) */
    uint64_t clock_checked;    /* loop ms of the last wall-clock comparison */
    struct node_membership *membership; /* membership.c */
    keel_node_close_cb close_cb;
    void *close_data;
    char errmsg[KEEL_ERRMSG_SIZE];
};

/* node_metrics.c */
int node_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                unsigned n, raft_io_append_cb cb);
void node_appends_release(struct keel_node *n);
void node_watch_leader(struct keel_node *n);
void node_watch_disk(struct keel_node *n, bool now);

/* node_start.c: raft_start, with refusals that name the file and the step;
 * the same description for a raft_init failure (stage "raft init"; why:
 * an extra reason, or ""). */
int node_start_raft(struct keel_node *n, char *errmsg);
int node_raft_failure(struct keel_node *n, const char *stage, int rc, const char *raftmsg, const char *why,
                      char *errmsg);

/* node_guard.c */
int node_guard_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
void node_guard_cancel(struct keel_node *n);

#ifdef KEEL_TEST_HOOKS
/* node_hooks.c: with KEEL_TEST_CORRUPT_SNAPSHOTS=FILE in the environment,
 * while FILE exists, every InstallSnapshot sent carries the image damaged as
 * FILE's first word says (keel_image_craft's kinds). */
void node_hooks_install(struct keel_node *n);
#endif
/* node_clock.c */
void node_clock_init(struct keel_node *n);
void node_clock_role(struct keel_node *n, int was, int role);
void node_clock_turn(struct keel_node *n);

/* node_close.c */
void node_deliver_init(struct keel_node *n);
int node_truncate(struct raft_io *io, raft_index index);
/* membership.c: made with the node, started with raft, closed after
 * raft_close (which fails the raft request of a change in flight). */
struct node_membership;
int node_membership_create(struct keel_node *n);
void node_membership_start(struct keel_node *n);
void node_membership_close(struct keel_node *n);

/* node_ops.c */
void node_reads_fail(struct keel_node *n, int status);
void node_became_leader(struct keel_node *n);

#endif /* KEEL_RAFT_NODE_INTERNAL_H */
