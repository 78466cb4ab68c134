/* tests/cluster: N real Keel state machines (LMDB each) replicated by canonical
 * raft's deterministic in-memory fixture.
 *
 * Time is the fixture's simulated clock; entry timestamps derive from it, so a
 * run is reproducible event for event. Proposals live in a pool freed only
 * after the fixture is closed, because raft may fire their callbacks as late
 * as raft_close (pending requests fail with RAFT_LEADERSHIPLOST).
 *
 * Completions are delivered after each fixture step (a hook), outside raft,
 * as a node does on its next loop turn. */
#ifndef KEEL_TESTS_CLUSTER_H
#define KEEL_TESTS_CLUSTER_H

#include <raft.h>
#include <raft/fixture.h>

#include "raft/fsm.h"
#include "raft/propose.h"
#include "storage/storage.h"
#include "store/store.h"

#define CLUSTER_EPOCH_MS 1700000000000LL

struct cluster_opts
{
    unsigned n;          /* servers */
    unsigned voters;     /* 0: all */
    unsigned threshold;  /* snapshot threshold; 0: raft's default */
    unsigned trailing;   /* 0: raft's default */
    bool async;          /* snapshots on the (simulated) pool */
};

struct cluster_server
{
    char *dir;
    struct keel_storage *storage;
    struct keel_store *store;
    struct keel_fsm fsm;
};

struct cluster_req
{
    struct keel_proposal p;
    bool done;
    int status;
    struct cluster_req *next_alloc;
};

struct cluster
{
    struct raft_fixture f;
    struct cluster_opts o;
    struct cluster_server s[RAFT_FIXTURE_MAX_SERVERS];
    struct cluster_req *reqs; /* every request ever made, freed at teardown */
    uint64_t seq;             /* next sequence number of client CLUSTER_CLIENT */
};

#define CLUSTER_CLIENT 77

void cluster_start(struct cluster *c, const struct cluster_opts *o);
/* Deliver the completions raft queued on every server (raft/defer.h). The
 * harness does it after every fixture step, as a node's loop does on its
 * next turn; call it after driving raft by other means (raft_fixture_close). */
void cluster_deliver(struct cluster *c);
void cluster_stop(struct cluster *c);

/* The fixture's time as a Unix-ms timestamp. */
int64_t cluster_now(struct cluster *c);
/* Make server i the leader (a single voter elects itself at start). */
void cluster_elect(struct cluster *c, unsigned i);
/* Index of the stable leader, stepping up to max_ms for one; n if none. */
unsigned cluster_leader(struct cluster *c, unsigned max_ms);

/* Submit an encoded command to the current leader (or to server i if i < n).
 * Returns the request, or NULL when there is no leader / raft refused. */
struct cluster_req *cluster_submit(struct cluster *c, unsigned i, const uint8_t *cmd, size_t len);
/* Step until the request's callback fired, at most max_ms of simulated time. */
bool cluster_wait(struct cluster *c, struct cluster_req *r, unsigned max_ms);

/* Apply a command through raft until it succeeds, retrying the same bytes
 * (same client and seq: the dedupe table makes the retries safe) across
 * leader changes. Copies the reply into out (may be NULL). Fails the test
 * after max_ms of simulated time. */
void cluster_apply(struct cluster *c, const uint8_t *cmd, size_t len, struct keel_reply *out,
                   unsigned max_ms);

/* Wait until every alive server has applied what the leader has, then
 * compare digests of all alive servers (fails the test if they differ). */
void cluster_converge(struct cluster *c, unsigned max_ms);
/* Digest comparison alone: true when all alive servers agree. */
bool cluster_digests_equal(struct cluster *c);

/* An encoded command stamped with the fixture's time and the cluster
 * client's next sequence number; *len set; the caller frees. */
struct keel_enc;
uint8_t *cluster_finish(struct cluster *c, struct keel_enc *e, size_t *len);
void cluster_enc(struct cluster *c, struct keel_enc *e);

/* Read an integer key's value on server i (0 if absent). */
int64_t cluster_get_int(struct cluster *c, unsigned i, const char *key);

#endif /* KEEL_TESTS_CLUSTER_H */
