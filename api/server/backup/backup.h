/* api/server/backup: the operator's backups. Two ways to one file format:
 *
 *   backup_image.c  the image KEEL.SNAPSHOT BEGIN/READ/END streams to
 *                   keelctl backup save: copied on the pool, held in
 *                   memory, one per node, released on END or after
 *                   BACKUP_IDLE_MS idle;
 *   backup.c        scheduled backups written by the leader into
 *                   --backup-dir every --backup-interval.
 *
 * Everything runs on the loop thread except the copies (libuv pool). Work
 * on the pool holds the server: it reports back through srv_pool_done,
 * and the server frees itself; nothing here frees the server. */
#ifndef KEEL_API_SERVER_BACKUP_H
#define KEEL_API_SERVER_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "keel/error.h"
#include "storage/snapshot.h"

struct keel_server;
struct slot;

#define BACKUP_IDLE_MS 60000

/* The image being streamed (srv->backup): read-only for its users. */
struct backup
{
    uv_work_t work;
    struct keel_server *srv;
    struct slot *slot;          /* BEGIN waiting for the copy; NULL after */
    void (*copied)(struct slot *s, const struct backup *b);
    struct keel_node_copy *copy; /* pinned for the copy (raft/node.h) */
    struct keel_snapshot snap;
    int rc;                     /* the copy's: 0, or a KEEL_E* code */
    char errmsg[KEEL_ERRMSG_SIZE];
    uint64_t id;
    uint64_t term;
    uint64_t last_used;         /* loop ms */
    bool ready;
};

/* Copy this node's state into a new image (srv->backup, which must be
 * NULL) on the libuv pool; copied(s, b) then runs on the loop with b->rc
 * saying how it went (b is freed after it when the copy failed). Returns
 * 0, or KEEL_ENOMEM and copied is never called. */
int backup_image_begin(struct keel_server *srv, struct slot *s,
                       void (*copied)(struct slot *s, const struct backup *b));
/* The ready image with this id, its idle clock reset; NULL if none. */
struct backup *backup_image_get(struct keel_server *srv, uint64_t id);
/* Drop the image now (END, stop); a copy still running releases it when
 * it ends. */
void backup_release(struct keel_server *srv);
/* Drop the image if idle for longer than BACKUP_IDLE_MS (server timer). */
void backup_expire(struct keel_server *srv);

/* backup.c: on the leader, write a scheduled backup when one is due. */
void backup_schedule_tick(struct keel_server *srv);

#endif /* KEEL_API_SERVER_BACKUP_H */
