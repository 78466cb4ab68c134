/* api: operator commands behind keelctl hashkv and keelctl backup save.
 *
 *   KEEL.HASHKV            propose a HASH entry; every replica digests its
 *                          state as of that entry. Reply [index, digest hex]
 *                          (the leader's digest).
 *   KEEL.HASHKV.LAST       this node's digest of the last HASH entry it
 *                          applied: [index, digest hex], [0, ""] if none.
 *                          Answered locally, never forwarded.
 *   KEEL.SNAPSHOT BEGIN    on the leader, after a read barrier (so the image
 *                          holds every write acknowledged before the call):
 *                          copy the env on the pool into an image held in
 *                          memory. Reply [id, size, index, term, keys,
 *                          checksum hex].
 *   KEEL.SNAPSHOT READ id offset count   bytes of the image (count <= 4 MiB)
 *   KEEL.SNAPSHOT END id   release it (also released after 60 s idle).
 *
 * One image per node at a time: a second BEGIN gets -BUSY while one is
 * being read. A follower forwards all three to the leader; when leadership
 * moves mid-stream READ answers "no snapshot": the caller starts again. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/backup/backup.h"
#include "api/server/commands/commands.h"
#include "api/server/consistency.h"

#define BACKUP_MAX_READ (4u << 20)

CMD_DECL_ENCODE(cmd_keel_hashkv)
{
    (void)s;
    keel_enc_hash(e);
    return 1;
}

CMD_DECL_LOCAL(cmd_keel_hashkv_last)
{
    uint64_t index, digest;
    char hex[17] = "";
    keel_store_last_hash(s->srv->store, &index, &digest);
    if (index > 0) snprintf(hex, sizeof hex, "%016" PRIx64, digest);
    resp_array(&s->out, 2);
    resp_int(&s->out, (int64_t)index);
    resp_bulk_str(&s->out, hex);
    slot_done(s);
}

/* The copy ended: BEGIN's reply. */
static void copied_cb(struct slot *s, const struct backup *b)
{
    if (b->rc != 0) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "snapshot failed: %s", b->errmsg);
    } else if (s->conn != NULL) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, b->snap.info.checksum);
        resp_array(&s->out, 6);
        resp_int(&s->out, (int64_t)b->id);
        resp_int(&s->out, (int64_t)(KEEL_SNAPSHOT_HEADER + b->snap.data_len));
        resp_int(&s->out, (int64_t)b->snap.info.applied);
        resp_int(&s->out, (int64_t)b->term);
        resp_int(&s->out, (int64_t)b->snap.info.keys);
        resp_bulk_str(&s->out, hex);
    }
    slot_done(s);
}

static void begin_ready_cb(void *data, int status)
{
    struct slot *s = data;
    struct keel_server *srv = s->srv;
    if (s->conn == NULL || srv->stopping) {
        slot_free(s);
        return;
    }
    if (status != 0) {
        fwd_request(s); /* deposed meanwhile */
        return;
    }
    if (srv->backup != NULL) {
        srv_reply_error(&s->out, KEEL_EBUSY, "another backup save is being read (released after 60 s idle)");
        slot_done(s);
        return;
    }
    int rc = backup_image_begin(srv, s, copied_cb);
    if (rc != 0) {
        srv_reply_error(&s->out, rc, NULL);
        slot_done(s);
    }
}

static struct backup *backup_of(struct slot *s)
{
    char buf[32];
    uint64_t id = strtoull(slot_arg(s, 2, buf, sizeof buf), NULL, 10);
    struct backup *b = backup_image_get(s->srv, id);
    if (b == NULL) {
        srv_reply_errorf(&s->out, KEEL_ENOTFOUND, "no snapshot %" PRIu64 " on this node (released, or leadership "
                         "moved): start again", id);
        slot_done(s);
        return NULL;
    }
    return b;
}

static void snapshot_read(struct slot *s)
{
    char buf[32];
    struct backup *b = backup_of(s);
    if (b == NULL) return;
    uint64_t off = strtoull(slot_arg(s, 3, buf, sizeof buf), NULL, 10);
    uint64_t n = strtoull(slot_arg(s, 4, buf, sizeof buf), NULL, 10);
    uint64_t size = KEEL_SNAPSHOT_HEADER + b->snap.data_len;
    if (n > BACKUP_MAX_READ) n = BACKUP_MAX_READ;
    if (off > size) off = size;
    if (n > size - off) n = size - off;
    /* The image is header then data: at most two pieces. */
    uint8_t *chunk = malloc(n ? n : 1);
    if (chunk == NULL) {
        srv_reply_error(&s->out, KEEL_ENOMEM, NULL);
        slot_done(s);
        return;
    }
    for (uint64_t i = 0; i < n;) {
        uint64_t at = off + i;
        if (at < KEEL_SNAPSHOT_HEADER) {
            uint64_t k = KEEL_SNAPSHOT_HEADER - at < n - i ? KEEL_SNAPSHOT_HEADER - at : n - i;
            memcpy(chunk + i, b->snap.header + at, k);
            i += k;
        } else {
            memcpy(chunk + i, (const uint8_t *)b->snap.data + (at - KEEL_SNAPSHOT_HEADER), n - i);
            i = n;
        }
    }
    resp_bulk(&s->out, chunk, n);
    free(chunk);
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_keel_snapshot)
{
    struct keel_node_status st;
    bool begin = s->argc == 2 && slot_arg_is(s, 1, "BEGIN");
    bool read = s->argc == 5 && slot_arg_is(s, 1, "READ");
    bool end = s->argc == 3 && slot_arg_is(s, 1, "END");
    if (!begin && !read && !end) {
        srv_reply_error(&s->out, KEEL_EINVAL, "usage: KEEL.SNAPSHOT BEGIN | READ id offset count | END id");
        slot_done(s);
        return;
    }
    if (fwd_unless_leader(s, &st)) return;
    if (consistency_refuses(s)) { /* never an image of a damaged leader's state */
        slot_done(s);
        return;
    }
    if (read) {
        snapshot_read(s);
    } else if (end) {
        if (backup_of(s) == NULL) return;
        backup_release(s->srv);
        resp_ok(&s->out);
        slot_done(s);
    } else {
        int rc = keel_node_read(s->srv->node, begin_ready_cb, s);
        if (rc != 0) {
            srv_reply_error(&s->out, rc, NULL);
            slot_done(s);
        }
    }
}
