/* tests/cluster: one Keel state machine on canonical raft's real libuv disk
 * log and TCP transport (loopback), driven from the test's own loop. Used
 * to restart and crash a node for real, which the in-memory fixture cannot. */
#ifndef KEEL_TESTS_UVNODE_H
#define KEEL_TESTS_UVNODE_H

#include "raft/node_internal.h"

struct uvnode
{
    uv_loop_t loop;
    struct keel_node *node;
    bool wiped; /* storage distrusted and wiped at open */
    bool closed;
    /* Shortcuts into node. */
    struct keel_storage *storage;
    struct keel_store *store;
    struct keel_fsm *fsm;
};

/* Set in a forked child: failures _exit(3) instead of failing the test. */
extern bool uvnode_in_child;

struct uvnode_opts
{
    const char *dir;
    const char *boot_id_path;
    unsigned port;
    unsigned threshold;
    unsigned trailing;
    bool async;
};

/* Open (bootstrapping a one-voter cluster on first start) and wait until
 * it leads. Fails the test on error. */
void uvnode_open(struct uvnode *n, const struct uvnode_opts *o);
/* Propose one command and run the loop until its callback; returns status. */
int uvnode_apply(struct uvnode *n, const uint8_t *cmd, size_t len, struct keel_reply *out);
/* INCRBY key by delta with a fresh sequence number; returns status. */
int uvnode_incr(struct uvnode *n, const char *key, int64_t delta);
/* The same with an explicit client id and sequence (retries). */
int uvnode_incr_seq(struct uvnode *n, const char *key, int64_t delta, uint64_t client,
                    uint64_t seq);
int64_t uvnode_get_int(struct uvnode *n, const char *key);
/* Close cleanly (crashes are real: see test_restart.c's forked child). */
void uvnode_close(struct uvnode *n);
/* Run n's loop until pred(arg) holds, at most max_ms (bounded polling). */
bool uvnode_run_until(struct uvnode *n, bool (*pred)(void *), void *arg, unsigned max_ms);
/* A free loopback TCP port. */
unsigned uvnode_free_port(void);

#endif /* KEEL_TESTS_UVNODE_H */
