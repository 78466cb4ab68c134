/* raft: what raft/offline.c and raft/offline_recover.c share: the data dir
 * lock, a raft uv io on a private loop, and decoding raft's configuration
 * encoding (which raft 0.15 does not export). Tests include it too.
 *
 * Ownership: struct offline_io is caller-owned; offline_io_open() fills it,
 * offline_io_release() frees what open allocated and closes the loop, after
 * the io was closed (or never initialised). */
#ifndef KEEL_RAFT_OFFLINE_INTERNAL_H
#define KEEL_RAFT_OFFLINE_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <uv.h>

#include "keel/error.h"

struct offline_io
{
    uv_loop_t loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    bool transport_inited;
    bool io_inited;  /* raft_uv_init done: raft_uv_close owed */
    bool closed;     /* set by the io's close callback */
    bool done;       /* set by one-shot request callbacks */
    int status;
};

/* printf into errmsg (KEEL_ERRMSG_SIZE), returning code. */
__attribute__((format(printf, 3, 4))) int offline_fail(char *errmsg, int code, const char *fmt,
                                                       ...);

/* Take the exclusive flock on <dir>/LOCK (creating the file) without
 * waiting. Returns the fd to keep, or -1 with errmsg set and *code
 * KEEL_EBUSY (held) or KEEL_EIO. */
int offline_lock(const char *dir, int *code, char *errmsg);
void offline_unlock(int fd);

/* Start a loop, a TCP transport (never listening: nothing here calls
 * io->start) and raft's uv io over raftdir (which must exist). Errors:
 * KEEL_EIO. On error everything opened is released already. */
int offline_io_open(struct offline_io *o, const char *raftdir, char *errmsg);
/* Run the loop until *flag is set; false if nothing is left that could set
 * it (a bug, or raft lost a callback). */
bool offline_io_wait(struct offline_io *o, const bool *flag);
/* Free the io and transport and close the loop. The io must have been
 * closed (its close callback fired) if raft's init succeeded on it. */
void offline_io_release(struct offline_io *o);

/* Free what io->load returned, as raft's internal snapshotDestroy and
 * entryBatchesDestroy do (0.15 exports neither). Either may be NULL. */
void offline_load_free(struct raft_snapshot *snap, struct raft_entry *entries, size_t n);

/* Decode raft's configuration encoding (src/configuration.c in 0.15: format
 * byte 1, u64 LE count, then per server u64 LE id, NUL-terminated address,
 * role byte; padded to 8) into c, which must be initialised and empty.
 * Returns 0, RAFT_MALFORMED or RAFT_NOMEM; on error c may hold a prefix. */
int offline_conf_decode(const void *buf, size_t len, struct raft_configuration *c);

#endif /* KEEL_RAFT_OFFLINE_INTERNAL_H */
