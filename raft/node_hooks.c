/* raft: test hooks of a node (KEEL_TEST_HOOKS builds only, never Release).
 *
 * KEEL_TEST_CORRUPT_SNAPSHOTS=FILE: while FILE exists, every InstallSnapshot
 * this node sends carries its image damaged as FILE's first word says
 * (keel_image_craft, storage/image.h: psize0, root-beyond, garbage-branch,
 * tiny), checksums valid. So a test can make a real leader send a crafted
 * snapshot to a real follower, and stop it again by removing FILE. The
 * damaged copy lives until raft_uv's send callback, as raft's own buffer
 * would; raft's buffer is untouched and freed by raft as usual. */
#ifdef KEEL_TEST_HOOKS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/node_internal.h"
#include "storage/image.h"

struct node_hook_send
{
    struct raft_io_send *req;
    raft_io_send_cb cb;
    void *crafted;
    struct node_hook_send *next;
};

/* The kind FILE names, or false when the hook is off. */
static bool armed(char *kind, size_t size)
{
    const char *path = getenv("KEEL_TEST_CORRUPT_SNAPSHOTS");
    FILE *f = path != NULL && path[0] != 0 ? fopen(path, "r") : NULL;
    if (f == NULL) return false;
    bool ok = fscanf(f, "%31s", kind) == 1;
    fclose(f);
    (void)size;
    return ok;
}

static struct keel_node *node_of(struct raft_io *io)
{
    return (struct keel_node *)((char *)io - offsetof(struct keel_node, io));
}

/* Sends in flight, for every node of the process (the callback gets only
 * req, whose data is raft's). */
static uv_mutex_t sends_lock;
static uv_once_t sends_once = UV_ONCE_INIT;
static struct node_hook_send *sends;

static void sends_init(void)
{
    uv_mutex_init(&sends_lock);
}

static struct node_hook_send *take(struct raft_io_send *req)
{
    struct node_hook_send *h = NULL;
    uv_mutex_lock(&sends_lock);
    for (struct node_hook_send **pp = &sends; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->req == req) {
            h = *pp;
            *pp = h->next;
            break;
        }
    }
    uv_mutex_unlock(&sends_lock);
    return h;
}

static void hook_send_cb(struct raft_io_send *req, int status)
{
    struct node_hook_send *h = take(req);
    if (h == NULL) return; /* cannot happen: every send we passed on is listed */
    raft_io_send_cb cb = h->cb;
    free(h->crafted);
    free(h);
    cb(req, status);
}

static int hook_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                     raft_io_send_cb cb)
{
    struct keel_node *n = node_of(io);
    char kind[32];
    size_t len;
    if (m->type != RAFT_IO_INSTALL_SNAPSHOT || !armed(kind, sizeof kind))
        return n->uv_send(io, req, m, cb);
    const struct raft_buffer *b = &m->install_snapshot.data;
    struct node_hook_send *h = malloc(sizeof *h);
    void *crafted = h != NULL ? keel_image_craft(b->base, b->len, kind, &len) : NULL;
    if (crafted == NULL) {
        free(h);
        return n->uv_send(io, req, m, cb);
    }
    fprintf(stderr, "TEST HOOK: sending a damaged (%s) snapshot at index %llu to node %llu\n",
            kind, (unsigned long long)m->install_snapshot.last_index,
            (unsigned long long)m->server_id);
    struct raft_message copy = *m;
    copy.install_snapshot.data = (struct raft_buffer){.base = crafted, .len = len};
    *h = (struct node_hook_send){.req = req, .cb = cb, .crafted = crafted};
    uv_mutex_lock(&sends_lock);
    h->next = sends;
    sends = h;
    uv_mutex_unlock(&sends_lock);
    int rc = n->uv_send(io, req, &copy, hook_send_cb);
    if (rc != 0 && (h = take(req)) != NULL) {
        free(h->crafted);
        free(h);
    }
    return rc;
}

void node_hooks_install(struct keel_node *n)
{
    if (getenv("KEEL_TEST_CORRUPT_SNAPSHOTS") == NULL) return;
    uv_once(&sends_once, sends_init);
    n->uv_send = n->io.send;
    n->io.send = hook_send;
}
#else
typedef int node_hooks_unused; /* ISO C: no empty translation unit */
#endif
