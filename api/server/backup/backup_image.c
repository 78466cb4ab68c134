/* api/server/backup: the image KEEL.SNAPSHOT streams. See backup.h; the
 * command and its replies are in commands/cmd_admin.c. */
#include <inttypes.h>
#include <stdlib.h>

#include "api/server/backup/backup.h"
#include "api/server/log.h"
#include "api/server/server_internal.h"

static uint64_t next_backup_id = 1;

void backup_release(struct keel_server *srv)
{
    struct backup *b = srv->backup;
    if (b == NULL || srv->backup_copying) return; /* the copy's callback releases it */
    keel_snapshot_release(&b->snap);
    free(b);
    srv->backup = NULL;
}

void backup_expire(struct keel_server *srv)
{
    struct backup *b = srv->backup;
    if (b != NULL && b->ready && uv_now(srv->loop) - b->last_used > BACKUP_IDLE_MS) {
        log_info("snapshot %" PRIu64 ": idle for %u s, released", b->id, BACKUP_IDLE_MS / 1000);
        backup_release(srv);
    }
}

struct backup *backup_image_get(struct keel_server *srv, uint64_t id)
{
    struct backup *b = srv->backup;
    if (b == NULL || !b->ready || b->id != id) return NULL;
    b->last_used = uv_now(srv->loop);
    return b;
}

static void copy_work(uv_work_t *w)
{
    struct backup *b = w->data;
    /* Here, not in copy_done, it unpins: a closing node's storage waits for that. */
    b->rc = keel_node_copy_run(b->copy, &b->snap, b->errmsg);
}

static void copy_done(uv_work_t *w, int status)
{
    struct backup *b = w->data;
    struct keel_server *srv = b->srv;
    struct slot *s = b->slot;
    (void)status;
    srv->backup_copying = false;
    b->slot = NULL;
    if (b->rc == 0) {
        b->ready = true;
        b->last_used = uv_now(srv->loop);
        log_info("snapshot %" PRIu64 " for a backup: index %" PRIu64 ", %zu bytes", b->id,
                 b->snap.info.applied, KEEL_SNAPSHOT_HEADER + b->snap.data_len);
    } else {
        log_warn("snapshot for a backup failed: %s", b->errmsg);
        srv->backup = NULL;
    }
    if (s != NULL) b->copied(s, b);
    if (b->rc != 0) free(b);
    if (srv_pool_done(srv)) return; /* stopped and freed meanwhile */
    if (srv->stopping) backup_release(srv);
}

int backup_image_begin(struct keel_server *srv, struct slot *s,
                       void (*copied)(struct slot *s, const struct backup *b))
{
    struct backup *b = calloc(1, sizeof *b);
    if (b == NULL) return KEEL_ENOMEM;
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    b->srv = srv;
    b->slot = s;
    b->copied = copied;
    b->id = next_backup_id++;
    b->term = st.term;
    b->work.data = b;
    srv->backup = b;
    srv->backup_copying = true;
    b->copy = keel_node_copy_pin(srv->node); /* before the pool sees it */
    uv_queue_work(srv->loop, &b->work, copy_work, copy_done);
    return 0;
}
