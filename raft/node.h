/* raft: one Keel node's consensus stack: storage, store, fsm adaptor and a
 * canonical raft instance on its libuv disk log and TCP transport.
 *
 * Layout of the data directory: <dir>/kv (LMDB, see storage.h) and
 * <dir>/raft (raft's segments, snapshots and metadata).
 *
 * Lifecycle, all on the loop thread: keel_node_init() opens everything and
 * bootstraps a pristine node with the initial voters; keel_node_start() loads
 * the snapshot and log (restore and replay run here, synchronously) and starts
 * ticking; keel_node_close() stops raft and, in its callback, releases the
 * rest and calls the caller's callback. The node struct must stay put (its
 * address is inside raft) until that callback. */
#ifndef KEEL_RAFT_NODE_H
#define KEEL_RAFT_NODE_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "raft/fsm.h"
#include "raft/propose.h"

#define KEEL_NODE_MAX_PEERS 16

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
    unsigned election_ms;          /* 0: 1000 */
    unsigned heartbeat_ms;         /* 0: 100 */
    unsigned snapshot_threshold;   /* 0: raft's default (1024) */
    unsigned snapshot_trailing;    /* 0: raft's default (2048) */
    bool sync_snapshots;           /* copy snapshots on the loop, not the pool */
    uint64_t map_size;             /* 0: storage default */
    const char *boot_id_path;      /* tests only */
};

struct keel_node;
typedef void (*keel_node_close_cb)(struct keel_node *n);

struct keel_node
{
    void *data;
    uv_loop_t *loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft raft;
    struct keel_storage *storage;
    struct keel_store *store;
    struct keel_fsm fsm;
    bool wiped;         /* storage was distrusted and rebuilt at open */
    bool raft_inited;
    keel_node_close_cb close_cb;
    char errmsg[KEEL_ERRMSG_SIZE];
};

/* Open the node's storage and raft instance. Returns 0, or a KEEL_* code with
 * the reason in n->errmsg. After an error keel_node_close() releases whatever
 * was opened (it is safe on a node whose init failed at any step). */
int keel_node_init(struct keel_node *n, uv_loop_t *loop, const struct keel_node_options *o);
/* Load snapshot and log, start ticking. On error the node must be closed. */
int keel_node_start(struct keel_node *n);
/* Close; cb (may be NULL) runs once everything is released. */
void keel_node_close(struct keel_node *n, keel_node_close_cb cb);

/* Parse "1=127.0.0.1:9001,2=..." into peers; returns how many, or -1 with a
 * reason in errmsg. */
int keel_parse_peers(const char *text, struct keel_peer *peers, unsigned max, char *errmsg);

#endif /* KEEL_RAFT_NODE_H */
