/* raft: offline operations on a node's data directory, for the operator CLI:
 * seeding a new node from a backup image, and forcing a one-node membership
 * after quorum loss. They run while no keeld uses the directory: each takes
 * the same flock on <dir>/LOCK that keeld holds for its whole life, and fails
 * with KEEL_EBUSY if it is held.
 *
 * Data directory: <dir>/kv (LMDB, storage/storage.h) and <dir>/raft (raft's
 * uv log). Raft's files are only ever written by raft itself (its uv backend,
 * driven on a private loop): nothing here hand-writes its formats.
 *
 * Threading: blocking calls for a single-threaded CLI; each runs and closes
 * its own libuv loop, so never call them from a thread running a loop over
 * the same directory. Errors: a KEEL_* code with a one-line reason in errmsg
 * (KEEL_ERRMSG_SIZE bytes). No output argument is owned by the callee. */
#ifndef KEEL_RAFT_OFFLINE_H
#define KEEL_RAFT_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "raft/node.h"

/* Seed a NEW node directory from a backup image (a KEELSNAP image, as the
 * fsm's snapshots and storage/snapshot.h produce it).
 *
 * dir may be absent (it is created, as keeld does); its raft/ and kv/ must
 * be absent or empty, else KEEL_EEXISTS ("already holds a node": a kv/
 * without raft/ is refused too, since a stale env newer than the image would
 * be kept instead of it). The image is checked in full first
 * (keel_image_check, storage/image.h): a bad one gives KEEL_ECORRUPT/
 * KEEL_EVERSION and nothing is created.
 *
 * Effect: <dir>/raft holds raft metadata with current term `term` (>= 1) and
 * one raft snapshot at index = the image's applied index (1 if it is 0),
 * with term `term`, configuration = `voters` (all voters; they must include
 * `id` at `address`), and the image as its data. kv/ is left absent: keeld
 * creates it empty and raft's snapshot load restores the image into it.
 * A keeld started on dir with this id then loads the snapshot, does not
 * bootstrap (the term is set), and appends new entries after the snapshot.
 * To seed a cluster, seed every member's directory with the same image,
 * voters and term.
 *
 * Errors: KEEL_EINVAL (arguments), KEEL_EEXISTS, KEEL_ECORRUPT,
 * KEEL_EVERSION, KEEL_EBUSY (locked), KEEL_EIO (raft's message in errmsg;
 * whatever was written to raft/ is removed again). */
int keel_offline_seed(const char *dir, uint64_t id, const char *address,
                      const struct keel_peer *voters, unsigned n_voters, const void *image,
                      size_t len, uint64_t term, char *errmsg);

/* What keel_offline_recover() found, before it changed anything. */
struct keel_recover_report
{
    uint64_t last_index;     /* last log entry (the snapshot's index if none) */
    uint64_t last_term;      /* its term */
    uint64_t term;           /* raft's current term (metadata) */
    uint64_t snapshot_index; /* 0: no snapshot */
    uint64_t applied_index;  /* LMDB's applied index (0: no env, or wiped) */
    bool kv_wiped;           /* LMDB was untrusted (see keel_storage_open) */
    uint64_t recover_index;  /* where the new configuration went; 0: the log
                              * already had exactly it, nothing was written */
    unsigned n_members;      /* former configuration (may exceed the array) */
    struct keel_peer members[KEEL_NODE_MAX_PEERS];
    char member_roles[KEEL_NODE_MAX_PEERS]; /* 'v'oter, 's'tandby, 'p' spare */
};

/* Disaster recovery after quorum loss: make this node (id at address) the
 * only member and voter, with raft_recover, keeping the log as it is, and
 * raise raft's current term by one (a lone voter leads in its current term
 * in raft 0.15, and the old leader may have written entries in that one).
 * The next keeld start on dir elects itself and can then add new members.
 *
 * Raft's procedure (raft.h): stop every node; run this once, on the
 * survivor with the highest term and the longest log; copy its directory to
 * the other survivors if they are to be kept. Entries the old majority had
 * committed but this node never received are lost: compare last_index with
 * what others report before choosing the survivor.
 *
 * rep (may be NULL) gets the state found; the former configuration is the
 * last one in the log (committed or not), or the snapshot's. Running it
 * again on a recovered dir writes nothing (recover_index 0).
 *
 * Errors: KEEL_EINVAL, KEEL_ENOTFOUND (no raft state in dir), KEEL_EBUSY
 * (locked), KEEL_ECORRUPT (a configuration entry does not decode), KEEL_EIO
 * (raft's message in errmsg). */
int keel_offline_recover(const char *dir, uint64_t id, const char *address,
                         struct keel_recover_report *rep, char *errmsg);

/* The same reading without any change (recover_index 0, applied_index 0:
 * the env is not opened, since opening may wipe an untrusted one): the
 * former members, so a caller can find this node's address and check that
 * no former member is still alive before recovering. */
int keel_offline_inspect(const char *dir, uint64_t id, struct keel_recover_report *rep,
                         char *errmsg);

#endif /* KEEL_RAFT_OFFLINE_H */
